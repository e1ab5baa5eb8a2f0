"""Score forecasts saved by ``bench_real_store.py --save-forecasts``, and means of them, on the same window.

So blends of runs made at different times (or on different machines) are scored without fitting again:
every forecast and every mean is scored by m5kit's WRMSSE over all 12 levels, with the three baselines.

Usage::

    python benchmarks/score_saved_forecasts.py [--data ../shared/data/m5-ca1] [--holdout-end DAY]
        --forecast NAME=CSV [NAME=CSV ...] [--ensemble A+B [A+B+C ...]] [--out CSV]

``--holdout-end`` must be the one the forecasts were made for (the window ending on ``d_DAY``; by default
M5's holdout, as ``bench_real_store.py`` without it). ``--ensemble A+B`` adds ``m5kit.mean_forecast`` of
the named forecasts; ``all-pairs`` adds every pair and the mean of all of them.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "m5-ca1"))
    parser.add_argument("--holdout-end", type=int, default=None,
                        help="the day the forecasts' window ends on (as given to bench_real_store.py)")
    parser.add_argument("--forecast", nargs="+", required=True, metavar="NAME=CSV",
                        help="a saved tidy forecast (id, d, forecast) and its short name")
    parser.add_argument("--ensemble", nargs="*", default=[], metavar="A+B", help="means to score, or all-pairs")
    parser.add_argument("--out", default=None, help="CSV of WRMSSE per level (rows) and forecast (columns)")
    args = parser.parse_args()

    import pandas as pd

    import m5kit
    from bench_real_store import _earlier_window
    from m5kit.metrics import WRMSSEEvaluator
    from m5kit.runs import baseline_forecasts, score_forecasts

    saved = {}
    for item in args.forecast:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--forecast {item!r}: give NAME=CSV")
        saved[name] = pd.read_csv(path)
    means = []
    for item in args.ensemble:
        if item == "all-pairs":
            means += [list(pair) for pair in itertools.combinations(saved, 2)] + [list(saved)]
        else:
            names = item.split("+")
            unknown = [n for n in names if n not in saved]
            if unknown:
                parser.error(f"--ensemble {item!r}: no --forecast named {unknown[0]!r}")
            means.append(names)

    data = m5kit.load_m5(args.data)
    if args.holdout_end is not None:
        data = _earlier_window(data, args.holdout_end)
    forecasts = {**baseline_forecasts(data.sales), **saved}
    for names in means:
        forecasts["+".join(names)] = m5kit.mean_forecast([saved[n] for n in names])
    evaluator = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    scores = score_forecasts(data, forecasts, evaluator)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 4):
        print(scores.set_index("level").T)
    if args.out:
        scores.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
