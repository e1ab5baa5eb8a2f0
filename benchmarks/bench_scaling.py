"""Speedup and parallel efficiency against workers, side by side with a serial loop, joblib and a process pool:
`m5kit bench scaling` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_scaling.py [options]   (python benchmarks/bench_scaling.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("scaling"))
