"""Unused Lex permissions from a trail with known usage."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from lexauthz.account import load_account
from lexauthz.analysis import what_can
from lexauthz.analysis.unused import parse_window, unused
from lexauthz.cloudtrail import Record
from lexauthz.errors import RequestError

import replay_synth as synth

NOW = datetime(2026, 6, 30, tzinfo=timezone.utc)
DANA = f"arn:aws:iam::{synth.ACCOUNT}:user/ops/dana"
IDLE = f"arn:aws:iam::{synth.ACCOUNT}:user/idle"
LEXOPS = f"arn:aws:iam::{synth.ACCOUNT}:role/path/to/LexOps"
BUILDER = f"arn:aws:iam::{synth.ACCOUNT}:role/Builder"


def _event(who: int, name: str, params: dict, t: datetime, error: str | None = None) -> dict:
    kind, caller, issuer, pid = synth.PRINCIPALS[who]
    rec = {"eventVersion": "1.09", "userIdentity": synth._identity(kind, caller, issuer, pid, True),
           "eventTime": synth._iso(t), "eventSource": "lex.amazonaws.com", "eventName": name,
           "awsRegion": synth.REGION, "sourceIPAddress": "198.51.100.7", "requestParameters": params,
           "eventID": f"ev-{name}-{t:%j%H%M}", "recipientAccountId": synth.ACCOUNT}
    if error:
        rec["errorCode"] = error
    return rec


@pytest.fixture(scope="module")
def account():
    return load_account(synth.FIXTURE)


@pytest.fixture(scope="module")
def trail():
    day = NOW - timedelta(days=10)
    recs = [
        _event(0, "DescribeBot", {"botId": "PRODBOT001"}, day),
        _event(0, "UpdateBot", {"botId": "DEVBOT0001", "botName": "Sandbox"}, day + timedelta(hours=1)),
        _event(0, "CreateBotVersion", {"botId": "DEVBOT0001"}, day, error="AccessDeniedException"),
        _event(0, "ListBotAliases", {"botId": "PRODBOT001"}, day, error="ValidationException"),
        _event(3, "DescribeBot", {"botId": "DEVBOT0001"}, NOW - timedelta(days=200)),  # before the window
        synth.other_service(__import__("random").Random(1), day, synth.PRINCIPALS[1][1], LEXOPS),
    ]
    return [Record(r, f"mem:{i}") for i, r in enumerate(recs)]


@pytest.fixture(scope="module")
def result(account, trail):
    return unused(account, trail, since=timedelta(days=90), now=NOW)


def _evidence(result, arn):
    p = next(p for p in result.principals if p["resource"] == arn)
    return {a["action"]: a["evidence"] for a in p["actions"]}


def test_every_granted_action_gets_exactly_one_evidence(account, result):
    for p in result.principals:
        granted = sorted({a.action for a in what_can(account, p["resource"], ["lex:*"])})
        # what-can in the empty context is a lower bound: conditional grants (an office IP) count as grants too
        got = [a["action"] for a in p["actions"]]
        assert set(granted) <= set(got) and got == sorted(set(got)) and p["granted"] == len(got)
    office = sorted({a.action for a in what_can(account, LEXOPS, ["lex:*"], context={"aws:SourceIp": "198.51.100.7"})})
    lexops = {a["action"] for a in next(p for p in result.principals if p["resource"] == LEXOPS)["actions"]}
    # deletes need the office address and MFA together: a grant in some context, not in the office one alone
    assert office and set(office) <= lexops and lexops - set(office) == {"lex:DeleteBot", "lex:DeleteBotAlias"}


def test_successful_events_are_use_denied_attempts_are_not(result):
    ev = _evidence(result, DANA)
    assert ev["lex:DescribeBot"] == "used" and ev["lex:UpdateBot"] == "used"
    assert ev["lex:CreateBotVersion"] == "not_seen"  # denied attempts are not use
    assert ev["lex:ListBotAliases"] == "used_unconfirmed"  # another error: authorization probably passed
    assert ev["lex:PostText"] == "not_logged"  # CloudTrail does not record Lex V1 runtime calls
    finding = next(f for f in result.findings if f["resource"] == DANA)
    assert finding["findingType"] == "UnusedPermission" and finding["resourceType"] == "AWS::IAM::User"
    (details,) = finding["findingDetails"]
    listed = [a["action"] for a in details["unusedPermissionDetails"]["actions"]]
    assert listed == sorted(a for a, e in ev.items() if e == "not_seen")
    assert "lex:PostText" not in listed and "lex:DescribeBot" not in listed
    assert details["unusedPermissionDetails"]["lastAccessed"] == synth._iso(NOW - timedelta(days=10) +
                                                                             timedelta(hours=1))


def test_not_logged_actions_are_never_called_unused(result):
    ev = _evidence(result, IDLE)
    assert ev == {"lex:GetBot": "not_seen", "lex:GetBotAlias": "not_seen", "lex:GetBots": "not_seen",
                  "lex:PostText": "not_logged"}
    finding = next(f for f in result.findings if f["resource"] == IDLE)
    acts = [a["action"] for a in finding["findingDetails"][0]["unusedPermissionDetails"]["actions"]]
    assert acts == ["lex:GetBot", "lex:GetBotAlias", "lex:GetBots"]


def test_roles_without_activity_in_the_window_are_unused_roles(result):
    kinds = {(f["resource"], f["findingType"]) for f in result.findings}
    assert (BUILDER, "UnusedIAMRole") in kinds  # its only event is older than the window
    assert (f"arn:aws:iam::{synth.ACCOUNT}:role/Dormant", "UnusedIAMRole") in kinds
    # LexOps acted in the window (in another service), so it is not an unused role, but its Lex grants are unused
    assert (LEXOPS, "UnusedIAMRole") not in kinds and (LEXOPS, "UnusedPermission") in kinds
    assert (DANA, "UnusedIAMRole") not in kinds


def test_summary_counts(result):
    s = result.summary
    assert s["events"] == 5 and s["events_in_window"] == 4
    assert s["skipped"] == {"S_OTHER_SERVICE": 1}
    assert s["findings"] == len(result.findings)
    assert sum(s["actions"].values()) == sum(p["granted"] for p in result.principals)


@pytest.mark.parametrize("text, days", [("90d", 90), ("2w", 14), ("48h", 2)])
def test_windows(text, days):
    assert parse_window(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["", "0d", "90", "ninety days", "-3d", "3y"])
def test_bad_windows_are_coded(text):
    with pytest.raises(RequestError) as e:
        parse_window(text)
    assert e.value.code == "E_BAD_WINDOW"


def test_cli_unused(trail, tmp_path):
    path = tmp_path / "trail.jsonl"
    path.write_text("".join(json.dumps(dict(r.data)) + "\n" for r in trail))
    run = [sys.executable, "-m", "lexauthz", "unused", str(path), "--account", synth.FIXTURE, "--since", "90d",
           "--now", "2026-06-30T00:00:00Z"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert {(f["resource"], f["findingType"]) for f in lines} >= {(IDLE, "UnusedPermission"),
                                                                   (BUILDER, "UnusedIAMRole")}
    assert subprocess.run(run + ["--fail-on-findings"], capture_output=True, timeout=300).returncode == 2
    bad = subprocess.run(run[:-4] + ["--since", "soon"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "E_BAD_WINDOW" in bad.stderr and "Traceback" not in bad.stderr
