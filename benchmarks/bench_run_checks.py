"""Time what ``m5kit train`` checks before its cluster starts, per model and level, with two source trees alternated.

Usage::

    python benchmarks/bench_run_checks.py OLD_TREE NEW_TREE [--data DIR] [--levels 1 3 12] [--models cnn-lstm lightgbm]

Each tree is a checkout of m5kit (``git worktree add --detach /tmp/old <commit>``). For each model,
level and tree, a fresh Python process loads the data (not timed), warms the model's imports on two
items, then times ``prepare_run``'s checks of the groups, CPU seconds of the median of 3 calls:
``some_group_fits`` (every run: refuses data where no group can train) and, where the tree has it,
``no_group_short`` (``--on-short error`` only: every group that is too short, named). Old and new
are alternated. ``--data`` defaults to the real store ``../shared/data/m5-ca1`` when it exists.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, statistics, sys, time
from m5kit import runs
from m5kit.pipeline import resolve_strategy

data_dir, model, level = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = runs.load_data(data_dir)
warm = runs.load_data(None, items=2)
runs._check_some_group_fits(runs.RunConfig(level=1, model=model, strategy=resolve_strategy(model, None)), warm)
config = runs.RunConfig(level=level, model=model, data_dir=data_dir, strategy=resolve_strategy(model, None))

def cpu(func):
    times = []
    for _ in range(3):
        start = time.process_time()
        func(config, data)
        times.append(time.process_time() - start)
    return round(statistics.median(times), 3)

out = {"some_group_fits": cpu(runs._check_some_group_fits)}
if hasattr(runs, "_check_no_group_short"):
    out["no_group_short"] = cpu(runs._check_no_group_short)
print(json.dumps(out))
"""


def _run(tree: Path, data: str, model: str, level: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", _CHILD, data, model, str(level)], env=env, check=True, cwd="/",
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path, help="the source tree before the change")
    parser.add_argument("new", type=Path, help="the source tree after it")
    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "m5-ca1"
    parser.add_argument("--data", default=str(real) if real.is_dir() else None,
                        help="an M5 data folder (default: ../shared/data/m5-ca1)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 3, 12])
    parser.add_argument("--models", nargs="+", default=["cnn-lstm", "lightgbm"])
    args = parser.parse_args()
    if not args.data:
        parser.error("give --data: ../shared/data/m5-ca1 is not there")
    print("| model | level | tree | some_group_fits CPU-s | no_group_short CPU-s |")
    print("|---|---:|---|---:|---:|")
    for model in args.models:
        for level in args.levels:
            for name, tree in (("old", args.old), ("new", args.new)):
                got = _run(tree.resolve(), str(Path(args.data).resolve()), model, level)
                print(f"| {model} | {level} | {name} | {got['some_group_fits']:.2f} | "
                      f"{got.get('no_group_short', float('nan')):.2f} |", flush=True)


if __name__ == "__main__":
    main()
