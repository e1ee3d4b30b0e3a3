"""IAM's policy evaluation logic for one request: the decision half of the reference evaluator.

This module is the readable specification of how AWS decides whether a principal may perform an action on a
resource.  Each function implements one rule and cites the page of the IAM User Guide it follows:

- EVALUATION: "Policy evaluation logic" and its section "Determining whether a request is allowed or denied within an
  account" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html)
- CROSS-ACCOUNT: "Cross-account policy evaluation logic"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)
- BOUNDARIES: "Permissions boundaries for IAM entities"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)
- SESSION POLICIES: "Policies and permissions in IAM", section "Session policies"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)
- SCPS: "Service control policies (SCPs)" in the AWS Organizations User Guide
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html)
- PRINCIPAL: "AWS JSON policy elements: Principal"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)

The decision, in the order AWS's enforcement code takes it (EVALUATION, "Determining whether a request is allowed or
denied within an account"; CROSS-ACCOUNT):

1. A statement *applies* to the request when its ``Action``, ``Resource`` and ``Condition`` match, and, in a
   resource-based policy, its ``Principal`` (or ``NotPrincipal``) names the caller (:func:`statement_applies`).
2. **Explicit deny.**  A ``Deny`` statement that applies, in any policy (identity-based, resource-based, permissions
   boundary, session policy, SCP), decides: ``EXPLICIT_DENY`` (:func:`explicitly_denied`).
3. **SCPs.**  When the principal's account is in an organization, every level of the organization (root, each OU,
   the account) must have an ``Allow`` that applies; a level with none makes the request implicitly denied
   (:func:`scps_allow`).  SCPs limit resource-based grants too.
4. **Same account.**  The request is allowed when any of these holds (:func:`same_account_allows`):

   a. a resource-based policy grants it *directly* to the caller: it names the IAM user, the role session, the
      federated user session, or everyone (``"*"``).  Such a grant "is not limited by an implicit deny in an
      identity-based policy, a permissions boundary, or session policy";
   b. a resource-based policy grants it to the *role* of the calling role session: "Resource-based policies that
      grant permissions to an IAM role ARN are limited by an implicit deny in a permissions boundary or session
      policy" (no identity-based allow is needed);
   c. the identity side allows it: an identity-based policy allows it, and the permissions boundary (if any) and
      the session policy (if any) allow it too.  A resource-based policy that names only the *account* delegates
      to the account ("This delegates authority to the account", PRINCIPAL), so it adds nothing beyond (c).

5. **Cross-account** (the resource's account is not the caller's; a resource that names no account, ``*``, is in the
   caller's account): "The request is allowed only if both
   evaluations return a decision of Allow": the identity side (4c) must allow in the caller's account, and the
   resource-based policy must allow the caller in any way it can be named, the account included
   (:func:`cross_account_allows`).
6. Otherwise the request is implicitly denied.

Two further rules: the root user "has full access" in its own account, so its identity side always allows; a service
principal has no account, no identity-based policies and no SCPs, so only the resource-based policy can allow it.
Session policies apply only to session principals ("If the principal is not a session principal, the enforcement
code returns a final decision of Allow"); a role session without a session policy is not limited by one, a federated
user session without one has no permissions.

Which principals the resource-based policy names, and how, is the job of :mod:`lexauthz.reference.principals`;
action, resource and condition matching are in :mod:`lexauthz.reference.matching` and
:mod:`lexauthz.reference.conditions`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..decision import Decision, PolicyType, Response, StatementRef
from ..policy.applicable import ApplicablePolicies, NamedPolicy
from ..policy.model import Statement
from ..request import Request
from .conditions import condition_block_matches
from .matching import statement_matches_action, statement_matches_resource
from .principals import (
    ACCOUNT_LEVEL_MATCH,
    FEDERATED_USER,
    ROOT,
    SERVICE,
    Caller,
    PrincipalMatch,
    match_not_principal,
    match_principal,
    parse_caller,
)

__all__ = [
    "AppliedStatement",
    "PolicyTypeResult",
    "statement_applies",
    "evaluate_policies",
    "evaluate_resource_policy",
    "explicitly_denied",
    "scps_allow",
    "identity_side_allows",
    "boundary_allows",
    "session_policy_allows",
    "same_account_allows",
    "cross_account_allows",
    "evaluate",
]

#: Verdicts, as the corpus and iam-simulate name them.
ALLOWED = "Allowed"
IMPLICITLY_DENIED = "ImplicitlyDenied"
EXPLICITLY_DENIED = "ExplicitlyDenied"
NOT_APPLICABLE = "NotApplicable"
ALLOWED_FOR_ACCOUNT = "AllowedForAccount"
DENIED_FOR_ACCOUNT = "DeniedForAccount"

#: What a resource-based policy may name, grouped by how the grant is limited (rule 4 of the module docstring).
_DIRECT = frozenset({"everyone", "principal", "service"})


@dataclass(frozen=True, slots=True)
class AppliedStatement:
    """A statement that applies to the request (rule 1), with how its ``Principal`` named the caller (resource-based
    policies only)."""

    ref: StatementRef
    principal: PrincipalMatch | None = None

    @property
    def is_allow(self) -> bool:
        """The statement's ``Effect`` is ``Allow``."""
        return self.ref.effect == "Allow"


