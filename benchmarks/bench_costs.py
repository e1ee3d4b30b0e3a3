"""What a request's shape costs (group ``costs``): contexts, unseen strings and more threads than cores.

- contexts: the same rows with no context, the workload's one-key contexts, a two-key dict with one content for
  every row, and a two-key dict per row with about 8,000 distinct contents built fresh (as a gateway parses them);
  for batches and ``is_allowed``, each against the no-context figure of the same test (``added_ns`` in
  ``extra_info``);
- unseen strings: a string batch where each round 10 % of the rows carry a principal ARN and 10 % a resource ARN
  the engine has never seen (fresh per round), against the warm batch (``slowdown``);
- threads: the rows split over 4 threads on one engine, strings and pre-encoded (``thread_speedup``, the
  median over rounds of one thread's time over 4 threads' time; two threads are in ``bench_batch.py``; 4 threads
  oversubscribe a 2-core machine).

The group runs on its own engine, so what it feeds the engine's caches leaves the other groups' engine as it was.
"""
import statistics
import time

import numpy as np
import pytest

from benchmarks.bench_batch import thread_speedup
from benchmarks.conftest import per_query

N_ROWS = 100_000
N_CALLS = 2000


@pytest.fixture(scope="module")
def costs_engine(policy_set):
    """This group's own engine (compiled from the session's policy set): the unseen strings it is fed must not grow
    the caches of the engine the other groups time."""
    return policy_set.compile()


def _contexts(workload, kind):
    r = workload.requests
    if kind == "none":
        return [None] * len(r)
    if kind == "suite":
        return list(r.contexts)
    if kind == "two-keys-one-content":
        return [{"aws:ResourceTag/team": "Team1", "aws:PrincipalTag/team": "Team2"} for _ in r.contexts]
    # fresh dicts, about 8,000 distinct contents (resource tag x principal tag)
    return [{"aws:ResourceTag/team": (c or {}).get("aws:ResourceTag/team", "none"),
             "aws:PrincipalTag/team": "Team%d" % (i % 50)} for i, c in enumerate(r.contexts)]


def _median_time(fn, rounds):
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


KINDS = ["none", "suite", "two-keys-one-content", "two-keys-distinct"]


@pytest.mark.benchmark(group="costs")
@pytest.mark.parametrize("kind", KINDS)
def test_batch_context(benchmark, workload, costs_engine, agreed, kind):
    engine = costs_engine
    r = workload.requests.head(N_ROWS)
    ctx = _contexts(workload, kind)[:len(r)]
    none = [None] * len(r)
    out = np.empty(len(r), dtype=np.uint8)
    engine.evaluate_batch(r.principals, r.actions, r.resources, none, out=out)
    base = _median_time(lambda: engine.evaluate_batch(r.principals, r.actions, r.resources, none, out=out), 5)
    benchmark.pedantic(engine.evaluate_batch, args=(r.principals, r.actions, r.resources, ctx),
                       kwargs={"out": out}, rounds=5, warmup_rounds=1)
    per_query(benchmark, len(r), kind=kind)
    benchmark.extra_info["added_ns"] = round((benchmark.stats.stats.median - base) / len(r) * 1e9, 1)


@pytest.mark.benchmark(group="costs")
@pytest.mark.parametrize("kind", KINDS)
def test_is_allowed_context(benchmark, workload, costs_engine, agreed, kind):
    engine = costs_engine
    r = workload.requests.head(N_CALLS * 10)
    ctx = _contexts(workload, kind)[:len(r)]
    rows = list(zip(r.principals, r.actions, r.resources, ctx))
    bare = [(p, a, res, None) for p, a, res, _ in rows]
    is_allowed = engine.is_allowed

    def loop(rs):
        for p, a, res, c in rs:
            is_allowed(p, a, res, c)

    loop(bare)
    base = _median_time(lambda: loop(bare), 5)
    benchmark.pedantic(loop, args=(rows,), rounds=5, warmup_rounds=1)
    per_query(benchmark, len(rows), kind=kind)
    benchmark.extra_info["added_ns"] = round((benchmark.stats.stats.median - base) / len(rows) * 1e9, 1)


@pytest.mark.benchmark(group="costs")
def test_batch_unseen_strings(benchmark, workload, costs_engine, agreed):
    engine = costs_engine
    r = workload.requests.head(N_ROWS)
    n = len(r)
    out = np.empty(n, dtype=np.uint8)
    warm = _median_time(lambda: engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts, out=out), 5)
    rng = np.random.default_rng(7)
    rounds = iter(range(10**9))

    def fresh():
        k = next(rounds)
        ps, rs = list(r.principals), list(r.resources)
        for j, i in enumerate(rng.choice(n, n // 5, replace=False).tolist()):
            if j % 2:
                rs[i] = f"{rs[i]}-unseen{k}x{j}"
            else:
                ps[i] = f"{ps[i]}-unseen{k}x{j}"
        return (ps, r.actions, rs, r.contexts), {"out": out}

    benchmark.pedantic(engine.evaluate_batch, setup=fresh, rounds=5)
    per_query(benchmark, n, unseen_fraction=0.2)
    benchmark.extra_info["warm_ns_per_query"] = round(warm / n * 1e9, 1)
    benchmark.extra_info["slowdown"] = round(benchmark.stats.stats.median / warm, 2)


def _split(seq, k):
    n = len(seq)
    return [seq[i * n // k:(i + 1) * n // k] for i in range(k)]


@pytest.mark.benchmark(group="costs")
@pytest.mark.parametrize("threads", [4])
@pytest.mark.parametrize("form", ["strings", "encoded"])
def test_threads(benchmark, workload, costs_engine, agreed, threads, form):
    engine = costs_engine
    r = workload.requests.head(N_ROWS)
    cols = [r.principals, r.actions, r.resources, r.contexts]
    if form == "strings":
        parts = list(zip(*(_split(c, threads) for c in cols)))
        passes = 1

        def one(part):
            engine.evaluate_batch(*part)
    else:
        parts = [engine.encode(*p) for p in zip(*(_split(c, threads) for c in cols))]
        passes = 4

        def one(part):
            for _ in range(passes):
                engine.evaluate_batch(part)

    for p in parts:  # each part decided once before timing
        one(p)
    speedup = thread_speedup(benchmark, one, parts, rounds=5)
    per_query(benchmark, len(r) * passes, threads=threads, form=form)
    benchmark.extra_info["thread_speedup"] = speedup
