"""Lex ARNs: V1 and V2 shapes, V1 alias vs version, set-naming request ARNs, errors, and parse(build) round trips."""
from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexauthz.errors import RequestError
from lexauthz.lex import ALL, ALL_ALIASES, Family, LexArn, ResourceType, build_arn, classify_qualifier, is_v2_arn, parse_arn
from lexauthz.lex.arns import check_name

P = "arn:aws:lex:us-east-1:111122223333:"


@pytest.mark.parametrize("resource,rtype,family,fields", [
    ("bot:OrderFlowers", "bot", "V1", {"bot": "OrderFlowers"}),
    ("bot:OrderFlowers:Prod", "bot alias", "V1", {"bot": "OrderFlowers", "alias": "Prod"}),
    ("bot:OrderFlowers:$LATEST", "bot version", "V1", {"bot": "OrderFlowers", "version": "$LATEST"}),
    ("bot:OrderFlowers:12", "bot version", "V1", {"bot": "OrderFlowers", "version": "12"}),
    ("bot-channel:OrderFlowers:Prod:Slack_One", "channel", "V1",
     {"bot": "OrderFlowers", "alias": "Prod", "channel": "Slack_One"}),
    ("intent:OrderFlowers:$LATEST", "intent version", "V1", {"intent": "OrderFlowers", "version": "$LATEST"}),
    ("slottype:FlowerTypes:3", "slottype version", "V1", {"slot_type": "FlowerTypes", "version": "3"}),
    ("bot/ABCDE12345", "bot", "V2", {"bot": "ABCDE12345"}),
    ("bot-alias/ABCDE12345/TSTALIASID", "bot alias", "V2", {"bot": "ABCDE12345", "alias": "TSTALIASID"}),
    ("test-set/TESTSET001", "test set", "V2", {"test_set": "TESTSET001"}),
])
def test_parse_each_resource_type(resource, rtype, family, fields):
    arn = parse_arn(P + resource)
    assert arn.resource_type is ResourceType(rtype)
    assert arn.family is Family(family)
    assert (arn.partition, arn.region, arn.account) == ("aws", "us-east-1", "111122223333")
    segs = {k: getattr(arn, k) for k in ("bot", "alias", "version", "channel", "intent", "slot_type", "test_set")}
    assert segs == {k: fields.get(k) for k in segs}
    assert str(arn) == P + resource
    assert arn.resource == resource
    assert is_v2_arn(P + resource) is (family == "V2")
    assert not arn.is_collection


@pytest.mark.parametrize("qualifier,expected", [
    ("$LATEST", ResourceType.BOT_VERSION), ("0", ResourceType.BOT_VERSION), ("42", ResourceType.BOT_VERSION),
    ("*", ResourceType.BOT_VERSION), ("Prod", ResourceType.BOT_ALIAS), ("Prod_Blue", ResourceType.BOT_ALIAS),
    ("a", ResourceType.BOT_ALIAS), ("Prod-1", None), ("1a", None), ("$latest", None), ("Prod__x", None), ("", None),
    ("_Prod", None),
])
def test_alias_or_version(qualifier, expected):
    assert classify_qualifier(qualifier) is expected


def test_alias_and_version_shapes_are_told_apart_by_the_last_segment():
    alias = parse_arn(P + "bot:OrderFlowers:Prod")
    version = parse_arn(P + "bot:OrderFlowers:2")
    assert (alias.alias, alias.version) == ("Prod", None)
    assert (version.alias, version.version) == (None, "2")


def test_v1_and_v2_are_told_apart_by_the_first_segment():
    assert not is_v2_arn(P + "bot:Name")
    assert is_v2_arn(P + "bot/ABCDE12345")
    assert is_v2_arn(P + "bot-alias/ABCDE12345/TSTALIASID")
    assert not is_v2_arn("arn:aws:lex:us-east-1:111122223333")


def test_relations():
    version = parse_arn(P + "bot:OrderFlowers:$LATEST")
    assert str(version.bot_arn()) == P + "bot:OrderFlowers"
    assert version.alias_arn() is None
    channel = parse_arn(P + "bot-channel:OrderFlowers:Prod:Slack")
    assert str(channel.alias_arn()) == P + "bot:OrderFlowers:Prod"
    assert str(channel.bot_arn()) == P + "bot:OrderFlowers"
    v2 = parse_arn(P + "bot-alias/ABCDE12345/TSTALIASID")
    assert str(v2.bot_arn()) == P + "bot/ABCDE12345"
    assert v2.alias_arn() == v2
    assert parse_arn(P + "intent:I:1").bot_arn() is None
    assert parse_arn(P + "test-set/TESTSET001").bot_arn() is None


