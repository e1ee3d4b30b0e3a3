"""Hot swap: file checks and canary before a swap, the triggers (admin endpoint, SIGHUP, file change), the engine
revision on every answer, and swaps under load from concurrent keep-alive clients."""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import threading
import time

import pytest

from service_support import ADMIN_TOKEN, Server, write_json

import lexauthz
from lexauthz.account import PolicySet

ACCT = "111122223333"
USERS = [f"arn:aws:iam::{ACCT}:user/u{i}" for i in range(6)]
BOTS = [f"arn:aws:lex:us-east-1:{ACCT}:bot/BOT000000{i}" for i in range(4)]
ACTIONS = ["lex:DescribeBot", "lex:UpdateBot", "lex:DeleteBot", "lex:ListBotAliases"]


def policy_set(variant: str) -> PolicySet:
    """Two revisions of one account: B revokes updates from odd users and lets even users delete tagged bots."""
    ps = PolicySet()
    for i, u in enumerate(USERS):
        stmts = [{"Sid": "Read", "Effect": "Allow", "Action": ["lex:Describe*", "lex:List*"],
                  "Resource": f"arn:aws:lex:us-east-1:{ACCT}:bot/*"},
                 {"Sid": "Update", "Effect": "Allow", "Action": "lex:UpdateBot", "Resource": BOTS[i % 4]}]
        if variant == "B":
            if i % 2:
                stmts.append({"Sid": "NoUpdates", "Effect": "Deny", "Action": "lex:UpdateBot", "Resource": "*"})
            else:
                stmts.append({"Sid": "DeleteTagged", "Effect": "Allow", "Action": "lex:DeleteBot", "Resource": "*",
                              "Condition": {"StringEquals": {"aws:ResourceTag/stage": "dev"}}})
        ps.add_principal(u, policies=[{"Version": "2012-10-17", "Statement": stmts}], tags={"team": f"t{i % 2}"})
    for k, b in enumerate(BOTS):
        ps.add_resource(b, tags={"stage": "dev" if k % 2 else "prod"})
    return ps


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines")
    out = {}
    for v in ("A", "B"):
        engine = policy_set(v).compile()
        path = str(d / f"{v}.lxa")
        engine.save(path)
        out[v] = (path, lexauthz.Engine.load(path))
    assert out["A"][1].revision != out["B"][1].revision
    return out


def canary_for(engine, path, flip=False) -> str:
    reqs = []
    for u in USERS[:3]:
        for b in BOTS[:2]:
            for a in ACTIONS[:3]:
                d = engine.evaluate(lexauthz.Request(u, a, b)).decision
                if flip:
                    d = lexauthz.Decision.IMPLICIT_DENY if d is lexauthz.Decision.ALLOW else lexauthz.Decision.ALLOW
                reqs.append({"principal": u, "action": a, "resource": b, "expect": d.simulator_name})
    return write_json(path, {"requests": reqs})


def body(u, a, b):
    return {"subject": {"type": "iam_principal", "id": u}, "action": {"name": a},
            "resource": {"type": "lex_resource", "id": b}}


def serving_revision(server) -> str:
    with server.client() as c:
        return c.get("/readyz").json()["revision"]


def reload(server):
    with server.client() as c:
        return c.post("/admin/reload", headers=server.admin())


@pytest.fixture()
def served(tmp_path, engines):
    live = str(tmp_path / "live.lxa")
    shutil.copy(engines["A"][0], live)
    canary = canary_for(engines["A"][1], tmp_path / "canary.json")
    s = Server(["--engine", live, "--canary", canary])
    yield s, live, canary
    s.stop()


