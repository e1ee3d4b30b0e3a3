"""The demo's call file: Lex API calls, each with the decision AWS gives it and why (``lexauthz/examples/requests.json``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..decision import Decision
from ..errors import RequestError
from ..jsonfile import read_json_file
from .call import LexCall

__all__ = ["DemoCase", "load_demo"]


def _err(message: str, path: str) -> RequestError:
    return RequestError("E_INVALID_CALL_FILE", message, path)


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
    data = read_json_file(p)
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
