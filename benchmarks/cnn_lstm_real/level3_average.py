"""Score the mean of saved level-3 forecasts on the whole real store CA_1.

The forecasts are those level3_store.py saved (/tmp/exp/fc/<tag>_s<seed>.pkl). Prints (WRMSSE all
levels, forecast total / actual, WRMSSE of levels 1, 3, 9, 12) of their mean.

    python benchmarks/cnn_lstm_real/level3_average.py /tmp/exp/fc/d28_s0.pkl /tmp/exp/fc/d28_s1.pkl ...
"""
import argparse
import numpy as np, pandas as pd
from level3_store import score


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("forecasts", nargs="+", metavar="forecast.pkl",
                   help="saved forecasts (pickled tidy tables with a forecast column) to average")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    import m5kit
    data = m5kit.load_m5("/work/shared/data/m5-ca1")
    fcs = [pd.read_pickle(f) for f in args.forecasts]
    m = fcs[0].copy(); m["forecast"] = np.mean([f["forecast"].to_numpy() for f in fcs], axis=0)
    print(score(data, m))
