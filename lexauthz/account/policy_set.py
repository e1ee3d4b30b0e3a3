"""A policy set: principals with their policies, resources with theirs, roles with their trust policies, and an
organization's SCPs.

:class:`PolicySet` answers "which policies apply to this request" (:meth:`PolicySet.applicable`, the input of the
reference evaluator) and compiles into an :class:`~lexauthz.engine.Engine` that answers the request itself.

Choices, each also stated where it is made:

- A role session (``arn:aws:sts::ACCT:assumed-role/Role/session``) gets the policies, tags, boundary and session
  policy of the role ``Role`` of account ``ACCT`` (roles are unique by name within an account, whatever their path).
- A principal or resource that was never added has no identity policies, tags or resource policy; SCPs still apply
  through its account.
- SCP levels: the organization root, each OU on the account's path (``add_account``), then the account.  A level
  with no SCP attached is left out: AWS attaches ``FullAWSAccess`` to every root, OU and account by default, so an
  unlisted level allows everything.  With no SCP at all there is no organization (``scps`` is ``None``).
- A role's trust policy is the resource-based policy of the role: it is recorded as the policy of a resource whose
  ARN is the role's (with the role's tags), so ``sts:AssumeRole`` on the role ARN is decided by both engines as IAM
  decides a request on a resource with a resource-based policy (same-account grants naming the caller suffice;
  cross-account ones need the caller's identity policies too).  It never grants anything else: a trust policy's
  statements name only ``sts:`` actions.
- :meth:`PolicySet.enrich` adds the principal's tags as ``aws:PrincipalTag/<key>`` and the resource's as
  ``aws:ResourceTag/<key>`` to the request context, unless the context already has the key.  Nothing else is
  derived.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..errors import RequestError
from ..policy.applicable import ApplicablePolicies, NamedPolicy
from ..policy.model import PolicyDocument
from ..request import Context, Request
from ..compile import serialize

__all__ = ["PolicySet", "PrincipalRecord", "ResourceRecord"]

ROOT = "root"


def _named(policy: Any, default_name: str) -> NamedPolicy:
    """A :class:`NamedPolicy` from a NamedPolicy, a PolicyDocument, or JSON text / data / a path (parsed)."""
    if isinstance(policy, NamedPolicy):
        return policy
    if isinstance(policy, PolicyDocument):
        return NamedPolicy(default_name, policy)
    from ..policy.parser import parse_policy

    parsed = parse_policy(policy, source_name=default_name)
    return NamedPolicy(default_name, parsed.document, tuple(parsed.findings))


def _tags(tags: Mapping | None, what: str) -> tuple[tuple[str, str], ...]:
    if tags is None:
        return ()
    if not isinstance(tags, Mapping):
        raise TypeError(f"{what} tags must be a mapping of key to value")
    out = []
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what} tag `{k}` must map a string key to a string value")
        out.append((k, v))
    return tuple(out)


@dataclass(frozen=True)
class PrincipalRecord:
    """An IAM user or role: its identity policies, tags, groups, boundary and session policy; a role's trust policy;
    the unique id (``AIDA...`` / ``AROA...``) when known."""

    arn: str
    policies: tuple[NamedPolicy, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    groups: tuple[str, ...] = ()
    permissions_boundary: NamedPolicy | None = None
    session_policy: NamedPolicy | None = None
    trust_policy: NamedPolicy | None = None
    unique_id: str | None = None


@dataclass(frozen=True)
class ResourceRecord:
    """A resource: its tags and its resource-based policy."""

    arn: str
    tags: tuple[tuple[str, str], ...] = ()
    policy: NamedPolicy | None = None


@dataclass
class PolicySet:
    """Principals, groups, resources and SCPs; mutable while being built, then compiled.

    >>> ps = PolicySet()
    >>> ps.add_principal("arn:aws:iam::123456789012:user/bob", policies=[
    ...     {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}])
    >>> ps.compile().is_allowed("arn:aws:iam::123456789012:user/bob", "lex:PostText", "*")
    True
    """

    principals: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    scps: dict = field(default_factory=dict)  # target -> [NamedPolicy]
    accounts: dict = field(default_factory=dict)  # account -> tuple of OU ids, root first
    findings: list = field(default_factory=list)  # loud findings from loading (unresolved policies, ...)

    # -- building -----------------------------------------------------------------------------------------------

    def add_principal(self, arn: str, policies: Iterable = (), *, tags: Mapping | None = None,
                      groups: Iterable[str] = (), permissions_boundary: Any = None,
                      session_policy: Any = None, trust_policy: Any = None, unique_id: str | None = None) -> None:
        """Add (or replace) an IAM user or role.

        ``policies`` are its identity-based policies (NamedPolicy, PolicyDocument, JSON text or data); unnamed ones
        are named ``<arn>#<i>``.  ``groups`` name groups added with :meth:`add_group`.  ``trust_policy`` (roles only)
        becomes the resource-based policy of the role's ARN, with the role's tags (see the module text).
        """
        if not isinstance(arn, str) or not arn:
            raise TypeError("principal ARN must be a non-empty string")
        named = tuple(_named(p, f"{arn}#{i}") for i, p in enumerate(policies))
        trust = None if trust_policy is None else _named(trust_policy, f"{arn}#trust")
        if trust is not None and ":role/" not in arn:
            raise TypeError("only a role has a trust policy")
        rec = PrincipalRecord(
            arn, named, _tags(tags, "principal"), tuple(groups),
            None if permissions_boundary is None else _named(permissions_boundary, f"{arn}#boundary"),
            None if session_policy is None else _named(session_policy, f"{arn}#session"), trust, unique_id)
        self.principals[arn] = rec
        if trust is not None:
            self.resources[arn] = ResourceRecord(arn, rec.tags, trust)

    def add_group(self, name: str, policies: Iterable = ()) -> None:
        """Add (or replace) a group and its policies; members list it in ``groups``."""
        self.groups[name] = tuple(_named(p, f"group/{name}#{i}") for i, p in enumerate(policies))

    def add_resource(self, arn: str, *, tags: Mapping | None = None, policy: Any = None) -> None:
        """Add (or replace) a resource with its tags and resource-based policy."""
        if not isinstance(arn, str) or not arn:
            raise TypeError("resource ARN must be a non-empty string")
        self.resources[arn] = ResourceRecord(arn, _tags(tags, "resource"),
                                             None if policy is None else _named(policy, f"{arn}#resource"))

    def add_scp(self, target: str, doc: Any, *, name: str | None = None) -> None:
        """Attach an SCP to ``target``: ``"root"``, an OU id, or a 12-digit account id."""
        pols = self.scps.setdefault(target, [])
        pols.append(_named(doc, name or f"scp/{target}#{len(pols)}"))

    def add_account(self, account: str, ou_path: Iterable[str] = ()) -> None:
        """Place an account in the organization under the OUs ``ou_path`` (root first)."""
        self.accounts[account] = tuple(ou_path)

    # -- resolution ---------------------------------------------------------------------------------------------

    def principal_record(self, principal: str, roles: dict | None = None) -> PrincipalRecord | None:
        """The record a request's principal uses (a role session uses its role's record).

        ``roles`` is :meth:`roles_by_name`, when the caller has it at hand.
        """
        rec = self.principals.get(principal)
        if rec is not None:
            return rec
        key = session_role_key(principal)
        if key is not None:
            return (self.roles_by_name() if roles is None else roles).get(key)
        return None

    def policies(self) -> Iterable[NamedPolicy]:
        """Every policy of the set, each where it is attached (a shared policy once per attachment)."""
        for rec in self.principals.values():
            yield from rec.policies
            for p in (rec.permissions_boundary, rec.session_policy):
                if p is not None:
                    yield p
        for pols in self.groups.values():
            yield from pols
        for res in self.resources.values():
            if res.policy is not None:
                yield res.policy
        for pols in self.scps.values():
            yield from pols

    def roles_by_name(self) -> dict:
        """Role records by ``(partition, account, role name)``."""
        return self._roles_by_name()

    def snapshot(self) -> "PolicySet":
        """A copy that later edits of this policy set do not change (records are immutable; containers copied)."""
        return PolicySet(dict(self.principals), dict(self.groups), dict(self.resources),
                         {t: list(v) for t, v in self.scps.items()}, dict(self.accounts), list(self.findings))

    def _roles_by_name(self) -> dict:
        out = {}
        for arn, rec in self.principals.items():
            p = arn.split(":", 5)
            if len(p) == 6 and p[2] == "iam" and p[5].startswith("role/"):
                out[(p[1], p[4], p[5].rsplit("/", 1)[-1])] = rec
        return out

    def scp_levels(self, account: str | None) -> list[tuple[str, tuple[NamedPolicy, ...]]]:
        """``(target, policies)`` per SCP level that applies to ``account``, root first (empty levels left out)."""
        if account is None or not self.scps:
            return []
        targets = [ROOT, *self.accounts.get(account, ()), account]
        return [(t, tuple(self.scps[t])) for t in targets if self.scps.get(t)]

    def applicable(self, request: Request) -> ApplicablePolicies:
        """The policies that apply to ``request``: what the reference evaluator takes with it."""
        rec = self.principal_record(request.principal)
        identity: list[NamedPolicy] = []
        boundary = session = None
        if rec is not None:
            identity.extend(rec.policies)
            for g in rec.groups:
                identity.extend(self.groups.get(g, ()))
            boundary, session = rec.permissions_boundary, rec.session_policy
        res = self.resources.get(request.resource)
        levels = self.scp_levels(_account_of(request.principal))
        return ApplicablePolicies(
            identity=tuple(identity),
            resource=res.policy if res is not None else None,
            permissions_boundary=boundary,
            session=session,
            scps=tuple(p for _, p in levels) or None,
        )

    def tag_context(self, principal: str, resource: str, roles: dict | None = None) -> tuple[tuple[str, str], ...]:
        """The context entries :meth:`enrich` adds for this principal and resource (before context precedence)."""
        out = []
        rec = self.principal_record(principal, roles)
        if rec is not None:
            out.extend((f"aws:PrincipalTag/{k}", v) for k, v in rec.tags)
        res = self.resources.get(resource)
        if res is not None:
            out.extend((f"aws:ResourceTag/{k}", v) for k, v in res.tags)
        return tuple(out)

    def enrich(self, request: Request) -> Request:
        """``request`` with the principal's and resource's tags added to its context (keys it lacks only)."""
        extra = self.tag_context(request.principal, request.resource)
        if not extra:
            return request
        return Request(request.principal, request.action, request.resource, request.resource_account,
                       _merge_context(request.context, extra))

    def compile(self, *, use_index: bool = True):
        """Compile into an immutable :class:`~lexauthz.engine.Engine`."""
        from ..engine import compile_policy_set

        return compile_policy_set(self, use_index=use_index)

    # -- serialisation ------------------------------------------------------------------------------------------

    def to_data(self) -> dict:
        """The policy set as JSON data (see :mod:`lexauthz.compile.serialize`)."""
        nd = serialize.named_to_data
        return {
            "principals": [[r.arn, [nd(p) for p in r.policies], [list(t) for t in r.tags], list(r.groups),
                            nd(r.permissions_boundary), nd(r.session_policy), nd(r.trust_policy), r.unique_id]
                           for r in self.principals.values()],
            "groups": [[g, [nd(p) for p in pols]] for g, pols in self.groups.items()],
            "resources": [[r.arn, [list(t) for t in r.tags], nd(r.policy)] for r in self.resources.values()],
            "scps": [[t, [nd(p) for p in pols]] for t, pols in self.scps.items()],
            "accounts": [[a, list(path)] for a, path in self.accounts.items()],
        }

    @classmethod
    def from_data(cls, d: dict) -> "PolicySet":
        """The inverse of :meth:`to_data`."""
        nf = serialize.named_from_data
        ps = cls()
        for arn, pols, tags, groups, pb, sp, *more in d["principals"]:
            trust, uid = (nf(more[0]), more[1]) if more else (None, None)
            ps.principals[arn] = PrincipalRecord(arn, tuple(nf(p) for p in pols), tuple(tuple(t) for t in tags),
                                                 tuple(groups), nf(pb), nf(sp), trust, uid)
        for g, pols in d["groups"]:
            ps.groups[g] = tuple(nf(p) for p in pols)
        for arn, tags, pol in d["resources"]:
            ps.resources[arn] = ResourceRecord(arn, tuple(tuple(t) for t in tags), nf(pol))
        for t, pols in d["scps"]:
            ps.scps[t] = [nf(p) for p in pols]
        for a, path in d["accounts"]:
            ps.accounts[a] = tuple(path)
        return ps


def session_role_key(principal: str) -> tuple[str, str, str] | None:
    """``(partition, account, role name)`` of an assumed-role session ARN; ``None`` for any other principal."""
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        pieces = parts[5].split("/")
        if len(pieces) >= 3:
            return parts[1], parts[4], pieces[1]
    return None


def _account_of(principal: str) -> str | None:
    if not principal.startswith("arn:"):
        return None
    parts = principal.split(":", 5)
    return (parts[4] or None) if len(parts) == 6 else None


def _merge_context(ctx: Context, extra) -> Context:
    data = ctx.to_dict()
    for k, v in extra:
        if k not in ctx:
            data[k] = v
    try:
        return Context(data)
    except RequestError:
        raise
