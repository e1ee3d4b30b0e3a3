"""The decision service: lexauthz over the network, for gateways that cannot embed it.

``lexauthz serve --account ACCOUNT | --engine FILE`` answers

- the AuthZEN Authorization API 1.0 (evaluation, evaluations, subject / resource / action search, metadata),
  with the entity mapping of :mod:`.mapping`;
- Lex API calls (:mod:`.lexcall`): the IAM requests AWS makes for a call, and their decisions;
- Envoy ext_authz, HTTP and gRPC (:mod:`.extauthz`, :mod:`.grpc_server`);

with hot swap of the engine (:mod:`.engines`: file checks, canary, one assignment), Prometheus metrics and JSON
Lines decision logs (:mod:`.observe`).  It needs the ``server`` extra (``pip install 'lexauthz[server]'``) and, for
gRPC, the ``grpc`` extra; neither is imported by ``import lexauthz``.  See ``docs/service.md``.
"""
from .config import Limits, ServiceConfig
from .engines import Canary, EngineHolder, EngineSource, Loaded
from .errors import ServiceError

__all__ = ["Canary", "EngineHolder", "EngineSource", "Limits", "Loaded", "ServiceConfig", "ServiceError", "serve",
           "build_service"]


def serve(source: EngineSource, config: ServiceConfig) -> int:
    """Run the service until SIGTERM / SIGINT (see :func:`lexauthz.service.server.serve`)."""
    from .server import serve as _serve

    return _serve(source, config)


def build_service(source: EngineSource, config: ServiceConfig, *, log=None):
    """The ASGI :class:`~lexauthz.service.app.Service` over ``source``, for embedding in another ASGI server."""
    from .server import build_service as _build

    return _build(source, config, log=log)
