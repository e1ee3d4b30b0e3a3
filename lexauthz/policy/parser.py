"""Parse IAM JSON policy documents into the immutable model of :mod:`lexauthz.policy.model`.

The parser checks the *grammar* of a policy (IAM User Guide, "Grammar of the IAM JSON policy language",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html): element names, value types, the
mutually exclusive pairs and the condition operator names.  It returns every problem it finds as a
:class:`~lexauthz.errors.Finding`; it never raises for bad input.  Checks that need the catalog (unknown actions,
condition keys) or the policy type (``Principal`` in an identity policy) belong to :mod:`lexauthz.policy.validate`.

When the grammar is broken the document is still built from what could be read, so that the validator can report
more; :attr:`ParseResult.ok` tells whether the document may be evaluated.
"""
from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import Finding, PolicyParseError, Severity
from ..findings import make_finding
from .model import (
    PRINCIPAL_KINDS,
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    PolicyDocument,
    Principal,
    Statement,
)
from .operators import parse_operator, suggest_operator
from .positions import JsonPositions, find_bareword, join_path, scan_positions

__all__ = ["ParseResult", "parse_policy", "load_policy", "dump_policy", "MAX_DOCUMENT_BYTES"]

#: Documents larger than this are refused before JSON decoding (AWS's largest policy quota is far smaller).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

_TOP_ELEMENTS = ("Version", "Id", "Statement")
_STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


class _JsonNumber(str):
    """A JSON number kept as its source text (IAM stores condition values as strings)."""

    __slots__ = ()


