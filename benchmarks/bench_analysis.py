"""What-if analysis at the issue's sizes (groups ``analysis-matrix``, ``analysis-who-can``, ``analysis-diff``).

- the access matrix of 1,000 principals x 152 Lex actions x 10,000 resources (1.5 x 10^9 cells) through class
  compression, with the full ``uint8`` cube expanded, and the uncompressed rate (every cell decided) on a slice;
- who-can on one resource over 10,000 principals (the classifier warm, as a service keeps it);
- the diff of two 100,000-statement accounts (an SCP and an edited managed policy apart) over their inventory; its
  policies name bots by prefix (``bot/BOT3*``), as large accounts do: the diff explains every changed class cell
  on both sides (about 60 us each), so its cost follows the number of resource classes, which exact per-bot
  statements multiply.

Peak memory is measured once per workload with ``tracemalloc`` (numpy's buffers included) outside the timed rounds
and stored in ``extra_info["peak_mb"]``.  Sizes come from the environment:

- ``LEXAUTHZ_BENCH_MATRIX`` (default ``1000,10000``): principals and resources of the matrix;
- ``LEXAUTHZ_BENCH_WHO_CAN`` (default ``10000``): principals of who-can;
- ``LEXAUTHZ_BENCH_DIFF`` (default ``100000``): statements of each diff account.

The accounts are seeded and built here: principals attach two to four of a pool of shared managed policies (so
principals with the same attachments form a class, as in real accounts), bots carry one of a few tag sets, and an
SCP denies deletes in production.
"""
from __future__ import annotations

import json
import os
import random
import time
import tracemalloc

import pytest

from benchmarks.conftest import SUMMARY

ACCT = "111122223333"
M_P, M_R = (int(x) for x in os.environ.get("LEXAUTHZ_BENCH_MATRIX", "1000,10000").split(","))
W_P = int(os.environ.get("LEXAUTHZ_BENCH_WHO_CAN", "10000"))
D_S = int(os.environ.get("LEXAUTHZ_BENCH_DIFF", "100000"))

_ACTION_POOL = ("lex:Get*", "lex:List*", "lex:Describe*", "lex:Recognize*", "lex:PostText", "lex:PostContent",
                "lex:Create*", "lex:Update*", "lex:Delete*", "lex:*Session", "lex:StartConversation",
                "lex:BuildBotLocale", "lex:TagResource", "lex:UntagResource", "lex:*")


