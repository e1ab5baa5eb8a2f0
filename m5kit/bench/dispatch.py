"""Per-task cost of Dask (m5kit's ``run_tasks`` and raw ``client.map``), joblib and a process pool,
and the cost of moving a group's rows to its worker."""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence

import pandas as pd

from m5kit.bench._common import (
    CpuClock,
    level_data,
    load,
    methods_among,
    noop,
    nrows,
    rotate,
    split_groups,
    wait_for_quiet,
)
from m5kit.bench._pools import Pools
from m5kit.bench.report import markdown_table, verdict

__all__ = ["DISPATCH_METHODS", "data_transfer", "dispatch_overhead"]

HEADING = "Dispatch overhead per task"
#: Packages of the ``bench`` extra this benchmark imports.
PACKAGES = ("psutil", "joblib")
#: Ways of running many trivial tasks compared by :func:`dispatch_overhead`.
DISPATCH_METHODS = ("m5kit", "dask-map", "joblib", "process-pool")
#: Full-M5 category counts, to size a group's frame as it would travel at full size.
_FULL_M5_CATEGORIES = {"id": 30490, "item_id": 3049}


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


def _methods(methods: Sequence[str]) -> list[str]:
    return methods_among(methods, DISPATCH_METHODS)


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
        Among :data:`DISPATCH_METHODS`.
    quiet : float or None
        Wait before each run until other processes use fewer cores (see
        :func:`~m5kit.bench.wait_for_quiet`).

    Returns
    -------
    dict of DataFrame
        ``dispatch_runs`` (one row per run) and ``dispatch_summary`` (medians).

    Examples
    --------
    >>> tables = dispatch_overhead([20], repetitions=1, methods=["joblib"])  # doctest: +SKIP
    """
    methods = _methods(methods)
    rows = []
    with Pools(n_workers, methods, quiet=quiet) as pools:
        for n in n_tasks:
            calls, names = [(i,) for i in range(n)], [f"g{i}" for i in range(n)]
            for rep in range(repetitions):
                for order, method in enumerate(rotate(methods, rep)):
                    rows.append(_time_dispatch(method, pools, noop, calls, names, rep, order))
    runs = pd.DataFrame(rows)
    return {"dispatch_runs": runs, "dispatch_summary": _dispatch_summary(runs)}


def _time_dispatch(method, pools, func, calls, names, rep, order, payload="none") -> dict:
    n, timed = len(calls), None
    if method == "m5kit":
        timed = _TimedClient(pools.client)
        real, pools.client = pools.client, timed
    wait_for_quiet(pools.quiet)
    start_load, clock, start = load(), CpuClock(), time.perf_counter()
    try:
        pools.run(method, func, calls, names)
    finally:
        seconds = time.perf_counter() - start
        cpu, foreign = clock.seconds(), clock.foreign_cores()
        if timed is not None:
            pools.client = real
    row = {"method": method, "payload": payload, "n_tasks": n, "n_workers": pools.n_workers, "repetition": rep,
           "order": order, "seconds": seconds, "ms_per_task": 1e3 * seconds / n, "cpu_ms_per_task": 1e3 * cpu / n,
           "load": start_load, "other_cores": foreign}
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


# --- data transfer ---------------------------------------------------------------------------------
def _with_full_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its id categories as many as in the full M5 (how a slice travels at full size)."""
    out = frame.copy()
    for col, n in _FULL_M5_CATEGORIES.items():
        if col in out and isinstance(out[col].dtype, pd.CategoricalDtype):
            have = list(out[col].cat.categories)
            extra = [f"_pad_{i}" for i in range(max(0, n - len(have)))]
            out[col] = out[col].cat.set_categories(have + extra)
    return out


def _drop_unused_categories(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].cat.remove_unused_categories()
    return out


def _frame_sizes(sample: pd.DataFrame) -> pd.DataFrame:
    sizes = []
    full = _with_full_categories(sample)
    for label, frame in [("as sliced", sample), ("with full-M5 id categories", full),
                         ("unused categories dropped", _drop_unused_categories(full))]:
        start = time.perf_counter()
        blob = pickle.dumps(frame, protocol=5)
        sizes.append({"frame": label, "rows": len(frame), "memory_mb": frame.memory_usage(deep=True).sum() / 1e6,
                      "pickled_mb": len(blob) / 1e6, "pickle_ms": 1e3 * (time.perf_counter() - start)})
    return pd.DataFrame(sizes)


def data_transfer(
    level: int = 11, n_items: int = 20, n_days: int = 1913,  # the generated data's level and size
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
    methods = _methods(methods)
    _, long, _ = level_data(level, n_items, n_days, seed)
    parts = list(split_groups(long).values())
    frames = [(parts[i % len(parts)].copy(),) for i in range(n_tasks)]
    trivial = [(i,) for i in range(n_tasks)]
    names = [f"g{i}" for i in range(n_tasks)]
    sample = parts[len(parts) // 2]
    rows = []
    with Pools(n_workers, methods, quiet=quiet) as pools:
        for rep in range(repetitions):
            for order, method in enumerate(rotate(methods, rep)):
                rows.append(_time_dispatch(method, pools, nrows, frames, names, rep, 2 * order, "group frame"))
                rows.append(_time_dispatch(method, pools, noop, trivial, names, rep, 2 * order + 1))
            if pools.client is not None:  # the scatter alone: client -> worker, one group each
                start = time.perf_counter()
                futures = pools.client.scatter([f for f, in frames], hash=False)
                secs = time.perf_counter() - start
                rows.append({"method": "dask scatter only", "payload": "group frame", "n_tasks": n_tasks,
                             "n_workers": n_workers, "repetition": rep, "order": -1, "seconds": secs,
                             "ms_per_task": 1e3 * secs / n_tasks, "load": load(), "other_cores": float("nan")})
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
    return {"transfer_runs": runs, "transfer_summary": summary, "transfer_frames": _frame_sizes(sample)}


def run(transfer_tasks: int = 200, transfer_items: int = 20, transfer_days: int = 1913,
        **params) -> dict[str, pd.DataFrame]:
    """:func:`dispatch_overhead`, then :func:`data_transfer` (``transfer_tasks=0`` skips it)."""
    tables = dispatch_overhead(**params)
    if transfer_tasks:
        tables.update(data_transfer(n_items=transfer_items, n_days=transfer_days, n_tasks=transfer_tasks,
                                    n_workers=params.get("n_workers", 2), repetitions=params.get("repetitions", 3),
                                    quiet=params.get("quiet", 0.25)))
    return tables


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the dispatch section."""
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
                 f"{big['ms_per_task']:.2f} ms, {verdict(big['ms_per_task'] <= 5.0)}."]
    if "transfer_summary" in t:
        tr = t["transfer_summary"]
        text += ["", "Moving a group's rows to its worker (tasks that read a level-11 group frame minus trivial "
                 "tasks, same run):", "", markdown_table(tr),
                 "", "A level-11 group frame:", "", markdown_table(t["transfer_frames"])]
    return "\n".join(text)