@dataclass(slots=True)
class PolicyTypeResult:
    """The statements of one policy type (or one SCP level) that apply to the request, split by effect."""

    allows: list[AppliedStatement] = field(default_factory=list)
    denies: list[AppliedStatement] = field(default_factory=list)
    applied: list[AppliedStatement] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        """At least one ``Allow`` applies."""
        return bool(self.allows)

    @property
    def denied(self) -> bool:
        """At least one ``Deny`` applies."""
        return bool(self.denies)

    @property
    def verdict(self) -> str:
        """``ExplicitlyDenied``, ``Allowed`` or ``ImplicitlyDenied``: a deny wins over an allow."""
        return EXPLICITLY_DENIED if self.denies else ALLOWED if self.allows else IMPLICITLY_DENIED

    def add(self, applied: AppliedStatement) -> None:
        """Record one applying statement."""
        (self.allows if applied.is_allow else self.denies).append(applied)
        self.applied.append(applied)

    def statements(self) -> Iterable[AppliedStatement]:
        """Every applying statement, in evaluation order (policy by policy, each in document order)."""
        return iter(self.applied)


# ---------------------------------------------------------------------------------------------------------------
# Rule 1: does a statement apply?
# ---------------------------------------------------------------------------------------------------------------


def statement_applies(statement: Statement, request: Request, *, variables_enabled: bool,
                      missing: set | None = None) -> bool:
    """Rule 1: the statement's ``Action`` (or ``NotAction``), ``Resource`` (or ``NotResource``) and ``Condition``
    all match the request.

    EVALUATION: the enforcement code looks for statements "that apply to the request"; a statement applies when each
    of its elements matches ("IAM JSON policy elements reference").  The elements are checked in that order, so
    ``missing`` collects only the keys that a request for this action (policy variables in ``Resource``) on this
    resource (condition keys) would need: what the IAM Policy Simulator reports as missing context values.  The
    ``Principal`` of resource-based policies is checked by :func:`evaluate_resource_policy` before this.
    """
    if not statement_matches_action(statement, request.action):
        return False
    if not statement_matches_resource(statement, request.resource, request.context,
                                      variables_enabled=variables_enabled, missing=missing):
        return False
    return condition_block_matches(statement.condition, request.context, variables_enabled=variables_enabled,
                                   missing=missing)


def _ref(policy_type: str, policy: NamedPolicy, statement: Statement, level: int | None = None,
         principal: PrincipalMatch | None = None) -> StatementRef:
    return StatementRef(
        policy_type=policy_type,
        policy=policy.name,
        index=statement.index,
        sid=statement.sid,
        effect=statement.effect,
        level=level,
        principal_match=principal.label if principal is not None else None,
    )


def evaluate_policies(policy_type: str, policies: Sequence[NamedPolicy], request: Request, *,
                      level: int | None = None, missing: set | None = None) -> PolicyTypeResult:
    """The statements of identity-based policies, a permissions boundary, a session policy or one SCP level that
    apply to the request (rule 1).  These policy types have no ``Principal``: they are attached to the principal (or
    its account) and speak for it.

    ``missing`` collects missing context keys (see :func:`statement_applies`), for every policy type alike, SCPs
    included: the IAM Policy Simulator's ``MissingContextValues`` are the keys "required by the included input
    policies but that were not provided" (IAM API Reference, ``EvaluationResult``), and SCPs are input policies of
    the evaluation.
    """
    result = PolicyTypeResult()
    for policy in policies:
        doc = policy.document
        if doc is None:
            continue
        enabled = doc.variables_enabled
        for statement in doc.statements:
            if statement_applies(statement, request, variables_enabled=enabled, missing=missing):
                result.add(AppliedStatement(_ref(policy_type, policy, statement, level)))
    return result


