"""Case rewrites that reproduce the labelling simulator's known departures from AWS.

The corpus labels come from iam-simulate 0.1.173 (see ``data/README.md``).  Where lexauthz deliberately disagrees
with a label, ``known_differences.toml`` names the rule and the AWS page lexauthz follows, and names one of the
rewrites below (``emulation = "..."``).  A rewrite turns the case into one on which *AWS's* rule gives what the
*simulator's* rule gave on the original: evaluating the rewritten case with lexauthz must reproduce the label
exactly.  That proves each listed difference is the documented rule and nothing else.

Every rewrite returns a new case (the input is never modified) and touches only what its rule is about.
"""
from __future__ import annotations

import copy
import re
from typing import Callable, Iterator

from lexauthz.policy.operators import suggest_operator

__all__ = ["EMULATIONS", "RENAMING_EMULATIONS", "emulate"]

_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _policies(case: dict) -> Iterator[dict]:
    """Every policy document of a case, for in-place edits of a copy."""
    for doc in case.get("identity_policies") or []:
        yield doc
    for key in ("resource_policy", "permission_boundary", "session_policy"):
        if case.get(key) is not None:
            yield case[key]
    for level in case.get("scps") or []:
        yield from level


def _statements(doc: dict) -> list:
    st = doc.get("Statement")
    if isinstance(st, dict):
        return [st]
    return [s for s in st or [] if isinstance(s, dict)]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def substitute_in_every_version(case: dict) -> dict:
    """Simulator: policy variables are substituted whatever the ``Version``.

    Rewrite: give every policy ``Version: 2012-10-17``.  The version only decides whether variables are substituted,
    so nothing else changes.
    """
    out = copy.deepcopy(case)
    for doc in _policies(out):
        if isinstance(doc, dict):
            doc["Version"] = "2012-10-17"
    return out


def _never_matching_account(value: str) -> str:
    """An ARN pattern whose region or account field holds a variable, with that field made unmatchable.

    The simulator splits the ARN on ``:`` before substituting, which cuts ``${aws:PrincipalAccount}`` in two: the
    field never matches.  ``#`` never occurs in an account id or a region name.  Variables are masked while the ARN
    is cut into fields, so that the colon inside ``${aws:...}`` does not count.
    """
    holes: list[str] = []

    def hole(m: re.Match) -> str:
        holes.append(m.group(0))
        return f"\0{len(holes) - 1}\0"

    fields = _VARIABLE.sub(hole, value).split(":", 5)
    if len(fields) < 6:
        return value
    for i in (3, 4):  # region, account
        if "\0" in fields[i]:
            fields[i] = "#never#"
    return re.sub(r"\0(\d+)\0", lambda m: holes[int(m.group(1))], ":".join(fields))


def variables_never_match_in_resource_account(case: dict) -> dict:
    """Simulator: a variable in the region or account field of a ``Resource``/``NotResource`` value never matches.

    Rewrite: make such fields unmatchable.
    """
    out = copy.deepcopy(case)
    for doc in _policies(out):
        for st in _statements(doc):
            for key in ("Resource", "NotResource"):
                if key in st:
                    vals = [_never_matching_account(v) if isinstance(v, str) else v for v in _as_list(st[key])]
                    st[key] = vals
    return out


def variables_never_match_in_arn_condition_account(case: dict) -> dict:
    """Simulator: a variable in the region or account field of an ``Arn*`` condition value never matches.

    Rewrite: make such fields unmatchable in the values of every ``Arn*`` operator (any spelling).
    """
    out = copy.deepcopy(case)
    for doc in _policies(out):
        for st in _statements(doc):
            cond = st.get("Condition")
            if not isinstance(cond, dict):
                continue
            for op, block in cond.items():
                if "arn" not in op.lower() or not isinstance(block, dict):
                    continue
                for key, vals in block.items():
                    fixed = [_never_matching_account(v) if isinstance(v, str) else v for v in _as_list(vals)]
                    block[key] = fixed if isinstance(vals, list) else fixed[0]
    return out


def _caller_role_arn(case: dict) -> str | None:
    principal = case["request"]["principal"]
    m = re.match(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/", principal)
    if m:
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}"
    if re.match(r"^arn:[^:]+:iam::\d{12}:role/", principal):
        return principal
    return None


