"""Fit one group in-process and print the epoch history and scaled-target statistics."""
import sys
import numpy as np
from run_exp import load, sample_ids, subset
from variants import ScaleWindower, WindowScaleWindower
from m5kit.models import CNNLSTMRegressor
from m5kit.pipeline import make_pipeline

if __name__ == "__main__":
    level = int(sys.argv[1]); scale_days = None if sys.argv[2] in ("none", "w") else int(sys.argv[2]); seed = int(sys.argv[3])
    sample = sys.argv[4] if len(sys.argv) > 4 else "A"
    full = load(); data = subset(full, sample_ids(full.sales, sample))
    pipe = make_pipeline(level, data.calendar, data.prices)
    frame = pipe[:-1].fit_transform(data.sales)
    g = frame["group"].astype(str).unique()[0]
    fr = frame[frame["group"].astype(str) == g]
    w = ScaleWindower(max_windows=20000, scale_days=scale_days, random_state=seed,
                      scaling="window" if sys.argv[2] == "w" else "series").fit(fr)
    X, y = w.make_training_data(fr)
    print("group", g, "X", X.shape, "y mean", y.mean(), "y last10% mean", y[-len(y)//10:].mean(), "lag mean", X[:, :, 0].mean())
    est = CNNLSTMRegressor(epochs=10, random_state=seed).fit(X, y)
    for k, v in est.history_.items():
        print(k, np.round(v, 4))
    n = len(y) // 10
    p = est.predict(X[-n:])
    print("val windows: pred mean", p.mean(), "target mean", y[-n:].mean(), "train: pred", est.predict(X[:n]).mean(), "target", y[:n].mean())
    fc = w.recursive_predict(fr, est)
    truth = data.future.set_index(data.future["id"].astype(str))
    daily = fc.assign(id=fc["id"].astype(str)).pivot(index="id", columns="d", values="forecast")
    days = [c for c in truth.columns if c.startswith("d_")]
    print("forecast/actual by day:", np.round(daily[days].sum(0).to_numpy() / truth.loc[daily.index, days].sum(0).to_numpy(), 2))
