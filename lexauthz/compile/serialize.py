"""The saved-engine file format (version 3): the flattened index, the slots and the directory as raw arrays, the
policies as lazily read, compressed JSON.

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  b"LXAPLAN\\0"
    8       4     format version (uint32), FORMAT_VERSION
    12      8     payload length in bytes (uint64)
    20      32    SHA-256 of the payload
    52      n     payload

    payload: 8 bytes  meta length m (uint64)
             m bytes  meta: compact ASCII JSON {"kind", "n_stmts", "use_index", "n_slots", "strings", "arrays",
                      "arrays_bytes", "blob_errors", "directory" | "layout"}
             ...      zero padding to a multiple of 8 bytes from the payload's start
             ...      array region ("arrays_bytes" long): each array 8-byte aligned at the offset "arrays" gives
             ...      a zlib stream: one compact JSON document per distinct policy (name, findings, document)

The arrays are an :class:`~lexauthz.compile.state.IndexState`, the slot rows (``slots``: int64, five per slot: type
code, SCP level or -1, first statement, statement count, blob) and, for a policy set, the directory's slot ids and
tag offsets (:data:`lexauthz.compile.directory.COLUMNS`; its strings are flat lists in the meta's ``directory``): a
load builds the engine's core from them directly, without reading a policy, and checks them column by column.  The
meta and the arrays are stored as they are, so a load decompresses nothing; the policy blobs (most of an engine's
bytes, and text that compresses 10:1) are decompressed, and a policy's JSON decoded, when a residual condition
check, a resource-policy principal or an explanation first needs it (:class:`SavedPlan`).

Version 2 compressed the meta and arrays too and kept the slot rows and the directory as nested JSON lists;
decompressing, decoding and checking them entry by entry were nine tenths of a load at 100,000 statements.

A malformed file raises :class:`~lexauthz.errors.PlanFormatError` before anything is built: header, checksum (over
the whole payload, blobs included), meta, every array's dtype, bounds and ids (:meth:`IndexState.check`), every slot
and directory entry, each statement's policy type and SCP level.  What is only read lazily (the blob stream's exact
length and zlib stream, a blob's JSON and field types, each statement's effect and residual flags against its text) is
checked when first read; a failure there raises PlanFormatError and poisons the engine (every later answer is
ERROR), never an answer.  The checksum finds corruption, not deliberate edits, so ``Engine.from_bytes`` by default
also compiles the file's policies again and requires the saved index to equal the result
(:mod:`lexauthz.compile.verify`), unless the file is sealed (:func:`seal`: an HMAC-SHA256 trailer under a key the
deployment holds) and loaded with its key, which authenticates it instead (the seal covers every byte the
checksum does, so a sealed load does not compute the checksum again).

Memory on load is bounded by the file, never by a length the file states.  The meta and the array region must lie
inside the payload; each array's length must follow from the meta's counts (``n_stmts`` entries per statement
array, one more offset than patterns or tag entries per CSR, at most ``n_stmts`` ids per id list and per CSR row, at
most one blob per slot), the arrays laid out in file order (each 8-byte aligned, no gap, at most 64 unread bytes
after the last).  The policy blobs' length is checked, before a byte of it is decompressed, against

- what the compressed bytes can hold: deflate cannot expand input more than :data:`MAX_RATIO` (1032:1, one
  258-byte match per two bits), so a larger claim is refused at once;
- the caller's ``max_bytes`` (:func:`unpack`, ``Engine.from_bytes``, ``Engine.load``): the largest body (meta,
  arrays and decompressed blobs) to accept, by default :data:`DEFAULT_RATIO` (64) times the payload plus 16 MiB
  (engines lexauthz writes inflate 3:1 to 5:1) -- set it higher, up to what the file itself can justify, or lower,
  as the deployment needs.

The blobs are decompressed in steps of at most :data:`_STEP` bytes (``zlib.decompressobj().decompress(data,
max_length)``) and checked as they stream in (JSON text holds no control byte but tab, line feed and carriage
return), so a claim the stream does not back, or a stream of zeros, is refused after what it actually delivered --
at most a few steps.
"""
from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import struct
import sys
import threading
import weakref
import zlib

import numpy as np

from ..errors import Finding, PlanFormatError, Severity
from ..policy.applicable import NamedPolicy
from ..policy.model import ConditionClause, PolicyDocument, Principal, Statement
from ._checks import offsets_partition
from .directory import COLUMNS as DIRECTORY_COLUMNS, Directory
from .plan import TYPE_CODES, TYPE_NAMES, statement_infos
from .state import ARRAY_FIELDS, CSR_FIELDS, EFFECT_ALLOW, EFFECT_DENY, IndexState

