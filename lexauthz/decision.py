"""Decisions and responses, shared by the reference evaluator and the compiled engine."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .errors import Finding

__all__ = ["Decision", "PolicyType", "StatementRef", "Response"]


class Decision(enum.IntEnum):
    """IAM's three-valued decision, as a ``uint8``-sized code.

    ``ERROR`` means the request was refused without evaluation because a policy has errors: it is never an allow.

    One vocabulary for people: ``str(decision)``, ``format(decision)`` and f-strings give the IAM Policy Simulator's
    ``EvalDecision`` words (:attr:`simulator_name`: ``allowed``, ``implicitDeny``, ``explicitDeny``, and ``error``),
    never the integer code.  The code itself stays available as ``int(decision)`` (numpy batches hold it), the
    member name as ``decision.name`` and the corpus's words as :attr:`aws_name`.

    >>> f"{Decision.ALLOW} / {Decision.IMPLICIT_DENY} / {Decision.EXPLICIT_DENY} / {Decision.ERROR}"
    'allowed / implicitDeny / explicitDeny / error'
    >>> int(Decision.ALLOW), Decision.ALLOW.aws_name
    (1, 'Allowed')
    """

    IMPLICIT_DENY = 0
    ALLOW = 1
    EXPLICIT_DENY = 2
    ERROR = 3

    @property
    def aws_name(self) -> str:
        """The name the corpus and iam-simulate use: ``Allowed``, ``ImplicitlyDenied``, ``ExplicitlyDenied``."""
        return _AWS_NAMES[self]

    @property
    def simulator_name(self) -> str:
        """The IAM Policy Simulator's ``EvalDecision``: ``allowed``, ``implicitDeny``, ``explicitDeny``."""
        return _SIMULATOR_NAMES[self]

    def __str__(self) -> str:
        return _SIMULATOR_NAMES[self]

    def __format__(self, spec: str) -> str:
        # The simulator word, padded or aligned by ``spec`` as a string would be (``f"{d:>12}"``).
        return format(_SIMULATOR_NAMES[self], spec)

    @classmethod
    def from_aws_name(cls, name: str) -> "Decision":
        for d, n in _AWS_NAMES.items():
            if n == name:
                return d
        raise ValueError(f"unknown decision name `{name}`")


_AWS_NAMES = {
    Decision.IMPLICIT_DENY: "ImplicitlyDenied",
    Decision.ALLOW: "Allowed",
    Decision.EXPLICIT_DENY: "ExplicitlyDenied",
    Decision.ERROR: "Error",
}
_SIMULATOR_NAMES = {
    Decision.IMPLICIT_DENY: "implicitDeny",
    Decision.ALLOW: "allowed",
    Decision.EXPLICIT_DENY: "explicitDeny",
    Decision.ERROR: "error",
}


class PolicyType(str, enum.Enum):
    """The policy types of IAM's evaluation logic, with the names the corpus labels use."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    PERMISSIONS_BOUNDARY = "permissions_boundary"
    SESSION = "session"
    SCP = "scp"


@dataclass(frozen=True, slots=True, order=True)
class StatementRef:
    """A statement that matched a request: which policy (type and name), its 0-based index, ``Sid`` and effect.

    ``level`` is the SCP level (0 = organization root) for SCP statements, else ``None``.  ``principal_match`` is, for
    resource-policy statements, how the principal matched: ``Match``, ``AccountLevelMatch``, ``SessionRoleMatch`` or
    ``SessionUserMatch``.
    """

    policy_type: str
    policy: str
    index: int
    sid: str | None
    effect: str
    level: int | None = None
    principal_match: str | None = None

    def to_dict(self) -> dict:
        out = {
            "policy_type": self.policy_type,
            "policy": self.policy,
            "statement": self.index + 1,
            "sid": self.sid,
            "effect": self.effect,
        }
        if self.level is not None:
            out["level"] = self.level
        if self.principal_match is not None:
            out["principal_match"] = self.principal_match
        return out


@dataclass(frozen=True, slots=True)
class Response:
    """The answer to one request.

    - ``decision``: the final :class:`Decision`.
    - ``matched_statements``: every statement whose Action, Resource, Condition and (resource policies) Principal
      matched, in evaluation order.
    - ``policy_results``: verdict per policy type (``"identity"`` -> ``"Allowed"``, ...); the resource policy may also
      be ``NotApplicable``, ``AllowedForAccount`` or ``DeniedForAccount``; a type that was not supplied is absent.
    - ``blocked_by``: the policy types that turned an otherwise allowed request into a deny.
    - ``missing_context_values``: context keys the policies referenced that the request did not carry (display
      spelling, sorted, deduplicated case-insensitively), as the IAM Policy Simulator's ``MissingContextValues``.
    - ``errors``: findings that made the request refused (``decision`` is then ``Decision.ERROR``).
    """

    decision: Decision
    matched_statements: tuple[StatementRef, ...] = ()
    policy_results: dict = field(default_factory=dict)
    blocked_by: tuple[str, ...] = ()
    missing_context_values: tuple[str, ...] = ()
    errors: tuple[Finding, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def permissions_boundary_allowed(self) -> bool | None:
        """``AllowedByPermissionsBoundary`` in the simulator's terms; ``None`` when there is no boundary."""
        v = self.policy_results.get(PolicyType.PERMISSIONS_BOUNDARY.value)
        return None if v is None else v == "Allowed"

    @property
    def organizations_allowed(self) -> bool | None:
        """``AllowedByOrganizations``; ``None`` when no SCP applies."""
        v = self.policy_results.get(PolicyType.SCP.value)
        return None if v is None else v == "Allowed"

    def to_dict(self) -> dict:
        """The response as JSON-ready data (``json.dumps(response.to_dict())`` works), the same from the reference
        evaluator and the compiled engine.

        ``decision`` is the IAM Policy Simulator's word (``allowed``, ``implicitDeny``, ``explicitDeny``, ``error``);
        ``matched_statements`` are :meth:`StatementRef.to_dict` dicts (``statement`` is 1-based); ``errors`` are
        :meth:`Finding.to_dict` dicts (``code``, ``severity``, ``message``, ``path``, and ``line``/``column`` when
        known).

        >>> Response(Decision.IMPLICIT_DENY, missing_context_values=("aws:SourceIp",)).to_dict()["decision"]
        'implicitDeny'
        """
        return {
            "decision": self.decision.simulator_name,
            "matched_statements": [m.to_dict() for m in self.matched_statements],
            "policy_results": {_plain(k): _plain(v) for k, v in self.policy_results.items()},
            "blocked_by": list(self.blocked_by),
            "missing_context_values": list(self.missing_context_values),
            "errors": [e.to_dict() for e in self.errors],
        }


def _plain(v):
    """A :class:`PolicyType` (or any enum) as its value, so JSON gets ``"scp"``, never ``"PolicyType.SCP"``."""
    return v.value if isinstance(v, enum.Enum) else v
