"""The OpenID AuthZEN certification scenario (Basic, Batch, Search, Discovery), written from the published scenario
document and mapped onto IAM policies for Lex, against a real ``lexauthz serve`` over HTTP.

The scenario's fixture: subjects ``alice`` (a user) and ``bob`` (a user, ``role: admin``); resources ``record-1``
(``status: active``) and ``record-2`` (``status: archived``); actions ``read``, ``write`` and ``delete`` (with
``soft: bool``).  Here ``alice`` and ``bob`` are IAM users with those tags, ``record-N`` are Lex V2 bots with those
tags, and ``read`` / ``write`` / ``delete`` are ``lex:DescribeBot`` / ``lex:UpdateBot`` / ``lex:DeleteBot``
(``tests/service/data/authzen/``).  :func:`to_iam` rewrites the scenario's requests into that vocabulary and
nothing else: every decision comes from the IAM policies.
"""
from __future__ import annotations

import copy
import json

import pytest

from service_support import ACCOUNT_ID, ALICE, AUTHZEN_ACCOUNT, BOB, RECORD_1, RECORD_2, Server

SUBJECTS = {"alice": ALICE, "bob": BOB}
RESOURCES = {"record-1": RECORD_1, "record-2": RECORD_2}
ACTIONS = {"read": "lex:DescribeBot", "write": "lex:UpdateBot", "delete": "lex:DeleteBot"}
BACK = {v: k for d in (SUBJECTS, RESOURCES, ACTIONS) for k, v in d.items()}


def to_iam(req: dict) -> dict:
    """The scenario's request in the IAM vocabulary of the mapping (ids and names only)."""
    out = copy.deepcopy(req)

    def fix(obj, kind):
        if not isinstance(obj, dict):
            return
        if kind == "subject":
            obj["type"] = "iam_principal" if obj.get("type") == "user" else obj.get("type")
            if "id" in obj:
                obj["id"] = SUBJECTS.get(obj["id"], obj["id"])
        elif kind == "resource":
            obj["type"] = "lex_resource" if obj.get("type") == "record" else obj.get("type")
            if "id" in obj:
                obj["id"] = RESOURCES.get(obj["id"], obj["id"])
        elif kind == "action" and "name" in obj:
            obj["name"] = ACTIONS.get(obj["name"], obj["name"])

    for key in ("subject", "resource", "action"):
        fix(out.get(key), key)
    for item in out.get("evaluations") or []:
        for key in ("subject", "resource", "action"):
            fix(item.get(key), key)
    return out


def subject(name, **props):
    s = {"type": "user", "id": name}
    if props:
        s["properties"] = props
    return s


def resource(name, **props):
    r = {"type": "record", "id": name}
    if props:
        r["properties"] = props
    return r


def action(name, **props):
    a = {"name": name}
    if props:
        a["properties"] = props
    return a


# The eight validated decisions: (request, expected decision)
DECISIONS = [
    ({"subject": subject("alice"), "action": action("read"), "resource": resource("record-1")}, True),
    ({"subject": subject("alice"), "action": action("write"), "resource": resource("record-1")}, True),
    ({"subject": subject("bob"), "action": action("read"), "resource": resource("record-1")}, True),
    ({"subject": subject("bob"), "action": action("write"), "resource": resource("record-1")}, False),
    ({"subject": subject("alice"), "action": action("write"), "resource": resource("record-2", status="archived")},
     False),
    ({"subject": subject("bob", role="admin"), "action": action("write"),
      "resource": resource("record-2", status="archived")}, True),
    ({"subject": subject("alice"), "action": action("delete", soft=True), "resource": resource("record-1")}, True),
    ({"subject": subject("alice"), "action": action("delete", soft=False), "resource": resource("record-1")}, False),
]


def post(http, path, body, **kw):
    return http.post(path, content=json.dumps(body), headers={"content-type": "application/json", **kw})


# -- Basic --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(DECISIONS)))
def test_basic_decision(http, i):
    req, expected = DECISIONS[i]
    r = post(http, "/access/v1/evaluation", to_iam(req))
    assert r.status_code == 200
    body = r.json()
    assert body["decision"] is expected
    assert body["context"]["engine"] == r.headers["x-lexauthz-engine"]
    if not expected:
        assert body["context"]["reason"] in ("implicitDeny", "explicitDeny")


