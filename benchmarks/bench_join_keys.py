"""Time m5kit.hierarchy.join_keys (the group names of a level's keys) on a level-12-like frame, in the tree on PYTHONPATH.

Usage::

    PYTHONPATH=/tmp/old python benchmarks/bench_join_keys.py --rows 5000000 --repeats 3   # then the new tree

The frame holds ``--rows`` rows of two categorical id columns (3,000 items x 10 stores, as M5's level 12;
random rows, so every pair appears). Prints the median wall seconds of ``--repeats`` calls, the number of
distinct names, and a checksum of the names (equal across trees when the names are).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time

import numpy as np
import pandas as pd

from m5kit.hierarchy import join_keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    items = pd.Categorical.from_codes(rng.integers(0, 3000, args.rows), [f"FOODS_1_{i:03d}" for i in range(3000)])
    stores = pd.Categorical.from_codes(rng.integers(0, 10, args.rows), [f"CA_{i}" for i in range(10)])
    frame = pd.DataFrame({"item_id": items, "store_id": stores})
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        names = join_keys(frame, ["item_id", "store_id"])
        seconds.append(time.perf_counter() - start)
    digest = hashlib.sha256("\n".join(names.tolist()).encode()).hexdigest()[:12]
    print(f"join_keys, {args.rows:,} rows: median {statistics.median(seconds):.2f} s of {args.repeats} "
          f"({', '.join(f'{s:.2f}' for s in seconds)}); {names.nunique():,} names, checksum {digest}; "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
