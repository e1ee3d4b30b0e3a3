"""Target ``saved``: saved engine files (``Engine.to_bytes`` / ``Engine.from_bytes``), damaged on purpose.

Input: the bytes of a file.  The mutator knows the format (``lexauthz/compile/serialize.py``: header, SHA-256, meta
JSON, 8-byte aligned arrays, a zlib stream of policy blobs) and damages one part at a time -- an array element set
to a boundary value, a statement's effect flipped, the meta or a policy blob edited as JSON or as bytes, a length
field lying, the blobs cut short -- then compresses the blobs again and, mostly, writes a correct checksum, so that
only the format checks stand between the bytes and an engine.

Oracle:

- ``Engine.from_bytes`` loads or raises a coded error (``E_PLAN_FORMAT``), nothing else;
- a loaded engine answers each request the same through ``is_allowed`` (before and after ``evaluate``),
  ``evaluate``, ``evaluate_batch`` of one row and of all rows; where any of them raises or answers ERROR, none
  answers Allow (``F_ALLOW_ON_ERROR``);
- when the file's policy text and meta are those of one of the base engines (only arrays or headers were damaged),
  its requests are decided as the reference decides that base's policy set, or refused: an Allow the policy text
  does not give is ``F_FAIL_OPEN``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import random
import struct
import zlib

import numpy as np

from lexauthz.decision import Decision
from lexauthz.engine import Engine
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

from .. import cases
from ..mutate import dumps, loads_or_none, mutate_bytes, mutate_json
from ..oracle import Finding, FindingError, guarded
from ..pools import random_requests
from . import Target
from .policy_set import base_cases

__all__ = ["TARGET", "decode", "encode"]

HEADER = struct.Struct("<8sIQ32s")
U64 = struct.Struct("<Q")
#: Element width of each saved array (``lexauthz/compile/state.py``, ``lexauthz/compile/directory.py``): offsets,
#: slot rows and the directory's slot columns are 8 bytes.
_WIDTHS = {"stmt_type": 1, "stmt_effect": 1, "stmt_level": 2, "slots": 8, "principal_boundary": 8,
           "principal_session": 8, "resource_policy": 8}
_GENERIC_REQUESTS = 24


def _width(name: str) -> int:
    if name.endswith(".offsets") or name == "blobs":
        return 8
    return _WIDTHS.get(name, 4)


# -- the format ---------------------------------------------------------------------------------------------------


def decode(data: bytes) -> dict | None:
    """The parts of a well-formed file: ``version``, ``meta`` (bytes), ``region``, ``blobs``; ``None`` otherwise."""
    if len(data) < HEADER.size:
        return None
    magic, version, length, digest = HEADER.unpack_from(data)
    payload = data[HEADER.size:]
    if len(payload) < 8:
        return None
    (meta_len,) = U64.unpack_from(payload)
    meta_bytes = payload[8:8 + meta_len]
    meta = loads_or_none(meta_bytes)
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays_bytes"), int) or meta["arrays_bytes"] < 0:
        return None
    start = 8 + meta_len + (-(8 + meta_len)) % 8
    end = start + meta["arrays_bytes"]
    try:
        blobs = zlib.decompress(payload[end:])
    except zlib.error:
        return None
    return {"magic": magic, "version": version, "meta_bytes": meta_bytes, "meta": meta,
            "region": payload[start:end], "blobs": blobs}


def encode(parts: dict, *, checksum: bool = True, meta_len: int | None = None) -> bytes:
    """File bytes from parts (as :func:`decode` gives them), with a correct SHA-256 unless ``checksum`` is false."""
    meta = parts["meta_bytes"]
    n = len(meta) if meta_len is None else meta_len
    payload = b"".join([U64.pack(n), meta, bytes((-(8 + len(meta))) % 8), parts["region"],
                        zlib.compress(parts["blobs"], 1)])
    digest = hashlib.sha256(payload).digest() if checksum else bytes(32)
    return HEADER.pack(parts["magic"], parts["version"], len(payload), digest) + payload


def text_key(parts: dict) -> str:
    """What defines the engine's meaning apart from its index: the meta and the policy blobs."""
    return hashlib.sha256(parts["meta_bytes"] + b"\0" + parts["blobs"]).hexdigest()


#: The deployment key the target seals files with (``Engine.to_bytes(key=...)``, HMAC-SHA256).
KEY = b"lexauthz-fuzz-deployment-key"


@functools.cache
def seal_tail_length() -> int:
    """Bytes a seal appends to a file (its marker and the MAC), learned from a real sealed file; 0 when the engine
    does not seal."""
    import inspect

    if "key" not in inspect.signature(Engine.to_bytes).parameters:
        return 0
    file, _ = next(iter(bases().values()))
    engine = Engine.from_bytes(file)
    return len(engine.to_bytes(key=KEY)) - len(file)


