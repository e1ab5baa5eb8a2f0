"""Projection of the measured scaling to 4-64 workers by greedy list scheduling (run after bench_scaling):
`m5kit bench projection` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_projection.py [options]   (python benchmarks/bench_projection.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("projection"))
