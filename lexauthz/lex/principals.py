"""The principal store: IAM users, roles and role sessions, and the principal context keys they give a request.

The keys below follow "AWS global condition context keys" (IAM User Guide):

==========================  =====================================  ======================================
key                         IAM user                               assumed-role session
==========================  =====================================  ======================================
``aws:PrincipalArn``        the user's ARN                         the **role's** ARN (not the session's)
``aws:PrincipalAccount``    the user's account                     the role's account
``aws:PrincipalType``       ``User``                               ``AssumedRole``
``aws:username``            the user name                          absent
``aws:userid``              the user's unique id (``AIDA...``)     ``ROLEID:session-name``
``aws:PrincipalTag/<k>``    the user's tags                        the role's tags, overridden by session tags
``aws:PrincipalIsAWSService``  ``false``                           ``false``
==========================  =====================================  ======================================

Other callers: the account root (``arn:aws:iam::ACCT:root``: type ``Account``, ``aws:userid`` the account id), a
federated user (``arn:aws:sts::ACCT:federated-user/NAME``: type ``FederatedUser``, ``aws:userid``
``ACCT:NAME``) and an AWS service principal (``connect.amazonaws.com``: ``aws:PrincipalIsAWSService`` ``true`` and
``aws:PrincipalServiceName``; no ARN, account or type).

A caller that is not in the store still gets every key its ARN determines; keys the store would have supplied
(``aws:userid``, tags, a role's path) are then absent, and :attr:`ResolvedPrincipal.known` is false.  A role ARN given
as the caller stands for a session of that role named after the role (roles cannot sign requests themselves).

JSON format (tags may be an object or a list of ``{"Key", "Value"}``)::

    {
      "users":    [{"arn": "arn:aws:iam::111122223333:user/developers/maria", "userId": "AIDA...", "tags": {...}}],
      "roles":    [{"arn": "arn:aws:iam::111122223333:role/SupportAgent", "roleId": "AROA...", "tags": {...}}],
      "sessions": [{"arn": "arn:aws:sts::111122223333:assumed-role/SupportAgent/alice", "tags": {...}}]
    }

A session's role must be in ``roles`` (matched by account and role name).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import RequestError
from .tags import EMPTY_TAGS, Tags, merge_tags, parse_tags

__all__ = [
    "PrincipalType",
    "IamUser",
    "IamRole",
    "RoleSession",
    "ResolvedPrincipal",
    "PrincipalStore",
    "PrincipalStoreBuilder",
    "parse_principal_arn",
]

_IAM = re.compile(r"arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>[0-9]{12}):(?P<rest>.+)")
_STS = re.compile(r"arn:(?P<partition>aws(?:-[a-z]+)*):sts::(?P<account>[0-9]{12}):(?P<rest>.+)")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
_NAME = re.compile(r"[\w+=,.@-]{1,128}")
_PATH = re.compile(r"/([\x21-\x7e]*/)?")
_UNIQUE_ID = re.compile(r"[A-Z0-9]{4,128}")


class PrincipalType(str, enum.Enum):
    """Values of ``aws:PrincipalType`` (plus ``Service`` for service principals, which AWS gives no type)."""

    ACCOUNT = "Account"
    USER = "User"
    FEDERATED_USER = "FederatedUser"
    ASSUMED_ROLE = "AssumedRole"
    SERVICE = "Service"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


@dataclass(frozen=True, slots=True)
class _Parsed:
    kind: str  # user | role | assumed-role | federated-user | root | service
    partition: str | None
    account: str | None
    name: str | None
    path: str | None = None
    session: str | None = None


def parse_principal_arn(arn: object, path: str = "$.caller") -> _Parsed:
    """Split a caller ARN (user, role, assumed-role session, federated user, root) or a service principal name.

    Raises
    ------
    RequestError
        ``E_INVALID_CALLER`` when ``arn`` is none of these.
    """
    if not isinstance(arn, str) or not arn:
        raise RequestError("E_INVALID_CALLER", "the caller must be an IAM or STS ARN or a service principal", path)
    if _SERVICE.fullmatch(arn):
        return _Parsed("service", None, None, arn)
    m = _IAM.fullmatch(arn)
    if m:
        rest = m["rest"]
        if rest == "root":
            return _Parsed("root", m["partition"], m["account"], None)
        for kind in ("user", "role"):
            if rest.startswith(kind + "/"):
                body = rest[len(kind):]
                ppath, _, name = body.rpartition("/")
                ppath += "/"
                if _NAME.fullmatch(name) and _PATH.fullmatch(ppath):
                    return _Parsed(kind, m["partition"], m["account"], name, ppath)
        raise RequestError("E_INVALID_CALLER", f"`{arn}` is not an IAM user, role or root ARN", path)
    m = _STS.fullmatch(arn)
    if m:
        segs = m["rest"].split("/")
        if segs[0] == "assumed-role" and len(segs) == 3 and _NAME.fullmatch(segs[1]) and _NAME.fullmatch(segs[2]):
            return _Parsed("assumed-role", m["partition"], m["account"], segs[1], session=segs[2])
        if segs[0] == "federated-user" and len(segs) == 2 and _NAME.fullmatch(segs[1]):
            return _Parsed("federated-user", m["partition"], m["account"], segs[1])
        raise RequestError("E_INVALID_CALLER", f"`{arn}` is not an assumed-role or federated-user ARN", path)
    raise RequestError("E_INVALID_CALLER", f"`{arn}` is not an IAM or STS ARN or a service principal", path)


def _unique_id(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UNIQUE_ID.fullmatch(value):
        raise RequestError("E_INVALID_STORE", f"`{value}` is not an IAM unique id (upper-case letters and digits)", path)
    return value


class _IamIdentity:
    """What IAM users and roles share: the account and the name, read from the ARN."""

    __slots__ = ()
    arn: str

    @property
    def account(self) -> str:
        """The account id."""
        return self.arn.split(":")[4]

    @property
    def name(self) -> str:
        """The user or role name (the last segment of the ARN)."""
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True, slots=True)
class IamUser(_IamIdentity):
    """An IAM user: ARN, unique id (``AIDA...``), tags."""

    arn: str
    user_id: str | None = None
    tags: Tags = EMPTY_TAGS

    def __post_init__(self) -> None:
        if parse_principal_arn(self.arn, "$.arn").kind != "user":
            raise RequestError("E_INVALID_STORE", f"`{self.arn}` is not an IAM user ARN", "$.arn")


@dataclass(frozen=True, slots=True)
class IamRole(_IamIdentity):
    """An IAM role: ARN (with its path), unique id (``AROA...``), tags."""

    arn: str
    role_id: str | None = None
    tags: Tags = EMPTY_TAGS

    def __post_init__(self) -> None:
        if parse_principal_arn(self.arn, "$.arn").kind != "role":
            raise RequestError("E_INVALID_STORE", f"`{self.arn}` is not an IAM role ARN", "$.arn")

    @property
    def service_linked(self) -> bool:
        """True for a service-linked role (path ``/aws-service-role/<service>/``)."""
        return self.arn.split(":", 5)[5].startswith("role/aws-service-role/")


@dataclass(frozen=True, slots=True)
class RoleSession:
    """An assumed-role session ``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`` of a stored role, with session tags."""

    arn: str
    role: IamRole
    tags: Tags = EMPTY_TAGS

    @property
    def session_name(self) -> str:
        """The role session name."""
        return self.arn.rsplit("/", 1)[1]

    @property
    def effective_tags(self) -> Tags:
        """The role's tags with the session tags on top (a session tag replaces a role tag with the same key)."""
        return merge_tags(self.role.tags, self.tags)


