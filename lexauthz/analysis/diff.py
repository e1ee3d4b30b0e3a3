"""The diff of two policy sets over a request space: every cell whose answer changed, grouped, with witnesses.

:func:`diff` splits the space into classes valid for both accounts (:mod:`lexauthz.analysis.classes`), decides
every class representative with both compiled engines, explains the cells that may have changed (both sides'
deciding statements), and groups the changed class cells into records: one record per change kind and pair of
the statements it is attributed to (``cause``: the deciding statements of an added, removed or edited policy, else those
found on one side only), however many cells it covers, with its cell ``count`` and up to ``witnesses`` concrete
requests.  Every witness is decided again by the reference evaluator on both sides before it is reported
(``verified``); a witness the reference decides otherwise is reported with ``verified: false`` and counted in the
summary, never dropped.

Change kinds (``change``):

- ``granted``: denied (or refused) before, allowed after; ``revoked``: allowed before, denied after;
- ``deny_reason_changed``: denied on both sides, but implicitly on one and explicitly on the other, or explicitly by
  a different policy type, or implicitly with a different set of blocking policy types;
- ``became_conditional`` / ``became_unconditional``: allowed on both sides, and the allow now rests (or no longer
  rests) on a condition: some policy type's allowing statements all carry a ``Condition``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Iterator

import numpy as np

from ..decision import Decision, Response
from ..request import Request
from .classes import AccountView, Classifier
from .matrix import product_codes
from .query import AWS_POLICY_TYPES
from .space import ANY_PRINCIPAL, Space

__all__ = ["CHANGES", "Diff", "diff", "Side", "classify", "statement_label"]

CHANGES = ("granted", "revoked", "deny_reason_changed", "became_conditional", "became_unconditional")
_SAMPLE = 20


@dataclass(frozen=True)
class Side:
    """One side of a changed cell: the decision, the deciding statements (the allowing ones for an allow, the
    denying ones for an explicit deny, none for an implicit deny), the blocking policy types of a deny, the missing
    context keys, and whether an allow rests on a condition."""

    decision: Decision
    deciding: tuple = ()
    blocked_by: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    conditional: bool = False
    statements: tuple = ()  # the Statement objects of ``deciding``, for the report

    def deny_reason(self) -> tuple:
        if self.decision is Decision.EXPLICIT_DENY:
            return ("explicitDeny", tuple(sorted({r.policy_type for r in self.deciding})))
        if self.decision is Decision.IMPLICIT_DENY:
            return ("implicitDeny", tuple(sorted(self.blocked_by)))
        return (self.decision.simulator_name,)

    def to_dict(self, with_text: bool = False) -> dict:
        out = {"decision": self.decision.simulator_name,
               "deciding": [_ref_dict(r, st) for r, st in zip(self.deciding, self.statements or
                                                                [None] * len(self.deciding))]}
        if self.blocked_by:
            out["blocked_by"] = list(self.blocked_by)
        if self.decision is Decision.ALLOW:
            out["conditional"] = self.conditional
        return out


def _ref_dict(ref, st) -> dict:
    out = {"policy_id": ref.policy, "policy_type": AWS_POLICY_TYPES.get(ref.policy_type, ref.policy_type),
           "sid": ref.sid, "statement_index": ref.index, "effect": ref.effect}
    if ref.level is not None:
        out["level"] = ref.level
    if st is not None and st.path:
        out["path"] = st.path
    return out


def statement_label(ref) -> str:
    """``POLICY_TYPE policy#index (Sid)``: how summaries and the report name a statement."""
    sid = f" ({ref.sid})" if ref.sid else ""
    return f"{AWS_POLICY_TYPES.get(ref.policy_type, ref.policy_type)} {ref.policy}#{ref.index}{sid}"


def classify(before: Side, after: Side) -> str | None:
    """The change kind from ``before`` to ``after`` (see the module text), or ``None`` for no change."""
    b, a = before.decision is Decision.ALLOW, after.decision is Decision.ALLOW
    if b and not a:
        return "revoked"
    if a and not b:
        return "granted"
    if a and b:
        if before.conditional != after.conditional:
            return "became_conditional" if after.conditional else "became_unconditional"
        return None
    return "deny_reason_changed" if before.deny_reason() != after.deny_reason() else None


