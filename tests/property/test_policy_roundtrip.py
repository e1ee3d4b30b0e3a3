"""parse(dump(policy)) == policy, for generated policies of every element form."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lexauthz.policy import dump_policy, parse_policy
from lexauthz.policy.operators import BASE_OPERATORS

_text = st.text(alphabet="abcXYZ019:/*?$-_{} ", min_size=1, max_size=12)
_strings = st.one_of(_text, st.lists(_text, min_size=1, max_size=3))
_operator = st.builds(
    lambda q, base, ie: (f"{q}:" if q else "") + base + ("IfExists" if ie and base != "Null" else ""),
    st.sampled_from([None, "ForAnyValue", "ForAllValues"]),
    st.sampled_from(sorted(BASE_OPERATORS)),
    st.booleans(),
)
_value = st.one_of(_text, st.booleans(), st.integers(-10**6, 10**6))
_condition = st.dictionaries(_operator, st.dictionaries(_text, st.one_of(_value, st.lists(_value, min_size=1,
                                                                                          max_size=3)),
                                                        min_size=1, max_size=2), min_size=1, max_size=3)
_principal = st.one_of(
    st.just("*"),
    st.dictionaries(st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser"]), _strings, min_size=1),
)


@st.composite
def statements(draw):
    s = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        s["Sid"] = draw(st.text(alphabet="AbC123", max_size=6))
    s["NotAction" if draw(st.booleans()) else "Action"] = draw(_strings)
    s["NotResource" if draw(st.booleans()) else "Resource"] = draw(_strings)
    if draw(st.booleans()):
        s["NotPrincipal" if draw(st.booleans()) else "Principal"] = draw(_principal)
    if draw(st.booleans()):
        s["Condition"] = draw(_condition)
    return s


@st.composite
def policies(draw):
    p = {}
    v = draw(st.sampled_from([None, "2012-10-17", "2008-10-17"]))
    if v:
        p["Version"] = v
    if draw(st.booleans()):
        p["Id"] = draw(_text)
    stmts = draw(st.lists(statements(), max_size=4))
    p["Statement"] = stmts[0] if len(stmts) == 1 and draw(st.booleans()) else stmts
    return p


@given(policies())
def test_parse_dump_parse_is_identity(policy):
    first = parse_policy(json.dumps(policy))
    assert first.ok, first.findings
    dumped = dump_policy(first.document)
    second = parse_policy(json.dumps(dumped))
    assert second.ok
    assert second.document == first.document
    # and dumping again gives the same JSON data: nothing is lost or reordered
    assert dump_policy(second.document) == dumped


@given(policies())
def test_dict_and_text_sources_agree(policy):
    assert parse_policy(policy).document == parse_policy(json.dumps(policy)).document


@given(st.lists(st.one_of(st.integers(0, 99), st.text(min_size=1, max_size=8)), max_size=6))
def test_json_paths_split_back_into_their_parts(parts):
    """join_path and path_elements (the Access Analyzer location path) are inverse."""
    from lexauthz.policy.positions import join_path, path_elements

    path = "$"
    for part in parts:
        path = join_path(path, part)
    assert path_elements(path) == [{"index": p} if isinstance(p, int) else {"value": p} for p in parts]
