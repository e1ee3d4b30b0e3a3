"""Unused Lex permissions from CloudTrail, as IAM Access Analyzer's unused-access findings.

For every IAM user and role of the account, :func:`unused` finds the Lex actions its policies allow on at least one
resource of the account's inventory in at least one context (:func:`granted_actions`: the access matrix over the
witness contexts of the account's conditions) and the actions its events used in the window.  Each granted action gets one piece of evidence:

- ``used``: a successful event (no ``errorCode``) made this authorization in the window;
- ``used_unconfirmed``: only events that failed with an error other than access denied (validation, throttling,
  not found) made it; authorization usually passed for them, so the action is not called unused;
- ``not_logged``: CloudTrail does not record this action (Lex V1 runtime ``PostText`` / ``PostContent``; V2 runtime
  calls unless data events are configured), so the trail cannot show its use and it is **never** reported unused;
- ``not_seen``: logged by CloudTrail, granted, and no event in the window: an unused permission.

Denied attempts are not use.  A principal with ``not_seen`` actions gets an ``UnusedPermission`` finding; a role with
no event at all in the window (from any service the trails hold, Lex or not) gets ``UnusedIAMRole``.  The finding
shapes follow Access Analyzer's (``findingType``, ``resource``, ``resourceType``, ``resourceOwnerAccount``,
``findingDetails`` with ``unusedPermissionDetails`` / ``unusedIamRoleDetails``), with the per-action ``evidence``
added.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from ..errors import RequestError
from .cluster import TaskContext
from .replay import join_sessions, read_log

__all__ = ["Unused", "unused", "parse_window", "granted_actions"]

_WINDOW = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_window(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` as a :class:`~datetime.timedelta`.

    Raises
    ------
    RequestError
        ``E_BAD_WINDOW`` for anything else.
    """
    m = _WINDOW.match(text or "") if isinstance(text, str) else None
    if m is None or int(m.group(1)) == 0:
        raise RequestError("E_BAD_WINDOW", f"`{text}` is not a window: write a positive count of days, hours or "
                                           "weeks, such as 90d, 12h or 2w", "--since")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(weeks=n)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def _actor(data) -> str | None:
    """The IAM user or role ARN a raw record's ``userIdentity`` names, for activity of any service."""
    ui = data.get("userIdentity") if hasattr(data, "get") else None
    if not isinstance(ui, dict):
        return None
    kind = ui.get("type")
    if kind == "IAMUser":
        return ui.get("arn")
    if kind == "AssumedRole":
        issuer = (ui.get("sessionContext") or {}).get("sessionIssuer") or {}
        return issuer.get("arn") if isinstance(issuer, dict) else None
    return None


def granted_actions(account, principals: list[str], *, max_contexts: int = 64, backend=None) -> dict[str, list[str]]:
    """Per principal, the Lex actions allowed on at least one inventory resource in at least one of the witness
    contexts of the account's conditions (:mod:`lexauthz.analysis.contexts`): a grant that holds only from an
    office address or with MFA is still a grant."""
    from .matrix import matrix
    from .space import resolve_space

    if not principals:
        return {}
    space = resolve_space({"principals": list(principals), "actions": ["lex:*"], "context_mode": "witnesses",
                           "max_contexts": max_contexts}, [account])
    m = matrix(account, space, backend=backend)
    allowed = (m.codes == 1).any(axis=(2, 3))  # (principal classes, action classes)
    pi, ai = m.principal_classes.index, m.action_classes.index
    out: dict[str, list[str]] = {}
    for i, p in enumerate(space.principals):
        row = allowed[pi[i]]
        out[p] = sorted(a for j, a in enumerate(space.actions) if row[ai[j]])
    return out


@dataclass
class _Use:
    """What one slice of the log shows: the last use of each (principal, action), confirmed or not, each principal's
    last activity, skips and counts."""

    used: dict = field(default_factory=dict)
    unconfirmed: dict = field(default_factory=dict)
    activity: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    events: int = 0
    in_window: int = 0

    def merge(self, other: "_Use") -> None:
        for mine, theirs in ((self.used, other.used), (self.unconfirmed, other.unconfirmed),
                             (self.activity, other.activity)):
            for k, t in theirs.items():
                if k not in mine or t > mine[k]:
                    mine[k] = t
        for reason, n in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        self.events += other.events
        self.in_window += other.in_window


def _scan(tr, start: datetime, end: datetime, records: Iterable) -> _Use:
    from ..cloudtrail import Record, Skip

    out = _Use()
    used, unconfirmed, activity, skipped = out.used, out.unconfirmed, out.activity, out.skipped
    events = in_window = 0
    for item in records:
        if isinstance(item, Skip):
            skipped[item.reason] = skipped.get(item.reason, 0) + 1
            continue
        data = item.data if isinstance(item, Record) else item
        ev = tr.translate(item)
        if isinstance(ev, Skip):
            skipped[ev.reason] = skipped.get(ev.reason, 0) + 1
            if ev.reason == "S_OTHER_SERVICE":
                who, t = _actor(data), _parse_time(data.get("eventTime"))
                if who and t is not None and start <= t <= end:
                    activity[who] = max(activity.get(who, t), t)
            continue
        events += 1
        t = _parse_time(ev.event_time)
        if t is None or not (start <= t <= end) or ev.policy_principal is None:
            continue
        in_window += 1
        who = ev.policy_principal
        activity[who] = max(activity.get(who, t), t)
        if ev.outcome == "denied":
            continue
        target = used if ev.outcome == "allowed" else unconfirmed
        for req in tr.requests(ev.key, ()):
            k = (who, req.action)
            target[k] = max(target.get(k, t), t)
    out.events, out.in_window = events, in_window
    return out


