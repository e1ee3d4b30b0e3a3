"""The per-operation table: which IAM request(s) each Lex API operation makes.

One :class:`Operation` row per operation of the four Lex APIs (botocore ``lex-models`` 2017-04-19, ``lex-runtime``
2016-11-28, ``lexv2-models`` and ``lexv2-runtime`` 2020-08-07).  A row gives:

- the IAM **action** (``lex:`` + the operation name, except where the API reference says otherwise);
- the **resource** template: the resource part of the request ARN, with ``{param:kind}`` placeholders filled from
  the call's parameters (``kind`` is a name kind of :data:`lexauthz.lex.arns.NAME_KINDS`, or ``qualifier`` = a V1
  version or alias name, or ``alias or all`` = an alias name or ``-``; ``a|b`` accepts parameter ``a`` or its
  other spelling ``b``), ``*`` for an action without resource-level permissions, or ``{resourceArn:arn}`` for the
  operations that take an ARN;
- **whose tags** become ``aws:ResourceTag/*`` (:class:`TagSource`);
- which condition keys come from the **parameters** (``aws:RequestTag/*``, ``aws:TagKeys``, ``lex:associatedIntents``,
  ``lex:associatedSlotTypes``) or from the **stored channel** (``lex:channelType``);
- rows whose requests depend on parameter values (V1 ``StartImport``, ``GetExport``, ``GetUtterancesView``; V2
  ``CreateBot``, ``CreateExport``, ``StartImport``) have a planner function instead of a template.

Only parameters that authorization reads are required; the others (``userId``, ``inputText``, ...) may be left out.

Sources and decisions (see also ``lex-iam.md`` sections 6 and 7):

- **V1 request ARNs** are the ``Resource`` values of the archived V1 "API Permissions: Actions, Resources, and
  Conditions Reference": ``bot:NAME:*`` for operations on every version of a bot (``DeleteBot``, ``DeleteUtterances``,
  ``GetBotVersions``, ``GetBotAliases``), ``intent:NAME:*`` / ``slottype:NAME:*`` likewise, ``bot:*`` / ``intent:*``
  / ``slottype:*`` for the listing operations, ``bot-channel:BOT:ALIAS:*`` for ``GetBotChannelAssociations``, and
  ``*`` for built-ins, imports and migrations.  The ``*`` is literal (see :mod:`lexauthz.lex.arns`): a policy must
  cover every version to grant an operation on every version.  These agree with the SAR's required resource types
  (``bot version``, ``intent version``, ``slottype version``, ``channel``) and with AWS's own V1 example policy, which
  grants ``lex:Get*`` on ``bot:*``.  The SAR lists no resource type for ``GetBots``, ``GetIntents``,
  ``GetSlotTypes`` and ``GetBotAliases``; with the literal-``*`` ARN a ``"Resource": "*"`` statement still grants
  them.
- **Tags** follow the seed page's table: ``$LATEST`` or a numeric version takes the **bot's** tags, an alias its own,
  ``GetBotChannelAssociations`` with alias ``-`` the bot's, a channel its own; intents, slot types and built-ins have
  none.  Operations absent from that table whose resource is a bot version (``StartMigration``) take the bot's tags,
  because the SAR gives every taggable resource type ``aws:ResourceTag``; ``GetBotAliases`` (listed in neither) has
  none.
- **lex:channelType** (``DeleteBotChannelAssociation``, ``GetBotChannelAssociation``) is the type of the channel
  association; the API has no such parameter, so it comes from the resource store (``"type"`` of the channel), or
  from a ``type`` parameter when the channel is not stored.
- **StartImport (V1)**: the seed page says it "relies on access policy for the PutBot operation. Tags and
  permissions specific to the StartImport operation are ignored", and the V1 import guide says the caller needs
  permission for every resource the import changes.  So a V1 ``StartImport`` makes no ``lex:StartImport`` request:
  it makes ``lex:PutBot`` on ``bot:NAME:$LATEST`` (the bot's tags; ``aws:RequestTag``/``aws:TagKeys`` from the
  import's ``tags``, which become the bot's tags; ``lex:associatedIntents`` from the payload), ``lex:PutIntent`` on
  each imported intent and ``lex:PutSlotType`` on each imported custom slot type.  The names come from the payload
  (the export JSON, or the ZIP archive holding it); without a payload, a lexauthz-only ``name`` parameter names the
  resource.
- **V2 creations** (``CreateBot``, ``CreateBotAlias``, bot and test-set imports, ``StartTestSetGeneration``) act on
  an id that does not exist yet: the request ARN has ``*`` in its place (``bot/*``, ``bot-alias/BOTID/*``), as in
  AWS's V2 example policies (``"Resource": "arn:aws:lex:Region:123456789012:bot/*"``).  ``CreateBot`` needs both
  ``bot`` and ``bot alias`` (SAR: both required; the bot comes with the test alias ``TSTALIASID``).  V2
  ``DeleteBot`` likewise needs both: ``bot/ID`` and ``bot-alias/ID/*`` (every alias of the bot goes with it; AWS's
  "Allow users to delete bots" example grants ``lex:DeleteBot`` on ``bot/*`` and ``bot-alias/*``).
- **V2 job operations** (``DescribeExport``, ``DescribeTestExecution``, ...) name only a job id; the resource they
  act on (SAR: a bot or a test set) cannot be derived from it.  They take a lexauthz-only ``botId`` or
  ``testSetId`` parameter naming the resource, and fail with ``E_MISSING_PARAMETER`` without one.
- **iam:PassRole**: operations that pass a role (V2 ``CreateBot``/``UpdateBot``/bot and test-set imports/
  ``StartTestSetGeneration``, V1 ``StartMigration``) add an ``iam:PassRole`` request on the role ARN with
  ``iam:PassedToService`` = ``lexv2.amazonaws.com``, as the SAR's operation table lists for ``CreateBot``.
- **V2 action names** differ from the operation name for ``ListUtteranceAnalyticsData`` and
  ``ListUtteranceMetrics`` (the API reference: they need ``lex:ListAggregatedUtterances``) and for
  ``ListBotAnalyzerHistory`` (inferred: the SAR's only analyzer listing action is ``lex:ListBotAnalyzerRecommendations``).
"""
from __future__ import annotations

