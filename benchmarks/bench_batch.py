"""Batch throughput: ``Engine.evaluate_batch`` over the whole request stream (group ``batch``).

The headline number.  Strings in, ``uint8`` decisions out; ``queries_per_sec`` in ``extra_info``.  The pre-encoded
form (interned id columns, ``Engine.encode``) is timed when the engine offers it, and two threads sharing one
engine are compared with one thread on the same rows.
"""
import threading
import time

import numpy as np
import pytest

from benchmarks.conftest import SUMMARY, per_query


@pytest.mark.benchmark(group="batch")
def test_evaluate_batch_strings(benchmark, workload, engine, hit_rate, agreed):
    r = workload.requests
    out = np.empty(len(r), dtype=np.uint8)
    benchmark.pedantic(engine.evaluate_batch, args=(r.principals, r.actions, r.resources, r.contexts),
                       kwargs={"out": out}, rounds=3, warmup_rounds=1)
    per_query(benchmark, len(r), n_statements=engine.n_statements, hit_rate=round(hit_rate, 4))
    SUMMARY["batch strings"] = f"{benchmark.extra_info['queries_per_sec']:,.0f} queries/s"


@pytest.mark.benchmark(group="batch")
def test_evaluate_batch_encoded(benchmark, workload, engine, hit_rate, agreed):
    if not hasattr(engine, "encode"):
        SUMMARY["batch pre-encoded"] = "not measured: the engine has no `encode`"
        pytest.skip("the engine has no `encode` (pre-encoded batches)")
    r = workload.requests
    batch = engine.encode(r.principals, r.actions, r.resources, r.contexts)
    expected = engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)
    assert (engine.evaluate_batch(batch) == expected).all()
    benchmark.pedantic(engine.evaluate_batch, args=(batch,), rounds=5, warmup_rounds=1)
    per_query(benchmark, len(r), n_statements=engine.n_statements, hit_rate=round(hit_rate, 4))
    SUMMARY["batch pre-encoded"] = f"{benchmark.extra_info['queries_per_sec']:,.0f} queries/s"


def thread_speedup(benchmark, one, parts, *, rounds: int) -> float:
    """Time ``one(part)`` for every part at once, one thread per part (the benchmarked call), and return the median
    over ``rounds`` of (the parts one after the other on one thread) / (all at once); ``len(parts)`` is perfect
    scaling."""

    def all_threads():
        ts = [threading.Thread(target=one, args=(p,)) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    ratios = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in parts:
            one(p)
        t1 = time.perf_counter()
        all_threads()
        t2 = time.perf_counter()
        ratios.append((t1 - t0) / (t2 - t1))
    benchmark.pedantic(all_threads, rounds=3, warmup_rounds=0)
    return round(float(np.median(ratios)), 3)


@pytest.mark.benchmark(group="batch")
def test_evaluate_batch_two_threads(benchmark, workload, engine, agreed):
    """Two threads, each deciding half the rows on one shared engine, against one thread deciding all of them
    (``thread_speedup`` in ``extra_info``)."""
    r = workload.requests
    half = len(r) // 2
    parts = [r.head(half), type(r)(r.principals[half:], r.actions[half:], r.resources[half:], r.contexts[half:])]

    def one(part):
        engine.evaluate_batch(part.principals, part.actions, part.resources, part.contexts)

    speedup = thread_speedup(benchmark, one, parts, rounds=3)
    per_query(benchmark, len(r), threads=2)
    benchmark.extra_info["thread_speedup"] = speedup
    SUMMARY["two threads / one thread"] = f"{speedup:.2f}x"


@pytest.mark.benchmark(group="batch")
def test_evaluate_batch_encoded_two_threads(benchmark, workload, engine, agreed):
    """As above over pre-encoded halves (``Engine.encode``): the whole decision runs without the GIL."""
    if not hasattr(engine, "encode"):
        pytest.skip("the engine has no `encode` (pre-encoded batches)")
    r = workload.requests
    half = len(r) // 2
    parts = [engine.encode(r.principals[:half], r.actions[:half], r.resources[:half], r.contexts[:half]),
             engine.encode(r.principals[half:], r.actions[half:], r.resources[half:], r.contexts[half:])]
    repeat = 10  # a pre-encoded half takes a few milliseconds: time ten passes per thread

    def one(part):
        for _ in range(repeat):
            engine.evaluate_batch(part)

    speedup = thread_speedup(benchmark, one, parts, rounds=5)
    per_query(benchmark, len(r) * repeat, threads=2)
    benchmark.extra_info["thread_speedup"] = speedup
    SUMMARY["two threads / one thread, pre-encoded"] = f"{speedup:.2f}x"