def scan_files(ctx: TaskContext, files: list[str]) -> _Use:
    """A task of :func:`unused` on a backend: the use a slice of the trail files shows."""
    from ..cloudtrail import read_records

    d = ctx.data
    return _scan(d["translator"].fork(), d["start"], d["end"], read_records(files))


@dataclass
class Unused:
    """The findings (Access Analyzer shapes, sorted by resource) and a summary."""

    findings: list[dict]
    principals: list[dict]
    summary: dict


def unused(account, records: Iterable | None = None, *, trails: Sequence | None = None,
           since: timedelta = timedelta(days=90), now: datetime | None = None, translator=None,
           backend=None, sessions: bool = False) -> Unused:
    """Unused Lex permissions of the account's users and roles over CloudTrail ``records`` (see the module text).

    Parameters
    ----------
    account:
        The :class:`lexauthz.account.Account`.
    records:
        :class:`lexauthz.cloudtrail.Record` / :class:`~lexauthz.cloudtrail.Skip` items, e.g.
        :func:`lexauthz.cloudtrail.read_records`.
    trails:
        Instead of ``records``: trail files and folders, read here or, on a ``backend`` with workers, in slices of
        files by the workers (who must see the same paths).
    since:
        The window: events older than ``now - since`` are not use.
    now:
        The end of the window (default: the clock).
    backend:
        Where the trails are read and the grants decided (:mod:`lexauthz.analysis.cluster`; this process by
        default): the result is the same.
    sessions:
        First read the log's ``sts:AssumeRole`` events for the session tags of the sessions they made (see
        :func:`lexauthz.analysis.replay.replay`).
    """
    from ..cloudtrail import Translator, is_logged

    tr = translator if translator is not None else Translator(account)
    if sessions:
        join_sessions(tr, records, trails, backend)
    end = now if now is not None else datetime.now(timezone.utc)
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    start = end - since
    use = read_log(lambda recs: _scan(tr, start, end, recs), scan_files, {"translator": tr, "start": start, "end": end},
                   records, trails, backend)
    used, unconfirmed, activity, skipped = use.used, use.unconfirmed, use.activity, use.skipped
    events, in_window = use.events, use.in_window

    findings: list[dict] = []
    principals: list[dict] = []
    store = account.principals
    entities = [(u.arn, "AWS::IAM::User", u.account) for u in store.users] + \
               [(r.arn, "AWS::IAM::Role", r.account) for r in store.roles]
    totals = {"used": 0, "used_unconfirmed": 0, "not_logged": 0, "not_seen": 0}
    grants = granted_actions(account, [arn for arn, _, _ in entities], backend=backend)
    for arn, rtype, owner in sorted(entities):
        granted = grants.get(arn, [])
        actions = []
        for action in granted:
            k = (arn, action)
            if k in used:
                ev_, last = "used", used[k]
            elif k in unconfirmed:
                ev_, last = "used_unconfirmed", unconfirmed[k]
            elif not is_logged(action):
                ev_, last = "not_logged", None
            else:
                ev_, last = "not_seen", None
            totals[ev_] += 1
            actions.append({"action": action, "evidence": ev_, "lastAccessed": _iso(last)})
        last_any = activity.get(arn)
        principals.append({"resource": arn, "resourceType": rtype, "granted": len(granted),
                           "lastAccessed": _iso(last_any), "actions": actions})
        base = {"resource": arn, "resourceType": rtype, "resourceOwnerAccount": owner, "status": "ACTIVE"}
        if rtype == "AWS::IAM::Role" and last_any is None:
            findings.append({**base, "findingType": "UnusedIAMRole",
                             "findingDetails": [{"unusedIamRoleDetails": {"lastAccessed": None}}]})
            continue
        idle = [a for a in actions if a["evidence"] == "not_seen"]
        if idle:
            lex_last = max((used.get((arn, a)) for a in granted if (arn, a) in used), default=None)
            findings.append({**base, "findingType": "UnusedPermission", "findingDetails": [{"unusedPermissionDetails": {
                "serviceNamespace": "lex", "actions": [{"action": a["action"], "lastAccessed": None,
                                                        "evidence": "not_seen"} for a in idle],
                "lastAccessed": _iso(lex_last)}}]})
    summary = {"window": {"start": _iso(start), "end": _iso(end)}, "events": events, "events_in_window": in_window,
               "principals": len(entities), "findings": len(findings), "actions": totals,
               "skipped": dict(sorted(skipped.items()))}
    return Unused(findings, principals, summary)
