"""The corpus-case runner: one self-contained authorization question in, one answer line out.

A *case* is the JSON object of the labelled corpus (``tests/conformance/data/cases-*.jsonl.gz``)::

    {"id": ..., "identity_policies": [...], "resource_policy": {...} | null, "permission_boundary": {...} | null,
     "session_policy": {...} | null, "scps": [[...], ...] | null,
     "request": {"principal", "action", "resource", "resource_account", "context"}, "meta": {...}}

:func:`run_case` parses the policies (each distinct document once per process), builds the
:class:`~lexauthz.request.Request` and the :class:`~lexauthz.policy.applicable.ApplicablePolicies`, evaluates, and
returns the answer line::

    {"id", "decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | None,
     "error": None | {"code", "message"}, "matched_statements": [StatementRef.to_dict(), ...],
     "policy_results": {"identity", "resource", "session", "permission_boundary", "scp"}}

Policies are named as the corpus labels name them: ``identity[0]``, ``identity[1]``, ...; ``resource_policy``;
``permission_boundary``; ``session_policy``; ``scp[L][i]`` (level ``L``, root first, the ``i``-th policy of it).
The request context is used exactly as given: nothing is derived from the principal or the resource.

Each policy is parsed and validated as a policy of its type (:func:`lexauthz.policy.validate_document`).  A policy
with an ERROR finding (a missing or invalid ``Effect``, an unknown condition operator, ``Action`` and ``NotAction``
together, a ``Principal`` in an identity-based policy, ...) is one AWS refuses when it is saved: the case is then an
error, the decision is ``None`` and ``error`` names the first ERROR finding.  A malformed request is an error too
(code from :class:`~lexauthz.errors.RequestError`).
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
from typing import Any, Iterator, Mapping

from ..decision import Decision, Response
from ..errors import Finding, RequestError, Severity
from ..policy.applicable import ApplicablePolicies, NamedPolicy
from ..policy.model import PolicyDocument
from ..policy.parser import parse_policy
from ..policy.validate import ValidationOptions, validate_document
from ..request import Request

__all__ = ["ENGINES", "iter_cases", "build_case", "evaluate_case", "run_case", "CaseResult"]

#: The implementations :func:`run_case` can drive.
ENGINES = ("reference", "compiled")

#: The policy types of an answer line, in the corpus's order; a type that was not supplied is ``None``.
_RESULT_TYPES = ("identity", "resource", "session", "permission_boundary", "scp")

# NOTE: the corpus spells the boundary's policy type `permission_boundary`; lexauthz says `permissions_boundary`, as
# AWS does.  The spelling is translated here, at the corpus edge, and nowhere else.
_CORPUS_TYPE = {"permissions_boundary": "permission_boundary"}

# Findings of each distinct document by policy type and canonical JSON text.  A case corpus repeats a small set of
# policies many times; parsing and validating are the dominant cost of a case, so each is done once per process.
_CHECK_CACHE: dict[tuple[str, str], tuple[PolicyDocument | None, tuple[Finding, ...]]] = {}
_CHECK_CACHE_LIMIT = 50_000

# NOTE: the catalog checks (unknown actions and condition keys) only ever give warnings, never a refusal, and they
# cost milliseconds per document; the runner leaves them out.
_OPTIONS = ValidationOptions(check_catalog=False)


def iter_cases(path: str | os.PathLike) -> Iterator[dict]:
    """The JSON objects of a ``.jsonl`` or ``.jsonl.gz`` file, one per non-empty line, in file order."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def _check(policy_type: str, document: Any) -> tuple[PolicyDocument | None, tuple[Finding, ...]]:
    """Parse and validate one policy document as a policy of ``policy_type``, once per distinct document.

    The findings are the parser's (grammar) and the validator's (policy type, quotas; the catalog checks, which only
    ever warn, are left out): AWS refuses a policy with an ERROR finding when it is saved, so such a policy is never
    evaluated.
    """
    try:
        key = (policy_type, json.dumps(document, sort_keys=True, separators=(",", ":")))
    except (TypeError, ValueError):
        key = None
    hit = _CHECK_CACHE.get(key) if key is not None else None
    if hit is None:
        parsed = parse_policy(document)
        findings = parsed.findings
        if parsed.document is not None:
            findings = findings + validate_document(parsed.document, policy_type=policy_type, options=_OPTIONS)
        hit = (parsed.document, tuple(findings))
        if key is not None:
            if len(_CHECK_CACHE) >= _CHECK_CACHE_LIMIT:
                _CHECK_CACHE.clear()
            _CHECK_CACHE[key] = hit
    return hit


