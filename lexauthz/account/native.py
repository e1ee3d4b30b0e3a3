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

:func:`to_account` turns the file into the :class:`~lexauthz.account.Account` model; the demo's call file is read by
:func:`lexauthz.lex.load_demo`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import RequestError
from ..jsonfile import read_json_file
from ..lex._frozen import FrozenMap
from ..lex.arns import LexArn, check_account, check_region
from ..lex.principals import PrincipalStore, PrincipalType
from ..lex.resources import ResourceStore
from ..policy.applicable import NamedPolicy
from ..policy.validate import validate_policy
from .model import Account
from .policy_set import PolicySet

__all__ = ["AccountFile", "Attachments", "account_from_dict", "is_account_file", "read_account_file"]


@dataclass(frozen=True, slots=True)
class Attachments:
    """The policies attached to one principal: identity policies (own and groups'), boundary, session policy."""

    identity: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    permissions_boundary: str | None = None
    session_policy: str | None = None


@dataclass(frozen=True, slots=True)
class AccountFile:
    """An account file as read: stores, named policies and attachments (:meth:`to_account` makes the model).

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
    organization: Mapping = field(default_factory=dict, repr=False)

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


def read_account_file(data: Mapping, *, base_dir: str | None = None, source: str | None = None) -> AccountFile:
    """Build an :class:`AccountFile` from the parsed account file; policy paths are relative to ``base_dir``.

    Raises
    ------
    RequestError
        ``E_INVALID_ACCOUNT_FILE`` (wrong shape), ``E_UNKNOWN_POLICY``, ``E_MALFORMED_JSON`` (a policy file), and the
        store codes, with JSON paths into the account file.
    """
    if not isinstance(data, Mapping):
        raise _err("an account file must be a JSON object", "$")
    unknown = set(data) - ACCOUNT_FILE_KEYS
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
            doc = read_json_file(fpath, p)
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
                if not isinstance(gname, str):
                    raise _err("a group name must be a string", f"{ep}.groups[{j}]")
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
    return AccountFile(
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
        organization=_organization(data.get("organization"), docs),
    )



#: The top-level keys of an account file.
ACCOUNT_FILE_KEYS = frozenset({"account", "region", "partition", "policies", "groups", "principals", "resources",
                               "organization", "description"})


def is_account_file(data: Any) -> bool:
    """Whether parsed JSON is an account file: an object with ``account`` and only account-file keys."""
    return isinstance(data, Mapping) and "account" in data and set(data) <= ACCOUNT_FILE_KEYS


def _organization(value: Any, docs: Mapping) -> dict:
    """``{"scps": {target: [policy names]}, "accounts": {account: [OU ids, root first]}}``, checked."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) - {"scps", "accounts"}:
        raise _err("`organization` is an object with `scps` and `accounts`", "$.organization")
    scps = value.get("scps", {})
    accounts = value.get("accounts", {})
    if not isinstance(scps, Mapping) or not isinstance(accounts, Mapping):
        raise _err("`scps` and `accounts` must be objects", "$.organization")
    out_scps = {t: _names(v, f"$.organization.scps[{t!r}]", docs) for t, v in scps.items()}
    out_accounts = {}
    for acct, path in accounts.items():
        if not isinstance(path, list) or not all(isinstance(o, str) for o in path):
            raise _err("an account's OU path is a list of OU ids, root first", f"$.organization.accounts[{acct!r}]")
        out_accounts[acct] = tuple(path)
    return {"scps": out_scps, "accounts": out_accounts}


def account_from_dict(data: Mapping, *, base_dir: str | None = None, source: str | None = None) -> Account:
    """The :class:`~lexauthz.account.Account` of a parsed account file (policy paths relative to ``base_dir``).

    Raises
    ------
    RequestError
        As :func:`read_account_file`.
    """
    return to_account(read_account_file(data, base_dir=base_dir, source=source))