def session_grants_capped_by_session_policy(case: dict) -> dict:
    """Simulator: a resource-policy grant that names the calling session ARN is capped by the session policy.

    Rewrite: name the session's role instead of the session, which AWS caps by the session policy (and by the
    permissions boundary).
    """
    out = copy.deepcopy(case)
    caller = out["request"]["principal"]
    role = _caller_role_arn(out)
    rp = out.get("resource_policy")
    if rp is None or role is None:
        return out
    for st in _statements(rp):
        p = st.get("Principal")
        if isinstance(p, dict) and "AWS" in p:
            p["AWS"] = [role if v == caller else v for v in _as_list(p["AWS"])]
    return out


def operator_names_case_insensitive(case: dict) -> dict:
    """Simulator: condition operator names are matched case-insensitively.

    Rewrite: spell every operator the way IAM does (``stringequals`` becomes ``StringEquals``).
    """
    out = copy.deepcopy(case)
    for doc in _policies(out):
        for st in _statements(doc):
            cond = st.get("Condition")
            if isinstance(cond, dict):
                st["Condition"] = {(suggest_operator(op) or op): block for op, block in cond.items()}
    return out


def not_principal_role_excludes_its_sessions(case: dict) -> dict:
    """Simulator: a ``Deny`` whose ``NotPrincipal`` names a role does not apply to the role's sessions, even when
    the account and the session are not named.

    Rewrite: also name the calling principal and its account in such a ``NotPrincipal``, which is what AWS asks for
    ("AWS JSON policy elements: NotPrincipal").
    """
    out = copy.deepcopy(case)
    caller = out["request"]["principal"]
    role = _caller_role_arn(out)
    account = caller.split(":")[4] if caller.startswith("arn:") else None
    rp = out.get("resource_policy")
    if rp is None or role is None:
        return out
    role_name = role.rsplit("/", 1)[-1]
    for st in _statements(rp):
        np = st.get("NotPrincipal")
        if st.get("Effect") != "Deny" or not isinstance(np, dict) or "AWS" not in np:
            continue
        names = _as_list(np["AWS"])
        names_role = any(isinstance(v, str) and v.startswith(f"arn:aws:iam::{account}:role/")
                         and v.rsplit("/", 1)[-1] == role_name for v in names)
        if names_role:
            np["AWS"] = names + [caller, f"arn:aws:iam::{account}:root"]
    return out


def wildcard_grant_capped_by_session_policy(case: dict) -> dict:
    """Simulator: a same-account resource-policy grant to ``"*"`` is capped by the caller's session policy.

    Rewrite: grant to the caller's role instead of everyone, which AWS caps by the session policy.
    """
    out = copy.deepcopy(case)
    role = _caller_role_arn(out)
    rp = out.get("resource_policy")
    if rp is None or role is None:
        return out
    for st in _statements(rp):
        if st.get("Effect") != "Allow":
            continue
        p = st.get("Principal")
        if p == "*":
            st["Principal"] = {"AWS": role}
        elif isinstance(p, dict) and "AWS" in p:
            p["AWS"] = [role if v == "*" else v for v in _as_list(p["AWS"])]
    return out


#: Name used in ``known_differences.toml`` -> rewrite.
EMULATIONS: dict[str, Callable[[dict], dict]] = {
    "substitute_in_every_version": substitute_in_every_version,
    "variables_never_match_in_resource_account": variables_never_match_in_resource_account,
    "variables_never_match_in_arn_condition_account": variables_never_match_in_arn_condition_account,
    "session_grants_capped_by_session_policy": session_grants_capped_by_session_policy,
    "operator_names_case_insensitive": operator_names_case_insensitive,
    "not_principal_role_excludes_its_sessions": not_principal_role_excludes_its_sessions,
    "wildcard_grant_capped_by_session_policy": wildcard_grant_capped_by_session_policy,
}


#: Rewrites that name a different principal (so the ``principal_match`` of the rewritten statement changes).
RENAMING_EMULATIONS = frozenset({"session_grants_capped_by_session_policy", "wildcard_grant_capped_by_session_policy"})


def emulate(case: dict, names) -> dict:
    """Apply the named rewrites one after the other."""
    for name in names:
        case = EMULATIONS[name](case)
    return case
