"""LexCall and its translation: principal and request context, caller values winning, API inference, errors."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from lexauthz.decision import Decision
from lexauthz.errors import RequestError
from lexauthz.lex import Api, LexCall, PrincipalStore, ResourceStore, call_decision, plan_call, to_requests
from lexauthz.lex.call import authorization_requests
from lexauthz.request import Context, Request

A = "111122223333"
B = "444455556666"
P = f"arn:aws:lex:us-east-1:{A}:"
USER = f"arn:aws:iam::{A}:user/maria"
SESSION = f"arn:aws:sts::{A}:assumed-role/SupportAgent/bob"
ROLE = f"arn:aws:iam::{A}:role/SupportAgent"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

PRINCIPALS = PrincipalStore.from_dict({
    "users": [{"arn": USER, "userId": "AIDAEXAMPLEMARIA", "tags": {"team": "flowers"}}],
    "roles": [{"arn": ROLE, "roleId": "AROAEXAMPLESUPPORT", "tags": {"Department": "Support"}},
              {"arn": f"arn:aws:iam::{B}:role/PartnerApp", "roleId": "AROAEXAMPLEPARTNER"}],
    "sessions": [{"arn": SESSION, "tags": {"Department": "Sales"}}],
})
RESOURCES = ResourceStore.from_dict({"account": A, "region": "us-east-1", "bots": [
    {"name": "OrderFlowers", "tags": {"Department": "Support"}, "aliases": [{"name": "Prod", "tags": {"Environment": "Production"}}]},
    {"id": "BOTID12345", "aliases": [{"id": "ALIASID123", "tags": {"team": "travel"}}]},
]})
POST = {"botName": "OrderFlowers", "botAlias": "Prod", "userId": "u-1", "inputText": "hi"}


def one(call: LexCall, **kw) -> Request:
    (req,) = to_requests(call, RESOURCES, PRINCIPALS, NOW, **kw)
    return req


def test_user_request_context():
    req = one(LexCall("PostText", POST, USER, "us-east-1"))
    assert req.principal == USER
    assert (req.action, req.resource, req.resource_account) == ("lex:PostText", P + "bot:OrderFlowers:Prod", A)
    assert req.context.to_dict() == {
        "aws:PrincipalArn": USER,
        "aws:PrincipalAccount": A,
        "aws:PrincipalType": "User",
        "aws:PrincipalIsAWSService": "false",
        "aws:username": "maria",
        "aws:userid": "AIDAEXAMPLEMARIA",
        "aws:PrincipalTag/team": "flowers",
        "aws:CurrentTime": "2026-01-02T03:04:05Z",
        "aws:EpochTime": "1767323045",
        "aws:RequestedRegion": "us-east-1",
        "aws:SecureTransport": "true",
        "aws:ResourceAccount": A,
        "aws:ResourceTag/Environment": "Production",
    }


def test_role_session_request_context():
    ctx = one(LexCall("PostText", POST, SESSION, "us-east-1")).context
    assert ctx["aws:PrincipalArn"] == ROLE
    assert ctx["aws:PrincipalType"] == "AssumedRole"
    assert ctx["aws:userid"] == "AROAEXAMPLESUPPORT:bob"
    assert ctx["aws:PrincipalTag/Department"] == "Sales"
    assert "aws:username" not in ctx


def test_caller_values_win_case_insensitively():
    call = LexCall("PostText", POST, SESSION, "us-east-1", context={
        "aws:principaltag/department": "Support", "AWS:SecureTransport": "false", "aws:ResourceTag/Environment": "Test",
        "aws:SourceIp": "203.0.113.7", "aws:CurrentTime": "2020-01-01T00:00:00Z",
    })
    ctx = one(call).context
    assert ctx["aws:PrincipalTag/Department"] == "Support"
    assert ctx["aws:SecureTransport"] == "false"
    assert ctx["aws:ResourceTag/Environment"] == "Test"
    assert ctx["aws:SourceIp"] == "203.0.113.7"
    assert ctx["aws:CurrentTime"] == "2020-01-01T00:00:00Z"
    # one spelling per key survives: the caller's
    keys = [k for k in ctx if k.lower() == "aws:principaltag/department"]
    assert keys == ["aws:principaltag/department"]


def test_caller_values_win_over_parameter_keys():
    call = LexCall("PutBot", {"name": "OrderFlowers", "intents": [{"intentName": "A"}]}, USER, "us-east-1",
                   context={"lex:associatedIntents": ["B", "C"]})
    assert one(call).context["lex:associatedIntents"] == ("B", "C")


def test_time_keys():
    (clock,) = to_requests(LexCall("PostText", POST, USER, "us-east-1"), RESOURCES, PRINCIPALS)
    stamp = datetime.strptime(clock.context["aws:CurrentTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert clock.context["aws:EpochTime"] == str(int(stamp.timestamp()))
    local = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    (req,) = to_requests(LexCall("PostText", POST, USER, "us-east-1"), RESOURCES, PRINCIPALS, local)
    assert (req.context["aws:CurrentTime"], req.context["aws:EpochTime"]) == ("2026-01-02T03:04:05Z", "1767323045")
    (req,) = to_requests(LexCall("PostText", POST, USER, "us-east-1"), RESOURCES, PRINCIPALS, datetime(2026, 1, 2, 3, 4, 5))
    assert req.context["aws:CurrentTime"] == "2026-01-02T03:04:05Z"


def test_cross_account_call():
    caller = f"arn:aws:sts::{B}:assumed-role/PartnerApp/web"
    call = LexCall("RecognizeText", {"botId": "BOTID12345", "botAliasId": "ALIASID123"}, caller, "us-east-1", account=A)
    req = one(call)
    assert req.resource == P + "bot-alias/BOTID12345/ALIASID123"
    assert (req.resource_account, req.context["aws:ResourceAccount"], req.context["aws:PrincipalAccount"]) == (A, A, B)
    assert req.context["aws:ResourceTag/team"] == "travel"
    # without `account`, the call goes to the caller's own account
    assert LexCall("RecognizeText", {}, caller, "us-east-1").account == B


def test_no_stores_gives_what_the_call_says():
    (req,) = authorization_requests(LexCall("PostText", POST, USER, "us-east-1"), now=NOW)
    assert req.context["aws:PrincipalArn"] == USER
    assert "aws:userid" not in req.context
    assert not [k for k in req.context if k.startswith("aws:ResourceTag/")]


def test_call_is_immutable_and_params_are_copied():
    params = {"botName": "OrderFlowers", "botAlias": "Prod", "nested": {"a": [1, 2]}}
    call = LexCall("PostText", params, USER, "us-east-1")
    params["botAlias"] = "Test"
    params["nested"]["a"].append(3)
    assert call.params["botAlias"] == "Prod"
    assert call.params["nested"]["a"] == (1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.operation = "GetBot"  # type: ignore[misc]
    with pytest.raises(TypeError):
        call.params["botName"] = "x"  # type: ignore[index]
    assert isinstance(call.context, Context)
    assert hash(call) == hash(LexCall("PostText", {"botName": "OrderFlowers", "botAlias": "Prod", "nested": {"a": [1, 2]}},
                                      USER, "us-east-1"))


def test_dict_round_trip():
    call = LexCall("DeleteSession", {"botId": "BOTID12345", "botAliasId": "ALIASID123"}, USER, "us-east-1",
                   api="lexv2-runtime", context={"aws:SourceIp": "10.0.0.1"})
    again = LexCall.from_dict(call.to_dict())
    assert again == call
    assert again.api is Api.LEXV2_RUNTIME


def test_from_dict_uses_defaults_and_prefixes_paths():
    call = LexCall.from_dict({"operation": "GetBots", "caller": USER}, defaults={"region": "eu-west-1", "account": B})
    assert (call.region, call.account) == ("eu-west-1", B)
    with pytest.raises(RequestError) as e:
        LexCall.from_dict({"operation": "GetBots", "caller": USER, "region": "nowhere"}, "$.calls[2].call")
    assert (e.value.code, e.value.path) == ("E_INVALID_REGION", "$.calls[2].call.region")
    with pytest.raises(RequestError) as e:
        LexCall.from_dict({"operation": "GetBots", "caller": USER, "region": "us-east-1", "colour": 1})
    assert (e.value.code, e.value.path) == ("E_INVALID_CALL", "$")
    with pytest.raises(RequestError) as e:
        LexCall.from_dict({"operation": "GetBots", "region": "us-east-1"}, "$.c")
    assert (e.value.code, e.value.path) == ("E_INVALID_CALL", "$.c.caller")


# ---- API inference ----

@pytest.mark.parametrize("op,params,api", [
    ("DeleteBot", {"name": "OrderFlowers"}, Api.LEX_MODELS),
    ("DeleteBot", {"botId": "BOTID12345"}, Api.LEXV2_MODELS),
    ("DeleteSession", {"botName": "OrderFlowers", "botAlias": "Prod"}, Api.LEX_RUNTIME),
    ("DeleteSession", {"botId": "BOTID12345", "botAliasId": "ALIASID123"}, Api.LEXV2_RUNTIME),
    ("DeleteBotAlias", {"botName": "OrderFlowers", "name": "Prod"}, Api.LEX_MODELS),
    ("DeleteBotAlias", {"botId": "BOTID12345", "botAliasId": "ALIASID123"}, Api.LEXV2_MODELS),
    ("StartImport", {"resourceType": "BOT", "name": "OrderFlowers"}, Api.LEX_MODELS),
    ("StartImport", {"importId": "IMPORT0001", "resourceSpecification": {}}, Api.LEXV2_MODELS),
    ("TagResource", {"resourceArn": P + "bot:OrderFlowers", "tags": []}, Api.LEX_MODELS),
    ("TagResource", {"resourceArn": P + "bot/BOTID12345", "tags": {}}, Api.LEXV2_MODELS),
    ("UntagResource", {"resourceARN": P + "bot:OrderFlowers", "tagKeys": []}, Api.LEX_MODELS),
    ("PostText", {}, Api.LEX_RUNTIME),
    ("RecognizeText", {}, Api.LEXV2_RUNTIME),
])
def test_api_inference(op, params, api):
    call = LexCall(op, params, USER, "us-east-1")
    assert call.resolve_operation().api is api
    assert call.family is api.family


@pytest.mark.parametrize("op,params", [
    ("DeleteBot", {}), ("DeleteBot", {"name": "OrderFlowers", "botId": "BOTID12345"}),
    ("GetSession", {"botName": "OrderFlowers"}),
])
def test_api_ambiguous(op, params):
    with pytest.raises(RequestError) as e:
        plan_call(LexCall(op, params, USER, "us-east-1"))
    assert (e.value.code, e.value.path) == ("E_AMBIGUOUS_API", "$.api")


def test_explicit_api():
    call = LexCall("DeleteBot", {"botId": "BOTID12345"}, USER, "us-east-1", api="lexv2-models")
    assert call.resolve_operation().api is Api.LEXV2_MODELS
    with pytest.raises(RequestError) as e:
        plan_call(LexCall("PostText", POST, USER, "us-east-1", api="lexv2-runtime"))
    assert (e.value.code, e.value.path) == ("E_OPERATION_NOT_IN_API", "$.api")
    with pytest.raises(RequestError) as e:
        LexCall("PostText", POST, USER, "us-east-1", api="lex-v3")
    assert (e.value.code, e.value.path) == ("E_UNKNOWN_API", "$.api")


# ---- errors ----

@pytest.mark.parametrize("op,params,code,path", [
    ("PostTxt", POST, "E_UNKNOWN_OPERATION", "$.operation"),
    ("PostText", {"botAlias": "Prod"}, "E_MISSING_PARAMETER", "$.params.botName"),
    ("PostText", {"botName": "OrderFlowers"}, "E_MISSING_PARAMETER", "$.params.botAlias"),
    ("PostText", {"botName": "Order Flowers", "botAlias": "Prod"}, "E_INVALID_NAME", "$.params.botName"),
    ("PostText", {"botName": "OrderFlowers", "botAlias": "Prod-1"}, "E_INVALID_NAME", "$.params.botAlias"),
    ("PostText", {"botName": "OrderFlowers", "botAlias": "*"}, "E_INVALID_NAME", "$.params.botAlias"),
    ("PostText", {"botName": 7, "botAlias": "Prod"}, "E_INVALID_PARAMETER", "$.params.botName"),
    ("GetBot", {"name": "OrderFlowers", "versionOrAlias": "v2"}, "E_INVALID_NAME", "$.params.versionOrAlias"),
    ("DeleteBotVersion", {"name": "OrderFlowers", "version": "$LATEST"}, "E_INVALID_NAME", "$.params.version"),
    ("GetBotChannelAssociations", {"botName": "OrderFlowers", "botAlias": "--"}, "E_INVALID_NAME", "$.params.botAlias"),
    ("PutBot", {"name": "OrderFlowers", "intents": [{"intentName": "A"}, {"intentName": "B-2"}]}, "E_INVALID_NAME",
     "$.params.intents[1].intentName"),
    ("PutBot", {"name": "OrderFlowers", "intents": [{"intentVersion": "1"}]}, "E_MISSING_PARAMETER",
     "$.params.intents[0].intentName"),
    ("PutBot", {"name": "OrderFlowers", "intents": "OrderFlowers"}, "E_INVALID_PARAMETER", "$.params.intents"),
    ("PutBot", {"name": "OrderFlowers", "tags": [{"key": "a", "value": "1"}, {"key": "A", "value": "2"}]},
     "E_DUPLICATE_TAG_KEY", "$.params.tags[1].key"),
    ("PutIntent", {"name": "I", "slots": [{"slotType": ""}]}, "E_INVALID_PARAMETER", "$.params.slots[0].slotType"),
    ("TagResource", {"resourceArn": P + "bot:OrderFlowers:2", "tags": []}, "E_UNSUPPORTED_RESOURCE", "$.params.resourceArn"),
    ("TagResource", {"resourceArn": P + "bot:*", "tags": []}, "E_INVALID_ARN", "$.params.resourceArn"),
    ("TagResource", {"resourceARN": "garbage", "tags": []}, "E_INVALID_ARN", "$.params.resourceARN"),
    ("ListTagsForResource", {"resourceArn": "arn:aws:s3:::bucket"}, "E_INVALID_ARN", "$.params.resourceArn"),
    ("UntagResource", {"resourceArn": P + "bot:OrderFlowers", "tagKeys": "team"}, "E_INVALID_PARAMETER", "$.params.tagKeys"),
    ("DescribeExport", {"exportId": "EXPORT0001"}, "E_MISSING_PARAMETER", "$.params.botId"),
    ("DescribeExport", {"exportId": "EXPORT0001", "botId": "BOTID12345", "testSetId": "TESTSET001"},
     "E_INVALID_PARAMETER", "$.params.testSetId"),
    ("DescribeTestExecution", {"testExecutionId": "EXEC000001"}, "E_MISSING_PARAMETER", "$.params.testSetId"),
    ("GetUtterancesView", {"botName": "OrderFlowers", "botVersions": ["1"] * 6}, "E_INVALID_PARAMETER",
     "$.params.botVersions"),
    ("GetUtterancesView", {"botName": "OrderFlowers", "botVersions": ["1", "x"]}, "E_INVALID_NAME",
     "$.params.botVersions[1]"),
    ("GetExport", {"name": "OrderFlowers", "version": "1", "resourceType": "BOTS"}, "E_INVALID_PARAMETER",
     "$.params.resourceType"),
    ("StartMigration", {"v1BotName": "OrderFlowers", "v1BotVersion": "1", "v2BotRole": "arn:aws:iam::1:role/x"},
     "E_INVALID_PARAMETER", "$.params.v2BotRole"),
    ("CreateExport", {"resourceSpecification": {"botExportSpecification": {"botVersion": "1"}}}, "E_MISSING_PARAMETER",
     "$.params.resourceSpecification.botExportSpecification.botId"),
    ("CreateExport", {"resourceSpecification": {}}, "E_INVALID_PARAMETER", "$.params.resourceSpecification"),
    ("RecognizeText", {"botId": "BOTID12345", "botAliasId": "ALIAS/123"}, "E_INVALID_NAME", "$.params.botAliasId"),
])
def test_request_errors(op, params, code, path):
    with pytest.raises(RequestError) as e:
        to_requests(LexCall(op, params, USER, "us-east-1"), RESOURCES, PRINCIPALS, NOW)
    assert (e.value.code, e.value.path) == (code, path)


@pytest.mark.parametrize("params,code", [
    ({"resourceType": "BOT"}, "E_MISSING_PARAMETER"),
    ({"resourceType": "BOT", "payload": b"PK\x03\x04 not a zip"}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": b"\xff\xfe"}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": "[1, 2]"}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": 42}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": {"resource": {"name": "Bad-Name"}}}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": {"resource": {"name": "Bot", "intents": {"a": 1}}}}, "E_INVALID_PAYLOAD"),
    ({"resourceType": "BOT", "payload": {"resource": {"name": "Bot", "intents": [{"name": "I-1"}]}}}, "E_INVALID_PAYLOAD"),
])
def test_start_import_payload_errors(params, code):
    with pytest.raises(RequestError) as e:
        plan_call(LexCall("StartImport", params, USER, "us-east-1"))
    assert (e.value.code, e.value.path) == (code, "$.params.payload")


def test_start_import_tags_only_for_bots():
    with pytest.raises(RequestError) as e:
        plan_call(LexCall("StartImport", {"resourceType": "INTENT", "name": "I", "tags": []}, USER, "us-east-1"))
    assert (e.value.code, e.value.path) == ("E_INVALID_PARAMETER", "$.params.tags")


@pytest.mark.parametrize("kwargs,code,path", [
    ({"caller": "maria"}, "E_INVALID_CALLER", "$.caller"),
    ({"region": "us_east_1"}, "E_INVALID_REGION", "$.region"),
    ({"account": "12345"}, "E_INVALID_ACCOUNT", "$.account"),
    ({"caller": "connect.amazonaws.com"}, "E_INVALID_ACCOUNT", "$.account"),
    ({"partition": "gcp"}, "E_INVALID_PARTITION", "$.partition"),
    ({"operation": ""}, "E_INVALID_CALL", "$.operation"),
    ({"params": ["botName"]}, "E_INVALID_CALL", "$.params"),
    ({"context": {"aws:SourceIp": {"a": 1}}}, "E_BAD_CONTEXT_VALUE", "$.context['aws:SourceIp']"),
])
def test_call_field_errors(kwargs, code, path):
    fields = dict(operation="PostText", params=POST, caller=USER, region="us-east-1")
    fields.update(kwargs)
    with pytest.raises(RequestError) as e:
        LexCall(**fields)
    assert (e.value.code, e.value.path) == (code, path)


def test_other_partition():
    call = LexCall("PostText", POST, "arn:aws-cn:iam::111122223333:user/maria", "cn-north-1", partition="aws-cn")
    (req,) = to_requests(call, now=NOW)
    assert req.resource == "arn:aws-cn:lex:cn-north-1:111122223333:bot:OrderFlowers:Prod"


@pytest.mark.parametrize("decisions,expected", [
    ([Decision.ALLOW], Decision.ALLOW),
    ([Decision.ALLOW, Decision.ALLOW], Decision.ALLOW),
    ([Decision.ALLOW, Decision.IMPLICIT_DENY], Decision.IMPLICIT_DENY),
    ([Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY, Decision.ALLOW], Decision.EXPLICIT_DENY),
    ([Decision.ALLOW, Decision.ERROR, Decision.IMPLICIT_DENY], Decision.ERROR),
    ([Decision.ERROR, Decision.EXPLICIT_DENY], Decision.EXPLICIT_DENY),
])
def test_call_decision(decisions, expected):
    assert call_decision(decisions) is expected


def test_call_decision_needs_a_request():
    with pytest.raises(ValueError):
        call_decision([])
