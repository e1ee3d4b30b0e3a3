"""Shared fixtures: the workload, the compiled engine, Cedar's translation, and the agreement check.

Sizes come from the environment so a quick run is one variable away:

- ``LEXAUTHZ_BENCH_REQUESTS`` (default 100000): requests in the stream.
- ``LEXAUTHZ_BENCH_SCALE`` (default ``100,1000,10000,100000``): statement counts of the compile series.
- ``LEXAUTHZ_BENCH_PEER_REQUESTS`` (default 20000): requests per round in the peer comparison.

Every request's decision is checked to agree between the reference evaluator, the engine and Cedar (sliced) before
anything is timed; a disagreement fails the run with the first few requests that differ.
"""
from __future__ import annotations

import os
import platform
import time

import pytest

from benchmarks import cedar, generate

N_REQUESTS = int(os.environ.get("LEXAUTHZ_BENCH_REQUESTS", "100000"))
N_PEER = int(os.environ.get("LEXAUTHZ_BENCH_PEER_REQUESTS", "20000"))
SCALE = tuple(int(x) for x in os.environ.get("LEXAUTHZ_BENCH_SCALE", "100,1000,10000,100000").split(","))

#: Facts the terminal summary prints at the end (ratios, agreement counts).
SUMMARY: dict = {}


def pytest_report_header(config):
    import numpy

    from importlib.metadata import PackageNotFoundError, version

    try:
        cv = version("cedarpy")
    except PackageNotFoundError:  # pragma: no cover - cedarpy is in the `bench` extra
        cv = "not installed"
    return (f"lexauthz benchmarks: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
            f"python {platform.python_version()}, numpy {numpy.__version__}, cedarpy {cv}; "
            f"requests={N_REQUESTS} peer_requests={N_PEER} scale={SCALE}")


def pytest_terminal_summary(terminalreporter):
    if not SUMMARY:
        return
    terminalreporter.section("lexauthz benchmark summary")
    for k in sorted(SUMMARY):
        terminalreporter.write_line(f"{k}: {SUMMARY[k]}")


def per_query(benchmark, n: int, **extra) -> None:
    """Record the workload and per-query figures (from the median round) in ``benchmark.extra_info``."""
    med = benchmark.stats.stats.median
    benchmark.extra_info.update(extra)
    benchmark.extra_info["n_queries"] = n
    benchmark.extra_info["ns_per_query"] = round(med / n * 1e9, 1)
    benchmark.extra_info["queries_per_sec"] = round(n / med, 1)


@pytest.fixture(scope="session")
def workload():
    """The issue's workload: 1,000 principals, 50 teams, ``N_REQUESTS`` requests (seeded)."""
    return generate.lex_workload(n_requests=N_REQUESTS)


@pytest.fixture(scope="session")
def policy_set(workload):
    return workload.policy_set()


@pytest.fixture(scope="session")
def engine(policy_set):
    return policy_set.compile()


@pytest.fixture(scope="session")
def hit_rate(workload, engine):
    r = workload.requests
    out = engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)
    return float((out == 1).mean())


@pytest.fixture(scope="session")
def cedar_workload(workload):
    pytest.importorskip("cedarpy")
    return cedar.translate(workload)


@pytest.fixture(scope="session")
def cedar_requests(cedar_workload, workload):
    return cedar_workload.requests(workload.requests)


@pytest.fixture(scope="session")
def agreed(workload, policy_set, engine, cedar_workload, cedar_requests):
    """Every request decided by the reference, the engine and Cedar; fails on any disagreement."""
    r = workload.requests
    t0 = time.perf_counter()
    decisions = {
        "reference": cedar.reference_decisions(workload, r, policy_set),
        "engine": engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts).tolist(),
        "cedar": cedar.cedar_decisions(cedar_workload, r, cedar_requests),
    }
    bad = cedar.agreement(decisions, r)
    SUMMARY["agreement"] = (f"{len(r) - len(bad)}/{len(r)} requests agree between reference, engine and cedarpy "
                            f"(checked in {time.perf_counter() - t0:.1f} s)")
    if bad:
        pytest.fail("engines disagree:\n" + "\n".join(str(d) for d in bad[:10]), pytrace=False)
    return decisions
