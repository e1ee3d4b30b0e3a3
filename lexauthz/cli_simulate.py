"""``lexauthz simulate`` and ``lexauthz demo``.

``simulate`` mirrors ``aws iam simulate-custom-policy``: the same flag names in, AWS-shaped ``EvaluationResults``
out (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html).  With ``--cases`` it answers
a JSON Lines file of self-contained corpus cases instead, one output line per case, in order.
"""
from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["register"]

EXIT_OK, EXIT_FAILURE, EXIT_MISMATCH, EXIT_INVALID = 0, 1, 2, 3

_CONTEXT_TYPES = {
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary",
    "binaryList", "date", "dateList",
}


class _InputError(Exception):
    """A usage or input problem: message for stderr, exit code 1 (or 3 for invalid policies)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


def register(sub) -> None:
    s = sub.add_parser(
        "simulate",
        help="simulate IAM's decision, with `aws iam simulate-custom-policy` flags",
        description="Answer IAM authorization requests for Amazon Lex as `aws iam simulate-custom-policy` does, or "
                    "answer a file of corpus cases with --cases. Policies are JSON text, `file://PATH` or `-`.",
    )
    s.add_argument("--policy-input-list", nargs="+", default=[], metavar="POLICY",
                   help="identity-based policies (JSON text, file://PATH or -)")
    s.add_argument("--action-names", nargs="+", default=[], metavar="ACTION", help="actions, e.g. lex:PostText")
    s.add_argument("--resource-arns", nargs="+", default=["*"], metavar="ARN", help="resource ARNs (default `*`)")
    s.add_argument("--context-entries", nargs="+", default=[], metavar="ENTRY",
                   help="ContextKeyName=K,ContextKeyValues=V1,V2,ContextKeyType=string (or a JSON list)")
    s.add_argument("--resource-policy", default=None, metavar="POLICY", help="one resource-based policy")
    s.add_argument("--permissions-boundary-policy-input-list", nargs="+", default=[], metavar="POLICY",
                   help="the permissions boundary (one policy)")
    s.add_argument("--session-policy", default=None, metavar="POLICY", help="a session policy (lexauthz addition)")
    s.add_argument("--scp", action="append", default=[], metavar="POLICY",
                   help="an SCP level, repeatable, from the organization root to the account (lexauthz addition)")
    s.add_argument("--policy-source-arn", default=None, metavar="ARN",
                   help="as `aws iam simulate-principal-policy`: take the identity policies and boundary of this user, "
                        "role or role session from --account")
    s.add_argument("--account", default=None, metavar="ACCOUNT.json",
                   help="the account file --policy-source-arn reads (format: lexauthz/examples/README.md)")
    s.add_argument("--caller-arn", default=None, metavar="ARN",
                   help="the calling principal (default: a user in the resource owner's account)")
    s.add_argument("--resource-owner", default=None, metavar="ARN_OR_ACCOUNT",
                   help="the account that owns the resources (default: the account in each ARN)")
    s.add_argument("--resource-handling-option", default=None, help="accepted and ignored (EC2 scenarios only)")
    s.add_argument("--format", choices=["json", "table"], default="json")
    s.add_argument("--expect", choices=["allowed", "denied", "explicitDeny", "implicitDeny"], default=None,
                   help="exit 2 unless every result has this decision (`denied`: either deny)")
    s.add_argument("--cases", default=None, metavar="FILE.jsonl",
                   help="answer self-contained corpus cases (JSON Lines, .gz accepted); one JSON line out per case")
    s.add_argument("--engine", choices=["reference", "compiled"], default="reference",
                   help="which evaluator answers --cases (default: reference)")
    s.add_argument("--output", "-o", default=None, metavar="FILE", help="write results here instead of stdout")
    s.set_defaults(func=_cmd_simulate)

    d = sub.add_parser("demo", help="answer a curated set of Lex requests against the bundled example account",
                       description="Load the bundled example account (a Lex bot OrderFlowers, its aliases and "
                                   "channels, users, roles and AWS's example policies), validate it, and answer a "
                                   "curated set of Lex API calls, each with the statement that decided it.")
    d.add_argument("--account", default=None, metavar="DIR", help="an account folder (default: the bundled example)")
    d.add_argument("--format", choices=["text", "json"], default="text")
    d.set_defaults(func=_cmd_demo)


# --------------------------------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------------------------------


def _cmd_simulate(args) -> int:
    try:
        if args.cases:
            return _simulate_cases(args)
        return _simulate_custom(args)
    except _InputError as exc:
        print(f"lexauthz: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _simulate_cases(args) -> int:
    from .cases import iter_cases, run_case

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    n = 0
    try:
        try:
            for case in iter_cases(args.cases):
                line = run_case(case, engine=args.engine)
                out.write(json.dumps(line, separators=(",", ":")))
                out.write("\n")
                n += 1
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _InputError(f"cannot read `{args.cases}`: {(exc.strerror or str(exc)).lower()}") from None
        except ValueError as exc:
            raise _InputError(f"`{args.cases}`: {exc}") from None
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{n} cases answered", file=sys.stderr)
    return EXIT_OK


def _read_policy_arg(value: str, what: str) -> tuple[str, str]:
    """``(json text, display name)`` from JSON text, ``file://PATH`` or ``-``."""
    if value == "-":
        return sys.stdin.read(), "<stdin>"
    if value.startswith("file://"):
        path = value[len("file://"):]
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read(), path
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise _InputError(f"cannot read {what} `{path}`: {reason.lower()}") from None
    return value, what


