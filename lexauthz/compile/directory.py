"""Which compiled slots apply to a request: a policy set reduced to slot ids, tags and names.

A :class:`Directory` is what a compiled :class:`~lexauthz.account.PolicySet` leaves behind once every
policy has a slot: per principal its identity, boundary and session slots and its tags; per resource its policy slot
and tags; per account its SCP levels.  It answers :meth:`Directory.principal` and :meth:`Directory.resource` (the
slots and tag context of a request's principal and resource) with the same rules as :meth:`PolicySet.applicable` (a
role session uses its role's record; an account the organization does not list gets the root's SCPs only) without
touching a policy document, so a saved engine loads it as plain data.  The engine's core asks once per distinct
principal and resource and keeps the answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np

from ..errors import CompileError
from .plan import TYPE_CODES, PlanBuilder

__all__ = ["Directory"]


# NOTE: the two ARN readers below are the compiled side's own, written apart from the account model's resolution
# (lexauthz.account.policy_set), so that the differential tests check one against the other.

def session_role_key(principal: str) -> tuple[str, str, str] | None:
    """``(partition, account, role name)`` of an ``arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`` ARN."""
    if not principal.startswith("arn:"):
        return None
    head, sep, rest = principal.partition(":assumed-role/")
    parts = head.split(":")
    if not sep or len(parts) != 5 or parts[2] != "sts":
        return None
    role, slash, _ = rest.partition("/")
    return (parts[1], parts[4], role) if slash else None


def _account_of(principal: str) -> str | None:
    """The account field of an ARN principal (``None`` for a service name, ``*`` or an ARN without one)."""
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[4] or None


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

    - ``principals``: ARN -> ``(identity slots, boundary slot or None, session slot or None, tags)`` (the slots and
      tags as lists in a loaded directory, as the file's JSON gave them);
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
    def build(cls, ps, builder: PlanBuilder) -> "Directory":
        """Give every policy of ``ps`` its slots in ``builder`` and record which apply to whom."""
        slots = _SlotAssigner(builder)
        principals = {}
        for rec in ps.principals.values():
            identity = list(rec.policies)
            for g in rec.groups:
                identity.extend(ps.groups.get(g, ()))
            principals[rec.arn] = (
                slots.many("identity", identity),
                None if rec.permissions_boundary is None else slots.one("permissions_boundary",
                                                                         rec.permissions_boundary),
                None if rec.session_policy is None else slots.one("session", rec.session_policy),
                tuple(rec.tags))
        resources = {}
        for res in ps.resources.values():
            resources[res.arn] = (None if res.policy is None else slots.one("resource", res.policy), tuple(res.tags))

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

    def principal(self, principal: str) -> tuple:
        """``((identity, boundary, session, scps) slot ids, tag context)`` of a request's principal: the
        ``aws:PrincipalTag/k`` entries its tags give, as :meth:`PolicySet.tag_context` gives them."""
        rec = self.record(principal)
        if rec is None:
            identity, boundary, session, tags = (), None, None, ()
        else:
            identity, boundary, session = tuple(rec[0]), rec[1], rec[2]
            tags = tuple((f"aws:PrincipalTag/{k}", v) for k, v in rec[3])
        account = _account_of(principal)
        scps = None if account is None else self.scps.get(account, self.scps_default)
        return (identity, boundary, session, scps), tags

    def resource(self, resource: str) -> tuple:
        """``(resource-policy slot or None, tag context)`` of a request's resource: the ``aws:ResourceTag/k``
        entries its tags give."""
        res = self.resources.get(resource)
        if res is None:
            return None, ()
        return res[0], tuple((f"aws:ResourceTag/{k}", v) for k, v in res[1])

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
    def from_data(cls, d: dict, slot_codes: np.ndarray, slot_levels: np.ndarray) -> "Directory":
        """The inverse of :meth:`to_data`, checked against the plan's slots (their type codes, ``TYPE_CODES``, and
        SCP levels, -1 for other types).

        Raises
        ------
        CompileError
            When an entry is malformed or names a slot of the wrong policy type or SCP level.
        """
        n_slots = len(slot_codes)
        slot_codes = np.asarray(slot_codes, dtype=np.int64)
        slot_levels_list = np.asarray(slot_levels, dtype=np.int64).tolist()
        slot_codes_list = slot_codes.tolist()
        # NOTE: the entries are checked column by column, mapping `type` and `len` over them in C, and kept as the
        # JSON gave them (lists, which nothing outside the directory sees: :meth:`principal` returns tuples): a
        # Python loop over each entry was a quarter of a load.
        try:
            pe, re_ = d["principals"], d["resources"]
            if not (type(pe) is list and type(re_) is list and set(map(type, pe)) <= {list}
                    and set(map(len, pe)) <= {5} and set(map(type, re_)) <= {list} and set(map(len, re_)) <= {3}):
                raise CompileError("directory principal or resource entry is malformed")
            arns, ids, bounds, sessions, ptags = zip(*pe) if pe else ((),) * 5
            rarns, rslots, rtags = zip(*re_) if re_ else ((),) * 3
            if not (set(map(type, arns)) <= {str} and set(map(type, ids)) <= {list} and _tags_ok(ptags)):
                raise CompileError("directory principal entry is malformed")
            if not (set(map(type, rarns)) <= {str} and _tags_ok(rtags)):
                raise CompileError("directory resource entry is malformed")
            principals = dict(zip(arns, map(_PRINCIPAL_FIELDS, pe)))
            resources = dict(zip(rarns, map(_RESOURCE_FIELDS, re_)))
            want = {"identity": list(chain.from_iterable(ids)),
                    "permissions_boundary": [b for b in bounds if b is not None],
                    "session": [v for v in sessions if v is not None],
                    "resource": [v for v in rslots if v is not None]}
            roles = {}
            for k, arn in d["roles"]:
                if not (type(k) is list and len(k) == 3 and all(type(x) is str for x in k) and type(arn) is str):
                    raise CompileError("directory role entry is malformed")
                roles[tuple(k)] = arn
            scps = {}
            for a, lv in d["scps"]:
                if type(a) is not str:
                    raise CompileError("directory account entry is malformed")
                scps[a] = _levels_from(lv, slot_codes_list, slot_levels_list)
            default = _levels_from(d["scps_default"], slot_codes_list, slot_levels_list)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CompileError(f"directory is malformed: {exc}") from None
        for ptype, ids in want.items():
            if not ids:
                continue
            if not set(map(type, ids)) <= {int}:
                raise CompileError(f"directory names a {ptype} slot that is not a number")
            arr = np.fromiter(ids, dtype=np.int64, count=len(ids))
            if (arr < 0).any() or (arr >= n_slots).any() or (slot_codes[arr] != TYPE_CODES[ptype]).any():
                raise CompileError(f"directory names a slot that is not a {ptype} slot")
        return cls(principals, roles, resources, scps, default)


def _tags_ok(columns) -> bool:
    """Whether every item of ``columns`` is a tag list: ``[[key, value], ...]`` of strings."""
    if not set(map(type, columns)) <= {list}:
        return False
    pairs = list(chain.from_iterable(columns))
    return (set(map(type, pairs)) <= {list} and set(map(len, pairs)) <= {2}
            and set(map(type, chain.from_iterable(pairs))) <= {str})


#: A principal entry ``[arn, identity slots, boundary, session, tags]`` as a record ``(identity, boundary, session,
#: tags)``, and a resource entry ``[arn, slot, tags]`` as ``(slot, tags)``.
_PRINCIPAL_FIELDS = itemgetter(1, 2, 3, 4)
_RESOURCE_FIELDS = itemgetter(1, 2)


def _levels_from(v, slot_codes: list, slot_levels: list):
    if v is None:
        return None
    out = []
    for i, lv in enumerate(v):
        level = []
        for sid in lv:
            if type(sid) is not int or not 0 <= sid < len(slot_codes) or slot_codes[sid] != TYPE_CODES["scp"] or (
                    slot_levels[sid] != i):
                raise CompileError(f"directory names slot `{sid}`, which is not an scp slot at level {i}")
            level.append(sid)
        out.append(tuple(level))
    return tuple(out)


def _levels_to(levels):
    return None if levels is None else [list(lv) for lv in levels]
