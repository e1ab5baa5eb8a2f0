"""The scaling benchmarks behind ``m5kit bench`` and ``benchmarks/bench_*.py``.

Each benchmark is a function that measures and returns tables (pandas
DataFrames keyed by name, written as ``<name>.csv``); :func:`render` turns
them into the markdown of ``benchmarks/RESULTS.md`` and :func:`plot_speedup`
draws the speedup figure. Nothing here prints: the CLI and the scripts do.

* :func:`dispatch_overhead` and :func:`data_transfer` -- per-task cost of
  Dask (m5kit's :func:`~m5kit.execution.cluster.run_tasks` and raw ``client.map``),
  joblib (loky) and ``ProcessPoolExecutor``, and the cost of moving a group's
  rows to its worker;
* :func:`scaling` -- wall time of a level's fit against the number of
  workers: a serial loop, joblib, a process pool and m5kit's
  GroupedEstimator on the same groups, all running
  :func:`m5kit.grouped._fit_group`, in alternating order, repeated;
* :func:`projection` -- greedy list scheduling of the measured per-group
  durations on more workers than this machine has (a *projection*);
* :func:`fixed_cost` -- what a group costs besides its epochs, by phase, and
  m5kit's fit against the same Keras fit written by hand;
* :func:`backends` -- the same per-group fit on TensorFlow, torch and JAX,
  each in its own process;
* :func:`accuracy` -- WRMSSE per training level for the CNN-LSTM and the
  baselines.

Every worker process runs with :data:`m5kit.execution.threads.THREAD_ENV` (one thread).

Examples
--------
>>> from m5kit.bench import simulate_makespan
>>> simulate_makespan([3.0, 1.0, 1.0, 1.0], n_workers=2)
3.0
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone

from m5kit.execution.threads import THREAD_ENV, limit_threads
from m5kit.store import atomic_write

__all__ = [
    "DISPATCH_METHODS",
    "SCALING_METHODS",
    "FULL_M5_GROUPS",
    "machine_info",
    "dispatch_overhead",
    "data_transfer",
    "scaling",
    "simulate_makespan",
    "project_speedup",
    "projection",
    "fixed_cost",
    "backends",
    "accuracy",
    "save_tables",
    "load_tables",
    "plot_speedup",
    "render",
    "update_results",
    "markdown_table",
    "run_benchmark",
    "close_process_pools",
    "wait_for_quiet",
    "machine_ceiling",
]

logger = logging.getLogger(__name__)

#: Ways of running many trivial tasks compared by :func:`dispatch_overhead`.
#: ``m5kit-before`` (not run by default) is m5kit's dispatch before commit
#: 950edf7: a ``submit`` and a ``future.result()`` per task, then ``client.story``.
DISPATCH_METHODS = ("m5kit", "dask-map", "joblib", "process-pool")
#: Ways of fitting a level compared by :func:`scaling`.
SCALING_METHODS = ("serial", "joblib", "process-pool", "m5kit")
#: Groups per level in the full M5 data (DESIGN.md), for the projection's bounds.
FULL_M5_GROUPS = {1: 1, 2: 3, 3: 10, 4: 3, 5: 7, 6: 9, 7: 21, 8: 30, 9: 70, 10: 3049, 11: 9147, 12: 30490}
#: Full-M5 category counts, to size a group's frame as it would travel at full size.
_FULL_M5_CATEGORIES = {"id": 30490, "item_id": 3049}


# --- machine and bookkeeping ---------------------------------------------------------
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, load and library versions of this machine.

    Returns
    -------
    dict

    Examples
    --------
    >>> info = machine_info()
    >>> info["cores"] >= 1
    True
    """
    import psutil

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ["m5kit", "numpy", "pandas", "scikit-learn", "dask", "distributed", "joblib", "keras",
                "tensorflow-cpu", "tensorflow", "torch", "jax", "scikeras"]
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "versions": {p: v for p in packages if (v := _version(p))},
    }


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have been busy (steal included)."""
    import psutil

    t = psutil.cpu_times()
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


class _CpuClock:
    """CPU seconds used by this process and its children since the clock started,
    and the cores that *other* processes of the machine kept busy meanwhile.

    Counted per process, so that a child that exits (or a new one) does not
    make the difference negative: a child's CPU counts from when it was first
    seen, up to when it was last seen.
    """

    def __init__(self):
        self._start = self._read()
        self._last = dict(self._start)
        self._busy, self._t0 = _busy_seconds(), time.perf_counter()

    def foreign_cores(self) -> float:
        """Cores used by processes outside this process tree since the start (0 on a quiet machine)."""
        mine = self.seconds()
        wall = max(time.perf_counter() - self._t0, 1e-9)
        return max(0.0, (_busy_seconds() - self._busy - mine) / wall)

    @staticmethod
    def _read() -> dict[int, float]:
        import psutil

        me = psutil.Process()
        out = {}
        for proc in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                out[proc.pid] = t.user + t.system
        return out

    def seconds(self) -> float:
        self._last.update(self._read())
        return sum(v - self._start.get(pid, 0.0) for pid, v in self._last.items())


#: Longest wait of :func:`wait_for_quiet` before measuring anyway, seconds.
QUIET_TIMEOUT = 180.0


def wait_for_quiet(max_cores: float | None = 0.25, timeout: float | None = None, sample: float = 2.0) -> float:
    """Wait until other processes use less than ``max_cores`` cores; return what they used.

    On a shared machine a measurement is only worth something when nothing
    else runs. Samples the CPU of processes outside this process tree for
    ``sample`` seconds at a time, for at most ``timeout`` seconds (default
    :data:`QUIET_TIMEOUT`; then measures anyway, and the run records the
    cores others used). ``max_cores=None`` does not wait.
    """
    if max_cores is None:
        return float("nan")
    deadline = time.monotonic() + (QUIET_TIMEOUT if timeout is None else timeout)
    while True:
        clock = _CpuClock()
        time.sleep(sample)
        used = clock.foreign_cores()
        if used < max_cores or time.monotonic() > deadline:
            if used >= max_cores:
                logger.warning("the machine stayed busy (%.2f cores used by other processes): measuring anyway", used)
            return used


def _rotate(seq: Sequence, k: int) -> list:
    k %= max(len(seq), 1)
    return list(seq[k:]) + list(seq[:k])


def _noop(data: Any, *args) -> int:
    """A trivial group task (module level: sent to workers)."""
    return 0


def _nrows(data: Any, *args) -> int:
    """A task that only touches its group's rows."""
    return len(data)


def _rss() -> int:
    """Resident memory of the calling process, bytes (run on workers)."""
    import psutil

    return psutil.Process().memory_info().rss


def _warm_backend(pause: float = 0.0) -> int:
    """Import the Keras backend and run one tiny training step (pool warm-up)."""
    limit_threads()
    import keras

    model = keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(2), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.train_on_batch(np.zeros((2, 4, 2), "float32"), np.zeros((2, 1), "float32"))
    keras.backend.clear_session()
    time.sleep(pause)
    return os.getpid()


class _MeanRegressor(RegressorMixin, BaseEstimator):
    """A per-group model that costs nothing: predicts the training mean.

    Used to measure the framework without Keras (and by the smoke tests).

    Parameters
    ----------
    random_state : int or None
        Accepted (and ignored) so that per-group seeds can be set.
    """

    def __init__(self, random_state: int | None = None):
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y, dtype="float64")
        self.mean_ = y.mean(axis=0)
        return self

    def predict(self, X):
        return np.broadcast_to(self.mean_, (len(X), *np.shape(self.mean_))).astype("float32")


# --- the pools compared ----------------------------------------------------------------
_PROCESS_POOLS: dict[int, Any] = {}
#: loky stops workers idle for longer (default 300 s: they would restart, cold, inside a measurement).
_LOKY_IDLE = 3600


def _process_pool(n_workers: int):
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


class _Pools:
    """The executors compared, started once and warmed before timing.

    Dask: m5kit's cached LocalCluster of ``n_workers`` single-thread workers;
    joblib: loky's reusable executor; process pool: a spawn-context
    ``ProcessPoolExecutor`` whose initializer sets the one-thread environment.
    All three are kept for the rest of the process (like m5kit's cluster).
    This process sets the same environment, which loky workers inherit.
    """

    def __init__(self, n_workers: int, methods: Iterable[str], dashboard: bool = False, warm: Callable | None = None,
                 quiet: float | None = None):
        self.n_workers = n_workers
        self.quiet = quiet
        self.methods = set(methods)
        self.dashboard = dashboard
        self.warm = warm
        self.client = None
        self.pool = None
        self._stack = contextlib.ExitStack()
        self.startup: dict[str, float] = {}

    def __enter__(self) -> _Pools:
        limit_threads(force=True)
        w = self.n_workers
        if self.methods & {"m5kit", "m5kit-before", "dask-map"}:
            from m5kit.execution.cluster import open_client

            start = time.perf_counter()
            self.client = self._stack.enter_context(open_client(n_workers=w, dashboard=self.dashboard))
            self.client.wait_for_workers(w)
            if self.warm is not None:
                self.client.run(self.warm)
            self.startup["dask"] = time.perf_counter() - start
        if "process-pool" in self.methods:
            start = time.perf_counter()
            self.pool = _process_pool(w)
            list(self.pool.map(self.warm or _noop, [0.5] * (2 * w)))
            self.startup["process-pool"] = time.perf_counter() - start
        if "joblib" in self.methods and w > 1:
            from joblib import Parallel, delayed

            start = time.perf_counter()
            Parallel(n_jobs=w, backend="loky", idle_worker_timeout=_LOKY_IDLE)(
                delayed(self.warm or _noop)(0.5) for _ in range(2 * w))
            self.startup["joblib"] = time.perf_counter() - start
        if "serial" in self.methods and self.warm is not None:
            self.warm()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


