"""Compile time and index size against the number of statements (group ``compile``), and the layered workload
(resource-based policies, permissions boundaries, SCPs) decided in batch against the reference (group ``layered``).
"""
import pytest

from benchmarks import cedar, generate
from benchmarks.conftest import SCALE, SUMMARY, per_query


@pytest.fixture(scope="module", params=SCALE, ids=lambda n: f"{n}stmts")
def scaled(request):
    import gc

    w = generate.scaling_workload(request.param, n_requests=5000)
    ps = w.policy_set()
    # Generating 10^6 statements leaves millions of new objects and a full collection due; without this it runs
    # inside the first timed compile (2.5 s at 10^6), which would time the generator's heap, not the compile.
    gc.collect()
    return w, ps


@pytest.mark.benchmark(group="compile")
def test_compile(benchmark, scaled):
    w, ps = scaled
    rounds = 1 if w.n_statements >= 50_000 else 3
    engine = benchmark.pedantic(ps.compile, rounds=rounds, warmup_rounds=0 if rounds == 1 else 1)
    n = engine.n_statements
    benchmark.extra_info.update(n_statements=n, n_attached_statements=w.n_statements, n_principals=len(w.principals),
                                index_bytes=engine.index_bytes,
                                index_bytes_per_statement=round(engine.index_bytes / max(1, n), 1))
    # The compiled engine must still be the reference's twin at this size.
    r = w.requests.head(300)
    got = engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts).tolist()
    ref = cedar.reference_decisions(w, r, ps)
    assert got == ref
    SUMMARY[f"compile {w.n_statements} attached statements"] = (
        f"{benchmark.stats.stats.median:.3f} s, {n} compiled statements, "
        f"{engine.index_bytes / max(1, n):.0f} index bytes/statement")


KEY = bytes(range(32))


@pytest.mark.benchmark(group="load")
@pytest.mark.parametrize("how", ["checked", "sealed", "trusted"])
def test_load_saved_engine(benchmark, scaled, how):
    """``Engine.from_bytes`` of the saved engine, against compiling it (``load_vs_compile`` in ``extra_info``, the
    ratio of the medians): ``checked`` is the default load (it compiles the file's policies again), ``sealed`` a
    file sealed with a key and loaded with it, ``trusted`` ``verify=False``."""
    import statistics
    import time

    from lexauthz import Engine

    w, ps = scaled
    small = w.n_statements < 50_000
    # Below 50,000 statements a load takes well under 10 ms, where five rounds leave the median to chance (one
    # round with a cold allocator moves it by a tenth): both sides of the ratio take more rounds there.
    compiles = []
    for _ in range(7 if small else 3):
        t0 = time.perf_counter()
        engine = ps.compile()
        compiles.append(time.perf_counter() - t0)
    compile_s = statistics.median(compiles)
    data = engine.to_bytes(key=KEY if how == "sealed" else None)
    kwargs = {"checked": {}, "sealed": {"key": KEY}, "trusted": {"verify": False}}[how]
    rounds = (25 if small else 5) if how != "checked" else (3 if small else 1)
    loaded = benchmark.pedantic(Engine.from_bytes, args=(data,), kwargs=kwargs, rounds=rounds,
                                warmup_rounds=0 if rounds == 1 else 2)
    r = w.requests.head(300)
    assert (loaded.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)
            == engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)).all()
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(n_statements=engine.n_statements, file_bytes=len(data),
                                compile_seconds=round(compile_s, 4), load_vs_compile=round(compile_s / median, 1))
    SUMMARY[f"load ({how}) {w.n_statements} attached statements"] = (
        f"{median:.4f} s from {len(data):,} bytes; compiling took {compile_s:.4f} s ({compile_s / median:.1f}x)")


@pytest.fixture(scope="module")
def layered():
    w = generate.layered_workload()
    ps = w.policy_set()
    return w, ps, ps.compile()


@pytest.mark.benchmark(group="layered")
def test_layered_batch(benchmark, layered):
    w, ps, engine = layered
    r = w.requests
    got = engine.evaluate_batch(r.principals, r.actions, r.resources, r.contexts)
    ref = cedar.reference_decisions(w, r, ps)
    bad = cedar.agreement({"reference": ref, "engine": got}, r)
    SUMMARY["layered agreement"] = f"{len(r) - len(bad)}/{len(r)} requests agree between reference and engine"
    assert not bad, "\n".join(str(d) for d in bad[:10])
    benchmark.pedantic(engine.evaluate_batch, args=(r.principals, r.actions, r.resources, r.contexts), rounds=3)
    per_query(benchmark, len(r), n_statements=engine.n_statements, hit_rate=round(float((got == 1).mean()), 4))


@pytest.mark.benchmark(group="layered")
def test_layered_reference(benchmark, layered):
    from lexauthz import reference
    from lexauthz.request import Request

    w, ps, _ = layered
    reqs = [Request(p, a, r, None, c) for p, a, r, c in w.requests.head(500).rows()]

    def run():
        for q in reqs:
            reference.evaluate(ps.enrich(q), ps.applicable(q))

    benchmark.pedantic(run, rounds=3)
    per_query(benchmark, len(reqs))
