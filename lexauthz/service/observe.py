"""Metrics (Prometheus, through ``prometheus_client``) and decision logs (JSON Lines from a bounded queue).

Decision log records follow the house ``DecisionRecord``: ``{"schema": 1, "decision_id", "revision", "timestamp",
"endpoint", "request_id", "request", "decision", "reasons", "errors"}``.  A request never waits for the log: it puts
one entry on a bounded queue (a whole evaluations batch is one entry), a background thread formats and writes the
lines, and when the queue is full the entry is dropped and ``lexauthz_decision_log_dropped_total`` counts its lines.
"""
from __future__ import annotations

import itertools
import os
import queue
import sys
import threading
import time

__all__ = ["Metrics", "DecisionLog", "SCHEMA"]

#: The decision record's schema version (bump on any field change).
SCHEMA = 1

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
OUTCOMES = ("allowed", "implicitDeny", "explicitDeny", "error")


class Metrics:
    """The service's Prometheus metrics in their own registry (process metrics included)."""

    def __init__(self, holder=None, log=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
        from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

        disable_created_metrics()  # the *_created series double the output and mean nothing to a PDP
        self.registry = r = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.requests = Counter("lexauthz_requests", "HTTP and gRPC requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.decisions = Counter("lexauthz_decisions", "decisions given, by endpoint and outcome",
                                 ["endpoint", "outcome"], registry=r)
        self.latency = Histogram("lexauthz_request_seconds", "time from the request's arrival to its answer",
                                 ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.errors = Counter("lexauthz_errors", "refused requests and failed decisions, by code", ["code"],
                              registry=r)
        self.reloads = Counter("lexauthz_engine_reloads", "engine reloads, by result", ["result"], registry=r)
        self.revision = Gauge("lexauthz_engine_info", "the serving engine (value 1)", ["revision"], registry=r)
        g = Gauge("lexauthz_engine_index_bytes", "bytes of the serving engine's index", registry=r)
        g.set_function(lambda: holder.current.engine.index_bytes if holder and holder.current else 0)
        g = Gauge("lexauthz_engine_statements", "statements of the serving engine", registry=r)
        g.set_function(lambda: holder.current.engine.n_statements if holder and holder.current else 0)
        g = Gauge("lexauthz_engines_alive", "engines still referenced (serving, or finishing requests)", registry=r)
        g.set_function(lambda: holder.alive() if holder else 0)
        g = Gauge("lexauthz_ready", "1 once an engine is serving", registry=r)
        g.set_function(lambda: 1 if holder and holder.current else 0)
        g = Gauge("lexauthz_decision_log_queue", "entries waiting in the decision log queue", registry=r)
        g.set_function(lambda: log.depth() if log else 0)
        g = Gauge("lexauthz_decision_log_dropped_total", "decision log lines dropped because the queue was full",
                  registry=r)
        g.set_function(lambda: log.dropped if log else 0)
        g = Gauge("lexauthz_decision_log_written_total", "decision log lines written", registry=r)
        g.set_function(lambda: log.written if log else 0)
        self._children: dict = {}
        self._last_revision: str | None = None

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        pair = self._children.get(key)
        if pair is None:
            pair = self._children[key] = (self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
        pair[0].inc()
        pair[1].observe(seconds)

    def count_decisions(self, endpoint: str, allowed: int, implicit: int, explicit: int, error: int) -> None:
        for outcome, n in (("allowed", allowed), ("implicitDeny", implicit), ("explicitDeny", explicit),
                           ("error", error)):
            if n:
                key = (endpoint, outcome)
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = self.decisions.labels(endpoint, outcome)
                child.inc(n)

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def engine_changed(self, holder) -> None:
        cur = holder.current
        if cur is not None and cur.revision != self._last_revision:
            if self._last_revision is not None:
                self.revision.remove(self._last_revision)
            self.revision.labels(cur.revision).set(1)
            self._last_revision = cur.revision

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def _expand(req, reasons, errors):
    """A record as handlers leave it (``(principal, action, resource)``, a Response or None, an exception or None),
    or already as JSON data, turned into JSON data."""
    if isinstance(req, tuple):
        req = {"principal": req[0], "action": req[1], "resource": req[2]}
    if reasons is None or not isinstance(reasons, list):
        resp, exc = reasons, errors
        reasons = [] if resp is None else [m.to_dict() for m in resp.matched_statements]
        errors = [] if resp is None else [e.to_dict() for e in resp.errors]
        if exc is not None:
            errors.append({"code": getattr(exc, "code", "E_INTERNAL"), "message": str(exc)})
    return req, reasons, errors


class DecisionLog:
    """JSON Lines decision records, written by a background thread from a bounded queue.

    ``path`` is a file (appended to) or ``-`` (standard output).  :meth:`put` never blocks: a full queue drops the
    entry and counts its lines in :attr:`dropped`.  An entry is ``(endpoint, request_id, revision, timestamp,
    records)`` where each record is ``(request dict, decision word, reasons, errors)``.
    """

    def __init__(self, path: str, maxsize: int = 10_000):
        import orjson

        self._dumps = orjson.dumps
        self.path = path
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self._ids = itertools.count(1)
        self._boot = os.urandom(4).hex()
        self._stop = object()
        self._thread = threading.Thread(target=self._run, name="lexauthz-decision-log", daemon=True)
        self._thread.start()

    def depth(self) -> int:
        return self._queue.qsize()

    def next_id(self) -> str:
        """A decision id unique to this process run (``<boot>-<n>``)."""
        return f"{self._boot}-{next(self._ids)}"

    def put(self, endpoint: str, request_id: str | None, revision: str | None, records: list,
            first_id: str | None = None) -> None:
        try:
            self._queue.put_nowait((endpoint, request_id, revision, time.time(), records, first_id))
        except queue.Full:
            self.dropped += len(records)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop."""
        try:
            self._queue.put(self._stop, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _open(self):
        if self.path == "-":
            return sys.stdout.buffer, False
        return open(self.path, "ab"), True

    def _run(self) -> None:
        out = None
        owned = False
        dumps = self._dumps
        while True:
            item = self._queue.get()
            if item is self._stop:
                break
            try:
                if out is None:
                    out, owned = self._open()  # a FIFO blocks here until a reader comes: the queue absorbs it
                endpoint, request_id, revision, ts, records, first_id = item
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"
                lines = []
                for i, (req, decision, reasons, errors) in enumerate(records):
                    req, reasons, errors = _expand(req, reasons, errors)
                    did = first_id if (i == 0 and first_id) else self.next_id()
                    lines.append(dumps({"schema": SCHEMA, "decision_id": did, "revision": revision,
                                        "timestamp": stamp, "endpoint": endpoint, "request_id": request_id,
                                        "request": req, "decision": decision, "reasons": reasons,
                                        "errors": errors}))
                out.write(b"\n".join(lines) + b"\n")
                if self._queue.empty():
                    out.flush()
                self.written += len(lines)
            except Exception:  # noqa: BLE001 - a log failure never reaches a request; it is counted
                self.write_errors += 1
                self.dropped += len(item[4]) if isinstance(item, tuple) else 0
        if out is not None:
            try:
                out.flush()
                if owned:
                    out.close()
            except Exception:  # noqa: BLE001
                pass
