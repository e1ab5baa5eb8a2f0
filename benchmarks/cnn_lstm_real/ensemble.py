"""Score the average of saved forecasts (benchmarks/cnn_lstm_real/out/<tag>.csv): seed averaging without refitting.

The forecasts are those run_exp.py saved. Prints one JSON line with run_exp.py's scores (WRMSSE
all levels, level 3, level 12, forecast total / actual) and appends it to
benchmarks/cnn_lstm_real/results.jsonl (tag mean(<tag>+<tag>...)).

    python benchmarks/cnn_lstm_real/ensemble.py A A_3_default A_3_seed1
"""
import argparse
import json

import pandas as pd

from run_exp import HERE, load, sample_ids, score, subset


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sample", choices=("A", "B"), metavar="sample",
                   help="the sample of CA_1 the forecasts were made on: A or B")
    p.add_argument("tags", nargs="+", metavar="tag",
                   help="saved forecasts to average: the names of files out/<tag>.csv (run_exp.py's "
                        "<sample>[<n>]_<level>_<name>)")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    sample, tags = args.sample, args.tags
    full = load()
    data = subset(full, sample_ids(full.sales, sample))
    fcs = [pd.read_csv(HERE / "out" / f"{t}.csv") for t in tags]
    mean = fcs[0].copy()
    mean["forecast"] = sum(f["forecast"].to_numpy() for f in fcs) / len(fcs)
    res = {"tag": "mean(" + "+".join(tags) + ")", **score(data, mean)}
    print(json.dumps(res))
    with open(HERE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