def _policy(value: str, name: str, policy_type: str):
    from .policy import NamedPolicy, validate_policy

    text, shown = _read_policy_arg(value, name)
    parsed, result = validate_policy(text, policy_type=policy_type, source_name=shown)
    if not result.ok:
        lines = "\n".join(f"  {f}" for f in result.errors)
        raise _InputError(f"{policy_type} policy `{shown}` is invalid:\n{lines}", EXIT_INVALID)
    return NamedPolicy(name, parsed.document, result.findings), parsed


def _parse_context_entries(values: list[str]) -> dict[str, Any]:
    """Parse AWS CLI shorthand (``ContextKeyName=k,ContextKeyValues=a,b,ContextKeyType=stringList``) or JSON."""
    entries: list[dict] = []
    for raw in values:
        text = raw.strip()
        if text.startswith("[") or text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _InputError(f"--context-entries: malformed json: {exc.msg.lower()}") from None
            entries.extend(data if isinstance(data, list) else [data])
            continue
        entry: dict[str, Any] = {}
        current = None
        for part in text.split(","):
            if "=" in part and part.split("=", 1)[0] in ("ContextKeyName", "ContextKeyValues", "ContextKeyType"):
                current, val = part.split("=", 1)
                if current == "ContextKeyValues":
                    entry.setdefault(current, []).append(val)
                else:
                    entry[current] = val
            elif current == "ContextKeyValues":
                entry[current].append(part)
            else:
                raise _InputError(f"--context-entries: cannot read `{raw}`")
        entries.append(entry)
    context: dict[str, Any] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("ContextKeyName"), str):
            raise _InputError(f"--context-entries: entry {i} has no ContextKeyName")
        ctype = e.get("ContextKeyType", "string")
        if ctype not in _CONTEXT_TYPES:
            raise _InputError(f"--context-entries: unknown ContextKeyType `{ctype}`")
        vals = e.get("ContextKeyValues", [])
        if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
            raise _InputError(f"--context-entries: ContextKeyValues of `{e['ContextKeyName']}` must be strings")
        context[e["ContextKeyName"]] = tuple(vals) if ctype.endswith("List") else (vals[0] if vals else "")
    return context


