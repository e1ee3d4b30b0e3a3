"""Deeply immutable copies of JSON-like data (API parameters, tags, policy documents).

Objects built by :mod:`lexauthz.lex` are immutable (house rule: immutable objects from static work).  Parameters and
policies arrive as ``dict``/``list`` trees; :func:`freeze` turns them into :class:`FrozenMap` and ``tuple`` trees
that can be shared and hashed, and :func:`thaw` gives a fresh mutable copy back.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

__all__ = ["FrozenMap", "freeze", "thaw"]


class FrozenMap(Mapping):
    """An immutable, hashable mapping that keeps insertion order.

    >>> m = FrozenMap({"b": 1, "a": 2})
    >>> list(m), m["a"], hash(m) == hash(FrozenMap({"a": 2, "b": 1}))
    (['b', 'a'], 2, True)
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping | None = None):
        self._data = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def freeze(value: Any) -> Any:
    """Return a deeply immutable copy: mappings become :class:`FrozenMap`, lists and tuples become tuples.

    Strings, numbers, booleans, ``None`` and ``bytes`` are immutable already; ``bytearray`` becomes ``bytes``.
    """
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def thaw(value: Any) -> Any:
    """Return a fresh mutable copy of a frozen tree: :class:`FrozenMap` to ``dict``, tuples to lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
