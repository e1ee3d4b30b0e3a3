"""The compiled engine against the reference evaluator: same decision, same matched statements, same Response.

Each hypothesis example compiles one policy bundle (or policy set) and checks it against many requests, most of them
generated from a drawn seed, so the CI profile (500 examples per test) covers about 125,000 requests in total
(150 + 30 + 75 per example):

- compiled == reference, for the indexed engine and for its brute-force twin (``use_index=False``);
- ``evaluate_batch`` == ``evaluate`` row by row, and ``explain_batch`` == the reference's Responses;
- a request without the context keys no policy reads (``Engine.context_keys``) gets the same reference Response;
- an engine after save/load and after pickling == the original.
"""
from __future__ import annotations

import pickle
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexauthz.decision import Decision
from lexauthz.engine import Engine, compile_applicable
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Context, Request

from strategies import bundles, policy_sets, random_request, requests

#: Generated requests per policy bundle (plus the few hypothesis draws).
REQUESTS_PER_BUNDLE = 150

_SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _columns(reqs):
    return ([r.principal for r in reqs], [r.action for r in reqs], [r.resource for r in reqs],
            [r.context for r in reqs], [r.resource_account for r in reqs])


def _check_fast_paths(engine, reqs, wants):
    """encode + evaluate_batch, a second (cached) evaluate_batch and is_allowed all give the reference decisions."""
    p, a, r, c, acct = _columns(reqs)
    encoded = engine.encode(p, a, r, c, resource_accounts=acct)
    assert [Decision(int(x)) for x in engine.evaluate_batch(encoded)] == wants
    assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c, resource_accounts=acct)] == wants
    for req, want in zip(reqs, wants):
        if req.resource_account is None:
            got = engine.is_allowed(req.principal, req.action, req.resource, req.context)
            assert got == (want == Decision.ALLOW), _explain(req, want, got)


def _check_unread_keys(engine, reqs, responses, evaluate):
    """Leaving out the context keys that no policy reads changes no reference Response."""
    reads = engine.context_keys
    assert all(k == k.lower() for k in reads)
    for req, want in zip(reqs, responses):
        kept = {k: v for k, v in req.context.to_dict().items() if k.lower() in reads}
        if len(kept) < len(req.context):
            less = Request(req.principal, req.action, req.resource, req.resource_account, Context(kept))
            assert evaluate(less) == want, _explain(less, want, evaluate(less))


def _explain(req, want, got):
    return f"request={req.to_dict()}\nreference={want}\ncompiled={got}"


@_SLOW
@given(bundles(), st.integers(0, 2**32 - 1), st.lists(requests(), max_size=3))
def test_compiled_equals_reference(bundle, seed, drawn):
    engine = compile_applicable(bundle)
    twin = compile_applicable(bundle, use_index=False)
    rng = random.Random(seed)
    reqs = list(drawn) + [random_request(rng) for _ in range(REQUESTS_PER_BUNDLE)]
    wants = []
    for req in reqs:
        want = reference_evaluate(req, bundle)
        got = engine.evaluate(req)
        assert got == want, _explain(req, want, got)
        wants.append(want.decision)
    p, a, r, c, acct = _columns(reqs)
    batch = engine.evaluate_batch(p, a, r, c, resource_accounts=acct)
    assert [Decision(int(x)) for x in batch] == wants
    twin_batch = twin.evaluate_batch(p, a, r, c, resource_accounts=acct)
    assert [Decision(int(x)) for x in twin_batch] == wants
    _check_fast_paths(engine, reqs, wants)
    _check_fast_paths(twin, reqs, wants)
    responses = [reference_evaluate(req, bundle) for req in reqs]
    assert engine.explain_batch(p, a, r, c, resource_accounts=acct) == responses
    assert twin.explain_batch(p, a, r, c, resource_accounts=acct) == responses
    _check_unread_keys(engine, reqs, responses, lambda req: reference_evaluate(req, bundle))
    # The twin's full responses on a sample.
    for req in reqs[:20]:
        assert twin.evaluate(req) == reference_evaluate(req, bundle)


@_SLOW
@given(bundles(), st.integers(0, 2**32 - 1))
def test_saved_and_pickled_engine_equals_original(bundle, seed):
    engine = compile_applicable(bundle)
    loaded = Engine.from_bytes(engine.to_bytes())
    unpickled = pickle.loads(pickle.dumps(engine))
    rng = random.Random(seed)
    for _ in range(30):
        req = random_request(rng)
        want = engine.evaluate(req)
        assert loaded.evaluate(req) == want
        assert unpickled.evaluate(req) == want
    assert loaded.revision == engine.revision


# -- policy sets: principals, groups, tags, resources, SCPs --------------------------------------------------------


@_SLOW
@given(policy_sets(), st.integers(0, 2**32 - 1))
def test_policy_set_engine_equals_reference(ps, seed):
    engine = ps.compile()
    rng = random.Random(seed)
    reqs = [random_request(rng) for _ in range(REQUESTS_PER_BUNDLE // 2)]
    wants = []
    for req in reqs:
        want = reference_evaluate(ps.enrich(req), ps.applicable(req))
        got = engine.evaluate(req)
        assert got == want, _explain(req, want, got)
        wants.append(want.decision)
    p, a, r, c, acct = _columns(reqs)
    assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c, resource_accounts=acct)] == wants
    _check_fast_paths(engine, reqs, wants)
    responses = [reference_evaluate(ps.enrich(req), ps.applicable(req)) for req in reqs]
    assert engine.explain_batch(p, a, r, c, resource_accounts=acct) == responses
    _check_unread_keys(engine, reqs, responses, lambda req: reference_evaluate(ps.enrich(req), ps.applicable(req)))
    loaded = Engine.from_bytes(engine.to_bytes())
    for req in reqs[:10]:
        assert loaded.evaluate(req) == engine.evaluate(req)
