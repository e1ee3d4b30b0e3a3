"""Target ``policy``: policy text through the parser, the validator and both engines.

Input: the bytes of one policy document (any bytes: malformed JSON, other encodings, huge numbers, odd unicode).
Oracle: ``parse_policy``, ``load_policy`` and ``validate_policy`` (every policy type, bytes and text) raise nothing but
coded errors, and locating findings never raises; a policy that loads survives ``dump_policy`` and loads again; the
policy, used as an identity policy, a resource policy, a permissions boundary and an SCP, is decided by the compiled
engine as by the reference on requests built from its own strings (a policy with ERROR findings answers ERROR).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import lexauthz
from lexauthz.policy import POLICY_TYPES, dump_policy, load_policy, parse_policy, validate_policy

from .. import cases
from ..draw import Drawer
from ..mutate import json_nodes, loads_or_none, mutate_bytes, mutate_json
from ..oracle import Finding, FindingError, guarded
from ..pools import pool_string, strategies
from . import Target

__all__ = ["TARGET"]

ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"
EVE = "arn:aws:iam::444455556666:user/eve"
BOT = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _example_policies() -> list[tuple[str, bytes]]:
    folder = Path(lexauthz.__file__).parent / "examples" / "policies"
    return [(p.stem, p.read_bytes()) for p in sorted(folder.glob("*.json"))]


_DRAWER = None


def _drawer():
    global _DRAWER
    if _DRAWER is None:
        s = strategies()
        from hypothesis import strategies as st

        _DRAWER = Drawer(st.tuples(s.documents(with_principal=True), st.booleans()))
    return _DRAWER


def _requests(text: str, rng: random.Random) -> list:
    """Requests aimed at the policy: its own action and resource strings (wildcards filled in), and pool values."""
    tree = loads_or_none(text.encode("utf-8", "surrogatepass"))
    strings = [n for _, n in json_nodes(tree) if isinstance(n, str)] if tree is not None else []
    actions = [s.replace("*", "X").replace("?", "Y") for s in strings if s.count(":") == 1 and not s.startswith(":")
               and not s.endswith(":")]
    resources = [s.replace("*", "Z").replace("?", "W") for s in strings if s.startswith("arn:") and s.count(":") >= 5]
    pools = strategies()
    out = []
    for _ in range(16):
        action = rng.choice(actions) if actions and rng.random() < 0.6 else rng.choice(pools.ACTIONS)
        resource = rng.choice(resources) if resources and rng.random() < 0.6 else rng.choice(pools.RESOURCES + (BOT,))
        ctx = {}
        for _ in range(rng.randint(0, 3)):
            key = rng.choice(sorted(pools.KEYS))
            ctx[key] = rng.choice(pools.KEYS[key]) if rng.random() < 0.8 else (rng.choice(strings) if strings
                                                                               else pool_string(rng))
        out.append({"principal": rng.choice((ALICE, BOB, EVE)), "action": action, "resource": resource,
                    "resource_account": None, "context": ctx})
    return out


class PolicyTarget(Target):
    name = "policy"
    ext = ".json"

    def seeds(self):
        out = _example_policies()
        rng = random.Random(7)
        while len(out) < 24:
            drawn = _drawer()(rng.randbytes(1024))
            if drawn is not None:
                out.append((f"drawn-{len(out)}", json.dumps(dump_policy(drawn[0]), indent=1).encode()))
        return out

    def generate(self, rng):
        drawn = _drawer()(rng.randbytes(rng.choice((256, 1024, 2048))))
        if drawn is None:
            return rng.choice(self.seeds())[1]
        return json.dumps(dump_policy(drawn[0])).encode()

    def mutate(self, data, rng, others=()):
        tree = loads_or_none(data)
        if tree is not None and rng.random() < 0.6:
            return json.dumps(mutate_json(tree, rng), ensure_ascii=rng.random() < 0.5).encode("utf-8",
                                                                                              "surrogatepass")
        return mutate_bytes(data, rng, max_len=1 << 15)

    def run(self, data):
        text = data.decode("utf-8", "surrogateescape")
        parsed = guarded("parse_policy(bytes)", parse_policy, data).value
        guarded("ParseResult.locate(bytes)", parsed.locate, parsed.findings)
        parsed_text = guarded("parse_policy(str)", parse_policy, text).value
        guarded("ParseResult.locate(str)", parsed_text.locate, parsed_text.findings)
        loaded = guarded("load_policy(bytes)", load_policy, data)
        if loaded.ok != parsed.ok:
            raise FindingError(Finding("F_INCONSISTENT", "load_policy", "load_policy and parse_policy disagree on "
                                       "whether the policy has errors"))
        for ptype in POLICY_TYPES:
            guarded(f"validate_policy(bytes, {ptype})", validate_policy, data, policy_type=ptype)
        guarded("validate_policy(str)", validate_policy, text)
        if loaded.ok:
            again = guarded("load_policy(dump_policy(doc))", lambda: load_policy(json.dumps(dump_policy(loaded.value))))
            if not again.ok:
                raise FindingError(Finding("F_INCONSISTENT", "dump_policy", f"a loaded policy does not load again "
                                           f"after dump_policy: {again.error}"))
        rng = random.Random(self.digest(data))
        case = {
            "principals": [
                {"arn": ALICE, "policies": [text], "tags": {"team": "ml"}, "groups": []},
                {"arn": BOB, "policies": [ALLOW_ALL], "tags": {}, "groups": [], "permissions_boundary": text}],
            "groups": {}, "resources": [{"arn": BOT, "tags": {"team": "ml"}, "policy": text}],
            "accounts": {"111122223333": ["ou-1"]}, "scps": {"ou-1": [text], "root": [ALLOW_ALL]},
            "requests": _requests(text, rng), "strs": "str"}
        summary = cases.run_case(case, "policy", roundtrip=rng.random() < 0.1, batch=rng.random() < 0.3)
        return (parsed.ok, tuple(sorted({f.code for f in parsed.findings})),
                tuple(sorted(set(summary.get("decisions", ())))))


TARGET = PolicyTarget()
