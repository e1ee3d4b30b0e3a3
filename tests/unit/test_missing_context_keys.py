"""Missing context keys: every policy type that takes part in the decision reports the keys its applicable statements
referenced and the request lacked, SCPs included, and the reference and the compiled engine agree.

IAM API Reference, ``EvaluationResult.MissingContextValues``: "A list of context keys that are required by the
included input policies but that were not provided by one of the input parameters."  Only statements whose
``Action`` and ``Resource`` match the request count (a statement for another action needs nothing from this
request), and only policies that take part: a boundary is not consulted for the root user, a session policy only
for a session, SCPs not for a service principal, a resource-policy statement only when it names the caller.
"""
from __future__ import annotations

import json

import pytest

import lexauthz
from lexauthz.decision import Decision
from lexauthz.engine import compile_applicable
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.policy.model import PolicyDocument
from lexauthz.policy import load_policy
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

ACCT = "111122223333"
USER = f"arn:aws:iam::{ACCT}:user/bob"
ROLE = f"arn:aws:iam::{ACCT}:role/LexOps"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/LexOps/alice"
ROOT = f"arn:aws:iam::{ACCT}:root"
SERVICE = "lex.amazonaws.com"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:Prod"


def stmt(cond=None, *, effect="Allow", action="lex:*", resource="*", **extra) -> dict:
    s = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if cond is not None:
        s["Condition"] = cond
    return s


def pol(name: str, *statements: dict) -> NamedPolicy:
    doc = load_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    assert isinstance(doc, PolicyDocument)
    return NamedPolicy(name, doc)


def eq(key: str, value: str = "x") -> dict:
    return {"StringEquals": {key: value}}


ALLOW_ALL = pol("allow-all", stmt())


def both(request: Request, applicable: ApplicablePolicies):
    """The reference's and the compiled engine's responses, which must be equal in full."""
    want = reference_evaluate(request, applicable)
    got = compile_applicable(applicable).evaluate(request)
    assert got == want, f"reference={want}\ncompiled={got}"
    return want


