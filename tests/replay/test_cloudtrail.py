"""Reading CloudTrail in every form users have, and the exact requests each Lex record becomes."""
from __future__ import annotations

import copy
import csv
import gzip
import json

import pytest

from lexauthz.account import load_account
from lexauthz.cloudtrail import Record, Skip, Translator, is_logged, read_records, trail_files

import replay_synth as synth

A = synth.ACCOUNT
T = "2026-05-21T10:00:00Z"


def rec(ui: dict, name: str, params: dict, **extra) -> dict:
    out = {"eventVersion": "1.09", "userIdentity": ui, "eventTime": T, "eventSource": "lex.amazonaws.com",
           "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
           "requestParameters": params, "eventID": f"id-{name}", "recipientAccountId": A}
    out.update(extra)
    return out


USER = {"type": "IAMUser", "principalId": "AIDAEXAMPLEDANA00001", "arn": f"arn:aws:iam::{A}:user/ops/dana",
        "accountId": A, "accessKeyId": "AKIAEXAMPLE", "userName": "dana"}
ROLE = {"type": "AssumedRole", "principalId": "AROAEXAMPLELEXOPS001:alice",
        "arn": f"arn:aws:sts::{A}:assumed-role/LexOps/alice", "accountId": A, "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLELEXOPS001",
                                             "arn": f"arn:aws:iam::{A}:role/path/to/LexOps", "accountId": A,
                                             "userName": "LexOps"},
                           "attributes": {"creationDate": T, "mfaAuthenticated": "true"}}}


@pytest.fixture(scope="module")
def tr():
    return Translator(load_account(synth.FIXTURE))


def _one(tr, record):
    ev = tr.translate(Record(record, "mem"))
    assert not isinstance(ev, Skip), ev
    return ev, tr.requests(ev)


def test_iam_user_v2_call(tr):
    ev, (req,) = _one(tr, rec(USER, "DescribeBot", {"botId": "PRODBOT001"}))
    assert (ev.identity_type, ev.principal, ev.policy_principal) == ("IAMUser", USER["arn"], USER["arn"])
    assert (ev.outcome, ev.notes) == ("allowed", ())
    assert (req.principal, req.action, req.resource) == (USER["arn"], "lex:DescribeBot",
                                                         f"arn:aws:lex:us-east-1:{A}:bot/PRODBOT001")
    ctx = req.context.to_dict()
    want = {"aws:PrincipalArn": USER["arn"], "aws:PrincipalAccount": A, "aws:PrincipalType": "User",
            "aws:username": "dana", "aws:userid": "AIDAEXAMPLEDANA00001", "aws:CurrentTime": T,
            "aws:EpochTime": "1779357600", "aws:RequestedRegion": "us-east-1", "aws:SourceIp": "198.51.100.7",
            "aws:ViaAWSService": "false", "aws:ResourceAccount": A, "aws:ResourceTag/env": "prod"}
    for k, v in want.items():
        assert ctx[k] == v, k
    assert "aws:MultiFactorAuthPresent" not in ctx  # an IAM user's record does not say


def test_assumed_role_keeps_the_role_path(tr):
    ev, reqs = _one(tr, rec(ROLE, "DeleteBot", {"botId": "DEVBOT0001"}))
    req = reqs[0]
    assert (req.action, req.resource) == ("lex:DeleteBot", f"arn:aws:lex:us-east-1:{A}:bot/DEVBOT0001")
    assert ev.principal == ROLE["arn"] and ev.policy_principal == f"arn:aws:iam::{A}:role/path/to/LexOps"
    assert "session_tags_unknown" in ev.notes
    ctx = req.context.to_dict()
    assert ctx["aws:PrincipalArn"] == f"arn:aws:iam::{A}:role/path/to/LexOps"
    assert ctx["aws:userid"] == "AROAEXAMPLELEXOPS001:alice" and ctx["aws:MultiFactorAuthPresent"] == "true"
    assert ctx["aws:ResourceTag/env"] == "dev"
    # the engine gives the session the pathed role's policies: office IP and MFA, so the delete is allowed
    acct = load_account(synth.FIXTURE)
    for r in reqs:
        assert acct.evaluate(r).decision.name == "ALLOW"
        assert acct.evaluate(r, engine="reference").decision.name == "ALLOW"


