"""A loaded engine's index, checked against its own policy text: no answer may come from arrays the text does not give.

A saved file's checksum finds corruption, not edits: a file whose Deny statement was turned into an Allow and then
re-checksummed passes every structural check.  :func:`check_saved_index` closes that hole: it compiles the file's
policies again, slot by slot in the file's order, and requires the result to equal the saved index array for array
(dtype, length and every element) and string for string.  An engine it passes answers exactly what its policy text
says; the cost is about one compile of the saved policies (the file still saves the directory build and the
deduplication of the original compile).  A file sealed with a key the deployment holds
(:func:`lexauthz.compile.serialize.seal`) is authenticated instead, and need not be compiled again.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import PlanFormatError
from .plan import PlanBuilder
from .state import IndexState, index_state

__all__ = ["check_saved_index"]


def check_saved_index(plan, state: IndexState) -> None:
    """Raise :class:`PlanFormatError` unless ``state`` is what compiling ``plan``'s policies gives.

    ``plan`` is a loaded :class:`~lexauthz.compile.serialize.SavedPlan` (its policies are decoded here, every one,
    which also checks their text); ``state`` the index arrays read from the same file.
    """
    builder = PlanBuilder()
    slots = plan.slots
    for sid in range(len(slots)):
        slot = slots[sid]
        got = builder.slot(slot.policy_type, slot.policy, slot.level, key=("saved", sid))
        if got != sid:  # pragma: no cover - fresh keys are numbered in order
            raise PlanFormatError(f"plan slot {sid} cannot be rebuilt in place")
    rebuilt = builder.build()
    for sid in range(len(slots)):
        if rebuilt.slots[sid].count != slots[sid].count:
            raise PlanFormatError(f"plan slot {sid} should hold {slots[sid].count} statements, its policy has "
                                  f"{rebuilt.slots[sid].count}")
    want = index_state(rebuilt, state.use_index)
    for f in dataclasses.fields(IndexState):
        if not _same(getattr(want, f.name), getattr(state, f.name)):
            raise PlanFormatError(f"plan index `{f.name}` disagrees with the policy text it was saved with")


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