def split_seal(data: bytes) -> tuple[bytes, bytes]:
    """``(plan bytes, seal bytes)``; the seal is empty when ``data`` is not laid out as a sealed file."""
    n = seal_tail_length()
    if n and len(data) >= HEADER.size + n:
        length = HEADER.unpack_from(data)[2]
        if len(data) == HEADER.size + length + n:
            return data[:-n], data[-n:]
    return data, b""


# -- base engines -------------------------------------------------------------------------------------------------


@functools.cache
def bases() -> dict:
    """text key -> (file bytes, requests, reference decisions) for the engines of the base cases."""
    out = {}
    for data in base_cases():
        case = json.loads(data)
        ps = cases.build_policy_set(case)
        file = ps.compile().to_bytes()
        reqs = []
        for q in case["requests"][:32]:
            try:
                req = Request(q["principal"], q["action"], q["resource"], q["resource_account"], q["context"])
            except Exception:  # noqa: BLE001 - base requests are valid; skip any that are not
                continue
            reqs.append((req, reference_evaluate(ps.enrich(req), ps.applicable(req)).decision))
        parts = decode(file)
        out[text_key(parts)] = (file, tuple(reqs))
    return out


@functools.cache
def _generic_requests() -> tuple:
    return tuple(random_requests(random.Random(5), _GENERIC_REQUESTS))


# -- mutation -----------------------------------------------------------------------------------------------------

_BOUNDARY = (0, 1, 2, 3, 7, 8, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 63,
             2 ** 64 - 1)


def _arrays(parts):
    layout = parts["meta"].get("arrays")
    return [e for e in layout if isinstance(e, list) and len(e) == 3 and isinstance(e[1], int)
            and isinstance(e[2], int)] if isinstance(layout, list) else []


def _set_element(region: bytes, entry, rng: random.Random, value=None) -> bytes:
    name, off, n = entry
    w = _width(name if isinstance(name, str) else "")
    if n <= 0 or off + n * w > len(region):
        return region
    k = rng.randrange(n)
    if value is None:
        value = rng.choice(_BOUNDARY + (n, n - 1, n + 1, rng.randrange(1 << (8 * w))))
    value %= 1 << (8 * w)
    out = bytearray(region)
    out[off + k * w:off + (k + 1) * w] = value.to_bytes(w, "little")
    return bytes(out)


def _blob_spans(parts):
    entry = next((e for e in _arrays(parts) if e[0] == "blobs"), None)
    if entry is None:
        return None, []
    _, off, n = entry
    raw = parts["region"][off:off + 8 * n]
    if len(raw) != 8 * n:
        return entry, []
    offs = np.frombuffer(raw, dtype="<u8").tolist()
    return entry, list(zip(offs, offs[1:]))


def _edit_blob(parts, rng: random.Random) -> dict:
    entry, spans = _blob_spans(parts)
    if not spans:
        return parts
    i = rng.randrange(len(spans))
    a, b = spans[i]
    blob = parts["blobs"][a:b]
    tree = loads_or_none(blob)
    if tree is not None and rng.random() < 0.7:
        new = dumps(mutate_json(tree, rng))
    else:
        new = mutate_bytes(blob, rng)
    blobs = parts["blobs"][:a] + new + parts["blobs"][b:]
    delta = len(new) - len(blob)
    offs = [s for s, _ in spans] + [spans[-1][1]]
    offs = offs[:i + 1] + [(o + delta) % (1 << 64) for o in offs[i + 1:]]
    region = bytearray(parts["region"])
    _, off, n = entry
    region[off:off + 8 * n] = np.array(offs, dtype="<u8").tobytes()
    return {**parts, "region": bytes(region), "blobs": blobs}


def mutate_file(data: bytes, rng: random.Random) -> bytes:
    """A damaged variant of a file; a sealed file keeps its (now stale) seal, loses it, or has its MAC changed."""
    plain, seal = split_seal(data)
    if seal:
        r = rng.random()
        if r < 0.2:
            mac = bytearray(seal)
            mac[rng.randrange(len(mac))] ^= 1 << rng.randrange(8)
            return plain + bytes(mac)
        damaged = _mutate_plain(plain, rng)
        return damaged + seal if r < 0.8 else damaged
    return _mutate_plain(data, rng)


