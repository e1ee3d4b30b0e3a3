"""The demo's call file: Lex API calls, each with the decision AWS gives it and why (``lexauthz/examples/requests.json``)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..decision import Decision
from ..errors import RequestError
from .call import LexCall

__all__ = ["DemoCase", "load_demo"]


def _err(message: str, path: str) -> RequestError:
    return RequestError("E_INVALID_CALL_FILE", message, path)


def _read_json(path: str, where: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise RequestError("E_FILE_NOT_READABLE", f"`{path}` cannot be read: {e.strerror}", where) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where_in = f" (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError) else ""
        raise RequestError("E_MALFORMED_JSON", f"`{path}` is not valid JSON{where_in}", where) from None


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One curated call with the decision AWS gives it and why."""

    id: str
    title: str
    call: LexCall
    expect: Decision
    why: str = ""


def load_demo(path: str | os.PathLike, account: Any = None) -> tuple[DemoCase, ...]:
    """Load a demo file ``{"calls": [{"id", "title", "call": {...}, "expect": "Allowed", "why"}]}``.

    ``expect`` is ``Allowed``, ``ImplicitlyDenied`` or ``ExplicitlyDenied`` and is the decision of the whole call
    (every request it makes must be allowed).  The account's ``region`` and ``account`` fill calls that omit them.
    """
    p = os.fspath(path)
    data = _read_json(p, "$")
    if not isinstance(data, Mapping) or not isinstance(data.get("calls"), list):
        raise _err("a demo file is an object with a `calls` list", "$")
    defaults = {"region": account.region, "account": account.account_id} if account else {}
    out: list[DemoCase] = []
    ids: set[str] = set()
    for i, c in enumerate(data["calls"]):
        cp = f"$.calls[{i}]"
        if not isinstance(c, Mapping):
            raise _err("a demo call must be an object", cp)
        if set(c) - {"id", "title", "call", "expect", "why"}:
            raise _err(f"unknown field `{sorted(set(c) - {'id', 'title', 'call', 'expect', 'why'})[0]}`", cp)
        cid = c.get("id")
        if not isinstance(cid, str) or not cid or cid in ids:
            raise _err("each demo call needs a unique `id`", f"{cp}.id")
        ids.add(cid)
        try:
            expect = Decision.from_aws_name(c.get("expect"))
        except ValueError:
            raise _err("`expect` must be Allowed, ImplicitlyDenied or ExplicitlyDenied", f"{cp}.expect") from None
        call = LexCall.from_dict(c.get("call"), f"{cp}.call", defaults=defaults)
        out.append(DemoCase(cid, c.get("title", cid), call, expect, c.get("why", "")))
    return tuple(out)
