"""Type stubs and documentation of lexauthz._engine, the compiled engine's private core.

Use :mod:`lexauthz.engine` (``PolicySet``, ``Engine``, ``compile_applicable``); this module is private.
"""
from typing import Any

import numpy as np
import numpy.typing as npt

from lexauthz.compile.plan import Layout, Plan
from lexauthz.compile.serialize import SavedPlan
from lexauthz.compile.state import IndexState
from lexauthz.request import Context

class Core:
    """The flattened index (an :class:`~lexauthz.compile.state.IndexState`) over a plan's statements, and the
    kernels.

    A state with ``use_index=False`` builds the brute-force twin: no cached rows, no tag index, every condition
    evaluated.  ``plan`` is a :class:`~lexauthz.compile.plan.Plan` or, for a loaded engine, a
    :class:`~lexauthz.compile.serialize.SavedPlan` (statements read on first use).
    """

    plan: Plan | SavedPlan
    state: IndexState
    n_stmts: int
    nw: int
    use_index: bool
    index_bytes: int
    def __init__(self, plan: Plan | SavedPlan, state: IndexState) -> None: ...
    def action_row(self, action: str) -> npt.NDArray[np.uint64]:
        """Statements whose Action/NotAction covers ``action`` (case-insensitive), as a bitset row."""
    def resource_row(self, resource: str) -> npt.NDArray[np.uint64]:
        """Statements whose static Resource/NotResource covers ``resource``, plus every statement whose Resource
        holds policy variables (decided per request)."""
    def tag_row(self, ctx: Context) -> npt.NDArray[np.uint64]:
        """Statements that no indexed tag condition rules out for ``ctx``."""
    def bundle(self, principal: str, layout: Layout | LayoutParts | tuple[Any, Any, Any, Any, Any]) -> Any:
        """What applies to ``principal`` under ``layout`` (cached)."""
    def context_of(self, raw: Any, i: int = 0) -> Context:
        """``raw`` as a Context; a dict of strings is converted once per engine and content."""
    def context_entry(self, raw: Any, i: int = 0) -> tuple[Context, int]:
        """``(Context, serial)``: equal serials mean equal contexts; serials are never reused."""
    def env_of(self, ctx: Context, tags: Any) -> tuple[Any, npt.NDArray[np.uint64]]:
        """``(condition environment, tag row)`` of ``ctx`` enriched with ``tags``, once per engine."""
    def encode_ids(
        self,
        resolver: Any,
        principals: list[str],
        actions: list[str],
        resources: list[str],
        contexts: list[Any] | None,
        accounts: list[str | None] | None,
        start: int,
        stop: int,
    ) -> tuple[Any, ...]:
        """Encode rows ``start:stop`` of checked columns into the arguments of :meth:`prepare` (per-row ids into
        lists of bundles and rows from the engine's caches).  Raises RequestError for a malformed context or
        resource account."""
    def prepare(
        self,
        bundles: list[Any],
        b_idx: npt.NDArray[np.uint32],
        a_rows: list[npt.NDArray[np.uint64]],
        a_idx: npt.NDArray[np.uint32],
        r_rows: list[npt.NDArray[np.uint64]],
        r_idx: npt.NDArray[np.uint32],
        t_rows: list[npt.NDArray[np.uint64]],
        t_idx: npt.NDArray[np.uint32],
        envs: list[Any],
        resources: list[str],
        same: npt.NDArray[np.uint8],
        out: npt.NDArray[np.uint8] | None = None,
    ) -> Prepared:
        """A batch ready for :meth:`run_prepared`: the residual checks of rows that need them are done here; with
        ``out``, the batch is also decided into it.  Raises ValueError for mismatched lengths, out-of-range indices
        or rows of the wrong width."""
    def run_prepared(self, prepared: Prepared, out: npt.NDArray[np.uint8]) -> None:
        """Decide a prepared batch into ``out`` with the GIL released for the whole loop (the sparse kernel: a
        request costs one bit test per statement of its principal's bundle)."""
    damage: str | None
    def poison(self, reason: str) -> None:
        """Answer ERROR to every request from now on (a damaged part of the saved file was found)."""
    def bind(self, resolver: Any, check: Any) -> None:
        """Fix the resolver and row check of :meth:`is_allowed` and :meth:`explain_rows` (once)."""
    def is_allowed(self, principal_arn: Any, action: Any, resource_arn: Any = "*", context: Any = None) -> bool:
        """Whether the request is allowed (the bound resolver; see ``Engine.is_allowed``)."""
    def explain_rows(
        self, ps: list, as_: list, rs: list, contexts: Any, accounts: Any
    ) -> list[tuple[int, Any, list[int], set[str] | None, bool]]:
        """Per row ``(decision, bundle, matched statement ids, missing context keys or None, same account)``,
        for ``Engine.evaluate`` and ``Engine.explain_batch``."""
    def decide_one(self, resolver: Any, p: Any, a: Any, r: Any, raw: Any, check: Any) -> int:
        """The Decision code of one request, without arrays or a Response; ``check(p, a, r)`` raises for a
        malformed request and runs unless these strings were checked before."""

class CoreMethod:
    """A descriptor: ``engine.<name>`` is the core's compiled method ``engine._core.<name>``."""

    name: str
    unbound: Any
    def __init__(self, name: str, unbound: Any) -> None: ...

class Prepared:  # defined in lexauthz._kernel; the core returns it
    """A batch encoded for the nogil kernel (:meth:`Core.prepare`); read-only, shareable across threads."""

    n: int
    core: Core
    def __len__(self) -> int: ...

def make_env(ctx: Context) -> Any:
    """The per-request condition environment (context plus parse caches)."""

def bits_to_ids(row: npt.NDArray[np.uint64]) -> list[int]:
    """The set bits of a bitset row."""

class LayoutParts:
    """A layout the core was given as plain data, with the attributes of :class:`lexauthz.compile.plan.Layout`
    (``_Bundle.layout`` of a bundle the core made itself; the core never imports lexauthz.compile)."""

    identity: tuple[int, ...]
    resource: int | None
    permissions_boundary: int | None
    session: int | None
    scps: tuple[tuple[int, ...], ...] | None
    def __init__(self, identity: tuple[int, ...] = (), resource: int | None = None,
                 permissions_boundary: int | None = None, session: int | None = None,
                 scps: tuple[tuple[int, ...], ...] | None = None) -> None: ...
    def slot_ids(self) -> Any: ...