def test_deny_names_reason_deciding_and_missing_keys(http):
    r = post(http, "/access/v1/evaluation", to_iam({"subject": subject("alice"), "action": action("delete"),
                                                    "resource": resource("record-1")}))
    ctx = r.json()["context"]
    assert r.json()["decision"] is False
    assert ctx["reason"] == "implicitDeny"
    assert ctx["deciding"] == []
    assert ctx["missing_context_values"] == ["lexauthz:soft"]
    allow = post(http, "/access/v1/evaluation", to_iam(DECISIONS[0][0])).json()
    assert allow["context"]["deciding"] == [{"policy_id": "RecordsAlice", "policy_type": "identity",
                                             "statement": 1, "sid": "Read"}]


def test_request_id_is_echoed_and_decisions_are_idempotent(http):
    req = to_iam(DECISIONS[3][0])
    first = post(http, "/access/v1/evaluation", req, **{"X-Request-ID": "cert-7f3a"})
    again = post(http, "/access/v1/evaluation", req, **{"X-Request-ID": "cert-7f3b"})
    assert first.headers["x-request-id"] == "cert-7f3a"
    assert again.headers["x-request-id"] == "cert-7f3b"
    assert first.json() == again.json()
    batch = post(http, "/access/v1/evaluations", {"evaluations": [req]}, **{"X-Request-ID": "b-1"})
    assert batch.headers["x-request-id"] == "b-1"


def test_unknown_fields_are_ignored(http):
    req = to_iam(DECISIONS[0][0])
    req["extension"] = {"x": 1}
    req["subject"]["nickname"] = "al"
    assert post(http, "/access/v1/evaluation", req).json()["decision"] is True


# -- Batch --------------------------------------------------------------------------------------------------------


def test_batch_keeps_order_and_cardinality(http):
    items = [to_iam(req) for req, _ in DECISIONS]
    r = post(http, "/access/v1/evaluations", {"evaluations": items})
    assert r.status_code == 200
    got = [e["decision"] for e in r.json()["evaluations"]]
    assert got == [expected for _, expected in DECISIONS]
    assert "decision" not in r.json()


def test_batch_defaults_and_overrides(http):
    body = to_iam({"subject": subject("alice"), "resource": resource("record-1"), "action": action("read"),
                   "evaluations": [{}, {"action": action("write")}, {"subject": subject("bob"),
                                                                     "action": action("write")},
                                   {"resource": resource("record-2"), "action": action("write")},
                                   {"action": action("delete"), "context": {"lexauthz:soft": "true"}}]})
    got = [e["decision"] for e in post(http, "/access/v1/evaluations", body).json()["evaluations"]]
    assert got == [True, True, False, False, True]


def test_batch_context_default_is_replaced_not_merged(http):
    body = to_iam({"subject": subject("alice"), "resource": resource("record-1"), "action": action("delete"),
                   "context": {"lexauthz:soft": "true"},
                   "evaluations": [{}, {"context": {"aws:SourceIp": "10.0.0.1"}}]})
    got = [e["decision"] for e in post(http, "/access/v1/evaluations", body).json()["evaluations"]]
    assert got == [True, False]


def test_absent_or_empty_evaluations_is_a_single_evaluation(http):
    for evaluations in (None, []):
        body = to_iam(DECISIONS[0][0])
        if evaluations is not None:
            body["evaluations"] = evaluations
        r = post(http, "/access/v1/evaluations", body)
        assert r.status_code == 200 and r.json()["decision"] is True


@pytest.mark.parametrize("semantic, expected", [
    ("execute_all", [True, False, True, False]),
    ("deny_on_first_deny", [True, False]),
    ("permit_on_first_permit", [True]),
])
def test_batch_semantics(http, semantic, expected):
    items = [to_iam(DECISIONS[k][0]) for k in (0, 3, 2, 4)]
    r = post(http, "/access/v1/evaluations", {"evaluations": items, "options": {"evaluations_semantic": semantic}})
    assert [e["decision"] for e in r.json()["evaluations"]] == expected


