"""Gateways: Lex API calls over HTTP, Envoy ext_authz over HTTP and over gRPC (a client speaking Envoy's wire format:
the same field numbers), and the gRPC health service, against the bundled example account."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service_support import ROOT, Server, write_json

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_health")

from lexauthz.cli.demo import EXAMPLE_DIR  # noqa: E402
from lexauthz.decision import Decision  # noqa: E402

ALICE = "arn:aws:sts::111122223333:assumed-role/SupportAgent/alice"
BOT_RUNNER = "arn:aws:iam::111122223333:user/botRunner"
PARTNER = "arn:aws:sts::444455556666:assumed-role/PartnerApp/web"
V1_HOST = "runtime.lex.us-east-1.amazonaws.com"
V2_HOST = "runtime-v2-lex.us-east-1.amazonaws.com"
V2_SESSION = "/bots/BOOKTRIP01/botAliases/PRODALIAS1/botLocales/en_US/sessions/s-1"


@pytest.fixture(scope="module")
def example_server(tmp_path_factory):
    routes = tmp_path_factory.mktemp("routes") / "routes.json"
    write_json(routes, {"principal_header": "x-lexauthz-principal", "region": "us-east-1",
                        "account": "111122223333", "routes": [
                            {"method": "GET", "path": "/manage/bots/{botName}", "headers": {"x-tenant": "flowers"},
                             "action": "lex:GetBot", "resource": "arn:aws:lex:{region}:{account}:bot:{botName}"},
                            {"method": "POST", "path": "/bot/{botName}/alias/{botAlias}/user/{userId}/text",
                             "operation": "PostText"},
                            {"method": "POST", "path": "/bots/{botId}/botAliases/{botAliasId}/botLocales/"
                                                      "{localeId}/sessions/{sessionId}/text",
                             "operation": "RecognizeText", "api": "lexv2-runtime"},
                            {"method": "DELETE", "path": "/bots/{botId}/botAliases/{botAliasId}/botLocales/"
                                                         "{localeId}/sessions/{sessionId}",
                             "operation": "DeleteSession", "api": "lexv2-runtime"}]})
    s = Server(["--account", EXAMPLE_DIR, "--grpc-port", "0", "--routes", str(routes)])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def builtin_server():
    s = Server(["--account", EXAMPLE_DIR, "--grpc-port", "0"])
    yield s
    s.stop()


# -- Lex calls ----------------------------------------------------------------------------------------------------


def test_every_curated_lex_call_gets_the_decision_aws_gives(builtin_server):
    with open(os.path.join(EXAMPLE_DIR, "requests.json"), encoding="utf-8") as f:
        cases = json.load(f)["calls"]
    with builtin_server.client() as c:
        for case in cases:
            r = c.post("/lex/v1/authorize", json=case["call"])
            assert r.status_code == 200, (case["id"], r.text)
            body = r.json()
            expected = Decision.from_aws_name(case["expect"])
            assert body["call_decision"] == expected.simulator_name, case["id"]
            assert body["decision"] is (expected is Decision.ALLOW)
            assert body["requests"] and all("action" in q and "resource" in q for q in body["requests"])
            assert body["context"]["engine"] == r.headers["x-lexauthz-engine"]


def test_lex_call_errors_are_coded_400s(builtin_server):
    with builtin_server.client() as c:
        r = c.post("/lex/v1/authorize", json={"operation": "PostTxt", "caller": ALICE, "params": {}})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "E_UNKNOWN_OPERATION"
        assert r.json()["error"]["path"] == "$.operation"
        r = c.post("/lex/v1/authorize", json={"operation": "RecognizeText", "caller": BOT_RUNNER,
                                              "params": {"botId": "B1", "botAliasId": "PRODALIAS1"}})
        assert r.status_code == 400 and r.json()["error"]["path"] == "$.params.botId"


def test_lex_call_context_cannot_assert_stored_tags(builtin_server):
    # the Test alias is tagged Department=Sales; claiming Support must not let the support agent in
    call = {"operation": "PostText", "caller": ALICE, "context": {"aws:ResourceTag/Department": "Support"},
            "params": {"botName": "OrderFlowers", "botAlias": "Test", "userId": "u1", "inputText": "hi"}}
    with builtin_server.client() as c:
        assert c.post("/lex/v1/authorize", json=call).json()["decision"] is False


# -- ext_authz over HTTP ------------------------------------------------------------------------------------------


def ext_http(server, method, path, principal=None, host=V1_HOST, **headers):
    h = {"host": host, "content-length": "0", **headers}
    if principal:
        h["x-lexauthz-principal"] = principal
    with server.client() as c:
        return c.request(method, "/ext_authz" + path, headers=h)


def test_ext_authz_http_builtin_lex_runtime_routes(builtin_server):
    ok = ext_http(builtin_server, "POST", "/bot/OrderFlowers/alias/Prod/user/customer-42/text?x=1", ALICE)
    assert ok.status_code == 200
    assert ok.headers["x-lexauthz-decision"] == "allowed"
    assert ok.headers["x-lexauthz-engine"]
    assert ok.headers["x-lexauthz-decision-id"]
    denied = ext_http(builtin_server, "POST", "/bot/OrderFlowers/alias/Test/user/customer-42/text", ALICE)
    assert denied.status_code == 403
    assert denied.json() == {"decision": False, "reason": "implicitDeny", "engine": ok.headers["x-lexauthz-engine"]}
    assert denied.headers["x-lexauthz-decision"] == "implicitDeny"
    v2 = ext_http(builtin_server, "POST", V2_SESSION + "/text", BOT_RUNNER, host=V2_HOST)
    assert v2.status_code == 200
    assert ext_http(builtin_server, "DELETE", V2_SESSION, PARTNER, host=V2_HOST).status_code == 403


def test_ext_authz_http_denies_what_it_cannot_decide(builtin_server):
    r = ext_http(builtin_server, "POST", "/bot/OrderFlowers/alias/Prod/user/u/text")
    assert r.status_code == 401 and r.json()["error"]["code"] == "E_NO_PRINCIPAL"
    r = ext_http(builtin_server, "GET", "/not/a/lex/path", ALICE)
    assert r.status_code == 403 and r.json()["error"]["code"] == "E_NO_ROUTE"
    r = ext_http(builtin_server, "POST", "/bot/OrderFlowers/alias/Prod/user/u/text", "not-an-arn")
    assert r.status_code == 403 and r.json()["error"]["code"] == "E_INVALID_CALLER"
    r = ext_http(builtin_server, "POST", "/bot/Order!Flowers/alias/Prod/user/u/text", ALICE)
    assert r.status_code == 403 and r.json()["error"]["code"] == "E_INVALID_NAME"
    # the Host names no Region: the account file's Region (us-east-1) applies
    r = ext_http(builtin_server, "POST", "/bot/OrderFlowers/alias/Prod/user/u/text", ALICE, host="gateway.local")
    assert r.status_code == 200


def test_ext_authz_http_route_table(example_server):
    maria = "arn:aws:iam::111122223333:user/developers/maria"
    ok = ext_http(example_server, "GET", "/manage/bots/OrderFlowers", maria, host="gw", **{"x-tenant": "flowers"})
    assert ok.status_code == 200
    wrong_tenant = ext_http(example_server, "GET", "/manage/bots/OrderFlowers", maria, host="gw",
                            **{"x-tenant": "other"})
    assert wrong_tenant.status_code == 403 and wrong_tenant.json()["error"]["code"] == "E_NO_ROUTE"
    assert ext_http(example_server, "POST", "/bot/OrderFlowers/alias/Prod/user/u/text", ALICE,
                    host="gw").status_code == 200


def test_ext_authz_http_refuses_a_body_over_the_limit():
    s = Server(["--account", EXAMPLE_DIR, "--max-body-bytes", "64"])
    try:
        with s.client() as c:
            r = c.post("/ext_authz/bot/OrderFlowers/alias/Prod/user/u/text", content=b"x" * 1000,
                       headers={"x-lexauthz-principal": ALICE, "host": V1_HOST})
            assert r.status_code == 403 and r.json()["error"]["code"] == "E_BODY_TOO_LARGE"
    finally:
        s.stop()


# -- ext_authz over gRPC ------------------------------------------------------------------------------------------


def check_request(method, path, principal=None, host=V1_HOST, source_ip=None, **headers):
    from lexauthz.service.proto import ext_authz_pb2 as pb

    req = pb.CheckRequest()
    http = req.attributes.request.http
    http.method, http.path, http.host = method, path, host
    http.headers[":authority"] = host
    http.headers[":method"] = method
    http.headers[":path"] = path
    for k, v in headers.items():
        http.headers[k] = v
    if principal:
        http.headers["x-lexauthz-principal"] = principal
    if source_ip:
        req.attributes.source.address.socket_address.address = source_ip
        req.attributes.source.address.socket_address.port_value = 51234
    return req


@pytest.fixture(scope="module")
def check_stub(builtin_server):
    from lexauthz.service.proto import ext_authz_pb2 as pb

    channel = grpc.insecure_channel(f"127.0.0.1:{builtin_server.grpc_port}")
    stub = channel.unary_unary("/envoy.service.auth.v3.Authorization/Check",
                               request_serializer=pb.CheckRequest.SerializeToString,
                               response_deserializer=pb.CheckResponse.FromString)
    yield stub
    channel.close()


def test_grpc_check_allows_with_ok_response(check_stub):
    resp = check_stub(check_request("POST", "/bot/OrderFlowers/alias/Prod/user/customer-42/text", ALICE), timeout=5)
    assert resp.status.code == 0
    assert resp.WhichOneof("http_response") == "ok_response"
    headers = {h.header.key: h.header.value for h in resp.ok_response.headers}
    assert headers["x-lexauthz-decision"] == "allowed" and headers["x-lexauthz-engine"]
    meta = dict(resp.dynamic_metadata)
    assert meta["decision"] == "allowed" and meta["engine"] == headers["x-lexauthz-engine"]
    assert meta["decision_id"] == headers["x-lexauthz-decision-id"]


def test_grpc_check_denies_with_permission_denied(check_stub):
    resp = check_stub(check_request("POST", "/bot/OrderFlowers/alias/Test/user/customer-42/text", ALICE), timeout=5)
    assert resp.status.code == 7
    assert resp.WhichOneof("http_response") == "denied_response"
    assert resp.denied_response.status.code == 403
    assert json.loads(resp.denied_response.body)["reason"] == "implicitDeny"
    unauth = check_stub(check_request("POST", "/bot/OrderFlowers/alias/Prod/user/c/text"), timeout=5)
    assert unauth.status.code == 16 and unauth.denied_response.status.code == 401
    no_route = check_stub(check_request("GET", "/elsewhere", ALICE), timeout=5)
    assert no_route.status.code == 7 and json.loads(no_route.denied_response.body)["error"]["code"] == "E_NO_ROUTE"


def test_grpc_check_v2_and_source_ip(check_stub):
    ok = check_stub(check_request("POST", V2_SESSION + "/text", BOT_RUNNER, host=V2_HOST, source_ip="10.1.2.3"),
                    timeout=5)
    assert ok.status.code == 0
    assert check_stub(check_request("DELETE", V2_SESSION, PARTNER, host=V2_HOST), timeout=5).status.code == 7


def test_grpc_answers_equal_http_answers(builtin_server, check_stub):
    paths = [("POST", "/bot/OrderFlowers/alias/Prod/user/a/text", ALICE, V1_HOST),
             ("POST", "/bot/OrderFlowers/alias/Test/user/a/content", ALICE, V1_HOST),
             ("GET", "/bot/OrderFlowers/alias/Prod/user/a/session", PARTNER, V1_HOST),
             ("POST", V2_SESSION + "/conversation", PARTNER, V2_HOST),
             ("POST", V2_SESSION, BOT_RUNNER, V2_HOST)]
    for method, path, who, host in paths:
        h = ext_http(builtin_server, method, path, who, host=host)
        g = check_stub(check_request(method, path, who, host=host), timeout=5)
        assert (h.status_code == 200) == (g.status.code == 0), path
        if h.status_code != 200:
            assert json.loads(g.denied_response.body)["reason"] == h.json()["reason"]


def test_grpc_health_service(builtin_server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{builtin_server.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", "envoy.service.auth.v3.Authorization"):
            resp = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_wire_compatibility_with_envoy_field_numbers():
    """Envoy's field numbers, checked on the descriptor (the wire carries numbers, not names)."""
    from lexauthz.service.proto import ext_authz_pb2 as pb

    def numbers(msg):
        return {f.name: f.number for f in msg.DESCRIPTOR.fields}

    assert numbers(pb.CheckRequest) == {"attributes": 1}
    assert numbers(pb.AttributeContext) == {"source": 1, "destination": 2, "request": 4, "context_extensions": 10}
    assert numbers(pb.AttributeContext.Peer) == {"address": 1, "service": 2, "labels": 3, "principal": 4,
                                                 "certificate": 5}
    assert numbers(pb.AttributeContext.Request) == {"http": 2}
    http = numbers(pb.AttributeContext.HttpRequest)
    assert {k: http[k] for k in ("id", "method", "headers", "path", "host", "scheme", "size", "protocol", "body",
                                 "raw_body", "header_map")} == {
        "id": 1, "method": 2, "headers": 3, "path": 4, "host": 5, "scheme": 6, "size": 9, "protocol": 10,
        "body": 11, "raw_body": 12, "header_map": 13}
    assert numbers(pb.CheckResponse) == {"status": 1, "denied_response": 2, "ok_response": 3, "dynamic_metadata": 4}
    assert numbers(pb.DeniedHttpResponse) == {"status": 1, "headers": 2, "body": 3}
    assert numbers(pb.OkHttpResponse) == {"headers": 2, "headers_to_remove": 5, "response_headers_to_add": 6}
    assert numbers(pb.HeaderValueOption)["header"] == 1 and numbers(pb.HeaderValue) == {"key": 1, "value": 2,
                                                                                         "raw_value": 3}


