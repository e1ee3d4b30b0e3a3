"""The reference evaluator's decision: statement matching and IAM's evaluation logic, rule by rule.

Tables, one per rule of ``lexauthz.reference.evaluate`` and ``lexauthz.reference.matching``; the comment above each
names the AWS page its expectations come from.  Then the IAM User Guide's own examples, and hand-checked examples of
each place where lexauthz deliberately disagrees with the labelling simulator (tests/conformance).

EVALUATION in the comments is the IAM User Guide's "Policy evaluation logic", section "Determining whether a request is
allowed or denied within an account":
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
"""
from __future__ import annotations

import pytest

from lexauthz.decision import Decision, StatementRef
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.policy.parser import parse_policy
from lexauthz.reference import evaluate
from lexauthz.reference.matching import action_matches, resource_matches, statement_matches_resource
from lexauthz.request import Context, Request

ACCT = "123456789012"
OTHER = "210987654321"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/LexDeveloper"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/LexDeveloper/alice"
FEDERATED = f"arn:aws:sts::{ACCT}:federated-user/carol"
ROOT = f"arn:aws:iam::{ACCT}:root"
X_USER = f"arn:aws:iam::{OTHER}:user/bob"
X_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/LexAdmin/bob"
X_ROLE = f"arn:aws:iam::{OTHER}:role/LexAdmin"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers"
ALIAS_V1 = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:prod"
ALIAS_V2 = f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/ABCDE12345/TSTALIASID"
BOT_V2 = f"arn:aws:lex:us-east-1:{ACCT}:bot/ABCDE12345"


# -- helpers --------------------------------------------------------------------------------------------------------


def doc(*statements: dict, version: str | None = "2012-10-17") -> dict:
    out: dict = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


def allow(action="lex:*", resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="lex:*", resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def named(name: str, document: dict) -> NamedPolicy:
    parsed = parse_policy(document)
    return NamedPolicy(name, parsed.document, parsed.findings)


def decide(principal: str, *, action: str = "lex:PostText", resource: str = ALIAS_V1, account: str = ACCT,
           context: dict | None = None, identity=(), rp: dict | None = None, boundary: dict | None = None,
           session: dict | None = None, scps=None):
    policies = ApplicablePolicies(
        identity=tuple(named(f"identity[{i}]", d) for i, d in enumerate(identity)),
        resource=named("resource_policy", rp) if rp is not None else None,
        permissions_boundary=named("permissions_boundary", boundary) if boundary is not None else None,
        session=named("session_policy", session) if session is not None else None,
        scps=None if scps is None else tuple(tuple(named(f"scp[{lv}][{i}]", d) for i, d in enumerate(level))
                                             for lv, level in enumerate(scps)),
    )
    return evaluate(Request(principal, action, resource, account, Context(context or {})), policies)


def rp(*statements: dict) -> dict:
    return doc(*statements)


def grant(principal, action="lex:*", resource="*", effect="Allow", **extra) -> dict:
    p = principal if principal == "*" else {"AWS": principal}
    return {"Effect": effect, "Principal": p, "Action": action, "Resource": resource, **extra}


IDENTITY_ALLOWS = [doc(allow())]
NOTHING = doc(allow("s3:GetObject"))  # a policy that does not allow Lex
EMPTY = doc()  # "Statement": []
A, I, D = Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY


# -- Rule 1: Action --------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
# "the service prefix and the action name are case insensitive"; * and ? are wildcards.
ACTIONS = [
    ("lex:PostText", "lex:PostText", True),
    ("LEX:posttext", "lex:PostText", True),
    ("lex:*", "lex:PostText", True),
    ("*", "lex:PostText", True),
    ("lex:Post*", "lex:PostContent", True),
    ("lex:P?stText", "lex:PostText", True),
    ("lex:P?stText", "lex:PstText", False),  # ? is exactly one character
    ("lex:Post", "lex:PostText", False),  # no implicit prefix match
    ("lex:*Text", "lex:RecognizeText", True),
    ("lexv2:*", "lex:PostText", False),
    ("lex:reateBotChannel", "lex:CreateBotChannel", False),
]


@pytest.mark.parametrize("pattern,action,expected", ACTIONS, ids=[f"{a[0]}~{a[1]}" for a in ACTIONS])
def test_action_matching(pattern, action, expected):
    assert action_matches(pattern, action) is expected


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
NOT_ACTIONS = [
    (["lex:Delete*"], "lex:PostText", A),  # every action except those listed
    (["lex:Delete*"], "lex:DeleteBot", I),
    (["LEX:deletebot"], "lex:DeleteBot", I),  # case-insensitive too
    (["s3:*", "lex:Get*"], "lex:PutBot", A),
]


@pytest.mark.parametrize("not_action,action,expected", NOT_ACTIONS)
def test_not_action(not_action, action, expected):
    identity = [doc({"Effect": "Allow", "NotAction": not_action, "Resource": "*"})]
    assert decide(USER, action=action, identity=identity).decision is expected


# -- Rule 1: Resource -------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html ("Using wildcards in
# resource ARNs"); ARN matching is case-sensitive ("ArnLike: Case-sensitive matching of the ARN. Each of the six
# colon-delimited components of the ARN is checked separately", reference_policies_elements_condition_operators.html).
RESOURCES = [
    ("*", ALIAS_V1, True),
    ("*", "*", True),  # actions without resource-level permissions: only "*" covers them
    (f"arn:aws:lex:*:{ACCT}:*", "*", False),
    (ALIAS_V1, ALIAS_V1, True),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot:*", ALIAS_V1, True),  # `*` spans `:` in the resource part
    (f"arn:aws:lex:us-east-1:{ACCT}:bot:*", ALIAS_V2, False),  # `bot:*`: V1 only
    (f"arn:aws:lex:us-east-1:{ACCT}:bot/*", BOT_V2, True),  # `bot/*`: V2 only
    (f"arn:aws:lex:us-east-1:{ACCT}:bot/*", BOT, False),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot*", BOT, True),  # `bot*`: both, and other types starting with `bot`
    (f"arn:aws:lex:us-east-1:{ACCT}:bot*", BOT_V2, True),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot*", ALIAS_V2, True),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/*/TSTALIASID", ALIAS_V2, True),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers", ALIAS_V1, False),  # the whole ARN must match
    (f"arn:aws:lex:us-east-?:{ACCT}:bot:OrderFlowers:prod", ALIAS_V1, True),
    ("arn:aws:lex:*:*:bot:OrderFlowers:prod", ALIAS_V1, True),
    (f"arn:aws:lex:us-*:{ACCT}:bot:OrderFlowers:prod", ALIAS_V1, True),
    ("arn:aws:lex:*:bot:OrderFlowers:prod", ALIAS_V1, False),  # a wildcard in the region stays in the region
    (f"arn:aws:lex:us-east-1:{ACCT}:*", ALIAS_V1, True),
    ("arn:aws:lex:*", ALIAS_V1, True),  # a last `*` "can expand to match beyond the colon boundaries"
    ("arn:aws:lex:us-east-1", ALIAS_V1, False),  # a shorter pattern without a final `*` matches nothing
    ("arn:*", ALIAS_V1, True),
    (f"arn:aws:lex:US-EAST-1:{ACCT}:bot:OrderFlowers:prod", ALIAS_V1, False),  # case-sensitive, every field
    (f"arn:aws:lex:us-east-1:{ACCT}:BOT:OrderFlowers:prod", ALIAS_V1, False),
    (f"arn:aws:lex:us-east-1:{ACCT}:bot:orderflowers:prod", ALIAS_V1, False),
    (f"arn:aws:lex:us-east-1:{OTHER}:bot:OrderFlowers:prod", ALIAS_V1, False),
    (f"arn:aws:lex:us-east-1:{ACCT}:intent:*", f"arn:aws:lex:us-east-1:{ACCT}:intent:BookHotel:$LATEST", True),
    (f"arn:aws:lex:*:{ACCT}:bot-channel:OrderFlowers:prod:*",
     f"arn:aws:lex:us-east-1:{ACCT}:bot-channel:OrderFlowers:prod:slack", True),
]


