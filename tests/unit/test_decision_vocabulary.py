"""One decision vocabulary: str/format give the IAM Policy Simulator's words, the codes stay uint8, and
``Response.to_dict()`` is JSON-ready data from both engines."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from lexauthz.decision import Decision, PolicyType, Response, StatementRef
from lexauthz.engine import compile_applicable
from lexauthz.errors import Finding, Severity
from lexauthz.policy import load_policy
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

ACCT = "111122223333"
USER = f"arn:aws:iam::{ACCT}:user/bob"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:Prod"

WORDS = {
    Decision.ALLOW: "allowed",
    Decision.EXPLICIT_DENY: "explicitDeny",
    Decision.IMPLICIT_DENY: "implicitDeny",
    Decision.ERROR: "error",
}


@pytest.mark.parametrize("decision", list(Decision))
def test_str_format_and_f_strings_give_the_simulator_word(decision):
    word = WORDS[decision]
    assert str(decision) == word
    assert format(decision) == word
    assert f"{decision}" == word
    assert "%s" % decision == word
    assert "{}".format(decision) == word
    assert decision.simulator_name == word
    assert f"{decision:>14}" == f"{word:>14}"  # a format spec pads the word, as for a string


def test_codes_names_and_corpus_words_are_unchanged():
    assert [int(d) for d in Decision] == [0, 1, 2, 3]
    assert Decision.IMPLICIT_DENY == 0 and Decision.ALLOW == 1 and Decision.EXPLICIT_DENY == 2 and Decision.ERROR == 3
    assert [d.aws_name for d in Decision] == ["ImplicitlyDenied", "Allowed", "ExplicitlyDenied", "Error"]
    assert all(Decision.from_aws_name(d.aws_name) is d for d in Decision)
    assert repr(Decision.ALLOW) == "<Decision.ALLOW: 1>"
    assert Decision.ALLOW.name == "ALLOW"
    assert "%d" % Decision.EXPLICIT_DENY == "2"
    assert isinstance(Decision.ALLOW, int)
    assert pickle.loads(pickle.dumps(Decision.EXPLICIT_DENY)) is Decision.EXPLICIT_DENY


def test_codes_fit_uint8_for_numpy_batches():
    codes = np.array(list(Decision), dtype=np.uint8)
    assert codes.tolist() == [0, 1, 2, 3]
    assert [Decision(int(c)) for c in codes] == list(Decision)
    out = np.zeros(2, dtype=np.uint8)
    out[:] = Decision.ERROR
    assert (out == Decision.ERROR).all()
    assert json.dumps(Decision.ALLOW) == "1"  # the code, as an int, where a Decision itself reaches JSON


def _doc(*statements):
    return load_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


ALLOW = NamedPolicy("identity[0]", _doc({"Sid": "Lex", "Effect": "Allow", "Action": "lex:*", "Resource": "*",
                                         "Condition": {"StringEqualsIfExists": {"aws:username": "bob"}}}))
DENY_SCP = NamedPolicy("scp[0]", _doc({"Effect": "Allow", "Action": "*", "Resource": "*"},
                                      {"Sid": "NoDelete", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}))
RP = NamedPolicy("rp", _doc({"Sid": "Grant", "Effect": "Allow", "Principal": {"AWS": USER}, "Action": "lex:*",
                             "Resource": "*"}))
BAD = NamedPolicy("identity[0]", ALLOW.document,
                  (Finding("E_BAD_EFFECT", Severity.ERROR, "bad", "$.Statement[0].Effect", 3, 17),))


def _both(request, applicable):
    want = reference_evaluate(request, applicable)
    got = compile_applicable(applicable).evaluate(request)
    assert got == want
    return want, got


@pytest.mark.parametrize("action, word", [("lex:PostText", "allowed"), ("lex:DeleteBot", "explicitDeny"),
                                          ("s3:GetObject", "implicitDeny")])
def test_to_dict_is_json_ready_and_equal_from_both_engines(action, word):
    applicable = ApplicablePolicies(identity=(ALLOW,), resource=RP, scps=((DENY_SCP,),))
    want, got = _both(Request(USER, action, BOT, ACCT), applicable)
    for resp in (want, got):
        data = resp.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert data["decision"] == word == str(resp.decision)
        assert set(data) == {"decision", "matched_statements", "policy_results", "blocked_by",
                             "missing_context_values", "errors"}
        assert data["errors"] == []
        assert all(isinstance(m, dict) for m in data["matched_statements"])
    assert want.to_dict() == got.to_dict()


def test_to_dict_fields():
    want, got = _both(Request(USER, "lex:DeleteBot", BOT, ACCT),
                      ApplicablePolicies(identity=(ALLOW,), resource=RP, scps=((DENY_SCP,),)))
    data = got.to_dict()
    assert data["decision"] == "explicitDeny"
    assert data["policy_results"] == {"identity": "Allowed", "resource": "Allowed", "scp": "ExplicitlyDenied"}
    assert data["blocked_by"] == ["scp"]
    assert data["missing_context_values"] == ["aws:username"]
    by_sid = {m["sid"]: m for m in data["matched_statements"]}
    assert by_sid["Lex"] == {"policy_type": "identity", "policy": "identity[0]", "statement": 1, "sid": "Lex",
                             "effect": "Allow"}
    assert by_sid["Grant"]["principal_match"] == "Match"
    assert by_sid["NoDelete"] == {"policy_type": "scp", "policy": "scp[0]", "statement": 2, "sid": "NoDelete",
                                  "effect": "Deny", "level": 0}


def test_to_dict_of_a_refused_request_lists_the_errors():
    want, got = _both(Request(USER, "lex:PostText", BOT, ACCT), ApplicablePolicies(identity=(BAD,)))
    for resp in (want, got):
        data = json.loads(json.dumps(resp.to_dict()))
        assert data["decision"] == "error"
        assert data["matched_statements"] == []
        assert data["errors"] == [{"code": "E_BAD_EFFECT", "severity": "ERROR", "message": "bad",
                                   "path": "$.Statement[0].Effect", "line": 3, "column": 17}]


def test_to_dict_of_a_hand_built_response_with_enum_keys():
    ref = StatementRef("scp", "p", 0, None, "Allow", level=1)
    resp = Response(Decision.ALLOW, (ref,), {PolicyType.SCP: "Allowed"}, (), ("aws:SourceIp",))
    data = json.loads(json.dumps(resp.to_dict()))
    assert data == {"decision": "allowed",
                    "matched_statements": [{"policy_type": "scp", "policy": "p", "statement": 1, "sid": None,
                                            "effect": "Allow", "level": 1}],
                    "policy_results": {"scp": "Allowed"}, "blocked_by": [],
                    "missing_context_values": ["aws:SourceIp"], "errors": []}
