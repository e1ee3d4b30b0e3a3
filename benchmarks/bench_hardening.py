"""Hostile inputs (group ``hardening``): what one hostile request or file costs.

- the issue's wildcard pattern (`*` + 6,000 `?` + `b*`, within the identity-policy quota) against 16, 64 and 256 KiB
  of text, through the compiled matcher (the engine never sees such text: it refuses ARNs over 2,048 characters, so
  these time the matcher itself);
- `StringLike` on a resolved pattern (`*` + 1,000 `a` + `b`) through the per-request token matcher;
- `?` between literal pieces (the bit-parallel plan) on the same texts;
- an unseen resource ARN on engines of 1,000, 10,000 and 100,000 statements (every call a new ARN, so every call
  matches it against the resource patterns; the seen-ARN call on the same engine is the baseline);
- loading a saved engine checked against its policy text, sealed with a key, and trusted.
"""
from __future__ import annotations

import itertools
import json

import pytest

from lexauthz._match import glob_match_bytes, token_match
from lexauthz.account import PolicySet
from lexauthz.engine import Engine

QMARKS = ("arn:aws:lex:*:*:*" + "?" * 6000 + "b*").encode()
HEAD = "arn:aws:lex:us-east-1:123456789012:"
USER = "arn:aws:iam::123456789012:user/u"


@pytest.mark.benchmark(group="hardening")
@pytest.mark.parametrize("kib", [16, 64, 256])
def test_question_mark_run(benchmark, kib):
    text = (HEAD + "a" * (kib * 1024)).encode()
    assert benchmark(glob_match_bytes, QMARKS, text, False, True) is False


@pytest.mark.benchmark(group="hardening")
@pytest.mark.parametrize("kib", [16, 64, 256])
def test_token_matcher_star_literal(benchmark, kib):
    pattern, text = "*" + "a" * 1000 + "b", "a" * (kib * 1024)
    assert benchmark(token_match, pattern, text) is False


@pytest.mark.benchmark(group="hardening")
@pytest.mark.parametrize("kib", [16, 64, 256])
def test_question_marks_between_literals(benchmark, kib):
    pattern, text = ("*" + "a?" * 3000 + "b*").encode(), ("a" * (kib * 1024)).encode()
    assert benchmark(glob_match_bytes, pattern, text, False, True) is False


def _engine(n: int) -> Engine:
    stmts = [{"Effect": "Allow", "Action": "lex:PostText", "Resource": f"{HEAD}bot:Bot{i}:*"} for i in range(n)]
    ps = PolicySet()
    ps.add_principal(USER, [json.dumps({"Version": "2012-10-17", "Statement": stmts[k:k + 100]})
                            for k in range(0, n, 100)])
    return ps.compile()


@pytest.fixture(scope="module", params=[1000, 10000, 100000])
def wide(request):
    return _engine(request.param)


@pytest.mark.benchmark(group="hardening")
def test_unseen_resource_arn(benchmark, wide):
    fresh = (f"{HEAD}bot:Fresh{i}:alias" for i in itertools.count())
    is_allowed = wide.is_allowed
    benchmark.extra_info["statements"] = wide.n_statements
    benchmark(lambda: is_allowed(USER, "lex:PostText", next(fresh)))


@pytest.mark.benchmark(group="hardening")
def test_seen_resource_arn(benchmark, wide):
    arn = f"{HEAD}bot:Seen:alias"
    wide.is_allowed(USER, "lex:PostText", arn)
    benchmark.extra_info["statements"] = wide.n_statements
    benchmark(wide.is_allowed, USER, "lex:PostText", arn)


KEY = bytes(range(32))


@pytest.mark.benchmark(group="hardening")
@pytest.mark.parametrize("how", ["checked", "sealed", "trusted"])
def test_load(benchmark, wide, how):
    data = wide.to_bytes(key=KEY if how == "sealed" else None)
    kwargs = {"checked": {}, "sealed": {"key": KEY}, "trusted": {"verify": False}}[how]
    benchmark.extra_info["statements"] = wide.n_statements
    benchmark.pedantic(Engine.from_bytes, args=(data,), kwargs=kwargs, rounds=3, warmup_rounds=1)
