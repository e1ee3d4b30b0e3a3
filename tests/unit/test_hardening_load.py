"""Loading a saved engine never lets the file's own length fields decide how much memory a load takes.

The meta and the array region are stored as they are, so each of their lengths must lie inside the payload and
within ``max_bytes``.  The policy blobs are a zlib stream: a crafted file with a valid checksum can claim any blob
length and back it with zeros that decompress ~1000:1, so that length must be bounded by what the stream can hold,
the stream is decompressed in bounded steps, and refusing such a file costs at most a small multiple of the file's
size (measured with :mod:`tracemalloc`, which sees the bytes zlib and numpy allocate through Python).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import tracemalloc
import zlib

import numpy as np
import pytest

from lexauthz.account import PolicySet
from lexauthz.compile import serialize
from lexauthz.engine import Engine
from lexauthz.errors import PlanFormatError

from test_engine_saved import _HEADER, _U64, DTYPES  # the saved-plan test codec's layout

_MiB = 1 << 20

ALICE = "arn:aws:iam::111122223333:user/alice"
BOT = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers"


# -- crafting files -----------------------------------------------------------------------------------------------


def _file(payload: bytes) -> bytes:
    """File bytes around ``payload``, with a correct header and SHA-256 (so only the format checks refuse)."""
    return _HEADER.pack(serialize.MAGIC, serialize.FORMAT_VERSION, len(payload),
                        hashlib.sha256(payload).digest()) + payload


def _stream(parts) -> bytes:
    """A zlib stream of the concatenated ``parts``: bytes, or ``("zeros", n)`` streamed without allocating n bytes."""
    z = zlib.compressobj(9)
    out = []
    block = bytes(4 * _MiB)
    for part in parts:
        if isinstance(part, tuple):
            n = part[1]
            while n > 0:
                out.append(z.compress(block[:min(n, len(block))]))
                n -= len(block)
        else:
            out.append(z.compress(part))
    out.append(z.flush())
    return b"".join(out)


def _pad(meta_len: int) -> bytes:
    return bytes((-(8 + meta_len)) % 8)


@functools.cache
def real_file() -> bytes:
    ps = PolicySet()
    ps.add_principal(ALICE, policies=[{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:PostText", "Resource": "arn:aws:lex:*:111122223333:bot:*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}])
    ps.add_resource(BOT)
    return ps.compile().to_bytes()


def _decode(data: bytes):
    """(meta, region, blobs) of a file written by :func:`serialize.pack`, the blobs decompressed."""
    payload = data[_HEADER.size:]
    (meta_len,) = _U64.unpack_from(payload)
    meta = json.loads(payload[8:8 + meta_len])
    start = 8 + meta_len + len(_pad(meta_len))
    end = start + meta["arrays_bytes"]
    return meta, payload[start:end], zlib.decompress(payload[end:])


def _meta_bytes(meta: dict) -> bytes:
    return json.dumps(meta, separators=(",", ":")).encode()


def _with(meta: dict, region_parts, tail_parts) -> bytes:
    """A file of ``meta``, the region ``region_parts`` (stored) and the blob stream of ``tail_parts``."""
    mb = _meta_bytes(meta)
    region = b"".join(bytes(p[1]) if isinstance(p, tuple) else p for p in region_parts)
    return _file(b"".join([_U64.pack(len(mb)), mb, _pad(len(mb)), region, _stream(tail_parts)]))


def _peak_of(fn) -> int:
    """Peak traced memory (bytes) while ``fn`` runs; ``fn`` must raise PlanFormatError."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        with pytest.raises(PlanFormatError):
            fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _budget(data: bytes) -> int:
    """What refusing ``data`` may cost: a small multiple of its size, plus a few MB of working space."""
    return 20 * len(data) + 4 * _MiB


# -- the meta length ----------------------------------------------------------------------------------------------


def test_meta_length_beyond_what_the_payload_holds_is_refused():
    for n in (1 << 40, 2**64 - 1, 3):
        data = _file(_U64.pack(n) + b"{}")
        with pytest.raises(PlanFormatError, match="meta"):
            Engine.from_bytes(data)
        assert _peak_of(lambda: Engine.from_bytes(data)) < _budget(data)


