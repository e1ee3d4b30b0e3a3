"""``lexauthz simulate``: IAM's decision, in the AWS CLI's terms.

Three modes, each refusing the flags it cannot honour:

- custom policies, as ``aws iam simulate-custom-policy``: ``--policy-input-list``, ``--resource-policy``,
  ``--permissions-boundary-policy-input-list`` (and the lexauthz additions ``--session-policy``, ``--scp``);
- a principal of an account, as ``aws iam simulate-principal-policy``: ``--account ACCOUNT --policy-source-arn ARN``
  answers with the principal's own inline and managed policies, its groups' policies, its permissions boundary, its
  tags, and the account's resource policies (roles' trust policies included) and SCPs; ``--policy-input-list``
  adds policies, the other policy flags replace the account's;
- ``--cases FILE.jsonl``: self-contained corpus cases (``tests/conformance/data/README.md``), one JSON line out per
  case.

Output (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html): ``EvaluationResults``
as JSON (the default), a table or tab-separated text, with the Simulator's decision words ``allowed``,
``explicitDeny`` and ``implicitDeny``.  The compiled engine answers by default; ``--engine reference`` runs the
reference evaluator, and the two print the same bytes.  An action or resource type the catalog does not know gets a
warning with a did-you-mean on stderr (exit 3 with ``--strict``); the answer stays IAM's (``implicitDeny``).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from ._common import (
    EXIT_INVALID,
    EXIT_MISMATCH,
    EXIT_OK,
    CliError,
    UsageError,
    add_output_flags,
    check_out,
    open_out,
    read_policy_arg,
    refuse_given,
)

__all__ = ["register", "catalog_warnings", "progress"]

ENGINES = ("compiled", "reference")

#: dest -> flag, for the refusals.
_POLICY_FLAGS = {"policy_input_list": "--policy-input-list", "resource_policy": "--resource-policy",
                 "permissions_boundary": "--permissions-boundary-policy-input-list",
                 "session_policy": "--session-policy", "scp": "--scp"}
_REQUEST_FLAGS = {"action_names": "--action-names", "resource_arns": "--resource-arns",
                  "context_entries": "--context-entries", "caller_arn": "--caller-arn",
                  "resource_owner": "--resource-owner", "policy_source_arn": "--policy-source-arn",
                  "account": "--account", "expect": "--expect", "strict": "--strict"}


def register(sub) -> None:
    s = sub.add_parser(
        "simulate",
        help="simulate IAM's decision, with `aws iam simulate-custom-policy` / `simulate-principal-policy` flags",
        description="Answer IAM authorization requests for Amazon Lex as `aws iam simulate-custom-policy` (policies "
                    "given) or `aws iam simulate-principal-policy` (--account and --policy-source-arn) does, or "
                    "answer a file of corpus cases with --cases. Policies are JSON text, `file://PATH` or `-`.")
    s.add_argument("--policy-input-list", nargs="+", default=None, metavar="POLICY",
                   help="identity-based policies (JSON text, file://PATH or -); with --account, added to the "
                        "principal's")
    s.add_argument("--action-names", nargs="+", default=None, metavar="ACTION", help="actions, e.g. lex:PostText")
    s.add_argument("--resource-arns", nargs="+", default=None, metavar="ARN", help="resource ARNs (default `*`)")
    s.add_argument("--context-entries", nargs="+", default=None, metavar="ENTRY",
                   help="ContextKeyName=K,ContextKeyValues=[V1,V2],ContextKeyType=stringList (one entry per "
                        "argument), or a JSON list of entries")
    s.add_argument("--resource-policy", default=None, metavar="POLICY", help="one resource-based policy")
    s.add_argument("--permissions-boundary-policy-input-list", dest="permissions_boundary", nargs="+",
                   default=None, metavar="POLICY", help="the permissions boundary (one policy)")
    s.add_argument("--session-policy", default=None, metavar="POLICY", help="a session policy (lexauthz addition)")
    s.add_argument("--scp", action="append", default=None, metavar="POLICY",
                   help="an SCP level, repeatable, from the organization root to the account (lexauthz addition)")
    s.add_argument("--policy-source-arn", default=None, metavar="ARN",
                   help="as `aws iam simulate-principal-policy`: the user, role or group of --account whose "
                        "policies answer")
    s.add_argument("--account", nargs="+", default=None, metavar="ACCOUNT",
                   help="the account --policy-source-arn belongs to: the project's account file or folder, or "
                        "`aws iam get-account-authorization-details` output (one file or several)")
    s.add_argument("--caller-arn", default=None, metavar="ARN",
                   help="the calling principal (default: the policy source, or a user in the resource owner's "
                        "account)")
    s.add_argument("--resource-owner", default=None, metavar="ARN_OR_ACCOUNT",
                   help="the account that owns the resources (default: the account in each ARN)")
    s.add_argument("--expect", choices=["allowed", "denied", "explicitDeny", "implicitDeny"], default=None,
                   help="exit 2 unless every result has this decision (`denied`: either deny)")
    s.add_argument("--strict", action="store_true",
                   help="exit 3 when an action or resource type is unknown to the catalog (a warning otherwise)")
    s.add_argument("--cases", default=None, metavar="FILE.jsonl",
                   help="answer self-contained corpus cases (JSON Lines, .gz accepted); one JSON line out per case")
    s.add_argument("--engine", choices=ENGINES, default="compiled",
                   help="which evaluator answers (default: compiled; the reference gives the same output)")
    add_output_flags(s, ("json", "table", "text"), "json")
    s.set_defaults(func=run, _parser=s)


def run(args) -> int:
    check_out(args)
    if args.cases:
        return _simulate_cases(args)
    return _simulate_requests(args)


# --------------------------------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------------------------------


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int | None, unit: str):
    """A progress bar on stderr for a run that lasts more than about a second, only when stderr is a terminal and
    ``tqdm`` is installed (the ``cli`` extra); otherwise an object whose ``update`` does nothing."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoProgress()
    return tqdm(total=total, unit=unit, file=sys.stderr, delay=1.0, leave=False, dynamic_ncols=True)


