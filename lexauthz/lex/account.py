"""Load an account file: principals, Lex resources, named policies and which policy attaches to whom.

Policies stay raw JSON objects here (``dict`` copies on request); parsing, validating and evaluating them is the
policy package's job.  The file format is documented in ``lexauthz/examples/README.md``; in short::

    {
      "account": "111122223333", "region": "us-east-1",
      "policies": {"Name": "policies/file.json", "Other": {...inline document...}},
      "groups": [{"name": "LexDevelopers", "policies": ["Name"]}],
      "principals": {
        "users":    [{"arn": ..., "userId": ..., "tags": {...}, "groups": [...], "policies": [...],
                      "permissionsBoundary": "Name"}],
        "roles":    [{"arn": ..., "roleId": ..., "tags": {...}, "policies": [...], "permissionsBoundary": "Name"}],
        "sessions": [{"arn": ..., "tags": {...}, "sessionPolicy": "Name"}]
      },
      "resources": {"bots": [...], "testSets": [...]}
    }

Policy file paths are relative to the account file.  ``resources`` is the :class:`~lexauthz.lex.resources.ResourceStore`
format, with the file's ``account`` and ``region`` as defaults; a resource's ``"policy"`` names a policy of
``policies``.

:func:`load_demo` reads a list of Lex API calls with the decision each is expected to get (``lexauthz/examples/requests.json``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..decision import Decision
from ..errors import RequestError
from ._frozen import FrozenMap
from .arns import LexArn, check_account, check_region
from .call import LexCall
from .principals import PrincipalStore, PrincipalType
from .resources import ResourceStore

__all__ = ["Attachments", "Account", "DemoCase", "load_account", "load_demo", "account_from_dict"]


@dataclass(frozen=True, slots=True)
class Attachments:
    """The policies attached to one principal: identity policies (own and groups'), boundary, session policy."""

    identity: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    permissions_boundary: str | None = None
    session_policy: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """An account as loaded from an account file: stores, named policies and attachments.

    ``policies`` maps a policy name to its JSON text; :meth:`policy` returns a fresh ``dict``.  ``policy_files``
    maps the names loaded from files to their paths (for findings with line numbers).
    """

    account_id: str
    region: str
    principals: PrincipalStore
    resources: ResourceStore
    policies: FrozenMap = field(default_factory=FrozenMap, repr=False)
    attachments: FrozenMap = field(default_factory=FrozenMap, repr=False)
    groups: FrozenMap = field(default_factory=FrozenMap, repr=False)
    policy_files: FrozenMap = field(default_factory=FrozenMap, repr=False)
    partition: str = "aws"
    source: str | None = None

    @property
    def policy_names(self) -> tuple[str, ...]:
        """Every policy name, in file order."""
        return tuple(self.policies)

    def policy(self, name: str) -> dict:
        """A fresh copy of the policy document ``name``; ``KeyError`` if there is none."""
        return json.loads(self.policies[name])

    def attachments_of(self, arn: str) -> Attachments:
        """The attachments recorded for exactly this principal ARN (none if not listed)."""
        return self.attachments.get(arn, Attachments())

    def _policy_source(self, caller: str) -> str | None:
        return self.principals.resolve(caller).policy_source

    def identity_policy_names(self, caller: str) -> tuple[str, ...]:
        """Names of the identity-based policies that apply to ``caller``: a user's own and its groups', or the
        role's for a role session."""
        src = self._policy_source(caller)
        if src is None:
            return ()
        att = self.attachments_of(src)
        names = list(att.identity)
        for g in att.groups:
            for n in self.groups.get(g, ()):
                if n not in names:
                    names.append(n)
        return tuple(names)

    def identity_policies(self, caller: str) -> tuple[tuple[str, dict], ...]:
        """``(name, document)`` for each identity-based policy of ``caller``."""
        return tuple((n, self.policy(n)) for n in self.identity_policy_names(caller))

    def permissions_boundary(self, caller: str) -> tuple[str, dict] | None:
        """``(name, document)`` of the permissions boundary of ``caller``'s user or role, or ``None``."""
        src = self._policy_source(caller)
        name = self.attachments_of(src).permissions_boundary if src else None
        return (name, self.policy(name)) if name else None

    def session_policy(self, caller: str) -> tuple[str, dict] | None:
        """``(name, document)`` of the session policy of a role session, or ``None``."""
        if self.principals.resolve(caller).principal_type is not PrincipalType.ASSUMED_ROLE:
            return None
        name = self.attachments_of(caller).session_policy
        return (name, self.policy(name)) if name else None

    def resource_policy(self, resource: LexArn | str) -> tuple[str | None, dict] | None:
        """``(name, document)`` of the resource-based policy governing a request on ``resource``, or ``None``.

        ``name`` is ``None`` for an inline policy.  ``"*"`` has none.
        """
        if isinstance(resource, str) and resource.split(":")[2:3] != ["lex"]:
            return None  # "*", or a non-Lex resource such as the role of iam:PassRole
        owner = self.resources.policy_owner(resource)
        if owner is None or owner.policy_json is None:
            return None
        return owner.policy_name, owner.policy


def _err(message: str, path: str) -> RequestError:
    return RequestError("E_INVALID_ACCOUNT_FILE", message, path)


def _read_json(path: str, where: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise RequestError("E_MALFORMED_JSON", f"`{path}` is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
                           where) from None


def _names(value: Any, path: str, policies: Mapping) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err("a list of policy names was expected", path)
    for i, v in enumerate(value):
        if v not in policies:
            raise RequestError("E_UNKNOWN_POLICY", f"no policy named `{v}`", f"{path}[{i}]")
    return tuple(value)


def _name(value: Any, path: str, policies: Mapping) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _err("a policy name was expected", path)
    if value not in policies:
        raise RequestError("E_UNKNOWN_POLICY", f"no policy named `{value}`", path)
    return value


def account_from_dict(data: Mapping, *, base_dir: str | None = None, source: str | None = None) -> Account:
    """Build an :class:`Account` from the parsed account file; policy paths are relative to ``base_dir``.

    Raises
    ------
    RequestError
        ``E_INVALID_ACCOUNT_FILE`` (wrong shape), ``E_UNKNOWN_POLICY``, ``E_MALFORMED_JSON`` (a policy file), and the
        store codes, with JSON paths into the account file.
    """
    if not isinstance(data, Mapping):
        raise _err("an account file must be a JSON object", "$")
    unknown = set(data) - {"account", "region", "partition", "policies", "groups", "principals", "resources", "description"}
    if unknown:
        raise _err(f"unknown field `{sorted(unknown)[0]}`", "$")
    account = check_account(data.get("account"), "$.account")
    region = check_region(data.get("region"), "$.region")
    partition = data.get("partition", "aws")

    raw_policies = data.get("policies", {})
    if not isinstance(raw_policies, Mapping):
        raise _err("`policies` must be an object of name to file or document", "$.policies")
    texts: dict[str, str] = {}
    docs: dict[str, Any] = {}
    files: dict[str, str] = {}
    for name, value in raw_policies.items():
        p = f"$.policies[{name!r}]"
        if isinstance(value, str):
            fpath = value if os.path.isabs(value) or base_dir is None else os.path.join(base_dir, value)
            if not os.path.isfile(fpath):
                raise RequestError("E_POLICY_FILE_NOT_FOUND", f"policy file `{value}` does not exist", p)
            doc = _read_json(fpath, p)
            files[name] = fpath
        else:
            doc = value
        if not isinstance(doc, Mapping):
            raise _err(f"policy `{name}` must be a JSON object", p)
        docs[name] = doc
        texts[name] = json.dumps(doc, ensure_ascii=False)

    groups: dict[str, tuple[str, ...]] = {}
    raw_groups = data.get("groups", [])
    if not isinstance(raw_groups, list):
        raise _err("`groups` must be a list", "$.groups")
    for i, g in enumerate(raw_groups):
        gp = f"$.groups[{i}]"
        if not isinstance(g, Mapping) or not isinstance(g.get("name"), str):
            raise _err("a group needs a `name`", gp)
        if set(g) - {"name", "policies"}:
            raise _err(f"unknown field `{sorted(set(g) - {'name', 'policies'})[0]}`", gp)
        groups[g["name"]] = _names(g.get("policies"), f"{gp}.policies", docs)

    raw_principals = data.get("principals", {})
    attach_fields = ("policies", "groups", "permissionsBoundary", "sessionPolicy")
    principals = PrincipalStore.from_dict(raw_principals, extra_fields=attach_fields, path="$.principals")
    attachments: dict[str, Attachments] = {}
    for kind in ("users", "roles", "sessions"):
        for i, e in enumerate(raw_principals.get(kind, [])):
            ep = f"$.principals.{kind}[{i}]"
            if kind != "users" and "groups" in e:
                raise _err("only users belong to groups", f"{ep}.groups")
            if kind == "sessions" and ("policies" in e or "permissionsBoundary" in e):
                raise _err("attach identity policies and boundaries to the session's role", ep)
            if kind != "sessions" and "sessionPolicy" in e:
                raise _err("only sessions have a session policy", f"{ep}.sessionPolicy")
            gnames = e.get("groups") or []
            if not isinstance(gnames, list):
                raise _err("`groups` must be a list of group names", f"{ep}.groups")
            for j, gname in enumerate(gnames):
                if gname not in groups:
                    raise _err(f"no group named `{gname}`", f"{ep}.groups[{j}]")
            attachments[e["arn"]] = Attachments(
                identity=_names(e.get("policies"), f"{ep}.policies", docs),
                groups=tuple(gnames),
                permissions_boundary=_name(e.get("permissionsBoundary"), f"{ep}.permissionsBoundary", docs),
                session_policy=_name(e.get("sessionPolicy"), f"{ep}.sessionPolicy", docs),
            )

    resources = ResourceStore.from_dict(
        data.get("resources", {}), policies=docs, account=account, region=region, path="$.resources"
    )
    return Account(
        account_id=account,
        region=region,
        principals=principals,
        resources=resources,
        policies=FrozenMap(texts),
        attachments=FrozenMap(attachments),
        groups=FrozenMap(groups),
        policy_files=FrozenMap(files),
        partition=partition,
        source=source,
    )


def load_account(path: str | os.PathLike) -> Account:
    """Load an account file (see the module text and ``lexauthz/examples/README.md``).

    Raises
    ------
    RequestError
        As :func:`account_from_dict`, plus ``E_MALFORMED_JSON`` for the account file itself.
    """
    p = os.fspath(path)
    data = _read_json(p, "$")
    return account_from_dict(data, base_dir=os.path.dirname(os.path.abspath(p)), source=p)


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One curated call with the decision AWS gives it and why."""

    id: str
    title: str
    call: LexCall
    expect: Decision
    why: str = ""


def load_demo(path: str | os.PathLike, account: Account | None = None) -> tuple[DemoCase, ...]:
    """Load a demo file ``{"calls": [{"id", "title", "call": {...}, "expect": "Allowed", "why"}]}``.

    ``expect`` is ``Allowed``, ``ImplicitlyDenied`` or ``ExplicitlyDenied`` and is the decision of the whole call
    (every request it makes must be allowed).  The account's ``region`` and ``account`` fill calls that omit them.
    """
    p = os.fspath(path)
    data = _read_json(p, "$")
    if not isinstance(data, Mapping) or not isinstance(data.get("calls"), list):
        raise _err("a demo file is an object with a `calls` list", "$")
    defaults = {"region": account.region, "account": account.account_id} if account else {}
    out: list[DemoCase] = []
    ids: set[str] = set()
    for i, c in enumerate(data["calls"]):
        cp = f"$.calls[{i}]"
        if not isinstance(c, Mapping):
            raise _err("a demo call must be an object", cp)
        if set(c) - {"id", "title", "call", "expect", "why"}:
            raise _err(f"unknown field `{sorted(set(c) - {'id', 'title', 'call', 'expect', 'why'})[0]}`", cp)
        cid = c.get("id")
        if not isinstance(cid, str) or not cid or cid in ids:
            raise _err("each demo call needs a unique `id`", f"{cp}.id")
        ids.add(cid)
        try:
            expect = Decision.from_aws_name(c.get("expect"))
        except ValueError:
            raise _err("`expect` must be Allowed, ImplicitlyDenied or ExplicitlyDenied", f"{cp}.expect") from None
        call = LexCall.from_dict(c.get("call"), f"{cp}.call", defaults=defaults)
        out.append(DemoCase(cid, c.get("title", cid), call, expect, c.get("why", "")))
    return tuple(out)