@pytest.mark.parametrize("pattern,resource,expected", RESOURCES, ids=[f"{i}" for i in range(len(RESOURCES))])
def test_resource_matching(pattern, resource, expected):
    assert resource_matches(pattern, resource, Context({}), variables_enabled=True) is expected


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
NOT_RESOURCES = [
    ([f"arn:aws:lex:*:{ACCT}:bot:Secret*"], ALIAS_V1, A),
    ([f"arn:aws:lex:*:{ACCT}:bot:Order*"], ALIAS_V1, I),
    ([BOT_V2, ALIAS_V1], ALIAS_V1, I),
    ([f"arn:aws:lex:*:{ACCT}:*"], "*", A),  # `*` (no resource-level permissions) is not excluded by an ARN
    (["*"], ALIAS_V1, I),
]


@pytest.mark.parametrize("not_resource,resource,expected", NOT_RESOURCES)
def test_not_resource(not_resource, resource, expected):
    identity = [doc({"Effect": "Allow", "Action": "lex:*", "NotResource": not_resource})]
    assert decide(USER, resource=resource, identity=identity).decision is expected


# -- Rule 1: policy variables in Resource ---------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
CTX = {"aws:username": "alice", "aws:PrincipalAccount": ACCT, "aws:PrincipalTag/team": "Order"}
VARIABLES = [
    # (pattern, version, resource, expected)
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/team}}*", "2012-10-17", ALIAS_V1, True),
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/team}}*", "2008-10-17", ALIAS_V1, False),  # literal text
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/team}}*", None, ALIAS_V1, False),  # no Version: literal
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/missing}}*", "2012-10-17", ALIAS_V1, False),  # no value
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/missing, 'Order'}}*", "2012-10-17", ALIAS_V1, True),  # default
    # "You can't use a variable to replace parts of the ARN before the fifth colon, such as the service or account"
    ("arn:aws:lex:*:${aws:PrincipalAccount}:bot:OrderFlowers:*", "2012-10-17", ALIAS_V1, False),  # account field
    ("arn:aws:lex:*:${aws:PrincipalAccount}:bot:OrderFlowers:*", "2012-10-17",
     ALIAS_V1.replace(ACCT, OTHER), False),
    (f"arn:aws:lex:*:{ACCT}:bot:${{aws:username}}", "2012-10-17", f"arn:aws:lex:us-east-1:{ACCT}:bot:alice", True),
    (f"arn:aws:lex:*:{ACCT}:bot:${{*}}", "2012-10-17", f"arn:aws:lex:us-east-1:{ACCT}:bot:alice", False),  # `*`
]


