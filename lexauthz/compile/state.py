"""The flattened index a :class:`lexauthz._engine.Core` is built from: plain arrays and string lists.

:func:`index_state` flattens a :class:`~lexauthz.compile.plan.Plan` (pyroaring bitmaps) into an :class:`IndexState`;
the engine builds its core from that state, and a saved engine stores the same state, so a loaded engine is built by
exactly the code that built the original, without walking the policies again.

An id list is a ``uint32`` array of statement ids; a *CSR* is ``(offsets, ids)``: row ``i`` is
``ids[offsets[i]:offsets[i + 1]]`` (``offsets`` is ``uint64``, starts at 0, never decreases, ends at ``len(ids)``).

# INVARIANT(checked): :meth:`IndexState.check` holds for every state a core is built from (the kernel indexes bit rows
# with these ids without bounds checks); states from :func:`index_state` satisfy it by construction, loaded states
# are checked before use.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import ids_below, offsets_partition
from .plan import TYPE_CODES, Plan

__all__ = ["IndexState", "index_state", "EFFECT_ALLOW", "EFFECT_DENY", "ARRAY_FIELDS", "CSR_FIELDS"]

#: Effect codes per statement (the kernel's ``E_ALLOW`` / ``E_DENY``).
EFFECT_ALLOW, EFFECT_DENY = 1, 2

#: Array fields (name -> dtype), in the order they are saved.
ARRAY_FIELDS = {
    "stmt_type": np.uint8, "stmt_effect": np.uint8, "stmt_level": np.int16, "needs": np.uint32,
    "not_action_all": np.uint32, "not_resource_all": np.uint32, "dynamic": np.uint32,
    "tag_eq_key": np.uint32, "tag_like_key": np.uint32,
}
#: CSR fields, each stored as ``<name>.offsets`` (uint64) and ``<name>.ids`` (uint32).
CSR_FIELDS = ("action_pos", "action_neg", "resource_pos", "resource_neg", "tag_constrained", "tag_eq", "tag_like")


@dataclass(frozen=True, eq=False)
class IndexState:
    """The index over ``n_stmts`` statements, as arrays (see the module docstring for the encodings)."""

    n_stmts: int
    use_index: bool
    stmt_type: np.ndarray       # uint8 per statement: TYPE_CODES
    stmt_effect: np.ndarray     # uint8 per statement: EFFECT_ALLOW / EFFECT_DENY
    stmt_level: np.ndarray      # int16 per statement: SCP level, -1 for other types
    needs: np.ndarray           # statements needing a residual check (conditions the index leaves, dynamic Resource)
    action_patterns: tuple      # lower-cased Action/NotAction patterns, sorted
    action_pos: tuple           # CSR per action pattern: statements listing it in Action
    action_neg: tuple           # CSR per action pattern: statements listing it in NotAction
    not_action_all: np.ndarray  # statements with NotAction
    resource_patterns: tuple    # static Resource/NotResource patterns, sorted
    resource_pos: tuple
    resource_neg: tuple
    not_resource_all: np.ndarray
    dynamic: np.ndarray         # statements whose Resource/NotResource has policy variables
    tag_keys: tuple             # lower-cased tag condition keys, sorted (empty without the index)
    tag_constrained: tuple      # CSR per tag key: statements with an indexed clause on it
    tag_eq_key: np.ndarray      # per StringEquals entry: its tag key (index into tag_keys)
    tag_eq_values: tuple        # per StringEquals entry: the value
    tag_eq: tuple               # CSR per StringEquals entry: statements the value admits
    tag_like_key: np.ndarray
    tag_like_patterns: tuple
    tag_like: tuple

    def check(self) -> None:
        """Raise ``ValueError`` unless every array has its dtype and shape and every id is a statement id."""
        n = self.n_stmts
        if not isinstance(n, int) or n < 0 or n >= 1 << 32:
            raise ValueError(f"statement count `{n}` is out of range")
        for name, dtype in ARRAY_FIELDS.items():
            a = getattr(self, name)
            if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous):
                raise ValueError(f"`{name}` must be a contiguous 1-d {np.dtype(dtype).name} array")
        for name in ("stmt_type", "stmt_effect", "stmt_level"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"`{name}` has {getattr(self, name).shape[0]} entries, expected {n}")
        if n and int(self.stmt_type.max()) >= len(TYPE_CODES):
            raise ValueError("`stmt_type` holds an unknown policy type code")
        if n and not ((self.stmt_effect == EFFECT_ALLOW) | (self.stmt_effect == EFFECT_DENY)).all():
            raise ValueError("`stmt_effect` holds an unknown effect code")
        if n and (int(self.stmt_level.min()) < -1 or int(self.stmt_level.max()) >= 64):
            raise ValueError("`stmt_level` is out of range")
        if n and ((self.stmt_level >= 0) != (self.stmt_type == TYPE_CODES["scp"])).any():
            raise ValueError("`stmt_level` is set exactly for SCP statements")
        for name in ("needs", "not_action_all", "not_resource_all", "dynamic"):
            _check_ids(name, getattr(self, name), n)
        rows = {"action_pos": len(self.action_patterns), "action_neg": len(self.action_patterns),
                "resource_pos": len(self.resource_patterns), "resource_neg": len(self.resource_patterns),
                "tag_constrained": len(self.tag_keys), "tag_eq": len(self.tag_eq_values),
                "tag_like": len(self.tag_like_patterns)}
        for name, m in rows.items():
            _check_csr(name, getattr(self, name), m, n)
        for name, seq in (("action_patterns", self.action_patterns), ("resource_patterns", self.resource_patterns),
                          ("tag_keys", self.tag_keys), ("tag_eq_values", self.tag_eq_values),
                          ("tag_like_patterns", self.tag_like_patterns)):
            if not set(map(type, seq)) <= {str}:
                raise ValueError(f"`{name}` must hold strings only")
        for name, keys, values in (("tag_eq_key", self.tag_eq_key, self.tag_eq_values),
                                   ("tag_like_key", self.tag_like_key, self.tag_like_patterns)):
            if keys.shape[0] != len(values):
                raise ValueError(f"`{name}` has {keys.shape[0]} entries, expected {len(values)}")
            if keys.shape[0] and int(keys.max()) >= len(self.tag_keys):
                raise ValueError(f"`{name}` names a tag key that does not exist")
        if not self.use_index and self.tag_keys:
            raise ValueError("a state without the index has no tag index")


def _check_ids(name: str, ids, n: int) -> None:
    if not ids_below(ids, n):
        raise ValueError(f"`{name}` holds a statement id out of range")


def _check_csr(name: str, csr, rows: int, n: int) -> None:
    if not (isinstance(csr, tuple) and len(csr) == 2):
        raise ValueError(f"`{name}` must be an (offsets, ids) pair")
    off, ids = csr
    for part, dtype in (("offsets", np.uint64), ("ids", np.uint32)):
        a = off if part == "offsets" else ids
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous):
            raise ValueError(f"`{name}.{part}` must be a contiguous 1-d {np.dtype(dtype).name} array")
    if off.shape[0] != rows + 1:
        raise ValueError(f"`{name}.offsets` has {off.shape[0]} entries, expected {rows + 1}")
    if not offsets_partition(off, ids.shape[0]):
        raise ValueError(f"`{name}.offsets` do not partition its ids")
    _check_ids(name, ids, n)


def _as_ids(bitmap) -> np.ndarray:
    return np.fromiter(bitmap, dtype=np.uint32, count=len(bitmap))


def _csr(bitmaps) -> tuple:
    bitmaps = list(bitmaps)
    off = np.zeros(len(bitmaps) + 1, dtype=np.uint64)
    if bitmaps:
        np.cumsum([len(b) for b in bitmaps], out=off[1:])
    ids = np.empty(int(off[-1]), dtype=np.uint32)
    for i, b in enumerate(bitmaps):
        ids[int(off[i]):int(off[i + 1])] = _as_ids(b)
    return off, ids


def index_state(plan: Plan, use_index: bool = True) -> IndexState:
    """Flatten ``plan`` into arrays (``use_index=False``: no tag index, every condition is a residual check)."""
    n = plan.n_stmts
    stmt_type = np.zeros(n, dtype=np.uint8)
    stmt_effect = np.full(n, EFFECT_DENY, dtype=np.uint8)
    stmt_level = np.full(n, -1, dtype=np.int16)
    for slot in plan.slots:
        end = slot.first + slot.count
        stmt_type[slot.first:end] = TYPE_CODES[slot.policy_type]
        if slot.level is not None:
            if not 0 <= slot.level < 64:
                raise ValueError("more than 64 SCP levels")
            stmt_level[slot.first:end] = slot.level
    needs = []
    for info in plan.statements:
        st = info.statement
        # NOTE: any Effect other than `Allow` counts as a deny, as in the reference (such a policy has an ERROR
        # finding and is refused before evaluation anyway).
        if st.effect == "Allow":
            stmt_effect[info.id] = EFFECT_ALLOW
        residual = len(st.condition) > (len(info.indexed_clauses) if use_index else 0)
        if info.dynamic_resource or residual:
            needs.append(info.id)
    actions = sorted(plan.action_pos.keys() | plan.action_neg.keys())
    resources = sorted(plan.resource_pos.keys() | plan.resource_neg.keys())
    empty = type(plan.not_action_all)()
    tag_keys = sorted(plan.tag_index) if use_index else []
    eq_entries = [(k, v, b) for k, key in enumerate(tag_keys) for v, b in sorted(plan.tag_index[key].eq.items())]
    like_entries = [(k, p, b) for k, key in enumerate(tag_keys) for p, b in sorted(plan.tag_index[key].like.items())]
    return IndexState(
        n_stmts=n, use_index=bool(use_index),
        stmt_type=stmt_type, stmt_effect=stmt_effect, stmt_level=stmt_level,
        needs=np.asarray(needs, dtype=np.uint32),
        action_patterns=tuple(actions),
        action_pos=_csr(plan.action_pos.get(p, empty) for p in actions),
        action_neg=_csr(plan.action_neg.get(p, empty) for p in actions),
        not_action_all=_as_ids(plan.not_action_all),
        resource_patterns=tuple(resources),
        resource_pos=_csr(plan.resource_pos.get(p, empty) for p in resources),
        resource_neg=_csr(plan.resource_neg.get(p, empty) for p in resources),
        not_resource_all=_as_ids(plan.not_resource_all),
        dynamic=_as_ids(plan.dynamic_resource),
        tag_keys=tuple(tag_keys),
        tag_constrained=_csr(plan.tag_index[k].constrained for k in tag_keys),
        tag_eq_key=np.asarray([e[0] for e in eq_entries], dtype=np.uint32),
        tag_eq_values=tuple(e[1] for e in eq_entries),
        tag_eq=_csr(e[2] for e in eq_entries),
        tag_like_key=np.asarray([e[0] for e in like_entries], dtype=np.uint32),
        tag_like_patterns=tuple(e[1] for e in like_entries),
        tag_like=_csr(e[2] for e in like_entries),
    )
