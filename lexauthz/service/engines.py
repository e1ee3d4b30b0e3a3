"""Where the service's engine comes from, and how a new one replaces it without dropping a request.

:class:`EngineSource` is a saved engine file (``lexauthz serve --engine FILE``) or an account (``--account``: the
project's account file or folder, or GAAD output), compiled on load.  :class:`EngineHolder` keeps the serving
:class:`Loaded` in one attribute; every request reads it once and decides with that object only, so a swap is one
assignment and requests in flight finish on the engine they started with (the old one is freed when the last of
them returns).

A reload (file change, SIGHUP, ``POST /admin/reload``) runs in a background thread:

1. the file checks: the files exist and are regular, an engine file is at most ``max_engine_bytes`` and passes
   :meth:`lexauthz.Engine.from_bytes` (version, SHA-256 checksum, bounds of every array); an account loads and has
   no policy with an ERROR finding;
2. the canary (:class:`Canary`): stored requests with expected decisions, evaluated on the new engine; one
   mismatch refuses the swap;
3. the swap.

A failed step leaves the old engine serving; the failure (code, message, trigger, time) is kept for
``GET /admin/engine`` and counted in the metrics.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable

from ..decision import Decision
from ..errors import LexAuthzError, RequestError
from ..request import Request
from .errors import ServiceError

__all__ = ["EngineSource", "Canary", "CanaryCase", "Loaded", "EngineHolder", "FileWatcher"]

_DECISION_WORDS = {d.simulator_name: d for d in Decision if d is not Decision.ERROR}
_DECISION_WORDS.update({d.aws_name: d for d in Decision if d is not Decision.ERROR})


def _files_under(paths: tuple[str, ...]) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, names in os.walk(p):
                out.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".json"))
        else:
            out.append(p)
    return sorted(out)


def fingerprint(paths: tuple[str, ...]) -> str:
    """SHA-256 over the content of every file of a source (folders: their ``.json`` files), in path order."""
    h = hashlib.sha256()
    for p in _files_under(paths):
        h.update(p.encode() + b"\0")
        try:
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            h.update(b"\1missing")
    return h.hexdigest()


def _stat_key(paths: tuple[str, ...]) -> tuple:
    out = []
    for p in _files_under(paths):
        try:
            st = os.stat(p)
            out.append((p, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((p, None))
    return tuple(out)


@dataclass(frozen=True)
class EngineSource:
    """A saved engine file (``kind="engine"``) or an account (``kind="account"``, one or more paths)."""

    kind: str
    paths: tuple[str, ...]

    @classmethod
    def engine_file(cls, path: str) -> "EngineSource":
        return cls("engine", (os.fspath(path),))

    @classmethod
    def account(cls, paths) -> "EngineSource":
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return cls("account", tuple(os.fspath(p) for p in paths))

    def describe(self) -> str:
        return f"{self.kind} {' '.join(self.paths)}"

    def load(self, max_engine_bytes: int) -> tuple[object, object, str]:
        """``(engine, account or None, sha256 of the files)``, with the file checks; :class:`ServiceError` on a
        failure (``E_ENGINE_FILE``, ``E_ENGINE_TOO_LARGE``, ``E_PLAN_FORMAT``, ``E_ACCOUNT``, ``E_POLICY_ERRORS``)."""
        from ..engine import Engine

        if self.kind == "engine":
            path = self.paths[0]
            try:
                st = os.stat(path)
            except OSError as exc:
                raise ServiceError("E_ENGINE_FILE", f"cannot read `{path}`: {(exc.strerror or str(exc)).lower()}",
                                   path, 500) from None
            if not os.path.isfile(path):
                raise ServiceError("E_ENGINE_FILE", f"`{path}` is not a regular file", path, 500)
            if st.st_size > max_engine_bytes:
                raise ServiceError("E_ENGINE_TOO_LARGE", f"`{path}` has {st.st_size} bytes, more than the limit of "
                                   f"{max_engine_bytes}", path, 500)
            with open(path, "rb") as f:
                data = f.read(max_engine_bytes + 1)
            if len(data) > max_engine_bytes:
                raise ServiceError("E_ENGINE_TOO_LARGE", f"`{path}` grew past {max_engine_bytes} bytes while read",
                                   path, 500)
            try:
                engine = Engine.from_bytes(data, max_bytes=max(64 * len(data), 1 << 20))
            except LexAuthzError as exc:
                raise ServiceError(getattr(exc, "code", "E_PLAN_FORMAT"), _lower(str(exc)), path, 500) from None
            return engine, None, hashlib.sha256(data).hexdigest()
        from ..account import load_account
        from ..errors import Severity

        digest = fingerprint(self.paths)
        try:
            account = load_account(list(self.paths))
        except RequestError as exc:
            raise ServiceError(exc.code, exc.message, exc.path, 500) from None
        errors = [(n, f) for n, f in account.findings() if f.severity is Severity.ERROR]
        if errors:
            name, first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ServiceError("E_POLICY_ERRORS", f"policy `{name}` has an error: {first.code}: {first.message}"
                               f"{more}", first.path, 500)
        try:
            engine = account.engine()
        except LexAuthzError as exc:
            raise ServiceError(getattr(exc, "code", "E_COMPILE"), _lower(str(exc)), self.paths[0], 500) from None
        return engine, account, digest


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


@dataclass(frozen=True)
class CanaryCase:
    """One canary request and the decision it must get."""

    request: Request
    expect: Decision
    path: str


@dataclass(frozen=True)
class Canary:
    """Stored requests with expected decisions that a new engine must reproduce before it serves.

    The file is JSON: ``{"requests": [{"principal", "action", "resource", "context"?, "resource_account"?,
    "expect": "allowed" | "implicitDeny" | "explicitDeny"}]}`` (``Allowed`` / ``ImplicitlyDenied`` /
    ``ExplicitlyDenied`` are accepted too), or a JSON list of such objects.
    """

    cases: tuple[CanaryCase, ...]
    source: str | None = None

    @classmethod
    def load(cls, path: str) -> "Canary":
        import json

        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as exc:
            raise ServiceError("E_CANARY_FILE", f"cannot read `{path}`: {(exc.strerror or str(exc)).lower()}",
                               path, 500) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServiceError("E_CANARY_FILE", f"`{path}` is not JSON: {exc}", path, 500) from None
        items = data.get("requests") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ServiceError("E_CANARY_FILE", "the canary file holds `requests`: a list of requests", f"{path}: $",
                               500)
        cases = []
        for i, item in enumerate(items):
            where = f"$.requests[{i}]" if isinstance(data, dict) else f"$[{i}]"
            if not isinstance(item, dict):
                raise ServiceError("E_CANARY_FILE", "a canary request must be an object", f"{path}: {where}", 500)
            item = dict(item)
            word = item.pop("expect", None)
            if word not in _DECISION_WORDS:
                raise ServiceError("E_CANARY_FILE", f"`expect` must be one of {', '.join(sorted(_DECISION_WORDS))}",
                                   f"{path}: {where}.expect", 500)
            try:
                req = Request.from_dict(item, where)
            except RequestError as exc:
                raise ServiceError(exc.code, exc.message, f"{path}: {exc.path}", 500) from None
            cases.append(CanaryCase(req, _DECISION_WORDS[word], where))
        return cls(tuple(cases), path)

    def check(self, engine) -> None:
        """Raise ``E_CANARY_MISMATCH`` when ``engine`` decides any case otherwise than expected."""
        wrong = []
        for case in self.cases:
            try:
                got = engine.evaluate(case.request).decision
            except Exception as exc:  # noqa: BLE001 - a canary that cannot run refuses the engine
                raise ServiceError("E_CANARY_MISMATCH", f"canary {case.path} could not be evaluated: "
                                   f"{type(exc).__name__}: {exc}", f"{self.source}: {case.path}", 500) from None
            if got is not case.expect:
                wrong.append((case, got))
        if wrong:
            case, got = wrong[0]
            more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
            raise ServiceError("E_CANARY_MISMATCH",
                               f"{len(wrong)} of {len(self.cases)} canary requests differ: {case.path} "
                               f"`{case.request.action}` on `{case.request.resource}` is {got.simulator_name}, "
                               f"expected {case.expect.simulator_name}{more}", f"{self.source}: {case.path}", 500)


@dataclass(frozen=True, eq=False)
class Loaded:
    """One engine as the service serves it: immutable; requests read the holder's ``current`` once."""

    engine: object
    account: object | None
    revision: str
    source_sha256: str
    loaded_at: float
    load_seconds: float
    generation: int

    def info(self) -> dict:
        e = self.engine
        return {"revision": self.revision, "sha256": self.source_sha256, "generation": self.generation,
                "loaded_at": _iso(self.loaded_at), "load_seconds": round(self.load_seconds, 6),
                "statements": e.n_statements, "memory_bytes": e.index_bytes,
                "search": self.account is not None}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else ""


