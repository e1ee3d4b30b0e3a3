"""PolicySet: resolution of the applicable policies, tag enrichment, SCP levels, and GAAD loading."""
from __future__ import annotations

import json
import urllib.parse

from lexauthz.decision import Decision
from lexauthz.account import PolicySet, read_authorization_details
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/team/LexOps"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/LexOps/alice"
USER = f"arn:aws:iam::{ACCT}:user/bob"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_ALL = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})
ALLOW_LEX = policy({"Sid": "Lex", "Effect": "Allow", "Action": "lex:*", "Resource": "*"})
DENY_DELETE = policy({"Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"})


def both(ps, engine, req):
    want = reference_evaluate(ps.enrich(req), ps.applicable(req))
    assert engine.evaluate(req) == want
    return want


def test_groups_sessions_boundaries_and_tags():
    ps = PolicySet()
    ps.add_group("devs", [DENY_DELETE])
    ps.add_principal(USER, [ALLOW_LEX], groups=["devs"], tags={"team": "ml"})
    ps.add_principal(ROLE, [ALLOW_LEX], permissions_boundary=policy(
        {"Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}))
    ps.add_resource(BOT, tags={"team": "ml"})
    engine = ps.compile()

    applicable = ps.applicable(Request(USER, "lex:DeleteBot", BOT))
    assert [p.name for p in applicable.identity] == [f"{USER}#0", "group/devs#0"]
    assert both(ps, engine, Request(USER, "lex:DeleteBot", BOT)).decision is Decision.EXPLICIT_DENY
    assert both(ps, engine, Request(USER, "lex:PostText", BOT)).decision is Decision.ALLOW
    # A session of the role gets the role's policies and boundary.
    assert ps.applicable(Request(SESSION, "lex:GetBot", BOT)).permissions_boundary is not None
    assert both(ps, engine, Request(SESSION, "lex:GetBot", BOT)).decision is Decision.ALLOW
    assert both(ps, engine, Request(SESSION, "lex:PostText", BOT)).decision is Decision.IMPLICIT_DENY
    # Tags become context keys unless the request already has them.
    enriched = ps.enrich(Request(USER, "lex:GetBot", BOT, None, {"aws:ResourceTag/team": "ops"}))
    assert enriched.context["aws:PrincipalTag/team"] == "ml"
    assert enriched.context["aws:ResourceTag/team"] == "ops"


def test_tag_conditions_use_principal_and_resource_tags():
    ps = PolicySet()
    ps.add_principal(USER, [policy({"Effect": "Allow", "Action": "lex:*", "Resource": "*", "Condition": {
        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}})], tags={"team": "ml"})
    ps.add_resource(BOT, tags={"team": "ml"})
    other = f"arn:aws:lex:us-east-1:{ACCT}:bot:Other"
    ps.add_resource(other, tags={"team": "ops"})
    engine = ps.compile()
    assert both(ps, engine, Request(USER, "lex:PostText", BOT)).decision is Decision.ALLOW
    assert both(ps, engine, Request(USER, "lex:PostText", other)).decision is Decision.IMPLICIT_DENY


def test_scp_levels_follow_the_ou_path():
    ps = PolicySet()
    ps.add_principal(USER, [ALLOW_ALL])
    ps.add_account(ACCT, ["ou-prod"])
    ps.add_scp("root", ALLOW_ALL)
    ps.add_scp("ou-prod", ALLOW_LEX)
    ps.add_scp(ACCT, DENY_DELETE)
    ps.add_scp(ACCT, ALLOW_ALL)
    engine = ps.compile()
    levels = ps.applicable(Request(USER, "lex:PostText", BOT)).scps
    assert [len(level) for level in levels] == [1, 1, 2]
    assert both(ps, engine, Request(USER, "lex:PostText", BOT)).decision is Decision.ALLOW
    assert both(ps, engine, Request(USER, "s3:GetObject", "*")).decision is Decision.IMPLICIT_DENY
    assert both(ps, engine, Request(USER, "lex:DeleteBot", BOT)).decision is Decision.EXPLICIT_DENY
    # An account outside every OU still sits under the root.
    stranger = "arn:aws:iam::444455556666:user/eve"
    assert len(ps.applicable(Request(stranger, "lex:PostText", BOT)).scps) == 1


def test_resource_policy_grants_cross_account():
    ps = PolicySet()
    other = "arn:aws:iam::444455556666:user/eve"
    ps.add_principal(other, [ALLOW_LEX])
    ps.add_resource(BOT, policy=policy({"Effect": "Allow", "Principal": {"AWS": "444455556666"},
                                        "Action": "lex:PostText", "Resource": "*"}))
    engine = ps.compile()
    assert both(ps, engine, Request(other, "lex:PostText", BOT)).decision is Decision.ALLOW
    assert both(ps, engine, Request(other, "lex:GetBot", BOT)).decision is Decision.IMPLICIT_DENY


def _gaad(url_encode: bool):
    def enc(d):
        return urllib.parse.quote(json.dumps(d)) if url_encode else d

    managed = f"arn:aws:iam::{ACCT}:policy/LexRead"
    return {
        "UserDetailList": [{
            "UserName": "bob", "Arn": USER, "GroupList": ["devs"],
            "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": enc(ALLOW_LEX)}],
            "AttachedManagedPolicies": [{"PolicyName": "LexRead", "PolicyArn": managed}],
            "Tags": [{"Key": "team", "Value": "ml"}],
        }],
        "GroupDetailList": [{"GroupName": "devs", "Arn": f"arn:aws:iam::{ACCT}:group/devs",
                             "GroupPolicyList": [{"PolicyName": "nodelete", "PolicyDocument": enc(DENY_DELETE)}],
                             "AttachedManagedPolicies": []}],
        "RoleDetailList": [{
            "RoleName": "LexOps", "Arn": ROLE, "RolePolicyList": [],
            "AttachedManagedPolicies": [{"PolicyName": "Gone", "PolicyArn": "arn:aws:iam::aws:policy/Gone"}],
            "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": managed},
        }],
        "Policies": [{
            "PolicyName": "LexRead", "Arn": managed, "DefaultVersionId": "v2",
            "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": False, "Document": enc(ALLOW_ALL)},
                {"VersionId": "v2", "IsDefaultVersion": True,
                 "Document": enc(policy({"Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}))},
            ],
        }],
    }


def test_authorization_details_load_in_both_encodings():
    for url_encode in (False, True):
        ps = read_authorization_details(_gaad(url_encode))
        engine = ps.compile()
        user = ps.principals[USER]
        assert [p.name for p in user.policies] == [f"{USER}/inline/inline", f"arn:aws:iam::{ACCT}:policy/LexRead"]
        assert user.tags == (("team", "ml"),)
        # The default version (v2) is used, not v1.
        assert both(ps, engine, Request(USER, "s3:GetObject", "*")).decision is Decision.IMPLICIT_DENY
        assert both(ps, engine, Request(USER, "lex:DeleteBot", BOT)).decision is Decision.EXPLICIT_DENY
        assert both(ps, engine, Request(USER, "lex:PostText", BOT)).decision is Decision.ALLOW


def test_unresolved_managed_policy_is_a_loud_finding_and_refuses_requests():
    ps = read_authorization_details(json.dumps(_gaad(False)))
    assert [f.code for f in ps.findings] == ["E_UNRESOLVED_POLICY"]
    assert "arn:aws:iam::aws:policy/Gone" in ps.findings[0].message
    engine = ps.compile()
    got = both(ps, engine, Request(SESSION, "lex:GetBot", BOT))
    assert got.decision is Decision.ERROR
    assert got.errors[0].code == "E_UNRESOLVED_POLICY"
    assert engine.evaluate_batch([ROLE], ["lex:GetBot"], [BOT])[0] == Decision.ERROR


def test_policy_set_round_trips_through_its_data():
    ps = read_authorization_details(_gaad(True))
    ps.add_scp("root", ALLOW_ALL)
    again = PolicySet.from_data(json.loads(json.dumps(ps.to_data())))
    assert again.principals == ps.principals
    assert again.groups == ps.groups
    assert again.scps == ps.scps


def test_engine_does_not_see_later_edits():
    ps = PolicySet()
    ps.add_principal(USER, [ALLOW_LEX])
    engine = ps.compile()
    ps.add_principal(USER, [DENY_DELETE])
    ps.add_scp("root", DENY_DELETE)
    ps.add_principal(f"arn:aws:iam::{ACCT}:user/new", [ALLOW_ALL])
    assert engine.is_allowed(USER, "lex:DeleteBot", BOT)
    assert not engine.is_allowed(f"arn:aws:iam::{ACCT}:user/new", "lex:DeleteBot", BOT)
    assert not ps.compile().is_allowed(USER, "lex:DeleteBot", BOT)
