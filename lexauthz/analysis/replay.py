"""CloudTrail replay: every Lex event a trail recorded, decided again against the current account and candidates.

:func:`replay` streams CloudTrail records (:mod:`lexauthz.cloudtrail`: trail files, JSON Lines, EventBridge,
lookup-events, Lake / Athena exports), turns each Lex event into the IAM requests AWS made for it, groups the events
into distinct requests and decides each group once with the compiled engine of every account.  A group is one
(call, per-event context that some policy reads, observed outcome): per-event context keys no policy of any side
tests (``aws:CurrentTime`` when no policy has a date condition, ``aws:SourceIp`` when none has an IP condition, ...)
cannot change a decision, so they do not split groups; a key some policy tests does.

Each record (one line of :meth:`Replay.write_jsonl`) has the request (``principal``, ``action``, ``resource``; a
call that needs several authorizations lists them all in ``requests``), the event count, first and last seen,
up to three sample event ids, the ``observed`` outcome (``allowed``: no error; ``denied``: ``AccessDenied*``;
``unknown``: any other error), the ``current`` decision, and per candidate its decision and deciding statements.

The summary holds:

- the **breaking set**: observed allowed, candidate not allowed (what blocks a rollout);
- the **newly-allowed set**: observed denied, candidate allowed;
- the **fidelity check**: observed against current, as a disagreement rate with the likely causes of each
  disagreement (``session_policy_unknown``, ``session_tags_unknown``, ``context_not_logged``, ``role_path_unknown``,
  else ``unexplained``); events with an ``unknown`` outcome are never counted as disagreements;
- the skipped records by reason, and the translator's findings.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..decision import Decision
from .cluster import LocalBackend, TaskContext, backend_of, chunks, split
from .query import statement_dict

__all__ = ["Replay", "replay", "DYNAMIC_KEYS", "referenced_keys"]

#: The per-event context keys a CloudTrail event carries; they split groups only when some policy reads them.
DYNAMIC_KEYS = ("aws:CurrentTime", "aws:EpochTime", "aws:SourceIp", "aws:MultiFactorAuthPresent", "aws:SourceVpce",
                "aws:VpcSourceIp", "aws:ViaAWSService")
_SAMPLES = 3
_VAR = re.compile(r"\$\{([^}]*)\}")
_BATCH = 1 << 16


def _statements(account) -> Iterator:
    seen: set[int] = set()
    for named in account.policy_set.policies():
        if named.document is None or id(named) in seen:
            continue
        seen.add(id(named))
        yield from named.document.statements


def referenced_keys(accounts: Iterable) -> frozenset[str]:
    """The lower-cased context keys any policy of ``accounts`` reads: condition keys and policy variables (in
    condition values and resources)."""
    out: set[str] = set()
    for account in accounts:
        for st in _statements(account):
            for clause in st.condition:
                out.add(clause.key.lower())
                for v in clause.values:
                    if isinstance(v, str) and "${" in v:
                        out.update(m.lower() for m in _VAR.findall(v))
            for r in (*(st.resource or ()), *(st.not_resource or ())):
                if "${" in r:
                    out.update(m.lower() for m in _VAR.findall(r))
    return frozenset(out)


@dataclass
class _Group:
    key: tuple
    dynamic: tuple
    observed: str
    events: int = 0
    first_seen: str = ""
    last_seen: str = ""
    samples: list = field(default_factory=list)
    notes: set = field(default_factory=set)
    identity_type: str = ""
    principal: str = ""
    policy_principal: str | None = None
    denied_by: set = field(default_factory=set)

    def add(self, ev) -> None:
        self.events += 1
        t = ev.event_time or ""
        if not self.first_seen or (t and t < self.first_seen):
            self.first_seen = t
        if t > self.last_seen:
            self.last_seen = t
        if ev.event_id and len(self.samples) < _SAMPLES:
            self.samples.append(ev.event_id)
        self.notes.update(ev.notes)
        if ev.denied_by:
            self.denied_by.add(ev.denied_by)

    def merge(self, later: "_Group") -> None:
        """Take in the same group's events of a later slice of the log."""
        self.events += later.events
        if later.first_seen and (not self.first_seen or later.first_seen < self.first_seen):
            self.first_seen = later.first_seen
        if later.last_seen > self.last_seen:
            self.last_seen = later.last_seen
        self.samples.extend(later.samples[:_SAMPLES - len(self.samples)])
        self.notes |= later.notes
        self.denied_by |= later.denied_by


