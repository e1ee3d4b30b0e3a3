"""What-if analysis verbs: ``matrix``, ``who-can``, ``what-can``, ``whatif diff`` and the Access Analyzer-compatible
checks ``check-no-new-access``, ``check-access-not-granted``, ``check-no-public-access``.

Accounts (``--account``, ``--before``, ``--after``) are any account form ``load_account`` reads.  Output flags mean
what they mean on every verb: ``--output`` is the format of standard output, ``--out FILE`` the destination, and
a data file's format comes from its suffix (``.csv``, ``.jsonl``, ``.parquet``, ``.npz`` for the matrix; ``.json``
or ``.jsonl`` for who-can and what-can; ``.jsonl`` for a diff).  ``--report FILE.html`` writes the HTML report.

Exit codes: ``0`` success (a check: PASS), ``2`` a check FAILs or (``--fail-on-change``) a diff has changes, ``1`` a
usage, input or I/O error; a diff whose witness the reference evaluator does not confirm also exits ``1``.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from ._backend import add_backend_flags, backend_for
from ._common import (EXIT_FAILURE, EXIT_MISMATCH, EXIT_OK, CliError, UsageError, add_output_flags, check_out,
                      open_out, read_policy_arg)

__all__ = ["register"]


def _acc_arg(p, flag: str, help_: str, required: bool = True) -> None:
    p.add_argument(flag, nargs="+", required=required, default=None, metavar="ACCOUNT", help=help_)


def register(sub) -> None:
    m = sub.add_parser("matrix", help="the access matrix of an account over a request space",
                       description="Decide every (principal, action, resource, context) cell of a request space, "
                                   "one representative per equivalence class, and write the matrix (--out FILE: "
                                   ".csv, .jsonl, .parquet or .npz). Standard output gets the counts.")
    _acc_arg(m, "--account", "the account (account file or folder, or GAAD output)")
    m.add_argument("--space", default=None, metavar="FILE", help="the request space (JSON); default: every known "
                   "principal, every Lex action, the inventory, generated contexts")
    m.add_argument("--no-compress", action="store_true", help="decide every cell instead of one per class")
    m.add_argument("--report", default=None, metavar="FILE.html", help="write the HTML report")
    m.add_argument("--timestamp", default=None, metavar="TEXT", help="a time stamp printed in the report")
    add_output_flags(m, ("json", "table", "text"), "json")
    add_backend_flags(m)
    m.set_defaults(func=run_matrix, _parser=m)

    w = sub.add_parser("who-can", help="which principals may do actions on a resource",
                       description="The principals allowed to do the actions on the resource: every principal the "
                                   "account knows and every principal its resource policies name, with the deciding "
                                   "statements and missing context keys.")
    _acc_arg(w, "--account", "the account")
    w.add_argument("--resource", required=True, metavar="ARN", help="the resource")
    w.add_argument("--actions", nargs="+", default=None, metavar="ACTION", help="actions or patterns (default lex:*)")
    w.add_argument("--principals", nargs="+", default=None, metavar="ARN", help="only these candidates")
    w.add_argument("--context-entries", nargs="+", default=None, metavar="ENTRY",
                   help="the request context, as `simulate --context-entries`")
    add_output_flags(w, ("json", "table", "text"), "json")
    w.set_defaults(func=run_who_can, _parser=w)

    c = sub.add_parser("what-can", help="what a principal may do",
                       description="The actions and resources the principal is allowed, with the deciding "
                                   "statements; --policy-document prints a consolidated policy of its effective Lex "
                                   "permissions instead.")
    _acc_arg(c, "--account", "the account")
    c.add_argument("--principal", required=True, metavar="ARN", help="the principal")
    c.add_argument("--actions", nargs="+", default=None, metavar="ACTION", help="actions or patterns (default lex:*)")
    c.add_argument("--resources", nargs="+", default=None, metavar="ARN", help="resources (default: the inventory)")
    c.add_argument("--context-entries", nargs="+", default=None, metavar="ENTRY", help="the request context")
    c.add_argument("--policy-document", action="store_true",
                   help="print the consolidated policy document (as iam-lens principal-can)")
    add_output_flags(c, ("json", "table", "text"), "json")
    c.set_defaults(func=run_what_can, _parser=c)

    wi = sub.add_parser("whatif", help="what-if analysis of policy-set changes",
                        description="What-if analysis; the verb is `whatif diff`.")
    wsub = wi.add_subparsers(dest="whatif_command", metavar="SUBCOMMAND")
    wi.set_defaults(func=lambda args: _no_subverb(wi), _parser=wi)
    d = wsub.add_parser("diff", help="the cells whose decision changes between two policy sets",
                        description="Diff two accounts (or an account and candidate changes) over a request space: "
                                    "one JSON line per group of changed cells with a witness request re-checked by "
                                    "the reference evaluator, then a summary line.")
    d.prog = "lexauthz whatif diff"
    _acc_arg(d, "--before", "the account as it is")
    _acc_arg(d, "--after", "the account as it would be (or give candidate changes)", required=False)
    d.add_argument("--add-scp", action="append", default=None, metavar="TARGET=POLICY",
                   help="candidate change: attach an SCP (JSON text, file://PATH) to root, an OU or an account")
    d.add_argument("--replace-policy", action="append", default=None, metavar="NAME=POLICY",
                   help="candidate change: a new document for the policy NAME wherever it is attached")
    d.add_argument("--remove-from-group", action="append", default=None, metavar="PRINCIPAL=GROUP",
                   help="candidate change: the principal leaves the group")
    d.add_argument("--space", default=None, metavar="FILE", help="the request space (JSON)")
    d.add_argument("--witnesses", type=int, default=3, metavar="N", help="witness requests per record (default 3)")
    d.add_argument("--report", default=None, metavar="FILE.html", help="write the HTML report")
    d.add_argument("--timestamp", default=None, metavar="TEXT", help="a time stamp printed in the report")
    d.add_argument("--fail-on-change", action="store_true", help="exit 2 when some cell changed")
    add_output_flags(d, ("json", "table", "text"), "json")
    add_backend_flags(d)
    d.set_defaults(func=run_diff, _parser=d)

    n = sub.add_parser("check-no-new-access", help="Access Analyzer CheckNoNewAccess, exact, with witnesses",
                       description="PASS when the new policy allows nothing the existing one does not; exit 0 PASS, "
                                   "2 FAIL, 1 error.")
    n.add_argument("--existing-policy-document", required=True, metavar="POLICY", help="JSON text, file://PATH or -")
    n.add_argument("--new-policy-document", required=True, metavar="POLICY", help="JSON text, file://PATH or -")
    n.add_argument("--policy-type", required=True, choices=("IDENTITY_POLICY", "RESOURCE_POLICY"))
    n.add_argument("--witnesses", action="store_true", help="add the requests behind a FAIL")
    add_output_flags(n, ("json", "text"), "json")
    n.set_defaults(func=run_check_no_new_access, _parser=n)

    g = sub.add_parser("check-access-not-granted", help="Access Analyzer CheckAccessNotGranted, with witnesses",
                       description="FAIL when the policy allows a listed action or access to a listed resource; exit "
                                   "0 PASS, 2 FAIL, 1 error.")
    g.add_argument("--policy-document", required=True, metavar="POLICY", help="JSON text, file://PATH or -")
    g.add_argument("--access", required=True, metavar="JSON",
                   help="'[{\"actions\": [...], \"resources\": [...]}]' (JSON text or file://PATH)")
    g.add_argument("--policy-type", required=True, choices=("IDENTITY_POLICY", "RESOURCE_POLICY"))
    g.add_argument("--witnesses", action="store_true", help="add the requests behind a FAIL")
    add_output_flags(g, ("json", "text"), "json")
    g.set_defaults(func=run_check_access_not_granted, _parser=g)

    pu = sub.add_parser("check-no-public-access", help="Access Analyzer CheckNoPublicAccess for Lex resources",
                        description="FAIL when the resource policy grants access to principals of any account "
                                    "(AWS::Lex::Bot and AWS::Lex::BotAlias: an extension, Access Analyzer has no Lex "
                                    "type); exit 0 PASS, 2 FAIL, 1 error.")
    pu.add_argument("--policy-document", required=True, metavar="POLICY", help="JSON text, file://PATH or -")
    pu.add_argument("--resource-type", required=True, metavar="TYPE", help="AWS::Lex::Bot or AWS::Lex::BotAlias")
    pu.add_argument("--witnesses", action="store_true", help="add the requests behind a FAIL")
    add_output_flags(pu, ("json", "text"), "json")
    pu.set_defaults(func=run_check_no_public_access, _parser=pu)


def _no_subverb(parser) -> int:
    raise UsageError("give a subcommand: diff", code="E_USAGE")


# --------------------------------------------------------------------------------------------------------------------
# shared
# --------------------------------------------------------------------------------------------------------------------


def _coded(exc) -> CliError:
    path = getattr(exc, "path", None)
    msg = getattr(exc, "message", None) or str(exc)
    return CliError(getattr(exc, "code", "E_INPUT"), f"{msg} (at {path})" if path and path != "$" else msg)


def _load(paths):
    from ..account import load_account
    from ..errors import RequestError

    try:
        return load_account(paths if len(paths) > 1 else paths[0])
    except RequestError as exc:
        raise _coded(exc) from None


def _space(path: str | None, accounts):
    from ..analysis import load_space, resolve_space
    from ..errors import RequestError

    try:
        spec = load_space(path) if path else None
        return resolve_space(spec, accounts)
    except RequestError as exc:
        raise _coded(exc) from None


def _context(entries):
    if not entries:
        return None
    from .context_entries import ContextEntryError, parse_context_entries

    try:
        return parse_context_entries(entries)
    except ContextEntryError as exc:
        raise CliError(exc.code, str(exc)) from None


def _check_report(path: str | None) -> None:
    if path is None:
        return
    if not path.lower().endswith((".html", ".htm")):
        raise UsageError(f"--report `{path}` must be an .html file", code="E_OUT_PATH")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--report `{path}`: the folder `{parent}` does not exist", code="E_OUT_PATH")


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CliError("E_IO", f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}") from None


def _suffix(args, allowed: tuple[str, ...]) -> str | None:
    out = getattr(args, "out", None)
    if out is None:
        return None
    ext = os.path.splitext(out)[1].lower()
    if ext in allowed:
        return ext
    if ext:
        raise UsageError(f"--out `{out}`: use a file ending in {', '.join(allowed)}", code="E_UNKNOWN_FORMAT")
    return None


def _table(rows: list[tuple[str, ...]], out) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")


# --------------------------------------------------------------------------------------------------------------------
# matrix
# --------------------------------------------------------------------------------------------------------------------


def run_matrix(args) -> int:
    from ..analysis.matrix import FORMATS, matrix, stderr_progress
    from ..errors import RequestError

    _check_report(args.report)
    if args.out is not None:
        check_out(args)
        _suffix(args, tuple(FORMATS))
        if os.path.splitext(args.out)[1].lower() not in FORMATS:
            raise UsageError(f"--out `{args.out}`: use a .csv, .jsonl, .parquet or .npz file",
                             code="E_UNKNOWN_FORMAT")
    account = _load(args.account)
    space = _space(args.space, [account])
    try:
        with backend_for(args) as backend:
            m = matrix(account, space, compress=not args.no_compress, progress=stderr_progress(space.cells, "cells"),
                       backend=backend)
        if args.out:
            m.write(args.out)
    except RequestError as exc:
        raise _coded(exc) from None
    summary = m.summary()
    if args.report:
        from ..analysis.report import matrix_report

        _write_text(args.report, matrix_report(m, sources={"account": list(account.sources)},
                                               timestamp=args.timestamp))
    out = sys.stdout
    if args.output == "json":
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        rows = [("DECISION", "CELLS")] if args.output == "table" else []
        rows += [(k, str(v)) for k, v in summary["summary"]["by_decision"].items()]
        if args.output == "table":
            _table(rows, out)
        else:
            for r in rows:
                out.write("\t".join(r) + "\n")
    cls = summary["summary"]["classes"]
    print(f"{space.cells:,} cells from {cls['evaluated']:,} evaluated "
          f"({cls['principals']} principal, {cls['actions']} action, {cls['resources']} resource classes)",
          file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------------------
# who-can / what-can
# --------------------------------------------------------------------------------------------------------------------


def _emit_accesses(args, accesses) -> None:
    ext = _suffix(args, (".json", ".jsonl"))
    records = [a.to_dict() for a in accesses]
    with open_out(args) as out:
        if ext == ".jsonl":
            for r in records:
                out.write(json.dumps(r) + "\n")
        elif ext == ".json" or args.output == "json":
            out.write(json.dumps(records, indent=2) + "\n")
        else:
            rows = [(r["principal"], r["action"], r["resource"],
                     ", ".join(f"{d['policy_id']}#{d['statement_index']}" for d in r["deciding"]),
                     ", ".join(r["missing_context_values"]) or "-") for r in records]
            if args.output == "table":
                _table([("PRINCIPAL", "ACTION", "RESOURCE", "DECIDING", "MISSING CONTEXT"), *rows], out)
            else:
                for r in rows:
                    out.write("\t".join(r) + "\n")


def run_who_can(args) -> int:
    from ..analysis import who_can
    from ..errors import RequestError

    check_out(args)
    _suffix(args, (".json", ".jsonl"))
    account = _load(args.account)
    try:
        found = who_can(account, args.resource, args.actions, context=_context(args.context_entries),
                        principals=args.principals)
    except RequestError as exc:
        raise _coded(exc) from None
    _emit_accesses(args, found)
    print(f"{len({a.principal for a in found})} principals may do {len({a.action for a in found})} actions on "
          f"`{args.resource}`", file=sys.stderr)
    return EXIT_OK


def run_what_can(args) -> int:
    from ..analysis import effective_policy, what_can
    from ..errors import RequestError

    check_out(args)
    _suffix(args, (".json", ".jsonl"))
    account = _load(args.account)
    ctx = _context(args.context_entries)
    try:
        if args.policy_document:
            doc = effective_policy(account, args.principal, args.actions, args.resources, context=ctx)
            with open_out(args) as out:
                out.write(json.dumps(doc, indent=2) + "\n")
            return EXIT_OK
        found = what_can(account, args.principal, args.actions, args.resources, context=ctx)
    except RequestError as exc:
        raise _coded(exc) from None
    _emit_accesses(args, found)
    print(f"`{args.principal}` may do {len(found)} (action, resource) pairs", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------------------
# whatif diff
# --------------------------------------------------------------------------------------------------------------------


def _pairs(values, flag: str) -> list[tuple[str, str]]:
    out = []
    for v in values or ():
        key, sep, rest = v.partition("=")
        if not sep or not key or not rest:
            raise UsageError(f"{flag} `{v}` must be KEY=VALUE", code="E_USAGE")
        out.append((key, rest))
    return out


def _changes(args) -> tuple[list, dict, list]:
    """The candidate changes ``--add-scp`` and ``--replace-policy`` give: the SCPs to attach ``(target, text,
    name)``, the new policy documents by name, and the files they came from."""
    scps, replace, files = [], {}, []
    for i, (target, value) in enumerate(_pairs(args.add_scp, "--add-scp")):
        text, name = read_policy_arg(value, f"--add-scp[{i}]")
        scps.append((target, text, os.path.basename(name) if name.endswith(".json") else f"candidate-scp-{i}"))
        files.append(name)
    for i, (name, value) in enumerate(_pairs(args.replace_policy, "--replace-policy")):
        text, source = read_policy_arg(value, f"--replace-policy[{i}]")
        replace[name] = text
        files.append(source)
    return scps, replace, files


def _after(args, before):
    from ..analysis.changes import with_changes
    from ..errors import RequestError

    changes = bool(args.add_scp or args.replace_policy or args.remove_from_group)
    if args.after and changes:
        raise UsageError("give --after or candidate changes (--add-scp, --replace-policy, --remove-from-group), "
                         "not both", code="E_FLAG_CONFLICT")
    if args.after:
        return _load(args.after), list(args.after)
    if not changes:
        raise UsageError("give --after ACCOUNT or candidate changes (--add-scp, --replace-policy, "
                         "--remove-from-group)", code="E_USAGE")
    scps, replace, files = _changes(args)
    try:
        acc = with_changes(before, add_scps=scps, replace_policies=replace,
                           remove_memberships=_pairs(args.remove_from_group, "--remove-from-group"))
    except RequestError as exc:
        raise _coded(exc) from None
    return acc, list(before.sources) + files


def _policy_texts(accounts, names) -> dict[str, str]:
    from ..policy import dump_policy

    want = set(names)
    out: dict[str, str] = {}
    for acc in accounts:
        for p in acc.policy_set.policies():
            if p.name in want and p.document is not None:
                out[p.name] = json.dumps(dump_policy(p.document), indent=1)
    return out


def run_diff(args) -> int:
    from ..analysis.diff import diff
    from ..analysis.matrix import stderr_progress

    if args.out is not None:
        check_out(args)
        _suffix(args, (".jsonl",))
    _check_report(args.report)
    if args.witnesses < 1:
        raise UsageError("--witnesses must be at least 1", code="E_USAGE")
    before = _load(args.before)
    after, after_sources = _after(args, before)
    space = _space(args.space, [before, after])
    with backend_for(args) as backend:
        d = diff(before, after, space, witnesses=args.witnesses, progress=stderr_progress(2 * space.cells, "cells"),
                 backend=backend)
    s = d.summary["summary"]
    if args.report:
        from ..analysis.report import diff_report

        names = [st["policy_id"] for st in s["statements"][:50]]
        _write_text(args.report, diff_report(d, sources={"before": list(before.sources),
                                                         "after": [p for p in after_sources if os.path.exists(p)]},
                                             timestamp=args.timestamp,
                                             policies=_policy_texts([after, before], names)))
    with open_out(args) as out:
        if args.out is not None or args.output == "json":
            d.write_jsonl(out)
        elif args.output == "table":
            rows = [("CHANGE", "CELLS", "WITNESS PRINCIPAL", "ACTION", "RESOURCE")]
            rows += [(r["change"], str(r["count"]), r["principal"], r["action"], r["resource"]) for r in d]
            _table(rows, out)
            out.write(f"\n{s['changed']:,} of {s['cells']:,} cells changed\n")
        else:
            for r in d:
                out.write("\t".join((r["change"], str(r["count"]), r["principal"], r["action"], r["resource"])) +
                          "\n")
    print(f"{s['changed']:,} of {s['cells']:,} cells changed in {s['records']} records; "
          + ", ".join(f"{k} {v:,}" for k, v in s["by_change"].items() if v), file=sys.stderr)
    w = s["witnesses"]
    if w["verified"] != w["checked"]:
        print(f"{args._parser.prog}: error: E_WITNESS_UNVERIFIED: {w['checked'] - w['verified']} witnesses are "
              "decided otherwise by the reference evaluator (marked `verified: false`)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_MISMATCH if args.fail_on_change and s["changed"] else EXIT_OK


# --------------------------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------------------------


def _emit_check(args, result) -> int:
    data = result.to_dict(witnesses=args.witnesses)
    with open_out(args) as out:
        if args.output == "json":
            out.write(json.dumps(data, indent=4) + "\n")
        else:
            out.write(f"{data['message']}\t{data['result']}\n")
            for r in data["reasons"]:
                out.write(f"REASONS\t{r['description']}\t{r.get('statementId', '')}\t{r['statementIndex']}\n")
            for w in data.get("witnesses", ()):
                out.write(f"WITNESSES\t{w['principal']}\t{w['action']}\t{w['resource']}\t"
                          f"{json.dumps(w['context'], sort_keys=True)}\n")
    return EXIT_OK if result.passed else EXIT_MISMATCH


def _run_check(args, call) -> int:
    from ..errors import RequestError

    check_out(args)
    try:
        result = call()
    except RequestError as exc:
        raise _coded(exc) from None
    return _emit_check(args, result)


def run_check_no_new_access(args) -> int:
    from ..analysis.checks import check_no_new_access

    old = read_policy_arg(args.existing_policy_document, "--existing-policy-document")[0]
    new = read_policy_arg(args.new_policy_document, "--new-policy-document")[0]
    return _run_check(args, lambda: check_no_new_access(old, new, args.policy_type))


def run_check_access_not_granted(args) -> int:
    from ..analysis.checks import check_access_not_granted

    doc = read_policy_arg(args.policy_document, "--policy-document")[0]
    access: Any = read_policy_arg(args.access, "--access")[0]
    return _run_check(args, lambda: check_access_not_granted(doc, access, args.policy_type))


def run_check_no_public_access(args) -> int:
    from ..analysis.checks import check_no_public_access

    doc = read_policy_arg(args.policy_document, "--policy-document")[0]
    return _run_check(args, lambda: check_no_public_access(doc, args.resource_type))
