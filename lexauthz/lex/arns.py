"""Amazon Lex ARNs, V1 and V2: parse, build, and tell them apart.

Seven resource types (Service Authorization Reference, pages "Amazon Lex" and "Amazon Lex V2"):

=================  ====  ==================================================================
resource type      fam.  resource part of the ARN (after ``arn:${Partition}:lex:${Region}:${Account}:``)
=================  ====  ==================================================================
bot                V1    ``bot:${BotName}``
bot alias          V1    ``bot:${BotName}:${BotAlias}``
bot version        V1    ``bot:${BotName}:${BotVersion}``
channel            V1    ``bot-channel:${BotName}:${BotAlias}:${ChannelName}``
intent version     V1    ``intent:${IntentName}:${IntentVersion}``
slottype version   V1    ``slottype:${SlotName}:${SlotVersion}``
bot                V2    ``bot/${BotId}``
bot alias          V2    ``bot-alias/${BotId}/${BotAliasId}``
test set           V2    ``test-set/${TestSetId}``
=================  ====  ==================================================================

**V1 or V2.** Take the resource part; if its first ``:``-separated segment contains ``/`` the ARN is V2 (V2 uses
slash-separated ids, V1 colon-separated names).

**V1 alias or V1 version.** ``bot:${BotName}:${X}`` is a *bot version* when ``X`` is ``$LATEST`` or digits and a
*bot alias* when ``X`` matches the alias name pattern ``^([A-Za-z]_?)+$``.  The two patterns cannot both match.

**Request ARNs that name a set.** Some V1 operations act on every version of a bot, intent or slot type
(``DeleteBot``, ``GetBotVersions``, ...), list every resource of a kind (``GetBots``), or do not yet know the id of
the resource they create (V2 ``CreateBot``).  The archived V1 permissions reference names the resource such a request
needs as ``bot:NAME:*``, ``bot:*`` and so on; lexauthz uses exactly that text as the request ARN, with a literal
``*`` as the whole segment (and ``-``, the "all aliases" value of ``GetBotChannelAssociations``, as the alias).  A
policy pattern grants such a request only if it also covers the ``*`` segment: ``bot:NAME:*``, ``bot:*`` and ``*``
do, ``bot:NAME`` and ``bot:NAME:$LATEST`` do not.  :attr:`LexArn.is_collection` tells these ARNs apart, and
:func:`parse_arn` accepts them only when asked to.

Names and ids are checked against the botocore ``lex-models`` / ``lexv2-models`` shapes; a bad one raises
:class:`~lexauthz.errors.RequestError` with code ``E_INVALID_NAME`` and the JSON path of the offending value.
"""
from __future__ import annotations

import enum
import re
from dataclasses import InitVar, dataclass

from ..errors import RequestError

__all__ = [
    "Family",
    "ResourceType",
    "LexArn",
    "ALL",
    "ALL_ALIASES",
    "LATEST",
    "parse_arn",
    "build_arn",
    "is_v2_arn",
    "classify_qualifier",
    "check_name",
    "check_region",
    "check_account",
    "check_partition",
    "NAME_KINDS",
]

#: A segment that stands for every value (all versions, all bots) or for a not-yet-known id.
ALL = "*"
#: The alias of ``GetBotChannelAssociations`` that means "the channels of every alias".
ALL_ALIASES = "-"
#: The draft version of a V1 bot, intent or slot type.
LATEST = "$LATEST"


class Family(str, enum.Enum):
    """The Lex API generation an ARN (or an operation) belongs to."""

    V1 = "V1"
    V2 = "V2"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class ResourceType(str, enum.Enum):
    """Lex resource types, named as the Service Authorization Reference names them."""

    BOT = "bot"
    BOT_ALIAS = "bot alias"
    BOT_VERSION = "bot version"
    CHANNEL = "channel"
    INTENT_VERSION = "intent version"
    SLOTTYPE_VERSION = "slottype version"
    TEST_SET = "test set"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


_V1_NAME = re.compile(r"([A-Za-z]_?)+")
_VERSION = re.compile(r"\$LATEST|[0-9]+")
_NUMERIC = re.compile(r"[0-9]+")
_V2_ID = re.compile(r"[0-9A-Za-z]{10}")
_PARTITION = re.compile(r"aws(-[a-z]+)*")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_ACCOUNT = re.compile(r"[0-9]{12}")