def test_meta_longer_than_max_bytes_is_refused_before_it_is_decoded():
    n = 4 * _MiB
    data = _file(_U64.pack(n) + b"{" + b" " * (n - 1))
    with pytest.raises(PlanFormatError, match="max_bytes"):
        Engine.from_bytes(data, max_bytes=_MiB)
    assert _peak_of(lambda: Engine.from_bytes(data, max_bytes=_MiB)) < _budget(data)


@pytest.mark.parametrize("byte", [b"\x00", b"\x1f", b"\n"])
def test_a_control_byte_in_a_meta_string_is_refused(byte):
    meta, region, tail = _decode(real_file())
    mb = _meta_bytes(meta).replace(b'"kind":"policy_set"', b'"kind":"policy' + byte + b'set"', 1)
    data = _file(b"".join([_U64.pack(len(mb)), mb, _pad(len(mb)), region, _stream([tail])]))
    with pytest.raises(PlanFormatError, match="control character"):
        Engine.from_bytes(data)


# -- the array region ---------------------------------------------------------------------------------------------


def test_array_region_longer_than_its_arrays_is_refused():
    meta, region, tail = _decode(real_file())
    n = _MiB
    meta = copy.deepcopy(meta)
    meta["arrays_bytes"] = len(region) + n
    data = _with(meta, [region, ("zeros", n)], [tail])
    peak = _peak_of(lambda: Engine.from_bytes(data))
    assert peak < _budget(data)


def test_array_region_past_the_payload_is_refused():
    meta, region, tail = _decode(real_file())
    meta = copy.deepcopy(meta)
    meta["arrays_bytes"] = 1 << 40
    with pytest.raises(PlanFormatError, match="past the end"):
        Engine.from_bytes(_with(meta, [region], [tail]))


@pytest.mark.parametrize("name", ["stmt_type", "needs", "action_pos.ids", "tag_eq_key", "slots", "principal_identity.ids",
                                  "principal_boundary", "principal_tags.offsets", "resource_policy", "blobs"])
