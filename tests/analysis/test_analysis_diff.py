"""The policy-set diff against a brute-force comparison of the reference evaluator over every cell: no missed and no
false change, the right change kind, witnesses that the reference confirms, a closing summary whose counts add up,
and an empty diff of a policy set with itself."""
from __future__ import annotations

import io
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexauthz import Decision, Request
from lexauthz.account import Account, PolicySet
from lexauthz.analysis import resolve_space
from lexauthz.analysis.diff import CHANGES, diff
from lexauthz.analysis.space import ANY_PRINCIPAL

from strategies import ACTIONS, PRINCIPALS, RESOURCES, _context, documents, policy_sets

ACCT = "111122223333"
_ACTS = ("lex:PostText", "lex:DeleteBot", "lex:GetBot", "lex:RecognizeText", "lex:CreateBotVersion",
         "lex:FrobnicateBot", "s3:GetObject", "lex:ListBots")
_RES = RESOURCES[::2]


def _conditional(account, request, resp) -> bool:
    """Independent of the implementation: an allow rests on a condition when, for some policy type, every
    allowing statement that matched has a Condition."""
    from lexauthz.reference.matching import statement_matches_action

    docs: dict = {}
    for ptype, level, named in account.policy_set.applicable(request).all_policies():
        docs.setdefault((ptype, named.name, level), []).append(named.document)
    per_type: dict = {}
    for ref in resp.matched_statements:
        # policies of one type and level may share a name: the one whose statement fits the reference
        cands = [d.statements[ref.index] for d in docs[(ref.policy_type, ref.policy, ref.level)]
                 if ref.index < len(d.statements) and d.statements[ref.index].effect == ref.effect
                 and d.statements[ref.index].sid == ref.sid]
        if len(cands) > 1:
            cands = [s for s in cands if statement_matches_action(s, request.action)] or cands
        per_type.setdefault(ref.policy_type, []).append(bool(cands[0].condition))
    return any(all(v) for v in per_type.values())


def _reason(resp):
    if resp.decision is Decision.EXPLICIT_DENY:
        return "x", tuple(sorted({r.policy_type for r in resp.matched_statements if r.effect == "Deny"}))
    if resp.decision is Decision.IMPLICIT_DENY:
        return "i", tuple(sorted(resp.blocked_by))
    return "e", ()


def _brute(before, after, space) -> dict:
    out = {}
    for p, label in zip(space.principals, space.principal_labels):
        for a in space.actions:
            for r in space.resources:
                for c, ctx in enumerate(space.contexts):
                    req = Request(p, a, r, context=ctx)
                    x = before.evaluate(req, engine="reference")
                    y = after.evaluate(req, engine="reference")
                    ax, ay = x.decision is Decision.ALLOW, y.decision is Decision.ALLOW
                    if ax and not ay:
                        change = "revoked"
                    elif ay and not ax:
                        change = "granted"
                    elif ax and ay:
                        cx = _conditional(before, before.policy_set.enrich(req), x)
                        cy = _conditional(after, after.policy_set.enrich(req), y)
                        change = None if cx == cy else ("became_conditional" if cy else "became_unconditional")
                    else:
                        change = "deny_reason_changed" if _reason(x) != _reason(y) else None
                    if change:
                        out[(label, a, r, c)] = change
    return out


def _check(before, after, space):
    d = diff(before, after, space)
    got = {}
    for p, a, r, c, change in d.cells():
        assert (p, a, r, c) not in got, "a cell is reported twice"
        got[(p, a, r, c)] = change
    assert got == _brute(before, after, space)
    s = d.summary["summary"]
    assert s["cells"] == space.cells and s["changed"] == len(got) == sum(r["count"] for r in d)
    assert s["by_change"] == {k: sum(1 for v in got.values() if v == k) for k in CHANGES}
    for label in {k[0] for k in got}:
        assert s["by_principal"][label] == sum(1 for k in got if k[0] == label)
    assert sum(s["transitions"].values()) == space.cells
    assert s["witnesses"]["checked"] == s["witnesses"]["verified"] >= len(d.records)
    for rec in d:
        assert rec["verified"] and rec["witnesses"]
        w = rec["witnesses"][0]
        assert (w["principal"], w["action"], w["resource"], w["context_id"]) in got
        assert got[(w["principal"], w["action"], w["resource"], w["context_id"])] == rec["change"]
        p = ANY_PRINCIPAL if w["principal"] == "*" else w["principal"]
        req = Request(p, w["action"], w["resource"], context=w["context"])
        assert before.evaluate(req, engine="reference").decision.simulator_name == rec["before"]["decision"]
        assert after.evaluate(req, engine="reference").decision.simulator_name == rec["after"]["decision"]
    buf = io.StringIO()
    d.write_jsonl(buf)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert len(lines) == len(d.records) + 1 and "summary" in lines[-1] and lines[-1]["engine_before"]
    return d


