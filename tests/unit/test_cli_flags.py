"""The command line's flags: one meaning of --output/--out on every verb, usage errors naming the verb, refusals."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lexauthz.cli import main

ROOT = Path(__file__).resolve().parents[2]
GAAD = ROOT / "tests" / "fixtures" / "gaad" / "account-111122223333.json"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]})


@pytest.fixture
def policy_file(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(POLICY)
    return p


@pytest.fixture
def requests_file(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"principal": "arn:aws:iam::123456789012:user/bob", "action": "lex:PostText"}]))
    return p


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _verb_argv(verb, tmp_path, policy_file, requests_file):
    return {
        "validate": ["validate", policy_file],
        "actions": ["actions", "lex:PostT*"],
        "simulate": ["simulate", "--policy-input-list", POLICY, "--action-names", "lex:PostText"],
        "demo": ["demo"],
        "bench": ["bench", "--policies", policy_file, "--requests", requests_file, "--rounds", "1",
                  "--single-calls", "1"],
    }[verb]


VERBS = ["validate", "actions", "simulate", "demo", "bench"]


@pytest.mark.parametrize("verb", VERBS)
def test_unknown_flag_prints_the_verbs_usage_and_exits_1(capsys, verb, tmp_path, policy_file, requests_file):
    code, out, err = run(capsys, [*_verb_argv(verb, tmp_path, policy_file, requests_file), "--no-such-flag"])
    assert code == 1 and out == ""
    assert err.startswith(f"usage: lexauthz {verb} ")
    assert f"lexauthz {verb}: error: E_USAGE" in err


@pytest.mark.parametrize("verb", VERBS)
def test_bad_output_value_prints_the_verbs_usage(capsys, verb, tmp_path, policy_file, requests_file):
    code, _, err = run(capsys, [*_verb_argv(verb, tmp_path, policy_file, requests_file), "--output", "xml"])
    assert code == 1 and err.startswith(f"usage: lexauthz {verb} ")


@pytest.mark.parametrize("verb", VERBS)
def test_out_writes_the_file_and_json_parses(capsys, verb, tmp_path, policy_file, requests_file):
    dest = tmp_path / f"{verb}.json"
    code, out, _ = run(capsys, [*_verb_argv(verb, tmp_path, policy_file, requests_file), "--output", "json",
                                "--out", dest])
    assert code == 0 and out == ""
    assert json.loads(dest.read_text())


@pytest.mark.parametrize("verb", VERBS)
def test_out_in_a_missing_folder_is_a_usage_error(capsys, verb, tmp_path, policy_file, requests_file):
    dest = tmp_path / "no" / "such" / "dir" / "x.json"
    code, out, err = run(capsys, [*_verb_argv(verb, tmp_path, policy_file, requests_file), "--out", dest])
    assert code == 1 and out == ""
    assert err.startswith(f"usage: lexauthz {verb} ") and f"lexauthz {verb}: error: E_OUT_PATH" in err
    assert not dest.parent.exists()


def test_format_is_gone(capsys):
    code, _, err = run(capsys, ["validate", "x.json", "--format", "json"])
    assert code == 1 and err.startswith("usage: lexauthz validate ")


@pytest.mark.parametrize("extra", [
    ["--action-names", "lex:PostText"],
    ["--policy-input-list", POLICY],
    ["--context-entries", "ContextKeyName=a,ContextKeyValues=b"],
    ["--resource-arns", "*"],
    ["--account", str(GAAD)],
    ["--policy-source-arn", "arn:aws:iam::111122223333:user/tom"],
    ["--expect", "allowed"],
    ["--strict"],
    ["--scp", POLICY],
    ["--output", "table"],
])
def test_cases_mode_refuses_flags_it_cannot_honour(capsys, tmp_path, extra):
    cases = tmp_path / "c.jsonl"
    cases.write_text("")
    code, out, err = run(capsys, ["simulate", "--cases", cases, *extra])
    assert code == 1 and out == ""
    assert err.startswith("usage: lexauthz simulate ") and "E_FLAG_CONFLICT" in err


@pytest.mark.parametrize("argv", [
    ["simulate", "--policy-input-list", POLICY],                                            # nothing to evaluate
    ["simulate", "--engine", "reference", "--action-names", "lex:PostText"],               # no policy at all
    ["simulate", "--account", str(GAAD), "--action-names", "lex:PostText"],                # account, no source
    ["simulate", "--policy-source-arn", "arn:aws:iam::111122223333:user/tom", "--action-names", "lex:PostText"],
    ["simulate", "--account", str(GAAD), "--policy-source-arn", "arn:aws:iam::111122223333:group/LexReaders",
     "--action-names", "lex:GetBots"],                                                      # group needs a caller
])
def test_simulate_missing_flags_are_usage_errors(capsys, argv):
    code, out, err = run(capsys, argv)
    assert code == 1 and out == ""
    assert err.startswith("usage: lexauthz simulate ") and "E_MISSING_FLAG" in err


def test_engine_is_not_a_flag_of_verbs_without_evaluation(capsys, policy_file):
    for argv in (["validate", policy_file], ["actions", "lex:*"]):
        code, _, err = run(capsys, [*argv, "--engine", "reference"])
        assert code == 1 and err.startswith(f"usage: lexauthz {argv[0]} ")


def test_python_dash_m_usage_error_is_the_verbs():
    proc = subprocess.run([sys.executable, "-m", "lexauthz", "simulate", "--bogus"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stderr.startswith("usage: lexauthz simulate ")
    assert "Traceback" not in proc.stderr


def test_python_dash_m_simulate_json():
    proc = subprocess.run([sys.executable, "-m", "lexauthz", "simulate", "--policy-input-list", POLICY,
                           "--action-names", "lex:PostText", "--expect", "allowed"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
