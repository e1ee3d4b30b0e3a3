"""A Lex API call, and its translation into the IAM authorization request(s) that AWS evaluates for it.

:class:`LexCall` is the call as a client makes it: operation name, parameters, caller, account, Region.
:func:`to_requests` turns it into :class:`lexauthz.request.Request` objects, one per authorization IAM performs
(most calls make one; V1 ``StartImport``, ``GetUtterancesView`` and V2 ``CreateBot`` make several, see
:mod:`lexauthz.lex.operations`).  **Every request must be allowed for the call to be allowed**;
:func:`call_decision` combines their decisions.

The context of each request holds, from lowest to highest precedence:

1. the principal context (:mod:`lexauthz.lex.principals`): ``aws:PrincipalArn`` (the role's ARN for a role
   session), ``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:username`` (users only), ``aws:userid``,
   ``aws:PrincipalTag/*``, ``aws:PrincipalIsAWSService``;
2. request keys: ``aws:CurrentTime`` (ISO 8601, UTC, from ``now`` or the clock), ``aws:EpochTime`` (seconds),
   ``aws:RequestedRegion`` (the call's Region), ``aws:SecureTransport`` (``true``: the Lex endpoints are HTTPS only),
   ``aws:ResourceAccount`` (the account that owns the resource);
3. ``aws:ResourceTag/*`` from the resource the operation table names (:class:`~lexauthz.lex.operations.TagSource`);
4. keys from the parameters: ``aws:RequestTag/*``, ``aws:TagKeys``, ``lex:associatedIntents``,
   ``lex:associatedSlotTypes``, ``lex:channelType`` (from the stored channel, see the operation table);
5. the caller-supplied context of the call: **a value the caller gives wins** over every derived value (key names
   compared case-insensitively).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..decision import Decision
from ..errors import RequestError
from ..request import Context, Request
from ._frozen import FrozenMap, freeze, thaw
from .arns import ALL_ALIASES, Family, ResourceType, check_account, check_partition, check_region, parse_arn
from .operations import OPERATIONS, Api, Operation, Step, TagSource, get_operation, operations_named, plan
from .principals import PrincipalStore, parse_principal_arn
from .resources import ResourceStore
from .tags import EMPTY_TAGS, Tags

__all__ = ["LexCall", "to_requests", "authorization_requests", "plan_call", "call_decision"]

_EMPTY_RESOURCES = ResourceStore()
_EMPTY_PRINCIPALS = PrincipalStore()


@dataclass(frozen=True, slots=True)
class LexCall:
    """One Lex API call, immutable.

    Parameters
    ----------
    operation:
        The API operation name, V1 or V2: ``"PostText"``, ``"GetBot"``, ``"RecognizeText"``.
    params:
        The operation's parameters, named as in the API (botocore member names: ``botName``, ``botAlias``,
        ``versionOrAlias``, ``botId``, ``botAliasId``, ...).  Deeply frozen on construction.
    caller:
        The caller's ARN (IAM user, IAM role, ``arn:aws:sts::ACCT:assumed-role/Role/session``, federated user, root)
        or a service principal (``connect.amazonaws.com``).
    region:
        The Region the call is sent to (``us-east-1``).
    account:
        The account whose Lex endpoint is called, i.e. the owner of the bot.  ``None`` takes the caller's account.
    api:
        ``lex-models``, ``lex-runtime``, ``lexv2-models`` or ``lexv2-runtime``.  ``None`` infers it: from the
        operation name when only one API has it, else from the parameters (V1 names vs V2 ids, or the family of a
        ``resourceArn``).
    context:
        Caller-supplied context keys (``aws:SourceIp``, ``aws:SourceArn``, ...); they win over derived values.
    partition:
        The AWS partition, ``aws`` by default.

    Raises
    ------
    RequestError
        ``E_INVALID_CALL`` (wrong field types), ``E_UNKNOWN_API``, ``E_INVALID_CALLER``, ``E_INVALID_REGION``,
        ``E_INVALID_ACCOUNT``, ``E_INVALID_PARTITION`` and the context codes of :class:`lexauthz.request.Context`.
    """

    operation: str
    params: FrozenMap
    caller: str
    region: str
    account: str | None = None
    api: Api | None = None
    context: Context = field(default_factory=Context)
    partition: str = "aws"

    def __post_init__(self) -> None:
        if not isinstance(self.operation, str) or not self.operation:
            raise RequestError("E_INVALID_CALL", "`operation` must be a non-empty string", "$.operation")
        if self.params is None:
            object.__setattr__(self, "params", FrozenMap())
        if not isinstance(self.params, Mapping):
            raise RequestError("E_INVALID_CALL", "`params` must be an object", "$.params")
        object.__setattr__(self, "params", freeze(self.params))
        check_partition(self.partition, "$.partition")
        check_region(self.region, "$.region")
        caller = parse_principal_arn(self.caller, "$.caller")
        if self.account is None:
            if caller.account is None:
                raise RequestError("E_INVALID_ACCOUNT", "give the `account` of the bot: the caller has none", "$.account")
            object.__setattr__(self, "account", caller.account)
        check_account(self.account, "$.account")
        if self.api is not None and not isinstance(self.api, Api):
            try:
                object.__setattr__(self, "api", Api(self.api))
            except ValueError:
                raise RequestError(
                    "E_UNKNOWN_API", f"`{self.api}` is not a Lex API: use one of {', '.join(a.value for a in Api)}", "$.api"
                ) from None
        if not isinstance(self.context, Context):
            object.__setattr__(self, "context", Context(self.context, path="$.context"))

    # -- JSON ------------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "$", *, defaults: Mapping | None = None) -> "LexCall":
        """Build from ``{"operation", "params", "caller", "region", "account"?, "api"?, "context"?, "partition"?}``.

        ``defaults`` fills absent ``region``, ``account`` and ``partition`` (an account file's own values).
        Error paths are relative to ``path``.
        """
        if not isinstance(data, Mapping):
            raise RequestError("E_INVALID_CALL", "a call must be an object", path)
        allowed = {"operation", "params", "caller", "region", "account", "api", "context", "partition"}
        unknown = set(data) - allowed
        if unknown:
            raise RequestError("E_INVALID_CALL", f"unknown call field `{sorted(unknown)[0]}`", path)
        d = dict(defaults or {})
        d.update(data)
        for required in ("operation", "caller", "region"):
            if d.get(required) is None:
                raise RequestError("E_INVALID_CALL", f"a call needs `{required}`", f"{path}.{required}")
        try:
            return cls(
                operation=d["operation"],
                params=d.get("params") or {},
                caller=d["caller"],
                region=d["region"],
                account=d.get("account"),
                api=d.get("api"),
                context=d.get("context") or {},
                partition=d.get("partition", "aws"),
            )
        except RequestError as e:
            if path == "$":
                raise
            raise RequestError(e.code, e.message, path + e.path[1:]) from None

    def to_dict(self) -> dict:
        """The call as plain JSON data (``api`` only when given)."""
        out: dict[str, Any] = {
            "operation": self.operation,
            "params": thaw(self.params),
            "caller": self.caller,
            "region": self.region,
            "account": self.account,
        }
        if self.api is not None:
            out["api"] = self.api.value
        if len(self.context):
            out["context"] = self.context.to_dict()
        if self.partition != "aws":
            out["partition"] = self.partition
        return out

    # -- the operation ---------------------------------------------------------------------------------------

    @property
    def family(self) -> Family:
        """V1 or V2, from the resolved operation."""
        return self.resolve_operation().family

    def resolve_operation(self) -> Operation:
        """The operation-table row of this call.

        Raises
        ------
        RequestError
            ``E_UNKNOWN_OPERATION`` (``$.operation``), ``E_OPERATION_NOT_IN_API`` (``$.api``),
            ``E_AMBIGUOUS_API`` (``$.api``: both a V1 and a V2 operation have this name and the parameters do not
            tell which).
        """
        rows = operations_named(self.operation)
        if not rows:
            names = sorted({name for _, name in OPERATIONS})
            close = difflib.get_close_matches(self.operation, names, n=1)
            hint = f": did you mean `{close[0]}`" if close else ""
            raise RequestError("E_UNKNOWN_OPERATION", f"unknown Lex operation `{self.operation}`{hint}", "$.operation")
        if self.api is not None:
            row = get_operation(self.api, self.operation)
            if row is None:
                apis = ", ".join(r.api.value for r in rows)
                raise RequestError(
                    "E_OPERATION_NOT_IN_API", f"`{self.operation}` is not a {self.api.value} operation (it is in {apis})",
                    "$.api",
                )
            return row
        if len(rows) == 1:
            return rows[0]
        matching = [r for r in rows if _has_params(r, self.params)]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            by_arn = _by_arn_family(matching, self.params)
            if by_arn is not None:
                return by_arn
        apis = " and ".join(r.api.value for r in rows)
        raise RequestError(
            "E_AMBIGUOUS_API",
            f"`{self.operation}` is in {apis}: give `api`, or the parameters of one of them",
            "$.api",
        )


def _has_params(row: Operation, params: Mapping) -> bool:
    return all(any(params.get(n) is not None for n in spec.split("|")) for spec in row.param_specs)


def _by_arn_family(rows: list[Operation], params: Mapping) -> Operation | None:
    for spelling in ("resourceArn", "resourceARN"):
        value = params.get(spelling)
        if value is not None:
            # The ARN decides the API: an ARN that does not parse is the error to report.
            fam = parse_arn(value, f"$.params.{spelling}").family
            found = [r for r in rows if r.family is fam]
            return found[0] if len(found) == 1 else None
    return None


# ---------------------------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------------------------


def plan_call(call: LexCall) -> tuple[Step, ...]:
    """The authorization steps of ``call`` (action, resource, whose tags, parameter keys), without any store."""
    op = call.resolve_operation()
    return plan(op, call.params, region=call.region, account=call.account, partition=call.partition)


def _iso(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return str(int(t.timestamp()))


def _resource_tags(step: Step, resources: ResourceStore, principals: PrincipalStore) -> Tags:
    src, arn = step.tags, step.lex_arn
    if src is TagSource.ROLE:
        role = principals.role(step.resource)
        return role.tags if role is not None else EMPTY_TAGS
    if src is TagSource.NONE or arn is None:
        return EMPTY_TAGS
    if src is TagSource.BOT:
        return resources.tags(arn.bot_arn())
    if src is TagSource.ALIAS:
        return resources.tags(arn.alias_arn())
    if src in (TagSource.CHANNEL, TagSource.TEST_SET, TagSource.RESOURCE):
        return resources.tags(arn)
    if src is TagSource.VERSION_OR_ALIAS:
        if arn.resource_type is ResourceType.BOT_ALIAS:
            return resources.tags(arn)
        return resources.tags(arn.bot_arn())
    if src is TagSource.ALIAS_OR_BOT:
        if arn.alias == ALL_ALIASES:
            return resources.tags(arn.bot_arn())
        return resources.tags(arn.alias_arn())
    raise AssertionError(f"unhandled tag source {src}")  # pragma: no cover


def _put(ctx: dict[str, Any], lower: dict[str, str], key: str, value: Any) -> None:
    """Set ``key`` replacing any spelling of it already present (condition keys are case-insensitive)."""
    old = lower.pop(key.lower(), None)
    if old is not None:
        del ctx[old]
    ctx[key] = value
    lower[key.lower()] = key


def to_requests(
    call: LexCall,
    resources: ResourceStore | None = None,
    principals: PrincipalStore | None = None,
    now: datetime | None = None,
) -> tuple[Request, ...]:
    """Translate ``call`` into the IAM authorization requests AWS evaluates for it.

    Parameters
    ----------
    call:
        The Lex API call.
    resources:
        Where resource tags and channel types come from; without it no ``aws:ResourceTag/*`` key is set.
    principals:
        Where principal tags and ids come from; without it only what the caller ARN says is set.
    now:
        The time of the call for ``aws:CurrentTime`` and ``aws:EpochTime`` (a naive value is taken as UTC); the
        clock when ``None``.

    Returns
    -------
    tuple[Request, ...]
        One request per authorization, in the order of the operation table; every one must be allowed.

    Raises
    ------
    RequestError
        For an unknown operation, a missing or invalid parameter, or an invalid name, with a stable code and the
        JSON path of the bad value (``$.params.botName``).
    """
    resources = resources if resources is not None else _EMPTY_RESOURCES
    principals = principals if principals is not None else _EMPTY_PRINCIPALS
    steps = plan_call(call)
    principal = principals.resolve(call.caller)
    t = now if now is not None else datetime.now(timezone.utc)
    base: dict[str, Any] = dict(principal.context())
    base["aws:CurrentTime"] = _iso(t)
    base["aws:EpochTime"] = _epoch(t)
    base["aws:RequestedRegion"] = call.region
    base["aws:SecureTransport"] = "true"
    out: list[Request] = []
    for step in steps:
        ctx: dict[str, Any] = {}
        lower: dict[str, str] = {}
        for k, v in base.items():
            _put(ctx, lower, k, v)
        if step.resource_account is not None:
            _put(ctx, lower, "aws:ResourceAccount", step.resource_account)
        for k, v in _resource_tags(step, resources, principals).context("aws:ResourceTag/").items():
            _put(ctx, lower, k, v)
        if step.channel_type:
            ctype = resources.channel_type(step.lex_arn) if step.lex_arn is not None else None
            ctype = ctype if ctype is not None else step.channel_type_param
            if ctype is not None:
                _put(ctx, lower, "lex:channelType", ctype)
        for k, v in step.context.items():
            _put(ctx, lower, k, list(v) if isinstance(v, tuple) else v)
        for k, v in call.context.items():
            _put(ctx, lower, k, list(v) if isinstance(v, tuple) else v)
        out.append(
            Request(
                principal=call.caller,
                action=step.action,
                resource=step.resource,
                resource_account=step.resource_account,
                context=Context(ctx),
            )
        )
    return tuple(out)


#: The same function as :func:`to_requests`: the IAM requests a call needs, all of which must be allowed.
authorization_requests = to_requests


def call_decision(decisions: Iterable[Decision]) -> Decision:
    """Combine the decisions of a call's requests: an explicit deny anywhere wins, then an error, then an implicit
    deny; the call is allowed only when every request is allowed.

    >>> call_decision([Decision.ALLOW, Decision.IMPLICIT_DENY])
    <Decision.IMPLICIT_DENY: 0>
    """
    ds = list(decisions)
    if not ds:
        raise ValueError("a call makes at least one request")
    for d in (Decision.EXPLICIT_DENY, Decision.ERROR, Decision.IMPLICIT_DENY):
        if d in ds:
            return d
    return Decision.ALLOW
