"""The string batch's tables under threads: one engine, cold, shared by many threads whose batches keep adding
strings (so the tables grow and are replaced while other threads probe them without the GIL), against a second
engine of the same policies deciding the same rows through ``encode`` (the other batch path) on one thread."""
from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from lexauthz.account import PolicySet
from lexauthz.policy.applicable import NamedPolicy
from engine_builders import clause, doc, run_threads

ACCT = "123456789012"
OTHER = "210987654321"
TEAMS = ("ml", "ops", "web", "data")
N_PRINCIPALS = 600
N_BOTS = 900


def _policy_set() -> PolicySet:
    ps = PolicySet()
    for i in range(N_PRINCIPALS):
        team = TEAMS[i % len(TEAMS)]
        kind = "user" if i % 2 else "role"
        stmts = [
            {"effect": "Allow", "action": ("lex:Recognize*", "lex:Describe*"),
             "resource": (f"arn:aws:lex:*:{ACCT}:bot/{team}-*", f"arn:aws:lex:*:{ACCT}:bot-alias/{team}-*")},
            {"effect": "Allow", "action": ("lex:DeleteBot", "lex:UpdateBot"), "resource": ("*",),
             "condition": (clause("StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}"),)},
            {"effect": "Deny", "action": ("lex:DeleteBot",), "resource": ("*",),
             "condition": (clause("StringEquals", "aws:RequestedRegion", "eu-west-1"),)},
        ]
        if i % 7 == 0:
            stmts.append({"effect": "Allow", "action": ("lex:*",), "resource": ("*",)})
        if i % 11 == 0:
            stmts.append({"effect": "Deny", "action": ("lex:Describe*",), "resource": ("*",),
                          "condition": (clause("Bool", "aws:SecureTransport", "false"),)})
        ps.add_principal(f"arn:aws:iam::{ACCT}:{kind}/p{i}", tags={"team": team},
                         policies=[NamedPolicy(f"p{i}", doc(*stmts))])
    for j in range(N_BOTS):
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot/{TEAMS[j % len(TEAMS)]}-{j}",
                        tags={"team": TEAMS[(j // 3) % len(TEAMS)]})
    return ps


ACTIONS = ("lex:RecognizeText", "lex:DescribeBot", "lex:DeleteBot", "lex:UpdateBot", "lex:ListBots",
           "lex:RecognizeUtterance", "lex:NotAnAction")
CONTEXTS = (None, {}, {"aws:RequestedRegion": "eu-west-1"}, {"aws:RequestedRegion": "us-east-1"},
            {"aws:SecureTransport": "false"}, {"aws:SecureTransport": False},
            {"aws:ResourceTag/team": "ml", "aws:RequestedRegion": "eu-west-1"})


def _rows(seed: int, n: int):
    """``n`` rows as fresh str objects (equal strings, never the same object as another thread's)."""
    rng = random.Random(seed)
    p, a, r, c = [], [], [], []
    for _ in range(n):
        i = rng.randrange(N_PRINCIPALS + 50)  # some principals no policy names
        kind = "user" if i % 2 else "role"
        acct = ACCT if rng.random() < 0.95 else OTHER
        p.append("".join(["arn:aws:iam::", acct, f":{kind}/p", str(i)]))
        a.append("".join(ACTIONS[rng.randrange(len(ACTIONS))]))
        j = rng.randrange(N_BOTS + 100)  # some bots the directory does not know
        region = "us-east-1" if rng.random() < 0.9 else "eu-west-1"
        r.append("".join([f"arn:aws:lex:{region}:{ACCT}:bot/", TEAMS[j % len(TEAMS)], "-", str(j)]))
        ctx = CONTEXTS[rng.randrange(len(CONTEXTS))]
        c.append(None if ctx is None else dict(ctx))
    return p, a, r, c


@pytest.fixture(scope="module")
def policy_set():
    return _policy_set()


def test_threads_on_a_cold_engine_decide_as_one_thread(policy_set):
    shared = policy_set.compile()
    alone = policy_set.compile()
    jobs = [_rows(seed, 3000) for seed in range(16)]
    want = [alone.evaluate_batch(alone.encode(*job)) for job in jobs]
    got = [None] * len(jobs)
    errors = []
    start = threading.Barrier(8)

    def work(k):
        try:
            start.wait()
            for i in range(k, len(jobs), 8):
                got[i] = shared.evaluate_batch(*jobs[i])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(work, 8)
    assert not errors
    for i, job in enumerate(jobs):
        assert (got[i] == want[i]).all(), f"job {i}: {int((got[i] != want[i]).sum())} rows differ"
    # the tables filled as the batches went, and a warm pass over every job still agrees
    assert min(shared._core.table_sizes()) > 0
    for i, job in enumerate(jobs):
        assert (shared.evaluate_batch(*job) == want[i]).all()


def test_rows_the_tables_cannot_hold_take_the_slow_path(policy_set):
    engine = policy_set.compile()
    p, a, r, c = _rows(99, 2000)
    want = engine.evaluate_batch(engine.encode(p, a, r, c))
    # str subclasses and contexts of other types are never probed without the GIL, and decide the same
    p2 = [np.str_(x) for x in p]
    c2 = [None if x is None else {k: (v if isinstance(v, str) else str(v).lower()) for k, v in x.items()} for x in c]
    assert (engine.evaluate_batch(p2, a, r, c) == want).all()
    want2 = engine.evaluate_batch(engine.encode(p, a, r, c2))
    assert (engine.evaluate_batch(p, a, r, c2) == want2).all()
    assert (engine.evaluate_batch(p, a, r, c) == want).all()
