"""Dispatch overhead per task (Dask via m5kit and raw client.map, joblib, process pool) and data moves:
`m5kit bench dispatch` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_dispatch.py [options]   (python benchmarks/bench_dispatch.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("dispatch"))
