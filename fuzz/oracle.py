"""The oracle every fuzz input goes through, and the closed vocabulary of what it finds.

An input passes when every public entry point it reaches either answers or raises a coded
:class:`lexauthz.errors.LexAuthzError`, the compiled engine decides as :func:`lexauthz.reference.evaluate` does
wherever both evaluate, and no entry point answers Allow where the reference denies or where the same request gave an
error anywhere.  Anything else is a :class:`Finding` with one of the codes of :data:`CODES`; callers branch on the
code, never on the message.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from lexauthz.decision import Decision
from lexauthz.errors import LexAuthzError

__all__ = ["CODES", "Finding", "FindingError", "Outcome", "guarded", "is_coded", "check_decisions"]

#: Finding codes, most severe first, with what each means.
CODES = {
    "F_CRASH": "the process died (a signal, or a sanitizer report) while running the input",
    "F_UNCODED": "a public entry point raised an exception that is not a coded LexAuthzError",
    "F_ALLOW_ON_ERROR": "an entry point answered Allow for a request that raised or answered ERROR elsewhere",
    "F_FAIL_OPEN": "the compiled engine answered Allow where the reference (or the policy text) denies",
    "F_DISAGREE": "the compiled decision differs from the reference decision (no Allow involved on the compiled side)",
    "F_INCONSISTENT": "two entry points of the compiled engine (evaluate, is_allowed, evaluate_batch, encode, a "
                      "saved or pickled copy) answered the same request differently",
    "F_NOT_REFUSED": "an input that must be refused with a coded error was answered",
    "F_EXPLAIN": "same decision as the reference, but a different explanation (matched statements, missing keys)",
    "F_SLOW": "one input took longer than the per-input time budget",
}

#: Codes in the order they are reported when one input has several.
SEVERITY = tuple(CODES)


@dataclass
class Finding:
    """One oracle failure: a stable ``code`` (a key of :data:`CODES`), where it happened and the details."""

    code: str
    where: str
    message: str
    detail: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.code not in CODES:
            raise ValueError(f"unknown finding code `{self.code}`")

    def __str__(self) -> str:
        return f"{self.code} at {self.where}: {self.message}"

    def to_dict(self) -> dict:
        return {"code": self.code, "where": self.where, "message": self.message, "detail": self.detail}


class FindingError(Exception):
    """Raised by a target to stop at its first finding (the finding is in ``finding``)."""

    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(str(finding))


def is_coded(exc: BaseException) -> bool:
    """Whether ``exc`` is one of lexauthz's own errors with a stable code."""
    return isinstance(exc, LexAuthzError) and isinstance(getattr(exc, "code", None), str) and \
        exc.code.startswith("E_")


@dataclass
class Outcome:
    """What one guarded call gave: ``value`` or ``error`` (a coded exception), never both."""

    value: object = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        return None if self.error is None else self.error.code


def guarded(where: str, fn, *args, **kwargs) -> Outcome:
    """Call ``fn``: its value, or the coded error it raised; an uncoded exception raises an ``F_UNCODED`` finding.

    ``MemoryError`` and ``RecursionError`` count as uncoded: an entry point must bound what it allocates and how
    deep it recurses for any input.
    """
    try:
        return Outcome(value=fn(*args, **kwargs))
    except LexAuthzError as exc:
        if not is_coded(exc):
            raise FindingError(Finding("F_UNCODED", where, f"{type(exc).__name__} without a stable code: {exc}",
                                       {"traceback": _tb(exc)})) from None
        return Outcome(error=exc)
    except (KeyboardInterrupt, SystemExit, FindingError):
        raise
    except BaseException as exc:  # noqa: BLE001 - the point of the oracle
        raise FindingError(Finding("F_UNCODED", where, f"{type(exc).__name__}: {_short(exc)}",
                                   {"exception": type(exc).__name__, "traceback": _tb(exc)})) from None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _tb(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines)
    return text[-4000:]


def check_decisions(where: str, compiled: Decision, reference: Decision, request: dict) -> None:
    """Raise the finding for a compiled decision against the reference decision, if they differ."""
    if compiled == reference:
        return
    detail = {"request": request, "compiled": compiled.name, "reference": reference.name}
    if compiled == Decision.ALLOW:
        if reference == Decision.ERROR:
            raise FindingError(Finding("F_ALLOW_ON_ERROR", where, "compiled Allow where the reference answers ERROR",
                                       detail))
        raise FindingError(Finding("F_FAIL_OPEN", where, f"compiled Allow where the reference answers "
                                                         f"{reference.name}", detail))
    raise FindingError(Finding("F_DISAGREE", where, f"compiled {compiled.name} where the reference answers "
                                                    f"{reference.name}", detail))
