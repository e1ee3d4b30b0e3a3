"""The saved-engine file format (version 3): crafted corruption is refused, policies load lazily, a loaded engine
answers exactly as the original.

Corruption tests decode a real file (header -> meta JSON, array region, zlib stream of policy blobs) with
:class:`PlanFile`, change one thing, and pack it again with a correct header and SHA-256: the checksum passes, so
only the checks of :mod:`lexauthz.compile.serialize` (and :meth:`IndexState.check`) stand between the bytes and
an engine.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexauthz.compile import serialize
from lexauthz.compile.plan import TYPE_CODES
from lexauthz.compile.state import CSR_FIELDS
from lexauthz.decision import Decision, Response
from lexauthz.account import PolicySet
from lexauthz.engine import Engine, compile_applicable
from lexauthz.errors import PlanFormatError
from lexauthz.policy.applicable import ApplicablePolicies
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "property"))

from strategies import policy_sets, random_request  # noqa: E402
from engine_builders import run_threads  # noqa: E402

_SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# =================================================================================================================
# The file, decoded and packed again
# =================================================================================================================

_HEADER = struct.Struct("<8sIQ32s")
_U64 = struct.Struct("<Q")


DTYPES = serialize.array_dtypes()


def _pad(meta_len: int) -> bytes:
    return bytes((-(8 + meta_len)) % 8)


def wrap(head: bytes, blobs: bytes = b"", *, version: int = serialize.FORMAT_VERSION,
         magic: bytes = serialize.MAGIC) -> bytes:
    """File bytes around ``head`` (meta length, meta, padding, array region, stored as they are) and ``blobs``
    (compressed): header with the payload length and a correct SHA-256."""
    return wrap_payload(head + zlib.compress(blobs, 1), version=version, magic=magic)


def wrap_payload(payload: bytes, *, version: int = serialize.FORMAT_VERSION, magic: bytes = serialize.MAGIC) -> bytes:
    return _HEADER.pack(magic, version, len(payload), hashlib.sha256(payload).digest()) + payload


def head_length(data: bytes) -> int:
    """Where the blob stream of a file starts in its payload (the meta length, meta, padding and arrays before)."""
    payload = data[_HEADER.size:]
    (meta_len,) = _U64.unpack_from(payload)
    meta = json.loads(payload[8:8 + meta_len])
    return 8 + meta_len + len(_pad(meta_len)) + meta["arrays_bytes"]


def wrap_parts(meta, region: bytes, tail: bytes) -> bytes:
    """File bytes from a meta (dict, or raw bytes used as they are), an array region and the policy blobs."""
    meta_bytes = meta if isinstance(meta, bytes) else json.dumps(meta, separators=(",", ":")).encode("utf-8")
    return wrap(b"".join([_U64.pack(len(meta_bytes)), meta_bytes, _pad(len(meta_bytes)), region]), tail)


class PlanFile:
    """A saved engine taken apart: ``meta`` (the JSON dict), ``arrays`` (name -> native array, in file order,
    ``blobs`` offsets included) and ``blobs`` (the policy JSON of each blob, as bytes)."""

    def __init__(self, meta: dict, arrays: dict, blobs: list):
        self.meta, self.arrays, self.blobs = meta, arrays, blobs

    @classmethod
    def decode(cls, data: bytes) -> "PlanFile":
        magic, version, length, digest = _HEADER.unpack_from(data)
        assert (magic, version, length) == (serialize.MAGIC, serialize.FORMAT_VERSION, len(data) - _HEADER.size)
        payload = data[_HEADER.size:]
        assert hashlib.sha256(payload).digest() == digest
        (meta_len,) = _U64.unpack_from(payload)
        meta = json.loads(payload[8:8 + meta_len])
        start = 8 + meta_len + len(_pad(meta_len))
        region = payload[start:start + meta["arrays_bytes"]]
        arrays = {}
        for name, off, n in meta["arrays"]:
            le = np.dtype(DTYPES[name]).newbyteorder("<")
            arrays[name] = np.frombuffer(region, dtype=le, count=n, offset=off).astype(DTYPES[name])
        tail = zlib.decompress(payload[start + meta["arrays_bytes"]:])
        offs = [int(x) for x in arrays["blobs"]]
        assert offs[0] == 0 and offs[-1] == len(tail)
        blobs = [tail[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
        return cls(meta, arrays, blobs)

    def copy(self) -> "PlanFile":
        return PlanFile(copy.deepcopy(self.meta), {k: v.copy() for k, v in self.arrays.items()}, list(self.blobs))

    def pack(self, *, edit_meta=None, blob_offsets=True, tail_extra: bytes = b"") -> bytes:
        """The file again: array layout, ``arrays_bytes`` and (with ``blob_offsets``) the ``blobs`` offsets are
        recomputed from ``arrays`` and ``blobs``; ``edit_meta(meta)`` then changes the meta before it is written."""
        return wrap_parts(*self.parts(edit_meta=edit_meta, blob_offsets=blob_offsets, tail_extra=tail_extra))

    def parts(self, *, edit_meta=None, blob_offsets=True, tail_extra: bytes = b"") -> tuple:
        """``(meta, region, blobs)`` as :meth:`pack` writes them."""
        arrays = dict(self.arrays)
        if blob_offsets:
            offs = np.zeros(len(self.blobs) + 1, dtype=np.uint64)
            offs[1:] = np.cumsum([len(b) for b in self.blobs])
            arrays["blobs"] = offs
        layout, chunks, pos = [], [], 0
        for name, a in arrays.items():
            le = np.asarray(a, dtype=DTYPES.get(name, np.uint32)).astype(
                np.dtype(DTYPES.get(name, np.uint32)).newbyteorder("<"))
            aligned = (pos + 7) & ~7
            chunks.append(bytes(aligned - pos))
            pos = aligned
            layout.append([name, pos, int(le.shape[0])])
            chunks.append(le.tobytes())
            pos += le.nbytes
        meta = copy.deepcopy(self.meta)
        meta["arrays"] = layout
        meta["arrays_bytes"] = pos
        if edit_meta is not None:
            edit_meta(meta)
        return meta, b"".join(chunks), b"".join(self.blobs) + tail_extra


def slot_rows(pf) -> list:
    """The file's slot rows ``[type code, SCP level or -1, first statement, statement count, blob]``."""
    return pf.arrays["slots"].reshape(-1, 5).tolist()


def principal_row(pf, arn) -> int:
    return pf.meta["directory"]["principals"].index(arn)


def identity_slots(pf, arn) -> list:
    """Where ``arn``'s identity slots are in ``principal_identity.ids``, and the slots."""
    i = principal_row(pf, arn)
    off = pf.arrays["principal_identity.offsets"]
    return pf.arrays["principal_identity.ids"][int(off[i]):int(off[i + 1])].tolist()


def first_identity(pf, arn) -> int:
    """The position of ``arn``'s first identity slot in ``principal_identity.ids``."""
    return int(pf.arrays["principal_identity.offsets"][principal_row(pf, arn)])


def slot_of(pf, ptype: str, *, level=None, nonempty=True) -> int:
    """The first slot of ``ptype`` (and SCP ``level``) in the file, with statements when ``nonempty``."""
    for sid, (code, lv, first, count, blob) in enumerate(slot_rows(pf)):
        if code == TYPE_CODES[ptype] and (level is None or lv == level) and (count > 0 or not nonempty):
            return sid
    raise AssertionError(f"no {ptype} slot in the file")


# =================================================================================================================
# Engines under test
# =================================================================================================================

A, B, C = "111122223333", "444455556666", "999988887777"  # C: an account the organization does not list
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{B}:user/team/bob"
ROLE = f"arn:aws:iam::{A}:role/LexDev"
SESSION = f"arn:aws:sts::{A}:assumed-role/LexDev/alice"
BROKEN = f"arn:aws:iam::{A}:user/broken"
BOT_A = f"arn:aws:lex:us-east-1:{A}:bot:OrderFlowers"
BOT_B = f"arn:aws:lex:us-east-1:{B}:bot:BookTrip"
ALIAS_A = f"arn:aws:lex:us-east-1:{A}:bot-alias/BOT2/ALIAS1"

#: Principals of requests: listed ones, and ones the policy set never names.
REQUEST_PRINCIPALS = (
    ALICE, BOB, ROLE, BROKEN,
    SESSION,                                        # a session of a known role: uses the role's record
    f"arn:aws:sts::{A}:assumed-role/LexDev/other",  # another session of it
    f"arn:aws:sts::{A}:assumed-role/Nobody/x",      # a session of an unknown role
    f"arn:aws:iam::{A}:user/unknown",               # an unknown user of a listed account
    f"arn:aws:iam::{C}:user/mallory",               # an account the organization does not list
    f"arn:aws:iam::{A}:root", f"arn:aws:sts::{B}:federated-user/carol", "lex.amazonaws.com",
)
REQUEST_ACTIONS = ("lex:PostText", "lex:PostContent", "lex:RecognizeText", "lex:GetBot", "lex:ListBots",
                   "lex:DeleteBot", "lex:FrobnicateBot", "s3:GetObject")
