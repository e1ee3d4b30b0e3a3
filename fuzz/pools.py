"""Value pools and generators shared by the targets: the differential strategies' pools
(``tests/property/strategies.py``), IAM's vocabulary, and hostile strings.

The strategies module is the repository's own (it needs hypothesis, which the ``fuzz`` extra installs); it is loaded
from ``tests/property`` so that the fuzzer and the property tests draw from the same actions, ARNs, keys and values.
"""
from __future__ import annotations

import functools
import importlib.util
import random
import sys
from pathlib import Path

__all__ = ["strategies", "ROOT", "IAM_WORDS", "hostile_string", "pool_string", "random_requests"]

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def strategies():
    """The module ``tests/property/strategies.py`` (loaded once, under its own name)."""
    name = "lexauthz_fuzz_strategies"
    if name in sys.modules:
        return sys.modules[name]
    path = ROOT / "tests" / "property" / "strategies.py"
    if not path.is_file():
        raise SystemExit(f"fuzz: {path} is missing: run the fuzzer from a lexauthz source checkout")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: Policy grammar words, for renaming keys and replacing values.
IAM_WORDS = (
    "Version", "Id", "Statement", "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
    "NotResource", "Condition", "Allow", "Deny", "AWS", "Service", "Federated", "CanonicalUser", "2012-10-17",
    "2008-10-17", "*", "IfExists", "ForAnyValue:StringLike", "ForAllValues:StringEquals", "StringLikeIfExists",
    "Null", "Bool", "ArnLike", "StringNotLike", "aws:username", "aws:userid", "aws:PrincipalTag/team",
    "aws:ResourceTag/team", "aws:RequestTag/env", "aws:TagKeys", "aws:SourceIp", "aws:CurrentTime",
    "lex:sessionTtl", "${aws:username}", "${*}", "${?}", "${$}", "${aws:PrincipalTag/team, 'x'}", "${",
)

_UNICODE = (
    "\u0130",          # LATIN CAPITAL I WITH DOT: lower() is two code points
    "\u00df",          # sharp s: upper() is "SS", casefold "ss"
    "\ufb00",          # ff ligature
    "\u212a",          # KELVIN SIGN: lower() is ASCII k
    "\u0345",          # combining ypogegrammeni: case-folds to iota
    "e\u0301",         # combining acute
    "\u202e",          # right-to-left override
    "\u200b",          # zero-width space
    "\ufeff",          # byte order mark
    "\U0001f600",      # astral plane
    "\ud800",          # a lone surrogate (not encodable as UTF-8)
    "\udcff",
    "\x00",
    "\x7f",
    "\u2028",
    "\uffff",
    "Σ", "ς", "σ",     # final sigma
    "\u0131",          # dotless i
)


def pool_string(rng: random.Random) -> str:
    """A string from the strategies' pools (actions, ARNs, patterns, values) or IAM's words."""
    s = strategies()
    pools = (s.ACTIONS, s.ACTION_PATTERNS, s.RESOURCES, s.RESOURCE_PATTERNS, s.PRINCIPALS, s.PRINCIPAL_VALUES,
             s.ALL_VALUES, tuple(s.KEYS), IAM_WORDS)
    return rng.choice(rng.choice(pools))


def _wildcards(rng: random.Random, n: int) -> str:
    """A pattern piece of ``n`` characters that is mostly ``?`` and ``*``, with literal pieces between."""
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.45:
            out.extend("?" * rng.randint(1, 40))
        elif r < 0.7:
            out.append("*")
        else:
            out.extend(rng.choice(("a", "b", "ab", ":", "/", "bot", "\u00df")))
    return "".join(out[:n])


def hostile_string(rng: random.Random, *, limit: int = 3000) -> str:
    """A string built to stress matching, case folding and encoding, at most about ``limit`` characters.

    Lengths stay within IAM's own limits by default (ARNs up to 2,048 characters), so that an input that is slow is
    a finding (``F_SLOW``), not the fuzzer's choice.
    """
    base = rng.choice(("arn:aws:lex:us-east-1:111122223333:", "arn:aws:lex:*:*:", "arn:aws:iam::111122223333:",
                       "arn:aws:sts::111122223333:assumed-role/LexDev/", "lex:", "", "arn:aws:lex:", "arn:"))
    kind = rng.randrange(9)
    n = rng.randint(1, limit)
    if kind == 0:    # a long ARN, often just under or over IAM's 2,048 characters (or 4,096, a context value's)
        if rng.random() < 0.4:
            n = max(0, rng.choice((2047, 2048, 2049, 4095, 4096, 4097)) - len(base))
        return base + rng.choice("ab/:") * n
    if kind == 1:    # many ? and * (a pattern, or a request string that looks like one)
        return base + _wildcards(rng, min(n, 600)) + rng.choice(("b*", "*", "?", "b", ""))
    if kind == 2:    # odd unicode, repeated
        return base + "".join(rng.choice(_UNICODE) for _ in range(rng.randint(1, 64)))
    if kind == 3:    # a pool string with unicode spliced in
        s = pool_string(rng)
        i = rng.randint(0, len(s))
        return s[:i] + rng.choice(_UNICODE) + s[i:]
    if kind == 4:    # variables, nested and broken
        return base + rng.choice(("${", "${aws:username}", "${*}", "${?}", "${$}", "}", "$")) * rng.randint(1, 50)
    if kind == 5:    # separators only
        return rng.choice(":/*?") * rng.randint(1, 200)
    if kind == 6:    # a pool string with its case changed
        s = pool_string(rng)
        return rng.choice((s.upper(), s.lower(), s.swapcase(), s.casefold()))
    if kind == 7:    # empty and blank
        return rng.choice(("", " ", "\t", "\n", "arn:aws:lex:::::", "arn:::::", "*:*", ":"))
    return pool_string(rng) * rng.randint(2, 40)


def random_requests(rng: random.Random, n: int) -> list:
    """``n`` requests from the strategies' pools (as :class:`lexauthz.Request`)."""
    s = strategies()
    return [s.random_request(rng) for _ in range(n)]