def test_an_envoy_message_with_fields_we_do_not_model_still_parses():
    """Fields the minimal proto leaves out (``time``, ``metadata_context``, ``tls_session``) are skipped."""
    from google.protobuf import timestamp_pb2

    from lexauthz.service.proto import ext_authz_pb2 as pb

    req = check_request("POST", "/bot/OrderFlowers/alias/Prod/user/a/text", ALICE)
    wire = req.SerializeToString()
    ts = timestamp_pb2.Timestamp(seconds=1_800_000_000).SerializeToString()
    # AttributeContext.Request.time = 1 (a Timestamp) and AttributeContext.tls_session = 12 (bytes of a message)
    extra_request = b"\x0a" + bytes([len(ts)]) + ts
    extra_attrs = b"\x62\x02\x0a\x00"
    inner = pb.AttributeContext.FromString(req.attributes.SerializeToString() + extra_attrs)
    parsed = pb.CheckRequest(attributes=inner)
    parsed.attributes.request.MergeFromString(extra_request)
    assert parsed.attributes.request.http.path == req.attributes.request.http.path
    assert pb.CheckRequest.FromString(wire) == req


def test_committed_generated_code_matches_the_proto(tmp_path):
    pytest.importorskip("grpc_tools")
    proto_dir = os.path.join(ROOT, "lexauthz", "service", "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={tmp_path}",
                    os.path.join(proto_dir, "ext_authz.proto")], check=True)
    with open(tmp_path / "ext_authz_pb2.py", encoding="utf-8") as f:
        fresh = f.read()
    with open(os.path.join(proto_dir, "ext_authz_pb2.py"), encoding="utf-8") as f:
        committed = f.read()
    assert fresh == committed
