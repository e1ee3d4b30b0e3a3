"""The Lex operation table, row by row: the IAM action(s), the request ARN(s), whose tags, the parameter keys.

Every resource in the store below carries a distinct ``who`` tag, so ``aws:ResourceTag/who`` says whose tags a
request got.  ``EXPECTED`` has one entry per row of :data:`lexauthz.lex.OPERATIONS`; a row without an entry (or an
entry without a row) fails :func:`test_every_row_has_an_expectation`.
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import pytest

from lexauthz.catalog import load_catalog
from lexauthz.lex import OPERATIONS, Api, LexCall, PrincipalStore, ResourceStore, TagSource, parse_arn, to_requests

ACCT = "111122223333"
P = f"arn:aws:lex:us-east-1:{ACCT}:"
ROLE = f"arn:aws:iam::{ACCT}:role/LexRole"
CALLER = f"arn:aws:iam::{ACCT}:user/dev"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)

RESOURCES = ResourceStore.from_dict({
    "account": ACCT, "region": "us-east-1",
    "bots": [
        {"name": "OrderFlowers", "tags": {"who": "bot"},
         "aliases": [{"name": "Prod", "tags": {"who": "alias"},
                      "channels": [{"name": "Slack", "type": "Slack", "tags": {"who": "channel"}}]}]},
        {"id": "BOTID12345", "tags": {"who": "v2bot"}, "aliases": [{"id": "ALIASID123", "tags": {"who": "v2alias"}}]},
    ],
    "testSets": [{"id": "TESTSET001", "tags": {"who": "testset"}}],
})
PRINCIPALS = PrincipalStore.from_dict({"roles": [{"arn": ROLE, "roleId": "AROAEXAMPLELEXROLE", "tags": {"who": "role"}}]})


def R(action: str, resource: str, who: str | None = None, **context):
    """An expected request: action, resource (``P`` is prefixed unless it is ``*`` or an IAM ARN), owner of the
    tags, and parameter-derived context keys (keys spelled with ``__`` for ``/`` and ``_`` for ``:``)."""
    if resource != "*" and not resource.startswith("arn:"):
        resource = P + resource
    ctx = {k.replace("__", "/").replace("_", ":", 1): v for k, v in context.items()}
    return (action, resource, who, ctx)


def _zip(doc: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("OrderFlowers_Export.json", json.dumps(doc))
    return buf.getvalue()


IMPORT_DOC = {
    "metadata": {"schemaVersion": "1.0", "importType": "LEX", "importFormat": "JSON"},
    "resource": {
        "name": "OrderFlowers", "version": "1",
        "intents": [{"name": "OrderFlowers", "slots": [{"name": "t", "slotType": "FlowerTypes"},
                                                         {"name": "d", "slotType": "AMAZON.DATE"}]},
                    {"name": "CancelOrder", "slots": []}],
        "slotTypes": [{"name": "FlowerTypes"}],
    },
}

M1, R1, M2, R2 = Api.LEX_MODELS, Api.LEX_RUNTIME, Api.LEXV2_MODELS, Api.LEXV2_RUNTIME
V1_RT = {"botName": "OrderFlowers", "botAlias": "Prod", "userId": "user-1"}
V2_RT = {"botId": "BOTID12345", "botAliasId": "ALIASID123", "localeId": "en_US", "sessionId": "s-1"}
BOT = {"botId": "BOTID12345"}
ALIAS = {"botId": "BOTID12345", "botAliasId": "ALIASID123"}
CHANNEL = {"botName": "OrderFlowers", "botAlias": "Prod", "name": "Slack"}

EXPECTED: dict[tuple[Api, str], tuple[dict, list]] = {
    # ---- lex-models ----
    (M1, "CreateBotVersion"): ({"name": "OrderFlowers"}, [R("lex:CreateBotVersion", "bot:OrderFlowers:$LATEST", "bot")]),
    (M1, "CreateIntentVersion"): ({"name": "OrderFlowers"}, [R("lex:CreateIntentVersion", "intent:OrderFlowers:$LATEST")]),
    (M1, "CreateSlotTypeVersion"): ({"name": "FlowerTypes"},
                                    [R("lex:CreateSlotTypeVersion", "slottype:FlowerTypes:$LATEST")]),
    (M1, "DeleteBot"): ({"name": "OrderFlowers"}, [R("lex:DeleteBot", "bot:OrderFlowers:*", "bot")]),
    (M1, "DeleteBotAlias"): ({"botName": "OrderFlowers", "name": "Prod"},
                             [R("lex:DeleteBotAlias", "bot:OrderFlowers:Prod", "alias")]),
    (M1, "DeleteBotChannelAssociation"): (CHANNEL, [R("lex:DeleteBotChannelAssociation",
                                                      "bot-channel:OrderFlowers:Prod:Slack", "channel",
                                                      lex_channelType="Slack")]),
    (M1, "DeleteBotVersion"): ({"name": "OrderFlowers", "version": "2"},
                               [R("lex:DeleteBotVersion", "bot:OrderFlowers:2", "bot")]),
    (M1, "DeleteIntent"): ({"name": "OrderFlowers"}, [R("lex:DeleteIntent", "intent:OrderFlowers:*")]),
    (M1, "DeleteIntentVersion"): ({"name": "OrderFlowers", "version": "3"},
                                  [R("lex:DeleteIntentVersion", "intent:OrderFlowers:3")]),
    (M1, "DeleteSlotType"): ({"name": "FlowerTypes"}, [R("lex:DeleteSlotType", "slottype:FlowerTypes:*")]),
    (M1, "DeleteSlotTypeVersion"): ({"name": "FlowerTypes", "version": "1"},
                                    [R("lex:DeleteSlotTypeVersion", "slottype:FlowerTypes:1")]),
    (M1, "DeleteUtterances"): ({"botName": "OrderFlowers", "userId": "user-1"},
                               [R("lex:DeleteUtterances", "bot:OrderFlowers:*", "bot")]),
    (M1, "GetBot"): ({"name": "OrderFlowers", "versionOrAlias": "Prod"}, [R("lex:GetBot", "bot:OrderFlowers:Prod", "alias")]),
    (M1, "GetBotAlias"): ({"botName": "OrderFlowers", "name": "Prod"}, [R("lex:GetBotAlias", "bot:OrderFlowers:Prod", "alias")]),
    (M1, "GetBotAliases"): ({"botName": "OrderFlowers"}, [R("lex:GetBotAliases", "bot:OrderFlowers:*")]),
    (M1, "GetBotChannelAssociation"): (CHANNEL, [R("lex:GetBotChannelAssociation", "bot-channel:OrderFlowers:Prod:Slack",
                                                   "channel", lex_channelType="Slack")]),
    (M1, "GetBotChannelAssociations"): ({"botName": "OrderFlowers", "botAlias": "Prod"},
                                        [R("lex:GetBotChannelAssociations", "bot-channel:OrderFlowers:Prod:*", "alias")]),
    (M1, "GetBots"): ({}, [R("lex:GetBots", "bot:*")]),
    (M1, "GetBotVersions"): ({"name": "OrderFlowers"}, [R("lex:GetBotVersions", "bot:OrderFlowers:*", "bot")]),
    (M1, "GetBuiltinIntent"): ({"signature": "AMAZON.HelpIntent"}, [R("lex:GetBuiltinIntent", "*")]),
    (M1, "GetBuiltinIntents"): ({"locale": "en-US"}, [R("lex:GetBuiltinIntents", "*")]),
    (M1, "GetBuiltinSlotTypes"): ({}, [R("lex:GetBuiltinSlotTypes", "*")]),
    (M1, "GetExport"): ({"name": "OrderFlowers", "version": "2", "resourceType": "BOT", "exportType": "LEX"},
                        [R("lex:GetExport", "bot:OrderFlowers:2", "bot")]),
    (M1, "GetImport"): ({"importId": "import-1"}, [R("lex:GetImport", "*")]),
    (M1, "GetIntent"): ({"name": "OrderFlowers", "version": "$LATEST"}, [R("lex:GetIntent", "intent:OrderFlowers:$LATEST")]),
    (M1, "GetIntents"): ({}, [R("lex:GetIntents", "intent:*")]),
    (M1, "GetIntentVersions"): ({"name": "OrderFlowers"}, [R("lex:GetIntentVersions", "intent:OrderFlowers:*")]),
    (M1, "GetMigration"): ({"migrationId": "ABCDEFGHIJ"}, [R("lex:GetMigration", "*")]),
    (M1, "GetMigrations"): ({}, [R("lex:GetMigrations", "*")]),
    (M1, "GetSlotType"): ({"name": "FlowerTypes", "version": "1"}, [R("lex:GetSlotType", "slottype:FlowerTypes:1")]),
    (M1, "GetSlotTypes"): ({}, [R("lex:GetSlotTypes", "slottype:*")]),
    (M1, "GetSlotTypeVersions"): ({"name": "FlowerTypes"}, [R("lex:GetSlotTypeVersions", "slottype:FlowerTypes:*")]),
    (M1, "GetUtterancesView"): ({"botName": "OrderFlowers", "botVersions": ["1", "$LATEST", "1"], "statusType": "Detected"},
                                [R("lex:GetUtterancesView", "bot:OrderFlowers:1", "bot"),
                                 R("lex:GetUtterancesView", "bot:OrderFlowers:$LATEST", "bot")]),
    (M1, "ListTagsForResource"): ({"resourceArn": P + "bot-channel:OrderFlowers:Prod:Slack"},
                                  [R("lex:ListTagsForResource", "bot-channel:OrderFlowers:Prod:Slack", "channel")]),
    (M1, "PutBot"): ({"name": "OrderFlowers", "locale": "en-US", "childDirected": False,
                      "intents": [{"intentName": "OrderFlowers", "intentVersion": "1"},
                                  {"intentName": "CancelOrder", "intentVersion": "$LATEST"}],
                      "tags": [{"key": "team", "value": "flowers"}]},
                     [R("lex:PutBot", "bot:OrderFlowers:$LATEST", "bot", lex_associatedIntents=["OrderFlowers", "CancelOrder"],
                        aws_RequestTag__team="flowers", aws_TagKeys=["team"])]),
    (M1, "PutBotAlias"): ({"botName": "OrderFlowers", "name": "Prod", "botVersion": "2", "tags": [{"key": "env", "value": "p"}]},
                          [R("lex:PutBotAlias", "bot:OrderFlowers:Prod", "alias", aws_RequestTag__env="p", aws_TagKeys=["env"])]),
    (M1, "PutIntent"): ({"name": "OrderFlowers", "slots": [{"name": "a", "slotType": "FlowerTypes"},
                                                           {"name": "b", "slotType": "AMAZON.DATE"},
                                                           {"name": "c", "slotType": "FlowerTypes"}, {"name": "d"}]},
                        [R("lex:PutIntent", "intent:OrderFlowers:$LATEST",
                           lex_associatedSlotTypes=["FlowerTypes", "AMAZON.DATE"])]),
    (M1, "PutSlotType"): ({"name": "FlowerTypes"}, [R("lex:PutSlotType", "slottype:FlowerTypes:$LATEST")]),
    (M1, "StartImport"): ({"resourceType": "BOT", "mergeStrategy": "OVERWRITE_LATEST", "payload": _zip(IMPORT_DOC),
                           "tags": [{"key": "team", "value": "flowers"}]},
                          [R("lex:PutBot", "bot:OrderFlowers:$LATEST", "bot", aws_RequestTag__team="flowers",
                             aws_TagKeys=["team"], lex_associatedIntents=["OrderFlowers", "CancelOrder"]),
                           R("lex:PutIntent", "intent:OrderFlowers:$LATEST",
                             lex_associatedSlotTypes=["FlowerTypes", "AMAZON.DATE"]),
                           R("lex:PutIntent", "intent:CancelOrder:$LATEST", lex_associatedSlotTypes=[]),
                           R("lex:PutSlotType", "slottype:FlowerTypes:$LATEST")]),
    (M1, "StartMigration"): ({"v1BotName": "OrderFlowers", "v1BotVersion": "2", "v2BotName": "OrderFlowersV2",
                              "v2BotRole": ROLE, "migrationStrategy": "CREATE_NEW"},
                             [R("lex:StartMigration", "bot:OrderFlowers:2", "bot"),
                              R("iam:PassRole", ROLE, "role", iam_PassedToService="lexv2.amazonaws.com")]),
    (M1, "TagResource"): ({"resourceArn": P + "bot:OrderFlowers", "tags": [{"key": "a", "value": "b"}]},
                          [R("lex:TagResource", "bot:OrderFlowers", "bot", aws_RequestTag__a="b", aws_TagKeys=["a"])]),
    (M1, "UntagResource"): ({"resourceArn": P + "bot:OrderFlowers:Prod", "tagKeys": ["a", "b"]},
                            [R("lex:UntagResource", "bot:OrderFlowers:Prod", "alias", aws_TagKeys=["a", "b"])]),
    # ---- lex-runtime ----
    **{(R1, n): (V1_RT, [R(f"lex:{n}", "bot:OrderFlowers:Prod", "alias")])
       for n in ("DeleteSession", "GetSession", "PostContent", "PostText", "PutSession")},
    # ---- lexv2-runtime ----
    **{(R2, n): (V2_RT, [R(f"lex:{n}", "bot-alias/BOTID12345/ALIASID123", "v2alias")])
       for n in ("DeleteSession", "GetSession", "PutSession", "RecognizeText", "RecognizeUtterance", "StartConversation")},
}

# ---- lexv2-models: operations on bot/{botId} with the bot's tags ----
V2_BOT_OPS = """BatchCreateCustomVocabularyItem BatchDeleteCustomVocabularyItem BatchUpdateCustomVocabularyItem
BuildBotLocale CreateBotLocale CreateBotReplica CreateBotVersion CreateIntent CreateSlot CreateSlotType
DeleteBotAnalyzerRecommendation DeleteBotLocale DeleteBotReplica DeleteBotVersion DeleteCustomVocabulary DeleteIntent
DeleteSlot DeleteSlotType DeleteUtterances DescribeBot DescribeBotAnalyzerRecommendation DescribeBotLocale
DescribeBotRecommendation DescribeBotReplica DescribeBotResourceGeneration DescribeBotVersion
DescribeCustomVocabularyMetadata DescribeIntent DescribeSlot DescribeSlotType GenerateBotElement ListAggregatedUtterances
ListBotAliasReplicas ListBotAliases ListBotLocales ListBotRecommendations ListBotReplicas ListBotResourceGenerations
ListBotVersionReplicas ListBotVersions ListCustomVocabularyItems ListIntentMetrics ListIntentPaths ListIntentStageMetrics
ListIntents ListRecommendedIntents ListSessionAnalyticsData ListSessionMetrics ListSlotTypes ListSlots
SearchAssociatedTranscripts StartBotAnalyzer StartBotRecommendation StartBotResourceGeneration StopBotAnalyzer
StopBotRecommendation UpdateBot UpdateBotLocale UpdateBotRecommendation UpdateIntent UpdateSlot UpdateSlotType""".split()
OTHER_ACTION = {"ListUtteranceAnalyticsData": "lex:ListAggregatedUtterances",
                "ListUtteranceMetrics": "lex:ListAggregatedUtterances",
                "ListBotAnalyzerHistory": "lex:ListBotAnalyzerRecommendations"}
for _n in V2_BOT_OPS + list(OTHER_ACTION):
    EXPECTED[(M2, _n)] = (BOT, [R(OTHER_ACTION.get(_n, f"lex:{_n}"), "bot/BOTID12345", "v2bot")])
for _n in ("DeleteBotAlias", "DescribeBotAlias", "UpdateBotAlias"):
    EXPECTED[(M2, _n)] = (ALIAS, [R(f"lex:{_n}", "bot-alias/BOTID12345/ALIASID123", "v2alias")])
for _n in ("CreateUploadUrl", "ListBots", "ListBuiltInIntents", "ListBuiltInSlotTypes", "ListExports", "ListImports",
           "ListTestExecutions", "ListTestSets"):
    EXPECTED[(M2, _n)] = ({"localeId": "en_US"}, [R(f"lex:{_n}", "*")])
for _n in ("DescribeExport", "UpdateExport", "DeleteExport", "DescribeImport", "DeleteImport"):
    EXPECTED[(M2, _n)] = ({"exportId": "EXPORT0001", "importId": "IMPORT0001", "botId": "BOTID12345"},
                          [R(f"lex:{_n}", "bot/BOTID12345", "v2bot")])
for _n in ("DescribeTestExecution", "GetTestExecutionArtifactsUrl", "ListTestExecutionResultItems",
           "DescribeTestSetDiscrepancyReport", "DescribeTestSetGeneration"):
    EXPECTED[(M2, _n)] = ({"testExecutionId": "EXEC000001", "testSetId": "TESTSET001"},
                          [R(f"lex:{_n}", "test-set/TESTSET001", "testset")])
for _n in ("CreateTestSetDiscrepancyReport", "DeleteTestSet", "DescribeTestSet", "ListTestSetRecords",
           "StartTestExecution", "UpdateTestSet"):
    EXPECTED[(M2, _n)] = ({"testSetId": "TESTSET001"}, [R(f"lex:{_n}", "test-set/TESTSET001", "testset")])
for _n in ("CreateResourcePolicy", "CreateResourcePolicyStatement", "DeleteResourcePolicy",
           "DeleteResourcePolicyStatement", "DescribeResourcePolicy", "UpdateResourcePolicy"):
    EXPECTED[(M2, _n)] = ({"resourceArn": P + "bot-alias/BOTID12345/ALIASID123", "policy": "{}"},
                          [R(f"lex:{_n}", "bot-alias/BOTID12345/ALIASID123", "v2alias")])
EXPECTED.update({
    (M2, "DeleteBot"): (BOT, [R("lex:DeleteBot", "bot/BOTID12345", "v2bot"), R("lex:DeleteBot", "bot-alias/BOTID12345/*")]),
    (M2, "CreateBot"): ({"botName": "NewBot", "roleArn": ROLE, "dataPrivacy": {"childDirected": False},
                         "idleSessionTTLInSeconds": 300, "botTags": {"a": "1"}, "testBotAliasTags": {"b": "2"}},
                        [R("lex:CreateBot", "bot/*", aws_RequestTag__a="1", aws_TagKeys=["a"]),
                         R("lex:CreateBot", "bot-alias/*/TSTALIASID", aws_RequestTag__b="2", aws_TagKeys=["b"]),
                         R("iam:PassRole", ROLE, "role", iam_PassedToService="lexv2.amazonaws.com")]),
    (M2, "CreateBotAlias"): ({"botId": "BOTID12345", "botAliasName": "Prod", "tags": {"env": "prod"}},
                             [R("lex:CreateBotAlias", "bot-alias/BOTID12345/*", aws_RequestTag__env="prod",
                                aws_TagKeys=["env"])]),
    (M2, "CreateExport"): ({"resourceSpecification": {"botExportSpecification": {"botId": "BOTID12345", "botVersion": "1"}},
                            "fileFormat": "LexJson"}, [R("lex:CreateExport", "bot/BOTID12345", "v2bot")]),
    (M2, "StartImport"): ({"importId": "IMPORT0001", "mergeStrategy": "FailOnConflict",
                           "resourceSpecification": {"botImportSpecification": {
                               "botName": "NewBot", "roleArn": ROLE, "dataPrivacy": {"childDirected": False},
                               "botTags": {"a": "1"}}}},
                          [R("lex:StartImport", "bot/*", aws_RequestTag__a="1", aws_TagKeys=["a"]),
                           R("iam:PassRole", ROLE, "role", iam_PassedToService="lexv2.amazonaws.com")]),
    (M2, "StartTestSetGeneration"): ({"testSetName": "Gen", "roleArn": ROLE, "testSetTags": {"x": "y"}},
                                     [R("lex:StartTestSetGeneration", "test-set/*"),
                                      R("iam:PassRole", ROLE, "role", iam_PassedToService="lexv2.amazonaws.com")]),
    (M2, "ListTagsForResource"): ({"resourceARN": P + "test-set/TESTSET001"},
                                  [R("lex:ListTagsForResource", "test-set/TESTSET001", "testset")]),
    (M2, "TagResource"): ({"resourceARN": P + "bot/BOTID12345", "tags": {"a": "b"}},
                          [R("lex:TagResource", "bot/BOTID12345", "v2bot", aws_RequestTag__a="b", aws_TagKeys=["a"])]),
    (M2, "UntagResource"): ({"resourceARN": P + "bot-alias/BOTID12345/ALIASID123", "tagKeys": ["a"]},
                            [R("lex:UntagResource", "bot-alias/BOTID12345/ALIASID123", "v2alias", aws_TagKeys=["a"])]),
})

PARAM_KEYS = ("lex:channelType", "lex:associatedIntents", "lex:associatedSlotTypes", "aws:TagKeys", "iam:PassedToService")


def _requests(api: Api | None, name: str, params: dict, resources=RESOURCES):
    call = LexCall(name, params, CALLER, "us-east-1", api=api)
    return to_requests(call, resources, PRINCIPALS, NOW)


def _observed(req):
    ctx = req.context.to_dict()
    who = ctx.get("aws:ResourceTag/who")
    params = {k: v for k, v in ctx.items() if k in PARAM_KEYS or k.startswith("aws:RequestTag/")}
    return (req.action, req.resource, who, params)


def test_every_row_has_an_expectation():
    assert set(EXPECTED) == set(OPERATIONS)


def test_table_size_matches_the_apis():
    # botocore: lex-models 42, lex-runtime 5, lexv2-models 107, lexv2-runtime 6 operations.
    counts = {api: sum(1 for a, _ in OPERATIONS if a is api) for api in Api}
    assert counts == {M1: 42, R1: 5, M2: 107, R2: 6}


@pytest.mark.parametrize("key", sorted(EXPECTED, key=lambda k: (k[0].value, k[1])), ids=lambda k: f"{k[0].value}:{k[1]}")
def test_row(key):
    api, name = key
    params, expected = EXPECTED[key]
    got = [_observed(r) for r in _requests(api, name, params)]
    assert got == expected


@pytest.mark.parametrize("key", sorted(EXPECTED, key=lambda k: (k[0].value, k[1])), ids=lambda k: f"{k[0].value}:{k[1]}")
def test_row_without_api_infers_the_same_row(key):
    api, name = key
    params, expected = EXPECTED[key]
    assert [_observed(r) for r in _requests(None, name, params)] == expected


@pytest.mark.parametrize("key", sorted(EXPECTED, key=lambda k: (k[0].value, k[1])), ids=lambda k: f"{k[0].value}:{k[1]}")
def test_row_request_context(key):
    api, name = key
    params, _ = EXPECTED[key]
    for req in _requests(api, name, params):
        ctx = req.context
        assert ctx["aws:PrincipalArn"] == CALLER
        assert ctx["aws:CurrentTime"] == "2026-03-04T05:06:07Z"
        assert ctx["aws:RequestedRegion"] == "us-east-1"
        assert ctx["aws:SecureTransport"] == "true"
        assert req.resource_account == ACCT
        assert ctx["aws:ResourceAccount"] == ACCT


# Rows whose V1 request ARN names a set (the archived V1 permissions reference) where the SAR lists no resource type.
NO_SAR_RESOURCE_TYPE = {(M1, "GetBots"), (M1, "GetIntents"), (M1, "GetSlotTypes"), (M1, "GetBotAliases")}


@pytest.mark.parametrize("key", sorted(EXPECTED, key=lambda k: (k[0].value, k[1])), ids=lambda k: f"{k[0].value}:{k[1]}")
def test_row_agrees_with_the_catalog(key):
    """Every action is in the catalog, with a row for the operation's API family, and the request ARN's resource type
    is one the SAR lists for that row (``*`` only where it lists none)."""
    catalog = load_catalog()
    api, name = key
    params, _ = EXPECTED[key]
    for req in _requests(api, name, params):
        if req.action == "iam:PassRole":
            continue
        info = catalog.action(req.action)
        assert info is not None
        row = info.row(api.family.value)
        assert row is not None
        types = {t.name for t in row.resource_types}
        if req.resource == "*":
            assert types == set()
        elif key in NO_SAR_RESOURCE_TYPE:
            assert types == set()
        else:
            assert parse_arn(req.resource, allow_collections=True).resource_type.value in types


# ---- tag sources that depend on the parameter values ----

@pytest.mark.parametrize("qualifier,who,kind", [
    ("$LATEST", "bot", "bot version"), ("2", "bot", "bot version"), ("Prod", "alias", "bot alias"),
])
@pytest.mark.parametrize("op,param", [("GetBot", "versionOrAlias"), ("PostText", "botAlias"), ("GetSession", "botAlias"),
                                      ("PostContent", "botAlias"), ("PutSession", "botAlias"), ("DeleteSession", "botAlias")])
def test_version_takes_bot_tags_alias_its_own(op, param, qualifier, who, kind):
    params = {"name": "OrderFlowers"} if op == "GetBot" else {"botName": "OrderFlowers", "userId": "u-1"}
    params[param] = qualifier
    (req,) = _requests(None, op, params)
    assert req.resource == P + f"bot:OrderFlowers:{qualifier}"
    assert parse_arn(req.resource).resource_type.value == kind
    assert req.context["aws:ResourceTag/who"] == who


def test_channel_list_with_dash_takes_bot_tags():
    (req,) = _requests(M1, "GetBotChannelAssociations", {"botName": "OrderFlowers", "botAlias": "-"})
    assert req.resource == P + "bot-channel:OrderFlowers:-:*"
    assert req.context["aws:ResourceTag/who"] == "bot"


def test_alias_name_spelling_of_bot_alias_is_accepted():
    (req,) = _requests(M1, "GetBotChannelAssociations", {"botName": "OrderFlowers", "aliasName": "Prod"})
    assert req.resource == P + "bot-channel:OrderFlowers:Prod:*"


@pytest.mark.parametrize("rtype,resource,who", [
    ("INTENT", "intent:OrderFlowers:2", None), ("SLOT_TYPE", "slottype:OrderFlowers:2", None),
])
def test_get_export_of_intent_and_slot_type(rtype, resource, who):
    (req,) = _requests(M1, "GetExport", {"name": "OrderFlowers", "version": "2", "resourceType": rtype})
    assert (req.resource, req.context.get("aws:ResourceTag/who")) == (P + resource, who)


@pytest.mark.parametrize("arn,who", [
    (P + "bot:OrderFlowers", "bot"), (P + "bot:OrderFlowers:Prod", "alias"),
    (P + "bot-channel:OrderFlowers:Prod:Slack", "channel"),
])
def test_v1_tag_operations_take_the_named_resources_tags(arn, who):
    for op in ("ListTagsForResource", "TagResource", "UntagResource"):
        (req,) = _requests(None, op, {"resourceArn": arn, "tags": [], "tagKeys": []})
        assert (req.action, req.resource, req.context["aws:ResourceTag/who"]) == (f"lex:{op}", arn, who)


def test_tag_resource_family_comes_from_the_arn():
    (v1,) = _requests(None, "TagResource", {"resourceArn": P + "bot:OrderFlowers", "tags": []})
    (v2,) = _requests(None, "TagResource", {"resourceArn": P + "test-set/TESTSET001", "tags": {}})
    assert v1.context["aws:ResourceTag/who"] == "bot"
    assert v2.context["aws:ResourceTag/who"] == "testset"


def test_v2_export_and_import_variants():
    (ts,) = _requests(M2, "CreateExport", {"resourceSpecification": {"testSetExportSpecification": {"testSetId": "TESTSET001"}}})
    assert (ts.resource, ts.context["aws:ResourceTag/who"]) == (P + "test-set/TESTSET001", "testset")
    (loc,) = _requests(M2, "StartImport", {"importId": "IMPORT0001", "resourceSpecification": {
        "botLocaleImportSpecification": {"botId": "BOTID12345", "botVersion": "DRAFT", "localeId": "en_US"}}})
    assert (loc.resource, loc.context["aws:ResourceTag/who"]) == (P + "bot/BOTID12345", "v2bot")
    reqs = _requests(M2, "StartImport", {"importId": "IMPORT0001", "resourceSpecification": {
        "testSetImportResourceSpecification": {"testSetName": "T", "roleArn": ROLE, "testSetTags": {"k": "v"}}}})
    assert [(r.action, r.resource) for r in reqs] == [("lex:StartImport", P + "test-set/*"), ("iam:PassRole", ROLE)]
    assert reqs[0].context["aws:RequestTag/k"] == "v"
    (ex,) = _requests(M2, "DescribeExport", {"exportId": "EXPORT0001", "testSetId": "TESTSET001"})
    assert ex.resource == P + "test-set/TESTSET001"


def test_v1_start_import_payload_forms_agree():
    """The payload as a ZIP archive, as JSON bytes, as JSON text and as an object gives the same requests."""
    forms = [_zip(IMPORT_DOC), json.dumps(IMPORT_DOC).encode(), json.dumps(IMPORT_DOC), IMPORT_DOC]
    results = [[_observed(r) for r in _requests(M1, "StartImport", {"resourceType": "BOT", "payload": f})] for f in forms]
    assert all(r == results[0] for r in results)
    assert len(results[0]) == 4


def test_v1_start_import_intent_and_slot_type_and_name():
    intent_doc = {"resource": {"name": "OrderFlowers", "slots": [{"slotType": "FlowerTypes"}],
                               "slotTypes": [{"name": "FlowerTypes"}]}}
    reqs = _requests(M1, "StartImport", {"resourceType": "INTENT", "payload": intent_doc})
    assert [_observed(r) for r in reqs] == [
        R("lex:PutIntent", "intent:OrderFlowers:$LATEST", lex_associatedSlotTypes=["FlowerTypes"]),
        R("lex:PutSlotType", "slottype:FlowerTypes:$LATEST"),
    ]
    reqs = _requests(M1, "StartImport", {"resourceType": "SLOT_TYPE", "payload": {"resource": {"name": "FlowerTypes"}}})
    assert [_observed(r) for r in reqs] == [R("lex:PutSlotType", "slottype:FlowerTypes:$LATEST")]
    # Without a payload, the lexauthz-only `name` names what is imported; no associated intents are known.
    (req,) = _requests(M1, "StartImport", {"resourceType": "BOT", "name": "OrderFlowers"})
    assert _observed(req) == R("lex:PutBot", "bot:OrderFlowers:$LATEST", "bot")
    assert "lex:associatedIntents" not in req.context


def test_start_import_makes_no_start_import_request_in_v1():
    reqs = _requests(M1, "StartImport", {"resourceType": "BOT", "payload": IMPORT_DOC})
    assert "lex:StartImport" not in {r.action for r in reqs}
    assert reqs[0].action == "lex:PutBot"


def test_channel_type_comes_from_the_store_then_the_type_parameter():
    empty = ResourceStore()
    (stored,) = _requests(M1, "GetBotChannelAssociation", dict(CHANNEL, type="Kik"))
    assert stored.context["lex:channelType"] == "Slack"
    (fallback,) = _requests(M1, "GetBotChannelAssociation", dict(CHANNEL, type="Kik"), resources=empty)
    assert fallback.context["lex:channelType"] == "Kik"
    (absent,) = _requests(M1, "GetBotChannelAssociation", CHANNEL, resources=empty)
    assert "lex:channelType" not in absent.context


def test_intents_absent_means_no_associated_intents_key():
    (req,) = _requests(M1, "PutBot", {"name": "OrderFlowers"})
    assert "lex:associatedIntents" not in req.context
    (req,) = _requests(M1, "PutBot", {"name": "OrderFlowers", "intents": []})
    assert req.context["lex:associatedIntents"] == ()


def test_unknown_resources_have_no_tags():
    (req,) = _requests(R1, "PostText", {"botName": "OtherBot", "botAlias": "Prod"})
    assert not any(k.lower().startswith("aws:resourcetag/") for k in req.context)


def test_tag_source_of_rows():
    assert OPERATIONS[(M1, "GetBot")].tags is TagSource.VERSION_OR_ALIAS
    assert OPERATIONS[(M1, "GetBotChannelAssociations")].tags is TagSource.ALIAS_OR_BOT
    assert OPERATIONS[(M1, "GetBotAliases")].tags is TagSource.NONE
    assert {o.tags for (a, _), o in OPERATIONS.items() if a is R2} == {TagSource.ALIAS}