import enum
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import RequestError
from ._frozen import FrozenMap
from .arns import (
    ALL_ALIASES,
    Family,
    LexArn,
    ResourceType,
    check_name,
    classify_qualifier,
    parse_arn,
)
from .principals import parse_principal_arn
from .tags import parse_tags

__all__ = [
    "Api",
    "TagSource",
    "Operation",
    "Step",
    "OPERATIONS",
    "operations_named",
    "get_operation",
    "plan",
    "PASSED_TO_SERVICE",
]

#: The value of ``iam:PassedToService`` on the ``iam:PassRole`` requests of V2 operations.
PASSED_TO_SERVICE = "lexv2.amazonaws.com"


class Api(str, enum.Enum):
    """The four Lex APIs (botocore service names)."""

    LEX_MODELS = "lex-models"
    LEX_RUNTIME = "lex-runtime"
    LEXV2_MODELS = "lexv2-models"
    LEXV2_RUNTIME = "lexv2-runtime"

    @property
    def family(self) -> Family:
        """V1 for ``lex-*``, V2 for ``lexv2-*``."""
        return Family.V2 if self.value.startswith("lexv2") else Family.V1

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class TagSource(str, enum.Enum):
    """Whose tags become ``aws:ResourceTag/*`` for a request."""

    NONE = "none"
    #: The bot the ARN belongs to (a version ARN resolves to ``bot:NAME``).
    BOT = "bot"
    #: The alias the ARN names.
    ALIAS = "alias"
    #: The channel the ARN names.
    CHANNEL = "channel"
    #: The test set the ARN names.
    TEST_SET = "test set"
    #: V1 ``bot:NAME:X``: the bot's tags when ``X`` is ``$LATEST`` or a number, the alias's when it is an alias.
    VERSION_OR_ALIAS = "bot for a version, alias for an alias"
    #: ``GetBotChannelAssociations``: the alias's tags, or the bot's when the alias is ``-``.
    ALIAS_OR_BOT = "alias, bot for `-`"
    #: The resource the ``resourceArn`` parameter names (bot, alias, channel or test set).
    RESOURCE = "the resource named"
    #: ``iam:PassRole``: the tags of the role passed (from the principal store).
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class Step:
    """One IAM authorization request of a call, before principal context and tags are added.

    ``resource`` is the request's resource (ARN or ``*``); ``lex_arn`` its parsed form for Lex resources.
    ``context`` holds the condition keys taken from the parameters.  ``channel_type`` asks for ``lex:channelType``
    from the stored channel; ``channel_type_param`` is the ``type`` parameter to fall back on.
    """

    action: str
    resource: str
    tags: TagSource
    lex_arn: LexArn | None = None
    resource_account: str | None = None
    context: FrozenMap = field(default_factory=FrozenMap)
    channel_type: bool = False
    channel_type_param: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of the table.  See the module text for the template syntax and the decisions behind the rows."""

    name: str
    api: Api
    action: str
    resource: str | None
    tags: TagSource
    request_tags: str | None = None
    tag_keys: str | None = None
    context_keys: tuple[str, ...] = ()
    arn_types: tuple[ResourceType, ...] = ()
    hint: tuple[str, ...] = ()
    pass_role: str | None = None
    note: str = ""
    planner: Callable[["_Ctx"], tuple[Step, ...]] | None = field(default=None, repr=False, compare=False)
    signature: tuple[str, ...] = ()

    @property
    def family(self) -> Family:
        """The API generation of the operation."""
        return self.api.family

    @property
    def param_specs(self) -> tuple[str, ...]:
        """The parameters that identify the row, each as ``name`` or ``name|other-spelling``: those its template
        reads, or its planner's ``signature``.  They tell the two rows of a shared operation name apart."""
        if self.signature:
            return self.signature
        if self.resource is None:
            return ()
        return tuple(m.group(1) for m in _PLACEHOLDER.finditer(self.resource))

    @property
    def params(self) -> tuple[str, ...]:
        """:attr:`param_specs`, first spelling of each."""
        return tuple(s.split("|")[0] for s in self.param_specs)


# ---------------------------------------------------------------------------------------------------------------
# Planning: parameters -> steps
# ---------------------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9|]+):([a-z ]+)\}")


@dataclass(frozen=True, slots=True)
class _Ctx:
    op: Operation
    params: Mapping
    region: str
    account: str
    partition: str

    def path(self, *names: str | int) -> str:
        out = "$.params"
        for n in names:
            out += f"[{n}]" if isinstance(n, int) else f".{n}"
        return out

    def lookup(self, spec: str) -> tuple[str, Any]:
        """``(name, value)`` of the first spelling of ``spec`` (``a|b``) present; raises if none is."""
        names = spec.split("|")
        for n in names:
            if n in self.params and self.params[n] is not None:
                return n, self.params[n]
        raise RequestError("E_MISSING_PARAMETER", f"`{self.op.name}` needs the parameter `{names[0]}`", self.path(names[0]))

    def arn(self, resource: str, path: str) -> LexArn:
        text = f"arn:{self.partition}:lex:{self.region}:{self.account}:{resource}"
        return parse_arn(text, path, allow_collections=True)