@pytest.mark.parametrize("resource", [
    "bot:*", "bot:OrderFlowers:*", "bot-channel:OrderFlowers:Prod:*", "bot-channel:OrderFlowers:-:*", "intent:*",
    "intent:OrderFlowers:*", "slottype:*", "slottype:FlowerTypes:*", "bot/*", "bot-alias/ABCDE12345/*",
    "bot-alias/*/TSTALIASID", "test-set/*",
])
def test_set_naming_arns_need_allow_collections(resource):
    arn = parse_arn(P + resource, allow_collections=True)
    assert arn.is_collection
    assert str(arn) == P + resource
    with pytest.raises(RequestError) as e:
        parse_arn(P + resource, "$.params.resourceArn")
    assert (e.value.code, e.value.path) == ("E_INVALID_ARN", "$.params.resourceArn")


def test_all_aliases_only_in_channel_arns():
    assert parse_arn(P + "bot-channel:B_b:-:*", allow_collections=True).alias == ALL_ALIASES
    with pytest.raises(RequestError) as e:
        parse_arn(P + "bot:OrderFlowers:-", allow_collections=True)
    assert e.value.code == "E_INVALID_NAME"


@pytest.mark.parametrize("text,code", [
    ("not an arn", "E_INVALID_ARN"),
    ("arn:aws:s3:::bucket", "E_INVALID_ARN"),
    ("arn:aws:lex:us-east-1:111122223333", "E_INVALID_ARN"),
    (P + "bot-locale/ABCDE12345/en_US", "E_UNKNOWN_RESOURCE_TYPE"),
    (P + "bots:OrderFlowers", "E_UNKNOWN_RESOURCE_TYPE"),
    (P + "bot:OrderFlowers:Prod:extra", "E_UNKNOWN_RESOURCE_TYPE"),
    (P + "bot/ABCDE12345/x", "E_UNKNOWN_RESOURCE_TYPE"),
    (P + "bot/ABCDE12345:x", "E_INVALID_ARN"),
    (P + "intent:OrderFlowers", "E_INVALID_ARN"),
    (P + "bot:O", "E_INVALID_NAME"),
    (P + "bot:Order-Flowers", "E_INVALID_NAME"),
    (P + "bot:" + "A" * 51, "E_INVALID_NAME"),
    (P + "bot:OrderFlowers:Prod-1", "E_INVALID_NAME"),
    (P + "bot/ABCDE1234", "E_INVALID_NAME"),
    (P + "bot/ABCDE-1234", "E_INVALID_NAME"),
    (P + "bot:Order*", "E_INVALID_NAME"),
    ("arn:aws:lex:us-east-1:1111:bot:OrderFlowers", "E_INVALID_ACCOUNT"),
    ("arn:aws:lex:useast1:111122223333:bot:OrderFlowers", "E_INVALID_REGION"),
    ("arn:amazon:lex:us-east-1:111122223333:bot:OrderFlowers", "E_INVALID_PARTITION"),
])
def test_parse_errors(text, code):
    with pytest.raises(RequestError) as e:
        parse_arn(text, "$.x", allow_collections=True)
    assert (e.value.code, e.value.path) == (code, "$.x")


def test_non_string_arn():
    with pytest.raises(RequestError) as e:
        parse_arn(7, "$.params.resourceArn")
    assert (e.value.code, e.value.path) == ("E_INVALID_ARN", "$.params.resourceArn")


def test_build_rejects_segments_of_other_types():
    with pytest.raises(RequestError) as e:
        build_arn("bot", "V1", region="us-east-1", account="111122223333", bot="OrderFlowers", alias="Prod")
    assert e.value.code == "E_INVALID_ARN"
    with pytest.raises(RequestError) as e:
        build_arn("channel", "V2", region="us-east-1", account="111122223333", bot="ABCDE12345")
    assert e.value.code == "E_INVALID_ARN"


