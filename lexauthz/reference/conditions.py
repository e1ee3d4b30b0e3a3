"""The ``Condition`` element: condition operators, ``...IfExists``, ``ForAnyValue:`` / ``ForAllValues:``, ``Null``.

Part of the reference evaluator, the readable specification of IAM semantics.  Each function implements one rule
of the IAM User Guide and cites the page it follows.  The pages, referred to below by their short names:

- OPERATORS: "IAM JSON policy elements: Condition operators",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- MULTIPLE: "Conditions with multiple context keys or values",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
- MULTIVALUED: "Single-valued vs. multivalued context keys",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
- EXAMPLES: "Multivalued context key examples",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
- VARIABLES: "IAM policy elements: Variables and tags",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

How one clause (``operator: {key: [values]}``) is decided, in the order :func:`clause_matches` applies the rules:

1. An operator that is not one of IAM's names never matches (AWS refuses such a policy when it is saved; the
   validator reports it and the evaluators do not run such a policy, so this is only a safe default).  This
   includes a qualifier other than ``ForAnyValue``/``ForAllValues`` and ``NullIfExists``.
2. ``...IfExists`` on a key missing from the context matches, whatever the operator and qualifier.
3. A set qualifier applies before the operator, for every operator, ``Null`` included (see
   :func:`set_qualifier_matches`).  When the request has no value for the key (the key is missing, or its value
   resolves to a null data set: an empty list or an empty string), ``ForAllValues:`` matches and ``ForAnyValue:``
   does not, whatever the operator and its values.  Otherwise ``ForAnyValue:`` matches when at least one context
   value satisfies the operator and ``ForAllValues:`` when every one does; a single-valued context value is a set
   of one.
4. Without a qualifier, ``Null`` tests whether the key is present: ``"true"`` matches when it is absent,
   ``"false"`` when present.
5. Without a qualifier, a key missing from the context: a negated operator (``StringNotEquals``, ``NotIpAddress``,
   ...) matches; any other operator does not.
6. Without a set qualifier, a multivalued (list) context value never matches, negated operators included (see
   :func:`single_valued_operator_on_list`).
7. One context value against the policy values: OR across the values, NOR for a negated operator.  A pair that
   cannot be compared (a non-numeric value for ``Numeric*``, an unparsable date or address, a non-ARN for
   ``Arn*``, on either side) is no match, and it also makes the negated operator false: ``NumericNotEquals`` does
   not claim that ``"abc"`` differs from ``5``.  A policy value whose variable has no value is unlike everything:
   it never satisfies a positive operator and never stops a negated one (VARIABLES, "Policy variables with no
   value").

Policy variables are substituted only in the values of the operators that support them: ``String*``, ``Arn*`` and
``Bool`` (OPERATORS, "Policy variables - Supported" for those families, "Not supported" for ``Numeric*``, ``Date*``,
``BinaryEquals``, ``IpAddress``/``NotIpAddress`` and ``Null``).  In the other operators ``${...}`` is literal text,
which then fails to parse as a number, date or address and so never matches.
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Callable, Optional

from ..policy.model import ConditionClause
from ..request import Context
from .variables import referenced_keys, substitute_pattern
from .wildcard import Pattern

__all__ = [
    "STRING_OPERATORS",
    "NUMERIC_OPERATORS",
    "DATE_OPERATORS",
    "BOOLEAN_OPERATORS",
    "BINARY_OPERATORS",
    "IP_ADDRESS_OPERATORS",
    "ARN_OPERATORS",
    "NULL_OPERATOR",
    "KNOWN_OPERATORS",
    "NEGATED_OPERATORS",
    "VARIABLE_OPERATORS",
    "SET_QUALIFIERS",
    "condition_block_matches",
    "clause_matches",
    "null_matches",
    "missing_key_matches",
    "set_qualifier_matches",
    "request_value_set",
    "single_valued_operator_on_list",
    "value_matches",
    "string_equals",
    "string_equals_ignore_case",
    "string_like",
    "numeric_compare",
    "parse_number",
    "date_compare",
    "parse_date",
    "bool_equals",
    "binary_equals",
    "ip_address_in",
    "arn_like",
]

OPERATORS_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"

# -- the operator names, exactly as AWS spells them (OPERATORS) ---------------------------------------------------

#: String condition operators (OPERATORS #Conditions_String).
STRING_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
)
#: Numeric condition operators (OPERATORS #Conditions_Numeric).
NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
)
#: Date condition operators (OPERATORS #Conditions_Date).
DATE_OPERATORS = (
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
)
#: Boolean condition operators (OPERATORS #Conditions_Boolean).
BOOLEAN_OPERATORS = ("Bool",)
#: Binary condition operators (OPERATORS #Conditions_BinaryEquals).
BINARY_OPERATORS = ("BinaryEquals",)
#: IP address condition operators (OPERATORS #Conditions_IPAddress).
IP_ADDRESS_OPERATORS = ("IpAddress", "NotIpAddress")
#: Amazon Resource Name (ARN) condition operators (OPERATORS #Conditions_ARN).
ARN_OPERATORS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
#: The condition operator that checks whether a key is present (OPERATORS #Conditions_Null).
NULL_OPERATOR = "Null"

#: Every base operator name (without ``IfExists`` or a set qualifier).
KNOWN_OPERATORS: frozenset[str] = frozenset(
    STRING_OPERATORS
    + NUMERIC_OPERATORS
    + DATE_OPERATORS
    + BOOLEAN_OPERATORS
    + BINARY_OPERATORS
    + IP_ADDRESS_OPERATORS
    + ARN_OPERATORS
    + (NULL_OPERATOR,)
)

#: Each negated operator and the positive operator it negates.  "If a single negated matching condition operator
#: includes multiple values for a context key, those values are evaluated using a logical NOR" (MULTIPLE).
NEGATION_OF: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
#: The negated operators.
NEGATED_OPERATORS: frozenset[str] = frozenset(NEGATION_OF)

#: The operators whose values may hold policy variables (OPERATORS, "Policy variables - Supported").
VARIABLE_OPERATORS: frozenset[str] = frozenset(STRING_OPERATORS + ARN_OPERATORS + BOOLEAN_OPERATORS)

#: The set qualifiers for multivalued keys (MULTIVALUED, "Set operators for multivalued context keys").
SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")

# A comparison of one context value with one policy value: True, False, or None when the two cannot be compared
# (a value of the wrong type).  None never counts as a match, and it also defeats a negated operator.
Comparison = Optional[bool]


# =================================================================================================================
# The condition block and one clause
# =================================================================================================================


def condition_block_matches(
    clauses: tuple[ConditionClause, ...],
    context: Context,
    *,
    variables_enabled: bool,
    missing: set[str] | None = None,
) -> bool:
    """Whether a statement's whole ``Condition`` element matches the request context.

    "If your policy statement has multiple condition operators, the condition operators are evaluated using a
    logical AND.  If your policy statement has multiple context keys attached to a single condition operator, the
    context keys are evaluated using a logical AND" (MULTIPLE,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
    The model already holds one :class:`~lexauthz.policy.model.ConditionClause` per operator and key, so the block
    matches when every clause does; an empty block matches.

    Parameters
    ----------
    clauses:
        The statement's ``condition``.
    context:
        The request context.
    variables_enabled:
        Whether policy variables are substituted (the policy's ``Version`` is ``2012-10-17``).
    missing:
        If given, every key that a clause names, or that a policy variable in a clause value names, and that the
        context lacks is added to it, in the spelling the policy uses.  Every clause is evaluated (no short
        cut) so that the set is complete.

    Returns
    -------
    bool
        True when all clauses match.
    """
    results = [
        clause_matches(clause, context, variables_enabled=variables_enabled, missing=missing) for clause in clauses
    ]
    return all(results)


def clause_matches(
    clause: ConditionClause,
    context: Context,
    *,
    variables_enabled: bool,
    missing: set[str] | None = None,
) -> bool:
    """Whether one ``operator: {key: values}`` clause matches the request context.

    Applies rules 1 to 7 of the module docstring; each rule is a function below.  ``missing`` collects absent keys,
    as for :func:`condition_block_matches`.
    """
    base = clause.base
    substitutes = variables_enabled and base in VARIABLE_OPERATORS
    if missing is not None:
        _record_missing(clause, context, substitutes, missing)

    # Rule 1: an operator that IAM does not know never matches.
    if base not in KNOWN_OPERATORS or (base == NULL_OPERATOR and clause.if_exists):
        return False
    if clause.qualifier is not None and clause.qualifier not in SET_QUALIFIERS:
        return False

    value = context.get(clause.key)

    # Rule 2: ...IfExists on a missing key.
    if value is None and clause.if_exists:
        return missing_key_matches(clause)

    # Rule 3: a set qualifier applies before the operator, Null included.
    if clause.qualifier is not None:
        if base == NULL_OPERATOR:
            return set_qualifier_matches(clause.qualifier, value, lambda v: null_matches(clause.values, v))
        policy_values = _policy_values(base, clause.values, context, variables_enabled)
        return set_qualifier_matches(clause.qualifier, value, lambda v: value_matches(base, v, policy_values))

    # Rule 4: Null tests presence only.
    if base == NULL_OPERATOR:
        return null_matches(clause.values, value)

    # Rule 5: the key is missing.
    if value is None:
        return missing_key_matches(clause)

    policy_values = _policy_values(base, clause.values, context, variables_enabled)

    # Rule 6: a single-valued operator on a list.
    if isinstance(value, tuple):
        return single_valued_operator_on_list(base, value, policy_values)

    # Rule 7: one value.
    return value_matches(base, value, policy_values)


def set_qualifier_matches(
    qualifier: str, context_value: str | tuple[str, ...] | None, member_matches: Callable[[str], bool]
) -> bool:
    """``ForAllValues:`` or ``ForAnyValue:`` around any operator: the qualifier ranges over the request's values.

    - ``ForAllValues``: "The condition returns true if every context key value in the request matches a context
      key value in the policy.  It also returns true if there are no context keys in the request" (MULTIVALUED,
      "Set operators for multivalued context keys"); "The ForAllValues set operator also returns true if there are
      no context keys in the request" (EXAMPLES).
    - ``ForAnyValue``: true when at least one member of the request's set of values matches one of the policy's
      values (MULTIVALUED, same section), so false when the request has no value for the key.
    - The empty data set: "If the key values in the request resolve to an empty data set (for example, an empty
      string), a condition operator modified by ForAllValues returns true, and a condition operator modified by
      ForAnyValue returns false" (the page's earlier edition,
      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html).

    The qualifier decides before the operator, for every operator: the introduction of OPERATORS ("If the key ...
    is not present in the request context, the values do not match and the condition is false.  If the policy
    condition requires that the key is not matched ... the condition is true") is about the bare operator, and the
    set rules above say what a qualified operator returns with no request values, without exception.  So
    ``ForAnyValue:StringNotEquals`` on a missing key is false, ``ForAllValues:StringEquals`` on a missing key is
    true, and ``Null`` is no exception either: ``ForAllValues:Null`` with ``"false"`` is true on a missing key (the
    vacuous truth that EXAMPLES warns about), and ``ForAnyValue:Null`` with ``"true"`` is false on one.  For a
    present value, ``Null`` is applied to each member, which is never null, so ``"false"`` matches it and
    ``"true"`` does not.

    Parameters
    ----------
    qualifier:
        ``"ForAllValues"`` or ``"ForAnyValue"``.
    context_value:
        The request's value for the key, ``None`` when the key is missing.
    member_matches:
        The operator (with the clause's policy values) applied to one request value.
    """
    members = request_value_set(context_value)
    if qualifier == "ForAnyValue":
        return any(member_matches(v) for v in members)
    return all(member_matches(v) for v in members)  # ForAllValues; empty set: vacuously true


def request_value_set(context_value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """The set of request values a set qualifier ranges over.

    A missing key and a value that resolves to a null data set are the empty set: "If the key values in the
    request resolve to an empty data set (for example, an empty string)" (MULTIVALUED, earlier edition, quoted
    in :func:`set_qualifier_matches`).  So ``None`` (missing), ``()`` (an empty list) and ``""`` (an empty string)
    give ``()``.  Any other string is a set of one; a list is the set of its members (an empty string inside a
    non-empty list is kept as a member: the guide's example is a value that is an empty string, not a member).
    """
    if context_value is None or context_value == "" or context_value == ():
        return ()
    return context_value if isinstance(context_value, tuple) else (context_value,)


def null_matches(policy_values: tuple[str, ...], context_value: str | tuple[str, ...] | None) -> bool:
    """``Null`` without a set qualifier: ``"true"`` matches when the key is absent, ``"false"`` when it is present.

    "Use a Null condition operator to check if a condition key is absent at the time of authorization.  In the
    policy statement, use either true (the key doesn't exist — it is null) or false (the key exists and its value
    is not null)" (OPERATORS #Conditions_Null).  Several values are ORed, as for every operator.  The words are
    compared case-insensitively (JSON ``true`` reaches the model as ``"true"``); any other value never matches.

    A multivalued key given as an empty list counts as null: the IAM guide's multivalued examples add ``Null``
    with ``false`` so that a missing key, or a key with an empty value, cannot satisfy a ``ForAllValues`` condition
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html).
    An empty string is a value (the key is present).  With ``ForAllValues:``/``ForAnyValue:`` the qualifier
    applies first and this function tests each request value (:func:`set_qualifier_matches`).
    """
    is_null = context_value is None or context_value == ()
    wanted = "true" if is_null else "false"
    return any(v.lower() == wanted for v in policy_values)


def missing_key_matches(clause: ConditionClause) -> bool:
    """The result of a clause whose key is not in the request context.

    :func:`clause_matches` asks it only for a clause with ``...IfExists`` or without a set qualifier; the qualifier
    cases are kept here so that the function answers every clause.

    - "If the key that you specify in a policy condition is not present in the request context, the values do not
      match and the condition is false.  If the policy condition requires that the key is not matched, such as
      StringNotLike or ArnNotLike, and the right key is not present, the condition is true.  This logic applies to
      all condition operators except ...IfExists and Null check" (OPERATORS, introduction).
    - ``...IfExists``: "If the key is not present, evaluate the condition element as true" (OPERATORS
      #Conditions_IfExists), for negated operators too.
    - ``ForAllValues`` is true and ``ForAnyValue`` false when the request has no value for the key.  MULTIVALUED
      ("Set operators for multivalued context keys") says ``ForAllValues`` also returns true when the key is not
      in the request; the page's earlier edition
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html) says both
      halves: "If the key values in the request resolve to an empty data set (for example, an empty string), a
      condition operator modified by ForAllValues returns true, and a condition operator modified by ForAnyValue
      returns false".  The set qualifier decides before the negation: ``ForAnyValue:StringNotEquals`` on a
      missing key is false, ``ForAllValues:StringEquals`` on a missing key is true.
    """
    if clause.if_exists:
        return True
    if clause.qualifier == "ForAllValues":
        return True
    if clause.qualifier == "ForAnyValue":
        return False
    return clause.base in NEGATED_OPERATORS


def single_valued_operator_on_list(base: str, context_values: tuple[str, ...], policy_values: list) -> bool:
    """A condition operator without ``ForAnyValue:``/``ForAllValues:`` applied to a multivalued (list) key.

    The IAM guide says only that "Multivalued context keys require a condition set operator" and "Do not use a
    condition set operator with a single-valued context key" (MULTIVALUED); it does not say what AWS does with a
    bare operator on a list.  This reference follows the independent simulator that labelled the project's corpus:
    such a clause never matches, whatever the operator (negated ones included) and however many values the list
    holds.  An ``...IfExists`` clause on a key that is present but a list is likewise false.
    """
    return False


# =================================================================================================================
# One context value against the policy values
# =================================================================================================================


def value_matches(base: str, context_value: str, policy_values: list) -> bool:
    """Whether one context value satisfies ``base`` against the clause's (already substituted) policy values.

    "If a single condition operator includes multiple values for a context key, those values are evaluated using
    a logical OR.  If a single negated matching condition operator includes multiple values for a context key,
    those values are evaluated using a logical NOR" (MULTIPLE).

    ``policy_values`` holds, for the operators that support variables, a
    :class:`~lexauthz.reference.wildcard.Pattern` per value or ``None`` for a value whose variable has no value;
    for the others, the value text.  A ``None`` value matches nothing: it never satisfies a positive operator and
    never stops a negated one (VARIABLES #policy-vars-no-value).  A comparison that cannot be made (wrong type)
    satisfies neither (rule 7 of the module docstring).
    """
    positive = NEGATION_OF.get(base, base)
    compare = _COMPARISONS[positive]
    results: list[Comparison] = [
        False if pv is None else compare(positive, context_value, pv) for pv in policy_values
    ]
    if base in NEGATED_OPERATORS:
        return all(r is False for r in results)
    return any(r is True for r in results)


# -- String (OPERATORS #Conditions_String) ------------------------------------------------------------------------


def string_equals(op: str, context_value: str, policy_value: Pattern) -> Comparison:
    """``StringEquals``: "Exact matching, case sensitive".  ``*`` and ``?`` are ordinary characters here."""
    return context_value == policy_value.text


def string_equals_ignore_case(op: str, context_value: str, policy_value: Pattern) -> Comparison:
    """``StringEqualsIgnoreCase``: "Exact matching, ignoring case" (both sides compared after :meth:`str.lower`)."""
    return context_value.lower() == policy_value.text.lower()


def string_like(op: str, context_value: str, policy_value: Pattern) -> Comparison:
    """``StringLike``: "Case-sensitive matching.  The values can include multi-character match wildcards (*) and
    single-character match wildcards (?) anywhere in the string.  You must specify wildcards to achieve partial
    string matches."  A ``*`` or ``?`` from ``${*}``/``${?}`` or from a variable's value is literal."""
    return policy_value.matches(context_value, ignore_case=False)


# -- Numeric (OPERATORS #Conditions_Numeric) ----------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

_NUMERIC_TESTS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "NumericEquals": lambda c, p: c == p,
    "NumericLessThan": lambda c, p: c < p,
    "NumericLessThanEquals": lambda c, p: c <= p,
    "NumericGreaterThan": lambda c, p: c > p,
    "NumericGreaterThanEquals": lambda c, p: c >= p,
}


def parse_number(text: str) -> Decimal | None:
    """An integer or decimal such as ``3600``, ``-1``, ``2.5`` or ``1e3``, or ``None`` for anything else.

    The numeric operators compare "a key to an integer or decimal value" (OPERATORS #Conditions_Numeric).  Values
    are read exactly (no binary floating point), so ``0.3`` equals ``0.30``.  Surrounding spaces, ``NaN`` and
    infinities are not numbers.
    """
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def numeric_compare(op: str, context_value: str, policy_value: str) -> Comparison:
    """``NumericEquals``, ``NumericLessThan``, ``NumericLessThanEquals``, ``NumericGreaterThan``,
    ``NumericGreaterThanEquals``: the context value compared with the policy value, in that order ("less than"
    means context value < policy value).  ``None`` when either side is not a number."""
    c, p = parse_number(context_value), parse_number(policy_value)
    if c is None or p is None:
        return None
    return _NUMERIC_TESTS[op](c, p)


# -- Date (OPERATORS #Conditions_Date) ----------------------------------------------------------------------------

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EPOCH_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")
# W3C "Date and Time Formats" (https://www.w3.org/TR/NOTE-datetime): YYYY-MM, YYYY-MM-DD, and a date with
# Thh:mm, Thh:mm:ss or Thh:mm:ss.s and a zone designator (Z or +hh:mm / -hh:mm).  A time without a zone is read as
# UTC, and +hhmm is accepted as well as +hh:mm.
_ISO_8601 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?)?"
)