def _fill(ctx: _Ctx, template: str) -> tuple[str, str]:
    """Fill a resource template; returns the resource part and the path of the last parameter used."""
    last = "$.params"

    def repl(m: re.Match) -> str:
        nonlocal last
        name, value = ctx.lookup(m.group(1))
        kind = m.group(2)
        p = ctx.path(name)
        last = p
        if kind == "qualifier":
            if not isinstance(value, str):
                raise RequestError("E_INVALID_PARAMETER", f"`{name}` must be a string", p)
            if classify_qualifier(value) is None or value == "*":
                raise RequestError(
                    "E_INVALID_NAME", f"`{value}` is neither a bot version ($LATEST or digits) nor an alias name", p
                )
            return value
        if kind == "alias or all":
            if value == ALL_ALIASES:
                return value
            return check_name(value, "alias name", p)
        return check_name(value, kind, p)

    return _PLACEHOLDER.sub(repl, template), last


def _step(ctx: _Ctx, action: str, resource: str, tags: TagSource, path: str = "$.params", **context: Any) -> Step:
    if resource == "*":
        return Step(action, "*", TagSource.NONE, None, ctx.account, FrozenMap(context))
    arn = ctx.arn(resource, path)
    return Step(action, arn.arn, tags, arn, arn.account, FrozenMap(context))


def _tag_context(ctx: _Ctx, value: Any, path: str) -> dict[str, Any]:
    tags = parse_tags(value, path)
    out: dict[str, Any] = tags.context("aws:RequestTag/")
    out["aws:TagKeys"] = tuple(tags)
    return out


def _tag_keys_context(ctx: _Ctx, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, (list, tuple)):
        raise RequestError("E_INVALID_PARAMETER", "tag keys must be a list of strings", path)
    keys = []
    for i, k in enumerate(value):
        if not isinstance(k, str) or not k:
            raise RequestError("E_INVALID_PARAMETER", "a tag key must be a non-empty string", f"{path}[{i}]")
        keys.append(k)
    return {"aws:TagKeys": tuple(keys)}


def _names_from(ctx: _Ctx, param: str, member: str, kind: str | None, *, required: bool) -> tuple[str, ...]:
    """The ``member`` values of the objects in list parameter ``param`` (deduplicated, in order)."""
    value = ctx.params[param]
    if not isinstance(value, (list, tuple)):
        raise RequestError("E_INVALID_PARAMETER", f"`{param}` must be a list", ctx.path(param))
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise RequestError("E_INVALID_PARAMETER", f"each `{param}` entry must be an object", ctx.path(param, i))
        if member not in item or item[member] is None:
            if required:
                raise RequestError("E_MISSING_PARAMETER", f"`{param}` entry has no `{member}`", ctx.path(param, i, member))
            continue
        name = item[member]
        p = ctx.path(param, i, member)
        if kind is not None:
            check_name(name, kind, p)
        elif not isinstance(name, str) or not name:
            raise RequestError("E_INVALID_PARAMETER", f"`{member}` must be a non-empty string", p)
        if name not in out:
            out.append(name)
    return tuple(out)


def _pass_role(ctx: _Ctx, role_arn: Any, path: str) -> Step:
    try:
        parsed = parse_principal_arn(role_arn, path)
    except RequestError:
        parsed = None
    if parsed is None or parsed.kind != "role":
        raise RequestError("E_INVALID_PARAMETER", f"`{role_arn}` is not an IAM role ARN", path)
    return Step("iam:PassRole", role_arn, TagSource.ROLE, None, parsed.account,
                FrozenMap({"iam:PassedToService": PASSED_TO_SERVICE}))


def _template_steps(ctx: _Ctx) -> tuple[Step, ...]:
    op = ctx.op
    assert op.resource is not None
    context: dict[str, Any] = {}
    if op.request_tags and ctx.params.get(op.request_tags) is not None:
        context.update(_tag_context(ctx, ctx.params[op.request_tags], ctx.path(op.request_tags)))
    if op.tag_keys:
        name, value = ctx.lookup(op.tag_keys)
        context.update(_tag_keys_context(ctx, value, ctx.path(name)))
    if "lex:associatedIntents" in op.context_keys and ctx.params.get("intents") is not None:
        context["lex:associatedIntents"] = _names_from(ctx, "intents", "intentName", "intent name", required=True)
    if "lex:associatedSlotTypes" in op.context_keys and ctx.params.get("slots") is not None:
        context["lex:associatedSlotTypes"] = _names_from(ctx, "slots", "slotType", None, required=False)
    if op.hint:
        present = [h for h in op.hint if ctx.params.get(h) is not None]
        if not present:
            names = " or ".join(f"`{h}`" for h in op.hint)
            raise RequestError(
                "E_MISSING_PARAMETER",
                f"`{op.name}` names only a job id: give {names} to name the resource it acts on",
                ctx.path(op.hint[0]),
            )
        if len(present) > 1:
            raise RequestError("E_INVALID_PARAMETER", f"give one of {', '.join(op.hint)}, not several", ctx.path(present[1]))
        h = present[0]
        if h == "botId":
            steps = [_step(ctx, op.action, f"bot/{check_name(ctx.params[h], 'bot id', ctx.path(h))}", TagSource.BOT, **context)]
        else:
            steps = [_step(ctx, op.action, f"test-set/{check_name(ctx.params[h], 'test set id', ctx.path(h))}",
                           TagSource.TEST_SET, **context)]
    elif op.resource.startswith("{") and op.resource.endswith(":arn}"):
        name, value = ctx.lookup(op.resource[1:-5])
        p = ctx.path(name)
        arn = parse_arn(value, p)
        if arn.family is not op.family or arn.resource_type not in op.arn_types:
            allowed = ", ".join(f"{op.family.value} {t.value}" for t in op.arn_types)
            raise RequestError(
                "E_UNSUPPORTED_RESOURCE",
                f"`{op.name}` ({op.api.value}) does not take a {arn.family.value} {arn.resource_type.value} ARN: use {allowed}",
                p,
            )
        steps = [Step(op.action, arn.arn, op.tags, arn, arn.account, FrozenMap(context))]
    else:
        resource, last = _fill(ctx, op.resource)
        step = _step(ctx, op.action, resource, op.tags, last, **context)
        if "lex:channelType" in op.context_keys:
            ptype = ctx.params.get("type")
            if ptype is not None and not isinstance(ptype, str):
                raise RequestError("E_INVALID_PARAMETER", "`type` must be a string", ctx.path("type"))
            step = Step(step.action, step.resource, step.tags, step.lex_arn, step.resource_account, step.context,
                        channel_type=True, channel_type_param=ptype)
        steps = [step]
    if op.pass_role and ctx.params.get(op.pass_role) is not None:
        steps.append(_pass_role(ctx, ctx.params[op.pass_role], ctx.path(op.pass_role)))
    return tuple(steps)


