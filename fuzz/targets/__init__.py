"""Fuzz targets: one per public surface, each with seeds, a generator, a structure-aware mutator and an oracle run.

Every input is bytes (what a corpus file holds and what atheris hands over); each target says how it reads them.
"""
from __future__ import annotations

import hashlib
import importlib
import random

__all__ = ["Target", "TARGETS", "get_target"]

#: Target name -> module under fuzz.targets.
TARGETS = {
    "policy": "policy",
    "policy_set": "policy_set",
    "request": "request",
    "batch": "batch",
    "saved": "saved",
    "account": "account",
}


class Target:
    """The interface every target implements.

    - ``seeds()``: built-in seed inputs as ``(name, bytes)`` (``fuzz/corpus/<target>/`` holds them written out,
      plus saved reproducers);
    - ``generate(rng)``: a fresh input;
    - ``mutate(data, rng, others)``: a structure-aware variant of ``data`` (``others``: inputs to cross over with);
    - ``run(data)``: the oracle; raises :class:`fuzz.oracle.FindingError` at the first finding and otherwise returns a
      hashable signature of what happened (the mutation loop keeps inputs with new signatures);
    - ``minimize(data, still_fails)``: a smaller input that ``still_fails`` (default: JSON tree reduction).
    """

    name = ""
    ext = ".json"

    def seeds(self) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    def generate(self, rng: random.Random) -> bytes:
        raise NotImplementedError

    def mutate(self, data: bytes, rng: random.Random, others=()) -> bytes:
        raise NotImplementedError

    def run(self, data: bytes):
        raise NotImplementedError

    def minimize(self, data: bytes, still_fails) -> bytes:
        from ..minimize import minimize_json_bytes

        return minimize_json_bytes(data, still_fails)

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:16]


def get_target(name: str) -> Target:
    """The target called ``name`` (a key of :data:`TARGETS`)."""
    if name not in TARGETS:
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{TARGETS[name]}")
    return module.TARGET
