"""CloudTrail replay against a synthetic trail whose outcomes the reference evaluator wrote (see ``synth``)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from lexauthz.account import load_account
from lexauthz.analysis.changes import with_changes
from lexauthz.analysis.replay import replay
from lexauthz.cloudtrail import Record, read_records

import replay_synth as synth

N_EVENTS = 600
DENY_DELETES = {"Version": "2012-10-17", "Statement": [
    {"Sid": "FullAccess", "Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Sid": "NoLexDeletes", "Effect": "Deny", "Action": ["lex:DeleteBot", "lex:DeleteBotAlias"], "Resource": "*"}]}


@pytest.fixture(scope="module")
def account():
    return load_account(synth.FIXTURE)


@pytest.fixture(scope="module")
def records(account):
    return synth.generate(account, N_EVENTS)


@pytest.fixture(scope="module")
def trail(tmp_path_factory, records):
    root = tmp_path_factory.mktemp("trail")
    synth.write_trail(str(root), records)
    return str(root)


@pytest.fixture(scope="module")
def current(account, trail):
    return replay(account, read_records([trail]))


def test_the_synthetic_trail_has_both_outcomes_for_every_principal(records):
    seen = Counter((r["userIdentity"]["arn"], "errorCode" in r) for r in records)
    for _, caller, _, _ in synth.PRINCIPALS:
        assert seen[(caller, True)] > 0 and seen[(caller, False)] > 0


def test_replay_reproduces_every_observed_outcome(current, records):
    s = current.summary
    assert s["events"] == len(records) and s["records_read"] == len(records)
    assert s["skipped"] == {}  # the digest folder is not read at all
    fid = s["fidelity"]
    assert fid["compared_events"] == len(records)
    assert fid["disagree_events"] == 0 and fid["agree_events"] == len(records), current.disagreements()[:3]
    assert sum(r["events"] for r in current.records) == len(records)
    observed = Counter("denied" if "errorCode" in r else "allowed" for r in records)
    got = Counter()
    for r in current.records:
        got[r["observed"]] += r["events"]
        assert r["fidelity"] == "agree"
        assert (r["observed"] == "allowed") == (r["current"] == "allowed")
    assert got == observed


def test_groups_split_only_on_context_keys_some_policy_reads(current):
    # the fixture's policies read the source IP, MFA and the time: those split groups, nothing else does
    assert current.summary["grouping_keys"] == ["aws:CurrentTime", "aws:SourceIp", "aws:MultiFactorAuthPresent"]
    assert current.summary["distinct_requests"] == len(current.records)


def test_groups_merge_events_when_no_policy_reads_the_time(tmp_path):
    acct = load_account(synth.FIXTURE)
    recs = synth.generate(acct, 200, seed=3)
    no_time = with_changes(acct, replace_policies={"BuilderUntilJune": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}})
    out = replay(no_time, [Record(r, f"mem:{i}") for i, r in enumerate(recs)])
    assert out.summary["grouping_keys"] == ["aws:SourceIp", "aws:MultiFactorAuthPresent"]
    assert out.summary["distinct_requests"] < out.summary["events"] == 200
    assert sum(r["events"] for r in out.records) == 200
    for r in out.records:
        assert r["first_seen"] <= r["last_seen"]
        assert "aws:CurrentTime" not in r.get("context", {})


def test_candidate_equal_to_current_changes_nothing(account, trail):
    same = load_account(synth.FIXTURE)
    out = replay(account, read_records([trail]), candidates=[("same", same)])
    c = out.summary["candidates"]["same"]
    assert c == {"breaking_records": 0, "breaking_events": 0, "newly_allowed_records": 0, "newly_allowed_events": 0,
                 "changed_records": 0}
    assert all(r["candidate"] == r["current"] for r in out.records)
    assert out.breaking() == [] and out.newly_allowed() == []


def test_one_deny_scp_changes_exactly_the_events_its_statement_matches(account, trail, records):
    cand = with_changes(account, add_scps=[("root", DENY_DELETES, "scp-NoLexDeletes")])
    out = replay(account, read_records([trail]), candidates=[("no-deletes", cand)])
    deletes = {"lex:DeleteBot", "lex:DeleteBotAlias"}
    for r in out.records:
        actions = {q["action"] for q in r.get("requests", [{"action": r["action"]}])}
        if actions & deletes:
            assert r["candidate"] == "explicitDeny"
            if r["current"] != "explicitDeny":  # else the MFA deny already decided it, and nothing changed
                assert any({"policy_id": "scp-NoLexDeletes", "policy_type": "SERVICE_CONTROL_POLICY",
                            "sid": "NoLexDeletes"}.items() <= d.items() for d in r["candidate_deciding"])
        else:
            assert r["candidate"] == r["current"], r
    c = out.summary["candidates"]["no-deletes"]
    want_breaking = sum(1 for e in records if e["eventName"] in ("DeleteBot", "DeleteBotAlias") and "errorCode" not in e)
    assert want_breaking > 0 and c["breaking_events"] == want_breaking == out.summary["breaking"]["events"]
    changed = [r for r in out.records if r["candidate"] != r["current"]]
    assert c["changed_records"] == len(changed)
    assert all({q["action"] for q in r.get("requests", [{"action": r["action"]}])} & deletes for r in changed)
    assert all(r["current"] != "explicitDeny" for r in changed)
    assert c["newly_allowed_events"] == 0


def test_a_record_whose_outcome_is_flipped_is_a_disagreement(account, records):
    recs = copy.deepcopy(records[:100])
    i = next(k for k, r in enumerate(recs) if "errorCode" not in r)
    recs[i]["errorCode"] = "AccessDeniedException"
    recs[i]["errorMessage"] = "with an explicit deny in a service control policy"
    out = replay(account, [Record(r, f"mem:{k}") for k, r in enumerate(recs)])
    fid = out.summary["fidelity"]
    assert fid["disagree_events"] == 1 and fid["causes"] == {"unexplained": 1}
    (bad,) = out.disagreements()
    assert bad["observed"] == "denied" and bad["current"] == "allowed"
    assert bad["sample_event_ids"] == [recs[i]["eventID"]]
    assert bad["current_deciding"] and bad["current_deciding"][0]["effect"] == "Allow"


def test_other_errors_are_unknown_and_never_a_disagreement(account, records):
    recs = copy.deepcopy(records[:50])
    for r in recs[:10]:
        r.pop("errorMessage", None)
        r["errorCode"] = "ValidationException"
    out = replay(account, [Record(r, f"mem:{k}") for k, r in enumerate(recs)])
    fid = out.summary["fidelity"]
    assert fid["unknown_events"] == 10 and fid["compared_events"] == 40 and fid["disagree_events"] == 0
    unknown = [r for r in out.records if r["observed"] == "unknown"]
    assert sum(r["events"] for r in unknown) == 10
    assert all(r["fidelity"] == "unknown" and r["confidence"] == "low" for r in unknown)


def test_skipped_records_are_counted_by_reason(account, records, tmp_path):
    good = tmp_path / "good.jsonl"
    lines = [json.dumps(r) for r in records[:20]]
    lines.insert(5, "{not json")
    lines.append(json.dumps({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
                             "eventTime": "2026-05-20T00:00:00Z", "userIdentity": {"type": "IAMUser"}}))
    good.write_text("\n".join(lines) + "\n")
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    out = replay(account, read_records([str(tmp_path)]))
    s = out.summary
    assert s["events"] == 20
    assert s["skipped"].get("S_OTHER_SERVICE") == 1
    assert s["skipped"].get("S_CORRUPT_GZIP") == 1
    assert sum(s["skipped"].values()) == 3  # plus the bad JSON line
    assert any("good.jsonl:6" in loc for locs in s["skipped_samples"].values() for loc in locs)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lexauthz", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_cli_replay_writes_records_summary_and_report(trail, tmp_path, records):
    scp = tmp_path / "no-deletes.json"
    scp.write_text(json.dumps(DENY_DELETES))
    out, summary, report = tmp_path / "replay.jsonl", tmp_path / "summary.json", tmp_path / "replay.html"
    done = _cli("replay", trail, "--account", synth.FIXTURE, "--scp", str(scp), "--target", "root",
                "--out", str(out), "--summary", str(summary), "--report", str(report))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    s = json.loads(summary.read_text())
    assert len(lines) == s["distinct_requests"] and s["events"] == len(records)
    assert s["breaking"]["events"] > 0 and f"breaking {s['breaking']['events']:,} events" in done.stderr
    text = report.read_text()
    assert f'data-key="breaking.events" data-value="{s["breaking"]["events"]}"' in text
    assert f'data-key="events" data-value="{len(records)}"' in text
    again = _cli("replay", trail, "--account", synth.FIXTURE, "--scp", str(scp), "--target", "root",
                 "--fail-on-breaking", "--out", str(tmp_path / "again.jsonl"))
    assert again.returncode == 2
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()


def test_cli_replay_refuses_what_it_cannot_use(tmp_path):
    done = _cli("replay", str(tmp_path / "nope"), "--account", synth.FIXTURE)
    assert done.returncode == 1 and "E_NO_SUCH_FILE" in done.stderr and "Traceback" not in done.stderr
    done = _cli("replay", str(tmp_path), "--account", synth.FIXTURE, "--scp", "x.json")
    assert done.returncode == 1 and "E_USAGE" in done.stderr


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
def test_replay_report_in_headless_chromium(account, trail, tmp_path):
    from lexauthz.analysis.report import replay_report

    cand = with_changes(account, add_scps=[("root", DENY_DELETES, "scp-NoLexDeletes")])
    out = replay(account, read_records([trail]), candidates=[("no-deletes", cand)])
    text = replay_report(out)
    assert text == replay_report(out)
    page = tmp_path / "replay.html"
    page.write_text(text, encoding="utf-8")
    profile = tmp_path / "profile"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", f"--user-data-dir={profile}", "--dump-dom",
                           page.as_uri()], capture_output=True, timeout=120)
    dom = done.stdout.decode("utf-8")
    s = out.summary
    assert f'data-key="breaking.events" data-value="{s["breaking"]["events"]}"' in dom
    assert f'data-key="fidelity.agree_events" data-value="{s["fidelity"]["agree_events"]}"' in dom
    assert dom.count("<tr>") >= len(out.breaking())


def test_per_event_lines_follow_their_groups(account, trail, records):
    out = replay(account, read_records([trail]))
    lines = list(out.per_event(read_records([trail])))
    assert [x["event_id"] for x in lines] == [r["eventID"] for r in records]
    by_id = {r["eventID"]: r for r in records}
    for x in lines:
        assert x["observed"] == ("denied" if "errorCode" in by_id[x["event_id"]] else "allowed")
        assert (x["current"] == "allowed") == (x["observed"] == "allowed") and x["fidelity"] == "agree"
        assert x["event_time"] == by_id[x["event_id"]]["eventTime"] and ".json.gz:$.Records[" in x["location"]
    done = _cli("replay", trail, "--account", synth.FIXTURE, "--per-event")
    assert done.returncode == 0 and [json.loads(x) for x in done.stdout.splitlines()] == lines
