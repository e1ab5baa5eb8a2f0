"""WRMSSE per training level (3, 9, 11, 12) for the CNN-LSTM and the baselines:
`m5kit bench accuracy` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_accuracy.py [options]   (python benchmarks/bench_accuracy.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("accuracy"))
