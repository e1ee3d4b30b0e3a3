"""Operations: health and readiness, metrics, decision logs (and a full log queue), request limits, slow clients,
failing closed, and graceful shutdown."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time

import pytest

from service_support import ALICE, AUTHZEN_ACCOUNT, RECORD_1, RECORD_2, Server, write_json

from lexauthz.account import PolicySet

GOOD = {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "lex:DescribeBot"},
        "resource": {"type": "lex_resource", "id": RECORD_1}}
DENY = {"subject": {"type": "iam_principal", "id": ALICE}, "action": {"name": "lex:UpdateBot"},
        "resource": {"type": "lex_resource", "id": RECORD_2}}


def metrics(server) -> dict:
    out = {}
    with server.client() as c:
        for line in c.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
    return out


def test_health_and_readiness_turn_true_once_an_engine_serves(tmp_path):
    engine_path = str(tmp_path / "late.lxa")
    s = Server(["--engine", engine_path, "--grpc-port", "0"], wait_ready=False)
    try:
        with s.client() as c:
            s.wait_line("reload (startup) refused: E_ENGINE_FILE")
            assert c.get("/healthz").status_code == 200
            r = c.get("/readyz")
            assert r.status_code == 503 and r.json()["last_error"]["code"] == "E_ENGINE_FILE"
            # no engine: decisions fail closed
            r = c.post("/access/v1/evaluation", json=GOOD)
            assert r.status_code == 200 and r.json()["decision"] is False
            assert r.json()["context"]["error"]["code"] == "E_NOT_READY"
            batch = c.post("/access/v1/evaluations", json={"evaluations": [GOOD]})
            assert batch.json()["decision"] is False
            ext = c.post("/ext_authz/bot/B/alias/A/user/u/text", headers={"x-lexauthz-principal": ALICE})
            assert ext.status_code == 403
            from grpc_health.v1 import health_pb2, health_pb2_grpc
            import grpc

            with grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}") as ch:
                stub = health_pb2_grpc.HealthStub(ch)
                assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
                    health_pb2.HealthCheckResponse.NOT_SERVING
                from lexauthz.account import load_account

                load_account(AUTHZEN_ACCOUNT).engine().save(engine_path)
                s.proc.send_signal(signal.SIGHUP)
                assert s.wait_ready()["ready"] is True
                deadline = time.monotonic() + 5
                while stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status != \
                        health_pb2.HealthCheckResponse.SERVING:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert c.post("/access/v1/evaluation", json=GOOD).json()["decision"] is True
    finally:
        s.stop()


def test_metrics_count_requests_decisions_errors_and_the_engine(authzen_server, http):
    before = metrics(authzen_server)
    key_allow = 'lexauthz_decisions_total{endpoint="evaluation",outcome="allowed"}'
    key_deny = 'lexauthz_decisions_total{endpoint="evaluation",outcome="implicitDeny"}'
    key_req = 'lexauthz_requests_total{endpoint="evaluation",status="200"}'
    key_err = 'lexauthz_errors_total{code="E_MALFORMED_JSON"}'
    http.post("/access/v1/evaluation", json=GOOD)
    http.post("/access/v1/evaluation", json=GOOD)
    http.post("/access/v1/evaluation", json=DENY)
    http.post("/access/v1/evaluation", content=b"{", headers={"content-type": "application/json"})
    http.post("/access/v1/evaluations", json={"evaluations": [GOOD, DENY, DENY]})
    after = metrics(authzen_server)
    assert after[key_allow] - before.get(key_allow, 0) == 2
    assert after[key_deny] - before.get(key_deny, 0) == 1
    assert after[key_req] - before.get(key_req, 0) == 3
    assert after[key_err] - before.get(key_err, 0) == 1
    assert after['lexauthz_decisions_total{endpoint="evaluations",outcome="implicitDeny"}'] - before.get(
        'lexauthz_decisions_total{endpoint="evaluations",outcome="implicitDeny"}', 0) == 2
    rev = http.get("/readyz").json()["revision"]
    assert after[f'lexauthz_engine_info{{revision="{rev}"}}'] == 1
    assert after["lexauthz_engine_statements"] == 5
    assert after["process_resident_memory_bytes"] > 0
    assert after['lexauthz_request_seconds_count{endpoint="evaluation"}'] >= 4


def test_decision_log_records(tmp_path):
    log = tmp_path / "decisions.jsonl"
    s = Server(["--account", AUTHZEN_ACCOUNT, "--decision-log", str(log)])
    try:
        with s.client() as c:
            one = c.post("/access/v1/evaluation", json=GOOD, headers={"x-request-id": "log-1"})
            many = c.post("/access/v1/evaluations", json={"evaluations": [GOOD, DENY]},
                          headers={"x-request-id": "log-2"})
            assert one.status_code == many.status_code == 200
    finally:
        assert s.stop() == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 3
    first = records[0]
    assert first["schema"] == 1
    assert first["decision_id"] == one.headers["x-lexauthz-decision-id"]
    assert first["revision"] == one.headers["x-lexauthz-engine"]
    assert first["request_id"] == "log-1" and first["endpoint"] == "evaluation"
    assert first["request"] == {"principal": ALICE, "action": "lex:DescribeBot", "resource": RECORD_1}
    assert first["decision"] == "allowed" and first["reasons"][0]["sid"] == "Read"
    assert first["timestamp"].endswith("Z")
    assert [r["decision"] for r in records[1:]] == ["allowed", "implicitDeny"]
    assert len({r["decision_id"] for r in records}) == 3


def test_a_full_decision_log_queue_drops_and_counts_but_never_blocks(tmp_path):
    fifo = str(tmp_path / "nobody-reads.fifo")
    os.mkfifo(fifo)  # the writer blocks opening it: the queue fills up
    s = Server(["--account", AUTHZEN_ACCOUNT, "--decision-log", fifo, "--decision-log-queue", "4"])
    try:
        with s.client() as c:
            for _ in range(40):
                r = c.post("/access/v1/evaluation", json=DENY)
                assert r.status_code == 200 and r.json()["decision"] is False
            assert c.post("/access/v1/evaluation", json=GOOD).json()["decision"] is True
        m = metrics(s)
        assert m["lexauthz_decision_log_dropped_total"] >= 30
        assert m["lexauthz_decision_log_written_total"] == 0
    finally:
        # open the FIFO for reading so that the writer thread can finish
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            s.stop()
        finally:
            os.close(fd)


@pytest.fixture(scope="module")
def limited():
    s = Server(["--account", AUTHZEN_ACCOUNT, "--max-body-bytes", "4096", "--max-batch", "50",
                "--body-timeout", "0.5"])
    yield s
    s.stop()


def test_huge_bodies_are_refused(limited):
    with limited.client() as c:
        r = c.post("/access/v1/evaluation", content=b" " * 100_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.headers["x-lexauthz-error"] == "E_BODY_TOO_LARGE"

        def chunks():
            for _ in range(100):
                yield b" " * 1000

        r = c.post("/access/v1/evaluation", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert c.post("/access/v1/evaluation", json=GOOD).json()["decision"] is True


def test_batch_size_limit(limited):
    with limited.client() as c:
        base = {"subject": GOOD["subject"], "resource": GOOD["resource"], "action": GOOD["action"]}
        r = c.post("/access/v1/evaluations", json=dict(base, evaluations=[{}] * 51))
        assert r.status_code == 400 and r.headers["x-lexauthz-error"] == "E_BATCH_TOO_LARGE"
        ok = c.post("/access/v1/evaluations", json=dict(base, evaluations=[{}] * 50)).json()["evaluations"]
        assert len(ok) == 50 and all(e["decision"] for e in ok)


def _raw(server):
    host, port = server.url[len("http://"):].split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_slow_client_gets_408_and_others_are_served(limited):
    body = json.dumps(GOOD).encode()
    sock = _raw(limited)
    try:
        sock.sendall(b"POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        with limited.client() as c:  # served while the slow one waits
            assert c.post("/access/v1/evaluation", json=GOOD).json()["decision"] is True
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408")
        assert b"E_BODY_TIMEOUT" in reply
    finally:
        sock.close()


def test_batch_time_limit_denies_what_it_did_not_decide():
    s = Server(["--account", AUTHZEN_ACCOUNT, "--decision-timeout", "0"])
    try:
        with s.client() as c:
            out = c.post("/access/v1/evaluations", json={"evaluations": [GOOD] * 1500}).json()["evaluations"]
            decided = [e for e in out if e["decision"]]
            limited = [e for e in out if not e["decision"]]
            assert decided and limited and len(out) == 1500
            assert all(e["context"]["error"]["code"] == "E_TIME_LIMIT" for e in limited)
    finally:
        s.stop()


def test_policy_errors_deny_with_the_error_named(tmp_path):
    ps = PolicySet()
    user = "arn:aws:iam::111122223333:user/x"
    ps.add_principal(user, policies=[{"Version": "2012-10-17", "Statement": [
        {"Effect": "Permit", "Action": "lex:*", "Resource": "*"}]}])
    path = str(tmp_path / "broken.lxa")
    ps.compile().save(path)
    s = Server(["--engine", path])
    try:
        with s.client() as c:
            req = {"subject": {"type": "iam_principal", "id": user}, "action": {"name": "lex:GetBot"},
                   "resource": {"type": "lex_resource", "id": "*"}}
            one = c.post("/access/v1/evaluation", json=req).json()
            assert one["decision"] is False and one["context"]["error"]["code"] == "E_INVALID_EFFECT"
            many = c.post("/access/v1/evaluations", json={"evaluations": [req, req]}).json()["evaluations"]
            assert all(e["decision"] is False and e["context"]["error"]["code"] == "E_INVALID_EFFECT" for e in many)
    finally:
        s.stop()


def test_an_account_with_policy_errors_is_refused_at_load(tmp_path):
    acct = tmp_path / "acct"
    shutil.copytree(AUTHZEN_ACCOUNT, acct)
    write_json(acct / "policies" / "records-bob.json", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Permit", "Action": "lex:*", "Resource": "*"}]})
    s = Server(["--account", str(acct)], wait_ready=False)
    try:
        line = s.wait_line("reload (startup) refused")
        assert "E_POLICY_ERRORS" in line
        with s.client() as c:
            assert c.get("/readyz").status_code == 503
    finally:
        s.stop()


def test_failures_inside_a_decision_are_denies():
    """Fault injection in process: an engine object that raises on every call."""
    from lexauthz.service.authzen import Evaluator
    from lexauthz.service.engines import Loaded

    class Exploding:
        n_statements = 0
        index_bytes = 0

        def evaluate(self, request):
            raise RuntimeError("boom")

        def evaluate_batch(self, *args, **kwargs):
            raise RuntimeError("boom")

    loaded = Loaded(Exploding(), None, "rev", "sha", 0.0, 0.0, 1)
    ev = Evaluator()
    one, _ = ev.evaluation(GOOD, loaded)
    assert one["decision"] is False and one["context"]["error"]["code"] == "E_INTERNAL"
    many, _ = ev.evaluations({"evaluations": [GOOD, GOOD]}, loaded)
    assert [e["decision"] for e in many["evaluations"]] == [False, False]
    from lexauthz.service.extauthz import RouteTable, check

    res = check(RouteTable.default(region="us-east-1"), loaded, "POST", "/bot/OrderFlowers/alias/Prod/user/u/text",
                {"x-lexauthz-principal": ALICE})
    assert res.allowed is False and res.status == 403 and res.code == "E_INTERNAL"


def test_graceful_shutdown_drains_requests_in_flight():
    s = Server(["--account", AUTHZEN_ACCOUNT, "--graceful-timeout", "10"])
    body = json.dumps(GOOD).encode()
    sock = _raw(s)
    try:
        sock.sendall(b"POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert s.proc.poll() is None  # still draining the request in flight
        sock.sendall(body[10:])
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["decision"] is True
    finally:
        sock.close()
    assert s.stop() == 0
    assert any("stopped" in line for line in s.lines)


def test_concurrent_clients_get_consistent_answers(authzen_server):
    """Many threads on keep-alive connections: every answer is the same as a lone client's."""
    import httpx

    expected = {}
    with authzen_server.client() as c:
        for name, req in (("good", GOOD), ("deny", DENY)):
            expected[name] = c.post("/access/v1/evaluation", json=req).json()["decision"]
    failures = []

    def worker():
        with httpx.Client(base_url=authzen_server.url, timeout=10) as c:
            for i in range(100):
                name, req = (("good", GOOD), ("deny", DENY))[i % 2]
                r = c.post("/access/v1/evaluation", json=req)
                if r.status_code != 200 or r.json()["decision"] is not expected[name]:
                    failures.append((r.status_code, r.text))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_serve_usage_errors(capsys):
    from lexauthz.cli import main

    assert main(["serve", "--account", AUTHZEN_ACCOUNT, "--engine", "x.lxa"]) == 1
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["serve", "--account", AUTHZEN_ACCOUNT, "--max-batch", "0"]) == 1
    assert "E_BAD_LIMIT" in capsys.readouterr().err
    assert main(["serve", "--account", AUTHZEN_ACCOUNT, "--admin-token-file", "/nonexistent/token"]) == 1
    assert "E_IO" in capsys.readouterr().err


def test_listen_failure_is_a_coded_error(authzen_server):
    import subprocess
    import sys

    from service_support import ROOT

    port = authzen_server.url.rsplit(":", 1)[1]
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-m", "lexauthz", "serve", "--account", AUTHZEN_ACCOUNT, "--port", port],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and "E_LISTEN" in out.stderr and "Traceback" not in out.stderr
