"""One CNN-LSTM setting on a seeded subsample of CA_1: WRMSSE, forecast total / actual, CPU seconds.

    export PYTHONPATH=$PWD:$PWD/benchmarks/cnn_lstm_real
    python benchmarks/cnn_lstm_real/run_exp.py --sample A --level 12 --name default
    python benchmarks/cnn_lstm_real/run_exp.py --sample A --level 3 --name recent90 --scale-days 90

The setting runs through make_pipeline on a local Dask cluster. Sample A and B: 100 items of each
category drawn with a seeded RNG, disjoint. Results are appended as one JSON line to
benchmarks/cnn_lstm_real/results.jsonl: WRMSSE (all levels, level 3, level 12), forecast total /
actual (28 days and week 1), the level-12 WRMSSE share per kind of series (slow, intermittent,
fast) and the fit CPU seconds. Forecasts are saved to
benchmarks/cnn_lstm_real/out/<sample>[<n>]_<level>_<name>.csv.
"""
from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = "/work/shared/data/m5-ca1"
CACHE = Path("/tmp/lstmacc_ca1.pkl")


# argument types shared by the scripts of this folder
def positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def seed_list(text):
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of whole numbers: {text!r}") from None
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be >= 0: {text!r}")
    return seeds


def load():
    from m5kit import load_m5
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    data = load_m5(DATA)
    CACHE.write_bytes(pickle.dumps(data))
    return data


def sample_ids(sales: pd.DataFrame, which: str, per_cat: int = 100, seed: int = 2026, n: int | None = None) -> list[str]:
    """Seeded draw of items per category; A = first ``per_cat``, B = next ``per_cat`` (disjoint).

    ``n`` keeps only the first ``n`` items per category of that sample (a smaller subsample of it).
    """
    rng = np.random.default_rng(seed)
    out = []
    for cat, items in sales.groupby("cat_id", observed=True)["item_id"]:
        items = np.array(sorted(pd.unique(items.astype(str))))
        perm = rng.permutation(items)
        k = {"A": 0, "B": 1}[which]
        out.extend(perm[k * per_cat:k * per_cat + (n or per_cat)])
    return out


def subset(data, items):
    from m5kit.datasets import M5Data
    from m5kit.datasets._dtypes import conform_prices, conform_sales
    mask = data.sales["item_id"].astype(str).isin(items).to_numpy()
    pmask = data.prices["item_id"].astype(str).isin(items).to_numpy()
    return M5Data(calendar=data.calendar, prices=conform_prices(data.prices.loc[pmask].reset_index(drop=True)),
                  sales=conform_sales(data.sales.loc[mask].reset_index(drop=True)),
                  future=conform_sales(data.future.loc[mask].reset_index(drop=True), ("id",)))


