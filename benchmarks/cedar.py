"""The generated workloads in Cedar, with the same meaning, and the check that every engine agrees.

Cedar is the peer lexauthz is compared with (through ``cedarpy``, its Python binding).  The comparison is fair
only if Cedar answers the same question, so this module translates the IAM subset the generator writes
(:mod:`benchmarks.generate`) into Cedar policies and entities, and :func:`agreement` checks every request's
decision against the reference evaluator (and the compiled engine) before anything is timed.

How each IAM element becomes Cedar
----------------------------------
- ``Effect``: ``Allow`` is ``permit``, ``Deny`` is ``forbid``.  Cedar's "any forbid overrides every permit; no
  permit is a deny" is IAM's "explicit deny wins; no allow is an implicit deny" for identity policies in one account.
  A Cedar deny whose reasons include a ``forbid`` is an explicit deny; a deny without reasons is implicit.
- ``Action``: matched case-insensitively in IAM, so every action is lower-cased.  A wildcard becomes a Cedar action
  group (``Action::"group:lex:describe*"``), expanded at translation time: every known action (the catalog plus
  every exact action any policy names) is an action entity whose parents are the groups it matches, and the
  statement says ``action in <group>``.  (Listing the expansion in the policy, ``action in [60 actions]``, is
  correct too but makes Cedar about 15 times slower, which would not be a fair comparison.)  An action that is not
  known (``lex:RecognizeTextV3``) is sent as the sentinel ``Action::"__unseen__"``, a member of every group, with its
  name in ``context.action``; a statement with wildcards then tests ``context.action like "<pattern>"``, so unseen
  actions match exactly the wildcards IAM would let them match.  (Expansion alone would silently deny them.)
- ``Resource``: IAM matches an ARN field by field (partition, service, region, account, then the resource part as a
  whole), each with ``*`` wildcards.  A single exact ARN goes in the policy scope (``resource == Resource::"..."``),
  several exact ARNs into ``resource in [...]``; a pattern compares ``context.arn.<field>`` with ``==`` or ``like``
  per field (a field that is just ``*`` is left out).  ``"*"`` leaves the resource unconstrained.
- ``Condition``: ``aws:ResourceTag/<key>`` reads ``context.rt.<key>`` (the request context's resource tags, then
  the resource record's), ``aws:PrincipalTag/<key>`` reads ``principal.tags.<key>`` (the principal entity).  Tag
  keys are lower-cased, as IAM's key names are case-insensitive; values are compared case-sensitively.
  ``StringEquals``/``StringLike`` need the key (``has`` guard) and one matching value; ``StringNotEquals``/
  ``StringNotLike`` are true when the key is missing, which is IAM's rule for negated operators.  A value that is
  exactly ``${aws:PrincipalTag/<key>}`` or ``${aws:ResourceTag/<key>}`` compares with that attribute and matches
  nothing when it is missing (IAM: a variable without a value matches nothing).
- Clauses of a condition, operators and keys are ANDed, values of one key ORed.

Anything else (``NotAction``, ``NotResource``, ``?`` wildcards, other operators and keys, variables elsewhere,
resource policies, boundaries, SCPs) raises :class:`Untranslatable`: the translation covers the generated subset
and refuses the rest rather than guess.

Slicing
-------
Cedar evaluates every policy in the set it is given, so the fair setup gives it, per principal, only the policies
that principal has (what an application using Cedar would do: select the principal's policies, then authorize).
:class:`CedarWorkload` holds one parsed ``cedarpy.PolicySet`` and one ``Entities`` handle per principal.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Untranslatable", "CedarWorkload", "translate", "agreement", "Disagreement"]

UNSEEN = "__unseen__"
GROUP = "group:"
_ARN_FIELDS = ("partition", "service", "region", "account")


class Untranslatable(ValueError):
    """An IAM construct the translation does not cover."""


# =================================================================================================================
# Text helpers
# =================================================================================================================


def _lit(s: str) -> str:
    """A Cedar string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _like(pattern: str) -> str:
    """An IAM ``*`` pattern as a Cedar ``like`` pattern literal (``?`` has no Cedar equivalent)."""
    if "?" in pattern:
        raise Untranslatable(f"`?` wildcard in `{pattern}`")
    parts = pattern.split("*")
    return '"' + "*".join(p.replace("\\", "\\\\").replace('"', '\\"') for p in parts) + '"'