@dataclass
class ReloadOutcome:
    """What one reload did: ``swapped``, the serving revision, and the error when it failed."""

    swapped: bool
    revision: str | None
    trigger: str
    error: ServiceError | None = None
    unchanged: bool = False

    def to_dict(self) -> dict:
        out: dict = {"swapped": self.swapped, "revision": self.revision, "trigger": self.trigger}
        if self.unchanged:
            out["unchanged"] = True
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out


@dataclass
class EngineHolder:
    """The serving engine and its reloads.

    ``current`` is ``None`` until the first load succeeds (readiness is false until then).  :meth:`reload` is
    synchronous and serialised (one load at a time); :meth:`trigger` runs one in a background thread.
    """

    source: EngineSource
    canary_path: str | None = None
    max_engine_bytes: int = 1 << 30
    on_change: Callable[["EngineHolder"], None] | None = None
    current: Loaded | None = None
    last_error: dict | None = None
    swaps: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0
    _alive: weakref.WeakSet = field(default_factory=weakref.WeakSet)

    def alive(self) -> int:
        """Engines still held by anyone (the serving one, and old ones that in-flight requests still use)."""
        return len(self._alive)

    def reload(self, trigger: str = "manual", *, force: bool = True) -> ReloadOutcome:
        """Load, check and swap in a new engine; the old one keeps serving when any step fails.

        ``force=False`` skips the load when the files' SHA-256 equals the serving engine's (a touched file).
        """
        with self._lock:
            if not force and self.current is not None:
                if fingerprint(self.source.paths) == self.current.source_sha256:
                    return ReloadOutcome(False, self.current.revision, trigger, unchanged=True)
            t0 = time.perf_counter()
            try:
                engine, account, digest = self.source.load(self.max_engine_bytes)
                if self.canary_path:
                    Canary.load(self.canary_path).check(engine)
                revision = engine.revision
                engine.context_keys  # noqa: B018 - found here, in the background, not on the first request
            except ServiceError as exc:
                return self._failed(trigger, exc)
            except Exception as exc:  # noqa: BLE001 - a reload never takes the service down; the old engine serves
                return self._failed(trigger, ServiceError("E_RELOAD", f"{type(exc).__name__}: {exc}",
                                                          self.source.paths[0], 500))
            self._generation += 1
            loaded = Loaded(engine, account, revision, digest, time.time(), time.perf_counter() - t0,
                            self._generation)
            self._alive.add(loaded)
            # INVARIANT(one-assignment): the swap is this single attribute store; readers never see a mix
            self.current = loaded
            self.swaps += 1
            self.last_error = None
        if self.on_change is not None:
            self.on_change(self)
        return ReloadOutcome(True, revision, trigger)

    def _failed(self, trigger: str, exc: ServiceError) -> ReloadOutcome:
        self.failures += 1
        self.last_error = {"trigger": trigger, "at": _iso(time.time()), **exc.to_dict()}
        if self.on_change is not None:
            self.on_change(self)
        return ReloadOutcome(False, self.current.revision if self.current else None, trigger, exc)

    def trigger(self, reason: str, *, force: bool = True) -> threading.Thread:
        """Run :meth:`reload` in a background thread (a daemon: it never holds up shutdown)."""
        t = threading.Thread(target=self.reload, args=(reason,), kwargs={"force": force},
                             name=f"lexauthz-reload-{reason}", daemon=True)
        t.start()
        return t

    def status(self) -> dict:
        """What ``GET /admin/engine`` reports."""
        cur = self.current
        return {"ready": cur is not None, "source": {"kind": self.source.kind, "paths": list(self.source.paths)},
                "engine": cur.info() if cur is not None else None, "swaps": self.swaps,
                "failures": self.failures, "last_error": self.last_error, "engines_alive": self.alive(),
                "canary": self.canary_path}


class FileWatcher:
    """Polls the source's files (mtime, size, inode) and reloads when they change and their SHA-256 differs."""

    def __init__(self, holder: EngineHolder, interval: float):
        self.holder = holder
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lexauthz-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        paths = self.holder.source.paths
        last = _stat_key(paths)
        while not self._stop.wait(self.interval):
            key = _stat_key(paths)
            if key != last:
                last = key
                self.holder.reload("file-change", force=False)
