"""The built-in data against the real store: statistics side by side, and the baselines' ranking.

Computes :func:`m5kit.datasets.series_stats` for the real store CA_1 (M5's own
files) and for ``make_m5`` at one store's size (3,049 items x 1 store, which is
CA_1) and at its default size (139 items x 10 stores), then scores naive,
seasonal naive, the 28-day moving average and statsforecast's AutoETS (season
7, per series, clipped at 0) with m5kit's WRMSSE on the real store and on the
generated store. The generated data is a fair stand-in when the statistics
agree and the ranking is the same.

AutoETS is slow (about 0.3 s a series on the last 730 days): it runs on a
seeded random sample of ``--sample`` series of each data set, and the other
forecasts are scored on the same sample too (and on all series).

Usage::

    python benchmarks/bench_data_stats.py [--data-dir ../shared/data/m5-ca1] [--sample 300] [--no-ets]

Writes ``benchmarks/results/data_stats.csv`` and ``data_ranking.csv``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "m5-ca1"
ETS_DAYS = 730  # AutoETS fits the last two years of each series (from its first sale)


def stats_table(datasets: dict) -> pd.DataFrame:
    """``series_stats`` of each data set, one column per data set."""
    from m5kit.datasets import series_stats

    return pd.DataFrame({name: series_stats(d.sales, d.calendar, d.prices) for name, d in datasets.items()})


def ets_forecast(sales: pd.DataFrame, horizon: int = 28, days: int = ETS_DAYS) -> pd.DataFrame:
    """Tidy AutoETS (season 7) forecast of every series, fitted on its last ``days`` days, clipped at 0."""
    from statsforecast.models import AutoETS

    from m5kit._schema import day_columns, day_number
    from m5kit.forecasting.baselines import _tidy

    cols = day_columns(sales.columns)
    values = sales[cols].to_numpy(dtype=np.float64)
    out = np.zeros((len(values), horizon))
    for i, row in enumerate(values):
        sold = np.flatnonzero(row > 0)
        y = row[max(sold[0], len(row) - days):] if sold.size else row[-days:]
        if sold.size == 0 or len(y) < 2 * 7 + 1 or y.max() == y.min():
            out[i] = y[-1] if len(y) else 0.0
            continue
        try:
            out[i] = AutoETS(season_length=7).forecast(y=y, h=horizon)["mean"]
        except Exception:  # noqa: BLE001 - a series ETS cannot fit gets its 28-day mean
            out[i] = y[-28:].mean()
    return _tidy(sales["id"].astype(str).to_numpy(dtype=object), day_number(cols[-1]), np.clip(out, 0.0, None))


def _sample(data, n: int, seed: int):
    from m5kit.datasets import M5Data

    if n >= data.n_series:
        return data
    rows = np.sort(np.random.default_rng(seed).choice(data.n_series, n, replace=False))
    sales = data.sales.iloc[rows].reset_index(drop=True)
    future = data.future.iloc[rows].reset_index(drop=True)
    return M5Data(calendar=data.calendar, prices=data.prices, sales=sales, future=future)


def ranking(data, *, sample: int = 300, seed: int = 0, ets: bool = True) -> pd.DataFrame:
    """WRMSSE (all 12 levels) of the baselines on all series and on a sample (with AutoETS).

    Returns a frame with one row per forecast and columns ``all series``,
    ``sample`` (NaN for AutoETS on all series).
    """
    from m5kit.metrics import WRMSSEEvaluator
    from m5kit.runs import baseline_forecasts

    def score(d, with_ets):
        ev = WRMSSEEvaluator(d.sales, d.prices, d.calendar, on_zero_scale="skip")
        forecasts = baseline_forecasts(d.sales)
        if with_ets:
            forecasts["AutoETS (7)"] = ets_forecast(d.sales)
        return {name: ev.score(d.future, f) for name, f in forecasts.items()}

    everything = score(data, False)
    small = score(_sample(data, sample, seed), ets)
    return pd.DataFrame({"all series": pd.Series(everything), f"sample of {sample}": pd.Series(small)})


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    head = "| | " + " | ".join(frame.columns) + " |"
    rule = "|---|" + "---:|" * len(frame.columns)
    rows = [f"| {i} | " + " | ".join("-" if pd.isna(v) else f"{v:.{digits}f}" for v in r) + " |"
            for i, r in frame.iterrows()]
    return "\n".join([head, rule, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help="real M5 folder (one store)")
    parser.add_argument("--sample", type=int, default=300, help="series per data set for AutoETS")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and of make_m5")
    parser.add_argument("--no-ets", action="store_true", help="skip AutoETS (the slow part)")
    parser.add_argument("--output", default=str(HERE / "results"), help="folder for the CSV files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from m5kit.datasets import load_m5, make_m5

    print("command: python benchmarks/bench_data_stats.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}")
    t0 = time.perf_counter()
    real = load_m5(args.data_dir)
    store = real.sales["store_id"].astype(str).iloc[0]
    datasets = {f"real {store}": real,
                "make_m5 3049x1": make_m5(n_items=real.sales["item_id"].nunique(), n_stores=1, seed=args.seed),
                "make_m5 default": make_m5(seed=args.seed)}
    stats = stats_table(datasets)
    print("\n" + _markdown(stats))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stats.rename_axis("statistic").to_csv(out / "data_stats.csv")

    tables = []
    for name in list(datasets)[:2]:
        t = time.perf_counter()
        table = ranking(datasets[name], sample=args.sample, seed=args.seed, ets=not args.no_ets)
        print(f"\nWRMSSE on {name} ({time.perf_counter() - t:.0f} s)\n" + _markdown(table))
        tables.append(table.rename_axis("forecast").reset_index().assign(data=name))
    pd.concat(tables).to_csv(out / "data_ranking.csv", index=False)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; wrote {out / 'data_stats.csv'} and {out / 'data_ranking.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
