"""IAM's condition operator names, as data shared by the parser, the validator and the evaluators.

Source: IAM User Guide, "IAM JSON policy elements: Condition operators"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
Operator names are case-sensitive: AWS rejects ``stringequals`` when a policy is saved.
"""
from __future__ import annotations

import re

__all__ = [
    "OPERATOR_FAMILIES",
    "BASE_OPERATORS",
    "QUALIFIERS",
    "NEGATED_OPERATORS",
    "parse_operator",
    "suggest_operator",
]

#: base operator -> family (the kind of value it compares)
OPERATOR_FAMILIES: dict[str, str] = {
    "StringEquals": "String",
    "StringNotEquals": "String",
    "StringEqualsIgnoreCase": "String",
    "StringNotEqualsIgnoreCase": "String",
    "StringLike": "String",
    "StringNotLike": "String",
    "NumericEquals": "Numeric",
    "NumericNotEquals": "Numeric",
    "NumericLessThan": "Numeric",
    "NumericLessThanEquals": "Numeric",
    "NumericGreaterThan": "Numeric",
    "NumericGreaterThanEquals": "Numeric",
    "DateEquals": "Date",
    "DateNotEquals": "Date",
    "DateLessThan": "Date",
    "DateLessThanEquals": "Date",
    "DateGreaterThan": "Date",
    "DateGreaterThanEquals": "Date",
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "IPAddress",
    "NotIpAddress": "IPAddress",
    "ArnEquals": "ARN",
    "ArnLike": "ARN",
    "ArnNotEquals": "ARN",
    "ArnNotLike": "ARN",
    "Null": "Null",
}

BASE_OPERATORS: frozenset[str] = frozenset(OPERATOR_FAMILIES)

#: The set-operator prefixes for multivalued context keys.
QUALIFIERS: frozenset[str] = frozenset({"ForAnyValue", "ForAllValues"})

#: Operators whose result is the negation of a positive operator.
NEGATED_OPERATORS: frozenset[str] = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
        "ArnNotEquals",
        "ArnNotLike",
    }
)

_OPERATOR_RE = re.compile(r"^(?:(ForAnyValue|ForAllValues):)?([A-Za-z]+?)(IfExists)?$")


def parse_operator(text: str) -> tuple[str | None, str, bool] | None:
    """Split ``ForAnyValue:StringLikeIfExists`` into ``("ForAnyValue", "StringLike", True)``.

    Returns ``None`` when ``text`` is not a valid IAM operator (case-sensitive).  ``Null`` takes no ``IfExists``
    suffix (the guide: "...IfExists ... except the Null condition").
    """
    m = _OPERATOR_RE.match(text)
    if not m:
        return None
    qualifier, base, if_exists = m.group(1), m.group(2), bool(m.group(3))
    if base not in BASE_OPERATORS:
        # "StringEqualsIfExists" matches the regex lazily as base="StringEquals"; anything else is unknown.
        return None
    if base == "Null" and if_exists:
        return None
    return qualifier, base, if_exists


def suggest_operator(text: str) -> str | None:
    """A did-you-mean for an unknown operator: the valid spelling when only letter case differs."""
    m = re.match(r"^(?:(foranyvalue|forallvalues):)?(.*?)(ifexists)?$", text, re.IGNORECASE)
    if not m:
        return None
    base_lower = m.group(2).lower()
    for base in OPERATOR_FAMILIES:
        if base.lower() == base_lower:
            out = base
            if m.group(1):
                q = "ForAnyValue" if m.group(1).lower() == "foranyvalue" else "ForAllValues"
                out = f"{q}:{out}"
            if m.group(3) and base != "Null":
                out += "IfExists"
            return out
    import difflib

    close = difflib.get_close_matches(m.group(2), list(OPERATOR_FAMILIES), n=1, cutoff=0.75)
    return close[0] if close else None