def test_assumed_role_without_issuer_is_looked_up_or_flagged():
    tr = Translator(load_account(synth.FIXTURE))
    ui = copy.deepcopy(ROLE)
    del ui["sessionContext"]["sessionIssuer"]
    ev = tr.translate(Record(rec(ui, "DescribeBot", {"botId": "PRODBOT001"}), "f:1"))
    assert ev.policy_principal == f"arn:aws:iam::{A}:role/path/to/LexOps" and "role_path_unknown" not in ev.notes
    ui["arn"] = f"arn:aws:sts::{A}:assumed-role/Stranger/s"
    ev = tr.translate(Record(rec(ui, "DescribeBot", {"botId": "PRODBOT001"}), "f:2"))
    assert ev.policy_principal == f"arn:aws:iam::{A}:role/Stranger" and "role_path_unknown" in ev.notes
    (f,) = tr.findings()
    assert f["code"] == "W_ROLE_PATH_UNKNOWN" and f["location"] == "f:2" and "Stranger" in f["message"]


def test_create_bot_with_a_role_also_needs_pass_role(tr):
    params = {"botName": "NewBot", "roleArn": f"arn:aws:iam::{A}:role/service/LexRuntime",
              "dataPrivacy": {"childDirected": False}, "idleSessionTTLInSeconds": 300,
              "botTags": {"team": "blue"}}
    ev, reqs = _one(tr, rec(ROLE, "CreateBot", params))
    assert [(r.action, r.resource) for r in reqs] == [
        ("lex:CreateBot", f"arn:aws:lex:us-east-1:{A}:bot/*"),
        ("lex:CreateBot", f"arn:aws:lex:us-east-1:{A}:bot-alias/*/TSTALIASID"),  # the test alias it creates
        ("iam:PassRole", f"arn:aws:iam::{A}:role/service/LexRuntime")]
    assert reqs[0].context.to_dict()["aws:RequestTag/team"] == "blue"


def test_v1_calls_by_name(tr):
    ev, (req,) = _one(tr, rec(USER, "GetBot", {"name": "OrderFlowers", "versionOrAlias": "Prod"}))
    assert (req.action, req.resource) == ("lex:GetBot", f"arn:aws:lex:us-east-1:{A}:bot:OrderFlowers:Prod")
    ev, (req,) = _one(tr, rec(USER, "GetBotAlias", {"botName": "OrderFlowers", "name": "Prod"}))
    assert req.resource == f"arn:aws:lex:us-east-1:{A}:bot:OrderFlowers:Prod"


@pytest.mark.parametrize("ui, principal, policy, note", [
    ({"type": "Root", "principalId": A, "arn": f"arn:aws:iam::{A}:root", "accountId": A},
     f"arn:aws:iam::{A}:root", f"arn:aws:iam::{A}:root", None),
    ({"type": "FederatedUser", "principalId": f"{A}:carol", "arn": f"arn:aws:sts::{A}:federated-user/carol",
      "accountId": A, "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": f"arn:aws:iam::{A}:user/ops/dana"}}},
     f"arn:aws:sts::{A}:federated-user/carol", f"arn:aws:iam::{A}:user/ops/dana", "session_policy_unknown"),
    ({"type": "AWSService", "invokedBy": "lex.amazonaws.com"}, "lex.amazonaws.com", None, None),
    ({"type": "AWSAccount", "principalId": "AIDAEXTERNAL", "accountId": "444455556666"},
     "arn:aws:iam::444455556666:root", None, "resource_policy_only"),
])
def test_every_identity_type(tr, ui, principal, policy, note):
    ev, (req,) = _one(tr, rec(ui, "DescribeBot", {"botId": "PRODBOT001"}))
    assert (ev.principal, ev.policy_principal, req.principal) == (principal, policy, principal)
    assert (note in ev.notes) if note else not ev.notes


def test_unknown_identity_types_and_untranslatable_calls_are_skipped(tr):
    s = tr.translate(Record(rec({"type": "IdentityCenterUser", "principalId": "x"}, "DescribeBot",
                                {"botId": "PRODBOT001"}), "f:3"))
    assert isinstance(s, Skip) and s.reason == "S_UNKNOWN_IDENTITY" and s.location == "f:3"
    s = tr.translate(Record(rec(USER, "DescribeBot", {}), "f:4"))
    assert isinstance(s, Skip) and s.reason == "S_UNTRANSLATABLE" and "E_" in s.detail
    s = tr.translate(Record(rec(USER, "FlyToTheMoon", {}), "f:5"))
    assert s.reason == "S_UNTRANSLATABLE" and "E_UNKNOWN_OPERATION" in s.detail
    s = tr.translate(Record({**rec(USER, "ListBuckets", {}), "eventSource": "s3.amazonaws.com"}, "f:6"))
    assert s.reason == "S_OTHER_SERVICE"


