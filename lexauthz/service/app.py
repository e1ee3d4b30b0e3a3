"""The HTTP side of the decision service: one raw ASGI callable (no framework), served by uvicorn.

Endpoints:

================================================  ==============================================================
``POST /access/v1/evaluation``                    AuthZEN Access Evaluation
``POST /access/v1/evaluations``                   AuthZEN Access Evaluations (batches)
``POST /access/v1/search/{subject,resource,action}``  AuthZEN search (needs ``--account``)
``GET /.well-known/authzen-configuration``        AuthZEN metadata
``POST /lex/v1/authorize``                        a Lex API call (:mod:`lexauthz.service.lexcall`)
``ANY /ext_authz/...``                            Envoy ext_authz HTTP service (:mod:`lexauthz.service.extauthz`)
``GET /healthz``, ``GET /readyz``                 liveness; readiness (200 once an engine serves)
``GET /metrics``                                  Prometheus metrics
``GET /admin/engine``, ``POST /admin/reload``     the serving engine and its last reload; reload now (bearer token)
================================================  ==============================================================

Every response names the engine that decided it (``x-lexauthz-engine`` header; AuthZEN ``context.engine``) and
echoes ``X-Request-ID``.  AuthZEN errors are HTTP 400 with a JSON string body ``"<code> at <path>: <message>"``
and the code in the ``x-lexauthz-error`` header; other endpoints answer ``{"error": {"code", "message", "path"}}``.
"""
from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import time
from typing import Any

from .authzen import Evaluator, metadata
from .config import ServiceConfig
from .engines import EngineHolder
from .errors import ServiceError
from .extauthz import RouteTable, check

__all__ = ["Service"]

_JSON = b"application/json"
# An evaluations batch larger than _OFFLOAD_ITEMS is decided on a worker thread while other requests are in flight,
# so that the event loop goes on reading and parsing them; alone, a batch of up to _INLINE_ITEMS (a few ms of work)
# is decided in the event loop, which saves the two thread hand-offs (about 0.25 ms on a 1,000-item batch).
_OFFLOAD_ITEMS = 256
_INLINE_ITEMS = 2_000


class _Disconnected(Exception):
    pass