def test_array_longer_than_the_meta_justifies_is_refused(name):
    """An array's dtype x shape must fit the counts the meta gives (statements, patterns, slots) before it is read:
    a long zero-filled array is refused from its layout entry."""
    meta, region, tail = _decode(real_file())
    meta = copy.deepcopy(meta)
    extra = 2 * _MiB
    layout = meta["arrays"]
    i = next(k for k, e in enumerate(layout) if e[0] == name)
    size = np.dtype(DTYPES[name]).itemsize
    layout[i][2] += extra // size
    for e in layout[i + 1:]:
        e[1] += extra
    meta["arrays_bytes"] += extra
    off = layout[i][1] + (layout[i][2] - extra // size) * size
    data = _with(meta, [region[:off], ("zeros", extra), region[off:]], [tail])
    peak = _peak_of(lambda: Engine.from_bytes(data))
    assert peak < _budget(data)


# -- the policy blobs (read lazily) -------------------------------------------------------------------------------


def _blob_bomb() -> bytes:
    meta, region, tail = _decode(real_file())
    n = 1000 * 200 * 1024
    offs_entry = next(e for e in meta["arrays"] if e[0] == "blobs")
    off, count = offs_entry[1], offs_entry[2]
    offs = np.frombuffer(region, dtype="<u8", count=count, offset=off).copy()
    offs[-1] += n
    region = region[:off] + offs.tobytes() + region[off + offs.nbytes:]
    return _with(meta, [region], [tail, ("zeros", n)])


def test_policy_blobs_bomb_is_refused_without_inflating_it():
    data = _blob_bomb()
    try:
        engine = Engine.from_bytes(data)
    except PlanFormatError:
        return  # refused at load: fine too
    # the blobs are read when a residual condition first needs a policy
    peak = _peak_of(lambda: engine.is_allowed(ALICE, "lex:PostText", BOT, {"aws:SourceIp": "10.1.2.3"}))
    assert peak < _budget(data)


def test_trailing_data_after_the_policy_blobs_is_refused_without_inflating_it():
    meta, region, tail = _decode(real_file())
    data = _with(meta, [region], [tail, ("zeros", 1000 * 200 * 1024)])
    # the default load reads every policy, so it meets the trailing data at load
    assert _peak_of(lambda: Engine.from_bytes(data)) < _budget(data)
    engine = Engine.from_bytes(data, verify=False)  # trusted: the policies are read when first needed
    peak = _peak_of(lambda: engine.is_allowed(ALICE, "lex:PostText", BOT, {"aws:SourceIp": "10.1.2.3"}))
    assert peak < _budget(data)


# -- the caller's limit -------------------------------------------------------------------------------------------


def test_max_bytes_bounds_the_decompressed_body(tmp_path):
    data = real_file()
    meta, region, tail = _decode(data)
    body = len(_meta_bytes(meta)) + len(region) + len(tail)
    assert Engine.from_bytes(data, max_bytes=body).is_allowed(ALICE, "lex:PostText", BOT, {"aws:SourceIp": "10.0.0.1"})
    with pytest.raises(PlanFormatError, match="max_bytes|limit"):
        Engine.from_bytes(data, max_bytes=body // 4)
    path = tmp_path / "e.lxa"
    path.write_bytes(data)
    assert Engine.load(path, max_bytes=body).n_statements == 1
    with pytest.raises(PlanFormatError):
        Engine.load(path, max_bytes=body // 4)
    with pytest.raises(PlanFormatError):
        serialize.unpack(data, max_bytes=body // 4)


@pytest.mark.parametrize("value", [-1, 1.5, "big", True])
def test_max_bytes_must_be_a_non_negative_int(value):
    with pytest.raises(PlanFormatError, match="max_bytes"):
        Engine.from_bytes(real_file(), max_bytes=value)


def test_a_real_file_still_loads_and_answers():
    data = real_file()
    engine = Engine.from_bytes(data)
    assert engine.is_allowed(ALICE, "lex:PostText", BOT, {"aws:SourceIp": "10.1.2.3"})
    assert not engine.is_allowed(ALICE, "lex:PostText", BOT, {"aws:SourceIp": "192.168.0.1"})
    assert engine.to_bytes() == data


# -- exceptions from decoding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1 << 63, 1 << 64, -(1 << 63) - 1, 1 << 200])
def test_a_slot_id_out_of_int64_range_is_a_plan_format_error(value):
    """Slot ids in the meta's JSON (the SCP levels; the others are int64 arrays) past what numpy holds."""
    meta, region, tail = _decode(real_file())
    meta = copy.deepcopy(meta)
    meta["directory"]["scps"][0][1] = [[value]]
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(_with(meta, [region], [tail]))


@pytest.mark.parametrize("where", ["scp_level", "scps_default", "n_stmts", "n_slots", "array_n", "array_offset",
                                   "arrays_bytes"])
def test_huge_integers_anywhere_in_the_meta_are_plan_format_errors(where):
    meta, region, tail = _decode(real_file())
    meta = copy.deepcopy(meta)
    big = 1 << 64
    if where == "scp_level":
        meta["directory"]["scps"][0][1] = [[big]]
    elif where == "scps_default":
        meta["directory"]["scps_default"] = [big]
    elif where == "n_stmts":
        meta["n_stmts"] = big
    elif where == "n_slots":
        meta["n_slots"] = big
    elif where == "array_n":
        meta["arrays"][0][2] = big
    elif where == "array_offset":
        meta["arrays"][1][1] = big
    else:
        meta["arrays_bytes"] = big
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(_with(meta, [region], [tail]))


def test_json_looking_blobs_are_refused_by_the_default_limit():
    """Policy blobs of spaces (valid JSON whitespace, so the stream check cannot refuse them early) that deflate packs
    near its 1032:1 maximum: the default limit (64 times the file plus 16 MiB) refuses the claim before inflating
    them."""
    meta, region, tail = _decode(real_file())
    n = 300 * _MiB
    entry = next(e for e in meta["arrays"] if e[0] == "blobs")
    offs = np.frombuffer(region, dtype="<u8", count=entry[2], offset=entry[1]).copy()
    offs[-1] += n
    region = region[:entry[1]] + offs.tobytes() + region[entry[1] + offs.nbytes:]
    z = zlib.compressobj(9)
    block = b" " * (4 * _MiB)
    parts = [z.compress(tail)]
    for _ in range(n // len(block)):
        parts.append(z.compress(block))
    parts.append(z.flush())
    mb = _meta_bytes(meta)
    data = _file(b"".join([_U64.pack(len(mb)), mb, _pad(len(mb)), region, *parts]))
    assert serialize.MAX_RATIO * len(data) > n  # what the file could justify by deflate's bound alone
    peak = _peak_of(lambda: Engine.from_bytes(data))
    assert peak < _budget(data), f"refusing a {len(data)} byte file took {peak} bytes"
    with pytest.raises(PlanFormatError, match="max_bytes"):
        Engine.from_bytes(data)