@pytest.mark.parametrize("code, message, outcome, by", [
    ("AccessDenied", "because no identity-based policy allows the lex:GetBot action", "denied", "IDENTITY_POLICY"),
    ("AccessDeniedException", "with an explicit deny in a service control policy", "denied",
     "SERVICE_CONTROL_POLICY"),
    ("AccessDeniedException", "with an explicit deny in a permissions boundary", "denied",
     "PERMISSIONS_BOUNDARY_POLICY"),
    ("AccessDeniedException", "with an explicit deny in a resource-based policy", "denied", "RESOURCE_POLICY"),
    ("ValidationException", "1 validation error detected", "unknown", None),
    ("ResourceNotFoundException", "bot not found", "unknown", None),
])
def test_outcomes(tr, code, message, outcome, by):
    ev = tr.translate(Record(rec(USER, "DescribeBot", {"botId": "PRODBOT001"}, errorCode=code,
                                 errorMessage=message), "m"))
    assert (ev.outcome, ev.error_code, ev.denied_by) == (outcome, code, by)


def test_runtime_actions_are_not_logged():
    assert not is_logged("lex:PostText") and not is_logged("lex:PostContent")
    assert not is_logged("lex:RecognizeText") and is_logged("lex:CreateBot") and is_logged("lex:GetBot")


# -- input forms ---------------------------------------------------------------------------------------------------


def _records(recs):
    return [r for r in recs]


@pytest.fixture()
def base():
    return [rec(USER, "DescribeBot", {"botId": "PRODBOT001"}), rec(ROLE, "DeleteBot", {"botId": "DEVBOT0001"}),
            rec(USER, "GetBot", {"name": "OrderFlowers", "versionOrAlias": "Prod"})]


def _read(path):
    return list(read_records([str(path)]))


def test_trail_tree_skips_digest_and_insight_folders(tmp_path, base):
    synth.write_trail(str(tmp_path), base, per_file=2)
    insight = tmp_path / "AWSLogs" / A / "CloudTrail-Insight" / "us-east-1"
    insight.mkdir(parents=True)
    (insight / "x.json.gz").write_bytes(gzip.compress(b'{"Records": [{"eventSource": "x", "eventName": "y"}]}'))
    files = trail_files([tmp_path])
    assert len(files) == 2 and all("/CloudTrail/us-east-1/2026/05/" in f for f in files)
    got = _read(tmp_path)
    assert [r.data for r in got] == base and all(":$.Records[" in r.location for r in got)


def test_json_lines_eventbridge_and_lookup_events(tmp_path, base):
    jl = tmp_path / "a.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in base))
    assert [r.data for r in _read(jl)] == base
    eb = tmp_path / "eb.json"
    eb.write_text(json.dumps([{"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.lex",
                               "detail": r} for r in base]))
    assert [r.data for r in _read(eb)] == base
    ebl = tmp_path / "eb.jsonl.gz"
    ebl.write_bytes(gzip.compress("".join(json.dumps({"detail-type": "AWS API Call via CloudTrail",
                                                      "source": "aws.lex", "detail": r}) + "\n"
                                          for r in base).encode()))
    assert [r.data for r in _read(ebl)] == base
    le = tmp_path / "lookup.json"
    le.write_text(json.dumps({"Events": [{"EventId": r["eventID"], "EventName": r["eventName"],
                                          "CloudTrailEvent": json.dumps(r)} for r in base]}))
    got = _read(le)
    assert [r.data for r in got] == base and got[1].location.endswith(":$.Events[1]")


def _flat(r: dict) -> dict:
    ui = r["userIdentity"]
    sc = ui.get("sessionContext", {})
    return {"eventtime": r["eventTime"].replace("T", " ").replace("Z", ".000"), "eventsource": r["eventSource"],
            "eventname": r["eventName"], "awsregion": r["awsRegion"], "recipientaccountid": r["recipientAccountId"],
            "ui_type": ui["type"], "ui_arn": ui["arn"], "ui_principalid": ui["principalId"],
            "ui_accesskeyid": ui.get("accessKeyId"), "ui_accountid": ui.get("accountId"),
            "issuer_arn": sc.get("sessionIssuer", {}).get("arn"),
            "mfa": sc.get("attributes", {}).get("mfaAuthenticated"), "invokedby": None,
            "sourceipaddress": r["sourceIPAddress"], "vpcendpointid": None, "errorcode": r.get("errorCode"),
            "errormessage": r.get("errorMessage"), "requestparameters": json.dumps(r["requestParameters"]),
            "resources_json": None, "eventid": r["eventID"]}


