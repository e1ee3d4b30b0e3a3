"""The account model: GAAD and the project's account file read into one Account, answered alike by both engines."""
from __future__ import annotations

import itertools
import json
import pathlib
import urllib.parse

import pytest

from lexauthz import Decision, Request
from lexauthz.account import Account, PolicySet, load_account, read_authorization_details
from lexauthz.errors import RequestError

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "gaad"
GAAD_A = FIXTURES / "account-111122223333.json"
GAAD_B = FIXTURES / "account-444455556666.json"
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "lexauthz" / "examples"
A, B = "111122223333", "444455556666"
MARIA = f"arn:aws:iam::{A}:user/developers/maria"
TOM = f"arn:aws:iam::{A}:user/tom"
DEPLOYER = f"arn:aws:iam::{A}:user/ops/deployer"
PARTNER = f"arn:aws:iam::{B}:user/partner"
BUILDER = f"arn:aws:iam::{A}:role/service/LexBuilder"
RUNTIME = f"arn:aws:iam::{A}:role/service/LexRuntimeRole"
BOT = f"arn:aws:lex:us-east-1:{A}:bot/BOTID12345"
ALIAS = f"arn:aws:lex:us-east-1:{A}:bot-alias/BOTID12345/ALIASID123"


@pytest.fixture(scope="module")
def gaad() -> Account:
    return load_account([GAAD_A, GAAD_B])


def test_gaad_is_read_with_groups_versions_paths_boundaries_tags_and_trust_policies(gaad):
    ps = gaad.policy_set
    maria = ps.principals[MARIA]
    assert maria.groups == (f"arn:aws:iam::{A}:group/LexDevelopers",)
    assert dict(maria.tags) == {"team": "flowers", "Department": "Support"}
    assert maria.unique_id == "AIDAEXAMPLEMARIA0001"
    assert [p.name for p in maria.policies] == [f"{MARIA}/inline/AssumeBuilder", f"arn:aws:iam::{A}:policy/DenyProdDeletes"]
    tom = ps.principals[TOM]
    assert tom.permissions_boundary.name == f"arn:aws:iam::{A}:policy/boundaries/RuntimeOnly"
    # The default version (v2) of the managed policy, not v1, which allowed lex:* on everything.
    dev = ps.groups[f"arn:aws:iam::{A}:group/LexDevelopers"][0]
    assert [s.sid for s in dev.document.statements] == ["BuildTeamBots", "ListEverything"]
    # Groups of the same name in two accounts stay apart.
    assert ps.groups[f"arn:aws:iam::{B}:group/LexDevelopers"][0].name.endswith("inline/ReadOnly")
    assert ps.principals[BUILDER].trust_policy is not None and ps.resources[BUILDER].policy is not None
    assert gaad.findings() == []
    assert gaad.principals.user(MARIA).user_id == "AIDAEXAMPLEMARIA0001"
    assert gaad.principals.role(BUILDER) is not None


CASES = [
    # (principal, action, resource, context, expected)
    (MARIA, "lex:ListBots", "*", {}, Decision.ALLOW),
    (MARIA, "lex:UpdateBot", BOT, {"aws:ResourceTag/team": "flowers"}, Decision.ALLOW),
    (MARIA, "lex:UpdateBot", BOT, {"aws:ResourceTag/team": "travel"}, Decision.IMPLICIT_DENY),
    (MARIA, "lex:DeleteBot", BOT, {"aws:ResourceTag/team": "flowers", "aws:ResourceTag/Environment": "Production"},
     Decision.EXPLICIT_DENY),
    (TOM, "lex:GetBot", BOT, {"aws:ResourceTag/team": "travel"}, Decision.ALLOW),
    (TOM, "lex:DeleteBot", BOT, {"aws:ResourceTag/team": "travel"}, Decision.IMPLICIT_DENY),  # boundary
    (TOM, "lex:RecognizeText", ALIAS, {}, Decision.IMPLICIT_DENY),  # boundary allows, identity does not
    # Trust policies: sts:AssumeRole on the role, decided as a request on a resource with a resource policy.
    (MARIA, "sts:AssumeRole", BUILDER, {}, Decision.ALLOW),  # named in the trust policy, same account
    (TOM, "sts:AssumeRole", BUILDER, {}, Decision.IMPLICIT_DENY),
    (PARTNER, "sts:AssumeRole", BUILDER, {}, Decision.IMPLICIT_DENY),  # trust policy wants MFA
    (PARTNER, "sts:AssumeRole", BUILDER, {"aws:MultiFactorAuthPresent": "true"}, Decision.ALLOW),
    (PARTNER, "sts:AssumeRole", RUNTIME, {"aws:MultiFactorAuthPresent": "true"}, Decision.IMPLICIT_DENY),
    ("lexv2.amazonaws.com", "sts:AssumeRole", RUNTIME, {}, Decision.ALLOW),
    ("lex.amazonaws.com", "sts:AssumeRole", RUNTIME, {}, Decision.IMPLICIT_DENY),
    # iam:PassRole is an identity-policy permission; the trust policy never grants it.
    (DEPLOYER, "iam:PassRole", RUNTIME, {"iam:PassedToService": "lexv2.amazonaws.com"}, Decision.ALLOW),
    (DEPLOYER, "iam:PassRole", RUNTIME, {"iam:PassedToService": "lambda.amazonaws.com"}, Decision.IMPLICIT_DENY),
    (MARIA, "iam:PassRole", RUNTIME, {"iam:PassedToService": "lexv2.amazonaws.com"}, Decision.IMPLICIT_DENY),
    # A role session uses its role's policies (the role's path is not in the session ARN).
    (f"arn:aws:sts::{A}:assumed-role/LexBuilder/maria", "lex:DeleteBot", BOT, {}, Decision.ALLOW),
    (f"arn:aws:sts::{A}:assumed-role/LexRuntimeRole/s", "lex:RecognizeText", ALIAS, {}, Decision.ALLOW),
    (PARTNER, "lex:GetBot", BOT, {}, Decision.IMPLICIT_DENY),  # cross-account, no resource policy
]


