"""Lex API calls over the network: the call a gateway sees in, the IAM requests AWS makes for it and their decisions
out (through :mod:`lexauthz.lex`).

Request body (``POST /lex/v1/authorize``)::

    {"operation": "PostText", "params": {"botName": "OrderFlowers", "botAlias": "Prod", "userId": "u1"},
     "caller": "arn:aws:sts::111122223333:assumed-role/SupportAgent/alice",
     "region": "us-east-1", "account": "111122223333", "api": "lex-runtime", "context": {"aws:SourceIp": "..."}}

``region`` and ``account`` default to the account's; ``api`` is inferred when the name is unambiguous.  The answer::

    {"decision": true, "call_decision": "allowed", "requests": [{"action", "resource", "decision",
     "context": {...}}], "context": {"engine": "<revision>"}}

A call is allowed only when every request it makes is allowed.  The call's ``context`` may not set the stored tags
or the principal keys unless ``trust_request_properties`` is on (see :mod:`lexauthz.service.mapping`).
"""
from __future__ import annotations

from typing import Any, Mapping

from ..decision import Decision
from ..errors import RequestError
from .errors import ServiceError
from .mapping import allow_context, deny_context, is_derived_key

__all__ = ["authorize_call", "call_requests"]


def call_requests(body: Any, loaded, *, trust: bool = False, path: str = "$"):
    """``(LexCall, requests)`` for a call body; :class:`ServiceError` (400) with the JSON path when malformed."""
    from ..lex import LexCall, to_requests

    if not isinstance(body, Mapping):
        raise ServiceError("E_BAD_REQUEST", "the request body must be a JSON object", path)
    body = dict(body)
    ctx = body.get("context")
    if isinstance(ctx, Mapping) and not trust:
        body["context"] = {k: v for k, v in ctx.items() if not is_derived_key(k)}
    account = loaded.account
    defaults = {}
    if account is not None:
        if account.region:
            defaults["region"] = account.region
        if account.account_id:
            defaults["account"] = account.account_id
        if account.partition and account.partition != "aws":
            defaults["partition"] = account.partition
    try:
        call = LexCall.from_dict(body, path, defaults=defaults)
        if account is not None:
            reqs = to_requests(call, account.resources, account.principals)
        else:
            reqs = to_requests(call)
    except RequestError as exc:
        raise ServiceError(exc.code, exc.message, exc.path) from None
    return call, reqs


def authorize_call(body: Any, loaded, *, explain: bool = True, trust: bool = False) -> tuple[dict, list]:
    """Answer one Lex call: ``(payload, log records)``; a failure inside a decision denies the call."""
    from ..lex import call_decision

    call, reqs = call_requests(body, loaded, trust=trust)
    engine = loaded.engine
    out, records, decisions = [], [], []
    for req in reqs:
        try:
            resp = engine.evaluate(req)
            d = resp.decision
        except Exception as exc:  # noqa: BLE001 - fail closed
            resp, d = None, Decision.ERROR
            item = {"action": req.action, "resource": req.resource, "decision": False,
                    "context": {"reason": "error", "error": {"status": 500, "code": "E_INTERNAL",
                                                             "message": f"{type(exc).__name__}: {exc}"}}}
        else:
            if d is Decision.ALLOW:
                item = {"action": req.action, "resource": req.resource, "decision": True,
                        "context": allow_context(resp, explain)}
            else:
                item = {"action": req.action, "resource": req.resource, "decision": False,
                        "context": deny_context(resp, d, explain)}
        decisions.append(d)
        out.append(item)
        records.append(({"principal": req.principal, "action": req.action, "resource": req.resource,
                         "operation": call.operation}, d.simulator_name,
                        [] if resp is None else [m.to_dict() for m in resp.matched_statements],
                        [] if resp is None else [e.to_dict() for e in resp.errors]))
    final = call_decision(decisions)
    return ({"decision": final is Decision.ALLOW, "call_decision": final.simulator_name,
             "operation": call.operation, "caller": call.caller, "requests": out,
             "context": {"engine": loaded.revision}}, records)
