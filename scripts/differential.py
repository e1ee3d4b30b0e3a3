#!/usr/bin/env python
"""Differential run on demand: the compiled engine against the reference evaluator over many generated requests.

    PYTHONPATH=. python scripts/differential.py --requests 10000000 --workers 2

Policy bundles come from the property-test strategies (``tests/property/strategies.py``), drawn by hypothesis in
generate-only mode (no shrinking, no example database), one seed per worker; each bundle is compiled once and checked
against ``--per-bundle`` generated requests:

- every request: the reference decision and matched statements (as a set of (policy type, policy, index)) against
  the kernel's decision and matched statements for that request (``Core.explain_rows``);
- every request: the decision of ``Engine.evaluate_batch`` over the string columns (the per-engine entry path), and
  of the same columns split over two threads on a second engine of the bundle;
- every request: the whole ``Response`` of ``Engine.explain_batch`` against the reference;
- every ``--full-every``-th request: the whole ``Response`` of ``Engine.evaluate`` and ``Engine.is_allowed``
  against the reference;
- every tenth bundle: the same batch through the engine saved and loaded again (the saved format, lazily decoded).

Prints one line per worker and a total; exits 1 on any difference, printing the first few.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "property"))


def _work(job):
    worker, n_requests, per_bundle, full_every = job
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from strategies import bundles, random_request

    from lexauthz.decision import Decision
    from lexauthz.engine import Engine, compile_applicable
    from lexauthz.reference import evaluate as reference_evaluate

    stats = {"requests": 0, "full": 0, "bundles": 0, "differences": []}
    n_bundles = max(1, n_requests // per_bundle)

    @seed(1000 + worker)
    @settings(max_examples=n_bundles, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(bundles(), st.integers(0, 2**32 - 1))
    def run(bundle, req_seed):
        if stats["requests"] >= n_requests:
            return
        engine = compile_applicable(bundle)
        core = engine._core
        plan = core.plan
        rng = random.Random(req_seed)
        reqs = [random_request(rng) for _ in range(per_bundle)]
        cols = ([r.principal for r in reqs], [r.action for r in reqs], [r.resource for r in reqs],
                [r.context for r in reqs], [r.resource_account for r in reqs])
        batch = engine.evaluate_batch(*cols[:4], resource_accounts=cols[4])
        threaded = _two_threads(compile_applicable(bundle), cols)
        explained = engine.explain_batch(*cols[:4], resource_accounts=cols[4])
        found_rows = core.explain_rows(*cols)
        loaded = None
        if stats["bundles"] % 10 == 0:
            loaded = Engine.from_bytes(engine.to_bytes()).evaluate_batch(*cols[:4], resource_accounts=cols[4])

        for i, req in enumerate(reqs):
            want = reference_evaluate(req, bundle)
            decision, _, matched, _, _ = found_rows[i]
            got_decision = Decision(decision)
            got_set = set()
            if got_decision is not Decision.ERROR:
                for s in matched:
                    slot = plan.slots[plan.statements[s].slot]
                    got_set.add((slot.policy_type, slot.policy.name, plan.statements[s].statement.index))
            want_set = {(m.policy_type, m.policy, m.index) for m in want.matched_statements}
            if got_decision != want.decision or got_set != want_set:
                stats["differences"].append((req.to_dict(), str(want), got_decision, sorted(got_set)))
            if Decision(int(batch[i])) != want.decision:
                stats["differences"].append((req.to_dict(), str(want), "evaluate_batch", int(batch[i])))
            if Decision(int(threaded[i])) != want.decision:
                stats["differences"].append((req.to_dict(), str(want), "two threads", int(threaded[i])))
            if explained[i] != want:
                stats["differences"].append((req.to_dict(), str(want), "explain_batch", str(explained[i])))
            if loaded is not None and Decision(int(loaded[i])) != want.decision:
                stats["differences"].append((req.to_dict(), str(want), "loaded evaluate_batch", int(loaded[i])))
            if i % full_every == 0:
                got = engine.evaluate(req)
                stats["full"] += 1
                if got != want:
                    stats["differences"].append((req.to_dict(), str(want), str(got)))
                if req.resource_account is None:  # is_allowed takes the owner from the ARN
                    allowed = engine.is_allowed(req.principal, req.action, req.resource, req.context)
                    if allowed != (want.decision is Decision.ALLOW):
                        stats["differences"].append((req.to_dict(), str(want), "is_allowed", allowed))
        stats["requests"] += len(reqs)
        stats["bundles"] += 1

    t0 = time.perf_counter()
    run()
    stats["seconds"] = time.perf_counter() - t0
    stats["differences"] = stats["differences"][:5] + [len(stats["differences"])]
    return worker, stats


def _two_threads(engine, cols):
    """``engine.evaluate_batch`` of ``cols`` with each half decided on its own thread at the same time."""
    import threading

    import numpy as np

    n = len(cols[0])
    out = np.empty(n, dtype=np.uint8)
    halves = [(0, n // 2), (n // 2, n)]
    barrier = threading.Barrier(2)

    def work(lo, hi):
        barrier.wait()
        out[lo:hi] = engine.evaluate_batch(*(c[lo:hi] for c in cols[:4]), resource_accounts=cols[4][lo:hi])

    threads = [threading.Thread(target=work, args=h) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000_000, help="total requests (default 10,000,000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-bundle", type=int, default=2000, help="requests per compiled bundle")
    ap.add_argument("--full-every", type=int, default=50, help="compare the whole Response every N requests")
    args = ap.parse_args(argv)
    per_worker = -(-args.requests // args.workers)
    jobs = [(w, per_worker, args.per_bundle, args.full_every) for w in range(args.workers)]
    t0 = time.perf_counter()
    total = {"requests": 0, "full": 0, "bundles": 0, "differences": 0}
    failures = []
    with multiprocessing.Pool(args.workers) as pool:
        for worker, stats in pool.imap_unordered(_work, jobs):
            n_diff = stats["differences"][-1]
            print(f"worker {worker}: {stats['requests']:,} requests, {stats['bundles']:,} bundles, "
                  f"{stats['full']:,} full responses, {n_diff} differences, {stats['seconds']:.0f} s", flush=True)
            for k in ("requests", "full", "bundles"):
                total[k] += stats[k]
            total["differences"] += n_diff
            failures.extend(stats["differences"][:-1])
    print(f"total: {total['requests']:,} requests over {total['bundles']:,} policy bundles, "
          f"{total['full']:,} full responses compared, {total['differences']} differences, "
          f"{time.perf_counter() - t0:.0f} s")
    for f in failures[:5]:
        print("DIFFERENCE:", f)
    return 1 if total["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
