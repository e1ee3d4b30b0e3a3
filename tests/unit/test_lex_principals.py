"""The principal store: users, roles, role sessions, and the principal context keys each gives a request."""
from __future__ import annotations

import pytest

from lexauthz.errors import RequestError
from lexauthz.lex import PrincipalStore, PrincipalType

A = "111122223333"
USER = f"arn:aws:iam::{A}:user/developers/maria"
ROLE = f"arn:aws:iam::{A}:role/teams/SupportAgent"
SESSION = f"arn:aws:sts::{A}:assumed-role/SupportAgent/bob"
SLR = f"arn:aws:iam::{A}:role/aws-service-role/lex.amazonaws.com/AWSServiceRoleForLexBots"

STORE = PrincipalStore.from_dict({
    "users": [{"arn": USER, "userId": "AIDAEXAMPLEMARIA", "tags": [{"Key": "team", "Value": "flowers"}]}],
    "roles": [{"arn": ROLE, "roleId": "AROAEXAMPLESUPPORT", "tags": {"Department": "Support", "level": "1"}},
              {"arn": SLR, "roleId": "AROAEXAMPLESLR"}],
    "sessions": [{"arn": SESSION, "tags": {"department": "Sales"}}],
})


def test_user_context():
    ctx = STORE.principal_context(USER)
    assert ctx == {
        "aws:PrincipalArn": USER,
        "aws:PrincipalAccount": A,
        "aws:PrincipalType": "User",
        "aws:PrincipalIsAWSService": "false",
        "aws:username": "maria",
        "aws:userid": "AIDAEXAMPLEMARIA",
        "aws:PrincipalTag/team": "flowers",
    }
    p = STORE.resolve(USER)
    assert (p.policy_source, p.known, p.principal_type) == (USER, True, PrincipalType.USER)


def test_role_session_context():
    ctx = STORE.principal_context(SESSION)
    # aws:PrincipalArn is the role's ARN, path included; no aws:username for role sessions.
    assert ctx["aws:PrincipalArn"] == ROLE
    assert ctx["aws:PrincipalAccount"] == A
    assert ctx["aws:PrincipalType"] == "AssumedRole"
    assert ctx["aws:userid"] == "AROAEXAMPLESUPPORT:bob"
    assert "aws:username" not in ctx
    # Session tags override role tags with the same key, compared case-insensitively.
    tags = {k: v for k, v in ctx.items() if k.startswith("aws:PrincipalTag/")}
    assert tags == {"aws:PrincipalTag/level": "1", "aws:PrincipalTag/department": "Sales"}
    p = STORE.resolve(SESSION)
    assert (p.policy_source, p.session_name, p.known) == (ROLE, "bob", True)


def test_unlisted_session_of_a_stored_role_has_the_role_tags():
    ctx = STORE.principal_context(f"arn:aws:sts::{A}:assumed-role/SupportAgent/carol")
    assert ctx["aws:PrincipalArn"] == ROLE
    assert ctx["aws:userid"] == "AROAEXAMPLESUPPORT:carol"
    assert ctx["aws:PrincipalTag/Department"] == "Support"


def test_role_arn_as_caller_is_a_session_named_after_the_role():
    p = STORE.resolve(ROLE)
    assert p.principal_type is PrincipalType.ASSUMED_ROLE
    assert p.context()["aws:userid"] == "AROAEXAMPLESUPPORT:SupportAgent"
    assert p.context()["aws:PrincipalArn"] == ROLE


def test_unknown_principals_get_what_their_arn_says():
    u = STORE.resolve(f"arn:aws:iam::{A}:user/nobody")
    assert not u.known
    assert u.context() == {"aws:PrincipalArn": f"arn:aws:iam::{A}:user/nobody", "aws:PrincipalAccount": A,
                           "aws:PrincipalType": "User", "aws:PrincipalIsAWSService": "false", "aws:username": "nobody"}
    s = STORE.resolve("arn:aws:sts::444455556666:assumed-role/Other/web")
    assert not s.known
    assert s.context() == {"aws:PrincipalArn": "arn:aws:iam::444455556666:role/Other",
                           "aws:PrincipalAccount": "444455556666", "aws:PrincipalType": "AssumedRole",
                           "aws:PrincipalIsAWSService": "false"}


