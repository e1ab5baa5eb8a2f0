"""The whole scaling suite at its default (reduced) sizes, in dependency order.

dispatch -> scaling -> fixed-cost -> backends -> accuracy -> projection (which reads
the others' CSVs). Each step writes benchmarks/results/*.csv and its section of
benchmarks/RESULTS.md. About 45 minutes on an idle 2-core machine.

Usage: python benchmarks/bench_all.py [--backends-python PATH] [--quick]
  --backends-python  interpreter whose environment has torch and jax (default: this one)
  --quick            smallest sizes, one repetition (a few minutes; checks the plumbing)
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import main

QUICK = {
    "dispatch": ["--tasks", "200", "--transfer-tasks", "20", "--transfer-items", "2", "-r", "1"],
    "scaling": ["--items", "1", "--days", "200", "--epochs", "1", "-r", "1"],
    "fixed-cost": ["--items", "1", "--days", "200", "--epochs", "2", "--groups", "2"],
    "backends": ["--items", "1", "--days", "200", "--epochs", "2", "--groups", "2"],
    "accuracy": ["--items", "1", "--epochs", "1", "--levels", "3,11"],
    "projection": [],
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends-python", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    status = 0
    for name, quick in QUICK.items():
        extra = list(quick) if args.quick else []
        if name == "backends" and args.backends_python:
            extra += ["--python", args.backends_python]
        start = time.perf_counter()
        code = main(name, extra)
        print(f"== {name}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
        status = status or code
    sys.exit(status)
