"""Fit one group in-process and print the epoch history and scaled-target statistics."""
import sys
import numpy as np
from run_exp import load, sample_ids, subset
from variants import ScaleWindower, WindowScaleWindower
from m5kit.models import CNNLSTMRegressor
from m5kit.pipeline import make_pipeline

if __name__ == "__main__":
    level = int(sys.argv[1]); scale_days = None if sys.argv[2] in ("none", "w") else int(sys.argv[2]); seed = int(sys.argv[3])
    full = load(); data = subset(full, sample_ids(full.sales, "A"))
    pipe = make_pipeline(level, data.calendar, data.prices)
    frame = pipe[:-1].fit_transform(data.sales)
    g = frame["group"].astype(str).unique()[0]
    fr = frame[frame["group"].astype(str) == g]
    w = (WindowScaleWindower(max_windows=20000, random_state=seed) if sys.argv[2] == "w" else ScaleWindower(max_windows=20000, scale_days=scale_days, random_state=seed)).fit(fr)
    X, y = w.make_training_data(fr)
    print("group", g, "X", X.shape, "y mean", y.mean(), "y last10% mean", y[-len(y)//10:].mean(), "lag mean", X[:, :, 0].mean())
    est = CNNLSTMRegressor(epochs=10, random_state=seed).fit(X, y)
    for k, v in est.history_.items():
        print(k, np.round(v, 4))
    p = est.predict(X[-len(y)//10:])
    print("pred mean on val", p.mean(), "train-mode?")
    fc = w.recursive_predict(fr, est)
    print("forecast total", fc.forecast.sum())
