"""The command line: exit codes, output shapes, and no traceback for any input."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lexauthz.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"Version": "2012-10-17", "Statement": [{"Sid": "Run", "Effect": "Allow", "Action": "lex:PostText",
                                                "Resource": "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:*",
                                                "Condition": {"StringEquals": {"aws:ResourceTag/Department":
                                                                               "Support"}}}]}
ALIAS = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod"


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "good.json"
    p.write_text(json.dumps(GOOD, indent=2))
    return p


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- validate ----

def test_validate_clean_exits_0(capsys, good):
    code, out, _ = run(capsys, "validate", str(good))
    assert code == 0 and "ok" in out


def test_validate_errors_exit_3_with_locations(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "Version": "2012-10-17",\n "Statement": [{"Effect": "allow", "Action": "lex:PostTxt",'
                   ' "Resource": "*"}]\n}\n')
    code, out, _ = run(capsys, "validate", str(bad), "--output", "json")
    assert code == 3
    data = json.loads(out)
    findings = data["policies"][0]["findings"]
    codes = {f["code"] for f in findings}
    assert {"E_INVALID_EFFECT", "W_UNKNOWN_ACTION"} <= codes
    eff = next(f for f in findings if f["code"] == "E_INVALID_EFFECT")
    assert eff["path"] == "$.Statement[0].Effect" and eff["line"] == 3
    assert eff["findingType"] == "ERROR" and eff["issueCode"] == "INVALID_EFFECT_VALUE"
    assert data["summary"]["ERROR"] == 1


def test_validate_fail_on_warning(capsys, tmp_path):
    p = tmp_path / "w.json"
    p.write_text(json.dumps({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "lex:PostTxt", "Resource": "*"}]}))
    assert run(capsys, "validate", str(p))[0] == 0
    assert run(capsys, "validate", str(p), "--fail-on", "warning")[0] == 3


def test_validate_missing_file_exits_1(capsys, tmp_path):
    code, out, _ = run(capsys, "validate", str(tmp_path / "absent.json"))
    assert code == 1 and "E_IO" in out


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"", b"[" * 100000, b'{"Statement": 5}', b"null"])
def test_validate_garbage_never_crashes(capsys, tmp_path, content):
    p = tmp_path / "junk.json"
    p.write_bytes(content)
    code, out, err = run(capsys, "validate", str(p))
    assert code == 3
    assert "Traceback" not in out + err


def test_validate_resource_type(capsys, tmp_path):
    p = tmp_path / "rp.json"
    p.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "lex:RecognizeText",
         "Resource": "arn:aws:lex:us-east-1:111122223333:bot-alias/ABCDEFGHIJ/TSTALIASID"}]}))
    assert run(capsys, "validate", "--type", "resource", str(p))[0] == 0
    assert run(capsys, "validate", str(p))[0] == 3  # a Principal in an identity policy


def test_usage_error_exits_1(capsys):
    assert run(capsys, "validate")[0] == 1
    assert run(capsys, "no-such-command")[0] == 1
    assert run(capsys)[0] == 1


# ---- actions ----

def test_actions_expands(capsys):
    code, out, _ = run(capsys, "actions", "lex:Put*")
    lines = set(out.split())
    assert code == 0
    assert {"lex:PutBot", "lex:PutBotAlias", "lex:PutIntent", "lex:PutSlotType", "lex:PutSession"} <= lines
    assert all(line.lower().startswith("lex:put") for line in lines)


def test_actions_no_match_exits_1(capsys):
    assert run(capsys, "actions", "lex:Zzz*")[0] == 1
    assert run(capsys, "actions", "PutBot")[0] == 1


# ---- simulate ----

def test_simulate_allowed_and_missing_context(capsys, good):
    argv = ["simulate", "--policy-input-list", f"file://{good}", "--action-names", "lex:PostText",
            "--resource-arns", ALIAS]
    code, out, _ = run(capsys, *argv)
    res = json.loads(out)["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "implicitDeny"
    assert res["MissingContextValues"] == ["aws:ResourceTag/Department"]
    code, out, _ = run(capsys, *argv, "--context-entries",
                       "ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=Support,ContextKeyType=string",
                       "--expect", "allowed")
    res = json.loads(out)["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "allowed"
    (m,) = res["MatchedStatements"]
    assert m["SourcePolicyId"] == "PolicyInputList.1" and m["StartPosition"] == {"Line": 4, "Column": 5}


def test_simulate_expect_mismatch_exits_2(capsys, good):
    code, _, err = run(capsys, "simulate", "--policy-input-list", f"file://{good}", "--action-names",
                       "lex:PostContent", "--resource-arns", ALIAS, "--expect", "allowed")
    assert code == 2 and "expected allowed" in err


def test_simulate_boundary_and_table(capsys, good, tmp_path):
    boundary = tmp_path / "pb.json"
    boundary.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:PostContent", "Resource": "*"}]}))
    code, out, _ = run(capsys, "simulate", "--policy-input-list", f"file://{good}",
                       "--permissions-boundary-policy-input-list", f"file://{boundary}",
                       "--action-names", "lex:PostText", "--resource-arns", ALIAS, "--context-entries",
                       '[{"ContextKeyName": "aws:ResourceTag/Department", "ContextKeyValues": ["Support"],'
                       ' "ContextKeyType": "string"}]', "--output", "table")
    assert code == 0
    assert "implicitDeny" in out.splitlines()[1]


def test_simulate_invalid_policy_exits_3(capsys):
    code, _, err = run(capsys, "simulate", "--policy-input-list", '{"Statement": [{"Effect": "allow"}]}',
                       "--action-names", "lex:PostText")
    assert code == 3 and "E_INVALID_EFFECT" in err


def test_simulate_cases_matches_labels(capsys, tmp_path):
    data = ROOT / "tests" / "conformance" / "data"
    cases = [json.loads(line) for line in gzip.open(data / "cases-1.jsonl.gz", "rt")][:60]
    labels = [json.loads(line) for line in gzip.open(data / "labels-1.jsonl.gz", "rt")][:60]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in cases))
    out_file = tmp_path / "out.jsonl"
    code, _, err = run(capsys, "simulate", "--cases", str(src), "--out", str(out_file))
    assert code == 0 and "60 cases" in err
    got = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [g["id"] for g in got] == [c["id"] for c in cases]
    plain = [(g, lab) for g, lab, c in zip(got, labels, cases)
             if not set(c["meta"]["features"]) & {"version_2008_with_variable", "var_in_arn_condition_account",
                                                   "session_policy_with_rp_naming_session", "adv_operator_case",
                                                   "not_principal"}]
    assert plain
    assert all(g["decision"] == lab["decision"] for g, lab in plain)


def test_simulate_cases_unreadable(capsys, tmp_path):
    assert run(capsys, "simulate", "--cases", str(tmp_path / "none.jsonl"))[0] == 1


# ---- demo ----

def test_demo_answers_every_call_as_expected(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert "21 of 21 calls got the decision AWS gives them" in out


def test_demo_json(capsys):
    code, out, _ = run(capsys, "demo", "--output", "json")
    data = json.loads(out)
    assert code == 0 and data["as_expected"] == len(data["calls"]) > 0
    assert all(c["decision"] == c["expected"] for c in data["calls"])


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "lexauthz", "actions", "lex:PostT*"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.split() == ["lex:PostText"]


def test_simulate_principal_policy_reads_the_account(capsys):
    account = str(ROOT / "lexauthz" / "examples" / "account.json")
    maria = "arn:aws:iam::111122223333:user/developers/maria"
    code, out, _ = run(capsys, "simulate", "--policy-source-arn", maria, "--account", account,
                       "--action-names", "lex:DeleteBotAlias", "--resource-arns", ALIAS, "--context-entries",
                       "ContextKeyName=aws:ResourceTag/Environment,ContextKeyValues=Production,ContextKeyType=string")
    res = json.loads(out)["EvaluationResults"][0]
    # DenyProductionChanges (maria's own policy) denies changes to resources tagged Environment=Production
    assert code == 0 and res["EvalDecision"] == "explicitDeny"
    assert "DenyProductionChanges" in {m["SourcePolicyId"] for m in res["MatchedStatements"]}


def test_simulate_principal_policy_unknown_principal(capsys):
    account = str(ROOT / "lexauthz" / "examples" / "account.json")
    code, _, err = run(capsys, "simulate", "--policy-source-arn", "arn:aws:iam::111122223333:user/nobody",
                       "--account", account, "--action-names", "lex:GetBots")
    assert code == 1 and "E_NO_SUCH_ENTITY" in err
    assert run(capsys, "simulate", "--policy-source-arn", "arn:aws:iam::111122223333:user/x",
               "--action-names", "lex:GetBots")[0] == 1


def test_simulate_cases_compiled_engine_gives_identical_output(capsys, tmp_path):
    data = ROOT / "tests" / "conformance" / "data"
    lines = [line for line in gzip.open(data / "cases-2.jsonl.gz", "rt")][:150]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(lines))
    outs = {}
    for engine in ("reference", "compiled"):
        out_file = tmp_path / f"{engine}.jsonl"
        assert run(capsys, "simulate", "--cases", str(src), "--engine", engine, "--out", str(out_file))[0] == 0
        outs[engine] = out_file.read_text()
    assert outs["reference"] == outs["compiled"]
    assert len(outs["reference"].splitlines()) == 150