__all__ = ["MAGIC", "FORMAT_VERSION", "MAX_RATIO", "SavedPlan", "Saved", "pack", "unpack", "seal", "unseal",
           "doc_to_data", "doc_from_data", "named_to_data", "named_from_data"]

MAGIC = b"LXAPLAN\0"
FORMAT_VERSION = 3
_HEADER = struct.Struct("<8sIQ32s")
_U64 = struct.Struct("<Q")
_MAX_PAYLOAD = 1 << 34
#: Deflate's largest expansion (output bytes per input byte): a body larger than this times the compressed bytes
#: that hold it cannot be, and its claimed length is refused before anything is decompressed.
MAX_RATIO = 1032
#: The default limit on the decompressed body: this many times the compressed payload, plus DEFAULT_FLOOR.  Files
#: lexauthz writes inflate 5:1 to 25:1; a caller that knows better passes ``max_bytes`` (at most MAX_RATIO applies).
DEFAULT_RATIO = 64
DEFAULT_FLOOR = 16 << 20
_SLACK = 64                # compressed bytes of state (bit buffer, a pending match) zlib may hold between steps
_REGION_SLACK = 64         # bytes the array region may run past its last array (pack writes none; never read)
_STEP = 1 << 20            # largest output of one decompression step
_IN_STEP = 1 << 16         # largest input handed to zlib at once (its unconsumed tail is copied on every step)
_NOT_JSON = bytes(b for b in range(32) if b not in b"\t\n\r")        # never in any JSON text
_LITTLE = sys.byteorder == "little"
_STRING_FIELDS = ("action_patterns", "resource_patterns", "tag_keys", "tag_eq_values", "tag_like_patterns")


def _array_specs(kind: str = "applicable"):
    """(name, dtype) of every saved array of a file of ``kind``, in file order (the ``blobs`` offsets last)."""
    out = list(ARRAY_FIELDS.items())
    for name in CSR_FIELDS:
        out.append((f"{name}.offsets", np.uint64))
        out.append((f"{name}.ids", np.uint32))
    out.append(("slots", np.int64))
    if kind == "policy_set":
        out.extend(DIRECTORY_COLUMNS.items())
    out.append(("blobs", np.uint64))
    return out


#: kind -> {array name: (dtype, item size)}.
_SPECS = {kind: {name: (dtype, np.dtype(dtype).itemsize) for name, dtype in _array_specs(kind)}
          for kind in ("policy_set", "applicable")}


def array_dtypes() -> dict:
    """Every saved array's dtype, by name (the arrays of both kinds of file)."""
    return dict(_array_specs("policy_set"))


# -- writing ------------------------------------------------------------------------------------------------------


def pack(kind: str, state: IndexState, slots, source: dict, columns: dict | None = None) -> bytes:
    """The file bytes for an engine: ``state``, its ``slots`` (:class:`~lexauthz.compile.plan.Slot` with policies),
    ``source`` (``{"directory": ...}`` or ``{"layout": ...}`` JSON data) and, for a policy set, the directory's
    ``columns`` (:meth:`~lexauthz.compile.directory.Directory.to_columns`)."""
    blobs: list[bytes] = []
    blob_of: dict = {}
    blob_errors = {}
    slot_rows = []
    for slot in slots:
        b = blob_of.get(id(slot.policy))
        if b is None:
            b = blob_of[id(slot.policy)] = len(blobs)
            blobs.append(json.dumps(named_to_data(slot.policy), separators=(",", ":")).encode("utf-8"))
            errors = slot.policy.errors
            if errors:
                blob_errors[str(b)] = [_finding_to(f) for f in errors]
        slot_rows.extend((TYPE_CODES[slot.policy_type], -1 if slot.level is None else slot.level, slot.first,
                          slot.count, b))
    blob_off = np.zeros(len(blobs) + 1, dtype="<u8")
    if blobs:
        np.cumsum([len(b) for b in blobs], out=blob_off[1:])
    given = {"slots": np.array(slot_rows, dtype=np.int64), "blobs": blob_off, **(columns or {})}
    arrays = []
    for name, dtype in _array_specs(kind):
        if name in given:
            a = given[name]
        elif name.endswith(".offsets") or name.endswith(".ids"):
            field, part = name.rsplit(".", 1)
            a = getattr(state, field)[0 if part == "offsets" else 1]
        else:
            a = getattr(state, name)
        arrays.append((name, np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))))
    layout = []
    pos = 0
    for name, a in arrays:
        pos = (pos + 7) & ~7
        layout.append([name, pos, int(a.shape[0])])
        pos += a.nbytes
    meta = {
        "kind": kind, "n_stmts": state.n_stmts, "use_index": state.use_index, "n_slots": len(slot_rows) // 5,
        "strings": {f: list(getattr(state, f)) for f in _STRING_FIELDS}, "arrays": layout,
        "arrays_bytes": pos, "blob_errors": blob_errors, **source,
    }
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    region = bytearray(pos)
    for (name, off, n), (_, a) in zip(layout, arrays):
        region[off:off + a.nbytes] = a.tobytes()
    payload = b"".join([_U64.pack(len(meta_bytes)), meta_bytes, _pad(len(meta_bytes)), region,
                        zlib.compress(b"".join(blobs), 1)])
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def _pad(meta_len: int) -> bytes:
    return bytes((-(8 + meta_len)) % 8)