def _mutate_plain(data: bytes, rng: random.Random) -> bytes:
    parts = decode(data)
    if parts is None:
        out = mutate_bytes(data, rng, max_len=1 << 20)
        return _rechecksum(out) if rng.random() < 0.8 else out
    op = rng.randrange(100)
    checksum = rng.random() < 0.95
    arrays = _arrays(parts)
    if op < 30 and arrays:                              # an array element to a boundary value
        parts = {**parts, "region": _set_element(parts["region"], rng.choice(arrays), rng)}
    elif op < 45:                                       # a statement's effect flipped (Allow <-> Deny, or junk)
        entry = next((e for e in arrays if e[0] == "stmt_effect"), None)
        if entry is not None:
            value = None
            if rng.random() < 0.8:
                value = 1 if rng.random() < 0.7 else 2
            parts = {**parts, "region": _set_element(parts["region"], entry, rng, value)}
    elif op < 60:                                       # the meta edited as JSON
        meta = mutate_json(parts["meta"], rng)
        parts = {**parts, "meta_bytes": dumps(meta), "meta": meta if isinstance(meta, dict) else {}}
    elif op < 72:                                       # a policy blob edited (its offsets kept consistent)
        parts = _edit_blob(parts, rng)
    elif op < 80:                                       # bytes of the array region
        parts = {**parts, "region": mutate_bytes(parts["region"], rng, max_len=len(parts["region"]) + 64)}
    elif op < 85:                                       # the meta length lies
        n = len(parts["meta_bytes"])
        return encode(parts, checksum=checksum, meta_len=rng.choice((0, n - 1, n + 1, n + 8, 2 ** 31, 2 ** 63)))
    elif op < 90:                                       # blobs cut short or extended
        blobs = parts["blobs"]
        parts = {**parts, "blobs": blobs[:rng.randint(0, len(blobs))] if rng.random() < 0.5 else blobs + b"\0" * 9}
    elif op < 95:                                       # the header: version, magic
        parts = {**parts, "version": rng.choice((0, 1, 2, 4, 2 ** 32 - 1))}
    else:                                               # raw bytes of the file, checksum fixed
        out = mutate_bytes(data, rng, max_len=len(data) + 64)
        return _rechecksum(out) if checksum else out
    return encode(parts, checksum=checksum)


def _rechecksum(data: bytes) -> bytes:
    if len(data) < HEADER.size:
        return data
    magic, version, _, _ = HEADER.unpack_from(data)
    payload = data[HEADER.size:]
    return HEADER.pack(magic, version, len(payload), hashlib.sha256(payload).digest()) + payload


# -- the oracle ---------------------------------------------------------------------------------------------------


def _damage(parts, base_file) -> list:
    """What differs from the base file: the arrays (name, first differing index) or the parts that changed."""
    if parts is None:
        return ["the file does not decode"]
    if base_file is None:
        return ["meta or policy text (no base engine has them)"]
    base = decode(base_file)
    out = []
    for (name, off, n), (_, boff, bn) in zip(_arrays(parts), _arrays(base)):
        w = _width(name)
        a, b = parts["region"][off:off + n * w], base["region"][boff:boff + bn * w]
        if a != b:
            k = next((i for i in range(0, min(len(a), len(b)), w) if a[i:i + w] != b[i:i + w]), min(len(a), len(b)))
            out.append(f"{name}[{k // w}]: {int.from_bytes(b[k:k + w], 'little') if k < len(b) else None} -> "
                       f"{int.from_bytes(a[k:k + w], 'little') if k < len(a) else None}")
    if parts["region"] != base["region"] and not out:
        out.append("array region padding")
    if parts["version"] != base["version"]:
        out.append(f"version {base['version']} -> {parts['version']}")
    return out


def _row(req: Request):
    return req.principal, req.action, req.resource, req.context


