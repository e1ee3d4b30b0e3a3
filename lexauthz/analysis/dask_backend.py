"""The Dask backend of the bulk analyses (needs the ``lexauthz[dask]`` extra; see :mod:`lexauthz.analysis.cluster`
for what a run ships and how its tasks are merged)."""
from __future__ import annotations

import logging
import pickle
import secrets
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from .cluster import Backend, ClusterError, Run, TaskContext, count_load, versions

__all__ = ["DaskBackend"]


class RunPlugin(WorkerPlugin):
    """The worker plugin of one run: the engines' sealed bytes, their revisions, the versions, the run's data."""

    def __init__(self, name: str, key: bytes, blobs: dict[str, bytes], revisions: dict[str, str], data: bytes,
                 versions_: tuple[str, int]):
        self.name = name
        self.key = key
        self.blobs = blobs
        self.revisions = revisions
        self.data = data
        self.versions = tuple(versions_)
        self.ctx: TaskContext | None = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["ctx"] = None
        return state

    def setup(self, worker) -> None:
        from ..engine import Engine
        from ..errors import PlanFormatError

        where = getattr(worker, "address", "?")
        mine = versions()
        if self.versions != mine:
            raise ClusterError("E_WORKER_VERSION",
                               f"worker {where} has lexauthz {mine[0]} (plan format {mine[1]}) and the client "
                               f"lexauthz {self.versions[0]} (plan format {self.versions[1]}): install the same "
                               "lexauthz on every worker")
        engines = {}
        for name, blob in self.blobs.items():
            try:
                engine = Engine.from_bytes(blob, key=self.key)
            except PlanFormatError as exc:
                raise ClusterError("E_WORKER_LOAD", f"worker {where} could not load engine `{name}`: {exc}") from None
            if engine.revision != self.revisions[name]:
                raise ClusterError("E_WORKER_LOAD", f"worker {where} loaded engine `{name}` as revision "
                                                    f"{engine.revision}, not {self.revisions[name]}")
            count_load(engine.revision)
            engines[name] = engine
        self.ctx = TaskContext(engines, pickle.loads(self.data))

    def teardown(self, worker) -> None:
        self.ctx = None


def run_task(plugin_name: str, fn, args: tuple):
    """One task on a worker: ``fn`` with its run's context and its own arguments."""
    worker = get_worker()
    plugin = worker.plugins.get(plugin_name)
    ctx = getattr(plugin, "ctx", None)
    if ctx is None:
        raise ClusterError("E_WORKER_LOAD", f"run `{plugin_name}` is not set up on worker {worker.address}")
    return fn(ctx, *args)


class DaskRun(Run):
    """A run on a Dask cluster: its plugin is registered on creation and unregistered on :meth:`close`."""

    def __init__(self, backend: "DaskBackend", engines, data):
        self.client = backend.client
        self.window = backend.window
        key = secrets.token_bytes(32)
        self.name = f"lexauthz-run-{secrets.token_hex(8)}"
        plugin = RunPlugin(self.name, key, {n: e.to_bytes(key=key) for n, e in engines.items()},
                           {n: e.revision for n, e in engines.items()},
                           pickle.dumps(dict(data or {}), protocol=pickle.HIGHEST_PROTOCOL), versions())
        try:
            self.client.register_plugin(plugin, name=self.name)
        except ClusterError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ClusterError("E_WORKER_LOAD", f"the run could not be set up on the workers: "
                                                f"{type(exc).__name__}: {exc}") from None

    def map(self, fn, tasks):
        it = iter(enumerate(tasks))
        position: dict[str, int] = {}
        done: dict[int, Any] = {}
        ac = as_completed()
        nxt = 0

        def submit() -> None:
            for i, task in it:
                f = self.client.submit(run_task, self.name, fn, tuple(task), key=f"{self.name}-{i}", pure=False)
                position[f.key] = i
                ac.add(f)
                return

        for _ in range(self.window):
            submit()
        try:
            for f in ac:
                i = position.pop(f.key)
                try:
                    done[i] = f.result()
                except ClusterError:
                    raise
                except Exception as exc:
                    raise ClusterError("E_TASK_FAILED", f"task {i} failed: {type(exc).__name__}: {exc}") from None
                finally:
                    f.release()
                submit()
                while nxt in done:
                    yield done.pop(nxt)
                    nxt += 1
            if position or done:  # a task never came back: never a partial result
                raise ClusterError("E_TASK_FAILED", f"{len(position) + len(done)} tasks of the run gave no result")
        finally:
            for f in list(ac.futures):
                f.cancel()

    def close(self) -> None:
        try:
            self.client.unregister_worker_plugin(self.name)
        except Exception:  # never registered, already gone, or the cluster is: nothing left to undo
            pass


class DaskBackend(Backend):
    """Tasks on a Dask cluster: :meth:`connect` to a running one, or :meth:`local` to start one of worker processes.

    ``window`` bounds the tasks in flight (default four per worker).

    >>> with DaskBackend.local(2) as backend:          # doctest: +SKIP
    ...     m = matrix(account, space, backend=backend)
    """

    name = "dask"

    def __init__(self, client: Client, *, window: int | None = None, own: tuple = ()):
        self.client = client
        self._own = tuple(own)
        self.window = window if window is not None else max(4, 4 * self.workers)

    @classmethod
    def connect(cls, address: str, *, timeout: float | None = None, window: int | None = None) -> "DaskBackend":
        """A backend on the running cluster whose scheduler is at ``address`` (``tcp://host:8786``), waiting at most
        ``timeout`` seconds for it (default: Dask's ``distributed.comm.timeouts.connect``, 30 s unless configured,
        e.g. with ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``)."""
        try:
            client = Client(address, **({} if timeout is None else {"timeout": timeout}))
        except Exception as exc:
            raise ClusterError("E_CLUSTER_CONNECT", f"no Dask scheduler answered at `{address}`: "
                                                    f"{type(exc).__name__}: {exc}") from None
        return cls(client, window=window, own=(client,))

    @classmethod
    def local(cls, n_workers: int, *, threads_per_worker: int = 1, window: int | None = None) -> "DaskBackend":
        """A backend on a new local cluster of ``n_workers`` worker processes, closed with the backend."""
        if n_workers < 1:
            raise ClusterError("E_CLUSTER_CONNECT", "a local cluster needs at least one worker")
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
        return cls(client, window=window, own=(client, cluster))

    @property
    def workers(self) -> int:
        info = self.client.scheduler_info(n_workers=-1)
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def run(self, engines, data=None) -> Run:
        return DaskRun(self, engines, data)

    def close(self) -> None:
        own, self._own = self._own, ()
        for thing in own:
            thing.close()