def test_permit_on_first_permit_after_denies(http):
    items = [to_iam(DECISIONS[k][0]) for k in (3, 4, 5, 0)]
    r = post(http, "/access/v1/evaluations",
             {"evaluations": items, "options": {"evaluations_semantic": "permit_on_first_permit"}})
    assert [e["decision"] for e in r.json()["evaluations"]] == [False, False, True]


def test_per_item_errors_under_execute_all_are_denies(http):
    items = [to_iam(DECISIONS[0][0]), {"subject": {"type": "iam_principal"}, "action": {"name": "lex:GetBot"},
                                       "resource": {"type": "lex_resource", "id": RECORD_1}},
             {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": 123},
              "resource": {"type": "lex_resource", "id": RECORD_1}},
             {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "DescribeBot"},
              "resource": {"type": "lex_resource", "id": RECORD_1}},
             to_iam(DECISIONS[1][0])]
    r = post(http, "/access/v1/evaluations", {"evaluations": items, "options": {"evaluations_semantic":
                                                                                  "execute_all"}})
    assert r.status_code == 200
    out = r.json()["evaluations"]
    assert [e["decision"] for e in out] == [True, False, False, False, True]
    assert [out[k]["context"]["error"]["code"] for k in (1, 2, 3)] == ["E_MISSING_FIELD", "E_BAD_FIELD",
                                                                       "E_BAD_ACTION"]
    assert out[1]["context"]["error"]["path"] == "$.evaluations[1].subject.id"
    assert out[1]["context"]["error"]["status"] == 400


def test_bad_semantic_is_400(http):
    r = post(http, "/access/v1/evaluations", {"evaluations": [to_iam(DECISIONS[0][0])],
                                              "options": {"evaluations_semantic": "first_wins"}})
    assert r.status_code == 400 and r.headers["x-lexauthz-error"] == "E_BAD_OPTION"


# -- Search -------------------------------------------------------------------------------------------------------


def search(http, kind, body):
    r = post(http, f"/access/v1/search/{kind}", body)
    assert r.status_code == 200, r.text
    return r.json()


def names(results):
    return {BACK.get(x.get("id", x.get("name")), x.get("id", x.get("name"))) for x in results}


def test_s1_who_can_read_record_1(http):
    out = search(http, "subject", to_iam({"subject": {"type": "user"}, "action": action("read"),
                                          "resource": resource("record-1")}))
    assert names(out["results"]) >= {"alice", "bob"}
    assert out["page"]["next_token"] == ""


def test_s2_who_can_write_record_1(http):
    out = search(http, "subject", to_iam({"subject": {"type": "user"}, "action": action("write"),
                                          "resource": resource("record-1")}))
    assert names(out["results"]) == {"alice"}


def test_s3_actions_of_alice_on_record_1(http):
    out = search(http, "action", to_iam({"subject": subject("alice"), "resource": resource("record-1")}))
    got = names(out["results"])
    assert got >= {"read", "write"}
    assert "delete" not in got  # only with soft=true in the context
    with_soft = search(http, "action", to_iam({"subject": subject("alice"), "resource": resource("record-1"),
                                               "context": {"lexauthz:soft": "true"}}))
    assert names(with_soft["results"]) >= {"read", "write", "delete"}


def test_s4_records_alice_can_write(http):
    out = search(http, "resource", to_iam({"subject": subject("alice"), "action": action("write"),
                                           "resource": {"type": "record"}}))
    assert names(out["results"]) == {"record-1"}


def test_s5_records_bob_can_write(http):
    out = search(http, "resource", to_iam({"subject": subject("bob"), "action": action("write"),
                                           "resource": {"type": "record"}}))
    assert names(out["results"]) == {"record-2"}


def test_s6_actions_of_bob_on_record_2(http):
    out = search(http, "action", to_iam({"subject": subject("bob"), "resource": resource("record-2")}))
    assert names(out["results"]) >= {"read", "write"}


