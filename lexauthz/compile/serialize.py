"""The saved-engine file format: a versioned, checksummed container around the engine's source.

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  b"LXAPLAN\\0"
    8       4     format version (uint32), FORMAT_VERSION
    12      8     payload length in bytes (uint64)
    20      32    SHA-256 of the payload
    52      n     payload: zlib-compressed UTF-8 JSON {"kind": "policy_set" | "applicable", "source": {...}}

The payload holds the policy model (documents, names, findings, principals, resources, SCPs) structurally, so a load
gives back exactly the objects that were compiled; :func:`lexauthz.engine.Engine.load` compiles them again.
NOTE: the flattened index arrays are not stored: they are derived data, and rebuilding them is cheaper than
validating them.  Every malformed file raises :class:`~lexauthz.errors.PlanFormatError` before anything is built.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib

from ..errors import Finding, PlanFormatError, Severity
from ..policy.applicable import ApplicablePolicies, NamedPolicy
from ..policy.model import ConditionClause, PolicyDocument, Principal, Statement

__all__ = ["MAGIC", "FORMAT_VERSION", "pack", "unpack", "doc_to_data", "doc_from_data", "named_to_data",
           "named_from_data", "applicable_to_data", "applicable_from_data"]

MAGIC = b"LXAPLAN\0"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQ32s")
_MAX_PAYLOAD = 1 << 31


def pack(kind: str, source: dict) -> bytes:
    """The file bytes for ``source`` of ``kind``."""
    payload = zlib.compress(json.dumps({"kind": kind, "source": source}, separators=(",", ":")).encode("utf-8"))
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def unpack(data: bytes) -> tuple[str, dict]:
    """``(kind, source)`` from file bytes.

    Raises
    ------
    PlanFormatError
        When the bytes are not a lexauthz plan, are of another format version, are truncated or corrupt.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PlanFormatError("plan must be bytes")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise PlanFormatError("plan is truncated: the header is incomplete")
    magic, version, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PlanFormatError("not a lexauthz plan: bad magic bytes")
    if version != FORMAT_VERSION:
        raise PlanFormatError(f"plan format version `{version}` is not supported: expected `{FORMAT_VERSION}`")
    payload = data[_HEADER.size:]
    if length > _MAX_PAYLOAD or len(payload) != length:
        raise PlanFormatError(f"plan is truncated or has trailing bytes: payload is {len(payload)} bytes, "
                              f"header says {length}")
    if hashlib.sha256(payload).digest() != digest:
        raise PlanFormatError("plan checksum does not match: the file is corrupt")
    try:
        obj = json.loads(zlib.decompress(payload).decode("utf-8"))
        kind, source = obj["kind"], obj["source"]
    except (zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise PlanFormatError(f"plan payload is unreadable: {exc}") from None
    if kind not in ("policy_set", "applicable") or not isinstance(source, dict):
        raise PlanFormatError(f"plan payload kind `{kind}` is unknown")
    return kind, source


# -- the policy model as JSON data (structural: every model object round-trips exactly) ---------------------------


def _opt(t):
    return None if t is None else list(t)


def _tup(v):
    return None if v is None else tuple(v)


def _principal_to(p):
    return None if p is None else {"w": p.wildcard, "e": [[k, list(v)] for k, v in p.entries]}


def _principal_from(d):
    return None if d is None else Principal(bool(d["w"]), tuple((k, tuple(v)) for k, v in d["e"]))


def doc_to_data(doc: PolicyDocument | None):
    """A :class:`PolicyDocument` as JSON data."""
    if doc is None:
        return None
    return {
        "v": doc.version, "id": doc.id, "l": doc.statement_is_list,
        "s": [{
            "e": s.effect, "sid": s.sid, "a": _opt(s.action), "na": _opt(s.not_action), "r": _opt(s.resource),
            "nr": _opt(s.not_resource), "p": _principal_to(s.principal), "np": _principal_to(s.not_principal),
            "c": [[c.operator, c.base, c.qualifier, c.if_exists, c.key, list(c.values), c.path] for c in s.condition],
            "i": s.index, "path": s.path,
        } for s in doc.statements],
    }


def doc_from_data(d) -> PolicyDocument | None:
    """The inverse of :func:`doc_to_data`."""
    if d is None:
        return None
    stmts = tuple(Statement(
        effect=s["e"], sid=s["sid"], action=_tup(s["a"]), not_action=_tup(s["na"]), resource=_tup(s["r"]),
        not_resource=_tup(s["nr"]), principal=_principal_from(s["p"]), not_principal=_principal_from(s["np"]),
        condition=tuple(ConditionClause(c[0], c[1], c[2], bool(c[3]), c[4], tuple(c[5]), c[6]) for c in s["c"]),
        index=int(s["i"]), path=s["path"]) for s in d["s"])
    return PolicyDocument(stmts, d["v"], d["id"], bool(d["l"]))


def named_to_data(p: NamedPolicy | None):
    """A :class:`NamedPolicy` (document and findings) as JSON data."""
    if p is None:
        return None
    return {"name": p.name, "doc": doc_to_data(p.document),
            "findings": [[f.code, f.severity.value, f.message, f.path, f.line, f.column, f.source]
                         for f in p.findings]}


def named_from_data(d) -> NamedPolicy | None:
    """The inverse of :func:`named_to_data`."""
    if d is None:
        return None
    return NamedPolicy(d["name"], doc_from_data(d["doc"]),
                       tuple(Finding(f[0], Severity(f[1]), f[2], f[3], f[4], f[5], f[6]) for f in d["findings"]))


def applicable_to_data(a: ApplicablePolicies) -> dict:
    """An :class:`ApplicablePolicies` as JSON data."""
    return {
        "identity": [named_to_data(p) for p in a.identity],
        "resource": named_to_data(a.resource),
        "boundary": named_to_data(a.permissions_boundary),
        "session": named_to_data(a.session),
        "scps": None if a.scps is None else [[named_to_data(p) for p in level] for level in a.scps],
    }


def applicable_from_data(d: dict) -> ApplicablePolicies:
    """The inverse of :func:`applicable_to_data`."""
    return ApplicablePolicies(
        identity=tuple(named_from_data(p) for p in d["identity"]),
        resource=named_from_data(d["resource"]),
        permissions_boundary=named_from_data(d["boundary"]),
        session=named_from_data(d["session"]),
        scps=None if d["scps"] is None else tuple(tuple(named_from_data(p) for p in lv) for lv in d["scps"]),
    )
