"""Which compiled slots apply to a request: a policy set reduced to slot ids, tags and names.

A :class:`Directory` is what a compiled :class:`~lexauthz.compile.policy_set.PolicySet` leaves behind once every
policy has a slot: per principal its identity, boundary and session slots and its tags; per resource its policy slot
and tags; per account its SCP levels.  It answers ``layout(principal, resource)`` with the same rules as
:meth:`PolicySet.applicable` (a role session uses its role's record; an account the organization does not list gets
the root's SCPs only) without touching a policy document, so a saved engine loads it as plain data.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CompileError
from .plan import Layout, PlanBuilder
from .policy_set import PolicySet, _account_of, session_role_key

__all__ = ["Directory"]


class _HashOnce:
    """A slot-key part equal to (and hashing as) the wrapped object, with the hash computed once."""

    __slots__ = ("obj", "_h")

    def __init__(self, obj):
        self.obj = obj
        self._h = hash(obj)

    def __hash__(self):
        return self._h

    def __eq__(self, other):
        if isinstance(other, _HashOnce):
            return self.obj is other.obj or (self._h == other._h and self.obj == other.obj)
        return NotImplemented


class _SlotAssigner:
    """Gives each (policy type, SCP level, policy, occurrence) one slot of ``builder``: equal policies share one."""

    def __init__(self, builder: PlanBuilder):
        self._builder = builder
        self._slot: dict = {}
        self._wrapped: dict = {}  # id(policy) -> _HashOnce (which keeps the policy alive, so the id stays its own)

    def _hash_once(self, policy):
        w = self._wrapped.get(id(policy))
        if w is None or w.obj is not policy:
            w = _HashOnce(policy)
            self._wrapped[id(policy)] = w
        return w

    def one(self, ptype, policy, level=None, occurrence=0) -> int:
        key = (ptype, level, self._hash_once(policy), occurrence)
        sid = self._slot.get(key)
        if sid is None:
            sid = self._builder.slot(ptype, policy, level, key=key)
            self._slot[key] = sid
        return sid

    def many(self, ptype, policies, level=None) -> tuple[int, ...]:
        """Slots of ``policies`` in order; a policy listed twice gets two slots (it is evaluated twice)."""
        seen: dict = {}
        out = []
        for p in policies:
            hp = self._hash_once(p)
            occ = seen.get(hp, 0)
            seen[hp] = occ + 1
            out.append(self.one(ptype, p, level, occ))
        return tuple(out)


@dataclass(frozen=True, eq=False)
class Directory:
    """Slot ids, tags and role names of a compiled policy set (see the module docstring).

    - ``principals``: ARN -> ``(identity slots, boundary slot or None, session slot or None, tags)``;
    - ``roles``: ``(partition, account, role name)`` -> role ARN, for role sessions;
    - ``resources``: ARN -> ``(resource-policy slot or None, tags)``;
    - ``scps``: account -> SCP slot ids per level (root first) or ``None``; ``scps_default`` for other accounts.
    """

    principals: dict
    roles: dict
    resources: dict
    scps: dict
    scps_default: tuple | None

    @classmethod
    def build(cls, ps: PolicySet, builder: PlanBuilder) -> "Directory":
        """Give every policy of ``ps`` its slots in ``builder`` and record which apply to whom."""
        slots = _SlotAssigner(builder)
        principals = {}
        for rec in ps.principals.values():
            identity = list(rec.policies)
            for g in rec.groups:
                identity.extend(ps.groups.get(g, ()))
            principals[rec.arn] = (
                slots.many("identity", identity),
                None if rec.permissions_boundary is None else slots.one("permission_boundary",
                                                                         rec.permissions_boundary),
                None if rec.session_policy is None else slots.one("session", rec.session_policy),
                tuple(rec.tags))
        resources = {}
        for res in ps.resources.values():
            resources[res.arn] = (None if res.policy is None else slots.one("resource", res.policy), tuple(res.tags))
            builder.add_seen_resource(res.arn)

        def levels(account):
            lv = tuple(slots.many("scp", pols, i) for i, (_, pols) in enumerate(ps.scp_levels(account)))
            return lv or None

        accounts = set(ps.accounts) | set(ps.scps)
        accounts |= {a for a in map(_account_of, ps.principals) if a is not None}
        scps = {a: levels(a) for a in sorted(accounts)}
        # An account the organization does not list: the root's SCPs only (an empty string never names an account).
        default = levels("")
        return cls(principals, {k: rec.arn for k, rec in ps.roles_by_name().items()}, resources, scps, default)

    # -- resolution ---------------------------------------------------------------------------------------------

    def record(self, principal: str) -> tuple | None:
        """The principal entry a request's principal uses (a role session uses its role's), as
        :meth:`PolicySet.principal_record` finds it."""
        rec = self.principals.get(principal)
        if rec is None:
            key = session_role_key(principal)
            if key is not None:
                arn = self.roles.get(key)
                if arn is not None:
                    rec = self.principals.get(arn)
        return rec

    def principal_part(self, principal: str) -> tuple:
        """``(identity, boundary, session, scps)`` slot ids for ``principal``."""
        rec = self.record(principal)
        identity, boundary, session = (rec[0], rec[1], rec[2]) if rec is not None else ((), None, None)
        account = _account_of(principal)
        scps = None if account is None else self.scps.get(account, self.scps_default)
        return identity, boundary, session, scps

    def layout(self, principal: str, resource: str) -> Layout:
        """The slots that apply to a request of ``principal`` on ``resource``."""
        identity, boundary, session, scps = self.principal_part(principal)
        res = self.resources.get(resource)
        return Layout(identity, None if res is None else res[0], boundary, session, scps)

    def tag_context(self, principal: str, resource: str) -> tuple[tuple[str, str], ...]:
        """The context entries the principal's and resource's tags give (``aws:PrincipalTag/k``,
        ``aws:ResourceTag/k``), as :meth:`PolicySet.tag_context` gives them."""
        out = []
        rec = self.record(principal)
        if rec is not None:
            out.extend((f"aws:PrincipalTag/{k}", v) for k, v in rec[3])
        res = self.resources.get(resource)
        if res is not None:
            out.extend((f"aws:ResourceTag/{k}", v) for k, v in res[1])
        return tuple(out)

    # -- data ---------------------------------------------------------------------------------------------------

    def to_data(self) -> dict:
        """The directory as JSON data."""
        return {
            "principals": [[arn, list(i), b, s, [list(t) for t in tags]]
                           for arn, (i, b, s, tags) in self.principals.items()],
            "roles": [[list(k), arn] for k, arn in self.roles.items()],
            "resources": [[arn, slot, [list(t) for t in tags]] for arn, (slot, tags) in self.resources.items()],
            "scps": [[a, _levels_to(lv)] for a, lv in self.scps.items()],
            "scps_default": _levels_to(self.scps_default),
        }

    @classmethod
    def from_data(cls, d: dict, slot_types: list[str], slot_levels: list) -> "Directory":
        """The inverse of :meth:`to_data`, checked against the plan's slots.

        Raises
        ------
        CompileError
            When an entry is malformed or names a slot of the wrong policy type or SCP level.
        """
        def slot(v, ptype, level=None, optional=False):
            if v is None and optional:
                return None
            if type(v) is not int or not 0 <= v < len(slot_types) or slot_types[v] != ptype or (
                    ptype == "scp" and slot_levels[v] != level):
                raise CompileError(f"directory names slot `{v}`, which is not a {ptype} slot")
            return v

        def text(v):
            if type(v) is not str:
                raise CompileError("directory entry is not a string")
            return v

        def tags(v):
            return tuple((text(k), text(x)) for k, x in v)

        def levels(v):
            if v is None:
                return None
            return tuple(tuple(slot(s, "scp", i) for s in lv) for i, lv in enumerate(v))

        try:
            principals = {text(arn): (tuple(slot(s, "identity") for s in i),
                                      slot(b, "permission_boundary", optional=True),
                                      slot(s, "session", optional=True), tags(t))
                          for arn, i, b, s, t in d["principals"]}
            roles = {(text(k[0]), text(k[1]), text(k[2])): text(arn) for k, arn in d["roles"]}
            resources = {text(arn): (slot(s, "resource", optional=True), tags(t)) for arn, s, t in d["resources"]}
            scps = {text(a): levels(lv) for a, lv in d["scps"]}
            default = levels(d["scps_default"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CompileError(f"directory is malformed: {exc}") from None
        return cls(principals, roles, resources, scps, default)


def _levels_to(levels):
    return None if levels is None else [list(lv) for lv in levels]
