"""Wall time of a level's fit against the number of workers: a serial loop, joblib, a process pool and
m5kit's GroupedEstimator on the same groups; and what the machine itself allows (:func:`machine_ceiling`)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from m5kit.bench._common import (
    CpuClock,
    level_data,
    load,
    methods_among,
    rotate,
    split_groups,
    timed_fit_group,
    wait_for_quiet,
    warm_backend,
)
from m5kit.bench._pools import Pools, process_pool
from m5kit.bench.report import markdown_table, verdict
from m5kit.errors import ParamError
from m5kit.execution.threads import limit_threads

__all__ = ["SCALING_METHODS", "machine_ceiling", "scaling"]

HEADING = "Speedup and parallel efficiency versus workers"
#: Packages of the ``bench`` extra this benchmark imports (matplotlib: the speedup plot).
PACKAGES = ("psutil", "joblib", "matplotlib")
#: Ways of fitting a level compared by :func:`scaling`.
SCALING_METHODS = ("serial", "joblib", "process-pool", "m5kit")
_GROUP_COLUMNS = ("seconds", "cpu_seconds", "fit_seconds", "n_windows", "epochs")


def scaling(
    level: int = 11, n_items: int = 20, n_days: int = 1913,  # the generated data's level and size
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
    m5kit's GroupedEstimator on m5kit's LocalCluster of ``W`` workers (passed
    as ``client``) fit the same groups of the same long frame with the same
    function (:func:`m5kit.grouped.fit_group`, same per-group seeds), every
    worker on one thread. Each run starts from the long frame (splitting it
    by group is part of every way). Pools are started and warmed (backend
    imported) before timing; their start-up is reported apart. The order of
    the ways rotates between repetitions. joblib with ``n_jobs=1`` runs
    in-process, so it is the serial loop and is not run at ``W=1``.

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
        Among :data:`SCALING_METHODS`.
    window : int
        Days per input window.
    estimator : estimator, optional
        Replaces the CNN-LSTM (for instance a trivial model, to time the
        framework alone).
    quiet : float or None
        Before each run, wait until other processes use less than this many
        cores (see :func:`~m5kit.bench.wait_for_quiet`); each run records the
        cores others used during it (``other_cores``).
    ceiling : bool
        Also measure :func:`machine_ceiling` at the same worker counts.

    Returns
    -------
    dict of DataFrame
        ``scaling_runs`` (one row per run), ``scaling_groups`` (per-group
        seconds of every way), ``scaling_summary`` (medians, speedup against
        the serial loop, efficiency, and each way's time relative to m5kit)
        and ``scaling_machine`` (see :func:`machine_ceiling`).

    Examples
    --------
    >>> from m5kit.bench import MeanRegressor
    >>> tables = scaling(n_items=1, n_days=120, window=14, workers=[1], repetitions=1,
    ...                  estimator=MeanRegressor(), quiet=None, ceiling=False)  # doctest: +SKIP
    """
    from m5kit.grouped import group_seed

    methods = methods_among(methods, SCALING_METHODS)
    limit_threads(force=True)
    workers = list(workers or range(1, (os.cpu_count() or 1) + 1))
    if set(methods) == {"joblib"} and set(workers) == {1}:  # nothing to measure: it was a KeyError traceback
        raise ParamError("joblib on 1 worker is the serial loop and is not measured: give --workers 2 or more, or "
                         "other --methods")
    _, long, template = level_data(level, n_items, n_days, seed, epochs=epochs, window=window, estimator=estimator)
    est, win = template.estimator, template.windower
    runs, groups = [], []
    for wi, w in enumerate(workers):
        active = [m for m in methods if not (m == "joblib" and w == 1)]
        with Pools(w, active, warm=warm_backend if estimator is None else None) as pools:
            for method, secs in pools.startup.items():
                runs.append({"method": method, "workers": w, "kind": "startup", "seconds": secs, "load": load()})
            for rep in range(repetitions):
                for order, method in enumerate(rotate(active, rep + wi)):
                    wait_for_quiet(quiet)
                    start_load, clock, start = load(), CpuClock(), time.perf_counter()
                    if method == "m5kit":
                        fitted = clone(template).set_params(client=pools.client).fit(long)
                        per_group = fitted.fit_report_[["group", "seconds", "fit_seconds", "n_windows", "epochs"]]
                    else:
                        parts = split_groups(long)
                        # the same work as m5kit's fit: the group's model and its forecast
                        calls = [(frame, win, est, group_seed(seed, name), None, int(template.horizon))
                                 for name, frame in parts.items()]
                        results = pools.run(method, timed_fit_group, calls)
                        per_group = pd.DataFrame({"group": list(parts),
                                                  **{k: [r[k] for r in results] for k in _GROUP_COLUMNS}})
                    seconds = time.perf_counter() - start
                    runs.append({"method": method, "workers": w, "kind": "fit", "repetition": rep, "order": order,
                                 "seconds": seconds, "cpu_seconds": clock.seconds(), "load": start_load,
                                 "other_cores": clock.foreign_cores(), "n_groups": long["group"].nunique()})
                    groups.append(per_group.assign(method=method, workers=w, repetition=rep))
    runs_frame = pd.DataFrame(runs)
    tables = {"scaling_runs": runs_frame,
              "scaling_groups": pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(),
              "scaling_summary": _summary(runs_frame, level, n_items, n_days, epochs)}
    if ceiling:
        tables["scaling_machine"] = machine_ceiling(workers, quiet=quiet)
    return tables


