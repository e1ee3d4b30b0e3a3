"""The analysis verbs through the real command line (`lexauthz.cli.main`): outputs equal the Python API's, data
files by suffix, exit codes (0 success / PASS, 2 FAIL or change with --fail-on-change, 1 error) and coded errors on
stderr, never a traceback."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from lexauthz.account import load_account
from lexauthz.analysis import resolve_space, what_can, who_can
from lexauthz.analysis.diff import diff
from lexauthz.analysis.matrix import matrix
from lexauthz.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
GAAD = os.path.join(HERE, "fixtures", "gaad-111122223333.json")
ALIAS = "arn:aws:lex:us-east-1:111122223333:bot-alias/BOOKTRIP01/PRODALIAS1"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture(scope="module")
def example_dir():
    import lexauthz

    return os.path.join(os.path.dirname(lexauthz.__file__), "examples")


def _space_file(tmp_path, data):
    p = tmp_path / "space.json"
    p.write_text(json.dumps(data))
    return str(p)


def test_matrix_writes_every_format_and_counts(capsys, tmp_path, example_dir):
    spec = {"actions": ["lex:Recognize*", "lex:PostText", "lex:DeleteBot"], "contexts": [{}]}
    space_file = _space_file(tmp_path, spec)
    acc = load_account(example_dir)
    m = matrix(acc, resolve_space(spec, [acc]))
    for ext in ("csv", "jsonl", "parquet", "npz"):
        out = tmp_path / f"m.{ext}"
        code, stdout, err = _run(capsys, "matrix", "--account", example_dir, "--space", space_file, "--out", str(out))
        assert code == 0 and out.stat().st_size > 0
        assert json.loads(stdout)["summary"]["by_decision"] == m.counts()
        assert "cells from" in err
    with np.load(tmp_path / "m.npz") as z:
        assert np.array_equal(z["cube"], m.cube())
    code, stdout, _ = _run(capsys, "matrix", "--account", example_dir, "--space", space_file, "--output", "text")
    assert code == 0 and f"allowed\t{m.counts()['allowed']}" in stdout


def test_who_can_and_what_can_equal_the_api(capsys, tmp_path, example_dir):
    acc = load_account(example_dir)
    code, stdout, _ = _run(capsys, "who-can", "--account", example_dir, "--resource", ALIAS)
    assert code == 0 and json.loads(stdout) == [a.to_dict() for a in who_can(acc, ALIAS)]
    out = tmp_path / "w.jsonl"
    code, _, _ = _run(capsys, "who-can", "--account", example_dir, "--resource", ALIAS, "--actions", "lex:Recognize*",
                      "--out", str(out))
    assert code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == [a.to_dict() for a in who_can(acc, ALIAS, ["lex:Recognize*"])]
    role = "arn:aws:iam::111122223333:role/BotBuilder"
    code, stdout, _ = _run(capsys, "what-can", "--account", example_dir, "--principal", role, "--output", "table")
    assert code == 0 and stdout.startswith("PRINCIPAL") and len(stdout.splitlines()) == len(what_can(acc, role)) + 1
    code, stdout, _ = _run(capsys, "what-can", "--account", example_dir, "--principal", role, "--policy-document")
    doc = json.loads(stdout)
    assert doc["Version"] == "2012-10-17" and doc["Statement"]
    code, stdout, _ = _run(capsys, "who-can", "--account", example_dir, "--resource", ALIAS, "--context-entries",
                           "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,ContextKeyType=ip")
    assert code == 0


def test_whatif_diff_two_accounts_and_candidate_changes(capsys, tmp_path):
    with open(GAAD, encoding="utf-8") as fh:
        data = json.load(fh)
    for u in data["UserDetailList"]:
        if u["UserName"] == "tom":
            u["GroupList"] = [g for g in u["GroupList"] if g != "LexDevelopers"]
    after = tmp_path / "after.json"
    after.write_text(json.dumps(data))
    spec = {"actions": ["lex:*"], "resources": ["arn:aws:lex:us-east-1:111122223333:bot/B1",
                                                "arn:aws:lex:us-east-1:111122223333:bot-alias/B1/A1"],
            "contexts": [{}, {"aws:ResourceTag/team": "travel"}]}
    space = _space_file(tmp_path, spec)
    code, stdout, err = _run(capsys, "whatif", "diff", "--before", GAAD, "--after", str(after), "--space", space)
    assert code == 0
    lines = [json.loads(x) for x in stdout.splitlines()]
    a, b = load_account(GAAD), load_account(str(after))
    d = diff(a, b, resolve_space(spec, [a, b]))
    assert lines[:-1] == d.records and lines[-1] == d.summary and d.changed > 0
    assert {r["principal"] for r in d} == {"arn:aws:iam::111122223333:user/tom"}
    assert "cells changed" in err
    code, _, _ = _run(capsys, "whatif", "diff", "--before", GAAD, "--after", str(after), "--space", space,
                      "--fail-on-change")
    assert code == 2
    code, stdout, _ = _run(capsys, "whatif", "diff", "--before", GAAD, "--remove-from-group",
                           "arn:aws:iam::111122223333:user/tom=LexDevelopers", "--space", space)
    assert code == 0 and [json.loads(x) for x in stdout.splitlines()][-1]["summary"]["changed"] == d.changed
    scp = tmp_path / "deny.json"
    scp.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}]}))
    out = tmp_path / "d.jsonl"
    code, _, _ = _run(capsys, "whatif", "diff", "--before", GAAD, "--add-scp", f"root=file://{scp}", "--space", space,
                      "--out", str(out), "--output", "table")
    summary = json.loads(out.read_text().splitlines()[-1])["summary"]
    assert code == 0 and summary["by_statement"] and all("NoDelete" in k for k in summary["by_statement"])


@pytest.mark.parametrize("argv, code", [
    (["whatif", "diff", "--before", GAAD], "E_USAGE"),
    (["whatif", "diff", "--before", GAAD, "--after", GAAD, "--add-scp", "root={}"], "E_FLAG_CONFLICT"),
    (["whatif", "diff", "--before", "/nonexistent/acct.json", "--after", GAAD], "E_ACCOUNT_NOT_FOUND"),
    (["whatif", "diff", "--before", GAAD, "--replace-policy", "NoSuchPolicy={\"Version\": \"2012-10-17\", "
      "\"Statement\": []}"], "E_NO_SUCH_POLICY"),
    (["matrix", "--account", GAAD, "--out", "m.xlsx"], "E_UNKNOWN_FORMAT"),
    (["matrix", "--account", GAAD, "--report", "r.txt"], "E_OUT_PATH"),
    (["who-can", "--account", GAAD, "--resource", "bot"], "E_BAD_RESOURCE"),
    (["who-can", "--account", GAAD, "--resource", "*", "--actions", "lex:Nothing*"], "E_NO_ACTION"),
    (["check-no-new-access", "--existing-policy-document", "{", "--new-policy-document", "{}",
      "--policy-type", "IDENTITY_POLICY"], "E_MALFORMED_JSON"),
    (["check-no-public-access", "--policy-document", "file:///nonexistent.json", "--resource-type",
      "AWS::Lex::Bot"], "E_IO"),
    (["check-no-public-access", "--policy-document", '{"Version": "2012-10-17", "Statement": []}',
      "--resource-type", "AWS::S3::Bucket"], "E_UNSUPPORTED_RESOURCE_TYPE"),
])
def test_errors_are_coded_and_exit_1(capsys, tmp_path, monkeypatch, argv, code):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _run(capsys, *argv)
    assert rc == 1 and f"error: {code}:" in err


def test_checks_exit_codes_and_aws_shape(capsys, tmp_path):
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}]}))
    new.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["lex:Get*", "lex:DeleteBot"], "Resource": "*"}]}))
    argv = ["check-no-new-access", "--existing-policy-document", f"file://{old}", "--policy-type", "IDENTITY_POLICY"]
    rc, out, _ = _run(capsys, *argv, "--new-policy-document", f"file://{old}")
    assert rc == 0 and json.loads(out)["result"] == "PASS"
    rc, out, _ = _run(capsys, *argv, "--new-policy-document", f"file://{new}")
    d = json.loads(out)
    assert rc == 2 and d["result"] == "FAIL" and set(d) == {"result", "message", "reasons"}
    rc, out, _ = _run(capsys, *argv, "--new-policy-document", f"file://{new}", "--witnesses")
    d = json.loads(out)
    assert rc == 2 and d["witnesses"] and all(w["action"] == "lex:DeleteBot" and w["verified"]
                                              for w in d["witnesses"])
    rc, out, _ = _run(capsys, *argv, "--new-policy-document", f"file://{new}", "--output", "text")
    assert rc == 2 and out.startswith("The modified permissions grant new access") and "REASONS" in out
    access = tmp_path / "access.json"
    access.write_text('[{"actions": ["lex:DeleteBot"]}]')
    rc, out, _ = _run(capsys, "check-access-not-granted", "--policy-document", f"file://{old}", "--access",
                      f"file://{access}", "--policy-type", "IDENTITY_POLICY")
    assert rc == 0 and json.loads(out)["result"] == "PASS"
    rc, out, _ = _run(capsys, "check-access-not-granted", "--policy-document", f"file://{new}", "--access",
                      '[{"actions": ["lex:DeleteBot"]}]', "--policy-type", "IDENTITY_POLICY")
    assert rc == 2 and json.loads(out)["reasons"] == [
        {"description": "One or more of the listed actions in the statement with index: 0.", "statementIndex": 0}]
    public = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                                  "Action": "lex:RecognizeText", "Resource": ALIAS}]})
    rc, out, _ = _run(capsys, "check-no-public-access", "--policy-document", public, "--resource-type",
                      "AWS::Lex::BotAlias", "--witnesses")
    d = json.loads(out)
    assert rc == 2 and d["witnesses"][0]["principal"] == "*" and d["witnesses"][0]["resource"] == ALIAS
