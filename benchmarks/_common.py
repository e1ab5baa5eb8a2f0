"""Shared by the ``bench_*.py`` scripts: run one ``m5kit bench`` command with the repo's paths.

Each script is ``m5kit bench <name>`` with ``--output benchmarks/results`` and
``--results benchmarks/RESULTS.md`` preset (options given on the command line
come later and win); ``--help`` lists the options.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
OUTPUT = HERE / "results"


def main(name: str, argv: list[str] | None = None) -> int:
    """Run ``m5kit bench <name>`` with this folder's output paths; return the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from m5kit.cli import run_app

    args = sys.argv[1:] if argv is None else argv
    if "--help" in args:
        return run_app(["bench", name, "--help"])
    return run_app(["bench", name, "--output", str(OUTPUT), "--results", str(RESULTS), *args])