REQUEST_RESOURCES = (BOT_A, BOT_B, ALIAS_A, f"arn:aws:lex:eu-west-1:{A}:bot:Unseen",
                     f"arn:aws:lex:us-east-1:{A}:bot:alice_bot", "*")
REQUEST_CONTEXTS = (None, {"aws:SourceIp": "10.1.2.3", "aws:username": "alice"},
                    {"aws:SourceIp": "192.168.0.1", "aws:PrincipalTag/team": "ops", "aws:ResourceTag/team": "ml"})


def _stmt(effect, action, resource, *, condition=None, principal=None, not_action=False, not_resource=False):
    s = {"Effect": effect, ("NotAction" if not_action else "Action"): action,
         ("NotResource" if not_resource else "Resource"): resource}
    if condition:
        s["Condition"] = condition
    if principal is not None:
        s["Principal"] = principal
    return s


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def build_policy_set() -> PolicySet:
    """Every kind of policy and index entry: identity (index-only, residual, tag eq/like, NotAction, NotResource,
    a variable in Resource), groups, boundary, session, resource policies with Principal/NotPrincipal, SCPs at
    three levels, and a refused (ERROR) policy."""
    ps = PolicySet()
    ps.add_group("devs", [_policy(_stmt("Allow", "lex:List*", "*",
                                        condition={"StringLike": {"aws:PrincipalTag/team": "m*"}}))])
    ps.add_principal(ALICE, policies=[
        _policy(_stmt("Allow", ["lex:Post*", "lex:Recognize*"], f"arn:aws:lex:*:{A}:bot:*")),
        _policy(_stmt("Allow", "lex:Get*", "*", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        _policy(_stmt("Deny", "lex:Delete*", "*"),
                _stmt("Allow", "lex:Delete*", f"arn:aws:lex:*:{B}:*", not_action=True, not_resource=True,
                      condition={"StringEquals": {"aws:ResourceTag/team": "ml"}})),
    ], tags={"team": "ml"}, groups=["devs"],
        permissions_boundary=_policy(_stmt("Allow", "lex:*", "*"), _stmt("Deny", "lex:PostContent", "*")))
    ps.add_principal(ROLE, policies=[
        _policy(_stmt("Allow", "lex:*", "arn:aws:lex:*:*:bot:${aws:username}*")),
    ], permissions_boundary=_policy(_stmt("Allow", "lex:*", "*")),
        session_policy=_policy(_stmt("Allow", ["lex:Recognize*", "lex:Get*", "lex:Post*"], "*")))
    ps.add_principal(BOB, policies=[_policy(_stmt("Allow", "lex:*", "*"))], groups=["devs"], tags={"team": "ops"})
    ps.add_principal(BROKEN, policies=[_policy({"Effect": "Maybe", "Action": "lex:*", "Resource": "*"})])
    ps.add_resource(BOT_A, tags={"team": "ml"}, policy=_policy(
        _stmt("Allow", "lex:PostText", BOT_A, principal={"AWS": B}),
        _stmt("Allow", "lex:GetBot", BOT_A, principal={"AWS": ROLE}),
        _stmt("Deny", "lex:DeleteBot", BOT_A, principal={"AWS": f"arn:aws:iam::{A}:root"})))
    ps.add_resource(BOT_B, tags={"team": "ops"}, policy=_policy(
        _stmt("Allow", "lex:RecognizeText", BOT_B, principal="*",
              condition={"StringEquals": {"aws:PrincipalAccount": A}}),
        {"Effect": "Deny", "NotPrincipal": {"AWS": [BOB, f"arn:aws:iam::{B}:root"]}, "Action": "lex:DeleteBot",
         "Resource": BOT_B}))
    ps.add_account(A, ["ou-a"])
    ps.add_account(B, ["ou-a", "ou-b"])
    ps.add_scp("root", _policy(_stmt("Allow", "*", "*")))
    ps.add_scp("ou-a", _policy(_stmt("Allow", ["lex:*", "s3:*"], "*")))
    ps.add_scp("ou-b", _policy(_stmt("Deny", "lex:Delete*", "*"), _stmt("Allow", "*", "*")))
    ps.add_scp(B, _policy(_stmt("Allow", "*", "*")))
    return ps


def all_requests():
    return [Request(p, a, r, None, c) for p in REQUEST_PRINCIPALS for a in REQUEST_ACTIONS
            for r in REQUEST_RESOURCES for c in REQUEST_CONTEXTS]


def _columns(reqs):
    return ([r.principal for r in reqs], [r.action for r in reqs], [r.resource for r in reqs],
            [r.context for r in reqs], [r.resource_account for r in reqs])


def _bundle() -> ApplicablePolicies:
    """A fixed bundle (the corpus case form) with every policy type."""
    ps = build_policy_set()
    return ApplicablePolicies(
        identity=ps.principals[ALICE].policies + ps.groups["devs"],
        resource=ps.resources[BOT_A].policy,
        permissions_boundary=ps.principals[ALICE].permissions_boundary,
        session=ps.principals[ROLE].session_policy,
        scps=tuple(pols for _, pols in ps.scp_levels(B)),
    )


@functools.cache
def policy_set_data() -> bytes:
    """The saved form of :func:`build_policy_set` (compiled once per test process)."""
    return build_policy_set().compile().to_bytes()


@functools.cache
def applicable_data() -> bytes:
    """The saved form of :func:`compile_applicable` over :func:`_bundle`."""
    return compile_applicable(_bundle()).to_bytes()


@pytest.fixture(scope="module")
def engine():
    return build_policy_set().compile()


@pytest.fixture(scope="module")
def requests_():
    return all_requests()


def test_the_fixture_file_has_every_part_the_checks_cover():
    """The corruption cases below change these parts: each must be there (non-empty) for a case to mean anything."""
    pf = PlanFile.decode(policy_set_data())
    for name in ("needs", "not_action_all", "not_resource_all", "dynamic", "tag_eq_key", "tag_like_key"):
        assert pf.arrays[name].shape[0] > 0, name
    for name in CSR_FIELDS:
        assert pf.arrays[f"{name}.ids"].shape[0] > 0, name
    types = {TYPE_CODES[t] for t in ("identity", "resource", "permissions_boundary", "session", "scp")}
    rows = slot_rows(pf)
    assert {row[0] for row in rows} == types
    assert {row[1] for row in rows} >= {-1, 0, 1, 2, 3}
    assert pf.meta["blob_errors"]  # the refused policy
    assert any(row[3] == 0 for row in rows)  # ... has a slot with no statements
    d = pf.meta["directory"]
    assert d["roles"] and d["resources"] and d["scps"] and d["scps_default"]
    assert d["principal_tags"] and d["resource_tags"]
    assert (pf.arrays["principal_boundary"] >= 0).any() and (pf.arrays["principal_session"] >= 0).any()
    assert (pf.arrays["resource_policy"] >= 0).any()


def test_the_test_codec_repacks_a_file_byte_for_byte():
    """Decoding and packing again without a change gives the same bytes, so each case changes one thing only."""
    for data in (policy_set_data(), applicable_data()):
        assert PlanFile.decode(data).pack() == data
        Engine.from_bytes(PlanFile.decode(data).pack())


# =================================================================================================================
# 1. Crafted but checksummed corruption: refused before an engine exists
# =================================================================================================================


def _array(name, fn):
    """Change array ``name``: ``fn(array, meta)`` returns the new array."""
    def mutate(pf):
        pf.arrays[name] = np.asarray(fn(pf.arrays[name].copy(), pf.meta))
        return pf.pack()
    return mutate


def _put(i, value):
    def fn(a, meta):
        a[i] = value(meta) if callable(value) else value
        return a
    return fn


def _append(value):
    def fn(a, meta):
        return np.append(a, value(meta) if callable(value) else value).astype(a.dtype)
    return fn


def _meta(fn):
    """Change the meta after the array layout is computed: ``fn(meta)`` edits it in place."""
    def mutate(pf):
        return pf.pack(edit_meta=fn)
    return mutate


def _slots(fn):
    """Change the slot rows: ``fn(rows)`` edits them (lists) in place; ``n_slots`` follows their number."""
    def mutate(pf):
        rows = slot_rows(pf)
        fn(rows)
        pf.arrays["slots"] = np.array(rows, dtype=np.int64).reshape(-1)
        return pf.pack(edit_meta=lambda m: _setitem(m, "n_slots", len(rows)))
    return mutate


def _slot_rows_of(fn):
    """Change the slot rows with the file at hand: ``fn(rows, pf)``."""
    def mutate(pf):
        return _slots(lambda rows: fn(rows, pf))(pf)
    return mutate


def _setitem(obj, key, value):
    obj[key] = value


def _n(meta):
    return meta["n_stmts"]


def _decreasing(a, meta):
    a[1] = a[2] + 1
    return a


def _entry(meta, name):
    return next(e for e in meta["arrays"] if e[0] == name)


def _drop_array(name):
    return _meta(lambda m: m["arrays"].remove(_entry(m, name)))


def _shift(name, by):
    return _meta(lambda m: _setitem(_entry(m, name), 1, _entry(m, name)[1] + by))


def _count(name, value):
    return _meta(lambda m: _setitem(_entry(m, name), 2, value(_entry(m, name)[2]) if callable(value) else value))


def _drop_string(field):
    return _meta(lambda m: m["strings"][field].pop())


def _blob_offsets(fn):
    def mutate(pf):
        offs = np.zeros(len(pf.blobs) + 1, dtype=np.uint64)
        offs[1:] = np.cumsum([len(b) for b in pf.blobs])
        pf.arrays["blobs"] = np.asarray(fn(offs), dtype=np.uint64)
        return pf.pack(blob_offsets=False)
    return mutate


def _directory(fn):
    """Change the directory's JSON: ``fn(directory, meta)`` edits it in place."""
    return _meta(lambda m: fn(m["directory"], m))


def _column(name, fn):
    """Change a directory array: ``fn(array, pf)`` edits it in place (or returns a new one)."""
    def mutate(pf):
        a = pf.arrays[name].copy()
        out = fn(a, pf)
        pf.arrays[name] = a if out is None else np.asarray(out, dtype=a.dtype)
        return pf.pack()
    return mutate


def _finding(code="E_INVALID_EFFECT", severity="ERROR"):
    return [code, severity, "m", "$.Statement[0].Effect", None, None, "x"]


def _raw(meta_bytes):
    """A file whose meta is ``meta_bytes`` as they are (the region and blobs of the fixture follow)."""
    def mutate(pf):
        _, region, blobs = pf.parts()
        return wrap_parts(meta_bytes, region, blobs)
    return mutate


def _body(body):
    return lambda pf: wrap(body)


def _cases_policy_set():
    c = []

    def case(id_, mutate):
        c.append(pytest.param(mutate, id=id_))

    # Statement ids out of range, in id lists and in CSR ids.
    for name in ("needs", "not_action_all", "not_resource_all", "dynamic"):
        case(f"{name}-id-out-of-range", _array(name, _put(-1, _n)))
    case("needs-id-max-uint32", _array("needs", _append(2**32 - 1)))
    for name in CSR_FIELDS:
        case(f"{name}-csr-id-out-of-range", _array(f"{name}.ids", _put(-1, _n)))
        case(f"{name}-offsets-end-short", _array(f"{name}.offsets", _put(-1, lambda m: 0)))
        case(f"{name}-extra-id", _array(f"{name}.ids", _append(0)))
        case(f"{name}-offsets-start-not-zero", _array(f"{name}.offsets", _put(0, 1)))
        case(f"{name}-extra-row", _array(f"{name}.offsets", lambda a, m: np.append(a, a[-1]).astype(a.dtype)))
        case(f"{name}-missing-row", _array(f"{name}.offsets", lambda a, m: np.delete(a, 1)))
    for name in ("action_pos", "action_neg", "resource_pos", "resource_neg", "tag_constrained"):
        case(f"{name}-offsets-decrease", _array(f"{name}.offsets", _decreasing))
    for field, csr in (("action_patterns", "action_pos"), ("resource_patterns", "resource_pos"),
                       ("tag_eq_values", "tag_eq"), ("tag_like_patterns", "tag_like"),
                       ("tag_keys", "tag_constrained")):
        case(f"{field}-one-short", _drop_string(field))
    case("action-pattern-not-a-string", _meta(lambda m: _setitem(m["strings"]["action_patterns"], 0, 5)))
    case("strings-missing-a-field", _meta(lambda m: m["strings"].pop("tag_keys")))
    case("tag-eq-key-names-no-key", _array("tag_eq_key", _put(0, 7)))
    case("tag-like-key-one-extra", _array("tag_like_key", _append(0)))
    case("no-index-with-tag-index", _meta(lambda m: _setitem(m, "use_index", False)))
    # Per-statement codes.
    case("stmt-type-unknown-code", _array("stmt_type", _put(0, len(TYPE_CODES))))
    case("stmt-type-255", _array("stmt_type", _put(-1, 255)))
    for code in (0, 3, 255):
        case(f"stmt-effect-{code}", _array("stmt_effect", _put(0, code)))
    case("stmt-level-on-identity", _array("stmt_level", _put(0, 0)))
    case("stmt-level-missing-on-scp", _array("stmt_level", _put(-1, -1)))
    case("stmt-level-64", _array("stmt_level", _put(-1, 64)))
    case("stmt-level-minus-2", _array("stmt_level", _put(0, -2)))
    case("stmt-type-one-extra", _array("stmt_type", _append(0)))
    case("stmt-level-one-short", _array("stmt_level", lambda a, m: a[:-1]))
    # The array table.
    case("array-missing", _drop_array("needs"))
    case("blob-offsets-missing", _drop_array("blobs"))
    case("array-repeated", _meta(lambda m: m["arrays"].append(list(_entry(m, "needs")))))
    case("array-unknown-name", _meta(lambda m: m["arrays"].insert(0, ["bogus", 0, 0])))
    case("array-renamed", _meta(lambda m: _setitem(_entry(m, "needs"), 0, "Needs")))
    case("array-misaligned-by-1", _shift("stmt_effect", 1))
    case("array-misaligned-by-4", _shift("needs", 4))
    case("array-negative-offset", _meta(lambda m: _setitem(_entry(m, "needs"), 1, -8)))
    case("array-past-region", _count("blobs", lambda n: n + 1))
    case("array-at-region-end", _meta(lambda m: _setitem(_entry(m, "needs"), 1, m["arrays_bytes"])))
    case("array-huge-count", _count("stmt_type", 2**62))
    case("array-negative-count", _count("needs", -1))
    case("array-float-count", _count("needs", 3.0))
    case("array-bool-offset", _meta(lambda m: _setitem(_entry(m, "stmt_type"), 1, False)))
    case("array-entry-too-short", _meta(lambda m: _entry(m, "needs").pop()))
    case("arrays-bytes-past-body", _meta(lambda m: _setitem(m, "arrays_bytes", 1 << 40)))
    case("arrays-bytes-short", _meta(lambda m: _setitem(m, "arrays_bytes", m["arrays_bytes"] - 8)))
    case("arrays-bytes-negative", _meta(lambda m: _setitem(m, "arrays_bytes", -1)))
    case("arrays-bytes-float", _meta(lambda m: _setitem(m, "arrays_bytes", float(m["arrays_bytes"]))))
    case("arrays-bytes-missing", _meta(lambda m: m.pop("arrays_bytes")))
    case("arrays-not-a-list", _meta(lambda m: _setitem(m, "arrays", None)))
    # The meta.
    for v in (b"[]", b'"kind"', b"null", b"5"):
        case(f"meta-is-{v.decode()}", _raw(v))
    case("meta-not-json", _raw(b'{"kind": '))
    case("meta-not-utf8", _raw(b'{"kind": "\xff"}'))
    case("meta-runs-past-body", _body(_U64.pack(1000) + b"{}"))
    case("meta-length-huge", _body(_U64.pack(2**64 - 1) + b"{}"))
    case("body-shorter-than-meta-length", _body(b"\x01\x02"))
    case("empty-body", _body(b""))
    for kind in ("bogus", None, "Policy_Set", ["policy_set"]):
        case(f"kind-{kind}", _meta(lambda m, k=kind: _setitem(m, "kind", k)))
    case("kind-missing", _meta(lambda m: m.pop("kind")))
    case("kind-applicable-without-layout", _meta(lambda m: _setitem(m, "kind", "applicable")))
    for v in ("24", 24.0, True, None, [24]):
        case(f"n-stmts-{v!r}", _meta(lambda m, v=v: _setitem(m, "n_stmts", v)))
    case("n-stmts-negative", _meta(lambda m: _setitem(m, "n_stmts", -1)))
    case("n-stmts-2-32", _meta(lambda m: _setitem(m, "n_stmts", 2**32)))
    case("n-stmts-one-more", _meta(lambda m: _setitem(m, "n_stmts", m["n_stmts"] + 1)))
    for v in (1, "true", None):
        case(f"use-index-{v!r}", _meta(lambda m, v=v: _setitem(m, "use_index", v)))
    # Slot rows.
    case("slot-first-not-contiguous", _slots(lambda r: _setitem(r[1], 2, r[1][2] + 1)))
    case("slot-first-overlaps", _slots(lambda r: _setitem(r[2], 2, r[2][2] - 1)))
    case("slot-count-negative", _slots(lambda r: _setitem(r[0], 3, -1)))
    case("slot-level-on-identity", _slots(lambda r: _setitem(r[0], 1, 0)))
    case("scp-slot-without-level", _slot_rows_of(lambda r, pf: _setitem(r[slot_of(pf, "scp")], 1, -1)))
    case("scp-slot-level-64", _slot_rows_of(lambda r, pf: _setitem(r[slot_of(pf, "scp")], 1, 64)))
    case("slot-level-minus-2", _slots(lambda r: _setitem(r[0], 1, -2)))
    case("slot-unknown-type", _slots(lambda r: _setitem(r[0], 0, len(TYPE_CODES))))
    case("slot-type-negative", _slots(lambda r: _setitem(r[0], 0, -1)))
    case("slot-blob-out-of-range", _slots(lambda r: _setitem(r[0], 4, 10**6)))
    case("slot-blob-negative", _slots(lambda r: _setitem(r[0], 4, -1)))
    case("slot-count-past-n-stmts", _slots(lambda r: _setitem(r[-1], 3, 2**62)))
    case("slot-counts-wrap-to-n-stmts", _slots(lambda r: [_setitem(r[i], 3, r[i][3] + 2**62) for i in range(4)]))
    case("slots-short-of-n-stmts", _slots(lambda r: r.pop()))
    case("slots-past-n-stmts", _slots(lambda r: _setitem(r[-1], 3, r[-1][3] + 1)))
    case("slots-array-one-short", _array("slots", lambda a, m: a[:-1]))
    case("n-slots-one-more", _meta(lambda m: _setitem(m, "n_slots", m["n_slots"] + 1)))
    case("n-slots-one-less", _meta(lambda m: _setitem(m, "n_slots", m["n_slots"] - 1)))
    for v in ("3", 3.0, None, -1):
        case(f"n-slots-{v!r}", _meta(lambda m, v=v: _setitem(m, "n_slots", v)))
    case("n-slots-missing", _meta(lambda m: m.pop("n_slots")))
    # ERROR findings of blobs.
    case("blob-errors-name-no-blob", _meta(lambda m: _setitem(m["blob_errors"], str(10**6), [_finding()])))
    case("blob-errors-one-past-the-end",
         _meta(lambda m: _setitem(m["blob_errors"], str(_entry(m, "blobs")[2] - 1), [_finding()])))
    case("blob-errors-negative", _meta(lambda m: _setitem(m["blob_errors"], "-1", [_finding()])))
    case("blob-errors-not-a-number", _meta(lambda m: _setitem(m["blob_errors"], "x", [_finding()])))
    case("blob-errors-empty-list", _meta(lambda m: _setitem(m["blob_errors"], "0", [])))
    case("blob-errors-bad-severity", _meta(lambda m: _setitem(m["blob_errors"], "0", [_finding(severity="FATAL")])))
    case("blob-errors-short-finding", _meta(lambda m: _setitem(m["blob_errors"], "0", [["E_X"]])))
    case("slot-with-statements-of-a-refused-policy",
         lambda pf: pf.pack(edit_meta=lambda m: _setitem(m["blob_errors"], str(slot_rows(pf)[0][4]), [_finding()])))
    # The directory.
    case("identity-names-boundary-slot", _column("principal_identity.ids", lambda a, pf: _setitem(
        a, first_identity(pf, ALICE), slot_of(pf, "permissions_boundary"))))
    case("identity-names-scp-slot", _column("principal_identity.ids", lambda a, pf: _setitem(
        a, first_identity(pf, ALICE), slot_of(pf, "scp"))))
    case("boundary-names-identity-slot",
         _column("principal_boundary", lambda a, pf: _setitem(a, principal_row(pf, ALICE), 0)))
    case("session-names-boundary-slot", _column("principal_session", lambda a, pf: _setitem(
        a, principal_row(pf, ROLE), int(pf.arrays["principal_boundary"][principal_row(pf, ROLE)]))))
    case("resource-names-identity-slot", _column("resource_policy", lambda a, pf: _setitem(a, 0, 0)))
    case("scp-level-swapped",
         _directory(lambda d, m: _setitem(d["scps"][0], 1, d["scps"][0][1][::-1])))
    case("scp-default-at-level-1-slot", lambda pf: pf.pack(edit_meta=lambda m: _setitem(
        m["directory"], "scps_default", [[slot_of(pf, "scp", level=1)]])))
    case("scp-names-identity-slot", _directory(lambda d, m: _setitem(d["scps"][0][1], 0, [0])))
    case("directory-slot-out-of-range", _column("principal_identity.ids", lambda a, pf: _setitem(
        a, first_identity(pf, ALICE), pf.meta["n_slots"])))
    case("directory-boundary-minus-2",
         _column("principal_boundary", lambda a, pf: _setitem(a, principal_row(pf, ALICE), -2)))
    case("directory-session-past-slots",
         _column("principal_session", lambda a, pf: _setitem(a, principal_row(pf, ROLE), pf.meta["n_slots"])))
    case("directory-resource-slot-minus-2", _column("resource_policy", lambda a, pf: _setitem(a, 0, -2)))
    case("directory-tag-not-a-string", _directory(lambda d, m: _setitem(d["principal_tags"], 1, 5)))
    case("directory-tags-odd", _directory(lambda d, m: d["principal_tags"].pop()))
    case("directory-tag-offsets-past-tags", _column("principal_tags.offsets", lambda a, pf: _setitem(
        a, -1, a[-1] + 1)))
    case("directory-resource-tag-offsets-short", _column("resource_tags.offsets", lambda a, pf: a[:-1]))
    case("directory-identity-offsets-decrease", _column("principal_identity.offsets", lambda a, pf: _setitem(
        a, 1, a[2] + 1)))
    case("directory-identity-offsets-end-short", _column("principal_identity.offsets", lambda a, pf: _setitem(
        a, -1, a[-1] - 1)))
    case("directory-boundary-one-short", _column("principal_boundary", lambda a, pf: a[:-1]))
    case("directory-boundary-missing", _drop_array("principal_boundary"))
    case("directory-principal-listed-twice",
         _directory(lambda d, m: _setitem(d["principals"], 1, d["principals"][0])))
    case("directory-arn-not-a-string", _directory(lambda d, m: _setitem(d["resources"], 0, None)))
    case("directory-principals-not-a-list", _directory(lambda d, m: _setitem(d, "principals", {})))
    case("directory-role-column-short", _directory(lambda d, m: d["roles"].pop()))
    case("directory-role-not-a-string", _directory(lambda d, m: _setitem(d["roles"], 0, ["aws"])))
    case("directory-missing-roles", _directory(lambda d, m: d.pop("roles")))
    case("directory-missing", _meta(lambda m: m.pop("directory")))
    case("directory-not-an-object", _meta(lambda m: _setitem(m, "directory", [])))
    # Blob offsets.
    case("blob-offsets-start-at-1", _blob_offsets(lambda o: _setitem(o, 0, 1) or o))
    case("blob-offsets-decrease", _blob_offsets(lambda o: _setitem(o, 1, o[2] + 1) or o))
    case("blob-offsets-empty", _blob_offsets(lambda o: o[:0]))
    case("fewer-blobs-than-slots-name",
         lambda pf: _blob_offsets(lambda o: o[[0, -1]])(_without_blob_errors(pf)))
    return c


def _without_blob_errors(pf):
    pf.meta["blob_errors"] = {}
    return pf


def _assert_refused_at_load(data: bytes, mutate) -> None:
    bad = mutate(PlanFile.decode(data))
    assert bad != data
    with pytest.raises(PlanFormatError) as info:
        Engine.from_bytes(bad)
    assert info.value.code == "E_PLAN_FORMAT"


@pytest.mark.parametrize("mutate", _cases_policy_set())
def test_crafted_policy_set_file_is_refused(mutate):
    _assert_refused_at_load(policy_set_data(), mutate)


#: Files whose policy-blob region is wrong: the checksum holds, the blobs are decompressed only when a policy is
#: first needed, so these are refused then (never answered from), not at load.
LAZY_BLOB_REGION_CASES = [
    pytest.param(_meta(lambda m: _setitem(m, "arrays_bytes", m["arrays_bytes"] + 8)), id="arrays-bytes-eats-blobs"),
    pytest.param(_blob_offsets(lambda o: _setitem(o, -1, o[-1] - 1) or o), id="blob-offsets-end-short"),
    pytest.param(lambda pf: pf.pack(tail_extra=b" "), id="trailing-bytes-after-blobs"),
]


@pytest.mark.parametrize("mutate", LAZY_BLOB_REGION_CASES)
def test_crafted_blob_region_is_refused_when_a_policy_is_first_needed(mutate):
    bad = mutate(PlanFile.decode(policy_set_data()))
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(bad)  # by default the policies are compiled again at load, so the damage shows there
    loaded = Engine.from_bytes(bad, verify=False)  # trusted: the index is whole; the blobs are not read yet
    assert loaded._core.plan._policies == {}
    _, req = _target(PlanFile.decode(policy_set_data()), "residual")
    _assert_refused_when_needed(loaded, req)


def _assert_refused_when_needed(loaded, req):
    """The first request that needs the damaged part raises PlanFormatError; from then on the engine is poisoned:
    every way of asking anything (``req`` or a request the damage does not touch) answers ERROR, never an answer
    from the damaged file."""
    p, a, r, c = [req.principal], [req.action], [req.resource], [req.context]
    assert loaded._core.damage is None
    with pytest.raises(PlanFormatError):
        loaded.evaluate(req)
    assert loaded._core.damage
    for _ in range(2):
        for q in (req, UNRELATED):
            got = loaded.evaluate(q)
            assert got.decision is Decision.ERROR and [e.code for e in got.errors] == ["E_PLAN_DAMAGED"]
            assert loaded.is_allowed(q.principal, q.action, q.resource, q.context) is False
        out = np.full(3, Decision.ALLOW, dtype=np.uint8)
        loaded.evaluate_batch([UNRELATED.principal] + p * 2, [UNRELATED.action] + a * 2,
                              [UNRELATED.resource] + r * 2, [None] + c * 2, out=out)
        assert (out == Decision.ERROR).all()
        explained = loaded.explain_batch([UNRELATED.principal] + p, [UNRELATED.action] + a,
                                         [UNRELATED.resource] + r, [None] + c)
        assert [(x.decision, [e.code for e in x.errors]) for x in explained] == [
            (Decision.ERROR, ["E_PLAN_DAMAGED"])] * 2
        with pytest.raises(PlanFormatError, match="damaged"):
            loaded.encode(p, a, r, c)


def _layout(fn):
    return _meta(lambda m: fn(m["layout"], m))


def _cases_applicable():
    c = []

    def case(id_, mutate):
        c.append(pytest.param(mutate, id=id_))

    case("identity-names-resource-slot", _layout(lambda l, m: l[0].append(l[1])))
    case("identity-names-none", _layout(lambda l, m: l[0].append(None)))
    case("identity-not-a-list", _layout(lambda l, m: _setitem(l, 0, None)))
    case("resource-names-identity-slot", _layout(lambda l, m: _setitem(l, 1, l[0][0])))
    case("boundary-names-session-slot", _layout(lambda l, m: _setitem(l, 2, l[3])))
    case("session-names-boundary-slot", _layout(lambda l, m: _setitem(l, 3, l[2])))
    case("session-out-of-range", _layout(lambda l, m: _setitem(l, 3, m["n_slots"])))
    case("scp-levels-swapped", _layout(lambda l, m: _setitem(l, 4, l[4][::-1])))
    case("scp-level-names-boundary", _layout(lambda l, m: _setitem(l[4], 0, [l[2]])))
    case("scp-level-none-entry", _layout(lambda l, m: _setitem(l[4], 0, [None])))
    case("layout-too-short", _layout(lambda l, m: l.pop()))
    case("layout-missing", _meta(lambda m: m.pop("layout")))
    case("layout-an-object", _meta(lambda m: _setitem(m, "layout", {"identity": []})))
    case("kind-policy-set-without-directory", _meta(lambda m: _setitem(m, "kind", "policy_set")))
    return c


@pytest.mark.parametrize("mutate", _cases_applicable())
def test_crafted_applicable_file_is_refused(mutate):
    _assert_refused_at_load(applicable_data(), mutate)


def test_crafted_file_on_disk_is_refused(tmp_path):
    pf = PlanFile.decode(policy_set_data())
    pf.arrays["needs"][0] = pf.meta["n_stmts"]
    path = tmp_path / "plan.bin"
    path.write_bytes(pf.pack())
    with pytest.raises(PlanFormatError):
        Engine.load(path)


@pytest.mark.parametrize("value", [pytest.param(v, id=repr(v)) for v in ([], "x", 5, None)])
def test_blob_errors_that_is_not_an_object_is_refused(value):
    bad = PlanFile.decode(policy_set_data()).pack(edit_meta=lambda m: _setitem(m, "blob_errors", value))
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(bad)


def _stamped(sid_of, code=None, level=None):
    """Statement ``first`` of a slot given another type code or SCP level in the arrays (the slot rows unchanged)."""
    def mutate(pf):
        first = slot_rows(pf)[sid_of(pf)][2]
        if code is not None:
            pf.arrays["stmt_type"][first] = code
        if level is not None:
            pf.arrays["stmt_level"][first] = level
        return pf.pack()
    return mutate


@pytest.mark.parametrize("mutate", [
    pytest.param(_stamped(lambda pf: 0, code=TYPE_CODES["session"]), id="identity-as-session"),
    pytest.param(_stamped(lambda pf: 0, code=TYPE_CODES["resource"]), id="identity-as-resource"),
    pytest.param(_stamped(lambda pf: 0, code=TYPE_CODES["scp"], level=0), id="identity-as-scp"),
    pytest.param(_stamped(lambda pf: slot_of(pf, "scp", level=0), level=1), id="scp-level-0-as-1"),
    pytest.param(_stamped(lambda pf: slot_of(pf, "scp", level=0), code=TYPE_CODES["identity"], level=-1),
                 id="scp-as-identity"),
])
def test_statement_type_or_level_that_disagrees_with_its_slot_is_refused(mutate):
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(mutate(PlanFile.decode(policy_set_data())))


# =================================================================================================================
# 2. A malformed policy blob: refused when first needed, never an Allow
# =================================================================================================================

IP_CONTEXT = {"aws:SourceIp": "10.1.2.3"}
UNRELATED = Request(ALICE, "lex:PostText", f"arn:aws:lex:eu-west-1:{A}:bot:Unseen")


def _target(pf, target):
    """(blob index, a request that needs that blob, allowed by the original engine) for ``target``."""
    rows = slot_rows(pf)
    if target == "residual":  # alice's `lex:Get*` policy: an IpAddress condition, checked per request
        slot = identity_slots(pf, ALICE)[1]
        return rows[slot][4], Request(ALICE, "lex:GetBot", BOT_A, None, IP_CONTEXT)
    if target == "resource_policy":  # read for its Principal when a request's bundle is built
        slot = int(pf.arrays["resource_policy"][pf.meta["directory"]["resources"].index(BOT_A)])
        return rows[slot][4], Request(BOB, "lex:PostText", BOT_A)
    if target == "dynamic_resource":  # a Resource with ${aws:username}, matched per request
        slot = identity_slots(pf, ROLE)[0]
        return rows[slot][4], Request(SESSION, "lex:GetBot", f"arn:aws:lex:us-east-1:{A}:bot:alice_bot",
                                               None, {"aws:username": "alice"})
    raise AssertionError(target)


def _json_blob(fn):
    def change(raw):
        d = json.loads(raw)
        fn(d)
        return json.dumps(d, separators=(",", ":")).encode("utf-8")
    return change


def _first_statement(d):
    return d["doc"]["s"][0]


#: (id, change of the blob bytes, targets it applies to (None: all))
BLOB_CASES = [
    ("not-json", lambda raw: b"{not json", None),
    ("not-utf8", lambda raw: b"\xff\xfe" + raw, None),
    ("truncated", lambda raw: raw[:-1], None),
    ("json-array", lambda raw: b"[]", None),
    ("json-string", lambda raw: b'"policy"', None),
    ("one-statement-more", _json_blob(lambda d: d["doc"]["s"].append(_first_statement(d))), None),
    ("no-statement", _json_blob(lambda d: _setitem(d["doc"], "s", [])), None),
    ("no-document", _json_blob(lambda d: _setitem(d, "doc", None)), None),
    ("error-finding-the-meta-does-not-list", _json_blob(lambda d: d["findings"].append(_finding())), None),
    ("name-missing", _json_blob(lambda d: d.pop("name")), None),
    ("findings-missing", _json_blob(lambda d: d.pop("findings")), None),
    ("finding-bad-severity", _json_blob(lambda d: d["findings"].append(_finding(severity="FATAL"))), None),
    ("statement-missing-effect", _json_blob(lambda d: _first_statement(d).pop("e")), None),
    ("statement-index-not-a-number", _json_blob(lambda d: _setitem(_first_statement(d), "i", "x")), None),
    ("statements-not-a-list", _json_blob(lambda d: _setitem(d["doc"], "s", 5)), None),
    ("condition-clause-short", _json_blob(lambda d: _setitem(_first_statement(d), "c", [["IpAddress"]])),
     ("residual",)),
    ("principal-entries-not-a-list",
     _json_blob(lambda d: _setitem(_first_statement(d), "p", {"w": False, "e": 5})), ("resource_policy",)),
    ("json-null", lambda raw: b"null", None),
    ("condition-key-not-a-string", _json_blob(lambda d: _setitem(_first_statement(d)["c"][0], 4, 5)),
     ("residual",)),
    ("condition-value-not-a-string", _json_blob(lambda d: _setitem(_first_statement(d)["c"][0], 5, [5])),
     ("residual",)),
    ("principal-value-not-a-string",
     _json_blob(lambda d: _setitem(_first_statement(d), "p", {"w": False, "e": [["AWS", [5]]]})),
     ("resource_policy",)),
    ("resource-value-not-a-string", _json_blob(lambda d: _setitem(_first_statement(d), "r", [5])),
     ("dynamic_resource",)),
]
TARGETS = ("residual", "resource_policy", "dynamic_resource")


def _blob_params():
    out = []
    for id_, change, targets in BLOB_CASES:
        for target in targets or TARGETS:
            out.append(pytest.param(change, target, id=f"{target}-{id_}"))
    return out


def _corrupt_blob(change, target):
    pf = PlanFile.decode(policy_set_data())
    blob, req = _target(pf, target)
    pf.blobs[blob] = change(pf.blobs[blob])
    return pf.pack(), req


@pytest.mark.parametrize("change, target", _blob_params())
def test_malformed_policy_blob_is_refused_when_first_needed(engine, change, target):
    bad, req = _corrupt_blob(change, target)
    assert engine.evaluate(req).decision is Decision.ALLOW
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(bad)  # by default every policy is decoded and compiled again at load
    loaded = Engine.from_bytes(bad, verify=False)  # trusted, so lazy: the blob is not read yet
    assert loaded._core.plan._policies == {}
    # A request that does not need the blob is answered as the original answers it.
    assert loaded.evaluate(UNRELATED) == engine.evaluate(UNRELATED)
    _assert_refused_when_needed(loaded, req)


# =================================================================================================================
# 3. Loading is lazy, and a loaded engine is the original
# =================================================================================================================


def _assert_same_answers(original, loaded, reqs):
    for req in reqs:
        assert loaded.evaluate(req) == original.evaluate(req), req.to_dict()
    p, a, r, c, acct = _columns(reqs)
    want = original.evaluate_batch(p, a, r, c, resource_accounts=acct)
    assert np.array_equal(loaded.evaluate_batch(p, a, r, c, resource_accounts=acct), want)
    assert np.array_equal(loaded.evaluate_batch(loaded.encode(p, a, r, c, resource_accounts=acct)), want)
    for req, w in zip(reqs, want):
        if req.resource_account is None:
            assert loaded.is_allowed(req.principal, req.action, req.resource, req.context) == (w == Decision.ALLOW)


def test_loading_decodes_no_policy_until_one_is_needed():
    loaded = Engine.from_bytes(policy_set_data(), verify=False)
    plan = loaded._core.plan
    assert isinstance(plan, serialize.SavedPlan)
    assert plan._policies == {} and plan._infos == {}
    # The index answers a request that needs no residual check, principal match or explanation.
    assert loaded.is_allowed(UNRELATED.principal, UNRELATED.action, UNRELATED.resource)
    assert loaded.evaluate_batch([UNRELATED.principal], [UNRELATED.action], [UNRELATED.resource]).tolist() == [1]
    assert plan._policies == {}
    # An explanation decodes the matched statements' policies (and not, say, another principal's).
    got = loaded.evaluate(UNRELATED)
    assert got.decision is Decision.ALLOW
    pf = PlanFile.decode(policy_set_data())
    blob_by_name = {json.loads(b)["name"]: i for i, b in enumerate(pf.blobs)}
    matched = {blob_by_name[m.policy] for m in got.matched_statements}
    assert matched and set(plan._policies) >= matched
    bob_blob = slot_rows(pf)[identity_slots(pf, BOB)[0]][4]
    assert bob_blob not in plan._policies


def test_loaded_applicable_engine_is_lazy_too():
    loaded = Engine.from_bytes(applicable_data(), verify=False)
    assert loaded._core.plan._policies == {}
    assert loaded.is_allowed(UNRELATED.principal, UNRELATED.action, UNRELATED.resource) == compile_applicable(
        _bundle()).is_allowed(UNRELATED.principal, UNRELATED.action, UNRELATED.resource)
    # The bundle's resource policy is read for its Principal elements; nothing else is decoded.
    pf = PlanFile.decode(applicable_data())
    assert set(loaded._core.plan._policies) == {slot_rows(pf)[pf.meta["layout"][1]][4]}


def test_loaded_policy_set_engine_answers_as_the_original(engine, requests_):
    loaded = Engine.from_bytes(engine.to_bytes())
    # Every decision, every policy type and the unseen principals, actions and resources are in the requests.
    responses = [engine.evaluate(r) for r in requests_]
    assert {x.decision for x in responses} == set(Decision)
    assert {m.policy_type for x in responses for m in x.matched_statements} == {
        "identity", "resource", "permissions_boundary", "session", "scp"}
    session = [x for r, x in zip(requests_, responses) if r.principal == SESSION]
    assert any(x.decision is Decision.ALLOW for x in session)
    # Evaluated in another order than the original's, so the lazy decoding runs in another order too.
    _assert_same_answers(engine, loaded, requests_[::-1])
    _assert_same_answers(engine, Engine.from_bytes(engine.to_bytes()), requests_)


def test_loaded_engine_answers_as_the_reference(engine, requests_):
    """The loaded engine against the reference evaluator (not only against the engine it was saved from)."""
    ps = build_policy_set()
    loaded = Engine.from_bytes(engine.to_bytes())
    for req in requests_[::7]:
        assert loaded.evaluate(req) == reference_evaluate(ps.enrich(req), ps.applicable(req)), req.to_dict()


def test_resource_accounts_and_other_requests_match_after_loading(engine):
    reqs = [Request(p, a, r, acct, c) for p in (ALICE, BOB, SESSION, f"arn:aws:iam::{C}:user/mallory")
            for a in ("lex:PostText", "lex:RecognizeText", "lex:GetBot") for r in (BOT_A, BOT_B)
            for acct in (None, A, B, C) for c in (None, {"aws:PrincipalAccount": A, "aws:SourceIp": "10.0.0.1"})]
    _assert_same_answers(engine, Engine.from_bytes(engine.to_bytes()), reqs)


def test_loaded_applicable_engine_answers_as_the_original(requests_):
    original = compile_applicable(_bundle())
    loaded = Engine.from_bytes(applicable_data())
    _assert_same_answers(original, loaded, requests_[::3])


def _redumped(loaded: Engine) -> bytes:
    """The saved form made again from a loaded engine's own state, slots (decoded from the blobs) and directory
    or layout, rather than the bytes it was loaded from."""
    loaded._saved = None  # the engine's own cache of its saved form: made again on the next to_bytes()
    return loaded.to_bytes()


def test_to_bytes_of_a_loaded_engine_is_the_original(engine, requests_):
    data = engine.to_bytes()
    loaded = Engine.from_bytes(data)
    assert loaded.to_bytes() == data
    assert loaded.revision == engine.revision
    assert Engine.from_bytes(loaded.to_bytes()).to_bytes() == data
    # Made again from what was loaded: every policy, directory entry and array survives the round trip.
    assert _redumped(loaded) == data
    for req in requests_[::5]:  # once policies are decoded, too
        loaded.evaluate(req)
    assert _redumped(loaded) == data
    assert loaded.to_bytes() == data
    for data in (applicable_data(), build_policy_set().compile(use_index=False).to_bytes()):
        assert _redumped(Engine.from_bytes(data)) == data


def test_pickled_loaded_engine_is_the_original(engine, requests_):
    loaded = Engine.from_bytes(engine.to_bytes())
    again = pickle.loads(pickle.dumps(loaded))
    assert again.to_bytes() == engine.to_bytes()
    assert again.revision == engine.revision
    assert again._core.plan._policies == {}
    _assert_same_answers(engine, again, requests_[::4])


def test_save_and_load_through_a_file(engine, tmp_path, requests_):
    for original in (engine, compile_applicable(_bundle())):
        path = tmp_path / f"{original.revision}.lxa"
        original.save(path)
        assert path.read_bytes() == original.to_bytes()
        loaded = Engine.load(path)
        assert loaded.revision == original.revision
        _assert_same_answers(original, loaded, requests_[::9])


def test_compiling_is_deterministic():
    data = policy_set_data()
    ps = build_policy_set()
    assert ps.compile().to_bytes() == ps.compile().to_bytes() == data
    assert PolicySet.from_data(json.loads(json.dumps(ps.to_data()))).compile().to_bytes() == data
    assert compile_applicable(_bundle()).to_bytes() == applicable_data()
    assert ps.compile(use_index=False).to_bytes() == ps.compile(use_index=False).to_bytes()


def test_compiling_gives_the_same_bytes_under_another_hash_seed():
    """Dict and set order must not leak into the file: processes with other string hashes write the same bytes."""
    import lexauthz

    source = json.dumps(build_policy_set().to_data())
    script = ("import hashlib, json, sys\nfrom lexauthz.account import PolicySet\n"
              "ps = PolicySet.from_data(json.load(sys.stdin))\n"
              "print(hashlib.sha256(ps.compile().to_bytes()).hexdigest())\n")
    env = dict(os.environ, PYTHONPATH=str(Path(lexauthz.__file__).resolve().parent.parent))
    digests = set()
    for seed in ("1", "2"):
        env["PYTHONHASHSEED"] = seed
        out = subprocess.run([sys.executable, "-c", script], input=source, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    assert digests == {hashlib.sha256(policy_set_data()).hexdigest()}


def test_engine_without_the_index_round_trips(engine, requests_):
    twin = build_policy_set().compile(use_index=False)
    data = twin.to_bytes()
    assert data != engine.to_bytes()
    meta = PlanFile.decode(data).meta
    assert meta["use_index"] is False and meta["strings"]["tag_keys"] == []
    loaded = Engine.from_bytes(data, verify=False)
    assert loaded.use_index is False
    assert loaded._core.plan._policies == {}
    assert loaded.to_bytes() == data and loaded.revision == twin.revision
    _assert_same_answers(twin, loaded, requests_[::2])
    sample = requests_[::11]
    assert [loaded.evaluate(r) for r in sample] == [engine.evaluate(r) for r in sample]


def test_threads_decoding_one_loaded_engine_agree(engine, requests_):
    """Many threads' first use of a loaded engine decodes policies at once: every thread gets the original's
    answers."""
    loaded = Engine.from_bytes(engine.to_bytes())
    reqs = requests_[::3]
    want = [engine.evaluate(r) for r in reqs]
    results, errors = {}, []

    def work(k):
        try:
            order = list(range(len(reqs)))
            random.Random(k).shuffle(order)
            results[k] = {i: loaded.evaluate(reqs[i]) for i in order}
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(work, 6)
    assert not errors
    for got in results.values():
        assert [got[i] for i in range(len(reqs))] == want


# =================================================================================================================
# 4. Properties: random policy sets, and random damage to a file
# =================================================================================================================


REQUESTS_PER_SET = 40


@_SLOW
@given(policy_sets(), st.booleans(), st.integers(0, 2**32 - 1))
def test_loaded_random_policy_set_engine_equals_original(ps, use_index, seed):
    original = ps.compile(use_index=use_index)
    data = original.to_bytes()
    assert Engine.from_bytes(data).to_bytes() == data  # the default load compiles the policies again: it agrees
    loaded = Engine.from_bytes(data, verify=False)
    assert loaded._core.plan._policies == {}
    rng = random.Random(seed)
    reqs = [random_request(rng) for _ in range(REQUESTS_PER_SET)]
    for req in reqs:
        assert loaded.evaluate(req) == original.evaluate(req), req.to_dict()
    p, a, r, c, acct = _columns(reqs)
    fresh = Engine.from_bytes(data, verify=False)  # the batch path first, on an engine that has decoded nothing
    assert np.array_equal(fresh.evaluate_batch(p, a, r, c, resource_accounts=acct),
                          original.evaluate_batch(p, a, r, c, resource_accounts=acct))
    assert loaded.to_bytes() == data and loaded.revision == original.revision
    assert _redumped(loaded) == data
    assert ps.compile(use_index=use_index).to_bytes() == data


@functools.cache
def _damage_requests():
    rng = random.Random(7)
    return [random_request(rng) for _ in range(12)] + all_requests()[::97]


@_SLOW
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=3),
       st.booleans())
def test_damaged_body_is_refused_or_answers_without_crashing(edits, in_meta):
    """Random bytes of the (checksummed) body changed: loading raises PlanFormatError or gives an engine, and that
    engine answers each request or raises PlanFormatError -- nothing else."""
    data = policy_set_data()
    head = head_length(data)
    payload = data[_HEADER.size:]
    body = bytearray(payload[:head] + zlib.decompress(payload[head:]))
    (meta_len,) = _U64.unpack_from(body)
    span = (8 + meta_len) if in_meta else len(body)
    for where, value in edits:
        body[int(where * span)] = value
    try:
        loaded = Engine.from_bytes(wrap(bytes(body[:head]), bytes(body[head:])))
    except PlanFormatError:
        return
    for req in _damage_requests():
        try:
            assert isinstance(loaded.evaluate(req), Response)
        except PlanFormatError:
            pass
    p, a, r, c, _ = _columns(_damage_requests())
    out = np.zeros(len(p), dtype=np.uint8)
    try:
        loaded.evaluate_batch(p, a, r, c, out=out)
    except PlanFormatError:
        assert (out == Decision.ERROR).all()


# =================================================================================================================
# 5. Other versions and foreign headers
# =================================================================================================================


def _with_header(data: bytes, *, version=None, magic=None) -> bytes:
    return wrap_payload(data[_HEADER.size:], version=serialize.FORMAT_VERSION if version is None else version,
                        magic=serialize.MAGIC if magic is None else magic)


# The one place these tests read a message: a refused version must be named to the user (the version, in
# backticks), so that an old file's owner knows what to do.


@pytest.mark.parametrize("version", [1, 0, 2, 4, 2**32 - 1])
def test_other_format_versions_are_refused_naming_the_version(version):
    bad = _with_header(policy_set_data(), version=version)
    with pytest.raises(PlanFormatError) as info:
        Engine.from_bytes(bad)
    assert info.value.code == "E_PLAN_FORMAT"
    assert f"`{version}`" in str(info.value)


def test_a_version_1_file_is_refused():
    """A version 1 file: magic ``LXAPLAN\\0``, version field 1, a correct length and checksum, any payload."""
    payload = zlib.compress(pickle.dumps({"kind": "policy_set"}))
    v1 = _HEADER.pack(b"LXAPLAN\0", 1, len(payload), hashlib.sha256(payload).digest()) + payload
    with pytest.raises(PlanFormatError) as info:
        Engine.from_bytes(v1)
    assert info.value.code == "E_PLAN_FORMAT"
    assert "`1`" in str(info.value)


def test_a_pickle_of_another_version_is_refused():
    from lexauthz.engine import _rebuild

    with pytest.raises(PlanFormatError) as info:
        _rebuild(policy_set_data(), 1)
    assert "`1`" in str(info.value)
    assert _rebuild(policy_set_data(), serialize.FORMAT_VERSION).to_bytes() == policy_set_data()


@pytest.mark.parametrize("bad", [
    pytest.param(lambda d: _with_header(d, magic=b"LXAPLAN\1"), id="magic"),
    pytest.param(lambda d: d[:_HEADER.size + 10], id="payload-cut-short"),
    pytest.param(lambda d: d[:_HEADER.size - 1], id="header-cut-short"),
    pytest.param(lambda d: _HEADER.pack(serialize.MAGIC, 2, 8, hashlib.sha256(b"not zlib").digest()) + b"not zlib",
                 id="payload-not-zlib"),
    pytest.param(lambda d: d[:-1] + bytes([d[-1] ^ 1]), id="checksum"),
    pytest.param(lambda d: d[:12] + struct.pack("<Q", 1 << 40) + d[20:], id="length-field-huge"),
    pytest.param(lambda d: d + b"\0", id="trailing-byte"),
    pytest.param(lambda d: "text", id="not-bytes"),
])
def test_foreign_and_damaged_headers_are_refused(bad):
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(bad(policy_set_data()))


def test_bytes_like_input_is_accepted():
    data = policy_set_data()
    for form in (bytearray(data), memoryview(data)):
        assert Engine.from_bytes(form).to_bytes() == data


@pytest.mark.parametrize("array", ["stmt_effect", "needs"])
def test_statement_flags_that_disagree_with_the_policy_text_are_refused_when_decoded(engine, array):
    """An effect or residual flag edited in the arrays is caught when its slot's statements are first decoded."""
    pf = PlanFile.decode(policy_set_data())
    blob, req = _target(pf, "residual")
    first = next(row[2] for row in slot_rows(pf) if row[4] == blob)
    if array == "stmt_effect":
        pf.arrays["stmt_effect"][first] = 3 - pf.arrays["stmt_effect"][first]  # Allow <-> Deny
    else:
        assert first in pf.arrays["needs"].tolist()
        pf.arrays["needs"] = pf.arrays["needs"][pf.arrays["needs"] != first]
    with pytest.raises(PlanFormatError, match="disagrees with the policy text"):
        Engine.from_bytes(pf.pack())  # the default load compiles the text again and compares
    loaded = Engine.from_bytes(pf.pack(), verify=False)
    _assert_refused_when_needed(loaded, req)


# =================================================================================================================
# 7. An engine never answers from a compiled form its policy text does not give; sealed files
# =================================================================================================================

DENIER = "arn:aws:iam::123456789012:user/denied"
BOT_ARN = "arn:aws:lex:us-east-1:123456789012:bot:OrderFlowers"


def _deny_data() -> bytes:
    ps = PolicySet()
    ps.add_principal(DENIER, [json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Allow", "Action": "lex:*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lex:DeleteBot", "Resource": BOT_ARN},
    ]})])
    return ps.compile().to_bytes()


