"""The reference evaluator: the baseline that makes the engine's speed-up legible (group ``reference``).

Each call resolves the request against the policy set (``PolicySet.applicable`` and ``enrich``) and evaluates it,
which is the work the engine does per request too.
"""
import pytest

from benchmarks.conftest import per_query

N_CALLS = 1000


@pytest.mark.benchmark(group="reference")
def test_reference_evaluate(benchmark, workload, policy_set, agreed):
    from lexauthz import reference
    from lexauthz.request import Request

    reqs = [Request(p, a, r, None, c) for p, a, r, c in workload.requests.head(N_CALLS).rows()]
    ps = policy_set

    def run():
        for q in reqs:
            reference.evaluate(ps.enrich(q), ps.applicable(q))

    benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    per_query(benchmark, len(reqs), n_statements=workload.n_statements)
