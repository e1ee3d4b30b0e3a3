"""The registry of finding codes: ``code -> FindingSpec(severity, title, access_analyzer_code)``.

Codes are stable: tools and tests branch on them, never on message text.  ``E_`` codes are ERRORs: AWS would refuse
the document when it is saved (a ``MalformedPolicyDocument``), so lexauthz refuses to evaluate it.  ``W_`` codes are
warnings, security warnings or suggestions: the policy still evaluates exactly as AWS would evaluate it.

A note on severities: IAM Access Analyzer reports an unknown action or an unknown service prefix as an ``ERROR``
finding (the element is "not functional"), yet IAM accepts such a policy and evaluates it: the element just never
matches.  lexauthz keeps evaluation identical to IAM's, so these are ``W_`` codes with severity WARNING; their
``access_analyzer_code`` still names Access Analyzer's issue code.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .errors import Finding, Severity

__all__ = ["FindingSpec", "FINDINGS", "make_finding", "spec"]


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """What a finding code means."""

    code: str
    severity: Severity
    title: str
    access_analyzer_code: str | None = None


_E, _W, _S, _SUG = Severity.ERROR, Severity.WARNING, Severity.SECURITY_WARNING, Severity.SUGGESTION

_SPECS = [
    # input and JSON
    FindingSpec("E_IO", _E, "the policy file cannot be read"),
    FindingSpec("E_NOT_UTF8", _E, "the document is not UTF-8 text", "JSON_SYNTAX_ERROR"),
    FindingSpec("E_MALFORMED_JSON", _E, "the document is not valid JSON", "JSON_SYNTAX_ERROR"),
    FindingSpec("E_TOO_DEEP", _E, "the document is nested too deeply", "JSON_SYNTAX_ERROR"),
    FindingSpec("E_DOCUMENT_TOO_LARGE", _E, "the document is larger than lexauthz reads"),
    FindingSpec("E_DUPLICATE_KEY", _E, "an object repeats a key", "JSON_SYNTAX_ERROR"),
    FindingSpec("E_NOT_OBJECT", _E, "the document is not a JSON object", "JSON_SYNTAX_ERROR"),
    # grammar
    FindingSpec("E_UNKNOWN_ELEMENT", _E, "an element name is not part of the policy grammar", "SYNTAX_ERROR"),
    FindingSpec("E_INVALID_TYPE", _E, "an element has the wrong JSON type", "SYNTAX_ERROR"),
    FindingSpec("E_INVALID_VERSION", _E, "`Version` is not `2012-10-17` or `2008-10-17`", "INVALID_VERSION"),
    FindingSpec("E_MISSING_STATEMENT", _E, "the policy has no `Statement`", "MISSING_STATEMENT"),
    FindingSpec("E_MISSING_EFFECT", _E, "a statement has no `Effect`", "MISSING_EFFECT"),
    FindingSpec("E_INVALID_EFFECT", _E, "`Effect` is not `Allow` or `Deny`", "INVALID_EFFECT_VALUE"),
    FindingSpec("E_MISSING_ACTION", _E, "a statement has neither `Action` nor `NotAction`", "MISSING_ACTION"),
    FindingSpec("E_ACTION_AND_NOT_ACTION", _E, "a statement has both `Action` and `NotAction`", "SYNTAX_ERROR"),
    FindingSpec("E_MISSING_RESOURCE", _E, "a statement has neither `Resource` nor `NotResource`", "MISSING_RESOURCE"),
    FindingSpec("E_RESOURCE_AND_NOT_RESOURCE", _E, "a statement has both `Resource` and `NotResource`", "SYNTAX_ERROR"),
    FindingSpec("E_PRINCIPAL_AND_NOT_PRINCIPAL", _E, "a statement has both `Principal` and `NotPrincipal`",
                "SYNTAX_ERROR"),
    FindingSpec("E_INVALID_PRINCIPAL", _E, "a `Principal` or `NotPrincipal` element is malformed", "INVALID_PRINCIPAL"),
    FindingSpec("E_UNKNOWN_OPERATOR", _E, "a condition operator is not one of IAM's", "INVALID_CONDITION_OPERATOR"),
    FindingSpec("E_EMPTY_CONDITION", _E, "a condition operator or key has no values", "SYNTAX_ERROR"),
    FindingSpec("E_INVALID_CONDITION_KEY", _E, "a condition key name is malformed", "INVALID_CONDITION_KEY"),
    FindingSpec("E_INVALID_CONDITION_VALUE", _E, "a condition value is not valid for its operator",
                "INVALID_CONDITION_VALUE"),
    FindingSpec("W_INVALID_CONDITION_VALUE", _W, "a condition value can never be read by its operator",
                "INVALID_CONDITION_VALUE"),
    # policy type
    FindingSpec("E_PRINCIPAL_IN_IDENTITY_POLICY", _E, "an identity-based policy names a principal",
                "UNSUPPORTED_ELEMENT"),
    FindingSpec("E_MISSING_PRINCIPAL", _E, "a resource-based policy statement names no principal",
                "MISSING_PRINCIPAL"),
    FindingSpec("E_INVALID_ACTION_FORMAT", _E, "an action is not of the form `service:action`", "INVALID_ACTION"),
    FindingSpec("E_INVALID_ARN", _E, "a resource is neither `*` nor a well-formed ARN", "INVALID_ARN"),
    FindingSpec("E_POLICY_TOO_LARGE", _E, "the policy exceeds AWS's size quota for its type", "POLICY_SIZE_EXCEEDED"),
    FindingSpec("E_UNRESOLVED_POLICY", _E,
                "a principal is attached to a managed policy the authorization details do not contain"),
    FindingSpec("W_TRUNCATED_EXPORT", _W, "the authorization details are one page of a truncated export"),
    # catalog
    FindingSpec("W_UNKNOWN_ACTION", _W, "an action is not defined by its service", "INVALID_ACTION"),
    FindingSpec("W_UNKNOWN_SERVICE", _W, "a service prefix is not known", "INVALID_SERVICE"),
    FindingSpec("W_ACTION_MATCHES_NOTHING", _W, "an action pattern matches no action of its service",
                "INVALID_ACTION"),
    FindingSpec("W_UNKNOWN_CONDITION_KEY", _W, "a condition key is not known for the service or globally",
                "INVALID_CONDITION_KEY"),
    FindingSpec("W_CONDITION_KEY_NOT_APPLICABLE", _W, "a condition key does not apply to the statement's actions",
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY"),
    FindingSpec("W_NONSTANDARD_KEY", _W, "a condition key that AWS never puts in the request context",
                "INVALID_CONDITION_KEY"),
    FindingSpec("W_OPERATOR_TYPE_MISMATCH", _W, "a condition operator does not fit the type of its key",
                "MISMATCHED_CONDITION_OPERATOR"),
    FindingSpec("W_SINGLE_VALUE_OPERATOR_ON_MULTIVALUED_KEY", _W,
                "a multivalued key is used without `ForAnyValue:` or `ForAllValues:`",
                "MISSING_QUALIFIER_FOR_MULTIVALUED_KEY"),
    FindingSpec("W_SET_OPERATOR_ON_SINGLE_VALUED_KEY", _W,
                "`ForAnyValue:` or `ForAllValues:` is used with a single-valued key",
                "FOR_ALL_VALUES_WITH_SINGLE_VALUED_KEY"),
    FindingSpec("W_RESOURCE_TYPE_MISMATCH", _W, "no action of the statement takes a resource of this shape",
                "MISMATCHED_ACTION_FOR_RESOURCE"),
    FindingSpec("W_V1_RESOURCE_POLICY", _W,
                "a resource-based policy names a Lex V1 resource, which the current Lex V1 guide says has none"),
    FindingSpec("W_MISSING_VERSION", _W, "the policy has no `Version`: policy variables are literal text",
                "MISSING_VERSION"),
    FindingSpec("W_VARIABLE_WITHOUT_VERSION", _W, "a policy variable is literal text under this `Version`",
                "POLICY_VARIABLE_WITHOUT_VERSION"),
    FindingSpec("W_DUPLICATE_SID", _W, "two statements share a `Sid`", "DUPLICATE_SID"),
    FindingSpec("W_INVALID_SID", _W, "a `Sid` has characters an identity-based policy does not accept",
                "INVALID_SID_VALUE"),
    FindingSpec("W_EMPTY_SID", _SUG, "a `Sid` is empty", "EMPTY_SID_VALUE"),
    FindingSpec("W_EMPTY_ARRAY", _SUG, "an `Action` or `Resource` array is empty: the statement matches nothing",
                "EMPTY_ARRAY_RESOURCE"),
    FindingSpec("W_EMPTY_STATEMENT_LIST", _SUG, "the policy has no statements", "EMPTY_STATEMENT"),
    FindingSpec("W_REDUNDANT_STATEMENT", _SUG, "a statement repeats another one", "REDUNDANT_STATEMENT"),
    FindingSpec("W_ALLOW_NOT_ACTION_ALL_RESOURCES", _S, "`Allow` with `NotAction` on every resource",
                "ALLOW_WITH_NOT_ACTION"),
    FindingSpec("W_ALLOW_NOT_RESOURCE", _S, "`Allow` with `NotResource`", "ALLOW_WITH_NOT_RESOURCE"),
    FindingSpec("W_PASS_ROLE_WITH_STAR", _S, "`iam:PassRole` allowed on every role", "PASS_ROLE_WITH_STAR_IN_RESOURCE"),
    FindingSpec("W_PUBLIC_RESOURCE_POLICY", _S, "a resource-based policy allows every principal without conditions",
                "EXTERNAL_PRINCIPAL"),
    FindingSpec("W_POLICY_SIZE_NEAR_QUOTA", _W, "the policy is close to AWS's size quota for its type"),
]

#: code -> spec, read-only.
FINDINGS = MappingProxyType({s.code: s for s in _SPECS})


def spec(code: str) -> FindingSpec:
    """The spec of a registered code; raises ``KeyError`` for an unregistered one (a bug in lexauthz)."""
    return FINDINGS[code]


def make_finding(code: str, message: str, *, path: str = "$", line: int | None = None, column: int | None = None,
                 source: str | None = None) -> Finding:
    """Build a :class:`Finding` whose severity comes from the registry."""
    return Finding(code, FINDINGS[code].severity, message, path, line, column, source)
