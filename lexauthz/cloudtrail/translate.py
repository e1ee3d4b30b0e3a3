"""A CloudTrail record of a Lex call, turned into the IAM requests AWS made for it.

:class:`Translator` reads the record's ``userIdentity`` (the principal, table below), its outcome (no ``errorCode``:
``allowed``; ``AccessDenied`` / ``AccessDeniedException``: ``denied``, with the policy type the message names; any
other error: ``unknown``), and the call (``eventName`` and ``requestParameters``, ``awsRegion``,
``recipientAccountId``), which :func:`lexauthz.lex.to_requests` translates with the account's principal and
resource stores.  The static part of an event (everything but the per-event context) is its ``key``; the requests of
a key are computed once and cached, and the per-event keys (:data:`DYNAMIC_KEYS`) are laid over them.

================  ==========================================  ===========================  =====================
userIdentity      request principal                           identity policies of          notes
================  ==========================================  ===========================  =====================
IAMUser           ``arn`` (with its path)                     the user
AssumedRole       the session ``arn``                         ``sessionIssuer.arn`` (the     session_tags_unknown
                                                              role, with its path)
FederatedUser     the federated-user ``arn``                  ``sessionIssuer.arn``         session_policy_unknown
Root              ``arn:aws:iam::ACCOUNT:root``               the account
AWSService        ``invokedBy`` (``lex.amazonaws.com``)       none (resource policies)
AWSAccount        ``arn:aws:iam::ACCOUNT:root`` of the caller  none (resource policies)      resource_policy_only
================  ==========================================  ===========================  =====================

An assumed-role session's own tags are not in its records.  Given ``sessions`` (:func:`session_tags` of the trails'
``sts:AssumeRole`` events), a session whose access key id is there gets its session tags as
``aws:PrincipalTag/<key>`` (over the role's tags of the same key, as IAM applies them) and loses the note
``session_tags_unknown``.

An assumed-role record without ``sessionIssuer`` is looked up by role name in the account; a name the account does
not know keeps the root path, gets the note ``role_path_unknown`` and a loud finding (``W_ROLE_PATH_UNKNOWN``).
Other identity types (``IdentityCenterUser``, ...) are skipped as ``S_UNKNOWN_IDENTITY``.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Mapping as _AbcMapping
from typing import Mapping

from ..errors import RequestError
from .read import Record, Skip

__all__ = ["Event", "Translator", "DYNAMIC_KEYS", "LEX_SOURCES", "NOT_LOGGED", "is_logged", "outcome_of",
           "session_tags", "session_of"]

#: The per-event context keys, in the order they are written.
DYNAMIC_KEYS = ("aws:CurrentTime", "aws:EpochTime", "aws:MultiFactorAuthPresent", "aws:SourceIp", "aws:SourceVpce",
                "aws:VpcSourceIp", "aws:ViaAWSService")
#: ``eventSource`` values of Lex (the last three are endpoint names, accepted defensively).
LEX_SOURCES = frozenset({"lex.amazonaws.com", "models.lex.amazonaws.com", "runtime.lex.amazonaws.com",
                         "runtime-v2-lex.amazonaws.com", "models-v2-lex.amazonaws.com"})
#: Lex actions CloudTrail does not record as management events: V1 runtime (never logged) and V2 runtime (only as
#: data events, when a trail records them).
NOT_LOGGED = frozenset({"lex:PostText", "lex:PostContent", "lex:RecognizeText", "lex:RecognizeUtterance",
                        "lex:StartConversation", "lex:PutSession", "lex:GetSession", "lex:DeleteSession"})
_RUNTIME_V2 = frozenset({"RecognizeText", "RecognizeUtterance", "StartConversation", "PutSession", "GetSession",
                         "DeleteSession"})
_DENY_TYPES = (("service control policy", "SERVICE_CONTROL_POLICY"),
               ("resource control policy", "RESOURCE_CONTROL_POLICY"),
               ("permissions boundary", "PERMISSIONS_BOUNDARY_POLICY"), ("session policy", "SESSION_POLICY"),
               ("resource-based policy", "RESOURCE_POLICY"), ("identity-based policy", "IDENTITY_POLICY"))


def is_logged(action: str) -> bool:
    """Whether CloudTrail records management events for ``action`` (``False`` for Lex runtime actions)."""
    return action not in NOT_LOGGED


def outcome_of(record: Mapping) -> tuple[str, str | None, str | None]:
    """``(outcome, errorCode, denying policy type)`` of a record."""
    code = record.get("errorCode")
    if not code:
        return "allowed", None, None
    if str(code).startswith("AccessDenied") or code in ("UnauthorizedOperation", "Client.UnauthorizedOperation"):
        msg = str(record.get("errorMessage") or "").lower()
        for words, ptype in _DENY_TYPES:
            if words in msg:
                return "denied", code, ptype
        return "denied", code, None
    return "unknown", code, None


@dataclass(frozen=True, slots=True)
class Event:
    """One Lex event: what it did, who did it, what happened, and the key its requests are computed from."""

    event_id: str | None
    event_time: str
    event_name: str
    location: str
    identity_type: str
    principal: str
    policy_principal: str | None
    outcome: str
    error_code: str | None
    denied_by: str | None
    key: tuple
    dynamic: tuple
    notes: tuple = ()
    access_key_id: str | None = None
    read_only: bool | None = None


try:
    import orjson as _orjson

    def _canon(value) -> str:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # a value orjson refuses (an integer beyond 64 bits): the standard library's text
            return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
except ImportError:  # pragma: no cover - exercised where orjson is absent
    def _canon(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _epoch(t: str) -> str | None:
    try:
        d = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return str(int(d.timestamp()))


_IPS: dict[str, bool] = {}


def _is_ip(text) -> bool:
    if not isinstance(text, str) or not text:
        return False
    known = _IPS.get(text)
    if known is None:
        try:
            ipaddress.ip_address(text)
            known = True
        except ValueError:
            known = False
        if len(_IPS) > 100_000:
            _IPS.clear()
        _IPS[text] = known
    return known


def _is_map(x) -> bool:
    return type(x) is dict or isinstance(x, _AbcMapping)


def session_of(data) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """``(access key id, session tags)`` of a successful ``sts:AssumeRole`` record, or ``None``.

    Only ``AssumeRole`` called by an IAM user or the root user counts: its ``requestParameters.tags`` are then all
    the session's tags (none when it passed none).  A session made by role chaining may inherit the calling
    session's transitive tags, and ``AssumeRoleWithSAML`` / ``AssumeRoleWithWebIdentity`` take their tags from the
    assertion, which the record does not hold: those stay unknown."""
    if not _is_map(data) or data.get("eventSource") != "sts.amazonaws.com" or data.get("eventName") != "AssumeRole":
        return None
    if data.get("errorCode"):
        return None
    ui = data.get("userIdentity")
    if not _is_map(ui) or ui.get("type") not in ("IAMUser", "Root"):
        return None
    resp = data.get("responseElements")
    creds = resp.get("credentials") if _is_map(resp) else None
    akid = creds.get("accessKeyId") if _is_map(creds) else None
    if not isinstance(akid, str) or not akid:
        return None
    params = data.get("requestParameters")
    tags = params.get("tags", []) if _is_map(params) else []
    if not isinstance(tags, list):
        return None
    out = []
    for t in tags:
        k = t.get("key") if _is_map(t) else None
        v = t.get("value") if _is_map(t) else None
        if not (isinstance(k, str) and isinstance(v, str)):
            return None  # a tag the record does not spell out: the session's tags are not known
        out.append((k, v))
    return akid, tuple(out)


def session_tags(records) -> dict[str, tuple[tuple[str, str], ...]]:
    """Access key id -> session tags, from the ``sts:AssumeRole`` records among ``records`` (see
    :func:`session_of`); give the result to :class:`Translator` as ``sessions``."""
    out: dict = {}
    for item in records:
        if isinstance(item, Skip):
            continue
        found = session_of(item.data if isinstance(item, Record) else item)
        if found is not None:
            out[found[0]] = found[1]
    return out


class Translator:
    """Turns records into :class:`Event` objects and keys into requests, for one account (see the module text).

    Parameters
    ----------
    account:
        The :class:`lexauthz.account.Account` whose stores give principal ids and tags and resource tags; without
        one, only what the record says is used.
    cache_size:
        How many keys' requests are kept.
    sessions:
        Session tags by access key id (:func:`session_tags`), for assumed-role sessions.
    """

    def __init__(self, account=None, *, cache_size: int = 65536, sessions: Mapping | None = None):
        self._principals = account.principals if account is not None else None
        self._resources = account.resources if account is not None else None
        self._cache: dict = {}
        self._known: set = set()
        self._cache_size = cache_size
        self._findings: list[dict] = []
        self._flagged: set = set()
        self._order: list[str] = []  # the subject of each finding
        self._sessions = dict(sessions) if sessions else {}

    def findings(self) -> list[dict]:
        """Loud findings met so far: ``{"code", "message", "location"}``."""
        return list(self._findings)

    def add_sessions(self, sessions: Mapping) -> None:
        """Learn more session tags by access key id (:func:`session_tags`)."""
        self._sessions.update(sessions)

    def fork(self) -> "Translator":
        """A translator over the same stores that shares this one's caches (they depend on keys only) and keeps
        findings of its own, for one slice of a log (:meth:`absorb` them back in log order)."""
        other = Translator.__new__(Translator)
        other.__dict__.update(self.__dict__)
        other._findings, other._flagged, other._order = [], set(), []
        return other

    def flagged(self) -> list[tuple[str, dict]]:
        """The findings with what each is about (a finding is given once per subject), in the order met."""
        return list(zip(self._order, self._findings))

    def absorb(self, flagged: list[tuple[str, dict]]) -> None:
        """Take in the :meth:`flagged` findings of a fork, skipping subjects already flagged here."""
        for once, finding in flagged:
            if once not in self._flagged:
                self._flagged.add(once)
                self._order.append(once)
                self._findings.append(finding)

    def __getstate__(self):
        # caches are rebuilt where the translator goes; findings stay where they were met
        state = dict(self.__dict__)
        state.update(_cache={}, _known=set(), _findings=[], _flagged=set(), _order=[])
        return state

    def _flag(self, code: str, message: str, location: str, once: str) -> None:
        if once not in self._flagged:
            self._flagged.add(once)
            self._order.append(once)
            self._findings.append({"code": code, "message": message, "location": location})

    def translate(self, record: Record | Mapping, location: str = "") -> Event | Skip:
        """The :class:`Event` of a Lex record, or the :class:`Skip` that says why it cannot be one."""
        if isinstance(record, Record):
            data, location = record.data, record.location
        else:
            data = record
        if not _is_map(data):
            return Skip("S_NOT_A_RECORD", location, "not a JSON object")
        source = data.get("eventSource")
        if source not in LEX_SOURCES:
            return Skip("S_OTHER_SERVICE", location, str(source))
        name = data.get("eventName")
        ui = data.get("userIdentity")
        if not isinstance(name, str) or not name or not _is_map(ui):
            return Skip("S_NOT_A_RECORD", location, "no `eventName` or `userIdentity`")
        ident = self._identity(ui, data, location)
        if isinstance(ident, Skip):
            return ident
        principal, policy_principal, static_ctx, notes = ident
        params = data.get("requestParameters") or {}
        if not _is_map(params):
            return Skip("S_UNTRANSLATABLE", location, "`requestParameters` is not an object")
        region, account = data.get("awsRegion"), data.get("recipientAccountId") or ui.get("accountId")
        api = None
        if name in _RUNTIME_V2 and data.get("eventCategory") == "Data":
            api = "lexv2-runtime"
            notes = notes + ("runtime_data_event",)
        key = (name, _canon(params), principal, tuple(sorted(static_ctx.items())), region, account, api)
        if key not in self._known:
            try:
                self._requests(key, ())
            except RequestError as exc:
                return Skip("S_UNTRANSLATABLE", location, f"{exc.code}: {exc.message} (at {exc.path})")
            if len(self._known) >= self._cache_size:
                self._known.clear()
            self._known.add(key)
        outcome, code, denied_by = outcome_of(data)
        t = data.get("eventTime") or ""
        dyn: dict[str, str] = {}
        if t:
            dyn["aws:CurrentTime"] = t
            e = _epoch(t)
            if e is not None:
                dyn["aws:EpochTime"] = e
        ip = data.get("sourceIPAddress")
        if _is_ip(ip):
            # through a VPC endpoint the address is the caller's private one: aws:VpcSourceIp, and no aws:SourceIp
            dyn["aws:VpcSourceIp" if data.get("vpcEndpointId") else "aws:SourceIp"] = ip
        attrs = (ui.get("sessionContext") or {}).get("attributes") if _is_map(ui.get("sessionContext")) else None
        if _is_map(attrs) and attrs.get("mfaAuthenticated") is not None:
            dyn["aws:MultiFactorAuthPresent"] = str(attrs["mfaAuthenticated"]).lower()
        if data.get("vpcEndpointId"):
            dyn["aws:SourceVpce"] = str(data["vpcEndpointId"])
        dyn["aws:ViaAWSService"] = "true" if ui.get("invokedBy") and ui.get("type") != "AWSService" else "false"
        ro = data.get("readOnly")
        return Event(data.get("eventID"), t, name, location, str(ui.get("type")), principal, policy_principal,
                     outcome, code, denied_by, key, tuple(sorted(dyn.items())), notes, ui.get("accessKeyId"),
                     ro if isinstance(ro, bool) else None)

    def _identity(self, ui: Mapping, data: Mapping, location: str):
        kind = ui.get("type")
        arn, acct = ui.get("arn"), ui.get("accountId") or data.get("recipientAccountId")
        ctx: dict[str, str] = {}
        if kind == "IAMUser":
            if not isinstance(arn, str):
                return Skip("S_UNKNOWN_IDENTITY", location, "an IAMUser identity without `arn`")
            if ui.get("principalId"):
                ctx["aws:userid"] = str(ui["principalId"])
            return arn, arn, ctx, ()
        if kind == "AssumedRole":
            if not isinstance(arn, str) or ":assumed-role/" not in arn:
                return Skip("S_UNKNOWN_IDENTITY", location, "an AssumedRole identity without a session `arn`")
            sc = ui.get("sessionContext") if _is_map(ui.get("sessionContext")) else {}
            issuer = (sc.get("sessionIssuer") or {}).get("arn") if _is_map(sc.get("sessionIssuer")) else None
            notes: tuple = ("session_tags_unknown",)
            if not issuer:
                role_name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
                sess_acct = arn.split(":")[4]
                role = self._principals.role_by_name(sess_acct, role_name) if self._principals is not None else None
                if role is not None:
                    issuer = role.arn
                else:
                    issuer = f"arn:{arn.split(':')[1]}:iam::{sess_acct}:role/{role_name}"
                    notes += ("role_path_unknown",)
                    self._flag("W_ROLE_PATH_UNKNOWN", f"role `{role_name}` of the session `{arn}` has no "
                               "`sessionIssuer` in the record and the account does not know it: its path, and so "
                               "aws:PrincipalArn, is unknown (the root path is assumed)", location, arn)
            ctx["aws:PrincipalArn"] = issuer
            if ui.get("principalId"):
                ctx["aws:userid"] = str(ui["principalId"])
            tags = self._sessions.get(ui.get("accessKeyId")) if self._sessions else None
            if tags is not None:
                for k, v in tags:
                    ctx[f"aws:PrincipalTag/{k}"] = v
                notes = tuple(n for n in notes if n != "session_tags_unknown")
            return arn, issuer, ctx, notes
        if kind == "FederatedUser":
            if not isinstance(arn, str):
                return Skip("S_UNKNOWN_IDENTITY", location, "a FederatedUser identity without `arn`")
            sc = ui.get("sessionContext") if _is_map(ui.get("sessionContext")) else {}
            issuer = (sc.get("sessionIssuer") or {}).get("arn") if _is_map(sc.get("sessionIssuer")) else None
            return arn, issuer, ctx, ("session_policy_unknown",)
        if kind == "Root":
            if not acct:
                return Skip("S_UNKNOWN_IDENTITY", location, "a Root identity without `accountId`")
            root = f"arn:aws:iam::{acct}:root"
            return root, root, ctx, ()
        if kind == "AWSService":
            svc = ui.get("invokedBy") or data.get("sourceIPAddress")
            if not isinstance(svc, str) or not svc.endswith(".amazonaws.com"):
                return Skip("S_UNKNOWN_IDENTITY", location, "an AWSService identity without `invokedBy`")
            return svc, None, ctx, ()
        if kind == "AWSAccount":
            caller = ui.get("accountId") or ui.get("principalId")
            if not isinstance(caller, str) or not caller[:12].isdigit():
                return Skip("S_UNKNOWN_IDENTITY", location, "an AWSAccount identity without `accountId`")
            return f"arn:aws:iam::{caller[:12]}:root", None, ctx, ("resource_policy_only",)
        return Skip("S_UNKNOWN_IDENTITY", location, f"userIdentity type `{kind}` is not translated")

    def requests(self, event_or_key, dynamic: tuple = ()) -> tuple:
        """The IAM requests of an event (or key) with the per-event ``dynamic`` keys laid over them; every one must
        be allowed for the call to be."""
        if isinstance(event_or_key, Event):
            key, dynamic = event_or_key.key, dynamic or event_or_key.dynamic
        else:
            key = event_or_key
        return self._requests(key, tuple(dynamic))

    def _requests(self, key: tuple, dynamic: tuple) -> tuple:
        from ..lex import LexCall, to_requests

        ck = (key, dynamic)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        name, params, principal, static_ctx, region, account, api = key
        ctx = dict(static_ctx)
        ctx.update(dynamic)
        t = ctx.get("aws:CurrentTime")
        now = None
        if t:
            try:
                now = datetime.fromisoformat(t.replace("Z", "+00:00"))
            except ValueError:
                now = None
        call = LexCall(operation=name, params=json.loads(params), caller=principal, region=region, account=account,
                       api=api, context=ctx)
        reqs = to_requests(call, self._resources, self._principals,
                           now=now or datetime(1970, 1, 1, tzinfo=timezone.utc))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[ck] = reqs
        return reqs
