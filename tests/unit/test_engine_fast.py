"""The engine's fast paths: ``encode`` + ``evaluate_batch(encoded)``, the string batch with per-engine caches and
``is_allowed``, each against ``evaluate`` (itself checked against the reference in the differential tests)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from lexauthz.decision import Decision
from lexauthz.account import PolicySet
from lexauthz.engine import EncodedBatch, compile_applicable
from lexauthz.errors import Finding, RequestError, Severity
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from engine_builders import clause, doc, reference_responses, run_threads
from lexauthz.request import Context, Request

ACCT = "123456789012"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
STRANGER = "arn:aws:iam::999999999999:user/x"
BOT = f"arn:aws:lex:us-east-1:{ACCT}:bot/OrderFlowers"
ALIAS = f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/OrderFlowers/prod"
UNSEEN_BOT = f"arn:aws:lex:eu-west-1:{ACCT}:bot/NeverSeen"


def _if_equals(effect, action, key, value):
    """A statement of ``effect`` on ``action`` and any resource when context ``key`` equals ``value``."""
    return {"effect": effect, "action": (action,), "resource": ("*",),
            "condition": (clause("StringEquals", key, value),)}


def _alice_with(*statements):
    """A policy set of ALICE alone, with one identity policy of ``statements``."""
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("by-team", doc(*statements))])
    return ps


@pytest.fixture(scope="module")
def engine():
    return _fresh_engine()


def _rows():
    principals = [ALICE, BOB, STRANGER, "arn:aws:iam::123456789012:role/unknown"]
    actions = ["lex:RecognizeText", "lex:DescribeBotAlias", "lex:DeleteBot", "lex:UpdateBot", "lex:ListBots",
               "lex:BrandNewAction", "LEX:recognizeutterance"]
    resources = [BOT, ALIAS, UNSEEN_BOT, f"arn:aws:lex:us-east-1:{ACCT}:bot/alice-bot", "*"]
    contexts = [None, {}, {"aws:ResourceTag/team": "ml"}, {"aws:ResourceTag/team": "ops"}, {"aws:username": "alice"},
                {"aws:SecureTransport": True}, {"aws:SecureTransport": "true"}, {"aws:securetransport": "false"},
                Context({"aws:ResourceTag/team": "ml"})]
    rows = []
    for p in principals:
        for a in actions:
            for r in resources:
                for c in contexts:
                    rows.append((p, a, r, c))
    return rows


def _expected(engine, rows):
    return [engine.evaluate(Request(p, a, r, None, c)).decision for p, a, r, c in rows]


def test_encoded_batch_equals_evaluate_row_by_row(engine):
    rows = _rows()
    want = _expected(engine, rows)
    assert {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY} <= set(want)
    p, a, r, c = (list(x) for x in zip(*rows))
    batch = engine.encode(p, a, r, c)
    assert isinstance(batch, EncodedBatch) and len(batch) == len(rows)
    assert [Decision(int(x)) for x in engine.evaluate_batch(batch)] == want
    # Deciding the same encoded batch again (and into a given array) gives the same answer.
    out = np.full(len(rows), 9, dtype=np.uint8)
    assert engine.evaluate_batch(batch, out=out) is out
    assert [Decision(int(x)) for x in out] == want


def test_string_batch_and_is_allowed_equal_evaluate_cold_and_warm(engine):
    rows = _rows()
    want = _expected(engine, rows)
    p, a, r, c = (list(x) for x in zip(*rows))
    for _ in range(2):  # the second round hits every per-engine cache
        assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == want
        assert [engine.is_allowed(*row) for row in rows] == [w == Decision.ALLOW for w in want]


def test_same_values_in_another_dict_or_case_give_the_same_answer(engine):
    # Contexts are cached by content: a bool and the string "true" are the same value, "1" is not.
    assert engine.is_allowed(ALICE, "lex:ListBots", "*", {"aws:SecureTransport": True})
    assert engine.is_allowed(ALICE, "lex:ListBots", "*", {"aws:SecureTransport": "true"})
    assert not engine.is_allowed(ALICE, "lex:ListBots", "*", {"aws:SecureTransport": 1})
    assert not engine.is_allowed(ALICE, "lex:ListBots", "*", {"aws:SecureTransport": "1"})
    assert engine.is_allowed(ALICE, "lex:ListBots", "*", {"AWS:SECURETRANSPORT": "true"})


def test_unseen_strings_match_wildcards_on_every_path(engine):
    rows = [(ALICE, "lex:RecognizeSomethingNew", f"arn:aws:lex:ap-south-1:{ACCT}:bot/Fresh", None),
            (ALICE, "lex:RecognizeText", f"arn:aws:lex:ap-south-1:{ACCT}:bot-alias/Fresh/A", None),
            (ALICE, "lex:UpdateBot", f"arn:aws:lex:ap-south-1:{ACCT}:bot/alice-new", {"aws:username": "alice"}),
            (ALICE, "lex:UpdateBot", f"arn:aws:lex:ap-south-1:{ACCT}:bot/bob-new", {"aws:username": "alice"}),
            ("arn:aws:iam::123456789012:user/nobody", "lex:RecognizeText", BOT, None)]
    want = _expected(engine, rows)
    assert want == [Decision.ALLOW, Decision.ALLOW, Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.IMPLICIT_DENY]
    p, a, r, c = (list(x) for x in zip(*rows))
    assert [Decision(int(x)) for x in engine.evaluate_batch(engine.encode(p, a, r, c))] == want
    assert [engine.is_allowed(*row) for row in rows] == [True, True, True, False, False]


@pytest.mark.parametrize("args, code", [
    (("", "lex:PostText", BOT), "E_BAD_PRINCIPAL"),
    ((ALICE, "PostText", BOT), "E_BAD_ACTION"),
    ((ALICE, "lex:PostText", "not-an-arn"), "E_BAD_RESOURCE"),
    ((ALICE, b"lex:PostText", BOT), "E_BAD_ACTION"),
    ((None, "lex:PostText", BOT), "E_BAD_PRINCIPAL"),
])
def test_is_allowed_and_encode_check_their_input(engine, args, code):
    # The checks run even after the same principal and resource were decided before.
    engine.is_allowed(ALICE, "lex:RecognizeText", BOT)
    with pytest.raises(RequestError) as info:
        engine.is_allowed(*args)
    assert info.value.code == code
    with pytest.raises(RequestError) as info:
        engine.encode([args[0]], [args[1]], [args[2]])
    assert info.value.code == code


def test_is_allowed_rejects_a_bad_context(engine):
    with pytest.raises(RequestError) as info:
        engine.is_allowed(ALICE, "lex:RecognizeText", BOT, {"aws:SourceIp": object()})
    assert info.value.code == "E_BAD_CONTEXT_VALUE"
    with pytest.raises(RequestError) as info:
        engine.is_allowed(ALICE, "lex:RecognizeText", BOT, {"a:b": "x", "A:B": "y"})
    assert info.value.code == "E_DUPLICATE_CONTEXT_KEY"


def test_an_encoded_batch_belongs_to_its_engine(engine):
    other = compile_applicable(ApplicablePolicies(identity=(NamedPolicy("x", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": ("*",)})),)))
    batch = other.encode([ALICE], ["lex:RecognizeText"], [BOT])
    assert other.evaluate_batch(batch)[0] == Decision.ALLOW
    with pytest.raises(RequestError):
        engine.evaluate_batch(batch)
    with pytest.raises(RequestError):
        other.evaluate_batch(batch, ["lex:RecognizeText"], [BOT])


def test_errors_are_never_allowed_on_the_fast_paths():
    bad = NamedPolicy("identity[0]", doc({"effect": "Allow", "action": ("*",), "resource": ("*",)}),
                      (Finding("E_BAD_EFFECT", Severity.ERROR, "bad", "$.Statement[0].Effect"),))
    engine = compile_applicable(ApplicablePolicies(identity=(bad,)))
    assert not engine.is_allowed(ALICE, "lex:PostText", BOT)
    assert engine.evaluate_batch(engine.encode([ALICE], ["lex:PostText"], [BOT]))[0] == Decision.ERROR


def test_two_threads_share_one_encoded_batch(engine):
    rows = _rows() * 20
    p, a, r, c = (list(x) for x in zip(*rows))
    batch = engine.encode(p, a, r, c)
    want = engine.evaluate_batch(p, a, r, c)
    results = [None] * 4

    def work(i):
        results[i] = engine.evaluate_batch(batch) if i % 2 else engine.evaluate_batch(p, a, r, c)

    run_threads(work, 4)
    assert all((x == want).all() for x in results)


def test_empty_batches(engine):
    batch = engine.encode([], [], [])
    assert len(batch) == 0
    assert engine.evaluate_batch(batch).shape == (0,)
    assert engine.evaluate_batch([], [], []).shape == (0,)


def test_resource_account_decides_same_account_on_the_encoded_path(engine):
    # The caller's own account named explicitly, another account, and the ARN's own (None).
    rows = [(ALICE, "lex:RecognizeText", BOT, None, acct) for acct in (ACCT, "999999999999", None)]
    want = [engine.evaluate(Request(p, a, r, acct, c)).decision for p, a, r, c, acct in rows]
    p, a, r, c, acct = (list(x) for x in zip(*rows))
    assert [Decision(int(x)) for x in engine.evaluate_batch(engine.encode(p, a, r, c, resource_accounts=acct))] == want
    assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c, resource_accounts=acct)] == want
    assert want[0] == Decision.ALLOW and want[1] == Decision.IMPLICIT_DENY


# -- explain_batch: many Responses at once --------------------------------------------------------------------------


def test_explain_batch_equals_evaluate_row_by_row_cold_and_warm():
    engine = _fresh_engine()
    rows = _rows()
    want = [engine.evaluate(Request(p, a, r, None, c)) for p, a, r, c in rows]
    assert {w.decision for w in want} >= {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY}
    assert any(w.missing_context_values for w in want) and any(w.matched_statements for w in want)
    p, a, r, c = (list(x) for x in zip(*rows))
    cold = _fresh_engine().explain_batch(p, a, r, c)  # an engine that has seen none of these strings
    assert cold == want
    for _ in range(2):
        assert engine.explain_batch(p, a, r, c) == want


def test_explain_batch_rows_with_one_answer_share_one_response(engine):
    rows = [(BOB, "lex:DeleteBot", BOT, None)] * 3 + [(STRANGER, "lex:DeleteBot", BOT, None)] * 2
    p, a, r, c = (list(x) for x in zip(*rows))
    got = engine.explain_batch(p, a, r, c)
    assert got[0] is got[1] is got[2] and got[3] is got[4] and got[0] is not got[3]
    assert got[0].decision is Decision.EXPLICIT_DENY and got[3].decision is Decision.IMPLICIT_DENY
    # each shared Response has its own policy results, equal to a single evaluation's
    assert got[0].policy_results is not got[3].policy_results
    assert got[0] == engine.evaluate(Request(BOB, "lex:DeleteBot", BOT))


def test_explain_batch_takes_resource_accounts(engine):
    # a resource owned by another account (given explicitly) is a cross-account request: ALICE's identity
    # policy alone no longer allows it
    got = engine.explain_batch([ALICE, ALICE], ["lex:RecognizeText"] * 2, [BOT, BOT],
                               resource_accounts=[None, "999999999999"])
    assert got == [engine.evaluate(Request(ALICE, "lex:RecognizeText", BOT)),
                   engine.evaluate(Request(ALICE, "lex:RecognizeText", BOT, "999999999999"))]
    assert got[0].decision is Decision.ALLOW and got[1].decision is not Decision.ALLOW


@pytest.mark.parametrize("column, value, path", [
    ("actions", "PostText", "$[2].action"),
    ("principals", "", "$[2].principal"),
    ("resources", "not-an-arn", "$[2].resource"),
    ("contexts", {"aws:SourceIp": object()}, "$[2].context"),
])
def test_explain_batch_refuses_a_bad_row_with_its_index(column, value, path):
    engine = _fresh_engine()
    cols = {"principals": [ALICE] * 4, "actions": ["lex:RecognizeText"] * 4, "resources": [BOT] * 4,
            "contexts": [None] * 4}
    cols[column][2] = value
    with pytest.raises(RequestError) as info:
        engine.explain_batch(**cols)
    assert info.value.path.startswith(path)


def test_context_keys_are_what_the_policies_read(engine):
    # condition keys, and the keys of policy variables in condition values and in a Resource, lower-cased
    assert engine.context_keys == frozenset({"aws:resourcetag/team", "aws:principaltag/team", "aws:username",
                                             "aws:securetransport"})


def _fresh_engine():
    ps = PolicySet()
    ps.add_principal(ALICE, tags={"team": "ml"}, policies=[NamedPolicy("alice-lex", doc(
        {"effect": "Allow", "action": ("lex:Recognize*", "lex:Describe*"), "resource": ("arn:aws:lex:*:*:bot*",)},
        {"effect": "Deny", "action": ("lex:DescribeBotAlias",), "resource": ("*",),
         "condition": (clause("StringNotEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}"),)},
        _if_equals("Allow", "lex:DeleteBot", "aws:ResourceTag/team", "${aws:PrincipalTag/team}"),
        {"effect": "Allow", "action": ("lex:UpdateBot",), "resource": (f"arn:aws:lex:*:{ACCT}:bot/${{aws:username}}*",)},
        {"effect": "Allow", "action": ("lex:ListBots",), "resource": ("*",),
         "condition": (clause("Bool", "aws:SecureTransport", "true"),)},
    ))])
    ps.add_principal(BOB, policies=[NamedPolicy("bob-lex", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": ("*",)},
        {"effect": "Deny", "action": ("lex:Delete*",), "resource": (BOT,)},
    ))])
    ps.add_resource(BOT, tags={"team": "ml"})
    ps.add_resource(ALIAS, tags={"team": "ops"})
    return ps.compile()


# -- rows decided by a residual check, kept in the decision table ---------------------------------------------------


def _residual_engine(use_index=True):
    # IP, date and numeric conditions are not decided by the tag index: every candidate needs a residual check
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("alice-net", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": ("*",),
         "condition": (clause("IpAddress", "aws:SourceIp", "10.0.0.0/8"),)},
        {"effect": "Deny", "action": ("lex:Delete*",), "resource": ("*",),
         "condition": (clause("NumericGreaterThan", "lexauthz:risk", "5"),)},
        {"effect": "Allow", "action": ("lex:ListBots",), "resource": ("*",),
         "condition": (clause("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),)},
    ))])
    ps.add_principal(BOB, policies=[NamedPolicy("bob-lex", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": ("*",),
         "condition": (clause("IpAddress", "aws:SourceIp", "192.168.0.0/16"),)},
    ))])
    ps.add_resource(BOT, tags={"team": "ml"})
    return ps.compile(use_index=use_index)


def _residual_rows():
    contexts = [None, {"aws:SourceIp": "10.1.2.3"}, {"aws:SourceIp": "192.168.4.5"},
                {"aws:SourceIp": "10.1.2.3", "lexauthz:risk": "9"}, {"aws:SourceIp": "10.9.9.9", "lexauthz:risk": "1"},
                {"aws:CurrentTime": "2019-06-01T00:00:00Z"}, {"aws:CurrentTime": "2024-06-01T00:00:00Z"},
                {"aws:SourceIp": "not-an-ip"}]
    rows = []
    for p in (ALICE, BOB, STRANGER):
        for a in ("lex:RecognizeText", "lex:DeleteBot", "lex:ListBots"):
            for r in (BOT, ALIAS, "*"):
                for c in contexts:
                    rows.append((p, a, r, c))
    return rows


@pytest.mark.parametrize("use_index", [True, False], ids=["indexed", "twin"])
def test_rows_decided_by_a_residual_check_answer_the_same_when_kept(use_index):
    engine = _residual_engine(use_index)
    rows = _residual_rows()
    want = _expected(engine, rows)
    assert {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY} <= set(want)
    p, a, r, _ = (list(x) for x in zip(*rows))
    for round_ in range(3):
        # fresh dicts each round: found by content, so a kept decision answers them
        c = [None if row[3] is None else dict(row[3]) for row in rows]
        assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == want, round_
        assert [engine.is_allowed(*row) for row in rows] == [w == Decision.ALLOW for w in want], round_
    kept = engine._core.decisions_kept()
    if use_index:
        assert kept > 0  # the warm rounds answered those rows from the table
    else:
        assert kept == 0  # the brute-force twin evaluates every condition every time


def test_kept_decisions_are_shared_safely_across_threads():
    engine = _residual_engine()
    rows = _residual_rows() * 20
    want = _expected(engine, rows)
    p, a, r, c = (list(x) for x in zip(*rows))
    got: list = [None] * 4
    errors: list = []

    def run(k):
        try:
            for _ in range(5):
                got[k] = [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, [None if x is None else dict(x)
                                                                                     for x in c])]
                assert got[k] == want
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_threads(run, 4)
    assert not errors and got == [want] * 4


def test_callers_of_one_layout_and_kind_share_a_bundle_and_answer_as_the_reference():
    # Without a resource policy a bundle depends on the layout and the caller's kind: unseen ARNs of every kind,
    # a role and its sessions, all under one SCP, each answered as the reference evaluator answers it.
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}
    ps = PolicySet()
    ps.add_principal(f"arn:aws:iam::{ACCT}:role/Ops", policies=[allow_all], permissions_boundary={
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:Describe*", "Resource": "*"}]})
    ps.add_principal(ALICE, policies=[allow_all])
    ps.add_resource(BOT, tags={"team": "ml"})
    ps.add_resource(ALIAS, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/guest"}, "Action": "lex:*",
         "Resource": "*"}]})
    ps.add_account(ACCT)
    ps.add_scp("root", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "lex:DeleteBot", "Resource": "*"}]})
    engine = ps.compile()
    principals = [f"arn:aws:iam::{ACCT}:user/u{i}" for i in range(3)] + [
        f"arn:aws:sts::{ACCT}:assumed-role/Ops/s{i}" for i in range(3)] + [
        f"arn:aws:iam::{ACCT}:role/Ops", f"arn:aws:iam::{ACCT}:root", f"arn:aws:iam::{ACCT}:user/guest",
        ALICE, "arn:aws:iam::999999999999:user/far", "lex.amazonaws.com",
        f"arn:aws:sts::{ACCT}:federated-user/f1"]
    rows = [(p, a, r, None) for p in principals for a in ("lex:DescribeBot", "lex:UpdateBot", "lex:DeleteBot")
            for r in (BOT, ALIAS, UNSEEN_BOT)]
    want = reference_responses(ps, rows)
    assert {w.decision for w in want} >= {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY}
    p, a, r, c = (list(x) for x in zip(*rows))
    assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == [w.decision for w in want]
    assert engine.explain_batch(p, a, r, c) == want
    assert [engine.is_allowed(*row) for row in rows] == [w.decision == Decision.ALLOW for w in want]


def test_environments_whose_tag_conditions_agree_share_one_tag_row():
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("alice-tags", doc(
        _if_equals("Allow", "lex:*", "aws:ResourceTag/team", "ml")))])
    core = ps.compile()._core
    # the tag index decides aws:ResourceTag/team = ml; aws:SourceIp changes the environment, not its tag row
    a = core.env_of(Context({"aws:ResourceTag/team": "ml", "aws:SourceIp": "10.0.0.1"}), ())
    b = core.env_of(Context({"aws:ResourceTag/team": "ml", "aws:SourceIp": "10.0.0.2"}), ())
    c = core.env_of(Context({"aws:ResourceTag/team": "ops"}), ())
    assert a[0] is not b[0] and a[1] is b[1]
    assert not np.array_equal(a[1], c[1]) and c[1] is not a[1]
    assert np.array_equal(a[1], core.tag_row(Context({"aws:ResourceTag/team": "ml"})))


def test_contexts_that_hold_every_tag_key_of_a_family_answer_as_the_reference_for_every_tag_set():
    # A context holding every aws:principaltag/ key of the tag index makes the tag row independent of the caller's
    # tags (and likewise for aws:resourcetag/ and the resource's): such rows share one entry of the engine's table
    # whatever the caller's or resource's tags, and must still answer as the reference, which enriches the context
    # with the tags for absent keys only. Callers and resources with different tags meet each context in turn, so
    # an entry made for one tag set is read for another; contexts that cover one family, both, none, with keys in
    # other cases and with list values are all asked on every path, cold and warm.
    ps = PolicySet()
    tagged = NamedPolicy("tagged", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": ("*",),
         "condition": (clause("StringEquals", "aws:PrincipalTag/team", "ml"),
                       clause("StringLike", "aws:ResourceTag/team", "m*"))},
        _if_equals("Deny", "lex:DeleteBot", "aws:PrincipalTag/level", "junior")))
    users = [(f"arn:aws:iam::{ACCT}:user/t{i}", tags) for i, tags in enumerate(
        [{"team": "ml", "level": "junior"}, {"team": "ops"}, {}, {"team": "ml", "level": "senior"}])]
    for arn, tags in users:
        ps.add_principal(arn, policies=[tagged], tags=tags)
    bots = [f"arn:aws:lex:us-east-1:{ACCT}:bot:b{i}" for i in range(3)]
    for bot, tags in zip(bots, [{"team": "ml"}, {"team": "ops"}, {}]):
        ps.add_resource(bot, tags=tags)
    contexts = [
        None, {},
        {"aws:PrincipalTag/team": "ml", "aws:PrincipalTag/level": "senior"},            # every principal key
        {"AWS:PRINCIPALTAG/TEAM": "ops", "aws:principaltag/Level": "junior"},           # ... in other cases
        {"aws:PrincipalTag/team": "ml"},                                                 # one of two
        {"aws:ResourceTag/team": "ml"}, {"aws:ResourceTag/team": "ops"},                 # the resource key
        {"aws:PrincipalTag/team": "ml", "aws:PrincipalTag/level": "x", "aws:ResourceTag/team": "mops"},  # both
        {"aws:PrincipalTag/team": ["ml", "ops"], "aws:PrincipalTag/level": "senior"},   # a list value
        {"aws:ResourceTag/team": "ml", "aws:SourceIp": "10.0.0.1"},
    ]
    rows = [(p, a, r, c) for c in contexts for p, _ in users for r in bots for a in ("lex:GetBot", "lex:DeleteBot")]
    want = reference_responses(ps, rows)
    assert {w.decision for w in want} >= {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY}
    decisions = [w.decision for w in want]
    for order in (rows, rows[::-1]):
        engine = ps.compile()
        expect = decisions if order is rows else decisions[::-1]
        for _ in range(2):  # cold, then warm
            p, a, r, c = (list(x) for x in zip(*order))
            assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == expect
            assert [engine.is_allowed(*row) for row in order] == [d == Decision.ALLOW for d in expect]
            assert [x.decision for x in engine.explain_batch(p, a, r, c)] == expect
    # the covering contexts shared entries: one per context and side left uncovered, not one per tag set
    sizes = engine._core.table_sizes()
    assert sizes[4] < len(contexts) * len(users) * len(bots)


def test_contexts_found_by_content_tell_near_values_apart_on_every_path():
    # A small dict context is kept by content with its values inline (up to four items, values up to 24 bytes of
    # code units); longer values, non-ASCII ones, more items and other keys are compared through the stored
    # objects. Contexts that differ in one code unit, in length, in kind or in a key must never share an answer.
    ps = _alice_with(
        _if_equals("Allow", "lex:*", "aws:ResourceTag/team", "ml-team-0123456789abcdefg"),
        _if_equals("Allow", "lex:GetBot", "aws:ResourceTag/team", "m\u00e9"),
        _if_equals("Allow", "lex:ListBots", "aws:username", "\U0001f600x"))
    long = "ml-team-0123456789abcdefg"  # 25 bytes: past the inline limit
    contexts = [{"aws:ResourceTag/team": v} for v in (long, long[:-1] + "h", long[:-1], long + "g", "m\u00e9", "me",
                                                       "m\u00e8", "ml", "")]
    contexts += [{"aws:username": v} for v in ("\U0001f600x", "\U0001f600y", "\U0001f601x", "x")]
    contexts += [{"aws:ResourceTag/team": "m\u00e9", "aws:username": "\U0001f600x"},
                 {"aws:ResourceTag/teams": "m\u00e9"},
                 {f"k{i}": "v" for i in range(4)} | {"aws:ResourceTag/team": "m\u00e9"},  # five items
                 {f"k{i}": "v" for i in range(3)} | {"aws:ResourceTag/team": "m\u00e9"},  # four
                 {f"k{i}": "v" for i in range(2)} | {"aws:ResourceTag/team": "m\u00e9"},  # three
                 {"aws:ResourceTag/team": long[:21]}, {"aws:ResourceTag/team": long[:20] + "x"},  # past a slot's 20
                 {"aws:ResourceTag/team": long[:20]}, {"aws:ResourceTag/team": long[:19] + "x"}]  # a slot's 20
    rows = [(ALICE, a, BOT, c) for c in contexts for a in ("lex:GetBot", "lex:ListBots", "lex:DeleteBot")]
    want = [w.decision for w in reference_responses(ps, rows)]
    assert {Decision.ALLOW, Decision.IMPLICIT_DENY} <= set(want)
    # The comparison itself (reached in a table only when two contents' hashes collide): each pair of distinct
    # contexts above is told apart, each context equals a fresh copy of itself, inline or not.
    from lexauthz._engine import _kept_matches

    # The third and fourth answers are the same comparison from a copy of the asked dict's items (a batch's,
    # without the GIL), against the record and against its slot in a context table (which holds up to three items
    # of short values itself, and compares longer contexts with the record).
    inline = {i: _kept_matches(c, dict(c)) for i, c in enumerate(contexts)}
    assert all(same for _, same, _, _ in inline.values())
    assert all(by_copy in (True, None) and by_slot is by_copy for _, _, by_copy, by_slot in inline.values())
    assert {by_copy for _, _, by_copy, _ in inline.values()} == {True, None}  # long values are not copied
    assert {kept for kept, _, _, _ in inline.values()} == {True, False}  # both kinds of record are exercised
    for i, x in enumerate(contexts):
        for j, y in enumerate(contexts):
            if i != j:
                _, same, by_copy, by_slot = _kept_matches(x, y)
                assert same is False and by_copy in (False, None) and by_slot is by_copy, (x, y)
    assert _kept_matches({"a": "v", "b": "w"}, {"b": "w", "a": "v"})[1:] == (False, False, False)  # order counts
    with pytest.raises(TypeError):
        _kept_matches({"a": 1}, {"a": "1"})
    engine = ps.compile()
    for _ in range(2):
        fresh = [(p, a, r, dict(c)) for p, a, r, c in rows]  # equal content in new dicts: found by content
        p, a, r, c = (list(x) for x in zip(*fresh))
        assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == want
        assert [engine.is_allowed(*row) for row in fresh] == [w == Decision.ALLOW for w in want]


def _fresh_str(s):
    # an equal str in a new object whose hash is not computed yet (as a gateway's JSON parser makes them)
    return "".join(list(s)) if len(s) > 1 else (s + "!")[:-1]


def test_batch_rows_find_their_context_by_a_copy_of_its_items_as_the_dict_itself():
    # A string batch copies each row's small dict context (short keys and values) with the GIL and finds it in the
    # context table without it: the copy's hash must be the dict's own content hash, whether or not its strings'
    # hashes were computed, for every string kind, and the record found must be the one of the same content, never
    # that of a near one. Longer values and more than eight items are not copied (those rows ask with the GIL).
    from lexauthz._engine import _found_by_copy

    ps = _alice_with(
        _if_equals("Allow", "lex:GetBot", "aws:ResourceTag/team", "m\u00e9"),
        _if_equals("Allow", "lex:ListBots", "aws:username", "\U0001f600x"),
        _if_equals("Deny", "lex:GetBot", "aws:PrincipalTag/level", "0123456789abcdefghijklm"))
    values = ["m\u00e9", "me", "\U0001f600x", "\U0001f600y", "x" * 24, "0123456789abcdefghijklm",
              "0123456789abcdefghijklmn", "\u4e2d" * 12, "\u4e2d" * 13, ""]
    contexts = [{"aws:ResourceTag/team": v} for v in values]
    contexts += [{"aws:username": v, "aws:PrincipalTag/level": w} for v in values[:4] for w in values[4:7]]
    contexts += [{f"k{i}": "v" for i in range(n)} | {"aws:ResourceTag/team": "m\u00e9"} for n in (7, 8)]
    rows = [(ALICE, a, BOT, c) for c in contexts for a in ("lex:GetBot", "lex:ListBots")] * 3  # past 64 rows
    want = [w.decision for w in reference_responses(ps, rows)]
    assert {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY} <= set(want)
    engine = ps.compile()
    core = engine._core
    for _ in range(2):  # cold (the records are made), then warm (found without the GIL)
        fresh = [(p, a, r, {_fresh_str(k): _fresh_str(v) for k, v in c.items()}) for p, a, r, c in rows]
        p, a, r, c = (list(x) for x in zip(*fresh))
        assert [Decision(int(x)) for x in engine.evaluate_batch(p, a, r, c)] == want
    def units(x):  # bytes of a str's code units (its kind: 1, 2 or 4 bytes each)
        top = max(map(ord, x), default=0)
        return len(x) * (1 if top < 0x100 else 2 if top < 0x10000 else 4)

    copied = 0
    for c in contexts:
        serial = core.context_entry(c)[1]
        found = _found_by_copy(core, {_fresh_str(k): _fresh_str(v) for k, v in c.items()})
        if len(c) > 8 or any(units(x) > 24 for kv in c.items() for x in kv):
            assert found is None, c
        else:
            assert found == (True, serial), c
            for x in (x for kv in c.items() for x in kv):
                hash(x)  # the interpreter's own hashes, cached in the objects, must agree with those computed
            assert _found_by_copy(core, c) == found, c
            copied += 1
    assert copied == len(contexts) - 2  # the 13 CJK characters (26 bytes) and the nine items
    assert _found_by_copy(core, {"aws:ResourceTag/team": "m\u00e8"}) == (True, 0)  # never seen: no record
    assert _found_by_copy(core, {"aws:ResourceTag/team": 1}) is None


def test_contexts_changed_by_another_thread_during_a_batch_give_one_of_their_contents_answers():
    # A batch copies each dict context's items with the GIL and compares the copy without it: a thread that changes
    # the dicts meanwhile (values swapped for fresh strings, keys added and removed) must never make a row read a
    # freed string or mix two contents. Each row answers as the reference does for one of the contents its dict had.
    ps = _alice_with(
        _if_equals("Allow", "lex:GetBot", "aws:ResourceTag/team", "ml"),
        _if_equals("Deny", "lex:GetBot", "aws:PrincipalTag/level", "intern"))
    contents = [{"aws:ResourceTag/team": "ml"}, {"aws:ResourceTag/team": "ops"},
                {"aws:ResourceTag/team": "ml", "aws:PrincipalTag/level": "intern"}]
    answer = [w.decision for w in reference_responses(ps, [(ALICE, "lex:GetBot", BOT, c) for c in contents])]
    assert len(set(answer)) == 3
    engine = ps.compile()
    n = 4000
    dicts = [dict(contents[i % 3]) for i in range(n)]
    stop = threading.Event()
    errors: list = []
    turns = [0]

    def churn():  # a dict is seen empty between clear() and update(): that answers as contents[1] does
        k = 0
        while not stop.is_set():
            for d in dicts[k % 7::7]:
                d.clear()
                d.update({_fresh_str(key): _fresh_str(v) for key, v in contents[k % 3].items()})
            k += 1
            turns[0] = k

    def run(_):
        try:
            for _ in range(30):
                got = engine.evaluate_batch([ALICE] * n, ["lex:GetBot"] * n, [BOT] * n, dicts)
                assert set(Decision(int(x)) for x in got) <= set(answer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    changer = threading.Thread(target=churn)
    changer.start()
    try:
        run_threads(run, 2)
    finally:
        stop.set()
        changer.join()
    assert not errors and turns[0] > 0
    # and once the dicts stand still, every row answers for its own content
    final = [answer[contents.index(d)] for d in dicts]
    assert [Decision(int(x)) for x in engine.evaluate_batch([ALICE] * n, ["lex:GetBot"] * n, [BOT] * n,
                                                            dicts)] == final


@pytest.mark.parametrize("with_accounts", [False, True], ids=["strings", "encoded"])
def test_a_contexts_list_emptied_by_another_thread_during_a_batch_fails_the_batch_closed(with_accounts):
    # The contexts column is the caller's own list (it is not copied). Making a context not seen before runs
    # Python code, so another thread may empty the list meanwhile: the batch must then raise and leave every row
    # ERROR, never read past the list's end. (With resource accounts the batch is encoded first: the same rule.)
    ps = _alice_with(
        _if_equals("Allow", "lex:GetBot", "aws:ResourceTag/team", "t1"))
    engine = ps.compile()
    n = 60_000
    outcomes = []
    for attempt in range(3):
        contexts = [{"aws:ResourceTag/team": f"t{i}-{attempt}"} for i in range(n)]  # each one new to the engine
        out = np.full(n, 9, dtype=np.uint8)
        started = threading.Event()

        def empty():
            started.wait()
            contexts.clear()

        emptier = threading.Thread(target=empty)
        emptier.start()
        try:
            started.set()
            engine.evaluate_batch([ALICE] * n, ["lex:GetBot"] * n, [BOT] * n, contexts, out=out,
                                  resource_accounts=[ACCT] * n if with_accounts else None)
            outcomes.append("done")
            assert set(out.tolist()) == {int(Decision.IMPLICIT_DENY)}
        except (RuntimeError, IndexError):
            outcomes.append("refused")
            assert set(out.tolist()) == {int(Decision.ERROR)}
        finally:
            emptier.join()
    assert "refused" in outcomes  # the list was emptied mid-batch at least once


def test_resources_that_match_the_same_patterns_share_one_row_and_answer_as_the_reference():
    # A resource row is a function of the Resource patterns the ARN matches: ARNs that match the same ones share one
    # array (and an unseen ARN of a known match builds none); different matches get different rows.
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[NamedPolicy("bots", doc(
        {"effect": "Allow", "action": ("lex:*",), "resource": (f"arn:aws:lex:*:{ACCT}:bot/Order*",)},
        {"effect": "Deny", "action": ("lex:DeleteBot",), "resource": (f"arn:aws:lex:us-east-1:{ACCT}:bot/*",)},
        {"effect": "Allow", "action": ("lex:GetBot",), "resource": (f"arn:aws:lex:*:{ACCT}:bot/${{aws:username}}",)}))])
    engine = ps.compile()
    core = engine._core
    same = [f"arn:aws:lex:us-east-1:{ACCT}:bot/Order{i}" for i in range(3)]
    other = [f"arn:aws:lex:eu-west-1:{ACCT}:bot/Order1", f"arn:aws:lex:us-east-1:{ACCT}:bot/Pizza",
             f"arn:aws:lex:eu-west-1:{ACCT}:bot/Pizza"]
    rows = [core.resource_row(r) for r in same + other]
    assert rows[0] is rows[1] is rows[2]
    assert len({id(r) for r in rows[2:]}) == 4
    assert len({bytes(r) for r in rows[2:]}) == 4
    reqs = [(ALICE, a, r, c) for r in same + other + [f"arn:aws:lex:us-east-1:{ACCT}:bot/alice"]
            for a in ("lex:GetBot", "lex:DeleteBot", "lex:UpdateBot") for c in (None, {"aws:username": "alice"})]
    want = [w.decision for w in reference_responses(ps, reqs)]
    assert {Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY} <= set(want)
    p, a, r, c = (list(x) for x in zip(*reqs))
    for fresh in (engine, ps.compile()):
        assert [Decision(int(x)) for x in fresh.evaluate_batch(p, a, r, c)] == want
        assert [fresh.is_allowed(*q) for q in reqs] == [w == Decision.ALLOW for w in want]
    twin = ps.compile(use_index=False)
    assert [Decision(int(x)) for x in twin.evaluate_batch(p, a, r, c)] == want