def _named(policy_type: str, name: str, document: Any) -> NamedPolicy:
    """A :class:`NamedPolicy` for one policy of a case; its findings name the policy as their ``source``."""
    doc, findings = _check(policy_type, document)
    return NamedPolicy(name, doc, tuple(dataclasses.replace(f, source=name) for f in findings))


def build_case(case: Mapping) -> tuple[Request, ApplicablePolicies]:
    """The request and the applicable policies of one case.

    Raises
    ------
    RequestError
        When the request is malformed, or a policy field has the wrong shape.
    """
    identity_docs = case.get("identity_policies") or []
    if not isinstance(identity_docs, list):
        raise RequestError("E_BAD_CASE", "`identity_policies` must be a list of policy documents",
                           "$.identity_policies")
    identity = tuple(_named("identity", f"identity[{i}]", d) for i, d in enumerate(identity_docs))
    resource = boundary = session = None
    if case.get("resource_policy") is not None:
        resource = _named("resource", "resource_policy", case["resource_policy"])
    if case.get("permission_boundary") is not None:
        boundary = _named("permissions_boundary", "permission_boundary", case["permission_boundary"])
    if case.get("session_policy") is not None:
        session = _named("session", "session_policy", case["session_policy"])
    scps = None
    raw_scps = case.get("scps")
    if raw_scps:
        if not isinstance(raw_scps, list) or not all(isinstance(level, list) for level in raw_scps):
            raise RequestError("E_BAD_CASE", "`scps` must be a list of levels, each a list of policy documents",
                               "$.scps")
        scps = tuple(tuple(_named("scp", f"scp[{lv}][{i}]", d) for i, d in enumerate(level))
                     for lv, level in enumerate(raw_scps))
    request = Request.from_dict(case.get("request") or {}, "$.request")
    return request, ApplicablePolicies(identity=identity, resource=resource, permissions_boundary=boundary,
                                       session=session, scps=scps)


@dataclasses.dataclass(frozen=True, slots=True)
class CaseResult:
    """What :func:`evaluate_case` gives: the case id, and either a response or the request error."""

    id: str | None
    response: Response | None
    request_error: RequestError | None = None


def evaluate_case(case: Mapping, *, engine: str = "reference") -> CaseResult:
    """Build and evaluate one case with the named implementation (see :data:`ENGINES`)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine `{engine}`: expected one of {', '.join(ENGINES)}")
    try:
        request, policies = build_case(case)
    except RequestError as exc:
        return CaseResult(case.get("id"), None, exc)
    if engine == "compiled":
        from ..engine import evaluate_applicable

        return CaseResult(case.get("id"), evaluate_applicable(request, policies))
    from ..reference import evaluate

    return CaseResult(case.get("id"), evaluate(request, policies))


def _error_line(finding: Finding) -> dict:
    where = f"policy `{finding.source}`: " if finding.source else ""
    return {"code": finding.code, "message": f"{where}{finding.message} at {finding.path}"}


def run_case(case: Mapping, *, engine: str = "reference") -> dict:
    """Evaluate one corpus case and return its answer line (module docstring).

    >>> line = run_case({"id": "x", "identity_policies": [{"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}], "resource_policy": None,
    ...     "permission_boundary": None, "session_policy": None, "scps": None,
    ...     "request": {"principal": "arn:aws:iam::123456789012:user/bob", "action": "lex:PostText",
    ...                 "resource": "*", "resource_account": "123456789012", "context": {}}})
    >>> line["decision"], line["matched_statements"][0]["statement"]
    ('Allowed', 1)
    """
    result = evaluate_case(case, engine=engine)
    out: dict = {"id": result.id, "decision": None, "error": None, "matched_statements": [],
                 "policy_results": None}
    if result.request_error is not None:
        exc = result.request_error
        out["error"] = {"code": exc.code, "message": f"{exc.message} at {exc.path}"}
        return out
    response = result.response
    assert response is not None
    if response.decision is Decision.ERROR:
        first = next((f for f in response.errors if f.severity is Severity.ERROR), response.errors[0])
        out["error"] = _error_line(first)
        return out
    out["decision"] = response.decision.aws_name
    out["matched_statements"] = [_corpus_ref(ref.to_dict()) for ref in response.matched_statements]
    results = {_CORPUS_TYPE.get(t, t): v for t, v in response.policy_results.items()}
    out["policy_results"] = {t: results.get(t) for t in _RESULT_TYPES}
    return out


def _corpus_ref(ref: dict) -> dict:
    """A matched statement as the corpus writes it (its spelling of the boundary's policy type)."""
    ref["policy_type"] = _CORPUS_TYPE.get(ref["policy_type"], ref["policy_type"])
    return ref
