"""Every public entry point raises only lexauthz's coded errors: malformed policy text gives a located
``E_MALFORMED_JSON`` finding (never ``json.JSONDecodeError`` or ``IndexError``), and batch columns of ``str``
subclasses are accepted while a single string or a missing column is a coded ``E_BAD_BATCH``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lexauthz
from lexauthz.account import PolicySet
from lexauthz.errors import LexAuthzError, PolicyParseError, RequestError
from lexauthz.policy import load_policy, parse_policy, validate_policy
from lexauthz.policy.positions import scan_positions

EXAMPLES = sorted((Path(lexauthz.__file__).parent / "examples" / "policies").glob("*.json"))
DOCS = [p.read_bytes() for p in EXAMPLES]


# =================================================================================================================
# Malformed policy text
# =================================================================================================================


@pytest.mark.parametrize("text, line, column", [
    ('{"Ver\\sion": "2012-10-17"}', 1, 6),           # an invalid escape in a key
    ('{"Statement"]: []}', 1, 13),                   # a closing bracket that closes nothing
    ('{"Version": "2012-10-17", "Statement": [{]}', 1, 42),
    ('{"a": "\\u12"}', 1, 9),
    ('{\n  "Version": NaN}', 2, 14),                 # a constant JSON refuses: located too
    ('{"Version": -Infinity}', 1, 13),
])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_malformed_json_is_a_located_parse_error(text, line, column, as_bytes):
    source = text.encode() if as_bytes else text
    with pytest.raises(PolicyParseError) as info:
        load_policy(source)
    (finding,) = info.value.findings
    assert finding.code == "E_MALFORMED_JSON"
    assert (finding.line, finding.column) == (line, column)
    parsed, result = validate_policy(source)
    assert parsed.document is None and [f.code for f in result.errors] == ["E_MALFORMED_JSON"]


@given(st.text(alphabet='{}[]":,\\ a1\nu', max_size=40))
@settings(max_examples=300, deadline=None)
def test_locating_never_raises_on_malformed_text(text):
    pos = scan_positions(text)
    pos.locate("$.Statement[0].Action")
    pos.locate("$")


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for op, where, byte in edits:
        i = where % (len(out) + 1)
        if op == "flip" and i < len(out):
            out[i] = byte
        elif op == "insert":
            out.insert(i, byte)
        elif i < len(out):
            del out[i]
    return bytes(out)


_BYTES = st.one_of(st.sampled_from(list(b'\\"[]{}:,') + [0, 0x80, 0xff, ord("u"), ord("n"), ord("1")]),
                   st.integers(0, 255))
_EDITS = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 1 << 16), _BYTES),
                  min_size=1, max_size=4)


@given(st.sampled_from(DOCS), _EDITS, st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_byte_mutated_policies_raise_only_coded_errors(doc, edits, as_text):
    """Flip, insert and delete bytes of a valid policy (backslashes and brackets first): each entry point either
    succeeds or raises a LexAuthzError subclass."""
    data = _mutate(doc, edits)
    source = data.decode("utf-8", "surrogateescape") if as_text else data
    for call in (lambda: load_policy(source), lambda: parse_policy(source), lambda: validate_policy(source),
                 lambda: parse_policy(source).locate(parse_policy(source).findings)):
        try:
            call()
        except LexAuthzError:
            pass


def test_the_examples_are_valid_policies():
    assert len(DOCS) >= 5
    for d in DOCS:
        load_policy(d)


# =================================================================================================================
# Batch columns
# =================================================================================================================

MARIA = "arn:aws:iam::111122223333:user/maria"
BOT = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod"


@pytest.fixture(scope="module")
def engine():
    doc = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "lex:PostText", "Resource": "arn:aws:lex:*:111122223333:bot:*",
        "Condition": {"StringEquals": {"aws:ResourceTag/Department": "Support"}}}]}
    ps = PolicySet()
    ps.add_principal(MARIA, policies=[doc])
    ps.add_resource(BOT, tags={"Department": "Support"})
    return ps.compile()


class _Str(str):
    """A str subclass of one's own, as a library might hand out."""


def _columns(kind):
    p, a, r = [MARIA, MARIA], ["lex:PostText", "lex:DeleteBot"], [BOT, BOT]
    if kind == "numpy":  # list(ndarray) gives numpy.str_ rows, as pandas' .tolist() of object columns may
        return list(np.array(p)), list(np.array(a)), list(np.array(r))
    if kind == "subclass":
        return [_Str(x) for x in p], [_Str(x) for x in a], [_Str(x) for x in r]
    return [np.str_(p[0]), p[1]], [a[0], np.str_(a[1])], [r[0], _Str(r[1])]  # mixed


@pytest.mark.parametrize("kind", ["numpy", "subclass", "mixed"])
def test_columns_of_str_subclasses_are_accepted(engine, kind):
    p, a, r = _columns(kind)
    assert engine.is_allowed(p[0], a[0], r[0])
    assert engine.evaluate_batch(p, a, r).tolist() == [1, 0]
    assert engine.evaluate_batch(engine.encode(p, a, r)).tolist() == [1, 0]
    assert engine.evaluate_batch(p, a, r, resource_accounts=[np.str_("111122223333")] * 2).tolist() == [1, 0]
    assert engine.evaluate_batch(p, a, r, [{np.str_("aws:SourceIp"): np.str_("10.0.0.1")}] * 2).tolist() == [1, 0]


def test_requests_of_str_subclasses_are_evaluated(engine):
    req = lexauthz.Request(np.str_(MARIA), np.str_("lex:PostText"), _Str(BOT), np.str_("111122223333"),
                           {np.str_("aws:SourceIp"): np.str_("10.0.0.1"), _Str("aws:TagKeys"): [np.str_("k")]})
    assert all(type(getattr(req, f)) is str for f in ("principal", "action", "resource", "resource_account"))
    assert engine.evaluate(req).decision == lexauthz.Decision.ALLOW
    assert req == lexauthz.Request(MARIA, "lex:PostText", BOT, "111122223333",
                                   {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["k"]})


@pytest.mark.parametrize("missing", ["actions", "resources", "both", "principals"])
def test_a_missing_column_is_the_same_coded_error_for_encode_and_evaluate_batch(engine, missing):
    cols = {"principals": [MARIA], "actions": ["lex:PostText"], "resources": [BOT]}
    for name in (["actions", "resources"] if missing == "both" else [missing]):
        cols[name] = None
    codes = []
    for call in (engine.encode, engine.evaluate_batch):
        with pytest.raises(RequestError) as info:
            call(cols["principals"], cols["actions"], cols["resources"])
        codes.append((info.value.code, info.value.path))
    assert codes[0] == codes[1] and codes[0][0] == "E_BAD_BATCH"


@pytest.mark.parametrize("column", ["principals", "actions", "resources", "resource_accounts"])
@pytest.mark.parametrize("value", ["ab", b"ab", bytearray(b"ab"), np.str_("ab"), np.array("ab")])
def test_a_single_string_is_not_a_column(engine, column, value):
    cols = {"principals": [MARIA, MARIA], "actions": ["lex:PostText"] * 2, "resources": [BOT, BOT],
            "resource_accounts": None}
    cols[column] = value
    for call in (engine.encode, engine.evaluate_batch):
        with pytest.raises(RequestError) as info:
            call(cols["principals"], cols["actions"], cols["resources"],
                 resource_accounts=cols["resource_accounts"])
        assert info.value.code == "E_BAD_BATCH" and info.value.path == f"$.{column}"