#: Name and id kinds: ``kind -> (pattern, min length, max length, the pattern as documented)``.  V1 patterns and
#: lengths are botocore ``lex-models`` shapes (BotName, AliasName, IntentName, SlotTypeName, BotChannelName,
#: Version, NumericalVersion); V2 ids are ``lexv2-models`` ``Id`` / ``BotAliasId`` (ten letters or digits).
NAME_KINDS: dict[str, tuple[re.Pattern, int, int, str]] = {
    "bot name": (_V1_NAME, 2, 50, "^([A-Za-z]_?)+$"),
    "alias name": (_V1_NAME, 1, 100, "^([A-Za-z]_?)+$"),
    "intent name": (_V1_NAME, 1, 100, "^([A-Za-z]_?)+$"),
    "slot type name": (_V1_NAME, 1, 100, "^([A-Za-z]_?)+$"),
    "channel name": (_V1_NAME, 1, 100, "^([A-Za-z]_?)+$"),
    "version": (_VERSION, 1, 64, "$LATEST or digits"),
    "numeric version": (_NUMERIC, 1, 64, "digits"),
    "bot id": (_V2_ID, 10, 10, "ten letters or digits"),
    "bot alias id": (_V2_ID, 10, 10, "ten letters or digits"),
    "test set id": (_V2_ID, 10, 10, "ten letters or digits"),
}


def check_name(value: object, kind: str, path: str = "$") -> str:
    """Return ``value`` if it is a valid name or id of ``kind`` (a key of :data:`NAME_KINDS`).

    Raises
    ------
    RequestError
        ``E_INVALID_PARAMETER`` when ``value`` is not a string, ``E_INVALID_NAME`` when it breaks the pattern or
        the length limits.

    >>> check_name("OrderFlowers", "bot name")
    'OrderFlowers'
    """
    pattern, lo, hi, shown = NAME_KINDS[kind]
    if not isinstance(value, str):
        raise RequestError("E_INVALID_PARAMETER", f"{kind} must be a string", path)
    if not (lo <= len(value) <= hi) or not pattern.fullmatch(value):
        raise RequestError(
            "E_INVALID_NAME", f"`{value}` is not a valid {kind}: it must match {shown} and have {lo} to {hi} characters", path
        )
    return value


def check_partition(value: object, path: str = "$.partition") -> str:
    """Return ``value`` if it looks like an AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``, ...)."""
    if not isinstance(value, str) or not _PARTITION.fullmatch(value):
        raise RequestError("E_INVALID_PARTITION", f"`{value}` is not an AWS partition", path)
    return value


def check_region(value: object, path: str = "$.region") -> str:
    """Return ``value`` if it looks like an AWS Region code (``us-east-1``)."""
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise RequestError("E_INVALID_REGION", f"`{value}` is not an AWS Region code", path)
    return value


def check_account(value: object, path: str = "$.account") -> str:
    """Return ``value`` if it is a 12-digit AWS account id."""
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        raise RequestError("E_INVALID_ACCOUNT", f"`{value}` is not a 12-digit AWS account id", path)
    return value


def classify_qualifier(value: str) -> ResourceType | None:
    """Tell a V1 bot version from a V1 bot alias by the last segment of ``bot:${BotName}:${X}``.

    ``$LATEST``, digits and ``*`` (every version) give :attr:`ResourceType.BOT_VERSION`; an alias name gives
    :attr:`ResourceType.BOT_ALIAS`; anything else ``None``.

    >>> classify_qualifier("$LATEST"), classify_qualifier("7"), classify_qualifier("Prod")
    (<ResourceType.BOT_VERSION: 'bot version'>, <ResourceType.BOT_VERSION: 'bot version'>, <ResourceType.BOT_ALIAS: 'bot alias'>)
    """
    if value == ALL or (len(value) <= 64 and _VERSION.fullmatch(value)):
        return ResourceType.BOT_VERSION
    if len(value) <= 100 and _V1_NAME.fullmatch(value):
        return ResourceType.BOT_ALIAS
    return None


