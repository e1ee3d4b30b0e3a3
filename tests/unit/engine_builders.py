"""Small builders of policy-model objects shared by the engine's unit tests, a thread runner, and the reference's
answers to rows of a policy set."""
from __future__ import annotations

import threading

from lexauthz.policy.model import ConditionClause, PolicyDocument, Statement


def doc(*statements, version="2012-10-17"):
    """A PolicyDocument from statement keyword dicts (``{"effect": ..., "action": (...), ...}``), indexed in order."""
    return PolicyDocument(tuple(Statement(**{**s, "index": i}) for i, s in enumerate(statements)), version)


def clause(operator, key, *values):
    """A ConditionClause from an operator as written (``ForAnyValue:StringLikeIfExists``)."""
    qualifier = operator.split(":")[0] if ":" in operator else None
    rest = operator.split(":")[-1]
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    return ConditionClause(operator, base, qualifier, if_exists, key, tuple(values))


def run_threads(work, n: int) -> None:
    """Run ``work(k)`` for k in 0..n-1, each on its own thread, and wait for all of them."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def reference_responses(ps, rows) -> list:
    """The reference evaluator's Response to each ``(principal, action, resource, context)`` row of policy set
    ``ps`` (enriched and resolved as ``PolicySet`` does)."""
    from lexauthz.reference import evaluate
    from lexauthz.request import Request

    out = []
    for p, a, r, c in rows:
        req = Request(p, a, r, None, c)
        out.append(evaluate(ps.enrich(req), ps.applicable(req)))
    return out
