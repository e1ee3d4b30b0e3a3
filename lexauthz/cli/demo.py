"""``lexauthz demo``: an account, validated, and a curated set of Lex API calls answered.

By default the bundled example (``lexauthz/examples/``): an account with the Lex V1 bot ``OrderFlowers`` (versions,
aliases, channels), a Lex V2 bot, users, roles and sessions, and the identity and resource policies of AWS's Lex
documentation.  ``--account`` takes any account :func:`lexauthz.account.load_account` reads (the project's account
file or folder, or ``aws iam get-account-authorization-details`` output); the curated calls are ``--calls FILE``, or
the ``requests.json`` next to the project's account file.  An account without curated calls (GAAD output) needs
``--calls``: without it the demo stops with ``E_NO_CALLS``.

Each call is translated into the IAM requests AWS makes for it (:mod:`lexauthz.lex`), each request is answered by
the compiled engine (``--engine reference``: the reference evaluator, same output), and the statement that decided
it is printed.  The last line of the text output is ``N of M calls got the decision AWS gives them``.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

from ..decision import Decision, Response
from ..errors import RequestError, Severity
from ._common import EXIT_FAILURE, EXIT_OK, CliError, add_output_flags, check_out, open_out

__all__ = ["EXAMPLE_DIR", "DEMO_TIME", "register", "run_demo"]

#: The bundled example account.
EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

#: The demo answers every call at this instant, so that its output never changes with the clock.
DEMO_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)

ENGINES = ("compiled", "reference")


def register(sub) -> None:
    d = sub.add_parser("demo", help="answer a curated set of Lex calls against an account (default: the bundled "
                                    "example)",
                       description="Load an account (default: the bundled example: a Lex bot OrderFlowers, its "
                                   "aliases and channels, users, roles and AWS's example policies), validate it, "
                                   "and answer a curated set of Lex API calls, each with the statement that "
                                   "decided it. Exit 0 when every call gets the decision AWS gives it.")
    d.add_argument("--account", nargs="+", default=None, metavar="ACCOUNT",
                   help="the project's account file or folder, or `aws iam get-account-authorization-details` "
                        "output (one file or several); default: the bundled example")
    d.add_argument("--calls", default=None, metavar="FILE",
                   help="the curated calls (format: lexauthz/examples/requests.json); default: the requests.json "
                        "next to the account file")
    d.add_argument("--engine", choices=ENGINES, default="compiled",
                   help="which evaluator answers (default: compiled; the reference gives the same output)")
    add_output_flags(d, ("text", "json"), "text")
    d.set_defaults(func=run, _parser=d)


def run(args) -> int:
    check_out(args)
    with open_out(args) as out:
        return run_demo(args.account, calls=args.calls, engine=args.engine, fmt=args.output, out=out)


def _default_calls(paths: list[str]) -> str | None:
    """The ``requests.json`` of a project account folder (or next to its ``account.json``), else ``None``."""
    if len(paths) != 1:
        return None
    p = paths[0]
    if os.path.isdir(p):
        candidate = os.path.join(p, "requests.json")
    elif os.path.basename(p) == "account.json":
        candidate = os.path.join(os.path.dirname(os.path.abspath(p)), "requests.json")
    else:
        return None
    return candidate if os.path.isfile(candidate) else None


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
               "permissions_boundary": "the permissions boundary", "session": "the session policy",
               "scp": "the SCPs"}


def run_demo(account=None, *, calls: str | None = None, engine: str = "compiled", fmt: str = "text",
             out=None) -> int:
    """Run the demo; returns the exit code (0 when every call gets its expected decision and no policy has an
    error).  ``account`` is a path or a list of paths (default: the bundled example)."""
    from ..account import load_account
    from ..lex import call_decision, load_demo, to_requests

    out = out or sys.stdout
    paths = [os.fspath(account)] if isinstance(account, (str, os.PathLike)) else list(account or [EXAMPLE_DIR])
    try:
        acct = load_account(paths if len(paths) > 1 else paths[0])
    except RequestError as exc:
        raise CliError(exc.code, f"{exc.message} (at {exc.path})") from None
    calls = calls or _default_calls(paths)
    if calls is None:
        raise CliError("E_NO_CALLS", f"`{' '.join(paths)}` has no curated calls (no requests.json next to an "
                                     "account file): give them with --calls FILE")
    try:
        cases = load_demo(calls, acct)
    except RequestError as exc:
        raise CliError(exc.code, f"{exc.message} (at {calls}: {exc.path})") from None
    findings = acct.findings()
    errors = [(n, f) for n, f in findings if f.severity is Severity.ERROR]
    results = []
    for case in cases:
        try:
            requests = to_requests(case.call, acct.resources, acct.principals, DEMO_TIME)
        except RequestError as exc:
            raise CliError(exc.code, f"call `{case.id}`: {exc.message} (at {exc.path})") from None
        answered = [(req, acct.evaluate(req, engine=engine)) for req in requests]
        decision = call_decision(r.decision for _, r in answered)
        results.append((case, answered, decision))
    ok = sum(1 for case, _, d in results if d is case.expect)
    n_policies = len({p.name for p in acct.policy_set.policies()})
    if fmt == "json":
        data = {
            "account": acct.account_id,
            "region": acct.region,
            "policies": n_policies,
            "findings": [{"policy": n, **f.to_dict()} for n, f in findings],
            "calls": [
                {
                    "id": case.id,
                    "title": case.title,
                    "operation": case.call.operation,
                    "caller": case.call.caller,
                    "decision": d.simulator_name,
                    "expected": case.expect.simulator_name,
                    "requests": [
                        {"action": req.action, "resource": req.resource, "decision": r.decision.simulator_name,
                         "decided_by": _decider(r), "matched_statements": [m.to_dict() for m in r.matched_statements],
                         "missing_context_values": list(r.missing_context_values)}
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
        where = f" ({acct.region})" if acct.region else ""
        w(f"Account {acct.account_id}{where}: {n_policies} policies, "
          f"{len(errors)} errors, {len(findings) - len(errors)} other findings\n")
        for n, f in findings:
            w(f"  {n}: {f.severity.value.lower()} {f.code} at {f.path}: {f.message}\n")
        w("\n")
        for i, (case, answered, d) in enumerate(results, 1):
            mark = "ok" if d is case.expect else f"UNEXPECTED (expected {case.expect.simulator_name})"
            w(f"{i:2}. {case.title}\n")
            w(f"    {case.call.operation} by {case.call.caller}\n")
            for req, r in answered:
                w(f"    {req.action} on {req.resource}: {r.decision.simulator_name}\n")
                w(f"        decided by {_decider(r)}\n")
            w(f"    => {d.simulator_name}  [{mark}]\n")
            if case.why:
                w(f"    why: {case.why}\n")
            w("\n")
        w(f"{ok} of {len(results)} calls got the decision AWS gives them\n")
    return EXIT_OK if ok == len(results) and not errors else EXIT_FAILURE
