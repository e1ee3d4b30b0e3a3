"""The reference evaluator: the readable, pure-Python specification of IAM's policy evaluation logic.

``lexauthz.reference.evaluate(request, policies)`` decides one request exactly as AWS IAM does and explains the
decision.  It aims to be obvious, not fast: the compiled engine must agree with it on every input, and the
differential tests compare the two.  It shares no matching logic with the engine (``lexauthz._glob``,
``lexauthz.compile`` and ``lexauthz._engine`` are never imported here); it reads the shared data model only.

Modules, one job each:

- :mod:`~lexauthz.reference.evaluate`: the decision (explicit deny, SCPs, same-account and cross-account logic,
  permissions boundaries, session policies).
- :mod:`~lexauthz.reference.principals`: the caller and the ``Principal``/``NotPrincipal`` elements.
- :mod:`~lexauthz.reference.matching`: ``Action``/``NotAction`` and ``Resource``/``NotResource``.
- :mod:`~lexauthz.reference.conditions`: the ``Condition`` element.
- :mod:`~lexauthz.reference.variables`, :mod:`~lexauthz.reference.wildcard`: policy variables and ``*``/``?``.
"""
from .evaluate import evaluate

__all__ = ["evaluate"]
