"""Time and memory of the M5 data layer at full M5 size (3,049 items, 30,490 series).

Measures, each step in a fresh Python process (so that peak RSS is the step's own):

* ``make_m5()`` at the default size (139 items) and at the given size,
* ``write_m5`` of the generated data (M5's four CSV files),
* ``load_m5`` of the written folder (validation file for training, evaluation
  file's 28 extra days as ``future``; all checks on),

and reports the median wall time, CPU time (user + system of the child: less
sensitive than wall time to other jobs on a shared machine) and peak RSS
(``ru_maxrss`` of the child process, which includes the Python interpreter and
pandas: see the "import only" row) over ``--repeats`` runs.

Usage::

    python benchmarks/bench_load.py [--items 3049] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from m5kit.datasets import load_m5, make_m5, write_m5
step, items, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
start, cpu = time.perf_counter(), time.process_time()
if step == "import":
    pass
elif step == "make":
    make_m5(n_items=items)
elif step == "write":
    data = make_m5(n_items=items)
    start, cpu = time.perf_counter(), time.process_time()
    write_m5(data, folder, overwrite=True)
elif step == "load":
    data = load_m5(folder)
    assert data.future is not None
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(step: str, items: int, folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, step, str(items), str(folder)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(step: str, items: int, folder: Path, repeats: int) -> dict:
    runs = [_run(step, items, folder) for _ in range(repeats)]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "all_seconds": [round(r["seconds"], 2) for r in runs],
    }


def _machine() -> str:
    import numpy
    import pandas

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} cores, {mem:.0f} GB RAM, {platform.platform()}; "
            f"Python {platform.python_version()}, pandas {pandas.__version__}, numpy {numpy.__version__}; "
            f"load average at start {load}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3049, help="items of the large size (full M5: 3049)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per step (median reported)")
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    args = parser.parse_args(argv)

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print("machine:", _machine())
    folder = args.keep or Path(tempfile.mkdtemp(prefix="m5kit-bench-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rows = [("import only (interpreter + pandas + m5kit.datasets)", _measure("import", 0, folder, 1))]
        rows.append(("make_m5() default (139 items, 1,390 series)", _measure("make", 139, folder, args.repeats)))
        rows.append((f"make_m5(n_items={args.items}) ({args.items * 10:,} series)",
                     _measure("make", args.items, folder, args.repeats)))
        rows.append((f"write_m5 ({args.items * 10:,} series, 4 CSV files)",
                     _measure("write", args.items, folder, 1)))
        sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(folder.glob("*.csv"))}
        rows.append((f"load_m5 ({args.items * 10:,} series x 1,913 days + 28 future days)",
                     _measure("load", args.items, folder, args.repeats)))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print("files:", ", ".join(f"{name} {mb:.0f} MB" for name, mb in sizes.items()))
    print("load average at end:", ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print()
    print("| step | median wall time | median CPU time | median peak RSS | wall times (s) |")
    print("|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['seconds']:.2f} s | {m['cpu']:.2f} s | {m['peak_rss_mb']:.0f} MB | {m['all_seconds']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
