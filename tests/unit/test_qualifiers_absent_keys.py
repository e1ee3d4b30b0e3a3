"""``ForAllValues:``/``ForAnyValue:`` with an absent key, an empty value and present values, for each operator family.

One row per (operator family) x (qualifier) x (key state); every row runs through both engines, the reference
evaluator and the compiled engine, and asserts the decision of one Allow statement that holds only that condition:
``Decision.ALLOW`` when the condition matches, ``Decision.IMPLICIT_DENY`` when it does not.

The expectations are written by hand from the IAM User Guide, not computed:

- MULTIVALUED, "Single-valued vs. multivalued context keys", section "Set operators for multivalued context keys",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html:
  ``ForAllValues`` "returns true if every context key value in the request matches a context key value in the policy.
  It also returns true if there are no context keys in the request"; ``ForAnyValue`` returns true if any one of the
  request's values matches one of the policy's values.
- The page's earlier edition, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html:
  "If the key values in the request resolve to an empty data set (for example, an empty string), a condition operator
  modified by ForAllValues returns true, and a condition operator modified by ForAnyValue returns false".
- OPERATORS, "IAM JSON policy elements: Condition operators",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html: the meaning
  of each operator on one value, and that ``Null`` ``"false"`` means "the key exists and its value is not null".

So the set qualifier applies before the operator, for every operator, ``Null`` and negated operators included: with no
request values (absent key, empty list, empty string) ``ForAllValues`` is true and ``ForAnyValue`` is false, whatever
the operator.  With values, the operator is applied to each value: any must match for ``ForAnyValue``, all for
``ForAllValues``.
"""
from __future__ import annotations

import pytest

from lexauthz.decision import Decision
from lexauthz.engine import compile_applicable
from lexauthz.errors import Severity
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.policy.parser import parse_policy
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Context, Request

ACCT = "123456789012"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ALIAS = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:prod"

A, I = Decision.ALLOW, Decision.IMPLICIT_DENY
ALL, ANY = "ForAllValues", "ForAnyValue"
ABSENT = object()  # the key is not in the request context

# The key states, in the order of each family's table below.
STATES = ("absent", "empty list", "empty string", "one matching value", "one non-matching value",
          "several values, some matching")

# With no request values the qualifier alone decides (MULTIVALUED; earlier edition: "an empty data set (for example,
# an empty string)").  Written once here because it is the same for every operator; that is the rule under test.
NO_VALUES = {
    ALL: (A, "no request values: ForAllValues is vacuously true"),
    ANY: (I, "no request values: ForAnyValue is false"),
}

