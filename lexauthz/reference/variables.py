"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``, ``${*}``, ``${?}``, ``${$}``.

Part of the reference evaluator.  Every rule below comes from the IAM User Guide, "IAM policy elements: Variables
and tags" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):

1. **Version.** Variables exist only in policies whose ``Version`` is ``2012-10-17``.  "If you don't include the
   Version element and set it to an appropriate version date, variables like ``${aws:username}`` are treated as
   literal strings in the policy."  Callers pass ``enabled=PolicyDocument.variables_enabled``.
2. **Syntax.** "The variable is marked using a ``$`` prefix followed by a pair of curly braces ({ }).  Inside the
   ``${ }`` characters, you can include the name of the value from the request."  Text such as ``${}`` or an
   unclosed ``${`` is not a variable and stays literal text.
3. **Key names are case-insensitive**: "``aws:CurrentTime`` is equivalent to ``AWS:currenttime``".  The lookup
   goes through :class:`lexauthz.request.Context`, which is case-insensitive.
4. **Default values** (#policy-vars-default-values): "surround the default value with single quotes (' '), and
   separate the variable text and the default value with a comma and space (, )": ``${aws:userid, 'anonymous'}``.
   This reference also accepts no space or several spaces around the comma.
5. **No value** (#policy-vars-no-value): a variable whose key is not in the request context, and that has no
   default, has no value at all (the guide calls it effectively null: nothing equals it or is like it).
   :func:`substitute` and
   :func:`substitute_pattern` return ``None`` for such text; the caller decides what that means (a ``Resource``
   entry then matches no resource; in a ``Condition`` the value matches nothing, so a positive operator such as
   ``StringEquals`` does not match and a negated one such as ``StringNotEquals`` does).
6. **Multivalued keys cannot be variables** ("You can use any available single-valued context key as a policy
   variable, but you can't use a multivalued context key as a policy variable",
   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
   A key whose context value is a list is therefore treated like a missing key: its default applies if there is
   one, otherwise the text is unresolved.
7. **Special characters** (#policy-vars-specialchars): ``${*}``, ``${?}`` and ``${$}`` stand for a literal ``*``,
   ``?`` and ``$``, so that a pattern can contain them without the wildcard meaning.

Two choices this reference makes where the guide is silent, both in the direction of "a value is data, not
pattern": the value a variable resolves to, and a default value, are literal text; a ``*`` in a principal tag never
acts as a wildcard in ``StringLike`` or in a ``Resource``.  Substitution happens once: a value that itself looks like
``${...}`` is not substituted again.

Variables are substituted in condition *values* and ``Resource``/``NotResource`` entries only; a condition *key*
such as ``aws:ResourceTag/${aws:username}`` is taken literally (the guide lists no other place that accepts them:
"You can use policy variables in the Resource element and in string comparisons in the Condition element").
"""
from __future__ import annotations

import re
from typing import Mapping

from .wildcard import Pattern

__all__ = [
    "Unresolved",
    "SPECIAL_CHARACTERS",
    "variable_value",
    "substitute_pattern",
    "substitute",
    "referenced_keys",
]

#: ``${*}``, ``${?}`` and ``${$}``: the characters they stand for, always literal.
SPECIAL_CHARACTERS = {"*": "*", "?": "?", "$": "$"}

# ``${`` then anything but braces, then ``}``.  What is inside decides whether it is a variable.
_REFERENCE = re.compile(r"\$\{(?P<body>[^{}]*)\}")
# The inside of a variable: a key name, optionally ``, 'default'``.  Key names hold no comma, quote or brace.
_BODY = re.compile(r"\s*(?P<key>[^,'{}\s][^,'{}]*?)\s*(?:,\s*'(?P<default>[^']*)'\s*)?")


class Unresolved(LookupError):
    """A policy variable names a key that the request context lacks (or holds as a list), and has no default.

    ``key`` is the key as written in the policy.  :func:`substitute` and :func:`substitute_pattern` catch it and
    return ``None``; it is public for callers that want the key.
    """

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def variable_value(key: str, context: Mapping) -> str | None:
    """The single string value of ``key`` in ``context``, or ``None`` when the key is missing or multivalued.

    Rules 3 and 6 of the module docstring: lookup is case-insensitive, and a list value cannot fill a variable.
    """
    value = context.get(key)
    return value if isinstance(value, str) else None


def _parse(text: str):
    """Split ``text`` into ``("text", str)``, ``("char", str)`` and ``("var", key, default-or-None)`` pieces."""
    pieces: list[tuple] = []
    pos = 0
    for m in _REFERENCE.finditer(text):
        body = m.group("body")
        if body in SPECIAL_CHARACTERS:
            piece: tuple = ("char", SPECIAL_CHARACTERS[body])
        else:
            var = _BODY.fullmatch(body)
            if var is None:
                continue  # not a variable: the text stays as written (rule 2)
            piece = ("var", var.group("key"), var.group("default"))
        if m.start() > pos:
            pieces.append(("text", text[pos : m.start()]))
        pieces.append(piece)
        pos = m.end()
    if pos < len(text):
        pieces.append(("text", text[pos:]))
    return pieces


def _substitute(text: str, context: Mapping) -> Pattern:
    """Resolve every variable in ``text``; raise :class:`Unresolved` for the first one that has no value."""
    out: list[Pattern] = []
    for piece in _parse(text):
        kind = piece[0]
        if kind == "text":
            out.append(Pattern.parse(piece[1]))  # written text: `*` and `?` are wildcards
        elif kind == "char":
            out.append(Pattern.literal(piece[1]))  # ${*} ${?} ${$}: literal characters (rule 7)
        else:
            _, key, default = piece
            value = variable_value(key, context)
            if value is None:
                if default is None:
                    raise Unresolved(key)
                value = default
            out.append(Pattern.literal(value))  # a value is data, never a wildcard
    return Pattern.concat(out)


def substitute_pattern(text: str, context: Mapping, *, enabled: bool) -> Pattern | None:
    """``text`` as a wildcard :class:`~lexauthz.reference.wildcard.Pattern`, its policy variables resolved.

    Parameters
    ----------
    text:
        A condition value or a ``Resource`` entry as written in the policy.
    context:
        The request context (a :class:`lexauthz.request.Context`, or any mapping with case-insensitive ``get``).
    enabled:
        Whether policy variables are on (the policy's ``Version`` is ``2012-10-17``).  When false, ``text`` is
        parsed as written: ``${aws:username}`` is literal text and any ``*`` or ``?`` in it is a wildcard.

    Returns
    -------
    Pattern or None
        The pattern, in which ``*`` and ``?`` written in the policy are wildcards while ``${*}``, ``${?}``, ``${$}``
        and resolved variable values are literal text.  ``None`` when a variable has no value and no default.
        Operators without wildcards compare :attr:`Pattern.text`; ``StringLike``, ``ArnLike`` and ``Resource``
        call :meth:`Pattern.matches`.

    >>> from lexauthz.request import Context
    >>> ctx = Context({"aws:username": "alice"})
    >>> substitute_pattern("home/${aws:username}/*", ctx, enabled=True).matches("home/alice/x")
    True
    >>> substitute_pattern("a${*}", ctx, enabled=True).matches("ab")
    False
    >>> substitute_pattern("${aws:PrincipalTag/team}", ctx, enabled=True) is None
    True
    """
    if not enabled:
        return Pattern.parse(text)
    try:
        return _substitute(text, context)
    except Unresolved:
        return None


def substitute(text: str, context: Mapping, *, enabled: bool) -> str | None:
    """``text`` with its policy variables replaced by their values, as plain text.

    ``${*}``, ``${?}`` and ``${$}`` become ``*``, ``?`` and ``$``.  Returns ``None`` when a variable names a key that
    is missing from the context (or multivalued) and has no default.  When ``enabled`` is false (the policy's
    ``Version`` is not ``2012-10-17``) ``text`` is returned unchanged.

    The result cannot tell a literal ``*`` from a wildcard: use :func:`substitute_pattern` for anything that
    matches wildcards.

    >>> from lexauthz.request import Context
    >>> substitute("${aws:username}-${aws:PrincipalTag/team, 'none'}", Context({"aws:username": "bob"}), enabled=True)
    'bob-none'
    >>> substitute("${aws:username}", Context({"aws:username": "bob"}), enabled=False)
    '${aws:username}'
    """
    pattern = substitute_pattern(text, context, enabled=enabled)
    return None if pattern is None else pattern.text


def referenced_keys(text: str) -> tuple[str, ...]:
    """The context keys named by policy variables in ``text``, as written, in order, without repeats.

    The special characters ``${*}``, ``${?}`` and ``${$}`` name no key.  Keys are compared case-insensitively when
    dropping repeats (the first spelling is kept).

    >>> referenced_keys("${aws:username}/${aws:PrincipalTag/team, 'x'}/${AWS:USERNAME}/${*}")
    ('aws:username', 'aws:PrincipalTag/team')
    """
    seen: set[str] = set()
    keys: list[str] = []
    for piece in _parse(text):
        if piece[0] == "var" and piece[1].lower() not in seen:
            seen.add(piece[1].lower())
            keys.append(piece[1])
    return tuple(keys)
