"""Read one JSON file, with every failure a :class:`~lexauthz.errors.RequestError` that names the file.

Shared by the readers of account files, GAAD files and call files, so they report unreadable and malformed files
alike: ``E_FILE_NOT_READABLE`` (missing, a folder, no permission) and ``E_MALFORMED_JSON`` (with line and column).
"""
from __future__ import annotations

import json
import os
from typing import Any

from .errors import RequestError

__all__ = ["read_json_file"]


def read_json_file(path: str | os.PathLike, where: str = "$") -> Any:
    """The parsed content of ``path``; ``where`` is the JSON path (or file) the error reports."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise RequestError("E_FILE_NOT_READABLE", f"`{p}` cannot be read: {e.strerror}", where) from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        at = f" (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError) else ""
        raise RequestError("E_MALFORMED_JSON", f"`{p}` is not valid JSON{at}", where) from None
