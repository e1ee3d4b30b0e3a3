"""The IAM catalog lexauthz validates and evaluates against: actions, resource types, condition keys.

Importing this package reads nothing; :func:`load_catalog` builds the catalog on first use.  See
:mod:`lexauthz.catalog.catalog` for the API and :mod:`lexauthz.catalog.overlay` for the hand-owned Lex facts.
"""
from lexauthz.catalog.catalog import (
    CONDITION_KEY_TYPES,
    ActionInfo,
    ActionRow,
    Catalog,
    ConditionKeyInfo,
    ResourceTypeInfo,
    ResourceTypeRef,
    arn_problem,
    catalog_version,
    is_valid_arn,
    load_catalog,
)

__all__ = [
    "Catalog",
    "ActionInfo",
    "ActionRow",
    "ResourceTypeRef",
    "ResourceTypeInfo",
    "ConditionKeyInfo",
    "CONDITION_KEY_TYPES",
    "load_catalog",
    "catalog_version",
    "arn_problem",
    "is_valid_arn",
]
