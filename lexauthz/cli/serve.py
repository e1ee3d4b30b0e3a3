"""``lexauthz serve``: the decision service (AuthZEN, Lex calls, Envoy ext_authz HTTP and gRPC) on the network.

It needs the ``server`` extra (``pip install 'lexauthz[server]'``; ``--grpc-port`` also the ``grpc`` extra).  The
admin token is read from ``--admin-token-file`` or the ``LEXAUTHZ_ADMIN_TOKEN`` environment variable, never from
the command line (where other users could read it).  See ``docs/service.md``.
"""
from __future__ import annotations

import os

from ._common import EXIT_FAILURE, CliError, UsageError

__all__ = ["register", "run"]


def register(sub) -> None:
    s = sub.add_parser("serve", help="serve decisions over HTTP (AuthZEN, Lex calls, Envoy ext_authz) and gRPC",
                       description="Serve decisions of an account or a saved engine: AuthZEN Authorization API 1.0, "
                                   "Lex API calls and Envoy ext_authz (HTTP, and gRPC with --grpc-port), with hot "
                                   "swap on file change, SIGHUP or POST /admin/reload, Prometheus metrics and "
                                   "JSON Lines decision logs. Stops cleanly on SIGTERM or SIGINT.")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--account", nargs="+", metavar="ACCOUNT",
                     help="the project's account file or folder, or `aws iam get-account-authorization-details` "
                          "output (one file or several); compiled on load, and searchable")
    src.add_argument("--engine", metavar="FILE", help="a saved engine (`Engine.save`); loads fast, no search")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=8181, help="HTTP port (default: 8181; 0 picks a free one)")
    s.add_argument("--grpc-port", type=int, default=None, metavar="PORT",
                   help="also serve Envoy ext_authz over gRPC (and the gRPC health service) on PORT")
    s.add_argument("--canary", metavar="FILE", help="requests with expected decisions every new engine must "
                                                    "reproduce before it serves")
    s.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                   help="poll the engine's files every SECONDS and reload when they change (default: off)")
    s.add_argument("--routes", metavar="FILE", help="the ext_authz route table (default: the Lex runtime API)")
    s.add_argument("--decision-log", metavar="FILE", help="write decision records as JSON Lines to FILE (`-`: "
                                                          "standard output)")
    s.add_argument("--decision-log-queue", type=int, default=10_000, metavar="N",
                   help="entries the decision log may queue before it drops (and counts) lines (default: 10000)")
    s.add_argument("--admin-token-file", metavar="FILE",
                   help="file holding the bearer token of /admin/* (default: $LEXAUTHZ_ADMIN_TOKEN; none: the "
                        "admin endpoints are off)")
    s.add_argument("--no-explain", action="store_true",
                   help="deny answers give only the reason, not the deciding statements or missing context keys")
    s.add_argument("--trust-request-properties", action="store_true",
                   help="take tags and principal keys from requests (subject/resource properties, context); off "
                        "by default, so that a caller cannot grant itself access by asserting tags")
    s.add_argument("--base-url", metavar="URL", help="the policy_decision_point of the metadata document "
                                                     "(default: from the request's Host)")
    s.add_argument("--max-body-bytes", type=int, default=1 << 20, metavar="N", help="largest request body "
                                                                                   "(default: 1 MiB)")
    s.add_argument("--max-batch", type=int, default=10_000, metavar="N",
                   help="most items in one evaluations request (default: 10000)")
    s.add_argument("--body-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time a client has to send its body (default: 10)")
    s.add_argument("--decision-timeout", type=float, default=2.0, metavar="SECONDS",
                   help="decision time of one batch; items left are denied with E_TIME_LIMIT (default: 2)")
    s.add_argument("--graceful-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="on SIGTERM, how long requests in flight may take to finish (default: 10)")
    s.set_defaults(func=run, _parser=s)


def _token(args) -> str | None:
    if args.admin_token_file:
        try:
            with open(args.admin_token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CliError("E_IO", f"cannot read `{args.admin_token_file}`: {reason.lower()}") from None
        if not token:
            raise CliError("E_ADMIN_TOKEN", f"`{args.admin_token_file}` is empty")
        return token
    return os.environ.get("LEXAUTHZ_ADMIN_TOKEN") or None


def run(args) -> int:
    for name in ("port", "max_body_bytes", "max_batch", "decision_log_queue"):
        if getattr(args, name) < 0 or (name != "port" and getattr(args, name) == 0):
            raise UsageError(f"--{name.replace('_', '-')} must be positive", code="E_BAD_LIMIT")
    for name in ("watch", "body_timeout", "decision_timeout", "graceful_timeout"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative", code="E_BAD_LIMIT")
    try:
        import msgspec  # noqa: F401
        import orjson  # noqa: F401
        import uvicorn  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise CliError("E_MISSING_EXTRA", f"`lexauthz serve` needs the server extra (pip install "
                                          f"'lexauthz[server]'): {exc.name} is not installed") from None
    if args.grpc_port is not None:
        try:
            import grpc  # noqa: F401
            import grpc_health  # noqa: F401
        except ImportError as exc:
            raise CliError("E_MISSING_EXTRA", f"--grpc-port needs the grpc extra (pip install 'lexauthz[grpc]'): "
                                              f"{exc.name} is not installed") from None
    from ..service import EngineSource, Limits, ServiceConfig, serve

    if args.engine:
        source = EngineSource.engine_file(args.engine)
    else:
        source = EngineSource.account(args.account)
    config = ServiceConfig(
        host=args.host, port=args.port, grpc_port=args.grpc_port, explain=not args.no_explain,
        trust_request_properties=args.trust_request_properties, admin_token=_token(args),
        decision_log=args.decision_log, decision_log_queue=args.decision_log_queue, canary=args.canary,
        watch_seconds=args.watch, routes=args.routes, base_url=args.base_url,
        graceful_seconds=args.graceful_timeout,
        limits=Limits(max_body_bytes=args.max_body_bytes, max_batch=args.max_batch, body_seconds=args.body_timeout,
                      decision_seconds=args.decision_timeout))
    code = serve(source, config)
    return code if code == 0 else EXIT_FAILURE
