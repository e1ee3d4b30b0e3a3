"""The parser: grammar findings (each code with a failing and a passing case), the model it builds, locations."""
from __future__ import annotations

import json

import pytest

from lexauthz.errors import PolicyParseError, Severity
from lexauthz.findings import FINDINGS
from lexauthz.policy import ConditionClause, Principal, dump_policy, load_policy, parse_policy

GOOD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowRuntime",
            "Effect": "Allow",
            "Action": ["lex:PostText", "lex:PostContent"],
            "Resource": "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod",
            "Condition": {"StringEquals": {"aws:ResourceTag/Department": "Support"}},
        }
    ],
}


def _with(**changes):
    stmt = dict(GOOD["Statement"][0])
    for k, v in changes.items():
        if v is None:
            stmt.pop(k, None)
        else:
            stmt[k] = v
    return {"Version": "2012-10-17", "Statement": [stmt]}


# (code, failing source, JSON path of the finding).  Every grammar code the parser can emit is here.
FAILING = [
    ("E_MALFORMED_JSON", '{"Version": "2012-10-17", "Statement": [', "$"),
    ("E_MALFORMED_JSON", "", "$"),
    ("E_MALFORMED_JSON", '{"Version": NaN}', "$"),
    ("E_NOT_UTF8", b'{"Version": "\xff"}', "$"),
    ("E_TOO_DEEP", "[" * 200000 + "]" * 200000, "$"),
    ("E_NOT_OBJECT", "[1, 2]", "$"),
    ("E_NOT_OBJECT", '"policy"', "$"),
    ("E_DUPLICATE_KEY", '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Effect": "Deny", '
                        '"Action": "lex:*", "Resource": "*"}}', "$.Statement.Effect"),
    ("E_UNKNOWN_ELEMENT", {"Version": "2012-10-17", "statement": []}, "$.statement"),
    ("E_UNKNOWN_ELEMENT", _with(Actions=["lex:GetBot"]), "$.Statement[0].Actions"),
    ("E_INVALID_TYPE", {"Version": "2012-10-17", "Statement": "Allow"}, "$.Statement"),
    ("E_INVALID_TYPE", _with(Action=["lex:GetBot", 7]), "$.Statement[0].Action[1]"),
    ("E_INVALID_TYPE", _with(Resource={"arn": "x"}), "$.Statement[0].Resource"),
    ("E_INVALID_TYPE", _with(Sid=12), "$.Statement[0].Sid"),
    ("E_INVALID_TYPE", _with(Condition=["StringEquals"]), "$.Statement[0].Condition"),
    ("E_INVALID_TYPE", {"Version": "2012-10-17", "Statement": [3]}, "$.Statement[0]"),
    ("E_INVALID_VERSION", {"Version": "2012-10-18", "Statement": []}, "$.Version"),
    ("E_INVALID_VERSION", {"Version": 2012, "Statement": []}, "$.Version"),
    ("E_MISSING_STATEMENT", {"Version": "2012-10-17"}, "$"),
    ("E_MISSING_EFFECT", _with(Effect=None), "$.Statement[0]"),
    ("E_INVALID_EFFECT", _with(Effect="allow"), "$.Statement[0].Effect"),
    ("E_INVALID_EFFECT", _with(Effect="Permit"), "$.Statement[0].Effect"),
    ("E_MISSING_ACTION", _with(Action=None), "$.Statement[0]"),
    ("E_ACTION_AND_NOT_ACTION", _with(NotAction="lex:DeleteBot"), "$.Statement[0]"),
    ("E_RESOURCE_AND_NOT_RESOURCE", _with(NotResource="*"), "$.Statement[0]"),
    ("E_PRINCIPAL_AND_NOT_PRINCIPAL", _with(Principal="*", NotPrincipal={"AWS": "111122223333"}), "$.Statement[0]"),
    ("E_INVALID_PRINCIPAL", _with(Principal="arn:aws:iam::111122223333:root"), "$.Statement[0].Principal"),
    ("E_INVALID_PRINCIPAL", _with(Principal={"aws": "111122223333"}), "$.Statement[0].Principal.aws"),
    ("E_INVALID_PRINCIPAL", _with(Principal={}), "$.Statement[0].Principal"),
    ("E_UNKNOWN_OPERATOR", _with(Condition={"stringequals": {"aws:username": "bob"}}),
     "$.Statement[0].Condition.stringequals"),
    ("E_UNKNOWN_OPERATOR", _with(Condition={"NullIfExists": {"aws:username": "true"}}),
     "$.Statement[0].Condition.NullIfExists"),
    ("E_UNKNOWN_OPERATOR", _with(Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}),
     '$.Statement[0].Condition["ForSomeValues:StringEquals"]'),
    ("E_EMPTY_CONDITION", _with(Condition={"StringEquals": {}}), "$.Statement[0].Condition.StringEquals"),
    ("E_EMPTY_CONDITION", _with(Condition={"StringEquals": {"aws:username": []}}),
     '$.Statement[0].Condition.StringEquals["aws:username"]'),
    ("E_INVALID_CONDITION_KEY", _with(Condition={"StringEquals": {"": "x"}}),
     '$.Statement[0].Condition.StringEquals[""]'),
    ("E_INVALID_CONDITION_VALUE", _with(Condition={"StringEquals": {"aws:username": None}}),
     '$.Statement[0].Condition.StringEquals["aws:username"]'),
    ("E_INVALID_CONDITION_VALUE", _with(Condition={"StringEquals": {"aws:username": [{"a": 1}]}}),
     '$.Statement[0].Condition.StringEquals["aws:username"][0]'),
]