def _managed(rng: random.Random, i: int, n_statements: int, n_bots: int, exact: bool = True):
    from lexauthz import NamedPolicy, load_policy

    stmts = []
    for k in range(n_statements):
        acts = rng.sample(_ACTION_POOL[:-1], rng.randint(1, 3)) if rng.random() < 0.97 else ["lex:*"]
        kind = rng.random()
        # exact: statements name single bots; otherwise groups of bots by prefix (BOT0d*), as large accounts do
        bot = f"BOT{rng.randrange(n_bots):05d}" if exact else f"BOT{rng.randrange(10):01d}*"
        if kind < 0.4:
            res = f"arn:aws:lex:us-east-1:{ACCT}:bot/{bot}"
        elif kind < 0.7:
            res = f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/{bot}/*"
        elif kind < 0.9:
            res = f"arn:aws:lex:*:{ACCT}:bot/*"
        else:
            res = "*"
        st = {"Sid": f"S{k}", "Effect": "Allow" if rng.random() < 0.9 else "Deny", "Action": acts, "Resource": res}
        if rng.random() < 0.15:
            st["Condition"] = {"StringEquals": {"aws:ResourceTag/team": rng.choice(["ml", "ops", "web"])}}
        stmts.append(st)
    doc = {"Version": "2012-10-17", "Statement": stmts}
    return NamedPolicy(f"arn:aws:iam::{ACCT}:policy/Team{i:04d}", load_policy(json.dumps(doc)))


def build_account(n_principals: int, n_resources: int, *, n_managed: int = 20, statements_per_policy: int = 8,
                  seed: int = 11, scp: bool = True, exact: bool = True):
    """A seeded account: roles attaching 2-4 shared managed policies, tagged bots and aliases, an SCP."""
    from lexauthz.account import Account, PolicySet

    rng = random.Random(seed)
    n_bots = max(1, n_resources // 2)
    pols = [_managed(rng, i, statements_per_policy, n_bots, exact) for i in range(n_managed)]
    ps = PolicySet()
    combos = [set(rng.sample(range(n_managed), rng.randint(2, 4))) for _ in range(max(1, n_principals // 10))]
    for k in range(n_managed):  # every managed policy attached somewhere, so every statement counts
        combos[k % len(combos)].add(k)
    combos = [tuple(sorted(c)) for c in combos]
    for i in range(n_principals):
        combo = combos[rng.randrange(len(combos))]
        ps.add_principal(f"arn:aws:iam::{ACCT}:role/app/Role{i:05d}", [pols[k] for k in combo],
                         tags={"team": rng.choice(["ml", "ops", "web"])})
    for b in range(n_bots):
        tags = {"team": rng.choice(["ml", "ops", "web"]), "env": rng.choice(["prod", "dev"])}
        name = f"BOT{b:05d}" if exact else f"BOT{b % 10}{b:05d}"
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot/{name}", tags=tags)
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/{name}/ALIAS", tags=tags)
    if scp:
        ps.add_scp("root", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}}]}, name="scp-guardrails")
    return Account.from_policy_set(ps), pols


def _peak(fn) -> tuple[float, object]:
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, out


# -- matrix ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix_setup():
    from lexauthz.analysis import resolve_space

    acc, _ = build_account(M_P, M_R)
    acc.engine()
    space = resolve_space({"principals": ["known"], "actions": ["lex:*"], "contexts": [{}]}, [acc])
    return acc, space


@pytest.mark.benchmark(group="analysis-matrix")
def test_matrix_compressed(benchmark, matrix_setup):
    from lexauthz.analysis.matrix import matrix

    acc, space = matrix_setup
    m = benchmark.pedantic(lambda: matrix(acc, space), rounds=3, warmup_rounds=0)
    med = benchmark.stats.stats.median
    peak, _ = _peak(lambda: matrix(acc, space))
    cls = m.class_counts()
    benchmark.extra_info.update(cells=space.cells, cells_per_sec=round(space.cells / med), peak_mb=round(peak, 1),
                                classes=cls, counts=m.counts())
    SUMMARY["matrix compressed"] = (f"{space.cells:,} cells in {med:.2f} s ({space.cells / med:,.0f} cells/s; "
                                    f"{cls['evaluated']:,} evaluated), peak {peak:,.0f} MB")


@pytest.mark.benchmark(group="analysis-matrix")
def test_matrix_cube_expansion(benchmark, matrix_setup):
    from lexauthz.analysis.matrix import matrix

    acc, space = matrix_setup
    m = matrix(acc, space)
    cube = benchmark.pedantic(m.cube, rounds=2, warmup_rounds=0)
    assert cube.size == space.cells and int((cube == 1).sum()) == m.counts()["allowed"]
    med = benchmark.stats.stats.median
    del cube
    peak, _ = _peak(lambda: m.cube().size)
    benchmark.extra_info.update(cells=space.cells, bytes=space.cells, peak_mb=round(peak, 1))
    SUMMARY["matrix cube expansion"] = f"{space.cells:,} cells ({space.cells / 2**20:,.0f} MB) in {med:.2f} s"


@pytest.mark.benchmark(group="analysis-matrix")
def test_matrix_uncompressed_rate(benchmark, matrix_setup):
    """Every cell decided by ``evaluate_batch`` (no classes), on a slice: the rate the compression is measured
    against."""
    from lexauthz.analysis import Space
    from lexauthz.analysis.matrix import matrix

    acc, space = matrix_setup
    part = Space(space.principals[:100], space.actions, space.resources[:200], space.contexts)
    benchmark.pedantic(lambda: matrix(acc, part, compress=False), rounds=2, warmup_rounds=0)
    med = benchmark.stats.stats.median
    rate = part.cells / med
    benchmark.extra_info.update(cells=part.cells, cells_per_sec=round(rate),
                                full_matrix_seconds_estimate=round(space.cells / rate))
    SUMMARY["matrix uncompressed"] = (f"{rate:,.0f} cells/s ({part.cells:,} cells); the full "
                                      f"{space.cells:,} would take about {space.cells / rate:,.0f} s")


# -- who-can ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def who_can_setup():
    from lexauthz.analysis import who_can

    acc, _ = build_account(W_P, 200, seed=5)
    principals = list(acc.policy_set.principals)
    resource = f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/BOT00001/ALIAS"
    t0 = time.perf_counter()
    who_can(acc, resource, ["lex:RecognizeText"])  # classifier and engine warm
    cold = time.perf_counter() - t0
    return acc, principals, resource, cold


@pytest.mark.benchmark(group="analysis-who-can")
def test_who_can_one_resource(benchmark, who_can_setup):
    from lexauthz.analysis import who_can

    acc, principals, resource, cold = who_can_setup
    found = benchmark.pedantic(lambda: who_can(acc, resource, ["lex:RecognizeText"]), rounds=30, warmup_rounds=2)
    med = benchmark.stats.stats.median
    peak, _ = _peak(lambda: who_can(acc, resource, ["lex:RecognizeText"]))
    benchmark.extra_info.update(principals=len(principals), allowed=len(found), cold_seconds=round(cold, 3),
                                peak_mb=round(peak, 1))
    SUMMARY["who-can"] = (f"the account's {len(principals):,} principals, {len(found):,} allowed: {med * 1000:.2f} "
                          f"ms warm ({cold:.2f} s the first call), peak {peak:,.1f} MB")


@pytest.mark.benchmark(group="analysis-who-can")
def test_who_can_one_resource_given_principals(benchmark, who_can_setup):
    from lexauthz.analysis import who_can

    acc, principals, resource, _ = who_can_setup
    found = benchmark.pedantic(lambda: who_can(acc, resource, ["lex:RecognizeText"], principals=principals),
                               rounds=30, warmup_rounds=2)
    benchmark.extra_info.update(principals=len(principals), allowed=len(found))
    SUMMARY["who-can, principals given"] = (f"{len(principals):,} principals listed by the caller: "
                                            f"{benchmark.stats.stats.median * 1000:.2f} ms")


@pytest.mark.benchmark(group="analysis-who-can")
def test_who_can_all_actions(benchmark, who_can_setup):
    from lexauthz.analysis import who_can

    acc, principals, resource, _ = who_can_setup
    found = benchmark.pedantic(lambda: who_can(acc, resource, principals=principals), rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(principals=len(principals), allowed=len(found))
    SUMMARY["who-can, every Lex action"] = (f"{len(principals):,} principals x 152 actions, {len(found):,} allowed: "
                                            f"{benchmark.stats.stats.median * 1000:.1f} ms")


# -- diff ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diff_setup():
    from lexauthz.analysis import resolve_space
    from lexauthz.analysis.changes import with_changes

    n_managed = 400
    per_policy = max(1, D_S // n_managed)
    before, pols = build_account(2000, 2000, n_managed=n_managed, statements_per_policy=per_policy, seed=3,
                                 exact=False)
    edited = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Narrowed", "Effect": "Allow", "Action": ["lex:Get*", "lex:List*"], "Resource": "*"}]}
    after = with_changes(before, add_scps=[("root", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoAliasChanges", "Effect": "Deny", "Action": ["lex:UpdateBotAlias", "lex:DeleteBotAlias"],
         "Resource": "*"}]}), "scp-freeze-aliases")], replace_policies={
        next(iter(before.policy_set.principals.values())).policies[0].name: json.dumps(edited)})
    t0 = time.perf_counter()
    before.engine(), after.engine()
    compile_s = time.perf_counter() - t0
    space = resolve_space({"principals": ["known"], "actions": ["lex:*"], "contexts": [{}]}, [before, after])
    return before, after, space, compile_s


@pytest.mark.benchmark(group="analysis-diff")
def test_diff_two_large_accounts(benchmark, diff_setup):
    from lexauthz.analysis.diff import diff

    before, after, space, compile_s = diff_setup
    d = benchmark.pedantic(lambda: diff(before, after, space), rounds=1, warmup_rounds=0)
    med = benchmark.stats.stats.median
    peak, _ = _peak(lambda: diff(before, after, space).changed)
    s = d.summary["summary"]
    benchmark.extra_info.update(statements_before=before.engine().n_statements,
                                statements_after=after.engine().n_statements, cells=s["cells"],
                                changed=s["changed"], records=s["records"], classes=s["classes"],
                                compile_seconds=round(compile_s, 2), peak_mb=round(peak, 1))
    SUMMARY["diff"] = (f"{before.engine().n_statements:,} vs {after.engine().n_statements:,} statements, "
                       f"{s['cells']:,} cells, {s['changed']:,} changed in {s['records']} records: {med:.1f} s "
                       f"(+{compile_s:.1f} s compiling both), peak {peak:,.0f} MB")
