"""The ``lexauthz`` command line: one verb per module.

``validate`` (:mod:`.validate`), ``actions`` (:mod:`.actions`), ``simulate`` (:mod:`.simulate`), ``demo``
(:mod:`.demo`), ``bench`` (:mod:`.bench`), the analysis verbs (:mod:`.analysis`), ``replay`` and ``unused``
(:mod:`.replay`) and ``serve`` (:mod:`.serve`).  Each module has ``register(subparsers)``; this module holds the root
parser and :func:`main`.

Exit codes (Cedar's convention): ``0`` success, ``1`` usage or I/O error, ``2`` a decision differed from
``--expect`` (simulate), ``3`` validation errors (and, with ``simulate --strict``, warnings about unknown actions or
resource types).  Results go to stdout (or ``--out FILE``), diagnostics to stderr as ``lexauthz VERB: error: CODE:
message``; a usage error prints the verb's usage first.  No traceback is printed for any input.
"""
from __future__ import annotations

import sys
from typing import Sequence

from ._common import EXIT_FAILURE, EXIT_INVALID, EXIT_MISMATCH, EXIT_OK, CliError, Parser, UsageError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_MISMATCH", "EXIT_INVALID"]


def build_parser() -> Parser:
    """The root parser with every verb registered."""
    from . import actions, analysis, bench, demo, replay, serve, simulate, validate

    p = Parser(prog="lexauthz", description="IAM authorization for Amazon Lex, as AWS IAM decides it.")
    p.add_argument("--version", action="store_true", help="print the version and the catalog version")
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for verb in (validate, actions, simulate, demo, bench, analysis, replay, serve):
        verb.register(sub)
    return p


def _print_version() -> int:
    from .. import __version__

    try:
        from ..catalog import catalog_version

        cv = catalog_version()
        print(f"lexauthz {__version__} (catalog {cv.get('source_package')} {cv.get('source_version')})")
    except Exception:  # noqa: BLE001 - version output must never fail
        print(f"lexauthz {__version__}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = None
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            # an unknown flag is the verb's usage error, not the root's
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except UsageError as exc:
        print(f"{exc.prog or 'lexauthz'}: error: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.version:
        return _print_version()
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_FAILURE
    verb = args._parser
    try:
        return args.func(args)
    except UsageError as exc:
        verb.print_usage(sys.stderr)
        print(f"{verb.prog}: error: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except CliError as exc:
        print(f"{verb.prog}: error: {exc.code}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from complaining at exit
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - no traceback for any input; the message names the failure
        print(f"{verb.prog}: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
