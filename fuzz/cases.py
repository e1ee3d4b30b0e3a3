"""The policy-set case: a whole policy set and its requests as one JSON document, and the oracle run over it.

A case is what the ``policy_set``, ``request`` and ``batch`` targets feed the engine, saved as readable JSON::

    {"principals": [{"arn": ..., "policies": [POLICY, ...], "tags": {...}, "groups": [...],
                     "permissions_boundary": POLICY | null, "session_policy": POLICY | null,
                     "trust_policy": POLICY | null}],
     "groups": {"name": [POLICY, ...]},
     "resources": [{"arn": ..., "tags": {...}, "policy": POLICY | null}],
     "accounts": {"111122223333": ["ou-a", ...]},
     "scps": {"root" | OU | account: [POLICY, ...]},
     "requests": [{"principal": ..., "action": ..., "resource": ..., "resource_account": ..., "context": {...}}],
     "strs": "str" | "numpy" | "subclass"}

A ``POLICY`` is an IAM policy as JSON data or as policy text (which may be malformed on purpose: the policy then
carries ERROR findings, and every request it applies to must answer ERROR, never Allow).  ``strs`` says which string
type the request strings are handed over as (``numpy.str_`` and a ``str`` subclass of one's own, as pandas and other
libraries give them).  Request fields may hold any JSON value: what :class:`lexauthz.Request` refuses, every entry
point must refuse with a coded error.

The case is built only through the public :class:`lexauthz.account.PolicySet` and evaluated through the public
engine and :func:`lexauthz.reference.evaluate`.
"""
from __future__ import annotations

import json
import pickle
from collections.abc import Mapping

import numpy as np

from lexauthz.account import PolicySet
from lexauthz.decision import Decision
from lexauthz.engine import Engine
from lexauthz.policy import dump_policy
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

from .oracle import Finding, FindingError, check_decisions, guarded

__all__ = ["case_from_policy_set", "build_policy_set", "run_case", "as_strs", "raw_request", "request_data",
           "REQUEST_FIELDS", "MAX_REQUESTS", "UserStr"]

REQUEST_FIELDS = ("principal", "action", "resource", "resource_account", "context")
#: Requests evaluated per case (a mutated case may hold more; the rest are ignored).
MAX_REQUESTS = 64


class UserStr(str):
    """A ``str`` subclass of one's own, as a library might hand out."""


# -- converting ---------------------------------------------------------------------------------------------------


def _policy_data(named):
    if named is None:
        return None
    if named.document is None:
        return "{"  # a policy that could not be read: keep it unreadable
    return dump_policy(named.document)


def case_from_policy_set(ps: PolicySet, requests) -> dict:
    """A case from a :class:`PolicySet` (as the differential strategies build one) and :class:`Request` objects."""
    principals = []
    for r in ps.principals.values():
        principals.append({
            "arn": r.arn, "policies": [_policy_data(p) for p in r.policies], "tags": dict(r.tags),
            "groups": list(r.groups), "permissions_boundary": _policy_data(r.permissions_boundary),
            "session_policy": _policy_data(r.session_policy), "trust_policy": _policy_data(r.trust_policy)})
    trust_arns = {r.arn for r in ps.principals.values() if r.trust_policy is not None}
    return {
        "principals": principals,
        "groups": {g: [_policy_data(p) for p in pols] for g, pols in ps.groups.items()},
        "resources": [{"arn": r.arn, "tags": dict(r.tags), "policy": _policy_data(r.policy)}
                      for r in ps.resources.values() if r.arn not in trust_arns],
        "accounts": {a: list(path) for a, path in ps.accounts.items()},
        "scps": {t: [_policy_data(p) for p in pols] for t, pols in ps.scps.items()},
        "requests": [request_data(q) for q in requests],
        "strs": "str",
    }


def request_data(q: Request) -> dict:
    """A :class:`Request` as case JSON."""
    return {"principal": q.principal, "action": q.action, "resource": q.resource,
            "resource_account": q.resource_account, "context": q.context.to_dict()}


# -- building -----------------------------------------------------------------------------------------------------


def _text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _policy(v):
    """A case POLICY as PolicySet takes it: JSON data as given, anything else as JSON text (parsed, with findings)."""
    if isinstance(v, (dict, str)):
        return v
    return json.dumps(v)


def _list(v) -> list:
    return v if isinstance(v, list) else []


def _tags(v) -> dict:
    if not isinstance(v, Mapping):
        return {}
    return {_text(k): _text(x) for k, x in v.items()}