def test_search_pages_are_stable_and_checked(http):
    body = to_iam({"subject": {"type": "user"}, "action": action("read"), "resource": resource("record-1"),
                   "page": {"limit": 1}})
    first = search(http, "subject", body)
    assert first["page"]["count"] == 1 and first["page"]["total"] == 2 and first["page"]["next_token"]
    body2 = dict(body, page={"limit": 1, "token": first["page"]["next_token"]})
    second = search(http, "subject", body2)
    assert second["page"]["next_token"] == ""
    assert [first["results"][0]["id"], second["results"][0]["id"]] == sorted([ALICE, BOB])
    changed = dict(body2, action={"name": "lex:UpdateBot"})
    r = post(http, "/access/v1/search/subject", changed)
    assert r.status_code == 400 and r.headers["x-lexauthz-error"] == "E_BAD_PAGE_TOKEN"


def test_search_400s(http):
    r = post(http, "/access/v1/search/subject", {"action": {"name": "lex:DescribeBot"},
                                                 "resource": {"type": "lex_resource", "id": RECORD_1}})
    assert r.status_code == 400 and r.headers["x-lexauthz-error"] == "E_MISSING_SUBJECT"
    r = post(http, "/access/v1/search/resource", {"subject": {"type": "iam_principal", "id": ALICE},
                                                  "action": {"name": "lex:DescribeBot"}, "resource": {}})
    assert r.status_code == 400 and r.headers["x-lexauthz-error"] == "E_MISSING_FIELD"


# -- Discovery ----------------------------------------------------------------------------------------------------


def test_metadata_document(authzen_server, http):
    r = http.get("/.well-known/authzen-configuration")
    assert r.status_code == 200
    meta = r.json()
    base = meta["policy_decision_point"]
    assert base == authzen_server.url
    assert meta["access_evaluation_endpoint"] == f"{base}/access/v1/evaluation"
    assert meta["access_evaluations_endpoint"] == f"{base}/access/v1/evaluations"
    for kind in ("subject", "resource", "action"):
        assert meta[f"search_{kind}_endpoint"] == f"{base}/access/v1/search/{kind}"
    assert "urn:lexauthz:authzen:subject-type:iam_principal" in meta["capabilities"]
    assert all(v not in (None, "", []) for v in meta.values())
    # every advertised endpoint answers
    for key in ("access_evaluation_endpoint", "access_evaluations_endpoint"):
        assert post(http, meta[key][len(base):], to_iam(DECISIONS[0][0])).status_code == 200


def test_metadata_without_search_for_a_saved_engine(tmp_path):
    from lexauthz.account import load_account

    path = str(tmp_path / "records.lxa")
    load_account(AUTHZEN_ACCOUNT).engine().save(path)
    s = Server(["--engine", path])
    try:
        with s.client() as c:
            meta = c.get("/.well-known/authzen-configuration").json()
            assert "search_subject_endpoint" not in meta
            r = post(c, "/access/v1/search/subject", to_iam({"subject": {"type": "user"}, "action": action("read"),
                                                             "resource": resource("record-1")}))
            assert r.status_code == 501 and r.headers["x-lexauthz-error"] == "E_SEARCH_UNAVAILABLE"
            assert post(c, "/access/v1/evaluation", to_iam(DECISIONS[0][0])).json()["decision"] is True
    finally:
        s.stop()


# -- the exact 400 cases ------------------------------------------------------------------------------------------

GOOD = {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "lex:DescribeBot"},
        "resource": {"type": "lex_resource", "id": RECORD_1}}


def _without(key, sub=None):
    body = copy.deepcopy(GOOD)
    if sub is None:
        del body[key]
    else:
        del body[key][sub]
    return body