# Each family: (operator, key, policy values, {state: context value}, {(qualifier, state): (expected, reason)}) for
# the three states with values.  "Matching" means the request value satisfies the base operator (for a negated
# operator, the value differs from the policy's), so the expectations read the same across families.
FAMILIES = [
    ("StringEquals", "aws:TagKeys", ["env", "team"],
     {"one matching value": ["env"], "one non-matching value": ["owner"],
      "several values, some matching": ["env", "owner"]},
     {(ALL, "one matching value"): (A, "env is in the policy"),
      (ALL, "one non-matching value"): (I, "owner is not in the policy"),
      (ALL, "several values, some matching"): (I, "owner is not in the policy"),
      (ANY, "one matching value"): (A, "env is in the policy"),
      (ANY, "one non-matching value"): (I, "no value is in the policy"),
      (ANY, "several values, some matching"): (A, "env is in the policy")}),
    ("StringLike", "aws:TagKeys", ["env*"],
     {"one matching value": ["env-stage"], "one non-matching value": ["owner"],
      "several values, some matching": ["env-stage", "owner"]},
     {(ALL, "one matching value"): (A, "env-stage is like env*"),
      (ALL, "one non-matching value"): (I, "owner is not like env*"),
      (ALL, "several values, some matching"): (I, "owner is not like env*"),
      (ANY, "one matching value"): (A, "env-stage is like env*"),
      (ANY, "one non-matching value"): (I, "no value is like env*"),
      (ANY, "several values, some matching"): (A, "env-stage is like env*")}),
    ("StringNotEquals", "aws:TagKeys", ["secret"],
     {"one matching value": ["public"], "one non-matching value": ["secret"],
      "several values, some matching": ["public", "secret"]},
     {(ALL, "one matching value"): (A, "public is not secret"),
      (ALL, "one non-matching value"): (I, "secret equals the policy value"),
      (ALL, "several values, some matching"): (I, "secret equals the policy value"),
      (ANY, "one matching value"): (A, "public is not secret"),
      (ANY, "one non-matching value"): (I, "the only value equals the policy value"),
      (ANY, "several values, some matching"): (A, "public is not secret")}),
    ("NumericEquals", "aws:MultiFactorAuthAge", ["3600"],
     {"one matching value": "3600", "one non-matching value": "60",
      "several values, some matching": ["3600", "60"]},
     {(ALL, "one matching value"): (A, "3600 == 3600"),
      (ALL, "one non-matching value"): (I, "60 != 3600"),
      (ALL, "several values, some matching"): (I, "60 != 3600"),
      (ANY, "one matching value"): (A, "3600 == 3600"),
      (ANY, "one non-matching value"): (I, "60 != 3600"),
      (ANY, "several values, some matching"): (A, "3600 == 3600")}),
    ("NumericLessThan", "aws:MultiFactorAuthAge", ["3600"],
     {"one matching value": "60", "one non-matching value": "7200",
      "several values, some matching": ["60", "7200"]},
     {(ALL, "one matching value"): (A, "60 < 3600"),
      (ALL, "one non-matching value"): (I, "7200 >= 3600"),
      (ALL, "several values, some matching"): (I, "7200 >= 3600"),
      (ANY, "one matching value"): (A, "60 < 3600"),
      (ANY, "one non-matching value"): (I, "7200 >= 3600"),
      (ANY, "several values, some matching"): (A, "60 < 3600")}),
    ("DateEquals", "aws:CurrentTime", ["2024-01-01T00:00:00Z"],
     {"one matching value": "2024-01-01T00:00:00Z", "one non-matching value": "2025-01-01T00:00:00Z",
      "several values, some matching": ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]},
     {(ALL, "one matching value"): (A, "same instant"),
      (ALL, "one non-matching value"): (I, "another instant"),
      (ALL, "several values, some matching"): (I, "2025 is another instant"),
      (ANY, "one matching value"): (A, "same instant"),
      (ANY, "one non-matching value"): (I, "another instant"),
      (ANY, "several values, some matching"): (A, "2024 is the same instant")}),
    ("DateGreaterThan", "aws:CurrentTime", ["2024-01-01T00:00:00Z"],
     {"one matching value": "2025-06-01T00:00:00Z", "one non-matching value": "2023-06-01T00:00:00Z",
      "several values, some matching": ["2025-06-01T00:00:00Z", "2023-06-01T00:00:00Z"]},
     {(ALL, "one matching value"): (A, "2025 is after 2024"),
      (ALL, "one non-matching value"): (I, "2023 is before 2024"),
      (ALL, "several values, some matching"): (I, "2023 is before 2024"),
      (ANY, "one matching value"): (A, "2025 is after 2024"),
      (ANY, "one non-matching value"): (I, "2023 is before 2024"),
      (ANY, "several values, some matching"): (A, "2025 is after 2024")}),
    ("Bool", "aws:MultiFactorAuthPresent", ["true"],
     {"one matching value": "true", "one non-matching value": "false",
      "several values, some matching": ["true", "false"]},
     {(ALL, "one matching value"): (A, "true is true"),
      (ALL, "one non-matching value"): (I, "false is not true"),
      (ALL, "several values, some matching"): (I, "false is not true"),
      (ANY, "one matching value"): (A, "true is true"),
      (ANY, "one non-matching value"): (I, "false is not true"),
      (ANY, "several values, some matching"): (A, "true is true")}),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"],
     {"one matching value": "10.1.2.3", "one non-matching value": "192.0.2.1",
      "several values, some matching": ["10.1.2.3", "192.0.2.1"]},
     {(ALL, "one matching value"): (A, "10.1.2.3 is in 10.0.0.0/8"),
      (ALL, "one non-matching value"): (I, "192.0.2.1 is outside 10.0.0.0/8"),
      (ALL, "several values, some matching"): (I, "192.0.2.1 is outside 10.0.0.0/8"),
      (ANY, "one matching value"): (A, "10.1.2.3 is in 10.0.0.0/8"),
      (ANY, "one non-matching value"): (I, "192.0.2.1 is outside 10.0.0.0/8"),
      (ANY, "several values, some matching"): (A, "10.1.2.3 is in 10.0.0.0/8")}),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"],
     {"one matching value": "192.0.2.1", "one non-matching value": "10.1.2.3",
      "several values, some matching": ["192.0.2.1", "10.1.2.3"]},
     {(ALL, "one matching value"): (A, "192.0.2.1 is outside 10.0.0.0/8"),
      (ALL, "one non-matching value"): (I, "10.1.2.3 is in 10.0.0.0/8"),
      (ALL, "several values, some matching"): (I, "10.1.2.3 is in 10.0.0.0/8"),
      (ANY, "one matching value"): (A, "192.0.2.1 is outside 10.0.0.0/8"),
      (ANY, "one non-matching value"): (I, "10.1.2.3 is in 10.0.0.0/8"),
      (ANY, "several values, some matching"): (A, "192.0.2.1 is outside 10.0.0.0/8")}),
    ("ArnLike", "aws:SourceArn", [f"arn:aws:sns:*:{ACCT}:topic-*"],
     {"one matching value": f"arn:aws:sns:us-east-1:{ACCT}:topic-a",
      "one non-matching value": "arn:aws:sns:us-east-1:210987654321:topic-a",
      "several values, some matching": [f"arn:aws:sns:us-east-1:{ACCT}:topic-a",
                                        "arn:aws:sns:us-east-1:210987654321:topic-a"]},
     {(ALL, "one matching value"): (A, "every field matches"),
      (ALL, "one non-matching value"): (I, "the account field differs"),
      (ALL, "several values, some matching"): (I, "one ARN is in another account"),
      (ANY, "one matching value"): (A, "every field matches"),
      (ANY, "one non-matching value"): (I, "the account field differs"),
      (ANY, "several values, some matching"): (A, "one ARN matches")}),
    ("ArnEquals", "aws:SourceArn", [f"arn:aws:sns:us-east-1:{ACCT}:topic"],
     {"one matching value": f"arn:aws:sns:us-east-1:{ACCT}:topic",
      "one non-matching value": f"arn:aws:sns:us-west-2:{ACCT}:topic",
      "several values, some matching": [f"arn:aws:sns:us-east-1:{ACCT}:topic",
                                        f"arn:aws:sns:us-west-2:{ACCT}:topic"]},
     {(ALL, "one matching value"): (A, "the same ARN"),
      (ALL, "one non-matching value"): (I, "the region differs"),
      (ALL, "several values, some matching"): (I, "one ARN is in another region"),
      (ANY, "one matching value"): (A, "the same ARN"),
      (ANY, "one non-matching value"): (I, "the region differs"),
      (ANY, "several values, some matching"): (A, "one ARN is the same")}),
    ("BinaryEquals", "lex:ExampleBinary", ["QmluYXJ5"],  # base-64 of b"Binary"
     {"one matching value": "QmluYXJ5", "one non-matching value": "T3RoZXI=",  # b"Other"
      "several values, some matching": ["QmluYXJ5", "T3RoZXI="]},
     {(ALL, "one matching value"): (A, "the same bytes"),
      (ALL, "one non-matching value"): (I, "other bytes"),
      (ALL, "several values, some matching"): (I, "one value is other bytes"),
      (ANY, "one matching value"): (A, "the same bytes"),
      (ANY, "one non-matching value"): (I, "other bytes"),
      (ANY, "several values, some matching"): (A, "one value is the same bytes")}),
    # Null: every request value is present, so it satisfies "false" and never "true" (OPERATORS #Conditions_Null).
    ("Null", "aws:username", ["false"],
     {"one matching value": "alice", "one non-matching value": "alice",
      "several values, some matching": ["alice", "bob"]},
     {(ALL, "one matching value"): (A, "alice exists and is not null"),
      (ALL, "one non-matching value"): (A, "alice exists and is not null (no value can be null)"),
      (ALL, "several values, some matching"): (A, "every value exists"),
      (ANY, "one matching value"): (A, "alice exists and is not null"),
      (ANY, "one non-matching value"): (A, "alice exists and is not null (no value can be null)"),
      (ANY, "several values, some matching"): (A, "a value exists")}),
    ("Null", "aws:username", ["true"],
     {"one matching value": "alice", "one non-matching value": "alice",
      "several values, some matching": ["alice", "bob"]},
     {(ALL, "one matching value"): (I, "alice is not null"),
      (ALL, "one non-matching value"): (I, "alice is not null (no value can be null)"),
      (ALL, "several values, some matching"): (I, "no value is null"),
      (ANY, "one matching value"): (I, "alice is not null"),
      (ANY, "one non-matching value"): (I, "alice is not null (no value can be null)"),
      (ANY, "several values, some matching"): (I, "no value is null")}),
]

