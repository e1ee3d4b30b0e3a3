"""The resource store: the Lex resources of an account, with their tags and resource-based policies.

A request's ``aws:ResourceTag/*`` keys and its resource-based policy come from here.  The store is immutable once
built; build it with :meth:`ResourceStore.from_dict` (the JSON format below) or :meth:`ResourceStore.builder`.

What is stored, per the Service Authorization Reference:

- taggable resources: V1 bots, V1 aliases, V1 channels, V2 bots, V2 bot aliases, V2 test sets;
- an optional resource-based policy on each bot and bot alias (Lex V2 supports them on bots and aliases; the V1
  guide is contradictory, see ``lex-iam.md`` section 2, and lexauthz evaluates whatever policy it is given);
- descriptive fields that authorization does not read: V1 bot versions, the version an alias points to, V2 names,
  and the channel type of a V1 channel (which is the value of ``lex:channelType``).

Versions, intents and slot types are not taggable and are not stored as resources: a version ARN takes its bot's
tags and policy.

JSON format (every field but the names/ids optional)::

    {
      "account": "111122223333", "region": "us-east-1", "partition": "aws",
      "bots": [
        {"name": "OrderFlowers", "versions": ["$LATEST", "1", "2"],
         "tags": {"Department": "Support"}, "policy": "NameOfAPolicy" | {...inline policy...},
         "aliases": [{"name": "Prod", "botVersion": "2", "tags": {...}, "policy": ...,
                      "channels": [{"name": "OrderFlowersSlack", "type": "Slack", "tags": {...}}]}]},
        {"id": "BOOKTRIP01", "name": "BookTrip", "tags": {...}, "policy": ...,
         "aliases": [{"id": "PRODALIAS1", "name": "Prod", "botVersion": "1", "tags": {...}, "policy": ...}]}
      ],
      "testSets": [{"id": "TESTSET001", "name": "Smoke", "tags": {...}}]
    }

A bot with ``id`` is a V2 bot, one with only ``name`` a V1 bot.  ``account``, ``region`` and ``partition`` may also
be given per bot or test set.  A policy given by name is looked up in the ``policies`` mapping passed to
:meth:`ResourceStore.from_dict`.  Tags may be an object or a list of ``{"key", "value"}`` / ``{"Key", "Value"}``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from ..errors import RequestError
from .arns import ALL, Family, LexArn, ResourceType, build_arn, check_name, parse_arn
from .tags import EMPTY_TAGS, Tags, parse_tags

__all__ = ["CHANNEL_TYPES", "LexResource", "ResourceStore", "ResourceStoreBuilder"]

#: The V1 ``ChannelType`` enum: the values of ``lex:channelType``.
CHANNEL_TYPES = ("Facebook", "Slack", "Twilio-Sms", "Kik")


def _policy_text(policy: Any, path: str) -> str:
    if not isinstance(policy, Mapping):
        raise RequestError("E_INVALID_STORE", "an inline resource policy must be a JSON object", path)
    return json.dumps(policy, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class LexResource:
    """One taggable Lex resource.

    ``policy_name`` names the resource-based policy (``None`` for an inline or absent one); :attr:`policy` returns a
    fresh copy of the policy document, or ``None``.
    """

    arn: LexArn
    tags: Tags = EMPTY_TAGS
    policy_name: str | None = None
    policy_json: str | None = field(default=None, repr=False)
    name: str | None = None
    channel_type: str | None = None
    bot_version: str | None = None
    versions: tuple[str, ...] = ()

    @property
    def resource_type(self) -> ResourceType:
        """The resource type of :attr:`arn`."""
        return self.arn.resource_type

    @property
    def policy(self) -> dict | None:
        """A fresh copy of the resource-based policy document, or ``None``."""
        return None if self.policy_json is None else json.loads(self.policy_json)


class ResourceStore:
    """An immutable set of Lex resources, looked up by ARN.

    >>> store = ResourceStore.from_dict({"account": "111122223333", "region": "us-east-1",
    ...     "bots": [{"name": "OrderFlowers", "tags": {"team": "flowers"}}]})
    >>> dict(store.tags("arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers"))
    {'team': 'flowers'}
    """

    __slots__ = ("_by_arn",)

    def __init__(self, resources: Iterable[LexResource] = ()):
        by_arn: dict[str, LexResource] = {}
        for res in resources:
            if not isinstance(res, LexResource):
                raise TypeError("ResourceStore holds LexResource objects")
            key = res.arn.arn
            if key in by_arn:
                raise RequestError("E_DUPLICATE_RESOURCE", f"resource `{key}` is given twice", "$")
            by_arn[key] = res
        self._by_arn = by_arn

    # -- building --------------------------------------------------------------------------------------------

    @classmethod
    def builder(cls, account: str, region: str, partition: str = "aws") -> "ResourceStoreBuilder":
        """A :class:`ResourceStoreBuilder` whose resources default to ``account`` / ``region`` / ``partition``."""
        return ResourceStoreBuilder(account, region, partition)

    @classmethod
    def from_dict(
        cls,
        data: Mapping,
        *,
        policies: Mapping[str, Mapping] | None = None,
        account: str | None = None,
        region: str | None = None,
        path: str = "$",
    ) -> "ResourceStore":
        """Build a store from the JSON format in the module text.

        Parameters
        ----------
        data:
            The parsed JSON object.
        policies:
            Named policy documents that ``"policy": "<name>"`` fields refer to.
        account, region:
            Defaults when ``data`` gives none.
        path:
            JSON path of ``data`` for errors.

        Raises
        ------
        RequestError
            ``E_INVALID_STORE`` (wrong shape, unknown field), ``E_UNKNOWN_POLICY``, ``E_DUPLICATE_RESOURCE``,
            ``E_INVALID_NAME`` and the tag codes, each with the JSON path of the bad value.
        """
        if not isinstance(data, Mapping):
            raise RequestError("E_INVALID_STORE", "resources must be a JSON object", path)
        _known(data, {"account", "region", "partition", "bots", "testSets"}, path)
        b = ResourceStoreBuilder(data.get("account", account), data.get("region", region), data.get("partition", "aws"), policies)
        for i, bot in enumerate(_list(data, "bots", path)):
            b._add_bot_dict(bot, f"{path}.bots[{i}]")
        for i, ts in enumerate(_list(data, "testSets", path)):
            b._add_test_set_dict(ts, f"{path}.testSets[{i}]")
        return b.build()

    # -- lookup ----------------------------------------------------------------------------------------------

    def get(self, arn: LexArn | str) -> LexResource | None:
        """The resource with exactly this ARN, or ``None``."""
        return self._by_arn.get(str(arn))

    def tags(self, arn: LexArn | str | None) -> Tags:
        """The tags of the resource with exactly this ARN; no tags when it is not stored."""
        res = self._by_arn.get(str(arn)) if arn is not None else None
        return res.tags if res is not None else EMPTY_TAGS

    def policy_owner(self, arn: LexArn | str) -> LexResource | None:
        """The stored resource whose resource-based policy governs a request on ``arn``.

        An alias ARN is governed by the alias; a bot, a bot version or every version of a bot by the bot; channels,
        intents, slot types, test sets and ARNs naming every bot have no resource-based policy.
        """
        a = arn if isinstance(arn, LexArn) else parse_arn(arn, allow_collections=True)
        if a.resource_type is ResourceType.BOT_ALIAS:
            return self.get(a) if not a.is_collection else None
        if a.resource_type in (ResourceType.BOT, ResourceType.BOT_VERSION):
            bot = a.bot_arn()
            return self.get(bot) if bot is not None else None
        return None

    def resource_policy(self, arn: LexArn | str) -> dict | None:
        """A fresh copy of the resource-based policy that governs a request on ``arn`` (see :meth:`policy_owner`)."""
        owner = self.policy_owner(arn)
        return owner.policy if owner is not None else None

    def channel_type(self, arn: LexArn | str) -> str | None:
        """The channel type (``Slack``, ...) of the stored V1 channel with this ARN, or ``None``."""
        res = self.get(arn)
        return res.channel_type if res is not None else None

    def __iter__(self) -> Iterator[LexResource]:
        return iter(self._by_arn.values())

    def __len__(self) -> int:
        return len(self._by_arn)

    def __contains__(self, arn: object) -> bool:
        return isinstance(arn, (str, LexArn)) and str(arn) in self._by_arn

    def __repr__(self) -> str:
        return f"ResourceStore({len(self._by_arn)} resources)"


def _known(data: Mapping, allowed: set[str], path: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise RequestError("E_INVALID_STORE", f"unknown field `{sorted(unknown)[0]}`", path)


def _list(data: Mapping, key: str, path: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, (list, tuple)):
        raise RequestError("E_INVALID_STORE", f"`{key}` must be a list", f"{path}.{key}")
    return value


class ResourceStoreBuilder:
    """Collects resources, then :meth:`build` returns the immutable :class:`ResourceStore`.

    ``policies`` are the named policy documents a ``policy`` argument given as a name refers to.
    """

    def __init__(
        self,
        account: str | None,
        region: str | None,
        partition: str = "aws",
        policies: Mapping[str, Mapping] | None = None,
    ):
        self._account, self._region, self._partition = account, region, partition
        self._policies = dict(policies or {})
        self._items: list[LexResource] = []

    # -- helpers ---------------------------------------------------------------------------------------------

    def _where(self, account: str | None, region: str | None, partition: str | None, path: str) -> dict:
        acct = account if account is not None else self._account
        reg = region if region is not None else self._region
        if acct is None:
            raise RequestError("E_INVALID_STORE", "no account given for this resource", path)
        if reg is None:
            raise RequestError("E_INVALID_STORE", "no region given for this resource", path)
        return dict(account=acct, region=reg, partition=partition or self._partition, path=path)

    def _policy(self, policy: Any, path: str) -> tuple[str | None, str | None]:
        if policy is None:
            return None, None
        if isinstance(policy, str):
            if policy not in self._policies:
                raise RequestError("E_UNKNOWN_POLICY", f"no policy named `{policy}`", path)
            return policy, _policy_text(self._policies[policy], path)
        return None, _policy_text(policy, path)

    def _add(self, res: LexResource, path: str) -> LexResource:
        if any(r.arn == res.arn for r in self._items):
            raise RequestError("E_DUPLICATE_RESOURCE", f"resource `{res.arn}` is given twice", path)
        self._items.append(res)
        return res

    # -- V1 --------------------------------------------------------------------------------------------------

    def add_v1_bot(
        self, name: str, *, tags: Any = None, policy: Any = None, versions: Iterable[str] = (), account: str | None = None,
        region: str | None = None, partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V1 bot ``bot:NAME``.  ``policy`` is a policy name or an inline document."""
        where = self._where(account, region, partition, path)
        arn = build_arn(ResourceType.BOT, Family.V1, bot=check_name(name, "bot name", f"{path}.name"), **where)
        vers = tuple(versions)
        for i, v in enumerate(vers):
            check_name(v, "version", f"{path}.versions[{i}]")
        pname, ptext = self._policy(policy, f"{path}.policy")
        return self._add(LexResource(arn, parse_tags(tags, f"{path}.tags"), pname, ptext, name=name, versions=vers), path)

    def add_v1_alias(
        self, bot: str, name: str, *, tags: Any = None, policy: Any = None, bot_version: str | None = None,
        account: str | None = None, region: str | None = None, partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V1 bot alias ``bot:BOT:NAME``."""
        where = self._where(account, region, partition, path)
        check_name(name, "alias name", f"{path}.name")
        arn = build_arn(ResourceType.BOT_ALIAS, Family.V1, bot=bot, alias=name, **where)
        if bot_version is not None:
            check_name(bot_version, "version", f"{path}.botVersion")
        pname, ptext = self._policy(policy, f"{path}.policy")
        return self._add(
            LexResource(arn, parse_tags(tags, f"{path}.tags"), pname, ptext, name=name, bot_version=bot_version), path
        )

    def add_v1_channel(
        self, bot: str, alias: str, name: str, *, channel_type: str | None = None, tags: Any = None,
        account: str | None = None, region: str | None = None, partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V1 channel ``bot-channel:BOT:ALIAS:NAME``; ``channel_type`` is one of :data:`CHANNEL_TYPES`."""
        where = self._where(account, region, partition, path)
        check_name(name, "channel name", f"{path}.name")
        if channel_type is not None and channel_type not in CHANNEL_TYPES:
            raise RequestError(
                "E_INVALID_STORE", f"`{channel_type}` is not a channel type: use one of {', '.join(CHANNEL_TYPES)}", f"{path}.type"
            )
        arn = build_arn(ResourceType.CHANNEL, Family.V1, bot=bot, alias=alias, channel=name, **where)
        return self._add(LexResource(arn, parse_tags(tags, f"{path}.tags"), name=name, channel_type=channel_type), path)

    # -- V2 --------------------------------------------------------------------------------------------------

    def add_v2_bot(
        self, bot_id: str, *, name: str | None = None, tags: Any = None, policy: Any = None, account: str | None = None,
        region: str | None = None, partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V2 bot ``bot/BOT_ID``."""
        where = self._where(account, region, partition, path)
        arn = build_arn(ResourceType.BOT, Family.V2, bot=check_name(bot_id, "bot id", f"{path}.id"), **where)
        pname, ptext = self._policy(policy, f"{path}.policy")
        return self._add(LexResource(arn, parse_tags(tags, f"{path}.tags"), pname, ptext, name=name), path)

    def add_v2_alias(
        self, bot_id: str, alias_id: str, *, name: str | None = None, tags: Any = None, policy: Any = None,
        bot_version: str | None = None, account: str | None = None, region: str | None = None,
        partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V2 bot alias ``bot-alias/BOT_ID/ALIAS_ID``."""
        where = self._where(account, region, partition, path)
        check_name(alias_id, "bot alias id", f"{path}.id")
        arn = build_arn(ResourceType.BOT_ALIAS, Family.V2, bot=bot_id, alias=alias_id, **where)
        pname, ptext = self._policy(policy, f"{path}.policy")
        return self._add(
            LexResource(arn, parse_tags(tags, f"{path}.tags"), pname, ptext, name=name, bot_version=bot_version), path
        )

    def add_test_set(
        self, test_set_id: str, *, name: str | None = None, tags: Any = None, account: str | None = None,
        region: str | None = None, partition: str | None = None, path: str = "$",
    ) -> LexResource:
        """Add a V2 test set ``test-set/TEST_SET_ID``."""
        where = self._where(account, region, partition, path)
        arn = build_arn(
            ResourceType.TEST_SET, Family.V2, test_set=check_name(test_set_id, "test set id", f"{path}.id"), **where
        )
        return self._add(LexResource(arn, parse_tags(tags, f"{path}.tags"), name=name), path)

    def build(self) -> ResourceStore:
        """The immutable store.  (Adding an ARN twice raises ``E_DUPLICATE_RESOURCE`` when it is added.)"""
        return ResourceStore(self._items)

    # -- JSON ------------------------------------------------------------------------------------------------

    def _add_bot_dict(self, bot: Any, path: str) -> None:
        if not isinstance(bot, Mapping):
            raise RequestError("E_INVALID_STORE", "a bot must be a JSON object", path)
        where = {k: bot.get(k) for k in ("account", "region", "partition")}
        if "id" in bot:
            _known(bot, {"id", "name", "tags", "policy", "aliases", "account", "region", "partition"}, path)
            res = self.add_v2_bot(bot["id"], name=bot.get("name"), tags=bot.get("tags"), policy=bot.get("policy"), path=path, **where)
            for i, al in enumerate(_list(bot, "aliases", path)):
                ap = f"{path}.aliases[{i}]"
                if not isinstance(al, Mapping):
                    raise RequestError("E_INVALID_STORE", "an alias must be a JSON object", ap)
                _known(al, {"id", "name", "tags", "policy", "botVersion"}, ap)
                if "id" not in al:
                    raise RequestError("E_INVALID_STORE", "a V2 alias needs an `id`", ap)
                self.add_v2_alias(
                    res.arn.bot, al["id"], name=al.get("name"), tags=al.get("tags"), policy=al.get("policy"),
                    bot_version=al.get("botVersion"), path=ap, **where,
                )
            return
        _known(bot, {"name", "tags", "policy", "versions", "aliases", "account", "region", "partition"}, path)
        if "name" not in bot:
            raise RequestError("E_INVALID_STORE", "a bot needs a `name` (V1) or an `id` (V2)", path)
        versions = _list(bot, "versions", path)
        res = self.add_v1_bot(bot["name"], tags=bot.get("tags"), policy=bot.get("policy"), versions=versions, path=path, **where)
        for i, al in enumerate(_list(bot, "aliases", path)):
            ap = f"{path}.aliases[{i}]"
            if not isinstance(al, Mapping):
                raise RequestError("E_INVALID_STORE", "an alias must be a JSON object", ap)
            _known(al, {"name", "tags", "policy", "botVersion", "channels"}, ap)
            if "name" not in al:
                raise RequestError("E_INVALID_STORE", "a V1 alias needs a `name`", ap)
            if al.get("botVersion") == ALL:
                raise RequestError("E_INVALID_NAME", "an alias points to one version, not `*`", f"{ap}.botVersion")
            self.add_v1_alias(
                res.arn.bot, al["name"], tags=al.get("tags"), policy=al.get("policy"), bot_version=al.get("botVersion"),
                path=ap, **where,
            )
            for j, ch in enumerate(_list(al, "channels", ap)):
                cp = f"{ap}.channels[{j}]"
                if not isinstance(ch, Mapping):
                    raise RequestError("E_INVALID_STORE", "a channel must be a JSON object", cp)
                _known(ch, {"name", "type", "tags"}, cp)
                if "name" not in ch:
                    raise RequestError("E_INVALID_STORE", "a channel needs a `name`", cp)
                self.add_v1_channel(
                    res.arn.bot, al["name"], ch["name"], channel_type=ch.get("type"), tags=ch.get("tags"), path=cp, **where
                )

    def _add_test_set_dict(self, ts: Any, path: str) -> None:
        if not isinstance(ts, Mapping):
            raise RequestError("E_INVALID_STORE", "a test set must be a JSON object", path)
        _known(ts, {"id", "name", "tags", "account", "region", "partition"}, path)
        if "id" not in ts:
            raise RequestError("E_INVALID_STORE", "a test set needs an `id`", path)
        where = {k: ts.get(k) for k in ("account", "region", "partition")}
        self.add_test_set(ts["id"], name=ts.get("name"), tags=ts.get("tags"), path=path, **where)