@pytest.mark.parametrize("pattern,version,resource,expected", VARIABLES, ids=[str(i) for i in range(len(VARIABLES))])
def test_variables_in_resource(pattern, version, resource, expected):
    response = decide(USER, resource=resource, context=CTX, identity=[doc(allow(resource=pattern), version=version)])
    assert response.allowed is expected


def test_unresolved_variable_in_not_resource_makes_the_statement_not_apply():
    # "If AWS cannot resolve a variable this might cause the entire statement to be invalid" (variables page).
    statement = parse_policy(doc({"Effect": "Deny", "Action": "lex:*",
                                  "NotResource": "arn:aws:lex:*:*:bot:${aws:PrincipalTag/missing}"})).document
    missing: set = set()
    assert not statement_matches_resource(statement.statements[0], ALIAS_V1, Context({}), variables_enabled=True,
                                          missing=missing)
    assert missing == {"aws:PrincipalTag/missing"}


# -- Rule 1: Condition ---------------------------------------------------------------------------------------------
# "Conditions with multiple context keys or values": operators and keys are ANDed, a missing key does not match.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/
#     reference_policies_condition-logic-multiple-context-keys-or-values.html
def test_statement_applies_only_when_its_condition_matches():
    cond = {"StringEquals": {"aws:PrincipalTag/team": "ops"}, "Bool": {"aws:SecureTransport": "true"}}
    identity = [doc(allow(Condition=cond))]
    ok = {"aws:PrincipalTag/team": "ops", "aws:SecureTransport": "true"}
    assert decide(USER, identity=identity, context=ok).decision is A
    assert decide(USER, identity=identity, context={**ok, "aws:SecureTransport": "false"}).decision is I  # AND
    assert decide(USER, identity=identity, context={"aws:PrincipalTag/team": "ops"}).decision is I  # missing key


# -- Rule 2: explicit deny wins, in every policy type ------------------------------------------------------------
# EVALUATION, "Deny evaluation": "If the code finds even one explicit deny that applies, the code returns a final
# decision of Deny."
FULL = doc(allow())
DENY_ALL = doc(deny())
EXPLICIT = [
    ("identity", dict(identity=[FULL, DENY_ALL])),
    ("resource", dict(identity=[FULL], rp=rp(grant(USER), grant(USER, effect="Deny")))),
    ("resource-account", dict(identity=[FULL], rp=rp(grant(USER), grant(ACCT, effect="Deny")))),
    ("resource-star", dict(identity=[FULL], rp=rp(grant("*", effect="Deny")))),
    ("boundary", dict(identity=[FULL], boundary=doc(allow(), deny()))),
    ("scp", dict(identity=[FULL], scps=[[doc(allow()), DENY_ALL]])),
    ("scp-lower-level", dict(identity=[FULL], scps=[[FULL], [FULL], [doc(allow(), deny())]])),
]


@pytest.mark.parametrize("where,policies", EXPLICIT, ids=[e[0] for e in EXPLICIT])
def test_explicit_deny_anywhere_wins(where, policies):
    assert decide(USER, **policies).decision is D


def test_explicit_deny_in_session_policy_wins():
    assert decide(SESSION, identity=[FULL], session=doc(allow(), deny())).decision is D


def test_deny_in_a_resource_policy_naming_someone_else_does_not_apply():
    response = decide(USER, identity=[FULL], rp=rp(grant(X_USER, effect="Deny"), grant(OTHER, effect="Deny")))
    assert response.decision is A


# -- Rule 3: SCPs ----------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html and EVALUATION,
# "Organizations SCPs": every level must allow; a level without an applying Allow implicitly denies.
SCPS = [
    ("no organization", None, A),
    ("empty list: no organization", [], A),
    ("one level allows", [[FULL]], A),
    ("every level allows", [[FULL], [doc(allow("lex:Post*"))], [FULL]], A),
    ("one level does not allow", [[FULL], [doc(allow("lex:Get*"))], [FULL]], I),
    ("a level with no policy allows nothing", [[FULL], []], I),
    ("a level whose policies are empty", [[FULL], [EMPTY]], I),
    ("one of the level's policies allows", [[FULL], [NOTHING, doc(allow("lex:PostText"))]], A),
    ("an SCP never grants", [[FULL]], I),  # with no identity allow, below
]


@pytest.mark.parametrize("label,scps,expected", SCPS, ids=[s[0] for s in SCPS])
def test_scp_levels(label, scps, expected):
    identity = [] if label == "an SCP never grants" else [FULL]
    assert decide(USER, identity=identity, scps=scps).decision is expected


