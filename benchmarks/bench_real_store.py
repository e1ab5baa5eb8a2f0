"""m5kit's forecasters against the baselines and statsforecast's AutoETS, on one real M5 store.

Every forecast is made for the same series and the same 28 days (trained on d_1 .. d_1913, scored on
d_1914 .. d_1941) and scored by m5kit's WRMSSE over all 12 levels. AutoETS (season 7, one model per
bottom series fitted from its first sale, forecasts clipped at 0, summed bottom-up as M5's ES_bu)
runs in a pool of ``--workers`` processes, m5kit on a LocalCluster of as many workers: wall and CPU
seconds side by side.

Usage::

    python benchmarks/bench_real_store.py [--data ../shared/data/m5-ca1] [--workers 2]
        [--runs cnn-lstm:3 cnn-lstm:9 lightgbm:9 lightgbm:3:strategy=direct] [--no-autoets]
        [--items N [--sample-seed S]] [--holdout-end DAY]
        [--ensemble NAME=RUN+RUN ...] [--save-forecasts DIR] [--out CSV]

A run is ``model:level`` with optional ``:name=value,name=value`` pipeline parameters (the short names
of ``m5kit tune --help``, ``strategy``, ``seeds``, ``random_state``, ``pretrain_level``, ``finetune_params`` (JSON), or full
pipeline names; values are JSON or plain strings).
``--ensemble`` adds the mean of the named runs' forecasts (``all`` = every m5kit run; ``m5kit.mean_forecast``)
as one more forecast, scored like the others; its seconds are the sum of its members'.
The series of groups a run skips (no day to train on) are forecast 0 and counted (``series_forecast_0``).
``--holdout-end DAY`` scores the 28 days that end on ``d_DAY`` instead (trained on the days before them):
an earlier window of the same store, to see how much one 28-day window decides a ranking.

Needs the bench extra (``pip install ".[bench]"``: statsforecast, psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
H = 28


def _autoets_chunk(rows: np.ndarray) -> np.ndarray:
    """AutoETS(season 7) forecasts of a block of series (one per row), from each series' first sale."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from statsforecast.models import AutoETS

    out = np.zeros((len(rows), H))
    for i, y in enumerate(rows):
        start = int(np.argmax(y > 0)) if (y > 0).any() else len(y) - H
        history = y[start:].astype(float)
        if len(history) < 2 * 7 or not history.any():
            out[i] = history[-H:].mean() if len(history) else 0.0
            continue
        out[i] = np.clip(AutoETS(season_length=7).forecast(history, h=H)["mean"], 0, None)
    return out


def _cpu(proc) -> float:
    import psutil

    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
            total += sum(child.cpu_times()[:2])
    return total


def _earlier_window(data, end: int):
    """The same store with the 28 days ending on day ``end`` as the holdout and the days before as training."""
    import pandas as pd

    from m5kit._schema import HORIZON, ID, day_columns
    from m5kit.datasets import M5Data
    from m5kit.datasets._dtypes import conform_sales

    known = data.sales if data.future is None else pd.concat(
        [data.sales, data.future[day_columns(data.future.columns)]], axis=1)
    days = day_columns(known.columns)  # d_1 .. d_last
    if not 2 * HORIZON < end <= len(days):
        raise SystemExit(f"--holdout-end {end}: must be a day from {2 * HORIZON + 1} to {len(days)}, the last known day")
    later = days[end - HORIZON:]  # the window and the days after it
    return M5Data(data.calendar, data.prices, conform_sales(known.drop(columns=later)),
                  conform_sales(known[[ID, *later[:HORIZON]]], (ID,)))


def _zero_filled(forecast, like) -> tuple:
    """``forecast`` with the series it lacks forecast 0 (those of the groups a run skipped, e.g. an item not on sale
    before the window: no day to train on), as a user would submit them; and how many series that is."""
    import pandas as pd

    missing = ~like["id"].astype(str).isin(set(forecast["id"].astype(str)))
    if not missing.any():
        return forecast, 0
    print(f"{like.loc[missing, 'id'].nunique()} series of skipped groups forecast 0", flush=True)
    filled = like.loc[missing, ["id", "d"]].assign(forecast=0.0)
    return pd.concat([forecast, filled], ignore_index=True), int(like.loc[missing, "id"].nunique())