@pytest.mark.parametrize("principal, action, resource, context, expected", CASES)
def test_gaad_account_answers_as_iam_through_both_engines(gaad, principal, action, resource, context, expected):
    request = Request(principal=principal, action=action, resource=resource, context=context)
    compiled = gaad.evaluate(request)
    reference = gaad.evaluate(request, engine="reference")
    assert compiled.decision is expected
    assert compiled == reference


def test_both_engines_give_the_same_response_on_every_request_of_a_grid(gaad):
    principals = list(gaad.policy_set.principals) + ["lexv2.amazonaws.com", f"arn:aws:sts::{A}:assumed-role/LexBuilder/x"]
    actions = ["lex:ListBots", "lex:GetBot", "lex:DeleteBot", "lex:UpdateBot", "lex:RecognizeText", "sts:AssumeRole",
               "iam:PassRole", "polly:SynthesizeSpeech"]
    resources = ["*", BOT, ALIAS, BUILDER, RUNTIME]
    contexts = [{}, {"aws:ResourceTag/team": "flowers"}, {"aws:MultiFactorAuthPresent": "true",
                                                           "iam:PassedToService": "lexv2.amazonaws.com"}]
    n = 0
    for p, a, r, c in itertools.product(principals, actions, resources, contexts):
        req = Request(principal=p, action=a, resource=r, context=c)
        assert gaad.evaluate(req) == gaad.evaluate(req, engine="reference"), req
        n += 1
    assert n == len(principals) * len(actions) * len(resources) * len(contexts)


def test_raw_api_and_cli_forms_give_the_same_policy_set():
    raw = json.loads(GAAD_A.read_text())
    cli = json.loads(GAAD_A.read_text())
    for pol in cli["Policies"]:
        for v in pol["PolicyVersionList"]:
            v["Document"] = json.loads(urllib.parse.unquote(v["Document"]))
    a, b = read_authorization_details(raw), read_authorization_details(cli)
    assert a.compile().to_bytes() == b.compile().to_bytes()


def test_unresolved_managed_policy_and_missing_group_refuse_rather_than_answer():
    data = json.loads(GAAD_A.read_text())
    data["Policies"] = [p for p in data["Policies"] if not p["Arn"].endswith("/DenyProdDeletes")]
    data["GroupDetailList"] = [g for g in data["GroupDetailList"] if g["GroupName"] != "LexReaders"]
    ps = read_authorization_details(data)
    codes = sorted(f.code for f in ps.findings)
    assert codes == ["E_UNRESOLVED_POLICY", "E_UNRESOLVED_POLICY", "E_UNRESOLVED_POLICY"]
    acct = Account.from_policy_set(ps)
    for who in (MARIA, TOM):
        req = Request(principal=who, action="lex:ListBots", resource="*")
        assert acct.evaluate(req).decision is Decision.ERROR
        assert acct.evaluate(req, engine="reference").decision is Decision.ERROR


def test_truncated_export_is_a_warning_finding():
    data = dict(json.loads(GAAD_B.read_text()), IsTruncated=True, Marker="abc")
    assert [f.code for f in read_authorization_details(data).findings] == ["W_TRUNCATED_EXPORT"]