def _flipped_deny() -> bytes:
    """The issue's file: the Deny statement's effect byte turned into Allow, and the file checksummed again."""
    pf = PlanFile.decode(_deny_data())
    effects = pf.arrays["stmt_effect"]
    deny = int(np.flatnonzero(effects == 2)[0])
    effects[deny] = 1
    return pf.pack()


def test_a_deny_turned_into_an_allow_is_refused_at_load():
    assert Engine.from_bytes(_deny_data()).is_allowed(DENIER, "lex:DeleteBot", BOT_ARN) is False
    with pytest.raises(PlanFormatError, match="stmt_effect"):
        Engine.from_bytes(_flipped_deny())


def test_an_edited_resource_pattern_is_refused_at_load():
    """An edit the structural checks cannot see (a Deny's Resource pointed elsewhere, arrays still consistent)."""
    pf = PlanFile.decode(_deny_data())
    strings = pf.meta["strings"]["resource_patterns"]
    i = strings.index(BOT_ARN)
    strings[i] = BOT_ARN + "-elsewhere"
    bad = pf.pack()
    loaded = Engine.from_bytes(bad, verify=False)  # trusted, it would answer from the edited index
    assert loaded.is_allowed(DENIER, "lex:DeleteBot", BOT_ARN) is True
    with pytest.raises(PlanFormatError, match="resource_patterns"):
        Engine.from_bytes(bad)