# -- reading ------------------------------------------------------------------------------------------------------


class Saved:
    """A checked saved engine: ``kind``, ``state``, ``plan`` (:class:`SavedPlan`), ``meta`` (its JSON) and
    ``columns`` (the directory's arrays, by name; empty for an ``applicable`` file)."""

    __slots__ = ("kind", "state", "plan", "meta", "columns")

    def __init__(self, kind, state, plan, meta, columns):
        self.kind, self.state, self.plan, self.meta, self.columns = kind, state, plan, meta, columns


#: A sealed file ends with this tag and an HMAC-SHA256 of everything before the tag, under the deployment's key.
SEAL_MAGIC = b"LXASEAL\0"
_SEAL_LEN = len(SEAL_MAGIC) + 32


def _seal_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise PlanFormatError("the seal key must be bytes of at least 16 bytes (32 random bytes recommended)")
    return bytes(key)


def seal(data: bytes, key: bytes) -> bytes:
    """``data`` (a plan) followed by :data:`SEAL_MAGIC` and HMAC-SHA256(key, data): authenticated by whoever holds
    ``key``, so that loading it checks who wrote it rather than trusting where it came from."""
    return bytes(data) + SEAL_MAGIC + hmac.new(_seal_key(key), data, hashlib.sha256).digest()


