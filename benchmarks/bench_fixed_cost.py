"""Fixed cost of a group (everything but its epochs) by phase, and m5kit against bare Keras:
`m5kit bench fixed-cost` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_fixed_cost.py [options]   (python benchmarks/bench_fixed_cost.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("fixed-cost"))