def _map_tasks(method: str, pools: _Pools, func: Callable, items: Sequence, names: Sequence[str], extra: tuple = ()):
    """Run ``func(item, *extra)`` for every item the way ``method`` does; results in order."""
    w = pools.n_workers
    if method == "serial":
        return [func(item, *extra) for item in items]
    if method == "joblib":
        from joblib import Parallel, delayed

        return Parallel(n_jobs=w, backend="loky", idle_worker_timeout=_LOKY_IDLE)(
            delayed(func)(item, *extra) for item in items)
    if method == "process-pool":
        futures = [pools.pool.submit(func, item, *extra) for item in items]
        return [f.result() for f in futures]
    if method == "dask-map":
        client = pools.client
        futures = client.map(func, list(items), *[[e] * len(items) for e in extra], pure=False)
        return client.gather(futures)
    if method == "m5kit":
        from m5kit.execution.cluster import Task, run_tasks

        outcomes = run_tasks([Task(n, func, item, extra) for n, item in zip(names, items)], pools.client)
        return [o.result for o in outcomes]
    if method == "m5kit-before":
        return _run_tasks_before(pools.client, func, items, names, extra)
    raise ValueError(f"unknown method {method!r}")


def _run_tasks_before(client, func, items, names, extra):
    """m5kit's dispatch before 950edf7, kept to measure what the change bought."""
    from distributed import as_completed

    from m5kit.execution.cluster import task_key, timed

    data = client.scatter(list(items), hash=False)
    futures = {}
    for name, d in zip(names, data):
        fut = client.submit(timed, func, d, *extra, key=task_key("fit", name), retries=2, pure=False)
        futures[fut] = name
    del data
    results = {}
    for fut in as_completed(list(futures), loop=client.loop):
        results[futures[fut]] = fut.result()[0]
        fut.release()
    with contextlib.suppress(Exception):
        client.story(*[f.key for f in futures])
    return [results[n] for n in names]


class _TimedClient:
    """A client proxy that adds up the seconds spent in each client call (phase breakdown)."""

    _PHASES = {"scatter": "scatter", "map": "submit", "submit": "submit", "gather": "gather", "sync": "attempts"}

    def __init__(self, client):
        self._client = client
        self.seconds = dict.fromkeys(set(self._PHASES.values()), 0.0)

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        phase = self._PHASES.get(name)
        if phase is None:
            return attr

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start

        return timed


