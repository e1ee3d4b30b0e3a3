"""The bundled example account and the account/demo file loaders."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lexauthz.decision import Decision
from lexauthz.errors import RequestError
from lexauthz.account.native import read_account_file as account_from_dict
from lexauthz.account.native import read_account_path as load_account
from lexauthz.lex import call_decision, load_demo, to_requests
from lexauthz.policy import load_policy, validate_policy
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.reference import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "lexauthz" / "examples"
A = "111122223333"
MARIA = f"arn:aws:iam::{A}:user/developers/maria"
ALICE = f"arn:aws:sts::{A}:assumed-role/SupportAgent/alice"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def account():
    return load_account(EXAMPLES / "account.json")


@pytest.fixture(scope="module")
def demo(account):
    return load_demo(EXAMPLES / "requests.json", account)


def test_example_account_contents(account):
    assert (account.account_id, account.region) == (A, "us-east-1")
    assert {u.arn for u in account.principals.users} == {MARIA, f"arn:aws:iam::{A}:user/botRunner"}
    assert account.principals.role(f"arn:aws:iam::{A}:role/aws-service-role/lex.amazonaws.com/AWSServiceRoleForLexBots").service_linked
    assert account.principals.role("arn:aws:iam::444455556666:role/PartnerApp") is not None
    bot = account.resources.get(f"arn:aws:lex:us-east-1:{A}:bot:OrderFlowers")
    assert bot.versions == ("$LATEST", "1", "2")
    assert dict(bot.tags) == {"Department": "Support", "team": "flowers"}
    for alias in ("Prod", "Test"):
        assert account.resources.get(f"arn:aws:lex:us-east-1:{A}:bot:OrderFlowers:{alias}") is not None
    assert account.resources.channel_type(f"arn:aws:lex:us-east-1:{A}:bot-channel:OrderFlowers:Prod:OrderFlowersSlack") == "Slack"
    assert account.resources.get(f"arn:aws:lex:us-east-1:{A}:bot-alias/BOOKTRIP01/PRODALIAS1") is not None


def test_example_attachments(account):
    # a user's own policies, then its groups'
    assert account.identity_policy_names(MARIA) == (
        "DenyProductionChanges", "SlackChannelsOnly", "ViewOwnPermissions", "OrderFlowersDeveloper")
    # a session gets its role's policies and boundary
    assert account.identity_policy_names(ALICE) == ("PostTextDepartmentSupport", "PostContentOwnDepartment")
    name, doc = account.permissions_boundary(ALICE)
    assert name == "AmazonLexRunBotsOnly" and doc["Statement"][0]["Resource"] == "*"
    assert account.permissions_boundary(MARIA) is None
    assert account.session_policy(ALICE) is None
    assert account.identity_policy_names("connect.amazonaws.com") == ()


def test_example_resource_policies(account):
    p = f"arn:aws:lex:us-east-1:{A}:"
    assert account.resource_policy(p + "bot-alias/BOOKTRIP01/PRODALIAS1")[0] == "BookTripProdAliasPolicy"
    assert account.resource_policy(p + "bot/BOOKTRIP01")[0] == "BookTripBotPolicy"
    assert account.resource_policy(p + "bot-alias/BOOKTRIP01/TSTALIASID") is None
    assert account.resource_policy(p + "bot:OrderFlowers:Prod") is None
    assert account.resource_policy("*") is None
    assert account.resource_policy(f"arn:aws:iam::{A}:role/BookTripBotRole") is None


def test_example_policies_are_valid(account):
    resource_policies = {"BookTripBotPolicy", "BookTripProdAliasPolicy"}
    for name in account.policy_names:
        kind = "resource" if name in resource_policies else "identity"
        parsed, result = validate_policy(Path(account.policy_files[name]), policy_type=kind, source_name=name)
        assert parsed.ok and result.ok, (name, [str(f) for f in parsed.findings + result.findings])
        assert account.policy(name) == json.loads(Path(account.policy_files[name]).read_text())


def test_policy_copies_are_fresh(account):
    doc = account.policy("ViewOwnPermissions")
    doc["Statement"].clear()
    assert account.policy("ViewOwnPermissions")["Statement"]


def test_the_seed_page_typo_is_fixed(account):
    text = json.dumps(account.policy("PostTextDepartmentSupport"))
    assert "aws:ResourceTag/Department" in text and "lex:ResourceTag" not in text


def test_demo_loads_and_translates(demo, account):
    assert len(demo) >= 15
    assert len({c.id for c in demo}) == len(demo)
    assert {c.expect for c in demo} == {Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY}
    for case in demo:
        assert case.call.region == "us-east-1"
        assert case.why and case.title
        assert to_requests(case.call, account.resources, account.principals, NOW)


def test_demo_covers_the_required_scenarios(demo):
    ops = {c.call.operation for c in demo}
    assert {"PostText", "RecognizeText", "PutBot", "StartImport"} <= ops
    callers = {c.call.caller for c in demo}
    assert any(":444455556666:" in c for c in callers)
    assert any("AWSServiceRoleForLexBots" in c for c in callers)
    assert any(len(to_requests(c.call, now=NOW)) > 1 for c in demo)


def _applicable(account, caller, req, docs):
    ident = tuple(NamedPolicy(n, docs[n]) for n in account.identity_policy_names(caller))
    rp = account.resource_policy(req.resource)
    pb = account.permissions_boundary(caller)
    return ApplicablePolicies(
        identity=ident,
        resource=NamedPolicy(rp[0] or "resource", load_policy(rp[1])) if rp else None,
        permissions_boundary=NamedPolicy(pb[0], docs[pb[0]]) if pb else None,
    )


def test_demo_decisions_with_the_reference_evaluator(demo, account):
    """Each demo call, translated and evaluated request by request, gets the decision the file expects."""
    docs = {n: load_policy(account.policy(n), source_name=n) for n in account.policy_names}
    got = {}
    for case in demo:
        decisions = [evaluate(req, _applicable(account, case.call.caller, req, docs)).decision
                     for req in to_requests(case.call, account.resources, account.principals, NOW)]
        got[case.id] = call_decision(decisions)
    assert got == {c.id: c.expect for c in demo}


# ---- loader errors ----

def _write(tmp_path: Path, data, name="account.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


BASE = {"account": A, "region": "us-east-1"}


@pytest.mark.parametrize("data,code,path", [
    (dict(BASE, policies={"P": "missing.json"}), "E_POLICY_FILE_NOT_FOUND", "$.policies['P']"),
    (dict(BASE, policies={"P": 5}), "E_INVALID_ACCOUNT_FILE", "$.policies['P']"),
    (dict(BASE, principals={"users": [{"arn": MARIA, "policies": ["Nope"]}]}), "E_UNKNOWN_POLICY",
     "$.principals.users[0].policies[0]"),
    (dict(BASE, principals={"users": [{"arn": MARIA, "groups": ["Nope"]}]}), "E_INVALID_ACCOUNT_FILE",
     "$.principals.users[0].groups[0]"),
    (dict(BASE, policies={"P": {}}, principals={"roles": [{"arn": f"arn:aws:iam::{A}:role/R"}],
                                               "sessions": [{"arn": f"arn:aws:sts::{A}:assumed-role/R/s", "policies": ["P"]}]}),
     "E_INVALID_ACCOUNT_FILE", "$.principals.sessions[0]"),
    (dict(BASE, policies={"P": {}}, principals={"roles": [{"arn": f"arn:aws:iam::{A}:role/R", "sessionPolicy": "P"}]}),
     "E_INVALID_ACCOUNT_FILE", "$.principals.roles[0].sessionPolicy"),
    (dict(BASE, resources={"bots": [{"name": "OrderFlowers", "policy": "Nope"}]}), "E_UNKNOWN_POLICY",
     "$.resources.bots[0].policy"),
    (dict(BASE, groups=[{"name": "G", "members": []}]), "E_INVALID_ACCOUNT_FILE", "$.groups[0]"),
    ({"account": "1", "region": "us-east-1"}, "E_INVALID_ACCOUNT", "$.account"),
    (dict(BASE, users=[]), "E_INVALID_ACCOUNT_FILE", "$"),
])
def test_account_file_errors(tmp_path, data, code, path):
    with pytest.raises(RequestError) as e:
        load_account(_write(tmp_path, data))
    assert (e.value.code, e.value.path) == (code, path)


def test_malformed_json(tmp_path):
    with pytest.raises(RequestError) as e:
        load_account(_write(tmp_path, '{"account": '))
    assert (e.value.code, e.value.path) == ("E_MALFORMED_JSON", "$")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RequestError) as e:
        load_account(_write(tmp_path, dict(BASE, policies={"P": "bad.json"})))
    assert (e.value.code, e.value.path) == ("E_MALFORMED_JSON", "$.policies['P']")


def test_inline_policies_and_relative_files(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "deny.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    acct = load_account(_write(tmp_path, dict(BASE, policies={"Deny": "p/deny.json", "Inline": {"Statement": []}},
                                              principals={"users": [{"arn": MARIA, "policies": ["Inline", "Deny"]}]})))
    assert acct.identity_policy_names(MARIA) == ("Inline", "Deny")
    assert acct.policy_files["Deny"] == str(tmp_path / "p" / "deny.json")
    assert "Inline" not in acct.policy_files
    assert account_from_dict(dict(BASE)).policy_names == ()


@pytest.mark.parametrize("calls,code,path", [
    ([{"id": "a", "call": {"operation": "GetBots", "caller": MARIA}, "expect": "Allowed"},
      {"id": "a", "call": {"operation": "GetBots", "caller": MARIA}, "expect": "Allowed"}], "E_INVALID_CALL_FILE",
     "$.calls[1].id"),
    ([{"id": "a", "call": {"operation": "GetBots", "caller": MARIA}, "expect": "Allow"}], "E_INVALID_CALL_FILE",
     "$.calls[0].expect"),
    ([{"id": "a", "call": {"operation": "GetBots", "caller": MARIA, "region": "x"}, "expect": "Allowed"}],
     "E_INVALID_REGION", "$.calls[0].call.region"),
    ([{"id": "a", "call": {"operation": "GetBots", "caller": MARIA}, "expect": "Allowed", "note": ""}],
     "E_INVALID_CALL_FILE", "$.calls[0]"),
])
def test_demo_file_errors(tmp_path, account, calls, code, path):
    with pytest.raises(RequestError) as e:
        load_demo(_write(tmp_path, {"calls": calls}, "requests.json"), account)
    assert (e.value.code, e.value.path) == (code, path)