def is_v2_arn(arn: str) -> bool:
    """True if ``arn`` is a V2 Lex ARN: the first ``:`` segment of its resource part contains ``/``.

    >>> is_v2_arn("arn:aws:lex:us-east-1:111122223333:bot/ABCDE12345"), is_v2_arn("arn:aws:lex:us-east-1:111122223333:bot:Order")
    (True, False)
    """
    parts = arn.split(":", 5)
    return len(parts) == 6 and "/" in parts[5].split(":", 1)[0]


def _seg(value: object, kind: str, path: str, *, star: bool, extra: tuple[str, ...] = ()) -> None:
    if star and value == ALL:
        return
    if value in extra:
        return
    check_name(value, kind, path)


def _absent(arn: "LexArn", names: tuple[str, ...], path: str) -> None:
    for name in names:
        if getattr(arn, name) is not None:
            raise RequestError(
                "E_INVALID_ARN", f"a {arn.family.value} {arn.resource_type.value} ARN has no `{name}` segment", path
            )


@dataclass(frozen=True, slots=True)
class LexArn:
    """One Lex ARN, split into its parts and checked.

    Only the segments of its resource type are set; the others are ``None``.  V1 segments hold names
    (``bot="OrderFlowers"``, ``alias="Prod"``, ``version="$LATEST"``), V2 segments hold ids (``bot="ABCDE12345"``,
    ``alias="TSTALIASID"``).  ``str(arn)`` builds the ARN text; :func:`parse_arn` is its inverse.

    Raises
    ------
    RequestError
        ``E_INVALID_ARN`` for segments that do not belong to the resource type, ``E_INVALID_NAME`` for a bad name or
        id, ``E_INVALID_PARTITION`` / ``E_INVALID_REGION`` / ``E_INVALID_ACCOUNT`` for bad ARN fields.
    """

    partition: str
    region: str
    account: str
    resource_type: ResourceType
    family: Family
    bot: str | None = None
    alias: str | None = None
    version: str | None = None
    channel: str | None = None
    intent: str | None = None
    slot_type: str | None = None
    test_set: str | None = None
    path: InitVar[str] = "$"

    def __post_init__(self, path: str) -> None:
        check_partition(self.partition, path)
        check_region(self.region, path)
        check_account(self.account, path)
        rt, fam = ResourceType(self.resource_type), Family(self.family)
        object.__setattr__(self, "resource_type", rt)
        object.__setattr__(self, "family", fam)
        if fam is Family.V2:
            if rt is ResourceType.BOT:
                _seg(self.bot, "bot id", path, star=True)
                _absent(self, ("alias", "version", "channel", "intent", "slot_type", "test_set"), path)
            elif rt is ResourceType.BOT_ALIAS:
                _seg(self.bot, "bot id", path, star=True)
                _seg(self.alias, "bot alias id", path, star=True)
                _absent(self, ("version", "channel", "intent", "slot_type", "test_set"), path)
            elif rt is ResourceType.TEST_SET:
                _seg(self.test_set, "test set id", path, star=True)
                _absent(self, ("bot", "alias", "version", "channel", "intent", "slot_type"), path)
            else:
                raise RequestError("E_INVALID_ARN", f"Lex V2 has no {rt.value} resource type", path)
            return
        if rt is ResourceType.BOT:
            _seg(self.bot, "bot name", path, star=True)
            _absent(self, ("alias", "version", "channel", "intent", "slot_type", "test_set"), path)
        elif rt is ResourceType.BOT_ALIAS:
            _seg(self.bot, "bot name", path, star=False)
            _seg(self.alias, "alias name", path, star=False)
            _absent(self, ("version", "channel", "intent", "slot_type", "test_set"), path)
        elif rt is ResourceType.BOT_VERSION:
            _seg(self.bot, "bot name", path, star=False)
            _seg(self.version, "version", path, star=True)
            _absent(self, ("alias", "channel", "intent", "slot_type", "test_set"), path)
        elif rt is ResourceType.CHANNEL:
            _seg(self.bot, "bot name", path, star=False)
            _seg(self.alias, "alias name", path, star=False, extra=(ALL_ALIASES,))
            _seg(self.channel, "channel name", path, star=True)
            _absent(self, ("version", "intent", "slot_type", "test_set"), path)
        elif rt in (ResourceType.INTENT_VERSION, ResourceType.SLOTTYPE_VERSION):
            field, kind = ("intent", "intent name") if rt is ResourceType.INTENT_VERSION else ("slot_type", "slot type name")
            name = getattr(self, field)
            _seg(name, kind, path, star=True)
            if name == ALL:
                # ``intent:*`` / ``slottype:*``: every intent or slot type, no version segment.
                if self.version is not None:
                    raise RequestError("E_INVALID_ARN", f"`{rt.value}` ARN `*` takes no version", path)
            else:
                _seg(self.version, "version", path, star=True)
            other = "slot_type" if field == "intent" else "intent"
            _absent(self, ("bot", "alias", "channel", "test_set", other), path)
        else:
            raise RequestError("E_INVALID_ARN", f"Lex V1 has no {rt.value} resource type", path)

    # -- text ------------------------------------------------------------------------------------------------

    @property
    def resource(self) -> str:
        """The resource part of the ARN, after ``arn:partition:lex:region:account:``."""
        rt = self.resource_type
        if self.family is Family.V2:
            if rt is ResourceType.BOT:
                return f"bot/{self.bot}"
            if rt is ResourceType.BOT_ALIAS:
                return f"bot-alias/{self.bot}/{self.alias}"
            return f"test-set/{self.test_set}"
        if rt is ResourceType.BOT:
            return f"bot:{self.bot}"
        if rt is ResourceType.BOT_ALIAS:
            return f"bot:{self.bot}:{self.alias}"
        if rt is ResourceType.BOT_VERSION:
            return f"bot:{self.bot}:{self.version}"
        if rt is ResourceType.CHANNEL:
            return f"bot-channel:{self.bot}:{self.alias}:{self.channel}"
        prefix, name = ("intent", self.intent) if rt is ResourceType.INTENT_VERSION else ("slottype", self.slot_type)
        return f"{prefix}:{name}" if self.version is None else f"{prefix}:{name}:{self.version}"

    @property
    def arn(self) -> str:
        """The ARN text."""
        return f"arn:{self.partition}:lex:{self.region}:{self.account}:{self.resource}"

    def __str__(self) -> str:
        return self.arn

    # -- relations -------------------------------------------------------------------------------------------

    @property
    def is_collection(self) -> bool:
        """True when a segment is ``*`` (every value, or an id not known yet) or the alias is ``-`` (every alias)."""
        segs = (self.bot, self.alias, self.version, self.channel, self.intent, self.slot_type, self.test_set)
        return ALL in segs or self.alias == ALL_ALIASES

    def bot_arn(self) -> "LexArn | None":
        """The bot this ARN belongs to (V1 ``bot:NAME``, V2 ``bot/ID``), or ``None`` (intents, slot types, test
        sets, every bot).  A version ARN resolves to its bot: versions are not taggable."""
        if self.bot is None or self.bot == ALL:
            return None
        return LexArn(self.partition, self.region, self.account, ResourceType.BOT, self.family, bot=self.bot)

    def alias_arn(self) -> "LexArn | None":
        """The alias this ARN names (itself for an alias, the channel's alias for a V1 channel), or ``None``."""
        if self.resource_type is ResourceType.BOT_ALIAS:
            return None if ALL in (self.bot, self.alias) else self
        if self.resource_type is ResourceType.CHANNEL and self.alias != ALL_ALIASES:
            return LexArn(
                self.partition, self.region, self.account, ResourceType.BOT_ALIAS, Family.V1, bot=self.bot, alias=self.alias
            )
        return None


