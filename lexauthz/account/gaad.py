"""Read the output of ``aws iam get-account-authorization-details`` (GAAD) into a :class:`PolicySet`.

Both forms are read: the AWS CLI's (documents as JSON objects, pages merged) and the raw API's (documents as
URL-encoded JSON text, ``IsTruncated`` / ``Marker``).  One file is one account; several files (several accounts, or
the pages of one) merge into one policy set, with groups and managed policies kept apart per account by ARN.

What is read, per entity:

- users: inline policies (``UserPolicyList``), attached managed policies (their default version), groups
  (``GroupList``, by name within the user's account), permissions boundary, tags, ``UserId``;
- groups: inline and attached managed policies;
- roles: inline and attached managed policies, permissions boundary, tags, ``RoleId``, and the trust policy
  (``AssumeRolePolicyDocument``), which becomes the role's resource-based policy (see
  :mod:`lexauthz.account.policy_set`); the role's path stays in its ARN;
- managed policies (``Policies``): the version whose ``IsDefaultVersion`` is true (else ``DefaultVersionId``).

Every policy is validated as the type it serves in (identity, permissions boundary, trust = resource); a policy with
an ERROR finding is refused when evaluated.  A managed policy that is attached but not in ``Policies`` (an export
filtered to ``LocalManagedPolicy``, say) is the finding ``E_UNRESOLVED_POLICY``, and requests of that principal answer
``Decision.ERROR`` rather than being decided without it.  A truncated export (``IsTruncated: true``) is the finding
``W_TRUNCATED_EXPORT``.  A file that is not GAAD-shaped raises :class:`RequestError` with the JSON path of the
problem.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any, Iterable, Mapping

from ..errors import RequestError
from ..findings import make_finding
from ..lex.principals import parse_principal_arn
from ..lex.tags import tag_quota_problem
from ..policy.applicable import NamedPolicy
from ..policy.validate import validate_policy
from .policy_set import PolicySet

__all__ = ["GAAD_KEYS", "is_authorization_details", "read_authorization_details"]

#: The top-level keys of GAAD output.
GAAD_KEYS = frozenset({"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies", "IsTruncated", "Marker"})
_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def is_authorization_details(data: Any) -> bool:
    """Whether ``data`` (parsed JSON) is GAAD output: an object whose keys are GAAD's, with at least one list."""
    return isinstance(data, Mapping) and bool(data) and set(data) <= GAAD_KEYS and any(k in data for k in _LISTS)


def _err(message: str, path: str, source: str | None) -> RequestError:
    where = f"{source}: {path}" if source else path
    return RequestError("E_INVALID_AUTHORIZATION_DETAILS", message, where)


def _decode_document(doc: Any) -> Any:
    """A GAAD policy document: URL-encoded JSON text (raw API) or a JSON object (CLI)."""
    if isinstance(doc, str):
        return urllib.parse.unquote(doc)  # the parser reports malformed JSON as a finding, with its position
    return doc


def trust_as_resource_policy(doc: Any, role_arn: str) -> Any:
    """A role trust policy as the resource-based policy of the role: each statement without ``Resource`` or
    ``NotResource`` gets ``"Resource": role_arn`` (a trust policy has none; IAM applies it to its role).  Text that is
    not a JSON object is returned as given, for the parser to report."""
    data = doc
    if isinstance(doc, (str, bytes)):
        try:
            data = json.loads(doc)
        except (ValueError, UnicodeDecodeError):
            return doc
    if not isinstance(data, Mapping):
        return doc
    stmts = data.get("Statement")
    if isinstance(stmts, Mapping):
        stmts = [stmts]
    if not isinstance(stmts, list):
        return doc
    out = dict(data)
    out["Statement"] = [dict(st, Resource=role_arn) if isinstance(st, Mapping) and "Resource" not in st
                        and "NotResource" not in st else st for st in stmts]
    return out


def _typed(doc: Any, name: str, policy_type: str) -> NamedPolicy:
    parsed, result = validate_policy(doc, policy_type=policy_type, source_name=name)
    return NamedPolicy(name, parsed.document, tuple(result.findings))