@dataclass(frozen=True, slots=True)
class ResolvedPrincipal:
    """What a caller ARN means for authorization.

    ``policy_source`` is the ARN whose identity-based policies apply (the user, or the role of a session);
    ``principal_arn`` is the value of ``aws:PrincipalArn``.
    """

    caller: str
    principal_type: PrincipalType
    principal_arn: str | None
    account: str | None
    userid: str | None = None
    username: str | None = None
    tags: Tags = EMPTY_TAGS
    policy_source: str | None = None
    session_name: str | None = None
    known: bool = False

    def context(self) -> dict[str, str]:
        """The principal context keys (see the module table); keys whose value is unknown are left out."""
        if self.principal_type is PrincipalType.SERVICE:
            return {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": self.caller}
        ctx: dict[str, str] = {}
        if self.principal_arn is not None:
            ctx["aws:PrincipalArn"] = self.principal_arn
        if self.account is not None:
            ctx["aws:PrincipalAccount"] = self.account
        ctx["aws:PrincipalType"] = self.principal_type.value
        ctx["aws:PrincipalIsAWSService"] = "false"
        if self.username is not None:
            ctx["aws:username"] = self.username
        if self.userid is not None:
            ctx["aws:userid"] = self.userid
        ctx.update(self.tags.context("aws:PrincipalTag/"))
        return ctx


class PrincipalStore:
    """An immutable set of IAM users, roles and role sessions, looked up by ARN.

    >>> store = PrincipalStore.from_dict({
    ...     "roles": [{"arn": "arn:aws:iam::111122223333:role/SupportAgent", "roleId": "AROAEXAMPLEID",
    ...                "tags": {"Department": "Support"}}],
    ...     "sessions": [{"arn": "arn:aws:sts::111122223333:assumed-role/SupportAgent/bob",
    ...                   "tags": {"Department": "Sales"}}]})
    >>> ctx = store.resolve("arn:aws:sts::111122223333:assumed-role/SupportAgent/bob").context()
    >>> ctx["aws:PrincipalArn"], ctx["aws:userid"], ctx["aws:PrincipalTag/Department"]
    ('arn:aws:iam::111122223333:role/SupportAgent', 'AROAEXAMPLEID:bob', 'Sales')
    """

    __slots__ = ("_users", "_roles", "_roles_by_name", "_sessions")

    def __init__(self, users: Iterable[IamUser] = (), roles: Iterable[IamRole] = (), sessions: Iterable[RoleSession] = ()):
        self._users: dict[str, IamUser] = {}
        self._roles: dict[str, IamRole] = {}
        self._roles_by_name: dict[tuple[str, str], IamRole] = {}
        self._sessions: dict[str, RoleSession] = {}
        for u in users:
            if u.arn in self._users:
                raise RequestError("E_DUPLICATE_PRINCIPAL", f"user `{u.arn}` is given twice", "$.users")
            self._users[u.arn] = u
        for r in roles:
            key = (r.account, r.name)
            if r.arn in self._roles or key in self._roles_by_name:
                raise RequestError("E_DUPLICATE_PRINCIPAL", f"role `{r.arn}` is given twice", "$.roles")
            self._roles[r.arn] = r
            self._roles_by_name[key] = r
        for s in sessions:
            if s.arn in self._sessions:
                raise RequestError("E_DUPLICATE_PRINCIPAL", f"session `{s.arn}` is given twice", "$.sessions")
            self._sessions[s.arn] = s

    # -- building --------------------------------------------------------------------------------------------

    @classmethod
    def builder(cls) -> "PrincipalStoreBuilder":
        """A :class:`PrincipalStoreBuilder`."""
        return PrincipalStoreBuilder()

    @classmethod
    def from_dict(cls, data: Mapping, *, extra_fields: Iterable[str] = (), path: str = "$") -> "PrincipalStore":
        """Build a store from the JSON format in the module text.

        ``extra_fields`` are entry fields that another file format adds and this store ignores (the account file's
        policy attachments).

        Raises
        ------
        RequestError
            ``E_INVALID_STORE`` (wrong shape, unknown field, bad ARN or id), ``E_UNKNOWN_ROLE`` (a session of a role
            that is not given), ``E_DUPLICATE_PRINCIPAL`` and the tag codes, with JSON paths.
        """
        if not isinstance(data, Mapping):
            raise RequestError("E_INVALID_STORE", "principals must be a JSON object", path)
        extra = set(extra_fields)
        unknown = set(data) - {"users", "roles", "sessions"} - extra
        if unknown:
            raise RequestError("E_INVALID_STORE", f"unknown field `{sorted(unknown)[0]}`", path)
        b = PrincipalStoreBuilder()
        for kind, idkey in (("users", "userId"), ("roles", "roleId"), ("sessions", None)):
            entries = data.get(kind, [])
            if not isinstance(entries, (list, tuple)):
                raise RequestError("E_INVALID_STORE", f"`{kind}` must be a list", f"{path}.{kind}")
            for i, e in enumerate(entries):
                ep = f"{path}.{kind}[{i}]"
                if not isinstance(e, Mapping):
                    raise RequestError("E_INVALID_STORE", "a principal must be a JSON object", ep)
                allowed = {"arn", "tags"} | ({idkey} if idkey else set()) | extra
                bad = set(e) - allowed
                if bad:
                    raise RequestError("E_INVALID_STORE", f"unknown field `{sorted(bad)[0]}`", ep)
                if "arn" not in e:
                    raise RequestError("E_INVALID_STORE", "a principal needs an `arn`", ep)
                if kind == "users":
                    b.add_user(e["arn"], user_id=e.get(idkey), tags=e.get("tags"), path=ep)
                elif kind == "roles":
                    b.add_role(e["arn"], role_id=e.get(idkey), tags=e.get("tags"), path=ep)
                else:
                    b.add_session(e["arn"], tags=e.get("tags"), path=ep)
        return b.build()

    # -- lookup ----------------------------------------------------------------------------------------------

    @property
    def users(self) -> tuple[IamUser, ...]:
        """Every stored user."""
        return tuple(self._users.values())

    @property
    def roles(self) -> tuple[IamRole, ...]:
        """Every stored role."""
        return tuple(self._roles.values())

    @property
    def sessions(self) -> tuple[RoleSession, ...]:
        """Every stored role session."""
        return tuple(self._sessions.values())

    def user(self, arn: str) -> IamUser | None:
        """The stored user with this ARN, or ``None``."""
        return self._users.get(arn)

    def role(self, arn: str) -> IamRole | None:
        """The stored role with this ARN, or ``None``."""
        return self._roles.get(arn)

    def role_by_name(self, account: str, name: str) -> IamRole | None:
        """The stored role of ``account`` named ``name`` (session ARNs carry the name, not the path)."""
        return self._roles_by_name.get((account, name))

    def session(self, arn: str) -> RoleSession | None:
        """The stored session with this ARN, or ``None``."""
        return self._sessions.get(arn)

    def resolve(self, caller: str, path: str = "$.caller") -> ResolvedPrincipal:
        """What ``caller`` means: its principal type, ``aws:PrincipalArn``, account, ids, tags, policy source.

        Raises
        ------
        RequestError
            ``E_INVALID_CALLER`` when ``caller`` is not a principal ARN or service principal.
        """
        p = parse_principal_arn(caller, path)
        if p.kind == "service":
            return ResolvedPrincipal(caller, PrincipalType.SERVICE, None, None, known=True)
        if p.kind == "root":
            root = f"arn:{p.partition}:iam::{p.account}:root"
            return ResolvedPrincipal(caller, PrincipalType.ACCOUNT, root, p.account, userid=p.account, policy_source=root,
                                     known=True)
        if p.kind == "federated-user":
            return ResolvedPrincipal(caller, PrincipalType.FEDERATED_USER, caller, p.account, userid=f"{p.account}:{p.name}",
                                     known=True)
        if p.kind == "user":
            u = self._users.get(caller)
            return ResolvedPrincipal(
                caller, PrincipalType.USER, caller, p.account, userid=u.user_id if u else None, username=p.name,
                tags=u.tags if u else EMPTY_TAGS, policy_source=caller, known=u is not None,
            )
        # A session, or a role ARN standing for a session named after the role.
        if p.kind == "role":
            role = self._roles.get(caller)
            session_name, session = p.name, None
        else:
            session = self._sessions.get(caller)
            role = session.role if session else self._roles_by_name.get((p.account, p.name))
            session_name = p.session
        if role is None:
            # Unknown role: its path is unknown, so aws:PrincipalArn assumes the root path.
            role_arn = caller if p.kind == "role" else f"arn:{p.partition}:iam::{p.account}:role/{p.name}"
            return ResolvedPrincipal(caller, PrincipalType.ASSUMED_ROLE, role_arn, p.account, policy_source=role_arn,
                                     session_name=session_name)
        tags = merge_tags(role.tags, session.tags) if session else role.tags
        userid = f"{role.role_id}:{session_name}" if role.role_id else None
        return ResolvedPrincipal(
            caller, PrincipalType.ASSUMED_ROLE, role.arn, role.account, userid=userid, tags=tags, policy_source=role.arn,
            session_name=session_name, known=True,
        )

    def principal_context(self, caller: str, path: str = "$.caller") -> dict[str, str]:
        """Shorthand for ``resolve(caller).context()``."""
        return self.resolve(caller, path).context()

    def __repr__(self) -> str:
        return f"PrincipalStore({len(self._users)} users, {len(self._roles)} roles, {len(self._sessions)} sessions)"


class PrincipalStoreBuilder:
    """Collects principals, then :meth:`build` returns the immutable :class:`PrincipalStore`."""

    def __init__(self) -> None:
        self._users: list[IamUser] = []
        self._roles: list[IamRole] = []
        self._sessions: list[tuple[str, Any, str]] = []

    def add_user(self, arn: str, *, user_id: str | None = None, tags: Any = None, path: str = "$") -> "PrincipalStoreBuilder":
        """Add an IAM user."""
        _check_kind(arn, "user", f"{path}.arn")
        self._users.append(IamUser(arn, _unique_id(user_id, f"{path}.userId"), parse_tags(tags, f"{path}.tags")))
        return self

    def add_role(self, arn: str, *, role_id: str | None = None, tags: Any = None, path: str = "$") -> "PrincipalStoreBuilder":
        """Add an IAM role (service-linked roles included: their path is ``/aws-service-role/<service>/``)."""
        _check_kind(arn, "role", f"{path}.arn")
        self._roles.append(IamRole(arn, _unique_id(role_id, f"{path}.roleId"), parse_tags(tags, f"{path}.tags")))
        return self

    def add_session(self, arn: str, *, tags: Any = None, path: str = "$") -> "PrincipalStoreBuilder":
        """Add an assumed-role session with session tags; its role must be added too (in any order)."""
        _check_kind(arn, "assumed-role", f"{path}.arn")
        self._sessions.append((arn, tags, path))
        return self

    def build(self) -> PrincipalStore:
        """The immutable store.

        Raises
        ------
        RequestError
            ``E_UNKNOWN_ROLE`` for a session whose role was not added, ``E_DUPLICATE_PRINCIPAL``.
        """
        by_name = {(r.account, r.name): r for r in self._roles}
        sessions = []
        for arn, tags, path in self._sessions:
            p = parse_principal_arn(arn, f"{path}.arn")
            role = by_name.get((p.account, p.name))
            if role is None:
                raise RequestError("E_UNKNOWN_ROLE", f"session `{arn}` belongs to role `{p.name}`, which is not given",
                                   f"{path}.arn")
            sessions.append(RoleSession(arn, role, parse_tags(tags, f"{path}.tags")))
        return PrincipalStore(self._users, self._roles, sessions)


def _check_kind(arn: object, kind: str, path: str) -> None:
    try:
        p = parse_principal_arn(arn, path)
    except RequestError as e:
        raise RequestError("E_INVALID_STORE", e.message, path) from None
    if p.kind != kind:
        raise RequestError("E_INVALID_STORE", f"`{arn}` is not an IAM {kind} ARN", path)