_DATE_TESTS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "DateEquals": lambda c, p: c == p,
    "DateLessThan": lambda c, p: c < p,
    "DateLessThanEquals": lambda c, p: c <= p,
    "DateGreaterThan": lambda c, p: c > p,
    "DateGreaterThanEquals": lambda c, p: c >= p,
}


def parse_date(text: str) -> Decimal | None:
    """The instant ``text`` names, as exact seconds since 1970-01-01T00:00:00Z, or ``None``.

    "You must specify date/time values with one of the W3C implementations of the ISO 8601 date formats or in
    epoch (UNIX) time" (OPERATORS #Conditions_Date).  Both forms name an instant, and instants are what the date
    operators compare, so ``1700000000`` equals ``2023-11-14T22:13:20Z`` (the labelling simulator reads the two
    forms in different units; see the corpus README, divergence 6).

    - Text made only of digits (optionally signed, optionally with a fraction) is epoch seconds.  This is also why
      the bare-year ISO form ``YYYY`` is read as epoch seconds, not as a year.
    - Otherwise ``YYYY-MM``, ``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm``, ``...:ss``, ``...:ss.s`` (any number of
      fraction digits), with ``Z``, ``+hh:mm`` or ``-hh:mm``.  A missing time is midnight, a missing zone is UTC.
    """
    if _EPOCH_SECONDS.fullmatch(text):
        return Decimal(text)
    m = _ISO_8601.fullmatch(text)
    if m is None:
        return None
    g = m.groupdict()
    try:
        offset = _dt.timedelta(0)
        zone = g["zone"]
        if zone and zone not in ("Z", "z"):
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                return None
            offset = _dt.timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
        moment = _dt.datetime(
            int(g["year"]),
            int(g["month"]),
            int(g["day"] or 1),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
            tzinfo=_dt.timezone(offset),
        )
    except ValueError:  # month 13, February 30, hour 24, ...
        return None
    delta = moment - _EPOCH
    seconds = Decimal(delta.days * 86400 + delta.seconds)
    if g["fraction"]:
        seconds += Decimal("0" + g["fraction"])
    return seconds


