"""From AuthZEN entities to the IAM request lexauthz decides, and from its response back to an AuthZEN decision.

The mapping (advertised in the metadata document's ``capabilities`` and in ``docs/service.md``):

============================  ==========================================================================
AuthZEN                       IAM
============================  ==========================================================================
``subject``                   the principal: ``{"type": "iam_principal", "id": ARN}`` (user, role, role
                              session, federated user, root), ``{"type": "aws_account", "id": "123456789012"}``
                              (the account's root), ``{"type": "aws_service", "id": "lex.amazonaws.com"}``
``resource``                  ``{"type": "lex_resource", "id": ARN}`` (or ``"*"`` for actions without
                              resource-level permissions)
``action``                    ``{"name": "lex:PostText"}``: the IAM action (any ``service:Action``)
``context``                   IAM condition keys, verbatim (``{"aws:SourceIp": "10.0.0.1"}``)
``action.properties``         request context keys: a name with a ``:`` verbatim, any other as ``lexauthz:NAME``
``subject.properties``        ``aws:PrincipalTag/*`` (each string property, and the object ``tags``), only with
                              ``trust_request_properties``
``resource.properties``       ``aws:ResourceTag/*`` likewise
============================  ==========================================================================

Keys the service derives win over what a request says, unless the operator turns ``trust_request_properties`` on:
the principal keys from the principal ARN and the account (``aws:PrincipalArn``, ``aws:PrincipalAccount``,
``aws:PrincipalType``, ``aws:username``, ``aws:userid``, ``aws:PrincipalIsAWSService``, ...), the stored tags
(``aws:PrincipalTag/*``, ``aws:ResourceTag/*``: a request's values for them are dropped, so the account's own tags
apply) and the clock (``aws:CurrentTime``, ``aws:EpochTime``).
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from ..decision import Decision, Response
from ..errors import RequestError
from ..request import Context, Request
from .errors import ServiceError

__all__ = ["SUBJECT_TYPES", "RESOURCE_TYPES", "NO_KEYS", "Mapper", "SharedContexts", "deny_context", "allow_context", "deciding"]

SUBJECT_TYPES = ("iam_principal", "aws_account", "aws_service")
RESOURCE_TYPES = ("lex_resource",)

# Keys a caller may not assert unless trust_request_properties is on (lower case).
_DERIVED = frozenset(k.lower() for k in (
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType", "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:username", "aws:userid",
    "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:CurrentTime", "aws:EpochTime"))
_STORED_PREFIXES = ("aws:principaltag/", "aws:resourcetag/")


# Shared, never written: principals without derived keys and resources without stored tags (or none that a policy
# reads) share this one dict, so their items share one context.
NO_KEYS: dict = {}


def is_derived_key(key: str) -> bool:
    """Whether ``key`` is one the service sets itself (principal keys, stored tags, clock)."""
    low = key.lower()
    return low in _DERIVED or low.startswith(_STORED_PREFIXES)


def _entity(obj: Any, what: str, path: str, id_key: str = "id") -> Mapping:
    if obj is None:
        raise ServiceError("E_MISSING_" + what.upper(), f"the request has no `{what}`", path)
    if not isinstance(obj, dict):
        raise ServiceError("E_BAD_" + what.upper(), f"`{what}` must be an object", path)
    return obj


def _string(obj: Mapping, key: str, path: str, what: str) -> str:
    v = obj.get(key)
    if v is None:
        raise ServiceError("E_MISSING_FIELD", f"`{what}` has no `{key}`", f"{path}.{key}")
    if not isinstance(v, str) or not v:
        raise ServiceError("E_BAD_FIELD", f"`{what}.{key}` must be a non-empty string", f"{path}.{key}")
    return v


def _properties(obj: Mapping, path: str) -> Mapping:
    props = obj.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ServiceError("E_BAD_FIELD", "`properties` must be an object", f"{path}.properties")
    return props


def _tags_of(props: Mapping, path: str) -> dict[str, str]:
    """Tags named by ``properties``: every string property, and each entry of the object ``tags``."""
    out: dict[str, str] = {}
    for k, v in props.items():
        if k == "tags" and isinstance(v, dict):
            for tk, tv in v.items():
                if not isinstance(tv, str):
                    raise ServiceError("E_BAD_FIELD", f"tag `{tk}` must have a string value",
                                       f"{path}.properties.tags[{tk!r}]")
                out[tk] = tv
        elif isinstance(v, str):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
    return out


class Mapper:
    """Turns AuthZEN entities into :class:`lexauthz.Request` for one serving engine (and its account, if any).

    ``principals`` is the account's :class:`~lexauthz.lex.PrincipalStore` (ids and tags of known users and roles)
    or an empty one (keys from the ARN alone).  ``reads`` is the lower-cased context keys the serving engine's
    policies read (:attr:`lexauthz.Engine.context_keys`): the keys the service derives itself (principal keys,
    stored tags, clock) are put in a context only when some policy reads them, since no other key changes an answer
    and each one costs the engine a larger context to find.  A caller's own context keys always go in as given.
    """

    def __init__(self, principals=None, resources=None, *, trust_request_properties: bool = False,
                 reads: frozenset | None = None):
        from ..lex import PrincipalStore

        self._principals = principals if principals is not None else PrincipalStore()
        self._resources = resources
        self.trust = trust_request_properties
        self._reads = reads
        self._derived: dict[str, dict] = {}
        self._resource_tags: dict[str, dict] = {}

    # -- entities ---------------------------------------------------------------------------------------------

    def principal(self, subject: Any, path: str = "$.subject") -> str:
        subject = _entity(subject, "subject", path)
        stype = _string(subject, "type", path, "subject")
        sid = _string(subject, "id", path, "subject")
        if stype == "iam_principal":
            if not sid.startswith("arn:"):
                raise ServiceError("E_BAD_PRINCIPAL", f"subject id `{sid}` is not a principal ARN", f"{path}.id")
            return sid
        if stype == "aws_account":
            if not (len(sid) == 12 and sid.isdigit()):
                raise ServiceError("E_BAD_PRINCIPAL", f"subject id `{sid}` is not a 12-digit account id",
                                   f"{path}.id")
            return f"arn:aws:iam::{sid}:root"
        if stype == "aws_service":
            if sid.startswith("arn:") or "." not in sid:
                raise ServiceError("E_BAD_PRINCIPAL", f"subject id `{sid}` is not a service principal",
                                   f"{path}.id")
            return sid
        raise ServiceError("E_UNSUPPORTED_TYPE", f"subject type `{stype}` is not one of "
                           f"{', '.join(SUBJECT_TYPES)}", f"{path}.type")

    def resource(self, resource: Any, path: str = "$.resource") -> str:
        resource = _entity(resource, "resource", path)
        rtype = _string(resource, "type", path, "resource")
        rid = _string(resource, "id", path, "resource")
        if rtype not in RESOURCE_TYPES:
            raise ServiceError("E_UNSUPPORTED_TYPE", f"resource type `{rtype}` is not one of "
                               f"{', '.join(RESOURCE_TYPES)}", f"{path}.type")
        return rid

    def action(self, action: Any, path: str = "$.action") -> str:
        action = _entity(action, "action", path)
        return _string(action, "name", path, "action")

    # -- the request ------------------------------------------------------------------------------------------

    def derived(self, principal: str, path: str) -> dict:
        """The principal context keys of ``principal`` (cached per principal; :data:`NO_KEYS` when none is
        read)."""
        ctx = self._derived.get(principal)
        if ctx is None:
            try:
                ctx = self._read(self._principals.resolve(principal, path).context()) or NO_KEYS
            except RequestError as exc:
                raise ServiceError("E_BAD_PRINCIPAL", exc.message, exc.path) from None
            if len(self._derived) > 10_000:
                self._derived.clear()
            self._derived[principal] = ctx
        return ctx

    @property
    def has_inventory(self) -> bool:
        """Whether resources have stored tags here (the account's Lex inventory)."""
        return self._resources is not None

    def resource_tags(self, resource: str) -> dict:
        """``aws:ResourceTag/*`` of ``resource`` from the account's Lex inventory (cached per resource)."""
        if self._resources is None:
            return NO_KEYS
        tags = self._resource_tags.get(resource)
        if tags is None:
            try:
                tags = self._read(dict(self._resources.tags(resource).context("aws:ResourceTag/"))) or NO_KEYS
            except (RequestError, ValueError):
                tags = NO_KEYS
            if len(self._resource_tags) > 10_000:
                self._resource_tags.clear()
            self._resource_tags[resource] = tags
        return tags

    def _read(self, keys: Mapping) -> dict:
        """``keys`` without those no policy reads."""
        reads = self._reads
        if reads is None:
            return dict(keys)
        return {k: v for k, v in keys.items() if k.lower() in reads}

    def clock(self, now: float) -> dict:
        """``aws:CurrentTime`` and ``aws:EpochTime`` at ``now``, each only when some policy reads it."""
        reads = self._reads
        out = {}
        if reads is None or "aws:currenttime" in reads:
            out["aws:CurrentTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        if reads is None or "aws:epochtime" in reads:
            out["aws:EpochTime"] = str(int(now))
        return out

    def plain_context(self, principal: str, resource_arn: str, context: Any, path: str, clock: dict,
                      filtered: dict) -> dict:
        """:meth:`context` for the common case (stored attributes win, no ``action.properties``), from parts
        cached per request: ``clock`` holds the time keys, ``filtered`` the callers' contexts without derived keys
        (by object id).  The parts never share a key, so a merge gives the same context."""
        f = filtered.get(id(context))
        if f is None:
            if context is None:
                f = {}
            elif not isinstance(context, dict):
                raise ServiceError("E_BAD_CONTEXT", "`context` must be an object", f"{path}.context")
            else:
                f = {}
                for k, v in context.items():
                    if isinstance(v, dict):
                        raise ServiceError("E_BAD_CONTEXT_VALUE", f"context key `{k}` must hold a string, number, "
                                           "boolean or a list of them", f"{path}.context[{k!r}]")
                    if not is_derived_key(k):
                        f[k] = v
            filtered[id(context)] = f
        return {**f, **self.derived(principal, f"{path}.subject.id"), **self.resource_tags(resource_arn), **clock}

    def context(self, principal: str, subject: Mapping, resource: Mapping, action: Mapping, context: Any,
                path: str, now: float, resource_arn: str | None = None) -> dict:
        """The IAM context of one evaluation (see the module text for precedence)."""
        if context is None:
            context = {}
        elif not isinstance(context, dict):
            raise ServiceError("E_BAD_CONTEXT", "`context` must be an object", f"{path}.context")
        trust = self.trust
        ctx: dict[str, Any] = {}
        lower: dict[str, str] = {}

        def put(k: str, v: Any) -> None:
            old = lower.pop(k.lower(), None)
            if old is not None:
                del ctx[old]
            ctx[k] = v
            lower[k.lower()] = k

        for k, v in context.items():
            if isinstance(v, dict):
                raise ServiceError("E_BAD_CONTEXT_VALUE", f"context key `{k}` must hold a string, number, boolean "
                                   "or a list of them", f"{path}.context[{k!r}]")
            if trust or not is_derived_key(k):
                put(k, v)
        for k, v in _properties(action, f"{path}.action").items():
            if isinstance(v, dict):
                continue
            key = k if ":" in k else f"lexauthz:{k}"
            if trust or not is_derived_key(key):
                put(key, v)
        if trust:
            for k, v in _tags_of(_properties(subject, f"{path}.subject"), f"{path}.subject").items():
                put(f"aws:PrincipalTag/{k}", v)
            for k, v in _tags_of(_properties(resource, f"{path}.resource"), f"{path}.resource").items():
                put(f"aws:ResourceTag/{k}", v)
        else:
            # validate the shape even when the values are not used
            _properties(subject, f"{path}.subject")
            _properties(resource, f"{path}.resource")
        for k, v in self.derived(principal, f"{path}.subject.id").items():
            if not trust or k.lower() not in lower:
                put(k, v)
        if resource_arn is not None:
            for k, v in self.resource_tags(resource_arn).items():
                if not trust or k.lower() not in lower:
                    put(k, v)
        for k, v in self.clock(now).items():
            if not trust or k.lower() not in lower:
                put(k, v)
        return ctx

    def request(self, subject: Any, action: Any, resource: Any, context: Any, path: str = "$",
                now: float | None = None) -> Request:
        """The :class:`Request` of one AuthZEN evaluation; :class:`ServiceError` (HTTP 400) when malformed."""
        principal = self.principal(subject, f"{path}.subject" if path != "$" else "$.subject")
        act = self.action(action, f"{path}.action" if path != "$" else "$.action")
        res = self.resource(resource, f"{path}.resource" if path != "$" else "$.resource")
        ctx = self.context(principal, subject, resource, action, context, path,
                           time.time() if now is None else now, res)
        try:
            return Request(principal, act, res, context=Context(ctx, path=f"{path}.context"))
        except RequestError as exc:
            where = exc.path
            if where.startswith("$.") and path != "$":
                where = path + where[1:]
            raise ServiceError(exc.code, exc.message, where) from None


class SharedContexts:
    """The contexts of one batch's items of the common shape (no ``action.properties``, stored attributes win),
    one object per content: items whose principal's derived keys and resource's stored tags are the same dicts
    (:data:`NO_KEYS` when none is read) share one context, which the engine then finds by content once.

    ``context`` is the batch's default context, ``clock`` the time keys; the entries hold the dicts their ids
    key, so an id is never reused while it keys an entry.
    """

    __slots__ = ("_mapper", "_context", "_clock", "_filtered", "_by_item", "_by_parts", "_inventory")

    def __init__(self, mapper: Mapper, context: Any, clock: dict):
        self._mapper = mapper
        self._context = context
        self._clock = clock
        self._filtered: dict = {}
        self._by_item: dict = {}  # (principal, id(tags)) -> (tags, context)
        self._by_parts: dict = {}  # (id(derived keys), id(tags)) -> (keys, tags, context)
        self._inventory = mapper.has_inventory  # without one, a context does not depend on the resource

    def of(self, principal: str, resource: str, row: int | None = None) -> dict:
        """The context of an item (``row``: its index, for the path of an error); :class:`ServiceError` when the
        principal or the default context is refused."""
        tags = self._mapper.resource_tags(resource) if self._inventory else NO_KEYS
        hit = self._by_item.get((principal, id(tags)))
        if hit is not None and hit[0] is tags:
            return hit[1]
        ctx = self._shared(principal, resource, tags, row)
        self._by_item[(principal, id(tags))] = (tags, ctx)
        return ctx

    def of_principal(self, principal: str) -> dict:
        """:meth:`of` for a batch without an inventory, asked once per distinct principal."""
        return self._shared(principal, "*", NO_KEYS, None)

    def _shared(self, principal: str, resource: str, tags: dict, row: int | None) -> dict:
        m = self._mapper
        keys = m.derived(principal, "$.evaluations[*].subject.id" if row is None else
                         f"$.evaluations[{row}].subject.id")
        both = self._by_parts.get((id(keys), id(tags)))
        if both is not None and both[0] is keys and both[1] is tags:
            return both[2]
        path = "$.evaluations[*]" if row is None else f"$.evaluations[{row}]"
        ctx = m.plain_context(principal, resource, self._context, path, self._clock, self._filtered)
        self._by_parts[(id(keys), id(tags))] = (keys, tags, ctx)
        return ctx


# -- decisions back to AuthZEN ---------------------------------------------------------------------------------


def deciding(resp: Response) -> list[dict]:
    """The statements that decided ``resp``: the matching Deny statements of an explicit deny, the granting Allow
    statements (identity and resource policies) of an allow; none for an implicit deny."""
    if resp.decision is Decision.EXPLICIT_DENY:
        refs = [r for r in resp.matched_statements if r.effect == "Deny"]
    elif resp.decision is Decision.ALLOW:
        refs = [r for r in resp.matched_statements if r.effect == "Allow" and r.policy_type in ("identity",
                                                                                                 "resource")]
    else:
        refs = []
    return [{"policy_id": r.policy, "policy_type": r.policy_type, "statement": r.index + 1, "sid": r.sid}
            for r in refs]


def deny_context(resp: Response | None, code: Decision, explain: bool) -> dict:
    """The ``context`` of a deny: ``reason``, and with ``explain`` the deciding statements, the policy types that
    blocked an otherwise allowed request and the missing context keys; an ``error`` when evaluation was refused."""
    if code is Decision.ERROR:
        errors = [] if resp is None else [{"code": e.code, "message": e.message, "path": e.path}
                                          for e in resp.errors]
        first = errors[0] if errors else {"code": "E_POLICY_ERRORS", "message": "a policy has errors"}
        return {"reason": "error", "error": {"status": 500, "code": first["code"], "message": first["message"],
                                             "errors": errors}}
    out: dict = {"reason": code.simulator_name}
    if explain and resp is not None:
        out["deciding"] = deciding(resp)
        if resp.blocked_by:
            out["blocked_by"] = list(resp.blocked_by)
        out["missing_context_values"] = list(resp.missing_context_values)
    return out


def allow_context(resp: Response | None, explain: bool) -> dict:
    """The ``context`` of an allow: with ``explain``, the granting statements."""
    if explain and resp is not None:
        return {"deciding": deciding(resp)}
    return {}