def test_account_file_folder_and_gaad_are_told_apart_by_content(tmp_path):
    native = load_account(EXAMPLE)
    assert native.account_id == A and native.region == "us-east-1" and len(native.resources) > 0
    assert load_account(EXAMPLE / "account.json").policy_set.principals.keys() == native.policy_set.principals.keys()
    single = load_account(GAAD_A)
    assert single.account_id == A and single.region is None and single.sources == (str(GAAD_A),)


@pytest.mark.parametrize("content, code", [
    ("{", "E_MALFORMED_JSON"),
    ('{"Users": []}', "E_UNKNOWN_ACCOUNT_FORMAT"),
    ('[1, 2]', "E_UNKNOWN_ACCOUNT_FORMAT"),
    ('{"UserDetailList": {"a": 1}}', "E_INVALID_AUTHORIZATION_DETAILS"),
    ('{"UserDetailList": [{"UserName": "x"}]}', "E_INVALID_AUTHORIZATION_DETAILS"),
    ('{"UserDetailList": [{"Arn": "arn:aws:iam::1:user/x", "Tags": [{"Key": 1}]}]}', "E_INVALID_AUTHORIZATION_DETAILS"),
])
def test_bad_account_files_are_refused_with_a_code_and_the_file(tmp_path, content, code):
    f = tmp_path / "acct.json"
    f.write_text(content)
    with pytest.raises(RequestError) as e:
        load_account(f)
    assert e.value.code == code
    assert str(f) in e.value.path


def test_missing_path_and_folder_without_account_file_are_refused(tmp_path):
    for p in (tmp_path / "nope.json", tmp_path):
        with pytest.raises(RequestError) as e:
            load_account(p)
        assert e.value.code == "E_ACCOUNT_NOT_FOUND"


def test_a_principal_given_twice_across_files_is_refused():
    with pytest.raises(RequestError) as e:
        load_account([GAAD_A, GAAD_A])
    assert e.value.code == "E_INVALID_AUTHORIZATION_DETAILS"


def test_account_from_python_policy_set():
    ps = PolicySet()
    ps.add_principal(f"arn:aws:iam::{A}:role/app", [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:RecognizeText", "Resource": "*"}]}], unique_id="AROAAPP",
        trust_policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": MARIA},
                                                              "Action": "sts:AssumeRole", "Resource": "*"}]})
    acct = Account.from_policy_set(ps)
    assert acct.account_id == A and acct.principals.role(f"arn:aws:iam::{A}:role/app").role_id == "AROAAPP"
    req = Request(principal=MARIA, action="sts:AssumeRole", resource=f"arn:aws:iam::{A}:role/app")
    assert acct.evaluate(req).decision is Decision.ALLOW
    assert acct.engine() is acct.engine()
    with pytest.raises(RequestError):
        acct.evaluate(req, engine="fast")
    with pytest.raises(TypeError):
        ps.add_principal(MARIA, trust_policy={"Version": "2012-10-17", "Statement": []})


def test_native_account_resource_tags_reach_every_evaluator():
    """A bot's tags in the account file are its aws:ResourceTag/* keys for Account.evaluate, the compiled engine,
    a saved engine and the reference alike, not only for Lex call translation."""
    account = load_account(EXAMPLE)
    tagged = [r for r in account.resources if r.tags and r.arn.arn.startswith("arn:")]
    assert tagged
    principals = [p.arn for p in account.policy_set.principals.values()]
    actions = ["lex:GetBot", "lex:UpdateBot", "lex:DeleteBot", "lex:PostText", "lex:RecognizeText"]
    from lexauthz.engine import Engine

    saved = Engine.from_bytes(account.engine().to_bytes())
    differs = 0
    for res in tagged:
        arn = res.arn.arn
        assert dict(account.policy_set.resources[arn].tags) == dict(res.tags)
        for p, a in itertools.product(principals, actions):
            bare = Request(p, a, arn)
            spelled = Request(p, a, arn, context={f"aws:ResourceTag/{k}": v for k, v in res.tags.items()})
            want = account.evaluate(spelled, engine="reference").decision
            assert account.evaluate(bare, engine="reference").decision == want
            assert account.evaluate(bare).decision == want
            assert saved.evaluate(bare).decision == want
            differs += want != account.evaluate(Request(p, a, arn, context={
                f"aws:ResourceTag/{k}": v + "-other" for k, v in res.tags.items()}), engine="reference").decision
    assert differs  # the tags decide some of these requests