def _summary(runs: pd.DataFrame, level, n_items, n_days, epochs) -> pd.DataFrame:
    fits = runs[runs["kind"] == "fit"]
    med = fits.groupby(["workers", "method"], sort=False).agg(
        median_seconds=("seconds", "median"), min_seconds=("seconds", "min"), max_seconds=("seconds", "max"),
        cpu_seconds=("cpu_seconds", "median"), runs=("seconds", "size"),
        other_cores=("other_cores", "median")).reset_index()
    med["cores_used"] = med["cpu_seconds"] / med["median_seconds"]
    serial = fits[fits["method"] == "serial"]
    med["cpu_vs_serial"] = med["cpu_seconds"] / serial["cpu_seconds"].median()
    med["speedup"] = serial["seconds"].median() / med["median_seconds"]
    med["efficiency"] = med["speedup"] / med["workers"]
    m5 = med[med["method"] == "m5kit"].set_index("workers")["median_seconds"]
    med["vs_m5kit"] = med["median_seconds"] / med["workers"].map(m5)
    med["level"], med["n_items"], med["n_days"], med["epochs"] = level, n_items, n_days, epochs
    return med


# --- what the machine allows ------------------------------------------------------------------------
_SPIN_MODELS: dict[str, Any] = {}
_SPIN_SHAPE = (256, 28, 20)


def _spin(kind: str, size: int) -> float:
    """A fixed piece of single-thread work; returns its wall seconds (machine-ceiling probe, module level)."""
    limit_threads()
    start = time.perf_counter()
    if kind == "python":
        total = 0
        for i in range(size):
            total += i * i
        return time.perf_counter() - start
    x = np.random.default_rng(0).normal(size=_SPIN_SHAPE).astype("float32")
    y = np.zeros((_SPIN_SHAPE[0], 1), "float32")
    model = _SPIN_MODELS.get(kind)
    if model is None:  # the default CNN-LSTM, built and traced once per process (not timed)
        from m5kit.models import build_cnn_lstm

        model = _SPIN_MODELS[kind] = build_cnn_lstm(meta={"X_shape_": _SPIN_SHAPE, "n_outputs_": 1})
        model.train_on_batch(x, y)
        start = time.perf_counter()
    for _ in range(size):
        model.train_on_batch(x, y)
    return time.perf_counter() - start


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

    Examples
    --------
    >>> machine_ceiling([2], repetitions=1, quiet=None, kinds=("python",), scale=0.01)  # doctest: +SKIP
    """
    rows = []
    for w in workers:
        pool = process_pool(w)
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


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the scaling section."""
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
        text += ["", f"Target: efficiency >= 0.95 at 2 workers: {eff:.3f}, {verdict(eff >= 0.95)}."]
    others = s[s["method"].isin(["joblib", "process-pool"])]
    if not others.empty:
        worst = others["vs_m5kit"].min()
        text += [f"Target: m5kit at least as fast as joblib and the process pool at every worker count: "
                 f"the fastest other way takes {worst:.3f}x m5kit's time, {verdict(worst >= 1.0)}."]
    return "\n".join(text)