def test_corrupt_and_truncated_files_never_swap(served, engines, tmp_path):
    s, live, _ = served
    rev_a = engines["A"][1].revision
    with open(engines["B"][0], "rb") as f:
        data = f.read()
    for bad, code in ((data[: len(data) // 2], "E_PLAN_FORMAT"),
                      (data[:40] + bytes([data[40] ^ 0xFF]) + data[41:], "E_PLAN_FORMAT"),
                      (b"", "E_PLAN_FORMAT"), (b"not an engine at all", "E_PLAN_FORMAT")):
        with open(live, "wb") as f:
            f.write(bad)
        r = reload(s)
        assert r.status_code == 409
        assert r.json()["swapped"] is False and r.json()["error"]["code"] == code
        assert serving_revision(s) == rev_a
        with s.client() as c:
            status = c.get("/admin/engine", headers=s.admin()).json()
            assert status["engine"]["revision"] == rev_a
            assert status["last_error"]["code"] == code and status["last_error"]["trigger"] == "admin"
            ans = c.post("/access/v1/evaluation", json=body(USERS[1], "lex:UpdateBot", BOTS[1]))
            assert ans.headers["x-lexauthz-engine"] == rev_a and ans.json()["decision"] is True
    os.remove(live)
    r = reload(s)
    assert r.status_code == 409 and r.json()["error"]["code"] == "E_ENGINE_FILE"
    assert serving_revision(s) == rev_a


def test_a_failing_canary_never_swaps(served, engines, tmp_path):
    s, live, canary = served
    rev_a = engines["A"][1].revision
    # B decides the canary's requests otherwise than A for odd users' updates: make the canary expect A's answers
    # on requests where B differs
    reqs = [{"principal": USERS[1], "action": "lex:UpdateBot", "resource": BOTS[1], "expect": "allowed"}]
    write_json(canary, {"requests": reqs})
    shutil.copy(engines["B"][0], live)
    r = reload(s)
    assert r.status_code == 409 and r.json()["error"]["code"] == "E_CANARY_MISMATCH"
    assert serving_revision(s) == rev_a
    # a canary that B satisfies lets it in
    canary_for(engines["B"][1], canary)
    r = reload(s)
    assert r.status_code == 200 and r.json()["swapped"] is True
    assert serving_revision(s) == engines["B"][1].revision
    # a canary file that is not valid refuses the swap too
    with open(canary, "w") as f:
        f.write("{")
    shutil.copy(engines["A"][0], live)
    r = reload(s)
    assert r.status_code == 409 and r.json()["error"]["code"] == "E_CANARY_FILE"


def test_sighup_reloads(served, engines):
    s, live, canary = served
    canary_for(engines["B"][1], canary)
    shutil.copy(engines["B"][0], live)
    s.proc.send_signal(signal.SIGHUP)
    rev_b = engines["B"][1].revision
    s.wait_line(f"engine {rev_b} serving")
    assert serving_revision(s) == rev_b


def test_file_change_reloads(tmp_path, engines):
    live = str(tmp_path / "live.lxa")
    shutil.copy(engines["A"][0], live)
    s = Server(["--engine", live, "--watch", "0.1"])
    try:
        rev_b = engines["B"][1].revision
        tmp = live + ".new"
        shutil.copy(engines["B"][0], tmp)
        os.replace(tmp, live)
        s.wait_line(f"engine {rev_b} serving")
        assert serving_revision(s) == rev_b
        # a corrupt write is refused and reported; the fixed file then swaps
        with open(tmp, "wb") as f:
            f.write(b"garbage")
        os.replace(tmp, live)
        s.wait_line("reload (file-change) refused: E_PLAN_FORMAT")
        assert serving_revision(s) == rev_b
        shutil.copy(engines["A"][0], tmp)
        os.replace(tmp, live)
        s.wait_line(f"engine {engines['A'][1].revision} serving")
    finally:
        s.stop()


def test_admin_endpoints_are_authenticated(served):
    s, _, _ = served
    with s.client() as c:
        assert c.post("/admin/reload").status_code == 401
        assert c.post("/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/admin/engine", headers={"Authorization": ADMIN_TOKEN}).status_code == 401
        assert c.get("/admin/engine", headers=s.admin()).status_code == 200


def test_admin_endpoints_are_off_without_a_token(engines):
    s = Server(["--engine", engines["A"][0]], env={"LEXAUTHZ_ADMIN_TOKEN": ""})
    try:
        with s.client() as c:
            r = c.post("/admin/reload", headers={"Authorization": "Bearer anything"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "E_ADMIN_DISABLED"
    finally:
        s.stop()


# -- swaps under load ---------------------------------------------------------------------------------------------

CLIENTS = 8
PER_CLIENT = 5000
SWAPS = 20


def _client(host, port, seed, n, out, errors):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for _ in range(n):
            u, a, b = rng.choice(USERS), rng.choice(ACTIONS), rng.choice(BOTS)
            payload = json.dumps(body(u, a, b))
            try:
                conn.request("POST", "/access/v1/evaluation", payload, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except Exception as exc:  # noqa: BLE001 - counted: the test wants none
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            out.append((resp.status, resp.getheader("x-lexauthz-engine"), u, a, b, data))
    finally:
        conn.close()


def _metric(server, name) -> float:
    with server.client() as c:
        for line in c.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_hot_swap_under_load(tmp_path, engines):
    live = str(tmp_path / "live.lxa")
    shutil.copy(engines["A"][0], live)
    s = Server(["--engine", live])
    try:
        host, port = s.url[len("http://"):].split(":")
        by_rev = {engines[v][1].revision: engines[v][1] for v in ("A", "B")}
        # warm up, then take the memory baseline
        warm: list = []
        _client(host, int(port), 0, 300, warm, [])
        baseline = _metric(s, "process_resident_memory_bytes")
        results: list = []
        errors: list = []
        threads = [threading.Thread(target=_client, args=(host, int(port), 1 + i, PER_CLIENT, results, errors))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        swapped = 0
        order = ["B", "A"] * (SWAPS // 2)
        total = CLIENTS * PER_CLIENT
        with s.client() as c:
            for k, v in enumerate(order):
                # spread the swaps over the run
                while len(results) < (k + 1) * total // (SWAPS + 1) and any(t.is_alive() for t in threads):
                    time.sleep(0.005)
                tmp = live + ".new"
                shutil.copy(engines[v][0], tmp)
                os.replace(tmp, live)
                r = c.post("/admin/reload", headers=s.admin())
                assert r.status_code == 200, r.text
                swapped += r.json()["swapped"]
        for t in threads:
            t.join()
        assert errors == []
        assert swapped == SWAPS
        assert len(results) == CLIENTS * PER_CLIENT
        seen = set()
        for status, rev, u, a, b, data in results:
            assert status == 200
            assert rev in by_rev
            seen.add(rev)
            got = json.loads(data)
            assert got["context"]["engine"] == rev
            expected = by_rev[rev].evaluate(lexauthz.Request(u, a, b)).decision is lexauthz.Decision.ALLOW
            assert got["decision"] is expected, (rev, u, a, b)
        assert seen == set(by_rev)
        # no engine outlives its requests, and memory comes back
        deadline = time.monotonic() + 5
        while _metric(s, "lexauthz_engines_alive") > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _metric(s, "lexauthz_engines_alive") == 1
        assert _metric(s, "process_resident_memory_bytes") < baseline + 64 * 1024 * 1024
        assert s.stop() == 0
    finally:
        s.stop()
