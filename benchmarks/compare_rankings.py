"""Rank the same forecasts on two data sets: does the built-in data order them as the real store does?

Reads the score tables written by ``bench_real_store.py --out`` (one column per forecast, one row per
M5 level and ``all``) and prints, for each forecast present in all of them, its WRMSSE and rank on each
data set, the pairs of forecasts the two data sets order differently, and Kendall's tau between the two
rankings.

Each data set may be given several tables, one per holdout window (``bench_real_store.py
--holdout-end``): a forecast's score is then its mean WRMSSE over the windows, and Kendall's tau is also
printed between every two tables, so that the agreement of the two data sets can be read against how
much two windows of the same store agree.

    python benchmarks/compare_rankings.py results/families_real.csv results/families_builtin.csv
    python benchmarks/compare_rankings.py --first real_1941.csv real_1913.csv --second builtin_1941.csv builtin_1913.csv
"""

from __future__ import annotations

import argparse
from itertools import combinations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="two score tables: the first data set's, then the second's")
    parser.add_argument("--first", nargs="+", default=None, help="the first data set's tables, one per window")
    parser.add_argument("--second", nargs="+", default=None, help="the second data set's tables, one per window")
    parser.add_argument("--names", nargs=2, default=["real", "built-in"], help="labels of the two data sets")
    parser.add_argument("--out", default=None, help="also write the side-by-side table as CSV")
    args = parser.parse_args()
    if (args.first is None) != (args.second is None) or (args.first is None and len(args.tables) != 2) \
            or (args.first is not None and args.tables):
        parser.error("give two score tables, or --first TABLE... and --second TABLE...")
    first_paths, second_paths = (args.first, args.second) if args.first else ([args.tables[0]], [args.tables[1]])

    import pandas as pd
    from scipy.stats import kendalltau

    def overall(path):
        return pd.read_csv(path, dtype={"level": str}).set_index("level").loc["all"].astype(float)

    scores = {path: overall(path) for path in [*first_paths, *second_paths]}
    common = [name for name in scores[first_paths[0]].index if all(name in s.index for s in scores.values())]
    if len(common) < 2:
        raise SystemExit(f"error: the tables share {len(common)} forecast(s); need at least 2")
    first, second = args.names
    table = pd.DataFrame({first: pd.concat([scores[p][common] for p in first_paths], axis=1).mean(axis=1),
                          second: pd.concat([scores[p][common] for p in second_paths], axis=1).mean(axis=1)})
    table[f"rank {first}"] = table[first].rank(method="min").astype(int)
    table[f"rank {second}"] = table[second].rank(method="min").astype(int)
    table = table.sort_values(first)
    pd.set_option("display.width", 200)
    if len(scores) > 2:
        print(f"mean WRMSSE over {len(first_paths)} / {len(second_paths)} windows")
    print(table.round(3).to_string())
    swapped = [(x, y) for x, y in combinations(table.index, 2)
               if (table.at[x, first] - table.at[y, first]) * (table.at[x, second] - table.at[y, second]) < 0]
    print(f"\n{len(swapped)} of {len(table) * (len(table) - 1) // 2} pairs ordered differently:")
    for x, y in swapped:
        print(f"  {x} ({table.at[x, first]:.3f} / {table.at[x, second]:.3f}) vs "
              f"{y} ({table.at[y, first]:.3f} / {table.at[y, second]:.3f})")
    tau = kendalltau(table[first], table[second]).statistic
    print(f"Kendall's tau between the rankings: {tau:.3f}")
    if len(scores) > 2:
        print("\nKendall's tau between every two tables:")
        for x, y in combinations(scores, 2):
            print(f"  {x} vs {y}: {kendalltau(scores[x][common], scores[y][common]).statistic:.3f}")
    if args.out:
        table.to_csv(args.out)


if __name__ == "__main__":
    main()