def plan(op: Operation, params: Mapping, *, region: str, account: str, partition: str = "aws") -> tuple[Step, ...]:
    """The authorization requests ``op`` makes for ``params``, before principal context and tags.

    Raises
    ------
    RequestError
        ``E_MISSING_PARAMETER``, ``E_INVALID_PARAMETER``, ``E_INVALID_NAME``, ``E_INVALID_ARN``,
        ``E_UNSUPPORTED_RESOURCE``, ``E_INVALID_PAYLOAD``, each with the JSON path of the parameter
        (``$.params.botName``).
    """
    ctx = _Ctx(op, params, region, account, partition)
    if op.planner is not None:
        return op.planner(ctx)
    return _template_steps(ctx)


# ---------------------------------------------------------------------------------------------------------------
# Planners for the rows whose requests depend on parameter values
# ---------------------------------------------------------------------------------------------------------------

_V1_TYPES = ("BOT", "INTENT", "SLOT_TYPE")


def _enum(ctx: _Ctx, name: str, values: tuple[str, ...]) -> str:
    _, value = ctx.lookup(name)
    if value not in values:
        raise RequestError("E_INVALID_PARAMETER", f"`{name}` must be one of {', '.join(values)}", ctx.path(name))
    return value


def _plan_get_export(ctx: _Ctx) -> tuple[Step, ...]:
    rtype = _enum(ctx, "resourceType", _V1_TYPES)
    template, tags = {
        "BOT": ("bot:{name:bot name}:{version:numeric version}", TagSource.BOT),
        "INTENT": ("intent:{name:intent name}:{version:numeric version}", TagSource.NONE),
        "SLOT_TYPE": ("slottype:{name:slot type name}:{version:numeric version}", TagSource.NONE),
    }[rtype]
    resource, last = _fill(ctx, template)
    return (_step(ctx, ctx.op.action, resource, tags, last),)


def _plan_utterances_view(ctx: _Ctx) -> tuple[Step, ...]:
    _, bot = ctx.lookup("botName")
    check_name(bot, "bot name", ctx.path("botName"))
    _, versions = ctx.lookup("botVersions")
    if isinstance(versions, str):
        versions = [versions]
    if not isinstance(versions, (list, tuple)) or not 1 <= len(versions) <= 5:
        raise RequestError("E_INVALID_PARAMETER", "`botVersions` must be a list of 1 to 5 versions", ctx.path("botVersions"))
    steps: list[Step] = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        p = ctx.path("botVersions", i)
        check_name(v, "version", p)
        if v in seen:
            continue
        seen.add(v)
        steps.append(_step(ctx, ctx.op.action, f"bot:{bot}:{v}", TagSource.BOT, p))
    return tuple(steps)


def _read_payload(ctx: _Ctx) -> Mapping | None:
    if ctx.params.get("payload") is None:
        return None
    raw = ctx.params["payload"]
    p = ctx.path("payload")
    if isinstance(raw, Mapping):
        doc: Any = raw
    else:
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, (bytes, bytearray)):
            raise RequestError("E_INVALID_PAYLOAD", "`payload` must be the export JSON or the ZIP archive holding it", p)
        data = bytes(raw)
        if data[:2] == b"PK":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    names = [n for n in zf.namelist() if not n.endswith("/")]
                    if len(names) != 1:
                        raise RequestError("E_INVALID_PAYLOAD", "the archive must hold exactly one JSON file", p)
                    data = zf.read(names[0])
            except zipfile.BadZipFile:
                raise RequestError("E_INVALID_PAYLOAD", "`payload` is not a readable ZIP archive", p) from None
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestError("E_INVALID_PAYLOAD", "`payload` does not hold JSON", p) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("resource"), Mapping):
        raise RequestError("E_INVALID_PAYLOAD", "the import JSON has no `resource` object", p)
    return doc["resource"]


def _payload_names(items: Any, member: str, path: str) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        raise RequestError("E_INVALID_PAYLOAD", "a list was expected in the import JSON", path)
    return [i.get(member) if isinstance(i, Mapping) else None for i in items]


def _payload_name(value: Any, kind: str, path: str) -> str:
    try:
        return check_name(value, kind, path)
    except RequestError as e:
        raise RequestError("E_INVALID_PAYLOAD", f"the import JSON holds a bad {kind}: {e.message}", path) from None


def _slot_types_of(intent: Mapping, path: str) -> tuple[str, ...]:
    out: list[str] = []
    for s in _payload_names(intent.get("slots"), "slotType", path):
        if isinstance(s, str) and s and s not in out:
            out.append(s)
    return tuple(out)