class Service:
    """The decision service: an ASGI callable over an :class:`EngineHolder`.

    Parameters
    ----------
    holder:
        The engine holder (hot swap); requests read ``holder.current`` once each.
    config:
        The settings (:class:`ServiceConfig`).
    log:
        A :class:`~lexauthz.service.observe.DecisionLog`, or ``None``.
    """

    def __init__(self, holder: EngineHolder, config: ServiceConfig, *, log=None, metrics=None,
                 routes: RouteTable | None = None):
        import orjson

        from .wire import CommonBatch, common_batch

        self._common_batch = common_batch
        self._common_type = CommonBatch
        self._dumps = orjson.dumps
        self._loads = orjson.loads
        self._json_error = orjson.JSONDecodeError
        self.holder = holder
        self.config = config
        self.log = log
        self.metrics = metrics
        self.routes = routes or RouteTable.default()
        lim = config.limits
        self.evaluator = Evaluator(explain=config.explain, trust_request_properties=config.trust_request_properties,
                                   max_batch=lim.max_batch, decision_seconds=lim.decision_seconds,
                                   max_page=lim.max_page)
        self._post = {
            "/access/v1/evaluation": ("evaluation", self._evaluation),
            "/access/v1/evaluations": ("evaluations", self._evaluations),
            "/access/v1/search/subject": ("search_subject", self._search("subject")),
            "/access/v1/search/resource": ("search_resource", self._search("resource")),
            "/access/v1/search/action": ("search_action", self._search("action")),
            "/lex/v1/authorize": ("lex_call", self._lex_call),
        }
        self._authzen = {k for k in self._post if k.startswith("/access/")}
        self.inflight = 0
        self._ids = itertools.count(1)
        self._boot = os.urandom(4).hex()

    # -- ASGI ---------------------------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        t0 = time.perf_counter()
        self.inflight += 1
        try:
            await self._handle(scope, receive, send, t0)
        except _Disconnected:
            pass
        finally:
            self.inflight -= 1

    async def _handle(self, scope, receive, send, t0):
        path = scope["path"]
        method = scope["method"]
        headers = {}
        for k, v in scope["headers"]:
            headers[k.decode("latin-1")] = v.decode("latin-1")
        rid = headers.get("x-request-id")
        prefix = self.routes.path_prefix
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            await self._ext_authz(scope, receive, send, method, path[len(prefix):] or "/", headers, rid, t0)
            return
        entry = self._post.get(path)
        if entry is not None:
            endpoint, handler = entry
            authzen = path in self._authzen
            if method != "POST":
                await self._error(send, ServiceError("E_METHOD", f"`{method}` is not allowed: use POST", "$", 405),
                                  rid, endpoint, t0, authzen)
                return
            try:
                body = await self._json_body(receive, headers, path == "/access/v1/evaluations")
                cur = self.holder.current
                if cur is None:
                    raise ServiceError("E_NOT_READY", "no engine is loaded yet", "$", 503)
                payload, records = await handler(body, cur)
            except ServiceError as exc:
                if exc.code == "E_NOT_READY" and authzen and path.endswith(("evaluation", "evaluations")):
                    # fail closed as a decision, not as an HTTP error a PEP might treat as "no opinion"
                    await self._reply(send, 200, {"decision": False, "context": {"reason": "error",
                                                                                  "error": exc.to_dict()}},
                                      rid, None, endpoint, t0)
                    self._count(endpoint, [(None, "error", None, None)])
                    return
                await self._error(send, exc, rid, endpoint, t0, authzen)
                return
            did = self.next_id()
            await self._reply(send, 200, payload, rid, cur.revision, endpoint, t0, {"x-lexauthz-decision-id": did})
            if records:
                self._count(endpoint, records)
                if self.log is not None:
                    self.log.put(endpoint, rid, cur.revision, records, did)
            return
        if method in ("GET", "HEAD"):
            if path == "/.well-known/authzen-configuration" or path.startswith("/.well-known/authzen-configuration/"):
                cur = self.holder.current
                base = self.config.base_url or _base_url(scope, headers)
                await self._reply(send, 200, metadata(base, cur is not None and cur.account is not None), rid,
                                  None, "metadata", t0)
                return
            if path == "/healthz":
                await self._reply(send, 200, {"status": "ok"}, rid, None, "healthz", t0)
                return
            if path == "/readyz":
                cur = self.holder.current
                if cur is None:
                    await self._reply(send, 503, {"ready": False, "last_error": self.holder.last_error}, rid, None,
                                      "readyz", t0)
                else:
                    await self._reply(send, 200, {"ready": True, "revision": cur.revision}, rid, cur.revision,
                                      "readyz", t0)
                return
            if path == "/metrics" and self.metrics is not None:
                body = self.metrics.render()
                await self._raw(send, 200, body, b"text/plain; version=0.0.4; charset=utf-8", rid, None)
                self.metrics.observe("metrics", 200, time.perf_counter() - t0)
                return
        if path.startswith("/admin/"):
            await self._admin(scope, receive, send, method, path, headers, rid, t0)
            return
        await self._error(send, ServiceError("E_NOT_FOUND", f"no endpoint `{method} {path}`", "$", 404), rid,
                          "other", t0, False)

    # -- handlers -----------------------------------------------------------------------------------------------

    async def _evaluation(self, body, cur):
        return self.evaluator.evaluation(body, cur)

    async def _evaluations(self, body, cur):
        if type(body) is self._common_type:
            items, decide = body.evaluations, self.evaluator.common_evaluations
        else:
            items = body.get("evaluations") if isinstance(body, dict) else None
            decide = self.evaluator.evaluations
        if isinstance(items, list) and len(items) > _OFFLOAD_ITEMS and (self.inflight > 1
                                                                         or len(items) > _INLINE_ITEMS):
            return await asyncio.get_running_loop().run_in_executor(None, decide, body, cur)
        return decide(body, cur)

    def _search(self, kind):
        async def handler(body, cur):
            payload = await asyncio.get_running_loop().run_in_executor(None, self.evaluator.search, kind, body, cur)
            return payload, []
        return handler

    async def _lex_call(self, body, cur):
        from .lexcall import authorize_call

        return authorize_call(body, cur, explain=self.config.explain, trust=self.config.trust_request_properties)

    async def _ext_authz(self, scope, receive, send, method, path, headers, rid, t0):
        try:
            await self._read_body(receive, headers)
        except ServiceError as exc:
            await self._raw(send, 403, self._dumps({"decision": False, "reason": "error",
                                                    "error": {"code": exc.code, "message": exc.message}}),
                            _JSON, rid, None, {"x-lexauthz-decision": "error"})
            self._observe("ext_authz_http", 403, t0, exc.code)
            return
        qs = scope.get("query_string") or b""
        full = path + ("?" + qs.decode("latin-1") if qs else "")
        res = check(self.routes, self.holder.current, method, full, headers, host=headers.get("host"))
        body = b"" if res.allowed else self._dumps(res.body)
        did = self.next_id()
        res.headers["x-lexauthz-decision-id"] = did
        await self._raw(send, res.status, body, _JSON, rid, None, res.headers)
        self._observe("ext_authz_http", res.status, t0, res.code)
        if res.records:
            self._count("ext_authz_http", res.records)
            if self.log is not None:
                self.log.put("ext_authz_http", rid, res.revision, res.records, did)
        elif not res.allowed:
            self._count("ext_authz_http", [(None, "error", None, None)])

    async def _admin(self, scope, receive, send, method, path, headers, rid, t0):
        token = self.config.admin_token
        if not token:
            await self._error(send, ServiceError("E_ADMIN_DISABLED", "the admin endpoints are disabled: serve "
                                                 "with an admin token", "$", 403), rid, "admin", t0, False)
            return
        given = headers.get("authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
            await self._error(send, ServiceError("E_UNAUTHORIZED", "a valid `Authorization: Bearer` token is "
                                                 "needed", "$", 401), rid, "admin", t0, False)
            return
        if path == "/admin/engine" and method == "GET":
            status = self.holder.status()
            await self._reply(send, 200, status, rid, status["engine"]["revision"] if status["engine"] else None,
                              "admin", t0)
            return
        if path == "/admin/reload" and method == "POST":
            try:
                await self._read_body(receive, headers)
            except ServiceError as exc:
                await self._error(send, exc, rid, "admin", t0, False)
                return
            outcome = await asyncio.get_running_loop().run_in_executor(None, self.holder.reload, "admin")
            await self._reply(send, 200 if outcome.swapped else 409, outcome.to_dict(), rid, outcome.revision,
                              "admin", t0)
            return
        await self._error(send, ServiceError("E_NOT_FOUND", f"no endpoint `{method} {path}`", "$", 404), rid,
                          "admin", t0, False)

    # -- plumbing -----------------------------------------------------------------------------------------------

    async def _read_body(self, receive, headers) -> bytes:
        limit = self.config.limits.max_body_bytes
        cl = headers.get("content-length")
        if cl is not None:
            try:
                declared = int(cl)
            except ValueError:
                raise ServiceError("E_BAD_REQUEST", "`Content-Length` is not a number", "$") from None
            if declared > limit:
                raise ServiceError("E_BODY_TOO_LARGE", f"the body of {declared} bytes exceeds the limit of {limit}",
                                   "$", 413)
        chunks = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.limits.body_seconds
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ServiceError("E_BODY_TIMEOUT", "the body did not arrive in time", "$", 408)
            try:
                msg = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                raise ServiceError("E_BODY_TIMEOUT", f"the body did not arrive within "
                                   f"{self.config.limits.body_seconds} s", "$", 408) from None
            if msg["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = msg.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise ServiceError("E_BODY_TOO_LARGE", f"the body exceeds the limit of {limit} bytes", "$", 413)
                chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _json_body(self, receive, headers, common: bool = False) -> Any:
        """The parsed body; with ``common``, a batch of common items comes as a :class:`wire.CommonBatch`."""
        ctype = headers.get("content-type", "")
        body = await self._read_body(receive, headers)
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise ServiceError("E_CONTENT_TYPE", f"`Content-Type` must be `application/json`, not "
                               f"`{ctype or 'absent'}`", "$")
        if not body.strip():
            raise ServiceError("E_EMPTY_BODY", "the request body is empty", "$")
        if common:
            batch = self._common_batch(body)
            if batch is not None:
                return batch
        try:
            return self._loads(body)
        except self._json_error as exc:
            raise ServiceError("E_MALFORMED_JSON", f"the body is not JSON: {str(exc).lower()}", "$") from None

    def _count(self, endpoint, records):
        if self.metrics is None:
            return
        a = i = e = r = 0
        for rec in records:
            word = rec[1]
            if word == "allowed":
                a += 1
            elif word == "implicitDeny":
                i += 1
            elif word == "explicitDeny":
                e += 1
            else:
                r += 1
        self.metrics.count_decisions(endpoint, a, i, e, r)

    def _observe(self, endpoint, status, t0, code=None):
        if self.metrics is not None:
            self.metrics.observe(endpoint, status, time.perf_counter() - t0)
            if code:
                self.metrics.error(code)

    def next_id(self) -> str:
        """A decision id unique to this process run (``<boot>-<n>``); the log numbers a batch's items after it."""
        if self.log is not None:
            return self.log.next_id()
        return f"{self._boot}-{next(self._ids)}"

    async def _reply(self, send, status, payload, rid, revision, endpoint, t0, extra=None):
        await self._raw(send, status, self._dumps(payload), _JSON, rid, revision, extra)
        self._observe(endpoint, status, t0)

    async def _error(self, send, exc: ServiceError, rid, endpoint, t0, authzen: bool):
        if authzen:
            body = self._dumps(str(exc))
        else:
            body = self._dumps({"error": {"code": exc.code, "message": exc.message, "path": exc.path}})
        await self._raw(send, exc.status, body, _JSON, rid, None, {"x-lexauthz-error": exc.code})
        self._observe(endpoint, exc.status, t0, exc.code)

    async def _raw(self, send, status, body: bytes, ctype: bytes, rid, revision, extra=None):
        hdrs = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        if rid is not None:
            hdrs.append((b"x-request-id", rid.encode("latin-1")))
        if revision:
            hdrs.append((b"x-lexauthz-engine", revision.encode()))
        if extra:
            hdrs.extend((k.encode("latin-1"), str(v).encode("latin-1")) for k, v in extra.items())
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})


def _base_url(scope, headers) -> str:
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"
