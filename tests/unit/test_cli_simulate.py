"""``lexauthz simulate`` and ``lexauthz demo`` in the AWS CLI's terms: engines, accounts, warnings, progress."""
from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from lexauthz.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "gaad"
GAAD = str(FIX / "account-111122223333.json")
GAAD2 = str(FIX / "account-444455556666.json")
NATIVE = str(ROOT / "lexauthz" / "examples" / "account.json")
A = "arn:aws:iam::111122223333"
BOT = "arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ"
ALIAS = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod"
ALLOW = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]})
TAGGED = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Run", "Effect": "Allow", "Action": ["lex:PostText", "lex:RecognizeText"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/Department": "Support"}}},
    {"Sid": "NoDeletes", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}]})
BOUNDARY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "lex:PostText", "Resource": "*"}]})
SCP = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "lex:PostText", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}]})
DEPT = "ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=Support,ContextKeyType=string"
TEAM = "ContextKeyName=aws:ResourceTag/team,ContextKeyValues=flowers"
PROD = "ContextKeyName=aws:ResourceTag/Environment,ContextKeyValues=Production"


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def simulate(capsys, *argv):
    code, out, err = run(capsys, ["simulate", *argv])
    return code, (json.loads(out) if out.startswith("{") else out), err


def results(data):
    return {(r["EvalActionName"], s["EvalResourceName"]): s for r in data["EvaluationResults"]
            for s in r["ResourceSpecificResults"]}


# -- the two engines print the same bytes ----------------------------------------------------------------------------

INVOCATIONS = {
    "custom-missing-context": ["--policy-input-list", TAGGED, "--action-names", "lex:PostText", "lex:DeleteBot",
                               "--resource-arns", ALIAS, BOT],
    "custom-with-context": ["--policy-input-list", TAGGED, "--action-names", "lex:PostText", "--resource-arns",
                            ALIAS, "--context-entries", DEPT],
    "boundary-table": ["--policy-input-list", ALLOW, "--permissions-boundary-policy-input-list", BOUNDARY,
                       "--action-names", "lex:PostText", "lex:PostContent", "--output", "table"],
    "scp-text": ["--policy-input-list", ALLOW, "--scp", SCP, "--action-names", "lex:PostText", "--context-entries",
                 "ContextKeyName=aws:RequestedRegion,ContextKeyValues=eu-west-1", "--output", "text"],
    "scp-missing-key": ["--policy-input-list", ALLOW, "--scp", SCP, "--action-names", "lex:PostText"],
    "resource-policy": ["--resource-policy", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "lex:RecognizeText",
         "Resource": "*"}]}), "--caller-arn", "arn:aws:iam::444455556666:user/p", "--action-names",
        "lex:RecognizeText", "--resource-arns", BOT],
    "gaad-user": ["--account", GAAD, "--policy-source-arn", f"{A}:user/developers/maria", "--action-names",
                  "lex:DeleteBot", "lex:DescribeBot", "--resource-arns", BOT, "--context-entries", TEAM, PROD],
    "gaad-boundary": ["--account", GAAD, "--policy-source-arn", f"{A}:user/tom", "--action-names", "lex:DescribeBot",
                      "lex:GetBots", "--output", "table"],
    "gaad-group": ["--account", GAAD, "--policy-source-arn", f"{A}:group/LexReaders", "--caller-arn",
                   f"{A}:user/tom", "--action-names", "lex:GetBots"],
    "gaad-extra-policy": ["--account", GAAD, "--policy-source-arn", f"{A}:user/ops/deployer", "--policy-input-list",
                          ALLOW, "--action-names", "lex:DeleteBot", "--resource-arns", BOT],
    "gaad-two-accounts": ["--account", GAAD, GAAD2, "--policy-source-arn", "arn:aws:iam::444455556666:user/partner",
                          "--action-names", "sts:AssumeRole", "--resource-arns", f"{A}:role/service/LexBuilder"],
    "native-account": ["--account", NATIVE, "--policy-source-arn", f"{A}:user/developers/maria", "--action-names",
                       "lex:DeleteBotAlias", "--resource-arns", ALIAS],
}


@pytest.mark.parametrize("name", sorted(INVOCATIONS))
def test_compiled_and_reference_print_identical_output(capsys, name):
    outs = {}
    for engine in ("compiled", "reference"):
        code, out, err = run(capsys, ["simulate", *INVOCATIONS[name], "--engine", engine])
        assert code == 0, err
        outs[engine] = out
    assert outs["compiled"] == outs["reference"]
    assert outs["compiled"].strip()


