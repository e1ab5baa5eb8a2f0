"""Level 3 (one model over the sample) fitted in-process with several seeds: spread, and the seed average.

One CNN-LSTM over the sample's level-3 series, fitted in this process (no Dask) once per seed.
Prints one JSON line per seed (fit CPU seconds, epochs, run_exp.py's scores: WRMSSE all levels,
level 3, level 12, forecast total / actual) and one for the mean of the seeds' forecasts, and
appends them to benchmarks/cnn_lstm_real/results.jsonl.

    python benchmarks/cnn_lstm_real/seeds.py B window 1 0,1,2    # sample, scaling, Windower horizon, seeds
"""
import argparse
import json
import time

import numpy as np
from run_exp import HERE, load, positive, sample_ids, score, seed_list, subset


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sample", choices=("A", "B"), metavar="sample",
                   help="the sample of CA_1: A or B (100 items per category each)")
    p.add_argument("scaling", choices=("series", "window"), metavar="scaling", help="Windower(scaling=...): series "
                   "divides by the series' mean, window each window by 1 + the mean of its lag column")
    p.add_argument("horizon", type=positive, help="Windower horizon: 1 predicts one day and forecasts recursively, "
                   "28 predicts the 28 days at once (direct)")
    p.add_argument("seeds", type=seed_list, help="comma-separated seeds of the network (e.g. 0,1,2), one fit each")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    from m5kit.models import CNNLSTMRegressor
    from m5kit.pipeline import make_pipeline
    from m5kit.transformers import Windower

    sample, scaling, h, seeds = args.sample, args.scaling, args.horizon, args.seeds
    full = load(); data = subset(full, sample_ids(full.sales, sample))
    frame = make_pipeline(3, data.calendar, data.prices)[:-1].fit_transform(data.sales)
    fcs = []
    for seed in seeds:
        t = time.process_time()
        w = Windower(max_windows=20000, scaling=scaling, horizon=h, random_state=0).fit(frame)
        X, y = w.make_training_data(frame)
        est = CNNLSTMRegressor(epochs=10, random_state=seed).fit(X, y)
        fc = w.recursive_predict(frame, est)
        cpu = time.process_time() - t
        fcs.append(fc)
        res = {"tag": f"{sample}_3_inproc_{scaling}_h{h}_seed{seed}", "cpu_s": round(cpu, 1), "epochs_mean": len(est.history_["loss"]), **score(data, fc)}
        print(json.dumps(res), flush=True)
        with open(HERE / "results.jsonl", "a") as fh:
            fh.write(json.dumps(res) + "\n")
    mean = fcs[0].copy()
    mean["forecast"] = np.mean([f["forecast"].to_numpy() for f in fcs], axis=0)
    res = {"tag": f"{sample}_3_inproc_{scaling}_h{h}_mean_of_{len(seeds)}_seeds", **score(data, mean)}
    print(json.dumps(res))
    with open(HERE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