def kinds(sales: pd.DataFrame) -> pd.Series:
    """slow / intermittent / fast from the last 365 days: zero share >= 0.6 intermittent, mean >= 3 fast."""
    days = [c for c in sales.columns if c.startswith("d_")][-365:]
    v = sales[days].to_numpy(float)
    zero, mean = (v == 0).mean(1), v.mean(1)
    kind = np.where(zero >= 0.6, "intermittent", np.where(mean >= 3, "fast", "slow"))
    return pd.Series(kind, index=sales["id"].astype(str).to_numpy())


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sample", default="A", choices=("A", "B"),
                   help="the subsample: A or B, 100 items per category each, disjoint (default: %(default)s)")
    p.add_argument("--level", type=int, default=12, choices=range(1, 13), metavar="{1..12}",
                   help="aggregation level of the groups, one network per group (default: %(default)s)")
    p.add_argument("--name", default="default",
                   help="name of the setting, in the result's tag (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the windows' sample and the networks (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=10, help="most epochs per fit (default: %(default)s)")
    p.add_argument("--window", type=int, default=28, help="days of history in each input window (default: %(default)s)")
    p.add_argument("--horizon-out", type=int, default=1,
                   help="Windower horizon: 1 forecasts recursively, 28 is direct multi-output (default: %(default)s)")
    p.add_argument("--max-windows", type=int, default=20000,
                   help="most training windows per group (default: %(default)s)")
    p.add_argument("--stride", type=int, default=1,
                   help="keep every N-th target day of the training windows (default: %(default)s)")
    p.add_argument("--scale-days", type=int, default=None,
                   help="scale each series by the mean of its last N known days (default: its whole history)")
    p.add_argument("--window-scale", type=float, default=None,
                   help="scale each window by its own lag mean + this offset (1: the library's "
                        "Windower(scaling='window'); default: series scaling)")
    p.add_argument("--batch", type=int, default=256, help="batch size of the fits (default: %(default)s)")
    p.add_argument("--loss", default=None, help="poisson | tweedie | mse (default: the regressor's)")
    p.add_argument("--output", default=None,
                   help="output activation, softplus | exponential (with rate_builder; default: linear, or softplus "
                        "with --loss poisson or tweedie)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the builder's)")
    p.add_argument("--patience", type=int, default=3,
                   help="epochs without improvement before a fit stops (default: %(default)s)")
    p.add_argument("--features", default=None,
                   help="comma list of the windows' covariate columns, or 'none' (default: the Windower's)")
    p.add_argument("--workers", type=int, default=2, help="Dask workers of the local cluster (default: %(default)s)")
    p.add_argument("--n-per-cat", type=int, default=None,
                   help="keep only the first N items per category of the sample (default: all 100)")
    return p


def main():
    a = parser().parse_args()

    from m5kit.pipeline import make_pipeline
    from variants import ScaleWindower, TimedCNNLSTMRegressor, WindowScaleWindower

    data = subset(load(), sample_ids(load().sales, a.sample, n=a.n_per_cat))
    est_kw = dict(epochs=a.epochs, patience=a.patience, batch_size=a.batch)
    if a.output or a.loss in ("poisson", "tweedie"):
        import rate_builder
        est_kw["model"] = rate_builder.build_rate_cnn_lstm
        est_kw["model__output"] = a.output or "softplus"
        if a.loss == "tweedie":
            est_kw["loss"] = rate_builder.tweedie_loss
        elif a.loss:
            est_kw["loss"] = a.loss
    elif a.loss:
        est_kw["loss"] = a.loss
    if a.lr:
        est_kw["model__learning_rate"] = a.lr
    features = None if a.features is None else ([] if a.features == "none" else a.features.split(","))
    wkw = dict(window=a.window, horizon=a.horizon_out, features=features, stride=a.stride,
               max_windows=a.max_windows, random_state=a.seed, scale_days=a.scale_days)
    if a.window_scale == 1:  # the library's Windower(scaling="window")
        win = ScaleWindower(**wkw, scaling="window")
    else:
        win = ScaleWindower(**wkw) if a.window_scale is None else WindowScaleWindower(**wkw, scale_offset=a.window_scale)
    pipe = make_pipeline(a.level, data.calendar, data.prices, n_workers=a.workers, random_state=a.seed,
                         estimator=TimedCNNLSTMRegressor(**est_kw), windower=win)
    t0 = time.perf_counter()
    pipe.fit(data.sales)
    fc = pipe.predict(data.sales)
    wall = time.perf_counter() - t0
    rep = pipe[-1].fit_report_
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    tag = f"{a.sample}{a.n_per_cat or ''}_{a.level}_{a.name}"
    fc.to_csv(out / f"{tag}.csv", index=False)
    res = {"tag": tag, "args": vars(a), "wall": round(wall, 1), "cpu_fit_s": round(float(rep["seconds"].sum()), 1),
           "cpu_s": round(sum(getattr(e, "cpu_seconds_", float("nan")) for e in pipe[-1].estimators_.values()), 1),
           "epochs_mean": round(float(rep["epochs"].mean()), 2), "n_windows": int(rep["n_windows"].sum())}
    res.update(score(data, fc))
    with open(HERE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
    print(json.dumps(res))


def score(data, fc, evaluator=None):
    from m5kit.metrics import WRMSSEEvaluator
    ev = evaluator or WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    total, levels = ev.score(data.future, fc, per_level=True)
    days = [c for c in data.future.columns if c.startswith("d_")]
    truth = data.future.set_index(data.future["id"].astype(str))[days]
    f = fc.assign(id=fc["id"].astype(str)).pivot(index="id", columns="d", values="forecast").reindex(truth.index)[days]
    ratio = float(f.to_numpy().sum() / truth.to_numpy().sum())
    wk1 = float(f.iloc[:, :7].to_numpy().sum() / truth.iloc[:, :7].to_numpy().sum())
    ps = ev.per_series(data.future, fc)
    l12 = ps[ps["level"] == 12].copy()
    k = kinds(data.sales)
    # level-12 contribution (x12) by kind
    short = pd.Series(k.to_numpy(), index=[i.replace("_validation", "").replace("_evaluation", "") for i in k.index])
    l12["kind"] = short.reindex(l12["series"].astype(str).to_numpy()).to_numpy()
    by_kind = (l12.groupby("kind")["contribution"].sum() * 12).round(4).to_dict()
    ratio_kind = {}
    for kd in ("slow", "intermittent", "fast"):
        ids = k.index[k == kd]
        ratio_kind[kd] = round(float(f.loc[ids].to_numpy().sum() / max(truth.loc[ids].to_numpy().sum(), 1e-9)), 3)
    return {"wrmsse": round(total, 4), "l3": round(float(levels["wrmsse"].iloc[2]), 4),
            "l12": round(float(levels["wrmsse"].iloc[11]), 4), "ratio": round(ratio, 3), "ratio_wk1": round(wk1, 3),
            "l12_by_kind": by_kind, "ratio_by_kind": ratio_kind}


if __name__ == "__main__":
    main()