def _account_of(arn_or_account: str | None) -> str | None:
    if not arn_or_account:
        return None
    if arn_or_account.isdigit():
        return arn_or_account
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def _simulate_custom(args) -> int:
    from .decision import Decision
    from .errors import RequestError
    from .policy import ApplicablePolicies
    from .reference import evaluate
    from .request import Request

    if not args.action_names:
        raise _InputError("--action-names is required (or --cases FILE)")
    if not args.policy_input_list and not args.resource_policy and not args.policy_source_arn:
        raise _InputError("--policy-input-list, --policy-source-arn or --resource-policy is required")
    identity, parsed = [], {}
    source_boundary = None
    if args.policy_source_arn:
        identity, source_boundary = _source_policies(args, parsed)
    for i, p in enumerate(args.policy_input_list):
        named, parsed[f"PolicyInputList.{i + 1}"] = _policy(p, f"PolicyInputList.{i + 1}", "identity")
        identity.append(named)
    resource = None
    if args.resource_policy:
        resource, parsed["ResourcePolicy"] = _policy(args.resource_policy, "ResourcePolicy", "resource")
    boundary = None
    if args.permissions_boundary_policy_input_list:
        if len(args.permissions_boundary_policy_input_list) > 1:
            raise _InputError("--permissions-boundary-policy-input-list takes one policy")
        boundary, parsed["PermissionsBoundaryPolicyInputList.1"] = _policy(
            args.permissions_boundary_policy_input_list[0], "PermissionsBoundaryPolicyInputList.1", "permission_boundary")
    if boundary is None:
        boundary = source_boundary
    session = None
    if args.session_policy:
        session, parsed["SessionPolicy"] = _policy(args.session_policy, "SessionPolicy", "session")
    scps = None
    if args.scp:
        levels = []
        for i, p in enumerate(args.scp):
            named, parsed[f"scp[{i}]"] = _policy(p, f"scp[{i}]", "scp")
            levels.append((named,))
        scps = tuple(levels)
    policies = ApplicablePolicies(tuple(identity), resource, boundary, session, scps)
    context = _parse_context_entries(args.context_entries)
    owner = _account_of(args.resource_owner)
    results = []
    for action in args.action_names:
        per_resource = []
        for arn in args.resource_arns:
            account = owner or _account_of(arn) or _account_of(args.caller_arn) or "123456789012"
            caller = args.caller_arn or args.policy_source_arn or f"arn:aws:iam::{account}:user/SimulatedCaller"
            try:
                req = Request(principal=caller, action=action, resource=arn, resource_account=account,
                              context=context)
            except RequestError as exc:
                raise _InputError(str(exc)) from None
            per_resource.append((arn, evaluate(req, policies)))
        results.append(_evaluation_result(action, per_resource, parsed))
    if args.format == "table":
        _print_table(results)
    else:
        json.dump({"EvaluationResults": results, "IsTruncated": False}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    if args.expect:
        wanted = {"allowed": {"allowed"}, "denied": {"explicitDeny", "implicitDeny"},
                  "explicitDeny": {"explicitDeny"}, "implicitDeny": {"implicitDeny"}}[args.expect]
        got = [r["EvalDecision"] for r in results]
        if not all(g in wanted for g in got):
            print(f"lexauthz: expected {args.expect}, got {', '.join(got)}", file=sys.stderr)
            return EXIT_MISMATCH
    del Decision
    return EXIT_OK


def _source_policies(args, parsed) -> tuple[list, Any]:
    """simulate-principal-policy: the identity policies (own and groups') and the boundary of the source principal."""
    from .demo import AccountPolicies
    from .errors import RequestError
    from .lex import load_account

    if not args.account:
        raise _InputError("--policy-source-arn needs --account ACCOUNT.json to read the principal's policies from")
    try:
        account = load_account(args.account)
        names = account.identity_policy_names(args.policy_source_arn)
        pb = account.permissions_boundary(args.policy_source_arn)
    except RequestError as exc:
        raise _InputError(str(exc)) from None
    except OSError as exc:
        raise _InputError(f"cannot read `{args.account}`: {(exc.strerror or str(exc)).lower()}") from None
    store = account.principals
    src = args.policy_source_arn
    if store.user(src) is None and store.role(src) is None and store.session(src) is None:
        raise _InputError(f"`{args.policy_source_arn}` is not a principal of `{args.account}` (NoSuchEntity)")
    policies = AccountPolicies(account)
    identity = []
    for n in names:
        named = policies.named(n, "identity")
        if named.errors:
            raise _InputError(f"identity policy `{n}` is invalid:\n" + "\n".join(f"  {f}" for f in named.errors),
                              EXIT_INVALID)
        identity.append(named)
        parsed[n] = _parsed_text(account, n)
    boundary = None
    if pb is not None:
        boundary = policies.named(pb[0], "permission_boundary")
        parsed[pb[0]] = _parsed_text(account, pb[0])
    return identity, boundary


def _parsed_text(account, name):
    from .policy import parse_policy

    source = account.policy_files.get(name)
    if source:
        with open(source, "rb") as fh:
            return parse_policy(fh.read(), source_name=name)
    return parse_policy(account.policies[name], source_name=name)


_SOURCE_TYPES = {"identity": "user", "resource": "resource", "permission_boundary": "none", "session": "none",
                 "scp": "none"}
_RANK = {"explicitDeny": 2, "implicitDeny": 1, "allowed": 0, "error": 3}


def _matched(resp, parsed) -> list[dict]:
    out = []
    for ref in resp.matched_statements:
        item: dict[str, Any] = {"SourcePolicyId": ref.policy, "SourcePolicyType": _SOURCE_TYPES.get(ref.policy_type,
                                                                                                    "none")}
        pr = parsed.get(ref.policy)
        if pr is not None and pr.document is not None and ref.index < len(pr.document.statements):
            path = pr.document.statements[ref.index].path
            if pr.text is not None:
                from .policy.positions import scan_positions

                lc = scan_positions(pr.text).locate(path)
                if lc:
                    item["StartPosition"] = {"Line": lc[0], "Column": lc[1]}
        out.append(item)
    return out


def _evaluation_result(action: str, per_resource, parsed) -> dict:
    specific = []
    for arn, resp in per_resource:
        r = {
            "EvalResourceName": arn,
            "EvalResourceDecision": resp.decision.simulator_name,
            "MatchedStatements": _matched(resp, parsed),
            "MissingContextValues": list(resp.missing_context_values),
        }
        if resp.permissions_boundary_allowed is not None:
            r["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": resp.permissions_boundary_allowed}
        specific.append(r)
    worst = max(specific, key=lambda r: _RANK[r["EvalResourceDecision"]])
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": worst["EvalResourceName"] if len(specific) == 1 else "*",
        "EvalDecision": worst["EvalResourceDecision"],
        "MatchedStatements": worst["MatchedStatements"],
        "MissingContextValues": sorted({k for r in specific for k in r["MissingContextValues"]}),
    }
    first = per_resource[0][1]
    if first.organizations_allowed is not None:
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": all(
            resp.organizations_allowed for _, resp in per_resource)}
    if "PermissionsBoundaryDecisionDetail" in worst:
        out["PermissionsBoundaryDecisionDetail"] = worst["PermissionsBoundaryDecisionDetail"]
    out["ResourceSpecificResults"] = specific
    return out


def _print_table(results) -> None:
    rows = [("ACTION", "RESOURCE", "DECISION", "MATCHED", "MISSING CONTEXT")]
    for r in results:
        for s in r["ResourceSpecificResults"]:
            matched = ", ".join(m["SourcePolicyId"] for m in s["MatchedStatements"]) or "-"
            rows.append((r["EvalActionName"], s["EvalResourceName"], s["EvalResourceDecision"], matched,
                         ", ".join(s["MissingContextValues"]) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


# --------------------------------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------------------------------


def _cmd_demo(args) -> int:
    from .demo import run_demo

    try:
        return run_demo(args.account, fmt=args.format)
    except _InputError as exc:
        print(f"lexauthz: error: {exc}", file=sys.stderr)
        return exc.exit_code
