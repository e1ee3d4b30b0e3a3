"""``lexauthz actions PATTERN``: the catalog's actions an IAM action pattern (``*``, ``?``) matches."""
from __future__ import annotations

import json
import sys

from ._common import EXIT_FAILURE, EXIT_OK, CliError, add_output_flags, check_out, open_out

__all__ = ["register"]


def register(sub) -> None:
    a = sub.add_parser("actions", help="expand an action pattern against the catalog",
                       description="List the catalog's actions that an IAM action pattern (`*`, `?`) matches. "
                                   "Exit 0 when some match, 1 when none does.")
    a.add_argument("pattern", metavar="PATTERN", help="for example `lex:Put*`")
    add_output_flags(a, ("text", "json"), "text")
    a.set_defaults(func=run, _parser=a)


def run(args) -> int:
    from ..catalog import load_catalog

    check_out(args)
    pattern = args.pattern
    if ":" not in pattern and pattern != "*":
        raise CliError("E_BAD_ACTION", f"`{pattern}` is not of the form `service:action`")
    found = load_catalog().expand_action_pattern(pattern)
    with open_out(args) as out:
        if args.output == "json":
            json.dump([{"action": f"{a.service}:{a.name}", "access_level": a.access_level, "family": a.family}
                       for a in found], out, indent=2)
            out.write("\n")
        else:
            for a in found:
                out.write(f"{a.service}:{a.name}\n")
    print(f"{len(found)} actions match `{pattern}`", file=sys.stderr)
    return EXIT_OK if found else EXIT_FAILURE