def build_arn(
    resource_type: ResourceType | str,
    family: Family | str,
    *,
    region: str,
    account: str,
    partition: str = "aws",
    path: str = "$",
    **segments: str,
) -> LexArn:
    """Build and check a Lex ARN from its parts.

    ``segments`` are the :class:`LexArn` segment fields of the resource type (``bot``, ``alias``, ``version``,
    ``channel``, ``intent``, ``slot_type``, ``test_set``).

    >>> str(build_arn("bot alias", "V1", region="us-east-1", account="111122223333", bot="OrderFlowers", alias="Prod"))
    'arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod'
    """
    return LexArn(partition, region, account, ResourceType(resource_type), Family(family), path=path, **segments)


def parse_arn(text: object, path: str = "$", *, allow_collections: bool = False) -> LexArn:
    """Parse a Lex ARN.

    Parameters
    ----------
    text:
        The ARN.
    path:
        JSON path of ``text`` for errors.
    allow_collections:
        Accept ``*`` segments and the ``-`` alias (request ARNs that name a set, see the module text).  Off by
        default: a ``resourceArn`` parameter must name one resource.

    Raises
    ------
    RequestError
        ``E_INVALID_ARN`` (not an ARN, not ``lex``, a wildcard where none is allowed),
        ``E_UNKNOWN_RESOURCE_TYPE`` (a resource part Lex does not define), ``E_INVALID_NAME`` and the field codes of
        :class:`LexArn`.

    >>> a = parse_arn("arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:$LATEST")
    >>> a.resource_type.value, a.family.value, a.bot, a.version
    ('bot version', 'V1', 'OrderFlowers', '$LATEST')
    """
    if not isinstance(text, str):
        raise RequestError("E_INVALID_ARN", "an ARN must be a string", path)
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise RequestError("E_INVALID_ARN", f"`{text}` is not an ARN", path)
    _, partition, service, region, account, resource = parts
    if service != "lex":
        raise RequestError("E_INVALID_ARN", f"`{text}` is not an Amazon Lex ARN (service `{service}`)", path)
    common = dict(partition=partition, region=region, account=account, path=path)
    head = resource.split(":", 1)[0]
    arn: LexArn
    if "/" in head:
        if ":" in resource:
            raise RequestError("E_INVALID_ARN", f"`{text}` mixes V2 `/` and V1 `:` separators", path)
        segs = resource.split("/")
        kind = segs[0]
        if kind == "bot" and len(segs) == 2:
            arn = LexArn(resource_type=ResourceType.BOT, family=Family.V2, bot=segs[1], **common)
        elif kind == "bot-alias" and len(segs) == 3:
            arn = LexArn(resource_type=ResourceType.BOT_ALIAS, family=Family.V2, bot=segs[1], alias=segs[2], **common)
        elif kind == "test-set" and len(segs) == 2:
            arn = LexArn(resource_type=ResourceType.TEST_SET, family=Family.V2, test_set=segs[1], **common)
        else:
            raise RequestError("E_UNKNOWN_RESOURCE_TYPE", f"`{resource}` is not a Lex V2 resource", path)
    else:
        segs = resource.split(":")
        kind = segs[0]
        if kind == "bot" and len(segs) == 2:
            arn = LexArn(resource_type=ResourceType.BOT, family=Family.V1, bot=segs[1], **common)
        elif kind == "bot" and len(segs) == 3:
            rt = classify_qualifier(segs[2])
            if rt is None:
                raise RequestError(
                    "E_INVALID_NAME", f"`{segs[2]}` is neither a bot version ($LATEST or digits) nor an alias name", path
                )
            if rt is ResourceType.BOT_VERSION:
                arn = LexArn(resource_type=rt, family=Family.V1, bot=segs[1], version=segs[2], **common)
            else:
                arn = LexArn(resource_type=rt, family=Family.V1, bot=segs[1], alias=segs[2], **common)
        elif kind == "bot-channel" and len(segs) == 4:
            arn = LexArn(
                resource_type=ResourceType.CHANNEL, family=Family.V1, bot=segs[1], alias=segs[2], channel=segs[3], **common
            )
        elif kind in ("intent", "slottype") and len(segs) in (2, 3):
            rt = ResourceType.INTENT_VERSION if kind == "intent" else ResourceType.SLOTTYPE_VERSION
            field = "intent" if kind == "intent" else "slot_type"
            version = segs[2] if len(segs) == 3 else None
            if version is None and segs[1] != ALL:
                raise RequestError("E_INVALID_ARN", f"`{resource}` has no version segment", path)
            arn = LexArn(resource_type=rt, family=Family.V1, version=version, **{field: segs[1]}, **common)
        else:
            raise RequestError("E_UNKNOWN_RESOURCE_TYPE", f"`{resource}` is not a Lex V1 resource", path)
    if arn.is_collection and not allow_collections:
        raise RequestError("E_INVALID_ARN", f"`{text}` names a set of resources, not one resource", path)
    return arn
