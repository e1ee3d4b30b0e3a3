"""The peer comparison: lexauthz against Cedar (cedarpy, sliced per principal) and the reference evaluator on the
same workload in the same process (group ``peers``).

Each round times every engine on the same requests, one after the other; the ratio of a round is (peer time per
query) / (lexauthz time per query), and the figure reported is the median ratio over rounds.  Cedar gets the fair
setup: its policy set is sliced per principal (it only sees the principal's own policies), the slices and entity
handles are parsed before timing, and the requests are pre-translated and pre-grouped by principal, so the timed
part is ``cedarpy.is_authorized_batch`` per principal group (``is_authorized`` per call for single calls).  That
translation work is not charged to Cedar; the lexauthz timings include all of its own string handling.
"""
import time

import numpy as np
import pytest

from benchmarks.conftest import N_PEER, SUMMARY

ROUNDS = 5
N_REFERENCE = 2000


def _median_ratio(times: dict, base: str) -> dict:
    return {k: round(float(np.median([p / b for p, b in zip(v, times[base])])), 2) for k, v in times.items()
            if k != base}


@pytest.mark.benchmark(group="peers")
def test_peers_batch(benchmark, workload, engine, policy_set, cedar_workload, cedar_requests, agreed):
    import cedarpy

    from lexauthz import reference
    from lexauthz.request import Request

    n = min(N_PEER, len(workload.requests))
    r = workload.requests.head(n)
    groups: dict = {}
    for i, p in enumerate(r.principals):
        groups.setdefault(p, []).append(cedar_requests[i])
    work = [(cedar_workload.slice(p), reqs) for p, reqs in groups.items()]

    def run_engine():
        engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)

    def run_cedar():
        for (ps, ents, _), reqs in work:
            cedarpy.is_authorized_batch(reqs, ps, ents)

    # The reference has no batch form: it decides the first N_REFERENCE requests one by one each round.
    ref_reqs = [Request(p, a, res, None, c) for p, a, res, c in r.head(min(n, N_REFERENCE)).rows()]

    def run_reference():
        for q in ref_reqs:
            reference.evaluate(policy_set.enrich(q), policy_set.applicable(q))

    sizes = {"lexauthz": n, "cedarpy": n, "reference": len(ref_reqs)}
    times = {"lexauthz": [], "cedarpy": [], "reference": []}
    for _ in range(ROUNDS):
        for name, fn in (("lexauthz", run_engine), ("cedarpy", run_cedar), ("reference", run_reference)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / sizes[name])
    benchmark.pedantic(run_engine, rounds=1)
    ratios = _median_ratio(times, "lexauthz")
    benchmark.extra_info.update(n_queries=n, rounds=ROUNDS,
                                ns_per_query={k: round(float(np.median(v)) * 1e9, 1) for k, v in times.items()},
                                speedup_vs=ratios)
    SUMMARY["peers batch ns/query"] = benchmark.extra_info["ns_per_query"]
    SUMMARY["peers batch lexauthz speed-up (median of per-round ratios)"] = ratios


@pytest.mark.benchmark(group="peers")
def test_peers_single(benchmark, workload, engine, policy_set, cedar_workload, cedar_requests, agreed):
    import cedarpy

    from lexauthz import reference
    from lexauthz.request import Request

    n = 1000
    rows = list(workload.requests.head(n).rows())
    creqs = [(cedar_workload.slice(p), cedar_requests[i]) for i, (p, _, _, _) in enumerate(rows)]
    reqs = [Request(p, a, res, None, c) for p, a, res, c in rows]
    ps = policy_set
    is_allowed = engine.is_allowed

    def run_engine():
        for p, a, res, c in rows:
            is_allowed(p, a, res, c)

    def run_cedar():
        for (cps, ents, _), q in creqs:
            cedarpy.is_authorized(q, cps, ents)

    def run_reference():
        for q in reqs:
            reference.evaluate(ps.enrich(q), ps.applicable(q))

    times = {"lexauthz": [], "cedarpy": [], "reference": []}
    for _ in range(ROUNDS):
        for name, fn in (("lexauthz", run_engine), ("cedarpy", run_cedar), ("reference", run_reference)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / n)
    benchmark.pedantic(run_engine, rounds=1)
    ratios = _median_ratio(times, "lexauthz")
    benchmark.extra_info.update(n_queries=n, rounds=ROUNDS,
                                ns_per_query={k: round(float(np.median(v)) * 1e9, 1) for k, v in times.items()},
                                speedup_vs=ratios)
    SUMMARY["peers single ns/call"] = benchmark.extra_info["ns_per_query"]
    SUMMARY["peers single lexauthz speed-up (median of per-round ratios)"] = ratios