@dataclass
class _Scan:
    """What reading one slice of the log gives: its groups, skips and the translator's findings."""

    groups: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    skip_samples: dict = field(default_factory=dict)
    fatal: list = field(default_factory=list)
    events: int = 0
    seen: int = 0
    flagged: list = field(default_factory=list)

    def merge(self, later: "_Scan") -> None:
        """Take in the scan of the next slice (slices merged in log order give the scan of the whole log)."""
        for gk, g in later.groups.items():
            mine = self.groups.get(gk)
            if mine is None:
                self.groups[gk] = g
            else:
                mine.merge(g)
        for reason, n in later.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        for reason, locs in later.skip_samples.items():
            mine = self.skip_samples.setdefault(reason, [])
            mine.extend(locs[:_SAMPLES - len(mine)])
        self.fatal.extend(later.fatal)
        self.events += later.events
        self.seen += later.seen
        self.flagged.extend(later.flagged)


def _scan(tr, keep_low: frozenset, records: Iterable, progress=None) -> _Scan:
    from ..cloudtrail import Skip

    out = _Scan()
    groups, skipped, skip_samples, fatal = out.groups, out.skipped, out.skip_samples, out.fatal
    events = seen = 0
    for item in records:
        seen += 1
        if progress is not None and seen % 10_000 == 0:
            progress(10_000)
        ev = item if isinstance(item, Skip) else tr.translate(item)
        if isinstance(ev, Skip):
            skipped[ev.reason] = skipped.get(ev.reason, 0) + 1
            locs = skip_samples.setdefault(ev.reason, [])
            if len(locs) < _SAMPLES:
                locs.append(f"{ev.location}: {ev.detail}" if ev.detail else ev.location)
            if ev.fatal:
                fatal.append({"reason": ev.reason, "location": ev.location, "detail": ev.detail})
            continue
        events += 1
        dyn = tuple((k, v) for k, v in ev.dynamic if k.lower() in keep_low)
        gk = (ev.key, dyn, ev.outcome)
        g = groups.get(gk)
        if g is None:
            g = groups[gk] = _Group(ev.key, dyn, ev.outcome, identity_type=ev.identity_type, principal=ev.principal,
                                    policy_principal=ev.policy_principal)
        g.add(ev)
    if progress is not None and seen % 10_000:
        progress(seen % 10_000)
    out.events, out.seen = events, seen
    out.flagged = tr.flagged()
    return out


def scan_files(ctx: TaskContext, files: list[str]) -> _Scan:
    """A task of a replay on a backend: the scan of a slice of the trail files."""
    from ..cloudtrail import read_records

    return _scan(ctx.data["translator"].fork(), ctx.data["keep"], read_records(files))


def trail_slices(trails: Sequence, parts: int) -> tuple[list, list[list[str]]]:
    """The fatal skips of trail paths that do not exist, and the files under the others cut into at most ``parts``
    consecutive slices (in :func:`lexauthz.cloudtrail.read_records` order)."""
    from ..cloudtrail import Skip, trail_files

    paths = [os.fspath(p) for p in trails]
    missing = [Skip("S_NO_SUCH_PATH", p, "the path does not exist", fatal=True) for p in paths
               if not os.path.exists(p)]
    files = trail_files(p for p in paths if os.path.exists(p))
    return missing, split(files, parts)


def read_log(scan, task, data: dict, records, trails, backend):
    """``scan`` of ``records``; or of the files under ``trails``, here, or in consecutive slices of files by ``task``
    on ``backend``'s workers (with the run's ``data``), the slices' results merged in file order."""
    if (records is None) == (trails is None):
        raise ValueError("give records or trails, not both")
    if records is not None:
        return scan(records)
    be = backend_of(backend)
    if isinstance(be, LocalBackend):
        from ..cloudtrail import read_records

        return scan(read_records(trails))
    missing, slices = trail_slices(trails, 4 * be.workers)
    total = scan(missing)
    with be.run({}, data) as run:
        for part in run.map(task, [(files,) for files in slices]):
            total.merge(part)
    return total


class _Sessions(dict):
    """Session tags by access key id, from one slice of the log."""

    def merge(self, later: dict) -> None:
        self.update(later)


def scan_sessions(ctx: TaskContext, files: list[str]) -> _Sessions:
    """A task of a session join: the ``sts:AssumeRole`` session tags in a slice of the trail files."""
    from ..cloudtrail import read_records, session_tags

    return _Sessions(session_tags(read_records(files)))