def date_compare(op: str, context_value: str, policy_value: str) -> Comparison:
    """``DateEquals``, ``DateLessThan``, ``DateLessThanEquals``, ``DateGreaterThan``, ``DateGreaterThanEquals``:
    the instant in the context compared with the instant in the policy ("Matching before a specific date and
    time", ...).  ``None`` when either side is not a date.  "Wildcards are not permitted for date condition
    operators": a ``*`` makes the value unparsable."""
    c, p = parse_date(context_value), parse_date(policy_value)
    if c is None or p is None:
        return None
    return _DATE_TESTS[op](c, p)


# -- Boolean (OPERATORS #Conditions_Boolean) ----------------------------------------------------------------------


def bool_equals(op: str, context_value: str, policy_value: Pattern) -> Comparison:
    """``Bool``: "Boolean matching" of ``"true"`` and ``"false"``, compared case-insensitively (JSON ``true``
    reaches the model as ``"true"``).  ``None`` when either side is neither word."""
    c, p = context_value.lower(), policy_value.text.lower()
    if c not in ("true", "false") or p not in ("true", "false"):
        return None
    return c == p


# -- Binary (OPERATORS #Conditions_BinaryEquals) ------------------------------------------------------------------


def binary_equals(op: str, context_value: str, policy_value: str) -> Comparison:
    """``BinaryEquals``: "compares the value of the specified key byte for byte against a base-64 encoded
    representation of the binary value in the policy".

    Request contexts carry strings, so a binary key's value is given base-64 encoded too (as the IAM policy
    simulator API takes it).  Both sides are decoded (strict base-64) and the bytes compared, so two encodings of
    the same bytes are equal; ``None`` when either side is not valid base-64.
    """
    try:
        c = base64.b64decode(context_value, validate=True)
        p = base64.b64decode(policy_value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return c == p


# -- IP address (OPERATORS #Conditions_IPAddress) -----------------------------------------------------------------


def ip_address_in(op: str, context_value: str, policy_value: str) -> Comparison:
    """``IpAddress``: the context address lies in the policy's IPv4 or IPv6 range.

    "The value must be in the standard CIDR format (for example, 203.0.113.0/24 or 2001:DB8:1234:5678::/64).  If
    you specify an IP address without the associated routing prefix, IAM uses the default prefix value of /32"
    (``/128`` for an IPv6 address).  A prefix of ``/0`` contains every address of its family (the labelling
    simulator disagrees; corpus README, divergence 5).  Host bits after the prefix are ignored
    (``10.1.2.3/16`` is ``10.1.0.0/16``).  An IPv4 address is never in an IPv6 range, nor the reverse.  ``None``
    when either side does not parse.
    """
    try:
        address = ipaddress.ip_address(context_value)
        network = ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return None
    if address.version != network.version:
        return False
    return address in network


# -- ARN (OPERATORS #Conditions_ARN) ------------------------------------------------------------------------------


def arn_like(op: str, context_value: str, policy_value: Pattern) -> Comparison:
    """``ArnEquals`` and ``ArnLike``: "Case-sensitive matching of the ARN.  Each of the six colon-delimited
    components of the ARN is checked separately and each can include multi-character match wildcards (*) or
    single-character match wildcards (?).  The ArnEquals and ArnLike condition operators behave identically."

    Both ARNs are cut at their first five colons (the sixth field, the resource, may hold more colons), and each
    field of the context ARN must match the corresponding field of the pattern; so a ``*`` never reaches across a
    colon into the next field, while it may span colons inside the resource field.  Every field is compared
    case-sensitively, as the guide says (the labelling simulator ignores case in the region and account fields;
    no corpus case depends on it).

    ``None`` when either side has fewer than six fields, or does not start with ``arn``: it is not an ARN, and an
    ``ArnNotLike`` does not claim that a non-ARN differs from one.  Policy variables are resolved before the split
    (a variable may sit in any field; corpus README, divergence 2).
    """
    context_fields = context_value.split(":", 5)
    pattern_fields = policy_value.split(":", 5)
    if len(context_fields) != 6 or len(pattern_fields) != 6:
        return None
    if context_fields[0] != "arn" or not pattern_fields[0].matches("arn"):
        return None
    return all(p.matches(c, ignore_case=False) for p, c in zip(pattern_fields, context_fields))


# The positive comparison for each positive base operator.
_COMPARISONS: dict[str, Callable[[str, str, object], Comparison]] = {
    "StringEquals": string_equals,
    "StringEqualsIgnoreCase": string_equals_ignore_case,
    "StringLike": string_like,
    **{op: numeric_compare for op in _NUMERIC_TESTS},
    **{op: date_compare for op in _DATE_TESTS},
    "Bool": bool_equals,
    "BinaryEquals": binary_equals,
    "IpAddress": ip_address_in,
    "ArnEquals": arn_like,
    "ArnLike": arn_like,
}


# =================================================================================================================
# Helpers
# =================================================================================================================


def _policy_values(base: str, values: tuple[str, ...], context: Context, variables_enabled: bool) -> list:
    """The clause values ready for comparison.

    For an operator that supports variables (``String*``, ``Arn*``, ``Bool``): a :class:`Pattern` per value, its
    variables substituted when ``variables_enabled`` (``None`` for a value whose variable has no value).  For the
    other operators: the text as written.
    """
    if base in VARIABLE_OPERATORS:
        return [substitute_pattern(v, context, enabled=variables_enabled) for v in values]
    return list(values)


def _record_missing(clause: ConditionClause, context: Context, substitutes: bool, missing: set[str]) -> None:
    """Add to ``missing`` the clause key and the keys its values' variables name, when the context lacks them."""
    if clause.key not in context:
        missing.add(clause.key)
    if substitutes:
        for value in clause.values:
            for key in referenced_keys(value):
                if key not in context:
                    missing.add(key)
