"""IAM's wildcard patterns: ``*`` and ``?`` in ``Action``, ``Resource``, ``StringLike`` and ``ArnLike`` values.

This module is part of the reference evaluator, the readable specification of IAM semantics.  It is written
independently of the compiled engine's matcher (``csrc/lxa_glob.c``) so that the differential tests compare two
implementations, not one.  Speed is not a goal here, but no input may stall it: matching is the textbook two-pointer
walk with one backtrack point (the last ``*`` seen), O(len(pattern) x len(text)) at worst, never the polynomial or
exponential backtracking a regular expression can fall into on runs of ``*``.

The rule, from the IAM User Guide:

- ``*`` matches any run of characters, including none; ``?`` matches exactly one character.  Every other character
  matches itself.  "The values can include multi-character match wildcards (*) and single-character match wildcards
  (?) anywhere in the string."
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
- The whole text must match the whole pattern ("You must specify wildcards to achieve partial string matches").
- IAM has no escape character inside a pattern.  A literal ``*``, ``?`` or ``$`` is written with the policy
  variables ``${*}``, ``${?}`` and ``${$}`` (policy version ``2012-10-17`` only), which is why a pattern is modelled
  here as a sequence of :class:`Pattern` parts rather than as a plain string: a ``*`` that came from ``${*}`` is
  literal text, a ``*`` written directly is a wildcard.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-specialchars

Case-insensitive matching (``ignore_case=True``) compares both sides after :meth:`str.lower`.  IAM does not say how
it folds case beyond ASCII; lowering both sides is the definition this reference uses, and the engine must agree.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Union

__all__ = ["Wildcard", "ANY", "ONE", "Pattern", "wildcard_match"]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """One wildcard part of a :class:`Pattern`: ``*`` (:data:`ANY`) or ``?`` (:data:`ONE`)."""

    char: str

    def __repr__(self) -> str:
        return "ANY" if self.char == "*" else "ONE"


#: ``*``: any run of characters, including the empty run.
ANY = Wildcard("*")
#: ``?``: exactly one character.
ONE = Wildcard("?")

Part = Union[str, Wildcard]


@dataclass(frozen=True, slots=True)
class Pattern:
    """An IAM wildcard pattern whose parts are literal text or the wildcards :data:`ANY` and :data:`ONE`.

    A pattern keeps literal ``*`` and ``?`` (from ``${*}`` and ``${?}``) apart from wildcards.  Build one with
    :meth:`parse` (every ``*`` and ``?`` is a wildcard), :meth:`literal` (nothing is a wildcard), or
    :func:`lexauthz.reference.variables.substitute_pattern` (policy variables resolved, their values literal).

    Adjacent literal parts are merged, so two patterns that mean the same thing compare equal.

    >>> Pattern.parse("bot:Order*").matches("bot:OrderFlowers", ignore_case=False)
    True
    >>> Pattern.literal("bot:Order*").matches("bot:OrderFlowers", ignore_case=False)
    False
    """

    parts: tuple[Part, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", _normalise(self.parts))

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> "Pattern":
        """The pattern written as ``text``: every ``*`` and ``?`` is a wildcard, everything else literal."""
        parts: list[Part] = []
        for ch in text:
            parts.append(ANY if ch == "*" else ONE if ch == "?" else ch)
        return cls(tuple(parts))

    @classmethod
    def literal(cls, text: str) -> "Pattern":
        """A pattern that matches exactly ``text``, ``*`` and ``?`` included."""
        return cls((text,) if text else ())

    @classmethod
    def concat(cls, pieces: Iterable["Pattern"]) -> "Pattern":
        """The patterns in ``pieces`` one after the other."""
        parts: list[Part] = []
        for piece in pieces:
            parts.extend(piece.parts)
        return cls(tuple(parts))

    # -- views --------------------------------------------------------------------------------------------------

    @property
    def has_wildcards(self) -> bool:
        """Whether any part is a wildcard (a literal ``*`` from ``${*}`` does not count)."""
        return any(isinstance(p, Wildcard) for p in self.parts)

    @property
    def text(self) -> str:
        """The pattern as one string, wildcards written as ``*`` and ``?``.

        This is the value that operators *without* wildcards compare: for ``StringEquals``, a ``*`` is an
        ordinary character whether it was written directly or as ``${*}``.
        """
        return "".join(p.char if isinstance(p, Wildcard) else p for p in self.parts)

    def split(self, sep: str, maxsplit: int = -1) -> list["Pattern"]:
        """Split on the literal character ``sep`` (never on a wildcard), as :meth:`str.split` does.

        Used to cut an ARN pattern into its six colon-separated fields.

        >>> [p.text for p in Pattern.parse("arn:aws:lex:*:*:bot:Order*").split(":", 5)]
        ['arn', 'aws', 'lex', '*', '*', 'bot:Order*']
        """
        if len(sep) != 1:
            raise ValueError("separator must be one character")
        pieces: list[list[Part]] = [[]]
        splits = 0
        for part in self.parts:
            if isinstance(part, Wildcard):
                pieces[-1].append(part)
                continue
            for ch in part:
                if ch == sep and (maxsplit < 0 or splits < maxsplit):
                    pieces.append([])
                    splits += 1
                else:
                    pieces[-1].append(ch)
        return [Pattern(tuple(p)) for p in pieces]

    # -- matching -----------------------------------------------------------------------------------------------

    def matches(self, text: str, ignore_case: bool = False) -> bool:
        """Whether the whole of ``text`` matches this pattern.

        ``ignore_case`` compares both sides after :meth:`str.lower`.
        """
        return _walk(_tokens(self.parts, ignore_case), text.lower() if ignore_case else text)

    def __str__(self) -> str:
        return self.text


def wildcard_match(pattern: str, text: str, *, ignore_case: bool) -> bool:
    """Whether ``text`` matches the IAM wildcard ``pattern``, in which ``*`` and ``?`` are wildcards.

    ``*`` matches any run of characters (including none) and ``?`` exactly one; the match covers the whole text.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String

    >>> wildcard_match("lex:Get*", "lex:GetBots", ignore_case=False)
    True
    >>> wildcard_match("lex:Get?ot", "lex:GetBot", ignore_case=False)
    True
    >>> wildcard_match("LEX:get*", "lex:GetBots", ignore_case=True)
    True
    """
    return Pattern.parse(pattern).matches(text, ignore_case=ignore_case)


# -- helpers --------------------------------------------------------------------------------------------------


def _normalise(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """Merge adjacent literal parts and drop empty ones."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, Wildcard):
            out.append(part)
        elif not isinstance(part, str):
            raise TypeError(f"pattern part must be str or Wildcard, not {type(part).__name__}")
        elif part:
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + part
            else:
                out.append(part)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _tokens(parts: tuple[Part, ...], ignore_case: bool) -> tuple:
    """The pattern as one token per character: :data:`ANY`, :data:`ONE`, or a literal character (lowered with
    ``ignore_case``); a run of ``*`` is one ``*``, which matches the same texts."""
    out: list = []
    for part in parts:
        if isinstance(part, Wildcard):
            if not (part is ANY and out and out[-1] is ANY):
                out.append(ANY if part.char == "*" else ONE)
        else:
            out.extend(part.lower() if ignore_case else part)
    return tuple(out)


def _walk(tokens: tuple, text: str) -> bool:
    """Whether ``text`` matches ``tokens``: advance both while they agree; at a ``*``, remember where it was and let
    it match nothing; on a mismatch, go back to the last ``*`` and let it take one more character.  Only the last
    ``*`` ever needs revisiting: whatever an earlier one could take, the later one can take instead."""
    i = j = 0
    star = -1
    mark = 0
    n, m = len(text), len(tokens)
    while i < n:
        tk = tokens[j] if j < m else None
        if tk is ONE or (tk is not None and tk is not ANY and tk == text[i]):
            i += 1
            j += 1
        elif tk is ANY:
            star, mark = j, i
            j += 1
        elif star >= 0:
            mark += 1
            i, j = mark, star + 1
        else:
            return False
    while j < m and tokens[j] is ANY:
        j += 1
    return j == m
