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

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np

from ..errors import CompileError
from ._checks import offsets_partition
from .plan import TYPE_CODES, PlanBuilder

__all__ = ["Directory", "COLUMNS"]


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

    - ``principals``: ARN -> ``(identity slots, boundary slot or None, session slot or None, tags)`` (a mapping
      that builds each entry from the file's columns when asked, in a loaded directory);
    - ``roles``: ``(partition, account, role name)`` -> role ARN, for role sessions;
    - ``resources``: ARN -> ``(resource-policy slot or None, tags)``;
    - ``scps``: account -> SCP slot ids per level (root first) or ``None``; ``scps_default`` for other accounts.
    """

    principals: Mapping
    roles: dict
    resources: Mapping
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

    def to_columns(self) -> tuple[dict, dict]:
        """The directory as ``(JSON data, arrays)``: strings and SCP levels as JSON, slot ids and tag offsets as the
        arrays :data:`COLUMNS` lists (see :meth:`from_columns`)."""
        pe = self.principals
        n_p, n_r = len(pe), len(self.resources)
        ident = [r[0] for r in pe.values()]
        ptags = [r[3] for r in pe.values()]
        rtags = [r[1] for r in self.resources.values()]
        data = {
            "principals": list(pe),
            "principal_tags": list(chain.from_iterable(chain.from_iterable(ptags))),
            "roles": list(chain.from_iterable((*k, arn) for k, arn in self.roles.items())),
            "resources": list(self.resources),
            "resource_tags": list(chain.from_iterable(chain.from_iterable(rtags))),
            "scps": [[a, _levels_to(lv)] for a, lv in self.scps.items()],
            "scps_default": _levels_to(self.scps_default),
        }
        arrays = {
            "principal_identity.offsets": _offsets(map(len, ident), n_p),
            "principal_identity.ids": np.fromiter(chain.from_iterable(ident), dtype=np.uint32),
            "principal_boundary": _optional_ids((r[1] for r in pe.values()), n_p),
            "principal_session": _optional_ids((r[2] for r in pe.values()), n_p),
            "principal_tags.offsets": _offsets(map(len, ptags), n_p),
            "resource_policy": _optional_ids((r[0] for r in self.resources.values()), n_r),
            "resource_tags.offsets": _offsets(map(len, rtags), n_r),
        }
        return data, arrays

    @staticmethod
    def column_counts(d: dict, n_slots: int) -> dict:
        """The most entries each array of :data:`COLUMNS` may hold, from the JSON data ``d`` and the plan's slot
        count (for the file's checks before its arrays are read; exact lengths are checked by
        :meth:`from_columns`).  A principal's identity slots are distinct (a policy attached twice has two)."""
        n_p, n_r = len(d["principals"]), len(d["resources"])
        return {"principal_identity.offsets": n_p + 1, "principal_identity.ids": n_p * n_slots,
                "principal_boundary": n_p, "principal_session": n_p, "principal_tags.offsets": n_p + 1,
                "resource_policy": n_r, "resource_tags.offsets": n_r + 1}

    @classmethod
    def from_columns(cls, d: dict, arrays: dict, slot_codes: np.ndarray, slot_levels: np.ndarray) -> "Directory":
        """The inverse of :meth:`to_columns`, checked against the plan's slots (their type codes, ``TYPE_CODES``,
        and SCP levels, -1 for other types).

        NOTE: every check runs over whole columns (``type`` and ``len`` mapped over lists in C, numpy over the
        arrays), and entries are built only when a request's principal or resource first needs one: a Python loop
        over the entries was most of a load.

        Raises
        ------
        CompileError
            When a column is malformed or an entry names a slot of the wrong policy type or SCP level.
        """
        n_slots = len(slot_codes)
        slot_codes = np.asarray(slot_codes, dtype=np.int64)
        slot_levels_list = np.asarray(slot_levels, dtype=np.int64).tolist()
        slot_codes_list = slot_codes.tolist()
        try:
            arns, ptags, roles, rarns, rtags = (d["principals"], d["principal_tags"], d["roles"], d["resources"],
                                                d["resource_tags"])
            for name, v in (("principal", arns), ("principal tag", ptags), ("role", roles), ("resource", rarns),
                            ("resource tag", rtags)):
                if type(v) is not list or not set(map(type, v)) <= {str}:
                    raise CompileError(f"directory {name} column is malformed")
            n_p, n_r = len(arns), len(rarns)
            ident_off = _offsets_of(arrays["principal_identity.offsets"], n_p, len(arrays["principal_identity.ids"]),
                                    "principal identity")
            ptag_off = _offsets_of(arrays["principal_tags.offsets"], n_p, _pairs(ptags, "principal"), "principal tag")
            rtag_off = _offsets_of(arrays["resource_tags.offsets"], n_r, _pairs(rtags, "resource"), "resource tag")
            ident = arrays["principal_identity.ids"].astype(np.int64)
            bound, session, rslot = (arrays["principal_boundary"], arrays["principal_session"],
                                     arrays["resource_policy"])
            if bound.shape[0] != n_p or session.shape[0] != n_p or rslot.shape[0] != n_r:
                raise CompileError("directory slot column does not have one entry per principal or resource")
            if len(roles) % 4:
                raise CompileError("directory role column is malformed")
            principal_rows = dict(zip(arns, range(n_p)))
            resource_rows = dict(zip(rarns, range(n_r)))
            if len(principal_rows) != n_p or len(resource_rows) != n_r:
                raise CompileError("directory lists a principal or resource twice")
            it = iter(roles)
            roles_map = {(p, a, n): arn for p, a, n, arn in zip(it, it, it, it)}
            scps = {}
            for a, lv in d["scps"]:
                if type(a) is not str:
                    raise CompileError("directory account entry is malformed")
                scps[a] = _levels_from(lv, slot_codes_list, slot_levels_list)
            default = _levels_from(d["scps_default"], slot_codes_list, slot_levels_list)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CompileError(f"directory is malformed: {exc}") from None
        for ptype, ids in (("identity", ident), ("permissions_boundary", bound[bound != -1]),
                           ("session", session[session != -1]), ("resource", rslot[rslot != -1])):
            if ids.shape[0] and ((ids < 0).any() or (ids >= n_slots).any()
                                 or (slot_codes[ids] != TYPE_CODES[ptype]).any()):
                raise CompileError(f"directory names a slot that is not a {ptype} slot")
        principals = _Entries(principal_rows, _principal_maker(ident_off, ident.tolist(), bound.tolist(),
                                                               session.tolist(), ptag_off, ptags))
        resources = _Entries(resource_rows, _resource_maker(rslot.tolist(), rtag_off, rtags))
        return cls(principals, roles_map, resources, scps, default)


#: The arrays of a saved directory (name -> dtype): per principal its identity slots (CSR), boundary and session
#: slot (-1 for none) and tag pairs (offsets into ``principal_tags``); per resource its policy slot and tag pairs.
COLUMNS = {
    "principal_identity.offsets": np.uint64, "principal_identity.ids": np.uint32,
    "principal_boundary": np.int64, "principal_session": np.int64, "principal_tags.offsets": np.uint64,
    "resource_policy": np.int64, "resource_tags.offsets": np.uint64,
}


class _Entries(Mapping):
    """ARN -> entry of a loaded directory, each entry built from the columns when first asked for (not kept: the
    engine's core asks once per distinct principal or resource and keeps its answer)."""

    __slots__ = ("_rows", "_make")

    def __init__(self, rows: dict, make):
        self._rows, self._make = rows, make

    def __getitem__(self, arn):
        return self._make(self._rows[arn])

    def get(self, arn, default=None):
        i = self._rows.get(arn)
        return default if i is None else self._make(i)

    def __contains__(self, arn):
        return arn in self._rows

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)