def test_compiled_is_the_default(capsys, monkeypatch):
    import lexauthz.reference as reference

    def boom(*a, **k):
        raise AssertionError("the reference evaluator ran")

    monkeypatch.setattr(reference, "evaluate", boom)
    code, data, _ = simulate(capsys, *INVOCATIONS["custom-with-context"])
    assert code == 0 and data["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_cases_compiled_and_reference_are_identical(capsys, tmp_path):
    lines = list(gzip.open(ROOT / "tests" / "conformance" / "data" / "cases-1.jsonl.gz", "rt"))[:80]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(lines))
    outs = [run(capsys, ["simulate", "--cases", src, *e])[1] for e in ([], ["--engine", "reference"])]
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == 80
    assert {json.loads(x)["decision"] for x in outs[0].splitlines()} <= {"Allowed", "ImplicitlyDenied",
                                                                         "ExplicitlyDenied", None}


# -- simulate-principal-policy against a GAAD account -----------------------------------------------------------------

def test_gaad_user_own_group_and_managed_policies(capsys):
    code, data, _ = simulate(capsys, *INVOCATIONS["gaad-user"])
    r = results(data)
    delete, describe = r[("lex:DeleteBot", BOT)], r[("lex:DescribeBot", BOT)]
    assert code == 0
    assert delete["EvalResourceDecision"] == "explicitDeny"
    assert {"SourcePolicyId": "DenyProdDeletes", "SourcePolicyType": "user-managed"} in delete["MatchedStatements"]
    # LexTeamDeveloper comes through the group LexDevelopers, at its default version v2 (team-tag condition)
    assert describe["EvalResourceDecision"] == "allowed"
    assert describe["MatchedStatements"] == [{"SourcePolicyId": "LexTeamDeveloper",
                                              "SourcePolicyType": "user-managed"}]


