"""Level 3 (one model over the sample) fitted in-process with several seeds: spread, and the seed average.

    python benchmarks/cnn_lstm_real/seeds.py B window 1 0,1,2    # sample, scaling, Windower horizon, seeds
"""
import json
import sys
import time

import numpy as np
from run_exp import HERE, load, sample_ids, score, subset
from m5kit.models import CNNLSTMRegressor
from m5kit.pipeline import make_pipeline
from m5kit.transformers import Windower

if __name__ == "__main__":
    sample, scaling, h, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(s) for s in sys.argv[4].split(",")]
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