EMPTY_STATES = {"absent": ABSENT, "empty list": [], "empty string": ""}


def _rows():
    rows = []
    for operator, key, values, present, expected in FAMILIES:
        for qualifier in (ALL, ANY):
            for state in STATES:
                if state in EMPTY_STATES:
                    context_value = EMPTY_STATES[state]
                    want, reason = NO_VALUES[qualifier]
                else:
                    context_value = present[state]
                    want, reason = expected[(qualifier, state)]
                rows.append(pytest.param(
                    f"{qualifier}:{operator}", key, values, context_value, want, reason,
                    id=f"{qualifier}:{operator}={values[0]}-{state.replace(' ', '_').replace(',', '')}"))
    return rows


ROWS = _rows()

# ...IfExists keeps its rule: "If the key is not present, evaluate the condition element as true" (OPERATORS
# #Conditions_IfExists), before the qualifier; a present key (even an empty one) is decided by the qualifier.
IF_EXISTS_ROWS = [
    pytest.param("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["env"], ABSENT, A,
                 "IfExists: an absent key is true", id="ForAnyValue:StringEqualsIfExists-absent"),
    pytest.param("ForAllValues:StringEqualsIfExists", "aws:TagKeys", ["env"], ABSENT, A,
                 "IfExists: an absent key is true", id="ForAllValues:StringEqualsIfExists-absent"),
    pytest.param("ForAnyValue:StringNotEqualsIfExists", "aws:TagKeys", ["env"], ABSENT, A,
                 "IfExists: an absent key is true", id="ForAnyValue:StringNotEqualsIfExists-absent"),
    pytest.param("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["env"], [], I,
                 "present but empty: ForAnyValue is false", id="ForAnyValue:StringEqualsIfExists-empty_list"),
    pytest.param("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["env"], ["env"], A,
                 "env is in the policy", id="ForAnyValue:StringEqualsIfExists-one_matching_value"),
    pytest.param("ForAllValues:StringEqualsIfExists", "aws:TagKeys", ["env"], ["owner"], I,
                 "owner is not in the policy", id="ForAllValues:StringEqualsIfExists-one_non-matching_value"),
]


