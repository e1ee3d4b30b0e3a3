"""Dense ids for strings seen at compile time."""
from __future__ import annotations

__all__ = ["Interner"]


class Interner:
    """Map strings to dense ``uint32`` ids in first-seen order.

    # INVARIANT(dense): ids are 0..len(self)-1 in the order strings were first added.

    >>> it = Interner()
    >>> it.add("lex:posttext"), it.add("lex:gettext"), it.add("lex:posttext")
    (0, 1, 0)
    >>> it.get("lex:nope") is None
    True
    """

    __slots__ = ("_ids", "_strings")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._strings: list[str] = []

    def add(self, s: str) -> int:
        """The id of ``s``, assigning the next one if it is new."""
        i = self._ids.get(s)
        if i is None:
            i = len(self._strings)
            self._ids[s] = i
            self._strings.append(s)
        return i

    def get(self, s: str) -> int | None:
        """The id of ``s``, or ``None`` when it was never added."""
        return self._ids.get(s)

    def __len__(self) -> int:
        return len(self._strings)

    def __iter__(self):
        return iter(self._strings)

    def __getitem__(self, i: int) -> str:
        return self._strings[i]