def test_garbage_in_the_policy_text_is_refused_at_load():
    pf = PlanFile.decode(_deny_data())
    pf.blobs[0] = b"{" + b"\x01" * (len(pf.blobs[0]) - 1)
    with pytest.raises(PlanFormatError):
        Engine.from_bytes(pf.pack())


def test_a_damaged_part_found_later_poisons_a_trusted_engine():
    pf = PlanFile.decode(_deny_data())
    pf.blobs[0] = b"[]"
    loaded = Engine.from_bytes(pf.pack(), verify=False)
    assert loaded.is_allowed(DENIER, "lex:GetBot", BOT_ARN) is True  # the index alone: nothing is decoded yet
    with pytest.raises(PlanFormatError):
        loaded.evaluate(Request(DENIER, "lex:GetBot", BOT_ARN))  # the explanation decodes the damaged policy
    assert loaded.is_allowed(DENIER, "lex:GetBot", BOT_ARN) is False
    assert loaded.evaluate(Request(DENIER, "lex:GetBot", BOT_ARN)).decision is Decision.ERROR
    assert loaded.evaluate_batch([DENIER], ["lex:GetBot"], [BOT_ARN]).tolist() == [Decision.ERROR]


KEY = bytes(range(32))


def test_a_sealed_file_loads_under_its_key_without_recompiling(tmp_path):
    engine = Engine.from_bytes(_deny_data())
    sealed = engine.to_bytes(key=KEY)
    assert sealed.startswith(_deny_data()) and len(sealed) == len(_deny_data()) + 40
    loaded = Engine.from_bytes(sealed, key=KEY)
    assert loaded._core.plan._policies == {}  # authenticated: no policy was decoded to check it
    assert loaded.is_allowed(DENIER, "lex:DeleteBot", BOT_ARN) is False
    assert loaded.to_bytes() == _deny_data()
    path = tmp_path / "engine.lxa"
    engine.save(path, key=KEY)
    assert Engine.load(path, key=KEY).revision == engine.revision
    # without the key, a sealed file is loaded like any other: checked against its text
    assert Engine.from_bytes(sealed).revision == engine.revision
    assert Engine.from_bytes(sealed, key=KEY, verify=True)._core.plan._policies != {}


