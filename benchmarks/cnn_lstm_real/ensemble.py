"""Score the average of saved forecasts (benchmarks/cnn_lstm_real/out/<tag>.csv): seed averaging without refitting.

    python benchmarks/cnn_lstm_real/ensemble.py A A_3_default A_3_seed1
"""
import json
import sys

import pandas as pd

from run_exp import HERE, load, sample_ids, score, subset

if __name__ == "__main__":
    sample, tags = sys.argv[1], sys.argv[2:]
    full = load()
    data = subset(full, sample_ids(full.sales, sample))
    fcs = [pd.read_csv(HERE / "out" / f"{t}.csv") for t in tags]
    mean = fcs[0].copy()
    mean["forecast"] = sum(f["forecast"].to_numpy() for f in fcs) / len(fcs)
    res = {"tag": "mean(" + "+".join(tags) + ")", **score(data, mean)}
    print(json.dumps(res))
    with open(HERE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