def _same_requests(a, b):
    tr = Translator(load_account(synth.FIXTURE))
    ea, eb = tr.translate(a), tr.translate(b)
    assert not isinstance(ea, Skip) and not isinstance(eb, Skip), (ea, eb)
    assert (ea.principal, ea.policy_principal, ea.outcome, ea.dynamic) == \
        (eb.principal, eb.policy_principal, eb.outcome, eb.dynamic)
    assert tr.requests(ea) == tr.requests(eb)


def test_athena_csv_export(tmp_path, base):
    path = tmp_path / "export.csv"
    rows = [_flat(r) for r in base]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[k.upper() for k in rows[0]])  # column names are case-insensitive
        w.writeheader()
        for r in rows:
            w.writerow({k.upper(): ("" if v is None else v) for k, v in r.items()})
    got = _read(path)
    assert len(got) == 3 and got[0].location.endswith(":row 2")
    for g, want in zip(got, base):
        _same_requests(g, Record(want, "x"))


def test_athena_csv_struct_cells_are_refused(tmp_path, base):
    path = tmp_path / "bad.csv"
    row = _flat(base[0])
    row["requestparameters"] = "{botid=PRODBOT001}"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        w.writeheader()
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    (s,) = _read(path)
    assert s.reason == "S_STRUCT_CELL" and "requestparameters" in s.detail and "athena.sql" in s.detail


def test_parquet_export(tmp_path, base):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [_flat(r) for r in base]
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    path = tmp_path / "export.parquet"
    pq.write_table(table, path)
    got = _read(path)
    assert len(got) == 3
    for g, want in zip(got, base):
        _same_requests(g, Record(want, "x"))


def test_bad_files_are_counted_skips_naming_the_file(tmp_path, base):
    (tmp_path / "corrupt.json.gz").write_bytes(gzip.compress(json.dumps({"Records": base}).encode())[:40])
    (tmp_path / "truncated.json").write_text(json.dumps({"Records": base})[:-30])
    (tmp_path / "norecords.json").write_text(json.dumps({"Something": []}))
    (tmp_path / "lines.jsonl").write_text(json.dumps(base[0]) + "\n{broken\n" + json.dumps(base[1]) + "\n")
    got = _read(tmp_path)
    skips = {(s.reason, s.location.split("/")[-1]) for s in got if isinstance(s, Skip)}
    assert skips == {("S_CORRUPT_GZIP", "corrupt.json.gz"), ("S_TRUNCATED_JSON", "truncated.json"),
                     ("S_NO_RECORDS", "norecords.json"), ("S_TRUNCATED_JSON", "lines.jsonl:2")}
    assert [r.data for r in got if isinstance(r, Record)] == [base[0], base[1]]  # the rest of the file is read
    missing = list(read_records([tmp_path / "absent"]))
    assert len(missing) == 1 and missing[0].fatal and missing[0].reason == "S_NO_SUCH_PATH"


def test_the_shipped_sql_selects_exactly_the_columns_the_reader_takes():
    import re
    from importlib.resources import files

    from lexauthz.cloudtrail import FLAT_COLUMNS

    sql = files("lexauthz.cloudtrail").joinpath("athena.sql").read_text()
    body = sql.split("SELECT", 1)[1].split("FROM", 1)[0]
    names = [re.split(r"\s+AS\s+", part.strip(), flags=re.I)[-1].split(".")[-1].strip().lower()
             for part in body.split(",") if part.strip()]
    # json_format(CAST(resources AS JSON)) AS resources_json splits on its comma-free text: take the alias
    assert sorted(names) == sorted(FLAT_COLUMNS)


def test_through_a_vpc_endpoint_the_address_is_vpc_source_ip(tr):
    ev, (req,) = _one(tr, rec(USER, "DescribeBot", {"botId": "PRODBOT001"}, vpcEndpointId="vpce-0abc",
                              sourceIPAddress="10.1.2.3"))
    ctx = req.context.to_dict()
    assert ctx["aws:SourceVpce"] == "vpce-0abc" and ctx["aws:VpcSourceIp"] == "10.1.2.3"
    assert "aws:SourceIp" not in ctx
    ev, (req,) = _one(tr, rec(USER, "DescribeBot", {"botId": "PRODBOT001"},
                              sourceIPAddress="cloudformation.amazonaws.com"))
    assert "aws:SourceIp" not in req.context.to_dict()  # a service name is not an address
