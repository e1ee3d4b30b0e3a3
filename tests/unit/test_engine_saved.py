"""The saved-engine file format (version 2): crafted corruption is refused, policies load lazily, a loaded engine
answers exactly as the original.

Corruption tests decode a real file (header -> zlib body -> meta JSON, array region, policy blobs) with
:class:`PlanFile`, change one thing, and pack it again with a correct header and SHA-256: the checksum passes, so
only the checks of :mod:`lexauthz.compile.serialize` (and :meth:`IndexState.check`) stand between the bytes and
an engine.
"""
from __future__ import annotations

import copy
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
from lexauthz.compile.state import ARRAY_FIELDS, CSR_FIELDS
from lexauthz.decision import Decision, Response
from lexauthz.engine import Engine, PolicySet, compile_applicable
from lexauthz.errors import PlanFormatError, RequestError
from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
from lexauthz.reference import evaluate as reference_evaluate
from lexauthz.request import Request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "property"))

from strategies import ACCOUNTS, KEYS, PRINCIPALS, RESOURCES, documents, random_request  # noqa: E402

_SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])

# =================================================================================================================
# The file, decoded and packed again
# =================================================================================================================

_HEADER = struct.Struct("<8sIQ32s")
_U64 = struct.Struct("<Q")


def _dtypes() -> dict:
    out = dict(ARRAY_FIELDS)
    for name in CSR_FIELDS:
        out[f"{name}.offsets"] = np.uint64
        out[f"{name}.ids"] = np.uint32
    out["blobs"] = np.uint64
    return out


DTYPES = _dtypes()


def _pad(meta_len: int) -> bytes:
    return bytes((-(8 + meta_len)) % 8)


def wrap(body: bytes, *, version: int = serialize.FORMAT_VERSION, magic: bytes = serialize.MAGIC) -> bytes:
    """File bytes around a (decompressed) ``body``: header with the payload length and a correct SHA-256."""
    payload = zlib.compress(body, 1)
    return _HEADER.pack(magic, version, len(payload), hashlib.sha256(payload).digest()) + payload


def wrap_parts(meta, region: bytes, tail: bytes) -> bytes:
    """File bytes from a meta (dict, or raw bytes used as they are), an array region and the bytes after it."""
    meta_bytes = meta if isinstance(meta, bytes) else json.dumps(meta, separators=(",", ":")).encode("utf-8")
    return wrap(b"".join([_U64.pack(len(meta_bytes)), meta_bytes, _pad(len(meta_bytes)), region, tail]))


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
        body = zlib.decompress(payload)
        (meta_len,) = _U64.unpack_from(body)
        meta = json.loads(body[8:8 + meta_len])
        start = 8 + meta_len + len(_pad(meta_len))
        region = body[start:start + meta["arrays_bytes"]]
        arrays = {}
        for name, off, n in meta["arrays"]:
            le = np.dtype(DTYPES[name]).newbyteorder("<")
            arrays[name] = np.frombuffer(region, dtype=le, count=n, offset=off).astype(DTYPES[name])
        tail = body[start + meta["arrays_bytes"]:]
        offs = [int(x) for x in arrays["blobs"]]
        assert offs[0] == 0 and offs[-1] == len(tail)
        blobs = [tail[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
        return cls(meta, arrays, blobs)

    def copy(self) -> "PlanFile":
        return PlanFile(copy.deepcopy(self.meta), {k: v.copy() for k, v in self.arrays.items()}, list(self.blobs))

    def blob_data(self, b: int):
        return json.loads(self.blobs[b])

    def set_blob_data(self, b: int, data) -> None:
        self.blobs[b] = json.dumps(data, separators=(",", ":")).encode("utf-8")

    def pack(self, *, edit_meta=None, blob_offsets=True, tail_extra: bytes = b"") -> bytes:
        """The file again: array layout, ``arrays_bytes`` and (with ``blob_offsets``) the ``blobs`` offsets are
        recomputed from ``arrays`` and ``blobs``; ``edit_meta(meta)`` then changes the meta before it is written."""
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
        return wrap_parts(meta, b"".join(chunks), b"".join(self.blobs) + tail_extra)


def slot_of(meta: dict, ptype: str, *, level=None, nonempty=True) -> int:
    """The first slot of ``ptype`` (and SCP ``level``) in the file, with statements when ``nonempty``."""
    for sid, (code, lv, first, count, blob) in enumerate(meta["slots"]):
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
        permission_boundary=_policy(_stmt("Allow", "lex:*", "*"), _stmt("Deny", "lex:PostContent", "*")))
    ps.add_principal(ROLE, policies=[
        _policy(_stmt("Allow", "lex:*", "arn:aws:lex:*:*:bot:${aws:username}*")),
    ], permission_boundary=_policy(_stmt("Allow", "lex:*", "*")),
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


@pytest.fixture(scope="module")
def engine():
    return build_policy_set().compile()


@pytest.fixture(scope="module")
def data(engine):
    return engine.to_bytes()


@pytest.fixture(scope="module")
def plan_file(data):
    return PlanFile.decode(data)


@pytest.fixture(scope="module")
def applicable_engine():
    return compile_applicable(_bundle())
