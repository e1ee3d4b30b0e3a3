"""The bulk analyses on a real local Dask cluster of two worker processes: the same output as one process, one
engine load per worker and run, a worker killed mid-run, and clear errors for workers that cannot serve a run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from lexauthz.account import load_account  # noqa: E402
from lexauthz.analysis import diff, matrix, resolve_space, unused  # noqa: E402
from lexauthz.analysis.changes import with_changes  # noqa: E402
from lexauthz.analysis.cluster import ClusterError, engine_loads  # noqa: E402
from lexauthz.analysis.dask_backend import DaskBackend, RunPlugin  # noqa: E402
from lexauthz.analysis.replay import replay  # noqa: E402
from lexauthz.cli._backend import open_backend  # noqa: E402
from lexauthz.cloudtrail import read_records  # noqa: E402

import replay_synth as synth  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "lexauthz", "examples", "account.json")
DENY_DELETES = {"Version": "2012-10-17", "Statement": [
    {"Sid": "FullAccess", "Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Sid": "NoLexDeletes", "Effect": "Deny", "Action": ["lex:DeleteBot", "lex:DeleteBotAlias"], "Resource": "*"}]}
NOW = datetime(2026, 7, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def backend():
    with DaskBackend.local(2) as be:
        yield be


@pytest.fixture(scope="module")
def example():
    return load_account(EXAMPLE)


@pytest.fixture(scope="module")
def space(example):
    # one context, so the uncompressed cube is about 18,000 cells: several tasks per worker
    return resolve_space({"contexts": [{}]}, [example])


@pytest.fixture(scope="module")
def account():
    return load_account(synth.FIXTURE)


@pytest.fixture(scope="module")
def trail(tmp_path_factory, account):
    root = tmp_path_factory.mktemp("trail")
    synth.write_trail(str(root), synth.generate(account, 600), per_file=25)
    return str(root)


def _loads(be) -> dict:
    return be.client.run(engine_loads)


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def test_the_cluster_has_two_worker_processes(backend):
    pids = backend.client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values() and len(set(pids.values())) == 2


@pytest.mark.parametrize("compress", [True, False])
def test_matrix_on_dask_is_the_one_process_matrix(backend, example, space, tmp_path, compress):
    here = matrix(example, space, compress=compress)
    there = matrix(example, space, compress=compress, backend=backend)
    assert there.codes.dtype == np.uint8 and there.codes.shape == here.codes.shape
    assert np.array_equal(here.codes, there.codes)
    assert here.counts() == there.counts() and there.counts()["allowed"] > 0
    here.write(str(tmp_path / "here.jsonl"))
    there.write(str(tmp_path / "there.jsonl"))
    assert (tmp_path / "here.jsonl").read_bytes() == (tmp_path / "there.jsonl").read_bytes()


def test_each_worker_loads_the_engine_once_per_run(backend, example, space):
    revision = example.engine().revision
    before = _loads(backend)
    m = matrix(example, space, compress=False, backend=backend)
    after = _loads(backend)
    tasks = -(-m.cells // 4096)
    assert tasks > 2 * len(after)  # several tasks per worker, and still one load each
    assert set(after) == set(before)
    for addr in after:
        assert after[addr].get(revision, 0) - before[addr].get(revision, 0) == 1
    # the run's plugin is gone once the run is over
    plugins = backend.client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(not any(p.startswith("lexauthz-run-") for p in names) for names in plugins.values())


def test_whatif_diff_on_dask_is_the_one_process_diff(backend, example, space):
    after = with_changes(example, add_scps=[("root", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}]}), "no-deletes")])
    here = diff(example, after, space)
    there = diff(example, after, space, backend=backend)
    assert here.summary["summary"]["changed"] > 0
    assert _jsonl(here) == _jsonl(there)
    assert json.dumps(here.summary, sort_keys=True) == json.dumps(there.summary, sort_keys=True)


def test_replay_on_dask_is_the_one_process_replay(backend, account, trail):
    cand = [("no-deletes", with_changes(account, add_scps=[("root", json.dumps(DENY_DELETES), "no-deletes")]))]
    here = replay(account, read_records([trail]), candidates=cand)
    there = replay(account, trails=[trail], candidates=cand, backend=backend)
    assert here.summary["events"] == 600 and here.summary["breaking"]["events"] > 0
    assert _jsonl(here.records) == _jsonl(there.records)
    assert json.dumps(here.summary, sort_keys=True) == json.dumps(there.summary, sort_keys=True)
    # per-event lines come from the same groups
    assert list(here.per_event(read_records([trail]))) == list(there.per_event(read_records([trail])))


def test_replay_on_dask_counts_skips_and_findings_as_one_process(backend, account, tmp_path):
    # a corrupt file, another service's record and a role session the account does not know, spread over files
    synth.write_trail(str(tmp_path), synth.generate(account, 100, seed=3), per_file=10)
    folder = next(p for p, _, fs in os.walk(tmp_path) if any(f.endswith(".json.gz") for f in fs)
                  and "Digest" not in p)
    with open(os.path.join(folder, "zz-corrupt.json.gz"), "wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00 not gzip at all")
    unknown = {"eventVersion": "1.09", "eventTime": "2026-05-21T10:00:00Z", "eventSource": "lex.amazonaws.com",
               "eventName": "DescribeBot", "awsRegion": synth.REGION, "requestParameters": {"botId": "PRODBOT001"},
               "eventID": "ev-unknown-role", "recipientAccountId": synth.ACCOUNT, "sourceIPAddress": "198.51.100.7",
               "userIdentity": {"type": "AssumedRole", "accountId": synth.ACCOUNT, "principalId": "AROAX:s",
                                "arn": f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/Stranger/s"}}
    for name in ("a-unknown.json", "zz-unknown.json"):
        with open(os.path.join(folder, name), "w") as fh:
            json.dump({"Records": [unknown, synth.other_service(__import__("random").Random(2),
                                                                NOW - timedelta(days=40), synth.PRINCIPALS[0][1])]},
                      fh)
    here = replay(account, read_records([str(tmp_path)]))
    there = replay(account, trails=[str(tmp_path)], backend=backend)
    s = here.summary
    assert s["skipped"]["S_CORRUPT_GZIP"] == 1 and s["skipped"]["S_OTHER_SERVICE"] == 2
    assert [f["code"] for f in s["findings"]] == ["W_ROLE_PATH_UNKNOWN"]
    assert json.dumps(s, sort_keys=True) == json.dumps(there.summary, sort_keys=True)
    assert _jsonl(here.records) == _jsonl(there.records)


def test_unused_on_dask_is_the_one_process_unused(backend, account, trail):
    here = unused(account, read_records([trail]), since=timedelta(days=90), now=NOW)
    there = unused(account, trails=[trail], since=timedelta(days=90), now=NOW, backend=backend)
    assert here.summary["events_in_window"] > 0 and here.findings
    assert _jsonl(here.findings) == _jsonl(there.findings)
    assert _jsonl(here.principals) == _jsonl(there.principals)
    assert here.summary == there.summary


def test_a_worker_killed_mid_run_still_gives_the_full_result(backend, example):
    big = resolve_space({"contexts": [{}, {"aws:MultiFactorAuthPresent": "true"},
                                      {"aws:SourceIp": "203.0.113.9"}]}, [example])
    here = matrix(example, big, compress=False)
    client = backend.client
    victim = sorted(client.run(os.getpid))[0]
    old_pid = client.run(os.getpid)[victim]
    killed = []

    def progress(n):
        if not killed:
            killed.append(n)
            os.kill(old_pid, signal.SIGKILL)

    there = matrix(example, big, compress=False, backend=backend, progress=progress)
    assert killed and np.array_equal(here.codes, there.codes)
    client.wait_for_workers(2, timeout=60)
    pids = client.run(os.getpid)
    assert old_pid not in pids.values() and len(pids) == 2


def test_a_worker_of_another_version_refuses_the_run(backend, example, monkeypatch):
    import lexauthz.analysis.dask_backend as db

    monkeypatch.setattr(db, "versions", lambda: ("0.0.0-other", 2))
    with pytest.raises(ClusterError) as exc:
        matrix(example, resolve_space({"contexts": [{}]}, [example]), backend=backend)
    assert exc.value.code == "E_WORKER_VERSION" and "0.0.0-other" in exc.value.message
    monkeypatch.undo()
    plugins = backend.client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(not any(p.startswith("lexauthz-run-") for p in names) for names in plugins.values())
    # and the cluster serves the next run
    assert matrix(example, resolve_space({"contexts": [{}]}, [example]), backend=backend).counts()["allowed"] > 0


def test_engine_bytes_that_fail_their_seal_refuse_the_run(backend, example):
    from lexauthz.analysis.cluster import versions

    eng = example.engine()
    plugin = RunPlugin("lexauthz-run-badseal", b"k" * 32, {"engine": eng.to_bytes(key=b"other-key" * 4)},
                       {"engine": eng.revision}, b"\x80\x05}\x94.", versions())
    with pytest.raises(ClusterError) as exc:
        backend.client.register_plugin(plugin, name=plugin.name)
    assert exc.value.code == "E_WORKER_LOAD" and "engine `engine`" in exc.value.message
    backend.client.unregister_worker_plugin(plugin.name)


def test_open_backend(monkeypatch):
    assert open_backend() is None
    monkeypatch.setitem(sys.modules, "lexauthz.analysis.dask_backend", None)  # as without the dask extra
    with pytest.raises(ClusterError) as exc:
        open_backend(workers=2)
    assert exc.value.code == "E_NEEDS_DASK" and "lexauthz[dask]" in exc.value.message


def test_connecting_to_no_scheduler_is_a_coded_error():
    with pytest.raises(ClusterError) as exc:
        DaskBackend.connect("tcp://127.0.0.1:9", timeout=2)
    assert exc.value.code == "E_CLUSTER_CONNECT"


def _cli(*args):
    # a scheduler that is not there is given up on after 2 s (Dask's own setting), not the default 30 s
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    return subprocess.run([sys.executable, "-m", "lexauthz", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_cli_replay_and_unused_on_the_cluster_print_what_one_process_prints(backend, trail, tmp_path):
    scp = tmp_path / "no-deletes.json"
    scp.write_text(json.dumps(DENY_DELETES))
    address = backend.client.scheduler.address
    for verb, extra in (("replay", ["--scp", str(scp), "--target", "root"]),
                        ("unused", ["--since", "90d", "--now", "2026-07-01T00:00:00Z"])):
        one = _cli(verb, trail, "--account", synth.FIXTURE, *extra, "--out", str(tmp_path / f"{verb}-1.jsonl"))
        many = _cli(verb, trail, "--account", synth.FIXTURE, *extra, "--scheduler", address,
                    "--out", str(tmp_path / f"{verb}-2.jsonl"))
        assert one.returncode == 0 and many.returncode == 0, many.stderr
        assert (tmp_path / f"{verb}-1.jsonl").read_text() == (tmp_path / f"{verb}-2.jsonl").read_text()
        assert (tmp_path / f"{verb}-1.jsonl").read_text().strip()
        assert one.stderr == many.stderr


def test_cli_matrix_and_diff_with_local_workers(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"contexts": [{}]}))
    one = _cli("matrix", "--account", EXAMPLE, "--space", str(space), "--no-compress",
               "--out", str(tmp_path / "m1.npz"))
    many = _cli("matrix", "--account", EXAMPLE, "--space", str(space), "--no-compress", "--workers", "2",
                "--out", str(tmp_path / "m2.npz"))
    assert one.returncode == 0 and many.returncode == 0, many.stderr
    assert one.stdout == many.stdout
    a, b = np.load(tmp_path / "m1.npz"), np.load(tmp_path / "m2.npz")
    assert np.array_equal(a["cube"], b["cube"]) and a["cube"].size > 10_000
    scp = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},' \
          '{"Effect":"Deny","Action":"lex:Delete*","Resource":"*"}]}'
    d1 = _cli("whatif", "diff", "--before", EXAMPLE, "--add-scp", f"root={scp}", "--space", str(space))
    d2 = _cli("whatif", "diff", "--before", EXAMPLE, "--add-scp", f"root={scp}", "--space", str(space),
              "--workers", "2")
    assert d1.returncode == 0 and d2.returncode == 0, d2.stderr
    assert d1.stdout == d2.stdout and d1.stdout.count("\n") > 1


def test_cli_cluster_errors_are_coded(trail):
    done = _cli("replay", trail, "--account", synth.FIXTURE, "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 1 and "E_CLUSTER_CONNECT" in done.stderr and "Traceback" not in done.stderr
    done = _cli("replay", trail, "--account", synth.FIXTURE, "--workers", "0")
    assert done.returncode == 1 and "E_USAGE" in done.stderr
    done = _cli("replay", trail, "--account", synth.FIXTURE, "--workers", "2", "--scheduler", "tcp://x:1")
    assert done.returncode == 1 and "not allowed with argument" in done.stderr


def test_session_join_on_dask_is_the_one_process_join(backend, tmp_path):
    acct = synth.session_account()
    synth.session_trail(str(tmp_path))
    here = replay(acct, trails=[str(tmp_path)], sessions=True)
    there = replay(acct, trails=[str(tmp_path)], sessions=True, backend=backend)
    assert here.summary["fidelity"]["disagree_events"] == 1
    assert _jsonl(here.records) == _jsonl(there.records)
    assert json.dumps(here.summary, sort_keys=True) == json.dumps(there.summary, sort_keys=True)
