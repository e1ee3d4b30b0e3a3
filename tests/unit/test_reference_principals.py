"""The reference evaluator's principals: the caller, ``Principal`` and ``NotPrincipal``.

Tables, one per rule; the comment above each names the AWS page its expectations come from.
"""
from __future__ import annotations

import pytest

from lexauthz.policy.model import Principal
from lexauthz.reference.principals import (
    ACCOUNT_LEVEL_MATCH,
    MATCH,
    SESSION_ROLE_MATCH,
    Caller,
    match_not_principal,
    match_principal,
    match_principal_value,
    parse_caller,
)

ACCT = "123456789012"
OTHER = "210987654321"
USER = f"arn:aws:iam::{ACCT}:user/contractors/dave"
ROLE = f"arn:aws:iam::{ACCT}:role/ops/CallCenterAgent"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/CallCenterAgent/alice"
FEDERATED = f"arn:aws:sts::{ACCT}:federated-user/carol"
ROOT = f"arn:aws:iam::{ACCT}:root"
SERVICE = "lex.amazonaws.com"


def aws(*values: str) -> Principal:
    return Principal(entries=(("AWS", tuple(values)),))


# -- The caller: kind and account --------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html (each principal type)
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
CALLERS = [
    (USER, "user", ACCT, None),
    (ROLE, "role", ACCT, "CallCenterAgent"),  # a role's name is the last element of its path
    (SESSION, "assumed-role", ACCT, "CallCenterAgent"),  # sts ARNs carry the account too
    (FEDERATED, "federated-user", ACCT, None),
    (ROOT, "root", ACCT, None),
    (SERVICE, "service", None, None),  # a service principal has no account
    (f"arn:aws:iam::{OTHER}:user/bob", "user", OTHER, None),
    (f"arn:aws:s3:::{ACCT}-bucket", "other", None, None),
]


@pytest.mark.parametrize("arn,kind,account,role_name", CALLERS, ids=[c[0] for c in CALLERS])
def test_parse_caller(arn, kind, account, role_name):
    caller = parse_caller(arn)
    assert (caller.kind, caller.account, caller.role_name) == (kind, account, role_name)


def test_session_principals():
    # "Session principals include an IAM role session or an IAM federated user session" ("Policy evaluation logic").
    # A role cannot sign a request itself; a caller given as a role ARN is a session of that role.
    assert [parse_caller(a).is_session for a in (USER, ROLE, SESSION, FEDERATED, ROOT, SERVICE)] == [
        False, True, True, True, False, False]


