"""The account model: one AWS account (or several, or an organization) as every part of lexauthz consumes it.

An :class:`Account` pairs the :class:`~lexauthz.account.PolicySet` (principals with their identity policies, groups,
boundaries, session policies and tags; resources with their tags and resource-based policies; roles with their trust
policies; SCPs by root, OU and account) with the inventory that turns a Lex API call into IAM requests (the
:class:`~lexauthz.lex.PrincipalStore` and :class:`~lexauthz.lex.ResourceStore` of :mod:`lexauthz.lex`).  The same
object feeds the compiled engine (:meth:`Account.engine`) and the reference evaluator
(:meth:`Account.evaluate` with ``engine="reference"``), so the two answer from one model.

It is read from the output of ``aws iam get-account-authorization-details`` (:mod:`lexauthz.account.gaad`), from the
project's own account file (:mod:`lexauthz.account.native`), or built from Python (:meth:`Account.from_policy_set`);
:func:`lexauthz.account.load_account` tells the formats apart by content.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import Finding, RequestError
from ..lex.principals import PrincipalStore
from ..lex.resources import ResourceStore
from ..request import Request
from .policy_set import PolicySet

if TYPE_CHECKING:  # pragma: no cover
    from ..decision import Response
    from ..engine import Engine

__all__ = ["Account", "ENGINES"]

#: The evaluators :meth:`Account.evaluate` can run.
ENGINES = ("compiled", "reference")


@dataclass(frozen=True, eq=False)
class Account:
    """An account as lexauthz evaluates it: its policy set and its principal and resource inventory.

    ``account_id`` is the account the inventory belongs to (the first one, for several GAAD files); ``region`` the
    default region of Lex calls (``None`` when the source does not say, as GAAD does not).  ``sources`` names the
    files it was read from.  :meth:`findings` lists every policy finding, each policy validated as the type it serves
    in; a policy with an ERROR finding is never evaluated (its requests answer ``Decision.ERROR``).
    """

    policy_set: PolicySet
    principals: PrincipalStore = field(default_factory=PrincipalStore)
    resources: ResourceStore = field(default_factory=ResourceStore)
    account_id: str | None = None
    region: str | None = None
    partition: str = "aws"
    sources: tuple[str, ...] = ()
    _engines: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_policy_set(cls, policy_set: PolicySet, *, region: str | None = None) -> "Account":
        """An account over a policy set built in Python; the principal store is derived from its users and roles."""
        if not isinstance(policy_set, PolicySet):
            raise TypeError("`policy_set` must be a PolicySet")
        return cls(policy_set, principal_store(policy_set), ResourceStore(), _first_account(policy_set), region)

    # -- evaluation ---------------------------------------------------------------------------------------------

    def engine(self, *, use_index: bool = True) -> "Engine":
        """The compiled engine of :attr:`policy_set`, compiled on first use and kept."""
        engine = self._engines.get(use_index)
        if engine is None:
            with self._lock:
                engine = self._engines.get(use_index)
                if engine is None:
                    engine = self.policy_set.compile(use_index=use_index)
                    self._engines[use_index] = engine
        return engine

    def evaluate(self, request: Request, *, engine: str = "compiled") -> "Response":
        """Decide ``request`` against this account, with the compiled engine or the reference evaluator.

        Both add the principal's tags (``aws:PrincipalTag/*``) and the resource's (``aws:ResourceTag/*``) where the
        request's context lacks the key, and both take the SCPs of the principal's account.
        """
        if engine == "compiled":
            return self.engine().evaluate(request)
        if engine == "reference":
            from ..reference import evaluate

            ps = self.policy_set
            return evaluate(ps.enrich(request), ps.applicable(request))
        raise RequestError("E_UNKNOWN_ENGINE", f"unknown engine `{engine}`: use one of {', '.join(ENGINES)}",
                           "$.engine")

    # -- facts --------------------------------------------------------------------------------------------------

    def findings(self) -> list[tuple[str, Finding]]:
        """``(policy name, finding)`` for every finding of every policy (each policy once), and the loading
        findings (unresolved managed policies, truncated exports)."""
        out: list[tuple[str, Finding]] = []
        seen: set[int] = set()
        for named in self.policy_set.policies():
            if id(named) in seen:
                continue
            seen.add(id(named))
            out.extend((named.name, f) for f in named.findings)
        reported = {id(f) for _, f in out}
        out.extend((f.source or "", f) for f in self.policy_set.findings if id(f) not in reported)
        return out

    def __repr__(self) -> str:
        ps = self.policy_set
        return (f"<Account {self.account_id or '?'}: {len(ps.principals)} principals, {len(ps.groups)} groups, "
                f"{len(ps.resources)} resources, {sum(len(v) for v in ps.scps.values())} SCPs>")


def principal_store(policy_set: PolicySet) -> PrincipalStore:
    """A principal store holding the users and roles of ``policy_set`` (with their ids and tags)."""
    b = PrincipalStore.builder()
    for rec in policy_set.principals.values():
        kind = _iam_kind(rec.arn)
        if kind == "user":
            b.add_user(rec.arn, user_id=rec.unique_id, tags=dict(rec.tags) or None)
        elif kind == "role":
            b.add_role(rec.arn, role_id=rec.unique_id, tags=dict(rec.tags) or None)
    return b.build()


def _iam_kind(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return None
    kind = parts[5].split("/", 1)[0]
    return kind if kind in ("user", "role") else None


def _first_account(policy_set: PolicySet) -> str | None:
    for arn in policy_set.principals:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4].isdigit():
            return parts[4]
    return None