def _side(view: AccountView, request: Request, resp: Response, pols: dict | None = None) -> Side:
    d = resp.decision
    if d is Decision.ALLOW:
        refs = tuple(resp.matched_statements)
    elif d is Decision.EXPLICIT_DENY:
        refs = tuple(r for r in resp.matched_statements if r.effect != "Allow")
    else:
        refs = ()
    stmts = _statements(view, request, refs, pols)
    conditional = False
    if d is Decision.ALLOW:
        by_type: dict[str, list[bool]] = {}
        for r, st in zip(refs, stmts):
            by_type.setdefault(r.policy_type, []).append(bool(st is not None and st.condition))
        conditional = any(all(v) for v in by_type.values())
    return Side(d, refs, tuple(resp.blocked_by) if d is not Decision.ALLOW else (), tuple(resp.missing_context_values),
                conditional, stmts)


def _policies(view: AccountView, request: Request) -> dict:
    """``(policy type, name, level) -> (NamedPolicy, ...)``: the policies that apply to ``request`` (several when
    policies of one type and level share a name)."""
    pols: dict = {}
    for ptype, level, named in view.policy_set.applicable(request).all_policies():
        pols.setdefault((ptype, named.name, level), []).append(named)
    return {k: tuple(v) for k, v in pols.items()}


def _statements(view: AccountView, request: Request, refs, pols: dict | None = None) -> tuple:
    from ..reference.matching import statement_matches_action

    if not refs:
        return ()
    if pols is None:
        pols = _policies(view, request)
    out = []
    for r in refs:
        found = []
        for named in pols.get((r.policy_type, r.policy, r.level), ()):
            doc = named.document
            if doc is not None and r.index < len(doc.statements):
                st = doc.statements[r.index]
                if st.effect == r.effect and st.sid == r.sid:
                    found.append(st)
        if len(found) > 1:  # same-named policies: the statement that covers the action
            found = [st for st in found if statement_matches_action(st, request.action)] or found
        out.append(found[0] if found else None)
    return tuple(out)


def _cause(pb: dict, pa: dict, sb: Side, sa: Side) -> tuple:
    """The statements a change is attributed to, as ``(side, StatementRef)``: the deciding statements of a policy
    that was added, removed or edited; else (the policies are the same, but apply differently: a group membership, a
    tag) the deciding statements found on one side only."""
    out = []
    for side, refs, mine, other in (("before", sb.deciding, pb, pa), ("after", sa.deciding, pa, pb)):
        for r in refs:
            key = (r.policy_type, r.policy, r.level)
            x, y = mine.get(key), other.get(key)
            if y is None or (x is not y and x != y):
                out.append((side, r))
    if not out:
        common = set(sb.deciding) & set(sa.deciding)
        out = [("before", r) for r in sb.deciding if r not in common] + \
              [("after", r) for r in sa.deciding if r not in common]
    return tuple(out)


@dataclass
class _Group:
    change: str
    before: Side
    after: Side
    cause: tuple
    cells: list = field(default_factory=list)  # (pc, ac, rc, c) class cells
    count: int = 0


