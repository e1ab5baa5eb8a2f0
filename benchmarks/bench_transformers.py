"""Time and memory of CalendarMerger, PriceJoiner and LevelAggregator at full M5 size.

Each run happens in a fresh Python process (so memory figures are not
polluted by earlier runs): it generates M5-shaped data with
``m5kit.datasets.make_m5`` (not timed), then runs

    CalendarMerger -> PriceJoiner -> LevelAggregator(level) -> LevelAggregator(level, aggregate=True)

recording for each step the wall time, the time per million rows, the CPU
time (user and system: on a busy machine the wall time includes waiting for a
core, the CPU time does not), the 1-minute load average, and the peak
resident memory of the process during the step (Linux: the peak is reset
before each step through ``/proc/self/clear_refs``). It also times
``sklearn.clone`` of a PriceJoiner holding the full price table against a
deep copy of that table.

Usage::

    python benchmarks/bench_transformers.py                       # 1 run at 3,049 items, 3 at 300
    python benchmarks/bench_transformers.py --items 3049 --repeats 3 --small-items 300 --small-repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

LIMIT_GB = 8.0


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def run_once(n_items: int, level: int) -> dict:
    """One measured run in this process (called in a fresh subprocess)."""
    import copy
    import warnings

    warnings.simplefilter("ignore")  # make_m5 may warn about pandas deprecations; not measured here
    from sklearn.base import clone

    from m5kit.datasets import make_m5
    from m5kit.transformers import CalendarMerger, LevelAggregator, PriceJoiner

    start = time.perf_counter()
    data = make_m5(n_items=n_items, seed=0)
    result = {"n_items": n_items, "n_series": data.n_series, "generate_s": time.perf_counter() - start,
              "data_rss_gb": _status_kb("VmRSS") / 2**20, "steps": {}}

    def step(name, fn, rows_of):
        reset = _reset_peak()
        cpu0 = _cpu()
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        user, system = (b - a for a, b in zip(cpu0, _cpu()))
        rows = rows_of(out)
        result["steps"][name] = {
            "seconds": seconds, "rows": rows, "s_per_m_rows": seconds / (rows / 1e6),
            "user_s": user, "sys_s": system, "load": os.getloadavg()[0],
            "peak_rss_gb": _status_kb("VmHWM") / 2**20 if reset else float("nan"),
            "rss_after_gb": _status_kb("VmRSS") / 2**20,
        }
        return out

    long = step("CalendarMerger", lambda: CalendarMerger(data.calendar).fit_transform(data.sales), len)
    result["long_frame_gb"] = long.memory_usage(deep=False).sum() / 2**30
    priced = step("PriceJoiner", lambda: PriceJoiner(data.prices).fit_transform(long), len)
    del long
    result["priced_frame_gb"] = priced.memory_usage(deep=False).sum() / 2**30
    tagged = step(f"LevelAggregator({level})", lambda: LevelAggregator(level).fit_transform(priced), len)
    del tagged
    n_in = len(priced)
    agg = step(f"LevelAggregator({level}, aggregate=True)",
               lambda: LevelAggregator(level, aggregate=True).fit_transform(priced), lambda _: n_in)
    result["aggregate_rows"] = len(agg)
    del agg

    joiner = PriceJoiner(data.prices)
    t0 = time.perf_counter()
    twin = clone(joiner)
    result["clone_pricejoiner_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    copy.deepcopy(data.prices)
    result["deepcopy_prices_s"] = time.perf_counter() - t0
    result["price_rows"] = len(data.prices)
    result["prices_gb"] = data.prices.memory_usage(deep=True).sum() / 2**30
    del twin
    # the highest of the steps' peaks: resetting a step's peak (clear_refs) resets ru_maxrss too, which then gave the
    # last step's (3.50 GB reported under pandas 2, where PriceJoiner's step peaked at 7.71 GB)
    peaks = [s["peak_rss_gb"] for s in result["steps"].values() if s["peak_rss_gb"] == s["peak_rss_gb"]]
    result["process_peak_rss_gb"] = max([_max_rss_gb(), *peaks])
    return result


def _cpu() -> tuple[float, float]:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _max_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def in_subprocess(n_items: int, level: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--items", str(n_items), "--level", str(level)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    steps = {}
    for name in runs[0]["steps"]:
        per = [r["steps"][name] for r in runs]
        steps[name] = {
            "rows": per[0]["rows"],
            "median_s": statistics.median(p["seconds"] for p in per),
            "median_s_per_m_rows": statistics.median(p["s_per_m_rows"] for p in per),
            "median_user_s": statistics.median(p["user_s"] for p in per),
            "median_sys_s": statistics.median(p["sys_s"] for p in per),
            "max_load": max(p["load"] for p in per),
            "max_peak_rss_gb": max(p["peak_rss_gb"] for p in per),
        }
    return {
        "n_items": runs[0]["n_items"], "n_series": runs[0]["n_series"], "runs": len(runs), "steps": steps,
        "process_peak_rss_gb": max(r["process_peak_rss_gb"] for r in runs),
        "data_rss_gb": statistics.median(r["data_rss_gb"] for r in runs),
        "long_frame_gb": runs[0]["long_frame_gb"], "priced_frame_gb": runs[0]["priced_frame_gb"],
        "aggregate_rows": runs[0]["aggregate_rows"],
        "clone_pricejoiner_s": statistics.median(r["clone_pricejoiner_s"] for r in runs),
        "deepcopy_prices_s": statistics.median(r["deepcopy_prices_s"] for r in runs),
        "price_rows": runs[0]["price_rows"], "prices_gb": runs[0]["prices_gb"],
    }


def report(summary: dict) -> None:
    print(f"\n{summary['n_items']:,} items = {summary['n_series']:,} series, median of {summary['runs']} run(s)")
    print(f"  data (wide sales + prices + calendar) in memory: {summary['data_rss_gb']:.2f} GB RSS; "
          f"long frame {summary['long_frame_gb']:.2f} GB, with prices {summary['priced_frame_gb']:.2f} GB")
    print(f"  {'step':<40}{'rows':>12}{'wall s':>8}{'s / M rows':>11}{'user s':>8}{'sys s':>7}"
          f"{'peak RSS GB':>12}{'load':>6}")
    for name, s in summary["steps"].items():
        print(f"  {name:<40}{s['rows']:>12,}{s['median_s']:>8.2f}{s['median_s_per_m_rows']:>11.3f}"
              f"{s['median_user_s']:>8.2f}{s['median_sys_s']:>7.2f}{s['max_peak_rss_gb']:>12.2f}{s['max_load']:>6.1f}")
    peak = summary["process_peak_rss_gb"]
    print(f"  process peak RSS {peak:.2f} GB ({'under' if peak < LIMIT_GB else 'OVER'} the {LIMIT_GB:.0f} GB limit); "
          f"aggregate rows {summary['aggregate_rows']:,}")
    print(f"  clone(PriceJoiner) with {summary['price_rows']:,} price rows ({summary['prices_gb'] * 1024:.0f} MB): "
          f"{summary['clone_pricejoiner_s'] * 1e3:.2f} ms; copy.deepcopy of the table: "
          f"{summary['deepcopy_prices_s'] * 1e3:.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3049, help="items of the full-size runs (3,049 = full M5)")
    parser.add_argument("--repeats", type=int, default=1, help="runs at --items")
    parser.add_argument("--small-items", type=int, default=300, help="items of the smaller runs (0: none)")
    parser.add_argument("--small-repeats", type=int, default=3, help="runs at --small-items")
    parser.add_argument("--level", type=int, default=11)
    parser.add_argument("--json", help="also write the summaries to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_once(args.items, args.level)))
        return 0

    import numpy
    import pandas
    import sklearn

    print("command: python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {numpy.__version__}, pandas {pandas.__version__}, scikit-learn {sklearn.__version__}")
    summaries = []
    plan = [(args.small_items, args.small_repeats), (args.items, args.repeats)]
    for n_items, repeats in plan:
        if n_items <= 0 or repeats <= 0:
            continue
        runs = [in_subprocess(n_items, args.level) for _ in range(repeats)]
        summary = summarize(runs)
        report(summary)
        summaries.append(summary)
    if args.json:
        from m5kit.store import atomic_write

        with atomic_write(args.json, "w") as fh:
            json.dump(summaries, fh, indent=2)
    return 0 if all(s["process_peak_rss_gb"] < LIMIT_GB for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
