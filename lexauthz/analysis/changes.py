"""Candidate changes to an account, for a what-if diff: add an SCP, replace a policy's document everywhere it is
attached, remove a principal from a group.

:func:`with_changes` returns a new :class:`~lexauthz.account.Account` (the original is not touched) whose policy set
holds the changes; ``diff(account, with_changes(account, ...), space)`` then shows what they do.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Iterable, Mapping

from ..errors import RequestError

__all__ = ["with_changes"]


def _doc(source: Any, what: str, policy_type: str):
    from ..policy import validate_policy

    parsed, result = validate_policy(source, policy_type=policy_type, source_name=what)
    errors = [f for f in (*parsed.findings, *result.findings) if f.severity.name == "ERROR"]
    if errors or parsed.document is None:
        f = errors[0] if errors else None
        raise RequestError(f.code if f else "E_BAD_POLICY", f"{what}: {f.message if f else 'not a policy document'}",
                           f"{what}: {f.path if f else '$'}")
    return parsed.document, tuple(parsed.findings) + tuple(result.findings)


def with_changes(account, *, add_scps: Iterable[tuple[str, Any, str]] = (),
                 replace_policies: Mapping[str, Any] | None = None,
                 remove_memberships: Iterable[tuple[str, str]] = ()):
    """``account`` with candidate changes applied.

    Parameters
    ----------
    add_scps:
        ``(target, document, name)``: attach an SCP to ``root``, an OU id or an account id.
    replace_policies:
        ``name -> document``: every policy of that name (a managed policy ARN, an inline policy's name) gets the new
        document, wherever it is attached.
    remove_memberships:
        ``(principal ARN, group)``: the principal leaves the group (named by its name or its ARN).

    Raises
    ------
    RequestError
        ``E_NO_SUCH_POLICY``, ``E_NO_SUCH_ENTITY`` (a principal or membership the account lacks), and the finding
        code of a document with an ERROR.
    """
    from ..policy.applicable import NamedPolicy

    ps = account.policy_set.snapshot()
    for target, source, name in add_scps:
        doc, findings = _doc(source, name, "scp")
        ps.add_scp(target, NamedPolicy(name, doc, findings), name=name)
    if replace_policies:
        new = {}
        for name, source in replace_policies.items():
            new[name] = NamedPolicy(name, *_doc(source, name, "identity"))
        hit: set[str] = set()

        def swap(p):
            if p is not None and p.name in new:
                hit.add(p.name)
                return dataclasses.replace(new[p.name], name=p.name)
            return p

        for arn, rec in list(ps.principals.items()):
            ps.principals[arn] = dataclasses.replace(
                rec, policies=tuple(swap(p) for p in rec.policies),
                permissions_boundary=swap(rec.permissions_boundary), session_policy=swap(rec.session_policy))
        for g, pols in list(ps.groups.items()):
            ps.groups[g] = tuple(swap(p) for p in pols)
        for arn, res in list(ps.resources.items()):
            ps.resources[arn] = dataclasses.replace(res, policy=swap(res.policy))
        for t, pols in list(ps.scps.items()):
            ps.scps[t] = [swap(p) for p in pols]
        missing = sorted(set(new) - hit)
        if missing:
            raise RequestError("E_NO_SUCH_POLICY", f"the account has no policy named `{missing[0]}`",
                               "$.replace_policies")
    for arn, group in remove_memberships:
        rec = ps.principals.get(arn)
        # a group is named as the account file names it, or by its ARN or its name (GAAD keys groups by ARN)
        hit = [g for g in (rec.groups if rec is not None else ()) if g == group or g.rsplit("/", 1)[-1] == group]
        if not hit:
            raise RequestError("E_NO_SUCH_ENTITY", f"`{arn}` is not a member of group `{group}`",
                               "$.remove_memberships")
        ps.principals[arn] = dataclasses.replace(rec, groups=tuple(g for g in rec.groups if g not in hit))
    return dataclasses.replace(account, policy_set=ps, _engines={}, _lock=threading.Lock())