def _plan_v1_start_import(ctx: _Ctx) -> tuple[Step, ...]:
    """V1 StartImport: the Put* requests of the import (the seed page: it relies on PutBot's policy)."""
    rtype = _enum(ctx, "resourceType", _V1_TYPES)
    resource = _read_payload(ctx)
    pp = ctx.path("payload")
    if resource is not None:
        name, name_path = resource.get("name"), pp
    elif ctx.params.get("name") is not None:
        name, name_path = ctx.params["name"], ctx.path("name")
    else:
        raise RequestError("E_MISSING_PARAMETER", "`StartImport` needs the `payload` (or a `name`) to know what it imports",
                           pp)
    if ctx.params.get("tags") is not None and rtype != "BOT":
        raise RequestError("E_INVALID_PARAMETER", "tags can be added only when a bot is imported", ctx.path("tags"))
    steps: list[Step] = []
    intents: list[tuple[str, tuple[str, ...]]] = []
    slot_types: list[str] = []
    if resource is not None:
        raw_intents = resource.get("intents") if rtype == "BOT" else None
        if raw_intents is not None and not isinstance(raw_intents, (list, tuple)):
            raise RequestError("E_INVALID_PAYLOAD", "`intents` in the import JSON must be a list", pp)
        for intent in raw_intents or []:
            if not isinstance(intent, Mapping):
                raise RequestError("E_INVALID_PAYLOAD", "an intent in the import JSON must be an object", pp)
            iname = _payload_name(intent.get("name"), "intent name", pp)
            intents.append((iname, _slot_types_of(intent, pp)))
        for st in _payload_names(resource.get("slotTypes"), "name", pp):
            if st not in slot_types:
                slot_types.append(_payload_name(st, "slot type name", pp))
    check = _payload_name if resource is not None else check_name
    if rtype == "BOT":
        check(name, "bot name", name_path)
        context: dict[str, Any] = {}
        if ctx.params.get("tags") is not None:
            context.update(_tag_context(ctx, ctx.params["tags"], ctx.path("tags")))
        if resource is not None:
            context["lex:associatedIntents"] = tuple(n for n, _ in intents)
        steps.append(_step(ctx, "lex:PutBot", f"bot:{name}:$LATEST", TagSource.BOT, name_path, **context))
        for iname, its in intents:
            steps.append(_step(ctx, "lex:PutIntent", f"intent:{iname}:$LATEST", TagSource.NONE, pp,
                               **{"lex:associatedSlotTypes": its}))
    elif rtype == "INTENT":
        check(name, "intent name", name_path)
        context = {"lex:associatedSlotTypes": _slot_types_of(resource, pp)} if resource is not None else {}
        steps.append(_step(ctx, "lex:PutIntent", f"intent:{name}:$LATEST", TagSource.NONE, name_path, **context))
    else:
        check(name, "slot type name", name_path)
        steps.append(_step(ctx, "lex:PutSlotType", f"slottype:{name}:$LATEST", TagSource.NONE, name_path))
    for st in slot_types:
        if rtype == "SLOT_TYPE" and st == name:
            continue
        steps.append(_step(ctx, "lex:PutSlotType", f"slottype:{st}:$LATEST", TagSource.NONE, pp))
    return tuple(steps)


def _one_of(ctx: _Ctx, param: str, members: tuple[str, ...]) -> tuple[str, Mapping, str]:
    _, spec = ctx.lookup(param)
    p = ctx.path(param)
    if not isinstance(spec, Mapping):
        raise RequestError("E_INVALID_PARAMETER", f"`{param}` must be an object", p)
    present = [m for m in members if spec.get(m) is not None]
    if len(present) != 1:
        raise RequestError("E_INVALID_PARAMETER", f"`{param}` must hold exactly one of {', '.join(members)}", p)
    inner = spec[present[0]]
    if not isinstance(inner, Mapping):
        raise RequestError("E_INVALID_PARAMETER", f"`{present[0]}` must be an object", f"{p}.{present[0]}")
    return present[0], inner, f"{p}.{present[0]}"


def _need(inner: Mapping, key: str, path: str) -> Any:
    if inner.get(key) is None:
        raise RequestError("E_MISSING_PARAMETER", f"`{key}` is required here", f"{path}.{key}")
    return inner[key]


def _plan_v2_create_bot(ctx: _Ctx) -> tuple[Step, ...]:
    bot_ctx = _tag_context(ctx, ctx.params["botTags"], ctx.path("botTags")) if ctx.params.get("botTags") is not None else {}
    alias_ctx = (_tag_context(ctx, ctx.params["testBotAliasTags"], ctx.path("testBotAliasTags"))
                 if ctx.params.get("testBotAliasTags") is not None else {})
    steps = [
        _step(ctx, "lex:CreateBot", "bot/*", TagSource.NONE, **bot_ctx),
        _step(ctx, "lex:CreateBot", "bot-alias/*/TSTALIASID", TagSource.NONE, **alias_ctx),
    ]
    if ctx.params.get("roleArn") is not None:
        steps.append(_pass_role(ctx, ctx.params["roleArn"], ctx.path("roleArn")))
    return tuple(steps)


def _plan_v2_delete_bot(ctx: _Ctx) -> tuple[Step, ...]:
    _, bot_id = ctx.lookup("botId")
    check_name(bot_id, "bot id", ctx.path("botId"))
    return (
        _step(ctx, "lex:DeleteBot", f"bot/{bot_id}", TagSource.BOT),
        _step(ctx, "lex:DeleteBot", f"bot-alias/{bot_id}/*", TagSource.NONE),
    )