def test_arns_are_immutable_and_hashable():
    arn = parse_arn(P + "bot:OrderFlowers:Prod")
    with pytest.raises(AttributeError):
        arn.alias = "Test"  # type: ignore[misc]
    assert {arn, parse_arn(P + "bot:OrderFlowers:Prod")} == {arn}


@pytest.mark.parametrize("value,kind,ok", [
    ("Ab", "bot name", True), ("A", "bot name", False), ("A" * 50, "bot name", True), ("A" * 51, "bot name", False),
    ("A", "alias name", True), ("A_b_c", "intent name", True), ("A__b", "intent name", False), ("a_", "slot type name", True),
    ("$LATEST", "version", True), ("007", "version", True), ("$LATEST", "numeric version", False),
    ("TSTALIASID", "bot alias id", True), ("tstaliasid", "bot id", True), ("ABC", "test set id", False),
])
def test_name_rules(value, kind, ok):
    if ok:
        assert check_name(value, kind, "$.n") == value
    else:
        with pytest.raises(RequestError) as e:
            check_name(value, kind, "$.n")
        assert (e.value.code, e.value.path) == ("E_INVALID_NAME", "$.n")


# ---- property: parse(build(components)) == components ----

def _v1_name(lo: int, hi: int):
    return st.from_regex(r"\A([A-Za-z]_?)+\Z", fullmatch=True).filter(lambda s: lo <= len(s) <= hi)


_bot_name = _v1_name(2, 50)
_other_name = _v1_name(1, 100)
_version = st.one_of(st.just("$LATEST"), st.integers(0, 10**9).map(str))
_v2_id = st.text(string.ascii_letters + string.digits, min_size=10, max_size=10)
_where = st.fixed_dictionaries({
    "partition": st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    "region": st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]),
    "account": st.from_regex(r"\A[0-9]{12}\Z", fullmatch=True),
})


def _components():
    return st.one_of(
        st.tuples(st.just(("bot", "V1")), st.fixed_dictionaries({"bot": _bot_name})),
        st.tuples(st.just(("bot alias", "V1")), st.fixed_dictionaries({"bot": _bot_name, "alias": _other_name})),
        st.tuples(st.just(("bot version", "V1")), st.fixed_dictionaries({"bot": _bot_name, "version": _version})),
        st.tuples(st.just(("channel", "V1")),
                  st.fixed_dictionaries({"bot": _bot_name, "alias": _other_name, "channel": _other_name})),
        st.tuples(st.just(("intent version", "V1")), st.fixed_dictionaries({"intent": _other_name, "version": _version})),
        st.tuples(st.just(("slottype version", "V1")),
                  st.fixed_dictionaries({"slot_type": _other_name, "version": _version})),
        st.tuples(st.just(("bot", "V2")), st.fixed_dictionaries({"bot": _v2_id})),
        st.tuples(st.just(("bot alias", "V2")), st.fixed_dictionaries({"bot": _v2_id, "alias": _v2_id})),
        st.tuples(st.just(("test set", "V2")), st.fixed_dictionaries({"test_set": _v2_id})),
    )


@given(_components(), _where)
def test_parse_of_build_gives_the_components_back(kind, where):
    (rtype, family), segments = kind
    arn = build_arn(rtype, family, **where, **segments)
    parsed = parse_arn(str(arn))
    assert parsed == arn
    assert (parsed.resource_type.value, parsed.family.value) == (rtype, family)
    assert (parsed.partition, parsed.region, parsed.account) == (where["partition"], where["region"], where["account"])
    for name, value in segments.items():
        assert getattr(parsed, name) == value
    assert is_v2_arn(str(arn)) is (family == "V2")


@given(_bot_name, _other_name, _version)
def test_alias_and_version_never_collide(bot, alias, version):
    where = {"region": "us-east-1", "account": "111122223333"}
    a = parse_arn(str(build_arn("bot alias", "V1", bot=bot, alias=alias, **where)))
    v = parse_arn(str(build_arn("bot version", "V1", bot=bot, version=version, **where)))
    assert a.resource_type is ResourceType.BOT_ALIAS
    assert v.resource_type is ResourceType.BOT_VERSION


@given(_bot_name)
def test_every_version_arn_round_trips(bot):
    arn = build_arn("bot version", "V1", region="us-east-1", account="111122223333", bot=bot, version=ALL)
    assert parse_arn(str(arn), allow_collections=True) == arn
    assert isinstance(arn, LexArn) and arn.is_collection
