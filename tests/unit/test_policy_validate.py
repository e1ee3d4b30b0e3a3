"""The validator: every policy-type, catalog and quota finding, each with a failing and a passing case."""
from __future__ import annotations

import json

import pytest

from lexauthz.errors import Severity
from lexauthz.findings import FINDINGS
from lexauthz.policy import ValidationOptions, validate_policy

BOT = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod"


def stmt(**kw):
    base = {"Effect": "Allow", "Action": "lex:PostText", "Resource": BOT}
    for k, v in kw.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def pol(*statements, version="2012-10-17"):
    p = {"Statement": list(statements)}
    if version:
        p["Version"] = version
    return p


RP = dict(Principal={"AWS": "arn:aws:iam::444455556666:role/Caller"})

# (code, failing policy, policy type, path, passing policy).  The passing policy is the nearest valid variant and must
# not produce that code.
CASES = [
    ("E_PRINCIPAL_IN_IDENTITY_POLICY", pol(stmt(Principal="*")), "identity", "$.Statement[0].Principal",
     pol(stmt())),
    ("E_PRINCIPAL_IN_IDENTITY_POLICY", pol(stmt(NotPrincipal={"AWS": "111122223333"})), "scp",
     "$.Statement[0].NotPrincipal", pol(stmt())),
    ("E_MISSING_PRINCIPAL", pol(stmt()), "resource", "$.Statement[0]", pol(stmt(**RP))),
    ("E_MISSING_RESOURCE", pol(stmt(Resource=None)), "identity", "$.Statement[0]", pol(stmt(NotResource="*"))),
    ("E_INVALID_ACTION_FORMAT", pol(stmt(Action="PostText")), "identity", "$.Statement[0].Action[0]",
     pol(stmt(Action="lex:Post*"))),
    ("E_INVALID_ACTION_FORMAT", pol(stmt(Action="lex:Post:Text")), "identity", "$.Statement[0].Action[0]",
     pol(stmt(Action="*"))),
    ("E_INVALID_ARN", pol(stmt(Resource="bot:OrderFlowers")), "identity", "$.Statement[0].Resource[0]",
     pol(stmt(Resource="arn:aws:lex:*:*:bot:*"))),
    ("E_INVALID_ARN", pol(stmt(Resource="arn:aws:lex:us-east-1")), "identity", "$.Statement[0].Resource[0]",
     pol(stmt(Resource="*"))),
    ("W_UNKNOWN_ACTION", pol(stmt(Action="lex:PostTxt")), "identity", "$.Statement[0].Action[0]",
     pol(stmt(Action="lex:PostText"))),
    ("W_UNKNOWN_SERVICE", pol(stmt(Action="lexx:PostText")), "identity", "$.Statement[0].Action[0]",
     pol(stmt(Action="polly:SynthesizeSpeech"))),
    ("W_ACTION_MATCHES_NOTHING", pol(stmt(Action="lex:Zap*")), "identity", "$.Statement[0].Action[0]",
     pol(stmt(Action="lex:Put*"))),
    ("W_UNKNOWN_CONDITION_KEY", pol(stmt(Condition={"StringEquals": {"aws:NoSuchKey": "x"}})), "identity",
     '$.Statement[0].Condition.StringEquals["aws:NoSuchKey"]',
     pol(stmt(Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}}))),
    ("W_NONSTANDARD_KEY", pol(stmt(Condition={"StringEquals": {"lex:ResourceTag/Department": "Support"}})),
     "identity", '$.Statement[0].Condition.StringEquals["lex:ResourceTag/Department"]',
     pol(stmt(Condition={"StringEquals": {"aws:ResourceTag/Department": "Support"}}))),
    ("W_CONDITION_KEY_NOT_APPLICABLE",
     pol(stmt(Action="lex:PostText", Condition={"ForAnyValue:StringEquals": {"lex:associatedIntents": "Order"}})),
     "identity", '$.Statement[0].Condition["ForAnyValue:StringEquals"]["lex:associatedIntents"]',
     pol(stmt(Action="lex:PutBot", Condition={"ForAnyValue:StringEquals": {"lex:associatedIntents": "Order"}}))),
    ("W_OPERATOR_TYPE_MISMATCH", pol(stmt(Condition={"NumericEquals": {"aws:username": "3"}})), "identity",
     '$.Statement[0].Condition.NumericEquals["aws:username"]',
     pol(stmt(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}))),
    ("W_SINGLE_VALUE_OPERATOR_ON_MULTIVALUED_KEY", pol(stmt(Condition={"StringEquals": {"aws:TagKeys": "team"}})),
     "identity", '$.Statement[0].Condition.StringEquals["aws:TagKeys"]',
     pol(stmt(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": "team"}}))),
    ("W_SET_OPERATOR_ON_SINGLE_VALUED_KEY",
     pol(stmt(Condition={"ForAnyValue:StringEquals": {"aws:username": "bob"}})), "identity",
     '$.Statement[0].Condition["ForAnyValue:StringEquals"]["aws:username"]',
     pol(stmt(Condition={"StringEquals": {"aws:username": "bob"}}))),
    ("W_INVALID_CONDITION_VALUE", pol(stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})), "identity",
     '$.Statement[0].Condition.IpAddress["aws:SourceIp"]',
     pol(stmt(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"]}}))),
    ("W_INVALID_CONDITION_VALUE", pol(stmt(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})), "identity",
     '$.Statement[0].Condition.DateLessThan["aws:CurrentTime"]',
     pol(stmt(Condition={"DateLessThan": {"aws:CurrentTime": ["2026-01-01T00:00:00Z", "1767225600"]}}))),
    ("W_INVALID_CONDITION_VALUE", pol(stmt(Condition={"Bool": {"aws:SecureTransport": "yes"}})), "identity",
     '$.Statement[0].Condition.Bool["aws:SecureTransport"]',
     pol(stmt(Condition={"Bool": {"aws:SecureTransport": "True"}}))),
    ("W_RESOURCE_TYPE_MISMATCH",
     pol(stmt(Action="lex:RecognizeText", Resource="arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ")),
     "identity", "$.Statement[0].Resource[0]",
     pol(stmt(Action="lex:RecognizeText",
              Resource="arn:aws:lex:us-east-1:111122223333:bot-alias/ABCDEFGHIJ/TSTALIASID"))),
    ("W_V1_RESOURCE_POLICY", pol(stmt(**RP)), "resource", "$.Statement[0].Resource[0]",
     pol(stmt(Resource="arn:aws:lex:us-east-1:111122223333:bot-alias/ABCDEFGHIJ/TSTALIASID", **RP))),
    ("W_MISSING_VERSION", pol(stmt(), version=None), "identity", "$", pol(stmt())),
    ("W_VARIABLE_WITHOUT_VERSION",
     pol(stmt(Resource="arn:aws:lex:*:*:bot:${aws:username}*"), version="2008-10-17"), "identity", "$.Version",
     pol(stmt(Resource="arn:aws:lex:*:*:bot:${aws:username}*"))),
    ("W_DUPLICATE_SID", pol(stmt(Sid="A"), stmt(Sid="A", Action="lex:PostContent")), "identity",
     "$.Statement[1].Sid", pol(stmt(Sid="A"), stmt(Sid="B", Action="lex:PostContent"))),
    ("W_INVALID_SID", pol(stmt(Sid="allow runtime")), "identity", "$.Statement[0].Sid",
     pol(stmt(Sid="AllowRuntime"))),
    ("W_EMPTY_SID", pol(stmt(Sid="")), "identity", "$.Statement[0].Sid", pol(stmt(Sid="S1"))),
    ("W_EMPTY_ARRAY", pol(stmt(Resource=[])), "identity", "$.Statement[0].Resource", pol(stmt(Resource=[BOT]))),
    ("W_EMPTY_STATEMENT_LIST", pol(), "identity", "$.Statement", pol(stmt())),
    ("W_REDUNDANT_STATEMENT", pol(stmt(), stmt()), "identity", "$.Statement[1]",
     pol(stmt(), stmt(Effect="Deny"))),
    ("W_ALLOW_NOT_ACTION_ALL_RESOURCES", pol(stmt(Action=None, NotAction="iam:*", Resource="*")), "identity",
     "$.Statement[0].NotAction", pol(stmt(Action=None, NotAction="iam:*", Effect="Deny", Resource="*"))),
    ("W_ALLOW_NOT_RESOURCE", pol(stmt(Resource=None, NotResource=BOT)), "identity", "$.Statement[0].NotResource",
     pol(stmt(Resource=None, NotResource=BOT, Effect="Deny"))),
    ("W_PASS_ROLE_WITH_STAR", pol(stmt(Action="iam:PassRole", Resource="*")), "identity",
     "$.Statement[0].Action[0]",
     pol(stmt(Action="iam:PassRole", Resource="arn:aws:iam::111122223333:role/LexRole"))),
    ("W_PUBLIC_RESOURCE_POLICY",
     pol(stmt(Principal="*", Resource="arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ")), "resource",
     "$.Statement[0].Principal",
     pol(stmt(Principal="*", Resource="arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ",
              Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))),
]


@pytest.mark.parametrize("code,bad,ptype,path,good", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_finding_fails_and_passes(code, bad, ptype, path, good):
    _, result = validate_policy(json.dumps(bad), policy_type=ptype)
    hits = [f for f in result.findings if f.code == code]
    assert hits, f"{code} not reported; got {[f.code for f in result.findings]}"
    assert hits[0].path == path
    assert hits[0].severity is FINDINGS[code].severity
    assert result.ok is (FINDINGS[code].severity is not Severity.ERROR)
    _, clean = validate_policy(json.dumps(good), policy_type=ptype)
    assert code not in {f.code for f in clean.findings}


def test_every_registered_code_is_exercised():
    """Each code in the registry has a failing case here or in the parser's table."""
    from test_policy_parser import FAILING

    exercised = {c[0] for c in CASES} | {c[0] for c in FAILING} | {"E_IO", "E_DOCUMENT_TOO_LARGE",
                                                                     "E_POLICY_TOO_LARGE", "W_POLICY_SIZE_NEAR_QUOTA",
                                                                     "E_UNRESOLVED_POLICY",  # test_policy_set.py
                                                                     "W_TRUNCATED_EXPORT"}  # test_account.py
    assert set(FINDINGS) == exercised


def test_size_quota_is_configurable():
    p = pol(*[stmt(Sid=f"S{i}", Resource=f"{BOT}{i}") for i in range(60)])
    _, r = validate_policy(json.dumps(p, indent=4), policy_type="identity")
    assert "E_POLICY_TOO_LARGE" in {f.code for f in r.findings} and not r.ok
    _, r = validate_policy(json.dumps(p), policy_type="identity", options=ValidationOptions(size_quota=0))
    assert "E_POLICY_TOO_LARGE" not in {f.code for f in r.findings}
    _, r = validate_policy(json.dumps(p), policy_type="identity", options=ValidationOptions(size_quota=8000))
    assert "W_POLICY_SIZE_NEAR_QUOTA" in {f.code for f in r.findings}


def test_white_space_does_not_count_toward_the_quota():
    p = pol(*[stmt(Sid=f"S{i}") for i in range(40)])
    compact = len(json.dumps(p, separators=(",", ":")))
    opts = ValidationOptions(size_quota=compact)
    _, r = validate_policy(json.dumps(p, indent=8), policy_type="identity", options=opts)
    assert "E_POLICY_TOO_LARGE" not in {f.code for f in r.findings}


def test_document_too_large_for_the_reader(monkeypatch):
    from lexauthz.policy import parser

    monkeypatch.setattr(parser, "MAX_DOCUMENT_BYTES", 100)
    _, r = validate_policy(json.dumps(pol(*[stmt() for _ in range(5)])))
    assert [f.code for f in r.findings] == ["E_DOCUMENT_TOO_LARGE"]


def test_io_error(tmp_path):
    _, r = validate_policy(tmp_path / "nope.json")
    assert [f.code for f in r.findings] == ["E_IO"]


def test_all_findings_in_one_pass():
    bad = pol(stmt(Effect="allow", Action="lex:PostTxt", Resource="bot"), stmt(Principal="*"))
    _, r = validate_policy(json.dumps(bad, indent=2))
    codes = [f.code for f in r.findings]
    assert {"E_INVALID_EFFECT", "W_UNKNOWN_ACTION", "E_INVALID_ARN", "E_PRINCIPAL_IN_IDENTITY_POLICY"} <= set(codes)
    assert all(f.line is not None for f in r.findings)


def test_did_you_mean():
    _, r = validate_policy(json.dumps(pol(stmt(Action="lex:PostTxt"))))
    (f,) = [f for f in r.findings if f.code == "W_UNKNOWN_ACTION"]
    assert "`lex:PostText`" in f.message


def test_seed_page_examples_validate_cleanly():
    """The seed page's examples (with `aws:ResourceTag`, the real key) give no ERROR and no WARNING."""
    for p in [
        pol(stmt(Action=["lex:PostText", "lex:PostContent"], Resource="arn:aws:lex:*:*:bot:*:*",
                 Condition={"StringEquals": {"aws:ResourceTag/Department": "Support"}})),
        pol(stmt(Action="lex:Put*", Resource="*")),
        pol(stmt(Action=["lex:PutBot"], Resource="arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:$LATEST",
                 Condition={"ForAllValues:StringEquals": {"lex:associatedIntents": ["OrderFlowers"]}})),
    ]:
        _, r = validate_policy(json.dumps(p))
        assert [f.code for f in r.findings if f.severity in (Severity.ERROR, Severity.WARNING)] == []