def _space(accounts, rng):
    return resolve_space({"principals": list(PRINCIPALS[::2]) + ["*"], "actions": list(_ACTS),
                          "resources": list(_RES), "contexts": [{}, _context(rng)]}, accounts)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), policy_sets(), st.integers(0, 2**32 - 1))
def test_diff_of_two_random_sets_equals_brute_force(ps1, ps2, seed):
    a, b = Account.from_policy_set(ps1), Account.from_policy_set(ps2)
    _check(a, b, _space([a, b], random.Random(seed)))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), documents(max_statements=3), st.sampled_from(["scp", "group", "edit", "membership"]),
       st.integers(0, 2**32 - 1))
def test_diff_of_a_candidate_change_equals_brute_force(ps, doc, kind, seed):
    after_ps = ps.snapshot()
    if kind == "scp":
        after_ps.add_scp("root", doc, name="scp/candidate")
    elif kind == "group":
        after_ps.add_group("devs", [doc])
    elif kind == "edit" and after_ps.principals:
        arn = sorted(after_ps.principals)[0]
        rec = after_ps.principals[arn]
        after_ps.add_principal(arn, [doc], tags=dict(rec.tags), groups=rec.groups,
                               permissions_boundary=rec.permissions_boundary, session_policy=rec.session_policy)
    elif kind == "membership":
        for arn, rec in list(after_ps.principals.items()):
            if rec.groups:
                after_ps.add_principal(arn, rec.policies, tags=dict(rec.tags), groups=(),
                                       permissions_boundary=rec.permissions_boundary,
                                       session_policy=rec.session_policy)
                break
    a, b = Account.from_policy_set(ps), Account.from_policy_set(after_ps)
    _check(a, b, _space([a, b], random.Random(seed)))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), st.integers(0, 2**32 - 1))
def test_diff_of_a_set_with_itself_is_empty(ps, seed):
    a = Account.from_policy_set(ps)
    again = Account.from_policy_set(PolicySet.from_data(json.loads(json.dumps(ps.to_data()))))
    space = _space([a], random.Random(seed))
    for other in (a, again):
        d = diff(a, other, space)
        assert list(d) == [] and d.summary["summary"]["changed"] == 0
        assert d.summary["summary"]["by_change"] == {k: 0 for k in CHANGES}


def test_an_scp_deny_is_one_record_per_statement_with_counts():
    ps = PolicySet()
    from lexauthz import NamedPolicy, load_policy

    allow = NamedPolicy("arn:aws:iam::aws:policy/AmazonLexFullAccess", load_policy(json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "lex:*",
                                                 "Resource": "*"}]})))  # one managed policy, attached 40 times
    for i in range(40):
        ps.add_principal(f"arn:aws:iam::{ACCT}:role/Team{i}", policies=[allow])
    for i in range(30):
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot/BOT{i}")
    after_ps = ps.snapshot()
    after_ps.add_scp("root", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}]}, name="scp-NoDelete")
    a, b = Account.from_policy_set(ps), Account.from_policy_set(after_ps)
    space = resolve_space({"principals": ["known"], "actions": ["lex:*"], "contexts": [{}]}, [a, b])
    d = diff(a, b, space)
    deletes = [x for x in space.actions if x.startswith("lex:Delete")]
    assert len(d.records) == 1
    rec = d.records[0]
    assert rec["change"] == "revoked" and rec["count"] == 40 * 30 * len(deletes)
    assert rec["after"]["decision"] == "explicitDeny"
    assert rec["after"]["deciding"] == [{"policy_id": "scp-NoDelete", "policy_type": "SERVICE_CONTROL_POLICY",
                                         "sid": "NoDelete", "statement_index": 1, "effect": "Deny", "level": 0,
                                         "path": "$.Statement[1]"}]
    assert rec["before"]["deciding"][0]["sid"] == "All" and rec["n_principals"] == 40
    assert [(c["side"], c["policy_id"], c["sid"]) for c in rec["cause"]] == [("after", "scp-NoDelete", "NoDelete")]
    s = d.summary["summary"]
    assert s["by_statement"]["SERVICE_CONTROL_POLICY scp-NoDelete#1 (NoDelete)"] == rec["count"]
    top = s["statements"][0]
    assert top["principals"] == 40 and top["by_change"] == {"revoked": rec["count"]}
    assert s["by_action"] == {x: 40 * 30 for x in sorted(deletes)}
    assert rec["class_cells"] == 1 and d.summary["summary"]["classes"]["principals"] == 1
