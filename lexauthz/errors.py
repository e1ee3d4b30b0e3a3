"""Exceptions, findings and severities.

Findings are data: a stable ``code`` (listed in :mod:`lexauthz.findings`), a ``severity`` as AWS IAM Access Analyzer
uses them, a ``message`` following the house message rules (lower case, no trailing period, user input in
backticks) and a JSON ``path`` such as ``$.Statement[1].Action[0]``.  Callers branch on ``code``, never on text.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Severity",
    "Finding",
    "ValidationResult",
    "LexAuthzError",
    "PolicyParseError",
    "PolicyValidationError",
    "RequestError",
    "PlanFormatError",
    "CompileError",
]


class Severity(str, enum.Enum):
    """Finding severities, named as Access Analyzer's ``findingType``."""

    ERROR = "ERROR"
    SECURITY_WARNING = "SECURITY_WARNING"
    WARNING = "WARNING"
    SUGGESTION = "SUGGESTION"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a policy or an input file.

    ``line`` and ``column`` (1-based) are set when the finding comes from the JSON text itself (malformed JSON) or
    when the parser could map the path back to the text.  ``source`` names the file or policy it came from.
    """

    code: str
    severity: Severity
    message: str
    path: str = "$"
    line: int | None = None
    column: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where = f"{where} (line {self.line}, column {self.column})"
        prefix = f"{self.source}: " if self.source else ""
        return f"{prefix}{self.code} at {where}: {self.message}"

    def to_dict(self) -> dict:
        """The finding as plain JSON data, with an Access Analyzer style ``findingType`` and ``locations``."""
        out: dict = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
        }
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Every finding for one policy, in document order."""

    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is not Severity.ERROR)

    @property
    def ok(self) -> bool:
        """True when there is no ERROR finding (warnings never block)."""
        return not self.errors

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)


class LexAuthzError(Exception):
    """Base class of every error lexauthz raises on purpose."""

    code = "E_LEXAUTHZ"


class PolicyParseError(LexAuthzError, ValueError):
    """A policy could not be parsed; ``findings`` says where and why."""

    code = "E_POLICY_PARSE"

    def __init__(self, findings: tuple[Finding, ...] | list[Finding], source: str | None = None):
        self.findings = tuple(findings)
        self.source = source
        first = self.findings[0] if self.findings else None
        super().__init__(str(first) if first else "policy could not be parsed")


class PolicyValidationError(LexAuthzError, ValueError):
    """A policy has ERROR findings and is refused; ``result`` holds every finding."""

    code = "E_POLICY_INVALID"

    def __init__(self, result: ValidationResult, source: str | None = None):
        self.result = result
        self.source = source
        errs = result.errors
        msg = str(errs[0]) if errs else "policy is invalid"
        if len(errs) > 1:
            msg += f" (and {len(errs) - 1} more errors)"
        super().__init__(msg)


class RequestError(LexAuthzError, ValueError):
    """A request (ARN, action, context) is malformed.  ``code`` is stable; ``path`` locates the bad field."""

    def __init__(self, code: str, message: str, path: str = "$"):
        self.code = code
        self.path = path
        self.message = message
        super().__init__(f"{code} at {path}: {message}")


class PlanFormatError(LexAuthzError, ValueError):
    """A saved engine file is corrupt, truncated, of another version or not a lexauthz file."""

    code = "E_PLAN_FORMAT"


class CompileError(LexAuthzError):
    """A policy set could not be compiled."""

    code = "E_COMPILE"
