"""The access matrix of an account over a request space: one decision code per (principal, action, resource,
context) cell.

:func:`matrix` compresses the space into classes (:mod:`lexauthz.analysis.classes`), decides one representative
per class with the compiled engine's batch call, and keeps the small cube of class decisions; the full matrix is
expanded on output (:meth:`Matrix.cube`, :meth:`Matrix.write`).  ``compress=False`` decides every cell instead (the
uncompressed twin the property tests compare against).

Output formats, chosen by the file's suffix (:meth:`Matrix.write`):

- ``.csv``, ``.jsonl``: long form, columns ``principal, action, resource, context_id, decision_code``;
- ``.parquet``: the same columns (dictionary-encoded strings, ``uint8`` codes); needs pyarrow (the ``analysis``
  extra);
- ``.npz``: ``principals``, ``actions``, ``resources``, ``contexts`` (JSON text) and ``cube``, a ``uint8`` array of
  shape (principals, actions, resources, contexts).

``decision_code`` is :class:`lexauthz.Decision`'s code: 0 implicitDeny, 1 allowed, 2 explicitDeny, 3 error.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..decision import Decision
from ..errors import RequestError
from .classes import AccountView, Classes, Classifier, cell_context, identity_classes
from .cluster import TaskContext, backend_of, chunks
from .space import Space

__all__ = ["Matrix", "matrix", "decide", "MATRIX_COLUMNS", "FORMATS"]

MATRIX_COLUMNS = ("principal", "action", "resource", "context_id", "decision_code")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet", ".npz": "npz"}
_BATCH = 1 << 18
_MIN_TASK = 1 << 12


def decide(view: AccountView, principals: Sequence[str], actions: Sequence[str], resources: Sequence[str],
           contexts: Sequence[dict], progress=None) -> np.ndarray:
    """Decision codes of equal-length columns with the compiled engine (in batches), each row's context completed
    with the inventory's tags of its resource."""
    n = len(principals)
    out = np.empty(n, dtype=np.uint8)
    engine = view.engine
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        ctx = [view.context(r, c) for r, c in zip(resources[start:stop], contexts[start:stop])]
        if not any(ctx):
            ctx = None
        engine.evaluate_batch(principals[start:stop], actions[start:stop], resources[start:stop], ctx,
                              out=out[start:stop])
        if progress is not None:
            progress(stop - start)
    return out