@pytest.mark.parametrize("code,source,path", FAILING, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(FAILING)])
def test_grammar_finding(code, source, path):
    res = parse_policy(json.dumps(source) if isinstance(source, dict) else source)
    hits = [f for f in res.findings if f.code == code]
    assert hits, f"expected {code}, got {[f.code for f in res.findings]}"
    assert hits[0].path == path
    assert hits[0].severity is FINDINGS[code].severity is Severity.ERROR
    assert not res.ok


def test_every_parser_code_has_a_failing_case():
    emitted = {code for code, _, _ in FAILING}
    parser_codes = {"E_MALFORMED_JSON", "E_NOT_UTF8", "E_TOO_DEEP", "E_NOT_OBJECT", "E_DUPLICATE_KEY",
                    "E_UNKNOWN_ELEMENT", "E_INVALID_TYPE", "E_INVALID_VERSION", "E_MISSING_STATEMENT",
                    "E_MISSING_EFFECT", "E_INVALID_EFFECT", "E_MISSING_ACTION", "E_ACTION_AND_NOT_ACTION",
                    "E_RESOURCE_AND_NOT_RESOURCE", "E_PRINCIPAL_AND_NOT_PRINCIPAL", "E_INVALID_PRINCIPAL",
                    "E_UNKNOWN_OPERATOR", "E_EMPTY_CONDITION", "E_INVALID_CONDITION_KEY",
                    "E_INVALID_CONDITION_VALUE"}
    assert parser_codes <= emitted
    assert parser_codes <= set(FINDINGS)


# Passing cases: the nearest valid variant of each failing case yields no grammar finding at all.
PASSING = [
    GOOD,
    {"Version": "2012-10-17", "Statement": []},
    {"Statement": {"Effect": "Deny", "NotAction": "lex:Delete*", "NotResource": "*"}},
    {"Version": "2008-10-17", "Id": "x", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lex:*",
                                                         "Resource": "*"}]},
    _with(Principal={"AWS": ["111122223333", "arn:aws:iam::444455556666:role/R"], "Service": "lex.amazonaws.com"}),
    _with(NotPrincipal={"AWS": "arn:aws:iam::444455556666:root"}),
    _with(Condition={"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", "b"]},
                     "Null": {"aws:username": "false"}, "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                     "Bool": {"aws:SecureTransport": True}}),
]


