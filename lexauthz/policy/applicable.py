"""The policies that apply to one request, grouped by IAM policy type.

This is the evaluator's input besides the :class:`~lexauthz.request.Request`: the corpus gives it per case, and a
policy set (principals, resources, SCPs) resolves it per request.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Finding, Severity
from .model import PolicyDocument

__all__ = ["NamedPolicy", "ApplicablePolicies"]


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A policy document with the name explanations use (``identity[0]``, a managed policy ARN, an inline name).

    ``findings`` are its validation findings; a policy with an ERROR finding is refused, never evaluated.
    """

    name: str
    document: PolicyDocument | None
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)


@dataclass(frozen=True, slots=True)
class ApplicablePolicies:
    """Everything that applies to one request.

    - ``identity``: identity-based policies of the principal (user and its groups' policies, or the role's).
    - ``resource``: the resource-based policy on the target resource, or ``None``.
    - ``permissions_boundary``: ``None`` means no boundary (not a boundary that allows nothing).
    - ``session``: the session policy of a role session or federated session, or ``None``.
    - ``scps``: SCP levels from the organization root to the account, each a tuple of policies; ``None`` or ``()``
      means no organization; a level given as ``()`` allows nothing.
    """

    identity: tuple[NamedPolicy, ...] = ()
    resource: NamedPolicy | None = None
    permissions_boundary: NamedPolicy | None = None
    session: NamedPolicy | None = None
    scps: tuple[tuple[NamedPolicy, ...], ...] | None = None

    def all_policies(self):
        """Every policy with its type name: ``(policy_type, level_or_None, NamedPolicy)``."""
        for p in self.identity:
            yield "identity", None, p
        if self.resource is not None:
            yield "resource", None, self.resource
        if self.permissions_boundary is not None:
            yield "permissions_boundary", None, self.permissions_boundary
        if self.session is not None:
            yield "session", None, self.session
        for level, policies in enumerate(self.scps or ()):
            for p in policies:
                yield "scp", level, p

    @property
    def errors(self) -> tuple[Finding, ...]:
        out: list[Finding] = []
        for _, _, p in self.all_policies():
            out.extend(p.errors)
        return tuple(out)
