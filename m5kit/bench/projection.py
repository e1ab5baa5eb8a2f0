"""Greedy list scheduling of the measured per-group durations on more workers than this machine has.

Rows labelled ``projection`` are simulated, not measured: the inputs are the
tables of :mod:`m5kit.bench.scaling` (and of the dispatch and accuracy
benchmarks when present), read back from their CSV files.

Examples
--------
>>> simulate_makespan([3.0, 1.0, 1.0, 1.0], n_workers=2)
3.0
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import pandas as pd

from m5kit.bench._common import default_counts
from m5kit.bench.report import markdown_table, verdict

__all__ = ["FULL_M5_GROUPS", "project_speedup", "projection", "simulate_makespan"]

HEADING = "Projection beyond this machine (simulated)"
#: Packages of the ``bench`` extra this benchmark imports (matplotlib: the speedup plot).
PACKAGES = ("psutil", "matplotlib")
#: Tables of the other benchmarks it reads (``scaling_runs`` is required).
INPUTS = ("scaling_runs", "scaling_groups", "scaling_summary", "dispatch_summary", "accuracy_groups")
#: Groups per level in the full M5 data (DESIGN.md), for the projection's bounds.
FULL_M5_GROUPS = {1: 1, 2: 3, 3: 10, 4: 3, 5: 7, 6: 9, 7: 21, 8: 30, 9: 70, 10: 3049, 11: 9147, 12: 30490}


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

    Inputs are the tables of :func:`~m5kit.bench.scaling` (and optionally of
    :func:`~m5kit.bench.dispatch_overhead` and :func:`~m5kit.bench.accuracy`). The per-group durations
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
        durations were measured by :func:`~m5kit.bench.accuracy`).
    """
    level = int(tables["scaling_summary"]["level"].iloc[0])
    counts = default_counts(seed)
    interval = _dispatch_interval(tables)
    return {
        "projection": _project(tables, workers, None, samples, seed, busy=True),
        "projection_alone": _project(tables, workers, None, samples, seed, busy=False),
        "projection_default": _project(tables, workers, counts[level], samples, seed, busy=True),
        "projection_default_alone": _project(tables, workers, counts[level], samples, seed, busy=False),
        "projection_levels": _level_bounds(tables, workers, counts, interval, seed),
    }


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


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the projection section."""
    p = t["projection"]
    cols = [c for c in ["workers", "label", "n_groups", "projected_seconds", "projected_speedup",
                        "projected_efficiency", "measured_seconds", "measured_speedup", "error_pct"] if c in p]
    text = ["Greedy list scheduling of m5kit's measured per-group durations (each task in order to the first free "
            f"worker; time outside the group tasks {p['fixed_seconds'].iloc[0]:.2f} s per fit, calibrated on the 1-worker runs (each run minus its own groups); "
            + (f"scheduler dispatch {p['dispatch_ms'].iloc[0]:.2f} ms per task from the dispatch benchmark). "
               if p["dispatch_ms"].iloc[0] > 0 else "no scheduler dispatch cost: no dispatch benchmark results in the "
               "folder). ") +
            "Rows labelled `projection` are simulated, not measured. Up to the largest measured worker count "
            "each count uses the durations measured at it; beyond it, two variants: the durations measured "
            "with every core busy (this table: the machine's per-core slowdown carried over) and the durations "
            "of one worker alone (no slowdown; scheduling and granularity only).", "", markdown_table(p[cols])]
    val = p[p["label"] == "validation"]
    if not val.empty:
        err = val["error_pct"].abs().max()
        text += ["", f"Validation against the measured points: largest error {err:.1f}% "
                 f"({verdict(err <= 10.0)}, target within 10%)."]
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
            text += ["", f"Target: projected efficiency >= 0.90 at 16 workers ({label}): {e:.3f}, {verdict(e >= 0.9)}."]
    lv = t.get("projection_levels")
    if lv is not None:
        simulated = ("; `projected_eff_16_default`: simulation with per-group durations drawn from those measured "
                     "in the accuracy run" if "projected_eff_16_default" in lv else "")
        text += ["", "Per level: the group count bounds the speedup (a group is one task); `best_eff_*` = "
                 f"groups / (workers x ceil(groups / workers)), the bound for groups of equal size{simulated}:", "",
                 markdown_table(lv)]
    return "\n".join(text)
