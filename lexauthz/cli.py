"""The ``lexauthz`` command line.

Exit codes (Cedar's convention): ``0`` success, ``1`` usage or I/O error, ``2`` a decision differed from
``--expect`` (simulate), ``3`` validation errors.  Results go to stdout, diagnostics to stderr; no traceback is
printed for any input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .errors import Severity
from .findings import FINDINGS

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_MISMATCH = 2
EXIT_INVALID = 3

_FAIL_LEVELS = {
    "error": {Severity.ERROR},
    "security-warning": {Severity.ERROR, Severity.SECURITY_WARNING},
    "warning": {Severity.ERROR, Severity.SECURITY_WARNING, Severity.WARNING},
    "suggestion": {Severity.ERROR, Severity.SECURITY_WARNING, Severity.WARNING, Severity.SUGGESTION},
}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2; our usage errors exit 1
        self.print_usage(sys.stderr)
        raise _UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lexauthz", description="IAM authorization for Amazon Lex, as AWS IAM decides it.")
    p.add_argument("--version", action="store_true", help="print the version and the catalog version")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    v = sub.add_parser("validate", help="parse and validate IAM policies; findings as text or JSON",
                       description="Parse and validate IAM JSON policies. Exit 0 when clean, 3 on findings at or "
                                   "above --fail-on, 1 on a usage or I/O error.")
    v.add_argument("policies", nargs="+", metavar="POLICY", help="policy files (`-` reads standard input)")
    v.add_argument("--type", dest="policy_type", default="identity",
                   choices=["identity", "resource", "permission_boundary", "session", "scp"],
                   help="the policy type the files are (default: identity)")
    v.add_argument("--format", choices=["text", "json"], default="text")
    v.add_argument("--fail-on", choices=list(_FAIL_LEVELS), default="error",
                   help="lowest severity that makes the exit code 3 (default: error)")
    v.add_argument("--max-size", type=int, default=None, metavar="CHARS",
                   help="size quota in characters without white space (default: AWS's quota for the type; 0: off)")
    v.add_argument("--no-catalog", action="store_true", help="skip the catalog checks (actions, condition keys)")
    v.set_defaults(func=_cmd_validate)

    a = sub.add_parser("actions", help="expand an action pattern against the catalog",
                       description="List the catalog's actions that an IAM action pattern (`*`, `?`) matches.")
    a.add_argument("pattern", metavar="PATTERN", help="for example `lex:Put*`")
    a.add_argument("--format", choices=["text", "json"], default="text")
    a.set_defaults(func=_cmd_actions)

    _register_more(sub)
    return p


def _register_more(sub) -> None:
    """Commands that live in their own modules register here (simulate, demo)."""
    from . import bench, cli_simulate

    cli_simulate.register(sub)
    bench.register(sub)


# --------------------------------------------------------------------------------------------------------------------


def _read_source(name: str):
    if name == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    import pathlib

    return pathlib.Path(name), name


def _cmd_validate(args) -> int:
    from .policy import ValidationOptions, validate_policy

    opts = ValidationOptions(size_quota=args.max_size, check_catalog=not args.no_catalog)
    fail = _FAIL_LEVELS[args.fail_on]
    results = []
    io_error = False
    for name in args.policies:
        source, shown = _read_source(name)
        _, result = validate_policy(source, policy_type=args.policy_type, options=opts, source_name=shown)
        if any(f.code == "E_IO" for f in result.findings):
            io_error = True
        results.append((shown, result))
    worst = any(f.severity in fail for _, r in results for f in r.findings if f.code != "E_IO")
    if args.format == "json":
        out = {
            "policies": [
                {"source": shown, "ok": r.ok, "findings": [_finding_json(f) for f in r.findings]}
                for shown, r in results
            ],
            "summary": _summary(results),
        }
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for shown, r in results:
            if not r.findings:
                print(f"{shown}: ok")
            for f in r.findings:
                loc = f.path if f.line is None else f"{f.line}:{f.column} {f.path}"
                print(f"{shown}:{loc}: {f.severity.value.lower()} {f.code}: {f.message}")
        s = _summary(results)
        print(f"{s['policies']} policies: {s['ERROR']} errors, {s['SECURITY_WARNING']} security warnings, "
              f"{s['WARNING']} warnings, {s['SUGGESTION']} suggestions", file=sys.stderr)
    if io_error:
        return EXIT_FAILURE
    return EXIT_INVALID if worst else EXIT_OK


def _summary(results) -> dict:
    out = {"policies": len(results)}
    for sev in Severity:
        out[sev.value] = sum(1 for _, r in results for f in r.findings if f.severity is sev)
    return out


def _finding_json(f) -> dict:
    d = f.to_dict()
    spec = FINDINGS.get(f.code)
    from .policy.positions import path_elements

    d["findingType"] = f.severity.value
    d["issueCode"] = spec.access_analyzer_code if spec and spec.access_analyzer_code else f.code
    location: dict = {"path": path_elements(f.path)}
    if f.line is not None:
        location["span"] = {"start": {"line": f.line, "column": f.column}}
    d["locations"] = [location]
    return d


def _cmd_actions(args) -> int:
    from .catalog import load_catalog

    cat = load_catalog()
    pattern = args.pattern
    if ":" not in pattern and pattern != "*":
        print(f"lexauthz: error: `{pattern}` is not of the form `service:action`", file=sys.stderr)
        return EXIT_FAILURE
    found = cat.expand_action_pattern(pattern)
    if args.format == "json":
        json.dump([{"action": f"{a.service}:{a.name}", "access_level": a.access_level, "family": a.family}
                   for a in found], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for a in found:
            print(f"{a.service}:{a.name}")
        print(f"{len(found)} actions match `{pattern}`", file=sys.stderr)
    return EXIT_OK if found else EXIT_FAILURE


# --------------------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"lexauthz: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.version:
        from . import __version__

        try:
            from .catalog import catalog_version

            cv = catalog_version()
            print(f"lexauthz {__version__} (catalog {cv.get('source_package')} {cv.get('source_version')})")
        except Exception:  # noqa: BLE001 - version output must never fail
            print(f"lexauthz {__version__}")
        return EXIT_OK
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_FAILURE
    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from complaining at exit
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - no traceback for any input; the message names the failure
        print(f"lexauthz: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
