"""IAM wildcard matching: `*` matches any run of characters, `?` exactly one; no escapes.

The compiled module behind this stub is `lexauthz/_glob.pyx` over `csrc/lxa_glob.c`; `csrc/lxa_glob.h` states
the semantics and the cost precisely.
"""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

def glob_match(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Whether the whole of `text` matches the IAM wildcard `pattern`.

    `*` matches any sequence of characters, including none and including `:` and `/`; `?` matches exactly one
    character (one code point, however many UTF-8 bytes it takes); every other character matches itself.
    There are no escapes. Time is linear in ``len(pattern) + len(text)`` unless a segment between two `*`
    contains `?`, in which case it is at most ``len(text) * len(segment)``; never exponential.

    Parameters
    ----------
    pattern : str
        The IAM pattern, for example ``arn:aws:lex:*:*:bot/*`` or ``lex:Get*``.
    text : str
        The string to test, for example an ARN or an action name.
    ignore_case : bool, default False
        Compare ASCII letters without regard to case (IAM does this for action names). Only ``A-Z`` fold to
        ``a-z``: non-ASCII letters must match exactly.

    Returns
    -------
    bool
        True if `text` matches `pattern`.

    Raises
    ------
    TypeError
        If `pattern` or `text` is not a str.

    Examples
    --------
    >>> glob_match("arn:aws:lex:*:*:bot/*", "arn:aws:lex:us-east-1:123456789012:bot/OrderFlowers")
    True
    >>> glob_match("lex:get*", "lex:GetBot", ignore_case=True)
    True
    >>> glob_match("??", "é")
    False
    """

def glob_match_many(
    pattern: str,
    texts: Iterable[str],
    *,
    ignore_case: bool = False,
    out: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_]:
    """Match one pattern against many strings; the pattern is compiled once.

    Parameters
    ----------
    pattern : str
        The IAM pattern, as for `glob_match`.
    texts : iterable of str
        The strings to test.
    ignore_case : bool, default False
        As for `glob_match`.
    out : numpy.ndarray of bool, optional
        A writeable, C-contiguous, 1-d bool array with one slot per text, to fill and return.

    Returns
    -------
    numpy.ndarray of bool
        ``result[i] == glob_match(pattern, texts[i], ignore_case)``; `out` itself when given.

    Raises
    ------
    TypeError
        If `pattern` or any text is not a str.
    ValueError
        If `out` is not a writeable, contiguous, 1-d bool array of the right length.
    MemoryError
        If the compiled pattern cannot be allocated.

    Examples
    --------
    >>> glob_match_many("lex:*Bot", ["lex:GetBot", "lex:GetBots", "lex:PutBot"]).tolist()
    [True, False, True]
    """

def _glob_match_bytes(pattern: bytes, text: bytes, ignore_case: bool = False, compiled: bool = False) -> bool:
    """Match raw bytes (valid UTF-8 or not) with the one-shot or the compiled C entry point; for tests."""