def build_policy_set(case: Mapping) -> PolicySet:
    """The :class:`PolicySet` of a case.  The case's shape is taken leniently (a mutated case may have any shape);
    policy content is handed to lexauthz as it is."""
    ps = PolicySet()
    groups = case.get("groups")
    if isinstance(groups, Mapping):
        for name, pols in groups.items():
            ps.add_group(_text(name), [_policy(p) for p in _list(pols)])
    for e in _list(case.get("principals")):
        if not isinstance(e, Mapping) or not isinstance(e.get("arn"), str) or not e["arn"]:
            continue
        trust = e.get("trust_policy")
        pb, sp = e.get("permissions_boundary"), e.get("session_policy")
        ps.add_principal(e["arn"], [_policy(p) for p in _list(e.get("policies"))], tags=_tags(e.get("tags")),
                         groups=[_text(g) for g in _list(e.get("groups"))],
                         permissions_boundary=None if pb is None else _policy(pb),
                         session_policy=None if sp is None else _policy(sp),
                         trust_policy=None if trust is None or ":role/" not in e["arn"] else _policy(trust))
    for e in _list(case.get("resources")):
        if not isinstance(e, Mapping) or not isinstance(e.get("arn"), str) or not e["arn"]:
            continue
        pol = e.get("policy")
        ps.add_resource(e["arn"], tags=_tags(e.get("tags")), policy=None if pol is None else _policy(pol))
    accounts = case.get("accounts")
    if isinstance(accounts, Mapping):
        for a, path in accounts.items():
            ps.add_account(_text(a), [_text(x) for x in _list(path)])
    scps = case.get("scps")
    if isinstance(scps, Mapping):
        for target, pols in scps.items():
            for p in _list(pols):
                ps.add_scp(_text(target), _policy(p))
    return ps


def as_strs(value, kind: str):
    """``value`` with every string (dict keys and list items too) turned into the string type ``kind`` names."""
    if kind == "str" or kind not in ("numpy", "subclass"):
        return value
    make = np.str_ if kind == "numpy" else UserStr
    if isinstance(value, str):
        return make(value)
    if isinstance(value, list):
        return [as_strs(v, kind) for v in value]
    if isinstance(value, dict):
        return {as_strs(k, kind): as_strs(v, kind) for k, v in value.items()}
    return value


def raw_request(q, kind: str) -> dict:
    if not isinstance(q, Mapping):
        q = {}
    out = {f: as_strs(q.get(f), kind) for f in REQUEST_FIELDS}
    if out["resource"] is None:
        out["resource"] = "*"
    return out


# -- the oracle ---------------------------------------------------------------------------------------------------


def run_case(case, where: str = "case", *, roundtrip: bool = True, batch: bool = True) -> dict:
    """Run a case through the oracle; raises :class:`FindingError` at the first finding.

    Returns a small summary (requests refused, decisions by name) that the mutation loop uses as its novelty signal.
    """
    if not isinstance(case, Mapping):
        return {"skipped": "not a case"}
    ps = build_policy_set(case)
    compiled = guarded(f"{where}: PolicySet.compile", ps.compile)
    if not compiled.ok:
        return {"compile": compiled.code}
    engine = compiled.value
    twin = guarded(f"{where}: PolicySet.compile(use_index=False)", ps.compile, use_index=False).value
    kind = case.get("strs", "str")
    kind = kind if isinstance(kind, str) else "str"
    summary: dict = {"refused": [], "decisions": []}
    rows = []  # (raw request, Request, reference Response) for the requests Request accepts
    for i, q in enumerate(_list(case.get("requests"))[:MAX_REQUESTS]):
        raw = raw_request(q, kind)
        w = f"{where}: requests[{i}]"
        built = guarded(f"{w}: Request", Request, raw["principal"], raw["action"], raw["resource"],
                        raw["resource_account"], raw["context"])
        if not built.ok:
            summary["refused"].append(built.code)
            if raw["resource_account"] is None:
                _is_allowed_refuses(engine, raw, w, built.error)
            continue
        req = built.value
        want = guarded(f"{w}: reference.evaluate", lambda: reference_evaluate(ps.enrich(req), ps.applicable(req)))
        if not want.ok:
            raise FindingError(Finding("F_UNCODED", w, f"the reference refused a built request: {want.error}"))
        want = want.value
        got = guarded(f"{w}: Engine.evaluate", engine.evaluate, req)
        if not got.ok:
            raise FindingError(Finding("F_INCONSISTENT", w, f"Engine.evaluate refused a request Request accepted: "
                                                            f"{got.error}", {"request": _show(raw)}))
        got = got.value
        check_decisions(f"{w}: Engine.evaluate", got.decision, want.decision, _show(raw))
        if got != want:
            raise FindingError(Finding("F_EXPLAIN", w, "compiled Response differs from the reference's",
                                       {"request": _show(raw), "compiled": got.to_dict(),
                                        "reference": want.to_dict()}))
        if twin is not None:
            t = guarded(f"{w}: twin.evaluate", twin.evaluate, req).value
            if t is None or t.decision != want.decision:
                raise FindingError(Finding("F_INCONSISTENT", w, "the brute-force twin decides otherwise",
                                           {"request": _show(raw), "twin": None if t is None else t.decision.name,
                                            "reference": want.decision.name}))
        if raw["resource_account"] is None:
            ok = guarded(f"{w}: Engine.is_allowed", engine.is_allowed, raw["principal"], raw["action"],
                         raw["resource"], raw["context"])
            if not ok.ok or ok.value is not (want.decision == Decision.ALLOW):
                code = "F_ALLOW_ON_ERROR" if ok.value is True and want.decision == Decision.ERROR else (
                    "F_FAIL_OPEN" if ok.value is True else "F_INCONSISTENT")
                raise FindingError(Finding(code, f"{w}: Engine.is_allowed", f"is_allowed gives "
                                           f"{ok.value if ok.ok else ok.code} where evaluate gives "
                                           f"{want.decision.name}", {"request": _show(raw)}))
        rows.append((raw, req, want))
        summary["decisions"].append(want.decision.name)
    if batch and rows:
        _check_batch(engine, rows, where)
    if roundtrip and rows:
        _check_roundtrip(engine, rows, where)
    return summary


