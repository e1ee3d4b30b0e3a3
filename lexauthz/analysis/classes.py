"""Equivalence classes of principals, actions and resources, and the cells an analysis evaluates.

Two members of a class get the same decision, the same deciding statements and the same missing context keys for
every request, under every policy set the classes were built for (the before and the after set of a diff), so an
analysis evaluates one representative per class and expands on output.

- **Actions** are equal when every ``Action``/``NotAction`` value of every statement matches both or neither.
- **Resources** are equal when every ``Resource``/``NotResource`` value matches both or neither, and they have the
  same owner account, the same tags and the same resource-based policy.  A value with policy variables is matched
  with each variable read as ``*``: a resource it can match this way is put in a class of its own (the variable's
  value is only known per request).
- **Principals** are equal when they have the same kind (user, role, session, root, service), partition and
  account, resolve to the same identity policies (by policy name and document), groups, boundary, session policy
  and tags, and every ``Principal``/``NotPrincipal`` element of every resource policy names both the same way.

These are the facts IAM's evaluation reads from the three strings (see :mod:`lexauthz.reference`): the context is
an axis of its own, and the policy set adds nothing else per principal or resource.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..request import Context, Request

__all__ = ["Classes", "Classifier", "AccountView", "cell_context"]

_VARIABLE = re.compile(r"\$\{[^{}]*\}")


@dataclass(frozen=True)
class Classes:
    """One axis split into classes: ``index[i]`` is the class of member ``i``; ``reps[k]`` the member that stands
    for class ``k`` (its first member)."""

    index: np.ndarray
    reps: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.reps)

    def members(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.reps]
        for i, k in enumerate(self.index.tolist()):
            out[k].append(i)
        return out


def _split(keys: Sequence) -> Classes:
    ids: dict = {}
    index = np.empty(len(keys), dtype=np.uint32)
    reps: list[int] = []
    for i, key in enumerate(keys):
        k = ids.get(key)
        if k is None:
            k = ids[key] = len(reps)
            reps.append(i)
        index[i] = k
    return Classes(index, tuple(reps))


def identity_classes(n: int) -> Classes:
    """Every member its own class (no compression)."""
    return Classes(np.arange(n, dtype=np.uint32), tuple(range(n)))


def _statements(ps):
    seen: set[int] = set()
    for named in ps.policies():
        if named.document is None or id(named) in seen:
            continue
        seen.add(id(named))
        yield from named.document.statements


def _pkey(named):
    return None if named is None else (named.name, id(named.document))


class AccountView:
    """What an analysis needs of one account, computed once: its engine, its roles by name and, with
    ``inventory_tags``, the tags its Lex inventory holds for resources the policy set has no tags for.

    Without ``inventory_tags`` every cell is the request :meth:`lexauthz.account.Account.evaluate` answers for the
    same principal, action, resource and context.  With it, a resource's inventory tags are added to the context as
    ``aws:ResourceTag/<key>`` (keys the context lacks), as a Lex call on that very resource carries them.
    """

    def __init__(self, account, *, inventory_tags: bool = False):
        self.account = account
        self.policy_set = account.policy_set
        self.engine = account.engine()
        self.roles = self.policy_set.roles_by_name()
        extra: dict[str, tuple[tuple[str, str], ...]] = {}
        for res in (account.resources if inventory_tags else ()):
            arn = str(res.arn)
            rec = self.policy_set.resources.get(arn)
            tags = tuple(sorted(dict(res.tags).items())) if res.tags else ()
            if tags and (rec is None or not rec.tags):
                extra[arn] = tuple((f"aws:ResourceTag/{k}", v) for k, v in tags)
        self.extra_tags = extra
        self._by_name = None
        self.cells: dict = {}  # (principal, action, resource class keys, context) -> explanation, for who-can
        self.default_principals: list | None = None  # who-can's default candidates, grouped by class
        self.default_groups: dict | None = None

    def context(self, resource: str, ctx: dict) -> dict:
        """The context of a cell: ``ctx`` plus the inventory's tags of ``resource`` (keys ``ctx`` lacks)."""
        return cell_context(ctx, self.extra_tags.get(resource))

    def request(self, principal: str, action: str, resource: str, ctx: dict) -> Request:
        return Request(principal, action, resource, context=self.context(resource, ctx))

    def policy(self, name: str):
        """The :class:`~lexauthz.NamedPolicy` of the account named ``name`` (first found), or ``None``."""
        if self._by_name is None:
            by: dict = {}
            for p in self.policy_set.policies():
                by.setdefault(p.name, p)
            self._by_name = by
        return self._by_name.get(name)


def cell_context(ctx: dict, extra) -> dict:
    if not extra:
        return ctx
    have = {k.lower() for k in ctx}
    out = {k: v for k, v in extra if k.lower() not in have}
    if not out:
        return ctx
    out.update(ctx)
    return out


