"""The reference evaluator's condition operators, one table per operator family.

Each row is ``(operator, key, policy values, context value or MISSING, expected)``; the context holds only that key
unless a row says otherwise.  The comment above each table names the AWS page the expectations come from.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexauthz.policy.model import ConditionClause
from lexauthz.reference.conditions import (
    KNOWN_OPERATORS,
    NEGATED_OPERATORS,
    clause_matches,
    condition_block_matches,
    parse_date,
    parse_number,
)
from lexauthz.request import Context

MISSING = object()
KEY = "aws:ExampleKey"


def clause(operator: str, key: str, *values: str) -> ConditionClause:
    """A clause split the way the policy model documents: ``[qualifier:]base[IfExists]``, case-sensitively."""
    qualifier, _, rest = operator.rpartition(":")
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    return ConditionClause(operator, base, qualifier or None, if_exists, key, tuple(values))


def check(operator, key, values, context_value, *, extra=None, variables_enabled=True) -> bool:
    ctx = dict(extra or {})
    if context_value is not MISSING:
        ctx[key] = context_value
    return clause_matches(clause(operator, key, *values), Context(ctx), variables_enabled=variables_enabled)


def run_table(rows):
    return pytest.mark.parametrize(
        "operator,key,values,context_value,expected",
        rows,
        ids=[f"{r[0]}-{r[2]}-{'MISSING' if r[3] is MISSING else r[3]!r}" for r in rows],
    )


# -- String ---------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
STRING_ROWS = [
    ("StringEquals", KEY, ["dev"], "dev", True),
    ("StringEquals", KEY, ["dev"], "Dev", False),  # case-sensitive
    ("StringEquals", KEY, ["dev", "prod"], "prod", True),  # values are ORed
    ("StringEquals", KEY, ["de*"], "dev", False),  # no wildcards in StringEquals
    ("StringEquals", KEY, ["de*"], "de*", True),
    ("StringEquals", KEY, [""], "", True),
    ("StringEquals", KEY, ["dev"], MISSING, False),
    ("StringNotEquals", KEY, ["dev"], "prod", True),
    ("StringNotEquals", KEY, ["dev"], "dev", False),
    ("StringNotEquals", KEY, ["dev", "prod"], "prod", False),  # negated values are NORed
    ("StringNotEquals", KEY, ["dev", "prod"], "test", True),
    ("StringNotEquals", KEY, ["dev"], MISSING, True),  # negated operator on a missing key
    ("StringEqualsIgnoreCase", KEY, ["DEV"], "dev", True),
    ("StringEqualsIgnoreCase", KEY, ["DEV"], "prod", False),
    ("StringEqualsIgnoreCase", KEY, ["DEV"], MISSING, False),
    ("StringNotEqualsIgnoreCase", KEY, ["DEV"], "dev", False),
    ("StringNotEqualsIgnoreCase", KEY, ["DEV"], "prod", True),
    ("StringNotEqualsIgnoreCase", KEY, ["DEV"], MISSING, True),
    ("StringLike", KEY, ["dev*"], "development", True),
    ("StringLike", KEY, ["dev*"], "Development", False),  # case-sensitive
    ("StringLike", KEY, ["d?v"], "dev", True),
    ("StringLike", KEY, ["d?v"], "deev", False),
    ("StringLike", KEY, ["dev"], "devx", False),  # the whole value must match
    ("StringLike", KEY, ["*"], "", True),
    ("StringLike", KEY, ["*dev*"], "my-dev-box", True),
    ("StringLike", KEY, ["dev*"], MISSING, False),
    (
        "StringLike",
        KEY,
        ["arn:aws:someservice:*:111122223333:finance/*"],
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        True,  # the doc's example: a string `*` spans colons (ArnLike does not, see below)
    ),
    ("StringNotLike", KEY, ["dev*", "ops*"], "opsx", False),
    ("StringNotLike", KEY, ["dev*", "ops*"], "sales", True),
    ("StringNotLike", KEY, ["dev*"], MISSING, True),
]


@run_table(STRING_ROWS)
def test_string_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- Numeric --------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric
# A value that is not a number never matches, for the negated operator too (documented choice in conditions.py).
NUMERIC_ROWS = [
    ("NumericEquals", KEY, ["300"], "300", True),
    ("NumericEquals", KEY, ["300"], "300.0", True),
    ("NumericEquals", KEY, ["300"], "301", False),
    ("NumericEquals", KEY, ["1e3"], "1000", True),
    ("NumericEquals", KEY, ["0.3"], "0.30", True),  # exact decimals
    ("NumericEquals", KEY, ["300"], "abc", False),
    ("NumericEquals", KEY, ["abc"], "300", False),
    ("NumericEquals", KEY, ["300"], " 300", False),
    ("NumericEquals", KEY, ["300"], MISSING, False),
    ("NumericNotEquals", KEY, ["300"], "301", True),
    ("NumericNotEquals", KEY, ["300"], "300", False),
    ("NumericNotEquals", KEY, ["300", "400"], "400", False),
    ("NumericNotEquals", KEY, ["300", "400"], "500", True),
    ("NumericNotEquals", KEY, ["300"], "abc", False),
    ("NumericNotEquals", KEY, ["300"], MISSING, True),
    ("NumericLessThan", KEY, ["3600"], "3599", True),
    ("NumericLessThan", KEY, ["3600"], "3600", False),
    ("NumericLessThan", KEY, ["10"], "9.99999999999999999999", True),
    ("NumericLessThanEquals", KEY, ["3600"], "3600", True),
    ("NumericLessThanEquals", KEY, ["3600"], "3601", False),
    ("NumericGreaterThan", KEY, ["0"], "0.5", True),
    ("NumericGreaterThan", KEY, ["0"], "-1", False),
    ("NumericGreaterThanEquals", KEY, ["3600"], "3600", True),
    ("NumericGreaterThanEquals", KEY, ["3600"], "3599.9", False),
    ("NumericGreaterThanEquals", KEY, ["3600"], MISSING, False),
]


@run_table(NUMERIC_ROWS)
def test_numeric_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- Date -----------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date
# ISO 8601 and epoch seconds both name instants and compare as instants (corpus README, divergence 6).
# 1704067200 is 2024-01-01T00:00:00Z.
DATE_ROWS = [
    ("DateEquals", KEY, ["2024-01-01T00:00:00Z"], "2024-01-01T00:00:00Z", True),
    ("DateEquals", KEY, ["2024-01-01T00:00:00Z"], "1704067200", True),
    ("DateEquals", KEY, ["1704067200"], "2024-01-01T00:00:00Z", True),
    ("DateEquals", KEY, ["2024-01-01T01:00:00+01:00"], "2024-01-01T00:00:00Z", True),
    ("DateEquals", KEY, ["2023-12-31T19:00:00-05:00"], "1704067200", True),
    ("DateEquals", KEY, ["2024-01-01"], "2024-01-01T00:00:00Z", True),
    ("DateEquals", KEY, ["2024-01-01T00:00Z"], "1704067200", True),
    ("DateEquals", KEY, ["2024-01-01T00:00:00.000Z"], "1704067200", True),
    ("DateEquals", KEY, ["2024-02-30"], "2024-03-01", False),  # no such day
    ("DateEquals", KEY, ["2024-01-01T00:00:00Z"], MISSING, False),
    ("DateNotEquals", KEY, ["2024-01-01T00:00:00Z"], "1704067200", False),
    ("DateNotEquals", KEY, ["2024-01-01T00:00:00Z"], "1704067201", True),
    ("DateNotEquals", KEY, ["2024-01-01T00:00:00Z"], "garbage", False),
    ("DateNotEquals", KEY, ["2024-01-01T00:00:00Z"], MISSING, True),
    ("DateLessThan", KEY, ["2024-01-01T00:00:00Z"], "1704067199", True),
    ("DateLessThan", KEY, ["2024-01-01T00:00:00Z"], "1704067200", False),
    ("DateLessThan", KEY, ["1800000000"], "2024-01-01T00:00:00Z", True),  # the simulator gets this mix wrong
    ("DateLessThan", KEY, ["not-a-date"], "1704067200", False),
    ("DateLessThan", KEY, ["2024-*"], "2023-01-01", False),  # no wildcards in dates
    ("DateLessThanEquals", KEY, ["1704067200"], "2024-01-01T00:00:00Z", True),
    ("DateLessThanEquals", KEY, ["1704067200"], "2024-01-01T00:00:00.001Z", False),
    ("DateGreaterThan", KEY, ["2024-01-01T00:00:00Z"], "2024-01-01T00:00:00.001Z", True),
    ("DateGreaterThan", KEY, ["2024-01-01T00:00:00Z"], "1704067200", False),
    ("DateGreaterThanEquals", KEY, ["2024-06-01"], "2024-05-31T23:59:59Z", False),
    ("DateGreaterThanEquals", KEY, ["2024-06-01"], "2024-06-01T00:00:00Z", True),
]


@run_table(DATE_ROWS)
def test_date_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("0", 0),
        ("1704067200", 1704067200),
        ("2024-01-01T00:00:00Z", 1704067200),
        ("2024-01", 1704067200),
        ("2024-01-01T00:00:00+0100", 1704063600),
        ("1970-01-01T00:00:00.25Z", 0.25),
    ],
)
def test_parse_date_reads_both_forms_as_seconds(text, seconds):
    from decimal import Decimal

    assert parse_date(text) == Decimal(str(seconds))


@pytest.mark.parametrize("text", ["", "tomorrow", "2024-13-01", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+25:00"])
def test_parse_date_rejects_what_is_not_a_date(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["", "NaN", "Infinity", "1,000", "0x10", "1_000", "- 1"])
def test_parse_number_rejects_what_is_not_a_decimal(text):
    assert parse_number(text) is None


# -- Bool, BinaryEquals ---------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_BinaryEquals
BOOL_BINARY_ROWS = [
    ("Bool", KEY, ["true"], "true", True),
    ("Bool", KEY, ["true"], "false", False),
    ("Bool", KEY, ["true"], "TRUE", True),
    ("Bool", KEY, ["True"], "true", True),
    ("Bool", KEY, ["false"], "false", True),
    ("Bool", KEY, ["true", "false"], "false", True),
    ("Bool", KEY, ["true"], "yes", False),
    ("Bool", KEY, ["true"], MISSING, False),
    ("BinaryEquals", KEY, ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("BinaryEquals", KEY, ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "QmluYXJ5VmFsdWU=", False),
    ("BinaryEquals", KEY, ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "not base64!", False),
    ("BinaryEquals", KEY, ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], MISSING, False),
]


@run_table(BOOL_BINARY_ROWS)
def test_bool_and_binary_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- IP address -----------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress
IP = "aws:SourceIp"
IP_ROWS = [
    ("IpAddress", IP, ["203.0.113.0/24"], "203.0.113.7", True),
    ("IpAddress", IP, ["203.0.113.0/24"], "203.0.114.7", False),
    ("IpAddress", IP, ["203.0.113.7"], "203.0.113.7", True),  # a bare address is /32
    ("IpAddress", IP, ["203.0.113.7"], "203.0.113.8", False),
    ("IpAddress", IP, ["10.1.2.3/16"], "10.1.200.1", True),  # host bits ignored
    ("IpAddress", IP, ["0.0.0.0/0"], "198.51.100.1", True),  # /0 holds everything (divergence 5)
    ("IpAddress", IP, ["::/0"], "2001:db8::1", True),
    ("IpAddress", IP, ["::/0"], "10.0.0.1", False),  # address families never mix
    ("IpAddress", IP, ["0.0.0.0/0"], "2001:db8::1", False),
    ("IpAddress", IP, ["2001:DB8:1234:5678::/64"], "2001:db8:1234:5678::abcd", True),
    ("IpAddress", IP, ["2001:DB8:1234:5678::/64"], "2001:db8:1234:5679::1", False),
    ("IpAddress", IP, ["2001:db8::1"], "2001:db8::1", True),  # a bare IPv6 address is /128
    ("IpAddress", IP, ["2001:db8::1"], "2001:db8::2", False),
    ("IpAddress", IP, ["203.0.113.0/24", "2001:db8::/32"], "2001:db8::5", True),
    ("IpAddress", IP, ["203.0.113.0/24"], "not-an-ip", False),
    ("IpAddress", IP, ["203.0.113.0/33"], "203.0.113.1", False),
    ("IpAddress", IP, ["203.0.113.0/24"], MISSING, False),
    ("NotIpAddress", IP, ["10.0.0.0/8"], "10.1.1.1", False),
    ("NotIpAddress", IP, ["10.0.0.0/8"], "192.0.2.1", True),
    ("NotIpAddress", IP, ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", False),
    ("NotIpAddress", IP, ["10.0.0.0/8", "2001:db8::/32"], "2001:db9::1", True),
    ("NotIpAddress", IP, ["0.0.0.0/0"], "203.0.113.1", False),
    ("NotIpAddress", IP, ["10.0.0.0/8"], "not-an-ip", False),
    ("NotIpAddress", IP, ["10.0.0.0/8"], MISSING, True),
]


@run_table(IP_ROWS)
def test_ip_address_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- ARN ------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
ARN = "aws:PrincipalArn"
ADMIN = "arn:aws:iam::123456789012:role/Admin"
ARN_ROWS = [
    ("ArnLike", ARN, ["arn:aws:iam::123456789012:role/*"], ADMIN, True),
    ("ArnEquals", ARN, ["arn:aws:iam::123456789012:role/*"], ADMIN, True),  # ArnEquals = ArnLike
    ("ArnEquals", ARN, [ADMIN], ADMIN, True),
    ("ArnLike", ARN, ["arn:aws:iam::*:role/Admin"], "arn:aws:iam::210987654321:role/Admin", True),
    ("ArnLike", ARN, ["arn:aws:iam::12345678901?:*"], "arn:aws:iam::123456789012:user/x", True),
    ("ArnLike", ARN, ["arn:aws:iam::123456789012:role/admin"], ADMIN, False),  # case-sensitive
    ("ArnLike", ARN, ["arn:AWS:iam::123456789012:role/Admin"], ADMIN, False),
    ("ArnLike", ARN, ["arn:aws:iam::123456789012:*"], "arn:aws:iam::123456789012:role/a:b", True),
    (
        "ArnLike",
        ARN,
        ["arn:aws:someservice:*:111122223333:finance/*"],
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        False,  # the doc's example: a `*` stays inside its field
    ),
    ("ArnLike", ARN, ["arn:aws:iam::*"], ADMIN, False),  # fewer than six fields: not an ARN
    ("ArnLike", ARN, ["*"], ADMIN, False),
    ("ArnLike", ARN, ["arn:aws:iam::123456789012:*"], "not-an-arn", False),
    ("ArnLike", ARN, ["arn:aws:iam::123456789012:*"], MISSING, False),
    ("ArnNotLike", ARN, ["arn:aws:iam::123456789012:*"], "arn:aws:iam::210987654321:user/x", True),
    ("ArnNotLike", ARN, ["arn:aws:iam::123456789012:*"], ADMIN, False),
    ("ArnNotLike", ARN, ["arn:aws:iam::123456789012:*"], "not-an-arn", False),
    ("ArnNotLike", ARN, ["arn:aws:iam::123456789012:*"], MISSING, True),
    ("ArnNotEquals", ARN, ["arn:aws:iam::*:role/Break*Glass"], "arn:aws:iam::1:role/BreakTheGlass", False),
    ("ArnNotEquals", ARN, ["arn:aws:iam::*:role/Break*Glass", ADMIN], "arn:aws:iam::1:role/Other", True),
]


@run_table(ARN_ROWS)
def test_arn_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- Null -----------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
NULL_ROWS = [
    ("Null", KEY, ["true"], MISSING, True),
    ("Null", KEY, ["true"], "x", False),
    ("Null", KEY, ["false"], "x", True),
    ("Null", KEY, ["false"], "", True),  # an empty string is a value
    ("Null", KEY, ["false"], MISSING, False),
    ("Null", KEY, ["true"], (), True),  # an empty list counts as null
    ("Null", KEY, ["false"], (), False),
    ("Null", KEY, ["false"], ("a",), True),
    ("Null", KEY, ["maybe"], MISSING, False),
    ("NullIfExists", KEY, ["true"], MISSING, False),  # IfExists is not allowed on Null
]


@run_table(NULL_ROWS)
def test_null_operator(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- ...IfExists ----------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
IF_EXISTS_ROWS = [
    ("StringEqualsIfExists", KEY, ["dev"], MISSING, True),
    ("StringEqualsIfExists", KEY, ["dev"], "dev", True),
    ("StringEqualsIfExists", KEY, ["dev"], "prod", False),
    ("StringNotEqualsIfExists", KEY, ["dev"], MISSING, True),
    ("StringNotEqualsIfExists", KEY, ["dev"], "dev", False),
    ("StringLikeIfExists", KEY, ["t1.*"], "m5.large", False),
    ("NumericLessThanIfExists", KEY, ["10"], MISSING, True),
    ("NumericLessThanIfExists", KEY, ["10"], "20", False),
    ("DateLessThanIfExists", KEY, ["2024-01-01"], MISSING, True),
    ("BoolIfExists", KEY, ["true"], MISSING, True),
    ("BoolIfExists", KEY, ["true"], "false", False),
    ("IpAddressIfExists", IP, ["10.0.0.0/8"], MISSING, True),
    ("NotIpAddressIfExists", IP, ["10.0.0.0/8"], MISSING, True),
    ("NotIpAddressIfExists", IP, ["10.0.0.0/8"], "10.0.0.1", False),
    ("ArnLikeIfExists", ARN, ["arn:aws:iam::*:role/*"], MISSING, True),
    ("StringEqualsIfExists", KEY, ["a"], ("a",), False),  # present but a list: rule 5
    ("ForAnyValue:StringEqualsIfExists", KEY, ["a"], MISSING, True),  # IfExists decides before ForAnyValue
]


@run_table(IF_EXISTS_ROWS)
def test_if_exists(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- ForAnyValue / ForAllValues -------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
TAGS = "aws:TagKeys"
SET_ROWS = [
    ("ForAnyValue:StringEquals", TAGS, ["a", "b"], ("x", "b"), True),
    ("ForAnyValue:StringEquals", TAGS, ["a", "b"], ("x", "y"), False),
    ("ForAnyValue:StringEquals", TAGS, ["a", "b"], (), False),
    ("ForAnyValue:StringEquals", TAGS, ["a", "b"], MISSING, False),
    ("ForAllValues:StringEquals", TAGS, ["a", "b"], ("a", "b"), True),
    ("ForAllValues:StringEquals", TAGS, ["a", "b"], ("b",), True),
    ("ForAllValues:StringEquals", TAGS, ["a", "b"], ("a", "x"), False),
    ("ForAllValues:StringEquals", TAGS, ["a", "b"], (), True),
    ("ForAllValues:StringEquals", TAGS, ["a", "b"], MISSING, True),
    ("ForAllValues:StringLike", TAGS, ["Created*"], ("CreatedBy", "CreatedAt"), True),
    ("ForAllValues:StringLike", TAGS, ["Created*"], ("CreatedBy", "Owner"), False),
    ("ForAnyValue:StringEqualsIgnoreCase", TAGS, ["TEAM"], ("env", "team"), True),
    ("ForAnyValue:StringNotEquals", TAGS, ["a"], ("a", "b"), True),  # some value is not `a`
    ("ForAnyValue:StringNotEquals", TAGS, ["a"], ("a",), False),
    ("ForAnyValue:StringNotEquals", TAGS, ["a"], (), False),
    ("ForAnyValue:StringNotEquals", TAGS, ["a"], MISSING, False),  # the qualifier decides before the negation
    ("ForAllValues:StringNotEquals", TAGS, ["a", "b"], ("c", "d"), True),  # no value is `a` or `b`
    ("ForAllValues:StringNotEquals", TAGS, ["a", "b"], ("c", "a"), False),
    ("ForAllValues:StringNotEquals", TAGS, ["a", "b"], (), True),
    ("ForAllValues:StringNotEquals", TAGS, ["a", "b"], MISSING, True),
    ("ForAllValues:StringNotLike", TAGS, ["aws-*"], ("aws-x", "team"), False),
    ("ForAllValues:StringNotLike", TAGS, ["aws-*"], ("team", "env"), True),
    ("ForAnyValue:StringEquals", KEY, ["a"], "a", True),  # a single value is a set of one
    ("ForAllValues:StringEquals", KEY, ["a"], "b", False),
    ("ForAnyValue:ArnLike", "aws:SourceArns", ["arn:aws:sns:*:*:topic"], ("x", "arn:aws:sns:r:1:topic"), True),
    # Without a qualifier, a list never matches, negated operators included (rule 5, documented choice).
    ("StringEquals", TAGS, ["a"], ("a",), False),
    ("StringNotEquals", TAGS, ["a"], ("b",), False),
    ("StringLike", TAGS, ["*"], ("a", "b"), False),
    ("StringNotEquals", TAGS, ["a"], (), False),
]


@run_table(SET_ROWS)
def test_set_operators(operator, key, values, context_value, expected):
    assert check(operator, key, values, context_value) is expected


# -- Policy variables in condition values ---------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
ALICE = {"aws:username": "alice", "aws:PrincipalAccount": "123456789012"}
VARIABLE_ROWS = [
    # (operator, key, values, context value, other context keys, variables_enabled, expected)
    ("StringEquals", KEY, ["${aws:username}"], "alice", ALICE, True, True),
    ("StringEquals", KEY, ["${aws:username}"], "bob", ALICE, True, False),
    ("StringEquals", KEY, ["${AWS:USERNAME}"], "alice", ALICE, True, True),  # variable keys ignore case
    ("StringEquals", KEY, ["${aws:username}"], "alice", {}, True, False),  # no value: nothing equals it
    ("StringEquals", KEY, ["${aws:username}", "x"], "x", {}, True, True),
    ("StringNotEquals", KEY, ["${aws:PrincipalTag/team}"], "sales", {}, True, True),  # ... and nothing is unlike it
    ("StringNotEquals", KEY, ["${aws:PrincipalTag/team}", "x"], "x", {}, True, False),
    ("StringEquals", KEY, ["${aws:PrincipalTag/team, 'sales'}"], "sales", {}, True, True),
    ("StringEquals", KEY, ["${aws:PrincipalTag/team, 'sales'}"], "ops", {"aws:PrincipalTag/team": "ops"}, True, True),
    ("StringEquals", KEY, ["${aws:TagKeys}"], "a", {"aws:TagKeys": ["a"]}, True, False),  # lists are no variables
    ("StringEquals", KEY, ["${aws:username}"], "${aws:username}", ALICE, False, True),  # Version 2008: literal
    ("StringEquals", KEY, ["${aws:username}"], "alice", ALICE, False, False),
    ("StringLike", KEY, ["${aws:username}-*"], "alice-1", ALICE, True, True),
    ("StringLike", KEY, ["a${*}"], "a*", {}, True, True),  # ${*} is a literal star
    ("StringLike", KEY, ["a${*}"], "ab", {}, True, False),
    ("StringLike", KEY, ["a${?}"], "a?", {}, True, True),
    ("StringLike", KEY, ["a${?}"], "ab", {}, True, False),
    ("StringEquals", KEY, ["${$}x"], "$x", {}, True, True),
    ("StringLike", KEY, ["a${*}"], "a${zzz}", {}, False, True),  # without variables `*` is a wildcard
    ("StringLike", KEY, ["${aws:PrincipalTag/team}"], "x", {"aws:PrincipalTag/team": "*"}, True, False),
    ("ArnLike", ARN, ["arn:aws:iam::${aws:PrincipalAccount}:*"], ADMIN, ALICE, True, True),  # divergence 2
    ("ArnLike", ARN, ["arn:aws:iam::${aws:PrincipalAccount}:*"], "arn:aws:iam::1:role/x", ALICE, True, False),
    ("ArnNotLike", ARN, ["arn:aws:iam::${aws:PrincipalAccount}:*"], "arn:aws:iam::1:role/x", ALICE, True, True),
    ("Bool", KEY, ["${aws:SecureTransport}"], "true", {"aws:SecureTransport": "true"}, True, True),
    ("NumericEquals", KEY, ["${aws:n}"], "5", {"aws:n": "5"}, True, False),  # not for Numeric
    ("DateEquals", KEY, ["${aws:CurrentTime}"], "2024-01-01", {"aws:CurrentTime": "2024-01-01"}, True, False),
    ("IpAddress", IP, ["${aws:net}"], "10.0.0.1", {"aws:net": "10.0.0.0/8"}, True, False),
]


@pytest.mark.parametrize(
    "operator,key,values,context_value,extra,enabled,expected",
    VARIABLE_ROWS,
    ids=[f"{r[0]}-{r[2]}-{r[3]!r}-{'v2012' if r[5] else 'v2008'}" for r in VARIABLE_ROWS],
)
def test_policy_variables_in_values(operator, key, values, context_value, extra, enabled, expected):
    assert check(operator, key, values, context_value, extra=extra, variables_enabled=enabled) is expected


def test_condition_key_is_not_substituted():
    # Variables live in values, not keys: `aws:ResourceTag/${aws:username}` is a literal key name.
    c = clause("StringEquals", "aws:ResourceTag/${aws:username}", "x")
    substituted = Context({"aws:username": "alice", "aws:ResourceTag/alice": "x"})
    literal = Context({"aws:username": "alice", "aws:ResourceTag/${aws:username}": "x"})
    assert clause_matches(c, substituted, variables_enabled=True) is False
    assert clause_matches(c, literal, variables_enabled=True) is True


@pytest.mark.parametrize("key", ["aws:principaltag/team", "AWS:PRINCIPALTAG/team", "Aws:PrincipalTag/TEAM"])
def test_condition_key_names_ignore_case(key):
    ctx = Context({"aws:PrincipalTag/team": "sales"})
    assert clause_matches(clause("StringEquals", key, "sales"), ctx, variables_enabled=True) is True


# -- Operators ------------------------------------------------------------------------------------------------


def test_known_operators_are_the_aws_names():
    assert len(KNOWN_OPERATORS) == 27
    assert {"StringLike", "NumericLessThanEquals", "DateGreaterThanEquals", "Bool", "BinaryEquals", "NotIpAddress",
            "ArnNotLike", "Null"} <= KNOWN_OPERATORS
    assert NEGATED_OPERATORS < KNOWN_OPERATORS
    assert all("Not" in op for op in NEGATED_OPERATORS)


@pytest.mark.parametrize("operator", ["stringequals", "STRINGEQUALS", "StringEqual", "StringLikeIgnoreCase"])
def test_unknown_operator_never_matches(operator):
    ctx = Context({KEY: "dev"})
    assert clause_matches(clause(operator, KEY, "dev"), ctx, variables_enabled=True) is False
    assert clause_matches(clause(operator, "aws:Missing", "dev"), ctx, variables_enabled=True) is False


# -- The condition block --------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html


def test_block_is_and_across_operators_and_keys():
    ctx = Context({"aws:PrincipalTag/team": "sales", "aws:SourceIp": "10.0.0.1"})
    team = clause("StringEquals", "aws:PrincipalTag/team", "sales", "ops")
    net = clause("IpAddress", "aws:SourceIp", "10.0.0.0/8")
    other_net = clause("IpAddress", "aws:SourceIp", "192.0.2.0/24")
    assert condition_block_matches((team, net), ctx, variables_enabled=True) is True
    assert condition_block_matches((team, other_net), ctx, variables_enabled=True) is False
    assert condition_block_matches((), ctx, variables_enabled=True) is True


def test_block_records_every_missing_key_in_policy_spelling():
    ctx = Context({"aws:SourceIp": "10.0.0.1"})
    clauses = (
        clause("IpAddress", "aws:SourceIp", "192.0.2.0/24"),  # fails first: the rest still counts
        clause("StringEquals", "AWS:PrincipalTag/Team", "${aws:username}", "${aws:SourceIp}"),
        clause("StringEqualsIfExists", "aws:RequestTag/env", "${aws:PrincipalTag/env, 'dev'}"),
        clause("Null", "aws:TokenIssueTime", "true"),
        clause("NumericEquals", "aws:SourceIp", "${aws:NotAVariableHere}"),
    )
    missing: set[str] = set()
    assert condition_block_matches(clauses, ctx, variables_enabled=True, missing=missing) is False
    assert missing == {
        "AWS:PrincipalTag/Team",
        "aws:username",
        "aws:RequestTag/env",
        "aws:PrincipalTag/env",
        "aws:TokenIssueTime",
    }


def test_block_records_no_variable_keys_when_variables_are_off():
    missing: set[str] = set()
    c = clause("StringEquals", "aws:PrincipalTag/team", "${aws:username}")
    condition_block_matches((c,), Context({}), variables_enabled=False, missing=missing)
    assert missing == {"aws:PrincipalTag/team"}


# -- Properties -----------------------------------------------------------------------------------------------

_word = st.text(alphabet="abAB*?", max_size=4)
_NEGATIONS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
]


@settings(deadline=None)
@given(pair=st.sampled_from(_NEGATIONS), values=st.lists(_word, min_size=1, max_size=3), value=_word)
def test_negated_string_operator_is_the_complement_on_a_present_value(pair, values, value):
    positive, negated = pair
    ctx = Context({KEY: value})
    p = clause_matches(clause(positive, KEY, *values), ctx, variables_enabled=True)
    n = clause_matches(clause(negated, KEY, *values), ctx, variables_enabled=True)
    assert p is not n


@settings(deadline=None)
@given(values=st.lists(_word, min_size=1, max_size=3), request_values=st.lists(_word, max_size=4))
def test_for_all_values_not_equals_is_not_for_any_value_equals(values, request_values):
    ctx = Context({TAGS: request_values})
    all_not = clause_matches(clause("ForAllValues:StringNotEquals", TAGS, *values), ctx, variables_enabled=True)
    any_eq = clause_matches(clause("ForAnyValue:StringEquals", TAGS, *values), ctx, variables_enabled=True)
    assert all_not is not any_eq


@settings(deadline=None)
@given(seconds=st.integers(min_value=0, max_value=4_102_444_800))
def test_epoch_and_iso_forms_of_one_instant_are_equal(seconds):
    import datetime as dt

    iso = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ctx = Context({"aws:CurrentTime": iso})
    assert clause_matches(clause("DateEquals", "aws:CurrentTime", str(seconds)), ctx, variables_enabled=True)
    assert not clause_matches(clause("DateLessThan", "aws:CurrentTime", str(seconds)), ctx, variables_enabled=True)


def test_operator_names_agree_with_the_parsers_table():
    # The reference keeps its own list (it reads like the AWS page); it must not drift from the parser's.
    from lexauthz.policy import operators

    assert KNOWN_OPERATORS == operators.BASE_OPERATORS
    assert NEGATED_OPERATORS == operators.NEGATED_OPERATORS