def test_root_federated_and_service_callers():
    root = STORE.resolve(f"arn:aws:iam::{A}:root").context()
    assert (root["aws:PrincipalType"], root["aws:userid"], root["aws:PrincipalArn"]) == ("Account", A, f"arn:aws:iam::{A}:root")
    fed = STORE.resolve(f"arn:aws:sts::{A}:federated-user/Jane").context()
    assert (fed["aws:PrincipalType"], fed["aws:userid"]) == ("FederatedUser", f"{A}:Jane")
    svc = STORE.resolve("connect.amazonaws.com")
    assert svc.principal_type is PrincipalType.SERVICE
    assert svc.context() == {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": "connect.amazonaws.com"}


def test_service_linked_role():
    assert STORE.role(SLR).service_linked
    assert not STORE.role(ROLE).service_linked
    ctx = STORE.principal_context(f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForLexBots/AmazonLex")
    assert ctx["aws:PrincipalArn"] == SLR


def test_builder_matches_from_dict():
    built = (PrincipalStore.builder()
             .add_session(SESSION, tags={"department": "Sales"})
             .add_role(ROLE, role_id="AROAEXAMPLESUPPORT", tags={"Department": "Support", "level": "1"})
             .build())
    assert built.principal_context(SESSION) == STORE.principal_context(SESSION)


@pytest.mark.parametrize("caller", [
    "", "bob", "arn:aws:iam::1111:user/x", "arn:aws:iam::111122223333:group/devs", "arn:aws:sts::111122223333:assumed-role/R",
    "arn:aws:s3:::bucket", "arn:aws:iam::111122223333:user/", 7,
])
def test_invalid_callers(caller):
    with pytest.raises(RequestError) as e:
        STORE.resolve(caller)
    assert (e.value.code, e.value.path) == ("E_INVALID_CALLER", "$.caller")


@pytest.mark.parametrize("data,code,path", [
    ({"sessions": [{"arn": SESSION}]}, "E_UNKNOWN_ROLE", "$.sessions[0].arn"),
    ({"users": [{"arn": ROLE}]}, "E_INVALID_STORE", "$.users[0].arn"),
    ({"users": [{"arn": USER, "userId": "aida-lower"}]}, "E_INVALID_STORE", "$.users[0].userId"),
    ({"users": [{"arn": USER, "policies": []}]}, "E_INVALID_STORE", "$.users[0]"),
    ({"users": [{"userId": "AIDAX"}]}, "E_INVALID_STORE", "$.users[0]"),
    ({"groups": []}, "E_INVALID_STORE", "$"),
    ({"users": {}}, "E_INVALID_STORE", "$.users"),
    ({"users": [{"arn": USER}, {"arn": USER}]}, "E_DUPLICATE_PRINCIPAL", "$.users"),
    ({"roles": [{"arn": ROLE, "tags": {"a": "1", "A": "2"}}]}, "E_DUPLICATE_TAG_KEY", "$.roles[0].tags['A']"),
    ({"roles": [{"arn": ROLE, "tags": {"a": 1}}]}, "E_INVALID_TAGS", "$.roles[0].tags['a']"),
])
def test_store_errors(data, code, path):
    with pytest.raises(RequestError) as e:
        PrincipalStore.from_dict(data)
    assert (e.value.code, e.value.path) == (code, path)


def test_extra_fields_are_allowed_when_named():
    store = PrincipalStore.from_dict({"users": [{"arn": USER, "policies": ["X"]}]}, extra_fields=("policies",))
    assert store.user(USER) is not None


def test_store_objects_are_immutable():
    user = STORE.user(USER)
    with pytest.raises(AttributeError):
        user.arn = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        user.tags["team"] = "other"  # type: ignore[index]
