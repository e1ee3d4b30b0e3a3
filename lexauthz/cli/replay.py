"""CloudTrail verbs: ``replay`` (every Lex event decided again against the current account and candidates) and
``unused`` (Lex permissions no successful event used in a window, as Access Analyzer findings).

Trails (``TRAIL ...``) are files or folders in any form :mod:`lexauthz.cloudtrail` reads (``*.json.gz`` trail files
under the S3 layout, JSON Lines, EventBridge, lookup-events, Lake / Athena CSV or Parquet exports).  Records that
cannot be used are counted by reason on stderr and in the summary; they never stop the run.

Exit codes: ``0`` success; ``2`` ``replay --fail-on-breaking`` found breaking events, or ``unused
--fail-on-findings`` found findings; ``1`` a usage, input or I/O error, or a fatal input problem (a trail path that
does not exist, no input at all).
"""
from __future__ import annotations

import json
import os
import sys

from ._common import (EXIT_MISMATCH, EXIT_OK, CliError, UsageError, add_output_flags, check_out, open_out,
                      read_policy_arg)
from ._backend import add_backend_flags, backend_for
from .analysis import _changes, _check_report, _coded, _load, _write_text

__all__ = ["register"]


_JOIN_HELP = ("first read the trails' sts:AssumeRole events (a second read of the trails) and give the assumed-role "
              "sessions they made their session tags, joined by access key id")


def register(sub) -> None:
    r = sub.add_parser("replay", help="replay CloudTrail Lex events against the account and candidates",
                       description="Turn every Lex event of the trails into the IAM requests AWS made for it, group "
                                   "them, and decide each group with the current account and each candidate: one "
                                   "JSON line per distinct request (observed outcome, current and candidate "
                                   "decisions, deciding statements), then a summary on stderr (breaking set, "
                                   "newly allowed set, fidelity against what AWS did, skipped records).")
    r.prog = "lexauthz replay"
    r.add_argument("trails", nargs="+", metavar="TRAIL", help="trail files or folders")
    r.add_argument("--account", nargs="+", required=True, metavar="ACCOUNT", help="the current account")
    r.add_argument("--candidate", action="append", default=None, metavar="ACCOUNT",
                   help="a candidate account file (repeatable); named by its file name")
    r.add_argument("--scp", action="append", default=None, metavar="FILE",
                   help="candidate change: an SCP file attached at --target (repeatable, in order with --target)")
    r.add_argument("--target", action="append", default=None, metavar="OU|ACCOUNT|root",
                   help="where the --scp of the same position is attached")
    r.add_argument("--add-scp", action="append", default=None, metavar="TARGET=POLICY",
                   help="candidate change: attach an SCP (JSON text, file://PATH) to root, an OU or an account")
    r.add_argument("--replace-policy", action="append", default=None, metavar="NAME=POLICY",
                   help="candidate change: a new document for the policy NAME wherever it is attached")
    r.add_argument("--report", default=None, metavar="FILE.html", help="write the HTML report")
    r.add_argument("--timestamp", default=None, metavar="TEXT", help="a time stamp printed in the report")
    r.add_argument("--summary", default=None, metavar="FILE.json", help="write the summary as JSON")
    r.add_argument("--fail-on-breaking", action="store_true", help="exit 2 when some observed-allowed event breaks")
    r.add_argument("--per-event", action="store_true",
                   help="one line per event (its id, time and file) instead of one per distinct request; the trails "
                        "are read a second time")
    r.add_argument("--join-sessions", action="store_true", help=_JOIN_HELP)
    add_output_flags(r, ("json", "text"), "json")
    add_backend_flags(r)
    r.set_defaults(func=run_replay, _parser=r)

    u = sub.add_parser("unused", help="Lex permissions no successful CloudTrail event used, as Access Analyzer "
                                      "findings",
                       description="Per IAM user and role of the account: the Lex actions its policies allow on at "
                                   "least one resource, each marked used, used_unconfirmed, not_logged (CloudTrail "
                                   "does not record it: never called unused) or not_seen; UnusedPermission and "
                                   "UnusedIAMRole findings as JSON lines.")
    u.prog = "lexauthz unused"
    u.add_argument("trails", nargs="+", metavar="TRAIL", help="trail files or folders")
    u.add_argument("--account", nargs="+", required=True, metavar="ACCOUNT", help="the account")
    u.add_argument("--since", default="90d", metavar="WINDOW", help="the window: 90d (default), 12h, 2w")
    u.add_argument("--now", default=None, metavar="TIME", help="the end of the window (ISO 8601; default: now)")
    u.add_argument("--principals", action="store_true", help="print every principal's per-action evidence instead "
                                                             "of the findings")
    u.add_argument("--fail-on-findings", action="store_true", help="exit 2 when there are findings")
    u.add_argument("--join-sessions", action="store_true", help=_JOIN_HELP)
    add_output_flags(u, ("json", "text"), "json")
    add_backend_flags(u)
    u.set_defaults(func=run_unused, _parser=u)


def _check_trails(paths) -> None:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise CliError("E_NO_SUCH_FILE", f"trail `{missing[0]}` does not exist")


def _check_fatal(summary: dict) -> None:
    for f in summary.get("fatal", ()):
        raise CliError(f["reason"], f"{f['location']}: {f['detail']}")


