"""The flags that send a bulk verb (``matrix``, ``whatif diff``, ``replay``, ``unused``) to a Dask cluster.

``--scheduler ADDRESS`` runs on the cluster whose scheduler is at ``ADDRESS``; ``--workers N`` on a local cluster of
``N`` worker processes started for the run.  Neither: one process.  Without the ``lexauthz[dask]`` extra,
``--workers`` warns and runs in one process (the output is the same), while ``--scheduler`` is an error
(``E_NEEDS_DASK``): a named cluster cannot be replaced silently.  Cluster problems are coded errors
(``E_CLUSTER_CONNECT``, ``E_WORKER_VERSION``, ``E_WORKER_LOAD``, ``E_TASK_FAILED``), exit 1.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from ._common import CliError, UsageError

__all__ = ["add_backend_flags", "backend_for", "open_backend"]


def add_backend_flags(p) -> None:
    g = p.add_argument_group("cluster (needs the lexauthz[dask] extra)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the tasks on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
                        "trail paths must be readable by its workers")
    x.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run the tasks on a local Dask cluster of N worker processes")


def open_backend(*, scheduler: str | None = None, workers: int | None = None):
    """A :class:`~lexauthz.analysis.dask_backend.DaskBackend` on the cluster at ``scheduler``, or on a new local
    cluster of ``workers`` processes; ``None`` (one process) for neither.  :class:`ClusterError` ``E_NEEDS_DASK``
    when the ``lexauthz[dask]`` extra is not installed."""
    from ..analysis.cluster import ClusterError

    if scheduler is None and workers is None:
        return None
    try:
        from ..analysis.dask_backend import DaskBackend
    except ImportError:
        raise ClusterError("E_NEEDS_DASK", "Dask is not installed: pip install 'lexauthz[dask]'") from None
    if scheduler is not None:
        return DaskBackend.connect(scheduler)
    return DaskBackend.local(workers)


@contextlib.contextmanager
def backend_for(args) -> Iterator:
    """The backend ``args`` ask for (``None``: one process), closed on exit; cluster errors become CLI errors."""
    from ..analysis.cluster import ClusterError

    scheduler, workers = getattr(args, "scheduler", None), getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1", code="E_USAGE")
    if scheduler is None and workers is None:
        yield None
        return
    try:
        be = open_backend(scheduler=scheduler, workers=workers)
    except ClusterError as exc:
        if exc.code == "E_NEEDS_DASK" and scheduler is None:
            print(f"{args._parser.prog}: warning: W_NO_DASK: {exc.message}; running in one process",
                  file=sys.stderr)
            yield None
            return
        raise CliError(exc.code, exc.message) from None
    try:
        yield be
    except ClusterError as exc:
        raise CliError(exc.code, exc.message) from None
    finally:
        be.close()
