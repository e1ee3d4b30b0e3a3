"""The Access Analyzer-compatible checks: AWS's answers on the Lex versions of the public custom-policy-check
samples (differences only where known_differences.toml says why), AWS's response shape and reason wording, coded
errors, and on random policy pairs: a PASS survives a million random requests, and every witness of a FAIL is a real
new allow by the reference evaluator."""
from __future__ import annotations

import json
import os
import random
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lexauthz import Decision, Request, dump_policy
from lexauthz.account import Account, PolicySet
from lexauthz.analysis import check_access_not_granted, check_no_new_access, check_no_public_access
from lexauthz.analysis.checks import _principal_context
from lexauthz.errors import RequestError
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.policy import load_policy
from lexauthz.reference import evaluate as reference_evaluate

from strategies import ACTIONS, RESOURCES, _context, documents

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "aws_samples.json"), encoding="utf-8") as _fh:
    SAMPLES = json.load(_fh)["cases"]
with open(os.path.join(HERE, "fixtures", "known_differences.toml"), "rb") as _fh:
    KNOWN = tomllib.load(_fh)


def _run(case):
    if case["check"] == "no_new_access":
        return check_no_new_access(json.dumps(case["existing"]), json.dumps(case["new"]), case["policy_type"])
    if case["check"] == "access_not_granted":
        return check_access_not_granted(case["policy"], json.dumps(case["access"]), case["policy_type"])
    return check_no_public_access(json.dumps(case["policy"]), case["resource_type"])


@pytest.mark.parametrize("case", SAMPLES, ids=[c["id"] for c in SAMPLES])
def test_aws_samples(case):
    res = _run(case)
    known = KNOWN.get(case["id"])
    if known is not None:
        assert res.result == known["lexauthz"] != case["aws_result"], "a listed difference no longer differs"
    else:
        assert res.result == case["aws_result"]
    d = res.to_dict()
    assert list(d) == ["result", "message", "reasons"]
    if res.result == "FAIL":
        assert [r["statementIndex"] for r in d["reasons"]] == case["reasons"]
        assert res.witnesses and all(w["verified"] for w in res.witnesses)
    else:
        assert d["reasons"] == [] and res.witnesses == []


def test_known_differences_name_real_cases():
    ids = {c["id"] for c in SAMPLES}
    assert set(KNOWN) <= ids
    for entry in KNOWN.values():
        assert entry["reason"] and entry["aws_doc"].startswith("https://docs.aws.amazon.com/")


def test_reason_wording_follows_aws():
    ref = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}]}
    new = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:GetBot", "Resource": "*"},
        {"Sid": "Deletes", "Effect": "Allow", "Action": "lex:DeleteBot", "Resource": "*"},
        {"Effect": "Allow", "Action": "lex:PostText", "Resource": "*"}]}
    d = check_no_new_access(ref, new, "IDENTITY_POLICY").to_dict(witnesses=True)
    assert d["result"] == "FAIL"
    assert d["message"] == "The modified permissions grant new access compared to your existing policy."
    assert d["reasons"] == [
        {"description": "New access in the statement with sid: Deletes.", "statementId": "Deletes",
         "statementIndex": 1},
        {"description": "New access in the statement with index: 2.", "statementIndex": 2}]
    assert {w["action"] for w in d["witnesses"]} <= {"lex:DeleteBot", "lex:PostText"} and d["requests_checked"] > 0
    same = check_no_new_access(ref, ref, "IDENTITY_POLICY")
    assert same.passed and same.reasons == []


@pytest.mark.parametrize("call, code", [
    (lambda: check_no_new_access("{", "{}", "IDENTITY_POLICY"), "E_MALFORMED_JSON"),
    (lambda: check_no_new_access("{}", "{}", "SCP"), "E_BAD_POLICY_TYPE"),
    (lambda: check_access_not_granted({"Version": "2012-10-17", "Statement": []}, "[]"), "E_BAD_ACCESS"),
    (lambda: check_access_not_granted({"Version": "2012-10-17", "Statement": []}, '[{"actions": ["Get"]}]'),
     "E_BAD_ACTION"),
    (lambda: check_access_not_granted({"Version": "2012-10-17", "Statement": []}, '[{"verbs": ["a:b"]}]'),
     "E_BAD_ACCESS"),
    (lambda: check_no_public_access({"Version": "2012-10-17", "Statement": []}, "AWS::S3::Bucket"),
     "E_UNSUPPORTED_RESOURCE_TYPE"),
])
def test_bad_input_is_a_coded_error(call, code):
    with pytest.raises(RequestError) as exc:
        call()
    assert exc.value.code == code