def product_codes(view: AccountView, space: Space, pc: Classes, ac: Classes, rc: Classes,
                  progress=None, backend=None) -> np.ndarray:
    """The ``(Pc, Ac, Rc, C)`` cube of decisions of the class representatives, in slices of the flattened cube on
    ``backend`` (:mod:`lexauthz.analysis.cluster`; this process by default)."""
    P, A, R, C = pc.n, ac.n, rc.n, len(space.contexts)
    n = P * A * R * C
    be = backend_of(backend)
    data = {"shape": (P, A, R, C),
            "principals": [space.principals[i] for i in pc.reps],
            "actions": [space.actions[i] for i in ac.reps],
            "resources": [space.resources[i] for i in rc.reps],
            "contexts": list(space.contexts), "extra_tags": view.extra_tags}
    # slices small enough to spread over the workers, large enough that a batch call dominates a task's cost
    size = _BATCH if be.workers == 1 else max(_MIN_TASK, min(_BATCH, -(-n // (4 * be.workers))))
    parts = chunks(n, size)
    # a cell no task wrote stays ERROR, never an Allow; a short result stream raises (strict)
    out = np.full(n, Decision.ERROR.value, dtype=np.uint8)
    with be.run({"engine": view.engine}, data) as run:
        for (start, stop), codes in zip(parts, run.map(cube_slice, parts), strict=True):
            out[start:stop] = codes
            if progress is not None:
                progress(stop - start)
    return out.reshape(P, A, R, C)


def cube_slice(ctx: TaskContext, start: int, stop: int) -> np.ndarray:
    """A task of :func:`product_codes`: the decisions of cells ``start:stop`` of the flattened cube."""
    d = ctx.data
    i, j, k, c = np.unravel_index(np.arange(start, stop, dtype=np.int64), d["shape"])
    ps, acts, rs, cs, extra = d["principals"], d["actions"], d["resources"], d["contexts"], d["extra_tags"]
    resources = [rs[x] for x in k.tolist()]
    ctx_col = [cell_context(cs[y], extra.get(r)) for r, y in zip(resources, c.tolist())]
    out = np.empty(stop - start, dtype=np.uint8)
    ctx.engines["engine"].evaluate_batch([ps[x] for x in i.tolist()], [acts[x] for x in j.tolist()], resources,
                                         ctx_col if any(ctx_col) else None, out=out)
    return out


@dataclass
class Matrix:
    """An access matrix: the class decisions and the classes of each axis (see the module text)."""

    space: Space
    principal_classes: Classes
    action_classes: Classes
    resource_classes: Classes
    codes: np.ndarray  # (principal classes, action classes, resource classes, contexts) uint8
    revision: str
    compressed: bool = True

    @property
    def cells(self) -> int:
        return self.space.cells

    @property
    def shape(self) -> tuple[int, int, int, int]:
        s = self.space
        return len(s.principals), len(s.actions), len(s.resources), len(s.contexts)

    def cube(self) -> np.ndarray:
        """The full ``uint8`` cube, shape (principals, actions, resources, contexts)."""
        # one axis at a time: each step copies whole rows, far faster than one four-axis fancy index
        out = self.codes.take(self.principal_classes.index, axis=0).take(self.action_classes.index, axis=1)
        return out.take(self.resource_classes.index, axis=2)

    def decision(self, i: int, j: int, k: int, c: int = 0) -> Decision:
        """The decision of one cell, by axis positions."""
        return Decision(int(self.codes[self.principal_classes.index[i], self.action_classes.index[j],
                                       self.resource_classes.index[k], c]))

    def counts(self) -> dict[str, int]:
        """Cells per decision word (``allowed``, ``implicitDeny``, ...), without expanding the cube."""
        wp = np.bincount(self.principal_classes.index, minlength=self.principal_classes.n).astype(np.float64)
        wa = np.bincount(self.action_classes.index, minlength=self.action_classes.n).astype(np.float64)
        wr = np.bincount(self.resource_classes.index, minlength=self.resource_classes.n).astype(np.float64)
        out = {}
        for d in Decision:
            mask = (self.codes == int(d)).astype(np.float64)
            n = int(round(float(np.einsum("pARc,p,A,R->", mask, wp, wa, wr)))) if mask.size else 0
            out[d.simulator_name] = n
        return out

    def class_counts(self) -> dict[str, int]:
        return {"principals": self.principal_classes.n, "actions": self.action_classes.n,
                "resources": self.resource_classes.n, "contexts": len(self.space.contexts),
                "evaluated": int(self.codes.size)}

    def summary(self) -> dict:
        """Counts for the closing record and the report: cells, per decision, the class sizes, the revision."""
        return {"summary": {"cells": self.cells, "by_decision": self.counts(), "classes": self.class_counts(),
                            "shape": dict(zip(("principals", "actions", "resources", "contexts"), self.shape))},
                "engine": self.revision}

    def rows(self) -> Iterator[tuple[str, str, str, int, int]]:
        """Long-form rows ``(principal, action, resource, context_id, decision_code)``, principal-major."""
        s = self.space
        ai, ri = self.action_classes.index, self.resource_classes.index
        for i, label in enumerate(s.principal_labels):
            slab = self.codes[self.principal_classes.index[i]][np.ix_(ai, ri)]  # (A, R, C)
            for j, a in enumerate(s.actions):
                row = slab[j]
                for k, r in enumerate(s.resources):
                    for c in range(len(s.contexts)):
                        yield label, a, r, c, int(row[k, c])

    def to_frame(self):
        """The long form as a pandas DataFrame (needs pandas); strings as categoricals."""
        try:
            import pandas as pd
        except ImportError:
            raise RequestError("E_MISSING_DEPENDENCY", "to_frame needs pandas: pip install 'lexauthz[analysis]'",
                               "$") from None
        P, A, R, C = self.shape
        cube = self.cube()
        p, a, r, c = np.indices((P, A, R, C)).reshape(4, -1)
        return pd.DataFrame({
            "principal": pd.Categorical.from_codes(p, list(self.space.principal_labels)),
            "action": pd.Categorical.from_codes(a, list(self.space.actions)),
            "resource": pd.Categorical.from_codes(r, list(self.space.resources)),
            "context_id": c.astype(np.uint32),
            "decision_code": cube.reshape(-1),
        })

    def write(self, path: str, fmt: str | None = None) -> None:
        """Write the matrix to ``path`` in ``fmt`` (default: from the suffix; see the module text).

        Raises
        ------
        RequestError
            ``E_UNKNOWN_FORMAT`` for a suffix it does not know, ``E_MISSING_DEPENDENCY`` when Parquet is asked for
            without pyarrow, ``E_IO`` when the file cannot be written.
        """
        fmt = fmt or FORMATS.get(os.path.splitext(path)[1].lower())
        if fmt not in FORMATS.values():
            raise RequestError("E_UNKNOWN_FORMAT", f"`{path}`: use a .csv, .jsonl, .parquet or .npz file", path)
        try:
            if fmt == "csv":
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(MATRIX_COLUMNS)
                    w.writerows(self.rows())
            elif fmt == "jsonl":
                with open(path, "w", encoding="utf-8") as fh:
                    for row in self.rows():
                        fh.write(json.dumps(dict(zip(MATRIX_COLUMNS, row))) + "\n")
            elif fmt == "parquet":
                self._write_parquet(path)
            else:
                s = self.space
                np.savez(path, principals=np.asarray(s.principal_labels, dtype=str),
                         actions=np.asarray(s.actions, dtype=str), resources=np.asarray(s.resources, dtype=str),
                         contexts=np.asarray([json.dumps(c, sort_keys=True) for c in s.contexts], dtype=str),
                         cube=self.cube())
        except OSError as exc:
            raise RequestError("E_IO", f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}", path) from None

    def _write_parquet(self, path: str) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise RequestError("E_MISSING_DEPENDENCY", "Parquet output needs pyarrow: pip install "
                               "'lexauthz[analysis]'", path) from None
        s = self.space
        P, A, R, C = self.shape
        labels = pa.array(list(s.principal_labels), pa.string())
        actions = pa.array(list(s.actions), pa.string())
        resources = pa.array(list(s.resources), pa.string())
        schema = pa.schema([("principal", pa.dictionary(pa.int32(), pa.string())),
                            ("action", pa.dictionary(pa.int32(), pa.string())),
                            ("resource", pa.dictionary(pa.int32(), pa.string())),
                            ("context_id", pa.uint32()), ("decision_code", pa.uint8())])
        ai, ri = self.action_classes.index, self.resource_classes.index
        a_idx, r_idx, c_idx = (x.reshape(-1) for x in np.indices((A, R, C), dtype=np.int32))
        per = max(1, (1 << 22) // max(1, A * R * C))
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, P, per):
                stop = min(P, start + per)
                slabs = [self.codes[self.principal_classes.index[i]][np.ix_(ai, ri)].reshape(-1)
                         for i in range(start, stop)]
                n = A * R * C
                p_idx = np.repeat(np.arange(start, stop, dtype=np.int32), n)
                table = pa.table({
                    "principal": pa.DictionaryArray.from_arrays(pa.array(p_idx), labels),
                    "action": pa.DictionaryArray.from_arrays(pa.array(np.tile(a_idx, stop - start)), actions),
                    "resource": pa.DictionaryArray.from_arrays(pa.array(np.tile(r_idx, stop - start)), resources),
                    "context_id": pa.array(np.tile(c_idx, stop - start).astype(np.uint32)),
                    "decision_code": pa.array(np.concatenate(slabs)),
                }, schema=schema)
                writer.write_table(table)


def matrix(account, space: Space, *, compress: bool = True, progress=None, backend=None) -> Matrix:
    """The access matrix of ``account`` over ``space`` (resolve a space file with
    :func:`lexauthz.analysis.resolve_space` first).

    >>> from lexauthz.account import PolicySet, Account
    >>> ps = PolicySet()
    >>> ps.add_principal("arn:aws:iam::111122223333:user/bob", policies=[{"Version": "2012-10-17",
    ...     "Statement": [{"Effect": "Allow", "Action": "lex:Get*", "Resource": "*"}]}])
    >>> ps.add_resource("arn:aws:lex:us-east-1:111122223333:bot/BOT1")
    >>> acct = Account.from_policy_set(ps)
    >>> from lexauthz.analysis import resolve_space
    >>> m = matrix(acct, resolve_space({"contexts": [{}]}, [acct]))
    >>> m.counts()["allowed"] == len([a for a in m.space.actions if a.startswith("lex:Get")])
    True

    ``backend`` runs the cube's slices elsewhere (a :class:`~lexauthz.analysis.dask_backend.DaskBackend`); the
    matrix is the same.
    """
    view = AccountView(account, inventory_tags=space.inventory_tags)
    if compress:
        cl = Classifier([view])
        pc, ac, rc = cl.principal_classes(space.principals), cl.action_classes(space.actions), \
            cl.resource_classes(space.resources)
    else:
        pc, ac, rc = (identity_classes(len(space.principals)), identity_classes(len(space.actions)),
                      identity_classes(len(space.resources)))
    codes = product_codes(view, space, pc, ac, rc, progress, backend)
    return Matrix(space, pc, ac, rc, codes, view.engine.revision, compress)


def stderr_progress(total: int, what: str):
    """A progress callback that prints to stderr when it is a terminal (a run of more than about a second)."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return None
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        print(f"\r{what}: {done[0]:,}/{total:,}", end="" if done[0] < total else "\n", file=sys.stderr, flush=True)

    return step
