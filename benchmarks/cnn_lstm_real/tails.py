"""Why MSE on series-mean-scaled windows is fragile: heavy tails and level drift of the scaled targets (sample A).

On sample A of CA_1 at level 3, prints the scaled targets' mean, maximum, 99.9th percentile, the
share of sum(y^2) in the top 1% of windows and the target / lag-mean ratio in the last 10% of
windows, for series and window scaling; then the last-28-day mean / mean since first sale of the
series (level drift). No arguments.

    python benchmarks/cnn_lstm_real/tails.py
"""
import argparse

import numpy as np
from run_exp import load, sample_ids, subset


def parser():
    return argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)


if __name__ == "__main__":
    parser().parse_args()
    from m5kit.pipeline import make_pipeline
    from m5kit.transformers import Windower

    full = load(); data = subset(full, sample_ids(full.sales, "A"))
    frame = make_pipeline(3, data.calendar, data.prices)[:-1].fit_transform(data.sales)
    for scaling in ("series", "window"):
        w = Windower(scaling=scaling, max_windows=20000).fit(frame)
        X, y = w.make_training_data(frame)
        top = np.sort(y)[-len(y) // 100:]
        print(f"{scaling:6} y mean {y.mean():.3f} max {y.max():.1f} p99.9 {np.quantile(y, .999):.2f} "
              f"share of sum(y^2) in top 1%: {np.sum(top ** 2) / np.sum(y ** 2):.2f}  "
              f"target/lag-mean in last 10% of windows: {y[-len(y)//10:].mean() / X[-len(y)//10:, :, 0].mean():.3f}")
    days = [c for c in data.sales.columns if c.startswith("d_")]
    v = data.sales[days].to_numpy(float)
    first = np.argmax(v > 0, axis=1)
    hist = np.array([v[i, f:].mean() for i, f in enumerate(first)])
    recent = v[:, -28:].mean(1)
    r = recent / np.maximum(hist, 1e-9)
    print(f"last-28-day mean / mean since first sale: median {np.median(r):.2f}, quartiles {np.quantile(r, .25):.2f}-{np.quantile(r, .75):.2f}, "
          f"sales-weighted {recent.sum() / hist.sum():.2f}")
