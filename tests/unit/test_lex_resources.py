"""The resource store and tags: lookups, resource-policy owners, channel types, the JSON format's errors."""
from __future__ import annotations

import pytest

from lexauthz.errors import RequestError
from lexauthz.lex import ResourceStore, ResourceType, parse_tags
from lexauthz.lex.tags import merge_tags

A = "111122223333"
P = f"arn:aws:lex:us-east-1:{A}:"
BOT_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "lex:*",
                                                      "Resource": "*"}]}
ALIAS_POLICY = {"Version": "2012-10-17", "Statement": []}

DATA = {
    "account": A, "region": "us-east-1",
    "bots": [
        {"name": "OrderFlowers", "versions": ["$LATEST", "1"], "tags": {"who": "bot"}, "policy": "BotPolicy",
         "aliases": [{"name": "Prod", "botVersion": "1", "tags": [{"key": "who", "value": "alias"}], "policy": ALIAS_POLICY,
                      "channels": [{"name": "Slack", "type": "Slack", "tags": {"who": "channel"}}]}]},
        {"id": "BOTID12345", "name": "BookTrip", "tags": {"who": "v2bot"}, "policy": "BotPolicy",
         "aliases": [{"id": "ALIASID123", "name": "Prod", "tags": {"who": "v2alias"}}]},
        {"name": "Elsewhere", "region": "eu-west-1", "account": "444455556666"},
    ],
    "testSets": [{"id": "TESTSET001", "name": "Smoke", "tags": [{"Key": "who", "Value": "testset"}]}],
}
STORE = ResourceStore.from_dict(DATA, policies={"BotPolicy": BOT_POLICY})


def test_lookup_by_arn():
    assert len(STORE) == 7
    assert dict(STORE.tags(P + "bot:OrderFlowers")) == {"who": "bot"}
    assert dict(STORE.tags(P + "bot:OrderFlowers:Prod")) == {"who": "alias"}
    assert dict(STORE.tags(P + "bot-channel:OrderFlowers:Prod:Slack")) == {"who": "channel"}
    assert dict(STORE.tags(P + "bot/BOTID12345")) == {"who": "v2bot"}
    assert dict(STORE.tags(P + "bot-alias/BOTID12345/ALIASID123")) == {"who": "v2alias"}
    assert dict(STORE.tags(P + "test-set/TESTSET001")) == {"who": "testset"}
    assert dict(STORE.tags(P + "bot:Nope")) == {}
    assert STORE.get("arn:aws:lex:eu-west-1:444455556666:bot:Elsewhere") is not None
    assert STORE.get(P + "bot:Elsewhere") is None
    assert STORE.channel_type(P + "bot-channel:OrderFlowers:Prod:Slack") == "Slack"
    bot = STORE.get(P + "bot:OrderFlowers")
    assert (bot.resource_type, bot.versions, bot.policy_name) == (ResourceType.BOT, ("$LATEST", "1"), "BotPolicy")
    assert STORE.get(P + "bot:OrderFlowers:Prod").bot_version == "1"
    assert STORE.get(P + "bot/BOTID12345").name == "BookTrip"


@pytest.mark.parametrize("arn,owner", [
    ("bot:OrderFlowers", "bot:OrderFlowers"),
    ("bot:OrderFlowers:$LATEST", "bot:OrderFlowers"),
    ("bot:OrderFlowers:1", "bot:OrderFlowers"),
    ("bot:OrderFlowers:*", "bot:OrderFlowers"),
    ("bot:OrderFlowers:Prod", "bot:OrderFlowers:Prod"),
    ("bot/BOTID12345", "bot/BOTID12345"),
    ("bot-alias/BOTID12345/ALIASID123", "bot-alias/BOTID12345/ALIASID123"),
    ("bot-alias/BOTID12345/*", None),
    ("bot-channel:OrderFlowers:Prod:Slack", None),
    ("intent:OrderFlowers:1", None),
    ("test-set/TESTSET001", None),
    ("bot:*", None),
])
def test_policy_owner(arn, owner):
    got = STORE.policy_owner(P + arn)
    assert (got.arn.arn if got else None) == (P + owner if owner else None)


def test_resource_policy_copies_are_fresh():
    pol = STORE.resource_policy(P + "bot:OrderFlowers:2")
    assert pol == BOT_POLICY
    pol["Statement"].clear()
    assert STORE.resource_policy(P + "bot:OrderFlowers:2") == BOT_POLICY
    assert STORE.resource_policy(P + "bot:OrderFlowers:Prod") == ALIAS_POLICY
    assert STORE.get(P + "bot:OrderFlowers:Prod").policy_name is None
    assert STORE.resource_policy(P + "bot-alias/BOTID12345/ALIASID123") is None


