"""The caller, and whether a resource-based statement's ``Principal`` / ``NotPrincipal`` names it.

Written for the compiled engine, independently of :mod:`lexauthz.reference.principals` (the differential tests
compare the two).  It runs once per distinct caller and resource policy, never per request.  Rules, from the IAM
User Guide pages "AWS JSON policy elements: Principal" and "NotPrincipal":

- ``"*"`` and ``{"AWS": "*"}`` name everyone; ``{"Service": "*"}`` too.
- An exact ARN names that principal; a role ARN names the role's sessions and a caller given as the role (by
  partition, account and role name);
  an account id or ``arn:PARTITION:iam::ACCT:root`` names every principal of the account.
- ``Federated`` and ``CanonicalUser`` values never name an IAM caller.
- ``NotPrincipal`` with ``Deny`` applies unless every identity AWS may validate for the caller is named, and always
  applies to a caller with a permissions boundary; with ``Allow`` it applies unless any of them is named.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallerInfo", "caller_info", "principal_naming", "not_principal_naming"]

# Caller kinds.
USER, ROLE, ASSUMED_ROLE, FEDERATED_USER, ROOT, SERVICE, OTHER = (
    "user", "role", "assumed-role", "federated-user", "root", "service", "other")

#: Kind codes the kernel uses (see _engine.pyx, `_decide`).
KIND_CODES = {USER: 0, ROLE: 1, ASSUMED_ROLE: 2, FEDERATED_USER: 3, ROOT: 4, SERVICE: 5, OTHER: 6}

# What a Principal element may name, and the strength used to keep the strongest naming.
_RANK = {"everyone": 4, "principal": 4, "service": 4, "role": 3, "account": 1}


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """A caller broken down: ``kind`` (one of the kind names above), partition, account, role name."""

    arn: str
    kind: str
    partition: str | None = None
    account: str | None = None
    role_name: str | None = None


def caller_info(principal: str) -> CallerInfo:
    """Classify the request's principal: ``iam`` users, roles and root; ``sts`` sessions; else a service."""
    if principal[:4] != "arn:":
        return CallerInfo(principal, SERVICE)
    parts = principal.split(":", 5)
    if len(parts) != 6:
        return CallerInfo(principal, OTHER)
    partition, service, account, rest = parts[1], parts[2], parts[4] or None, parts[5]
    if service == "iam":
        if rest == "root":
            return CallerInfo(principal, ROOT, partition, account)
        if rest[:5] == "user/":
            return CallerInfo(principal, USER, partition, account)
        if rest[:5] == "role/":
            return CallerInfo(principal, ROLE, partition, account, rest[rest.rindex("/") + 1:])
    elif service == "sts":
        if rest[:13] == "assumed-role/":
            pieces = rest.split("/")
            return CallerInfo(principal, ASSUMED_ROLE, partition, account, pieces[1] if len(pieces) > 2 else None)
        if rest[:15] == "federated-user/":
            return CallerInfo(principal, FEDERATED_USER, partition, account)
    return CallerInfo(principal, OTHER, partition, account)


def _is_account_id(value: str) -> bool:
    return len(value) == 12 and all("0" <= ch <= "9" for ch in value)


def _naming(kind: str, value: str, c: CallerInfo):
    """``(label, named)`` for one Principal value, or ``None`` when it does not name the caller."""
    if kind == "Service":
        if value == "*":
            return ("Match", "everyone")
        if c.kind == SERVICE and value == c.arn:
            return ("Match", "service")
        return None
    if kind != "AWS":
        return None
    if value == "*":
        return ("Match", "everyone")
    parts = value.split(":", 5)
    names_role = (c.kind in (ROLE, ASSUMED_ROLE) and c.role_name is not None and len(parts) == 6
                  and parts[0] == "arn" and parts[2] == "iam" and parts[5][:5] == "role/"
                  and parts[1] == c.partition and parts[4] == c.account
                  and parts[5][parts[5].rindex("/") + 1:] == c.role_name)
    if c.kind == ROLE and names_role:
        return ("Match", "role")  # a role caller is a session of that role, named as the role
    if c.kind != SERVICE and value == c.arn:
        return ("Match", "principal")
    if names_role:
        return ("SessionRoleMatch", "role")
    is_iam_arn = len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam"
    if c.account is not None:
        if _is_account_id(value):
            if value == c.account:
                return ("AccountLevelMatch", "account")
        elif is_iam_arn and parts[5] == "root" and parts[1] == c.partition and parts[4] == c.account:
            return ("AccountLevelMatch", "account")
    return None


def principal_naming(principal, c: CallerInfo):
    """How a ``Principal`` element names the caller: ``(label, named)`` of the strongest naming, or ``None``."""
    if principal.wildcard:
        return ("Match", "everyone")
    best = None
    for kind, values in principal.entries:
        for v in values:
            n = _naming(kind, v, c)
            if n is not None and (best is None or _RANK[n[1]] > _RANK[best[1]]):
                best = n
    return best


def _validated_identities(c: CallerInfo) -> frozenset:
    if c.kind == SERVICE:
        return frozenset(("service",))
    if c.kind == ROOT:
        return frozenset(("account",))
    if c.kind == ASSUMED_ROLE:
        return frozenset(("principal", "role", "account"))
    if c.kind == ROLE:
        return frozenset(("role", "account"))
    return frozenset(("principal", "account"))


def not_principal_naming(not_principal, c: CallerInfo, effect: str, has_boundary: bool):
    """Whether a ``NotPrincipal`` statement applies to the caller: ``("Match", "everyone")`` or ``None``."""
    if effect == "Deny" and has_boundary and c.kind != SERVICE:
        return ("Match", "everyone")
    if not_principal.wildcard:
        return None
    named = set()
    for kind, values in not_principal.entries:
        for v in values:
            n = _naming(kind, v, c)
            if n is not None:
                named.add(n[1])
    if "everyone" in named:
        return None
    if effect == "Deny":
        excluded = _validated_identities(c).issubset(named)
    else:
        excluded = len(named) > 0
    return None if excluded else ("Match", "everyone")
