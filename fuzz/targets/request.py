"""Target ``request``: hostile requests and contexts against fixed policy sets.

Input: a case (``fuzz/cases.py``) as JSON.  Generation takes one of the deterministic base cases and replaces its
requests with hostile ones: long ARNs, many ``?`` and ``*``, odd unicode (case folding that changes length, lone
surrogates, NUL), ``${...}`` variables, values of the wrong JSON type, multivalued contexts, and string subclasses
(``numpy.str_``, a ``str`` subclass).  Policies sometimes get a hostile pattern too, so that both sides of a wildcard
match are stressed.
"""
from __future__ import annotations

import random

from .. import cases
from ..mutate import dumps, loads_or_none, mutate_json
from ..pools import hostile_string, pool_string, strategies
from . import Target
from .policy_set import _hostile_pattern, _get, _put, base_cases, policy_paths, read_case, _signature

__all__ = ["TARGET", "hostile_request"]


def _value(rng: random.Random):
    r = rng.random()
    if r < 0.4:
        return hostile_string(rng)
    if r < 0.6:
        return [hostile_string(rng, limit=200) for _ in range(rng.randint(0, 12))]
    if r < 0.8:
        return pool_string(rng)
    return rng.choice((True, False, 0, 7, -1.5, None, {}, [None], [1, "a"], 10 ** 30, float("nan")))


def hostile_request(rng: random.Random) -> dict:
    """One request from the strategies' pools with some fields, context keys and values made hostile."""
    base = cases.request_data(strategies().random_request(rng))
    for f in ("principal", "action", "resource"):
        if rng.random() < 0.3:
            base[f] = hostile_string(rng)
    if rng.random() < 0.1:
        base["resource_account"] = rng.choice(("", "1", "111122223333", hostile_string(rng, limit=50), 5, None))
    ctx = base["context"]
    for _ in range(rng.choice((0, 1, 2, 4, 16))):
        key = pool_string(rng) if rng.random() < 0.6 else hostile_string(rng, limit=300)
        ctx[key] = _value(rng)
    if rng.random() < 0.05:
        base["context"] = rng.choice(([], "aws:username", 1, None))
    return base


class RequestTarget(Target):
    name = "request"
    ext = ".json"

    def seeds(self):
        rng = random.Random(11)
        out = []
        for i, data in enumerate(base_cases()):
            case = loads_or_none(data)
            case["requests"] = [hostile_request(rng) for _ in range(24)]
            case["strs"] = ("str", "numpy", "subclass")[i % 3]
            out.append((f"hostile-{i}", dumps(case)))
        return out

    def generate(self, rng):
        case = loads_or_none(rng.choice(base_cases()))
        case["requests"] = [hostile_request(rng) for _ in range(rng.randint(1, 24))]
        case["strs"] = rng.choice(("str", "str", "numpy", "subclass"))
        if rng.random() < 0.3:
            paths = [p for p in policy_paths(case) if isinstance(_get(case, p), dict)]
            if paths:
                path = rng.choice(paths)
                _put(case, path, _hostile_pattern(_get(case, path), rng))
        return dumps(case)

    def mutate(self, data, rng, others=()):
        case = read_case(data)
        if case is None:
            return self.generate(rng)
        reqs = case.get("requests")
        if not isinstance(reqs, list) or not reqs or rng.random() < 0.2:
            case["requests"] = [hostile_request(rng) for _ in range(8)]
        elif rng.random() < 0.5:
            i = rng.randrange(len(reqs))
            reqs[i] = mutate_json(reqs[i], rng)
        else:
            reqs[rng.randrange(len(reqs))] = hostile_request(rng)
        if rng.random() < 0.1:
            case["strs"] = rng.choice(("str", "numpy", "subclass"))
        return dumps(case)

    def run(self, data):
        case = read_case(data)
        if case is None:
            return ("undrawable",)
        return _signature(cases.run_case(case, "request", roundtrip=False))


TARGET = RequestTarget()
