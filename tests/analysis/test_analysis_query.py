"""who-can and what-can against the reference evaluator: the shared contract (types, sorting, keys), the bundled
example account, and random policy sets (who-can == filter of every principal by the reference; what-can's
consolidated document, evaluated alone, allows exactly what what-can returns)."""
from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexauthz import Decision, Request, StatementRef
from lexauthz.account import Account
from lexauthz.analysis import ANY_PRINCIPAL, Access, effective_policy, what_can, who_can
from lexauthz.analysis.space import expand_actions, inventory, known_principals
from lexauthz.errors import RequestError
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.reference import evaluate as reference_evaluate

from strategies import ACTIONS, PRINCIPALS, RESOURCES, _context, policy_sets

LEX_ACTIONS = expand_actions(None)


def _reference_allowed(account, principals, actions, resources, context):
    out = set()
    for p in principals:
        for a in actions:
            for r in resources:
                d = account.evaluate(Request(p, a, r, context=context), engine="reference").decision
                if d is Decision.ALLOW:
                    out.add(("*" if p == ANY_PRINCIPAL else p, a, r))
    return out


# -- the contract -----------------------------------------------------------------------------------------------


def test_access_shape_and_sorting(example_account):
    bot = "arn:aws:lex:us-east-1:111122223333:bot-alias/BOOKTRIP01/PRODALIAS1"
    found = who_can(example_account, bot)
    assert found, "the bundled account grants runtime calls on the prod alias"
    assert isinstance(found, list) and all(isinstance(a, Access) for a in found)
    assert dataclasses.is_dataclass(Access) and Access.__dataclass_params__.frozen
    assert [f.name for f in dataclasses.fields(Access)] == ["principal", "action", "resource", "decision",
                                                            "statements", "missing_context_keys"]
    assert found == sorted(found, key=lambda a: (a.principal, a.action, a.resource))
    for a in found:
        assert a.decision is Decision.ALLOW and a.resource == bot
        assert a.statements and all(isinstance(s, StatementRef) and s.effect == "Allow" for s in a.statements)
        assert isinstance(a.missing_context_keys, tuple)
        d = json.loads(json.dumps(a.to_dict()))
        assert {"principal", "service", "action", "level", "resourceType", "decision", "deciding",
                "missing_context_values"} <= set(d)
        assert d["service"] == "lex" and d["decision"] == "allowed" and d["resourceType"] == "bot alias"
        assert d["deciding"][0]["policy_type"] in ("IDENTITY_POLICY", "RESOURCE_POLICY")


def test_example_account_who_can_equals_reference(example_account):
    principals = known_principals([example_account])
    assert "connect.amazonaws.com" in principals  # named by a resource policy
    assert "arn:aws:iam::444455556666:role/PartnerApp" in principals
    for resource in inventory([example_account]):
        got = {(a.principal, a.action, a.resource) for a in who_can(example_account, resource)}
        assert got == _reference_allowed(example_account, principals, LEX_ACTIONS, [resource], {})


def test_example_account_what_can_equals_reference(example_account):
    resources = inventory([example_account])
    for p in ("arn:aws:iam::111122223333:user/developers/maria", "arn:aws:sts::444455556666:assumed-role/PartnerApp/web",
              "connect.amazonaws.com"):
        got = {(a.principal, a.action, a.resource) for a in what_can(example_account, p)}
        assert got == _reference_allowed(example_account, [p], LEX_ACTIONS, resources, {})


def test_context_and_statements_match_reference(example_account):
    bot = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers"
    ctx = {"aws:ResourceTag/Department": "Support"}
    found = who_can(example_account, bot, ["lex:Post*"], context=ctx)
    assert {a.action for a in found} <= {"lex:PostText", "lex:PostContent"}
    assert found
    for a in found:
        resp = example_account.evaluate(Request(a.principal, a.action, bot, context=ctx), engine="reference")
        assert resp.decision is Decision.ALLOW
        assert sorted(a.statements, key=repr) == sorted(resp.matched_statements, key=repr)  # sid may be None
        assert a.missing_context_keys == resp.missing_context_values
    # without the tag the department condition fails: fewer principals, never more
    assert {x.principal for x in who_can(example_account, bot, ["lex:Post*"])} <= {x.principal for x in found}