def _parse_run(spec: str) -> tuple[str, int, dict]:
    """``model:level[:name=value,...]`` -> (model, level, parameters); values parsed as JSON when they can be."""
    import json
    import re

    model, level, *rest = spec.split(":", 2)
    params = {}
    for pair in filter(None, (re.split(r",(?=[A-Za-z_]\w*=)", rest[0]) if rest else [])):
        key, _, value = pair.partition("=")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return model, int(level), params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "m5-ca1"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", nargs="*", default=["lightgbm:9", "cnn-lstm:3", "cnn-lstm:9"],
                        help="m5kit runs as model:level")
    parser.add_argument("--no-autoets", action="store_true")
    parser.add_argument("--items", type=int, default=None, help="first N items only (a quick check)")
    parser.add_argument("--sample-seed", type=int, default=None,
                        help="with --items: a random sample of N items drawn with this seed, not the first N")
    parser.add_argument("--holdout-end", type=int, default=None,
                        help="score the 28 days ending on this day (an earlier window), trained on the days before")
    parser.add_argument("--ensemble", nargs="*", default=[], help="NAME=RUN+RUN (runs as given to --runs) or NAME=all")
    parser.add_argument("--save-forecasts", default=None, help="folder for each forecast as CSV")
    parser.add_argument("--out", default=str(HERE / "results" / "real_store.csv"))
    args = parser.parse_args()

    import pandas as pd
    import psutil

    import m5kit
    from m5kit._schema import day_columns, day_name
    from m5kit.datasets import subset_items
    from m5kit.execution.cluster import open_client
    from m5kit.metrics import WRMSSEEvaluator
    from m5kit.pipeline import make_pipeline
    from m5kit.runs import baseline_forecasts, score_forecasts
    from m5kit.tuning_objectives import resolve

    print(f"command: python benchmarks/bench_real_store.py {' '.join(os.sys.argv[1:])}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, m5kit {m5kit.__version__}")
    data = m5kit.load_m5(args.data)
    if args.items:
        data = subset_items(data, args.items, seed=args.sample_seed)
    if args.holdout_end is not None:
        data = _earlier_window(data, args.holdout_end)
    print(f"data: {data.n_series} series, {data.n_days} days")
    forecasts = baseline_forecasts(data.sales)
    evaluator = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    proc = psutil.Process()
    rows = []

    if not args.no_autoets:
        days = day_columns(data.sales.columns)
        values = data.sales[days].to_numpy(float)
        blocks = np.array_split(values, args.workers * 8)
        cpu0, wall0 = _cpu(proc), time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            parts = list(pool.map(_autoets_chunk, blocks))
            cpu = _cpu(proc) - cpu0  # the pool's processes are children until it closes
        wall = time.perf_counter() - wall0
        last = len(days)
        pred = np.vstack(parts)
        forecasts["AutoETS (statsforecast)"] = pd.DataFrame({
            "id": np.repeat(data.sales["id"].astype(str).to_numpy(), H),
            "d": np.tile([day_name(last + k) for k in range(1, H + 1)], len(pred)),
            "forecast": pred.reshape(-1)})
        rows.append({"forecast": "AutoETS (statsforecast)", "groups": data.n_series, "wall_s": wall, "cpu_s": cpu})
        print(rows[-1], flush=True)

    with open_client(n_workers=args.workers, dashboard=False) as client:
        for spec in args.runs:
            model, level, params = _parse_run(spec)
            pipe = make_pipeline(int(level), data.calendar, data.prices, model=model, client=client,
                                 strategy=params.pop("strategy", None), seeds=params.pop("seeds", 1),
                                 pretrain_level=params.pop("pretrain_level", "auto"),
                                 finetune_params=params.pop("finetune_params", None),
                                 random_state=params.pop("random_state", 0))
            pipe.set_params(**resolve(model, params))
            cpu0, wall0 = _cpu(proc), time.perf_counter()
            forecast = pipe.fit(data.sales).predict(data.sales)
            name = f"m5kit {spec}"
            forecasts[name], zeros = _zero_filled(forecast, forecasts["Naive"])
            rows.append({"forecast": name, "groups": len(pipe[-1].groups_), "wall_s": time.perf_counter() - wall0,
                         "cpu_s": _cpu(proc) - cpu0, "series_forecast_0": zeros})
            # scored now too: a later run that fails does not lose this one's score
            rows[-1]["wrmsse"] = float(score_forecasts(data, {name: forecasts[name]}, evaluator).iloc[-1][name])
            print(rows[-1], flush=True)

    for item in args.ensemble:
        name, _, members = item.partition("=")
        runs = args.runs if members == "all" else members.split("+")
        forecasts[f"ensemble {name}"] = m5kit.mean_forecast([forecasts[f"m5kit {r}"] for r in runs])
        done = {r["forecast"]: r for r in rows}
        rows.append({"forecast": f"ensemble {name}", "groups": sum(done[f"m5kit {r}"]["groups"] for r in runs),
                     "wall_s": sum(done[f"m5kit {r}"]["wall_s"] for r in runs),
                     "cpu_s": sum(done[f"m5kit {r}"]["cpu_s"] for r in runs)})
    if args.save_forecasts:
        folder = Path(args.save_forecasts)
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in forecasts.items():
            frame.to_csv(folder / (name.replace(" ", "_").replace(":", "_").replace("/", "_") + ".csv"), index=False)

    scores = score_forecasts(data, forecasts, evaluator)
    pd.set_option("display.width", 250)
    print(scores.round(4).to_string(index=False))
    summary = pd.DataFrame(rows)
    total = scores.set_index("level").loc["all"]
    summary["wrmsse"] = [float(total[n]) for n in summary["forecast"]]
    print(summary.round(3).to_string(index=False))
    print("baselines:", {k: round(float(total[k]), 4) for k in total.index if k not in set(summary["forecast"])})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    summary.to_csv(out.with_name(out.stem + "_runs.csv"), index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