def join_sessions(tr, records, trails, backend) -> None:
    """Teach ``tr`` the session tags of the log's ``sts:AssumeRole`` events: a first read of the log (``records``
    must then be a collection, not a one-shot iterator)."""
    from ..cloudtrail import session_tags

    if records is not None and iter(records) is records:
        raise ValueError("joining sessions reads the log twice: give trails or a list of records")
    tr.add_sessions(read_log(lambda recs: _Sessions(session_tags(recs)), scan_sessions, {}, records, trails,
                             backend))


@dataclass
class Replay:
    """The result of :func:`replay`: ``records`` (JSON-ready dicts, sorted) and ``summary``."""

    records: list[dict]
    summary: dict
    candidates: tuple[str, ...] = ()
    _index: dict = field(default_factory=dict, repr=False)
    _keep: frozenset = frozenset()
    _translator: object = field(default=None, repr=False)

    def per_event(self, records: Iterable) -> Iterator[dict]:
        """One line per event of ``records`` (the same trails, read again: nothing per event is kept in memory):
        the event's id, time and location with its group's request, outcome and decisions."""
        from ..cloudtrail import Skip

        tr = self._translator
        for item in records:
            ev = item if isinstance(item, Skip) else tr.translate(item)
            if isinstance(ev, Skip):
                continue
            dyn = tuple((k, v) for k, v in ev.dynamic if k.lower() in self._keep)
            i = self._index.get((ev.key, dyn, ev.outcome))
            if i is None:  # not in the replayed trails
                continue
            r = self.records[i]
            out = {"event_id": ev.event_id, "event_time": ev.event_time, "location": ev.location,
                   "principal": r["principal"], "action": r["action"], "resource": r["resource"],
                   "observed": r["observed"], "current": r["current"], "fidelity": r["fidelity"]}
            if "candidate" in r:
                out["candidate"] = r["candidate"]
            elif "candidates" in r:
                out["candidates"] = {n: c["decision"] for n, c in r["candidates"].items()}
            out["breaking"], out["newly_allowed"] = r["breaking"], r["newly_allowed"]
            yield out

    def breaking(self) -> list[dict]:
        """Records observed allowed that some candidate does not allow."""
        return [r for r in self.records if r["breaking"]]

    def newly_allowed(self) -> list[dict]:
        """Records observed denied that some candidate allows."""
        return [r for r in self.records if r["newly_allowed"]]

    def disagreements(self) -> list[dict]:
        """Records where the current account's decision is not what AWS did."""
        return [r for r in self.records if r["fidelity"] == "disagree"]

    def write_jsonl(self, fh: IO[str]) -> None:
        """One JSON object per record, in order."""
        for r in self.records:
            fh.write(json.dumps(r, sort_keys=False) + "\n")


def _decision_name(d: Decision) -> str:
    return d.simulator_name


def _call_decision(codes: Sequence[int]) -> Decision:
    ds = [Decision(int(c)) for c in codes]
    for d in (Decision.EXPLICIT_DENY, Decision.ERROR, Decision.IMPLICIT_DENY):
        if d in ds:
            return d
    return Decision.ALLOW