def _glob_re(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _as_list(v):
    return v if isinstance(v, list) else [v]


# =================================================================================================================
# Statements
# =================================================================================================================


class _Translator:
    def __init__(self, known_actions):
        self.known = sorted(set(known_actions))
        self.groups: set = set()

    # -- Action -------------------------------------------------------------------------------------------------

    def action(self, st: dict) -> tuple[str, list[str]]:
        if "Action" not in st:
            raise Untranslatable("statement without `Action`")
        pats = [p.lower() for p in _as_list(st["Action"])]
        if any(p == "*" for p in pats):
            return "action", []
        exact = sorted({p for p in pats if "*" not in p and "?" not in p})
        wild = sorted({p for p in pats if p not in exact})
        for w in wild:
            if "?" in w:
                raise Untranslatable(f"`?` wildcard in `{w}`")
            self.groups.add(w)
        uids = [f"Action::{_lit(a)}" for a in exact] + [f"Action::{_lit(GROUP + w)}" for w in wild]
        conds = []
        if wild:
            tests = " || ".join(f"context.action like {_like(w)}" for w in wild)
            conds.append(f"(action != Action::{_lit(UNSEEN)} || {tests})")
        if len(uids) == 1:
            return (f"action == {uids[0]}" if exact else f"action in {uids[0]}"), conds
        return f"action in [{', '.join(uids)}]", conds

    def action_entities(self) -> list[dict]:
        """Every known action (and the unseen sentinel) with the wildcard groups it belongs to as parents."""
        groups = sorted(self.groups)
        rxs = [(g, _glob_re(g)) for g in groups]
        out = []
        for a in self.known:
            parents = [{"type": "Action", "id": GROUP + g} for g, rx in rxs if rx.fullmatch(a)]
            out.append({"uid": {"type": "Action", "id": a}, "attrs": {}, "parents": parents})
        out.append({"uid": {"type": "Action", "id": UNSEEN}, "attrs": {},
                    "parents": [{"type": "Action", "id": GROUP + g} for g in groups]})
        out.extend({"uid": {"type": "Action", "id": GROUP + g}, "attrs": {}, "parents": []} for g in groups)
        return out

    # -- Resource -----------------------------------------------------------------------------------------------

    def resource(self, st: dict) -> tuple[str, list[str]]:
        if "Resource" not in st:
            raise Untranslatable("statement without `Resource`")
        values = _as_list(st["Resource"])
        if "*" in values:
            return "resource", []
        exact = [v for v in values if "*" not in v and "?" not in v]
        patterns = [v for v in values if v not in exact]
        for v in values:
            if "${" in v:
                raise Untranslatable(f"policy variable in resource `{v}`")
        if len(values) == 1 and exact:
            return f"resource == Resource::{_lit(exact[0])}", []
        terms = []
        if exact:
            terms.append(f"resource in [{', '.join(f'Resource::{_lit(v)}' for v in exact)}]")
        for v in patterns:
            fields = v.split(":", 5)
            if len(fields) != 6 or fields[0] != "arn":
                raise Untranslatable(f"resource pattern `{v}` is not a six-field ARN")
            tests = []
            for name, f in zip(_ARN_FIELDS + ("resource",), fields[1:]):
                if f == "*":
                    continue
                if "*" in f or "?" in f:
                    tests.append(f"context.arn.{name} like {_like(f)}")
                else:
                    tests.append(f"context.arn.{name} == {_lit(f)}")
            terms.append("(" + (" && ".join(tests) or "true") + ")")
        return "resource", ["(" + " || ".join(terms) + ")"]

    # -- Condition ----------------------------------------------------------------------------------------------

    @staticmethod
    def _attr(key: str) -> tuple[str, str]:
        """``(guard, accessor)`` for a tag condition key."""
        low = key.lower()
        if low.startswith("aws:resourcetag/"):
            tag = low.split("/", 1)[1]
            return f"context.rt has {_lit(tag)}", f"context.rt[{_lit(tag)}]"
        if low.startswith("aws:principaltag/"):
            tag = low.split("/", 1)[1]
            return (f"(principal has tags && principal.tags has {_lit(tag)})", f"principal.tags[{_lit(tag)}]")
        raise Untranslatable(f"condition key `{key}`")

    def _value_test(self, accessor: str, value: str, like: bool) -> str:
        m = re.fullmatch(r"\$\{([^},]+)\}", value)
        if m:
            if like:
                raise Untranslatable(f"policy variable in a like pattern `{value}`")
            guard, other = self._attr(m.group(1))
            return f"({guard} && {accessor} == {other})"
        if "${" in value:
            raise Untranslatable(f"policy variable inside `{value}`")
        return f"{accessor} like {_like(value)}" if like else f"{accessor} == {_lit(value)}"

    def condition(self, st: dict) -> list[str]:
        out = []
        for op, clause in (st.get("Condition") or {}).items():
            if op not in ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike"):
                raise Untranslatable(f"condition operator `{op}`")
            negated = "Not" in op
            like = op.endswith("Like")
            for key, values in clause.items():
                guard, acc = self._attr(key)
                vals = _as_list(values)
                if negated and any("${" in v for v in vals):
                    raise Untranslatable(f"policy variable under `{op}`")
                anyof = " || ".join(self._value_test(acc, v, like) for v in vals)
                if negated:
                    out.append(f"(!({guard}) || !({anyof}))")
                else:
                    out.append(f"({guard} && ({anyof}))")
        return out

    # -- Statement ----------------------------------------------------------------------------------------------

    def statement(self, st: dict) -> tuple[str, str]:
        """``(effect, cedar text)`` for one statement."""
        for k in ("NotAction", "NotResource", "Principal", "NotPrincipal"):
            if k in st:
                raise Untranslatable(f"`{k}` element")
        effect = st["Effect"]
        head = {"Allow": "permit", "Deny": "forbid"}[effect]
        a_scope, a_conds = self.action(st)
        r_scope, r_conds = self.resource(st)
        conds = a_conds + r_conds + self.condition(st)
        text = f"{head}(principal, {a_scope}, {r_scope})"
        if conds:
            text += " when { " + " && ".join(conds) + " }"
        return effect, text + ";"


# =================================================================================================================
# The workload in Cedar
# =================================================================================================================


@dataclass
class CedarWorkload:
    """Per-principal Cedar policy sets and entities, plus the request translation.

    ``slices[arn]`` is ``(cedarpy.PolicySet, cedarpy.Entities, effects)`` where ``effects[i]`` is the IAM effect of
    the Cedar policy ``policy<i>`` (to tell an explicit deny from an implicit one).
    """

    slices: dict
    empty: tuple
    known_actions: frozenset
    resource_tags: dict
    texts: dict

    def slice(self, principal: str) -> tuple:
        """The policy set, entities and effects Cedar is given for ``principal``."""
        return self.slices.get(principal, self.empty)

    def request(self, principal: str, action: str, resource: str, context) -> dict:
        """One IAM request as a cedarpy request dict."""
        low = action.lower()
        ctx: dict = {}
        if low in self.known_actions:
            act = low
        else:
            act = UNSEEN
            ctx["action"] = low
        fields = resource.split(":", 5)
        if len(fields) != 6 or fields[0] != "arn":
            raise Untranslatable(f"request resource `{resource}` is not an ARN")
        ctx["arn"] = dict(zip(_ARN_FIELDS + ("resource",), fields[1:]))
        rt = {k.lower(): v for k, v in self.resource_tags.get(resource, {}).items()}
        for k, v in (context or {}).items():
            kl = k.lower()
            if kl.startswith("aws:resourcetag/"):
                rt[kl.split("/", 1)[1]] = v
            elif kl.startswith("aws:principaltag/"):
                raise Untranslatable("principal tags in the request context")
        ctx["rt"] = rt
        return {"principal": {"type": "Principal", "id": principal}, "action": {"type": "Action", "id": act},
                "resource": {"type": "Resource", "id": resource}, "context": ctx}

    def requests(self, requests) -> list:
        """Every request of a :class:`~benchmarks.generate.Requests` stream as cedarpy request dicts."""
        return [self.request(p, a, r, c) for p, a, r, c in requests.rows()]


def _principal_entity(p) -> dict:
    return {"uid": {"type": "Principal", "id": p.arn}, "attrs": {"tags": {k.lower(): v for k, v in p.tags.items()}},
            "parents": []}


def translate(workload, *, extra_actions=()) -> CedarWorkload:
    """Translate a generated identity-policy workload to per-principal Cedar slices.

    Raises
    ------
    Untranslatable
        For constructs outside the generated subset (resource policies, boundaries and SCPs among them).
    """
    import cedarpy

    from benchmarks.generate import lex_actions
    from lexauthz.catalog import load_catalog

    if workload.scps or any(pol for _, pol in workload.resources.values()) or any(
            p.boundary for p in workload.principals):
        raise Untranslatable("resource policies, permissions boundaries and SCPs are not translated")
    known = {a.full_name.lower() for a in load_catalog().actions("lex")}
    known.update(a.lower() for group in lex_actions().values() for a in group)
    for doc in workload.policies.values():
        for st in doc["Statement"]:
            for a in _as_list(st.get("Action", [])):
                if "*" not in a and "?" not in a:
                    known.add(a.lower())
    known.update(a.lower() for a in extra_actions)
    tr = _Translator(known)
    per_policy: dict = {}
    for name, doc in workload.policies.items():
        per_policy[name] = [tr.statement(st) for st in doc["Statement"]]
    base = cedarpy.Entities.from_json_str(json.dumps(tr.action_entities()))
    slices: dict = {}
    texts: dict = {}
    for p in workload.principals:
        stmts = [s for name in p.policies for s in per_policy[name]]
        text = "\n".join(t for _, t in stmts)
        texts[p.arn] = text
        ents = base.with_added_json_str(json.dumps([_principal_entity(p)]))
        slices[p.arn] = (cedarpy.PolicySet.from_str(text), ents, tuple(e for e, _ in stmts))
    empty = (cedarpy.PolicySet.from_str(""), base, ())
    tags = {arn: tags for arn, (tags, _) in workload.resources.items()}
    return CedarWorkload(slices, empty, frozenset(known), tags, texts)


# =================================================================================================================
# Agreement
# =================================================================================================================


@dataclass(frozen=True)
class Disagreement:
    """One request on which the engines differ, with each engine's decision."""

    index: int
    request: tuple
    decisions: dict

    def __str__(self) -> str:
        p, a, r, c = self.request
        return (f"request {self.index}: principal `{p}` action `{a}` resource `{r}` context {c}: "
                + ", ".join(f"{k}={v}" for k, v in self.decisions.items()))


def cedar_decisions(cw: CedarWorkload, requests, cedar_requests=None) -> list[int]:
    """Cedar's decision per request as a :class:`lexauthz.decision.Decision` code (0, 1 or 2)."""
    import cedarpy

    if cedar_requests is None:
        cedar_requests = cw.requests(requests)
    groups: dict = {}
    for i, p in enumerate(requests.principals):
        groups.setdefault(p, []).append(i)
    out = [0] * len(requests)
    for p, idx in groups.items():
        ps, ents, effects = cw.slice(p)
        results = cedarpy.is_authorized_batch([cedar_requests[i] for i in idx], ps, ents)
        for i, res in zip(idx, results):
            if res.diagnostics.errors:
                raise AssertionError(f"cedar reported errors for request {i}: {res.diagnostics.errors}")
            if res.decision == cedarpy.Decision.Allow:
                out[i] = 1
            else:
                forbids = [r for r in res.diagnostics.reasons if effects[int(r[len("policy"):])] == "Deny"]
                out[i] = 2 if forbids else 0
    return out


def reference_decisions(workload, requests, ps=None) -> list[int]:
    """The reference evaluator's decision per request (the policy set resolves and enriches each request)."""
    from lexauthz import reference
    from lexauthz.request import Request

    ps = ps if ps is not None else workload.policy_set()
    out = []
    for p, a, r, c in requests.rows():
        req = Request(p, a, r, None, c)
        out.append(int(reference.evaluate(ps.enrich(req), ps.applicable(req)).decision))
    return out


def agreement(named: dict, requests) -> list[Disagreement]:
    """Requests on which the decision lists in ``named`` (engine name -> codes) differ; empty when all agree."""
    names = list(named)
    cols = [list(map(int, named[n])) for n in names]
    rows = list(requests.rows())
    out = []
    for i in range(len(requests)):
        vals = {n: c[i] for n, c in zip(names, cols)}
        if len(set(vals.values())) > 1:
            out.append(Disagreement(i, rows[i], vals))
    return out