def test_gaad_default_version_and_principal_tags(capsys):
    # v1 of LexTeamDeveloper allowed lex:* unconditionally; v2 (the default) needs aws:ResourceTag/team to equal the
    # principal's tag team=flowers (a GAAD tag of maria)
    argv = ["--account", GAAD, "--policy-source-arn", f"{A}:user/developers/maria", "--action-names",
            "lex:DescribeBot", "--resource-arns", BOT]
    code, data, _ = simulate(capsys, *argv)
    res = data["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "implicitDeny"
    assert res["MissingContextValues"] == ["aws:ResourceTag/team"]
    code, data, _ = simulate(capsys, *argv, "--context-entries",
                             "ContextKeyName=aws:ResourceTag/team,ContextKeyValues=travel")
    assert data["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    code, data, _ = simulate(capsys, *argv, "--context-entries", TEAM)
    assert data["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_gaad_permissions_boundary_default_version(capsys):
    code, data, _ = simulate(capsys, "--account", GAAD, "--policy-source-arn", f"{A}:user/tom", "--action-names",
                             "lex:DescribeBot", "lex:GetBots")
    by = {r["EvalActionName"]: r for r in data["EvaluationResults"]}
    assert code == 0
    # RuntimeOnly v3 (default) has no lex:Describe*; v2 allowed lex:*
    assert by["lex:DescribeBot"]["EvalDecision"] == "implicitDeny"
    assert by["lex:DescribeBot"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert by["lex:GetBots"]["EvalDecision"] == "allowed"
    assert by["lex:GetBots"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert {"SourcePolicyId": "ReadBots", "SourcePolicyType": "group"} in by["lex:GetBots"]["MatchedStatements"]


def test_gaad_role_and_trust_policy(capsys):
    code, data, _ = simulate(capsys, "--account", GAAD, "--policy-source-arn", f"{A}:role/service/LexBuilder",
                             "--action-names", "lex:DeleteBot", "--resource-arns", BOT)
    res = data["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "allowed"
    assert res["MatchedStatements"] == [{"SourcePolicyId": "BuildAll", "SourcePolicyType": "role"}]
    code, data, _ = simulate(capsys, "--account", GAAD, "--policy-source-arn", f"{A}:user/developers/maria",
                             "--action-names", "sts:AssumeRole", "--resource-arns", f"{A}:role/service/LexBuilder")
    res = data["EvaluationResults"][0]
    assert res["EvalDecision"] == "allowed"
    assert [m["SourcePolicyType"] for m in res["MatchedStatements"]] == ["user", "resource"]


def test_gaad_several_accounts_cross_account_trust(capsys):
    base = INVOCATIONS["gaad-two-accounts"]
    code, data, _ = simulate(capsys, *base)
    res = data["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "implicitDeny"
    assert res["MissingContextValues"] == ["aws:MultiFactorAuthPresent"]
    code, data, _ = simulate(capsys, *base, "--context-entries",
                             "ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=true,ContextKeyType=boolean")
    assert data["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_gaad_group_source_and_extra_policies(capsys):
    code, data, _ = simulate(capsys, *INVOCATIONS["gaad-group"])
    res = data["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "allowed"
    assert res["MatchedStatements"] == [{"SourcePolicyId": "ReadBots", "SourcePolicyType": "group"}]
    code, data, _ = simulate(capsys, *INVOCATIONS["gaad-extra-policy"])
    res = data["EvaluationResults"][0]
    assert res["EvalDecision"] == "allowed"
    assert res["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


@pytest.mark.parametrize("argv, code_word", [
    (["--account", GAAD, "--policy-source-arn", f"{A}:user/nobody", "--action-names", "lex:GetBots"],
     "E_NO_SUCH_ENTITY"),
    (["--account", "/no/such/account.json", "--policy-source-arn", f"{A}:user/tom", "--action-names", "lex:GetBots"],
     "E_ACCOUNT_NOT_FOUND"),
])
def test_account_errors_exit_1_with_a_code(capsys, argv, code_word):
    code, out, err = simulate(capsys, *argv)
    assert code == 1 and out == "" and code_word in err and "Traceback" not in err


def test_missing_context_values_are_reported(capsys):
    code, data, _ = simulate(capsys, *INVOCATIONS["custom-missing-context"])
    r = results(data)
    assert r[("lex:PostText", ALIAS)]["MissingContextValues"] == ["aws:ResourceTag/Department"]
    assert r[("lex:DeleteBot", BOT)]["EvalResourceDecision"] == "explicitDeny"
    code, data, _ = simulate(capsys, *INVOCATIONS["scp-missing-key"])
    assert "aws:RequestedRegion" in data["EvaluationResults"][0]["MissingContextValues"]


# -- unknown actions and resource types ------------------------------------------------------------------------------

@pytest.mark.parametrize("action, arn, code_word, hint", [
    ("lex:PostTxt", "*", "W_UNKNOWN_ACTION", "lex:PostText"),
    ("lexx:PostText", "*", "W_UNKNOWN_SERVICE", "lex"),
    ("lex:PostText", "arn:aws:lex:us-east-1:111122223333:bto:OrderFlowers:Prod", "W_UNKNOWN_RESOURCE_TYPE", "bot:"),
])
def test_unknown_to_the_catalog_warns_and_strict_exits_3(capsys, action, arn, code_word, hint):
    argv = ["--policy-input-list", ALLOW, "--action-names", action, "--resource-arns", arn]
    code, data, err = simulate(capsys, *argv)
    assert code == 0 and code_word in err and hint in err
    assert data["EvaluationResults"][0]["EvalDecision"] in ("implicitDeny", "allowed")
    code, data, err = simulate(capsys, *argv, "--strict")
    assert code == 3 and code_word in err
    assert data["EvaluationResults"]  # the answer is still printed


def test_unknown_action_is_answered_as_iam_would(capsys):
    code, data, _ = simulate(capsys, "--policy-input-list", TAGGED, "--action-names", "lex:PostTxt")
    assert code == 0 and data["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"


def test_known_actions_give_no_warning(capsys):
    code, _, err = simulate(capsys, "--policy-input-list", ALLOW, "--action-names", "lex:PostText",
                            "--resource-arns", ALIAS, BOT, f"{A}:role/service/LexBuilder", "--strict")
    assert code == 0 and err == ""


# -- --expect and output vocabulary -------------------------------------------------------------------------------

@pytest.mark.parametrize("expect, code", [("allowed", 0), ("denied", 2), ("implicitDeny", 2), ("explicitDeny", 2)])
def test_expect(capsys, expect, code):
    got, _, err = simulate(capsys, "--policy-input-list", ALLOW, "--action-names", "lex:PostText", "--expect",
                           expect)
    assert got == code
    if code == 2:
        assert "E_EXPECT_MISMATCH" in err


@pytest.mark.parametrize("output", ["table", "text"])
def test_table_and_text_use_the_simulator_words(capsys, output):
    code, out, _ = simulate(capsys, *INVOCATIONS["custom-missing-context"], "--output", output)
    words = {w for line in out.splitlines() for w in line.replace("\t", " ").split()}
    assert code == 0 and {"implicitDeny", "explicitDeny"} <= words
    assert not words & {"Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "ALLOW", "IMPLICIT_DENY"}


# -- progress bar ---------------------------------------------------------------------------------------------------

class _TTY(io.StringIO):
    def isatty(self):
        return True


def _many_args():
    from lexauthz.catalog import load_catalog

    actions = [a.full_name for a in load_catalog().actions("lex")][:40]
    arns = [f"arn:aws:lex:us-east-1:111122223333:bot/B{i:09d}" for i in range(20)]
    return ["--policy-input-list", ALLOW, "--action-names", *actions, "--resource-arns", *arns]


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    calls = []
    import tqdm as real

    class Fake:
        def __init__(self, total=None, **kw):
            calls.append((total, kw))
            self.n = 0

        def update(self, n=1):
            self.n += n

        def close(self):
            calls.append(("closed", self.n))

    monkeypatch.setattr(real, "tqdm", Fake)
    code, _, _ = simulate(capsys, *_many_args())
    assert code == 0 and calls == []  # capsys' stderr is not a terminal
    monkeypatch.setattr(sys, "stderr", _TTY())
    assert main(["simulate", *_many_args()]) == 0
    assert calls[0][0] == 800 and calls[0][1]["file"] is sys.stderr and calls[0][1]["delay"] >= 1
    assert calls[-1] == ("closed", 800)


def test_no_tqdm_no_progress_and_no_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    monkeypatch.setattr(sys, "stderr", _TTY())
    assert main(["simulate", *_many_args()]) == 0
    assert sys.stderr.getvalue() == ""


def test_tqdm_is_not_imported_without_a_terminal(capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "tqdm", raising=False)
    code, _, _ = simulate(capsys, *_many_args())
    assert code == 0 and "tqdm" not in sys.modules


# -- demo -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("account", [None, str(ROOT / "lexauthz" / "examples"), NATIVE])
@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_demo_forms_and_engines(capsys, account, engine):
    argv = ["demo", "--engine", engine] + (["--account", account] if account else [])
    code, out, _ = run(capsys, argv)
    assert code == 0
    assert out.splitlines()[-1] == "21 of 21 calls got the decision AWS gives them"


def test_demo_engines_identical_json(capsys):
    outs = [run(capsys, ["demo", "--output", "json", "--engine", e])[1] for e in ("compiled", "reference")]
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert {c["decision"] for c in data["calls"]} <= {"allowed", "implicitDeny", "explicitDeny"}


def test_demo_gaad_without_calls_is_a_clear_error(capsys):
    code, out, err = run(capsys, ["demo", "--account", GAAD])
    assert code == 1 and out == "" and "E_NO_CALLS" in err and "NotADirectoryError" not in err


def test_demo_gaad_with_calls(capsys, tmp_path):
    calls = tmp_path / "calls.json"
    calls.write_text(json.dumps({"calls": [
        {"id": "builder-deletes", "title": "the builder role deletes a V2 bot", "expect": "Allowed",
         "call": {"operation": "DeleteBot", "caller": f"{A}:role/service/LexBuilder", "region": "us-east-1",
                  "params": {"botId": "ABCDEFGHIJ"}}},
        {"id": "deployer-deletes", "title": "the deployer deletes a V2 bot", "expect": "ImplicitlyDenied",
         "call": {"operation": "DeleteBot", "caller": f"{A}:user/ops/deployer", "region": "us-east-1",
                  "params": {"botId": "ABCDEFGHIJ"}}}]}))
    code, out, err = run(capsys, ["demo", "--account", GAAD, "--calls", calls])
    assert out.splitlines()[-1] == "2 of 2 calls got the decision AWS gives them", err
    assert code == 0


def test_demo_bad_account_exits_1_with_code(capsys, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, ["demo", "--account", bad])
    assert code == 1 and "E_MALFORMED_JSON" in err


def test_lexauthz_testing_cases_is_the_runner():
    from lexauthz.testing import cases

    assert cases.ENGINES == ("reference", "compiled")
    for old in ("lexauthz.cases", "lexauthz.bench", "lexauthz.demo", "lexauthz.cli_simulate"):
        with pytest.raises(ImportError):
            __import__(old)
