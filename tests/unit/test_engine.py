"""The compiled engine's facade: evaluation, unseen strings, batch input checks, errors, threads, persistence."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from lexauthz.decision import Decision
from lexauthz.compile.plan import Layout
from lexauthz.account import PolicySet
from lexauthz.engine import Engine, compile_applicable
from lexauthz.errors import Finding, PlanFormatError, RequestError, Severity
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from engine_builders import clause, doc, run_threads
from lexauthz.policy.model import PolicyDocument
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

ACCT = "123456789012"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers"
ALIAS = f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:prod"


@pytest.fixture(scope="module")
def engine():
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("alice-lex", doc(
        {"effect": "Allow", "action": ("lex:Post*", "lex:Recognize?ext"), "resource": ("arn:aws:lex:*:*:bot:*",)},
        {"effect": "Deny", "action": ("lex:PostContent",), "resource": ("*",)},
        {"effect": "Allow", "action": ("lex:GetBot",), "resource": ("*",),
         "condition": (clause("StringEquals", "aws:ResourceTag/team", "ml"),)},
    ))])
    ps.add_resource(BOT, tags={"team": "ml"})
    return ps.compile()


def test_allow_deny_and_implicit_deny(engine):
    assert engine.is_allowed(ALICE, "lex:PostText", ALIAS)
    assert engine.evaluate(Request(ALICE, "lex:PostContent", ALIAS)).decision is Decision.EXPLICIT_DENY
    assert engine.evaluate(Request(ALICE, "lex:DeleteBot", ALIAS)).decision is Decision.IMPLICIT_DENY


def test_unseen_strings_still_match_wildcards(engine):
    # Neither the action nor the resource appears in any policy or the catalog.
    assert engine.is_allowed(ALICE, "lex:PostSomethingNew", f"arn:aws:lex:eu-west-1:{ACCT}:bot:Unseen")
    assert engine.is_allowed(ALICE, "LEX:RECOGNIZEXEXT", f"arn:aws:lex:eu-west-1:{ACCT}:bot:X")
    assert not engine.is_allowed(ALICE, "lex:RecognizeTextX", f"arn:aws:lex:eu-west-1:{ACCT}:bot:X")
    assert not engine.is_allowed(ALICE, "lex:PostText", f"arn:aws:lex:eu-west-1:{ACCT}:bot/ID")


def test_resource_tags_feed_the_tag_index(engine):
    assert engine.is_allowed(ALICE, "lex:GetBot", BOT)
    assert not engine.is_allowed(ALICE, "lex:GetBot", ALIAS)  # no tags on the alias
    assert engine.is_allowed(ALICE, "lex:GetBot", ALIAS, {"aws:ResourceTag/team": "ml"})
    assert not engine.is_allowed(ALICE, "lex:GetBot", ALIAS, {"aws:ResourceTag/team": "ops"})
    assert not engine.is_allowed(ALICE, "lex:GetBot", ALIAS, {"aws:ResourceTag/team": ["ml"]})


def test_batch_equals_single(engine):
    principals = [ALICE, ALICE, ALICE, "arn:aws:iam::999999999999:user/x"]
    actions = ["lex:PostText", "lex:PostContent", "lex:GetBot", "lex:PostText"]
    resources = [ALIAS, ALIAS, BOT, ALIAS]
    out = engine.evaluate_batch(principals, actions, resources)
    assert out.dtype == np.uint8
    singles = [engine.evaluate(Request(p, a, r)).decision for p, a, r in zip(principals, actions, resources)]
    assert [Decision(int(x)) for x in out] == singles
    assert singles == [Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.ALLOW, Decision.IMPLICIT_DENY]


@pytest.mark.parametrize("kwargs, code", [
    ({"principals": [ALICE, ALICE], "actions": ["lex:PostText"], "resources": [ALIAS, ALIAS]}, "E_BAD_BATCH"),
    ({"principals": [ALICE], "actions": ["lex:PostText"], "resources": ["not-an-arn"]}, "E_BAD_RESOURCE"),
    ({"principals": [ALICE], "actions": ["PostText"], "resources": [ALIAS]}, "E_BAD_ACTION"),
    ({"principals": [""], "actions": ["lex:PostText"], "resources": [ALIAS]}, "E_BAD_PRINCIPAL"),
    ({"principals": [ALICE], "actions": [b"lex:PostText"], "resources": [ALIAS]}, "E_BAD_ACTION"),
    ({"principals": [ALICE], "actions": ["lex:PostText"], "resources": [ALIAS],
      "contexts": [{"aws:SourceIp": object()}]}, "E_BAD_CONTEXT_VALUE"),
    ({"principals": [ALICE], "actions": ["lex:PostText"], "resources": [ALIAS],
      "contexts": [{"aws:SourceIp": [1.5, None]}]}, "E_BAD_CONTEXT_VALUE"),
    ({"principals": ALICE, "actions": ["lex:PostText"], "resources": [ALIAS]}, "E_BAD_BATCH"),
    ({"principals": [ALICE], "actions": ["lex:PostText"], "resources": [ALIAS],
      "out": np.zeros(2, dtype=np.uint8)}, "E_BAD_BATCH"),
])
def test_bad_batches_raise_request_error_before_the_loop(engine, kwargs, code):
    out = kwargs.get("out")
    with pytest.raises(RequestError) as info:
        engine.evaluate_batch(kwargs["principals"], kwargs["actions"], kwargs["resources"],
                              kwargs.get("contexts"), out=out)
    assert info.value.code == code
    if out is not None:
        assert not out.any()


def test_bad_row_is_rejected_before_any_row_is_decided(engine):
    out = np.full(3, 7, dtype=np.uint8)
    with pytest.raises(RequestError) as info:
        engine.evaluate_batch([ALICE] * 3, ["lex:PostText", "lex:PostText", "nope"], [ALIAS] * 3, out=out)
    assert info.value.path == "$[2].action"
    assert (out == 7).all()


def test_huge_batches_are_refused(engine, monkeypatch):
    import lexauthz.engine as mod

    monkeypatch.setattr(mod, "MAX_BATCH", 2)
    with pytest.raises(RequestError) as info:
        engine.evaluate_batch([ALICE] * 3, ["lex:PostText"] * 3, [ALIAS] * 3)
    assert info.value.code == "E_BATCH_TOO_LARGE"


def test_core_rejects_out_of_range_and_mismatched_rows(engine):
    core = engine._core
    row = np.zeros(core.nw, np.uint64)
    ids = np.zeros(1, np.uint32)
    # a bundle index with no bundle
    with pytest.raises(ValueError):
        core.prepare([], ids, [row], ids, [row], ids, [row], ids, [None], ["*"], np.zeros(1, np.uint8))
    # columns of different lengths
    with pytest.raises(ValueError):
        core.prepare([], np.zeros(2, np.uint32), [row], ids, [row], ids, [row], ids, [None], ["*"],
                     np.zeros(1, np.uint8))
    # a same-account flag that is not 0 or 1
    bundle = core.bundle(ALICE, Layout())
    with pytest.raises(ValueError):
        core.prepare([bundle], ids, [row], ids, [row], ids, [row], ids, [None], ["*"], np.full(1, 2, np.uint8))


def test_policies_with_errors_are_refused():
    bad = NamedPolicy("identity[0]", doc({"effect": "Allow", "action": ("*",), "resource": ("*",)}),
                      (Finding("E_BAD_EFFECT", Severity.ERROR, "bad", "$.Statement[0].Effect"),))
    bundle = ApplicablePolicies(identity=(bad,))
    engine = compile_applicable(bundle)
    req = Request(ALICE, "lex:PostText", ALIAS)
    got = engine.evaluate(req)
    assert got == reference_evaluate(req, bundle)
    assert got.decision is Decision.ERROR and got.errors[0].code == "E_BAD_EFFECT"
    assert engine.evaluate_batch([ALICE], ["lex:PostText"], [ALIAS])[0] == Decision.ERROR


def test_one_engine_serves_many_threads(engine):
    n = 4000
    principals = [ALICE] * n
    actions = ["lex:PostText", "lex:PostContent", "lex:GetBot", "lex:Nope"] * (n // 4)
    resources = [ALIAS, BOT] * (n // 2)
    want = engine.evaluate_batch(principals, actions, resources)
    results = [None] * 8
    errors = []

    def work(i):
        try:
            results[i] = engine.evaluate_batch(principals, actions, resources)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(work, 8)
    assert not errors
    assert all((r == want).all() for r in results)


def test_save_load_and_pickle(engine, tmp_path):
    path = tmp_path / "plan.bin"
    engine.save(path)
    loaded = Engine.load(path)
    again = pickle.loads(pickle.dumps(engine))
    for r in (Request(ALICE, "lex:PostText", ALIAS), Request(ALICE, "lex:GetBot", BOT)):
        assert loaded.evaluate(r) == engine.evaluate(r) == again.evaluate(r)
    assert loaded.revision == engine.revision


def test_corrupt_truncated_and_foreign_plans_are_refused(engine, tmp_path):
    data = engine.to_bytes()
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    other_version = bytearray(data)
    other_version[8] = 99
    for bad in (data[: len(data) // 2], data[:10], bytes(flipped), bytes(other_version), b"PK\x03\x04 zip file",
                b"", data + b"x"):
        with pytest.raises(PlanFormatError):
            Engine.from_bytes(bad)
    path = tmp_path / "foreign.bin"
    path.write_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(PlanFormatError):
        Engine.load(path)


def test_engine_reports_size_and_compile_time(engine):
    assert engine.index_bytes > 0
    assert engine.compile_seconds >= 0
    assert engine.n_statements == 3
    with pytest.raises(TypeError):
        Engine()


def test_variables_in_resource_and_conditions_follow_the_version():
    d = doc({"effect": "Allow", "action": ("lex:*",), "resource": ("arn:aws:lex:*:*:bot:${aws:username}*",),
             "condition": (clause("StringLike", "aws:PrincipalTag/team", "${aws:username}-*"),)})
    for version in ("2012-10-17", None):
        bundle = ApplicablePolicies(identity=(NamedPolicy("identity[0]", PolicyDocument(d.statements, version)),))
        engine = compile_applicable(bundle)
        for ctx in ({"aws:username": "Order", "aws:PrincipalTag/team": "Order-x"}, {"aws:username": "Order"},
                    {"aws:PrincipalTag/team": "${aws:username}-1"}):
            req = Request(ALICE, "lex:PostText", ALIAS, None, ctx)
            assert engine.evaluate(req) == reference_evaluate(req, bundle)


def test_evaluate_policies_answers_a_given_bundle(engine):
    bundle = ApplicablePolicies(identity=(NamedPolicy("identity[0]", doc(
        {"effect": "Allow", "action": ("lex:DeleteBot",), "resource": ("*",)})),))
    req = Request(ALICE, "lex:DeleteBot", ALIAS)
    got = engine.evaluate_policies(req, bundle)
    assert got == reference_evaluate(req, bundle)
    assert got.decision is Decision.ALLOW
    # The engine's own policies are not involved.
    assert engine.evaluate(req).decision is Decision.IMPLICIT_DENY


def test_a_failing_batch_leaves_no_allow_behind(engine):
    out = np.full(3, Decision.ALLOW, dtype=np.uint8)
    with pytest.raises(RequestError) as info:
        engine.evaluate_batch([ALICE] * 3, ["lex:PostText"] * 3, [ALIAS] * 3,
                              [None, None, {"aws:SourceIp": {"nested": "object"}}], out=out)
    assert info.value.path.startswith("$[2].context")
    assert (out == Decision.ERROR).all()