class Classifier:
    """Class keys for the principals, actions and resources of one or more accounts' policy sets (cached)."""

    def __init__(self, views: Sequence[AccountView]):
        self.views = tuple(views)
        action_values: dict[str, None] = {}
        resource_values: dict[str, None] = {}
        principal_elements: dict = {}
        not_principal_elements: dict = {}
        for v in self.views:
            ps = v.policy_set
            for st in _statements(ps):
                for a in (st.action or ()) + (st.not_action or ()):
                    action_values.setdefault(a.lower())
                for r in (st.resource or ()) + (st.not_resource or ()):
                    resource_values.setdefault(r)
            for arn, res in ps.resources.items():
                if res.policy is None or res.policy.document is None:
                    continue
                for st in res.policy.document.statements:
                    if st.principal is not None:
                        principal_elements.setdefault(st.principal)
                    if st.not_principal is not None:
                        not_principal_elements.setdefault(st.not_principal)
        self.action_values = tuple(action_values)
        self.resource_values = tuple(resource_values)
        self.principal_elements = tuple(principal_elements)
        self.not_principal_elements = tuple(not_principal_elements)
        self._pkeys: dict[str, int] = {}
        self._pclass_ids: dict[tuple, int] = {}
        self._ids: dict[tuple, int] = {}
        self._akeys: dict[str, int] = {}
        self._rkeys: dict[str, int] = {}

    # -- actions ------------------------------------------------------------------------------------------------

    def action_classes(self, actions: Sequence[str]) -> Classes:
        from ..reference.matching import action_matches

        todo = [a for a in dict.fromkeys(actions) if a not in self._akeys]
        if todo:
            hits: dict[str, list[int]] = {a: [] for a in todo}
            for j, pat in enumerate(self.action_values):
                for a in todo:
                    if action_matches(pat, a):
                        hits[a].append(j)
            for a in todo:
                self._akeys[a] = self._ids.setdefault(("a", tuple(hits[a])), len(self._ids))
        return _split([self._akeys[a] for a in actions])

    # -- resources ----------------------------------------------------------------------------------------------

    def resource_classes(self, resources: Sequence[str]) -> Classes:
        from ..reference.matching import resource_matches

        todo = [r for r in dict.fromkeys(resources) if r not in self._rkeys]
        if todo:
            lowered = sorted((r.lower(), r) for r in todo)
            keys_lower = [k for k, _ in lowered]
            hits: dict[str, list] = {r: [] for r in todo}
            for j, value in enumerate(self.resource_values):
                has_var = "${" in value
                probe = _VARIABLE.sub("*", value) if has_var else value
                cut = min((i for i in (probe.find("*"), probe.find("?")) if i >= 0), default=len(probe))
                prefix = probe[:cut].lower()
                if prefix:
                    lo = bisect.bisect_left(keys_lower, prefix)
                    hi = bisect.bisect_right(keys_lower, prefix + "\U0010ffff")
                    cands = [lowered[i][1] for i in range(lo, hi)]
                else:
                    cands = [r for _, r in lowered]
                for r in cands:
                    if resource_matches(probe, r, {}, variables_enabled=False):
                        hits[r].append((j, r) if has_var else j)
            for r in todo:
                facts = []
                for v in self.views:
                    rec = v.policy_set.resources.get(r)
                    facts.append((tuple(sorted(rec.tags)) if rec is not None else (),
                                  _pkey(rec.policy) if rec is not None else None,
                                  v.extra_tags.get(r, ())))
                owner = None if r == "*" else r.split(":", 5)[4] or None
                self._rkeys[r] = self._ids.setdefault(("r", r == "*", owner, tuple(facts), tuple(hits[r])),
                                                      len(self._ids))
        return _split([self._rkeys[r] for r in resources])

    # -- principals ---------------------------------------------------------------------------------------------

    def principal_key(self, principal: str) -> int:
        """The class key of ``principal``: a small integer, equal for principals of one class (cached)."""
        key = self._pkeys.get(principal)
        if key is not None:
            return key
        from ..reference.principals import match_not_principal, match_principal, parse_caller

        caller = parse_caller(principal)
        facts = []
        boundary_any = False
        for v in self.views:
            ps = v.policy_set
            rec = ps.principal_record(principal, v.roles)
            if rec is None:
                facts.append(None)
                continue
            groups = tuple((g, tuple(_pkey(p) for p in ps.groups.get(g, ()))) for g in rec.groups)
            facts.append((tuple(_pkey(p) for p in rec.policies), groups, _pkey(rec.permissions_boundary),
                          _pkey(rec.session_policy), tuple(sorted(rec.tags))))
            boundary_any = boundary_any or rec.permissions_boundary is not None
        matches = []
        for e in self.principal_elements:
            m = match_principal(e, caller)
            matches.append(None if m is None else (m.label, m.named))
        for e in self.not_principal_elements:
            for effect in ("Allow", "Deny"):
                for pb in ((False, True) if boundary_any else (False,)):
                    m = match_not_principal(e, caller, effect=effect, has_permissions_boundary=pb)
                    matches.append(None if m is None else (m.label, m.named))
        full = (caller.kind, caller.partition, caller.account, tuple(facts), tuple(matches))
        key = self._pclass_ids.setdefault(full, len(self._pclass_ids))
        self._pkeys[principal] = key
        return key

    @property
    def principal_keys(self) -> dict[str, int]:
        """The principal class keys computed so far (principal -> key); read-only use."""
        return self._pkeys

    def action_key(self, action: str) -> int:
        """The class key of ``action`` (a small integer)."""
        if action not in self._akeys:
            self.action_classes([action])
        return self._akeys[action]

    def resource_key(self, resource: str) -> int:
        """The class key of ``resource`` (a small integer)."""
        if resource not in self._rkeys:
            self.resource_classes([resource])
        return self._rkeys[resource]

    def principal_classes(self, principals: Sequence[str]) -> Classes:
        return _split([self.principal_key(p) for p in principals])


def context_key(ctx: dict) -> str:
    """A canonical text of a context (case-insensitive keys), for grouping."""
    import json

    return json.dumps(sorted((k.lower(), v) for k, v in Context(ctx).to_dict().items()), default=list)