# -- random pairs -----------------------------------------------------------------------------------------------------

_PRINCIPALS = ("arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/LexDev",
               "arn:aws:iam::444455556666:user/team/bob", "arn:aws:sts::111122223333:assumed-role/LexDev/s")
_ACTS = tuple(dict.fromkeys(ACTIONS))
_PRINCIPAL_KEYS = ("aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username", "aws:userid")


def _account(doc, principals):
    ps = PolicySet()
    for p in principals:
        if p.startswith("arn:aws:iam"):
            ps.add_principal(p, [NamedPolicy("doc", doc)])
    ps.add_principal("arn:aws:iam::111122223333:role/LexDev", [NamedPolicy("doc", doc)])
    return Account.from_policy_set(ps)


def _authorized_pairs():
    """(action, resource) pairs AWS authorizes: an action with resource types on ARNs of those types, one without
    on `*`; an action or ARN the catalog does not know with any resource (the catalog's service authorization)."""
    from lexauthz.catalog import load_catalog

    cat = load_catalog()
    out = []
    for a in _ACTS:
        info = cat.action(a)
        for r in RESOURCES:
            rt = set() if r == "*" else {t.name for t in cat.resource_types_for_arn(r)}
            if info is None or (r != "*" and not rt):
                out.append((a, r))
            elif r == "*" and not info.resource_types:
                out.append((a, r))
            elif r != "*" and rt & {t.name for t in info.resource_types}:
                out.append((a, r))
    return out


_PAIRS = _authorized_pairs()


def _requests(rng, n):
    """Requests as IAM sends them: the principal's own keys are the principal's, the rest drawn from the pools."""
    pcs, acts, res, ctxs = [], [], [], []
    pool = [(_context(rng)) for _ in range(64)]
    for _ in range(n):
        p = rng.choice(_PRINCIPALS)
        a, r = rng.choice(_PAIRS)
        c = {k: v for k, v in rng.choice(pool).items() if k.lower() not in _PRINCIPAL_KEYS}
        c.update(_principal_context(p))
        pcs.append(p)
        acts.append(a)
        res.append(r)
        ctxs.append(c)
    return pcs, acts, res, ctxs


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(max_statements=3), documents(max_statements=3), st.integers(0, 2**32 - 1))
def test_pass_survives_random_requests_and_fail_witnesses_are_real(old, new, seed):
    old_text, new_text = json.dumps(dump_policy(old)), json.dumps(dump_policy(new))
    try:
        res = check_no_new_access(old_text, new_text, "IDENTITY_POLICY")
    except RequestError:  # a document the validator refuses (an unknown operator, a bad action pattern)
        assume(False)
    if res.passed:
        rng = random.Random(seed)
        a_old, a_new = _account(load_policy(old_text), _PRINCIPALS), _account(load_policy(new_text), _PRINCIPALS)
        for _ in range(5):  # 8 examples x 5 x 25,000 = 10^6 requests over the run
            cols = _requests(rng, 25_000)
            d_old = a_old.engine().evaluate_batch(*cols)
            d_new = a_new.engine().evaluate_batch(*cols)
            bad = np.flatnonzero((d_new == Decision.ALLOW) & (d_old != Decision.ALLOW))
            assert bad.size == 0, [c[int(bad[0])] for c in cols]
    else:
        assert res.witnesses
        for w in res.witnesses:
            req = Request(w["principal"], w["action"], w["resource"], context=w["context"])
            new_d = reference_evaluate(req, ApplicablePolicies(identity=(NamedPolicy("n", load_policy(new_text)),)))
            old_d = reference_evaluate(req, ApplicablePolicies(identity=(NamedPolicy("o", load_policy(old_text)),)))
            assert new_d.decision is Decision.ALLOW and old_d.decision is not Decision.ALLOW
            assert w["verified"]
