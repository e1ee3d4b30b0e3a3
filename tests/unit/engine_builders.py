"""Small builders of policy-model objects shared by the engine's unit tests."""
from __future__ import annotations

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
