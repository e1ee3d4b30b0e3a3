"""Principals: who is calling, and whether a statement's ``Principal`` or ``NotPrincipal`` names them.

Part of the reference evaluator.  Each function names the rule it implements and the AWS page it follows.  The
pages, all in the IAM User Guide:

- "AWS JSON policy elements: Principal"
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
- "AWS JSON policy elements: NotPrincipal"
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
- "Permissions boundaries for IAM entities" (the ``NotPrincipal`` with ``Deny`` warning)
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
- "Policy evaluation logic", section "Determining whether a request is allowed or denied within an account" (which
  principal ARN a resource-based policy names decides which implicit denies still apply)
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html

The caller
----------
The request's principal is an ARN (``arn:aws:iam::ACCT:user/[path/]name``, ``arn:aws:iam::ACCT:role/[path/]name``,
``arn:aws:sts::ACCT:assumed-role/Role/session``, ``arn:aws:sts::ACCT:federated-user/name``,
``arn:aws:iam::ACCT:root``) or a service principal (``lex.amazonaws.com``).  Its account is the ARN's account field
(the one after the region), for ``iam`` and ``sts`` ARNs alike; a service principal has no account.

A role cannot sign a request itself: only a session of it can.  A caller given as a *role* ARN is therefore taken to
be a session of that role whose session name is not known: its permissions are the role's, limited by a session
policy when one is given.

How a principal is named
------------------------
:func:`match_principal` tells whether a ``Principal`` element names the caller and *how*, because the way it is named
decides which other policies still limit the grant (see :mod:`lexauthz.reference.evaluate`).  The result's
``label`` uses the corpus's vocabulary: ``Match`` (the caller itself, a service, or everyone), ``SessionRoleMatch``
(the role of a role session), ``SessionUserMatch`` (the IAM user behind a federated user session) and
``AccountLevelMatch`` (the caller's account).  Its ``named`` field says what the element named: ``everyone``,
``principal`` (the caller's own ARN: a user, a role session, a federated user session), ``service``, ``role`` (the
role of a role session, or the ARN of a caller given as a role) or ``account``.

Choices where the pages are silent (each also stated where it is made):

1. No wildcard inside a principal: "You cannot use a wildcard to match part of a principal name or ARN."  A value
   is compared as text, case-sensitively ("the user name part of the ARN is case sensitive"); only ``"*"`` alone is
   a wildcard.
2. A role ARN names the sessions of that role (and a caller given as that role) by account and role *name*: a
   session ARN carries no role path, and role names are unique within an account whatever their path.
3. ``Federated`` values name identity providers.  A caller's ARN does not say which provider issued its session, so
   a ``Federated`` value never names the caller.  ``CanonicalUser`` (an Amazon S3 identifier) never names an IAM
   caller either.
4. The IAM user behind a federated user session (``SessionUserMatch``) cannot be derived from the session's ARN, so
   that match is never produced from an ARN alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..policy.model import Principal

__all__ = [
    "MATCH",
    "ACCOUNT_LEVEL_MATCH",
    "SESSION_ROLE_MATCH",
    "SESSION_USER_MATCH",
    "Caller",
    "PrincipalMatch",
    "parse_caller",
    "match_principal_value",
    "match_principal",
    "match_not_principal",
]

#: The caller itself, a service principal, or everyone (``"*"``) is named.
MATCH = "Match"
#: The caller's account is named (12-digit id or ``arn:aws:iam::ACCT:root``): authority is delegated to the account.
ACCOUNT_LEVEL_MATCH = "AccountLevelMatch"
#: The role of a role session is named (the role's ARN, not the session's).
SESSION_ROLE_MATCH = "SessionRoleMatch"
#: The IAM user who created a federated user session is named.
SESSION_USER_MATCH = "SessionUserMatch"

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")

# Kinds of caller.
USER = "user"
ROLE = "role"
ASSUMED_ROLE = "assumed-role"
FEDERATED_USER = "federated-user"
ROOT = "root"
SERVICE = "service"
OTHER = "other"

#: How strongly each kind of naming identifies the caller: the strongest one a ``Principal`` element gives is kept.
_STRENGTH = {"everyone": 4, "principal": 4, "service": 4, "role": 3, "account": 1}


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal that sent the request, broken down as IAM's evaluation needs it.

    ``kind`` is ``user``, ``role``, ``assumed-role``, ``federated-user``, ``root``, ``service`` or ``other``.
    ``account`` is ``None`` for a service principal.  ``role_name`` is the role's name (last path element) for a
    role or a role session.
    """

    arn: str
    kind: str
    partition: str | None = None
    account: str | None = None
    role_name: str | None = None

    @property
    def is_session(self) -> bool:
        """A session principal: a role session (a role caller is one, see the module docstring) or a federated user
        session.  Only session principals are limited by session policies ("Policy evaluation logic": "The code
        then checks whether the principal is a session principal")."""
        return self.kind in (ROLE, ASSUMED_ROLE, FEDERATED_USER)


