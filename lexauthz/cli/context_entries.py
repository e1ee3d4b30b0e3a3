"""``--context-entries``: the AWS CLI's shorthand and JSON forms of ``ContextEntry``, each value checked against its
``ContextKeyType``.

Shorthand (one entry per argument)::

    ContextKeyName=aws:TagKeys,ContextKeyValues=[a,b],ContextKeyType=stringList
    ContextKeyName=aws:TagKeys,ContextKeyValues=a,b,ContextKeyType=stringList      # a list without brackets
    ContextKeyName=aws:username,ContextKeyValues="a,b",ContextKeyType=string       # quotes keep commas

JSON (one argument, a list of entries or one entry)::

    [{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"}]

``ContextKeyType`` is AWS's enum (``string``, ``stringList``, ``numeric``, ``numericList``, ``boolean``,
``booleanList``, ``date``, ``dateList``, ``ip``, ``ipList``, ``binary``, ``binaryList``; default ``string``).  A
single-valued type takes exactly one value.  Every problem is a :class:`ContextEntryError` with a code and the
entry's position (``--context-entries[0]`` is the first entry, counting the entries of a JSON list one by one).
"""
from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import json
import re
from datetime import datetime
from typing import Any, Sequence

__all__ = ["CONTEXT_KEY_TYPES", "ContextEntryError", "parse_context_entries", "parse_shorthand"]

#: AWS's ``ContextKeyTypeEnumType``.
CONTEXT_KEY_TYPES = ("string", "stringList", "numeric", "numericList", "boolean", "booleanList", "date", "dateList",
                     "ip", "ipList", "binary", "binaryList")

_FIELDS = ("ContextKeyName", "ContextKeyValues", "ContextKeyType")
_KEY_START = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*=")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


class ContextEntryError(ValueError):
    """A ``--context-entries`` problem: ``code`` and the entry's ``where`` (``--context-entries[1]``)."""

    def __init__(self, code: str, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.code = code
        self.where = where
        self.message = message


# -- the shorthand ------------------------------------------------------------------------------------------------


def _quoted(text: str, i: int, where: str) -> tuple[str, int]:
    quote = text[i]
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"unterminated {quote} quote")


