"""Target ``policy_set``: whole policy sets compiled, against the reference, on many requests.

Input: a case (``fuzz/cases.py``) as JSON, or any other bytes, read as a hypothesis choice buffer and drawn through
the differential strategies (``policy_sets()`` and a request seed).  Mutation works on the case: policies (as JSON
trees, or as text with bytes flipped), requests, crossover between cases, hostile patterns in Action, Resource and
Condition values.
"""
from __future__ import annotations

import copy
import functools
import json
import random
from pathlib import Path

from .. import cases
from ..draw import Drawer
from ..mutate import crossover_json, dumps, json_nodes, loads_or_none, mutate_bytes, mutate_json
from ..pools import hostile_string, random_requests, strategies
from . import Target

__all__ = ["TARGET", "base_cases", "policy_paths", "read_case"]

#: Requests a generated case carries.
REQUESTS = 40

_POLICY_KEYS = ("policy", "permissions_boundary", "session_policy", "trust_policy")

MARIA = "arn:aws:iam::111122223333:user/maria"
BOT = "arn:aws:lex:us-east-1:111122223333:bot:OrderFlowers:Prod"


def _readme_case() -> dict:
    """The README's engine example as a case: an Allow on a tag condition, a Deny, a cross-account caller."""
    allow = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "lex:PostText", "Resource": "arn:aws:lex:*:111122223333:bot:*",
        "Condition": {"StringEquals": {"aws:ResourceTag/Department": "Support"}}}]}
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "lex:Delete*", "Resource": "*"},
                                                   {"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}
    rp = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "lex:PostText",
        "Resource": BOT}]}
    reqs = [{"principal": p, "action": a, "resource": r, "resource_account": None, "context": c}
            for p in (MARIA, "arn:aws:iam::111122223333:role/Ops", "arn:aws:iam::444455556666:user/eve",
                      "arn:aws:sts::111122223333:assumed-role/Ops/s1")
            for a in ("lex:PostText", "lex:DeleteBot", "lex:GetBot")
            for r, c in ((BOT, {}), ("arn:aws:lex:us-east-1:111122223333:bot:Other", {"aws:SourceIp": "10.0.0.1"}))]
    return {"principals": [{"arn": MARIA, "policies": [allow], "tags": {"team": "flowers"}, "groups": []},
                           {"arn": "arn:aws:iam::111122223333:role/Ops", "policies": [deny], "tags": {},
                            "groups": [], "trust_policy": None}],
            "groups": {}, "resources": [{"arn": BOT, "tags": {"Department": "Support"}, "policy": rp}],
            "accounts": {"111122223333": ["ou-a"]},
            "scps": {"root": [{"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]},
            "requests": reqs, "strs": "str"}


@functools.cache
def _drawer():
    from hypothesis import strategies as st

    return Drawer(st.tuples(strategies().policy_sets(), st.integers(0, 2 ** 32 - 1)))


def case_from_buffer(buffer: bytes, n_requests: int = REQUESTS) -> dict | None:
    """The case the strategies draw from ``buffer`` (``None`` when it cannot be drawn from)."""
    drawn = _drawer()(buffer)
    if drawn is None:
        return None
    ps, seed = drawn
    return cases.case_from_policy_set(ps, random_requests(random.Random(seed), n_requests))


def read_case(data: bytes) -> dict | None:
    """A case from input bytes: JSON text of a case, else a hypothesis choice buffer."""
    if data[:1] == b"{":
        case = loads_or_none(data)
        if isinstance(case, dict):
            return case
    return case_from_buffer(data)


#: The base cases as committed (``seed-base-<i>.json``): strategy draws depend on the hypothesis version, so the
#: cases every target and the saved seeds build on are read from here, and drawn only when they are not all there.
_SEED_DIR = Path(__file__).resolve().parents[1] / "corpus" / "policy_set"


@functools.cache
def base_cases(n: int = 6) -> tuple:
    """Deterministic cases: the README example and ``n`` strategy draws (as JSON bytes), as committed in
    ``fuzz/corpus/policy_set/``; drawn again (:func:`drawn_base_cases`) only when those files are missing."""
    files = sorted(_SEED_DIR.glob("seed-base-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    if len(files) == n + 1:
        return tuple(f.read_bytes() for f in files)
    return drawn_base_cases(n)


@functools.cache
def drawn_base_cases(n: int = 6) -> tuple:
    """The README example and ``n`` strategy draws from fixed buffers (the same for one hypothesis version)."""
    out = [dumps(_readme_case())]
    rng = random.Random(20261202)
    while len(out) < n + 1:
        case = case_from_buffer(rng.randbytes(4096))
        if case is not None and case["principals"]:
            out.append(dumps(case))
    return tuple(out)


def policy_paths(case) -> list:
    """Paths of every POLICY in a case."""
    out = []
    for path, node in json_nodes(case):
        if not path:
            continue
        if path[-1] in _POLICY_KEYS and node is not None:
            out.append(path)
        elif len(path) >= 2 and isinstance(path[-1], int) and path[-2] == "policies":
            out.append(path)
        elif len(path) == 3 and path[0] in ("groups", "scps") and isinstance(path[-1], int):
            out.append(path)
    return out


def _get(root, path):
    for p in path:
        root = root[p]
    return root


def _put(root, path, value):
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _hostile_pattern(policy, rng: random.Random):
    """``policy`` with a hostile string as one of its Action, Resource or condition values."""
    if not isinstance(policy, dict):
        return policy
    slots = [p for p, n in json_nodes(policy) if isinstance(n, str) and p and
             any(k in ("Action", "NotAction", "Resource", "NotResource", "Condition") for k in p if isinstance(k, str))]
    if not slots:
        return policy
    policy = copy.deepcopy(policy)
    _put(policy, rng.choice(slots), hostile_string(rng, limit=1500))
    return policy


def mutate_case(case: dict, rng: random.Random, others=()) -> dict:
    """One structure-aware edit of a case."""
    case = copy.deepcopy(case)
    r = rng.random()
    paths = policy_paths(case)
    if r < 0.4 and paths:
        path = rng.choice(paths)
        pol = _get(case, path)
        k = rng.random()
        if k < 0.55:
            _put(case, path, mutate_json(pol, rng))
        elif k < 0.8:
            text = pol if isinstance(pol, str) else json.dumps(pol)
            _put(case, path, mutate_bytes(text.encode("utf-8", "surrogatepass"), rng).decode("utf-8",
                                                                                                "surrogateescape"))
        else:
            _put(case, path, _hostile_pattern(pol, rng))
    elif r < 0.6:
        reqs = case.setdefault("requests", [])
        if isinstance(reqs, list) and reqs and rng.random() < 0.7:
            i = rng.randrange(len(reqs))
            reqs[i] = mutate_json(reqs[i], rng)
        elif isinstance(reqs, list):
            reqs.extend(cases.request_data(q) for q in random_requests(rng, rng.randint(1, 8)))
    elif r < 0.75 and others:
        other = loads_or_none(rng.choice(others))
        if isinstance(other, dict):
            case = crossover_json(case, other, rng)
    elif r < 0.85:
        case["strs"] = rng.choice(("str", "numpy", "subclass"))
    else:
        case = mutate_json(case, rng)
    return case if isinstance(case, dict) else {}


class PolicySetTarget(Target):
    name = "policy_set"
    ext = ".json"

    def seeds(self):
        return [(f"base-{i}", data) for i, data in enumerate(base_cases())]

    def generate(self, rng):
        for _ in range(20):
            case = case_from_buffer(rng.randbytes(rng.choice((512, 2048, 4096))))
            if case is not None:
                return dumps(case)
        return rng.choice(base_cases())

    def mutate(self, data, rng, others=()):
        case = read_case(data)
        if case is None:
            return self.generate(rng)
        return dumps(mutate_case(case, rng, others))

    def run(self, data):
        case = read_case(data)
        if case is None:
            return ("undrawable",)
        summary = cases.run_case(case, "policy_set")
        return _signature(summary)


def _signature(summary: dict) -> tuple:
    return (summary.get("compile"), tuple(sorted(set(summary.get("refused", ())))),
            tuple(sorted(set(summary.get("decisions", ())))))


TARGET = PolicySetTarget()
