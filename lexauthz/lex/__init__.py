"""Amazon Lex for lexauthz: ARNs, the per-operation table, resource and principal stores, API call translation.

A Lex API call (:class:`LexCall`) becomes the IAM authorization request(s) AWS evaluates for it
(:func:`to_requests`), with the principal context from a :class:`PrincipalStore` and the resource tags from a
:class:`ResourceStore`.  :func:`load_demo` reads the bundled example's curated calls; accounts are
:mod:`lexauthz.account`'s.
"""
from .arns import (
    ALL,
    ALL_ALIASES,
    LATEST,
    Family,
    LexArn,
    ResourceType,
    build_arn,
    classify_qualifier,
    is_v2_arn,
    parse_arn,
)
from .call import LexCall, authorization_requests, call_decision, plan_call, to_requests
from .demo_calls import DemoCase, load_demo
from .operations import OPERATIONS, Api, Operation, Step, TagSource, get_operation, operations_named
from .principals import IamRole, IamUser, PrincipalStore, PrincipalType, ResolvedPrincipal, RoleSession
from .resources import CHANNEL_TYPES, LexResource, ResourceStore
from .tags import Tags, parse_tags

__all__ = [
    "ALL",
    "ALL_ALIASES",
    "Api",
    "CHANNEL_TYPES",
    "DemoCase",
    "Family",
    "IamRole",
    "IamUser",
    "LATEST",
    "LexArn",
    "LexCall",
    "LexResource",
    "OPERATIONS",
    "Operation",
    "PrincipalStore",
    "PrincipalType",
    "ResolvedPrincipal",
    "ResourceStore",
    "ResourceType",
    "RoleSession",
    "Step",
    "TagSource",
    "Tags",
    "authorization_requests",
    "build_arn",
    "call_decision",
    "classify_qualifier",
    "get_operation",
    "is_v2_arn",
    "load_demo",
    "operations_named",
    "parse_arn",
    "parse_tags",
    "plan_call",
    "to_requests",
]
