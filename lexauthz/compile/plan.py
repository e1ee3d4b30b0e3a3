"""The compiled plan: every statement of every policy slot, given a dense id, with the index over them.

A *slot* is one policy in one role (identity policy ``P``, resource policy of resource ``R``, boundary ``B``,
session policy, SCP ``S`` at level ``L``).  Statements of all slots share one id space:

# INVARIANT(dense): stmt ids are 0..n_stmts-1, slot by slot in slot order, each slot in document order.

A :class:`Layout` says which slots apply to a request (what :class:`~lexauthz.policy.applicable.ApplicablePolicies`
says in the reference): the compiled engine evaluates the statements of those slots only.

The index (STYLE.md section 4) is built here with pyroaring and flattened by :mod:`lexauthz._engine`:

- per lower-cased ``Action`` pattern: the statements listing it in ``Action`` (``pos``) or ``NotAction`` (``neg``);
- per static ``Resource`` pattern: likewise for ``Resource`` / ``NotResource``;
- per tag condition (``aws:ResourceTag/k``, ``aws:PrincipalTag/k``, ``aws:RequestTag/k`` with ``StringEquals`` or
  ``StringLike`` on literal values): the statements each value admits;
- per layout (principal): the statements that apply to it (:mod:`lexauthz._engine`, ``_Bundle``).

Everything the index cannot decide (other conditions, ``Resource`` values with policy variables) is a *residual*
check, compiled to condition code in :mod:`lexauthz._engine`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyroaring import BitMap

from ..policy.applicable import NamedPolicy
from ._records import StatementInfo  # what the engine keeps of one statement (not tracked by the cyclic GC)

__all__ = ["TYPE_CODES", "Slot", "Layout", "StatementInfo", "TagIndex", "Plan", "PlanBuilder"]

#: Policy type name -> code stored per statement (the kernel's `stmt_type`).
TYPE_CODES = {"identity": 0, "resource": 1, "permissions_boundary": 2, "session": 3, "scp": 4}
TYPE_NAMES = {v: k for k, v in TYPE_CODES.items()}

#: Operators whose values may hold policy variables (IAM User Guide, "Condition operators": String*, Arn*, Bool).
VARIABLE_BASES = frozenset((
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool"))

#: Condition key prefixes whose StringEquals / StringLike clauses the tag index decides.
TAG_KEY_PREFIXES = ("aws:resourcetag/", "aws:principaltag/", "aws:requesttag/")

#: The most SCP levels a layout may have (levels are a 64-bit mask in the kernel).
MAX_SCP_LEVELS = 64

# `${` ... `}` with no brace inside: a candidate variable reference (variables.py decides what it means).
_VAR_REF = re.compile(r"\$\{[^{}]*\}")


def has_variable(text: str) -> bool:
    """Whether ``text`` holds something that policy-variable substitution could change (``${...}``)."""
    return "${" in text and _VAR_REF.search(text) is not None


@dataclass(frozen=True, slots=True)
class Slot:
    """One policy in one role; its statements are ids ``first .. first + count - 1``."""

    id: int
    policy_type: str
    policy: NamedPolicy
    level: int | None
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Which slots apply to a request, by policy type; mirrors :class:`ApplicablePolicies`.

    ``scps`` is ``None`` (no organization) or one tuple of slot ids per level, root first.
    """

    identity: tuple[int, ...] = ()
    resource: int | None = None
    permissions_boundary: int | None = None
    session: int | None = None
    scps: tuple[tuple[int, ...], ...] | None = None

    def slot_ids(self):
        """Slot ids in evaluation order (identity, resource, boundary, session, SCP levels)."""
        yield from self.identity
        if self.resource is not None:
            yield self.resource
        if self.permissions_boundary is not None:
            yield self.permissions_boundary
        if self.session is not None:
            yield self.session
        for level in self.scps or ():
            yield from level


@dataclass
class TagIndex:
    """Tag-condition index for one lower-cased key: ``constrained`` statements, and per value the ones admitted."""

    constrained: BitMap = field(default_factory=BitMap)
    eq: dict = field(default_factory=dict)  # value -> BitMap
    like: dict = field(default_factory=dict)  # pattern -> BitMap


@dataclass
class Plan:
    """Everything :class:`lexauthz._engine.Core` needs, as plain Python data and pyroaring bitmaps."""

    slots: list[Slot]
    statements: list[StatementInfo]
    action_pos: dict  # lower-cased pattern -> BitMap
    action_neg: dict
    not_action_all: BitMap
    resource_pos: dict  # pattern -> BitMap
    resource_neg: dict
    not_resource_all: BitMap
    dynamic_resource: BitMap
    tag_index: dict  # lower-cased key -> TagIndex

    @property
    def n_stmts(self) -> int:
        return len(self.statements)

    def slot_errors(self, slot_id: int) -> tuple:
        """The ERROR findings of the policy in slot ``slot_id`` (a layout holding any is refused)."""
        return self.slots[slot_id].policy.errors


