"""Cost of the training monitor: the same CNNLSTMRegressor fitted on the same windows with monitor=True and
monitor=False, alternated, in this process on one thread; median CPU seconds (time.process_time) and the ratio.

Target (issue 13): the monitor slows a fit by no more than 3%.

Usage: python benchmarks/bench_monitor.py [--repetitions 5] [--epochs 5] [--items 20] [--level 3]
       [--results benchmarks/RESULTS.md]   (writes benchmarks/results/monitor_runs.csv)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADING = "Training monitor cost"
TARGET = 1.03


def _windows(level: int, items: int, days: int, seed: int):
    """The training windows of the first group of ``level`` (as GroupedEstimator makes them)."""
    from sklearn.base import clone

    from m5kit.bench._common import level_data, split_groups

    _, long, grouped = level_data(level, items, days, seed)
    name, frame = next(iter(split_groups(long).items()))
    windower = clone(grouped.windower).fit(frame)
    X, y = windower.make_training_data(frame)
    return name, X, y


class _HookClock:
    """Adds up the CPU seconds spent in the monitor's own epoch hooks (the engine builds it at each fit)."""

    def __init__(self):
        import m5kit.monitor

        self.seconds = 0.0
        self._module = m5kit.monitor
        self._original = m5kit.monitor.TrainingMonitor

    def __enter__(self):
        def timed_monitor(*args, **kwargs):
            callback = self._original(*args, **kwargs)
            for hook in ("on_epoch_begin", "on_epoch_end"):
                setattr(callback, hook, self._timed(getattr(callback, hook)))
            return callback

        self._module.TrainingMonitor = timed_monitor
        return self

    def _timed(self, method):
        def hook(*args, **kwargs):
            start = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - start

        return hook

    def __exit__(self, *exc):
        self._module.TrainingMonitor = self._original


def _fit_cpu(X, y, monitor: bool, epochs: int, seed: int) -> tuple[float, float, int, float]:
    """CPU and wall seconds of one fit, its epochs, and the CPU seconds of the monitor's own hooks."""
    from m5kit.models import CNNLSTMRegressor

    est = CNNLSTMRegressor(epochs=epochs, patience=None, random_state=seed, monitor=monitor)
    with _HookClock() as hooks:
        cpu, wall = time.process_time(), time.perf_counter()
        est.fit(X, y)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall, len(est.history_["loss"]), hooks.seconds


def measure(repetitions: int, epochs: int, level: int, items: int, days: int, seed: int):
    """One warm-up fit of each, then ``repetitions`` pairs, the order alternating: one row per fit."""
    import pandas as pd

    from m5kit.bench._common import load

    name, X, y = _windows(level, items, days, seed)
    for monitor in (False, True):  # traces the trained functions once for both
        _fit_cpu(X, y, monitor, epochs, seed)
    rows = []
    for rep in range(repetitions):
        for order, monitor in enumerate((False, True) if rep % 2 == 0 else (True, False)):
            cpu, wall, n_epochs, hooks = _fit_cpu(X, y, monitor, epochs, seed)
            rows.append({"repetition": rep, "order": order, "monitor": monitor, "cpu_seconds": cpu, "wall_seconds": wall,
                         "hook_cpu_seconds": hooks, "epochs": n_epochs, "windows": len(X), "group": name, "load": load()})
    return pd.DataFrame(rows)


def summary(runs):
    """Median CPU and wall seconds with and without the monitor, and their ratio."""
    import pandas as pd

    med = runs.groupby("monitor")[["cpu_seconds", "wall_seconds", "hook_cpu_seconds"]].median()
    paired = runs.pivot(index="repetition", columns="monitor", values="cpu_seconds")
    ratios = paired[True] / paired[False]
    return pd.DataFrame([{
        "windows": int(runs["windows"].iloc[0]), "epochs": int(runs["epochs"].median()), "fits_each": len(paired),
        "cpu_s_monitor_off": med.loc[False, "cpu_seconds"], "cpu_s_monitor_on": med.loc[True, "cpu_seconds"],
        "cpu_ratio": med.loc[True, "cpu_seconds"] / med.loc[False, "cpu_seconds"],
        "median_paired_ratio": float(ratios.median()),
        "hooks_cpu_ms_per_epoch": 1e3 * med.loc[True, "hook_cpu_seconds"] / runs["epochs"].median(),
        "hooks_share": med.loc[True, "hook_cpu_seconds"] / med.loc[True, "cpu_seconds"],
        "wall_s_monitor_off": med.loc[False, "wall_seconds"], "wall_s_monitor_on": med.loc[True, "wall_seconds"],
    }])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5, help="pairs of fits (monitor off and on)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--level", type=int, default=3, help="M5 level whose first group's windows are fitted")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--days", type=int, default=1913)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(HERE / "results"), help="folder of monitor_runs.csv")
    parser.add_argument("--results", default=None, help=f"RESULTS.md to update (section '{HEADING}')")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from m5kit.execution.threads import limit_threads

    limit_threads()  # one thread, as on a worker, before the backend is imported
    from m5kit.bench._common import machine_info
    from m5kit.bench.report import (
        markdown_table,
        render_head,
        save_tables,
        update_results,
        verdict,
    )

    command = "python benchmarks/bench_monitor.py " + " ".join(sys.argv[1:] if argv is None else argv)
    info = machine_info()
    runs = measure(args.repetitions, args.epochs, args.level, args.items, args.days, args.seed)
    table = summary(runs)
    save_tables({"monitor_runs": runs}, args.output)
    paired, medians = float(table["median_paired_ratio"].iloc[0]), float(table["cpu_ratio"].iloc[0])
    share = float(table["hooks_share"].iloc[0])
    block = "\n".join([
        render_head(command.strip(), info),
        (f"The same CNNLSTMRegressor (defaults, patience=None) fitted in this process on one thread on the windows of "
         f"one level-{args.level} group, monitor=False and monitor=True alternated after one warm-up fit of each; "
         "median seconds (CPU: time.process_time). `hooks` is the CPU time spent inside the monitor's own epoch "
         "hooks during the monitored fits (timed around them), a figure that the other jobs sharing the machine "
         "hardly blur:"),
        "",
        markdown_table(table),
        "",
        (f"Target: the monitor adds <= 3% CPU to a fit: {100 * (paired - 1):+.1f}% (median of the ratios of the "
         f"fits run back to back, which cancels the drift of a shared machine; the two medians differ by "
         f"{100 * (medians - 1):+.1f}%), {100 * share:.2f}% inside its own hooks: {verdict(paired <= TARGET)}."),
    ])
    print(block.replace("  \n", "\n"))
    if args.results:
        update_results(args.results, HEADING, block, "monitor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
