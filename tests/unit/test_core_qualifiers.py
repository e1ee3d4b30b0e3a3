"""The compiled core's set qualifiers: ForAllValues/ForAnyValue apply before the operator, for every operator
family, Null included (ForAllValues true and ForAnyValue false with no request values); IfExists unchanged."""
from __future__ import annotations

import pytest

from engine_builders import clause, doc
from lexauthz.account import PolicySet
from lexauthz.policy.applicable import NamedPolicy

ACCT = "123456789012"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers"
KEY = "lexauthz:test"

# One operator and policy value per family.
FAMILIES = [
    ("StringEquals", "a"), ("StringNotEquals", "a"), ("StringLike", "a*"), ("StringEqualsIgnoreCase", "A"),
    ("NumericEquals", "1"), ("NumericLessThan", "5"), ("DateEquals", "2024-01-01T00:00:00Z"),
    ("DateGreaterThan", "2024-01-01T00:00:00Z"), ("Bool", "true"), ("IpAddress", "10.0.0.0/8"),
    ("NotIpAddress", "10.0.0.0/8"), ("ArnLike", "arn:aws:iam::*:user/*"), ("ArnNotEquals", "arn:aws:iam::1:root"),
    ("BinaryEquals", "QUJD"), ("Null", "true"), ("Null", "false"),
]


def _allowed(operator, value, context):
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("p", doc(
        {"effect": "Allow", "action": ("lex:GetBot",), "resource": ("*",),
         "condition": (clause(operator, KEY, value),)},
    ))])
    ps.add_resource(BOT)
    return ps.compile().is_allowed(ALICE, "lex:GetBot", BOT, context)


@pytest.mark.parametrize("op, value", FAMILIES)
@pytest.mark.parametrize("context", [None, {KEY: []}, {KEY: ""}], ids=["absent", "empty-list", "empty-string"])
def test_for_all_values_is_true_without_request_values(op, value, context):
    assert _allowed(f"ForAllValues:{op}", value, context) is True


@pytest.mark.parametrize("op, value", FAMILIES)
@pytest.mark.parametrize("context", [None, {KEY: []}, {KEY: ""}], ids=["absent", "empty-list", "empty-string"])
def test_for_any_value_is_false_without_request_values(op, value, context):
    assert _allowed(f"ForAnyValue:{op}", value, context) is False


def test_the_reported_null_cases():
    assert _allowed("ForAllValues:Null", "false", None) is True
    assert _allowed("ForAnyValue:Null", "true", None) is False


@pytest.mark.parametrize("qualifier", ["ForAllValues", "ForAnyValue"])
def test_qualified_null_on_present_values_tests_each_member(qualifier):
    assert _allowed(f"{qualifier}:Null", "false", {KEY: ["x", "y"]}) is True
    assert _allowed(f"{qualifier}:Null", "true", {KEY: ["x"]}) is False


@pytest.mark.parametrize("qualifier", ["ForAllValues", "ForAnyValue"])
def test_if_exists_on_a_missing_key_still_matches(qualifier):
    assert _allowed(f"{qualifier}:StringEqualsIfExists", "a", None) is True