def test_principals_filter_and_patterns(example_account):
    bot = "arn:aws:lex:us-east-1:111122223333:bot/BOOKTRIP01"
    builder = "arn:aws:iam::111122223333:role/BotBuilder"
    only = who_can(example_account, bot, ["lex:List*"], principals=[builder, "arn:aws:iam::999988887777:user/x"])
    assert {a.principal for a in only} <= {builder}
    assert all(a.action.startswith("lex:List") for a in only)


@pytest.mark.parametrize("call, code", [
    (lambda acc: who_can(acc, "not-an-arn"), "E_BAD_RESOURCE"),
    (lambda acc: who_can(acc, "arn:aws:lex:us-east-1:111122223333:bot/X", ["lex:Nope*"]), "E_NO_ACTION"),
    (lambda acc: who_can(acc, "arn:aws:lex:us-east-1:111122223333:bot/X", ["PostText"]), "E_BAD_ACTION"),
    (lambda acc: who_can(acc, "arn:aws:lex:us-east-1:111122223333:bot/X", context={"k": 3j}), "E_BAD_CONTEXT_VALUE"),
    (lambda acc: what_can(acc, ""), "E_BAD_PRINCIPAL"),
    (lambda acc: what_can(acc, "arn:aws:iam::111122223333:user/x", resources=["bot"]), "E_BAD_RESOURCE"),
])
def test_bad_input_is_a_coded_error(example_account, call, code):
    with pytest.raises(RequestError) as exc:
        call(example_account)
    assert exc.value.code == code


# -- random policy sets -----------------------------------------------------------------------------------------


_ACTS = tuple(a for a in ACTIONS if a.startswith("lex:") and a in set(LEX_ACTIONS))[:8] + ("s3:GetObject",)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), st.integers(0, 2**32 - 1))
def test_who_can_equals_filter_of_all_principals(ps, seed):
    account = Account.from_policy_set(ps)
    rng = random.Random(seed)
    ctx = _context(rng)
    resources = rng.sample(RESOURCES, 3)
    candidates = list(dict.fromkeys(PRINCIPALS + known_principals([account]) + (ANY_PRINCIPAL,)))
    for r in resources:
        got = who_can(account, r, _ACTS, context=ctx, principals=candidates)
        assert {(a.principal, a.action, a.resource) for a in got} == _reference_allowed(account, candidates, _ACTS,
                                                                                       [r], ctx)
        for a in got[:5]:
            p = ANY_PRINCIPAL if a.principal == "*" else a.principal
            resp = account.evaluate(Request(p, a.action, r, context=ctx), engine="reference")
            assert sorted(a.statements, key=repr) == sorted(resp.matched_statements, key=repr)  # sid may be None
            assert a.missing_context_keys == resp.missing_context_values


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), st.integers(0, 2**32 - 1))
def test_what_can_and_consolidated_policy_round_trip(ps, seed):
    account = Account.from_policy_set(ps)
    rng = random.Random(seed)
    ctx = _context(rng)
    # users, roles and role sessions: the account root is allowed everything in its own account whatever its
    # policies, and a federated user's identity permissions are its session policy's, not an identity policy's
    principal = rng.choice([p for p in PRINCIPALS if p.startswith("arn:") and not p.endswith(":root")
                            and ":federated-user/" not in p])
    resources = [r for r in RESOURCES if r != "*"]
    got = what_can(account, principal, _ACTS, resources, context=ctx)
    allowed = {(a.action, a.resource) for a in got}
    assert {(principal, a, r) for a, r in allowed} == _reference_allowed(account, [principal], _ACTS, resources, ctx)
    doc = effective_policy(account, principal, _ACTS, resources, context=ctx)
    from lexauthz import load_policy

    alone = ApplicablePolicies(identity=(NamedPolicy("consolidated", load_policy(json.dumps(doc))),))
    own = principal.split(":")[4]
    for a in _ACTS:
        for r in resources:
            d = reference_evaluate(Request(principal, a, r, resource_account=own), alone).decision
            assert (d is Decision.ALLOW) == ((a, r) in allowed), (a, r)