@dataclass(frozen=True, slots=True)
class PrincipalMatch:
    """How a ``Principal`` (or ``NotPrincipal``) element names the caller.

    ``label`` is ``Match``, ``AccountLevelMatch``, ``SessionRoleMatch`` or ``SessionUserMatch``; ``named`` is what
    was named: ``everyone``, ``principal``, ``service``, ``role`` or ``account``.
    """

    label: str
    named: str


def parse_caller(principal: str) -> Caller:
    """Break the request's principal down: kind, partition, account and role name.

    Rule ("AWS JSON policy elements: Principal", sections on each principal type): IAM users, roles and the root user
    are ``iam`` ARNs, role sessions and federated user sessions are ``sts`` ARNs; the account is the ARN's account
    field.  A string that is not an ARN is a service principal (``service-name.amazonaws.com``), which has no
    account.

    >>> c = parse_caller("arn:aws:sts::123456789012:assumed-role/LexDeveloper/alice")
    >>> c.kind, c.partition, c.account, c.role_name
    ('assumed-role', 'aws', '123456789012', 'LexDeveloper')
    >>> parse_caller("lex.amazonaws.com").account is None
    True
    """
    if not principal.startswith("arn:"):
        return Caller(principal, SERVICE)
    fields = principal.split(":", 5)
    if len(fields) < 6:
        return Caller(principal, OTHER)
    _, partition, service, _region, account, resource = fields
    account = account or None
    if service == "iam":
        if resource == "root":
            return Caller(principal, ROOT, partition, account)
        if resource.startswith("user/"):
            return Caller(principal, USER, partition, account)
        if resource.startswith("role/"):
            return Caller(principal, ROLE, partition, account, resource.rsplit("/", 1)[-1])
    elif service == "sts":
        if resource.startswith("assumed-role/"):
            parts = resource.split("/")
            role_name = parts[1] if len(parts) >= 3 else None
            return Caller(principal, ASSUMED_ROLE, partition, account, role_name)
        if resource.startswith("federated-user/"):
            return Caller(principal, FEDERATED_USER, partition, account)
    return Caller(principal, OTHER, partition, account)


def _names_account(value: str, caller: Caller) -> bool:
    """Rule ("AWS account principals"): ``"123456789012"`` and ``arn:aws:iam::123456789012:root`` both name the
    account, and "using the account ARN in the Principal element does not limit permissions to only the root user
    of the account"."""
    if caller.account is None:
        return False
    if _ACCOUNT_ID.match(value):
        return value == caller.account
    fields = value.split(":", 5)
    return (
        len(fields) == 6
        and fields[0] == "arn"
        and fields[2] == "iam"
        and fields[5] == "root"
        and fields[1] == caller.partition
        and fields[4] == caller.account
    )


def _names_callers_role(value: str, caller: Caller) -> bool:
    """Rule ("IAM role principals"; "Policy evaluation logic"): a role ARN names the role, and a role session is a
    session of that role.  Compared by partition, account and role name (choice 2 of the module docstring), for a
    role session and for a caller given as the role."""
    if caller.kind not in (ROLE, ASSUMED_ROLE) or caller.role_name is None:
        return False
    fields = value.split(":", 5)
    return (
        len(fields) == 6
        and fields[0] == "arn"
        and fields[2] == "iam"
        and fields[5].startswith("role/")
        and fields[1] == caller.partition
        and fields[4] == caller.account
        and fields[5].rsplit("/", 1)[-1] == caller.role_name
    )


def match_principal_value(kind: str, value: str, caller: Caller) -> PrincipalMatch | None:
    """Whether one value of a ``Principal`` element (``kind`` is ``AWS``, ``Service``, ``Federated`` or
    ``CanonicalUser``) names the caller, and how.

    Rules, from "AWS JSON policy elements: Principal":

    - ``{"AWS": "*"}`` is everyone ("For anonymous users, the following elements are equivalent").
    - An account id or account root ARN names every principal of that account (``AccountLevelMatch``).
    - A user, role, assumed-role session or federated user session ARN names exactly that principal (``Match``);
      no partial wildcards ("You cannot use a wildcard to match part of a principal name or ARN").
    - A role ARN also names the sessions of that role (``SessionRoleMatch``).
    - A service principal names the service (``Match``).
    - ``Federated`` and ``CanonicalUser`` values never name an IAM caller (choice 3 of the module docstring).

    >>> c = parse_caller("arn:aws:sts::123456789012:assumed-role/Dev/alice")
    >>> match_principal_value("AWS", "arn:aws:iam::123456789012:role/team/Dev", c)
    PrincipalMatch(label='SessionRoleMatch', named='role')
    >>> match_principal_value("AWS", "123456789012", c)
    PrincipalMatch(label='AccountLevelMatch', named='account')
    """
    if kind == "AWS":
        if value == "*":
            return PrincipalMatch(MATCH, "everyone")
        if caller.kind == ROLE and _names_callers_role(value, caller):
            # A role caller is a session of that role (module docstring): the role's ARN names it as the role.
            return PrincipalMatch(MATCH, "role")
        if caller.kind != SERVICE and value == caller.arn:
            return PrincipalMatch(MATCH, "principal")
        if _names_callers_role(value, caller):
            return PrincipalMatch(SESSION_ROLE_MATCH, "role")
        if _names_account(value, caller):
            return PrincipalMatch(ACCOUNT_LEVEL_MATCH, "account")
        return None
    if kind == "Service":
        if value == "*":
            return PrincipalMatch(MATCH, "everyone")
        if caller.kind == SERVICE and value == caller.arn:
            return PrincipalMatch(MATCH, "service")
        return None
    # Federated, CanonicalUser: never an IAM caller (choice 3).
    return None