BAD_REQUESTS = [
    ("missing subject", json.dumps(_without("subject")), "application/json", "E_MISSING_SUBJECT"),
    ("missing action", json.dumps(_without("action")), "application/json", "E_MISSING_ACTION"),
    ("missing resource", json.dumps(_without("resource")), "application/json", "E_MISSING_RESOURCE"),
    ("missing subject type", json.dumps(_without("subject", "type")), "application/json", "E_MISSING_FIELD"),
    ("missing subject id", json.dumps(_without("subject", "id")), "application/json", "E_MISSING_FIELD"),
    ("missing resource type", json.dumps(_without("resource", "type")), "application/json", "E_MISSING_FIELD"),
    ("missing resource id", json.dumps(_without("resource", "id")), "application/json", "E_MISSING_FIELD"),
    ("missing action name", json.dumps(_without("action", "name")), "application/json", "E_MISSING_FIELD"),
    ("wrong content type", json.dumps(GOOD), "text/plain", "E_CONTENT_TYPE"),
    ("malformed JSON", '{"subject": {"type": "iam_principal", ', "application/json", "E_MALFORMED_JSON"),
    ("empty body", "", "application/json", "E_EMPTY_BODY"),
    ("subject is a string", json.dumps(dict(GOOD, subject="alice")), "application/json", "E_BAD_SUBJECT"),
    ("action name is a number", json.dumps(dict(GOOD, action={"name": 123})), "application/json", "E_BAD_FIELD"),
    ("body is a list", json.dumps([GOOD]), "application/json", "E_BAD_REQUEST"),
    ("unsupported subject type", json.dumps(dict(GOOD, subject={"type": "user", "id": "alice"})),
     "application/json", "E_UNSUPPORTED_TYPE"),
    ("resource id is not an ARN", json.dumps(dict(GOOD, resource={"type": "lex_resource", "id": "record-1"})),
     "application/json", "E_BAD_RESOURCE"),
    ("context is a list", json.dumps(dict(GOOD, context=["a"])), "application/json", "E_BAD_CONTEXT"),
    ("context value is an object", json.dumps(dict(GOOD, context={"aws:SourceIp": {"a": 1}})), "application/json",
     "E_BAD_CONTEXT_VALUE"),
]


@pytest.mark.parametrize("name, body, ctype, code", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
@pytest.mark.parametrize("path", ["/access/v1/evaluation", "/access/v1/evaluations"])
def test_exact_400_cases(http, name, body, ctype, code, path):
    r = http.post(path, content=body.encode(), headers={"content-type": ctype, "x-request-id": "bad-1"})
    assert r.status_code == 400, r.text
    assert r.headers["x-lexauthz-error"] == code
    assert r.headers["x-request-id"] == "bad-1"
    message = r.json()
    assert isinstance(message, str) and message.startswith(code)
    # the server keeps serving
    assert post(http, "/access/v1/evaluation", GOOD).json()["decision"] is True


def test_wrong_method_and_unknown_path(http):
    assert http.get("/access/v1/evaluation").status_code == 405
    r = http.post("/access/v2/evaluation", json=GOOD)
    assert r.status_code == 404 and r.json()["error"]["code"] == "E_NOT_FOUND"


# -- what a caller may not assert ---------------------------------------------------------------------------------


def test_request_tags_do_not_grant_access_by_default(http):
    # alice may not write an archived record; claiming that record-2 is active must not change that
    forged = {"subject": {"type": "iam_principal", "id": ALICE, "properties": {"tags": {"role": "admin"}}},
              "action": {"name": "lex:UpdateBot"},
              "resource": {"type": "lex_resource", "id": RECORD_2, "properties": {"status": "active"}},
              "context": {"aws:ResourceTag/status": "active", "aws:PrincipalArn": BOB}}
    assert post(http, "/access/v1/evaluation", forged).json()["decision"] is False
    # nor may bob's admin write be taken away or granted by asserting tags on record-1
    forged_bob = {"subject": {"type": "iam_principal", "id": BOB}, "action": {"name": "lex:UpdateBot"},
                  "resource": {"type": "lex_resource", "id": RECORD_1},
                  "context": {"aws:resourcetag/STATUS": "archived"}}
    assert post(http, "/access/v1/evaluation", forged_bob).json()["decision"] is False


def test_trusted_request_properties_when_the_operator_turns_them_on():
    s = Server(["--account", AUTHZEN_ACCOUNT, "--trust-request-properties"])
    try:
        with s.client() as c:
            forged = {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "lex:UpdateBot"},
                      "resource": {"type": "lex_resource", "id": RECORD_2, "properties": {"status": "active"}}}
            assert post(c, "/access/v1/evaluation", forged).json()["decision"] is True
            # the scenario's Properties level: the properties decide
            req, expected = DECISIONS[5]
            assert post(c, "/access/v1/evaluation", to_iam(req)).json()["decision"] is expected
            bob_user = to_iam({"subject": subject("bob", role="user"), "action": action("write"),
                               "resource": resource("record-2", status="archived")})
            assert post(c, "/access/v1/evaluation", bob_user).json()["decision"] is False
    finally:
        s.stop()


