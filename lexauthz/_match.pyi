"""Matching in the compiled core: IAM wildcards (`*` any run of characters, `?` exactly one; no escapes), and the
caller/Principal helpers the core and :mod:`lexauthz.compile.principals` use.

The compiled module behind this stub is `lexauthz/_match.pyx`, over `csrc/lxa_glob.c` for static patterns;
`csrc/lxa_glob.h` states the semantics and the cost precisely.
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

def glob_match_bytes(pattern: bytes, text: bytes, ignore_case: bool = False, compiled: bool = False) -> bool:
    """Match raw bytes (valid UTF-8 or not) with the one-shot or the compiled C entry point; for tests."""

def token_match(pattern: str, text: str, *, linear: bool = False) -> bool:
    """Whether `text` matches `pattern` with the per-request token matcher (the one StringLike uses once policy
    variables are resolved); the same semantics as :func:`glob_match`, over code points."""

USER: str
ROLE: str
ASSUMED_ROLE: str
FEDERATED_USER: str
ROOT: str
SERVICE: str
OTHER: str

class CallerInfo:
    """A caller broken down: ``kind`` (one of the kind names above), partition, account, role name."""

    arn: str
    kind: str
    partition: str | None
    account: str | None
    role_name: str | None
    def __init__(self, arn: str, kind: str, partition: str | None = ..., account: str | None = ...,
                 role_name: str | None = ...) -> None: ...

def caller_info(principal: str) -> CallerInfo: ...
def principal_naming(principal: object, c: CallerInfo) -> tuple[str, str] | None: ...
def not_principal_naming(
    not_principal: object, c: CallerInfo, effect: str, has_boundary: bool
) -> tuple[str, str] | None: ...