def _strongest(matches) -> PrincipalMatch | None:
    best: PrincipalMatch | None = None
    for m in matches:
        if m is not None and (best is None or _STRENGTH[m.named] > _STRENGTH[best.named]):
            best = m
    return best


def match_principal(element: Principal, caller: Caller) -> PrincipalMatch | None:
    """Whether a ``Principal`` element names the caller; the strongest naming when several values do.

    Rule ("AWS JSON policy elements: Principal", "All principals" and "Specifying a principal"): ``"*"`` is every
    principal; several values are a logical OR ("you grant permissions to each principal").  When both the caller's
    own ARN and its account are listed, the caller is named directly (``Match``), which is what decides how the
    grant is limited.

    >>> from lexauthz.policy.model import Principal
    >>> c = parse_caller("arn:aws:iam::123456789012:user/bob")
    >>> match_principal(Principal(entries=(("AWS", ("123456789012", "arn:aws:iam::123456789012:user/bob")),)), c).label
    'Match'
    """
    if element.wildcard:
        return PrincipalMatch(MATCH, "everyone")
    return _strongest(match_principal_value(kind, v, caller) for kind, values in element.entries for v in values)


def _identities_to_exclude(caller: Caller) -> frozenset[str]:
    """What AWS may validate, one after another, for the caller: "AWS might validate the account first, then the
    role, and then the assumed-role user" ("AWS JSON policy elements: NotPrincipal")."""
    if caller.kind == SERVICE:
        return frozenset({"service"})
    if caller.kind == ROOT:
        return frozenset({"account"})
    if caller.kind == ASSUMED_ROLE:
        return frozenset({"principal", "role", "account"})
    if caller.kind == ROLE:
        return frozenset({"role", "account"})
    return frozenset({"principal", "account"})


def match_not_principal(element: Principal, caller: Caller, *, effect: str,
                        has_permissions_boundary: bool) -> PrincipalMatch | None:
    """Whether a statement with ``NotPrincipal`` applies to the caller (``Match``) or not (``None``).

    Rules:

    - ``NotPrincipal`` with ``Deny`` ("AWS JSON policy elements: NotPrincipal"): the actions are denied to every
      principal *except* those named, and "AWS might validate the account first, then the role, and then the
      assumed-role user", which is why the page asks to list the account, the role and the session.  The deny
      therefore applies unless *every* identity AWS may validate for the caller (its account; its role, for a role
      session; the caller itself) is named.
    - ``NotPrincipal`` with ``Deny`` and a permissions boundary ("Permissions boundaries for IAM entities",
      Important box): it "will always deny any IAM principal that has a permissions boundary policy attached,
      regardless of the values specified in the NotPrincipal element".
    - ``NotPrincipal`` with ``Allow`` ("NotPrincipal With Allow"): "allows all principals except the one named".  By
      the same validation chain, the caller is excluded as soon as any identity AWS validates for it is named.
    - ``"*"`` names everyone: such a statement applies to no one.

    >>> from lexauthz.policy.model import Principal
    >>> c = parse_caller("arn:aws:sts::111122223333:assumed-role/Audit/app")
    >>> np = Principal(entries=(("AWS", ("arn:aws:iam::111122223333:role/Audit",)),))
    >>> match_not_principal(np, c, effect="Deny", has_permissions_boundary=False).label  # account, session not named
    'Match'
    >>> match_not_principal(np, c, effect="Allow", has_permissions_boundary=False) is None  # its role is named
    True
    """
    if effect == "Deny" and has_permissions_boundary and caller.kind != SERVICE:
        return PrincipalMatch(MATCH, "everyone")
    if element.wildcard:
        return None
    named = {m.named for kind, values in element.entries for v in values
             if (m := match_principal_value(kind, v, caller)) is not None}
    if "everyone" in named:
        return None
    if effect == "Deny":
        excluded = _identities_to_exclude(caller) <= named
    else:
        excluded = bool(named)
    return None if excluded else PrincipalMatch(MATCH, "everyone")