# -- One Principal value ------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
VALUES = [
    # (caller, kind, value, expected label or None, expected `named` or None)
    (USER, "AWS", "*", MATCH, "everyone"),  # "All principals"
    (USER, "AWS", ACCT, ACCOUNT_LEVEL_MATCH, "account"),  # "AWS account principals": the short form
    (USER, "AWS", ROOT, ACCOUNT_LEVEL_MATCH, "account"),  # ... and the root ARN: both delegate to the account
    (USER, "AWS", OTHER, None, None),
    (USER, "AWS", f"arn:aws:iam::{OTHER}:root", None, None),
    (USER, "AWS", f"arn:aws-cn:iam::{ACCT}:root", None, None),  # another partition is another account
    (USER, "AWS", USER, MATCH, "principal"),  # "IAM user principals"
    (USER, "AWS", USER.replace("dave", "Dave"), None, None),  # "the user name part of the ARN is case sensitive"
    (USER, "AWS", f"arn:aws:iam::{ACCT}:user/contractors/*", None, None),  # no partial wildcards
    (USER, "AWS", f"arn:aws:iam::{ACCT}:user/dave", None, None),  # the path is part of the user's ARN
    (SESSION, "AWS", SESSION, MATCH, "principal"),  # "Role session principals"
    (SESSION, "AWS", f"arn:aws:sts::{ACCT}:assumed-role/CallCenterAgent/bob", None, None),  # another session
    (SESSION, "AWS", ROLE, SESSION_ROLE_MATCH, "role"),  # the role of the session ("IAM role principals")
    (SESSION, "AWS", f"arn:aws:iam::{ACCT}:role/CallCenterAgent", SESSION_ROLE_MATCH, "role"),  # path-free name
    (SESSION, "AWS", f"arn:aws:iam::{OTHER}:role/ops/CallCenterAgent", None, None),  # same name, other account
    (SESSION, "AWS", f"arn:aws:iam::{ACCT}:role/ops/Other", None, None),
    (SESSION, "AWS", ACCT, ACCOUNT_LEVEL_MATCH, "account"),
    (ROLE, "AWS", ROLE, MATCH, "role"),  # a role caller: its own ARN names the role
    (ROLE, "AWS", f"arn:aws:iam::{ACCT}:role/CallCenterAgent", MATCH, "role"),  # by name, as for its sessions
    (ROLE, "AWS", f"arn:aws:iam::{OTHER}:role/ops/CallCenterAgent", None, None),
    (ROLE, "AWS", SESSION, None, None),  # a session ARN never names the role itself
    (FEDERATED, "AWS", FEDERATED, MATCH, "principal"),  # "AWS STS federated user session principals"
    (SERVICE, "Service", SERVICE, MATCH, "service"),  # "AWS service principals"
    (SERVICE, "Service", "lambda.amazonaws.com", None, None),
    (SERVICE, "AWS", ACCT, None, None),  # a service principal has no account
    (SERVICE, "AWS", "*", MATCH, "everyone"),
    (USER, "Service", SERVICE, None, None),
    (SESSION, "Federated", "cognito-identity.amazonaws.com", None, None),  # an IdP: not derivable from an ARN
    (USER, "CanonicalUser", "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", None, None),
]


@pytest.mark.parametrize("caller,kind,value,label,named", VALUES,
                         ids=[f"{v[0].rsplit(':', 1)[-1]}-{v[1]}-{v[2].rsplit(':', 1)[-1]}" for v in VALUES])
def test_match_principal_value(caller, kind, value, label, named):
    got = match_principal_value(kind, value, parse_caller(caller))
    assert (got.label if got else None, got.named if got else None) == (label, named)


def test_several_values_are_a_logical_or_and_the_strongest_naming_wins():
    # "When you specify more than one principal in an element, you grant permissions to each principal" (OR).
    caller = parse_caller(SESSION)
    assert match_principal(aws(OTHER, ACCT), caller).label == ACCOUNT_LEVEL_MATCH
    assert match_principal(aws(ACCT, ROLE), caller).label == SESSION_ROLE_MATCH
    assert match_principal(aws(ACCT, ROLE, SESSION), caller).named == "principal"
    assert match_principal(aws(OTHER, f"arn:aws:iam::{OTHER}:root"), caller) is None
    both = Principal(entries=(("Service", (SERVICE,)), ("AWS", (ACCT,))))
    assert match_principal(both, caller).label == ACCOUNT_LEVEL_MATCH


def test_principal_star_names_everyone():
    # "For anonymous users, the following elements are equivalent: "Principal": "*", "Principal" : { "AWS" : "*" }"
    for caller in (USER, SESSION, SERVICE, ROOT):
        assert match_principal(Principal(wildcard=True), parse_caller(caller)).named == "everyone"
        assert match_principal(aws("*"), parse_caller(caller)).named == "everyone"


