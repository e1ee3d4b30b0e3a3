"""``lexauthz validate POLICY...``: parse and validate IAM policies; every finding with a code, a severity as Access
Analyzer uses them and a JSON path (and line and column).  Exit 0 clean, 3 on findings at or above ``--fail-on``, 1
on a usage or I/O error."""
from __future__ import annotations

import json
import sys

from ..errors import Severity
from ..findings import FINDINGS
from ._common import EXIT_FAILURE, EXIT_INVALID, EXIT_OK, add_output_flags, check_out, open_out

__all__ = ["register"]

_FAIL_LEVELS = {
    "error": {Severity.ERROR},
    "security-warning": {Severity.ERROR, Severity.SECURITY_WARNING},
    "warning": {Severity.ERROR, Severity.SECURITY_WARNING, Severity.WARNING},
    "suggestion": {Severity.ERROR, Severity.SECURITY_WARNING, Severity.WARNING, Severity.SUGGESTION},
}


def register(sub) -> None:
    v = sub.add_parser("validate", help="parse and validate IAM policies; findings as text or JSON",
                       description="Parse and validate IAM JSON policies. Exit 0 when clean, 3 on findings at or "
                                   "above --fail-on, 1 on a usage or I/O error.")
    v.add_argument("policies", nargs="+", metavar="POLICY", help="policy files (`-` reads standard input)")
    v.add_argument("--type", dest="policy_type", default="identity",
                   choices=["identity", "resource", "permissions_boundary", "session", "scp"],
                   help="the policy type the files are (default: identity)")
    add_output_flags(v, ("text", "json"), "text")
    v.add_argument("--fail-on", choices=list(_FAIL_LEVELS), default="error",
                   help="lowest severity that makes the exit code 3 (default: error)")
    v.add_argument("--max-size", type=int, default=None, metavar="CHARS",
                   help="size quota in characters without white space (default: AWS's quota for the type; 0: off)")
    v.add_argument("--no-catalog", action="store_true", help="skip the catalog checks (actions, condition keys)")
    v.set_defaults(func=run, _parser=v)


def _read_source(name: str):
    if name == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    import pathlib

    return pathlib.Path(name), name


def run(args) -> int:
    from ..policy import ValidationOptions, validate_policy

    check_out(args)
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
    with open_out(args) as out:
        if args.output == "json":
            data = {
                "policies": [
                    {"source": shown, "ok": r.ok, "findings": [_finding_json(f) for f in r.findings]}
                    for shown, r in results
                ],
                "summary": _summary(results),
            }
            json.dump(data, out, indent=2)
            out.write("\n")
        else:
            for shown, r in results:
                if not r.findings:
                    out.write(f"{shown}: ok\n")
                for f in r.findings:
                    loc = f.path if f.line is None else f"{f.line}:{f.column} {f.path}"
                    out.write(f"{shown}:{loc}: {f.severity.value.lower()} {f.code}: {f.message}\n")
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
    from ..policy.positions import path_elements

    d = f.to_dict()
    spec = FINDINGS.get(f.code)
    d["findingType"] = f.severity.value
    d["issueCode"] = spec.access_analyzer_code if spec and spec.access_analyzer_code else f.code
    location: dict = {"path": path_elements(f.path)}
    if f.line is not None:
        location["span"] = {"start": {"line": f.line, "column": f.column}}
    d["locations"] = [location]
    return d
