"""``--context-entries``: the AWS CLI shorthand and JSON, each value checked against its ContextKeyType."""
from __future__ import annotations

import json

import pytest

from lexauthz.cli import main
from lexauthz.cli.context_entries import ContextEntryError, parse_context_entries

CE = "--context-entries"


@pytest.mark.parametrize("args, context", [
    (["ContextKeyName=aws:TagKeys,ContextKeyValues=[a,b],ContextKeyType=stringList"], {"aws:TagKeys": ("a", "b")}),
    (["ContextKeyName=aws:TagKeys,ContextKeyValues=a,b,ContextKeyType=stringList"], {"aws:TagKeys": ("a", "b")}),
    (["ContextKeyName=aws:TagKeys,ContextKeyType=stringList,ContextKeyValues=a,b"], {"aws:TagKeys": ("a", "b")}),
    (["ContextKeyName=aws:TagKeys,ContextKeyValues=[],ContextKeyType=stringList"], {"aws:TagKeys": ()}),
    (["ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=[Support],ContextKeyType=string"],
     {"aws:ResourceTag/Department": "Support"}),
    (["ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=Support"], {"aws:ResourceTag/Department": "Support"}),
    (['ContextKeyName=k,ContextKeyValues="a,b",ContextKeyType=string'], {"k": "a,b"}),
    (['ContextKeyName=k,ContextKeyValues=["a,b",c],ContextKeyType=stringList'], {"k": ("a,b", "c")}),
    (["ContextKeyName=a,ContextKeyValues=1", "ContextKeyName=b,ContextKeyValues=2"], {"a": "1", "b": "2"}),
    (['[{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"},'
      ' {"ContextKeyName": "x", "ContextKeyValues": ["1.5"], "ContextKeyType": "numeric"}]'],
     {"aws:TagKeys": ("a", "b"), "x": "1.5"}),
    (['{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.0/8"], "ContextKeyType": "ip"}'],
     {"aws:SourceIp": "10.0.0.0/8"}),
    (["ContextKeyName=aws:SecureTransport,ContextKeyValues=TRUE,ContextKeyType=boolean"],
     {"aws:SecureTransport": "TRUE"}),
    (["ContextKeyName=aws:CurrentTime,ContextKeyValues=2026-11-01T12:00:00Z,ContextKeyType=date"],
     {"aws:CurrentTime": "2026-11-01T12:00:00Z"}),
    (["ContextKeyName=aws:EpochTime,ContextKeyValues=1700000000,ContextKeyType=date"],
     {"aws:EpochTime": "1700000000"}),
    (["ContextKeyName=ips,ContextKeyValues=[10.0.0.1,2001:db8::/32],ContextKeyType=ipList"],
     {"ips": ("10.0.0.1", "2001:db8::/32")}),
    (["ContextKeyName=b,ContextKeyValues=aGVsbG8=,ContextKeyType=binary"], {"b": "aGVsbG8="}),
    (["ContextKeyName=n,ContextKeyValues=[1,-2,3e4],ContextKeyType=numericList"], {"n": ("1", "-2", "3e4")}),
])
def test_accepted_forms(args, context):
    assert parse_context_entries(args) == context


@pytest.mark.parametrize("args, code, where", [
    (["ContextKeyName=k,ContextKeyValues=notanip,ContextKeyType=ip"], "E_CONTEXT_BAD_VALUE", 0),
    (["ContextKeyName=a,ContextKeyValues=1", "ContextKeyName=k,ContextKeyValues=x,ContextKeyType=numeric"],
     "E_CONTEXT_BAD_VALUE", 1),
    (["ContextKeyName=k,ContextKeyValues=[1,x],ContextKeyType=numericList"], "E_CONTEXT_BAD_VALUE", 0),
    (["ContextKeyName=k,ContextKeyValues=yes,ContextKeyType=boolean"], "E_CONTEXT_BAD_VALUE", 0),
    (["ContextKeyName=k,ContextKeyValues=yesterday,ContextKeyType=date"], "E_CONTEXT_BAD_VALUE", 0),
    (["ContextKeyName=k,ContextKeyValues=not*base64,ContextKeyType=binary"], "E_CONTEXT_BAD_VALUE", 0),
    (["ContextKeyName=k,ContextKeyValues=a,b,ContextKeyType=string"], "E_CONTEXT_MULTIPLE_VALUES", 0),
    (["ContextKeyName=k,ContextKeyValues=[a,b]"], "E_CONTEXT_MULTIPLE_VALUES", 0),
    (["ContextKeyName=k,ContextKeyValues=[],ContextKeyType=string"], "E_CONTEXT_NO_VALUE", 0),
    (["ContextKeyName=k,ContextKeyValues=a,ContextKeyType=strin"], "E_CONTEXT_BAD_TYPE", 0),
    (["ContextKeyValues=a"], "E_CONTEXT_NO_NAME", 0),
    (["ContextKeyNam=k,ContextKeyValues=a"], "E_CONTEXT_UNKNOWN_FIELD", 0),
    (["ContextKeyName=k,ContextKeyValues=[a,b"], "E_CONTEXT_SYNTAX", 0),
    (["just text"], "E_CONTEXT_SYNTAX", 0),
    (['[{"ContextKeyName": "k"'], "E_CONTEXT_SYNTAX", 0),
    (['[{"ContextKeyName": "a", "ContextKeyValues": ["1"]}, {"ContextKeyName": "b", "ContextKeyValues": [1]}]'],
     "E_CONTEXT_BAD_VALUE", 1),
    (["ContextKeyName=k,ContextKeyValues=a", "ContextKeyName=K,ContextKeyValues=b"], "E_CONTEXT_DUPLICATE_KEY", 1),
])
def test_refused_forms_name_the_entry(args, code, where):
    with pytest.raises(ContextEntryError) as exc:
        parse_context_entries(args)
    assert exc.value.code == code
    assert exc.value.where == f"--context-entries[{where}]"


GOOD = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "lex:PostText", "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/Department": "Support"},
                   "ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}}]})


def _simulate(capsys, *entries):
    code = main(["simulate", "--policy-input-list", GOOD, "--action-names", "lex:PostText", CE, *entries])
    out, err = capsys.readouterr()
    return code, out, err


def test_bracketed_single_value_is_the_value_not_the_text(capsys):
    code, out, _ = _simulate(capsys, "ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=[Support],"
                                     "ContextKeyType=string",
                             "ContextKeyName=aws:TagKeys,ContextKeyValues=[a,b],ContextKeyType=stringList")
    res = json.loads(out)["EvaluationResults"][0]
    assert code == 0 and res["EvalDecision"] == "allowed" and res["MissingContextValues"] == []


def test_bad_value_exits_1_with_code_and_position(capsys):
    code, out, err = _simulate(capsys, "ContextKeyName=aws:TagKeys,ContextKeyValues=a,ContextKeyType=stringList",
                               "ContextKeyName=aws:SourceIp,ContextKeyValues=notanip,ContextKeyType=ip")
    assert code == 1 and out == ""
    assert "E_CONTEXT_BAD_VALUE" in err and "--context-entries[1]" in err


def test_extra_values_of_a_string_key_are_an_error_not_dropped(capsys):
    code, out, err = _simulate(capsys, "ContextKeyName=aws:ResourceTag/Department,ContextKeyValues=Support,Sales,"
                                       "ContextKeyType=string")
    assert code == 1 and out == "" and "E_CONTEXT_MULTIPLE_VALUES" in err
