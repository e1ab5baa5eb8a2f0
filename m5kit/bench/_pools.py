"""The executors the benchmarks compare: m5kit's Dask cluster, joblib (loky) and a process pool."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from m5kit.bench._common import noop
from m5kit.execution.threads import limit_threads

__all__ = ["Pools", "close_process_pools", "process_pool"]

_PROCESS_POOLS: dict[int, Any] = {}
#: loky stops workers idle for longer (default 300 s: they would restart, cold, inside a measurement).
LOKY_IDLE = 3600


def process_pool(n_workers: int):
    """A spawn ``ProcessPoolExecutor`` whose workers set the one-thread environment (kept per size)."""
    pool = _PROCESS_POOLS.get(n_workers)
    if pool is None:
        import atexit
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=limit_threads, initargs=(True,))
        _PROCESS_POOLS[n_workers] = pool
        if len(_PROCESS_POOLS) == 1:
            atexit.register(close_process_pools)
    return pool


def close_process_pools() -> None:
    """Shut down the process pools the benchmarks started (also done at exit)."""
    while _PROCESS_POOLS:
        _, pool = _PROCESS_POOLS.popitem()
        pool.shutdown(cancel_futures=True)


def _joblib(n_jobs: int, func: Callable, calls: Iterable[tuple]) -> list:
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, backend="loky", idle_worker_timeout=LOKY_IDLE)(delayed(func)(*c) for c in calls)


class Pools:
    """The executors compared, started once and warmed before timing.

    Dask: m5kit's cached LocalCluster of ``n_workers`` single-thread workers;
    joblib: loky's reusable executor; process pool: a spawn-context
    ``ProcessPoolExecutor`` whose initializer sets the one-thread environment.
    All three are kept for the rest of the process (like m5kit's cluster).
    This process sets the same environment, which loky workers inherit.
    """

    def __init__(self, n_workers: int, methods: Iterable[str], warm: Callable | None = None,
                 quiet: float | None = None):
        self.n_workers = n_workers
        self.quiet = quiet
        self.methods = set(methods)
        self.warm = warm
        self.client = None
        self.pool = None
        self._stack = contextlib.ExitStack()
        self.startup: dict[str, float] = {}

    def __enter__(self) -> Pools:
        limit_threads(force=True)
        w = self.n_workers
        if self.methods & {"m5kit", "dask-map"}:
            from m5kit.execution.cluster import open_client

            start = time.perf_counter()
            self.client = self._stack.enter_context(open_client(n_workers=w, dashboard=False))
            self.client.wait_for_workers(w)
            if self.warm is not None:
                self.client.run(self.warm)
            self.startup["dask"] = time.perf_counter() - start
        if "process-pool" in self.methods:
            start = time.perf_counter()
            self.pool = process_pool(w)
            list(self.pool.map(self.warm or noop, [0.5] * (2 * w)))
            self.startup["process-pool"] = time.perf_counter() - start
        if "joblib" in self.methods and w > 1:
            start = time.perf_counter()
            _joblib(w, self.warm or noop, [(0.5,)] * (2 * w))
            self.startup["joblib"] = time.perf_counter() - start
        if "serial" in self.methods and self.warm is not None:
            self.warm()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def run(self, method: str, func: Callable, calls: Sequence[tuple], names: Sequence[str] | None = None) -> list:
        """``func(*call)`` for every call, the way ``method`` runs them; results in order.

        ``m5kit`` runs them as :func:`m5kit.execution.cluster.run_tasks` tasks
        named ``names`` (a call's first item is the task's data).
        """
        if method == "serial":
            return [func(*c) for c in calls]
        if method == "joblib":
            return _joblib(self.n_workers, func, calls)
        if method == "process-pool":
            futures = [self.pool.submit(func, *c) for c in calls]
            return [f.result() for f in futures]
        if method == "dask-map":
            futures = self.client.map(func, *[list(column) for column in zip(*calls)], pure=False)
            return self.client.gather(futures)
        if method == "m5kit":
            from m5kit.execution.cluster import Task, run_tasks

            names = names or [f"g{i}" for i in range(len(calls))]
            outcomes = run_tasks([Task(n, func, c[0], tuple(c[1:])) for n, c in zip(names, calls)], self.client)
            return [o.result for o in outcomes]
        raise ValueError(f"unknown method {method!r}")
