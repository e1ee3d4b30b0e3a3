"""who-can and what-can: which principals may act on a resource, and what one principal may do.

Both evaluate one representative per class of principals and actions (:mod:`lexauthz.analysis.classes`) with the
compiled engine, explain each allowed class once (deciding statements, missing context keys) and expand the answer
to every member.  Results hold only allowed requests, sorted by (principal, action, resource).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..decision import Decision, StatementRef
from ..errors import RequestError
from ..request import Context, Request
from .classes import AccountView, Classifier, context_key
from .matrix import decide
from .space import ANY_PRINCIPAL, expand_actions, inventory, known_principals

__all__ = ["Access", "who_can", "what_can", "effective_policy", "statement_dict", "AWS_POLICY_TYPES",
           "analysis_view"]

#: The policy types as Access Analyzer and the AWS CLI spell them.
AWS_POLICY_TYPES = {"identity": "IDENTITY_POLICY", "resource": "RESOURCE_POLICY",
                    "permissions_boundary": "PERMISSIONS_BOUNDARY_POLICY", "session": "SESSION_POLICY",
                    "scp": "SERVICE_CONTROL_POLICY"}


def statement_dict(ref: StatementRef, view: AccountView | None = None) -> dict:
    """A deciding statement as JSON: ``policy_id``, ``policy_type`` (AWS's spelling), ``sid``, ``statement_index``
    (0-based), ``effect``, and ``path`` (the statement's JSON path in its policy) when the policy is known."""
    out = {"policy_id": ref.policy, "policy_type": AWS_POLICY_TYPES.get(ref.policy_type, ref.policy_type),
           "sid": ref.sid, "statement_index": ref.index, "effect": ref.effect}
    if ref.level is not None:
        out["level"] = ref.level
    if ref.principal_match is not None:
        out["principal_match"] = ref.principal_match
    if view is not None:
        named = view.policy(ref.policy)
        if named is not None and named.document is not None and ref.index < len(named.document.statements):
            path = named.document.statements[ref.index].path
            if path:
                out["path"] = path
    return out


_LEVELS: dict[str, str | None] = {}
_TYPES: dict[str, str | None] = {}


def _level(action: str) -> str | None:
    if action not in _LEVELS:
        from ..catalog import load_catalog

        info = load_catalog().action(action)
        _LEVELS[action] = info.access_level.split(",")[0].strip().lower() if info is not None else None
    return _LEVELS[action]


def _resource_type(arn: str) -> str | None:
    if arn not in _TYPES:
        from ..catalog import load_catalog

        found = load_catalog().resource_types_for_arn(arn) if arn != "*" else ()
        _TYPES[arn] = found[0].name if found else None
    return _TYPES[arn]


@dataclass(frozen=True)
class Access:
    """One allowed request: who may do which action on which resource, the statements that allow it, and the
    context keys those statements referenced that the request lacked."""

    principal: str
    action: str
    resource: str
    decision: Decision
    statements: tuple
    missing_context_keys: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-ready, with iam-lens's keys where the meaning is the same (``principal``, ``service``, ``action``,
        ``level``, ``resourceType``) and lexauthz's ``resource``, ``decision``, ``deciding`` and
        ``missing_context_values``."""
        return {"principal": self.principal, "service": self.action.split(":", 1)[0].lower(),
                "action": self.action, "level": _level(self.action), "resource": self.resource,
                "resourceType": _resource_type(self.resource), "decision": self.decision.simulator_name,
                "deciding": [statement_dict(r) for r in self.statements],
                "missing_context_values": list(self.missing_context_keys)}


_VIEWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def analysis_view(account) -> tuple[AccountView, Classifier]:
    """The account's view and classifier, made once per account object and kept while it lives."""
    got = _VIEWS.get(account)
    if got is None:
        from ..account import Account

        if not isinstance(account, Account):
            raise TypeError("`account` must be a lexauthz.account.Account")
        view = AccountView(account)
        got = (view, Classifier([view]))
        _VIEWS[account] = got
    return got


def _context(context: Mapping | None) -> dict:
    if context is None:
        return {}
    return Context(context).to_dict()


def _strings(values: Iterable[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out = list(dict.fromkeys(values))
    if not all(type(v) is str and v for v in out):
        for i, v in enumerate(out):
            if not isinstance(v, str) or not v:
                raise RequestError("E_BAD_REQUEST", f"{what} must be non-empty strings", f"$.{what}[{i}]")
        out = [str.__str__(v) for v in out]
    return out


def _label(p: str) -> str:
    return "*" if p == ANY_PRINCIPAL else p


def _group(keys) -> dict[int, list[int]]:
    g: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        lst = g.get(k)
        if lst is None:
            g[k] = [i]
        else:
            lst.append(i)
    return g


def _principal_groups(cl: Classifier, principals) -> dict[int, list[int]]:
    known = cl.principal_keys
    pkeys = [known.get(p) for p in principals]
    if None in pkeys:
        pkeys = [cl.principal_key(p) if k is None else k for p, k in zip(principals, pkeys)]
    return _group(pkeys)


def _allowed(view: AccountView, cl: Classifier, principals: list[str], actions: list[str], resources: list[str],
             ctx: dict, pg: dict | None = None) -> list[Access]:
    """Allowed requests of principals x actions x resources in ``ctx``: one decision and explanation per class
    cell, kept by the view for later calls (the engine is immutable, so they cannot go stale)."""
    if not (principals and actions and resources):
        return []
    cl.action_classes(actions)
    cl.resource_classes(resources)
    ctx_key = context_key(ctx) if ctx else ""
    if pg is None:
        pg = _principal_groups(cl, principals)
    ag = _group([cl.action_key(a) for a in actions])
    rg = _group([cl.resource_key(r) for r in resources])
    cache = view.cells
    todo = [(kp, ka, kr) for kp in pg for ka in ag for kr in rg if (kp, ka, kr, ctx_key) not in cache]
    if todo:
        reps = [(principals[pg[kp][0]], actions[ag[ka][0]], resources[rg[kr][0]]) for kp, ka, kr in todo]
        codes = decide(view, [p for p, _, _ in reps], [a for _, a, _ in reps], [r for _, _, r in reps],
                       [ctx] * len(reps))
        if len(cache) > 1_000_000:
            cache.clear()
        for (kp, ka, kr), (p, a, r), code in zip(todo, reps, codes.tolist()):
            hit = None
            if code == Decision.ALLOW:
                resp = view.engine.evaluate(view.request(p, a, r, ctx))
                hit = (resp.matched_statements, resp.missing_context_values)
            cache[(kp, ka, kr, ctx_key)] = hit
    out = []
    for kp, pidx in pg.items():
        for ka, aidx in ag.items():
            for kr, ridx in rg.items():
                hit = cache[(kp, ka, kr, ctx_key)]
                if hit is None:
                    continue
                stmts, missing = hit
                for i in pidx:
                    label = _label(principals[i])
                    for j in aidx:
                        for k in ridx:
                            out.append(Access(label, actions[j], resources[k], Decision.ALLOW, stmts, missing))
    out.sort(key=lambda a: (a.principal, a.action, a.resource))
    return out


def who_can(account, resource: str, actions: Iterable[str] | None = None, *,
            context: Mapping[str, object] | None = None, principals: Iterable[str] | None = None) -> list[Access]:
    """The principals allowed to do ``actions`` on ``resource``.

    Parameters
    ----------
    account:
        A :class:`lexauthz.account.Account`.
    resource:
        The resource ARN (or ``*``).
    actions:
        Action names or patterns (``lex:*``, ``lex:Get*``) expanded against the catalog; ``None``: every Lex action.
    context:
        The request context of every request (the inventory's tags of the resource are added where it lacks them).
    principals:
        The candidates; ``None``: every principal the account knows plus the principals its resource policies name
        (cross-account and service principals; ``Principal: "*"`` gives one principal no account knows, shown as
        ``*``).

    Returns
    -------
    list[Access]
        The allowed requests, sorted by (principal, action, resource).

    Raises
    ------
    RequestError
        For a malformed resource, action, principal or context (``E_BAD_*``), or a pattern matching no action.
    """
    view, cl = analysis_view(account)
    if not isinstance(resource, str) or not resource:
        raise RequestError("E_BAD_RESOURCE", "`resource` must be a non-empty string", "$.resource")
    acts = list(expand_actions(_strings(actions, "actions")))
    Request("arn:aws:iam::000000000000:root", acts[0] if acts else "lex:GetBot", resource)  # checks the ARN
    cands = _strings(principals, "principals")
    pg = None
    if cands is None:  # the account's own candidates: listed and grouped once per account
        if view.default_principals is None:
            view.default_principals = list(known_principals([account]))
            view.default_groups = _principal_groups(cl, view.default_principals)
        cands, pg = view.default_principals, view.default_groups
    return _allowed(view, cl, cands, acts, [resource], _context(context), pg)


def what_can(account, principal: str, actions: Iterable[str] | None = None, resources: Iterable[str] | None = None,
             *, context: Mapping[str, object] | None = None) -> list[Access]:
    """The actions and resources ``principal`` is allowed.

    ``actions`` as for :func:`who_can`; ``resources`` are ARNs (``None``: the account's resource inventory).  Returns
    the allowed requests, sorted by (principal, action, resource).

    Raises
    ------
    RequestError
        For a malformed principal, action, resource or context.
    """
    view, cl = analysis_view(account)
    if not isinstance(principal, str) or not principal:
        raise RequestError("E_BAD_PRINCIPAL", "`principal` must be a non-empty string", "$.principal")
    principal = ANY_PRINCIPAL if principal == "*" else principal
    acts = list(expand_actions(_strings(actions, "actions")))
    res = _strings(resources, "resources")
    if res is None:
        res = list(inventory([account]))
    for i, r in enumerate(res):
        try:
            Request(principal, acts[0] if acts else "lex:GetBot", r)
        except RequestError as e:
            raise RequestError(e.code, e.message, f"$.resources[{i}]" if e.path == "$.resource" else e.path) from None
    return _allowed(view, cl, [principal], acts, res, _context(context))


def effective_policy(account, principal: str, actions: Iterable[str] | None = None,
                     resources: Iterable[str] | None = None, *, context: Mapping[str, object] | None = None,
                     shrink: bool = True) -> dict:
    """A consolidated identity policy of the principal's effective Lex permissions over the actions and resources
    (as iam-lens's ``principal-can``): one ``Allow`` statement per set of resources that share the same allowed
    actions.  Evaluated alone for the principal in its own account, it allows exactly what :func:`what_can`
    returns for the same arguments.

    ``shrink`` writes ``lex:*`` for an action list that holds every Lex action of the catalog.
    """
    found = what_can(account, principal, actions, resources, context=context)
    by_resource: dict[str, list[str]] = {}
    for a in found:
        by_resource.setdefault(a.resource, []).append(a.action)
    groups: dict[tuple[str, ...], list[str]] = {}
    for r, acts in by_resource.items():
        groups.setdefault(tuple(sorted(set(acts))), []).append(r)
    every = set(expand_actions(None)) if shrink else set()
    statements = []
    for acts, res in sorted(groups.items(), key=lambda kv: (kv[0], kv[1])):
        action: object = ["lex:*"] if shrink and every and set(acts) == every else list(acts)
        statements.append({"Effect": "Allow", "Action": action, "Resource": sorted(res)})
    return {"Version": "2012-10-17", "Statement": statements}