class SavedTarget(Target):
    name = "saved"
    ext = ".lxa"

    def seeds(self):
        out = [(f"base-{i}", v[0]) for i, v in enumerate(bases().values())]
        if seal_tail_length():
            out += [(f"sealed-{i}", Engine.from_bytes(v[0]).to_bytes(key=KEY))
                    for i, v in enumerate(list(bases().values())[:3])]
        return out

    def generate(self, rng):
        return mutate_file(rng.choice(self.seeds())[1], rng)

    def mutate(self, data, rng, others=()):
        if rng.random() < 0.5:  # damage stacks up from a fresh base half of the time
            data = rng.choice(self.seeds())[1]
        return mutate_file(data, rng)

    def minimize(self, data, still_fails):
        return data  # a damaged file is its own reproducer; the finding's detail says what differs

    def run(self, data):
        """Load ``data`` as a deployment would: a sealed file under :data:`KEY` (it must then be one of the sealed
        seeds, byte for byte) and without a key; an unsealed file verified against its text (the default) and,
        for one input in three, trusted (``verify=False``)."""
        plain, seal = split_seal(data)
        sigs = []
        if seal:
            keyed = guarded("Engine.from_bytes(key=)", Engine.from_bytes, data, key=KEY)
            if keyed.ok and data not in {d for _, d in self.seeds()}:
                raise FindingError(Finding("F_NOT_REFUSED", "saved: Engine.from_bytes(key=)", "a sealed file that "
                                           "is not the one sealed under the key was loaded with the key",
                                           {"damage": _damage(decode(plain), self._base_file(plain))}))
            sigs.append(("sealed", keyed.code))
            if keyed.ok:
                sigs.append(self._check(keyed.value, plain, "saved(key)", text_checked=True, trusted=True))
        trusted = int(self.digest(data), 16) % 3 == 0 and seal_tail_length() > 0
        mode = {"verify": False} if trusted else {}
        loaded = guarded(f"Engine.from_bytes({'verify=False' if trusted else ''})", Engine.from_bytes, data, **mode)
        if not loaded.ok:
            return tuple(sigs) + (("refused", loaded.code, str(loaded.error)[:40]),)
        return tuple(sigs) + (self._check(loaded.value, plain, "saved(trusted)" if trusted else "saved",
                                          text_checked=not trusted, trusted=trusted),)

    @staticmethod
    def _base_file(plain):
        parts = decode(plain)
        base = bases().get(text_key(parts)) if parts is not None else None
        return None if base is None else base[0]

    def _check(self, engine, data, label, text_checked: bool, trusted: bool = False):
        """The oracle over a loaded engine; ``text_checked``: the load promised an index its text gives (so a
        decision other than the text's is a finding), as a verified or authenticated load does.  ``trusted``: the
        load skipped the check, so damage is found only when a part is first read; the answer given before that
        (the first ``is_allowed``) is not held against it, every answer after it must be ERROR or a deny."""
        parts = decode(data)
        base = bases().get(text_key(parts)) if parts is not None else None
        if not text_checked:
            base = None if base is None else (base[0], tuple((r, None) for r, _ in base[1]))
        reqs = base[1] if base is not None else tuple((r, None) for r in _generic_requests())
        seen = []
        for i, (req, want) in enumerate(reqs):
            where = f"{label}: requests[{i}]"
            first = guarded(f"{where}: is_allowed", engine.is_allowed, *_row(req)) \
                if req.resource_account is None else None
            got = guarded(f"{where}: evaluate", engine.evaluate, req)
            again = guarded(f"{where}: is_allowed", engine.is_allowed, *_row(req)) \
                if req.resource_account is None else None
            one = guarded(f"{where}: evaluate_batch", engine.evaluate_batch, [req.principal], [req.action],
                          [req.resource], [req.context], resource_accounts=[req.resource_account])
            errored = (not got.ok) or got.value.decision == Decision.ERROR
            allows = {"evaluate_batch": one.ok and int(one.value[0]) == Decision.ALLOW}
            if first is not None:
                allows["is_allowed (first)"] = first.value is True
                allows["is_allowed (after evaluate)"] = again.value is True
            detail = {"request": cases.request_data(req),
                      "evaluate": got.code if not got.ok else got.value.decision.name,
                      "is_allowed": [None if x is None else (x.code if not x.ok else x.value) for x in (first, again)],
                      "evaluate_batch": one.code if not one.ok else Decision(int(one.value[0])).name,
                      "reference": None if want is None else want.name,
                      "damage": _damage(parts, base[0] if base is not None else None)}
            if errored:
                if trusted:
                    allows.pop("is_allowed (first)", None)
                if any(allows.values()):
                    which = ", ".join(k for k, v in allows.items() if v)
                    raise FindingError(Finding("F_ALLOW_ON_ERROR", where, f"{which} answered Allow where evaluate "
                                               f"gives {detail['evaluate']}", detail))
                seen.append("ERROR")
                continue
            decision = got.value.decision
            for name, allowed in allows.items():
                if allowed != (decision == Decision.ALLOW):
                    code = "F_FAIL_OPEN" if allowed else "F_INCONSISTENT"
                    raise FindingError(Finding(code, where, f"{name} disagrees with evaluate ({decision.name})",
                                               detail))
            if one.ok and int(one.value[0]) != decision:
                raise FindingError(Finding("F_INCONSISTENT", where, "evaluate_batch disagrees with evaluate",
                                           detail))
            if want is not None and decision != want:
                code = "F_FAIL_OPEN" if decision == Decision.ALLOW else "F_DISAGREE"
                raise FindingError(Finding(code, where, f"the damaged engine answers {decision.name} where its "
                                           f"policy text gives {want.name}", detail))
            seen.append(decision.name)
        return ("loaded", label, base is not None, tuple(sorted(set(seen))))


TARGET = SavedTarget()