def _policies(operator: str, key: str, values: list[str]) -> ApplicablePolicies:
    parsed = parse_policy({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*",
                       "Condition": {operator: {key: values}}}],
    })
    assert not [f for f in parsed.findings if f.severity is Severity.ERROR], parsed.findings
    return ApplicablePolicies(identity=(NamedPolicy("identity[0]", parsed.document, parsed.findings),))


def _request(key: str, context_value) -> Request:
    context = {} if context_value is ABSENT else {key: context_value}
    return Request(USER, "lex:PostText", ALIAS, ACCT, Context(context))


ALL_ROWS = ROWS + IF_EXISTS_ROWS


def test_the_table_covers_every_family_qualifier_and_state():
    families = {f"{f[0]}={f[2][0]}" for f in FAMILIES}
    assert len(ROWS) == len(families) * 2 * len(STATES)
    assert {f[0] for f in FAMILIES} == {
        "StringEquals", "StringLike", "StringNotEquals", "NumericEquals", "NumericLessThan", "DateEquals",
        "DateGreaterThan", "Bool", "IpAddress", "NotIpAddress", "ArnLike", "ArnEquals", "BinaryEquals", "Null"}


@pytest.mark.parametrize("operator,key,values,context_value,expected,reason", ALL_ROWS)
def test_reference(operator, key, values, context_value, expected, reason):
    got = reference_evaluate(_request(key, context_value), _policies(operator, key, values)).decision
    assert got is expected, reason


@pytest.mark.parametrize("operator,key,values,context_value,expected,reason", ALL_ROWS)
def test_compiled(operator, key, values, context_value, expected, reason):
    policies = _policies(operator, key, values)
    request = _request(key, context_value)
    engine = compile_applicable(policies)
    assert engine.evaluate(request).decision is expected, reason
    assert engine.is_allowed(USER, "lex:PostText", ALIAS,
                             {} if context_value is ABSENT else {key: context_value}) is (expected is A), reason