def _plan_v2_create_export(ctx: _Ctx) -> tuple[Step, ...]:
    which, inner, p = _one_of(ctx, "resourceSpecification", (
        "botExportSpecification", "botLocaleExportSpecification", "customVocabularyExportSpecification",
        "testSetExportSpecification"))
    if which == "testSetExportSpecification":
        tid = check_name(_need(inner, "testSetId", p), "test set id", f"{p}.testSetId")
        return (_step(ctx, ctx.op.action, f"test-set/{tid}", TagSource.TEST_SET),)
    bid = check_name(_need(inner, "botId", p), "bot id", f"{p}.botId")
    return (_step(ctx, ctx.op.action, f"bot/{bid}", TagSource.BOT),)


def _plan_v2_start_import(ctx: _Ctx) -> tuple[Step, ...]:
    which, inner, p = _one_of(ctx, "resourceSpecification", (
        "botImportSpecification", "botLocaleImportSpecification", "customVocabularyImportSpecification",
        "testSetImportResourceSpecification"))
    steps: list[Step] = []
    if which == "botImportSpecification":
        tags = _tag_context(ctx, inner["botTags"], f"{p}.botTags") if inner.get("botTags") is not None else {}
        steps.append(_step(ctx, ctx.op.action, "bot/*", TagSource.NONE, **tags))
        if inner.get("testBotAliasTags") is not None:
            atags = _tag_context(ctx, inner["testBotAliasTags"], f"{p}.testBotAliasTags")
            steps.append(_step(ctx, ctx.op.action, "bot-alias/*/TSTALIASID", TagSource.NONE, **atags))
    elif which == "testSetImportResourceSpecification":
        tags = _tag_context(ctx, inner["testSetTags"], f"{p}.testSetTags") if inner.get("testSetTags") is not None else {}
        steps.append(_step(ctx, ctx.op.action, "test-set/*", TagSource.NONE, **tags))
    else:
        bid = check_name(_need(inner, "botId", p), "bot id", f"{p}.botId")
        steps.append(_step(ctx, ctx.op.action, f"bot/{bid}", TagSource.BOT))
    if inner.get("roleArn") is not None:
        steps.append(_pass_role(ctx, inner["roleArn"], f"{p}.roleArn"))
    return tuple(steps)


# ---------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------

_M1, _R1, _M2, _R2 = Api.LEX_MODELS, Api.LEX_RUNTIME, Api.LEXV2_MODELS, Api.LEXV2_RUNTIME
_T = TagSource
_V1_TAGGABLE = (ResourceType.BOT, ResourceType.BOT_ALIAS, ResourceType.CHANNEL)
_V2_TAGGABLE = (ResourceType.BOT, ResourceType.BOT_ALIAS, ResourceType.TEST_SET)
_V2_POLICY = (ResourceType.BOT, ResourceType.BOT_ALIAS)


def _op(api: Api, name: str, resource: str | None, tags: TagSource = TagSource.NONE, *, action: str | None = None,
        **kw: Any) -> Operation:
    return Operation(name=name, api=api, action=action or f"lex:{name}", resource=resource, tags=tags, **kw)


_V1_RUNTIME_ARN = "bot:{botName:bot name}:{botAlias:qualifier}"
_V1_CHANNEL_ARN = "bot-channel:{botName:bot name}:{botAlias|aliasName:alias name}:{name:channel name}"

