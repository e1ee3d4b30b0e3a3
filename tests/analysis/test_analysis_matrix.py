"""The request space and the access matrix: space files (codes and locations of bad input), witness contexts, class
compression (compressed == uncompressed == evaluate_batch == reference, cell by cell) and the four output formats."""
from __future__ import annotations

import csv
import json
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexauthz import Decision, Request
from lexauthz.account import Account, PolicySet
from lexauthz.analysis import load_space, parse_space, resolve_space
from lexauthz.analysis.contexts import witness_contexts
from lexauthz.analysis.matrix import MATRIX_COLUMNS, matrix
from lexauthz.analysis.space import ANY_PRINCIPAL
from lexauthz.errors import RequestError

from strategies import ACTIONS, PRINCIPALS, RESOURCES, _context, policy_sets

ACCT = "111122223333"


def _small_account():
    ps = PolicySet()
    ps.add_group("ops", [{"Version": "2012-10-17", "Statement": [
        {"Sid": "Ops", "Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}]}])
    for name in ("ann", "ben", "cat"):
        ps.add_principal(f"arn:aws:iam::{ACCT}:user/{name}", groups=["ops"])
    ps.add_principal(f"arn:aws:iam::{ACCT}:role/Runner", policies=[{"Version": "2012-10-17", "Statement": [
        {"Sid": "Run", "Effect": "Allow", "Action": ["lex:PostText", "lex:RecognizeText"],
         "Resource": f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}])
    for i in range(6):
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/BOT{i}/ALIAS{i}", tags={"env": "prod"})
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot/BOT{i}")
    ps.add_scp("root", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"}]})
    return Account.from_policy_set(ps)


# -- the space --------------------------------------------------------------------------------------------------


def test_space_resolves_every_kind_of_entry():
    acc = _small_account()
    space = resolve_space({"principals": [f"account:{ACCT}", "*", "lex.amazonaws.com"],
                           "actions": ["lex:Get*", "lex:PostText"],
                           "resources": ["inventory", f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/*"],
                           "contexts": [{}, {"aws:SourceIp": "10.1.2.3"}]}, [acc])
    assert f"arn:aws:iam::{ACCT}:root" in space.principals and ANY_PRINCIPAL in space.principals
    assert "*" in space.principal_labels and "lex.amazonaws.com" in space.principals
    assert "lex:GetBot" in space.actions and space.actions[-1] == "lex:PostText"
    assert len(space.resources) == 12 and len(space.contexts) == 2
    assert space.cells == len(space.principals) * len(space.actions) * 12 * 2
    again = resolve_space(space.to_dict(), [acc])
    assert again.principals == space.principals and again.contexts == space.contexts


@pytest.mark.parametrize("data, code, path", [
    ([], "E_BAD_SPACE", "$"),
    ({"principal": ["*"]}, "E_BAD_SPACE", "$.principal"),
    ({"principals": ["bob"]}, "E_BAD_SPACE", "$.principals[0]"),
    ({"principals": ["account:12"]}, "E_BAD_SPACE", "$.principals[0]"),
    ({"actions": ["PostText"]}, "E_BAD_SPACE", "$.actions[0]"),
    ({"actions": []}, "E_BAD_SPACE", "$.actions"),
    ({"resources": ["bot/x"]}, "E_BAD_SPACE", "$.resources[0]"),
    ({"contexts": [{"aws:SourceIp": 3j}]}, "E_BAD_CONTEXT_VALUE", "$.contexts[0]['aws:SourceIp']"),
    ({"contexts": {}}, "E_BAD_SPACE", "$.contexts"),
    ({"context_mode": "all"}, "E_BAD_SPACE", "$.context_mode"),
    ({"max_contexts": 0}, "E_BAD_SPACE", "$.max_contexts"),
])
def test_bad_space_is_a_coded_error_with_a_location(data, code, path):
    with pytest.raises(RequestError) as exc:
        parse_space(data, source="s.json")
    assert exc.value.code == code and exc.value.path == f"s.json: {path}"


def test_space_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"principals": [\n  "*",\n]}')
    with pytest.raises(RequestError) as exc:
        load_space(bad)
    assert exc.value.code == "E_MALFORMED_JSON" and "line 3" in exc.value.path
    with pytest.raises(RequestError) as exc:
        load_space(tmp_path / "missing.json")
    assert exc.value.code == "E_SPACE_NOT_FOUND"
    acc = _small_account()
    for spec, code in (({"actions": ["lex:Zzz*"]}, "E_NO_ACTION"),
                       ({"resources": ["arn:aws:lex:*:*:intent:*"]}, "E_EMPTY_SPACE")):
        with pytest.raises(RequestError) as exc:
            resolve_space(spec, [acc])
        assert exc.value.code == code


def test_witness_contexts_cover_each_side_of_each_condition():
    acc = _small_account()
    ctxs = witness_contexts([acc.policy_set])
    assert ctxs[0] == {}
    ips = {c.get("aws:SourceIp") for c in ctxs}
    assert "10.0.0.0" in ips and "11.0.0.0" in ips  # inside the range, just past it
    runner, alias = f"arn:aws:iam::{ACCT}:role/Runner", f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/BOT0/ALIAS0"
    seen = {acc.evaluate(Request(runner, "lex:PostText", alias, context=c), engine="reference").decision
            for c in ctxs}
    assert seen == {Decision.ALLOW, Decision.IMPLICIT_DENY}


# -- compression --------------------------------------------------------------------------------------------------


def _check_cells(acc, space, m_c, m_u, reference_sample: int, rng):
    cube_c, cube_u = m_c.cube(), m_u.cube()
    assert cube_c.shape == cube_u.shape == (len(space.principals), len(space.actions), len(space.resources),
                                            len(space.contexts))
    assert np.array_equal(cube_c, cube_u)
    P, A, R, C = cube_c.shape
    grid = [(i, j, k, c) for i in range(P) for j in range(A) for k in range(R) for c in range(C)]
    direct = acc.engine().evaluate_batch([space.principals[g[0]] for g in grid], [space.actions[g[1]] for g in grid],
                                         [space.resources[g[2]] for g in grid], [space.contexts[g[3]] for g in grid])
    assert np.array_equal(cube_c.reshape(-1), direct)
    for i, j, k, c in rng.sample(grid, min(reference_sample, len(grid))):
        ref = acc.evaluate(Request(space.principals[i], space.actions[j], space.resources[k],
                                   context=space.contexts[c]), engine="reference").decision
        assert int(ref) == int(cube_c[i, j, k, c]), (space.principals[i], space.actions[j], space.resources[k])
    counts = m_c.counts()
    assert sum(counts.values()) == space.cells
    for d in Decision:
        assert counts[d.simulator_name] == int((cube_c == int(d)).sum())


def test_compression_on_a_structured_account():
    acc = _small_account()
    space = resolve_space({"principals": ["known", "*"], "actions": ["lex:*"], "context_mode": "witnesses"}, [acc])
    m_c, m_u = matrix(acc, space), matrix(acc, space, compress=False)
    cls = m_c.class_counts()
    assert cls["principals"] == 3  # three group members, the runner, the stranger
    assert cls["resources"] == 2 and cls["actions"] < len(space.actions) // 4
    assert m_c.codes.size * 20 < space.cells
    _check_cells(acc, space, m_c, m_u, 300, random.Random(1))


_ACTS = tuple(dict.fromkeys(a for a in ACTIONS if a.lower() != "lex:ünïcode"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_sets(), st.integers(0, 2**32 - 1))
def test_compressed_equals_uncompressed_equals_batch_equals_reference(ps, seed):
    acc = Account.from_policy_set(ps)
    rng = random.Random(seed)
    space = resolve_space({"principals": list(PRINCIPALS) + ["*"], "actions": list(_ACTS),
                           "resources": list(RESOURCES), "contexts": [{}, _context(rng), _context(rng)]}, [acc])
    _check_cells(acc, space, matrix(acc, space), matrix(acc, space, compress=False), 150, rng)


# -- output formats -------------------------------------------------------------------------------------------------


def test_every_format_round_trips(tmp_path):
    acc = _small_account()
    space = resolve_space({"principals": ["known", "*"], "actions": ["lex:Get*", "lex:PostText", "lex:DeleteBot"],
                           "contexts": [{}, {"aws:SourceIp": "10.9.9.9"}]}, [acc])
    m = matrix(acc, space)
    cube = m.cube()
    expected = {(space.principal_labels[i], space.actions[j], space.resources[k], c): int(cube[i, j, k, c])
                for i in range(cube.shape[0]) for j in range(cube.shape[1]) for k in range(cube.shape[2])
                for c in range(cube.shape[3])}
    assert len(expected) == space.cells

    m.write(str(tmp_path / "m.csv"))
    with open(tmp_path / "m.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == MATRIX_COLUMNS
    assert {(p, a, r, int(c)): int(d) for p, a, r, c, d in rows[1:]} == expected and len(rows) == space.cells + 1

    m.write(str(tmp_path / "m.jsonl"))
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert {(x["principal"], x["action"], x["resource"], x["context_id"]): x["decision_code"] for x in lines} \
        == expected

    pq = pytest.importorskip("pyarrow.parquet")
    m.write(str(tmp_path / "m.parquet"))
    t = pq.read_table(tmp_path / "m.parquet").to_pydict()
    assert list(t) == list(MATRIX_COLUMNS)
    assert dict(zip(zip(t["principal"], t["action"], t["resource"], t["context_id"]), t["decision_code"])) \
        == expected and len(t["principal"]) == space.cells

    m.write(str(tmp_path / "m.npz"))
    with np.load(tmp_path / "m.npz") as z:
        assert np.array_equal(z["cube"], cube) and list(z["actions"]) == list(space.actions)
        assert [json.loads(c) for c in z["contexts"]] == list(space.contexts)
        assert list(z["principals"]) == list(space.principal_labels)

    with pytest.raises(RequestError) as exc:
        m.write(str(tmp_path / "m.xlsx"))
    assert exc.value.code == "E_UNKNOWN_FORMAT"


def test_to_frame_matches_the_cube():
    pd = pytest.importorskip("pandas")
    acc = _small_account()
    space = resolve_space({"actions": ["lex:Get*", "lex:PostText"], "contexts": [{}]}, [acc])
    m = matrix(acc, space)
    df = m.to_frame()
    assert isinstance(df, pd.DataFrame) and len(df) == space.cells
    assert list(df.columns) == list(MATRIX_COLUMNS)
    assert np.array_equal(df["decision_code"].to_numpy(), m.cube().reshape(-1))
    assert int((df["decision_code"] == 1).sum()) == m.counts()["allowed"]