def _decide(engines: dict, requests: list, backend) -> dict:
    """The decision codes of ``requests`` with each engine (by name), in slices on ``backend``."""
    data = {"principals": [r.principal for r in requests], "actions": [r.action for r in requests],
            "resources": [r.resource for r in requests], "contexts": [r.context.to_dict() for r in requests],
            "resource_accounts": [r.resource_account for r in requests]}
    be = backend_of(backend)
    size = _BATCH if isinstance(be, LocalBackend) else max(1024, min(_BATCH, -(-len(requests) // (2 * be.workers))))
    tasks = [(name, start, stop) for name in engines for start, stop in chunks(len(requests), size)]
    # a request no task decided stays ERROR, never an Allow; a short result stream raises (strict)
    out = {name: np.full(len(requests), Decision.ERROR.value, dtype=np.uint8) for name in engines}
    with be.run(engines, data) as run:
        for (name, start, stop), codes in zip(tasks, run.map(decide_slice, tasks), strict=True):
            out[name][start:stop] = codes
    return out


def decide_slice(ctx: TaskContext, name: str, start: int, stop: int) -> np.ndarray:
    """A task of a replay: the decisions of distinct requests ``start:stop`` with engine ``name``."""
    d = ctx.data
    ctxs = d["contexts"][start:stop]
    out = np.empty(stop - start, dtype=np.uint8)
    ctx.engines[name].evaluate_batch(d["principals"][start:stop], d["actions"][start:stop],
                                     d["resources"][start:stop], ctxs if any(ctxs) else None,
                                     resource_accounts=d["resource_accounts"][start:stop], out=out)
    return out


def _deciding(engine, requests: tuple, decision: Decision) -> list[dict]:
    """The statements behind ``decision`` for the call: the denying ones of the first request that denies, or the
    allowing ones of every request."""
    out: list[dict] = []
    for req in requests:
        resp = engine.evaluate(req)
        if decision is Decision.ALLOW:
            out.extend(statement_dict(r) for r in resp.matched_statements)
        elif resp.decision is not Decision.ALLOW:
            if resp.decision is Decision.EXPLICIT_DENY:
                out.extend(statement_dict(r) for r in resp.matched_statements if r.effect != "Allow")
            return out
    return out


def _missing(engine, requests: tuple) -> list[str]:
    keys: list[str] = []
    for req in requests:
        for k in engine.evaluate(req).missing_context_values:
            if k not in keys:
                keys.append(k)
    return keys


def replay(account, records: Iterable | None = None, *, trails: Sequence | None = None,
           candidates: Sequence[tuple[str, object]] = (), progress=None, translator=None, backend=None,
           sessions: bool = False) -> Replay:
    """Replay CloudTrail ``records`` against ``account`` and each ``(name, candidate account)``.

    Parameters
    ----------
    account:
        The current :class:`lexauthz.account.Account` (its principal and resource stores translate the events).
    records:
        An iterable of :class:`lexauthz.cloudtrail.Record` and :class:`~lexauthz.cloudtrail.Skip` (for example
        :func:`lexauthz.cloudtrail.read_records` over trail paths), or plain record mappings.
    trails:
        Instead of ``records``: trail files and folders, read here or, on a ``backend`` with workers, in slices of
        files by the workers (who must see the same paths).
    candidates:
        Named candidate accounts (another account file, or :func:`lexauthz.analysis.with_changes` of ``account``).
    progress:
        Called with the number of records read, now and then.
    translator:
        A :class:`lexauthz.cloudtrail.Translator` to reuse (default: one over ``account``).
    backend:
        Where the trails are read and the distinct requests decided (:mod:`lexauthz.analysis.cluster`; this process
        by default): the result is the same.
    sessions:
        First read the log's ``sts:AssumeRole`` events and give each assumed-role session they made its session tags
        (:func:`lexauthz.cloudtrail.session_tags`); without it such sessions carry ``session_tags_unknown``.

    Returns
    -------
    Replay
        The records and the summary (see the module text).
    """
    from ..cloudtrail import Translator

    tr = translator if translator is not None else Translator(account)
    if sessions:
        join_sessions(tr, records, trails, backend)
    names = tuple(name for name, _ in candidates)
    if len(set(names)) != len(names):
        raise ValueError("candidate names must be distinct")
    sides = [account, *(acc for _, acc in candidates)]
    wanted = referenced_keys(sides)
    keep = tuple(k for k in DYNAMIC_KEYS if k.lower() in wanted)
    keep_low = {k.lower() for k in keep}

    keep_set = frozenset(keep_low)
    scan = read_log(lambda recs: _scan(tr, keep_set, recs, progress), scan_files,
                    {"translator": tr, "keep": keep_set}, records, trails, backend)
    tr.absorb(scan.flagged)
    groups, skipped, skip_samples, fatal, events, seen = (scan.groups, scan.skipped, scan.skip_samples, scan.fatal,
                                                          scan.events, scan.seen)
    glist = sorted(groups.values(), key=lambda g: (g.principal, repr(g.key), g.dynamic, g.observed))
    calls = [tr.requests(g.key, g.dynamic) for g in glist]
    flat = [r for c in calls for r in c]
    bounds = np.cumsum([0] + [len(c) for c in calls])
    engines = [acc.engine() for acc in sides]
    by_name = _decide({f"side-{i}": e for i, e in enumerate(engines)}, flat, backend)
    codes = [by_name[f"side-{i}"] for i in range(len(engines))]

    records_out: list[dict] = []
    fidelity = {"compared_events": 0, "agree_events": 0, "disagree_events": 0, "unknown_events": 0, "causes": {}}
    breaking = {"records": 0, "events": 0}
    newly = {"records": 0, "events": 0}
    per_candidate = {n: {"breaking_records": 0, "breaking_events": 0, "newly_allowed_records": 0,
                         "newly_allowed_events": 0, "changed_records": 0} for n in names}
    for gi, (g, reqs) in enumerate(zip(glist, calls)):
        lo, hi = int(bounds[gi]), int(bounds[gi + 1])
        decided = [_call_decision(c[lo:hi]) for c in codes]
        current = decided[0]
        first = reqs[0]
        rec: dict = {"principal": first.principal, "action": first.action, "resource": first.resource}
        if len(reqs) > 1:
            rec["requests"] = [{"action": r.action, "resource": r.resource} for r in reqs]
        if g.policy_principal and g.policy_principal != first.principal:
            rec["policy_principal"] = g.policy_principal
        rec["identity_type"] = g.identity_type
        if g.dynamic:
            rec["context"] = dict(g.dynamic)
        rec.update({"events": g.events, "first_seen": g.first_seen, "last_seen": g.last_seen,
                    "observed": g.observed})
        if g.denied_by:
            rec["observed_denied_by"] = sorted(g.denied_by)
        rec["current"] = _decision_name(current)
        if g.observed == "unknown":
            rec["fidelity"] = "unknown"
            fidelity["unknown_events"] += g.events
        else:
            agree = (g.observed == "allowed") == (current is Decision.ALLOW)
            rec["fidelity"] = "agree" if agree else "disagree"
            fidelity["compared_events"] += g.events
            if agree:
                fidelity["agree_events"] += g.events
            else:
                fidelity["disagree_events"] += g.events
                causes = sorted(n for n in g.notes if n in ("session_policy_unknown", "session_tags_unknown",
                                                            "role_path_unknown"))
                missing = _missing(engines[0], reqs)
                if missing:
                    causes.append("context_not_logged")
                    rec["missing_context"] = missing
                if not causes:
                    causes = ["unexplained"]
                rec["disagreement_causes"] = causes
                for c in causes:
                    fidelity["causes"][c] = fidelity["causes"].get(c, 0) + g.events
                rec["current_deciding"] = _deciding(engines[0], reqs, current)
        is_breaking = is_new = False
        cands: dict = {}
        for n, eng, d in zip(names, engines[1:], decided[1:]):
            entry: dict = {"decision": _decision_name(d)}
            if d != current or (g.observed == "allowed" and d is not Decision.ALLOW) or \
                    (g.observed == "denied" and d is Decision.ALLOW):
                entry["deciding"] = _deciding(eng, reqs, d)
            if d != current:
                per_candidate[n]["changed_records"] += 1
            if g.observed == "allowed" and d is not Decision.ALLOW:
                is_breaking = True
                per_candidate[n]["breaking_records"] += 1
                per_candidate[n]["breaking_events"] += g.events
            if g.observed == "denied" and d is Decision.ALLOW:
                is_new = True
                per_candidate[n]["newly_allowed_records"] += 1
                per_candidate[n]["newly_allowed_events"] += g.events
            cands[n] = entry
        if len(names) == 1:
            rec["candidate"] = cands[names[0]]["decision"]
            if "deciding" in cands[names[0]]:
                rec["candidate_deciding"] = cands[names[0]]["deciding"]
        elif cands:
            rec["candidates"] = cands
        rec["breaking"], rec["newly_allowed"] = is_breaking, is_new
        if is_breaking:
            breaking["records"] += 1
            breaking["events"] += g.events
        if is_new:
            newly["records"] += 1
            newly["events"] += g.events
        notes = sorted(g.notes)
        rec["confidence"] = "low" if (notes or g.observed == "unknown") else "high"
        if notes:
            rec["notes"] = notes
        rec["sample_event_ids"] = list(g.samples)
        records_out.append(rec)

    compared = fidelity["compared_events"]
    fidelity["disagreement_rate"] = (fidelity["disagree_events"] / compared) if compared else 0.0
    summary = {
        "records_read": seen, "events": events, "distinct_requests": len(glist),
        "grouping_keys": list(keep),
        "skipped": dict(sorted(skipped.items())), "skipped_samples": dict(sorted(skip_samples.items())),
        "fatal": fatal,
        "fidelity": fidelity, "breaking": breaking, "newly_allowed": newly,
        "candidates": per_candidate,
        "revisions": {"current": engines[0].revision, **{n: e.revision for n, e in zip(names, engines[1:])}},
        "findings": [_finding_dict(f) for f in tr.findings()],
    }
    index = {(g.key, g.dynamic, g.observed): i for i, g in enumerate(glist)}
    return Replay(records_out, summary, names, index, frozenset(keep_low), tr)


def _finding_dict(f) -> dict:
    if isinstance(f, Mapping):
        return dict(f)
    to_dict = getattr(f, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    return {"code": getattr(f, "code", ""), "message": getattr(f, "message", str(f)),
            "location": getattr(f, "location", getattr(f, "path", ""))}