def _show(raw: dict) -> dict:
    """A request as plain JSON data (string subclasses as str), for finding details."""
    def plain(v):
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {plain(k): plain(x) for k, x in v.items()}
        return v
    return plain(raw)


def _is_allowed_refuses(engine, raw: dict, where: str, error) -> None:
    """What :class:`Request` refuses, ``is_allowed`` refuses with a coded error too (and never answers True)."""
    ok = guarded(f"{where}: Engine.is_allowed", engine.is_allowed, raw["principal"], raw["action"], raw["resource"],
                 raw["context"])
    if ok.ok:
        code = "F_ALLOW_ON_ERROR" if ok.value is True else "F_NOT_REFUSED"
        raise FindingError(Finding(code, f"{where}: Engine.is_allowed", f"is_allowed answered {ok.value} for a "
                                   f"request Request refuses ({error.code})", {"request": _show(raw)}))


def _codes(out) -> list:
    return [Decision(int(x)).name for x in out]


def _check_batch(engine, rows, where: str) -> None:
    want = [w.decision.name for _, _, w in rows]
    cols = ([r["principal"] for r, _, _ in rows], [r["action"] for r, _, _ in rows],
            [r["resource"] for r, _, _ in rows], [r["context"] for r, _, _ in rows],
            [r["resource_account"] for r, _, _ in rows])
    got = guarded(f"{where}: Engine.evaluate_batch", engine.evaluate_batch, *cols[:4], resource_accounts=cols[4])
    _same_rows(got, want, rows, f"{where}: Engine.evaluate_batch")
    enc = guarded(f"{where}: Engine.encode", engine.encode, *cols[:4], resource_accounts=cols[4])
    if not enc.ok:
        raise FindingError(Finding("F_INCONSISTENT", f"{where}: Engine.encode", f"encode refused rows every other "
                                   f"entry point accepts: {enc.error}"))
    got = guarded(f"{where}: Engine.evaluate_batch(encoded)", engine.evaluate_batch, enc.value)
    _same_rows(got, want, rows, f"{where}: Engine.evaluate_batch(encoded)")


def _same_rows(got, want, rows, where: str) -> None:
    if not got.ok:
        raise FindingError(Finding("F_INCONSISTENT", where, f"refused rows every other entry point accepts: "
                                   f"{got.error}"))
    codes = _codes(got.value)
    for i, (g, w) in enumerate(zip(codes, want)):
        if g != w:
            code = "F_ALLOW_ON_ERROR" if g == "ALLOW" and w == "ERROR" else (
                "F_FAIL_OPEN" if g == "ALLOW" else "F_INCONSISTENT")
            raise FindingError(Finding(code, f"{where}[{i}]", f"batch row answers {g} where evaluate gives {w}",
                                       {"request": _show(rows[i][0])}))


def _check_roundtrip(engine, rows, where: str) -> None:
    data = guarded(f"{where}: Engine.to_bytes", engine.to_bytes).value
    copies = [("Engine.from_bytes", lambda: Engine.from_bytes(data)),
              ("pickle", lambda: pickle.loads(pickle.dumps(engine)))]
    for name, make in copies:
        other = guarded(f"{where}: {name}", make)
        if not other.ok:
            raise FindingError(Finding("F_INCONSISTENT", f"{where}: {name}", f"an engine's own saved form is "
                                       f"refused: {other.error}"))
        for i, (raw, req, want) in enumerate(rows[:16]):
            got = guarded(f"{where}: {name}: requests[{i}]", other.value.evaluate, req)
            if not got.ok or got.value.decision != want.decision:
                g = got.value.decision.name if got.ok else got.code
                code = "F_FAIL_OPEN" if g == "ALLOW" else "F_INCONSISTENT"
                raise FindingError(Finding(code, f"{where}: {name}: requests[{i}]", f"a loaded copy answers {g} "
                                           f"where the original gives {want.decision.name}",
                                           {"request": _show(raw)}))