def statement_infos(slot_id: int, first: int, policy: NamedPolicy) -> list[StatementInfo]:
    """The :class:`StatementInfo` of each statement ``policy`` compiles to in slot ``slot_id``, ids from ``first``.

    A policy with ERROR findings compiles to no statements: a layout holding it is refused as a whole.
    """
    doc = policy.document
    stmts = () if (doc is None or policy.errors) else doc.statements
    enabled = bool(doc is not None and doc.variables_enabled)
    out = []
    for st in stmts:
        dyn = enabled and any(has_variable(v) for v in (st.resource or st.not_resource or ()))
        idx = []
        seen_keys: dict = {}
        for i, c in enumerate(st.condition):
            if _indexable(c, enabled):
                seen_keys.setdefault(c.key_lower, []).append(i)
        for positions in seen_keys.values():
            if len(positions) == 1:  # two clauses on one key: both stay residual
                idx.extend(positions)
        out.append(StatementInfo(first + len(out), slot_id, st, enabled, dyn, tuple(sorted(idx))))
    return out


def _indexable(clause, variables_enabled: bool) -> bool:
    """Whether the tag index can decide ``clause`` exactly.

    # NOTE: only the plain positive forms are indexed.  A missing key or a list value makes them false, a string
    # value is compared exactly (StringEquals) or by wildcard (StringLike).  IfExists, set qualifiers, negated
    # operators and values with policy variables change that meaning, so they stay residual.
    """
    if clause.base not in ("StringEquals", "StringLike") or clause.qualifier is not None or clause.if_exists:
        return False
    if clause.operator != clause.base:
        return False
    if not clause.key_lower.startswith(TAG_KEY_PREFIXES):
        return False
    if variables_enabled and any(has_variable(v) for v in clause.values):
        return False
    return True


class PlanBuilder:
    """Collects slots, assigns statement ids and builds the pyroaring index."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self._keys: dict = {}
        self._statements: list[StatementInfo] = []

    def slot(self, policy_type: str, policy: NamedPolicy, level: int | None = None, *, key=None) -> int:
        """The slot id of ``policy`` in role ``policy_type`` (and SCP ``level``), adding it when new.

        ``key`` identifies the slot (default: type, level and policy); pass distinct keys to compile one policy
        into two slots (a policy listed twice is evaluated twice, as the reference does).  A policy with ERROR
        findings gets a slot with no statements: a layout holding it is refused as a whole.
        """
        if policy_type not in TYPE_CODES:
            raise ValueError(f"unknown policy type `{policy_type}`")
        key = (policy_type, level, policy) if key is None else (policy_type, level, key)
        sid = self._keys.get(key)
        if sid is not None:
            return sid
        sid = len(self.slots)
        first = len(self._statements)
        self._statements.extend(statement_infos(sid, first, policy))
        self.slots.append(Slot(sid, policy_type, policy, level, first, len(self._statements) - first))
        self._keys[key] = sid
        return sid

    def build(self) -> Plan:
        """Build the index over every statement added so far."""
        action_pos: dict = {}
        action_neg: dict = {}
        not_action_all = BitMap()
        resource_pos: dict = {}
        resource_neg: dict = {}
        not_resource_all = BitMap()
        dynamic = BitMap()
        tags: dict = {}
        for info in self._statements:
            s, st = info.id, info.statement
            if st.action is not None:
                for p in st.action:
                    action_pos.setdefault(p.lower(), BitMap()).add(s)
            elif st.not_action is not None:
                not_action_all.add(s)
                for p in st.not_action:
                    action_neg.setdefault(p.lower(), BitMap()).add(s)
            if info.dynamic_resource:
                dynamic.add(s)
            elif st.resource is not None:
                for p in st.resource:
                    resource_pos.setdefault(p, BitMap()).add(s)
            elif st.not_resource is not None:
                not_resource_all.add(s)
                for p in st.not_resource:
                    resource_neg.setdefault(p, BitMap()).add(s)
            for i in info.indexed_clauses:
                c = st.condition[i]
                t = tags.setdefault(c.key_lower, TagIndex())
                t.constrained.add(s)
                target = t.eq if c.base == "StringEquals" else t.like
                for v in c.values:
                    target.setdefault(v, BitMap()).add(s)
        return Plan(
            slots=list(self.slots),
            statements=list(self._statements),
            action_pos=action_pos,
            action_neg=action_neg,
            not_action_all=not_action_all,
            resource_pos=resource_pos,
            resource_neg=resource_neg,
            not_resource_all=not_resource_all,
            dynamic_resource=dynamic,
            tag_index=tags,
        )
