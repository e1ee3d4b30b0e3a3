"""Drawing hypothesis strategies from fuzzer bytes: the differential strategies as structure-aware generators.

Hypothesis reads a test's choices from a byte buffer through ``fuzz_one_input``, its documented entry point for
external fuzzers; a changed buffer gives a changed but well-formed policy set, so byte mutation of the buffer is
mutation of the structure.
"""
from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings

__all__ = ["Drawer"]


class Drawer:
    """``Drawer(strategy)(buffer)``: the value ``strategy`` draws from ``buffer``, or ``None`` when the buffer is too
    short or otherwise cannot be drawn from."""

    def __init__(self, strategy):
        self._box: list = []

        @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), max_examples=1)
        @given(strategy)
        def _draw(value):
            self._box.append(value)

        self._draw = _draw

    def __call__(self, buffer: bytes):
        self._box.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._draw.hypothesis.fuzz_one_input(bytes(buffer))
        return self._box[0] if self._box else None
