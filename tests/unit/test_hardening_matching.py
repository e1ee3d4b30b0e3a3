"""Hostile strings: wildcard matching stays linear for `?` runs between stars, exact for `?` between literal pieces,
the per-request token matcher agrees with the compiled one at any size, and request strings past IAM's lengths are
refused with ``E_REQUEST_TOO_LARGE`` and the field's path instead of being matched slowly."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexauthz import Context, Request
from lexauthz.account import PolicySet
from lexauthz.errors import RequestError
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import MAX_ACTION_LENGTH, MAX_ARN_LENGTH, MAX_CONTEXT_VALUE_LENGTH, MAX_CONTEXT_VALUES
from lexauthz._match import glob_match, glob_match_bytes, token_match

USER = "arn:aws:iam::123456789012:user/alice"
ARN_HEAD = "arn:aws:lex:us-east-1:123456789012:"
#: The issue's hostile pattern: 6,000 `?` between two stars, within the identity-policy size quota.
QMARKS = "arn:aws:lex:*:*:*" + "?" * 6000 + "b*"


def regex_model(pattern, text, ignore_case=False):
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if ignore_case else 0)
    return re.fullmatch(body, text, flags) is not None


# -- the matchers on the hostile shapes (answers, not speed: speed is in benchmarks/bench_hardening.py) ---------


@pytest.mark.parametrize("kib", [16, 64, 256])
def test_question_mark_run_between_stars(kib):
    text = ARN_HEAD + "a" * (kib * 1024)
    assert not glob_match(QMARKS, text)
    assert not glob_match_bytes(QMARKS.encode(), text.encode(), compiled=True)
    hit = ARN_HEAD + "a" * 6000 + "b" + "a" * (kib * 1024)
    assert glob_match(QMARKS, hit)
    assert glob_match_bytes(QMARKS.encode(), hit.encode(), compiled=True)
    short = ARN_HEAD + "a" * 5999 + "b"        # one character short of the run
    assert not glob_match(QMARKS, short)


@pytest.mark.parametrize("compiled", [False, True])
def test_question_marks_between_literal_pieces(compiled):
    # `?` between two literal pieces: the bit-parallel search
    pattern = "*a?b??c*"
    for text, want in [("xxaXbYZc", True), ("a1b22c", True), ("ab22c", False), ("aéb😀€c", True),
                       ("aXbYc", False), ("a" * 5000 + "aXbYZc", True), ("a" * 5000, False)]:
        assert glob_match_bytes(pattern.encode(), text.encode(), compiled=compiled) == want, text
    long_pattern = "*" + "a?" * 3000 + "b*"
    assert glob_match(long_pattern, "a" * 6000 + "b")
    assert not glob_match(long_pattern, "a" * 6000)
    assert glob_match(long_pattern, "x" + "aé" * 3000 + "b")


def test_star_literal_suffix_in_token_matcher():
    # the StringLike case: `*` + 1,000 `a` + `b` against 256 KiB of `a`
    pattern = "*" + "a" * 1000 + "b"
    assert not token_match(pattern, "a" * 262144)
    assert token_match(pattern, "a" * 262144 + "b")
    assert token_match("*?" + "a" * 1000 + "?*", "x" * 100 + "y" + "a" * 1000 + "z")


texts = st.lists(st.sampled_from(["a", "b", "A", ":", "/", "é", "😀", "\u212a", "*", "?"]), max_size=40).map("".join)
patterns = st.lists(st.sampled_from(["a", "b", "A", ":", "é", "😀", "*", "?", "?", "*"]), max_size=16).map("".join)


@given(patterns, texts)
def test_token_matcher_paths_agree_with_model(pattern, text):
    # `*` and `?` in the text are literal characters there
    want = regex_model(pattern, text)
    assert token_match(pattern, text, linear=True) == want
    assert token_match(pattern, text) == want


@given(patterns, texts, st.booleans())
def test_compiled_matcher_agrees_with_model_on_longer_texts(pattern, text, icase):
    text = text * 3
    assert glob_match(pattern, text, icase) == regex_model(pattern, text, icase)
    assert glob_match_bytes(pattern.encode(), text.encode(), icase, compiled=True) == regex_model(pattern, text, icase)


# -- request length limits ----------------------------------------------------------------------------------------


def _engine():
    ps = PolicySet()
    ps.add_principal(USER, [json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:*", "Resource": QMARKS},
        {"Effect": "Allow", "Action": "lex:PostText", "Resource": "*",
         "Condition": {"StringLike": {"aws:userid": "*" + "a" * 1000 + "b"}}},
    ]})])
    return ps, ps.compile()


def test_limits_are_iams():
    assert MAX_ARN_LENGTH == 2048


def test_request_refuses_a_long_resource_with_its_path():
    with pytest.raises(RequestError) as info:
        Request(USER, "lex:PostText", ARN_HEAD + "a" * MAX_ARN_LENGTH)
    assert info.value.code == "E_REQUEST_TOO_LARGE"
    assert info.value.path == "$.resource"
    with pytest.raises(RequestError) as info:
        Request(USER + "x" * MAX_ARN_LENGTH, "lex:PostText")
    assert (info.value.code, info.value.path) == ("E_REQUEST_TOO_LARGE", "$.principal")
    with pytest.raises(RequestError) as info:
        Request(USER, "lex:" + "P" * MAX_ACTION_LENGTH)
    assert (info.value.code, info.value.path) == ("E_REQUEST_TOO_LARGE", "$.action")


def test_context_limits():
    with pytest.raises(RequestError) as info:
        Context({"aws:userid": "a" * (MAX_CONTEXT_VALUE_LENGTH + 1)})
    assert info.value.code == "E_REQUEST_TOO_LARGE"
    assert "aws:userid" in info.value.path
    with pytest.raises(RequestError) as info:
        Context({"aws:TagKeys": ["k"] * (MAX_CONTEXT_VALUES + 1)})
    assert info.value.code == "E_REQUEST_TOO_LARGE"
    with pytest.raises(RequestError) as info:
        Context({"aws:TagKeys": ["k", "v" * (MAX_CONTEXT_VALUE_LENGTH + 1)]})
    assert info.value.path.endswith("[1]")
    Context({"aws:userid": "a" * MAX_CONTEXT_VALUE_LENGTH})  # at the limit: accepted


def test_every_entry_point_refuses_long_strings():
    _, engine = _engine()
    long_arn = ARN_HEAD + "a" * (256 * 1024)
    with pytest.raises(RequestError) as info:
        engine.is_allowed(USER, "lex:PostText", long_arn)
    assert info.value.code == "E_REQUEST_TOO_LARGE"
    with pytest.raises(RequestError) as info:
        engine.evaluate_batch([USER, USER], ["lex:PostText"] * 2, ["*", long_arn])
    assert (info.value.code, info.value.path) == ("E_REQUEST_TOO_LARGE", "$[1].resource")
    with pytest.raises(RequestError) as info:
        engine.is_allowed(USER, "lex:PostText", "*", {"aws:userid": "a" * (256 * 1024)})
    assert info.value.code == "E_REQUEST_TOO_LARGE"
    # refused strings leave no entry behind: the next call is refused again
    with pytest.raises(RequestError):
        engine.is_allowed(USER, "lex:PostText", long_arn)


def test_hostile_policy_answers_as_the_reference_at_the_limits():
    ps, engine = _engine()
    cases = [
        Request(USER, "lex:PostText", ARN_HEAD + "a" * (MAX_ARN_LENGTH - len(ARN_HEAD))),
        Request(USER, "lex:PostText", "arn:aws:lex:us-east-1:123456789012:" + "a" * 1500 + "b"),
        Request(USER, "lex:PostText", "*", context={"aws:userid": "a" * MAX_CONTEXT_VALUE_LENGTH}),
        Request(USER, "lex:PostText", "*", context={"aws:userid": "a" * (MAX_CONTEXT_VALUE_LENGTH - 1) + "b"}),
    ]
    got = [engine.evaluate(r).decision for r in cases]
    want = [reference_evaluate(r, ps.applicable(r)).decision for r in cases]
    assert got == want
    assert [d.name for d in got] == ["IMPLICIT_DENY", "IMPLICIT_DENY", "IMPLICIT_DENY", "ALLOW"]
