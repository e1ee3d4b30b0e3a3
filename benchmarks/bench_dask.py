"""Bulk runs on a local Dask cluster of 2 worker processes against one process (group ``dask``).

- ``replay``: :func:`lexauthz.analysis.replay.replay` over the trail files of ``bench_replay`` (decode, translate,
  group, decide; ``LEXAUTHZ_BENCH_REPLAY_FILES`` x ``LEXAUTHZ_BENCH_REPLAY_PER_FILE`` events, default 10^5; the
  issue's size is 10^4 x 1,000), in one process and with the files cut into slices for the workers;
- ``matrix_compressed``: the what-if issue's matrix through class compression, one process and on the workers;
- ``matrix``: the uncompressed access matrix (every cell decided) of ``bench_analysis``'s account on a slice of
  ``LEXAUTHZ_BENCH_DASK_CELLS`` cells (default about 3 x 10^6), in one process and on the workers;
- ``LEXAUTHZ_BENCH_DASK_ROUNDS`` (default 3) rounds of each (1 is enough at 10^7 events).

The speed-up of each pair is in the summary.  Each Dask round includes shipping the engines to the workers (one
load per worker and run), the cluster's start does not: it is started once, as a user's cluster is.  On this
machine's 2 cores the workers compete with the client process that merges their results.
"""
from __future__ import annotations

import os
import resource

import pytest

from benchmarks.bench_analysis import build_account
from benchmarks.bench_replay import accounts, trail  # noqa: F401 - the shared fixtures
from benchmarks.conftest import SUMMARY

pytest.importorskip("distributed")

CELLS = int(os.environ.get("LEXAUTHZ_BENCH_DASK_CELLS", "3000000"))
ROUNDS = int(os.environ.get("LEXAUTHZ_BENCH_DASK_ROUNDS", "3"))
_TIMES: dict = {}


@pytest.fixture(scope="module")
def backend():
    from lexauthz.analysis.dask_backend import DaskBackend

    with DaskBackend.local(2) as be:
        yield be


def _speedup(name: str) -> None:
    one, two = _TIMES.get((name, "one")), _TIMES.get((name, "dask"))
    if one and two:
        SUMMARY.setdefault("dask", {})[f"{name}_speedup_2_workers"] = round(one / two, 2)


@pytest.mark.parametrize("where", ["one", "dask"])
def test_replay_trails(benchmark, trail, accounts, backend, where):  # noqa: F811 - fixtures
    from lexauthz.analysis.replay import replay

    root, paths = trail
    acct = accounts["time-read"]
    be = backend if where == "dask" else None
    benchmark.group = "dask"
    out = benchmark.pedantic(lambda: replay(acct, trails=[root], backend=be), rounds=ROUNDS, iterations=1)
    assert out.summary["events"] == len(paths) * int(os.environ.get("LEXAUTHZ_BENCH_REPLAY_PER_FILE", "1000"))
    med = benchmark.stats.stats.median
    rate = out.summary["events"] / med
    # the client's peak resident memory so far (the workers are other processes): flat in the log size when the
    # trails stream
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update({"events": out.summary["events"], "files": len(paths), "events_per_s": round(rate),
                                 "distinct_requests": out.summary["distinct_requests"], "client_max_rss_mb": round(rss)})
    SUMMARY.setdefault("dask", {})[f"replay_{where}_client_max_rss_mb"] = round(rss)
    SUMMARY.setdefault("dask", {})[f"replay_{where}_events_per_s"] = round(rate)
    _TIMES[("replay", where)] = med
    _speedup("replay")


@pytest.fixture(scope="module")
def matrix_full():
    """The what-if issue's account and matrix space (built once for both matrix benchmarks)."""
    from lexauthz.analysis import resolve_space

    acc, _ = build_account(1000, 10000)
    acc.engine()
    return acc, resolve_space({"principals": ["known"], "actions": ["lex:*"], "contexts": [{}]}, [acc])


@pytest.fixture(scope="module")
def matrix_slice(matrix_full):
    from lexauthz.analysis import Space

    acc, space = matrix_full
    n_r = max(1, min(len(space.resources), CELLS // (len(space.actions) * 100)))
    return acc, Space(space.principals[:100], space.actions, space.resources[:n_r], space.contexts)


@pytest.mark.parametrize("where", ["one", "dask"])
def test_matrix_uncompressed(benchmark, matrix_slice, backend, where):
    from lexauthz.analysis.matrix import matrix

    acc, part = matrix_slice
    be = backend if where == "dask" else None
    benchmark.group = "dask"
    m = benchmark.pedantic(lambda: matrix(acc, part, compress=False, backend=be), rounds=ROUNDS, iterations=1)
    med = benchmark.stats.stats.median
    rate = part.cells / med
    benchmark.extra_info.update({"cells": part.cells, "cells_per_s": round(rate), "allowed": m.counts()["allowed"]})
    SUMMARY.setdefault("dask", {})[f"matrix_{where}_cells_per_s"] = round(rate)
    _TIMES[("matrix", where)] = med
    _speedup("matrix")


@pytest.mark.parametrize("where", ["one", "dask"])
def test_matrix_compressed(benchmark, matrix_full, backend, where):
    """The what-if issue's matrix (1,000 principals x 152 actions x 10,000 resources) through class compression:
    the classes are found in the client, only the class representatives' cube is decided on the workers."""
    from lexauthz.analysis.matrix import matrix

    acc, space = matrix_full
    be = backend if where == "dask" else None
    benchmark.group = "dask"
    m = benchmark.pedantic(lambda: matrix(acc, space, backend=be), rounds=ROUNDS, iterations=1)
    med = benchmark.stats.stats.median
    benchmark.extra_info.update({"cells": space.cells, "evaluated": m.class_counts()["evaluated"],
                                 "seconds": round(med, 3)})
    SUMMARY.setdefault("dask", {})[f"matrix_compressed_{where}_s"] = round(med, 3)
    _TIMES[("matrix_compressed", where)] = med
    _speedup("matrix_compressed")
