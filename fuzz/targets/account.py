"""Target ``account``: account files through ``lexauthz.account.load_account``, then both engines.

Input: the bytes of one account file: ``aws iam get-account-authorization-details`` output (GAAD) or the project's
own account file with its policies inline.  The mutator edits the JSON tree, including the URL-encoded policy
documents inside GAAD, or the bytes.  Oracle: ``load_account`` loads or raises a coded error; ``Account.findings``
never raises; for the principals and resources the account holds (and unseen ones), ``Account.evaluate`` with the
compiled engine decides as with the reference.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
import urllib.parse
from pathlib import Path

import lexauthz
from lexauthz.account import load_account
from lexauthz.request import Request

from ..mutate import dumps, json_nodes, loads_or_none, mutate_bytes, mutate_json
from ..oracle import Finding, FindingError, check_decisions, guarded
from ..pools import ROOT, strategies
from . import Target

__all__ = ["TARGET"]

_TMP = None


def _tmpdir() -> str:
    global _TMP
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="lexauthz-fuzz-account-")
    return _TMP


def _native_inline() -> bytes:
    """The bundled example account with its policy files inlined, so that one file holds the whole account."""
    folder = Path(lexauthz.__file__).parent / "examples"
    data = json.loads((folder / "account.json").read_text())
    data["policies"] = {name: json.loads((folder / path).read_text()) for name, path in data["policies"].items()}
    return json.dumps(data, indent=1).encode()


def _gaad_files() -> list[tuple[str, bytes]]:
    folder = ROOT / "tests" / "fixtures" / "gaad"
    return [(p.stem, p.read_bytes()) for p in sorted(folder.glob("*.json"))]


def _mutate_gaad_document(tree, rng: random.Random):
    """Edit one URL-encoded ``PolicyDocument`` of a GAAD file as a policy (JSON tree), encoded again."""
    docs = [p for p, n in json_nodes(tree) if p and p[-1] == "Document" or (p and p[-1] == "PolicyDocument")]
    docs = [p for p in docs if isinstance(_get(tree, p), str)]
    if not docs:
        return None
    path = rng.choice(docs)
    text = urllib.parse.unquote(_get(tree, path))
    policy = loads_or_none(text.encode("utf-8", "surrogatepass"))
    if policy is None:
        new = mutate_bytes(text.encode("utf-8", "surrogatepass"), rng).decode("utf-8", "surrogateescape")
    else:
        new = json.dumps(mutate_json(policy, rng))
    _put(tree, path, urllib.parse.quote(new, safe="") if rng.random() < 0.9 else new)
    return tree


def _get(root, path):
    for p in path:
        root = root[p]
    return root


def _put(root, path, value):
    for p in path[:-1]:
        root = root[p]
    root[path[-1]] = value


class AccountTarget(Target):
    name = "account"
    ext = ".json"

    def seeds(self):
        return _gaad_files() + [("native-example", _native_inline())]

    def generate(self, rng):
        return self.mutate(rng.choice(self.seeds())[1], rng)

    def mutate(self, data, rng, others=()):
        tree = loads_or_none(data)
        r = rng.random()
        if tree is not None and r < 0.35:
            out = _mutate_gaad_document(tree, rng)
            if out is not None:
                return dumps(out)
        if tree is not None and r < 0.85:
            return dumps(mutate_json(tree, rng))
        return mutate_bytes(data, rng, max_len=1 << 17)

    def run(self, data):
        path = os.path.join(_tmpdir(), "account.json")
        with open(path, "wb") as f:
            f.write(data)
        loaded = guarded("load_account", load_account, path)
        if not loaded.ok:
            return ("refused", loaded.code)
        account = loaded.value
        guarded("Account.findings", account.findings)
        ps = account.policy_set
        rng = random.Random(self.digest(data))
        pools = strategies()
        principals = sorted(ps.principals)[:8] + [rng.choice(pools.PRINCIPALS)]
        principals += [f"arn:aws:sts::{p.split(':')[4]}:assumed-role/{p.rsplit('/', 1)[-1]}/s"
                       for p in principals if ":role/" in p and p.count(":") >= 5][:2]
        resources = sorted(ps.resources)[:8] + ["*", rng.choice(pools.RESOURCES)]
        seen = set()
        for i in range(24):
            p, a, r = rng.choice(principals), rng.choice(pools.ACTIONS), rng.choice(resources)
            where = f"account: requests[{i}]"
            built = guarded(f"{where}: Request", Request, p, a, r)
            if not built.ok:
                continue
            req = built.value
            want = guarded(f"{where}: Account.evaluate(reference)", account.evaluate, req, engine="reference")
            got = guarded(f"{where}: Account.evaluate(compiled)", account.evaluate, req, engine="compiled")
            if want.ok != got.ok:
                raise FindingError(Finding("F_INCONSISTENT", where, "one engine refused what the other decided",
                                           {"reference": want.code, "compiled": got.code}))
            if not want.ok:
                continue
            check_decisions(where, got.value.decision, want.value.decision, {"principal": p, "action": a,
                                                                             "resource": r})
            seen.add(want.value.decision.name)
        return ("loaded", tuple(sorted(seen)))


TARGET = AccountTarget()