class _Reader:
    """One pass over one GAAD document into ``ps``."""

    def __init__(self, ps: PolicySet, source: str | None):
        self.ps = ps
        self.source = source
        self.managed: dict[str, Any] = {}
        self.typed: dict[tuple[str, str], NamedPolicy] = {}

    def list_of(self, data: Mapping, key: str) -> list:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _err(f"`{key}` must be a list", f"$.{key}", self.source)
        for i, e in enumerate(value):
            if not isinstance(e, Mapping):
                raise _err("each entry must be an object", f"$.{key}[{i}]", self.source)
        return value

    def text(self, entity: Mapping, key: str, path: str, required: bool = True) -> str | None:
        value = entity.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise _err(f"`{key}` must be a non-empty string", f"{path}.{key}", self.source)
        return value

    def read(self, data: Mapping) -> None:
        unknown = set(data) - GAAD_KEYS
        if unknown:
            raise _err(f"unknown field `{sorted(unknown)[0]}`", "$", self.source)
        if data.get("IsTruncated") is True:
            self.ps.findings.append(make_finding(
                "W_TRUNCATED_EXPORT", "the export is truncated (`IsTruncated`): principals and policies of later "
                "pages are missing; merge every page", path="$.IsTruncated", source=self.source))
        for i, pol in enumerate(self.list_of(data, "Policies")):
            path = f"$.Policies[{i}]"
            arn = self.text(pol, "Arn", path)
            doc = None
            versions = pol.get("PolicyVersionList") or []
            if not isinstance(versions, list):
                raise _err("`PolicyVersionList` must be a list", f"{path}.PolicyVersionList", self.source)
            default = [v for v in versions if isinstance(v, Mapping) and v.get("IsDefaultVersion") is True]
            if not default:
                default = [v for v in versions if isinstance(v, Mapping)
                           and v.get("VersionId") == pol.get("DefaultVersionId")]
            if default:
                doc = _decode_document(default[0].get("Document"))
            self.managed[arn] = doc
        groups: dict[tuple[str, str], str] = {}  # (account, group name) -> group key (its ARN)
        for i, g in enumerate(self.list_of(data, "GroupDetailList")):
            path = f"$.GroupDetailList[{i}]"
            arn = self.text(g, "Arn", path)
            name = self.text(g, "GroupName", path)
            groups[(_account(arn), name)] = arn
            self.ps.groups[arn] = tuple(self.attached(g, "GroupPolicyList", arn, path))
        for kind, inline in (("UserDetailList", "UserPolicyList"), ("RoleDetailList", "RolePolicyList")):
            for i, e in enumerate(self.list_of(data, kind)):
                self.principal(e, kind, inline, f"$.{kind}[{i}]", groups)

    def principal(self, e: Mapping, kind: str, inline: str, path: str, groups: dict) -> None:
        arn = self.text(e, "Arn", path)
        what = "user" if kind == "UserDetailList" else "role"
        try:
            parsed = parse_principal_arn(arn, f"{path}.Arn")
        except RequestError:
            parsed = None
        if parsed is None or parsed.kind != what:
            raise _err(f"`{arn[:200]}` is not an IAM {what} ARN (arn:PARTITION:iam::ACCOUNT:{what}/...)",
                       f"{path}.Arn", self.source)
        if arn in self.ps.principals:
            raise _err(f"principal `{arn}` is given twice", f"{path}.Arn", self.source)
        boundary = None
        pb = e.get("PermissionsBoundary")
        if pb is not None:
            if not isinstance(pb, Mapping):
                raise _err("`PermissionsBoundary` must be an object", f"{path}.PermissionsBoundary", self.source)
            barn = self.text(pb, "PermissionsBoundaryArn", f"{path}.PermissionsBoundary")
            boundary = self.managed_policy(barn, arn, "permissions_boundary")
        tags = {}
        for j, t in enumerate(self.list_of(e, "Tags")):
            if not isinstance(t.get("Key"), str) or not isinstance(t.get("Value"), str) or not t["Key"]:
                raise _err("a tag needs a string `Key` and `Value`", f"{path}.Tags[{j}]", self.source)
            problem = tag_quota_problem(t["Key"], t["Value"])
            if problem:
                raise _err(problem, f"{path}.Tags[{j}]", self.source)
            tags[t["Key"]] = t["Value"]
        member_of = []
        gl = e.get("GroupList") or []
        if not isinstance(gl, list) or not all(isinstance(n, str) for n in gl):
            raise _err("`GroupList` must be a list of group names", f"{path}.GroupList", self.source)
        for j, gname in enumerate(gl):
            key = groups.get((_account(arn), gname))
            if key is None:
                self.ps.findings.append(make_finding(
                    "E_UNRESOLVED_POLICY", f"group `{gname}` of `{arn}` is not in the authorization details",
                    path=f"{path}.GroupList[{j}]", source=self.source))
                key = f"{arn}#missing-group/{gname}"
                self.ps.groups[key] = (self.unresolved(f"group {gname}", arn, f"{path}.GroupList[{j}]"),)
            member_of.append(key)
        trust = None
        if kind == "RoleDetailList" and e.get("AssumeRolePolicyDocument") is not None:
            trust = _typed(trust_as_resource_policy(_decode_document(e["AssumeRolePolicyDocument"]), arn),
                           f"{arn}#trust", "resource")
        self.ps.add_principal(
            arn, self.attached(e, inline, arn, path), tags=tags or None, groups=member_of,
            permissions_boundary=boundary, trust_policy=trust,
            unique_id=e.get("UserId") if kind == "UserDetailList" else e.get("RoleId"))

    def attached(self, entity: Mapping, inline: str, owner: str, path: str) -> list[NamedPolicy]:
        out = []
        for j, p in enumerate(self.list_of(entity, inline)):
            name = p.get("PolicyName")
            if not isinstance(name, str) or "PolicyDocument" not in p:
                raise _err("an inline policy needs `PolicyName` and `PolicyDocument`", f"{path}.{inline}[{j}]",
                           self.source)
            out.append(_typed(_decode_document(p["PolicyDocument"]), f"{owner}/inline/{name}", "identity"))
        for j, a in enumerate(self.list_of(entity, "AttachedManagedPolicies")):
            parn = self.text(a, "PolicyArn", f"{path}.AttachedManagedPolicies[{j}]")
            out.append(self.managed_policy(parn, owner, "identity"))
        return out

    def managed_policy(self, arn: str, owner: str, policy_type: str) -> NamedPolicy:
        doc = self.managed.get(arn)
        if doc is None:
            return self.unresolved(f"managed policy `{arn}`", owner, "$.Policies", name=arn)
        key = (arn, policy_type)
        hit = self.typed.get(key)
        if hit is None:
            hit = self.typed[key] = _typed(doc, arn, policy_type)
        return hit

    def unresolved(self, what: str, owner: str, path: str, name: str | None = None) -> NamedPolicy:
        finding = make_finding("E_UNRESOLVED_POLICY", f"{what} attached to `{owner}` is not in the authorization "
                               "details", path=path, source=owner)
        self.ps.findings.append(finding)
        return NamedPolicy(name or what, None, (finding,))


def _account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def read_authorization_details(documents: Mapping | str | bytes | Iterable, *, sources: Iterable[str] = (),
                               into: PolicySet | None = None) -> PolicySet:
    """A :class:`PolicySet` from one GAAD document or several (each parsed JSON, or JSON text).

    Raises
    ------
    RequestError
        ``E_INVALID_AUTHORIZATION_DETAILS`` (not GAAD-shaped, a principal given twice) and ``E_MALFORMED_JSON``,
        with the JSON path (prefixed by the file name when ``sources`` names it).
    """
    if isinstance(documents, (Mapping, str, bytes)):
        documents = [documents]
    names = list(sources)
    ps = into if into is not None else PolicySet()
    for i, doc in enumerate(documents):
        source = names[i] if i < len(names) else None
        if isinstance(doc, (str, bytes)):
            try:
                doc = json.loads(doc)
            except (ValueError, UnicodeDecodeError) as e:
                raise RequestError("E_MALFORMED_JSON", f"authorization details are not valid JSON: {e}",
                                   f"{source}: $" if source else "$") from None
        if not is_authorization_details(doc):
            raise _err("not the output of `aws iam get-account-authorization-details`", "$", source)
        _Reader(ps, source).read(doc)
    return ps
