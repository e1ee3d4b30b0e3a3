"""Type stubs and documentation of lexauthz._engine, the compiled engine's private core.

Use :mod:`lexauthz.engine` (``PolicySet``, ``Engine``, ``compile_applicable``); this module is private.
"""
from typing import Any

import numpy as np
import numpy.typing as npt

from lexauthz.compile.plan import Layout, Plan
from lexauthz.request import Context

class Core:
    """The flattened index of a :class:`~lexauthz.compile.plan.Plan`, and the kernels.

    ``use_index=False`` builds the brute-force twin: no cached rows, no tag index, every condition evaluated.
    """

    plan: Plan
    n_stmts: int
    nw: int
    use_index: bool
    index_bytes: int
    def __init__(self, plan: Plan, use_index: bool = True) -> None: ...
    def action_row(self, action: str) -> npt.NDArray[np.uint64]:
        """Statements whose Action/NotAction covers ``action`` (case-insensitive), as a bitset row."""
    def resource_row(self, resource: str) -> npt.NDArray[np.uint64]:
        """Statements whose static Resource/NotResource covers ``resource``, plus every statement whose Resource
        holds policy variables (decided per request)."""
    def tag_row(self, ctx: Context) -> npt.NDArray[np.uint64]:
        """Statements that no indexed tag condition rules out for ``ctx``."""
    def bundle(self, principal: str, layout: Layout) -> Any:
        """What applies to ``principal`` under ``layout`` (cached)."""
    def encode(
        self,
        resolver: Any,
        principals: list[str],
        actions: list[str],
        resources: list[str],
        contexts: list[Any] | None,
        accounts: list[str | None] | None,
        start: int,
        stop: int,
        want_rows: bool = False,
    ) -> tuple[tuple[Any, ...], list[Any]]:
        """Encode rows ``start:stop`` of checked columns into the arguments of :meth:`run`; each distinct value is
        encoded once.  Raises RequestError for a malformed context or resource account."""
    def run(
        self,
        bundles: list[Any],
        b_idx: npt.NDArray[np.uint32],
        a_rows: npt.NDArray[np.uint64],
        a_idx: npt.NDArray[np.uint32],
        r_rows: npt.NDArray[np.uint64],
        r_idx: npt.NDArray[np.uint32],
        t_rows: npt.NDArray[np.uint64],
        t_idx: npt.NDArray[np.uint32],
        keys: list[tuple[Any, str]],
        k_idx: npt.NDArray[np.uint32],
        same: npt.NDArray[np.uint8],
        out: npt.NDArray[np.uint8],
        matched_out: npt.NDArray[np.uint64] | None = None,
    ) -> None:
        """Decide encoded requests into ``out`` (Decision codes); the intersection and the decision run without
        the GIL.  Raises ValueError for mismatched lengths or out-of-range indices, before the loop."""
    def missing_keys(self, b: Any, action_row: npt.NDArray[np.uint64], resource: str, env: Any) -> set[str]:
        """Context keys the applicable statements referenced and the request lacks (reference semantics)."""

def make_env(ctx: Context) -> Any:
    """The per-request condition environment (context plus parse caches)."""

def bits_to_ids(row: npt.NDArray[np.uint64]) -> list[int]:
    """The set bits of a bitset row."""
