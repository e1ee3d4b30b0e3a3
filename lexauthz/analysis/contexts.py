"""Witness contexts: one representative value per equivalence class of every condition operand the policies hold,
plus "absent".

For every condition key the policy sets test, the representatives are drawn from the operands themselves and their
neighbours, so that each side of each comparison is reached:

- strings: the operand; for ``StringLike`` the operand with its wildcards filled (``*`` empty, ``?`` one letter); for
  ``...IgnoreCase`` the upper-cased operand; and a value no policy names;
- numbers: the operand and the operand plus and minus one; dates: the instant (in epoch seconds) and one second
  either side; IP ranges: the first address of the range and an address just past it;
- ``Bool``: ``true`` and ``false``; ARNs: the operand with wildcards filled, and an ARN no policy names;
- multivalued keys (``ForAnyValue:``/``ForAllValues:``): each operand alone, all of them, and the empty list.

Operands holding policy variables are not expanded (their value comes from other keys).  Tag keys
(``aws:PrincipalTag/*``, ``aws:ResourceTag/*``) are never generated: they come from the principals' and resources'
own tags, which a generated value would override.

The contexts are the product of every key's representatives (absent included) when it has at most ``limit``
members; otherwise the empty context, then each key's values one key at a time, then seeded random combinations up
to ``limit``.  The space then covers each comparison's outcomes, but not every combination of them: a statement
with several conditions is reached with all of them true only when the product fits.
"""
from __future__ import annotations

import ipaddress
import itertools
import random
from decimal import Decimal
from typing import Iterable

__all__ = ["witness_contexts", "condition_values"]

_FRESH = "lexauthz-unmatched"
_FRESH_ARN = "arn:aws:iam::000000000000:user/lexauthz-unmatched"


def _statements(policy_sets: Iterable) -> Iterable:
    for ps in policy_sets:
        seen: set[int] = set()
        for named in ps.policies():
            if named.document is None or id(named) in seen:
                continue
            seen.add(id(named))
            yield from named.document.statements


def _fill(value: str, star: str) -> str:
    return value.replace("*", star).replace("?", "x")


def _reps(base: str, value: str) -> list[str]:
    b = base.lower()
    if "${" in value:
        return []
    if b.startswith("string"):
        out = [value]
        if "like" in b:
            out += [_fill(value, ""), _fill(value, "zz")]
        if "ignorecase" in b:
            out.append(value.upper())
        return out
    if b.startswith("numeric"):
        from ..reference.conditions import parse_number

        n = parse_number(value)
        if n is None:
            return [value]
        return [value, _num(n - 1), _num(n + 1)]
    if b.startswith("date"):
        from ..reference.conditions import parse_date

        d = parse_date(value)
        if d is None:
            return [value]
        return [value, _num(d - 1), _num(d + 1)]
    if b == "bool":
        return ["true", "false"]
    if b.startswith("ip") or b.startswith("notip"):
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return [value]
        out = [str(net.network_address)]
        after = int(net.broadcast_address) + 1
        if after < (1 << net.max_prefixlen):
            out.append(str(ipaddress.ip_address(after) if net.version == 4 else ipaddress.IPv6Address(after)))
        return out
    if b.startswith("arn"):
        return [_fill(value, "x"), value]
    if b == "null":
        return ["present"]
    return [value]


def _num(d: Decimal) -> str:
    if d == d.to_integral_value():
        return str(int(d))
    return format(d, "f")


def condition_values(policy_sets: Iterable, *, include_tags: bool = False) -> dict[str, tuple[str, list]]:
    """``lower-case key -> (display key, representative values)`` for every condition key of the policy sets; a
    multivalued key's values are lists.  Tag keys are left out unless ``include_tags``."""
    keys: dict[str, tuple[str, dict, bool]] = {}
    for st in _statements(policy_sets):
        for clause in st.condition:
            low = clause.key.lower()
            if not include_tags and (low.startswith("aws:principaltag/") or low.startswith("aws:resourcetag/")):
                continue
            display, vals, multi = keys.get(low, (clause.key, {}, False))
            multi = multi or clause.qualifier is not None
            for v in clause.values:
                for r in _reps(clause.base, v):
                    vals.setdefault(r)
            keys[low] = (display, vals, multi)
    out: dict[str, tuple[str, list]] = {}
    for low in sorted(keys):
        display, vals, multi = keys[low]
        singles = list(vals)
        base = singles + ([_FRESH_ARN] if any(v.startswith("arn:") for v in singles) else [_FRESH])
        if multi:
            reps: list = [[v] for v in base]
            if len(singles) > 1:
                reps.append(list(singles))
            reps.append([])
        else:
            reps = base
        out[low] = (display, reps)
    return out


def witness_contexts(policy_sets: Iterable, *, limit: int = 256, seed: int = 0,
                     include_tags: bool = False) -> tuple[dict, ...]:
    """The generated contexts of a space with ``context_mode: witnesses`` (see the module text); the first is always
    the empty context ("every key absent").  ``include_tags`` generates tag keys too (for single documents, which
    have no principal or resource of their own)."""
    values = condition_values(list(policy_sets), include_tags=include_tags)
    axes = [(display, [None, *reps]) for display, reps in values.values()]
    total = 1
    for _, reps in axes:
        total *= len(reps)
        if total > limit:
            break
    out: list[dict] = []
    seen: set[str] = set()

    def add(ctx: dict) -> None:
        import json

        key = json.dumps(ctx, sort_keys=True)
        if key not in seen and len(out) < limit:
            seen.add(key)
            out.append(ctx)

    if total <= limit:
        for combo in itertools.product(*(reps for _, reps in axes)):
            add({d: v for (d, _), v in zip(axes, combo) if v is not None})
        return tuple(out)
    add({})
    for display, reps in axes:
        for v in reps[1:]:
            add({display: v})
    rng = random.Random(seed)
    attempts = 0
    while len(out) < limit and attempts < limit * 20:
        attempts += 1
        ctx = {}
        for display, reps in axes:
            v = rng.choice(reps)
            if v is not None:
                ctx[display] = v
        add(ctx)
    return tuple(out)
