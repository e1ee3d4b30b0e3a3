"""The reference evaluator's policy variables and wildcard patterns.

Variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
Wildcards: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexauthz.reference.variables import (
    Unresolved,
    referenced_keys,
    substitute,
    substitute_pattern,
    variable_value,
)
from lexauthz.reference.wildcard import ANY, ONE, Pattern, wildcard_match
from lexauthz.request import Context

CTX = Context(
    {
        "aws:username": "alice",
        "aws:PrincipalTag/team": "sales",
        "aws:PrincipalTag/empty": "",
        "aws:PrincipalTag/star": "a*b?",
        "aws:PrincipalTag/looks-like-variable": "${aws:username}",
        "aws:TagKeys": ["team", "env"],
    }
)

# -- substitute -----------------------------------------------------------------------------------------------
# Each row: (text, variables enabled, expected plain text or None for "unresolved").
SUBSTITUTE_ROWS = [
    ("home/${aws:username}/", True, "home/alice/"),
    ("${aws:username}-${aws:PrincipalTag/team}", True, "alice-sales"),
    ("${AWS:UserName}", True, "alice"),  # key names are case-insensitive
    ("${aws:PrincipalTag/team, 'none'}", True, "sales"),  # a present key ignores its default
    ("${aws:PrincipalTag/missing, 'none'}", True, "none"),
    ("${aws:PrincipalTag/missing,'none'}", True, "none"),
    ("${ aws:PrincipalTag/missing ,  'none' }", True, "none"),
    ("${aws:PrincipalTag/missing, ''}", True, ""),
    ("${aws:PrincipalTag/missing, 'a*b'}", True, "a*b"),
    ("${aws:PrincipalTag/empty}", True, ""),  # an empty value is a value
    ("${aws:PrincipalTag/missing}", True, None),  # no value, no default
    ("x/${aws:username}/${aws:PrincipalTag/missing}", True, None),
    ("${aws:TagKeys}", True, None),  # a multivalued key cannot fill a variable
    ("${aws:TagKeys, 'dflt'}", True, "dflt"),
    ("${*}${?}${$}", True, "*?$"),
    ("a${*}b", True, "a*b"),
    ("${$}{aws:username}", True, "${aws:username}"),  # one round of substitution only
    ("${aws:PrincipalTag/looks-like-variable}", True, "${aws:username}"),
    ("plain text * ?", True, "plain text * ?"),
    ("$5 and ${} and ${unclosed", True, "$5 and ${} and ${unclosed"),  # not variables: literal text
    ("${aws:username}", False, "${aws:username}"),  # Version other than 2012-10-17: literal
    ("${*}", False, "${*}"),
    ("${aws:PrincipalTag/missing}", False, "${aws:PrincipalTag/missing}"),
]


@pytest.mark.parametrize("text,enabled,expected", SUBSTITUTE_ROWS, ids=[f"{r[0]}-{r[1]}" for r in SUBSTITUTE_ROWS])
def test_substitute(text, enabled, expected):
    assert substitute(text, CTX, enabled=enabled) == expected


def test_substitute_pattern_keeps_special_characters_literal():
    pattern = substitute_pattern("a${*}b*c${?}d?", CTX, enabled=True)
    assert pattern == Pattern(("a*b", ANY, "c?d", ONE))
    assert pattern.matches("a*bXXc?dY")
    assert not pattern.matches("aXbXXc?dY")  # the first star is a character, not a wildcard
    assert not pattern.matches("a*bXXcXdY")


def test_substitute_pattern_makes_variable_values_literal():
    pattern = substitute_pattern("${aws:PrincipalTag/star}/*", CTX, enabled=True)
    assert pattern == Pattern(("a*b?/", ANY))
    assert pattern.matches("a*b?/anything")
    assert not pattern.matches("aXXbY/anything")


def test_substitute_pattern_without_variables_is_the_written_pattern():
    assert substitute_pattern("a${*}", CTX, enabled=False) == Pattern.parse("a${*}")
    assert substitute_pattern("a${*}", CTX, enabled=False).matches("a${xyz}")


def test_substitute_pattern_unresolved_is_none():
    assert substitute_pattern("bot:${aws:PrincipalTag/missing}_*", CTX, enabled=True) is None


def test_resource_with_variable_and_wildcard():
    # The Resource element example: arn:aws:s3:::mybucket/${aws:username}/*
    pattern = substitute_pattern("arn:aws:s3:::mybucket/${aws:username}/*", CTX, enabled=True)
    assert pattern.matches("arn:aws:s3:::mybucket/alice/notes.txt")
    assert not pattern.matches("arn:aws:s3:::mybucket/bob/notes.txt")


def test_variable_value_and_unresolved():
    assert variable_value("AWS:USERNAME", CTX) == "alice"
    assert variable_value("aws:TagKeys", CTX) is None
    assert variable_value("aws:nothing", CTX) is None
    err = Unresolved("aws:nothing")
    assert err.key == "aws:nothing" and isinstance(err, LookupError)


@pytest.mark.parametrize(
    "text,keys",
    [
        ("${aws:username}", ("aws:username",)),
        ("${aws:username}/${aws:PrincipalTag/team, 'x'}", ("aws:username", "aws:PrincipalTag/team")),
        ("${aws:username}/${AWS:USERNAME}", ("aws:username",)),
        ("${*}${?}${$}", ()),
        ("no variables", ()),
        ("${} ${unclosed", ()),
    ],
)
def test_referenced_keys(text, keys):
    assert referenced_keys(text) == keys


# -- Pattern --------------------------------------------------------------------------------------------------


def test_pattern_text_and_wildcards():
    p = Pattern.parse("bot:Order*?")
    assert p.text == "bot:Order*?"
    assert p.has_wildcards
    assert not Pattern.literal("bot:Order*?").has_wildcards
    assert Pattern.literal("bot:Order*?").text == "bot:Order*?"


def test_pattern_merges_literal_parts():
    assert Pattern(("a", "b", ANY, "", "c")) == Pattern(("ab", ANY, "c"))
    assert Pattern.concat([Pattern.literal("a"), Pattern.parse("b*")]) == Pattern(("ab", ANY))
    with pytest.raises(TypeError):
        Pattern((1,))  # type: ignore[arg-type]


def test_pattern_split_cuts_on_literal_separator_only():
    p = Pattern.parse("arn:aws:lex:*:*:bot:Order*")
    assert [f.text for f in p.split(":", 5)] == ["arn", "aws", "lex", "*", "*", "bot:Order*"]
    assert [f.text for f in Pattern.parse("a:b:c").split(":")] == ["a", "b", "c"]
    assert len(Pattern.parse("arn:aws").split(":", 5)) == 2
    with pytest.raises(ValueError):
        p.split("::")


# -- wildcard_match -------------------------------------------------------------------------------------------
WILDCARD_ROWS = [
    ("lex:Get*", "lex:GetBots", False, True),
    ("lex:Get*", "lex:getBots", False, False),
    ("lex:Get*", "lex:getBots", True, True),
    ("lex:Get?ot", "lex:GetBot", False, True),
    ("lex:Get?ot", "lex:GetBoot", False, False),
    ("*", "", False, True),
    ("?", "", False, False),
    ("", "", False, True),
    ("", "a", False, False),
    ("a*b*c", "abc", False, True),
    ("a*b*c", "aXbYc", False, True),
    ("a*b*c", "aXbY", False, False),
    ("a.c", "abc", False, False),  # regular-expression characters are literal
    ("a[b]c", "a[b]c", False, True),
    ("*\n*", "x\ny", False, True),
    ("?", "\n", False, True),  # wildcards match any character
]


@pytest.mark.parametrize("pattern,text,ignore_case,expected", WILDCARD_ROWS)
def test_wildcard_match(pattern, text, ignore_case, expected):
    assert wildcard_match(pattern, text, ignore_case=ignore_case) is expected


def brute_force(pattern: str, text: str) -> bool:
    """The obvious recursive matcher: ``*`` tries every split, ``?`` eats one character."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(brute_force(rest, text[i:]) for i in range(len(text) + 1))
    if not text:
        return False
    return (head == "?" or head == text[0]) and brute_force(rest, text[1:])