def _pairs(tags: list, what: str) -> int:
    if len(tags) % 2:
        raise CompileError(f"directory {what} tag column is malformed")
    return len(tags) // 2


def _tag_pairs(flat: list, a: int, b: int) -> tuple:
    t = flat[2 * a:2 * b]
    return tuple(zip(t[::2], t[1::2]))


def _principal_maker(off, ids, bound, session, tag_off, tags):
    def make(i):
        return (tuple(ids[off[i]:off[i + 1]]), None if bound[i] == -1 else bound[i],
                None if session[i] == -1 else session[i], _tag_pairs(tags, tag_off[i], tag_off[i + 1]))
    return make


def _resource_maker(slot, tag_off, tags):
    def make(i):
        return None if slot[i] == -1 else slot[i], _tag_pairs(tags, tag_off[i], tag_off[i + 1])
    return make


def _offsets(counts, n: int) -> np.ndarray:
    off = np.zeros(n + 1, dtype=np.uint64)
    if n:
        np.cumsum(np.fromiter(counts, dtype=np.uint64, count=n), out=off[1:])
    return off


def _optional_ids(values, n: int) -> np.ndarray:
    return np.fromiter((-1 if v is None else v for v in values), dtype=np.int64, count=n)


def _offsets_of(off: np.ndarray, rows: int, end: int, what: str) -> list:
    """``off`` as a list, checked to be ``rows + 1`` offsets from 0 to ``end`` that never decrease."""
    if off.shape[0] != rows + 1 or not offsets_partition(off, end):
        raise CompileError(f"directory {what} offsets are malformed")
    return off.tolist()


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
