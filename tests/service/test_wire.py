"""The common evaluations batch, decoded into columns (lexauthz.service.wire), answers exactly as the generic path.

A body is decoded as a :class:`CommonBatch` only when every item has the common shape; any other body is refused
(None) and parsed as generic JSON.  ``Evaluator.common_evaluations`` must give the same results and log records as
``Evaluator.evaluations`` of the same body parsed generically, with and without an account inventory, with and
without explanations, for bodies that it maps itself and for bodies it sends back to the checking path."""
from __future__ import annotations

import json
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_support import AUTHZEN_ACCOUNT

from lexauthz.service.authzen import Evaluator
from lexauthz.service.engines import EngineSource, Loaded
from lexauthz.service.wire import CommonBatch, common_batch

ACCT = "111122223333"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
BOTS = [f"arn:aws:lex:us-east-1:{ACCT}:bot/RECORD0001", f"arn:aws:lex:us-east-1:{ACCT}:bot/RECORD0002",
        f"arn:aws:lex:us-east-1:{ACCT}:bot/UNKNOWN001"]
ACTIONS = ["lex:DescribeBot", "lex:UpdateBot", "lex:DeleteBot", "lex:ListBots"]


def item(p=ALICE, a="lex:DescribeBot", r=BOTS[0]):
    return {"subject": {"type": "iam_principal", "id": p}, "action": {"name": a},
            "resource": {"type": "lex_resource", "id": r}}


def raw(body) -> bytes:
    return json.dumps(body).encode()


@pytest.fixture(scope="module", params=["account", "engine-only"])
def loaded(request):
    engine, account, digest = EngineSource.account([AUTHZEN_ACCOUNT]).load(1 << 30)
    if request.param == "engine-only":
        account = None  # a saved engine: no inventory, every resource's tags come from the engine
    return Loaded(engine, account, engine.revision, digest, time.time(), 0.0, 1)


def both(evaluator, loaded, body: bytes):
    """(common path, generic path) answers of one body; the common one only when the body decodes as common."""
    batch = common_batch(body)
    generic = evaluator.evaluations(orjson.loads(body), loaded)
    return (None if batch is None else evaluator.common_evaluations(batch, loaded)), generic


def same(a, b):
    (pa, ra), (pb, rb) = a, b
    assert orjson.dumps(pa) == orjson.dumps(pb)
    assert [_plain(r) for r in ra] == [_plain(r) for r in rb]


def _plain(record):
    # (request, decision word, Response or list, errors): a Response compared by value
    return tuple(x.to_dict() if hasattr(x, "to_dict") else x for x in record)


@pytest.mark.parametrize("body", [
    {"evaluations": [item(), item(BOB, "lex:UpdateBot", BOTS[1]), item(ALICE, "lex:UpdateBot", BOTS[1])]},
    # top-level defaults and options are read as the generic path reads them
    {"context": {"lexauthz:soft": "true"}, "evaluations": [item(a="lex:DeleteBot"), item(BOB, "lex:DeleteBot")]},
    {"options": {"evaluations_semantic": "deny_on_first_deny"},
     "evaluations": [item(), item(a="lex:DeleteBot"), item()]},
    {"options": {"evaluations_semantic": "permit_on_first_permit"},
     "evaluations": [item(a="lex:DeleteBot"), item(), item(a="lex:DeleteBot")]},
    {"subject": {"type": "iam_principal", "id": BOB}, "unknown": [1, 2], "evaluations": [item(BOB, r=BOTS[2])]},
    # decoded as common, but an item needs the checking path: the whole body takes it, with its per-item errors
    {"evaluations": [item(), item(p="alice")]},
    {"evaluations": [item(), item(a="")]},
    {"evaluations": [item(), item(r="")]},
    {"evaluations": [item(p="arn:aws:iam::111122223333:nonsense")]},
    {"context": ["not", "an", "object"], "evaluations": [item()]},
    {"context": {"nested": {"a": 1}}, "evaluations": [item()]},
], ids=lambda b: json.dumps(b)[:60])
@pytest.mark.parametrize("explain", [True, False], ids=["explain", "no-explain"])
def test_common_path_answers_as_the_generic_path(loaded, body, explain):
    common, generic = both(Evaluator(explain=explain), loaded, raw(body))
    assert common is not None, "decoded as a common batch"
    same(common, generic)


def test_bad_options_are_the_same_400():
    body = raw({"options": {"evaluations_semantic": "first"}, "evaluations": [item()]})
    engine, account, digest = EngineSource.account([AUTHZEN_ACCOUNT]).load(1 << 30)
    cur = Loaded(engine, account, engine.revision, digest, time.time(), 0.0, 1)
    from lexauthz.service.errors import ServiceError

    with pytest.raises(ServiceError) as common:
        Evaluator().common_evaluations(common_batch(body), cur)
    with pytest.raises(ServiceError) as generic:
        Evaluator().evaluations(orjson.loads(body), cur)
    assert common.value.to_dict() == generic.value.to_dict()


@pytest.mark.parametrize("body", [
    b"",
    b"[1, 2]",
    b'{"evaluations": []}',
    b'{"evaluations": {"a": 1}}',
    b'{"evaluations": [' + raw(item()) + b", 7]}",
    raw({"evaluations": [dict(item(), context={"a": "b"})]}),
    raw({"evaluations": [{"subject": {"type": "aws_account", "id": ACCT}, "action": {"name": "lex:ListBots"},
                          "resource": {"type": "lex_resource", "id": BOTS[0]}}]}),
    raw({"evaluations": [{"subject": {"type": "iam_principal", "id": ALICE, "properties": {"role": "admin"}},
                          "action": {"name": "lex:ListBots"}, "resource": {"type": "lex_resource", "id": BOTS[0]}}]}),
    raw({"evaluations": [{"subject": {"type": "iam_principal", "id": 7}, "action": {"name": "lex:ListBots"},
                          "resource": {"type": "lex_resource", "id": BOTS[0]}}]}),
    raw({"evaluations": [{"action": {"name": "lex:ListBots"}}]}),
    b'{"evaluations": [' + raw(item())[:-1],
    "{\"evaluations\": [\"\u00e9\"]}".encode("latin-1"),
], ids=range(12))
def test_other_bodies_are_not_common(body):
    assert common_batch(body) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from([ALICE, BOB, f"arn:aws:iam::{ACCT}:user/unseen",
                                                 f"arn:aws:sts::{ACCT}:assumed-role/R/s", "arn:aws:iam::1:root"]),
                               st.sampled_from(ACTIONS), st.sampled_from(BOTS + ["*"])), min_size=1, max_size=80),
       context=st.one_of(st.none(), st.fixed_dictionaries({}, optional={"lexauthz:soft": st.sampled_from(
           ["true", "false"]), "aws:ResourceTag/status": st.just("archived")})),
       explain=st.booleans())
def test_generated_common_batches_answer_as_the_generic_path(loaded, rows, context, explain):
    body = {"evaluations": [item(*r) for r in rows]}
    if context is not None:
        body["context"] = context
    common, generic = both(Evaluator(explain=explain), loaded, raw(body))
    assert isinstance(common_batch(raw(body)), CommonBatch)
    same(common, generic)
