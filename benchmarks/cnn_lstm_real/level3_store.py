"""The CNN-LSTM at level 3 on the whole real store CA_1 (one group, 3,049 series), in-process, per seed.

    python benchmarks/cnn_lstm_real/level3_store.py 0,1,2 '{"horizon": 28, "max_windows": 100000, "tag": "d28"}'

Fits Windower + CNNLSTMRegressor(precise_bn=False) with each seed, prints one JSON line per seed: the
mean prediction on the training windows against the mean target (in-sample calibration, inference
mode and training mode), the 28-day forecast's WRMSSE (all levels), forecast total / actual and the
WRMSSE of levels 1, 3, 9, 12; then the same after recomputing the BatchNormalization statistics
exactly over the training windows (``score_recal``: what ``precise_bn=True`` does). Forecasts after
recalibration go to /tmp/exp/fc/<tag>_s<seed>.pkl; ``level3_average.py`` scores their mean.
Options (JSON): horizon (1 = recursive, 28 = direct), max_windows, scaling, window, epochs, patience,
model__* builder parameters.
"""
import argparse, os, time, pickle, json
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1"); os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
from pathlib import Path
import numpy as np, pandas as pd

from run_exp import seed_list

CACHE = Path("/tmp/exp/ca1_l3.pkl")

def frame_and_data():
    import m5kit
    data = m5kit.load_m5("/work/shared/data/m5-ca1")
    if CACHE.exists():
        return data, pickle.loads(CACHE.read_bytes())
    from m5kit.transformers import CalendarMerger, LevelAggregator, PriceJoiner
    f = CalendarMerger(data.calendar).fit_transform(data.sales)
    f = PriceJoiner(data.prices).fit_transform(f)
    f = LevelAggregator(3).fit_transform(f)
    CACHE.write_bytes(pickle.dumps(f))
    return data, f

def score(data, fc):
    from m5kit.metrics import WRMSSEEvaluator
    ev = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    total, levels = ev.score(data.future, fc, per_level=True)
    days = [c for c in data.future.columns if c.startswith("d_")]
    ratio = fc["forecast"].sum() / data.future[days].to_numpy().sum()
    return round(total, 4), round(float(ratio), 3), [round(float(v), 3) for v in levels["wrmsse"].iloc[[0, 2, 8, 11]]]

def bn_recalibrate(model, X, batch=4096):
    """Set every BatchNormalization's moving stats to the exact mean/var of its input over X (inference path)."""
    import keras
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    for bn in bns:
        feat = keras.Model(model.inputs, bn.input)
        acts = np.concatenate([np.asarray(feat(X[i:i+batch], training=False)) for i in range(0, len(X), batch)])
        axes = tuple(range(acts.ndim - 1))
        bn.moving_mean.assign(acts.mean(axis=axes).astype("float32"))
        bn.moving_variance.assign(acts.var(axis=axes).astype("float32"))

#: The keys of the options (JSON), besides the builder's model__* parameters.
OPTIONS = ("horizon", "max_windows", "scaling", "window", "epochs", "patience", "tag")


def options(text):
    try:
        opts = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None
    if not isinstance(opts, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object ({{...}}): {text!r}")
    unknown = sorted(k for k in opts if k not in OPTIONS and not k.startswith("model__"))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown option(s) {', '.join(unknown)}: use {', '.join(OPTIONS)} "
                                         "or model__<builder parameter>")
    return opts


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("seeds", nargs="?", type=seed_list, default=[0, 1, 2],
                   help="comma-separated seeds, one fit each (default: 0,1,2)")
    p.add_argument("options", nargs="?", type=options, default={},
                   help="JSON object of options: horizon (1 = recursive, 28 = direct; default 1), max_windows "
                        "(default 20000), scaling (series or window; default series), window (default 28), epochs "
                        "(default 10), patience (default 3), tag (names the saved forecasts; default x), model__* "
                        "builder parameters (default: {})")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    seeds, opts = args.seeds, args.options
    data, frame = frame_and_data()
    from m5kit.transformers import Windower
    from m5kit.models import CNNLSTMRegressor
    res = []
    for seed in seeds:
        w = Windower(max_windows=opts.get("max_windows", 20000), random_state=seed, scaling=opts.get("scaling", "series"),
                     horizon=opts.get("horizon", 1), window=opts.get("window", 28))
        w.fit(frame)
        X, y = w.make_training_data(frame)
        reg = CNNLSTMRegressor(random_state=seed, precise_bn=False, epochs=opts.get("epochs", 10), patience=opts.get("patience", 3),
                               **{k: v for k, v in opts.items() if k.startswith("model__")})
        t = time.process_time(); reg.fit(X, y); cpu = time.process_time() - t
        p = reg.model_.predict(X, verbose=0, batch_size=4096)
        ptrain = np.asarray(reg.model_(X[:4096], training=True))
        row = {"seed": seed, "cpu": round(cpu, 1), "epochs": len(reg.history_["loss"]), "ymean": float(y.mean()),
               "pred_mean_inf": float(p.mean()), "pred_mean_trainmode": float(ptrain.mean()), "y_first4096": float(y[:4096].mean())}
        fc = w.recursive_predict(frame, reg, horizon=28)
        row["score"] = score(data, fc)
        bn_recalibrate(reg.model_, X[: int(len(X) * 0.9)])  # the training part (the engine holds out the last 10%)
        p2 = reg.model_.predict(X, verbose=0, batch_size=4096)
        row["pred_mean_recal"] = float(p2.mean())
        reg._predictor_cache = None if hasattr(reg, "_predictor_cache") else None
        fc2 = w.recursive_predict(frame, reg, horizon=28)
        row["score_recal"] = score(data, fc2)
        tag = opts.get("tag", "x")
        Path("/tmp/exp/fc").mkdir(exist_ok=True)
        fc2.to_pickle(f"/tmp/exp/fc/{tag}_s{seed}.pkl")
        print(json.dumps(row), flush=True)
