"""Shrinking a failing input while it keeps failing with the same finding code.

JSON inputs are reduced as trees (drop list items and object keys, shorten strings, largest pieces first); other
bytes by deleting chunks of halving size.  Both stop after a bounded number of attempts.
"""
from __future__ import annotations

import copy

from .mutate import dumps, json_nodes, loads_or_none, set_at

__all__ = ["minimize_json_bytes", "minimize_bytes"]


def _without(root, path):
    root = copy.deepcopy(root)
    node = root
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return root


def _replaced(root, path, new):
    return set_at(copy.deepcopy(root), path, new)


def _size(v) -> int:
    return len(dumps(v))


def minimize_json_bytes(data: bytes, still_fails, *, attempts: int = 300) -> bytes:
    """The smallest JSON found that ``still_fails``; non-JSON input goes to :func:`minimize_bytes`."""
    tree = loads_or_none(data)
    if tree is None or not isinstance(tree, (dict, list)):
        return minimize_bytes(data, still_fails, attempts=attempts)
    best = tree
    progress = True
    while progress and attempts > 0:
        progress = False
        # Largest subtrees first: a big deletion that keeps the failure saves many small ones.
        nodes = sorted((p for p, _ in json_nodes(best) if p), key=lambda p: -_size(_node(best, p)))
        for path in nodes:
            if attempts <= 0:
                break
            try:
                node = _node(best, path)
            except (KeyError, IndexError, TypeError):
                continue
            candidates = [_without(best, path)]
            if isinstance(node, str) and len(node) > 8:
                candidates.append(_replaced(best, path, node[: len(node) // 2]))
            for cand in candidates:
                attempts -= 1
                raw = dumps(cand)
                if still_fails(raw):
                    best = cand
                    progress = True
                    break
            if progress:
                break
    return dumps(best)


def _node(root, path):
    node = root
    for p in path:
        node = node[p]
    return node


def minimize_bytes(data: bytes, still_fails, *, attempts: int = 300) -> bytes:
    """Delete chunks (halving sizes) while ``still_fails``."""
    best = data
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and attempts > 0:
        i = 0
        changed = False
        while i < len(best) and attempts > 0:
            cand = best[:i] + best[i + chunk:]
            attempts -= 1
            if cand and still_fails(cand):
                best = cand
                changed = True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return best