# -- NotPrincipal ---------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
# "AWS might validate the account first, then the role, and then the assumed-role user": a Deny excludes a caller
# only when everything AWS validates for it is named.  A NotPrincipal Allow excludes a caller as soon as one is.
BOB = "arn:aws:iam::444455556666:user/Bob"
BOB_ACCT = "arn:aws:iam::444455556666:root"
AUDIT_ROLE = "arn:aws:iam::444455556666:role/cross-account-read-only-role"
AUDIT_SESSION = "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app"
NOT_PRINCIPAL = [
    # (caller, effect, NotPrincipal values, has boundary, statement applies?)
    # The page's first example: the user and the account are named, so Bob is not denied ...
    (BOB, "Deny", [BOB, BOB_ACCT], False, False),
    # ... "If the NotPrincipal element contained only Bob's ARN, the effect of the policy might be to explicitly
    # deny access to the AWS account that contains the user Bob": the deny applies.
    (BOB, "Deny", [BOB], False, True),
    (BOB, "Deny", [BOB_ACCT], False, True),
    ("arn:aws:iam::444455556666:user/Alice", "Deny", [BOB, BOB_ACCT], False, True),
    # The page's second example: session, role and account named: the session is not denied ...
    (AUDIT_SESSION, "Deny", [AUDIT_SESSION, AUDIT_ROLE, BOB_ACCT], False, False),
    # ... "If the NotPrincipal element was missing the ARN of the role, the effect of the policy might be to
    # explicitly deny access to the role"; missing the account, to the account.
    (AUDIT_SESSION, "Deny", [AUDIT_SESSION, BOB_ACCT], False, True),
    (AUDIT_SESSION, "Deny", [AUDIT_SESSION, AUDIT_ROLE], False, True),
    (AUDIT_SESSION, "Deny", [AUDIT_ROLE], False, True),  # naming the role alone does not spare its sessions
    (AUDIT_SESSION, "Deny", [AUDIT_ROLE, BOB_ACCT], False, True),  # nor does role + account without the session
    (AUDIT_ROLE, "Deny", [AUDIT_ROLE, BOB_ACCT], False, False),  # a role caller: its role and account
    (AUDIT_ROLE, "Deny", [AUDIT_ROLE], False, True),
    (AUDIT_SESSION, "Deny", ["*"], False, False),  # everyone is excluded
    # "Permissions boundaries for IAM entities", Important: "The NotPrincipal element with a Deny effect will always
    # deny any IAM principal that has a permissions boundary policy attached, regardless of the values".
    (BOB, "Deny", [BOB, BOB_ACCT], True, True),
    (AUDIT_SESSION, "Deny", ["*"], True, True),
    # "NotPrincipal With Allow": "allows all principals except the one named".
    (BOB, "Allow", [BOB], False, False),
    (BOB, "Allow", [BOB_ACCT], False, False),  # Bob's account is named: AWS validates the account too
    ("arn:aws:iam::444455556666:user/Alice", "Allow", [BOB], False, True),
    (AUDIT_SESSION, "Allow", [AUDIT_ROLE], False, False),  # its role is named
    (f"arn:aws:iam::{ACCT}:user/eve", "Allow", [BOB, BOB_ACCT], False, True),
    (BOB, "Allow", ["*"], False, False),
    (BOB, "Allow", [BOB], True, False),  # the boundary quirk is about Deny only
    (SERVICE, "Deny", [BOB], True, True),  # a service is not an IAM principal: no boundary quirk, but not named
]


@pytest.mark.parametrize("caller,effect,values,boundary,applies", NOT_PRINCIPAL,
                         ids=[f"{i}-{r[1]}" for i, r in enumerate(NOT_PRINCIPAL)])
def test_not_principal(caller, effect, values, boundary, applies):
    element = Principal(wildcard=True) if values == ["*"] else aws(*values)
    got = match_not_principal(element, parse_caller(caller), effect=effect, has_permissions_boundary=boundary)
    assert (got is not None) == applies
    if got is not None:
        assert got.label == MATCH


def test_not_principal_service_value_excludes_the_service():
    element = Principal(entries=(("Service", (SERVICE,)),))
    assert match_not_principal(element, parse_caller(SERVICE), effect="Deny", has_permissions_boundary=False) is None
    assert match_not_principal(element, parse_caller(USER), effect="Deny", has_permissions_boundary=False) is not None


def test_caller_is_immutable():
    caller = parse_caller(USER)
    assert isinstance(caller, Caller)
    with pytest.raises(AttributeError):
        caller.kind = "role"  # type: ignore[misc]
