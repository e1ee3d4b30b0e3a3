"""The keys the service derives itself (principal keys, stored tags, the clock) go into a request's context only when
some policy of the serving engine reads them (``Engine.context_keys``); a caller's own keys always go in.

The server tests use policies that read the clock, so the clock keys must reach the engine on every path (single
evaluations, batches of the common shape, batches with per-item contexts)."""
from __future__ import annotations

import pytest

from service_support import Server

import lexauthz
from lexauthz.account import PolicySet
from lexauthz.service.mapping import NO_KEYS, Mapper

ACCT = "111122223333"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot/BOTAAAAAA1"


def _clock_policy_set() -> PolicySet:
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[{"Version": "2012-10-17", "Statement": [
        # allowed since 2000: the service's clock must be in the context
        {"Effect": "Allow", "Action": "lex:DescribeBot", "Resource": "*",
         "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}},
        # allowed only before 2001: never now
        {"Effect": "Allow", "Action": "lex:UpdateBot", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}},
        # seconds since the epoch past 2000-01-01
        {"Effect": "Allow", "Action": "lex:ListBots", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"aws:EpochTime": "946684800"}}},
    ]}])
    ps.add_resource(BOT, tags={"team": "t1"})
    return ps


@pytest.fixture(scope="module")
def clock_server(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("clock") / "engine.lxa")
    _clock_policy_set().compile().save(path)
    s = Server(["--engine", path])
    with s.client() as c:
        yield c
    s.stop()


def _item(action, context=None):
    out = {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": action},
           "resource": {"type": "lex_resource", "id": BOT}}
    if context is not None:
        out["context"] = context
    return out


WANT = {"lex:DescribeBot": True, "lex:UpdateBot": False, "lex:ListBots": True}


def test_clock_conditions_see_the_service_clock_in_single_evaluations(clock_server):
    for action, allowed in WANT.items():
        r = clock_server.post("/access/v1/evaluation", json=_item(action))
        assert r.status_code == 200 and r.json()["decision"] is allowed, (action, r.json())
        if not allowed:
            # the key was there: nothing is reported missing
            assert r.json()["context"]["missing_context_values"] == []


@pytest.mark.parametrize("context", [None, {"lexauthz:tenant": "a"}], ids=["common-shape", "own-context"])
def test_clock_conditions_see_the_service_clock_in_batches(clock_server, context):
    items = [_item(a, context) for a in WANT] * 3
    r = clock_server.post("/access/v1/evaluations", json={"evaluations": items})
    assert r.status_code == 200
    assert [e["decision"] for e in r.json()["evaluations"]] == list(WANT.values()) * 3


def test_a_caller_cannot_set_the_clock(clock_server):
    # the clock is derived: a caller's aws:CurrentTime is dropped, so the 2001 deadline still denies
    r = clock_server.post("/access/v1/evaluation",
                          json=_item("lex:UpdateBot", {"aws:CurrentTime": "2000-06-01T00:00:00Z"}))
    assert r.json()["decision"] is False


def test_the_mapper_derives_only_the_keys_some_policy_reads():
    reads = frozenset({"aws:username", "aws:currenttime"})
    m = Mapper(None, None, reads=reads)
    ctx = m.plain_context(ALICE, BOT, {"lexauthz:tenant": "a"}, "$", m.clock(0.0), {})
    assert ctx == {"lexauthz:tenant": "a", "aws:username": "alice", "aws:CurrentTime": "1970-01-01T00:00:00Z"}
    # none read: every principal shares the one empty dict, so their items share one context
    none = Mapper(None, None, reads=frozenset())
    assert none.derived(ALICE, "$") is NO_KEYS and none.clock(0.0) == {}
    # without a key set (an engine that does not say), everything is derived, as before
    full = Mapper(None, None)
    ctx = full.plain_context(ALICE, BOT, None, "$", full.clock(0.0), {})
    assert {"aws:PrincipalArn", "aws:username", "aws:CurrentTime", "aws:EpochTime"} <= set(ctx)


def test_leaving_out_unread_keys_changes_no_answer():
    engine = _clock_policy_set().compile()
    assert engine.context_keys == frozenset({"aws:currenttime", "aws:epochtime"})
    full = Mapper(None, None)
    less = Mapper(None, None, reads=engine.context_keys)
    for action in (*WANT, "lex:DeleteBot"):
        for now in (0.0, 978307200.0 + 1, 1.9e9):
            a = engine.evaluate(lexauthz.Request(ALICE, action, BOT, context=full.plain_context(
                ALICE, BOT, None, "$", full.clock(now), {})))
            b = engine.evaluate(lexauthz.Request(ALICE, action, BOT, context=less.plain_context(
                ALICE, BOT, None, "$", less.clock(now), {})))
            assert a == b