def _is_str(value: Any) -> bool:
    """A JSON string (numbers are kept as :class:`_JsonNumber` text, which is not a string here)."""
    return isinstance(value, str) and not isinstance(value, _JsonNumber)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of parsing one policy.

    ``document`` is ``None`` only when nothing could be read (malformed JSON, not an object).  ``findings`` are in
    text order.  ``text`` is the JSON text when the source was text, used to locate findings (line, column).
    """

    document: PolicyDocument | None
    findings: tuple[Finding, ...]
    source_name: str | None = None
    text: str | None = field(default=None, repr=False, compare=False)
    size: int = 0

    @property
    def ok(self) -> bool:
        """True when there is no ERROR finding."""
        return self.document is not None and not any(f.severity is Severity.ERROR for f in self.findings)

    def locate(self, findings) -> tuple[Finding, ...]:
        """Return ``findings`` with line and column filled in from the text, where known.

        The text is scanned only when some finding has no location yet (a malformed-JSON finding already has the
        decoder's), and the scan never raises, even on text that is not JSON.
        """
        findings = tuple(findings)
        if self.text is None or all(f.line is not None for f in findings):
            return findings
        pos = _positions_for(self.text)
        out = []
        for f in findings:
            if f.line is None:
                lc = pos.locate(f.path)
                if lc is not None:
                    f = Finding(f.code, f.severity, f.message, f.path, lc[0], lc[1], f.source)
            out.append(f)
        return tuple(out)


_POS_CACHE: dict[int, tuple[str, JsonPositions]] = {}


def _positions_for(text: str) -> JsonPositions:
    key = id(text)
    hit = _POS_CACHE.get(key)
    if hit is not None and hit[0] is text:
        return hit[1]
    pos = scan_positions(text)
    if len(_POS_CACHE) > 64:
        _POS_CACHE.clear()
    _POS_CACHE[key] = (text, pos)
    return pos


# --------------------------------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------------------------------


def parse_policy(source: Any, *, source_name: str | None = None) -> ParseResult:
    """Parse a policy from JSON text (``str``), UTF-8 ``bytes``, an already decoded ``dict``, or a file path
    (``pathlib.Path`` / ``os.PathLike``).

    Returns
    -------
    ParseResult
        The document (``None`` when nothing could be read) and every finding, with line and column where the
        source was text.  Never raises for bad content; a file that cannot be read gives ``E_IO``.
    """
    if isinstance(source, (pathlib.PurePath, os.PathLike)):
        name = source_name or os.fspath(source)
        try:
            with open(source, "rb") as fh:
                data = fh.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            return ParseResult(None, (make_finding("E_IO", f"cannot read `{name}`: {reason.lower()}", source=name),), name)
        return parse_policy(data, source_name=name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        if len(raw) > MAX_DOCUMENT_BYTES:
            return _too_large(len(raw), source_name)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ParseResult(
                None,
                (make_finding("E_NOT_UTF8", f"document is not UTF-8 text: invalid byte at offset {exc.start}",
                              source=source_name),),
                source_name,
            )
        return _parse_text(text, source_name, len(raw))
    if isinstance(source, str):
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_DOCUMENT_BYTES:
            return _too_large(size, source_name)
        return _parse_text(source.lstrip("\ufeff"), source_name, size)
    if isinstance(source, dict):
        b = _Builder(source_name)
        doc = b.document(source)
        try:
            size = len(json.dumps(source))
        except (TypeError, ValueError):
            size = 0
        return ParseResult(doc, tuple(b.findings), source_name, None, size)
    what = type(source).__name__
    return ParseResult(
        None,
        (make_finding("E_NOT_OBJECT", f"a policy must be JSON text, bytes, an object or a path, not `{what}`",
                      source=source_name),),
        source_name,
    )


def load_policy(source: Any, *, source_name: str | None = None) -> PolicyDocument:
    """Parse a policy and return its document, raising :class:`PolicyParseError` on any ERROR finding."""
    res = parse_policy(source, source_name=source_name)
    if not res.ok:
        raise PolicyParseError(res.locate(f for f in res.findings if f.severity is Severity.ERROR), source_name)
    assert res.document is not None
    return res.document


def _too_large(size: int, source_name: str | None) -> ParseResult:
    return ParseResult(
        None,
        (make_finding("E_DOCUMENT_TOO_LARGE",
                      f"document is {size} bytes: more than the {MAX_DOCUMENT_BYTES} bytes lexauthz reads",
                      source=source_name),),
        source_name,
        size=size,
    )


def _parse_text(text: str, source_name: str | None, size: int) -> ParseResult:
    has_duplicates = False

    def pairs_hook(pairs):
        nonlocal has_duplicates
        d = dict(pairs)
        if len(d) != len(pairs):
            has_duplicates = True
        return d

    if not text.strip():
        return ParseResult(None, (make_finding("E_MALFORMED_JSON", "document is empty", line=1, column=1,
                                               source=source_name),), source_name, text, size)
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_int=_JsonNumber, parse_float=_JsonNumber,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        msg = exc.msg[0].lower() + exc.msg[1:] if exc.msg else "malformed json"
        return ParseResult(
            None,
            (make_finding("E_MALFORMED_JSON", f"malformed json: {msg}", line=exc.lineno, column=exc.colno,
                          source=source_name),),
            source_name, text, size,
        )
    except _ConstantError as exc:
        off = find_bareword(text, exc.args[0])
        line, column = (None, None) if off is None else _line_col(text, off)
        return ParseResult(None, (make_finding("E_MALFORMED_JSON", f"malformed json: `{exc.args[0]}` is not JSON",
                                               line=line, column=column, source=source_name),),
                           source_name, text, size)
    except RecursionError:
        return ParseResult(None, (make_finding("E_TOO_DEEP", "document is nested too deeply to be a policy",
                                               source=source_name),), source_name, text, size)
    b = _Builder(source_name)
    if has_duplicates:
        pos = _positions_for(text)
        for path, offset in pos.duplicates:
            line, column = pos.offset_to_line_col(offset)
            b.findings.append(make_finding("E_DUPLICATE_KEY", f"key `{_last_key(path)}` appears more than once",
                                           path=path, line=line, column=column, source=source_name))
    doc = b.document(data)
    res = ParseResult(doc, tuple(b.findings), source_name, text, size)
    if res.findings:
        res = ParseResult(doc, res.locate(res.findings), source_name, text, size)
    return res


class _ConstantError(ValueError):
    pass


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _reject_constant(name: str):
    raise _ConstantError(name)


def _last_key(path: str) -> str:
    if path.endswith('"]'):
        start = path.rfind('["')
        return path[start + 2 : -2].replace('\\"', '"').replace("\\\\", "\\")
    return path.rsplit(".", 1)[-1]


# --------------------------------------------------------------------------------------------------------------------
# the model builder
# --------------------------------------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (_JsonNumber, int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class _Builder:
    def __init__(self, source_name: str | None):
        self.source_name = source_name
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, path: str) -> None:
        self.findings.append(make_finding(code, message, path=path, source=self.source_name))

    # --- document -----------------------------------------------------------------------------------------------

    def document(self, data: Any) -> PolicyDocument | None:
        if not isinstance(data, dict):
            self.add("E_NOT_OBJECT", f"a policy document must be a JSON object, not {_json_type(data)}", "$")
            return None
        self._unknown_elements(data, _TOP_ELEMENTS, "$")
        version = self._version(data)
        pid = data.get("Id")
        if "Id" in data and not _is_str(pid):
            self.add("E_INVALID_TYPE", f"`Id` must be a string, not {_json_type(pid)}", "$.Id")
            pid = None
        statements: list[Statement] = []
        is_list = True
        if "Statement" not in data:
            self.add("E_MISSING_STATEMENT", "policy has no `Statement` element", "$")
        else:
            raw = data["Statement"]
            if isinstance(raw, dict):
                is_list = False
                st = self.statement(raw, 0, "$.Statement")
                if st is not None:
                    statements.append(st)
            elif isinstance(raw, list):
                for i, item in enumerate(raw):
                    st = self.statement(item, i, f"$.Statement[{i}]")
                    if st is not None:
                        statements.append(st)
            else:
                self.add("E_INVALID_TYPE",
                         f"`Statement` must be an object or an array of objects, not {_json_type(raw)}", "$.Statement")
        return PolicyDocument(tuple(statements), version, pid if _is_str(pid) else None, is_list)

    def _version(self, data: dict) -> str | None:
        if "Version" not in data:
            return None
        v = data["Version"]
        if not _is_str(v):
            self.add("E_INVALID_VERSION", f"`Version` must be `{VERSION_2012}` or `{VERSION_2008}`, not a {_json_type(v)}",
                     "$.Version")
            return None
        if v not in (VERSION_2012, VERSION_2008):
            self.add("E_INVALID_VERSION", f"`Version` must be `{VERSION_2012}` or `{VERSION_2008}`, not `{v}`",
                     "$.Version")
        return v

    def _unknown_elements(self, data: dict, allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key in allowed:
                continue
            hint = next((a for a in allowed if a.lower() == str(key).lower()), None)
            msg = f"unknown element `{key}`"
            if hint:
                msg += f": element names are case-sensitive, did you mean `{hint}`"
            self.add("E_UNKNOWN_ELEMENT", msg, join_path(path, str(key)))

    # --- statement ----------------------------------------------------------------------------------------------

    def statement(self, raw: Any, index: int, path: str) -> Statement | None:
        if not isinstance(raw, dict):
            self.add("E_INVALID_TYPE", f"a statement must be an object, not {_json_type(raw)}", path)
            return None
        self._unknown_elements(raw, _STATEMENT_ELEMENTS, path)
        sid = raw.get("Sid")
        if "Sid" in raw and not _is_str(sid):
            self.add("E_INVALID_TYPE", f"`Sid` must be a string, not {_json_type(sid)}", f"{path}.Sid")
            sid = None
        effect = raw.get("Effect")
        if "Effect" not in raw:
            self.add("E_MISSING_EFFECT", "statement has no `Effect`", path)
            effect = ""
        elif not _is_str(effect) or effect not in ("Allow", "Deny"):
            shown = effect if _is_str(effect) else _json_type(effect)
            hint = ": `Effect` is case-sensitive" if _is_str(effect) and effect.lower() in ("allow", "deny") else ""
            self.add("E_INVALID_EFFECT", f"`Effect` must be `Allow` or `Deny`, not `{shown}`{hint}", f"{path}.Effect")
            effect = effect if _is_str(effect) else ""
        action = self._string_list(raw, "Action", path)
        not_action = self._string_list(raw, "NotAction", path)
        if "Action" in raw and "NotAction" in raw:
            self.add("E_ACTION_AND_NOT_ACTION", "statement has both `Action` and `NotAction`", path)
        elif "Action" not in raw and "NotAction" not in raw:
            self.add("E_MISSING_ACTION", "statement has neither `Action` nor `NotAction`", path)
        resource = self._string_list(raw, "Resource", path)
        not_resource = self._string_list(raw, "NotResource", path)
        if "Resource" in raw and "NotResource" in raw:
            self.add("E_RESOURCE_AND_NOT_RESOURCE", "statement has both `Resource` and `NotResource`", path)
        principal = self._principal(raw, "Principal", path)
        not_principal = self._principal(raw, "NotPrincipal", path)
        if "Principal" in raw and "NotPrincipal" in raw:
            self.add("E_PRINCIPAL_AND_NOT_PRINCIPAL", "statement has both `Principal` and `NotPrincipal`", path)
        condition = self._condition(raw, path)
        return Statement(
            effect=effect,
            sid=sid,
            action=action,
            not_action=not_action,
            resource=resource,
            not_resource=not_resource,
            principal=principal,
            not_principal=not_principal,
            condition=condition,
            index=index,
            path=path,
        )

    def _string_list(self, raw: dict, name: str, path: str) -> tuple[str, ...] | None:
        if name not in raw:
            return None
        value = raw[name]
        epath = f"{path}.{name}"
        if _is_str(value):
            return (value,)
        if isinstance(value, list):
            out = []
            for i, item in enumerate(value):
                if _is_str(item):
                    out.append(item)
                else:
                    self.add("E_INVALID_TYPE", f"`{name}` entries must be strings, not {_json_type(item)}",
                             f"{epath}[{i}]")
            return tuple(out)
        self.add("E_INVALID_TYPE", f"`{name}` must be a string or an array of strings, not {_json_type(value)}", epath)
        return ()

    def _principal(self, raw: dict, name: str, path: str) -> Principal | None:
        if name not in raw:
            return None
        value = raw[name]
        epath = f"{path}.{name}"
        if _is_str(value) and value == "*":
            return Principal(wildcard=True)
        if not isinstance(value, dict):
            shown = f"`{value}`" if _is_str(value) else _json_type(value)
            self.add("E_INVALID_PRINCIPAL",
                     f"`{name}` must be `*` or an object such as {{\"AWS\": ...}}, not {shown}", epath)
            return Principal()
        entries = []
        if not value:
            self.add("E_INVALID_PRINCIPAL", f"`{name}` is an empty object", epath)
        for kind, vals in value.items():
            kpath = join_path(epath, kind)
            if kind not in PRINCIPAL_KINDS:
                hint = next((k for k in PRINCIPAL_KINDS if k.lower() == kind.lower()), None)
                msg = f"unknown principal type `{kind}`"
                msg += f": did you mean `{hint}`" if hint else f": expected one of {', '.join(PRINCIPAL_KINDS)}"
                self.add("E_INVALID_PRINCIPAL", msg, kpath)
                continue
            if _is_str(vals):
                entries.append((kind, (vals,)))
            elif isinstance(vals, list):
                good = []
                for i, v in enumerate(vals):
                    if _is_str(v):
                        good.append(v)
                    else:
                        self.add("E_INVALID_TYPE", f"principal values must be strings, not {_json_type(v)}",
                                 f"{kpath}[{i}]")
                entries.append((kind, tuple(good)))
            else:
                self.add("E_INVALID_TYPE",
                         f"`{kind}` principal must be a string or an array of strings, not {_json_type(vals)}", kpath)
        return Principal(wildcard=False, entries=tuple(entries))

    def _condition(self, raw: dict, path: str) -> tuple[ConditionClause, ...]:
        if "Condition" not in raw:
            return ()
        block = raw["Condition"]
        cpath = f"{path}.Condition"
        if not isinstance(block, dict):
            self.add("E_INVALID_TYPE", f"`Condition` must be an object, not {_json_type(block)}", cpath)
            return ()
        clauses: list[ConditionClause] = []
        for operator, keys in block.items():
            opath = join_path(cpath, operator)
            parsed = parse_operator(operator)
            if parsed is None:
                hint = suggest_operator(operator)
                msg = f"unknown condition operator `{operator}`"
                if hint:
                    msg += f": did you mean `{hint}`"
                self.add("E_UNKNOWN_OPERATOR", msg, opath)
                qualifier, base, if_exists = None, operator, False
            else:
                qualifier, base, if_exists = parsed
            if not isinstance(keys, dict):
                self.add("E_INVALID_TYPE",
                         f"condition operator `{operator}` must map to an object of key to values, not {_json_type(keys)}",
                         opath)
                continue
            if not keys:
                self.add("E_EMPTY_CONDITION", f"condition operator `{operator}` names no condition key", opath)
            for key, values in keys.items():
                kpath = join_path(opath, key)
                if not key:
                    self.add("E_INVALID_CONDITION_KEY", "condition key is empty", kpath)
                vals = self._condition_values(values, kpath)
                if vals is None:
                    continue
                clauses.append(ConditionClause(operator, base, qualifier, if_exists, key, vals, kpath))
        return tuple(clauses)

    def _condition_values(self, values: Any, path: str) -> tuple[str, ...] | None:
        items = values if isinstance(values, list) else [values]
        out: list[str] = []
        for i, v in enumerate(items):
            vpath = f"{path}[{i}]" if isinstance(values, list) else path
            if isinstance(v, bool):
                out.append("true" if v else "false")
            elif isinstance(v, (_JsonNumber, str)):
                out.append(str(v))
            elif isinstance(v, (int, float)):
                out.append(json.dumps(v))
            else:
                self.add("E_INVALID_CONDITION_VALUE",
                         f"condition values must be strings, numbers or booleans, not {_json_type(v)}", vpath)
        if isinstance(values, list) and not values:
            self.add("E_EMPTY_CONDITION", "condition key has an empty list of values", path)
        return tuple(out)


# --------------------------------------------------------------------------------------------------------------------
# dump
# --------------------------------------------------------------------------------------------------------------------


def dump_policy(doc: PolicyDocument) -> dict:
    """The document as JSON data; ``parse_policy(dump_policy(d)).document == d`` for every parsed ``d``."""
    out: dict[str, Any] = {}
    if doc.version is not None:
        out["Version"] = doc.version
    if doc.id is not None:
        out["Id"] = doc.id
    stmts = [_dump_statement(s) for s in doc.statements]
    out["Statement"] = stmts if doc.statement_is_list or len(stmts) != 1 else stmts[0]
    return out


def _dump_principal(p: Principal) -> Any:
    if p.wildcard:
        return "*"
    return {kind: list(vals) for kind, vals in p.entries}


def _dump_statement(s: Statement) -> dict:
    out: dict[str, Any] = {}
    if s.sid is not None:
        out["Sid"] = s.sid
    out["Effect"] = s.effect
    if s.principal is not None:
        out["Principal"] = _dump_principal(s.principal)
    if s.not_principal is not None:
        out["NotPrincipal"] = _dump_principal(s.not_principal)
    for name, value in (("Action", s.action), ("NotAction", s.not_action), ("Resource", s.resource),
                        ("NotResource", s.not_resource)):
        if value is not None:
            out[name] = list(value)
    if s.condition:
        cond: dict[str, dict[str, list[str]]] = {}
        for c in s.condition:
            cond.setdefault(c.operator, {})[c.key] = list(c.values)
        out["Condition"] = cond
    return out