def test_scps_limit_resource_based_grants_too():
    # EVALUATION: "If the enforcement code does not find any applicable Allow statements in the SCPs, then the request
    # is implicitly denied", before resource-based policies are looked at.
    assert decide(USER, rp=rp(grant(USER)), scps=[[NOTHING]]).decision is I
    assert decide(USER, rp=rp(grant(USER)), scps=[[FULL]]).decision is A


def test_scps_apply_to_a_cross_account_caller():
    # The SCPs of the caller's own account apply wherever its requests go.
    base = dict(identity=[FULL], rp=rp(grant(X_USER)))
    assert decide(X_USER, **base).decision is A
    assert decide(X_USER, **base, scps=[[NOTHING]]).decision is I


# -- Rule 4: within one account ------------------------------------------------------------------------------------
# EVALUATION, "Resource-based policies", and its table "Resource-based policies and implicit denies in other policy
# types (same account)"; https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html;
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session;
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
SAME_ACCOUNT = [
    # (label, caller, policies, expected)
    ("identity alone", USER, dict(identity=[FULL]), A),
    ("nothing allows", USER, dict(identity=[NOTHING]), I),
    ("no policy at all", USER, dict(), I),
    ("resource policy alone names the user", USER, dict(rp=rp(grant(USER))), A),
    # "resource-based policies that grant permissions to an IAM user ARN ... are not limited by an implicit deny in
    # an identity-based policy or permissions boundary"
    ("user grant passes the boundary", USER, dict(rp=rp(grant(USER)), boundary=NOTHING), A),
    ("identity allow is capped by the boundary", USER, dict(identity=[FULL], boundary=NOTHING), I),
    ("identity and boundary allow", USER, dict(identity=[FULL], boundary=FULL), A),
    ("boundary never grants", USER, dict(boundary=FULL), I),
    # "Permissions granted directly to a session are not limited by an implicit deny in an identity-based policy, a
    # permissions boundary, or session policy."
    ("session grant alone", SESSION, dict(rp=rp(grant(SESSION))), A),
    ("session grant passes the boundary", SESSION, dict(rp=rp(grant(SESSION)), boundary=NOTHING), A),
    ("session grant passes the session policy", SESSION, dict(rp=rp(grant(SESSION)), session=NOTHING), A),
    # "Resource-based policies that grant permissions to an IAM role ARN are limited by an implicit deny in a
    # permissions boundary or session policy."  No identity-based allow is needed.
    ("role grant alone", SESSION, dict(rp=rp(grant(ROLE))), A),
    ("role grant capped by the boundary", SESSION, dict(rp=rp(grant(ROLE)), boundary=NOTHING), I),
    ("role grant within the boundary", SESSION, dict(rp=rp(grant(ROLE)), boundary=FULL), A),
    ("role grant capped by the session policy", SESSION, dict(rp=rp(grant(ROLE)), session=NOTHING), I),
    ("role grant within the session policy", SESSION, dict(rp=rp(grant(ROLE)), session=FULL), A),
    ("role caller, its own ARN named", ROLE, dict(rp=rp(grant(ROLE))), A),
    ("role caller, capped by the boundary", ROLE, dict(rp=rp(grant(ROLE)), boundary=NOTHING), I),
    # An account principal "delegates authority to the account": the identity side must allow.
    ("account grant alone", USER, dict(rp=rp(grant(ACCT))), I),
    ("account grant and identity", USER, dict(rp=rp(grant(ACCT)), identity=[FULL]), A),
    ("root-ARN grant alone", SESSION, dict(rp=rp(grant(ROOT))), I),
    ("account grant and capped identity", USER, dict(rp=rp(grant(ACCT)), identity=[FULL], boundary=NOTHING), I),
    # "For IAM users and role principals within your account, no other permissions are required" (Principal "*");
    # boundaries and session policies "do not limit permissions granted using ... a wildcard (*) in the Principal".
    ("everyone grant", SESSION, dict(rp=rp(grant("*"))), A),
    ("everyone grant passes boundary and session policy", SESSION,
     dict(rp=rp(grant("*")), boundary=NOTHING, session=NOTHING), A),
    ("resource policy names someone else", USER, dict(rp=rp(grant(X_USER), grant(ROLE))), I),
    # EVALUATION, "Session policies": a role session is limited by its session policy when it has one.
    ("session policy caps identity", SESSION, dict(identity=[FULL], session=NOTHING), I),
    ("session policy allows", SESSION, dict(identity=[FULL], session=FULL), A),
    ("session policy never grants", SESSION, dict(session=FULL), I),
    ("no session policy: role session allowed", SESSION, dict(identity=[FULL]), A),
    ("a user has no session policy", USER, dict(identity=[FULL], session=NOTHING), A),
    ("federated user without session policy", FEDERATED, dict(identity=[FULL]), I),
    ("federated user within its session policy", FEDERATED, dict(identity=[FULL], session=FULL), A),
    ("federated user session grant", FEDERATED, dict(rp=rp(grant(FEDERATED))), A),
    # EVALUATION: "all requests are implicitly denied with the exception of the AWS account root user".
    ("root user", ROOT, dict(), A),
    ("root user, explicit deny", ROOT, dict(rp=rp(grant(ACCT, effect="Deny"))), D),
    ("root user, SCP", ROOT, dict(scps=[[NOTHING]]), I),
]


