"""Time the README's main job on two source trees, alternated: the check that a refactor changed nothing.

Usage::

    python benchmarks/bench_commits.py OLD_TREE NEW_TREE [--runs 3] [--out /tmp/commits]

Each tree is a checkout of m5kit (``git worktree add --detach /tmp/old <commit>``).
The job (``m5kit train --level 11 --workers 2 --epochs 5``) runs with the tree
first on ``PYTHONPATH`` in a fresh folder, old and new alternated, ``--runs``
times each. Prints each run's wall and CPU seconds (children included) and
holdout WRMSSE, then the medians and the new/old ratio of the median wall time.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

JOB = ["--level", "11", "--workers", "2", "--epochs", "5"]


def _run(tree: Path, out: Path, extra: list[str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = f"import sys; sys.argv = ['m5kit', 'train', *{JOB + extra!r}, '--out', {str(out)!r}]; from m5kit.cli import main; main()"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out / "scores.csv") as fh:
        rows = {row["level"]: row for row in csv.DictReader(fh)}
    model = next(k for k in rows["all"] if k != "level" and "m5kit" in k)
    return {"wall": wall, "cpu": cpu, "wrmsse": float(rows["all"][model])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/commits"))
    parser.add_argument("--new-args", default="", help="Extra options for the new tree only (e.g. '--no-track --no-report').")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(args.runs):
        for label, tree in (("old", args.old), ("new", args.new)):
            res = _run(tree.resolve(), args.out / label, args.new_args.split() if label == "new" else [])
            results[label].append(res)
            print(f"run {i + 1} {label}: wall {res['wall']:.1f} s, CPU {res['cpu']:.1f} s, WRMSSE {res['wrmsse']:.4f}", flush=True)
    med = {label: {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "wrmsse")} for label, runs in results.items()}
    for label, m in med.items():
        print(f"median {label}: wall {m['wall']:.1f} s, CPU {m['cpu']:.1f} s, WRMSSE {m['wrmsse']:.4f}")
    print(f"new/old median wall: {med['new']['wall'] / med['old']['wall']:.3f}; CPU: {med['new']['cpu'] / med['old']['cpu']:.3f}")


if __name__ == "__main__":
    main()
