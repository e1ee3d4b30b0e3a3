"""Table-driven tests of the IAM wildcard matcher in lexauthz._match (C: csrc/lxa_glob.c)."""

import numpy as np
import pytest


from lexauthz._match import glob_match, glob_match_bytes, glob_match_many, token_match

BOT = "arn:aws:lex:us-east-1:123456789012:bot/OrderFlowers"
ALIAS = "arn:aws:lex:us-east-1:123456789012:bot-alias/BOTID/ALIASID"

# (pattern, text, expected) with case-sensitive matching.
CASE_SENSITIVE = [
    # empty pattern and text
    ("", "", True),
    ("", "a", False),
    ("a", "", False),
    # `*` alone and repeated
    ("*", "", True),
    ("*", "anything:at/all", True),
    ("**", "", True),
    ("***", "x", True),
    ("a**b", "ab", True),
    ("a**b", "axxb", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ba", False),
    ("*a", "ba", True),
    ("*a", "ab", False),
    # `?`
    ("?", "", False),
    ("?", "a", True),
    ("?", "ab", False),
    ("??", "ab", True),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("a?c", "abbc", False),
    ("*?", "", False),
    ("*?", "x", True),
    ("?*?", "x", False),
    ("?*?", "xy", True),
    ("*a?c*", "xxabcxx", True),
    ("*a?c*", "xxacxx", False),
    # segments in order, anchored ends, no overlap between the first and last segment
    ("a*b*c", "abc", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("a*ab", "aab", True),
    ("a*ab", "ab", False),
    ("ab*ba", "aba", False),
    ("ab*ba", "abba", True),
    ("*ab*ab*", "abab", True),
    ("*ab*ab*", "aab", False),
    ("*aab*", "aaab", True),
    # no escapes, and regular-expression characters are literal
    ("\\*", "\\x", True),
    ("\\*", "*", False),
    ("\\?", "\\x", True),
    (".", "a", False),
    ("[ab]", "a", False),
    ("[ab]", "[ab]", True),
    ("a+", "aa", False),
    ("${aws:username}", "${aws:username}", True),
    ("a\0*", "a\0b", True),
    ("a\0*", "a", False),
    # ARNs and actions: `*` spans `:` and `/`, `?` is one character, case matters
    ("arn:aws:lex:*:*:bot/*", BOT, True),
    ("arn:aws:lex:*:*:bot/*", ALIAS, False),
    ("arn:aws:lex:*:*:bot*", ALIAS, True),
    ("arn:aws:lex:*", ALIAS, True),
    ("arn:aws:lex:us-east-1:*:bot-alias/BOTID/*", ALIAS, True),
    ("arn:aws:lex:us-east-1:*:bot-alias/OTHER/*", ALIAS, False),
    ("arn:aws:lex:us-east-1:????????????:bot/*", BOT, True),
    ("arn:aws:lex:us-east-1:????????????:bot/*", "arn:aws:lex:us-east-1:12345678901:bot/X", False),
    ("arn:aws:lex:*:*:bot/OrderFlowers", BOT.replace("OrderFlowers", "orderflowers"), False),
    ("lex:*", "lex:RecognizeText", True),
    ("lex:Get*", "lex:GetBot", True),
    ("lex:Get*", "lex:getbot", False),
    ("lex:Get*", "lex:PutBot", False),
    # multibyte UTF-8: `?` is one code point however many bytes it takes
    ("?", "é", True),
    ("??", "é", False),
    ("?", "€", True),
    ("???", "€", False),
    ("?", "😀", True),
    ("??", "😀", False),
    ("????", "😀", False),
    ("a?c", "aéc", True),
    ("a??c", "aéc", False),
    ("*?", "é", True),
    ("*??", "é", False),
    ("?*", "😀x", True),
    ("*?b*", "éb", True),
    ("*??b*", "éb", False),
    ("*é*", "café au lait", True),
    ("caf?", "café", True),
    ("caf??", "café", False),
    ("*:?/*", "x:é/y", True),
    ("*:?/*", "x:éé/y", False),
    # lone surrogates (possible in `str` from JSON) are one character each
    ("?", "\ud800", True),
    ("??", "\ud83d\ude00", True),
    ("?", "\ud83d\ude00", False),
]

# (pattern, text, expected) with ignore_case=True: ASCII letters fold, nothing else does.
CASE_INSENSITIVE = [
    ("lex:get*", "lex:GetBot", True),
    ("LEX:RECOGNIZETEXT", "lex:RecognizeText", True),
    ("lex:Get?ot", "LEX:GETBOT", True),
    ("lex:*bot", "lex:GetBOT", True),
    ("lex:*bots", "lex:GetBOT", False),
    ("*:BOT-ALIAS/*", ALIAS, True),
    ("a", "A", True),
    ("z", "Z", True),
    ("?", "É", True),
    # neighbours of the letters differ from them by 0x20 too, and must not fold
    ("[", "{", False),
    ("@", "`", False),
    ("]", "}", False),
    # no Unicode case folding
    ("é", "é", True),
    ("É", "é", False),
    ("\u212a", "k", False),  # KELVIN SIGN
    ("\u017f", "s", False),  # LATIN SMALL LETTER LONG S
]


@pytest.mark.parametrize(("pattern", "text", "expected"), CASE_SENSITIVE)
def test_case_sensitive(pattern, text, expected):
    assert glob_match(pattern, text) is expected
    assert glob_match_many(pattern, [text]).tolist() == [expected]


@pytest.mark.parametrize(("pattern", "text", "expected"), CASE_INSENSITIVE)
def test_case_insensitive(pattern, text, expected):
    assert glob_match(pattern, text, ignore_case=True) is expected
    assert glob_match_many(pattern, [text], ignore_case=True).tolist() == [expected]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [("lex:get*", "lex:GetBot"), ("LEX:*", "lex:GetBot"), ("A?C", "abc")],
)
def test_case_matters_by_default(pattern, text):
    assert glob_match(pattern, text, ignore_case=True) is True
    assert glob_match(pattern, text) is False


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*a*a*a*a*a*a*a*a*a*a*b", "a" * 5000, False),
        ("*a*a*a*a*a*a*a*a*a*a*b", "a" * 5000 + "b", True),
        ("*a*a*a*a*a*a*a*a*a*a*b*", "a" * 5000, False),
        ("*a?a*a?a*a?a*b", "a" * 5000, False),
        ("*" + "a" * 300 + "b*", "a" * 5000, False),
        ("*" + "a" * 300 + "b*", "a" * 5000 + "b", True),
    ],
    ids=["stars", "stars-hit", "stars-open-end", "question-marks", "long-segment", "long-segment-hit"],
)
def test_pathological_patterns_finish(pattern, text, expected):
    # Exponential backtracking would hang here; the assertion is the answer, not the time.
    assert glob_match(pattern, text) is expected
    assert glob_match_many(pattern, [text]).tolist() == [expected]