@pytest.mark.parametrize("label,caller,policies,expected", SAME_ACCOUNT, ids=[s[0] for s in SAME_ACCOUNT])
def test_same_account(label, caller, policies, expected):
    assert decide(caller, **policies).decision is expected


# -- Rule 5: across accounts ----------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html: "The
# request is allowed only if both evaluations return a decision of Allow."
CROSS_ACCOUNT = [
    ("identity only", X_USER, dict(identity=[FULL]), I),
    ("resource policy only", X_USER, dict(rp=rp(grant(X_USER))), I),
    ("both", X_USER, dict(identity=[FULL], rp=rp(grant(X_USER))), A),
    ("both, account principal", X_USER, dict(identity=[FULL], rp=rp(grant(OTHER))), A),
    ("both, account root ARN", X_USER, dict(identity=[FULL], rp=rp(grant(f"arn:aws:iam::{OTHER}:root"))), A),
    ("both, everyone", X_USER, dict(identity=[FULL], rp=rp(grant("*"))), A),
    ("resource policy names the resource's account", X_USER, dict(identity=[FULL], rp=rp(grant(ACCT))), I),
    ("session, role named", X_SESSION, dict(identity=[FULL], rp=rp(grant(X_ROLE))), A),
    ("session, session named", X_SESSION, dict(identity=[FULL], rp=rp(grant(X_SESSION))), A),
    ("boundary caps the identity side", X_USER, dict(identity=[FULL], rp=rp(grant(X_USER)), boundary=NOTHING), I),
    ("session policy caps the identity side", X_SESSION,
     dict(identity=[FULL], rp=rp(grant(X_SESSION)), session=NOTHING), I),
    ("no resource policy", X_SESSION, dict(identity=[FULL]), I),
    ("deny in the resource policy", X_USER, dict(identity=[FULL], rp=rp(grant(X_USER), grant(OTHER, effect="Deny"))),
     D),
]


@pytest.mark.parametrize("label,caller,policies,expected", CROSS_ACCOUNT, ids=[s[0] for s in CROSS_ACCOUNT])
def test_cross_account(label, caller, policies, expected):
    assert decide(caller, **policies).decision is expected


def test_same_or_cross_account_is_decided_by_the_resource_account_not_the_arn():
    # SCHEMA: `resource_account` decides same- versus cross-account, independently of the ARN's account field.
    resource = ALIAS_V1.replace(ACCT, OTHER)
    assert decide(USER, resource=resource, rp=rp(grant(USER))).decision is A
    assert decide(USER, resource=resource, account=OTHER, rp=rp(grant(USER))).decision is I


# -- Service principals --------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-services
def test_service_principal_needs_a_resource_policy_that_names_it():
    service_grant = {"Effect": "Allow", "Principal": {"Service": "lex.amazonaws.com"}, "Action": "lex:*",
                     "Resource": "*"}
    assert decide("lex.amazonaws.com", rp=rp(service_grant)).decision is A
    assert decide("lex.amazonaws.com", rp=rp(grant(ACCT))).decision is I
    assert decide("lex.amazonaws.com", identity=[FULL]).decision is I  # no identity-based policies
    assert decide("lex.amazonaws.com", rp=rp(service_grant), scps=[[NOTHING]]).decision is A  # no account, no SCP


# -- Errors ------------------------------------------------------------------------------------------------------------
# EVALUATION, "Errors"; AWS refuses a malformed policy when it is saved (MalformedPolicyDocument).
@pytest.mark.parametrize("bad", [
    {"Effect": "Permit", "Action": "lex:*", "Resource": "*"},
    {"Effect": "allow", "Action": "lex:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "lex:*", "NotAction": "s3:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "lex:*", "Resource": "*", "Condition": {"stringEquals": {"aws:username": "a"}}},
])
def test_a_policy_with_errors_is_never_evaluated(bad):
    response = decide(USER, identity=[FULL], boundary=doc(bad))
    assert response.decision is Decision.ERROR
    assert not response.allowed
    assert response.errors and all(f.code.startswith("E_") for f in response.errors)
    assert response.matched_statements == ()


# -- The response: matched statements, verdicts, missing context values ---------------------------------------------
def test_matched_statements_name_policy_statement_level_and_principal_match():
    response = decide(
        SESSION,
        identity=[NOTHING, doc({"Sid": "Mine", **allow()}, deny("lex:Delete*"))],
        rp=rp(grant(ACCT, action="s3:*"), grant(ROLE, Sid="ForRole")),
        boundary=FULL,
        session=FULL,
        scps=[[FULL], [NOTHING, doc(allow())]],
    )
    assert response.decision is A
    assert response.matched_statements == (
        StatementRef("identity", "identity[1]", 0, "Mine", "Allow"),
        StatementRef("resource", "resource_policy", 1, "ForRole", "Allow", principal_match="SessionRoleMatch"),
        StatementRef("permissions_boundary", "permissions_boundary", 0, None, "Allow"),
        StatementRef("session", "session_policy", 0, None, "Allow"),
        StatementRef("scp", "scp[0][0]", 0, None, "Allow", level=0),
        StatementRef("scp", "scp[1][1]", 0, None, "Allow", level=1),
    )
    assert response.matched_statements[1].to_dict()["statement"] == 2  # 1-based in the answer line