def test_store_and_tags_are_immutable():
    tags = STORE.tags(P + "bot:OrderFlowers")
    with pytest.raises(TypeError):
        tags["who"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        STORE.get(P + "bot:OrderFlowers").tags = {}  # type: ignore[misc]


def test_builder_matches_from_dict():
    b = ResourceStore.builder(A, "us-east-1")
    b.add_v1_bot("OrderFlowers", tags={"who": "bot"})
    b.add_v1_alias("OrderFlowers", "Prod", tags={"who": "alias"})
    b.add_v1_channel("OrderFlowers", "Prod", "Slack", channel_type="Slack", tags={"who": "channel"})
    b.add_v2_bot("BOTID12345", tags={"who": "v2bot"})
    b.add_v2_alias("BOTID12345", "ALIASID123", tags={"who": "v2alias"})
    b.add_test_set("TESTSET001", tags={"who": "testset"})
    built = b.build()
    for res in built:
        assert STORE.tags(res.arn) == res.tags


@pytest.mark.parametrize("data,code,path", [
    ({"bots": [{"name": "O"}]}, "E_INVALID_NAME", "$.bots[0].name"),
    ({"bots": [{"name": "OrderFlowers", "aliases": [{"name": "Prod-1"}]}]}, "E_INVALID_NAME", "$.bots[0].aliases[0].name"),
    ({"bots": [{"name": "OrderFlowers", "aliases": [{"name": "Prod", "channels": [{"name": "C", "type": "Teams"}]}]}]},
     "E_INVALID_STORE", "$.bots[0].aliases[0].channels[0].type"),
    ({"bots": [{"name": "OrderFlowers", "policy": "Missing"}]}, "E_UNKNOWN_POLICY", "$.bots[0].policy"),
    ({"bots": [{"name": "OrderFlowers", "policy": ["not", "a", "policy"]}]}, "E_INVALID_STORE", "$.bots[0].policy"),
    ({"bots": [{"name": "OrderFlowers"}, {"name": "OrderFlowers"}]}, "E_DUPLICATE_RESOURCE", "$.bots[1]"),
    ({"bots": [{"name": "OrderFlowers", "colour": "red"}]}, "E_INVALID_STORE", "$.bots[0]"),
    ({"bots": [{"id": "short"}]}, "E_INVALID_NAME", "$.bots[0].id"),
    ({"bots": [{"id": "BOTID12345", "aliases": [{"name": "NoId"}]}]}, "E_INVALID_STORE", "$.bots[0].aliases[0]"),
    ({"bots": [{"tags": {}}]}, "E_INVALID_STORE", "$.bots[0]"),
    ({"bots": [{"name": "OrderFlowers", "versions": ["v1"]}]}, "E_INVALID_NAME", "$.bots[0].versions[0]"),
    ({"bots": [{"name": "OrderFlowers", "tags": {"a": "1", "A": "2"}}]}, "E_DUPLICATE_TAG_KEY", "$.bots[0].tags['A']"),
    ({"testSets": [{"name": "x"}]}, "E_INVALID_STORE", "$.testSets[0]"),
    ({"buckets": []}, "E_INVALID_STORE", "$"),
    ({"bots": {}}, "E_INVALID_STORE", "$.bots"),
])
def test_store_errors(data, code, path):
    with pytest.raises(RequestError) as e:
        ResourceStore.from_dict(dict(data, account=A, region="us-east-1"), policies={})
    assert (e.value.code, e.value.path) == (code, path)


def test_account_and_region_are_required():
    with pytest.raises(RequestError) as e:
        ResourceStore.from_dict({"bots": [{"name": "OrderFlowers"}]})
    assert (e.value.code, e.value.path) == ("E_INVALID_STORE", "$.bots[0]")
    store = ResourceStore.from_dict({"bots": [{"name": "OrderFlowers"}]}, account=A, region="us-west-2")
    assert "arn:aws:lex:us-west-2:111122223333:bot:OrderFlowers" in store


# ---- tags ----

@pytest.mark.parametrize("value", [
    {"Department": "Support", "team": ""},
    [{"key": "Department", "value": "Support"}, {"key": "team", "value": ""}],
    [{"Key": "Department", "Value": "Support"}, {"Key": "team", "Value": ""}],
])
def test_tag_shapes(value):
    tags = parse_tags(value)
    assert list(tags.items()) == [("Department", "Support"), ("team", "")]
    assert tags.get_ci("department") == "Support"
    assert tags.context("aws:ResourceTag/") == {"aws:ResourceTag/Department": "Support", "aws:ResourceTag/team": ""}


@pytest.mark.parametrize("value,code,path", [
    ("Department=Support", "E_INVALID_TAGS", "$.tags"),
    ([{"key": "a"}], "E_INVALID_TAGS", "$.tags[0]"),
    ([{"name": "a", "value": "b"}], "E_INVALID_TAGS", "$.tags[0]"),
    ([{"key": "a", "value": "b", "extra": 1}], "E_INVALID_TAGS", "$.tags[0]"),
    ([{"key": "", "value": "b"}], "E_INVALID_TAGS", "$.tags[0].key"),
    ({"a": None}, "E_INVALID_TAGS", "$.tags['a']"),
    ([{"key": "Env", "value": "1"}, {"key": "env", "value": "2"}], "E_DUPLICATE_TAG_KEY", "$.tags[1].key"),
])
def test_tag_errors(value, code, path):
    with pytest.raises(RequestError) as e:
        parse_tags(value)
    assert (e.value.code, e.value.path) == (code, path)


def test_merge_overrides_case_insensitively():
    merged = merge_tags(parse_tags({"Department": "Support", "team": "a"}), parse_tags({"department": "Sales"}))
    assert dict(merged) == {"team": "a", "department": "Sales"}