def test_common_shape_batch_equals_single_evaluations(http):
    # the account stores different tags on the two records: a batch of the common item shape, where one subject's
    # items share a context per stored-tag set, gives each item the answer of the single evaluation endpoint
    items = [{"subject": {"type": "iam_principal", "id": s}, "action": {"name": a},
              "resource": {"type": "lex_resource", "id": r}}
             for s in (ALICE, BOB) for r in (RECORD_1, RECORD_2, RECORD_1) for a in ACTIONS.values()]
    got = post(http, "/access/v1/evaluations", {"evaluations": items}).json()["evaluations"]
    assert len(got) == len(items)
    singles = [post(http, "/access/v1/evaluation", item).json() for item in items]
    assert [g["decision"] for g in got] == [s["decision"] for s in singles]
    assert len({g["decision"] for g in got}) == 2
    for g, s in zip(got, singles):
        if not g["decision"]:
            assert g["context"]["reason"] == s["context"]["reason"]
            assert g["context"]["deciding"] == s["context"]["deciding"]


def test_batch_of_repeated_rows_across_chunks_equals_single_evaluations(http):
    alias = f"arn:aws:lex:us-east-1:{ACCOUNT_ID}:bot-alias/BOTID/ALIASID"  # no policy names it
    # more items than one engine call decides (512), each row many times over, allows, explained denies (missing
    # `lexauthz:soft`, unmet tag conditions), items with a context and per-item errors, one of them a row the engine
    # refuses (so a chunk is decided again without it): every item gets what the single endpoint gives it
    common = [{"subject": {"type": "iam_principal", "id": s}, "action": {"name": a},
               "resource": {"type": "lex_resource", "id": r}}
              for s in (ALICE, BOB) for r in (RECORD_1, RECORD_2, alias) for a in ACTIONS.values()]
    odd = [{"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "lex:DeleteBot"},
            "resource": {"type": "lex_resource", "id": RECORD_1}, "context": {"lexauthz:soft": "true"}},
           {"subject": {"type": "iam_principal"}, "action": {"name": "lex:GetBot"},
            "resource": {"type": "lex_resource", "id": RECORD_1}},
           {"subject": {"type": "iam_principal", "id": BOB}, "action": {"name": "DescribeBot"},
            "resource": {"type": "lex_resource", "id": RECORD_2}}]
    distinct = common + odd
    items = [distinct[(k * 5) % len(distinct)] for k in range(1200)]
    got = post(http, "/access/v1/evaluations", {"evaluations": items}).json()["evaluations"]
    assert len(got) == len(items)
    singles = [post(http, "/access/v1/evaluation", item) for item in distinct]
    kinds = set()
    for k, g in enumerate(got):
        single = singles[(k * 5) % len(distinct)]
        if single.status_code == 400:
            # the single endpoint refuses a malformed item; in a batch it is that item's error, at its path
            kinds.add("error")
            err = g["context"]["error"]
            assert g["decision"] is False and g["context"]["reason"] == "error"
            assert single.json() == f"{err['code']} at {err['path'].replace(f'$.evaluations[{k}]', '$', 1)}: " \
                                    f"{err['message']}"
            continue
        s = single.json()
        assert g["decision"] is s["decision"]
        if g["decision"]:
            kinds.add("allow")
            continue
        kinds.add("deny")
        want = dict(s["context"])
        want.pop("engine")
        assert g["context"] == want
        assert "missing_context_values" in want
    assert kinds == {"allow", "deny", "error"}
    # the explanations differ between rows that share all but the resource
    missing = {tuple(g["context"].get("missing_context_values", ())) for g in got if not g["decision"]}
    assert {(), ("lexauthz:soft",)} <= missing