VERDICTS = [
    (dict(identity=[FULL]), "NotApplicable"),
    (dict(identity=[FULL], rp=rp(grant(X_USER))), "ImplicitlyDenied"),
    (dict(identity=[FULL], rp=rp(grant(ACCT))), "AllowedForAccount"),
    (dict(identity=[FULL], rp=rp(grant(ACCT), grant(USER))), "Allowed"),
    (dict(identity=[FULL], rp=rp(grant(ACCT, effect="Deny"))), "DeniedForAccount"),
    (dict(identity=[FULL], rp=rp(grant(USER, effect="Deny"), grant(ACCT, effect="Deny"))), "ExplicitlyDenied"),
]


@pytest.mark.parametrize("policies,verdict", VERDICTS, ids=[v[1] for v in VERDICTS])
def test_resource_policy_verdict(policies, verdict):
    assert decide(USER, **policies).policy_results["resource"] == verdict


def test_policy_results_list_only_the_supplied_types():
    response = decide(USER, identity=[FULL])
    assert response.policy_results == {"identity": "Allowed", "resource": "NotApplicable"}
    response = decide(SESSION, identity=[FULL], boundary=NOTHING, session=FULL, scps=[[FULL]])
    assert response.policy_results == {"identity": "Allowed", "resource": "NotApplicable",
                                       "permissions_boundary": "ImplicitlyDenied", "session": "Allowed",
                                       "scp": "Allowed"}
    assert response.permissions_boundary_allowed is False and response.organizations_allowed is True


def test_blocked_by_names_the_policy_types_that_turned_an_allow_into_a_deny():
    assert decide(USER, identity=[FULL], boundary=NOTHING).blocked_by == ("pb",)
    assert decide(USER, identity=[FULL], scps=[[NOTHING]]).blocked_by == ("scp",)
    assert decide(X_USER, identity=[FULL]).blocked_by == ("resource",)
    assert decide(X_USER, rp=rp(grant(X_USER))).blocked_by == ("identity",)
    assert decide(USER, identity=[NOTHING]).blocked_by == ()  # nothing allowed it in the first place
    assert decide(USER, identity=[FULL]).blocked_by == ()


def test_missing_context_values_are_the_keys_applicable_statements_need():
    # IAM API Reference, SimulatePrincipalPolicy / EvaluationResult.MissingContextValues: keys "required by the
    # included input policies but that were not provided".  Only statements for this action and resource count; SCP
    # statements count like those of every other policy type.
    response = decide(
        USER,
        context={"aws:username": "alice"},
        identity=[doc(
            allow(Condition={"StringEquals": {"aws:PrincipalTag/team": "ops", "aws:username": "alice"}}),
            allow("s3:*", Condition={"Bool": {"aws:SecureTransport": "true"}}),  # another action: not reported
            allow(resource=f"arn:aws:lex:*:{ACCT}:bot:${{aws:PrincipalTag/bot}}*"),
        )],
        rp=rp(grant(USER, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        scps=[[doc(allow(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}}))]],
    )
    assert response.missing_context_values == ("aws:PrincipalOrgID", "aws:PrincipalTag/bot", "aws:PrincipalTag/team",
                                               "aws:SourceIp")


