"""The request space of an analysis: which principals, actions, resources and contexts a matrix, a diff or a who-can
covers.

A space is given as JSON (a file or a Python object) in the format of ``docs/analysis.md``::

    {"principals": ["arn:aws:iam::111122223333:role/LexOps", "account:111122223333", "*"],
     "actions": ["lex:*"],
     "resources": ["inventory", "arn:aws:lex:us-east-1:111122223333:bot-alias/*"],
     "contexts": [{"aws:SourceIp": "203.0.113.7"}],
     "context_mode": "given"}

and resolved against one or more accounts (:func:`resolve_space`) into a :class:`Space`: concrete principal ARNs,
catalog action names, resource ARNs and context objects.

- ``principals``: ARNs; ``account:ID`` for every principal of account ID the accounts know plus the account's root;
  ``*`` for a principal no account knows (one representative, :data:`ANY_PRINCIPAL`, shown as ``*``); ``known`` for
  every principal the accounts know plus every principal their resource policies name.  Default: ``known``.
- ``actions``: action names or patterns (``lex:*``, ``lex:Get*``) expanded against the catalog.  Default: ``lex:*``.
- ``resources``: ``inventory`` (the accounts' resources), ARNs, or ARN patterns matched against the inventory.
  Default: ``inventory``.
- ``inventory_tags``: ``true`` adds each inventory resource's own tags to its cells' contexts as
  ``aws:ResourceTag/<key>`` (as a Lex call on that resource carries them); default ``false``: every cell is the
  request :meth:`lexauthz.account.Account.evaluate` answers.
- ``contexts``: objects of context keys; ``context_mode`` ``given`` uses them as they are, ``witnesses`` generates
  one representative value per equivalence class of every condition operand the policies hold, plus "absent"
  (:mod:`lexauthz.analysis.contexts`).  Default: ``given`` when ``contexts`` is there, else ``witnesses``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..errors import RequestError
from ..request import Context

__all__ = ["Space", "SpaceSpec", "ANY_PRINCIPAL", "load_space", "parse_space", "resolve_space", "expand_actions",
           "inventory", "resource_policy_principals", "known_principals"]

#: The representative of "a principal no account knows" (``*`` in a space): a user of an account no policy set
#: describes.  Outputs show it as ``*``.
ANY_PRINCIPAL = "arn:aws:iam::000000000000:user/AnyPrincipal"

_SPACE_KEYS = {"principals", "actions", "resources", "contexts", "context_mode", "max_contexts", "inventory_tags"}
_MODES = ("given", "witnesses")


@dataclass(frozen=True)
class SpaceSpec:
    """A request space as written, before it is resolved against accounts."""

    principals: tuple[str, ...] = ("known",)
    actions: tuple[str, ...] = ("lex:*",)
    resources: tuple[str, ...] = ("inventory",)
    contexts: tuple[dict, ...] | None = None
    context_mode: str = "witnesses"
    max_contexts: int = 256
    source: str = "<space>"
    inventory_tags: bool = False


@dataclass(frozen=True)
class Space:
    """A resolved request space: the axes of a matrix.  ``principal_labels`` are what outputs show for each
    principal (the ARN, or ``*`` for :data:`ANY_PRINCIPAL`)."""

    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    contexts: tuple[dict, ...] = ({},)
    principal_labels: tuple[str, ...] = field(default=())
    context_mode: str = "given"
    inventory_tags: bool = False

    def __post_init__(self):
        if not self.principal_labels:
            object.__setattr__(self, "principal_labels", tuple("*" if p == ANY_PRINCIPAL else p
                                                                 for p in self.principals))

    @property
    def cells(self) -> int:
        """The number of cells: principals x actions x resources x contexts."""
        return len(self.principals) * len(self.actions) * len(self.resources) * len(self.contexts)

    def to_dict(self) -> dict:
        """The resolved space as a space file (``context_mode: given``): resolving it again gives the same space."""
        return {"principals": ["*" if p == ANY_PRINCIPAL else p for p in self.principals],
                "actions": list(self.actions), "resources": list(self.resources),
                "contexts": [dict(c) for c in self.contexts], "context_mode": "given",
                "inventory_tags": self.inventory_tags}


def _err(code: str, message: str, source: str, path: str) -> RequestError:
    return RequestError(code, message, f"{source}: {path}")


def _strings(data: Mapping, key: str, source: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _err("E_BAD_SPACE", f"`{key}` must be a non-empty list of strings", source, f"$.{key}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise _err("E_BAD_SPACE", f"`{key}` entry is not a non-empty string", source, f"$.{key}[{i}]")
    return tuple(value)


def parse_space(data: Any, *, source: str = "<space>") -> SpaceSpec:
    """A :class:`SpaceSpec` from parsed JSON.

    Raises
    ------
    RequestError
        ``E_BAD_SPACE`` (wrong shape, unknown key, bad entry) and ``E_BAD_CONTEXT*`` (a malformed context), each with
        the file and JSON path.
    """
    if isinstance(data, SpaceSpec):
        return data
    if not isinstance(data, Mapping):
        raise _err("E_BAD_SPACE", "a request space must be a JSON object", source, "$")
    unknown = sorted(set(data) - _SPACE_KEYS)
    if unknown:
        raise _err("E_BAD_SPACE", f"unknown key `{unknown[0]}`: use {', '.join(sorted(_SPACE_KEYS))}", source,
                   f"$.{unknown[0]}")
    contexts = None
    if "contexts" in data:
        raw = data["contexts"]
        if not isinstance(raw, list):
            raise _err("E_BAD_SPACE", "`contexts` must be a list of objects", source, "$.contexts")
        out = []
        for i, c in enumerate(raw):
            try:
                ctx = Context(c, path=f"$.contexts[{i}]")
            except RequestError as e:
                raise _err(e.code, e.message, source, e.path) from None
            out.append(ctx.to_dict())
        contexts = tuple(out)
    mode = data.get("context_mode", "given" if contexts is not None else "witnesses")
    if mode not in _MODES:
        raise _err("E_BAD_SPACE", f"unknown context_mode `{mode}`: use given or witnesses", source, "$.context_mode")
    if mode == "given" and not contexts:
        contexts = ({},)
    max_contexts = data.get("max_contexts", 256)
    if not isinstance(max_contexts, int) or isinstance(max_contexts, bool) or max_contexts < 1:
        raise _err("E_BAD_SPACE", "`max_contexts` must be a positive integer", source, "$.max_contexts")
    inventory_tags = data.get("inventory_tags", False)
    if not isinstance(inventory_tags, bool):
        raise _err("E_BAD_SPACE", "`inventory_tags` must be true or false", source, "$.inventory_tags")
    spec = SpaceSpec(_strings(data, "principals", source, ("known",)), _strings(data, "actions", source, ("lex:*",)),
                     _strings(data, "resources", source, ("inventory",)), contexts, mode, max_contexts, source,
                     inventory_tags)
    for i, p in enumerate(spec.principals):
        if p in ("*", "known") or p.startswith("account:") or p.startswith("arn:") or "." in p:
            if p.startswith("account:") and not (p[8:].isdigit() and len(p[8:]) == 12):
                raise _err("E_BAD_SPACE", f"`{p}`: `account:` takes a 12-digit account id", source,
                           f"$.principals[{i}]")
            if p.startswith("arn:") and p.count(":") < 5:
                raise _err("E_BAD_SPACE", f"principal `{p}` has fewer than six ARN fields", source,
                           f"$.principals[{i}]")
            continue
        raise _err("E_BAD_SPACE", f"principal `{p}` is not an ARN, a service principal, `account:ID`, `*` or `known`",
                   source, f"$.principals[{i}]")
    for i, a in enumerate(spec.actions):
        if a != "*" and (a.count(":") != 1 or a.startswith(":") or a.endswith(":")):
            raise _err("E_BAD_SPACE", f"action `{a}` is not of the form `service:Action`", source, f"$.actions[{i}]")
    for i, r in enumerate(spec.resources):
        if r not in ("inventory", "*") and not (r.startswith("arn:") and r.count(":") >= 5):
            raise _err("E_BAD_SPACE", f"resource `{r}` is not `inventory`, `*` or an ARN (pattern)", source,
                       f"$.resources[{i}]")
    return spec


def load_space(path: str | os.PathLike) -> SpaceSpec:
    """Read a space file (JSON).

    Raises
    ------
    RequestError
        ``E_SPACE_NOT_FOUND``, ``E_MALFORMED_JSON`` (with line and column) and the codes of :func:`parse_space`.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RequestError("E_SPACE_NOT_FOUND", f"cannot read space file `{path}`: {reason.lower()}", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError("E_MALFORMED_JSON", f"space file is not JSON: {exc.msg.lower()}",
                           f"{path}: line {exc.lineno} column {exc.colno}") from None
    return parse_space(data, source=path)


# --------------------------------------------------------------------------------------------------------------------
# resolution
# --------------------------------------------------------------------------------------------------------------------


def expand_actions(patterns: Iterable[str] | None, *, path: str = "$.actions") -> tuple[str, ...]:
    """Catalog action names for action names or patterns (``None``: every Lex action), in catalog order, each once.

    A name without wildcards that the catalog does not know is kept as it is (IAM answers for unknown actions too).

    Raises
    ------
    RequestError
        ``E_BAD_ACTION`` for a malformed entry, ``E_NO_ACTION`` for a pattern that matches no catalog action.
    """
    from ..catalog import load_catalog

    cat = load_catalog()
    if patterns is None:
        return tuple(f"{a.service}:{a.name}" for a in cat.actions("lex"))
    if isinstance(patterns, str):
        patterns = [patterns]
    out: dict[str, None] = {}
    for i, p in enumerate(patterns):
        if not isinstance(p, str) or not p or (p != "*" and p.count(":") != 1):
            raise RequestError("E_BAD_ACTION", f"action `{p}` is not of the form `service:Action`", f"{path}[{i}]")
        if "*" in p or "?" in p:
            found = cat.expand_action_pattern(p)
            if not found:
                raise RequestError("E_NO_ACTION", f"action pattern `{p}` matches no action of the catalog",
                                   f"{path}[{i}]")
            for a in found:
                out.setdefault(f"{a.service}:{a.name}")
        else:
            info = cat.action(p)
            out.setdefault(f"{info.service}:{info.name}" if info is not None else p)
    return tuple(out)


def inventory(accounts: Sequence) -> tuple[str, ...]:
    """The resources the accounts know: the Lex inventory and every resource of the policy sets except roles (whose
    trust policies the policy set records as resources), each once, in the order first seen."""
    out: dict[str, None] = {}
    for acc in accounts:
        for res in acc.resources:
            out.setdefault(str(res.arn))
        for arn in acc.policy_set.resources:
            parts = arn.split(":", 5)
            if len(parts) == 6 and parts[2] == "iam":
                continue
            out.setdefault(arn)
    return tuple(out)


def resource_policy_principals(accounts: Sequence) -> tuple[str, ...]:
    """The principals the accounts' resource policies name: ARNs, account roots (for account ids) and service
    principals; ``Principal: "*"`` gives :data:`ANY_PRINCIPAL`."""
    out: dict[str, None] = {}
    for acc in accounts:
        ps = acc.policy_set
        for arn, res in ps.resources.items():
            parts = arn.split(":", 5)
            if res.policy is None or res.policy.document is None or (len(parts) == 6 and parts[2] == "iam"):
                continue
            for st in res.policy.document.statements:
                for element in (st.principal, st.not_principal):
                    if element is None:
                        continue
                    if element.wildcard:
                        out.setdefault(ANY_PRINCIPAL)
                        continue
                    for kind, values in element.entries:
                        for v in values:
                            if v == "*":
                                out.setdefault(ANY_PRINCIPAL)
                            elif kind == "AWS" and v.isdigit() and len(v) == 12:
                                out.setdefault(f"arn:aws:iam::{v}:root")
                            elif kind == "AWS" and v.startswith("arn:") and "*" not in v and "?" not in v:
                                out.setdefault(v)
                            elif kind == "Service" and "*" not in v:
                                out.setdefault(v)
    return tuple(out)


def known_principals(accounts: Sequence) -> tuple[str, ...]:
    """Every principal the accounts know (users, roles, sessions), then the principals their resource policies
    name."""
    out: dict[str, None] = {}
    for acc in accounts:
        for arn in acc.policy_set.principals:
            out.setdefault(arn)
    for p in resource_policy_principals(accounts):
        out.setdefault(p)
    return tuple(out)


def _account_principals(accounts: Sequence, account_id: str) -> list[str]:
    out = [p for p in known_principals(accounts) if p.startswith("arn:") and p.split(":", 5)[4] == account_id]
    root = f"arn:aws:iam::{account_id}:root"
    if root not in out:
        out.append(root)
    return out


def _pattern_matches(pattern: str, arn: str) -> bool:
    from ..reference.matching import resource_matches

    return resource_matches(pattern, arn, {}, variables_enabled=False)


def resolve_space(spec: SpaceSpec | Mapping | None, accounts: Sequence) -> Space:
    """Resolve ``spec`` against ``accounts`` (one account, or the before and after accounts of a diff).

    Raises
    ------
    RequestError
        The codes of :func:`parse_space` and :func:`expand_actions`, and ``E_EMPTY_SPACE`` when an axis resolves to
        nothing (an ARN pattern that matches no inventory resource, an account with no principal).
    """
    spec = parse_space(spec if spec is not None else {}, source="<space>") if not isinstance(spec, SpaceSpec) \
        else spec
    src = spec.source
    principals: dict[str, None] = {}
    for entry in spec.principals:
        if entry == "known":
            for p in known_principals(accounts):
                principals.setdefault(p)
        elif entry == "*":
            principals.setdefault(ANY_PRINCIPAL)
        elif entry.startswith("account:"):
            for p in _account_principals(accounts, entry[8:]):
                principals.setdefault(p)
        else:
            principals.setdefault(entry)
    try:
        actions = expand_actions(spec.actions)
    except RequestError as e:
        raise _err(e.code, e.message, src, e.path) from None
    inv = inventory(accounts)
    resources: dict[str, None] = {}
    for i, entry in enumerate(spec.resources):
        if entry == "inventory":
            for r in inv:
                resources.setdefault(r)
        elif "*" in entry or "?" in entry:
            hits = [r for r in inv if _pattern_matches(entry, r)]
            if not hits:
                raise _err("E_EMPTY_SPACE", f"resource pattern `{entry}` matches no resource of the inventory", src,
                           f"$.resources[{i}]")
            for r in hits:
                resources.setdefault(r)
        else:
            resources.setdefault(entry)
    if not principals:
        raise _err("E_EMPTY_SPACE", "the space has no principal", src, "$.principals")
    if not resources:
        raise _err("E_EMPTY_SPACE", "the space has no resource (the accounts have no inventory: name resources)",
                   src, "$.resources")
    if spec.context_mode == "witnesses":
        from .contexts import witness_contexts

        contexts = witness_contexts([a.policy_set for a in accounts], limit=spec.max_contexts)
    else:
        contexts = tuple(spec.contexts or ({},))
    return Space(tuple(principals), actions, tuple(resources), tuple(contexts), context_mode=spec.context_mode,
                 inventory_tags=spec.inventory_tags)
