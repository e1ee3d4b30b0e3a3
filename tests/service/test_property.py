"""Every decision the server gives over HTTP equals :meth:`lexauthz.Engine.evaluate` offline on the same request
(hypothesis: generated principals, actions, resources and contexts, unseen strings included; single evaluations
and batches with defaults)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_support import Server

import lexauthz
from lexauthz.account import PolicySet
from lexauthz.lex import PrincipalStore
from lexauthz.service.mapping import is_derived_key

ACCT = "111122223333"
USERS = [f"arn:aws:iam::{ACCT}:user/dev{i}" for i in range(4)]
PRINCIPALS = USERS + [f"arn:aws:iam::{ACCT}:user/unseen", f"arn:aws:sts::{ACCT}:assumed-role/Ops/s1",
                      "arn:aws:iam::444455556666:user/other", f"arn:aws:iam::{ACCT}:root"]
BOTS = [f"arn:aws:lex:us-east-1:{ACCT}:bot/BOTAAAAAA{i}" for i in range(4)]
RESOURCES = BOTS + [f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/BOTAAAAAA0/ALIASAAAA{i}" for i in range(2)] + [
    f"arn:aws:lex:eu-west-1:{ACCT}:bot/UNSEEN0001", "*", "arn:aws:lex:us-east-1:444455556666:bot/FOREIGN001"]
ACTIONS = ["lex:DescribeBot", "lex:UpdateBot", "lex:DeleteBot", "lex:RecognizeText", "lex:ListBots",
           "lex:TagResource", "lex:NotAnAction", "polly:SynthesizeSpeech"]


def _policy_set() -> PolicySet:
    ps = PolicySet()
    docs = [
        [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"},
         {"Effect": "Deny", "Action": "lex:Delete*", "Resource": "*",
          "Condition": {"StringEquals": {"aws:ResourceTag/stage": "prod"}}}],
        [{"Effect": "Allow", "Action": ["lex:Describe*", "lex:List*"], "Resource": "*"},
         {"Effect": "Allow", "Action": "lex:UpdateBot", "Resource": f"arn:aws:lex:*:{ACCT}:bot/*",
          "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}],
        [{"Effect": "Allow", "NotAction": ["lex:Delete*", "lex:Tag*"], "Resource": "*"},
         {"Effect": "Deny", "Action": "*", "Resource": "*",
          "Condition": {"StringEquals": {"lexauthz:env": "frozen"}}}],
        [{"Effect": "Allow", "Action": "lex:RecognizeText", "Resource": f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/*",
          "Condition": {"StringLike": {"aws:RequestTag/team": "t*"}}},
         {"Effect": "Allow", "Action": "lex:TagResource", "Resource": "*",
          "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "stage"]}}}],
    ]
    for i, (u, stmts) in enumerate(zip(USERS, docs)):
        ps.add_principal(u, policies=[{"Version": "2012-10-17", "Statement": stmts}], tags={"team": f"t{i}"})
    for k, b in enumerate(BOTS):
        ps.add_resource(b, tags={"stage": "prod" if k % 2 else "dev"})
    return ps


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    engine = _policy_set().compile()
    path = str(tmp_path_factory.mktemp("prop") / "engine.lxa")
    engine.save(path)
    s = Server(["--engine", path])
    with s.client() as c:
        yield c, lexauthz.Engine.load(path)
    s.stop()


contexts = st.fixed_dictionaries({}, optional={
    "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.168.0.1", "10.255.0.1"]),
    "lexauthz:env": st.sampled_from(["frozen", "live"]),
    "aws:RequestTag/team": st.sampled_from(["t1", "x9"]),
    "aws:TagKeys": st.lists(st.sampled_from(["team", "stage", "owner"]), max_size=3, unique=True),
    "aws:ResourceTag/stage": st.sampled_from(["prod", "dev"]),  # asserted by the caller: ignored
    "aws:PrincipalArn": st.sampled_from(USERS),  # likewise
})
requests = st.tuples(st.sampled_from(PRINCIPALS), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), contexts)


def offline(engine, principal, action, resource, ctx):
    """The documented mapping: caller-asserted derived keys dropped, the principal's own keys added."""
    context = {k: v for k, v in ctx.items() if not is_derived_key(k)}
    context.update(PrincipalStore().resolve(principal).context())
    return engine.evaluate(lexauthz.Request(principal, action, resource, context=context))


def body(principal, action, resource, ctx):
    out = {"subject": {"type": "iam_principal", "id": principal}, "action": {"name": action},
           "resource": {"type": "lex_resource", "id": resource}}
    if ctx:
        out["context"] = ctx
    return out


def same(answer: dict, resp) -> None:
    assert answer["decision"] is (resp.decision is lexauthz.Decision.ALLOW)
    if not answer["decision"]:
        assert answer["context"]["reason"] == resp.decision.simulator_name
        assert answer["context"]["missing_context_values"] == list(resp.missing_context_values)
        assert answer["context"]["deciding"] == [
            {"policy_id": r.policy, "policy_type": r.policy_type, "statement": r.index + 1, "sid": r.sid}
            for r in resp.matched_statements if r.effect == "Deny"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=requests)
def test_single_evaluation_equals_offline(served, req):
    client, engine = served
    r = client.post("/access/v1/evaluation", json=body(*req))
    assert r.status_code == 200
    assert r.headers["x-lexauthz-engine"] == engine.revision
    same(r.json(), offline(engine, *req))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=st.lists(requests, min_size=1, max_size=40), default=requests)
def test_batch_equals_offline(served, reqs, default):
    client, engine = served
    items, expected = [], []
    for k, (p, a, r, ctx) in enumerate(reqs):
        item = dict(body(p, a, r, ctx), context=ctx)  # an item without `context` would take the default's
        # every third item leans on the top-level defaults
        if k % 3 == 0:
            item = {"action": {"name": a}}
            p, r, ctx = default[0], default[2], default[3]
        items.append(item)
        expected.append(offline(engine, p, a, r, ctx))
    top = body(default[0], default[1], default[2], default[3])
    resp = client.post("/access/v1/evaluations", json=dict(top, evaluations=items))
    assert resp.status_code == 200
    got = resp.json()["evaluations"]
    assert len(got) == len(expected)
    for answer, off in zip(got, expected):
        assert answer["decision"] is (off.decision is lexauthz.Decision.ALLOW)
        if not answer["decision"]:
            same(answer, off)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=st.lists(st.tuples(st.sampled_from(PRINCIPALS), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES)),
                     min_size=1, max_size=60))
def test_common_shape_batch_equals_offline(served, reqs):
    # items of exactly the common shape (no context, no properties) take the batch's fast path, where one principal's
    # items share a context across resources with the same stored tags; repeats make explained denies share one
    client, engine = served
    items = [{"subject": {"type": "iam_principal", "id": p}, "action": {"name": a},
              "resource": {"type": "lex_resource", "id": r}} for p, a, r in reqs + reqs[::2]]
    resp = client.post("/access/v1/evaluations", json={"evaluations": items})
    assert resp.status_code == 200
    got = resp.json()["evaluations"]
    assert len(got) == len(items)
    for answer, (p, a, r) in zip(got, reqs + reqs[::2]):
        same(answer, offline(engine, p, a, r, {}))
