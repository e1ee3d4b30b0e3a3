"""Structure-aware mutators: JSON trees (policies, cases, account files) and raw bytes.

Every mutator is a pure function of its input and a :class:`random.Random`, so a run with a seed is repeatable.
"""
from __future__ import annotations

import copy
import json
import random

from .pools import IAM_WORDS, hostile_string, pool_string

__all__ = ["mutate_bytes", "mutate_json", "crossover_json", "json_nodes", "dumps", "loads_or_none"]

_INTERESTING = (b'\\', b'"', b"[", b"]", b"{", b"}", b":", b",", b"\x00", b"\x80", b"\xff", b"\xc3", b"\xed\xa0\x80",
                b"u", b"n", b"1", b"-", b"e", b"\\u", b"\\ud800", b"*", b"?", b"$", b"NaN", b"1e999", b"null",
                b"true", b" ", b"\n", b"\t", b"\xef\xbb\xbf")


def dumps(value) -> bytes:
    """Compact JSON bytes (lone surrogates escaped, so every str survives)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def loads_or_none(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


# -- bytes --------------------------------------------------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random, *, max_len: int = 1 << 16) -> bytes:
    """One to four byte-level edits: set, flip, insert interesting bytes, delete, duplicate or truncate."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randint(0, len(out))
        if op == 0 and i < len(out):
            out[i] = rng.randrange(256)
        elif op == 1 and i < len(out):
            out[i] ^= 1 << rng.randrange(8)
        elif op == 2:
            out[i:i] = rng.choice(_INTERESTING) * rng.choice((1, 1, 1, 2, 16))
        elif op == 3 and out:
            del out[i:i + rng.randint(1, 8)]
        elif op == 4 and out:
            j = rng.randint(0, len(out))
            a, b = min(i, j), max(i, j)
            out[i:i] = out[a:b][:256]
        elif op == 5:
            out[i:i] = pool_string(rng).encode("utf-8", "surrogatepass")
        elif op == 6 and out:
            del out[rng.randint(0, len(out)):]
    return bytes(out[:max_len])


# -- JSON trees ---------------------------------------------------------------------------------------------------


def json_nodes(value, path=()):
    """Every (path, node) of a JSON value, the root first; a path is a tuple of keys and indexes."""
    out = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(json_nodes(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(json_nodes(v, path + (i,)))
    return out


def set_at(root, path, new):
    """``root`` with the node at ``path`` replaced by ``new`` (in place; the new root when ``path`` is empty)."""
    if not path:
        return new
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = new
    return root


def _parent(root, path):
    node = root
    for p in path[:-1]:
        node = node[p]
    return node


def _string_edit(s: str, rng: random.Random) -> str:
    op = rng.randrange(8)
    i = rng.randint(0, len(s))
    if op == 0:
        return s[:i] + rng.choice("*?") * rng.randint(1, 30) + s[i:]
    if op == 1:
        return s[:i]
    if op == 2:
        return s[:i] + s[i:].swapcase()
    if op == 3:
        return s + s[i:] * rng.randint(1, 8)
    if op == 4:
        return s[:i] + rng.choice((":", "/", "$", "{", "}", "\\", "\x00", "\u0130", "\ud800")) + s[i:]
    if op == 5:
        return s[:i] + s[i + rng.randint(1, 4):]
    if op == 6:
        return pool_string(rng)
    return hostile_string(rng)


def _new_value(rng: random.Random, like=None):
    r = rng.random()
    if r < 0.35:
        return pool_string(rng)
    if r < 0.55:
        return hostile_string(rng)
    if r < 0.65 and isinstance(like, str):
        return [like, pool_string(rng)]
    return rng.choice((None, True, False, 0, -1, 1.5, 2 ** 64, 1e308, "", [], {}, [pool_string(rng)],
                       {pool_string(rng): pool_string(rng)}))


def mutate_json(value, rng: random.Random, *, edits: int | None = None, words=IAM_WORDS):
    """One to three edits of a JSON tree: replace or edit a string, rename or drop a key, drop, duplicate or add a
    list item, change a value's type.  Returns a new tree (``value`` is not changed)."""
    root = copy.deepcopy(value)
    for _ in range(edits or rng.randint(1, 3)):
        nodes = json_nodes(root)
        path, node = rng.choice(nodes)
        op = rng.randrange(10)
        if isinstance(node, str) and op < 5:
            root = set_at(root, path, _string_edit(node, rng))
        elif isinstance(node, dict) and node and op < 7:
            k = rng.choice(list(node))
            if op < 3:                                   # rename a key
                new = rng.choice(words) if rng.random() < 0.7 else _string_edit(k, rng)
                node[new] = node.pop(k)
            elif op < 5:                                 # drop a key
                del node[k]
            else:                                        # add a key
                node[rng.choice(words)] = _new_value(rng)
        elif isinstance(node, list) and op < 7:
            if node and op < 3:
                del node[rng.randrange(len(node))]
            elif node and op < 5:
                node.insert(rng.randint(0, len(node)), copy.deepcopy(rng.choice(node)))
            else:
                node.insert(rng.randint(0, len(node)), _new_value(rng))
        elif path:
            parent = _parent(root, path)
            if rng.random() < 0.5:
                root = set_at(root, path, _new_value(rng, node))
            elif isinstance(parent, dict):
                del parent[path[-1]]
            else:
                del parent[path[-1]]
        else:
            root = _new_value(rng, node) if rng.random() < 0.1 else root
    return root


def crossover_json(a, b, rng: random.Random):
    """``a`` with one of its subtrees replaced by a subtree of ``b``."""
    root = copy.deepcopy(a)
    pa = [p for p, _ in json_nodes(root) if p]
    if not pa:
        return root
    path = rng.choice(pa)
    _, donor = rng.choice(json_nodes(b))
    return set_at(root, path, copy.deepcopy(donor))