def brute_force_parts(parts, text: str) -> bool:
    """The same over Pattern parts, where literal text may itself hold ``*`` and ``?``."""
    if not parts:
        return not text
    head, rest = parts[0], parts[1:]
    if head is ANY:
        return any(brute_force_parts(rest, text[i:]) for i in range(len(text) + 1))
    if head is ONE:
        return bool(text) and brute_force_parts(rest, text[1:])
    return text.startswith(head) and brute_force_parts(rest, text[len(head) :])


_alphabet = st.text(alphabet="aAb*?.", max_size=7)


@settings(deadline=None, max_examples=300)
@given(pattern=_alphabet, text=_alphabet, ignore_case=st.booleans())
def test_wildcard_match_agrees_with_brute_force(pattern, text, ignore_case):
    if ignore_case:
        expected = brute_force(pattern.lower(), text.lower())
    else:
        expected = brute_force(pattern, text)
    assert wildcard_match(pattern, text, ignore_case=ignore_case) is expected


_part = st.one_of(st.just(ANY), st.just(ONE), st.text(alphabet="ab*?", min_size=1, max_size=3))


@settings(deadline=None, max_examples=300)
@given(parts=st.lists(_part, max_size=5), text=st.text(alphabet="ab*?", max_size=7))
def test_pattern_with_literal_stars_agrees_with_brute_force(parts, text):
    pattern = Pattern(tuple(parts))
    assert pattern.matches(text) is brute_force_parts(pattern.parts, text)


@settings(deadline=None)
@given(text=st.text(max_size=12))
def test_literal_pattern_matches_only_itself(text):
    assert Pattern.literal(text).matches(text)
    assert not Pattern.literal(text).matches(text + "x")
    assert wildcard_match(text.replace("*", "").replace("?", ""), text.replace("*", "").replace("?", ""),
                          ignore_case=False)
