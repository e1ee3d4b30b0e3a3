"""The C wildcard matcher against trivial models: Python regular expressions for str, a character DP for bytes.

Alphabets are small so that patterns and texts collide often; they include `:` and `/` (which `*` must cross),
ASCII letters in both cases, multibyte characters (2, 3 and 4 bytes), non-ASCII letters that have a case
(which must not fold), and lone surrogates.
"""

import re

from hypothesis import given
from hypothesis import strategies as st

from lexauthz._match import glob_match_bytes, glob_match, glob_match_many

TEXT_CHARS = ["a", "b", "A", "B", ":", "/", "é", "É", "€", "😀", "\u212a", "k", "\ud83d", "\ude00"]
PATTERN_CHARS = TEXT_CHARS + ["*", "?"] * 3  # wildcards weighted up

texts = st.lists(st.sampled_from(TEXT_CHARS), max_size=12).map("".join)
patterns = st.lists(st.sampled_from(PATTERN_CHARS), max_size=8).map("".join)


@st.composite
def text_and_derived_pattern(draw):
    """A text and a pattern made from it by wildcarding some characters, so that many pairs match."""
    text = draw(texts)
    pieces = []
    for ch in text:
        choice = draw(st.sampled_from(["keep", "keep", "?", "*", "*+", "flip"]))
        if choice == "keep":
            pieces.append(ch)
        elif choice == "?":
            pieces.append("?")
        elif choice == "*":
            pieces.append("*")
        elif choice == "*+":
            pieces.append("*" + ch)
        else:
            pieces.append(draw(st.sampled_from(PATTERN_CHARS)))
    return text, "".join(pieces)


def regex_model(pattern, text, ignore_case):
    """IAM wildcard semantics as a regular expression: `*` -> `.*`, `?` -> `.`, everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    # re.ASCII restricts IGNORECASE to A-Z/a-z, which is the folding lxa_glob promises.
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if ignore_case else 0)
    return re.fullmatch(body, text, flags) is not None


@given(patterns, texts, st.booleans())
def test_agrees_with_regex_model(pattern, text, ignore_case):
    assert glob_match(pattern, text, ignore_case) == regex_model(pattern, text, ignore_case)


@given(text_and_derived_pattern(), st.booleans())
def test_agrees_with_regex_model_on_derived_patterns(pair, ignore_case):
    text, pattern = pair
    assert glob_match(pattern, text, ignore_case) == regex_model(pattern, text, ignore_case)


@given(patterns, st.lists(texts, max_size=6), st.booleans())
def test_batch_agrees_with_single(pattern, many, ignore_case):
    expected = [glob_match(pattern, t, ignore_case) for t in many]
    assert glob_match_many(pattern, many, ignore_case=ignore_case).tolist() == expected


def ascii_lower(s):
    return s.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


@given(patterns, texts)
def test_ignore_case_is_ascii_lowering(pattern, text):
    assert glob_match(pattern, text, True) == glob_match(ascii_lower(pattern), ascii_lower(text))


# ---- raw bytes, valid UTF-8 or not ------------------------------------------------------------------------

BYTES = [b"a", b"A", b"*", b"?", b"\x80", b"\xa9", b"\xc3", b"\xe2", b"\xff", b"\x00"]
raw = st.lists(st.sampled_from(BYTES), max_size=10).map(b"".join)


def split_chars(data):
    """A character starts at offset 0 and at every byte that is not a continuation byte (csrc/lxa_glob.h)."""
    starts = [i for i in range(len(data)) if i == 0 or data[i] & 0xC0 != 0x80]
    return [data[s:e] for s, e in zip(starts, starts[1:] + [len(data)])]


def bytes_model(pattern, text, ignore_case):
    """Glob over characters by dynamic programming: `*` any run, `?` one character, literals compare equal."""
    tokens = []
    for piece in re.split(rb"([*?])", pattern):
        tokens += [piece] if piece in (b"*", b"?") else split_chars(piece)
    chars = split_chars(text)
    if ignore_case:
        tokens = [t if t in (b"*", b"?") else t.lower() for t in tokens]  # bytes.lower is ASCII-only
        chars = [c.lower() for c in chars]
    n = len(chars)
    row = [True] + [False] * n  # row[j]: the tokens so far match chars[:j]
    for tok in tokens:
        new = [False] * (n + 1)
        for j in range(n + 1):
            if tok == b"*":
                new[j] = row[j] or (j > 0 and new[j - 1])
            elif j > 0 and row[j - 1]:
                new[j] = tok == b"?" or tok == chars[j - 1]
        row = new
    return row[n]


@given(raw, raw, st.booleans())
def test_raw_bytes_agree_with_character_model(pattern, text, ignore_case):
    expected = bytes_model(pattern, text, ignore_case)
    assert glob_match_bytes(pattern, text, ignore_case, False) == expected
    assert glob_match_bytes(pattern, text, ignore_case, True) == expected


@given(st.lists(st.sampled_from([b"a", b"b", b"\xc3\xa9", b"\xe2\x82\xac"]), max_size=10).map(b"".join),
       st.lists(st.sampled_from([b"a", b"b", b"*", b"?", b"\xc3\xa9"]), max_size=8).map(b"".join))
def test_models_agree_on_valid_utf8(text, pattern):
    # On valid UTF-8 the bytes model is the regex model, so both describe one matcher.
    expected = regex_model(pattern.decode(), text.decode(), False)
    assert bytes_model(pattern, text, False) == expected
    assert glob_match_bytes(pattern, text, False, False) == expected