def test_middle_segment_longer_than_stack_table():
    # Middle segments above LXA_GLOB_STACK_TABLE (256) bytes take the heap failure table in the one-shot path.
    segment = "ab" * 200 + "c"
    hit = "x" * 50 + "ab" * 300 + "c" + "y" * 50
    miss = hit.replace("c", "d")
    pattern = "x*" + segment + "*y"
    assert glob_match(pattern, hit) is True
    assert glob_match(pattern, miss) is False
    assert glob_match(pattern.upper(), hit, ignore_case=True) is True
    assert glob_match_many(pattern, [hit, miss]).tolist() == [True, False]


@pytest.mark.parametrize(("pattern", "text"), [(b"a", "a"), ("a", b"a"), (None, "a"), ("a", None), ("a", 1)])
def test_glob_match_accepts_only_str(pattern, text):
    with pytest.raises(TypeError):
        glob_match(pattern, text)


def test_glob_match_many_returns_bool_array():
    texts = ["lex:GetBot", "lex:GetBots", "lex:PutBot", "lex:bot"]
    result = glob_match_many("lex:*Bot", texts)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.bool_
    assert result.tolist() == [glob_match("lex:*Bot", t) for t in texts]
    assert result.tolist() == [True, False, True, False]


def test_glob_match_many_takes_any_iterable():
    texts = ("lex:GetBot", "lex:GetBots")
    assert glob_match_many("lex:*bot", (t for t in texts), ignore_case=True).tolist() == [True, False]
    assert glob_match_many("*", []).shape == (0,)