def unseal(data: bytes, key: bytes | None) -> tuple[bytes, bool]:
    """``(plan bytes, authenticated)``.  With ``key``, the seal must be present and valid (constant-time compare),
    else :class:`PlanFormatError`; without one, a seal is removed unchecked and the plan is not authenticated."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PlanFormatError("plan must be bytes")
    data = bytes(data)
    sealed = False
    if len(data) >= _HEADER.size + _SEAL_LEN:
        length = _HEADER.unpack_from(data)[2]
        sealed = len(data) == _HEADER.size + length + _SEAL_LEN and data[-_SEAL_LEN:-32] == SEAL_MAGIC
    if key is None:
        return (data[:-_SEAL_LEN] if sealed else data), False
    k = _seal_key(key)
    if not sealed:
        raise PlanFormatError("plan is not sealed: a key was given, so only a file sealed with it is accepted")
    body, mac = data[:-_SEAL_LEN], data[-32:]
    if not hmac.compare_digest(hmac.new(k, body, hashlib.sha256).digest(), mac):
        raise PlanFormatError("plan seal does not match the key: the file was not written by its holder, or changed")
    return body, True


def unpack(data: bytes, *, max_bytes: int | None = None, authenticated: bool = False) -> Saved:
    """A :class:`Saved` from file bytes.

    ``authenticated`` says that ``data`` came out of :func:`unseal` with a valid seal: its HMAC-SHA256 already
    covers every byte the checksum does, so the checksum is not computed again.

    ``max_bytes`` bounds the decompressed body (meta, arrays and, when first read, the policy blobs); by default
    :data:`DEFAULT_RATIO` times the compressed payload plus :data:`DEFAULT_FLOOR`, and never more than the file can
    hold (:data:`MAX_RATIO` times it; see the module docstring).

    Raises
    ------
    PlanFormatError
        When the bytes are not a lexauthz plan, are of another format version, are truncated or corrupt, hold an
        inconsistent index, or would decompress to more than ``max_bytes`` or than the file can justify.
    """
    if max_bytes is not None and (type(max_bytes) is not int or max_bytes < 0):
        raise PlanFormatError(f"max_bytes must be a non-negative integer, not `{max_bytes!r}`")
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
    payload = memoryview(data)[_HEADER.size:]
    if length > _MAX_PAYLOAD or len(payload) != length:
        raise PlanFormatError(f"plan is truncated or has trailing bytes: payload is {len(payload)} bytes, "
                              f"header says {length}")
    if not authenticated and hashlib.sha256(payload).digest() != digest:
        raise PlanFormatError("plan checksum does not match: the file is corrupt")
    limit = MAX_RATIO * (length + _SLACK)
    limit = min(limit, DEFAULT_RATIO * length + DEFAULT_FLOOR if max_bytes is None else max_bytes)
    try:
        return _read_body(payload, limit)
    except PlanFormatError:
        raise
    except zlib.error as exc:
        raise PlanFormatError(f"plan payload is unreadable: {exc}") from None
    except MemoryError:
        raise
    except Exception as exc:  # every other failure to decode the body (CompileError, KeyError, OverflowError, ...)
        raise PlanFormatError(f"plan payload is malformed: {type(exc).__name__}: {exc}") from None


class _BodyReader:
    """The zlib stream of the policy blobs, read only when a policy is first needed (their bytes are covered by the
    checksum checked at load; their decompression waits).

    Every read is first checked against :meth:`room` and then decompressed in steps of at most ``_STEP`` bytes, each
    step checked as it arrives: what a refused read costs is what the stream delivered before it failed.
    """

    def __init__(self, payload: bytes, limit: int):
        self._z = zlib.decompressobj()
        self._payload = memoryview(payload)
        self._pos = 0                # compressed bytes handed to zlib so far
        self._pending = b""          # of those, the ones zlib has not consumed yet
        self._limit = limit          # decompressed bytes the body may still hold (the caller's max_bytes, or less)
        self._lock = threading.Lock()
        self._rest = None
        self._failure = None

    def room(self) -> int:
        """The most bytes the body can still hold: what the compressed bytes left can expand to, and the limit."""
        left = len(self._payload) - self._pos + len(self._pending)
        return min(self._limit, MAX_RATIO * (left + _SLACK))

    def claim(self, n, what: str) -> None:
        if type(n) is not int or n < 0:
            raise PlanFormatError(f"plan {what} length `{n}` is not a byte count")
        room = self.room()
        if n > room:
            if n <= MAX_RATIO * (len(self._payload) - self._pos + len(self._pending) + _SLACK):
                raise PlanFormatError(f"plan {what} is {n} bytes: more than the {room} bytes left under the "
                                      f"limit max_bytes (by default {DEFAULT_RATIO} times the file plus "
                                      f"{DEFAULT_FLOOR >> 20} MiB)")
            raise PlanFormatError(f"plan {what} claims {n} bytes: more than the rest of the file can hold "
                                  f"({room} bytes at most)")

    def _step(self, k: int) -> bytes:
        """Up to ``k`` more bytes of the body (fewer only where the stream ends or is cut short)."""
        out = []
        got = 0
        while got < k:
            if not self._pending:
                if self._pos >= len(self._payload) or self._z.eof:
                    break
                self._pending = self._payload[self._pos:self._pos + _IN_STEP]
                self._pos += len(self._pending)
            chunk = self._z.decompress(self._pending, k - got)
            self._pending = self._z.unconsumed_tail
            if chunk:
                out.append(chunk)
                got += len(chunk)
            elif self._z.eof:
                break
        self._limit -= got
        return out[0] if len(out) == 1 else b"".join(out)

    def read(self, n: int, what: str, forbidden: bytes) -> bytes:
        """Exactly ``n`` more bytes of the stream, no step of which may hold any of the ``forbidden`` bytes."""
        self.claim(n, what)
        parts = []
        got = 0
        while got < n:
            chunk = self._step(min(_STEP, n - got))
            if not chunk:
                raise PlanFormatError(f"plan body is truncated: {what} ends after {got} of {n} bytes")
            if chunk.translate(None, forbidden) != chunk:
                raise PlanFormatError(f"plan {what}: control bytes where JSON text belongs")
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def rest(self, expected: int) -> bytes:
        """The rest of the body, which must be exactly ``expected`` bytes and end the zlib stream."""
        with self._lock:
            if self._rest is None and self._failure is None:
                try:
                    out = self.read(expected, "policy blobs", _NOT_JSON)
                    if self._step(1) or not self._z.eof or self._z.unused_data or self._pos < len(self._payload):
                        raise PlanFormatError("plan policy blobs do not fill the rest of the body")
                    self._rest = out
                except zlib.error as exc:
                    self._failure = PlanFormatError(f"plan policy blobs are unreadable: {exc}")
                except PlanFormatError as exc:
                    self._failure = exc
                self._payload = memoryview(b"")
                self._pending = b""
            if self._failure is not None:
                raise PlanFormatError(str(self._failure))
            return self._rest


def _read_body(payload: memoryview, limit: int) -> Saved:
    """The meta and arrays of ``payload`` (checked, and within ``limit`` bytes), and a reader of its blob stream."""
    n = len(payload)
    if n < 8:
        raise PlanFormatError("plan body is truncated: the meta length is incomplete")
    (meta_len,) = _U64.unpack_from(payload)
    if meta_len > n - 8:
        raise PlanFormatError(f"plan meta claims {meta_len} bytes: more than the {n - 8} bytes the payload holds")
    _within(meta_len, limit, "meta")
    meta_bytes = bytes(payload[8:8 + meta_len])
    if not meta_bytes.startswith(b"{"):
        raise PlanFormatError("plan meta is not the JSON object lexauthz writes")
    meta = json.loads(meta_bytes.decode("utf-8"))  # strict: a control character in a string is refused
    del meta_bytes
    if not isinstance(meta, dict):
        raise PlanFormatError("plan meta is not an object")
    kind = meta["kind"]
    if kind not in ("policy_set", "applicable"):
        raise PlanFormatError(f"plan payload kind `{kind}` is unknown")
    pos = 8 + meta_len + len(_pad(meta_len))
    if pos > n or any(payload[8 + meta_len:pos]):
        raise PlanFormatError("plan meta padding is not zero")
    region_len = meta["arrays_bytes"]
    if type(region_len) is not int or region_len < 0 or region_len > n - pos:
        raise PlanFormatError("plan arrays run past the end of the payload")
    _within(meta_len + region_len, limit, "meta and arrays")
    layout = _check_layout(meta, region_len, kind)
    arrays = {}
    if _LITTLE:
        # One copy of the region, which the arrays are views of: a copy per array was a fifth of a small load.
        # INVARIANT(aligned): every offset is a multiple of 8 (checked above) into a fresh heap buffer.
        region = bytearray(payload[pos:pos + region_len])
        for name, dtype, off, n in layout:
            arrays[name] = np.frombuffer(region, dtype=dtype, count=n, offset=off)
    else:  # pragma: no cover - big-endian hosts: a native copy of each little-endian array
        region = payload[pos:pos + region_len]
        for name, dtype, off, n in layout:
            le = np.dtype(dtype).newbyteorder("<")
            arrays[name] = np.frombuffer(region, dtype=le, count=n, offset=off).astype(dtype)
    del region
    strings = meta["strings"]
    n_stmts = meta["n_stmts"]
    if type(n_stmts) is not int or type(meta["use_index"]) is not bool:
        raise PlanFormatError("plan meta is malformed")
    fields = {name: arrays[name] for name in ARRAY_FIELDS}
    for name in CSR_FIELDS:
        fields[name] = (arrays[f"{name}.offsets"], arrays[f"{name}.ids"])
    for name in _STRING_FIELDS:
        fields[name] = tuple(strings[name])
    state = IndexState(n_stmts=n_stmts, use_index=meta["use_index"], **fields)
    try:
        state.check()
    except ValueError as exc:
        raise PlanFormatError(f"plan index is inconsistent: {exc}") from None
    blobs_off = arrays["blobs"]
    if (blobs_off.shape[0] < 1 or not offsets_partition(blobs_off, int(blobs_off[-1]))
            or int(blobs_off[-1]) > _MAX_PAYLOAD):
        raise PlanFormatError("plan policy blob offsets are malformed")
    blobs_len = int(blobs_off[-1])
    reader = _BodyReader(bytes(payload[pos + region_len:]), limit - meta_len - region_len)
    reader.claim(blobs_len, "policy blobs")  # bounded now; decompressed (and checked to end the stream) when needed
    plan = SavedPlan(arrays["slots"], meta["n_slots"], n_stmts, lambda: reader.rest(blobs_len),
                     blobs_off.tolist(), meta["blob_errors"])
    plan.check_against(state)
    columns = {name: arrays[name] for name in DIRECTORY_COLUMNS} if kind == "policy_set" else {}
    return Saved(kind, state, plan, meta, columns)


def _within(n: int, limit: int, what: str) -> None:
    if n > limit:
        raise PlanFormatError(f"plan {what} take {n} bytes: more than the {limit} bytes allowed under the limit "
                              f"max_bytes (by default {DEFAULT_RATIO} times the file plus {DEFAULT_FLOOR >> 20} MiB)")


def _check_layout(meta: dict, region_len: int, kind: str) -> list:
    """``(name, dtype, offset, count)`` of every array in the region, checked before any array is read:
    each array known and listed once, laid out in file order with 8-byte alignment and no gap, the region as long
    as its arrays (and at most ``_REGION_SLACK`` more), and each array no longer than the meta's counts justify (see
    the module docstring)."""
    specs = _SPECS[kind]
    entries = meta["arrays"]
    strings = meta["strings"]
    n_stmts = meta["n_stmts"]
    n_slots = meta["n_slots"]
    if not (isinstance(entries, list) and isinstance(strings, dict) and type(n_slots) is int and n_slots >= 0
            and type(n_stmts) is int and 0 <= n_stmts < 1 << 32
            and all(isinstance(strings.get(f), list) for f in _STRING_FIELDS)):
        raise PlanFormatError("plan meta is malformed")
    rows = {"action_pos": len(strings["action_patterns"]), "action_neg": len(strings["action_patterns"]),
            "resource_pos": len(strings["resource_patterns"]), "resource_neg": len(strings["resource_patterns"]),
            "tag_constrained": len(strings["tag_keys"]), "tag_eq": len(strings["tag_eq_values"]),
            "tag_like": len(strings["tag_like_patterns"])}
    most = {"stmt_type": n_stmts, "stmt_effect": n_stmts, "stmt_level": n_stmts, "needs": n_stmts,
            "not_action_all": n_stmts, "not_resource_all": n_stmts, "dynamic": n_stmts,
            "tag_eq_key": len(strings["tag_eq_values"]), "tag_like_key": len(strings["tag_like_patterns"]),
            "slots": 5 * n_slots, "blobs": n_slots + 1}
    for name, m in rows.items():
        most[f"{name}.offsets"] = m + 1
        most[f"{name}.ids"] = m * n_stmts
    if kind == "policy_set":
        d = meta["directory"]
        if not (isinstance(d, dict) and isinstance(d.get("principals"), list)
                and isinstance(d.get("resources"), list)):
            raise PlanFormatError("plan directory is malformed")
        most.update(Directory.column_counts(d, n_slots))
    out = []
    seen = set()
    pos = 0
    for entry in entries:
        if not (type(entry) is list and len(entry) == 3):
            raise PlanFormatError("plan array layout is malformed")
        name, off, n = entry
        spec = specs.get(name) if type(name) is str else None
        if spec is None or name in seen:
            raise PlanFormatError(f"plan array `{name}` is unknown or repeated")
        seen.add(name)
        dtype, size = spec
        if type(off) is not int or type(n) is not int or off < 0 or n < 0 or off % 8 or off + n * size > region_len:
            raise PlanFormatError(f"plan array `{name}` lies outside the array region")
        if off != (pos + 7) & ~7:
            raise PlanFormatError(f"plan array `{name}` is not where the array before it ends")
        if n > most[name]:
            raise PlanFormatError(f"plan array `{name}` has {n} entries: more than the {most[name]} its meta "
                                  f"justifies")
        pos = off + n * size
        out.append((name, dtype, off, n))
    if len(seen) != len(specs):
        raise PlanFormatError(f"plan arrays are missing: {sorted(set(specs) - seen)}")
    if not pos <= region_len <= pos + _REGION_SLACK:
        raise PlanFormatError(f"plan array region is {region_len} bytes, its arrays {pos}")
    return out


# -- the plan of a loaded engine ----------------------------------------------------------------------------------


# NOTE: the views below reach their plan by a weak proxy.  The plan holds them (and made slots), so strong references
# back would put every loaded engine in reference cycles that only the cyclic collector frees: a hot swap would keep
# the old engine's memory until a full collection ran.  A view outliving its plan raises ReferenceError.

class _SavedSlot:
    """A :class:`~lexauthz.compile.plan.Slot` whose policy is decoded on first use."""

    __slots__ = ("id", "policy_type", "level", "first", "count", "_plan", "_blob", "_policy")

    def __init__(self, sid, policy_type, level, first, count, plan, blob):
        self.id, self.policy_type, self.level, self.first, self.count = sid, policy_type, level, first, count
        self._plan, self._blob, self._policy = plan, blob, None

    @property
    def policy(self) -> NamedPolicy:
        p = self._policy
        if p is None:
            p = self._policy = self._plan._policy(self._blob)
        return p


class _SavedSlots:
    """``plan.slots`` of a :class:`SavedPlan`: each :class:`_SavedSlot` made on first access."""

    __slots__ = ("_plan", "_made")

    def __init__(self, plan, n):
        self._plan = plan
        self._made = [None] * n

    def __len__(self):
        return len(self._made)

    def __getitem__(self, sid):
        slot = self._made[sid]
        if slot is None:
            code, level, first, count, blob = self._plan._rows[sid].tolist()
            slot = _SavedSlot(sid, TYPE_NAMES[code], None if level < 0 else level, first, count, self._plan, blob)
            self._made[sid] = slot
        return slot


class _SavedStatements:
    """``plan.statements`` of a :class:`SavedPlan`: each slot's :class:`StatementInfo` list, built on first use."""

    __slots__ = ("_plan",)

    def __init__(self, plan):
        self._plan = plan

    def __len__(self):
        return self._plan.n_stmts

    def __getitem__(self, s):
        return self._plan._statement(s)