def evaluate_resource_policy(policy: NamedPolicy, request: Request, caller: Caller, *,
                             has_permissions_boundary: bool, missing: set | None = None) -> PolicyTypeResult:
    """The statements of the resource-based policy that apply to the request: rule 1 plus the ``Principal``.

    PRINCIPAL: a resource-based statement applies only to the principals its ``Principal`` names, or to every
    principal its ``NotPrincipal`` does not exclude (:func:`~lexauthz.reference.principals.match_principal`,
    :func:`~lexauthz.reference.principals.match_not_principal`).  A statement with neither names no one.
    """
    result = PolicyTypeResult()
    doc = policy.document
    if doc is None:
        return result
    enabled = doc.variables_enabled
    for statement in doc.statements:
        if statement.principal is not None:
            named = match_principal(statement.principal, caller)
        elif statement.not_principal is not None:
            named = match_not_principal(statement.not_principal, caller, effect=statement.effect,
                                        has_permissions_boundary=has_permissions_boundary)
        else:
            named = None
        if named is None:
            continue
        if statement_applies(statement, request, variables_enabled=enabled, missing=missing):
            result.add(AppliedStatement(_ref(PolicyType.RESOURCE.value, policy, statement, None, named), named))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Rules 2 to 5: the decision
# ---------------------------------------------------------------------------------------------------------------


def explicitly_denied(results: Iterable[PolicyTypeResult | None]) -> bool:
    """Rule 2 (EVALUATION, "Deny evaluation"): "If the code finds even one explicit deny that applies, the code
    returns a final decision of Deny."  Every policy type counts, a deny that names only the caller's account in a
    resource-based policy included (it names every principal of that account)."""
    return any(r is not None and r.denied for r in results)


def scps_allow(levels: Sequence[PolicyTypeResult] | None) -> bool:
    """Rule 3 (SCPS; EVALUATION, "Organizations SCPs"): with no organization there is nothing to check; otherwise
    every level, from the root to the account, must have an applying ``Allow`` ("If the enforcement code does not
    find any applicable Allow statements in the SCPs, then the request is implicitly denied").  A level without any
    policy allows nothing."""
    if not levels:
        return True
    return all(level.allowed for level in levels)


def identity_side_allows(caller: Caller, identity: PolicyTypeResult, boundary: PolicyTypeResult | None,
                         session: PolicyTypeResult | None) -> bool:
    """Rule 4c: the identity-based policies allow, and the permissions boundary and the session policy, where they
    apply, allow too.

    - BOUNDARIES: "the entity can perform only the actions that are allowed by both its identity-based policies and
      its permissions boundaries"; a boundary "does not provide permissions on its own".
    - SESSION POLICIES: "the resulting session's permissions are the intersection of the IAM entity's
      identity-based policy and the session policies".  EVALUATION, "Session policies": a role session without a
      session policy is allowed; any other session principal without one is implicitly denied.
    - EVALUATION: the root user has full access ("all requests are implicitly denied with the exception of the AWS
      account root user"); boundaries and session policies do not apply to it.
    """
    if caller.kind == ROOT:
        return True
    return identity.allowed and boundary_allows(boundary) and session_policy_allows(caller, session)


def boundary_allows(boundary: PolicyTypeResult | None) -> bool:
    """BOUNDARIES: no boundary limits nothing; a boundary limits to what it allows."""
    return boundary is None or boundary.allowed


def session_policy_allows(caller: Caller, session: PolicyTypeResult | None) -> bool:
    """EVALUATION, "Session policies": "If a session policy is present and does not allow the requested action,
    then the request is implicitly denied"; "If there is no session policy, the code checks whether the principal is
    a role session.  If the principal is a role session, then the request is Allowed.  Otherwise, the request is
    implicitly denied" (a federated user session always has a session policy)."""
    if session is not None:
        return session.allowed
    return caller.kind != FEDERATED_USER


def _grants(resource: PolicyTypeResult | None) -> set[str]:
    """What the applying resource-based ``Allow`` statements named: ``everyone``, ``principal``, ``service``,
    ``role``, ``account``."""
    if resource is None:
        return set()
    return {a.principal.named for a in resource.allows if a.principal is not None}


