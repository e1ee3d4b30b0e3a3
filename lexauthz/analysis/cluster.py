"""Where an analysis runs its tasks: in this process, or on a Dask cluster.

The bulk analyses (:func:`~lexauthz.analysis.matrix`, :func:`~lexauthz.analysis.diff`,
:func:`~lexauthz.analysis.replay`, :func:`~lexauthz.analysis.unused`) cut their work into tasks, slices of the
request space or groups of trail files, and run them through a backend:

- :class:`LocalBackend` (``backend=None``, the default): every task in this process, one after the other;
- :class:`DaskBackend`: the tasks on a Dask cluster, an existing one (``DaskBackend.connect(address)``) or a local one
  of worker processes (``DaskBackend.local(n)``); it needs the ``lexauthz[dask]`` extra.

Both run the same task functions on the same slices and merge their results in task order, so an analysis gives the
same output, byte for byte, on either.

A run (:meth:`DaskBackend.run`) ships what its tasks need once per worker, never per task: a worker plugin carries
each engine's saved bytes, sealed under a random key of the run (a worker's load then authenticates them instead of
recompiling them, and bytes damaged on the way fail the load), each engine's revision, the versions of lexauthz and of
the plan format, and the run's data (pickled once).  Its ``setup`` loads every engine once in each worker process
(workers that join or restart during the run do the same) and fails the registration, naming the worker, with
``E_WORKER_VERSION`` when the worker's lexauthz or plan format is not the client's, or ``E_WORKER_LOAD`` when an
engine does not load to its revision.  A task finds its run in the worker's plugins by name.

:meth:`Run.map` keeps at most ``window`` tasks in flight, takes results as they complete and yields them in task
order.  A task whose worker dies is run again by the scheduler on another worker, so losing a worker mid-run still
gives the complete result; a task that fails raises :class:`ClusterError` ``E_TASK_FAILED`` with the task's error.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import LexAuthzError

__all__ = ["Backend", "LocalBackend", "Run", "TaskContext", "ClusterError", "engine_loads", "backend_of",
           "chunks", "split"]

_loads: Counter = Counter()  # engine revision -> loads in this process, by run plugins


def engine_loads() -> dict[str, int]:
    """How many times this process loaded each engine revision for a run (run it on workers with
    ``client.run(engine_loads)``: one per worker and run)."""
    return dict(_loads)


class ClusterError(LexAuthzError):
    """A backend could not run: ``code`` is one of ``E_NEEDS_DASK``, ``E_CLUSTER_CONNECT``, ``E_WORKER_VERSION``,
    ``E_WORKER_LOAD``, ``E_TASK_FAILED``."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class TaskContext:
    """What a task function gets besides its own arguments: the run's engines by name and its data."""

    engines: Mapping[str, Any]
    data: Mapping[str, Any]


class _Closing:
    """``close()``, also on leaving a ``with`` block."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Run(_Closing):
    """One analysis run on a backend: :meth:`map` its tasks; close it (or use ``with``) when done."""

    def map(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:  # pragma: no cover - interface
        raise NotImplementedError


class Backend(_Closing):
    """Runs the tasks of an analysis (see the module text)."""

    name = "backend"

    def run(self, engines: Mapping[str, Any], data: Mapping[str, Any] | None = None) -> Run:  # pragma: no cover
        raise NotImplementedError

    @property
    def workers(self) -> int:
        """How many task slots the backend has (a partitioning hint)."""
        return 1


def backend_of(backend) -> "Backend":
    """``backend`` itself, or the :class:`LocalBackend` for ``None``."""
    if backend is None:
        return LocalBackend()
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a LocalBackend, a DaskBackend or None, not {type(backend).__name__}")
    return backend


class _LocalRun(Run):
    def __init__(self, engines, data):
        self.ctx = TaskContext(dict(engines), dict(data or {}))

    def map(self, fn, tasks):
        for task in tasks:
            yield fn(self.ctx, *task)


class LocalBackend(Backend):
    """Every task in this process, in order, with the engines as they are (nothing is saved or loaded)."""

    name = "local"

    def run(self, engines, data=None) -> Run:
        return _LocalRun(engines, data)


def versions() -> tuple[str, int]:
    """This process's lexauthz version and plan format version (what a worker must have too)."""
    from .. import __version__
    from ..compile.serialize import FORMAT_VERSION

    return __version__, FORMAT_VERSION


def count_load(revision: str) -> None:
    _loads[revision] += 1


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in slices of at most ``size``."""
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def split(items: Sequence, parts: int) -> list[list]:
    """``items`` cut into at most ``parts`` consecutive, near-equal groups (order kept)."""
    n = len(items)
    parts = max(1, min(parts, n))
    out, start = [], 0
    for i in range(parts):
        stop = start + (n - start) // (parts - i)
        out.append(list(items[start:stop]))
        start = stop
    return [g for g in out if g]