def test_a_seal_refuses_tampering_other_keys_and_unsealed_files():
    flipped = _flipped_deny()
    # the attacker re-seals with a key of their own: refused
    with pytest.raises(PlanFormatError, match="seal does not match"):
        Engine.from_bytes(serialize.seal(flipped, b"k" * 32), key=KEY)
    # a sealed file changed after sealing: refused before anything is parsed
    sealed = bytearray(Engine.from_bytes(_deny_data()).to_bytes(key=KEY))
    sealed[100] ^= 1
    with pytest.raises(PlanFormatError, match="seal does not match"):
        Engine.from_bytes(bytes(sealed), key=KEY)
    with pytest.raises(PlanFormatError, match="not sealed"):
        Engine.from_bytes(_deny_data(), key=KEY)
    with pytest.raises(PlanFormatError, match="at least 16 bytes"):
        Engine.from_bytes(_deny_data(), key=b"short")
    with pytest.raises(PlanFormatError, match="verify"):
        Engine.from_bytes(_deny_data(), verify="yes")


def test_the_seal_stands_in_for_the_checksum_only_under_its_key():
    """A sealed load does not compute the SHA-256 again (the HMAC covers the same bytes and more): a file whose
    header checksum is wrong but which its key holder sealed loads under the key, and is refused without it."""
    data = bytearray(_deny_data())
    data[20] ^= 1  # the header's SHA-256 of the payload
    sealed = serialize.seal(bytes(data), KEY)
    with pytest.raises(PlanFormatError, match="checksum"):
        Engine.from_bytes(sealed)
    with pytest.raises(PlanFormatError, match="checksum"):
        Engine.from_bytes(bytes(data))
    loaded = Engine.from_bytes(sealed, key=KEY)
    assert loaded.is_allowed(DENIER, "lex:DeleteBot", BOT_ARN) is False
    assert loaded.to_bytes() == bytes(data)