def same_account_allows(caller: Caller, identity: PolicyTypeResult, resource: PolicyTypeResult | None,
                        boundary: PolicyTypeResult | None, session: PolicyTypeResult | None) -> bool:
    """Rule 4: a request within one account (EVALUATION, "Resource-based policies").

    - 4a. "If a resource-based policy grants permission directly to the IAM user or the session principal that is
      making the request, then an implicit deny in an identity-based policy, a permissions boundary, or a session
      policy does not impact the final decision."  ``Principal: "*"`` is such a grant as well: "For IAM users and
      role principals within your account, no other permissions are required" (PRINCIPAL, "All principals"), and
      "permissions boundaries or session policies do not limit permissions granted using the aws:PrincipalArn
      condition key with a wildcard (*) in the Principal element" (PRINCIPAL, "IAM role principals").  SESSION
      POLICIES: "The resource-based policy permissions are not limited by the session policy" when it names the
      session's ARN.
    - 4b. "Resource-based policies that grant permissions to an IAM role ARN are limited by an implicit deny in a
      permissions boundary or session policy."  SESSION POLICIES: the grant is "added to the role or user's
      identity-based policy before the session is created.  The session policy limits the total permissions".
    - 4c. :func:`identity_side_allows`.  A grant to the account only delegates to the account's own policies.
    """
    named = _grants(resource)
    if named & _DIRECT:
        return True
    if "role" in named and boundary_allows(boundary) and session_policy_allows(caller, session):
        return True
    return identity_side_allows(caller, identity, boundary, session)


def cross_account_allows(caller: Caller, identity: PolicyTypeResult, resource: PolicyTypeResult | None,
                         boundary: PolicyTypeResult | None, session: PolicyTypeResult | None) -> bool:
    """Rule 5 (CROSS-ACCOUNT): "the requester in the trusted AccountA must have an identity-based policy.  That policy
    must allow them to make a request to the resource in the trusting AccountB.  Additionally, the resource-based
    policy in AccountB must allow the requester in AccountA to access the resource."  The trusted account's side is
    the identity-based policy "and any policies that can limit an identity-based policy" (boundary, session
    policy).  The resource-based policy may name the caller in any way, its account included."""
    return identity_side_allows(caller, identity, boundary, session) and bool(_grants(resource))


def _resource_verdict(resource: PolicyTypeResult | None) -> str:
    """The resource-based policy's verdict in the corpus's vocabulary: ``NotApplicable`` when there is none;
    ``DeniedForAccount`` / ``AllowedForAccount`` when only statements naming the caller's account apply."""
    if resource is None:
        return NOT_APPLICABLE
    if resource.denies:
        if all(d.principal is not None and d.principal.label == ACCOUNT_LEVEL_MATCH for d in resource.denies):
            return DENIED_FOR_ACCOUNT
        return EXPLICITLY_DENIED
    if resource.allows:
        if all(a.principal is not None and a.principal.label == ACCOUNT_LEVEL_MATCH for a in resource.allows):
            return ALLOWED_FOR_ACCOUNT
        return ALLOWED
    return IMPLICITLY_DENIED


def _scp_verdict(levels: Sequence[PolicyTypeResult]) -> str:
    if any(level.denied for level in levels):
        return EXPLICITLY_DENIED
    return ALLOWED if all(level.allowed for level in levels) else IMPLICITLY_DENIED


def _blocked_by(caller: Caller, same_account: bool, identity: PolicyTypeResult, resource: PolicyTypeResult | None,
                boundary: PolicyTypeResult | None, session: PolicyTypeResult | None,
                scps: Sequence[PolicyTypeResult] | None) -> tuple[str, ...]:
    """For a denied request that some policy allowed: the policy types that turned it into a deny (the corpus names:
    ``scp``, ``pb``, ``session``, ``identity``, ``resource``)."""
    granted = identity.allowed or bool(_grants(resource))
    if not granted:
        return ()
    out: list[str] = []
    if scps and not (scps_allow(scps) and not any(level.denied for level in scps)):
        out.append("scp")
    if boundary is not None and (boundary.denied or not boundary.allowed):
        out.append("pb")
    if session is not None and (session.denied or not session.allowed):
        out.append("session")
    if identity.denied or (not same_account and not identity.allowed and caller.kind not in (ROOT, SERVICE)):
        out.append("identity")
    if (resource is not None and resource.denied) or (not same_account and not _grants(resource)):
        out.append("resource")
    return tuple(out)