# --------------------------------------------------------------------------------------------------------------------
# --cases
# --------------------------------------------------------------------------------------------------------------------


def _simulate_cases(args) -> int:
    refuse_given(args, {**_POLICY_FLAGS, **_REQUEST_FLAGS}, "with --cases (each case carries its own policies "
                                                            "and request)")
    if args.output != "json":
        raise UsageError(f"--output {args.output} cannot be used with --cases (the answers are JSON lines)",
                         code="E_FLAG_CONFLICT")
    from ..testing.cases import iter_cases, run_case

    n = 0
    bar = progress(None, "case")
    try:
        with open_out(args) as out:
            try:
                for case in iter_cases(args.cases):
                    out.write(json.dumps(run_case(case, engine=args.engine), separators=(",", ":")))
                    out.write("\n")
                    n += 1
                    bar.update()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise CliError("E_IO", f"cannot read `{args.cases}`: {(exc.strerror or str(exc)).lower()}") from None
            except ValueError as exc:
                raise CliError("E_BAD_CASES", f"`{args.cases}`: {exc}") from None
    finally:
        bar.close()
    print(f"{n} cases answered", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------------------
# requests: custom policies, or a principal of an account
# --------------------------------------------------------------------------------------------------------------------


def _policy(value: str, name: str, policy_type: str, parsed: dict):
    from ..policy import NamedPolicy, validate_policy

    text, shown = read_policy_arg(value, name)
    result_doc, result = validate_policy(text, policy_type=policy_type, source_name=shown)
    if not result.ok:
        lines = "\n".join(f"  {f}" for f in result.errors)
        raise CliError(result.errors[0].code, f"{policy_type} policy `{shown}` is invalid:\n{lines}", EXIT_INVALID)
    parsed[name] = result_doc
    return NamedPolicy(name, result_doc.document, result.findings)


def _given_policies(args, parsed: dict) -> dict[str, Any]:
    """The policies given on the command line, by ApplicablePolicies field; only the fields given."""
    out: dict[str, Any] = {}
    if args.policy_input_list:
        out["identity"] = tuple(_policy(p, f"PolicyInputList.{i + 1}", "identity", parsed)
                                for i, p in enumerate(args.policy_input_list))
    if args.resource_policy:
        out["resource"] = _policy(args.resource_policy, "ResourcePolicy", "resource", parsed)
    if args.permissions_boundary:
        if len(args.permissions_boundary) > 1:
            raise UsageError("--permissions-boundary-policy-input-list takes one policy", code="E_BAD_VALUE")
        out["permissions_boundary"] = _policy(args.permissions_boundary[0], "PermissionsBoundaryPolicyInputList.1",
                                              "permissions_boundary", parsed)
    if args.session_policy:
        out["session"] = _policy(args.session_policy, "SessionPolicy", "session", parsed)
    if args.scp:
        out["scps"] = tuple((_policy(p, f"scp[{i}]", "scp", parsed),) for i, p in enumerate(args.scp))
    return out


def _account_of(arn_or_account: str | None) -> str | None:
    if not arn_or_account:
        return None
    if arn_or_account.isdigit():
        return arn_or_account
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


class _Source:
    """The policy source of simulate-principal-policy: a principal of the account, or one of its groups."""

    def __init__(self, account, arn: str):
        ps = account.policy_set
        self.account = account
        self.arn = arn
        self.record = ps.principal_record(arn)
        self.group = None
        if self.record is None and ":group/" in arn:
            name = arn.split(":group/", 1)[1].rsplit("/", 1)[-1]
            for key in (arn, name):
                if key in ps.groups:
                    self.group = key
        if self.record is None and self.group is None:
            raise CliError("E_NO_SUCH_ENTITY", f"`{arn}` is not a user, role or group of the account "
                                               f"(NoSuchEntity)")
        kind = arn.split(":", 5)[-1].split("/", 1)[0]
        self.kind = "role" if kind in ("role", "assumed-role") else kind
        self.group_policies = set()
        groups = [self.group] if self.group else list(self.record.groups)
        for g in groups:
            self.group_policies.update(p.name for p in ps.groups.get(g, ()))

    def applicable(self, request, given: dict):
        from ..policy.applicable import ApplicablePolicies

        ps = self.account.policy_set
        if self.group is not None:
            res = ps.resources.get(request.resource)
            levels = ps.scp_levels(_account_of(request.principal))
            base = ApplicablePolicies(identity=tuple(ps.groups[self.group]),
                                      resource=res.policy if res is not None else None,
                                      scps=tuple(p for _, p in levels) or None)
        else:
            base = ps.applicable(dataclasses.replace(request, principal=self.arn)
                                 if request.principal != self.arn else request)
        if "identity" in given:
            given = dict(given, identity=base.identity + given["identity"])
        return dataclasses.replace(base, **given) if given else base

    def source_type(self, ref) -> str:
        if ref.policy_type != "identity":
            return _SOURCE_TYPES.get(ref.policy_type, "none")
        name = ref.policy
        if name.startswith("PolicyInputList."):
            return "user"
        if ":policy/" in name:
            return "aws-managed" if name.startswith("arn:aws:iam::aws:policy/") else "user-managed"
        if name in self.group_policies:
            return "group"
        if "/inline/" in name:
            owner = name.split("/inline/", 1)[0]
            return "group" if ":group/" in owner else ("role" if ":role/" in owner else "user")
        return self.kind if self.kind in ("user", "role", "group") else "user"


def _display_name(name: str) -> str:
    """AWS's SourcePolicyId: a managed policy's name (not its ARN), an inline policy's own name."""
    if "/inline/" in name:
        return name.rsplit("/inline/", 1)[1]
    if name.startswith("arn:") and ":policy/" in name:
        return name.rsplit("/", 1)[-1]
    return name


def _load_account(paths):
    from ..account import load_account
    from ..errors import RequestError

    try:
        return load_account(paths if len(paths) > 1 else paths[0])
    except RequestError as exc:
        raise CliError(exc.code, f"{exc.message} (at {exc.path})") from None


def _simulate_requests(args) -> int:
    from ..errors import RequestError
    from ..request import Request
    from .context_entries import ContextEntryError, parse_context_entries

    if not args.action_names:
        raise UsageError("--action-names is required (or --cases FILE)", code="E_MISSING_FLAG")
    if args.policy_source_arn and not args.account:
        raise UsageError("--policy-source-arn needs --account ACCOUNT to read the principal's policies from",
                         code="E_MISSING_FLAG")
    if args.account and not args.policy_source_arn:
        raise UsageError("--account needs --policy-source-arn ARN (the principal whose policies answer)",
                         code="E_MISSING_FLAG")
    if not args.account and not (args.policy_input_list or args.resource_policy):
        raise UsageError("give --policy-input-list or --resource-policy, or --account with --policy-source-arn",
                         code="E_MISSING_FLAG")
    try:
        context = parse_context_entries(args.context_entries or [])
    except ContextEntryError as exc:
        raise CliError(exc.code, str(exc)) from None
    parsed: dict = {}
    source = None
    if args.account:
        source = _Source(_load_account(args.account), args.policy_source_arn)
        if source.group is not None and not args.caller_arn:
            raise UsageError("--caller-arn is required when --policy-source-arn is a group", code="E_MISSING_FLAG")
    given = _given_policies(args, parsed)
    warnings = catalog_warnings(args.action_names, args.resource_arns or ["*"])
    for code, message in warnings:
        print(f"lexauthz simulate: warning: {code}: {message}", file=sys.stderr)

    owner = _account_of(args.resource_owner)
    if args.resource_owner and owner is None:
        raise UsageError(f"--resource-owner `{args.resource_owner}` is neither an account id nor an ARN with one",
                         code="E_BAD_VALUE")
    arns = args.resource_arns or ["*"]
    bar = progress(len(args.action_names) * len(arns), "request")
    results = []
    try:
        for action in args.action_names:
            per_resource = []
            for arn in arns:
                if source is not None:
                    account = owner or _account_of(arn) or _account_of(args.caller_arn or source.arn)
                    caller = args.caller_arn or source.arn
                else:
                    account = owner or _account_of(arn) or _account_of(args.caller_arn) or "123456789012"
                    caller = args.caller_arn or f"arn:aws:iam::{account}:user/SimulatedCaller"
                try:
                    req = Request(principal=caller, action=action, resource=arn, resource_account=account,
                                  context=context)
                except RequestError as exc:
                    raise CliError(exc.code, f"{exc.message} (at {exc.path})") from None
                per_resource.append((arn, _evaluate(req, source, given, args.engine)))
                bar.update()
            results.append(_evaluation_result(action, per_resource, parsed, source))
    finally:
        bar.close()
    with open_out(args) as out:
        if args.output == "table":
            _print_table(results, out)
        elif args.output == "text":
            _print_text(results, out)
        else:
            json.dump({"EvaluationResults": results, "IsTruncated": False}, out, indent=2)
            out.write("\n")
    if args.strict and warnings:
        print(f"lexauthz simulate: error: E_STRICT: {len(warnings)} warnings with --strict", file=sys.stderr)
        return EXIT_INVALID
    if args.expect:
        wanted = {"allowed": {"allowed"}, "denied": {"explicitDeny", "implicitDeny"},
                  "explicitDeny": {"explicitDeny"}, "implicitDeny": {"implicitDeny"}}[args.expect]
        got = [r["EvalDecision"] for r in results]
        if not all(g in wanted for g in got):
            print(f"lexauthz simulate: E_EXPECT_MISMATCH: expected {args.expect}, got {', '.join(got)}",
                  file=sys.stderr)
            return EXIT_MISMATCH
    return EXIT_OK


def _evaluate(req, source, given: dict, engine: str):
    from ..policy.applicable import ApplicablePolicies

    if source is None:
        applicable = ApplicablePolicies(**given)
        request = req
    elif not given and source.group is None and req.principal == source.arn:
        return source.account.evaluate(req, engine=engine)
    else:
        applicable = source.applicable(req, given)
        request = source.account.policy_set.enrich(req)
    if engine == "compiled":
        from ..engine import evaluate_applicable

        return evaluate_applicable(request, applicable)
    from ..reference import evaluate

    return evaluate(request, applicable)


# --------------------------------------------------------------------------------------------------------------------
# catalog warnings
# --------------------------------------------------------------------------------------------------------------------


def _resource_kind(resource_part: str) -> str:
    for i, c in enumerate(resource_part):
        if c in ":/":
            return resource_part[:i]
    return resource_part


def _separators(resource_part: str) -> str:
    return "".join(c for c in resource_part if c in ":/")


def catalog_warnings(actions, resources) -> list[tuple[str, str]]:
    """``(code, message)`` for each action and resource ARN the catalog does not know, with a did-you-mean."""
    import difflib

    from ..catalog import load_catalog

    cat = load_catalog()
    out = []
    for a in dict.fromkeys(actions):
        if "*" in a or "?" in a or cat.action(a) is not None:
            continue
        service = a.partition(":")[0]
        if not cat.has_service(service):
            close = difflib.get_close_matches(service.lower(), sorted(cat.services()), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            out.append(("W_UNKNOWN_SERVICE", f"`{a}`: the catalog has no service `{service}`{hint}"))
            continue
        hint = cat.suggest_action(a)
        out.append(("W_UNKNOWN_ACTION", f"`{a}` is not an action the catalog knows" +
                    (f"; did you mean `{hint}`?" if hint else "")))
    for arn in dict.fromkeys(resources):
        if arn == "*" or not arn.startswith("arn:") or cat.resource_types_for_arn(arn):
            continue
        parts = arn.split(":", 5)
        service = parts[2] if len(parts) > 2 else ""
        if not cat.has_service(service):
            if service.lower() in ("iam", "sts"):
                continue  # principals and roles (iam:PassRole): not resources the Lex catalog describes
            close = difflib.get_close_matches(service.lower(), sorted(cat.services()), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            out.append(("W_UNKNOWN_RESOURCE_TYPE", f"`{arn}`: the catalog has no service `{service}`{hint}"))
            continue
        formats: dict[str, list[str]] = {}
        for rt in cat.resource_types(service):
            for fmt in rt.arn_formats:
                fparts = fmt.split(":", 5)
                if len(fparts) == 6:
                    formats.setdefault(_resource_kind(fparts[5]), []).append(fmt)
        rest = parts[5] if len(parts) == 6 else ""
        close = difflib.get_close_matches(_resource_kind(rest), sorted(formats), n=1)
        hint = ""
        if close:
            # of the close kind's formats, the one with the same separators as the ARN
            shape = _separators(rest)
            fmts = formats[close[0]]
            best = next((f for f in fmts if _separators(f.split(":", 5)[5]) == shape), fmts[0])
            hint = f"; did you mean the format `{best}`?"
        out.append(("W_UNKNOWN_RESOURCE_TYPE", f"`{arn}` matches no {service} resource type of the catalog{hint}"))
    return out


# --------------------------------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------------------------------


_SOURCE_TYPES = {"identity": "user", "resource": "resource", "permissions_boundary": "none", "session": "none",
                 "scp": "none"}
_RANK = {"explicitDeny": 2, "implicitDeny": 1, "allowed": 0, "error": 3}


def _matched(resp, parsed, source) -> list[dict]:
    out = []
    for ref in resp.matched_statements:
        stype = source.source_type(ref) if source is not None else _SOURCE_TYPES.get(ref.policy_type, "none")
        item: dict[str, Any] = {"SourcePolicyId": _display_name(ref.policy), "SourcePolicyType": stype}
        pr = parsed.get(ref.policy)
        if pr is not None and pr.document is not None and ref.index < len(pr.document.statements):
            path = pr.document.statements[ref.index].path
            if pr.text is not None:
                from ..policy.positions import scan_positions

                lc = scan_positions(pr.text).locate(path)
                if lc:
                    item["StartPosition"] = {"Line": lc[0], "Column": lc[1]}
        out.append(item)
    return out


def _evaluation_result(action: str, per_resource, parsed, source) -> dict:
    specific = []
    for arn, resp in per_resource:
        r = {
            "EvalResourceName": arn,
            "EvalResourceDecision": resp.decision.simulator_name,
            "MatchedStatements": _matched(resp, parsed, source),
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
    orgs = [resp.organizations_allowed for _, resp in per_resource]
    if any(o is not None for o in orgs):
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": all(o is not False for o in orgs)}
    if "PermissionsBoundaryDecisionDetail" in worst:
        out["PermissionsBoundaryDecisionDetail"] = worst["PermissionsBoundaryDecisionDetail"]
    out["ResourceSpecificResults"] = specific
    return out


def _rows(results) -> list[tuple[str, ...]]:
    rows = []
    for r in results:
        for s in r["ResourceSpecificResults"]:
            matched = ", ".join(m["SourcePolicyId"] for m in s["MatchedStatements"]) or "-"
            rows.append((r["EvalActionName"], s["EvalResourceName"], s["EvalResourceDecision"], matched,
                         ", ".join(s["MissingContextValues"]) or "-"))
    return rows


def _print_table(results, out) -> None:
    rows = [("ACTION", "RESOURCE", "DECISION", "MATCHED", "MISSING CONTEXT"), *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def _print_text(results, out) -> None:
    """The AWS CLI's ``--output text``: one tab-separated line per action and resource."""
    for row in _rows(results):
        out.write("\t".join(row) + "\n")
