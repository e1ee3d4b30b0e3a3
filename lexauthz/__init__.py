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

# The compiled engine pulls in numpy and pyroaring: load it on first use, so that `import lexauthz` stays light.
_LAZY = {"PolicySet": "account", "Engine": "engine"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lexauthz' has no attribute '{name}'")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "ApplicablePolicies",
    "CompileError",
    "Context",
    "Decision",
    "Engine",
    "Finding",
    "LexAuthzError",
    "NamedPolicy",
    "PlanFormatError",
    "PolicyDocument",
    "PolicyParseError",
    "PolicySet",
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
