"""``lexauthz demo``: the bundled example account, validated, and a curated set of Lex calls answered.

The example (``lexauthz/examples/``) is an account with the Lex V1 bot ``OrderFlowers`` (versions, aliases, channels),
a Lex V2 bot, users, roles and sessions, and the identity and resource policies of AWS's Lex documentation.  Each
curated call is translated into the IAM requests AWS makes for it (:mod:`lexauthz.lex`), each request is answered by
the reference evaluator, and the statement that decided it is printed.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .decision import Decision, Response
from .errors import Finding, Severity
from .policy import ApplicablePolicies, NamedPolicy, validate_policy
from .request import Request

__all__ = ["EXAMPLE_DIR", "AccountPolicies", "run_demo"]

#: The bundled example account.
EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")

#: The demo answers every call at this instant, so that its output never changes with the clock.
DEMO_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class AccountPolicies:
    """The policies of an :class:`~lexauthz.lex.Account`, parsed and validated once per policy type they serve in,
    and resolved into the :class:`ApplicablePolicies` of a request."""

    account: Any
    _cache: dict = field(default_factory=dict)

    def named(self, name: str, policy_type: str) -> NamedPolicy:
        key = (name, policy_type)
        hit = self._cache.get(key)
        if hit is None:
            source = self.account.policy_files.get(name)
            if source:
                with open(source, "rb") as fh:
                    text = fh.read()
            else:
                text = self.account.policies[name]
            parsed, result = validate_policy(text, policy_type=policy_type, source_name=name)
            hit = NamedPolicy(name, parsed.document, result.findings)
            self._cache[key] = hit
        return hit

    def applicable(self, caller: str, request: Request) -> ApplicablePolicies:
        """The identity policies of ``caller`` (its own and its groups', or its role's), the resource policy of the
        requested resource, the boundary and the session policy."""
        acct = self.account
        identity = tuple(self.named(n, "identity") for n in acct.identity_policy_names(caller))
        rp = acct.resource_policy(request.resource)
        resource = None
        if rp is not None:
            name, doc = rp
            if name:
                resource = self.named(name, "resource")
            else:
                parsed, result = validate_policy(json.dumps(doc), policy_type="resource", source_name="resource")
                resource = NamedPolicy("resource", parsed.document, result.findings)
        pb = acct.permissions_boundary(caller)
        sp = acct.session_policy(caller)
        return ApplicablePolicies(
            identity=identity,
            resource=resource,
            permissions_boundary=self.named(pb[0], "permission_boundary") if pb else None,
            session=self.named(sp[0], "session") if sp else None,
        )

    def findings(self) -> list[tuple[str, Finding]]:
        """Every finding of every policy, validated as the type it is used as."""
        acct = self.account
        types: dict[str, str] = {}
        for att in acct.attachments.values():
            for n in att.identity:
                types.setdefault(n, "identity")
            if att.permissions_boundary:
                types[att.permissions_boundary] = "permission_boundary"
            if att.session_policy:
                types[att.session_policy] = "session"
        for names in acct.groups.values():
            for n in names:
                types.setdefault(n, "identity")
        for res in acct.resources.all() if hasattr(acct.resources, "all") else ():
            if getattr(res, "policy_name", None):
                types[res.policy_name] = "resource"
        out = []
        for name in acct.policy_names:
            ptype = types.get(name) or _guess_type(acct.policy(name))
            for f in self.named(name, ptype).findings:
                out.append((name, f))
        return out


def _guess_type(doc: dict) -> str:
    stmts = doc.get("Statement")
    stmts = [stmts] if isinstance(stmts, dict) else (stmts or [])
    if any(isinstance(s, dict) and ("Principal" in s or "NotPrincipal" in s) for s in stmts):
        return "resource"
    return "identity"


def _decider(resp: Response) -> str:
    """What decided a response: the first matching Deny, the granting Allow, or for an implicit deny the policy
    types that did not allow the request."""
    if resp.decision is Decision.ERROR:
        return "refused: " + "; ".join(str(e) for e in resp.errors[:2])
    if resp.decision is Decision.EXPLICIT_DENY:
        refs = [r for r in resp.matched_statements if r.effect == "Deny"]
    elif resp.decision is Decision.ALLOW:
        refs = [r for r in resp.matched_statements if r.effect == "Allow" and r.policy_type in ("identity", "resource")]
    else:
        refs = []
    if refs:
        return _describe(refs[0])
    if resp.blocked_by:
        blockers = " and ".join(_TYPE_NAMES.get(t, t) for t in resp.blocked_by)
        allows = [r for r in resp.matched_statements if r.effect == "Allow" and r.policy_type in ("identity", "resource")]
        if allows:
            verb = "does" if len(resp.blocked_by) == 1 else "do"
            return f"{_describe(allows[0])} allows it, but {blockers} {verb} not"
        return f"{blockers} {'does' if len(resp.blocked_by) == 1 else 'do'} not allow it"
    denied = [_TYPE_NAMES.get(t, t) for t, v in resp.policy_results.items() if v == "ImplicitlyDenied"]
    return "no statement allows it" + (f" ({', '.join(denied)}: implicit deny)" if denied else "")


def _describe(ref) -> str:
    sid = f" ({ref.sid})" if ref.sid else ""
    return f"{ref.policy_type} policy {ref.policy}, statement {ref.index + 1}{sid}"


_TYPE_NAMES = {"identity": "identity policies", "resource": "the resource policy", "pb": "the permissions boundary",
               "permission_boundary": "the permissions boundary", "session": "the session policy",
               "scp": "the SCPs"}


def run_demo(account_dir: str | None = None, *, fmt: str = "text", out=None) -> int:
    """Run the demo; returns the exit code (0 when every call gets its expected decision)."""
    from .lex import call_decision, load_account, load_demo, to_requests
    from .reference import evaluate

    out = out or sys.stdout
    base = account_dir or EXAMPLE_DIR
    account = load_account(os.path.join(base, "account.json"))
    cases = load_demo(os.path.join(base, "requests.json"), account)
    policies = AccountPolicies(account)
    findings = policies.findings()
    errors = [(n, f) for n, f in findings if f.severity is Severity.ERROR]
    results = []
    for case in cases:
        requests = to_requests(case.call, account.resources, account.principals, DEMO_TIME)
        answered = [(req, evaluate(req, policies.applicable(case.call.caller, req))) for req in requests]
        decision = call_decision(r.decision for _, r in answered)
        results.append((case, answered, decision))
    ok = sum(1 for case, _, d in results if d is case.expect)
    if fmt == "json":
        data = {
            "account": account.account_id,
            "region": account.region,
            "policies": len(account.policy_names),
            "findings": [{"policy": n, **f.to_dict()} for n, f in findings],
            "calls": [
                {
                    "id": case.id,
                    "title": case.title,
                    "operation": case.call.operation,
                    "caller": case.call.caller,
                    "decision": d.aws_name,
                    "expected": case.expect.aws_name,
                    "requests": [
                        {"action": req.action, "resource": req.resource, "decision": r.decision.aws_name,
                         "decided_by": _decider(r), "matched_statements": [m.to_dict() for m in r.matched_statements]}
                        for req, r in answered
                    ],
                }
                for case, answered, d in results
            ],
            "as_expected": ok,
        }
        json.dump(data, out, indent=2)
        out.write("\n")
    else:
        w = out.write
        w(f"Example account {account.account_id} ({account.region}): {len(account.policy_names)} policies, "
          f"{len(errors)} errors, {len(findings) - len(errors)} other findings\n")
        for n, f in findings:
            w(f"  {n}: {f.severity.value.lower()} {f.code} at {f.path}: {f.message}\n")
        w("\n")
        for i, (case, answered, d) in enumerate(results, 1):
            mark = "ok" if d is case.expect else f"UNEXPECTED (expected {case.expect.aws_name})"
            w(f"{i:2}. {case.title}\n")
            w(f"    {case.call.operation} by {case.call.caller}\n")
            for req, r in answered:
                w(f"    {req.action} on {req.resource}: {r.decision.aws_name}\n")
                w(f"        decided by {_decider(r)}\n")
            w(f"    => {d.aws_name}  [{mark}]\n")
            if case.why:
                w(f"    why: {case.why}\n")
            w("\n")
        w(f"{ok} of {len(results)} calls got the decision AWS gives them\n")
    return 0 if ok == len(results) and not errors else 1
