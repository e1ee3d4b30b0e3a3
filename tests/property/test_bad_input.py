"""Bad input of any kind gives findings, never an exception: arbitrary bytes, text and JSON-shaped junk."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lexauthz.errors import Severity
from lexauthz.policy import POLICY_TYPES, parse_policy, validate_policy

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
_elements = st.sampled_from(["Version", "Id", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource",
                             "NotResource", "Principal", "NotPrincipal", "Condition", "AWS", "Service",
                             "StringEquals", "ForAnyValue:StringLike", "aws:TagKeys", "Allow", "Deny", "*",
                             "lex:PostText", "arn:aws:lex:us-east-1:111122223333:bot:B:*", "2012-10-17"])
# JSON whose keys and strings are mostly policy words, so the junk reaches deep into the grammar checks.
_policyish = st.recursive(
    st.none() | st.booleans() | st.integers() | _elements,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_elements, children, max_size=5),
    max_leaves=30,
)


@given(st.binary(max_size=200))
def test_arbitrary_bytes(data):
    res = parse_policy(data)
    assert res.ok or any(f.severity is Severity.ERROR for f in res.findings)


@given(st.text(max_size=200))
def test_arbitrary_text(text):
    parse_policy(text)


@given(_json, st.sampled_from(POLICY_TYPES))
def test_arbitrary_json(value, policy_type):
    _, result = validate_policy(json.dumps(value), policy_type=policy_type)
    for f in result.findings:
        assert f.code and f.path.startswith("$")


@given(_policyish, st.sampled_from(POLICY_TYPES))
def test_policy_shaped_junk(value, policy_type):
    doc = {"Version": "2012-10-17", "Statement": value}
    parsed, result = validate_policy(json.dumps(doc), policy_type=policy_type)
    # a document is built whenever the top level is an object, and every finding is located in the text
    assert parsed.document is not None
    assert all(f.line is not None for f in result.findings)
