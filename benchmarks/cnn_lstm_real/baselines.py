"""Baselines (m5kit's) on the two subsamples, same scoring as run_exp.py.

Scores m5kit's baseline forecasts (naive, seasonal naive, moving average of 28 days) on samples
A and B of CA_1 with run_exp.py's scoring (WRMSSE all levels, level 3, level 12, forecast total /
actual, level-12 share per kind of series). Prints one JSON line per sample and baseline and
appends it to benchmarks/cnn_lstm_real/results.jsonl (tags <sample>[<n>]_base_<name>).

    python benchmarks/cnn_lstm_real/baselines.py        # samples A and B, 100 items per category
    python benchmarks/cnn_lstm_real/baselines.py 20     # their first 20 items per category (60 series)
"""
import argparse
import json

from run_exp import HERE, load, positive, sample_ids, score, subset


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", nargs="?", type=positive, default=None,
                   help="keep only the first N items per category of each sample (default: all 100, 300 series)")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    from m5kit.runs import baseline_forecasts
    from m5kit.metrics import WRMSSEEvaluator
    full = load()
    n = args.n
    for s in ("A", "B"):
        data = subset(full, sample_ids(full.sales, s, n=n))
        ev = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
        for name, fc in baseline_forecasts(data.sales).items():
            res = {"tag": f"{s}{n or ''}_base_{name}", **score(data, fc, ev)}
            print(json.dumps(res))
            with open(HERE / "results.jsonl", "a") as fh:
                fh.write(json.dumps(res) + "\n")