@pytest.mark.parametrize("source", PASSING)
def test_valid_grammar_has_no_findings(source):
    res = parse_policy(json.dumps(source))
    assert res.findings == ()
    assert res.ok


def test_model_values():
    text = json.dumps(_with(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": 0.25},
                                       "Bool": {"aws:SecureTransport": True}},
                            Principal={"AWS": "111122223333"})).replace("0.25", "3600.50")
    doc = load_policy(text)
    st = doc.statements[0]
    assert st.effect == "Allow" and st.sid == "AllowRuntime"
    assert st.action == ("lex:PostText", "lex:PostContent")
    assert st.resource == ("arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod",)
    assert st.principal == Principal(False, (("AWS", ("111122223333",)),))
    c = {c.base: c for c in st.condition}
    assert c["NumericLessThan"].values == ("3600.50",)  # the number's own text, not a float's repr
    assert c["Bool"].values == ("true",)
    assert doc.variables_enabled


def test_operator_parts():
    doc = load_policy(_with(Condition={"ForAllValues:StringNotLikeIfExists": {"AWS:TagKeys": "x"}}))
    (clause,) = doc.statements[0].condition
    assert clause == ConditionClause("ForAllValues:StringNotLikeIfExists", "StringNotLike", "ForAllValues", True,
                                     "AWS:TagKeys", ("x",))
    assert clause.key_lower == "aws:tagkeys"


def test_locations_point_into_the_text():
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",\n     "Action": ["lex:A", 5],\n' \
           '     "Resource": "*"}\n  ]\n}\n'
    res = parse_policy(text)
    (f,) = res.findings
    assert (f.code, f.line, f.column) == ("E_INVALID_TYPE", 5, 26)


def test_malformed_json_has_line_and_column():
    res = parse_policy('{\n  "Version": "2012-10-17",\n  "Statement": [}\n')
    (f,) = res.findings
    assert f.code == "E_MALFORMED_JSON" and f.line == 3 and f.column == 17


def test_sources(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(json.dumps(GOOD))
    assert parse_policy(p).document == parse_policy(GOOD).document == parse_policy(json.dumps(GOOD).encode()).document
    assert parse_policy(b"\xef\xbb\xbf" + json.dumps(GOOD).encode()).ok
    missing = parse_policy(tmp_path / "absent.json")
    assert [f.code for f in missing.findings] == ["E_IO"] and missing.document is None
    assert [f.code for f in parse_policy(42).findings] == ["E_NOT_OBJECT"]


def test_load_policy_raises_with_every_error():
    with pytest.raises(PolicyParseError) as info:
        load_policy(_with(Effect="allow", Action=None))
    assert {f.code for f in info.value.findings} == {"E_INVALID_EFFECT", "E_MISSING_ACTION"}


def test_statement_object_round_trips_as_object():
    src = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "lex:*", "Resource": "*"}}
    doc = load_policy(src)
    assert not doc.statement_is_list
    assert isinstance(dump_policy(doc)["Statement"], dict)
    assert load_policy(dump_policy(doc)) == doc


@pytest.mark.parametrize("junk", [b"\x00\x01\x02", b"{" * 10, "null", "true", "1e999", '{"Statement": [null]}',
                                  '{"Statement": [{"Effect": ["Allow"]}]}', '{"Version": {}}',
                                  '{"Statement": {"Effect": "Allow", "Principal": {"AWS": {"x": 1}}}}'])
def test_junk_gives_findings_not_exceptions(junk):
    res = parse_policy(junk)
    assert not res.ok
    assert all(f.severity is Severity.ERROR for f in res.findings if f.code.startswith("E_"))


def test_large_document_is_parsed_once_and_flagged_by_size(tmp_path):
    big = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:PostText", "Resource": f"arn:aws:lex:us-east-1:111122223333:bot:B{i}:*"}
        for i in range(120000)]}
    text = json.dumps(big)
    assert len(text) > 10_000_000
    res = parse_policy(text)
    assert res.ok and len(res.document.statements) == 120000
