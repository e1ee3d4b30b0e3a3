"""Envoy ext_authz: a route table from method + path + headers to an IAM request (or a Lex call), and the check
both the HTTP and the gRPC service answer.

The route table is JSON::

    {"principal_header": "x-lexauthz-principal",
     "region": "us-east-1", "account": "111122223333",
     "routes": [
       {"method": "POST", "path": "/bot/{botName}/alias/{botAlias}/user/{userId}/text", "operation": "PostText"},
       {"method": "GET", "path": "/admin/bots/{botId}", "headers": {"x-tenant": "acme"},
        "action": "lex:DescribeBot", "resource": "arn:aws:lex:{region}:{account}:bot/{botId}"}]}

A route matches when the method is equal (``"*"``: any), every ``{name}`` segment of ``path`` matches one
non-empty path segment (the query string is ignored, as is a trailing ``/``), and every header named in
``headers`` has exactly that value.  The first matching route decides.  An ``operation`` route is a Lex API call
whose parameters are the path's segments, answered through :mod:`lexauthz.lex` (every request it makes must be
allowed); an ``action`` route names the IAM action and a resource template (``{region}``, ``{account}`` and the
path's names are filled in).  Without a table, the Lex V1 and V2 runtime API paths are the routes (:data:`LEX_RUNTIME_ROUTES`),
with the Region taken from the Host (``runtime.lex.us-east-1.amazonaws.com``,
``runtime-v2-lex.us-east-1.amazonaws.com``) when the table does not name one.

The principal is the ARN in ``principal_header`` (set by an earlier filter from a verified token).  No principal
is HTTP 401; no route, a malformed request, a deny or any failure is HTTP 403 (gRPC ``PERMISSION_DENIED`` /
``UNAUTHENTICATED``): Envoy never sees a 5xx it could be told to let through.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote

from ..decision import Decision
from ..errors import RequestError
from ..request import Request
from .errors import ServiceError

__all__ = ["Route", "RouteTable", "CheckResult", "check", "LEX_RUNTIME_ROUTES"]

_V1 = "/bot/{botName}/alias/{botAlias}/user/{userId}"
_V2 = "/bots/{botId}/botAliases/{botAliasId}/botLocales/{localeId}/sessions/{sessionId}"

#: The Lex runtime API paths (V1 ``lex-runtime``, V2 ``lexv2-runtime``), as in the Lex API reference.
LEX_RUNTIME_ROUTES = (
    {"method": "POST", "path": f"{_V1}/text", "operation": "PostText", "api": "lex-runtime"},
    {"method": "POST", "path": f"{_V1}/content", "operation": "PostContent", "api": "lex-runtime"},
    {"method": "POST", "path": f"{_V1}/session", "operation": "PutSession", "api": "lex-runtime"},
    {"method": "GET", "path": f"{_V1}/session", "operation": "GetSession", "api": "lex-runtime"},
    {"method": "DELETE", "path": f"{_V1}/session", "operation": "DeleteSession", "api": "lex-runtime"},
    {"method": "POST", "path": f"{_V2}/text", "operation": "RecognizeText", "api": "lexv2-runtime"},
    {"method": "POST", "path": f"{_V2}/utterance", "operation": "RecognizeUtterance", "api": "lexv2-runtime"},
    {"method": "POST", "path": f"{_V2}/conversation", "operation": "StartConversation", "api": "lexv2-runtime"},
    {"method": "POST", "path": _V2, "operation": "PutSession", "api": "lexv2-runtime"},
    {"method": "GET", "path": _V2, "operation": "GetSession", "api": "lexv2-runtime"},
    {"method": "DELETE", "path": _V2, "operation": "DeleteSession", "api": "lexv2-runtime"},
)

_HOST_REGION = re.compile(r"^runtime(?:-v2)?[.-]lex\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$")
_NAME = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class Route:
    """One route: method, path template, header values; then an operation or an action and resource."""

    method: str
    segments: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    operation: str | None = None
    api: str | None = None
    action: str | None = None
    resource: str | None = None
    where: str = "$"

    def match(self, method: str, segments: list[str], headers: Mapping[str, str]) -> dict | None:
        if self.method != "*" and self.method != method:
            return None
        if len(segments) != len(self.segments):
            return None
        found = {}
        for tmpl, seg in zip(self.segments, segments):
            m = _NAME.match(tmpl)
            if m:
                if not seg:
                    return None
                found[m.group(1)] = seg
            elif tmpl != seg:
                return None
        for k, v in self.headers:
            if headers.get(k) != v:
                return None
        return found


def _split(path: str) -> list[str]:
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = path.strip("/").split("/") if path.strip("/") else []
    return [unquote(p) for p in parts]


@dataclass(frozen=True)
class RouteTable:
    """The routes, the principal header, and the Region and account of the resources."""

    routes: tuple[Route, ...]
    principal_header: str = "x-lexauthz-principal"
    region: str | None = None
    account: str | None = None
    path_prefix: str = "/ext_authz"
    source: str = "<built-in Lex runtime routes>"

    @classmethod
    def default(cls, *, region: str | None = None, account: str | None = None) -> "RouteTable":
        return cls.from_dict({"routes": list(LEX_RUNTIME_ROUTES), "region": region, "account": account},
                             "<built-in Lex runtime routes>")

    @classmethod
    def load(cls, path: str) -> "RouteTable":
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as exc:
            raise ServiceError("E_ROUTES_FILE", f"cannot read `{path}`: {(exc.strerror or str(exc)).lower()}",
                               path, 500) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServiceError("E_ROUTES_FILE", f"`{path}` is not JSON: {exc}", path, 500) from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data, source: str = "<routes>") -> "RouteTable":
        def bad(msg, where):
            return ServiceError("E_ROUTES_FILE", msg, f"{source}: {where}", 500)

        if not isinstance(data, Mapping):
            raise bad("the route table must be an object", "$")
        unknown = set(data) - {"routes", "principal_header", "region", "account", "path_prefix"}
        if unknown:
            raise bad(f"unknown field `{sorted(unknown)[0]}`", "$")
        items = data.get("routes")
        if not isinstance(items, list) or not items:
            raise bad("`routes` must be a non-empty list", "$.routes")
        routes = []
        for i, r in enumerate(items):
            w = f"$.routes[{i}]"
            if not isinstance(r, Mapping):
                raise bad("a route must be an object", w)
            unknown = set(r) - {"method", "path", "headers", "operation", "api", "action", "resource"}
            if unknown:
                raise bad(f"unknown route field `{sorted(unknown)[0]}`", w)
            method, path = r.get("method", "*"), r.get("path")
            if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/"):
                raise bad("a route needs `method` (a string) and `path` (starting with `/`)", w)
            headers = r.get("headers") or {}
            if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
                raise bad("`headers` must map header names to string values", f"{w}.headers")
            op, action, resource = r.get("operation"), r.get("action"), r.get("resource")
            if (op is None) == (action is None):
                raise bad("a route names either `operation` (a Lex API call) or `action` and `resource`", w)
            if action is not None and (not isinstance(action, str) or not isinstance(resource, str)):
                raise bad("an `action` route needs `action` and `resource` strings", w)
            if op is not None and not isinstance(op, str):
                raise bad("`operation` must be a string", f"{w}.operation")
            routes.append(Route(method.upper(), tuple(_split(path)),
                                tuple((k.lower(), v) for k, v in headers.items()), op, r.get("api"), action,
                                resource, w))
        header = data.get("principal_header", "x-lexauthz-principal")
        prefix = data.get("path_prefix", "/ext_authz")
        if not isinstance(header, str) or not header or not isinstance(prefix, str):
            raise bad("`principal_header` and `path_prefix` must be strings", "$")
        return cls(tuple(routes), header.lower(), data.get("region"), data.get("account"), prefix.rstrip("/"),
                   source)

    def find(self, method: str, path: str, headers: Mapping[str, str]):
        segments = _split(path)
        for route in self.routes:
            found = route.match(method.upper(), segments, headers)
            if found is not None:
                return route, found
        return None, None


@dataclass
class CheckResult:
    """The answer to one check: HTTP status (200 allows), upstream / client headers, body, and for the log."""

    allowed: bool
    status: int
    reason: str
    revision: str | None
    code: str | None = None
    message: str | None = None
    headers: dict = field(default_factory=dict)
    body: dict | None = None
    records: list = field(default_factory=list)


def _deny(status: int, reason: str, revision, code=None, message=None, records=None) -> CheckResult:
    body: dict = {"decision": False, "reason": reason}
    if code:
        body["error"] = {"code": code, "message": message}
    if revision:
        body["engine"] = revision
    headers = {"x-lexauthz-decision": reason}
    if revision:
        headers["x-lexauthz-engine"] = revision
    return CheckResult(False, status, reason, revision, code, message, headers, body, records or [])


def check(table: RouteTable, loaded, method: str, path: str, headers: Mapping[str, str], *,
          host: str | None = None, source_ip: str | None = None, explain: bool = False) -> CheckResult:
    """Decide one ext_authz check.  ``headers`` have lower-case names.  Never raises."""
    if loaded is None:
        return _deny(403, "error", None, "E_NOT_READY", "no engine is loaded yet")
    rev = loaded.revision
    try:
        principal = headers.get(table.principal_header)
        if not principal:
            return _deny(401, "unauthenticated", rev, "E_NO_PRINCIPAL",
                         f"the request has no `{table.principal_header}` header")
        route, found = table.find(method, path, headers)
        if route is None:
            return _deny(403, "no_route", rev, "E_NO_ROUTE", f"no route for `{method} {path.split('?', 1)[0]}`")
        region = table.region
        if region is None and host:
            m = _HOST_REGION.match(host.lower())
            region = m.group(1) if m else None
        account = table.account
        if loaded.account is not None:
            region = region or loaded.account.region
            account = account or loaded.account.account_id
        extra = {"aws:SourceIp": source_ip} if source_ip else {}
        if route.operation is not None:
            requests = _call_requests(route, found, principal, region, account, extra, loaded)
        else:
            subst = dict(found, region=region or "", account=account or "")
            try:
                resource = route.resource.format_map(subst)
            except (KeyError, ValueError) as exc:
                raise ServiceError("E_ROUTE_RESOURCE", f"route {route.where} resource template cannot be filled: "
                                   f"{exc}", route.where) from None
            from ..lex import PrincipalStore

            store = loaded.account.principals if loaded.account is not None else PrincipalStore()
            try:
                ctx = dict(store.resolve(principal, "$.principal").context())
                if loaded.account is not None:
                    ctx.update(loaded.account.resources.tags(resource).context("aws:ResourceTag/"))
                ctx.update(extra)
                requests = (Request(principal, route.action, resource, context=ctx),)
            except RequestError as exc:
                raise ServiceError(exc.code, exc.message, exc.path) from None
        engine = loaded.engine
        decisions, records, details = [], [], []
        for req in requests:
            resp = engine.evaluate(req)
            decisions.append(resp.decision)
            details.append((req, resp))
            records.append(({"principal": req.principal, "action": req.action, "resource": req.resource,
                             "method": method, "path": path.split("?", 1)[0]}, resp.decision.simulator_name,
                            [m.to_dict() for m in resp.matched_statements], [e.to_dict() for e in resp.errors]))
        from ..lex import call_decision

        final = call_decision(decisions)
    except ServiceError as exc:
        return _deny(403, "error", rev, exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - fail closed: any error is a deny
        return _deny(403, "error", rev, "E_INTERNAL", f"the decision failed: {type(exc).__name__}: {exc}")
    if final is Decision.ALLOW:
        return CheckResult(True, 200, "allowed", rev, headers={
            "x-lexauthz-decision": "allowed", "x-lexauthz-engine": rev,
            "x-lexauthz-principal": principal}, records=records)
    res = _deny(403, final.simulator_name, rev, records=records)
    if explain:
        from .mapping import deny_context

        res.body["requests"] = [{"action": q.action, "resource": q.resource, "decision": r.allowed,
                                 "context": deny_context(r, r.decision, True) if not r.allowed else {}}
                                for q, r in details]
    return res


def _call_requests(route: Route, found: dict, principal: str, region, account, extra: dict, loaded):
    from ..lex import LexCall, to_requests

    if region is None:
        raise ServiceError("E_NO_REGION", "the route table names no `region` and the Host names none",
                           route.where)
    try:
        call = LexCall(route.operation, found, principal, region, account, route.api, extra)
        if loaded.account is not None:
            return to_requests(call, loaded.account.resources, loaded.account.principals)
        return to_requests(call)
    except RequestError as exc:
        raise ServiceError(exc.code, exc.message, exc.path) from None
