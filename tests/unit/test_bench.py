"""The benchmark workload generator, its Cedar translation, and the `lexauthz bench` verb."""
import json

import pytest

from benchmarks import cedar, generate
from lexauthz.cli import bench, main
from lexauthz.decision import Decision
from lexauthz.errors import RequestError


@pytest.fixture(scope="module")
def small():
    return generate.lex_workload(seed=11, size="S", n_requests=1500)


def test_generator_is_deterministic_for_a_seed():
    a = generate.lex_workload(seed=5, size="S", n_requests=300)
    b = generate.lex_workload(seed=5, size="S", n_requests=300)
    c = generate.lex_workload(seed=6, size="S", n_requests=300)
    assert a.policies == b.policies
    assert a.principals == b.principals
    assert list(a.requests.rows()) == list(b.requests.rows())
    assert a.policies != c.policies
    assert list(a.requests.rows()) != list(c.requests.rows())


def test_generator_shape(small):
    teams = {p.team for p in small.principals}
    assert len(small.principals) == 100 and len(teams) == 5
    assert all(1 <= len(p.policies) <= 5 for p in small.principals)
    stmts = [st for doc in small.policies.values() for st in doc["Statement"]]
    assert all(1 <= len(doc["Statement"]) <= 10 for doc in small.policies.values())
    deny = sum(st["Effect"] == "Deny" for st in stmts) / len(stmts)
    cond = sum("Condition" in st for st in stmts) / len(stmts)
    assert 0.06 < deny < 0.2 and 0.15 < cond < 0.35
    assert any(a in generate.UNSEEN_ACTIONS for a in small.requests.actions)


def test_scaling_workload_reaches_the_statement_count():
    w = generate.scaling_workload(1000, n_requests=10)
    assert 1000 <= w.n_statements < 1000 + 20


def test_cedar_translation_agrees_with_reference_and_engine(small):
    pytest.importorskip("cedarpy")
    cw = cedar.translate(small)
    r = small.requests
    ps = small.policy_set()
    ref = cedar.reference_decisions(small, r, ps)
    decisions = {
        "reference": ref,
        "cedar": cedar.cedar_decisions(cw, r),
        "engine": ps.compile().evaluate_batch(r.principals, r.actions, r.resources, r.contexts).tolist(),
    }
    assert cedar.agreement(decisions, r) == []
    # The check means something only if the workload exercises every decision and the unseen-action path.
    assert {int(Decision.ALLOW), int(Decision.IMPLICIT_DENY), int(Decision.EXPLICIT_DENY)} <= set(ref)
    unseen_allowed = [i for i, a in enumerate(r.actions) if a in generate.UNSEEN_ACTIONS and ref[i] == 1]
    assert unseen_allowed


def test_cedar_unseen_action_matches_wildcards_only():
    pytest.importorskip("cedarpy")
    w = generate.Workload(
        seed=0,
        principals=[generate.Principal(f"arn:aws:iam::{generate.ACCOUNT}:user/u", "Team1", {"team": "Team1"},
                                       ("p",))],
        policies={"p": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lex:Recognize*", "lex:DescribeBot"], "Resource": "*"}]}},
        requests=generate.Requests([], [], [], []))
    cw = cedar.translate(w)
    u = w.principals[0].arn
    res = generate.bot_arn("B")
    reqs = generate.Requests([u] * 3, ["lex:RecognizeTextV3", "lex:DescribeBotV9", "LEX:describebot"],
                             [res] * 3, [{}] * 3)
    assert cedar.cedar_decisions(cw, reqs) == [1, 0, 1]
    assert cedar.reference_decisions(w, reqs) == [1, 0, 1]


def test_cedar_refuses_what_it_does_not_translate():
    w = generate.Workload(
        seed=0,
        principals=[generate.Principal("arn:aws:iam::123456789012:user/u", "T", {"team": "T"}, ("p",))],
        policies={"p": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "NotAction": "lex:Delete*", "Resource": "*"}]}},
        requests=generate.Requests([], [], [], []))
    pytest.importorskip("cedarpy")
    with pytest.raises(cedar.Untranslatable):
        cedar.translate(w)


# -- lexauthz bench -------------------------------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:Recognize*", "Resource": "*"},
        {"Effect": "Deny", "Action": "lex:DeleteBot", "Resource": "*"}]}))
    reqs = tmp_path / "requests.jsonl"
    bob = "arn:aws:iam::123456789012:user/bob"
    rows = [{"principal": bob, "action": "lex:RecognizeText",
             "resource": "arn:aws:lex:us-east-1:123456789012:bot-alias/B/A"},
            {"principal": bob, "action": "lex:DeleteBot", "resource": "arn:aws:lex:us-east-1:123456789012:bot/B"},
            {"principal": bob, "action": "lex:ListBots", "context": {"aws:RequestedRegion": "us-east-1"}}]
    reqs.write_text("\n".join(json.dumps(r) for r in rows))
    return pol, reqs


def _run_cli(argv):
    return main(argv)


def test_bench_verb_prints_the_fields(tiny, capsys):
    pol, reqs = tiny
    assert _run_cli(["bench", "--policies", str(pol), "--requests", str(reqs), "--rounds", "2", "--verify", "3"]) == 0
    out = capsys.readouterr().out
    for field in ("ns/query", "queries/s", "p50", "p99", "3 requests agree with the reference"):
        assert field in out
    assert "1 allowed, 1 implicitDeny, 1 explicitDeny" in out


def test_bench_verb_json(tiny, capsys):
    pol, reqs = tiny
    assert _run_cli(["bench", "--policies", str(pol), "--requests", str(reqs), "--rounds", "1",
                     "--output", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_requests"] == 3 and result["n_statements"] == 2
    assert result["decisions"] == {"implicitDeny": 1, "allowed": 1, "explicitDeny": 1, "error": 0}
    assert result["ns_per_query"] > 0 and result["queries_per_sec"] > 0
    assert 0 < result["p50_ns"] <= result["p99_ns"]
    assert len(result["batch"]["round_ns"]) == 1


def test_bench_verb_rejects_bad_input(tiny, tmp_path, capsys):
    pol, _ = tiny
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"action": "lex:PostText"}]))
    assert _run_cli(["bench", "--policies", str(pol), "--requests", str(bad)]) == 1
    assert "E_BAD_REQUESTS" in capsys.readouterr().err
    with pytest.raises(RequestError) as exc:
        bench.run_bench([str(pol)], [])
    assert exc.value.code == "E_BAD_REQUESTS"


def test_bench_verb_takes_an_account_in_any_form(tmp_path, capsys):
    from pathlib import Path

    gaad = Path(__file__).resolve().parents[1] / "fixtures" / "gaad" / "account-111122223333.json"
    reqs = tmp_path / "requests.json"
    reqs.write_text(json.dumps([
        {"principal": "arn:aws:iam::111122223333:role/service/LexBuilder", "action": "lex:DeleteBot",
         "resource": "arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ"},
        {"principal": "arn:aws:iam::111122223333:user/ops/deployer", "action": "lex:DeleteBot",
         "resource": "arn:aws:lex:us-east-1:111122223333:bot/ABCDEFGHIJ"}]))
    assert _run_cli(["bench", "--account", str(gaad), "--requests", str(reqs), "--rounds", "1", "--verify", "2",
                     "--output", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decisions"]["allowed"] == 1 and result["decisions"]["implicitDeny"] == 1
    assert result["verified"] == 2
    assert _run_cli(["bench", "--account", str(tmp_path / "none.json"), "--requests", str(reqs)]) == 1
    assert "E_ACCOUNT_NOT_FOUND" in capsys.readouterr().err
