"""The one entry point of the static work: a policy set (or one fixed bundle of policies) in, a :class:`Compiled` out.

:func:`build` gives every policy of a policy set its slots (:class:`~lexauthz.compile.directory.Directory`), builds
the plan and its flattened index, and constructs the core over them; :func:`build_applicable` does the same for one
:class:`~lexauthz.policy.applicable.ApplicablePolicies`, as a corpus case gives it.  The result is everything an
:class:`~lexauthz.engine.Engine` wraps; nothing here imports the engine facade or the account model (a policy set is
read through its attributes only).
"""
from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass
from typing import Any

from ..errors import CompileError
from ..policy.applicable import ApplicablePolicies
from .directory import Directory
from .plan import Layout, PlanBuilder
from .state import index_state

__all__ = ["Compiled", "FixedResolver", "build", "build_applicable", "core_module", "collector_paused"]

_CORE = None


def core_module():
    """The compiled core (:mod:`lexauthz._engine`); :class:`CompileError` when the extension is not built."""
    global _CORE
    if _CORE is None:
        try:
            from .. import _engine
        except ImportError as exc:  # pragma: no cover - only without a compiler
            raise CompileError(f"the compiled engine is not built: {exc}") from None
        _CORE = _engine
    return _CORE


@contextlib.contextmanager
def collector_paused():
    """Pause the cyclic garbage collector for the duration (restoring its previous state).

    NOTE: compiling and loading allocate many long-lived objects and no garbage cycles; inside a large heap, full
    collections tripled the time of both.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class FixedResolver:
    """One bundle of policies for every request (:func:`build_applicable`); the resolver interface that
    :class:`~lexauthz.compile.directory.Directory` also has (``principal``, ``resource``)."""

    def __init__(self, layout: Layout):
        self._layout = layout

    def principal(self, principal: str):
        lay = self._layout
        return (lay.identity, lay.permissions_boundary, lay.session, lay.scps), ()

    def resource(self, resource: str):
        return self._layout.resource, ()


@dataclass(frozen=True)
class Compiled:
    """What compiling leaves: the core, the resolver it asks which slots apply, what to save, and the time taken.

    ``source`` is ``("policy_set", Directory)`` or ``("applicable", Layout)``: the part a saved engine stores
    beside the index.
    """

    core: Any
    resolver: Any
    source: tuple
    seconds: float


def core_over(builder: PlanBuilder, use_index: bool):
    """The core over the plan ``builder`` holds, with its flattened index."""
    plan = builder.build()
    return core_module().Core(plan, index_state(plan, use_index))


def build(policy_set, *, use_index: bool = True) -> Compiled:
    """Compile a :class:`~lexauthz.account.PolicySet` (read as a snapshot, so later edits do not reach it)."""
    with collector_paused():
        t0 = time.perf_counter()
        builder = PlanBuilder()
        directory = Directory.build(policy_set.snapshot(), builder)
        core = core_over(builder, use_index)
        return Compiled(core, directory, ("policy_set", directory), time.perf_counter() - t0)


def build_applicable(applicable: ApplicablePolicies, *, use_index: bool = True) -> Compiled:
    """Compile one fixed bundle of policies: every request is evaluated against ``applicable``."""
    if not isinstance(applicable, ApplicablePolicies):
        raise TypeError("`applicable` must be an ApplicablePolicies")
    t0 = time.perf_counter()
    b = PlanBuilder()
    identity = tuple(b.slot("identity", p, None, key=("identity", i)) for i, p in enumerate(applicable.identity))
    rp = None if applicable.resource is None else b.slot("resource", applicable.resource)
    pb = None if applicable.permissions_boundary is None else b.slot("permissions_boundary",
                                                                     applicable.permissions_boundary)
    sp = None if applicable.session is None else b.slot("session", applicable.session)
    scps = None
    if applicable.scps is not None:
        scps = tuple(tuple(b.slot("scp", p, lv, key=("scp", lv, i)) for i, p in enumerate(level))
                     for lv, level in enumerate(applicable.scps))
    layout = Layout(identity, rp, pb, sp, scps)
    core = core_over(b, use_index)
    return Compiled(core, FixedResolver(layout), ("applicable", layout), time.perf_counter() - t0)
