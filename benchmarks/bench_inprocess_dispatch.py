"""What running tasks without a cluster costs: ``run_tasks(tasks, None)`` against calling the tasks in a loop.

``run_tasks`` without a client runs its tasks with BLAS and OpenMP on one thread
(``threadpoolctl.threadpool_limits``), as Dask workers run, so that an in-process fit equals the
cluster's. This measures what that adds per run, alternating the two paths, medians of ``--repeats``.

Usage::

    python benchmarks/bench_inprocess_dispatch.py [--tasks 1 10 100] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _work(values: np.ndarray) -> float:
    return float(values.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    from m5kit.execution.cluster import Task, _run_here, run_tasks

    data = np.ones(1000)
    for n in args.tasks:
        tasks = [Task(f"g{i}", _work, data) for i in range(n)]
        limited, loop = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run_tasks(tasks, None)
            limited.append(time.perf_counter() - start)
            start = time.perf_counter()
            for task in tasks:
                _run_here(task, None)
            loop.append(time.perf_counter() - start)
        a, b = statistics.median(limited) * 1e3, statistics.median(loop) * 1e3
        print(f"{n:>4} tasks: run_tasks {a:.2f} ms, the same tasks in a loop {b:.2f} ms, {a - b:.2f} ms more per run")


if __name__ == "__main__":
    main()
