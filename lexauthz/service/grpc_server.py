"""Envoy ext_authz over gRPC: ``envoy.service.auth.v3.Authorization/Check`` on ``grpc.aio``, with the standard
gRPC health service (``grpc.health.v1.Health``, which Envoy's health checks can probe).

The messages come from the project's minimal proto (``proto/ext_authz.proto``, wire-compatible with Envoy's: the
same field numbers), generated once by grpcio-tools and committed (``proto/ext_authz_pb2.py``): the install needs
no code generator and imports no Envoy, udpa, validate or googleapis tree.

A check allows with ``status.code = 0`` and an ``ok_response`` carrying ``x-lexauthz-decision``,
``x-lexauthz-engine`` and ``x-lexauthz-decision-id`` as upstream headers; it denies with ``status.code = 7``
(PERMISSION_DENIED; 16 UNAUTHENTICATED without a principal) and a ``denied_response`` (HTTP 403 or 401, the JSON
body, the same headers).  ``dynamic_metadata`` holds the decision id, the engine revision and the reason for later
filters and access logs.  Any failure is a deny, never an error status that Envoy could be told to let through.
"""
from __future__ import annotations

import asyncio
import threading

__all__ = ["GrpcServer", "SERVICE_NAME", "METHOD"]

SERVICE_NAME = "envoy.service.auth.v3.Authorization"
METHOD = f"/{SERVICE_NAME}/Check"
_OK, _PERMISSION_DENIED, _UNAUTHENTICATED = 0, 7, 16


def _header_options(pb, headers: dict):
    return [pb.HeaderValueOption(header=pb.HeaderValue(key=k, value=str(v))) for k, v in headers.items()]


class GrpcServer:
    """The gRPC ext_authz and health services, on their own thread and event loop.

    ``service`` is the :class:`~lexauthz.service.app.Service` whose engine holder, route table, metrics and
    decision log the checks use.
    """

    def __init__(self, service, host: str, port: int):
        self.service = service
        self.host = host
        self.port = port
        self.bound_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._health = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lexauthz-grpc", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> int:
        """Start serving; returns the bound port (useful with port 0)."""
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the gRPC server did not start in time")
        if self._error is not None:
            raise self._error
        return self.bound_port

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, let calls in flight finish (up to ``grace`` seconds), then stop."""
        loop = self._loop
        if loop is None or self._server is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._server.stop(grace), loop)
        try:
            fut.result(grace + 2)
        except Exception:  # noqa: BLE001 - shutting down regardless
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(grace + 2)

    def set_serving(self, serving: bool) -> None:
        """Report SERVING (an engine is loaded) or NOT_SERVING on the health service."""
        loop, health = self._loop, self._health
        if loop is None or health is None:
            return
        from grpc_health.v1 import health_pb2

        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING

        async def setter():
            for name in ("", SERVICE_NAME):
                await health.set(name, status)

        asyncio.run_coroutine_threadsafe(setter(), loop)

    def _run(self) -> None:
        # A plain selector loop of its own: grpc.aio does not share uvicorn's (uvloop) loop.
        loop = self._loop = asyncio.SelectorEventLoop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start(self) -> None:
        import grpc
        from grpc_health.v1 import health, health_pb2_grpc

        from .proto import ext_authz_pb2 as pb

        self._pb = pb
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        handler = grpc.method_handlers_generic_handler(SERVICE_NAME, {
            "Check": grpc.unary_unary_rpc_method_handler(
                self._check, request_deserializer=pb.CheckRequest.FromString,
                response_serializer=pb.CheckResponse.SerializeToString)})
        server.add_generic_rpc_handlers((handler,))
        self._health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        self.bound_port = server.add_insecure_port(f"{self.host}:{self.port}")
        if not self.bound_port:
            raise OSError(f"cannot listen on {self.host}:{self.port} for gRPC")
        await server.start()
        self._server = server
        ready = self.service.holder.current is not None
        from grpc_health.v1 import health_pb2

        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self._health.set(name, status)

    # -- the check ----------------------------------------------------------------------------------------------

    async def _check(self, request, context):
        import time

        from google.protobuf import struct_pb2

        from .extauthz import check

        t0 = time.perf_counter()
        pb = self._pb
        svc = self.service
        headers: dict = {}
        try:
            http = request.attributes.request.http
            headers = dict(http.headers)
            if not headers and http.header_map.headers:
                headers = {h.key.lower(): (h.value or h.raw_value.decode("latin-1")) for h in http.header_map.headers}
            else:
                headers = {k.lower(): v for k, v in headers.items()}
            source_ip = request.attributes.source.address.socket_address.address or None
            path = http.path or "/"
            prefix = svc.routes.path_prefix
            if prefix and (path == prefix or path.startswith(prefix + "/")):
                path = path[len(prefix):] or "/"
            res = check(svc.routes, svc.holder.current, http.method or "GET", path, headers,
                        host=http.host or headers.get(":authority") or headers.get("host"), source_ip=source_ip)
        except Exception as exc:  # noqa: BLE001 - fail closed
            from .extauthz import _deny

            cur = svc.holder.current
            res = _deny(403, "error", cur.revision if cur else None, "E_INTERNAL",
                        f"the check failed: {type(exc).__name__}: {exc}")
        did = svc.next_id()
        res.headers["x-lexauthz-decision-id"] = did
        meta = struct_pb2.Struct()
        meta.update({"decision_id": did, "engine": res.revision or "", "decision": res.reason})
        if res.allowed:
            out = pb.CheckResponse(status=pb.RpcStatus(code=_OK),
                                   ok_response=pb.OkHttpResponse(headers=_header_options(pb, res.headers)),
                                   dynamic_metadata=meta)
        else:
            code = _UNAUTHENTICATED if res.status == 401 else _PERMISSION_DENIED
            out = pb.CheckResponse(
                status=pb.RpcStatus(code=code, message=res.message or res.reason),
                denied_response=pb.DeniedHttpResponse(status=pb.HttpStatus(code=res.status),
                                                      headers=_header_options(pb, res.headers),
                                                      body=svc._dumps(res.body).decode()),
                dynamic_metadata=meta)
        svc._observe("ext_authz_grpc", res.status, t0, res.code)
        if res.records:
            svc._count("ext_authz_grpc", res.records)
            if svc.log is not None:
                svc.log.put("ext_authz_grpc", headers.get("x-request-id"), res.revision, res.records, did)
        elif not res.allowed:
            svc._count("ext_authz_grpc", [(None, "error", None, None)])
        return out
