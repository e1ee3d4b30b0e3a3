"""Action and resource matching: the ``Action``/``NotAction`` and ``Resource``/``NotResource`` elements.

Part of the reference evaluator.  The rules, from the IAM User Guide:

- "IAM JSON policy elements: Action"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html): an action is
  ``service:Action``; "the service prefix and the action name are case insensitive"; wildcards ``*`` and ``?`` may be
  used ("You can use wildcards (* or ?) ... to allow or deny access to multiple actions").
- "IAM JSON policy elements: NotAction"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html): the statement
  applies to every action *except* those listed.
- "IAM JSON policy elements: Resource"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html), section "Using
  wildcards in resource ARNs": "You can use wildcard characters (* and ?) within the individual segments of an ARN
  (the parts separated by colons)"; "If the * wildcard is the last character of a resource ARN segment, it can
  expand to match beyond the colon boundaries"; "The asterisk (*) character can expand to replace everything within
  a segment, including characters like a forward slash (/)".
- "IAM JSON policy elements: NotResource"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html): the statement
  applies to every resource *except* those listed.
- "IAM policy elements: Variables and tags"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html): variables in ``Resource`` are
  replaced by request-context values before the ARN is matched, under ``Version: 2012-10-17`` only.

How an ARN pattern is matched (the choices this reference makes, in the order they apply):

1. A ``Resource`` value of ``*`` matches every resource, including the ``*`` of actions that have no resource-level
   permissions.  Any other value is an ARN pattern; it never matches the resource ``*`` (a request for an action
   without resource-level permissions is matched only by ``"Resource": "*"``).
2. Policy variables are resolved only in the resource portion of the ARN, after the fifth colon: "You can use a
   policy variable in the ``Resource`` element, but only in the resource portion of the ARN.  This portion of the ARN
   appears after the fifth colon (:).  You can't use a variable to replace parts of the ARN before the fifth colon,
   such as the service or account" ("IAM policy elements: Variables and tags", "Where you can use policy
   variables").  A ``${...}`` before the fifth colon therefore stays literal text and cannot match a real ARN field.
   (The corpus README's divergence 2 expected such variables to resolve; AWS's page says otherwise, and the
   simulator's labels agree with the page.)  A variable in the resource portion whose key is missing (and has no
   default) makes the value match nothing; its key is reported as a missing context value.  Resolved values are
   literal text, never wildcards.
3. The pattern and the ARN are cut into their six colon-separated fields (``arn``, partition, service, region,
   account, resource).  The first five fields are matched field by field: a wildcard there stays inside its field.
   The sixth field (the resource part, ``bot:OrderFlowers:prod`` or ``bot-alias/ID/ALIAS``) is matched as a whole:
   ``*`` spans ``:`` and ``/`` in it, so ``bot:*`` matches ``bot:OrderFlowers:prod`` and ``bot*`` matches both
   ``bot:...`` and ``bot/...``.  A wildcard in the resource-type part of the sixth field is an ordinary wildcard.
4. A pattern with fewer than six fields matches only if its last field ends with ``*``, which then covers the rest
   of the ARN, colons included ("it can expand to match beyond the colon boundaries").
5. Matching is case-sensitive in every field.  AWS documents ARN comparison as case-sensitive ("ArnLike:
   Case-sensitive matching of the ARN. Each of the six colon-delimited components of the ARN is checked separately",
   "IAM JSON policy elements: Condition operators"), and "In the Resource element, the IAM user name is case
   sensitive".
"""
from __future__ import annotations

import functools
from typing import Mapping

from ..policy.model import Statement
from .variables import referenced_keys, substitute_pattern
from .wildcard import ANY, Pattern, wildcard_match

__all__ = [
    "action_matches",
    "statement_matches_action",
    "arn_matches",
    "resource_matches",
    "statement_matches_resource",
]

_ARN_FIELDS = 6


def action_matches(pattern: str, action: str) -> bool:
    """Whether one ``Action`` value matches the requested action.

    Rule ("IAM JSON policy elements: Action"): case-insensitive, with ``*`` and ``?`` wildcards over the whole
    ``service:Action`` text.

    >>> action_matches("lex:Recogn*", "lex:RecognizeText")
    True
    >>> action_matches("LEX:posttext", "lex:PostText")
    True
    >>> action_matches("lex:Get?ot", "lex:GetBots")
    False
    """
    return _action_matches(pattern, action)


# NOTE: caching does not change any result (both functions are pure); it keeps the corpus runner at thousands of
# cases per second, since the same patterns recur in every case.
@functools.lru_cache(maxsize=65536)
def _action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)


def statement_matches_action(statement: Statement, action: str) -> bool:
    """Whether the statement's ``Action`` or ``NotAction`` element covers the requested action.

    Rules: ``Action`` matches when any value matches ("IAM JSON policy elements: Action"); ``NotAction`` matches
    when no value matches ("IAM JSON policy elements: NotAction").  A statement with neither is refused by the
    parser and never reaches the evaluator.
    """
    if statement.action is not None:
        return any(action_matches(p, action) for p in statement.action)
    if statement.not_action is not None:
        return not any(action_matches(p, action) for p in statement.not_action)
    return False


@functools.lru_cache(maxsize=65536)
def _arn_fields(pattern: Pattern) -> tuple[Pattern, ...]:
    return tuple(pattern.split(":", _ARN_FIELDS - 1))


