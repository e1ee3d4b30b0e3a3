"""Session tags joined from sts:AssumeRole events by access key id."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lexauthz.analysis.replay import replay
from lexauthz.cloudtrail import Translator, read_records, session_of, session_tags

import replay_synth as synth


@pytest.fixture(scope="module")
def account():
    return synth.session_account()


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    synth.session_trail(str(root))
    return str(root)


def _by_session(result) -> dict:
    return {(r["principal"].rsplit("/", 1)[1], r["resource"].rsplit("/", 1)[1]): r for r in result.records}


def test_session_of_reads_only_what_the_record_proves():
    assert session_of(synth.assume_role("ASIA1", "x", [("team", "a"), ("cc", "7")])) == \
        ("ASIA1", (("team", "a"), ("cc", "7")))
    assert session_of(synth.assume_role("ASIA2", "x", None)) == ("ASIA2", ())  # no tags passed: none
    chained = {"type": "AssumedRole", "arn": f"arn:aws:sts::{synth.ACCOUNT}:assumed-role/Team/s"}
    assert session_of(synth.assume_role("ASIA3", "x", [("team", "a")], caller=chained)) is None
    failed = synth.assume_role("ASIA4", "x", [("team", "a")])
    failed["errorCode"] = "AccessDenied"
    assert session_of(failed) is None
    odd = synth.assume_role("ASIA5", "x", [("team", "a")])
    odd["requestParameters"]["tags"].append({"key": "k"})  # a tag without its value: the tags are not known
    assert session_of(odd) is None
    other = synth.assume_role("ASIA6", "x", [])
    other["eventName"] = "AssumeRoleWithSAML"
    assert session_of(other) is None and session_of({"eventSource": "lex.amazonaws.com"}) is None


def test_session_tags_decide_as_aws_did(account, trail):
    without = _by_session(replay(account, trails=[trail]))
    # without the join, s1 is decided with the role's tag team=b: BOTA denied, BOTB allowed, both against AWS
    assert without[("s1", "BOTB000001")]["fidelity"] == "disagree"
    assert without[("s1", "BOTA000001")]["fidelity"] == "disagree"
    assert without[("s1", "BOTA000001")]["disagreement_causes"] == ["session_tags_unknown"]

    joined = replay(account, trails=[trail], sessions=True)
    rec = _by_session(joined)
    assert joined.summary["fidelity"]["disagree_events"] == 1  # only s3, whose chained tags stay unknown
    a1, b1, b2, a3 = (rec[("s1", "BOTA000001")], rec[("s1", "BOTB000001")], rec[("s2", "BOTB000001")],
                      rec[("s3", "BOTA000001")])
    assert a1["current"] == "allowed" and a1["fidelity"] == "agree"
    assert b1["current"] == "implicitDeny" and b1["fidelity"] == "agree"  # the session tag replaced the role's
    assert "notes" not in a1 and a1["confidence"] == "high"
    assert b2["fidelity"] == "agree" and "session_tags_unknown" in b2["notes"]
    assert a3["disagreement_causes"] == ["session_tags_unknown"]


def test_a_translator_learns_sessions(account, trail):
    records = list(read_records([trail]))
    tr = Translator(account, sessions=session_tags(records))
    ev = tr.translate(next(r for r in records if r.data.get("eventID") == "ev-s1-BOTA000001"))
    assert dict(ev.key[3])["aws:PrincipalTag/team"] == "a" and "session_tags_unknown" not in ev.notes
    ev = tr.translate(next(r for r in records if r.data.get("eventID") == "ev-s2-BOTB000001"))
    assert "aws:PrincipalTag/team" not in dict(ev.key[3]) and "session_tags_unknown" in ev.notes
    # a list of records can be read twice; a one-shot iterator cannot
    assert replay(account, records, sessions=True).summary["fidelity"]["disagree_events"] == 1
    with pytest.raises(ValueError, match="twice"):
        replay(account, iter(records), sessions=True)


def test_cli_join_sessions(account, trail, tmp_path):
    path = tmp_path / "account.json"
    path.write_text(json.dumps(synth.SESSION_ACCOUNT))
    base = [sys.executable, "-m", "lexauthz", "replay", trail, "--account", str(path), "--summary"]
    for flag, disagree in (([], 3), (["--join-sessions"], 1)):
        done = subprocess.run(base + [str(tmp_path / "s.json"), *flag], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert json.loads((tmp_path / "s.json").read_text())["fidelity"]["disagree_events"] == disagree
