"""WRMSSE of per-group LightGBM / XGBoost forecasters on real M5 data (store CA_1), next to the baselines.

Trains on d_1 .. d_1913, forecasts d_1914 .. d_1941 (``data.future``) and scores all 12 levels with
m5kit's own WRMSSE evaluator. Prints one line per run (wall and CPU seconds, WRMSSE) and the per-level
table; writes benchmarks/results/gbm_real.csv.

Usage: python benchmarks/bench_gbm_real.py [--data DIR] [--levels 3 9] [--strategies direct recursive]
       [--model lightgbm|xgboost] [--workers 2] [--train-days N] [--param key=value ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu_seconds(proc) -> float:
    """CPU seconds of this process and its live children (the Dask workers)."""
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except Exception:  # a child that ended meanwhile
            pass
    return total


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "m5-ca1"))
    parser.add_argument("--levels", type=int, nargs="+", default=[3, 9])
    parser.add_argument("--strategies", nargs="+", default=["direct", "recursive"])
    parser.add_argument("--model", default="lightgbm")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-days", type=int, default=None)
    parser.add_argument("--param", nargs="*", default=[], help="model parameters, key=value (JSON values)")
    parser.add_argument("--feature", nargs="*", default=[], help="LagFeatures parameters, key=value (JSON values)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "gbm_real.csv"))
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.WARNING)
    import pandas as pd
    import psutil

    import m5kit
    from m5kit.execution.cluster import open_client
    from m5kit.pipeline import make_pipeline
    from m5kit.runs import baseline_forecasts, score_forecasts

    params = dict(p.split("=", 1) for p in args.param)
    params = {k: _value(v) for k, v in params.items()}
    features = {k: _value(v) for k, v in (p.split("=", 1) for p in args.feature)}
    if args.train_days is not None:
        features["train_days"] = args.train_days
    print(f"command: python benchmarks/bench_gbm_real.py {' '.join(os.sys.argv[1:])}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, m5kit {m5kit.__version__}")

    start = time.perf_counter()
    data = m5kit.load_m5(args.data)
    print(f"data: {data.n_series} series, {data.n_days} days, future {data.future is not None} "
          f"(loaded in {time.perf_counter() - start:.1f} s)")
    forecasts = {} if args.no_baselines else baseline_forecasts(data.sales)
    proc = psutil.Process()
    runs = []
    with open_client(n_workers=args.workers, dashboard=False) as client:
        for level in args.levels:
            for strategy in args.strategies:
                pipe = make_pipeline(level, data.calendar, data.prices, model=args.model, client=client, strategy=strategy)
                pipe.set_params(**{f"groupedestimator__estimator__{k}": v for k, v in params.items()},
                                **{f"groupedestimator__windower__{k}": v for k, v in features.items()})
                cpu0, wall0 = _cpu_seconds(proc), time.perf_counter()
                pipe.fit(data.sales)
                fitted = time.perf_counter()
                forecast = pipe.predict(data.sales)
                wall, cpu = time.perf_counter() - wall0, _cpu_seconds(proc) - cpu0
                name = f"{args.model} L{level} {strategy}"
                forecasts[name] = forecast
                ratio = forecast["forecast"].sum() / data.future[[c for c in data.future.columns if str(c).startswith("d_")]].to_numpy().sum()
                runs.append({"run": name, "groups": len(pipe[-1].groups_), "wall_s": round(wall, 1),
                             "fit_wall_s": round(fitted - wall0, 1), "cpu_s": round(cpu, 1), "forecast/actual": round(ratio, 3)})
                print(runs[-1], flush=True)
    scores = score_forecasts(data, forecasts)
    pd.set_option("display.width", 250)
    print(scores.round(4).to_string(index=False))
    table = pd.DataFrame(runs)
    table["wrmsse"] = [float(scores.loc[scores["level"] == "all", r].iloc[0]) for r in table["run"]]
    print(table.to_string(index=False))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