@dataclass
class Diff:
    """A policy-set diff: iterate it for the change records (dicts); :attr:`summary` is the closing record.

    :meth:`cells` expands the records to every changed cell; :meth:`to_frame` gives the records as a pandas
    DataFrame; :meth:`write_jsonl` writes the JSON Lines form (records, then the summary).
    """

    space: Space
    records: list
    summary: dict
    _groups: list = field(repr=False, default_factory=list)
    _members: tuple = field(repr=False, default=())
    _weights: tuple = field(repr=False, default=())
    sources: dict = field(default_factory=dict)

    def heatmap(self, top: int = 50) -> dict:
        """Changed cells per (principal, action) and change kind, for the ``top`` principals and actions with the
        most changes: ``{"principals": [...], "actions": [...], "counts": {kind: [[n, ...], ...]}, "more": k}``."""
        pm, am, _ = self._members
        if not self._groups:
            return {"principals": [], "actions": [], "counts": {}, "more_principals": 0, "more_actions": 0}
        wp, wa, wr = self._weights
        n_pc, n_ac = len(pm), len(am)
        per = {k: np.zeros((n_pc, n_ac), dtype=np.int64) for k in CHANGES}
        for g in self._groups:
            m = per[g.change]
            for pk, ak, rk, _c in g.cells:
                m[pk, ak] += int(wr[rk])
        total = sum(per.values())
        p_tot = (total * wa[None, :]).sum(axis=1)  # changed cells of one member principal of each class
        a_tot = (total * wp[:, None]).sum(axis=0)  # of one member action of each class
        s = self.space
        prin = [(int(p_tot[k]), s.principal_labels[i], k) for k, idx in enumerate(pm) for i in idx if p_tot[k]]
        acts = [(int(a_tot[k]), s.actions[j], k) for k, idx in enumerate(am) for j in idx if a_tot[k]]
        prin.sort(key=lambda x: (-x[0], x[1]))
        acts.sort(key=lambda x: (-x[0], x[1]))
        rows, cols = prin[:top], acts[:top]
        counts = {k: [[int(per[k][pk, ak]) for _, _, ak in cols] for _, _, pk in rows] for k in CHANGES}
        return {"principals": [x[1] for x in rows], "actions": [x[1] for x in cols], "counts": counts,
                "more_principals": max(0, len(prin) - top), "more_actions": max(0, len(acts) - top)}

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def changed(self) -> int:
        return self.summary["summary"]["changed"]

    def cells(self) -> Iterator[tuple[str, str, str, int, str]]:
        """Every changed cell: ``(principal, action, resource, context_id, change)``."""
        pm, am, rm = self._members
        s = self.space
        for g in self._groups:
            for pk, ak, rk, c in g.cells:
                for i in pm[pk]:
                    for j in am[ak]:
                        for k in rm[rk]:
                            yield s.principal_labels[i], s.actions[j], s.resources[k], c, g.change

    def to_frame(self):
        """The records as a pandas DataFrame (one row per record; needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            from ..errors import RequestError

            raise RequestError("E_MISSING_DEPENDENCY", "to_frame needs pandas: pip install 'lexauthz[analysis]'",
                               "$") from None
        rows = [{"principal": r["principal"], "action": r["action"], "resource": r["resource"],
                 "context_id": r["context_id"], "change": r["change"], "count": r["count"],
                 "before": r["before"]["decision"], "after": r["after"]["decision"],
                 "before_statements": "; ".join(f"{d['policy_id']}#{d['statement_index']}"
                                                for d in r["before"]["deciding"]),
                 "after_statements": "; ".join(f"{d['policy_id']}#{d['statement_index']}"
                                               for d in r["after"]["deciding"]),
                 "verified": r["verified"]} for r in self.records]
        return pd.DataFrame(rows, columns=["principal", "action", "resource", "context_id", "change", "count",
                                           "before", "after", "before_statements", "after_statements", "verified"])

    def write_jsonl(self, fh: IO[str]) -> None:
        for r in self.records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        fh.write(json.dumps(self.summary, ensure_ascii=False) + "\n")


def _label(p: str) -> str:
    return "*" if p == ANY_PRINCIPAL else p


def _weights(cl, n):
    return np.bincount(cl.index, minlength=n).astype(np.int64)


def diff(before, after, space: Space, *, witnesses: int = 3, progress=None, backend=None) -> Diff:
    """The diff of account ``before`` and account ``after`` over ``space`` (see the module text).

    Parameters
    ----------
    before, after:
        :class:`lexauthz.account.Account` objects (two loaded accounts, or an account and an edited copy).
    space:
        A resolved :class:`~lexauthz.analysis.Space` (:func:`~lexauthz.analysis.resolve_space` against both
        accounts).
    witnesses:
        At most this many witness requests per record (at least one is always given).
    backend:
        Where the class decisions of both sides run (:mod:`lexauthz.analysis.cluster`; this process by default);
        the changed cells are explained here.
    """
    vb = AccountView(before, inventory_tags=space.inventory_tags)
    va = AccountView(after, inventory_tags=space.inventory_tags)
    cl = Classifier([vb, va])
    pc, ac, rc = cl.principal_classes(space.principals), cl.action_classes(space.actions), \
        cl.resource_classes(space.resources)
    cb = product_codes(vb, space, pc, ac, rc, progress, backend)
    ca = product_codes(va, space, pc, ac, rc, progress, backend)
    P, A, R, C = cb.shape
    members = (pc.members(), ac.members(), rc.members())
    wp, wa, wr = _weights(pc, P), _weights(ac, A), _weights(rc, R)

    # Which class cells may have changed at all.  A cell can change only if its class decisions differ, or a
    # statement that covers its action belongs to a policy that differs between the sides (added, removed, edited,
    # attached on one side only), or something that bears on every action differs: a boundary or session policy
    # appearing or going, the SCP levels, the principal's or the resource's tags.  Everything else keeps its answer
    # and its explanation, and is not explained again.
    from ..reference.matching import statement_matches_action

    eq_cache: dict = {}

    def same(x, y) -> bool:
        if x is y:
            return True
        key = (id(x), id(y))
        hit = eq_cache.get(key)
        if hit is None:
            hit = eq_cache[key] = (x == y)
        return hit

    def policy_delta(xs, ys) -> list:
        by_b: dict[str, list] = {}
        by_a: dict[str, list] = {}
        for m in xs:
            by_b.setdefault(m.name, []).append(m)
        for m in ys:
            by_a.setdefault(m.name, []).append(m)
        out = []
        for name in by_b.keys() | by_a.keys():
            lb, la = by_b.get(name, []), by_a.get(name, [])
            if len(lb) == len(la) and all(same(m, n) for m, n in zip(lb, la)):
                continue
            for m in (*lb, *la):
                if m.document is not None:
                    out.extend(m.document.statements)
        return out

    def principal_delta(i: int) -> tuple[bool, list]:
        p = space.principals[pc.reps[i]]
        probe = Request(p, "lex:GetBot", "*")
        xb, xa = vb.policy_set.applicable(probe), va.policy_set.applicable(probe)
        stmts = policy_delta(xb.identity, xa.identity)
        for m, n in ((xb.permissions_boundary, xa.permissions_boundary), (xb.session, xa.session)):
            if (m is None) != (n is None):
                return True, stmts
            if m is not None and not same(m, n):
                stmts += policy_delta((m,), (n,))
        sb, sa = xb.scps, xa.scps
        if (sb is None) != (sa is None) or len(sb or ()) != len(sa or ()):
            return True, stmts
        for lb, la in zip(sb or (), sa or ()):
            if bool(lb) != bool(la):
                return True, stmts
            stmts += policy_delta(lb, la)
        rb, ra = vb.policy_set.principal_record(p, vb.roles), va.policy_set.principal_record(p, va.roles)
        if (rb.tags if rb else ()) != (ra.tags if ra else ()):
            return True, stmts
        return False, stmts

    def resource_delta(k: int) -> tuple[bool, list]:
        r = space.resources[rc.reps[k]]
        xb, xa = vb.policy_set.resources.get(r), va.policy_set.resources.get(r)
        if (xb.tags if xb else ()) != (xa.tags if xa else ()) or vb.extra_tags.get(r) != va.extra_tags.get(r):
            return True, []
        pb_, pa_ = (xb.policy if xb else None), (xa.policy if xa else None)
        return False, policy_delta(tuple(x for x in (pb_,) if x is not None), tuple(x for x in (pa_,) if x is not None))

    rep_actions = [space.actions[ac.reps[j]] for j in range(A)]

    def relevant(stmts) -> np.ndarray:
        out = np.zeros(A, dtype=bool)
        for st in stmts:
            for j, a in enumerate(rep_actions):
                if not out[j] and statement_matches_action(st, a):
                    out[j] = True
        return out

    full_p = np.zeros(P, dtype=bool)
    rel_p = np.zeros((P, A), dtype=bool)
    for i in range(P):
        full, stmts = principal_delta(i)
        full_p[i] = full
        if stmts and not full:
            rel_p[i] = relevant(stmts)
    full_r = np.zeros(R, dtype=bool)
    rel_r = np.zeros((R, A), dtype=bool)
    for k in range(R):
        full, stmts = resource_delta(k)
        full_r[k] = full
        if stmts and not full:
            rel_r[k] = relevant(stmts)
    todo = ((cb != ca).any(axis=3) | full_p[:, None, None] | full_r[None, None, :] | rel_p[:, :, None]
            | rel_r.T[None, :, :])

    groups: dict[tuple, _Group] = {}
    order: list[tuple] = []
    cells_changed = np.zeros(cb.shape, dtype=bool)
    pols_cache: dict = {}
    for i, j, k in np.argwhere(todo).tolist():
        p, r, a = space.principals[pc.reps[i]], space.resources[rc.reps[k]], rep_actions[j]
        pols = pols_cache.get((i, k))
        if pols is None:
            probe = Request(p, "lex:GetBot", r)
            if len(pols_cache) > 100_000:
                pols_cache.clear()
            pols = pols_cache[(i, k)] = (_policies(vb, probe), _policies(va, probe))
        pols_b, pols_a = pols
        for c in range(C):
            rb = vb.request(p, a, r, space.contexts[c])
            ra = va.request(p, a, r, space.contexts[c])
            sb = _side(vb, rb, vb.engine.evaluate(rb), pols_b)
            sa = _side(va, ra, va.engine.evaluate(ra), pols_a)
            change = classify(sb, sa)
            if change is None:
                continue
            cells_changed[i, j, k, c] = True
            cause = _cause(pols_b, pols_a, sb, sa)
            key = (change, cause, sb.decision, sb.deny_reason(), sa.decision, sa.deny_reason())
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group(change, sb, sa, cause)
                order.append(key)
            g.cells.append((i, j, k, c))
            g.count += int(wp[i] * wa[j] * wr[k])

    records = []
    checked = verified_n = 0
    group_list = [groups[k] for k in order]
    for g in group_list:
        wits = []
        seen_cells = 0
        for (i, j, k, c) in g.cells:
            if len(wits) >= max(1, witnesses):
                break
            seen_cells += 1
            p, a, r = space.principals[pc.reps[i]], space.actions[ac.reps[j]], space.resources[rc.reps[k]]
            rb, ra = vb.request(p, a, r, space.contexts[c]), va.request(p, a, r, space.contexts[c])
            ref_b = before.evaluate(rb, engine="reference")
            ref_a = after.evaluate(ra, engine="reference")
            ok = (ref_b.decision is g.before.decision and ref_a.decision is g.after.decision
                  and classify(_side(vb, rb, ref_b), _side(va, ra, ref_a)) == g.change)
            checked += 1
            verified_n += ok
            wits.append({"principal": _label(p), "action": a, "resource": r, "context": dict(ra.context.to_dict()),
                         "context_id": c, "verified": ok})
        pset, aset, rset = set(), set(), set()
        for (i, j, k, c) in g.cells:
            pset.update(members[0][i])
            aset.update(members[1][j])
            rset.update(members[2][k])
        w0 = wits[0]
        missing = sorted(set(g.before.missing) | set(g.after.missing))
        records.append({
            "principal": w0["principal"], "action": w0["action"], "resource": w0["resource"],
            "context": w0["context"], "context_id": w0["context_id"], "change": g.change,
            "before": g.before.to_dict(), "after": g.after.to_dict(),
            "cause": [{"side": side, **_ref_dict(r, None)} for side, r in g.cause],
            "missing_context_values": missing,
            "count": g.count, "verified": all(w["verified"] for w in wits), "witnesses": wits,
            "principals": sorted(_label(space.principals[x]) for x in pset)[:_SAMPLE],
            "actions": sorted(space.actions[x] for x in aset)[:_SAMPLE * 8],
            "resources": sorted(space.resources[x] for x in rset)[:_SAMPLE],
            "n_principals": len(pset), "n_actions": len(aset), "n_resources": len(rset),
            "class_cells": len(g.cells),
        })

    summary = _summary(space, cb, ca, cells_changed, group_list, records, (wp, wa, wr), members, checked,
                       verified_n, (pc.n, ac.n, rc.n))
    summary["engine_before"] = vb.engine.revision
    summary["engine_after"] = va.engine.revision
    return Diff(space, records, summary, group_list, members, (wp, wa, wr))


def _summary(space, cb, ca, changed, groups, records, weights, members, checked, verified, ncls) -> dict:
    wp, wa, wr = (w.astype(np.float64) for w in weights)
    by_change = {c: 0 for c in CHANGES}
    by_statement: dict[str, int] = {}
    detail: dict[str, dict] = {}
    for g, rec in zip(groups, records):
        by_change[g.change] += g.count
        for ref in dict.fromkeys(r for _, r in g.cause):
            label = statement_label(ref)
            by_statement[label] = by_statement.get(label, 0) + g.count
            d = detail.setdefault(label, {"statement": label, "policy_id": ref.policy,
                                          "policy_type": AWS_POLICY_TYPES.get(ref.policy_type, ref.policy_type),
                                          "sid": ref.sid, "statement_index": ref.index, "effect": ref.effect,
                                          "cells": 0, "by_change": {}, "_principals": set()})
            d["cells"] += g.count
            d["by_change"][g.change] = d["by_change"].get(g.change, 0) + g.count
            for (i, _, _, _) in g.cells:
                d["_principals"].update(members[0][i])
    m = changed.astype(np.float64)
    per_pclass = np.einsum("pARc,A,R->p", m, wa, wr) if m.size else np.zeros(0)
    per_aclass = np.einsum("pARc,p,R->A", m, wp, wr) if m.size else np.zeros(0)
    by_principal: dict[str, int] = {}
    for k, idx in enumerate(members[0]):
        n = int(round(per_pclass[k])) if len(per_pclass) else 0
        if n:
            for i in idx:
                by_principal[space.principal_labels[i]] = n
    by_action: dict[str, int] = {}
    for k, idx in enumerate(members[1]):
        n = int(round(per_aclass[k])) if len(per_aclass) else 0
        if n:
            for j in idx:
                by_action[space.actions[j]] = n
    transitions: dict[str, int] = {}
    for db in Decision:
        for da in Decision:
            mask = ((cb == int(db)) & (ca == int(da))).astype(np.float64)
            n = int(round(float(np.einsum("pARc,p,A,R->", mask, wp, wa, wr)))) if mask.size else 0
            if n:
                transitions[f"{db.simulator_name}->{da.simulator_name}"] = n
    statements = []
    for d in sorted(detail.values(), key=lambda d: (-d["cells"], d["statement"])):
        ps = d.pop("_principals")
        d["principals"] = len(ps)
        statements.append(d)
    changed_total = sum(by_change.values())
    return {"summary": {
        "cells": space.cells, "changed": changed_total, "records": len(records),
        "by_change": by_change,
        "by_principal": dict(sorted(by_principal.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_action": dict(sorted(by_action.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_statement": dict(sorted(by_statement.items(), key=lambda kv: (-kv[1], kv[0]))),
        "transitions": transitions, "statements": statements,
        "classes": {"principals": ncls[0], "actions": ncls[1], "resources": ncls[2],
                    "contexts": len(space.contexts)},
        "shape": {"principals": len(space.principals), "actions": len(space.actions),
                  "resources": len(space.resources), "contexts": len(space.contexts)},
        "witnesses": {"checked": checked, "verified": verified},
    }}
