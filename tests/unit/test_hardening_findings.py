"""Regression tests for what fuzzing found (reproducers in fuzz/crashes/, replayed by `python -m fuzz replay`)."""
from __future__ import annotations

import json

import pytest

from lexauthz import Decision, Request
from lexauthz.account import Account, PolicySet, load_account, read_authorization_details
from lexauthz.errors import RequestError
from lexauthz.lex.tags import parse_tags
from lexauthz.reference.wildcard import wildcard_match

USER = "arn:aws:iam::111122223333:user/a"


def test_gaad_role_entry_with_a_non_role_arn_is_a_coded_error():
    # fuzz/crashes/account/F_UNCODED-*: a trust policy on "arn::" raised a bare TypeError
    doc = {"RoleDetailList": [{"Arn": "arn::", "AssumeRolePolicyDocument": "%7B%7D"}]}
    with pytest.raises(RequestError) as info:
        read_authorization_details(doc)
    assert info.value.code == "E_INVALID_AUTHORIZATION_DETAILS"
    assert info.value.path == "$.RoleDetailList[0].Arn"
    doc = {"UserDetailList": [{"Arn": "arn:aws:iam::111122223333:role/NotAUser"}]}
    with pytest.raises(RequestError) as info:
        read_authorization_details(doc)
    assert info.value.path == "$.UserDetailList[0].Arn"


@pytest.mark.parametrize("key, value", [("k" * 129, "v"), ("team", "v" * 257)])
def test_tags_past_iams_quotas_are_refused_at_load(tmp_path, key, value):
    # fuzz/crashes/account/F_INCONSISTENT-*: a 300-character tag key made the reference refuse (context key limit)
    # what the compiled engine decided; IAM itself allows keys of 128 and values of 256 characters
    doc = {"UserDetailList": [{"Arn": USER, "Tags": [{"Key": key, "Value": value}]}]}
    path = tmp_path / "gaad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RequestError) as info:
        load_account(path)
    assert info.value.code == "E_INVALID_AUTHORIZATION_DETAILS" and "Tags[0]" in info.value.path
    with pytest.raises(RequestError) as info:
        parse_tags({key: value})
    assert info.value.code == "E_INVALID_TAGS"
    parse_tags({"k" * 128: "v" * 256})  # at the quotas: accepted


def test_a_principal_that_is_not_an_arn_is_no_session_of_a_role():
    # fuzz/crashes/policy_set/F_DISAGREE-*: "xyz:aws:sts::..." was resolved to the role LexDev by the policy set
    # (so the reference saw the role's tags) but not by the compiled directory
    ps = PolicySet()
    ps.add_principal("arn:aws:iam::111122223333:role/LexDev", [], tags={"team": "ml"})
    ps.add_resource("arn:aws:lex:us-east-1:111122223333:bot:B", policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lex:*",
                                                "Resource": "*",
                                                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}}]}))
    account = Account.from_policy_set(ps)
    for principal, want in [("xyz:aws:sts::111122223333:assumed-role/LexDev/alice", Decision.IMPLICIT_DENY),
                            ("arn:aws:sts::111122223333:assumed-role/LexDev/alice", Decision.ALLOW)]:
        req = Request(principal, "lex:PostText", "arn:aws:lex:us-east-1:111122223333:bot:B")
        assert account.evaluate(req, engine="reference").decision is want
        assert account.evaluate(req).decision is want


def test_runs_of_stars_do_not_stall_the_reference():
    # fuzz/crashes/policy_set/F_SLOW-*: `le********x:GetBot` took 13.8 s in the reference's regular expression
    text = "lex:GetBotChannelAssociation" + "X" * 2000
    assert wildcard_match("le********x:GetBot", text, ignore_case=True) is False
    assert wildcard_match("le********x:GetBot*", text, ignore_case=True) is True
    assert wildcard_match("*a*a*a*a*a*a*a*a*b", "a" * 2048, ignore_case=False) is False
    assert wildcard_match("*a*a*a*a*a*a*a*a*b", "a" * 2048 + "b", ignore_case=False) is True


def test_a_bad_context_is_refused_even_where_policy_errors_answer_error():
    # fuzz/crashes/request/F_NOT_REFUSED-*: a malformed policy made is_allowed answer False before the context
    # was read, while Request refuses the same context
    ps = PolicySet()
    ps.add_principal(USER, ["{"])
    engine = ps.compile()
    assert engine.is_allowed(USER, "lex:PostText", "*") is False  # ERROR, never an allow
    for call in (lambda: engine.is_allowed(USER, "lex:PostText", "*", {"aws:username": None}),
                 lambda: engine.evaluate(Request(USER, "lex:PostText", "*", context={"aws:username": None}))):
        with pytest.raises(RequestError) as info:
            call()
        assert info.value.code == "E_BAD_CONTEXT_VALUE"


def test_a_group_name_that_is_not_a_string_is_a_coded_error(tmp_path):
    # fuzz/open/account/F_UNCODED-bfcacc1e3b191bb9.json: `groups: [{}]` raised TypeError (unhashable dict)
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"account": "111122223333", "region": "us-east-1", "principals": {
        "users": [{"arn": "arn:aws:iam::111122223333:user/developers/maria", "groups": [{}]}]}}))
    with pytest.raises(RequestError) as info:
        load_account(path)
    assert info.value.path.endswith("$.principals.users[0].groups[0]")
