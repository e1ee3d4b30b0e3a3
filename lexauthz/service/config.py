"""The service's settings: what it listens on, what it trusts, how much it accepts, where it logs."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Limits", "ServiceConfig"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the service.

    - ``max_body_bytes``: a larger body is refused with HTTP 413 (``E_BODY_TOO_LARGE``) before it is parsed.
    - ``max_batch``: the most items an evaluations request may hold (HTTP 400, ``E_BATCH_TOO_LARGE``).
    - ``body_seconds``: the time a client has to send its whole body (HTTP 408, ``E_BODY_TIMEOUT``): a slow client
      cannot hold a worker.
    - ``decision_seconds``: the decision time one evaluations request may take; items not decided by then are
      denied with ``E_TIME_LIMIT`` (never allowed).
    - ``max_page``: the largest search page (a larger ``page.limit`` is capped to it).
    - ``max_engine_bytes``: the largest engine file a reload reads (``E_ENGINE_TOO_LARGE``).
    """

    max_body_bytes: int = 1 << 20
    max_batch: int = 10_000
    body_seconds: float = 10.0
    decision_seconds: float = 2.0
    max_page: int = 1000
    max_engine_bytes: int = 1 << 30


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``lexauthz serve`` is told.

    - ``explain``: deny answers name the deciding statements and the missing context keys (``False``: only the
      reason, as a PDP that must not reveal policy internals answers).
    - ``trust_request_properties``: take ``subject.properties`` / ``resource.properties`` as the principal's and the
      resource's tags, and let the request's context set ``aws:PrincipalTag/*``, ``aws:ResourceTag/*`` and the
      principal keys.  Off by default: a caller must not grant itself access by asserting tags; the account's
      stored tags and the keys derived from the principal ARN win.
    - ``admin_token``: the bearer token of ``/admin/*``; ``None`` disables the admin endpoints (HTTP 403).
    - ``decision_log``: a JSON Lines file (``-``: standard output), written by a background thread from a queue
      of ``decision_log_queue`` entries; when the queue is full, lines are dropped and counted, never waited for.
    - ``canary``: a file of requests with expected decisions that every new engine must reproduce before it serves.
    - ``watch_seconds``: poll the engine's files this often and reload when their content changes (0: no polling).
    - ``routes``: the ext_authz route table file (``None``: the built-in Lex runtime routes).
    - ``base_url``: the ``policy_decision_point`` of the metadata document (default: from the request's Host).
    """

    host: str = "127.0.0.1"
    port: int = 8181
    grpc_port: int | None = None
    explain: bool = True
    trust_request_properties: bool = False
    admin_token: str | None = None
    decision_log: str | None = None
    decision_log_queue: int = 10_000
    canary: str | None = None
    watch_seconds: float = 0.0
    routes: str | None = None
    base_url: str | None = None
    graceful_seconds: float = 10.0
    limits: Limits = field(default_factory=Limits)