def _item(text: str, i: int, stops: str, where: str) -> tuple[str, int]:
    """One scalar from ``i``: quoted, or the text up to one of ``stops``."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] in "\"'":
        value, i = _quoted(text, i, where)
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] not in stops:
            raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"unexpected `{text[i]}` after a quoted value")
        return value, i
    j = i
    while j < len(text) and text[j] not in stops:
        j += 1
    return text[i:j].strip(), j


def parse_shorthand(text: str, where: str = "--context-entries[0]") -> dict[str, Any]:
    """One shorthand entry as ``{"ContextKeyName": str, "ContextKeyValues": [str, ...], "ContextKeyType": str}``
    (only the fields given)."""
    entry: dict[str, Any] = {}
    i = 0
    n = len(text)
    while i < n:
        m = _KEY_START.match(text, i)
        if m is None:
            raise ContextEntryError("E_CONTEXT_SYNTAX", where,
                                    f"expected `ContextKeyName=...`, `ContextKeyValues=...` or `ContextKeyType=...` "
                                    f"at `{text[i:i + 20]}`")
        key = m.group(1)
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ContextEntryError("E_CONTEXT_UNKNOWN_FIELD", where, f"unknown field `{key}`{hint}")
        if key in entry:
            raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"`{key}` is given twice")
        i = m.end()
        while i < n and text[i] == " ":
            i += 1
        if key == "ContextKeyValues":
            values: list[str] = []
            if i < n and text[i] == "[":
                i += 1
                while True:
                    while i < n and text[i] == " ":
                        i += 1
                    if i < n and text[i] == "]" and not values:
                        i += 1
                        break
                    value, i = _item(text, i, ",]", where)
                    values.append(value)
                    if i >= n:
                        raise ContextEntryError("E_CONTEXT_SYNTAX", where, "a `[` list is not closed with `]`")
                    if text[i] == "]":
                        i += 1
                        break
                    i += 1  # ","
                while i < n and text[i] == " ":
                    i += 1
                if i < n and text[i] != ",":
                    raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"unexpected `{text[i]}` after `]`")
            else:
                # a list without brackets: values run on until the next `Field=`
                while True:
                    value, i = _item(text, i, ",", where)
                    values.append(value)
                    if i >= n or _KEY_START.match(text, i + 1):
                        break
                    i += 1
            entry[key] = values
        else:
            value, i = _item(text, i, ",", where)
            if not value:
                raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"`{key}` has no value")
            entry[key] = value
        if i < n:
            if text[i] != ",":
                raise ContextEntryError("E_CONTEXT_SYNTAX", where, f"unexpected `{text[i]}`")
            i += 1
            if i >= n:
                raise ContextEntryError("E_CONTEXT_SYNTAX", where, "a trailing `,`")
    return entry


# -- checking -----------------------------------------------------------------------------------------------------


def _check_value(ctype: str, value: str) -> str | None:
    """Why ``value`` is not a value of ``ctype`` (the element type for a list type), or ``None``."""
    base = ctype[:-4] if ctype.endswith("List") else ctype
    if base == "string":
        return None
    if base == "numeric":
        return None if _NUMERIC.match(value.strip()) else "is not a number"
    if base == "boolean":
        return None if value.lower() in ("true", "false") else "is not `true` or `false`"
    if base == "ip":
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return "is not an IP address or CIDR block"
        return None
    if base == "date":
        text = value.strip()
        if _NUMERIC.match(text):
            return None  # seconds since the epoch
        try:
            datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return "is not an ISO 8601 date or epoch seconds"
        return None
    if base == "binary":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not base64"
        return None
    return None  # pragma: no cover - the type was checked first


def _entries(values: Sequence[str]) -> list[tuple[str, Any]]:
    """``(where, raw entry)`` for each entry of each argument, JSON lists flattened."""
    out: list[tuple[str, Any]] = []
    for raw in values:
        text = raw.strip()
        where = f"--context-entries[{len(out)}]"
        if text.startswith(("[", "{")):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ContextEntryError("E_CONTEXT_SYNTAX", where,
                                        f"malformed JSON: {exc.msg.lower()} (column {exc.colno})") from None
            for item in data if isinstance(data, list) else [data]:
                out.append((f"--context-entries[{len(out)}]", item))
        else:
            out.append((where, parse_shorthand(text, where)))
    return out


def parse_context_entries(values: Sequence[str]) -> dict[str, Any]:
    """The request context the entries give: a string for a single-valued type, a tuple for a list type.

    Raises
    ------
    ContextEntryError
        ``E_CONTEXT_SYNTAX``, ``E_CONTEXT_UNKNOWN_FIELD``, ``E_CONTEXT_NO_NAME``, ``E_CONTEXT_BAD_TYPE``,
        ``E_CONTEXT_BAD_VALUE``, ``E_CONTEXT_NO_VALUE``, ``E_CONTEXT_MULTIPLE_VALUES``, ``E_CONTEXT_DUPLICATE_KEY``.
    """
    context: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for where, e in _entries(values):
        if not isinstance(e, dict):
            raise ContextEntryError("E_CONTEXT_SYNTAX", where, "an entry must be an object")
        unknown = [k for k in e if k not in _FIELDS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], _FIELDS, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ContextEntryError("E_CONTEXT_UNKNOWN_FIELD", where, f"unknown field `{unknown[0]}`{hint}")
        name = e.get("ContextKeyName")
        if not isinstance(name, str) or not name.strip():
            raise ContextEntryError("E_CONTEXT_NO_NAME", where, "the entry has no `ContextKeyName`")
        name = name.strip()
        ctype = e.get("ContextKeyType", "string")
        if ctype not in CONTEXT_KEY_TYPES:
            close = difflib.get_close_matches(str(ctype), CONTEXT_KEY_TYPES, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ContextEntryError("E_CONTEXT_BAD_TYPE", where, f"`{ctype}` is not a ContextKeyType (one of "
                                    f"{', '.join(CONTEXT_KEY_TYPES)}){hint}")
        vals = e.get("ContextKeyValues", [])
        if isinstance(vals, str):
            vals = [vals]
        if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
            raise ContextEntryError("E_CONTEXT_BAD_VALUE", where, f"`ContextKeyValues` of `{name}` must be strings")
        for j, v in enumerate(vals):
            why = _check_value(ctype, v)
            if why:
                raise ContextEntryError("E_CONTEXT_BAD_VALUE", where,
                                        f"value {j} of `{name}` (`{v}`) {why}, as type `{ctype}` requires")
        if ctype.endswith("List"):
            value: Any = tuple(vals)
        elif not vals:
            raise ContextEntryError("E_CONTEXT_NO_VALUE", where, f"`{name}` ({ctype}) has no value")
        elif len(vals) > 1:
            raise ContextEntryError("E_CONTEXT_MULTIPLE_VALUES", where,
                                    f"`{name}` is single-valued ({ctype}) but has {len(vals)} values; use "
                                    f"`{ctype}List` for several")
        else:
            value = vals[0]
        folded = name.lower()
        if folded in seen:
            raise ContextEntryError("E_CONTEXT_DUPLICATE_KEY", where, f"`{name}` is also given at {seen[folded]}")
        seen[folded] = where
        context[name] = value
    return context
