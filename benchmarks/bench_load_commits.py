"""Time ``load_m5`` of one folder with two source trees, alternated: a loader change side by side.

Usage::

    python benchmarks/bench_load_commits.py OLD_TREE NEW_TREE --data DIR [--runs 5] [--pythonpath EXTRA]

Each tree is a checkout of m5kit (``git worktree add --detach /tmp/old <commit>``). Every run is
a fresh Python process with the tree on ``PYTHONPATH`` (after ``--pythonpath``, e.g. a folder
with another pandas), old and new alternated. Prints each run's wall and CPU seconds (the child's
user + system, interpreter start and imports included), then the medians and the old/new ratio
of the median CPU seconds. Make the folder with ``python benchmarks/bench_load.py --keep DIR``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CHILD = "import sys; from m5kit.datasets import load_m5; load_m5(sys.argv[1])"


def _run(tree: Path, data: Path, extra: str) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (extra, str(tree)) if p))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _CHILD, str(data)], env=env, check=True, cwd="/")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path, help="the old source tree")
    parser.add_argument("new", type=Path, help="the new source tree")
    parser.add_argument("--data", type=Path, required=True, help="an M5 folder (bench_load.py --keep DIR)")
    parser.add_argument("--runs", type=int, default=5, help="runs per tree (median reported)")
    parser.add_argument("--pythonpath", default="", help="put this before the tree on PYTHONPATH")
    args = parser.parse_args()
    for tree in (args.old, args.new):
        if not (tree / "m5kit" / "__init__.py").is_file():
            parser.error(f"{tree} is not a checkout of m5kit (no m5kit/__init__.py)")
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for _ in range(args.runs):
        for name, tree in (("old", args.old), ("new", args.new)):
            times[name].append(_run(tree, args.data, args.pythonpath))
            print(f"{name}: wall {times[name][-1][0]:.2f} s, CPU {times[name][-1][1]:.2f} s", flush=True)
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in times.items()}
    for name, runs in times.items():
        print(f"{name} median: wall {statistics.median(w for w, _ in runs):.2f} s, CPU {cpu[name]:.2f} s")
    print(f"old/new CPU: {cpu['old'] / cpu['new']:.2f}x")


if __name__ == "__main__":
    main()
