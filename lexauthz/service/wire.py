"""The common Access Evaluations body, decoded straight into columns.

Gateways mostly send batches whose items are all of one shape::

    {"subject": {"type": "iam_principal", "id": ARN}, "action": {"name": ACTION},
     "resource": {"type": "lex_resource", "id": ARN}}

with nothing else in an item.  :func:`common_batch` decodes such a body with typed structs (msgspec checks the
shape while it parses, and builds no dict per entity), so the service maps a 1,000-item batch in a few list
passes instead of a dozen dict probes per item.  Any other body (an item with a context, properties or another
type, a malformed body) gives ``None``, and the service parses it as generic JSON, with every check and error of
:mod:`lexauthz.service.authzen`: this module decides nothing and refuses nothing.  Top-level defaults and
``options`` are decoded as generic values, as the generic parser would.
"""
from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["CommonBatch", "common_batch"]


class _Subject(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["iam_principal"]
    id: str


class _Action(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class _Resource(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["lex_resource"]
    id: str


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    subject: _Subject
    action: _Action
    resource: _Resource


class CommonBatch(msgspec.Struct, omit_defaults=True):
    """An Access Evaluations body whose items are all of the common shape (unknown top-level fields ignored)."""

    evaluations: list[_Item]
    subject: Any = None
    action: Any = None
    resource: Any = None
    context: Any = None
    options: Any = None

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level field, as ``dict.get`` on the generic body gives it."""
        if key in ("evaluations", "subject", "action", "resource", "context", "options"):
            value = getattr(self, key)
            return default if value is None else value
        return default

    def columns(self) -> tuple[list, list, list]:
        """``(principals, actions, resources)`` of the items, in order."""
        items = self.evaluations
        return ([it.subject.id for it in items], [it.action.name for it in items],
                [it.resource.id for it in items])

    def generic(self) -> dict:
        """The body as the generic parser gives it (for the checking path)."""
        return msgspec.to_builtins(self)


_DECODER = msgspec.json.Decoder(CommonBatch)


def common_batch(raw: bytes) -> CommonBatch | None:
    """The body decoded into columns when it is a non-empty batch of common items; None for any other body."""
    try:
        body = _DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return body if body.evaluations else None
