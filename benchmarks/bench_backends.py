"""The same per-group fit on the TensorFlow, torch and JAX Keras backends, each in its own process:
`m5kit bench backends` writing to benchmarks/results and benchmarks/RESULTS.md.

Usage: python benchmarks/bench_backends.py [options]   (python benchmarks/bench_backends.py --help for the options)
"""

import sys

from _common import main

if __name__ == "__main__":
    sys.exit(main("backends"))
