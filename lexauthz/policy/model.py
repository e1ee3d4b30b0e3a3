"""The immutable model of an IAM JSON policy document.

Every evaluator (the pure-Python reference and the compiled engine) and the validator read this model; none of them
reads raw JSON.  The parser (:mod:`lexauthz.policy.parser`) builds it.  Values keep the spelling the author wrote:
matching rules (case-insensitive actions, case-insensitive condition key names, ...) belong to the evaluators.

JSON paths (``$.Statement[1].Action[0]``) are recorded on every element so that findings and explanations can point
at the text that produced them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "VERSION_2012",
    "VERSION_2008",
    "PRINCIPAL_KINDS",
    "Principal",
    "ConditionClause",
    "Statement",
    "PolicyDocument",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

#: The keys allowed inside a ``Principal`` / ``NotPrincipal`` object, spelled as IAM spells them.
PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")


@dataclass(frozen=True, slots=True)
class Principal:
    """A ``Principal`` or ``NotPrincipal`` element.

    ``wildcard`` is true for the bare string ``"*"``.  ``entries`` holds ``(kind, values)`` pairs in document order,
    ``kind`` one of :data:`PRINCIPAL_KINDS`; ``{"AWS": "*"}`` is kept as written (``("AWS", ("*",))``), evaluators
    decide what it means.
    """

    wildcard: bool = False
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values(self, kind: str) -> tuple[str, ...]:
        """All values given for ``kind`` (``"AWS"``, ``"Service"``, ...), in document order."""
        out: list[str] = []
        for k, vals in self.entries:
            if k == kind:
                out.extend(vals)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One ``operator: {key: values}`` pair of a ``Condition`` block.

    ``operator`` is the text as written (``"ForAnyValue:StringLikeIfExists"``).  ``base`` is the bare operator name
    (``"StringLike"``), ``qualifier`` is ``"ForAnyValue"``, ``"ForAllValues"`` or ``None``, and ``if_exists`` tells
    whether the ``IfExists`` suffix was present.  These are parsed case-sensitively, as AWS does: an operator that is
    not one of IAM's names keeps ``base`` as written and the validator reports it; such a policy is never evaluated.

    ``key`` is the condition key as written (display spelling); key names are case-insensitive, so evaluators compare
    ``key.lower()``.  ``values`` are strings: JSON ``true``/``false`` become ``"true"``/``"false"`` and JSON numbers
    their decimal text, as IAM stores them.  A single value and a one-element list are the same.
    """

    operator: str
    base: str
    qualifier: str | None
    if_exists: bool
    key: str
    values: tuple[str, ...]
    path: str = field(default="", compare=False)

    @property
    def key_lower(self) -> str:
        return self.key.lower()


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement.  Exactly one of each pair (``action``/``not_action``, ``resource``/``not_resource``,
    ``principal``/``not_principal``) is normally set; ``None`` means the element is absent, an empty tuple means it
    was given as an empty list.  ``index`` is the 0-based position in the policy's ``Statement`` list."""

    effect: str
    sid: str | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: Principal | None = None
    not_principal: Principal | None = None
    condition: tuple[ConditionClause, ...] = ()
    index: int = 0
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed policy document.

    ``version`` is ``None`` when the ``Version`` element is absent (IAM then treats policy variables as literal
    text, as for ``2008-10-17``).  ``statement_is_list`` records whether ``Statement`` was a list or a single object,
    so that :func:`lexauthz.policy.dump` gives back the same shape.
    """

    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None
    statement_is_list: bool = True

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are substituted only under ``Version: 2012-10-17`` (IAM User Guide, "IAM JSON policy
        elements: Version")."""
        return self.version == VERSION_2012