@pytest.mark.parametrize("how", ["compiled", "loaded", "trusted", "applicable"])
def test_a_dropped_engine_is_freed_without_the_cyclic_collector(how, requests_):
    """An engine in no reference cycle is freed when its last holder lets go: a service swapping engines gets the
    old one's memory back at once, not at the next full collection.  (Before, a loaded plan and its views held
    each other and the core.)"""
    import gc

    data = {"compiled": None, "loaded": policy_set_data(), "trusted": policy_set_data(),
            "applicable": applicable_data()}[how]
    p, a, r, c, acct = _columns(requests_)
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        engine = (build_policy_set().compile() if data is None
                  else Engine.from_bytes(data, verify=False if how == "trusted" else None))
        engine.evaluate_batch(p, a, r, c, resource_accounts=acct)
        engine.explain_batch(p[:40], a[:40], r[:40], c[:40])
        for req in requests_[:40]:
            engine.evaluate(req)
            if req.resource_account is None:
                engine.is_allowed(req.principal, req.action, req.resource, req.context)
        _ = engine.context_keys, engine.revision
        del engine
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()


def test_a_view_of_a_dropped_plan_says_so():
    loaded = Engine.from_bytes(policy_set_data(), verify=False)
    slots = loaded._core.plan.slots
    assert slots[0].policy.name
    del loaded
    with pytest.raises(ReferenceError):
        slots[1]