def arn_matches(pattern: Pattern, arn: str) -> bool:
    """Whether an ARN pattern (variables already resolved) matches the ARN ``arn``: rules 3 to 5 of the module
    docstring.

    >>> alias = "arn:aws:lex:us-east-1:123456789012:bot:OrderFlowers:prod"
    >>> arn_matches(Pattern.parse("arn:aws:lex:*:*:bot:Order*"), alias)
    True
    >>> arn_matches(Pattern.parse("arn:aws:lex:us-*-1:123456789012:bot*"), alias)
    True
    >>> arn_matches(Pattern.parse("arn:aws:lex:us-east-1:*"), alias)
    True
    >>> arn_matches(Pattern.parse("arn:aws:lex:*:bot:OrderFlowers:prod"), alias)
    False
    """
    fields = arn.split(":", _ARN_FIELDS - 1)
    if len(fields) != _ARN_FIELDS:
        return False
    pfields = _arn_fields(pattern)
    if len(pfields) == _ARN_FIELDS:
        # Rule 3: the first five fields one by one, the resource part as a whole.
        return all(p.matches(f) for p, f in zip(pfields, fields))
    # Rule 4: a shorter pattern's last field must end with `*`, which covers the rest of the ARN.
    last = pfields[-1]
    if not last.parts or last.parts[-1] is not ANY:
        return False
    head = len(pfields) - 1
    if not all(p.matches(f) for p, f in zip(pfields[:head], fields[:head])):
        return False
    return last.matches(":".join(fields[head:]))


def _value_matches(value: str, resource: str, context: Mapping, variables_enabled: bool) -> bool | None:
    """Rules 1 to 5 for one value; ``None`` when a policy variable in it has no value (rule 2)."""
    if value == "*":
        return True  # rule 1
    if resource == "*":
        return False  # rule 1: only `"Resource": "*"` covers actions without resource-level permissions
    if "${" in value:
        head, tail = _split_resource_portion(value)
        resolved = substitute_pattern(tail, context, enabled=variables_enabled)
        if resolved is None:
            return None  # rule 2: a variable without a value
        pattern = Pattern.concat([_parse(head), resolved]) if head else resolved  # rule 2: the head stays literal
    else:
        pattern = _parse(value)  # no variable: the same pattern whatever the context
    return arn_matches(pattern, resource)


def _split_resource_portion(value: str) -> tuple[str, str]:
    """Cut a Resource value after its fifth colon, counting only colons outside ``${...}``: ``(head, resource part)``.

    A value with fewer than five such colons has no resource portion: all of it is head (rule 2 leaves it literal).
    """
    colons = 0
    depth = 0
    i = 0
    while i < len(value):
        if value.startswith("${", i):
            depth += 1
            i += 2
            continue
        c = value[i]
        if c == "}" and depth:
            depth -= 1
        elif c == ":" and not depth:
            colons += 1
            if colons == 5:
                return value[: i + 1], value[i + 1 :]
        i += 1
    return value, ""


@functools.lru_cache(maxsize=65536)
def _parse(value: str) -> Pattern:
    return Pattern.parse(value)


def _note_missing(value: str, context: Mapping, missing: set | None) -> None:
    if missing is not None:
        # rule 2: only variables in the resource portion are resolved, so only their keys can be missing
        tail = _split_resource_portion(value)[1]
        missing.update(k for k in referenced_keys(tail) if not isinstance(context.get(k), str))


def resource_matches(value: str, resource: str, context: Mapping, *, variables_enabled: bool,
                     missing: set | None = None) -> bool:
    """Whether one ``Resource`` value matches the requested resource.

    Parameters
    ----------
    value:
        The value as written in the policy: ``*`` or an ARN pattern, possibly with policy variables.
    resource:
        The requested resource: an ARN, or ``*`` for actions without resource-level permissions.
    context:
        The request context, for policy variables.
    variables_enabled:
        Whether the policy's ``Version`` is ``2012-10-17`` (otherwise ``${...}`` is literal text).
    missing:
        When given, the keys of variables that have no value are added to it.

    Returns
    -------
    bool
        ``False`` as well when a variable has no value: the value then matches no resource.

    >>> from lexauthz.request import Context
    >>> ctx = Context({"aws:username": "bob"})
    >>> pattern, bot = "arn:aws:lex:*:*:bot:${aws:username}*", "arn:aws:lex:us-east-1:123456789012:bot:bob_bot"
    >>> resource_matches(pattern, bot, ctx, variables_enabled=True)
    True
    >>> resource_matches(pattern, bot, ctx, variables_enabled=False)
    False
    """
    hit = _value_matches(value, resource, context, variables_enabled)
    if hit is None:
        _note_missing(value, context, missing)
        return False
    return hit


def statement_matches_resource(statement: Statement, resource: str, context: Mapping, *, variables_enabled: bool,
                               missing: set | None = None) -> bool:
    """Whether the statement's ``Resource`` or ``NotResource`` element covers the requested resource.

    Rules: ``Resource`` matches when any value matches ("IAM JSON policy elements: Resource"); ``NotResource``
    matches when no value matches ("IAM JSON policy elements: NotResource").  A statement with neither matches no
    resource (the validator reports ``E_MISSING_RESOURCE``; AWS requires one of the two).

    A ``NotResource`` value whose policy variable has no value makes the statement match nothing: "If AWS cannot
    resolve a variable this might cause the entire statement to be invalid" ("IAM policy elements: Variables and
    tags").  Reading the value as "matches no resource" instead would turn an unresolvable exclusion into a
    statement about every resource.

    Every value is examined (no short cut), so that ``missing`` collects every key without a value.
    """
    if statement.resource is not None:
        hits = [resource_matches(v, resource, context, variables_enabled=variables_enabled, missing=missing)
                for v in statement.resource]
        return any(hits)
    if statement.not_resource is not None:
        unresolved = False
        excluded = False
        for v in statement.not_resource:
            hit = _value_matches(v, resource, context, variables_enabled)
            if hit is None:
                unresolved = True
                _note_missing(v, context, missing)
            elif hit:
                excluded = True
        return not (unresolved or excluded)
    return False
