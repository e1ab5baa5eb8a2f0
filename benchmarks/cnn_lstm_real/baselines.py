"""Baselines (m5kit's) on the two subsamples, same scoring as run_exp.py."""
import json
import sys

from run_exp import HERE, load, sample_ids, score, subset


if __name__ == "__main__":
    from m5kit.runs import baseline_forecasts
    from m5kit.metrics import WRMSSEEvaluator
    full = load()
    n = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for s in ("A", "B"):
        data = subset(full, sample_ids(full.sales, s, n=n))
        ev = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
        for name, fc in baseline_forecasts(data.sales).items():
            res = {"tag": f"{s}{n or ''}_base_{name}", **score(data, fc, ev)}
            print(json.dumps(res))
            with open(HERE / "results.jsonl", "a") as fh:
                fh.write(json.dumps(res) + "\n")
