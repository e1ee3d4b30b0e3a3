"""CloudTrail replay (group ``replay``): decoding and translate + decide measured apart, events per second per core.

A pool of distinct Lex events is generated from the replay tests' account (outcomes written by the reference
evaluator), then repeated with fresh event ids into ``LEXAUTHZ_BENCH_REPLAY_FILES`` gzipped trail files of
``LEXAUTHZ_BENCH_REPLAY_PER_FILE`` records (defaults 100 x 1,000 = 10^5 events; the issue's size is 10^4 files x
1,000, 10^7 events: set the variables; past ``LEXAUTHZ_BENCH_REPLAY_DISTINCT_FILES``, default 100, the files are
copies of the first ones, so writing 10^4 files takes seconds).  Two accounts are replayed: the fixture, whose policies read the time, the
source IP and MFA (so those keys split groups), and the same with the time condition removed, which groups far
more events together.

- ``decode``: :func:`lexauthz.cloudtrail.read_records` over the files (gzip + JSON), records per second;
- ``replay``: :func:`lexauthz.analysis.replay.replay` over records already decoded in memory (translate, group,
  decide), events per second;
- ``extra_info["peak_mb"]``: peak traced memory of one decode pass over all files, which must stay flat as the
  number of files grows (one file at a time).
"""
from __future__ import annotations

import copy
import gzip
import json
import os
import random
import shutil
import sys
import tracemalloc

import pytest

from benchmarks.conftest import SUMMARY

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "replay"))

import replay_synth as synth  # noqa: E402

FILES = int(os.environ.get("LEXAUTHZ_BENCH_REPLAY_FILES", "100"))
PER_FILE = int(os.environ.get("LEXAUTHZ_BENCH_REPLAY_PER_FILE", "1000"))
DISTINCT = int(os.environ.get("LEXAUTHZ_BENCH_REPLAY_DISTINCT_FILES", "100"))


@pytest.fixture(scope="module")
def accounts():
    from lexauthz.account import load_account
    from lexauthz.analysis.changes import with_changes

    acct = load_account(synth.FIXTURE)
    no_time = with_changes(acct, replace_policies={"BuilderUntilJune": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["lex:CreateBot", "lex:DescribeBot", "lex:CreateBotAlias"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}})
    return {"time-read": acct, "time-unread": no_time}


@pytest.fixture(scope="module")
def trail(tmp_path_factory, accounts):
    pool = synth.generate(accounts["time-read"], 2000, seed=11)
    rng = random.Random(5)
    root = tmp_path_factory.mktemp("bench-trail")
    paths = []
    for f in range(FILES):
        if f >= DISTINCT:  # a copy of an earlier file: event ids repeat, which only the samples would see
            path = os.path.join(root, f"111122223333_CloudTrail_us-east-1_{f:06d}.json.gz")
            shutil.copyfile(paths[f % DISTINCT], path)
            paths.append(path)
            continue
        recs = []
        for i in range(PER_FILE):
            r = copy.copy(rng.choice(pool))
            r["eventID"] = f"{f:06d}-{i:06d}"
            recs.append(r)
        path = os.path.join(root, f"111122223333_CloudTrail_us-east-1_{f:06d}.json.gz")
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump({"Records": recs}, fh)
        paths.append(path)
    return str(root), paths


def test_decode(benchmark, trail):
    from lexauthz.cloudtrail import read_records

    root, paths = trail

    def run():
        n = 0
        for _ in read_records([root]):
            n += 1
        return n

    tracemalloc.start()
    n = run()
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    assert n == FILES * PER_FILE
    benchmark.group = "replay"
    benchmark.extra_info.update({"events": n, "files": FILES, "peak_mb": round(peak, 1)})
    benchmark.pedantic(run, rounds=3, iterations=1)
    rate = n / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = round(rate)
    SUMMARY.setdefault("replay", {})["decode_events_per_s"] = round(rate)


@pytest.mark.parametrize("which", ["time-read", "time-unread"])
def test_replay(benchmark, trail, accounts, which):
    from lexauthz.analysis.replay import replay
    from lexauthz.cloudtrail import Record, read_records

    root, _ = trail
    records = [r for r in read_records([root]) if isinstance(r, Record)]
    acct = accounts[which]
    out = replay(acct, records)
    assert out.summary["events"] == len(records)
    benchmark.group = "replay"
    benchmark.extra_info.update({"events": len(records), "distinct_requests": out.summary["distinct_requests"]})
    benchmark.pedantic(lambda: replay(acct, records), rounds=3, iterations=1)
    rate = len(records) / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = round(rate)
    SUMMARY.setdefault("replay", {})[f"replay_{which}_events_per_s"] = round(rate)
