"""The corpus-case runner (``lexauthz.testing.cases``): case in, answer line out."""
from __future__ import annotations

import gzip
import json

import pytest

from lexauthz.testing.cases import build_case, iter_cases, run_case

ACCT = "123456789012"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}


def case(**overrides) -> dict:
    base = {
        "id": "t-1",
        "identity_policies": [],
        "resource_policy": None,
        "permission_boundary": None,
        "session_policy": None,
        "scps": None,
        "request": {"principal": f"arn:aws:sts::{ACCT}:assumed-role/Dev/alice", "action": "lex:PostText",
                    "resource": f"arn:aws:lex:us-east-1:{ACCT}:bot:OrderFlowers:prod", "resource_account": ACCT,
                    "context": {}},
        "meta": {"profile": "unit", "features": []},
    }
    base.update(overrides)
    return base


def test_answer_line_shape_and_policy_names():
    line = run_case(case(
        identity_policies=[{"Version": "2012-10-17", "Statement": []}, ALLOW_ALL],
        resource_policy={"Version": "2012-10-17", "Statement": [
            {"Sid": "Rp", "Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "lex:*", "Resource": "*"}]},
        permission_boundary=ALLOW_ALL,
        session_policy=ALLOW_ALL,
        scps=[[ALLOW_ALL], [{"Version": "2012-10-17", "Statement": []}, ALLOW_ALL]],
    ))
    assert set(line) == {"id", "decision", "error", "matched_statements", "policy_results"}
    assert line["id"] == "t-1" and line["decision"] == "Allowed" and line["error"] is None
    assert [(m["policy_type"], m["policy"], m["statement"], m.get("level"), m.get("principal_match"))
            for m in line["matched_statements"]] == [
        ("identity", "identity[1]", 1, None, None),
        ("resource", "resource_policy", 1, None, "AccountLevelMatch"),
        ("permission_boundary", "permission_boundary", 1, None, None),
        ("session", "session_policy", 1, None, None),
        ("scp", "scp[0][0]", 1, 0, None),
        ("scp", "scp[1][1]", 1, 1, None),
    ]
    assert line["matched_statements"][1]["sid"] == "Rp"
    assert line["policy_results"] == {"identity": "Allowed", "resource": "AllowedForAccount", "session": "Allowed",
                                      "permission_boundary": "Allowed", "scp": "Allowed"}


def test_types_not_supplied_are_null_in_policy_results():
    line = run_case(case(identity_policies=[ALLOW_ALL]))
    assert line["policy_results"] == {"identity": "Allowed", "resource": "NotApplicable", "session": None,
                                      "permission_boundary": None, "scp": None}


def test_invalid_policy_gives_an_error_line():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "lex:*", "Resource": "*"}]}
    line = run_case(case(identity_policies=[ALLOW_ALL], scps=[[ALLOW_ALL, bad]]))
    assert line["decision"] is None and line["matched_statements"] == [] and line["policy_results"] is None
    assert line["error"]["code"] == "E_INVALID_EFFECT"
    assert "`scp[0][1]`" in line["error"]["message"]


def test_malformed_request_gives_an_error_line():
    request = dict(case()["request"], action="PostText")
    line = run_case(case(request=request))
    assert line["decision"] is None
    assert line["error"]["code"] == "E_BAD_ACTION"


def test_context_is_used_exactly_as_given():
    # Nothing is derived from the principal: `aws:username` is missing unless the case supplies it.
    user = f"arn:aws:iam::{ACCT}:user/alice"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*",
                                                       "Condition": {"StringEquals": {"aws:username": "alice"}}}]}
    request = dict(case()["request"], principal=user)
    assert run_case(case(identity_policies=[policy], request=request))["decision"] == "ImplicitlyDenied"
    request["context"] = {"aws:username": "alice"}
    assert run_case(case(identity_policies=[policy], request=request))["decision"] == "Allowed"


def test_identical_documents_are_checked_once_per_policy_type():
    _, p1 = build_case(case(identity_policies=[ALLOW_ALL], permission_boundary=ALLOW_ALL))
    _, p2 = build_case(case(identity_policies=[json.loads(json.dumps(ALLOW_ALL)), ALLOW_ALL],
                            permission_boundary=json.loads(json.dumps(ALLOW_ALL))))
    assert p1.identity[0].document is p2.identity[0].document is p2.identity[1].document
    assert p1.permissions_boundary.document is p2.permissions_boundary.document
    assert p2.identity[1].name == "identity[1]" and p2.permissions_boundary.name == "permission_boundary"


def test_policies_are_validated_for_their_type():
    # IAM User Guide, "AWS JSON policy elements: Principal": "You cannot use the Principal element in an
    # identity-based policy"; a resource-based policy statement must name its principal.
    with_principal = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "lex:*", "Resource": "*"}]}
    line = run_case(case(identity_policies=[with_principal]))
    assert line["error"]["code"] == "E_PRINCIPAL_IN_IDENTITY_POLICY"
    assert run_case(case(identity_policies=[ALLOW_ALL], resource_policy=with_principal))["error"] is None
    line = run_case(case(identity_policies=[ALLOW_ALL], resource_policy=ALLOW_ALL))
    assert line["error"]["code"] == "E_MISSING_PRINCIPAL"
    assert "`resource_policy`" in line["error"]["message"]


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError):
        run_case(case(), engine="nonesuch")


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_iter_cases_reads_plain_and_gzipped_json_lines(tmp_path, suffix):
    rows = [case(id="a"), case(id="b")]
    text = json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n"
    path = tmp_path / f"cases{suffix}"
    if suffix.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    assert [c["id"] for c in iter_cases(path)] == ["a", "b"]