_ROWS: list[Operation] = [
    # ---- lex-models (V1 model building) ----
    _op(_M1, "CreateBotVersion", "bot:{name:bot name}:$LATEST", _T.BOT),
    _op(_M1, "CreateIntentVersion", "intent:{name:intent name}:$LATEST"),
    _op(_M1, "CreateSlotTypeVersion", "slottype:{name:slot type name}:$LATEST"),
    _op(_M1, "DeleteBot", "bot:{name:bot name}:*", _T.BOT, note="every version of the bot"),
    _op(_M1, "DeleteBotAlias", "bot:{botName:bot name}:{name:alias name}", _T.ALIAS),
    _op(_M1, "DeleteBotChannelAssociation", _V1_CHANNEL_ARN, _T.CHANNEL, context_keys=("lex:channelType",)),
    _op(_M1, "DeleteBotVersion", "bot:{name:bot name}:{version:numeric version}", _T.BOT),
    _op(_M1, "DeleteIntent", "intent:{name:intent name}:*", note="every version of the intent"),
    _op(_M1, "DeleteIntentVersion", "intent:{name:intent name}:{version:numeric version}"),
    _op(_M1, "DeleteSlotType", "slottype:{name:slot type name}:*", note="every version of the slot type"),
    _op(_M1, "DeleteSlotTypeVersion", "slottype:{name:slot type name}:{version:numeric version}"),
    _op(_M1, "DeleteUtterances", "bot:{botName:bot name}:*", _T.BOT),
    _op(_M1, "GetBot", "bot:{name:bot name}:{versionOrAlias:qualifier}", _T.VERSION_OR_ALIAS),
    _op(_M1, "GetBotAlias", "bot:{botName:bot name}:{name:alias name}", _T.ALIAS),
    _op(_M1, "GetBotAliases", "bot:{botName:bot name}:*", note="not in the seed page's tag table: no tags"),
    _op(_M1, "GetBotChannelAssociation", _V1_CHANNEL_ARN, _T.CHANNEL, context_keys=("lex:channelType",)),
    _op(_M1, "GetBotChannelAssociations", "bot-channel:{botName:bot name}:{botAlias|aliasName:alias or all}:*",
        _T.ALIAS_OR_BOT),
    _op(_M1, "GetBots", "bot:*"),
    _op(_M1, "GetBotVersions", "bot:{name:bot name}:*", _T.BOT),
    _op(_M1, "GetBuiltinIntent", "*"),
    _op(_M1, "GetBuiltinIntents", "*"),
    _op(_M1, "GetBuiltinSlotTypes", "*"),
    _op(_M1, "GetExport", None, _T.BOT, planner=_plan_get_export, signature=("name", "version", "resourceType"),
        note="bot:NAME:VERSION (bot's tags) for resourceType BOT, intent:/slottype:NAME:VERSION otherwise"),
    _op(_M1, "GetImport", "*"),
    _op(_M1, "GetIntent", "intent:{name:intent name}:{version:version}"),
    _op(_M1, "GetIntents", "intent:*"),
    _op(_M1, "GetIntentVersions", "intent:{name:intent name}:*"),
    _op(_M1, "GetMigration", "*"),
    _op(_M1, "GetMigrations", "*"),
    _op(_M1, "GetSlotType", "slottype:{name:slot type name}:{version:version}"),
    _op(_M1, "GetSlotTypes", "slottype:*"),
    _op(_M1, "GetSlotTypeVersions", "slottype:{name:slot type name}:*"),
    _op(_M1, "GetUtterancesView", None, _T.BOT, planner=_plan_utterances_view, signature=("botName", "botVersions"),
        note="one request per version in botVersions"),
    _op(_M1, "ListTagsForResource", "{resourceArn|resourceARN:arn}", _T.RESOURCE, arn_types=_V1_TAGGABLE),
    _op(_M1, "PutBot", "bot:{name:bot name}:$LATEST", _T.BOT, request_tags="tags",
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys", "lex:associatedIntents")),
    _op(_M1, "PutBotAlias", "bot:{botName:bot name}:{name:alias name}", _T.ALIAS, request_tags="tags",
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys")),
    _op(_M1, "PutIntent", "intent:{name:intent name}:$LATEST", context_keys=("lex:associatedSlotTypes",)),
    _op(_M1, "PutSlotType", "slottype:{name:slot type name}:$LATEST"),
    _op(_M1, "StartImport", None, _T.BOT, planner=_plan_v1_start_import, signature=("resourceType",),
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys", "lex:associatedIntents", "lex:associatedSlotTypes"),
        note="authorized as lex:PutBot / lex:PutIntent / lex:PutSlotType on what the payload imports"),
    _op(_M1, "StartMigration", "bot:{v1BotName:bot name}:{v1BotVersion:version}", _T.BOT, pass_role="v2BotRole"),
    _op(_M1, "TagResource", "{resourceArn|resourceARN:arn}", _T.RESOURCE, arn_types=_V1_TAGGABLE, request_tags="tags",
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys")),
    _op(_M1, "UntagResource", "{resourceArn|resourceARN:arn}", _T.RESOURCE, arn_types=_V1_TAGGABLE, tag_keys="tagKeys",
        context_keys=("aws:TagKeys",)),
    # ---- lex-runtime (V1) ----
    _op(_R1, "DeleteSession", _V1_RUNTIME_ARN, _T.VERSION_OR_ALIAS),
    _op(_R1, "GetSession", _V1_RUNTIME_ARN, _T.VERSION_OR_ALIAS),
    _op(_R1, "PostContent", _V1_RUNTIME_ARN, _T.VERSION_OR_ALIAS),
    _op(_R1, "PostText", _V1_RUNTIME_ARN, _T.VERSION_OR_ALIAS),
    _op(_R1, "PutSession", _V1_RUNTIME_ARN, _T.VERSION_OR_ALIAS),
]

_V2_BOT = "bot/{botId:bot id}"
_V2_ALIAS = "bot-alias/{botId:bot id}/{botAliasId:bot alias id}"
_V2_TEST_SET = "test-set/{testSetId:test set id}"

# lexv2-models operations acting on bot/{botId}, with the bot's tags.
_V2_BOT_OPS = (
    "BatchCreateCustomVocabularyItem BatchDeleteCustomVocabularyItem BatchUpdateCustomVocabularyItem BuildBotLocale "
    "CreateBotLocale CreateBotReplica CreateBotVersion CreateIntent CreateSlot CreateSlotType "
    "DeleteBotAnalyzerRecommendation DeleteBotLocale DeleteBotReplica DeleteBotVersion DeleteCustomVocabulary "
    "DeleteIntent DeleteSlot DeleteSlotType DeleteUtterances DescribeBot DescribeBotAnalyzerRecommendation "
    "DescribeBotLocale DescribeBotRecommendation DescribeBotReplica DescribeBotResourceGeneration DescribeBotVersion "
    "DescribeCustomVocabularyMetadata DescribeIntent DescribeSlot DescribeSlotType GenerateBotElement "
    "ListAggregatedUtterances ListBotAliasReplicas ListBotAliases ListBotLocales ListBotRecommendations "
    "ListBotReplicas ListBotResourceGenerations ListBotVersionReplicas ListBotVersions ListCustomVocabularyItems "
    "ListIntentMetrics ListIntentPaths ListIntentStageMetrics ListIntents ListRecommendedIntents "
    "ListSessionAnalyticsData ListSessionMetrics ListSlotTypes ListSlots SearchAssociatedTranscripts "
    "StartBotAnalyzer StartBotRecommendation StartBotResourceGeneration StopBotAnalyzer StopBotRecommendation "
    "UpdateBotLocale UpdateBotRecommendation UpdateIntent UpdateSlot UpdateSlotType"
).split()

_ROWS += [_op(_M2, n, _V2_BOT, _T.BOT) for n in _V2_BOT_OPS]
_ROWS += [
    _op(_M2, "UpdateBot", _V2_BOT, _T.BOT, pass_role="roleArn"),
    _op(_M2, "ListUtteranceAnalyticsData", _V2_BOT, _T.BOT, action="lex:ListAggregatedUtterances",
        note="the API reference: needs permission for ListAggregatedUtterances"),
    _op(_M2, "ListUtteranceMetrics", _V2_BOT, _T.BOT, action="lex:ListAggregatedUtterances",
        note="the API reference: needs permission for ListAggregatedUtterances"),
    _op(_M2, "ListBotAnalyzerHistory", _V2_BOT, _T.BOT, action="lex:ListBotAnalyzerRecommendations",
        note="inferred: the SAR's only analyzer listing action"),
    _op(_M2, "DeleteBot", None, _T.BOT, planner=_plan_v2_delete_bot, signature=("botId",),
        note="bot/{botId} (the bot's tags) and bot-alias/{botId}/* (every alias): the SAR requires both"),
    _op(_M2, "DeleteBotAlias", _V2_ALIAS, _T.ALIAS),
    _op(_M2, "DescribeBotAlias", _V2_ALIAS, _T.ALIAS),
    _op(_M2, "UpdateBotAlias", _V2_ALIAS, _T.ALIAS),
    _op(_M2, "CreateBot", None, _T.NONE, planner=_plan_v2_create_bot, signature=("botName",),
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys"),
        note="bot/* (botTags) and bot-alias/*/TSTALIASID (testBotAliasTags), plus iam:PassRole on roleArn"),
    _op(_M2, "CreateBotAlias", "bot-alias/{botId:bot id}/*", _T.NONE, request_tags="tags",
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys")),
    _op(_M2, "CreateExport", None, _T.BOT, planner=_plan_v2_create_export, signature=("resourceSpecification",),
        note="bot/{botId} or test-set/{testSetId} from resourceSpecification"),
    _op(_M2, "StartImport", None, _T.NONE, planner=_plan_v2_start_import, signature=("importId",),
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys"),
        note="bot/* or test-set/* for a new bot or test set, bot/{botId} for a locale or vocabulary"),
    _op(_M2, "CreateUploadUrl", "*"),
    _op(_M2, "ListBots", "*"),
    _op(_M2, "ListBuiltInIntents", "*"),
    _op(_M2, "ListBuiltInSlotTypes", "*"),
    _op(_M2, "ListExports", "*"),
    _op(_M2, "ListImports", "*"),
    _op(_M2, "ListTestExecutions", "*"),
    _op(_M2, "ListTestSets", "*"),
    _op(_M2, "StartTestSetGeneration", "test-set/*", _T.NONE, pass_role="roleArn"),
]
for _n in ("DescribeExport", "UpdateExport", "DeleteExport", "DescribeImport", "DeleteImport"):
    _ROWS.append(_op(_M2, _n, "*", hint=("botId", "testSetId"), note="lexauthz-only `botId` or `testSetId` names the resource"))
for _n in ("DescribeTestExecution", "GetTestExecutionArtifactsUrl", "ListTestExecutionResultItems",
           "DescribeTestSetDiscrepancyReport", "DescribeTestSetGeneration"):
    _ROWS.append(_op(_M2, _n, "*", hint=("testSetId",), note="lexauthz-only `testSetId` names the test set"))
for _n in ("CreateTestSetDiscrepancyReport", "DeleteTestSet", "DescribeTestSet", "ListTestSetRecords",
           "StartTestExecution", "UpdateTestSet"):
    _ROWS.append(_op(_M2, _n, _V2_TEST_SET, _T.TEST_SET))
for _n in ("CreateResourcePolicy", "CreateResourcePolicyStatement", "DeleteResourcePolicy",
           "DeleteResourcePolicyStatement", "DescribeResourcePolicy", "UpdateResourcePolicy"):
    _ROWS.append(_op(_M2, _n, "{resourceArn|resourceARN:arn}", _T.RESOURCE, arn_types=_V2_POLICY))
_ROWS += [
    _op(_M2, "ListTagsForResource", "{resourceARN|resourceArn:arn}", _T.RESOURCE, arn_types=_V2_TAGGABLE),
    _op(_M2, "TagResource", "{resourceARN|resourceArn:arn}", _T.RESOURCE, arn_types=_V2_TAGGABLE, request_tags="tags",
        context_keys=("aws:RequestTag/${TagKey}", "aws:TagKeys")),
    _op(_M2, "UntagResource", "{resourceARN|resourceArn:arn}", _T.RESOURCE, arn_types=_V2_TAGGABLE, tag_keys="tagKeys",
        context_keys=("aws:TagKeys",)),
]
# ---- lexv2-runtime ----
_ROWS += [_op(_R2, n, _V2_ALIAS, _T.ALIAS) for n in
          ("DeleteSession", "GetSession", "PutSession", "RecognizeText", "RecognizeUtterance", "StartConversation")]

#: Every row, keyed by ``(api, operation name)``.
OPERATIONS: Mapping[tuple[Api, str], Operation] = FrozenMap({(o.api, o.name): o for o in _ROWS})
if len(OPERATIONS) != len(_ROWS):  # pragma: no cover - guards the table itself
    raise RuntimeError("duplicate row in the Lex operation table")

_BY_NAME: dict[str, tuple[Operation, ...]] = {}
for _o in _ROWS:
    _BY_NAME[_o.name] = _BY_NAME.get(_o.name, ()) + (_o,)


def operations_named(name: str) -> tuple[Operation, ...]:
    """Every row for operation ``name`` (two when V1 and V2 share the name), or ``()``."""
    return _BY_NAME.get(name, ())


def get_operation(api: Api | str, name: str) -> Operation | None:
    """The row for ``name`` in ``api``, or ``None``."""
    return OPERATIONS.get((Api(api), name))
