"""Score the mean of saved level-3 forecasts: python level3_average.py /tmp/exp/fc/d28_s0.pkl ..."""
import sys, pickle, numpy as np, pandas as pd
from level3_store import score
import m5kit
data = m5kit.load_m5("/work/shared/data/m5-ca1")
fcs = [pd.read_pickle(f) for f in sys.argv[1:]]
m = fcs[0].copy(); m["forecast"] = np.mean([f["forecast"].to_numpy() for f in fcs], axis=0)
print(score(data, m))
