"""The decision service over loopback (group ``service``): p50 / p99 latency and decisions per second.

Workloads: one AuthZEN evaluation, 100- and 1,000-item evaluations batches, Envoy ext_authz over HTTP and over gRPC;
each with 1, 8 and 64 concurrent keep-alive clients, in steady state and while the engine is swapped between two
revisions every 50 ms.  ``test_hot_swap_full`` is the acceptance run: 8 clients, 10^5 requests, 100 swaps, zero
errors, every answer equal to what the engine it names gives offline.

The server is a real ``lexauthz serve`` subprocess; the clients are one asyncio process (raw keep-alive HTTP/1.1
connections, ``grpc.aio`` channels), so on a small machine the clients share the CPU with the server: figures are
the service plus its clients, never better than a dedicated gateway would see.  Every figure is in
``benchmark.extra_info`` (``p50_ms``, ``p99_ms``, ``decisions_per_sec``, ``requests``, ``errors``); the timed
callable is one whole load run (``rounds=1``).

Sizes: ``LEXAUTHZ_BENCH_SERVICE_SECONDS`` (default 2): seconds of load per case.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("orjson")

import lexauthz  # noqa: E402
from lexauthz.account import PolicySet  # noqa: E402

SECONDS = float(os.environ.get("LEXAUTHZ_BENCH_SERVICE_SECONDS", "2"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCT = "111122223333"
N_USERS, N_BOTS = 200, 100
USERS = [f"arn:aws:iam::{ACCT}:user/u{i}" for i in range(N_USERS)]
BOTS = [f"arn:aws:lex:us-east-1:{ACCT}:bot/BOT{i:07d}" for i in range(N_BOTS)]
ALIASES = [f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/BOT{i:07d}/ALIAS{i:05d}" for i in range(N_BOTS)]
ACTIONS = ["lex:DescribeBot", "lex:UpdateBot", "lex:DeleteBot", "lex:RecognizeText", "lex:ListBotAliases"]
TOKEN = "bench-admin-token"
_LISTEN = re.compile(r"listening on http://([^:\s]+):(\d+)(?: grpc://[^:\s]+:(\d+))?")


# -- the workload -------------------------------------------------------------------------------------------------


def policy_set(variant: str) -> PolicySet:
    """200 users in 10 teams, 100 bots with aliases; team bots by tag, a deny on prod deletes; B revokes updates."""
    ps = PolicySet()
    for i, u in enumerate(USERS):
        team = f"t{i % 10}"
        stmts = [
            {"Sid": "ReadAll", "Effect": "Allow", "Action": ["lex:Describe*", "lex:List*"], "Resource": "*"},
            {"Sid": "TeamBots", "Effect": "Allow", "Action": ["lex:UpdateBot", "lex:DeleteBot"],
             "Resource": f"arn:aws:lex:us-east-1:{ACCT}:bot/*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
            {"Sid": "Converse", "Effect": "Allow", "Action": "lex:RecognizeText",
             "Resource": f"arn:aws:lex:us-east-1:{ACCT}:bot-alias/*"},
            {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": "lex:DeleteBot", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/stage": "prod"}}},
        ]
        if variant == "B" and i % 3 == 0:
            stmts.append({"Sid": "Frozen", "Effect": "Deny", "Action": "lex:UpdateBot", "Resource": "*"})
        ps.add_principal(u, policies=[{"Version": "2012-10-17", "Statement": stmts}], tags={"team": team})
    for k, b in enumerate(BOTS):
        ps.add_resource(b, tags={"team": f"t{k % 10}", "stage": "prod" if k % 4 == 0 else "dev"})
    return ps


def requests(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.choice(ACTIONS)
        r = rng.choice(ALIASES if a == "lex:RecognizeText" and rng.random() < 0.9 else BOTS)
        out.append((rng.choice(USERS), a, r))
    return out


def entity(p, a, r):
    return {"subject": {"type": "iam_principal", "id": p}, "action": {"name": a},
            "resource": {"type": "lex_resource", "id": r}}


def http_request(path: str, body: bytes | None = None, method: str = "POST", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: runtime-v2-lex.us-east-1.amazonaws.com"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    else:
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def evaluation_bodies(n=2000):
    return [http_request("/access/v1/evaluation", json.dumps(entity(*q)).encode()) for q in requests(n)]


def batch_bodies(size: int, n=20):
    out = []
    for k in range(n):
        qs = requests(size, seed=100 + k)
        items = [entity(*q) for q in qs]
        out.append(http_request("/access/v1/evaluations", json.dumps({"evaluations": items}).encode()))
    return out


def ext_authz_bodies(n=2000):
    rng = random.Random(11)
    out = []
    for _ in range(n):
        k = rng.randrange(N_BOTS)
        path = f"/ext_authz/bots/BOT{k:07d}/botAliases/ALIAS{k:05d}/botLocales/en_US/sessions/s{rng.randrange(99)}/text"
        out.append(http_request(path, None, "POST", {"x-lexauthz-principal": rng.choice(USERS)}))
    return out


# -- the server ---------------------------------------------------------------------------------------------------


class Service:
    def __init__(self, engine_file: str, extra=()):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   LEXAUTHZ_ADMIN_TOKEN=TOKEN)
        self.proc = subprocess.Popen([sys.executable, "-m", "lexauthz", "serve", "--engine", engine_file, "--port",
                                      "0", "--grpc-port", "0", "--max-body-bytes", str(8 << 20), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        self.lines = []
        ready = threading.Event()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode()
                self.lines.append(line)
                m = _LISTEN.search(line)
                if m:
                    self.host, self.port, self.grpc_port = m.group(1), int(m.group(2)), int(m.group(3))
                if "serving" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or self.proc.poll() is not None:
            raise RuntimeError("".join(self.lines))

    def reload(self) -> dict:
        import http.client

        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        c.request("POST", "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}", "Content-Length": "0"})
        r = c.getresponse()
        out = json.loads(r.read())
        c.close()
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    d = tmp_path_factory.mktemp("service-bench")
    out = {}
    for v in ("A", "B"):
        path = str(d / f"{v}.lxa")
        policy_set(v).compile().save(path)
        out[v] = (path, lexauthz.Engine.load(path))
    live = str(d / "live.lxa")
    shutil.copy(out["A"][0], live)
    out["live"] = live
    return out


@pytest.fixture(scope="module")
def service(engines):
    s = Service(engines["live"])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def service_no_explain(engines):
    s = Service(engines["live"], ["--no-explain"])
    yield s
    s.stop()


# -- load ---------------------------------------------------------------------------------------------------------

_CL = re.compile(rb"content-length: *(\d+)", re.I)
_ENGINE = re.compile(rb"x-lexauthz-engine: *([0-9a-f]+)", re.I)


async def _http_worker(host, port, bodies, offset, more, lat, out, errors, keep):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        errors.append(repr(exc))
        return
    i = offset
    try:
        while more():
            b = bodies[i % len(bodies)]
            t = time.perf_counter()
            writer.write(b)
            head = await reader.readuntil(b"\r\n\r\n")
            m = _CL.search(head)
            body = await reader.readexactly(int(m.group(1))) if m else b""
            lat.append(time.perf_counter() - t)
            status = int(head[9:12])
            if keep is not None:
                e = _ENGINE.search(head)
                keep.append((i % len(bodies), status, e.group(1).decode() if e else None, body))
            out.append(status)
            i += 1
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


async def _grpc_worker(target, reqs, offset, more, lat, out, errors):
    import grpc

    from lexauthz.service.proto import ext_authz_pb2 as pb

    async with grpc.aio.insecure_channel(target) as ch:
        call = ch.unary_unary("/envoy.service.auth.v3.Authorization/Check",
                              request_serializer=pb.CheckRequest.SerializeToString,
                              response_deserializer=pb.CheckResponse.FromString)
        i = offset
        while more():
            t = time.perf_counter()
            try:
                resp = await call(reqs[i % len(reqs)], timeout=10)
            except grpc.RpcError as exc:
                errors.append(repr(exc))
                continue
            lat.append(time.perf_counter() - t)
            out.append(resp.status.code)
            i += 1


def run_load(service, bodies, clients: int, seconds: float, *, grpc_reqs=None, swap=None, keep=None,
             max_requests=None) -> dict:
    """Load for ``seconds``; with ``max_requests``, until that many answers (and the swapper's ``count`` swaps)
    instead, ``seconds`` then being only the limit."""
    lat: list = []
    out: list = []
    errors: list = []
    swaps = [0]
    stop = threading.Event()

    def swapper():
        order = ["B", "A"]
        k = 0
        while not stop.is_set() and (swap["count"] is None or swaps[0] < swap["count"]):
            v = order[k % 2]
            tmp = swap["live"] + ".new"
            shutil.copy(swap["files"][v], tmp)
            os.replace(tmp, swap["live"])
            r = service.reload()
            if not r.get("swapped"):
                errors.append(f"swap refused: {r}")
            swaps[0] += 1
            k += 1
            time.sleep(swap["every"])

    async def main():
        stop_at = time.perf_counter() + seconds

        def more() -> bool:
            if time.perf_counter() >= stop_at:
                return False
            if max_requests is None:
                return True
            return len(out) < max_requests or (swap is not None and swap["count"] is not None
                                               and swaps[0] < swap["count"])

        if grpc_reqs is not None:
            tasks = [_grpc_worker(f"{service.host}:{service.grpc_port}", grpc_reqs, i * 97, more, lat, out,
                                  errors) for i in range(clients)]
        else:
            tasks = [_http_worker(service.host, service.port, bodies, i * 97, more, lat, out, errors, keep)
                     for i in range(clients)]
        await asyncio.gather(*tasks)

    t = None
    if swap is not None:
        t = threading.Thread(target=swapper, daemon=True)
        t.start()
    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    stop.set()
    if t is not None:
        t.join(30)
        # serve revision A again, as before the run: a later steady case must not time whichever revision the
        # swapper left (B explains more denies)
        tmp = swap["live"] + ".new"
        shutil.copy(swap["files"]["A"], tmp)
        os.replace(tmp, swap["live"])
        service.reload()
    lat.sort()
    n = len(lat)
    return {"requests": n, "errors": len(errors), "error_sample": errors[:3], "swaps": swaps[0],
            "p50_ms": round(lat[n // 2] * 1e3, 3) if n else None,
            "p99_ms": round(lat[min(n - 1, int(n * 0.99))] * 1e3, 3) if n else None,
            "requests_per_sec": round(n / elapsed, 1), "statuses": sorted(set(out))}


def _record(benchmark, stats, per_request: int):
    from benchmarks.conftest import SUMMARY

    benchmark.extra_info.update({k: v for k, v in stats.items() if k != "error_sample"})
    benchmark.extra_info["decisions_per_sec"] = round(stats["requests_per_sec"] * per_request, 1)
    SUMMARY[f"service {benchmark.name}"] = (f"p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms, "
                                            f"{benchmark.extra_info['decisions_per_sec']:.0f} decisions/s, "
                                            f"{stats['requests']} requests, {stats['swaps']} swaps, "
                                            f"{stats['errors']} errors")
    assert stats["errors"] == 0, stats["error_sample"]


def _grpc_requests(n=2000):
    from lexauthz.service.proto import ext_authz_pb2 as pb

    rng = random.Random(13)
    out = []
    for _ in range(n):
        k = rng.randrange(N_BOTS)
        req = pb.CheckRequest()
        http = req.attributes.request.http
        http.method = "POST"
        http.host = "runtime-v2-lex.us-east-1.amazonaws.com"
        http.path = f"/bots/BOT{k:07d}/botAliases/ALIAS{k:05d}/botLocales/en_US/sessions/s1/text"
        http.headers["x-lexauthz-principal"] = rng.choice(USERS)
        out.append(req)
    return out


WORKLOADS = ["evaluation", "batch100", "batch1000", "ext_authz_http", "ext_authz_grpc"]


def _bodies(kind):
    if kind == "evaluation":
        return evaluation_bodies(), 1
    if kind == "batch100":
        return batch_bodies(100), 100
    if kind == "batch1000":
        return batch_bodies(1000), 1000
    if kind == "ext_authz_http":
        return ext_authz_bodies(), 1
    return None, 1


@pytest.mark.benchmark(group="service")
@pytest.mark.parametrize("swapping", [False, True], ids=["steady", "swapping"])
@pytest.mark.parametrize("clients", [1, 8, 64])
@pytest.mark.parametrize("kind", WORKLOADS)
def test_service(benchmark, service, engines, kind, clients, swapping):
    if kind == "ext_authz_grpc":
        pytest.importorskip("grpc")
    bodies, per = _bodies(kind)
    grpc_reqs = _grpc_requests() if kind == "ext_authz_grpc" else None
    swap = {"live": engines["live"], "files": {v: engines[v][0] for v in "AB"}, "every": 0.05,
            "count": None} if swapping else None
    stats = {}

    def run():
        stats.update(run_load(service, bodies, clients, SECONDS, grpc_reqs=grpc_reqs, swap=swap))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, stats, per)
    ok = {0, 7} if kind == "ext_authz_grpc" else ({200, 403} if kind == "ext_authz_http" else {200})
    assert set(stats["statuses"]) <= ok, stats["statuses"]


@pytest.mark.benchmark(group="service-explain")
@pytest.mark.parametrize("explain", [True, False], ids=["explain", "no-explain"])
def test_batch1000_explanations(benchmark, service, service_no_explain, explain):
    """What explaining denies costs: a 1,000-item batch with one client, deny reasons on or off."""
    bodies, per = _bodies("batch1000")
    s = service if explain else service_no_explain
    stats = {}

    def run():
        stats.update(run_load(s, bodies, 1, SECONDS))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, stats, per)


@pytest.mark.benchmark(group="service-hot-swap")
def test_hot_swap_full(benchmark, service, engines):
    """8 keep-alive clients, 10^5 evaluation requests, 100 swaps between A and B: zero errors, zero non-200,
    every answer equal to the offline decision of the engine it names; p99 against the steady state."""
    qs = requests(4000, seed=21)
    bodies = [http_request("/access/v1/evaluation", json.dumps(entity(*q)).encode()) for q in qs]
    by_rev = {engines[v][1].revision: engines[v][1] for v in "AB"}
    steady = run_load(service, bodies, 8, 1.0)
    keep: list = []
    swap = {"live": engines["live"], "files": {v: engines[v][0] for v in "AB"}, "every": 0.0, "count": 100}
    stats = {}

    def run():
        # 10^5 answers and 100 swaps, whichever comes last (within 10 minutes)
        stats.update(run_load(service, bodies, 8, 600.0, swap=swap, keep=keep, max_requests=100_000))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, stats, 1)
    assert stats["swaps"] >= 100
    assert stats["statuses"] == [200]
    wrong = 0
    for idx, status, rev, body in keep:
        p, a, r = qs[idx]
        expected = by_rev[rev].evaluate(lexauthz.Request(p, a, r)).decision is lexauthz.Decision.ALLOW
        wrong += json.loads(body)["decision"] is not expected
    benchmark.extra_info["wrong_answers"] = wrong
    benchmark.extra_info["steady_p99_ms"] = steady["p99_ms"]
    benchmark.extra_info["p99_ratio_to_steady"] = round(stats["p99_ms"] / steady["p99_ms"], 2)
    assert wrong == 0
    assert stats["requests"] >= 100_000 and len(keep) == stats["requests"]