class SavedPlan:
    """The plan of a loaded engine: slots as the file lists them, policies and statements read lazily.

    # INVARIANT(immutable): what is decoded is a pure function of the file bytes; two threads decoding one policy
    # at once build equal objects, and either may be kept.
    """

    def __init__(self, slot_rows: np.ndarray, n_slots: int, n_stmts, blob_region, blob_offsets, blob_errors):
        self.n_stmts = n_stmts
        self._blob_region = blob_region  # () -> the policy blobs' bytes (decompressed on first call)
        self._blob_offsets = blob_offsets
        self._lock = threading.Lock()
        self._policies: dict = {}
        self._infos: dict = {}
        nb = len(blob_offsets) - 1
        self._errors = {}
        if not isinstance(blob_errors, dict):
            raise PlanFormatError("plan blob errors are not an object")
        for b, fs in blob_errors.items():
            if not (b.isdigit() and int(b) < nb) or not isinstance(fs, list) or not fs:
                raise PlanFormatError(f"plan lists errors of policy blob `{b}`, which does not exist")
            try:
                self._errors[int(b)] = tuple(_finding_from(f) for f in fs)
            except (TypeError, ValueError, IndexError) as exc:
                raise PlanFormatError(f"plan errors of policy blob `{b}` are malformed: {exc}") from None
        # Slot rows, checked as a whole: [type code, SCP level or -1, first statement, statement count, blob].
        if slot_rows.shape[0] != 5 * n_slots:
            raise PlanFormatError(f"plan slots array has {slot_rows.shape[0]} entries, expected 5 per slot "
                                  f"({n_slots} slots)")
        rows = slot_rows.reshape(n_slots, 5)
        code, level, first, count, blob = rows.T
        starts = np.zeros(len(rows), dtype=np.int64)
        if len(rows):
            np.cumsum(count[:-1], out=starts[1:])
        bad = ((code < 0) | (code >= len(TYPE_NAMES)) | (level < -1) | (level >= 64)
               | ((level >= 0) != (code == TYPE_CODES["scp"])) | (count < 0) | (count > n_stmts) | (blob < 0)
               | (blob >= nb)
               | (first != starts))
        for b in self._errors:  # a few blobs at most (np.isin sorts, and was a tenth of a small load)
            bad |= (count > 0) & (blob == b)
        if bad.any():
            raise PlanFormatError(f"plan slot {int(np.flatnonzero(bad)[0])} is malformed")
        if int(count.sum()) != n_stmts:
            raise PlanFormatError(f"plan slots hold {int(count.sum())} statements, the index {n_stmts}")
        self._rows = rows
        me = weakref.proxy(self)
        self.slots = _SavedSlots(me, len(rows))
        self._firsts = first.tolist()
        self.statements = _SavedStatements(me)
        self._check_statements = None
        #: A weak reference to what is called with the reason when a lazily read part of the file (a policy blob, a
        #: statement's flags) turns out damaged: the engine's core, which then answers ERROR to every request (set
        #: by the engine that loads the plan; weak, since the core holds the plan).
        self.on_damage = None

    def _damaged(self, exc: PlanFormatError) -> PlanFormatError:
        poison = self.on_damage() if self.on_damage is not None else None
        if poison is not None:
            poison(str(exc))
        return exc

    def check_against(self, state: IndexState) -> None:
        """Check that ``state`` gives every slot's statements its policy type and SCP level (now), and that each
        statement's effect and residual flag match its decoded text (when a slot is first decoded).

        # NOTE: the checksum finds corruption, not deliberate edits: an edited file whose arrays still agree with
        # these checks and with their own bounds is loaded as written.  Memory safety never depends on the policy
        # text: every id and offset the kernel follows is bounds-checked by IndexState.check.
        """
        count = self._rows[:, 3]
        want_type = np.repeat(self._rows[:, 0], count).astype(np.uint8)
        want_level = np.repeat(self._rows[:, 1], count).astype(np.int16)
        if not (np.array_equal(want_type, state.stmt_type) and np.array_equal(want_level, state.stmt_level)):
            raise PlanFormatError("plan statement types or SCP levels disagree with its slots")
        effect = state.stmt_effect
        needs = np.zeros(self.n_stmts, dtype=bool)
        needs[state.needs] = True
        dynamic = np.zeros(self.n_stmts, dtype=bool)
        dynamic[state.dynamic] = True
        use_index = state.use_index

        def check(infos):
            for info in infos:
                st = info.statement
                residual = len(st.condition) > (len(info.indexed_clauses) if use_index else 0)
                if (effect[info.id] != (EFFECT_ALLOW if st.effect == "Allow" else EFFECT_DENY)
                        or bool(needs[info.id]) != bool(info.dynamic_resource or residual)
                        or bool(dynamic[info.id]) != bool(info.dynamic_resource)):
                    raise PlanFormatError(f"plan statement {info.id} disagrees with its policy text")

        self._check_statements = check

    @property
    def slot_codes(self) -> np.ndarray:
        """Each slot's policy type code (``TYPE_CODES``)."""
        return self._rows[:, 0]

    @property
    def slot_levels(self) -> np.ndarray:
        """Each slot's SCP level, -1 for other policy types."""
        return self._rows[:, 1]

    def slot_errors(self, slot_id: int) -> tuple:
        """The ERROR findings of the policy in slot ``slot_id``, without decoding the policy."""
        return self._errors.get(int(self._rows[slot_id, 4]), ()) if self._errors else ()

    def _policy(self, blob: int) -> NamedPolicy:
        p = self._policies.get(blob)
        if p is None:
            start, end = self._blob_offsets[blob], self._blob_offsets[blob + 1]
            try:
                region = self._blob_region()
                p = named_from_data(json.loads(region[start:end].decode("utf-8")))
                _check_named(p)
            except PlanFormatError as exc:
                raise self._damaged(exc) from None
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError, OverflowError) as exc:
                raise self._damaged(PlanFormatError(f"plan policy blob {blob} is malformed: {exc}")) from None
            if (p.errors != self._errors.get(blob, ())):
                raise self._damaged(PlanFormatError(f"plan policy blob {blob} does not have the errors the plan "
                                                    f"lists"))
            with self._lock:
                p = self._policies.setdefault(blob, p)
        return p

    def _statement(self, s: int):
        if not 0 <= s < self.n_stmts:
            raise IndexError(s)
        # The last slot starting at or before s: empty slots share their first id with the next slot, so this is
        # the non-empty slot holding s.
        sid = bisect.bisect_right(self._firsts, s) - 1
        infos = self._infos.get(sid)
        if infos is None:
            slot = self.slots[sid]
            infos = statement_infos(sid, slot.first, slot.policy)
            if len(infos) != slot.count:
                raise self._damaged(PlanFormatError(f"plan slot {sid} should hold {slot.count} statements, its "
                                                    f"policy has {len(infos)}"))
            if self._check_statements is not None:
                try:
                    self._check_statements(infos)
                except PlanFormatError as exc:
                    raise self._damaged(exc) from None
            with self._lock:
                infos = self._infos.setdefault(sid, infos)
        return infos[s - self.slots[sid].first]


