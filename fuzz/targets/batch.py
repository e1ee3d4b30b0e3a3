"""Target ``batch``: ``Engine.evaluate_batch`` and ``Engine.encode`` with every column shape a caller may hand over.

Input: a case (``fuzz/cases.py``) as JSON with a ``"batch"`` object: ``{"column": "list" | "tuple" | "object_array" |
"unicode_array" | "subclass", "bad": null | {"kind": ..., "column": ...}}``.  The rows are the case's requests that
:class:`lexauthz.Request` accepts; each shape must give the decisions ``Engine.evaluate`` gives row by row (encoded
batches too, decided twice).  A ``bad`` batch (a single string or bytes as a column, a column of another length, a
missing column, a row of another type, a bad ``out`` array, an encoded batch with more columns or from another
engine) must be refused with a coded error.
"""
from __future__ import annotations

import numpy as np

from lexauthz.decision import Decision
from lexauthz.request import Request

from .. import cases
from ..mutate import dumps, loads_or_none
from ..oracle import Finding, FindingError, guarded
from . import Target
from .policy_set import _signature, base_cases, mutate_case, read_case
from .request import hostile_request

__all__ = ["TARGET"]

COLUMNS = ("list", "tuple", "object_array", "unicode_array", "subclass")
BAD = ("single_str", "single_bytes", "short", "long", "none", "int_row", "bytes_row", "out_dtype", "out_length",
       "encoded_extra", "other_engine", "dict_column", "context_not_mapping")
NAMES = ("principals", "actions", "resources", "resource_accounts", "contexts")


def _shape(col: list, how: str):
    if how == "tuple":
        return tuple(col)
    if how == "object_array":
        return np.array(col, dtype=object)
    if how == "unicode_array":
        if all(isinstance(x, str) for x in col) and col:
            try:
                return np.array(col)  # dtype <U..: rows come back as numpy.str_
            except (ValueError, UnicodeError):
                return col
        return col
    if how == "subclass":
        return [cases.UserStr(x) if isinstance(x, str) else x for x in col]
    return list(col)


