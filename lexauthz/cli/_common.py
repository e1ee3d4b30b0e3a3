"""What every verb of the command line shares: exit codes, errors, the argument parser, output flags.

Output flags mean one thing on every verb, as in the AWS CLI: ``--output json|table|text`` is the *format* and
``--out FILE`` the *destination* (its folder must exist).  A flag the chosen mode cannot honour is refused with a
usage error naming the verb (:class:`UsageError`), never ignored.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import IO, Iterator

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_MISMATCH", "EXIT_INVALID", "CliError", "UsageError", "Parser",
           "add_output_flags", "check_out", "open_out", "refuse_given", "read_policy_arg"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_MISMATCH = 2
EXIT_INVALID = 3


class UsageError(Exception):
    """A usage error: the verb's usage and ``<prog>: error: <code>: <message>`` on stderr, exit 1.

    ``prog`` is set when argparse raised it (it then printed the usage already); otherwise :func:`lexauthz.cli.main`
    prints the usage of the verb being run.
    """

    def __init__(self, message: str, *, code: str = "E_USAGE", prog: str | None = None):
        super().__init__(message)
        self.code = code
        self.prog = prog


class CliError(Exception):
    """An input, I/O or validation problem: ``<prog>: error: <code>: <message>`` on stderr, then ``exit_code``."""

    def __init__(self, code: str, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """argparse, except that a usage error exits 1 (not 2) and is reported with the verb's own usage."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.print_usage(sys.stderr)
        raise UsageError(message, prog=self.prog)


def add_output_flags(parser: argparse.ArgumentParser, formats: tuple[str, ...], default: str) -> None:
    """``--output FORMAT`` (one of ``formats``, default ``default``) and ``--out FILE``."""
    parser.add_argument("--output", choices=formats, default=default,
                        help=f"output format (default: {default})")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="write the results to FILE instead of standard output (its folder must exist)")


def check_out(args) -> None:
    """Refuse ``--out FILE`` up front when FILE cannot be written: its folder is missing, or it is a folder."""
    path = getattr(args, "out", None)
    if path is None:
        return
    if not path:
        raise UsageError("--out needs a file name", code="E_OUT_PATH")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--out `{path}`: the folder `{parent}` does not exist", code="E_OUT_PATH")
    if os.path.isdir(path):
        raise UsageError(f"--out `{path}` is a folder", code="E_OUT_PATH")


@contextlib.contextmanager
def open_out(args) -> Iterator[IO[str]]:
    """Standard output, or the ``--out`` file (written in full or not at all is not promised: it is a stream)."""
    path = getattr(args, "out", None)
    if path is None:
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CliError("E_IO", f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}") from None
    with fh:
        yield fh


def refuse_given(args, flags: dict[str, str], reason: str) -> None:
    """Usage error when any of ``flags`` (dest -> flag spelling) was given: ``reason`` says why it cannot apply."""
    for dest, flag in flags.items():
        if getattr(args, dest, None) not in (None, False, [], ()):
            raise UsageError(f"{flag} cannot be used {reason}", code="E_FLAG_CONFLICT")


def read_policy_arg(value: str, what: str) -> tuple[str, str]:
    """``(json text, display name)`` from JSON text, ``file://PATH`` or ``-`` (standard input)."""
    if value == "-":
        return sys.stdin.read(), "<stdin>"
    if value.startswith("file://"):
        path = value[len("file://"):]
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read(), path
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CliError("E_IO", f"cannot read {what} `{path}`: {reason.lower()}") from None
    return value, what