# --- dispatch overhead ---------------------------------------------------------------------
def dispatch_overhead(
    n_tasks: Sequence[int] = (1000, 10000),
    n_workers: int = 2,
    repetitions: int = 3,
    methods: Sequence[str] = DISPATCH_METHODS,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """Per-task cost of many trivial group tasks, side by side.

    Every way runs ``n`` tasks that return at once, on ``n_workers`` warm
    single-thread worker processes; the order of the ways rotates between
    repetitions. m5kit's runs also record where its own time goes (scatter,
    submit, gather, attempt counting, and waiting for the workers).

    Parameters
    ----------
    n_tasks : sequence of int
        Task counts to measure.
    n_workers : int
        Worker processes of every pool.
    repetitions : int
        Runs of each (way, count); tables give medians.
    methods : sequence of str
        Among ``m5kit``, ``m5kit-before``, ``dask-map``, ``joblib``, ``process-pool``.
    quiet : float or None
        Wait before each run until other processes use fewer cores (see
        :func:`wait_for_quiet`).

    Returns
    -------
    dict of DataFrame
        ``dispatch_runs`` (one row per run) and ``dispatch_summary`` (medians).

    Examples
    --------
    >>> tables = dispatch_overhead([20], repetitions=1, methods=["joblib"])  # doctest: +SKIP
    """
    rows = []
    with _Pools(n_workers, methods, quiet=quiet) as pools:
        for n in n_tasks:
            items, names = list(range(n)), [f"g{i}" for i in range(n)]
            for rep in range(repetitions):
                for order, method in enumerate(_rotate(list(methods), rep)):
                    rows.append(_time_dispatch(method, pools, _noop, items, names, n, rep, order))
    runs = pd.DataFrame(rows)
    return {"dispatch_runs": runs, "dispatch_summary": _dispatch_summary(runs)}


def _time_dispatch(method, pools, func, items, names, n, rep, order, payload="none") -> dict:
    timed = None
    if method == "m5kit":
        timed = _TimedClient(pools.client)
        real, pools.client = pools.client, timed
    wait_for_quiet(pools.quiet)
    load, clock, start = _load(), _CpuClock(), time.perf_counter()
    try:
        _map_tasks(method, pools, func, items, names)
    finally:
        seconds = time.perf_counter() - start
        cpu, foreign = clock.seconds(), clock.foreign_cores()
        if timed is not None:
            pools.client = real
    row = {"method": method, "payload": payload, "n_tasks": n, "n_workers": pools.n_workers, "repetition": rep,
           "order": order, "seconds": seconds, "ms_per_task": 1e3 * seconds / n, "cpu_ms_per_task": 1e3 * cpu / n,
           "load": load, "other_cores": foreign}
    if timed is not None:
        for phase, secs in timed.seconds.items():
            row[f"{phase}_ms_per_task"] = 1e3 * secs / n
        row["wait_ms_per_task"] = row["ms_per_task"] - sum(1e3 * s / n for s in timed.seconds.values())
    return row


def _dispatch_summary(runs: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in runs.columns if c.endswith("_per_task")]
    summary = runs.groupby(["payload", "n_tasks", "method"], sort=False)[cols + ["other_cores"]].median().reset_index()
    summary["runs"] = runs.groupby(["payload", "n_tasks", "method"], sort=False).size().to_numpy()
    return summary


# --- data transfer ---------------------------------------------------------------------
def _level_data(level: int, n_items: int, n_days: int, seed: int, epochs: int = 1, window: int = 28,
                max_windows: int | None = None, estimator=None):
    """The long frame of generated data and the level's GroupedEstimator (template)."""
    from m5kit.datasets import make_m5
    from m5kit.pipeline import DEFAULT_MAX_WINDOWS, make_pipeline

    data = make_m5(n_items=n_items, n_days=n_days, seed=seed)
    pipe = make_pipeline(level, data.calendar, data.prices, epochs=epochs, window=window,
                         max_windows=DEFAULT_MAX_WINDOWS if max_windows is None else max_windows,
                         random_state=seed, estimator=estimator)
    long = pipe[:-1].fit_transform(data.sales)
    return data, long, pipe[-1]


def _with_full_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its id categories as many as in the full M5 (how a slice travels at full size)."""
    out = frame.copy()
    for col, n in _FULL_M5_CATEGORIES.items():
        if col in out and isinstance(out[col].dtype, pd.CategoricalDtype):
            have = list(out[col].cat.categories)
            extra = [f"_pad_{i}" for i in range(max(0, n - len(have)))]
            out[col] = out[col].cat.set_categories(have + extra)
    return out


def data_transfer(
    level: int = 11,
    n_items: int = 20,
    n_days: int = 1913,
    n_tasks: int = 200,
    n_workers: int = 2,
    repetitions: int = 3,
    methods: Sequence[str] = ("m5kit", "joblib", "process-pool"),
    seed: int = 0,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """Cost of moving each group's rows to its worker.

    Runs ``n_tasks`` tasks that only read their group's frame (level-``level``
    groups of generated data, cycled) and the same number of trivial tasks,
    alternating; the difference per task is the cost of moving one group.
    Also reports a group frame's size in memory and pickled, as sliced here
    and with the full M5's 30,490 ``id`` categories (how it travels at full
    size), and with unused categories dropped.

    Returns
    -------
    dict of DataFrame
        ``transfer_runs``, ``transfer_summary`` and ``transfer_frames``.
    """
    import pickle

    _, long, grouped = _level_data(level, n_items, n_days, seed)
    parts = list(grouped._split(long).values())
    frames = [parts[i % len(parts)].copy() for i in range(n_tasks)]
    names = [f"g{i}" for i in range(n_tasks)]
    sample = parts[len(parts) // 2]
    sizes = []
    for label, frame in [("as sliced", sample), ("with full-M5 id categories", _with_full_categories(sample)),
                         ("unused categories dropped", _drop_unused_categories(_with_full_categories(sample)))]:
        start = time.perf_counter()
        blob = pickle.dumps(frame, protocol=5)
        sizes.append({"frame": label, "rows": len(frame), "memory_mb": frame.memory_usage(deep=True).sum() / 1e6,
                      "pickled_mb": len(blob) / 1e6, "pickle_ms": 1e3 * (time.perf_counter() - start)})
    rows = []
    with _Pools(n_workers, methods, quiet=quiet) as pools:
        for rep in range(repetitions):
            for order, method in enumerate(_rotate(list(methods), rep)):
                rows.append(_time_dispatch(method, pools, _nrows, frames, names, n_tasks, rep, 2 * order, "group frame"))
                rows.append(_time_dispatch(method, pools, _noop, list(range(n_tasks)), names, n_tasks, rep, 2 * order + 1))
            if pools.client is not None:  # the scatter alone: client -> worker, one group each
                start = time.perf_counter()
                futures = pools.client.scatter(frames, hash=False)
                secs = time.perf_counter() - start
                rows.append({"method": "dask scatter only", "payload": "group frame", "n_tasks": n_tasks,
                             "n_workers": n_workers, "repetition": rep, "order": -1, "seconds": secs,
                             "ms_per_task": 1e3 * secs / n_tasks, "load": _load(), "other_cores": float("nan")})
                del futures
    runs = pd.DataFrame(rows)
    med = runs.groupby(["method", "payload"])["ms_per_task"].median().unstack("payload")
    summary = pd.DataFrame({
        "method": med.index,
        "ms_per_task_trivial": med.get("none"),
        "ms_per_task_group_frame": med["group frame"],
    }).reset_index(drop=True)
    summary["ms_per_group_moved"] = summary["ms_per_task_group_frame"] - summary["ms_per_task_trivial"].fillna(0.0)
    summary["group_rows"] = len(sample)
    return {"transfer_runs": runs, "transfer_summary": summary, "transfer_frames": pd.DataFrame(sizes)}


def _drop_unused_categories(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].cat.remove_unused_categories()
    return out


# --- scaling ---------------------------------------------------------------------------------
def scaling(
    level: int = 11,
    n_items: int = 20,
    n_days: int = 1913,
    epochs: int = 5,
    workers: Sequence[int] | None = None,
    repetitions: int = 3,
    methods: Sequence[str] = SCALING_METHODS,
    seed: int = 0,
    window: int = 28,
    estimator=None,
    quiet: float | None = 0.25,
    ceiling: bool = True,
) -> dict[str, pd.DataFrame]:
    """Wall time of a whole level fit against the number of workers, side by side.

    For each worker count ``W`` (default ``1 .. cores``): a serial loop,
    joblib (loky, ``n_jobs=W``), a spawn ``ProcessPoolExecutor(W)`` and
    m5kit's GroupedEstimator on m5kit's LocalCluster of ``W`` workers (the
    one ``n_workers=W`` starts, passed as ``client``) fit the same groups of the same
    long frame with the same function (:func:`m5kit.grouped._fit_group`,
    same per-group seeds), every worker on one thread. Each run starts from
    the long frame (splitting it by group is part of every way). Pools are
    started and warmed (backend imported) before timing; their start-up is
    reported apart. The order of the ways rotates between repetitions.
    joblib with ``n_jobs=1`` runs in-process, so it is the serial loop and is
    not run at ``W=1``.

    Parameters
    ----------
    level : int
        M5 level whose groups are fitted.
    n_items, n_days, seed : int
        Size of the generated data (``make_m5``).
    epochs : int
        Epochs per group (early stopping may end sooner).
    workers : sequence of int, optional
        Worker counts; default ``1 .. os.cpu_count()``.
    repetitions : int
    methods : sequence of str
        Among ``serial``, ``joblib``, ``process-pool``, ``m5kit``.
    window : int
        Days per input window.
    estimator : estimator, optional
        Replaces the CNN-LSTM (for instance a trivial model, to time the
        framework alone).
    quiet : float or None
        Before each run, wait (up to :data:`QUIET_TIMEOUT`) until other processes use
        less than this many cores (see :func:`wait_for_quiet`); each run
        records the cores others used during it (``other_cores``).
    ceiling : bool
        Also measure :func:`machine_ceiling` (what the machine allows
        without any framework) at the same worker counts.

    Returns
    -------
    dict of DataFrame
        ``scaling_runs`` (one row per run), ``scaling_groups`` (per-group
        seconds of the serial loop and of m5kit's workers) and
        ``scaling_summary`` (medians, speedup against the serial loop,
        efficiency, and each way's time relative to m5kit) and
        ``scaling_machine`` (see :func:`machine_ceiling`).
    """
    from m5kit.grouped import group_seed

    limit_threads(force=True)
    workers = list(workers or range(1, (os.cpu_count() or 1) + 1))
    _, long, template = _level_data(level, n_items, n_days, seed, epochs=epochs, window=window, estimator=estimator)
    est, win = template._templates()
    warm = _warm_backend if estimator is None else None
    runs, groups = [], []
    for wi, w in enumerate(workers):
        active = [m for m in methods if not (m == "joblib" and w == 1)]
        with _Pools(w, active, warm=warm) as pools:
            for method, secs in pools.startup.items():
                runs.append({"method": method, "workers": w, "kind": "startup", "seconds": secs, "load": _load()})
            for rep in range(repetitions):
                for order, method in enumerate(_rotate(active, rep + wi)):
                    wait_for_quiet(quiet)
                    load, clock, start = _load(), _CpuClock(), time.perf_counter()
                    if method == "m5kit":
                        fitted = clone(template).set_params(client=pools.client).fit(long)
                        per_group = fitted.fit_report_[["group", "seconds", "fit_seconds", "n_windows", "epochs"]]
                    else:
                        parts = template._split(long)
                        # the same work as m5kit's fit: the group's model and its forecast
                        args = [(win, est, group_seed(seed, name), None, int(template.horizon)) for name in parts]
                        results = _fit_all(method, pools, list(parts.values()), args)
                        per_group = pd.DataFrame({"group": list(parts), **{k: [r[k] for r in results] for k in (
                            "seconds", "cpu_seconds", "fit_seconds", "n_windows", "epochs")}})
                    seconds = time.perf_counter() - start
                    runs.append({"method": method, "workers": w, "kind": "fit", "repetition": rep, "order": order,
                                 "seconds": seconds, "cpu_seconds": clock.seconds(), "load": load,
                                 "other_cores": clock.foreign_cores(),
                                 "n_groups": long["group"].nunique()})
                    groups.append(per_group.assign(method=method, workers=w, repetition=rep))
    runs_frame = pd.DataFrame(runs)
    groups_frame = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    tables = {"scaling_runs": runs_frame, "scaling_groups": groups_frame,
              "scaling_summary": _scaling_summary(runs_frame, level, n_items, n_days, epochs)}
    if ceiling:
        tables["scaling_machine"] = machine_ceiling(workers, quiet=quiet)
    return tables


def _spin(kind: str, size: int) -> float:
    """A fixed piece of single-thread work; returns its wall seconds (machine-ceiling probe)."""
    limit_threads()
    start = time.perf_counter()
    if kind == "python":
        total = 0
        for i in range(size):
            total += i * i
    else:
        import keras

        model = _SPIN_MODELS.get(kind)
        if model is None:
            model = _SPIN_MODELS[kind] = _bare_keras_model((28, 20), 1)
            model.optimizer.build(model.trainable_variables)
            model.train_on_batch(np.zeros((256, 28, 20), "float32"), np.zeros((256, 1), "float32"))
            start = time.perf_counter()
        x, y = np.random.default_rng(0).normal(size=(256, 28, 20)).astype("float32"), np.zeros((256, 1), "float32")
        for _ in range(size):
            model.train_on_batch(x, y)
        del keras
    return time.perf_counter() - start


_SPIN_MODELS: dict[str, Any] = {}


def machine_ceiling(workers: Sequence[int], repetitions: int = 3, quiet: float | None = 0.25,
                    kinds: Sequence[str] = ("python", "keras"), scale: float = 1.0) -> pd.DataFrame:
    """How much slower one worker's work gets when ``W`` workers run at once, with no framework at all.

    Runs a fixed single-thread workload (a Python loop; Keras training
    steps of the default network) alone in a pool process, then in ``W``
    pool processes at once. ``slowdown`` = concurrent / alone; the best
    parallel efficiency this machine allows for that work is ``1 / slowdown``
    (less than 1 when the "cores" share a physical core, caches, memory
    bandwidth or a power budget). ``scale`` multiplies the amount of work.

    Returns
    -------
    DataFrame
        One row per (workers, work): ``seconds_alone``, ``seconds_concurrent``,
        ``slowdown``, ``best_efficiency``.
    """
    rows = []
    for w in workers:
        pool = _process_pool(w)
        if "keras" in kinds:
            list(pool.map(_spin, ["keras"] * (2 * w), [3] * (2 * w)))  # build the model in every worker
        for kind in kinds:
            size = max(1, int({"python": 20_000_000, "keras": 60}[kind] * scale))
            alone, together = [], []
            for _ in range(repetitions):
                wait_for_quiet(quiet)
                alone.append(pool.submit(_spin, kind, size).result())
                wait_for_quiet(quiet)
                together.append(statistics.median(pool.map(_spin, [kind] * w, [size] * w)))
            a, t = statistics.median(alone), statistics.median(together)
            rows.append({"workers": w, "work": kind, "seconds_alone": a, "seconds_concurrent": t,
                         "slowdown": t / a, "best_efficiency": a / t})
    return pd.DataFrame(rows)


def _timed_fit_group(frame, windower, estimator, seed, log_dir, horizon=None):
    """:func:`m5kit.grouped._fit_group`, timed where it runs (as m5kit's ``_timed`` does)."""
    from m5kit.grouped import _fit_group

    start, cpu = time.perf_counter(), time.process_time()
    result = _fit_group(frame, windower, estimator, seed, log_dir, horizon)
    return {**result, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


def _fit_all(method, pools, frames, args):
    """Fit every group the way ``method`` does (``_fit_group(frame, *args[i])``, timed)."""
    w = pools.n_workers
    if method == "serial":
        return [_timed_fit_group(f, *a) for f, a in zip(frames, args)]
    if method == "joblib":
        from joblib import Parallel, delayed

        return Parallel(n_jobs=w, backend="loky", idle_worker_timeout=_LOKY_IDLE)(
            delayed(_timed_fit_group)(f, *a) for f, a in zip(frames, args))
    if method == "process-pool":
        futures = [pools.pool.submit(_timed_fit_group, f, *a) for f, a in zip(frames, args)]
        return [f.result() for f in futures]
    raise ValueError(f"unknown method {method!r}")


def _scaling_summary(runs: pd.DataFrame, level, n_items, n_days, epochs) -> pd.DataFrame:
    fits = runs[runs["kind"] == "fit"]
    med = fits.groupby(["workers", "method"], sort=False).agg(
        median_seconds=("seconds", "median"), min_seconds=("seconds", "min"), max_seconds=("seconds", "max"),
        cpu_seconds=("cpu_seconds", "median"), runs=("seconds", "size"),
        other_cores=("other_cores", "median")).reset_index()
    med["cores_used"] = med["cpu_seconds"] / med["median_seconds"]
    serial_cpu = fits[fits["method"] == "serial"]["cpu_seconds"].median()
    med["cpu_vs_serial"] = med["cpu_seconds"] / serial_cpu
    serial = fits[fits["method"] == "serial"]["seconds"].median()
    med["speedup"] = serial / med["median_seconds"]
    med["efficiency"] = med["speedup"] / med["workers"]
    m5 = med[med["method"] == "m5kit"].set_index("workers")["median_seconds"]
    med["vs_m5kit"] = med["median_seconds"] / med["workers"].map(m5)
    med["level"], med["n_items"], med["n_days"], med["epochs"] = level, n_items, n_days, epochs
    return med


# --- projection -----------------------------------------------------------------------------
def simulate_makespan(durations: Sequence[float], n_workers: int, overhead: float = 0.0,
                      dispatch_interval: float = 0.0) -> float:
    """Greedy list scheduling: each task, in order, goes to the first free worker.

    This is how Dask hands ready tasks to free workers. A task costs its
    duration plus ``overhead`` on its worker, and the scheduler releases at
    most one task every ``dispatch_interval`` seconds.

    Parameters
    ----------
    durations : sequence of float
        Seconds of each task, in submission order.
    n_workers : int
    overhead : float
        Seconds added to every task on its worker.
    dispatch_interval : float
        Seconds between two task releases by the (central) scheduler.

    Returns
    -------
    float
        Seconds until the last task ends.

    Examples
    --------
    >>> simulate_makespan([1.0] * 4, n_workers=2)
    2.0
    >>> simulate_makespan([1.0] * 4, n_workers=4, dispatch_interval=0.5)
    2.5
    """
    free = [0.0] * max(int(n_workers), 1)
    heapq.heapify(free)
    end = 0.0
    for i, d in enumerate(durations):
        start = max(heapq.heappop(free), i * dispatch_interval)
        finish = start + float(d) + overhead
        heapq.heappush(free, finish)
        end = max(end, finish)
    return end


def project_speedup(durations: Sequence[float], workers: Sequence[int], serial_seconds: float,
                    fixed_seconds: float = 0.0, overhead: float = 0.0, dispatch_interval: float = 0.0) -> pd.DataFrame:
    """Projected wall time, speedup and efficiency of a fit at each worker count.

    ``wall(W) = fixed_seconds + simulate_makespan(durations, W, ...)``;
    speedup is ``serial_seconds / wall(W)``.

    Examples
    --------
    >>> project_speedup([1.0] * 8, [1, 2, 8], serial_seconds=8.0)["speedup"].tolist()
    [1.0, 2.0, 8.0]
    """
    rows = []
    for w in workers:
        wall = fixed_seconds + simulate_makespan(durations, w, overhead, dispatch_interval)
        rows.append({"workers": int(w), "seconds": wall, "speedup": serial_seconds / wall,
                     "efficiency": serial_seconds / wall / w})
    return pd.DataFrame(rows)


def projection(
    tables: dict[str, pd.DataFrame],
    workers: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    samples: int = 200,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Project the measured level fit to more workers by simulation.

    Inputs are the tables of :func:`scaling` (and optionally of
    :func:`dispatch_overhead` and :func:`accuracy`). The per-group durations
    are m5kit's own (measured on its workers); the per-task dispatch cost is
    the measured m5kit cost per task (``dispatch_summary``, largest count);
    the fixed cost of a fit (splitting, scattering, collecting) is calibrated
    on the measured 1-worker point. Worker counts up to the largest measured
    one use the durations measured at that count; beyond it, those of the
    largest measured count (every core busy, as on a bigger machine). The
    measured points other than the calibration point validate the model.

    Parameters
    ----------
    tables : dict of DataFrame
        Must hold ``scaling_runs`` and ``scaling_groups``.
    workers : sequence of int
    samples, seed : int
        For the projection at the default data size (139 items), durations
        are drawn ``samples`` times (seeded, with replacement) from the
        measured ones; medians are reported.

    Returns
    -------
    dict of DataFrame
        ``projection`` (the measured groups; one row per worker count:
        projected and measured wall time, speedup, efficiency, error),
        ``projection_default`` (the same level at the default size) and
        ``projection_levels`` (per level: group counts, the efficiency they
        allow at most, and projections for the levels whose per-group
        durations were measured by :func:`accuracy`).
    """
    level = int(tables["scaling_summary"]["level"].iloc[0])
    counts = _default_counts(seed)
    interval = _dispatch_interval(tables)
    return {
        "projection": _project(tables, workers, None, samples, seed, busy=True),
        "projection_alone": _project(tables, workers, None, samples, seed, busy=False),
        "projection_default": _project(tables, workers, counts[level], samples, seed, busy=True),
        "projection_default_alone": _project(tables, workers, counts[level], samples, seed, busy=False),
        "projection_levels": _level_bounds(tables, workers, counts, interval, seed),
    }


def _default_counts(seed: int = 0) -> dict[int, int]:
    """Groups per level in the default built-in data (139 items)."""
    from m5kit.datasets import make_m5
    from m5kit.hierarchy import count_groups

    return count_groups(make_m5(n_items=139, n_days=60, horizon=0, seed=seed).sales)


def _project(tables, workers, n_groups, samples, seed, busy: bool = True) -> pd.DataFrame:
    """Simulated wall times; ``busy``: beyond the measured counts, durations as measured with every core
    busy (the largest measured count); otherwise as measured on one worker alone."""
    runs, groups = tables["scaling_runs"], tables["scaling_groups"]
    fits = runs[runs["kind"] == "fit"]
    serial = fits[fits["method"] == "serial"]["seconds"].median()
    measured = fits[fits["method"] == "m5kit"].groupby("workers")["seconds"].median()
    m5 = groups[groups["method"] == "m5kit"]
    durations = {w: m5[m5["workers"] == w].groupby("group", sort=False)["seconds"].median() for w in measured.index}
    interval = _dispatch_interval(tables)
    w1 = min(measured.index)
    base = durations[w1]
    fixed = _fixed_seconds(fits, m5, w1, interval)
    serial_per_group = serial / max(len(base), 1)
    rng = np.random.default_rng(seed)
    rows = []
    for w in sorted(set(workers) | set(measured.index)):
        d = durations[max(m for m in measured.index if m <= w)] if busy else base
        d = d.reindex(base.index).fillna(d.median()).to_numpy()
        if n_groups is None:
            wall = fixed + simulate_makespan(d, w, 0.0, interval)
            serial_w = serial
        else:
            draws = [fixed + simulate_makespan(rng.choice(d, n_groups), w, 0.0, interval) for _ in range(samples)]
            wall, serial_w = float(np.median(draws)), serial_per_group * n_groups
        row = {"workers": w, "projected_seconds": wall, "projected_speedup": serial_w / wall,
               "projected_efficiency": serial_w / wall / w, "label": "projection",
               "n_groups": len(base) if n_groups is None else n_groups,
               "durations": "all cores busy" if busy else "one worker alone"}
        if w in measured.index and n_groups is None:
            row.update(measured_seconds=measured[w], measured_speedup=serial / measured[w],
                       error_pct=100 * (wall - measured[w]) / measured[w],
                       label="calibration" if w == w1 else "validation")
        rows.append(row)
    proj = pd.DataFrame(rows)
    proj["fixed_seconds"], proj["dispatch_ms"] = fixed, 1e3 * interval
    return proj


def _fixed_seconds(fits: pd.DataFrame, m5_groups: pd.DataFrame, workers: int, interval: float) -> float:
    """m5kit's time outside its group tasks (splitting, scattering, collecting) at ``workers``: per run, the
    run's wall time minus the simulated makespan of that run's own group durations; the median over runs.

    Per run, not from medians across runs: runs differ in speed as a whole (a shared machine), and the
    difference between a median run and the medians of its groups is not a cost of m5kit.
    """
    runs = fits[(fits["method"] == "m5kit") & (fits["workers"] == workers)]
    over = []
    for run in runs.itertuples():
        mine = m5_groups[(m5_groups["workers"] == workers) & (m5_groups["repetition"] == run.repetition)]
        if len(mine):
            over.append(run.seconds - simulate_makespan(mine["seconds"].to_numpy(), workers, 0.0, interval))
    return max(0.0, float(np.median(over))) if over else 0.0


def _dispatch_interval(tables) -> float:
    summary = tables.get("dispatch_summary")
    if summary is None or summary.empty:
        return 0.0
    m5 = summary[(summary["method"] == "m5kit") & (summary["payload"] == "none")]
    if m5.empty:
        return 0.0
    return float(m5.sort_values("n_tasks")["ms_per_task"].iloc[-1]) / 1e3


def _level_bounds(tables, workers, counts, interval, seed) -> pd.DataFrame:
    """Per level: group counts, the best efficiency they allow, projections from measured durations."""
    rows = []
    acc = tables.get("accuracy_groups")
    for level, full in FULL_M5_GROUPS.items():
        g = counts[level]
        row = {"level": level, "groups_default": g, "groups_full_m5": full,
               "best_eff_16_default": g / (16 * -(-g // 16)), "best_eff_64_full": full / (64 * -(-full // 64))}
        if acc is not None and level in set(acc["level"]):
            d = acc.loc[acc["level"] == level, "seconds"].to_numpy()
            rng = np.random.default_rng(seed)
            effs = []
            for _ in range(50):
                draw = rng.choice(d, g)
                effs.append(draw.sum() / simulate_makespan(draw, 16, 0.0, interval) / 16)
            row["measured_groups"] = len(d)
            row["median_group_s"] = float(np.median(d))
            row["projected_eff_16_default"] = float(np.median(effs))
        rows.append(row)
    return pd.DataFrame(rows)


# --- fixed cost of a group ------------------------------------------------------------------------
_PHASE_LOG: list[tuple[str, float]] = []
_CLOCK_CLASS = None


def _phase_clock():
    """A Keras callback class that stamps the training phases into ``_PHASE_LOG``."""
    global _CLOCK_CLASS
    if _CLOCK_CLASS is None:
        import keras

        class PhaseClock(keras.callbacks.Callback):
            def _stamp(self, name):
                _PHASE_LOG.append((name, time.perf_counter()))

            def on_train_begin(self, logs=None):
                self._first = True
                self._stamp("train_begin")

            def on_train_batch_end(self, batch, logs=None):
                if self._first:
                    self._first = False
                    self._stamp("first_batch")

            def on_epoch_end(self, epoch, logs=None):
                self._stamp(f"epoch_end_{epoch}")

            def on_train_end(self, logs=None):
                self._stamp("train_end")

        _CLOCK_CLASS = PhaseClock
    return _CLOCK_CLASS


def _bare_keras_model(shape: tuple, n_out: int, jit_compile: bool | str = "auto"):
    """The default CNN-LSTM (Conv1D 16/7 causal, pool 2, LSTM 32, batch norm, dense) in plain Keras."""
    import keras

    inputs = keras.Input(shape=shape)
    x = keras.layers.Conv1D(16, 7, padding="causal", activation="relu")(inputs)
    x = keras.layers.MaxPooling1D(2, padding="same")(x)
    x = keras.layers.LSTM(32)(x)
    x = keras.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.Dense(n_out)(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError()], jit_compile=jit_compile)
    return model


def _bare_keras_fit(X, y, epochs: int, seed: int, batch_size: int = 256, validation_split: float = 0.1,
                    patience: int = 3, matched: bool = False):
    """The default CNN-LSTM written by hand in plain Keras (the reference for m5kit's wrapper cost).

    With Keras' defaults (``jit_compile="auto"``: XLA on TensorFlow), or
    ``matched`` to m5kit's settings (``jit_compile=False`` and the
    optimizer's slots built before ``fit``, which spares TensorFlow a second
    trace of the first step).
    """
    import keras

    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    model = _bare_keras_model(X.shape[1:], 1 if y.ndim == 1 else y.shape[1], jit_compile=False if matched else "auto")
    if matched:
        model.optimizer.build(model.trainable_variables)
    model.fit(X, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split, shuffle=True, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)])
    return model


_REUSED: dict[tuple, tuple] = {}


def _bare_keras_reused_fit(X, y, epochs: int, seed: int, batch_size: int = 256, validation_split: float = 0.1,
                           patience: int = 3):
    """The same fit on a model built and compiled once per process and input shape.

    Each group resets the weights (to the first build's initial values) and
    the optimizer's state, so the traced train and test steps are reused:
    what a worker could do instead of rebuilding the model per group.
    """
    import keras

    n_out = 1 if y.ndim == 1 else y.shape[1]
    key = (tuple(X.shape[1:]), n_out)
    if key not in _REUSED:
        model = _bare_keras_model(X.shape[1:], n_out, jit_compile=False)
        model.optimizer.build(model.trainable_variables)
        _REUSED[key] = (model, model.get_weights())
    model, initial = _REUSED[key]
    model.set_weights(initial)
    for v in model.optimizer.variables:
        v.assign(np.zeros(v.shape, dtype=v.dtype))
    keras.utils.set_random_seed(seed)
    model.fit(X, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split, shuffle=True, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)])
    return model


def fixed_cost(
    level: int = 11,
    n_items: int = 4,
    n_days: int = 1000,
    epochs: int = 3,
    n_groups: int = 6,
    seed: int = 0,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """What a group costs besides its epochs, and m5kit's fit against bare Keras.

    In this process, on one thread, after one warm-up fit (reported as
    ``first fit in a fresh process``): each of ``n_groups`` groups is fitted
    with :func:`m5kit.grouped._fit_group` at 1 and at ``epochs`` epochs
    (rotating order); then, in a second pass, by the same network written by
    hand in Keras (same windows, epochs, batch, hold-out and early stopping;
    once with Keras' compile defaults, once with m5kit's); then, in a third
    pass, by that network built and compiled once per process and reused
    with reset weights and optimizer. The passes are apart because the
    hand-written fits clear Keras' session and set TensorFlow's global seed,
    which empties TensorFlow's function caches (an m5kit fit right after one
    would trace again, which never happens on a worker). The fixed cost is
    ``t(1 epoch) - per-epoch time``, the per-epoch time being the slope
    between the 1- and the ``epochs``-epoch fit. Phases of the 1-epoch fit are stamped by a Keras
    callback; what travels (the group's frame out, the fitted result back)
    is pickled and timed too.

    Returns
    -------
    dict of DataFrame
        ``fixed_cost_groups`` (one row per group) and ``fixed_cost_summary``
        (medians, one row per quantity).
    """
    import pickle

    from m5kit.grouped import _fit_group, group_seed

    limit_threads(force=True)
    _, long, template = _level_data(level, n_items, n_days, seed, epochs=epochs)
    est, win = template._templates()
    phase_clock = _phase_clock()
    parts = list(template._split(long).items())
    start = time.perf_counter()
    _fit_group(parts[0][1], win, est, 0, None)
    first = time.perf_counter() - start
    rows = []
    # m5kit's fits in a pass of their own: the bare-Keras fits below clear Keras' session and set
    # TensorFlow's global seed, which empties TensorFlow's function caches, so an m5kit fit right after
    # one would trace again (what a worker that only runs m5kit fits never does).
    for g, (name, frame) in enumerate(parts[1 : n_groups + 1]):
        s = group_seed(seed, name)
        wait_for_quiet(quiet)
        clock = _CpuClock()
        row: dict[str, Any] = {"group": name, "first_fit_in_process": first}
        for step in _rotate(["one", "many"], g):
            if step == "one":
                _PHASE_LOG.clear()
                t0 = time.perf_counter()
                res = _fit_group(frame, win, clone(est).set_params(epochs=1, callbacks=[phase_clock]), s, None)
                t_end = time.perf_counter()
                row.update(_phases(t0, t_end, res))
                row["seconds_1_epoch"] = t_end - t0
                t0 = time.perf_counter()
                row["frame_mb"] = len(pickle.dumps(frame, protocol=5)) / 1e6
                row["frame_pickle_s"] = time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                res = _fit_group(frame, win, est, s, None)
                row["seconds_k_epochs"], row["epochs_run"] = time.perf_counter() - t0, res["epochs"]
                row["n_windows"] = res["n_windows"]
                t0 = time.perf_counter()
                blob = pickle.dumps(res, protocol=5)  # what travels back to the client
                row["result_pickle_s"], row["result_mb"] = time.perf_counter() - t0, len(blob) / 1e6
        row["other_cores"] = clock.foreign_cores()
        rows.append(row)
    # The same network by hand in Keras, with Keras' compile defaults and with m5kit's settings.
    for g, (row, (name, frame)) in enumerate(zip(rows, parts[1 : n_groups + 1])):
        s = group_seed(seed, name)
        wait_for_quiet(quiet)
        for step in _rotate(["bare", "bare_matched"], g):
            t0 = time.perf_counter()
            X, y = clone(win).fit(frame).make_training_data(frame)
            model = _bare_keras_fit(X, y, epochs, s, matched=step == "bare_matched")
            key = "bare_keras_seconds" if step == "bare" else "bare_keras_matched_seconds"
            row[key] = time.perf_counter() - t0
            row["bare_epochs_run"] = len(model.history.history.get("loss", []))
    for row in rows:
        span = max(row["epochs_run"] - 1, 1)
        row["per_epoch_s"] = (row["seconds_k_epochs"] - row["seconds_1_epoch"]) / span
        row["fixed_s"] = row["seconds_1_epoch"] - row["per_epoch_s"]
        row["m5kit_vs_bare"] = row["seconds_k_epochs"] / row["bare_keras_seconds"]
        row["m5kit_vs_bare_matched"] = row["seconds_k_epochs"] / row["bare_keras_matched_seconds"]
    # One model per process, reused with reset weights: its own pass, with no other Keras work in between.
    X0, y0 = clone(win).fit(parts[0][1]).make_training_data(parts[0][1])
    _bare_keras_reused_fit(X0, y0, 1, 0)  # builds the reused model once
    for row, (name, frame) in zip(rows, parts[1 : n_groups + 1]):
        wait_for_quiet(quiet)
        X, y = clone(win).fit(frame).make_training_data(frame)
        for k in (1, epochs):
            t0 = time.perf_counter()
            _bare_keras_reused_fit(X, y, k, group_seed(seed, name))
            row[f"reused_model_seconds_{'1' if k == 1 else 'k'}"] = time.perf_counter() - t0
        reused_epoch = (row["reused_model_seconds_k"] - row["reused_model_seconds_1"]) / max(row["epochs_run"] - 1, 1)
        row["reused_model_fixed_s"] = row["reused_model_seconds_1"] - reused_epoch
    frame = pd.DataFrame(rows)
    numeric = frame.drop(columns=["group"]).median()
    summary = pd.DataFrame({"quantity": numeric.index, "median": numeric.to_numpy()})
    return {"fixed_cost_groups": frame, "fixed_cost_summary": summary}


def _phases(t0: float, t_end: float, res: dict) -> dict[str, float]:
    """Seconds of each phase of a 1-epoch fit, from the callback's stamps."""
    stamps = dict(_PHASE_LOG)
    begin, first = stamps.get("train_begin", t0), stamps.get("first_batch", t0)
    epoch0, train_end = stamps.get("epoch_end_0", first), stamps.get("train_end", t_end)
    prepare = res["prepare_seconds"]
    return {
        "phase_windowing_s": prepare,
        "phase_build_compile_s": begin - t0 - prepare,
        "phase_first_step_s": first - begin,
        "phase_rest_of_epoch_s": epoch0 - first,
        "phase_after_training_s": t_end - train_end + (train_end - epoch0),
    }


# --- Keras backends ------------------------------------------------------------------------------
def backends(
    names: Sequence[str] = ("tensorflow", "torch", "jax"),
    level: int = 11,
    n_items: int = 4,
    n_days: int = 1000,
    epochs: int = 3,
    n_groups: int = 6,
    seed: int = 0,
    python: str | None = None,
    timeout: float = 1800.0,
    two_workers: bool = True,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """The same per-group fit on each Keras backend, each in its own process.

    Each backend runs in a fresh interpreter (``python``, default this one)
    with ``KERAS_BACKEND`` set and the one-thread environment. A name
    ``"<backend>+jit"`` runs that backend with ``model__jit_compile=True``
    (JAX only compiles its training step with it). It reports
    import time, the first fit (import, build, tracing), then for
    ``n_groups`` groups the seconds of a 1-epoch and an ``epochs``-epoch fit
    of :func:`m5kit.grouped._fit_group` (hence seconds per epoch and fixed
    cost), the cores actually used (CPU time / wall time), the process's
    memory, and the 2-worker speedup of m5kit over the serial loop on the
    same groups (with the workers' memory; skipped with
    ``two_workers=False``). A backend that is not installed or fails gets a
    row saying so.

    Returns
    -------
    dict of DataFrame
        ``backends`` (one row per backend).
    """
    rows = []
    for name in names:
        backend, _, variant = name.partition("+")
        config = {"backend": backend, "variant": variant, "level": level, "n_items": n_items, "n_days": n_days,
                  "epochs": epochs, "n_groups": n_groups, "seed": seed, "two_workers": two_workers}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            config["out"] = str(out)
            env = {**os.environ, **THREAD_ENV, "KERAS_BACKEND": backend}
            cmd = [python or sys.executable, "-c", "from m5kit.bench import _backend_child; _backend_child()",
                   json.dumps(config)]
            wait_for_quiet(quiet)
            clock = _CpuClock()
            start = time.perf_counter()
            try:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
                error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]
            except subprocess.TimeoutExpired:
                error = f"timed out after {timeout:g} s"
            row = json.loads(out.read_text()) if out.exists() else {}
            row["backend"] = name
            row.setdefault("error", error)
            row["process_seconds"] = time.perf_counter() - start
            row["other_cores"] = clock.foreign_cores()
            row["python"] = python or sys.executable
        rows.append(row)
    return {"backends": pd.DataFrame(rows)}


def _backend_child() -> None:
    """Entry point of one backend's process (see :func:`backends`); writes JSON to ``config['out']``."""
    config = json.loads(sys.argv[-1])
    out = Path(config["out"])
    result: dict[str, Any] = {"backend": config["backend"]}
    try:
        _backend_measure(config, result)
    except ImportError as exc:
        result["error"] = f"not installed: {exc}"
    except Exception as exc:  # a backend that fails is reported, not fatal
        result["error"] = f"{type(exc).__name__}: {exc}"
    with atomic_write(out, "w") as fh:
        fh.write(json.dumps(result, default=float))


def _backend_measure(config: dict, result: dict) -> None:
    import psutil

    from m5kit.grouped import _fit_group, group_seed

    limit_threads(force=True)
    me = psutil.Process()
    start = time.perf_counter()
    import keras

    result["import_seconds"] = time.perf_counter() - start
    result["keras_backend"] = keras.backend.backend()
    result["backend_version"] = _version({"tensorflow": "tensorflow-cpu", "torch": "torch", "jax": "jax"}
                                         .get(result["keras_backend"], result["keras_backend"])) or _version("tensorflow")
    if result["keras_backend"] != config["backend"]:
        raise RuntimeError(f"asked for {config['backend']}, Keras runs {result['keras_backend']}")
    _, long, template = _level_data(config["level"], config["n_items"], config["n_days"], config["seed"],
                                    epochs=config["epochs"])
    est, win = template._templates()
    if config.get("variant") == "jit":
        est = clone(est).set_params(model__jit_compile=True)
        template = clone(template).set_params(estimator=est)
    parts = list(template._split(long).items())
    start = time.perf_counter()
    _fit_group(parts[0][1], win, clone(est).set_params(epochs=1), 0, None)
    result["first_fit_seconds"] = time.perf_counter() - start
    chosen = parts[1 : config["n_groups"] + 1]
    ones, manys, epochs_run, cores = [], [], [], []
    for name, frame in chosen:
        s = group_seed(config["seed"], name)
        for k in (1, config["epochs"]):
            cpu0, t0 = sum(me.cpu_times()[:2]), time.perf_counter()
            res = _fit_group(frame, win, clone(est).set_params(epochs=k), s, None)
            wall = time.perf_counter() - t0
            cores.append((sum(me.cpu_times()[:2]) - cpu0) / wall)
            (ones if k == 1 else manys).append(wall)
            if k != 1:
                epochs_run.append(res["epochs"])
    per_epoch = [(m - o) / max(e - 1, 1) for o, m, e in zip(ones, manys, epochs_run)]
    result.update(
        seconds_per_group=statistics.median(manys), seconds_per_epoch=statistics.median(per_epoch),
        fixed_seconds=statistics.median([o - p for o, p in zip(ones, per_epoch)]),
        epochs=config["epochs"], epochs_run=statistics.median(epochs_run), cores_used=statistics.median(cores),
        rss_mb=me.memory_info().rss / 2**20, n_groups=len(chosen),
    )
    if not config.get("two_workers", True):
        return
    # 2 workers against the serial loop, same groups
    names = [n for n, _ in chosen]
    subset = long[long["group"].astype(str).isin(names)]
    subset = subset.assign(group=subset["group"].cat.remove_unused_categories())
    start = time.perf_counter()
    for name, frame in template._split(subset).items():
        _fit_group(frame, win, est, group_seed(config["seed"], name), None)
    serial = time.perf_counter() - start
    from m5kit.execution.cluster import close_local_clusters, open_client

    with open_client(n_workers=2, dashboard=False) as client:
        client.wait_for_workers(2)
        client.run(_fit_group, parts[0][1], win, clone(est).set_params(epochs=1), 0, None)  # first fit: not timed
        start = time.perf_counter()
        clone(template).set_params(client=client).fit(subset)
        parallel = time.perf_counter() - start
        result["worker_rss_mb"] = statistics.median(client.run(_rss).values()) / 2**20
    close_local_clusters()
    result.update(serial_seconds=serial, two_worker_seconds=parallel, speedup_2=serial / parallel)


# --- accuracy --------------------------------------------------------------------------------------
def accuracy(
    levels: Sequence[int] = (3, 9, 11, 12),
    n_items: int = 10,
    n_days: int = 1913,
    epochs: int = 3,
    n_workers: int = 2,
    seed: int = 0,
    estimator=None,
) -> dict[str, pd.DataFrame]:
    """WRMSSE on the built-in holdout per training level, with the baselines.

    For each level, ``make_pipeline(level, ...)`` is fitted on
    ``make_m5(n_items, n_days, seed)`` on m5kit's LocalCluster of ``n_workers`` workers and
    forecasts the 28 held-out days; :func:`m5kit.runs.score_forecasts`
    scores it with Naive, seasonal Naive and the moving average on all 12
    levels. The per-group fit reports are kept (the projection uses them).

    Returns
    -------
    dict of DataFrame
        ``accuracy`` (WRMSSE: one row per evaluated level and ``all``, one
        column per forecast), ``accuracy_groups`` (per-group fit report of
        each training level) and ``accuracy_counts`` (groups per level in the
        default 139-item data and in this data).
    """
    from m5kit.datasets import make_m5
    from m5kit.hierarchy import count_groups
    from m5kit.pipeline import make_pipeline
    from m5kit.runs import baseline_forecasts, score_forecasts

    from m5kit.execution.cluster import open_client

    limit_threads(force=True)
    data = make_m5(n_items=n_items, n_days=n_days, seed=seed)
    forecasts, reports, timing = {}, [], []
    with open_client(n_workers=n_workers, dashboard=False) as client:
        for level in levels:
            pipe = make_pipeline(level, data.calendar, data.prices, client=client, epochs=epochs,
                                 random_state=seed, estimator=estimator)
            start = time.perf_counter()
            pipe.fit(data.sales)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            forecasts[f"CNN-LSTM level {level}"] = pipe.predict(data.sales)
            timing.append({"level": level, "level_fit_seconds": fit_s,
                           "level_predict_seconds": time.perf_counter() - start})
            reports.append(pipe[-1].fit_report_.assign(level=level))
    forecasts.update(baseline_forecasts(data.sales))
    scores = score_forecasts(data, forecasts)
    default_counts = count_groups(make_m5(n_items=139, n_days=60, horizon=0, seed=seed).sales)
    here = count_groups(data.sales)
    counts = pd.DataFrame({"level": list(default_counts), "groups": list(default_counts.values()),
                           "groups_here": [here[k] for k in default_counts]})
    groups = pd.concat(reports, ignore_index=True).merge(pd.DataFrame(timing), on="level")
    return {"accuracy": scores, "accuracy_groups": groups, "accuracy_counts": counts}


# --- output -------------------------------------------------------------------------------------------
def save_tables(tables: dict[str, pd.DataFrame], directory: str | os.PathLike) -> list[Path]:
    """Write each table as ``<directory>/<name>.csv``; return the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        with atomic_write(path, "w") as fh:
            frame.to_csv(fh, index=False)
        paths.append(path)
    return paths


def load_tables(directory: str | os.PathLike, names: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Read the tables ``names`` back from ``directory`` (missing ones are left out)."""
    out = {}
    for name in names:
        path = Path(directory) / f"{name}.csv"
        if path.exists():
            out[name] = pd.read_csv(path)
    return out


def plot_speedup(tables: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Speedup against workers: measured ways (solid) and the projection (dashed).

    Needs ``scaling_summary``; draws ``projection`` when present.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = tables["scaling_summary"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    top = int(summary["workers"].max())
    proj = tables.get("projection")
    if proj is not None and not proj.empty:
        top = max(top, int(proj["workers"].max()))
        ax.plot(proj["workers"], proj["projected_speedup"], "--", marker="x", color="tab:red",
                label="m5kit, projection (every core busy)")
        alone = tables.get("projection_alone")
        if alone is not None and not alone.empty:
            ax.plot(alone["workers"], alone["projected_speedup"], "--", marker="+", color="tab:purple",
                    label="m5kit, projection (one worker alone)")
    ax.plot([1, top], [1, top], ":", color="grey", label="ideal")
    for method, part in summary.groupby("method", sort=False):
        part = part.sort_values("workers")
        ax.plot(part["workers"], part["speedup"], "-", marker="o", label=f"{method}, measured")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("workers (one thread each)")
    ax.set_ylabel("speedup over the serial loop")
    level = int(summary["level"].iloc[0])
    ax.set_title(f"Level {level} fit: measured (2 cores) and projected")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of ``frame`` (floats to ``digits`` significant digits).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.23456], "b": ["x"]})))
    | a | b |
    |---|---|
    | 1.23 | x |
    """

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _machine_line(info: dict) -> str:
    v = info.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("numpy", "pandas", "scikit-learn", "dask", "distributed", "joblib",
                                               "keras", "tensorflow-cpu", "torch", "jax") if k in v)
    return (f"{info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB, Python {info['python']}; {libs}; "
            f"load average at start {info['load_average'][0]}")


def render(name: str, tables: dict[str, pd.DataFrame], command: str, info: dict, figure: str | None = None) -> str:
    """Markdown of one benchmark's results: command, machine, tables and the targets read from them."""
    head = [f"Command: `{command}`  ", f"Machine: {_machine_line(info)}  ",
            f"Measured {time.strftime('%Y-%m-%d %H:%M')}; medians of the repetitions; the machine was shared "
            "with other jobs (load average per run in the CSV).", "", ""]
    body = _RENDER[name](tables)
    if figure:
        body += f"\n\n![speedup]({figure})"
    return "\n".join(head) + body


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _render_dispatch(t):
    s = t["dispatch_summary"]
    cols = ["n_tasks", "method", "ms_per_task", "cpu_ms_per_task", "runs", "other_cores"]
    text = ["Per-task cost of trivial tasks (wall ms per task = run time / tasks; CPU ms = CPU of this process "
            "and all workers / tasks):", "", markdown_table(s[cols])]
    phase_cols = [c for c in s.columns if c.endswith("_ms_per_task") and c.split("_")[0] in
                  ("scatter", "submit", "gather", "attempts", "wait")]
    m5 = s[s["method"] == "m5kit"]
    if phase_cols and not m5.empty:
        text += ["", "Where m5kit's time goes (ms per task, client side; `wait` = waiting for the workers and the "
                 "scheduler):", "", markdown_table(m5[["n_tasks", *phase_cols]])]
        big = m5.sort_values("n_tasks").iloc[-1]
        text += ["", f"Target: <= 5 ms per task at {int(big['n_tasks']):,} tasks: "
                 f"{big['ms_per_task']:.2f} ms, {_verdict(big['ms_per_task'] <= 5.0)}."]
    if "transfer_summary" in t:
        tr = t["transfer_summary"]
        text += ["", "Moving a group's rows to its worker (tasks that read a level-11 group frame minus trivial "
                 "tasks, same run):", "", markdown_table(tr),
                 "", "A level-11 group frame:", "", markdown_table(t["transfer_frames"])]
    return "\n".join(text)


def _render_scaling(t):
    s = t["scaling_summary"]
    first = s.iloc[0]
    text = [f"Level {int(first['level'])} of `make_m5(n_items={int(first['n_items'])}, n_days={int(first['n_days'])})`"
            f", {int(t['scaling_runs']['n_groups'].dropna().iloc[0])} groups, {int(first['epochs'])} epochs per group. "
            "Speedup against the serial loop's median; `vs_m5kit` = the way's time / "
            "m5kit's time at the same workers (> 1: slower than m5kit); `cpu_seconds` = CPU of this process and "
            "all workers during the run (robust to other jobs, unlike wall time); `other_cores` = cores that other "
            "processes of the machine used during the run (0 = quiet machine).", "",
            markdown_table(s[["workers", "method", "median_seconds", "min_seconds", "max_seconds", "speedup",
                              "efficiency", "vs_m5kit", "cpu_seconds", "cpu_vs_serial", "cores_used", "other_cores",
                              "runs"]])]
    start = t["scaling_runs"]
    start = start[start["kind"] == "startup"]
    if not start.empty:
        text += ["", "Pool start-up and warm-up (backend import in every worker), not in the times above: "
                 + ", ".join(f"{r.method} W={r.workers}: {r.seconds:.1f} s" for r in start.itertuples()) + "."]
    if "scaling_machine" in t:
        text += ["", "What the machine allows without any framework: a fixed single-thread workload alone in one "
                 "process, then in W processes at once (`best_efficiency` = alone / concurrent):", "",
                 markdown_table(t["scaling_machine"])]
    m5 = s[s["method"] == "m5kit"].set_index("workers")
    if 2 in m5.index:
        eff = m5.loc[2, "efficiency"]
        text += ["", f"Target: efficiency >= 0.95 at 2 workers: {eff:.3f}, {_verdict(eff >= 0.95)}."]
    others = s[s["method"].isin(["joblib", "process-pool"])]
    if not others.empty:
        worst = others["vs_m5kit"].min()
        text += [f"Target: m5kit at least as fast as joblib and the process pool at every worker count: "
                 f"the fastest other way takes {worst:.3f}x m5kit's time, {_verdict(worst >= 1.0)}."]
    return "\n".join(text)


def _render_projection(t):
    p = t["projection"]
    cols = [c for c in ["workers", "label", "n_groups", "projected_seconds", "projected_speedup",
                        "projected_efficiency", "measured_seconds", "measured_speedup", "error_pct"] if c in p]
    text = ["Greedy list scheduling of m5kit's measured per-group durations (each task in order to the first free "
            f"worker; time outside the group tasks {p['fixed_seconds'].iloc[0]:.2f} s per fit, calibrated on the 1-worker runs (each run minus its own groups); "
            f"scheduler dispatch {p['dispatch_ms'].iloc[0]:.2f} ms per task from the dispatch benchmark). "
            "Rows labelled `projection` are simulated, not measured. Up to the largest measured worker count "
            "each count uses the durations measured at it; beyond it, two variants: the durations measured "
            "with every core busy (this table: the machine's per-core slowdown carried over) and the durations "
            "of one worker alone (no slowdown; scheduling and granularity only).", "", markdown_table(p[cols])]
    val = p[p["label"] == "validation"]
    if not val.empty:
        err = val["error_pct"].abs().max()
        text += ["", f"Validation against the measured points: largest error {err:.1f}% "
                 f"({_verdict(err <= 10.0)}, target within 10%)."]
    if "projection_alone" in t:
        a = t["projection_alone"]
        text += ["", "Durations of one worker alone (projection):", "",
                 markdown_table(a[["workers", "projected_seconds", "projected_speedup", "projected_efficiency"]])]
    for key, label in (("projection_default", "every core busy"), ("projection_default_alone", "one worker alone")):
        if key not in t:
            continue
        q = t[key]
        row = q[q["workers"] == 16]
        text += ["", f"The same level at the default size ({int(q['n_groups'].iloc[0])} groups, durations drawn "
                 f"from the measured ones ({label}), median of 200 draws):", "",
                 markdown_table(q[["workers", "projected_seconds", "projected_speedup", "projected_efficiency"]])]
        if not row.empty:
            e = row["projected_efficiency"].iloc[0]
            text += ["", f"Target: projected efficiency >= 0.90 at 16 workers ({label}): {e:.3f}, {_verdict(e >= 0.9)}."]
    lv = t.get("projection_levels")
    if lv is not None:
        text += ["", "Per level: the group count bounds the speedup (a group is one task); `best_eff_*` = "
                 "groups / (workers x ceil(groups / workers)), the bound for groups of equal size; "
                 "`projected_eff_16_default`: simulation with per-group durations drawn from those measured in the "
                 "accuracy run (2 workers):", "", markdown_table(lv)]
    return "\n".join(text)


def _render_fixed(t):
    s = t["fixed_cost_summary"]
    q = dict(zip(s["quantity"], s["median"]))
    text = [markdown_table(s), "",
            f"Target: fixed cost of a group <= 0.5 s (median): {q['fixed_s']:.2f} s, {_verdict(q['fixed_s'] <= 0.5)}.",
            f"Target: m5kit's per-group fit within 10% of the same Keras fit by hand: "
            f"{q['m5kit_vs_bare_matched']:.3f}x the hand-written fit with m5kit's settings (jit_compile=False, "
            f"optimizer built first); {q['m5kit_vs_bare']:.3f}x the hand-written fit with Keras' defaults, "
            f"{_verdict(q['m5kit_vs_bare_matched'] <= 1.10)}."]
    return "\n".join(text)


def _render_backends(t):
    b = t["backends"]
    cols = [c for c in ["backend", "backend_version", "seconds_per_group", "seconds_per_epoch", "fixed_seconds",
                        "first_fit_seconds", "import_seconds", "cores_used", "rss_mb", "worker_rss_mb", "speedup_2",
                        "epochs_run", "n_groups", "other_cores", "error"] if c in b]
    return markdown_table(b[cols])


def _render_accuracy(t):
    a = t["accuracy"]
    text = ["WRMSSE on the 28 held-out days (lower is better); rows are the evaluation levels, columns the "
            "forecasts (CNN-LSTM trained per group of the named level).", "", markdown_table(a, digits=4)]
    g = t.get("accuracy_groups")
    if g is not None and not g.empty:
        per = g.groupby("level").agg(groups=("group", "size"), median_group_s=("seconds", "median"),
                                     level_fit_s=("level_fit_seconds", "first"),
                                     level_predict_s=("level_predict_seconds", "first"))
        text += ["", markdown_table(per.reset_index())]
    return "\n".join(text)


_RENDER = {"dispatch": _render_dispatch, "scaling": _render_scaling, "projection": _render_projection,
           "fixed-cost": _render_fixed, "backends": _render_backends, "accuracy": _render_accuracy}


def update_results(path: str | os.PathLike, heading: str, block: str, key: str) -> Path:
    """Put ``block`` into the ``## heading`` section of a markdown file.

    Only the text between ``<!-- bench:key:start -->`` and ``<!-- bench:key:end -->``
    is replaced, so notes written by hand around it stay; a missing section
    is appended at the end. Other sections are left untouched.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    generated = f"{start}\n{block.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + generated + rest.split(end, 1)[1]
    elif f"\n## {heading}\n" in f"\n{text}":
        lines = text.split("\n")
        i = lines.index(f"## {heading}")
        j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
        text = "\n".join(lines[:j]).rstrip("\n") + f"\n\n{generated}\n\n" + "\n".join(lines[j:])
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n{generated}\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path



# --- one entry point for the CLI and the scripts ------------------------------------------------------
#: Section heading in RESULTS.md of each benchmark.
HEADINGS = {
    "dispatch": "Dispatch overhead per task",
    "scaling": "Speedup and parallel efficiency versus workers",
    "projection": "Projection beyond this machine (simulated)",
    "fixed-cost": "Fixed cost of a group",
    "backends": "Keras backends",
    "accuracy": "Accuracy: WRMSSE per training level",
}
_NEEDS = {"projection": ["scaling_runs", "scaling_groups", "scaling_summary", "dispatch_summary", "accuracy_groups"]}
_PLOT_TABLES = ["scaling_summary", "projection", "projection_alone"]


def run_benchmark(name: str, output: str | os.PathLike = "benchmarks/results", results: str | os.PathLike | None = None,
                  command: str = "", **params) -> tuple[dict[str, pd.DataFrame], str]:
    """Run one benchmark, write its CSVs (and plot), render its markdown.

    Parameters
    ----------
    name : {"dispatch", "scaling", "projection", "fixed-cost", "backends", "accuracy"}
    output : path
        Folder of the CSV and PNG files. ``projection`` reads the other
        benchmarks' tables from it.
    results : path, optional
        A RESULTS.md whose section of this benchmark is updated.
    command : str
        The command line to record.
    **params
        Passed to the benchmark function; ``dispatch`` also takes
        ``transfer_tasks`` (default 200; 0 skips :func:`data_transfer`),
        ``transfer_items`` (default 20) and ``transfer_days`` (default 1913).

    Returns
    -------
    tables : dict of DataFrame
    markdown : str

    Examples
    --------
    >>> tables, text = run_benchmark("dispatch", "/tmp/out", n_tasks=[20], repetitions=1)  # doctest: +SKIP
    """
    if name not in HEADINGS:
        raise ValueError(f"unknown benchmark {name!r}: choose one of {', '.join(HEADINGS)}")
    info = machine_info()
    out = Path(output)
    if name == "dispatch":
        transfer = {"n_tasks": params.pop("transfer_tasks", 200), "n_items": params.pop("transfer_items", 20),
                    "n_days": params.pop("transfer_days", 1913)}
        tables = dispatch_overhead(**params)
        if transfer["n_tasks"]:
            tables.update(data_transfer(**transfer, n_workers=params.get("n_workers", 2),
                                        repetitions=params.get("repetitions", 3), quiet=params.get("quiet", 0.25)))
    elif name == "scaling":
        tables = scaling(**params)
    elif name == "projection":
        inputs = load_tables(out, _NEEDS["projection"])
        if "scaling_runs" not in inputs:
            from m5kit.errors import M5kitError

            raise M5kitError(f"no scaling results in {out}: run `m5kit bench scaling --output {out}` first")
        tables = projection(inputs, **params)
    elif name == "fixed-cost":
        tables = fixed_cost(**params)
    elif name == "backends":
        tables = backends(**params)
    else:
        tables = accuracy(**params)
    save_tables(tables, out)
    figure = None
    if name in ("scaling", "projection"):
        plot_tables = {**load_tables(out, _PLOT_TABLES), **tables}
        figure_path = plot_speedup(plot_tables, out / "speedup.png")
        figure = os.path.relpath(figure_path, Path(results).parent) if results else str(figure_path)
    text = render(name, tables, command, info, figure)
    if results:
        update_results(results, HEADINGS[name], text, name)
    return tables, text
