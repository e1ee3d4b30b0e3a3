"""lexauthz: IAM authorization for Amazon Lex, exactly as AWS IAM decides it.

The public surface is small and re-exported here on purpose; compiled internals stay private.  Nothing heavy runs
at import: the catalog loads on first use.
"""
from .decision import Decision, PolicyType, Response, StatementRef
from .errors import (
    CompileError,
    Finding,
    LexAuthzError,
    PlanFormatError,
    PolicyParseError,
    PolicyValidationError,
    RequestError,
    Severity,
    ValidationResult,
)
from .policy import (
    ApplicablePolicies,
    NamedPolicy,
    PolicyDocument,
    ValidationOptions,
    dump_policy,
    load_policy,
    parse_policy,
    validate_policy,
)
from .request import Context, Request

__version__ = "0.1.0"

__all__ = [
    "ApplicablePolicies",
    "CompileError",
    "Context",
    "Decision",
    "Finding",
    "LexAuthzError",
    "NamedPolicy",
    "PlanFormatError",
    "PolicyDocument",
    "PolicyParseError",
    "PolicyType",
    "PolicyValidationError",
    "Request",
    "RequestError",
    "Response",
    "Severity",
    "StatementRef",
    "ValidationOptions",
    "ValidationResult",
    "dump_policy",
    "load_policy",
    "parse_policy",
    "validate_policy",
    "__version__",
]