def test_glob_match_many_fills_out():
    out = np.ones(3, dtype=np.bool_)
    result = glob_match_many("a*", ["ab", "ba", "a"], out=out)
    assert result is out
    assert out.tolist() == [True, False, True]


@pytest.mark.parametrize(
    "out",
    [
        np.zeros(2, dtype=np.bool_),
        np.zeros(3, dtype=np.uint8),
        np.zeros((3, 1), dtype=np.bool_),
        np.zeros(6, dtype=np.bool_)[::2],
        [False, False, False],
    ],
    ids=["short", "uint8", "2-d", "strided", "list"],
)
def test_glob_match_many_rejects_bad_out(out):
    with pytest.raises(ValueError):
        glob_match_many("a*", ["ab", "ba", "a"], out=out)


def test_glob_match_many_rejects_read_only_out():
    out = np.zeros(1, dtype=np.bool_)
    out.flags.writeable = False
    with pytest.raises(ValueError):
        glob_match_many("a*", ["ab"], out=out)


@pytest.mark.parametrize("texts", [["a", b"a"], ["a", None]])
def test_glob_match_many_accepts_only_str(texts):
    with pytest.raises(TypeError):
        glob_match_many("a*", texts)
    with pytest.raises(TypeError):
        glob_match_many(b"a*", ["a"])


# Raw bytes, not always valid UTF-8: a character starts at offset 0 and at every byte that is not a
# continuation byte (0x80-0xBF), and a match never starts or ends inside one.
RAW_BYTES = [
    (b"?", b"\xc3\xa9", True),
    (b"\xc3\xa9", b"\xc3\xa9", True),
    (b"\xc3*", b"\xc3\xa9", False),  # the literal would end inside the character
    (b"*\xa9", b"\xc3\xa9", False),  # ... or start inside it
    (b"*\xa9*", b"\xc3\xa9", False),
    (b"?", b"\x80\x80", True),  # continuation bytes at the start form one character
    (b"\x80*", b"\x80\x80", False),
    (b"\x80\x80*", b"\x80\x80", True),
    (b"??", b"a\x80", False),  # a stray continuation byte joins the character before it
    (b"?", b"a\x80\x80", True),
    (b"?", b"\xff", True),
    (b"??", b"\xc3a", True),  # a truncated sequence ends where the next character starts
    (b"?*", b"", False),
    # the first occurrence ends inside a character; the overlapping second one must still be found
    (b"*a\x80a*", b"a\x80a\x80a", True),
    (b"*a\x80a", b"a\x80a\x80a", True),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), RAW_BYTES)
@pytest.mark.parametrize("compiled", [False, True], ids=["one-shot", "compiled"])
def test_raw_bytes(pattern, text, expected, compiled):
    assert glob_match_bytes(pattern, text, False, compiled) is expected


@pytest.mark.parametrize("pattern, text", [("a*b", "axxb"), ("a?c", "abc"), ("*", ""), ("a*", "b"), ("??", "é")])
def test_token_matcher_agrees_with_the_c_matcher(pattern, text):
    # The per-request token matcher (StringLike with variables, dynamic Resources) and lxa_glob are one semantics.
    assert token_match(pattern, text) is glob_match(pattern, text)
