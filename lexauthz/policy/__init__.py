"""The IAM policy language: model, parser, validator and the per-request bundle of applicable policies."""
from .applicable import ApplicablePolicies, NamedPolicy
from .model import ConditionClause, PolicyDocument, Principal, Statement
from .parser import ParseResult, dump_policy, load_policy, parse_policy
from .validate import DEFAULT_SIZE_QUOTAS, POLICY_TYPES, ValidationOptions, validate_document, validate_policy

__all__ = [
    "ApplicablePolicies",
    "NamedPolicy",
    "ConditionClause",
    "PolicyDocument",
    "Principal",
    "Statement",
    "ParseResult",
    "dump_policy",
    "load_policy",
    "parse_policy",
    "DEFAULT_SIZE_QUOTAS",
    "POLICY_TYPES",
    "ValidationOptions",
    "validate_document",
    "validate_policy",
]
