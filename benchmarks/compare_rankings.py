"""Rank the same forecasts on two data sets: does the built-in data order them as the real store does?

Reads two score tables written by ``bench_real_store.py --out`` (one column per forecast, one row per
M5 level and ``all``) and prints, for each forecast present in both, its WRMSSE and rank on each, the
pairs of forecasts the two data sets order differently, and Kendall's tau between the two rankings.

    python benchmarks/compare_rankings.py results/families_real.csv results/families_builtin.csv
"""

from __future__ import annotations

import argparse
from itertools import combinations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="score table of the first data set (e.g. the real store)")
    parser.add_argument("second", help="score table of the second data set (e.g. the built-in data)")
    parser.add_argument("--names", nargs=2, default=["real", "built-in"], help="labels of the two data sets")
    parser.add_argument("--out", default=None, help="also write the side-by-side table as CSV")
    args = parser.parse_args()

    import pandas as pd
    from scipy.stats import kendalltau

    a, b = (pd.read_csv(p, dtype={"level": str}).set_index("level").loc["all"] for p in (args.first, args.second))
    common = [name for name in a.index if name in b.index]
    if len(common) < 2:
        raise SystemExit(f"error: the two tables share {len(common)} forecast(s); need at least 2")
    first, second = args.names
    table = pd.DataFrame({first: a[common].astype(float), second: b[common].astype(float)})
    table[f"rank {first}"] = table[first].rank(method="min").astype(int)
    table[f"rank {second}"] = table[second].rank(method="min").astype(int)
    table = table.sort_values(first)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string())
    swapped = [(x, y) for x, y in combinations(table.index, 2)
               if (table.at[x, first] - table.at[y, first]) * (table.at[x, second] - table.at[y, second]) < 0]
    print(f"\n{len(swapped)} of {len(table) * (len(table) - 1) // 2} pairs ordered differently:")
    for x, y in swapped:
        print(f"  {x} ({table.at[x, first]:.3f} / {table.at[x, second]:.3f}) vs "
              f"{y} ({table.at[y, first]:.3f} / {table.at[y, second]:.3f})")
    tau = kendalltau(table[first], table[second]).statistic
    print(f"Kendall's tau between the rankings: {tau:.3f}")
    if args.out:
        table.to_csv(args.out)


if __name__ == "__main__":
    main()