# -- The IAM User Guide's examples ------------------------------------------------------------------------------------
def test_guide_example_identity_and_resource_based_policy():
    # "Policy evaluation logic", "Example identity-based and resource-based policy evaluation" (Carlos).
    carlos = "arn:aws:iam::123456789012:user/carlossalazar"
    identity = doc(
        {"Sid": "AllowS3ListRead", "Effect": "Allow",
         "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints",
                    "s3:ListAllMyBuckets"], "Resource": "arn:aws:s3:::*"},
        {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
        {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
    )
    bucket = doc({"Effect": "Allow", "Principal": {"AWS": carlos}, "Action": "s3:*",
                  "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]})
    logs = decide(carlos, action="s3:PutObject", resource="arn:aws:s3:::carlossalazar-logs/file.txt",
                  identity=[identity])
    assert logs.decision is D  # "the identity-based policy explicitly denies Carlos access to any S3 buckets used
    # for logging"
    own = decide(carlos, action="s3:PutObject", resource="arn:aws:s3:::carlossalazar/file.txt", identity=[identity],
                 rp=bucket)
    assert own.decision is A
    assert {(r.policy_type, r.sid) for r in own.matched_statements} == {("identity", "AllowS3Self"),
                                                                       ("resource", None)}
    # "If one of the policy types allows the request and the other doesn't, the request is still allowed."
    assert decide(carlos, action="s3:PutObject", resource="arn:aws:s3:::carlossalazar/f", rp=bucket).decision is A


def test_guide_example_cross_account():
    # "Cross-account policy evaluation logic", "Example cross-account policy evaluation": carlossalazar in
    # 111111111111 saves a file to buckets of 222222222222.
    carlos = "arn:aws:iam::111111111111:user/carlossalazar"
    identity = doc(
        {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Sid": "AllowS3ProductionObjectActions", "Effect": "Allow", "Action": "s3:*Object*",
         "Resource": "arn:aws:s3:::Production/*"},
        {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"]},
    )
    bucket = doc({"Effect": "Allow",
                  "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
                  "Principal": {"AWS": carlos}, "Resource": "arn:aws:s3:::Production/*"})
    # "the request is explicitly denied within one of the accounts"
    assert decide(carlos, action="s3:PutObject", resource="arn:aws:s3:::Production-logs/f.txt",
                  account="222222222222", identity=[identity]).decision is D
    # "Because both accounts allow the request, the final decision is to allow the request."
    assert decide(carlos, action="s3:PutObject", resource="arn:aws:s3:::Production/f.txt", account="222222222222",
                  identity=[identity], rp=bucket).decision is A
    # "He can create and edit, but not delete the objects in the bucket."
    assert decide(carlos, action="s3:DeleteObject", resource="arn:aws:s3:::Production/f.txt",
                  account="222222222222", identity=[identity], rp=bucket).decision is I


def test_guide_example_explicit_and_implicit_denies():
    # "The difference between explicit and implicit denies": AllowGetList / DenyReports.
    policy = doc({"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
                 {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"})
    assert decide(USER, action="iam:ListUsers", resource="*", identity=[policy]).decision is A
    assert decide(USER, action="iam:CreatePolicy", resource="*", identity=[policy]).decision is I
    assert decide(USER, action="iam:GetOrganizationsAccessReport", resource="*", identity=[policy]).decision is D
    extra = doc(allow("iam:GenerateCredentialReport"))
    assert decide(USER, action="iam:GenerateCredentialReport", resource="*",
                  identity=[policy, extra]).decision is D


def test_guide_example_permissions_boundary():
    # "Permissions boundaries for IAM entities": ShirleyRodriguez may only manage S3, CloudWatch and EC2.
    shirley = f"arn:aws:iam::{ACCT}:user/ShirleyRodriguez"
    boundary = doc({"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", "ec2:*"], "Resource": "*"})
    create_user = doc({"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"})
    assert decide(shirley, action="iam:CreateUser", resource="*", identity=[create_user],
                  boundary=boundary).decision is I  # "the operation fails"
    assert decide(shirley, action="iam:CreateUser", resource="*", identity=[create_user]).decision is A
    assert decide(shirley, action="s3:ListBucket", resource="arn:aws:s3:::b",
                  boundary=boundary).decision is I  # the boundary "does not provide permissions on its own"


def test_guide_example_session_policy():
    # "Session policies": the session's permissions are the intersection of the role's identity-based policy and the
    # session policy; a resource-based policy naming the session's ARN adds to them, one naming the role does not.
    role_policy = doc(allow("s3:*", "*"))
    session_policy = doc(allow(["s3:GetBucket", "s3:GetObject"],
                               ["arn:aws:s3:::NewHireOrientation", "arn:aws:s3:::NewHireOrientation/*"]))
    obj = "arn:aws:s3:::NewHireOrientation/welcome.pdf"
    other = "arn:aws:s3:::Payroll/2024.csv"
    sess = f"arn:aws:sts::{ACCT}:assumed-role/SecurityAdminAccess/s3-session"
    role = f"arn:aws:iam::{ACCT}:role/SecurityAdminAccess"
    base = dict(identity=[role_policy], session=session_policy)
    assert decide(sess, action="s3:GetObject", resource=obj, **base).decision is A
    assert decide(sess, action="s3:PutObject", resource=obj, **base).decision is I
    assert decide(sess, action="s3:GetObject", resource=other, **base).decision is I
    by_session = rp(grant(sess, "s3:GetObject", other))
    by_role = rp(grant(role, "s3:GetObject", other))
    assert decide(sess, action="s3:GetObject", resource=other, rp=by_session, **base).decision is A
    assert decide(sess, action="s3:GetObject", resource=other, rp=by_role, **base).decision is I


def test_guide_example_scp():
    # "Evaluating identity-based policies with Organizations SCPs": "an action must be allowed by both the
    # identity-based policy and the SCP".
    scp = doc(allow("lex:Post*"))
    assert decide(USER, identity=[FULL], scps=[[scp]]).decision is A
    assert decide(USER, action="lex:DeleteBot", resource=BOT, identity=[FULL], scps=[[scp]]).decision is I
    assert decide(USER, identity=[NOTHING], scps=[[scp]]).decision is I


# -- Where lexauthz and the labelling simulator differ, checked by hand ---------------------------------------------
def test_divergence_version_2008_variables_are_literal():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html: "If you don't include
    # the Version element ... variables like ${aws:username} are treated as literal strings".  (Corpus README #1.)
    pattern = f"arn:aws:lex:*:{ACCT}:bot:${{aws:username}}"
    ctx = {"aws:username": "alice"}
    for version, resource, expected in [("2012-10-17", "alice", A), ("2008-10-17", "alice", I), (None, "alice", I),
                                        ("2008-10-17", "${aws:username}", A)]:
        response = decide(USER, resource=f"arn:aws:lex:us-east-1:{ACCT}:bot:{resource}", context=ctx,
                          identity=[doc(allow(resource=pattern), version=version)])
        assert response.decision is expected, (version, resource)
    cond = {"StringEquals": {"aws:PrincipalTag/owner": "${aws:username}"}}
    ctx = {"aws:username": "alice", "aws:PrincipalTag/owner": "alice"}
    assert decide(USER, context=ctx, identity=[doc(allow(Condition=cond))]).decision is A
    assert decide(USER, context=ctx, identity=[doc(allow(Condition=cond), version="2008-10-17")]).decision is I


def test_variable_in_the_account_field_of_a_resource_is_not_resolved():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html: "You can't use a variable
    # to replace parts of the ARN before the fifth colon, such as the service or account".  The same variable in the
    # resource portion resolves.
    ctx = {"aws:PrincipalAccount": ACCT, "aws:PrincipalArn": USER, "aws:username": "alice"}
    identity = [doc(allow(resource="arn:aws:lex:*:${aws:PrincipalAccount}:bot:*"))]
    assert decide(USER, context=ctx, identity=identity).decision is I
    identity = [doc(allow(resource=f"arn:aws:lex:*:{ACCT}:bot:${{aws:username}}"))]
    assert decide(USER, resource=f"arn:aws:lex:us-east-1:{ACCT}:bot:alice", context=ctx,
                  identity=identity).decision is A


def test_divergence_variable_in_the_account_field_of_an_arn_condition():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html: condition values that use
    # the ARN operators may hold variables, with no restriction on the field; they resolve before the ARN is compared
    # (corpus README #2, for conditions).
    ctx = {"aws:PrincipalAccount": ACCT, "aws:PrincipalArn": USER}
    cond = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:*"}}
    assert decide(USER, context=ctx, identity=[doc(allow(Condition=cond))]).decision is A
    assert decide(USER, context={**ctx, "aws:PrincipalAccount": OTHER},
                  identity=[doc(allow(Condition=cond))]).decision is I


def test_divergence_resource_policy_naming_the_session_is_not_capped_by_the_session_policy():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session: "The resource-based
    # policy permissions are not limited by the session policy" (corpus README #3).
    response = decide(SESSION, identity=[FULL], rp=rp(grant(SESSION)), session=EMPTY)
    assert response.decision is A
    assert response.policy_results["session"] == "ImplicitlyDenied"


def test_divergence_miscased_operator_is_refused():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html: operator
    # names are IAM's names; AWS refuses an unknown one when the policy is saved (corpus README #4).
    bad = doc(allow(Condition={"stringequals": {"aws:username": "alice"}}))
    response = decide(USER, context={"aws:username": "alice"}, identity=[bad])
    assert response.decision is Decision.ERROR
    assert [f.code for f in response.errors] == ["E_UNKNOWN_OPERATOR"]


def test_divergence_not_principal_deny_naming_only_the_role_still_denies_its_sessions():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
    deny_others = {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "lex:*", "Resource": "*"}
    assert decide(SESSION, identity=[FULL], rp=rp(deny_others)).decision is D
    everything = dict(deny_others, NotPrincipal={"AWS": [SESSION, ROLE, ROOT]})
    assert decide(SESSION, identity=[FULL], rp=rp(everything)).decision is A
    # ... and always denies a principal with a permissions boundary (access_policies_boundaries.html, Important).
    assert decide(SESSION, identity=[FULL], boundary=FULL, rp=rp(everything)).decision is D


def test_divergence_everyone_grant_is_not_capped_by_session_policy():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html ("All principals",
    # "IAM role principals").
    assert decide(ROLE, rp=rp(grant("*")), session=EMPTY).decision is A
    assert decide(SESSION, rp=rp(grant("*")), session=EMPTY, boundary=EMPTY).decision is A


def test_a_resource_without_an_account_is_in_the_callers_account():
    # Actions without resource-level permissions (`lex:ListBots`) are requested on `*`, which names no account.
    request = Request(USER, "lex:ListBots", "*")
    policies = ApplicablePolicies(identity=(named("identity[0]", FULL),))
    assert evaluate(request, policies).decision is A


def test_the_reference_evaluator_shares_no_code_with_the_engine():
    # STYLE.md, "What to avoid": a reference evaluator that imports from compile/ or _engine (or the compiled glob)
    # would make the differential tests compare an implementation with itself.
    import ast
    import pathlib

    import lexauthz.reference

    forbidden = ("lexauthz._glob", "lexauthz.compile", "lexauthz._engine")
    package = ["lexauthz", "reference"]
    for path in pathlib.Path(lexauthz.reference.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] if node.level else [])
                module = ".".join(p for p in (base, node.module or "") if p)
                imported = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            for name in imported:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), f"{path.name}: {name}"
