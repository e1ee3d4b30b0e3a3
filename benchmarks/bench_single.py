"""Single-call latency: ``Engine.is_allowed`` with strings (group ``single``).

A loop over a stream of different requests (never one request in a tight loop); the figure is the median round
divided by the number of calls, so it includes the Python call overhead, which dominates single calls.
"""
import pytest

from benchmarks.conftest import per_query

N_CALLS = 2000


@pytest.mark.benchmark(group="single")
def test_is_allowed(benchmark, workload, engine, agreed):
    rows = list(workload.requests.head(N_CALLS).rows())
    is_allowed = engine.is_allowed

    def run():
        for p, a, r, c in rows:
            is_allowed(p, a, r, c)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    per_query(benchmark, len(rows), n_statements=engine.n_statements)


@pytest.mark.benchmark(group="single")
def test_evaluate_request(benchmark, workload, engine, agreed):
    """``Engine.evaluate`` with a built :class:`Request`: the full Response with matched statements."""
    from lexauthz.request import Request

    reqs = [Request(p, a, r, None, c) for p, a, r, c in workload.requests.head(N_CALLS // 4).rows()]
    evaluate = engine.evaluate

    def run():
        for q in reqs:
            evaluate(q)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    per_query(benchmark, len(reqs), n_statements=engine.n_statements)
