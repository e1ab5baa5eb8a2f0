"""Time M5's WRMSSE at full M5 size (30,490 series x 1,913 days, 42,840 level series).

Builds full-size M5-shaped tables from a seed (Poisson sales with random launch
days, a price for every item, store and week), then measures:

* building a WRMSSEEvaluator (scales, weights, summing matrix),
* scoring one 28-day forecast with it (the three baselines),
* the one-shot ``wrmsse(...)`` call (both together),

and prints the baselines' WRMSSE on ``make_m5()``'s default data (139 items x
10 stores, seed 0), overall and per level.

Usage::

    python benchmarks/bench_wrmsse.py [--repeats 3] [--items 3049]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import pandas as pd


def full_size_tables(n_items: int, n_days: int = 1913, horizon: int = 28, seed: int = 0):
    """M5-shaped sales, future, prices and calendar of ``n_items`` items x 10 stores."""
    from m5kit._schema import DEPARTMENTS, STORES

    rng = np.random.default_rng(seed)
    depts = np.array(DEPARTMENTS)[rng.integers(0, len(DEPARTMENTS), n_items)]
    items = np.array([f"{d}_{i:03d}" for i, d in enumerate(depts)], dtype=object)
    item_col = np.repeat(items, len(STORES))
    dept_col = np.repeat(depts, len(STORES))
    store_col = np.tile(np.array(STORES, dtype=object), n_items)
    n = len(item_col)
    total = n_days + horizon
    rate = 0.05 + rng.gamma(0.6, 2.0, n)
    launch = np.where(rng.random(n) < 0.7, 0, rng.integers(0, n_days - 60, n))
    values = rng.poisson(rate[:, None], (n, total)).astype(np.int16)
    values[np.arange(total)[None, :] < launch[:, None]] = 0
    ids = pd.DataFrame({
        "id": [f"{i}_{s}_evaluation" for i, s in zip(item_col, store_col)],
        "item_id": item_col, "dept_id": dept_col,
        "cat_id": [d.rsplit("_", 1)[0] for d in dept_col],
        "store_id": store_col, "state_id": [s[:2] for s in store_col],
    }).astype("category")
    day_names = [f"d_{t}" for t in range(1, total + 1)]
    # One C-ordered (days x series) block, as pandas.read_csv builds it.
    days = pd.DataFrame(dict(zip(day_names, values.T)), copy=True)
    wide = pd.concat([ids, days], axis=1)
    sales = wide[list(ids.columns) + day_names[:n_days]]
    future = wide[["id"] + day_names[n_days:]]
    week = 11101 + np.arange(total) // 7
    calendar = pd.DataFrame({"d": day_names, "wm_yr_wk": week})
    weeks = np.unique(week)
    prices = pd.DataFrame({
        "store_id": np.repeat(store_col, len(weeks)), "item_id": np.repeat(item_col, len(weeks)),
        "wm_yr_wk": np.tile(weeks, n), "sell_price": np.round(rng.uniform(0.5, 20, n * len(weeks)), 2),
    })
    return sales, future, prices, calendar


def _time(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--items", type=int, default=3049)
    args = parser.parse_args(argv)

    from m5kit.forecasting.baselines import BASELINES
    from m5kit.metrics import WRMSSEEvaluator, wrmsse

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}, load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    sales, future, prices, calendar = full_size_tables(args.items)
    print(f"data: {len(sales):,} series x {sales.shape[1] - 6:,} days, {len(prices):,} price rows "
          f"(built in {time.perf_counter() - start:.1f} s)")
    # "skip": a rare random series may first sell on the last day (undefined scale); left out, as logged.
    build, evaluator = _time(lambda: WRMSSEEvaluator(sales, prices, calendar, on_zero_scale="skip"), args.repeats)
    print(f"WRMSSEEvaluator(...) ({len(evaluator.series):,} level series): median {build:.2f} s over {args.repeats}")
    forecasts = {name: f(sales) for name, f in BASELINES.items()}
    for name, forecast in forecasts.items():
        secs, score = _time(lambda: evaluator.score(future, forecast), args.repeats)
        print(f"evaluator.score, {name}: median {secs:.2f} s, WRMSSE {score:.4f}")
    secs, _ = _time(
        lambda: wrmsse(sales, future, forecasts["Seasonal naive"], prices, calendar, on_zero_scale="skip"), args.repeats
    )
    print(f"wrmsse(...) one shot: median {secs:.2f} s over {args.repeats}")
    del sales, future, prices, calendar, evaluator, forecasts

    from m5kit.datasets import make_m5

    data = make_m5(seed=0)
    evaluator = WRMSSEEvaluator(data.sales, data.prices, data.calendar)
    print(f"\nbaselines on make_m5(seed=0): {data.n_series:,} series x {data.n_days:,} days, "
          f"{len(evaluator.series):,} level series")
    table = {}
    for name, baseline in BASELINES.items():
        total, levels = evaluator.score(data.future, baseline(data.sales), per_level=True)
        table[name] = [*levels["wrmsse"], total]
    table = pd.DataFrame(table, index=[*(f"level {lv}" for lv in range(1, 13)), "WRMSSE"])
    print(table.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