def _records(paths):
    from ..cloudtrail import Skip, read_records

    _check_trails(paths)
    for item in read_records(paths):
        if isinstance(item, Skip) and item.fatal:
            raise CliError(item.reason, f"{item.location}: {item.detail}")
        yield item


def _candidates(args, current) -> tuple[list, list]:
    from ..analysis.changes import with_changes
    from ..errors import RequestError

    out, files = [], []
    for path in args.candidate or ():
        out.append((os.path.basename(path.rstrip("/")) or path, _load([path])))
        files.append(path)
    scps, targets = list(args.scp or ()), list(args.target or ())
    if len(scps) != len(targets):
        raise UsageError("give one --target for each --scp", code="E_USAGE")
    add = []
    for i, (path, target) in enumerate(zip(scps, targets)):
        text, name = read_policy_arg("file://" + path if not path.startswith("file://") else path, f"--scp[{i}]")
        add.append((target, text, os.path.basename(name)))
        files.append(name)
    more, replace, more_files = _changes(args)
    add += more
    files += more_files
    if add or replace:
        try:
            out.append(("candidate", with_changes(current, add_scps=add, replace_policies=replace)))
        except RequestError as exc:
            raise _coded(exc) from None
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise UsageError("two candidates have the same file name: rename one", code="E_USAGE")
    return out, files


def _skips_line(skipped: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in skipped.items()) or "none"


def run_replay(args) -> int:
    from ..analysis.replay import replay

    if args.out is not None:
        check_out(args)
    _check_report(args.report)
    current = _load(args.account)
    cands, files = _candidates(args, current)
    _check_trails(args.trails)
    with backend_for(args) as backend:
        result = replay(current, trails=args.trails, candidates=cands, backend=backend, sessions=args.join_sessions)
    s = result.summary
    _check_fatal(s)
    if args.report:
        from ..analysis.report import replay_report

        sources = {"current": list(current.sources), **({"candidates": [f for f in files if os.path.exists(f)]}
                                                         if files else {})}
        _write_text(args.report, replay_report(result, sources=sources, timestamp=args.timestamp))
    if args.summary:
        _write_text(args.summary, json.dumps(s, indent=1) + "\n")
    with open_out(args) as out:
        if args.per_event:
            for x in result.per_event(_records(args.trails)):
                out.write(json.dumps(x) + "\n")
        elif args.out is not None or args.output == "json":
            result.write_jsonl(out)
        else:
            for x in result.records:
                cand = x.get("candidate", "")
                out.write("\t".join((x["observed"], x["current"], cand, str(x["events"]), x["principal"],
                                     x["action"], x["resource"])) + "\n")
    fid = s["fidelity"]
    print(f"{s['events']:,} Lex events in {s['distinct_requests']:,} distinct requests; breaking "
          f"{s['breaking']['events']:,} events ({s['breaking']['records']:,} requests), newly allowed "
          f"{s['newly_allowed']['events']:,}; fidelity {fid['agree_events']:,} of {fid['compared_events']:,} events "
          f"as AWS decided ({fid['disagreement_rate']:.4%} disagree), {fid['unknown_events']:,} with another error; "
          f"skipped: {_skips_line(s['skipped'])}", file=sys.stderr)
    for f in s["findings"]:
        print(f"{args._parser.prog}: warning: {f.get('code', '')}: {f.get('message', '')} "
              f"(at {f.get('location', '')})", file=sys.stderr)
    return EXIT_MISMATCH if args.fail_on_breaking and s["breaking"]["events"] else EXIT_OK


def run_unused(args) -> int:
    from datetime import datetime

    from ..analysis.unused import parse_window, unused
    from ..errors import RequestError

    if args.out is not None:
        check_out(args)
    try:
        window = parse_window(args.since)
    except RequestError as exc:
        raise UsageError(exc.message, code=exc.code) from None
    now = None
    if args.now is not None:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--now `{args.now}` is not an ISO 8601 time", code="E_BAD_TIME") from None
    account = _load(args.account)
    _check_trails(args.trails)
    with backend_for(args) as backend:
        result = unused(account, trails=args.trails, since=window, now=now, backend=backend,
                        sessions=args.join_sessions)
    _check_fatal(result.summary)
    rows = result.principals if args.principals else result.findings
    with open_out(args) as out:
        for x in rows:
            if args.out is not None or args.output == "json":
                out.write(json.dumps(x) + "\n")
            elif args.principals:
                for a in x["actions"]:
                    out.write("\t".join((x["resource"], a["action"], a["evidence"], a["lastAccessed"] or "-")) + "\n")
            else:
                acts = [a["action"] for d in x["findingDetails"] for a in d.get("unusedPermissionDetails",
                                                                                 {}).get("actions", [])]
                out.write("\t".join((x["findingType"], x["resource"], ",".join(acts))) + "\n")
    s = result.summary
    print(f"{s['findings']} findings for {s['principals']} principals over {s['events_in_window']:,} Lex events in "
          f"the window {s['window']['start']} .. {s['window']['end']}; actions: "
          + ", ".join(f"{k} {v:,}" for k, v in s["actions"].items()) + f"; skipped: {_skips_line(s['skipped'])}",
          file=sys.stderr)
    return EXIT_MISMATCH if args.fail_on_findings and s["findings"] else EXIT_OK