def evaluate(request: Request, policies: ApplicablePolicies) -> Response:
    """Decide one request exactly as IAM does, following rules 1 to 6 of the module docstring.

    Parameters
    ----------
    request:
        The request: principal, action, resource, the resource's account and the request context (used as given;
        nothing is derived from the principal or the resource).
    policies:
        Every policy that applies to the request, by type.

    Returns
    -------
    Response
        The decision, every applying statement (``matched_statements``), the verdict per policy type, the policy
        types that blocked an otherwise allowed request, and the context keys that statements for this action and
        resource referenced and the request lacked, from every policy type that takes part (identity-based,
        resource-based statements that name the caller, boundary, session policy, SCPs).  When any policy has an ERROR finding the request is not evaluated: the decision is
        ``Decision.ERROR`` and ``errors`` lists the findings (EVALUATION, "Errors": "If the AWS enforcement code
        encounters an error at any point during the evaluation, then it generates an exception and closes").

    >>> from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
    >>> from lexauthz.policy.model import PolicyDocument, Statement
    >>> allow = PolicyDocument((Statement("Allow", action=("lex:*",), resource=("*",)),), "2012-10-17")
    >>> req = Request("arn:aws:iam::123456789012:user/bob", "lex:PostText",
    ...               "arn:aws:lex:us-east-1:123456789012:bot:OrderFlowers:prod", "123456789012")
    >>> evaluate(req, ApplicablePolicies(identity=(NamedPolicy("identity[0]", allow),))).decision
    <Decision.ALLOW: 1>
    """
    errors = policies.errors
    if errors:
        return Response(Decision.ERROR, errors=errors)

    caller = parse_caller(request.principal)
    same_account = caller.account is not None and caller.account == _resource_account(request, caller)
    has_boundary = policies.permissions_boundary is not None
    missing: set[str] = set()

    identity = evaluate_policies(PolicyType.IDENTITY.value, policies.identity, request, missing=missing)
    resource = None
    if policies.resource is not None:
        resource = evaluate_resource_policy(policies.resource, request, caller,
                                            has_permissions_boundary=has_boundary, missing=missing)
    boundary = None
    if policies.permissions_boundary is not None and caller.kind not in (ROOT, SERVICE):
        boundary = evaluate_policies(PolicyType.PERMISSIONS_BOUNDARY.value, (policies.permissions_boundary,),
                                     request, missing=missing)
    session = None
    if policies.session is not None and caller.is_session:
        session = evaluate_policies(PolicyType.SESSION.value, (policies.session,), request, missing=missing)
    scps = None
    if policies.scps and caller.kind != SERVICE:
        scps = [evaluate_policies(PolicyType.SCP.value, level, request, level=i, missing=missing)
                for i, level in enumerate(policies.scps)]

    if explicitly_denied([identity, resource, boundary, session, *(scps or ())]):
        decision = Decision.EXPLICIT_DENY
    elif caller.kind == SERVICE:
        # A service principal: only a resource-based policy that names it (or everyone) can allow it.
        decision = Decision.ALLOW if _grants(resource) & _DIRECT else Decision.IMPLICIT_DENY
    elif not scps_allow(scps):
        decision = Decision.IMPLICIT_DENY
    elif same_account:
        allowed = same_account_allows(caller, identity, resource, boundary, session)
        decision = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
    else:
        allowed = cross_account_allows(caller, identity, resource, boundary, session)
        decision = Decision.ALLOW if allowed else Decision.IMPLICIT_DENY

    matched: list[StatementRef] = [a.ref for a in identity.statements()]
    if resource is not None:
        matched.extend(a.ref for a in resource.statements())
    if boundary is not None:
        matched.extend(a.ref for a in boundary.statements())
    if session is not None:
        matched.extend(a.ref for a in session.statements())
    for level in scps or ():
        matched.extend(a.ref for a in level.statements())

    results: dict[str, str] = {PolicyType.IDENTITY.value: identity.verdict,
                               PolicyType.RESOURCE.value: _resource_verdict(resource)}
    if boundary is not None:
        results[PolicyType.PERMISSIONS_BOUNDARY.value] = boundary.verdict
    if session is not None:
        results[PolicyType.SESSION.value] = session.verdict
    if scps is not None:
        results[PolicyType.SCP.value] = _scp_verdict(scps)

    blocked: tuple[str, ...] = ()
    if decision is not Decision.ALLOW:
        blocked = _blocked_by(caller, same_account, identity, resource, boundary, session, scps)

    return Response(
        decision=decision,
        matched_statements=tuple(matched),
        policy_results=results,
        blocked_by=blocked,
        missing_context_values=_display_keys(missing),
    )


def _resource_account(request: Request, caller: Caller) -> str | None:
    """The account that owns the resource: ``resource_account``, else the ARN's account field.  A request whose
    resource names no account (``*``, for actions without resource-level permissions) is made within the caller's
    own account."""
    return request.owner_account or caller.account


def _display_keys(keys: set[str]) -> tuple[str, ...]:
    """Sorted, deduplicated case-insensitively, first spelling kept (by sort order)."""
    out: dict[str, str] = {}
    for k in sorted(keys):
        out.setdefault(k.lower(), k)
    return tuple(sorted(out.values(), key=str.lower))