class BatchTarget(Target):
    name = "batch"
    ext = ".json"

    def seeds(self):
        out = []
        for i, data in enumerate(base_cases()):
            case = loads_or_none(data)
            case["batch"] = {"column": COLUMNS[i % len(COLUMNS)], "bad": None}
            out.append((f"columns-{i}", dumps(case)))
            case["batch"] = {"column": "list", "bad": {"kind": BAD[i % len(BAD)], "column": NAMES[i % 3]}}
            out.append((f"bad-{i}", dumps(case)))
        return out

    def generate(self, rng):
        case = loads_or_none(rng.choice(base_cases()))
        if rng.random() < 0.3:
            case["requests"] = case["requests"][:20] + [hostile_request(rng) for _ in range(4)]
        case["batch"] = self._batch(rng)
        return dumps(case)

    @staticmethod
    def _batch(rng):
        bad = None
        if rng.random() < 0.4:
            bad = {"kind": rng.choice(BAD), "column": rng.choice(NAMES)}
        return {"column": rng.choice(COLUMNS), "bad": bad}

    def mutate(self, data, rng, others=()):
        case = read_case(data)
        if case is None:
            return self.generate(rng)
        if rng.random() < 0.4:
            case["batch"] = self._batch(rng)
        else:
            batch = case.get("batch")
            case = mutate_case(case, rng, others)
            case["batch"] = batch
        return dumps(case)

    def run(self, data):
        case = read_case(data)
        if case is None:
            return ("undrawable",)
        summary = cases.run_case(case, "batch", roundtrip=False, batch=True)
        spec = case.get("batch") if isinstance(case.get("batch"), dict) else {}
        how = spec.get("column") if spec.get("column") in COLUMNS else "list"
        bad = spec.get("bad") if isinstance(spec.get("bad"), dict) else None
        engine = cases.build_policy_set(case).compile()
        kind = case.get("strs") if isinstance(case.get("strs"), str) else "str"
        rows = []
        requests = case.get("requests")
        for q in (requests if isinstance(requests, list) else [])[:cases.MAX_REQUESTS]:
            raw = cases.raw_request(q, kind)
            try:
                req = Request(raw["principal"], raw["action"], raw["resource"], raw["resource_account"],
                              raw["context"])
            except Exception:  # noqa: BLE001 - refused rows are the policy_set target's business
                continue
            rows.append((raw, engine.evaluate(req).decision.name))
        if not rows:
            return _signature(summary) + ("empty",)
        cols = {n: [r[f] for r, _ in rows] for n, f in zip(NAMES, ("principal", "action", "resource",
                                                                  "resource_account", "context"))}
        shaped = {n: (_shape(c, how) if n != "contexts" else c) for n, c in cols.items()}
        want = [w for _, w in rows]
        if bad is None:
            self._good(engine, shaped, want, how)
        else:
            self._bad(engine, shaped, bad, case)
        return _signature(summary) + (how, None if bad is None else bad.get("kind"))

    @staticmethod
    def _good(engine, shaped, want, how):
        where = f"batch[{how}]"
        args = (shaped["principals"], shaped["actions"], shaped["resources"], shaped["contexts"])
        got = guarded(f"{where}: evaluate_batch", engine.evaluate_batch, *args,
                      resource_accounts=shaped["resource_accounts"])
        enc = guarded(f"{where}: encode", engine.encode, *args, resource_accounts=shaped["resource_accounts"])
        results = [("evaluate_batch", got)]
        if enc.ok:
            out = np.full(len(want), 255, dtype=np.uint8)
            results.append(("evaluate_batch(encoded)", guarded(f"{where}: evaluate_batch(encoded)",
                                                               engine.evaluate_batch, enc.value)))
            results.append(("evaluate_batch(encoded, out=)", guarded(f"{where}: evaluate_batch(encoded, out)",
                                                                     engine.evaluate_batch, enc.value, out=out)))
        else:
            results.append(("encode", enc))
        for name, res in results:
            if not res.ok:
                raise FindingError(Finding("F_INCONSISTENT", f"{where}: {name}", f"refused a {how} batch of rows "
                                           f"Request accepts: {res.error}"))
            codes = [Decision(int(x)).name for x in res.value]
            for i, (g, w) in enumerate(zip(codes, want)):
                if g != w:
                    code = "F_ALLOW_ON_ERROR" if g == "ALLOW" and w == "ERROR" else (
                        "F_FAIL_OPEN" if g == "ALLOW" else "F_INCONSISTENT")
                    raise FindingError(Finding(code, f"{where}: {name}[{i}]", f"row answers {g} where evaluate "
                                               f"gives {w}"))

    @staticmethod
    def _bad(engine, shaped, bad, case):
        kind = bad.get("kind")
        column = bad.get("column") if bad.get("column") in NAMES else "principals"
        cols = dict(shaped)
        n = len(cols["principals"])
        out = None
        encoded_extra = other = False
        if kind == "single_str":
            cols[column] = "ab" * max(1, n // 2) if n > 1 else "ab"
        elif kind == "single_bytes":
            cols[column] = b"ab"
        elif kind == "short":
            cols[column] = list(cols[column])[:-1] if n > 1 else []
        elif kind == "long":
            cols[column] = list(cols[column]) + list(cols[column])[:1]
        elif kind == "none":
            if column in ("resource_accounts", "contexts"):
                return  # optional columns: None is valid
            cols[column] = None
        elif kind == "int_row":
            cols[column] = [7] + list(cols[column])[1:]
        elif kind == "bytes_row":
            cols[column] = [b"arn:aws:iam::111122223333:user/x"] + list(cols[column])[1:]
        elif kind == "dict_column":
            cols[column] = {i: v for i, v in enumerate(cols[column])}
        elif kind == "context_not_mapping":
            column = "contexts"
            cols["contexts"] = ["aws:username"] + list(cols["contexts"])[1:]
        elif kind == "out_dtype":
            out = np.zeros(n, dtype=np.int64)
        elif kind == "out_length":
            out = np.zeros(n + 1, dtype=np.uint8)
        elif kind == "encoded_extra":
            encoded_extra = True
        elif kind == "other_engine":
            other = True
        else:
            return
        where = f"batch[bad={kind}, column={column}]"
        args = (cols["principals"], cols["actions"], cols["resources"], cols["contexts"])
        if encoded_extra or other:
            enc = guarded(f"{where}: encode", engine.encode, *args, resource_accounts=cols["resource_accounts"]).value
            if other:
                twin = cases.build_policy_set(case).compile()
                res = guarded(f"{where}: evaluate_batch", twin.evaluate_batch, enc)
            else:
                res = guarded(f"{where}: evaluate_batch", engine.evaluate_batch, enc, cols["actions"])
            calls = [("evaluate_batch", res)]
        else:
            calls = [("evaluate_batch", guarded(f"{where}: evaluate_batch", engine.evaluate_batch, *args,
                                                resource_accounts=cols["resource_accounts"], out=out))]
            if out is None:
                calls.append(("encode", guarded(f"{where}: encode", engine.encode, *args,
                                                resource_accounts=cols["resource_accounts"])))
        for name, res in calls:
            if res.ok:
                raise FindingError(Finding("F_NOT_REFUSED", f"{where}: {name}", f"a batch with {kind} in "
                                           f"`{column}` was answered instead of refused"))


TARGET = BatchTarget()