# One row per policy type: (principal, applicable policies, expected missing keys).
CASES = {
    "identity": (USER, ApplicablePolicies(identity=(pol("id", stmt(eq("aws:username"))),)),
                 {"aws:username"}),
    "resource": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,),
        resource=pol("rp",
                     stmt(eq("aws:SourceIp"), Principal={"AWS": USER}),
                     # names someone else: not part of this request's evaluation
                     stmt(eq("aws:SourceVpc"), Principal={"AWS": f"arn:aws:iam::{ACCT}:user/eve"}))),
        {"aws:SourceIp"}),
    "permissions_boundary": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,), permissions_boundary=pol("pb", stmt(eq("aws:PrincipalTag/team")))),
        {"aws:PrincipalTag/team"}),
    "session": (SESSION, ApplicablePolicies(
        identity=(ALLOW_ALL,), session=pol("session", stmt(eq("aws:SourceVpce")))),
        {"aws:SourceVpce"}),
    "scp": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,), scps=((pol("scp-root", stmt(eq("aws:PrincipalOrgID"))),),)),
        {"aws:PrincipalOrgID"}),
    "scp-deny": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,),
        scps=((ALLOW_ALL, pol("scp-deny", stmt(eq("aws:RequestedRegion", "eu-west-1"), effect="Deny"))),)),
        {"aws:RequestedRegion"}),
    "scp-every-level": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,),
        scps=((pol("root", stmt(eq("aws:PrincipalOrgID"))),),
              (pol("ou", stmt(eq("aws:PrincipalOrgPaths"))),),
              (pol("account", stmt(eq("aws:PrincipalAccount", ACCT))),))),
        {"aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount"}),
    "scp-resource-variable": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,),
        scps=((pol("scp-var", stmt(resource=f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/bot}}*")),),)),
        {"aws:PrincipalTag/bot"}),
    "scp-variable-in-value": (USER, ApplicablePolicies(
        identity=(ALLOW_ALL,),
        scps=((pol("scp-value", stmt({"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})),),)),
        {"aws:ResourceTag/team", "aws:PrincipalTag/team"}),
    "every-type-at-once": (SESSION, ApplicablePolicies(
        identity=(pol("id", stmt(eq("aws:username"))),),
        resource=pol("rp", stmt(eq("aws:SourceIp"), Principal={"AWS": SESSION})),
        permissions_boundary=pol("pb", stmt(eq("aws:PrincipalTag/team"))),
        session=pol("session", stmt(eq("aws:SourceVpce"))),
        scps=((pol("scp", stmt(eq("aws:PrincipalOrgID"))),),)),
        {"aws:username", "aws:SourceIp", "aws:PrincipalTag/team", "aws:SourceVpce", "aws:PrincipalOrgID"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_policy_type_reports_its_missing_keys_in_both_engines(name):
    principal, applicable, expected = CASES[name]
    response = both(Request(principal, "lex:PostText", BOT, ACCT), applicable)
    assert set(response.missing_context_values) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_supplied_keys_are_not_missing(name):
    principal, applicable, expected = CASES[name]
    context = {k: "x" for k in expected}
    response = both(Request(principal, "lex:PostText", BOT, ACCT, context), applicable)
    assert response.missing_context_values == ()


def test_statements_for_another_action_or_resource_report_nothing():
    scp = pol("scp",
              stmt(),
              stmt(eq("aws:SecureTransport"), action="s3:*"),
              stmt(eq("aws:SourceIp"), resource=f"arn:aws:lex:us-east-1:{ACCT}:bot:Other:*"),
              stmt(eq("aws:username"), effect="Deny", action="lex:DeleteBot"))
    applicable = ApplicablePolicies(identity=(ALLOW_ALL,), scps=((scp,),))
    response = both(Request(USER, "lex:PostText", BOT, ACCT), applicable)
    assert response.decision is Decision.ALLOW
    assert response.missing_context_values == ()


def test_policies_that_take_no_part_report_nothing():
    # A boundary does not apply to the root user; a session policy only to sessions; SCPs not to a service.
    pb = pol("pb", stmt(eq("aws:PrincipalTag/team")))
    assert set(both(Request(ROOT, "lex:PostText", BOT, ACCT),
                    ApplicablePolicies(identity=(ALLOW_ALL,), permissions_boundary=pb)).missing_context_values) == set()
    session = pol("session", stmt(eq("aws:SourceVpce")))
    assert both(Request(USER, "lex:PostText", BOT, ACCT),
                ApplicablePolicies(identity=(ALLOW_ALL,), session=session)).missing_context_values == ()
    scps = ((pol("scp", stmt(eq("aws:PrincipalOrgID"))),),)
    rp = pol("rp", stmt(Principal={"Service": SERVICE}))
    response = both(Request(SERVICE, "lex:PostText", BOT, ACCT), ApplicablePolicies(resource=rp, scps=scps))
    assert response.missing_context_values == ()


def test_keys_are_deduplicated_case_insensitively_across_types():
    applicable = ApplicablePolicies(
        identity=(pol("id", stmt(eq("aws:SourceIp"))),),
        scps=((pol("scp", stmt(eq("aws:sourceip"))),),))
    response = both(Request(USER, "lex:PostText", BOT, ACCT), applicable)
    assert [k.lower() for k in response.missing_context_values] == ["aws:sourceip"]


def test_policy_set_scps_attached_to_root_ou_and_account():
    # The same through a PolicySet: SCPs attached with add_scp to the root, an OU and the account (add_account).
    def doc(*statements):
        return {"Version": "2012-10-17", "Statement": list(statements)}

    ps = lexauthz.PolicySet()
    ps.add_principal(USER, [doc(stmt(eq("aws:username", "bob")))])
    ps.add_account(ACCT, ["ou-prod"])
    ps.add_scp("root", doc(stmt(eq("aws:PrincipalOrgID", "o-1"))))
    ps.add_scp("ou-prod", doc(stmt()), name="ou-allow")
    ps.add_scp("ou-prod", doc(stmt(eq("aws:RequestedRegion", "eu-west-1"), effect="Deny")), name="ou-deny")
    ps.add_scp(ACCT, doc(stmt({"Bool": {"aws:MultiFactorAuthPresent": "true"}})))
    engine = ps.compile()
    req = Request(USER, "lex:PostText", BOT)
    want = reference_evaluate(ps.enrich(req), ps.applicable(req))
    got = engine.evaluate(req)
    assert got == want
    assert set(got.missing_context_values) == {"aws:username", "aws:PrincipalOrgID", "aws:RequestedRegion",
                                               "aws:MultiFactorAuthPresent"}
    assert got.organizations_allowed is False