def _strs(v, what: str, optional: bool = False) -> None:
    if v is None and optional:
        return
    if not (isinstance(v, tuple) and all(type(x) is str for x in v)):
        raise TypeError(f"{what} must be a list of strings")


def _check_principal(p) -> None:
    if p is None:
        return
    if type(p.wildcard) is not bool or not isinstance(p.entries, tuple):
        raise TypeError("a principal is malformed")
    for entry in p.entries:
        if not (isinstance(entry, tuple) and len(entry) == 2 and type(entry[0]) is str):
            raise TypeError("a principal entry is malformed")
        _strs(entry[1], "principal values")


def _check_named(p) -> None:
    """Raise ``TypeError`` unless ``p`` is a :class:`NamedPolicy` whose every field has its model type (a decoded
    blob feeds compiled code that expects exactly these types)."""
    if not isinstance(p, NamedPolicy) or type(p.name) is not str:
        raise TypeError("a policy blob must hold a named policy")
    for f in p.findings:
        if not (type(f.code) is str and type(f.message) is str):
            raise TypeError("a finding is malformed")
    doc = p.document
    if doc is None:
        return
    if not (doc.version is None or type(doc.version) is str) or not (doc.id is None or type(doc.id) is str):
        raise TypeError("a document's Version or Id is malformed")
    for st in doc.statements:
        if type(st.effect) is not str or not (st.sid is None or type(st.sid) is str) or type(st.index) is not int:
            raise TypeError("a statement's Effect, Sid or index is malformed")
        for name in ("action", "not_action", "resource", "not_resource"):
            _strs(getattr(st, name), name, optional=True)
        _check_principal(st.principal)
        _check_principal(st.not_principal)
        for c in st.condition:
            if not (type(c.operator) is str and type(c.base) is str and type(c.key) is str
                    and (c.qualifier is None or type(c.qualifier) is str) and type(c.if_exists) is bool):
                raise TypeError("a condition clause is malformed")
            _strs(c.values, "condition values")


def _finding_to(f: Finding) -> list:
    return [f.code, f.severity.value, f.message, f.path, f.line, f.column, f.source]


def _finding_from(v) -> Finding:
    return Finding(v[0], Severity(v[1]), v[2], v[3], v[4], v[5], v[6])


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