def to_account(f: AccountFile) -> Account:
    """The account model of an account file: each policy validated as the type it serves in, once per type."""
    cache: dict[tuple[str, str], NamedPolicy] = {}

    def named(name: str, policy_type: str) -> NamedPolicy:
        hit = cache.get((name, policy_type))
        if hit is None:
            path = f.policy_files.get(name)
            if path:
                with open(path, "rb") as fh:
                    text = fh.read()  # validated from the file itself, so findings carry its lines
            else:
                text = f.policies[name]
            parsed, result = validate_policy(text, policy_type=policy_type, source_name=name)
            hit = cache[(name, policy_type)] = NamedPolicy(name, parsed.document, tuple(result.findings))
        return hit

    ps = PolicySet()
    for gname, names in f.groups.items():
        ps.add_group(gname, [named(n, "identity") for n in names])
    principals = f.principals
    for arn, att in f.attachments.items():
        if principals.session(arn) is not None:
            continue  # sessions come after the roles they use
        ps.add_principal(arn, [named(n, "identity") for n in att.identity], tags=_tags_of(principals, arn),
                         groups=att.groups,
                         permissions_boundary=None if att.permissions_boundary is None
                         else named(att.permissions_boundary, "permissions_boundary"),
                         unique_id=principals.resolve(arn).userid)
    for user in principals.users:
        if user.arn not in ps.principals:
            ps.add_principal(user.arn, tags=_tags_of(principals, user.arn), unique_id=user.user_id)
    for role in principals.roles:
        if role.arn not in ps.principals:
            ps.add_principal(role.arn, tags=_tags_of(principals, role.arn), unique_id=role.role_id)
    # A session with a session policy or its own tags gets its own record: the role's policies and boundary, the
    # session's policy, and the tags the session carries (session tags win over the role's, as in STS).
    roles = ps.roles_by_name()
    for session in principals.sessions:
        att = f.attachments.get(session.arn)
        resolved = principals.resolve(session.arn)
        role_rec = roles.get((f.partition, resolved.account, session.arn.split("/")[1]))
        if role_rec is None and (att is None or att.session_policy is None):
            continue
        base_policies = role_rec.policies if role_rec else ()
        ps.add_principal(session.arn, list(base_policies), tags=dict(resolved.tags) or None,
                         groups=role_rec.groups if role_rec else (),
                         permissions_boundary=role_rec.permissions_boundary if role_rec else None,
                         session_policy=None if att is None or att.session_policy is None
                         else named(att.session_policy, "session"))
    # Every Lex resource enters the policy set with its tags, so that aws:ResourceTag/* conditions see them in every
    # evaluator (Account.evaluate, the compiled engine, a saved engine), not only in Lex call translation.
    for res in f.resources:
        pol = None
        if res.policy_json is not None:
            name = res.policy_name
            pol = named(name, "resource") if name else _inline_resource_policy(res)
        if pol is not None or res.tags:
            ps.add_resource(res.arn.arn, tags=dict(res.tags) or None, policy=pol)
    org = f.organization
    for target, names in (org.get("scps") or {}).items():
        for n in names:
            ps.add_scp(target, named(n, "scp"), name=n)
    for acct, path in (org.get("accounts") or {}).items():
        ps.add_account(acct, path)
    return Account(ps, principals, f.resources, f.account_id, f.region, f.partition,
                   (f.source,) if f.source else ())


def _tags_of(principals: PrincipalStore, arn: str) -> dict | None:
    return dict(principals.resolve(arn).tags) or None


def _inline_resource_policy(res) -> NamedPolicy:
    parsed, result = validate_policy(res.policy_json, policy_type="resource", source_name=res.arn.arn)
    return NamedPolicy(res.arn.arn, parsed.document, tuple(result.findings))


def read_account_path(path: str | os.PathLike) -> AccountFile:
    """Read an account file from ``path`` (policy paths relative to its folder), without building the model.

    Raises
    ------
    RequestError
        As :func:`read_account_file`, plus ``E_MALFORMED_JSON`` for the account file itself.
    """
    p = os.fspath(path)
    data = read_json_file(p, "$")
    return read_account_file(data, base_dir=os.path.dirname(os.path.abspath(p)), source=p)
