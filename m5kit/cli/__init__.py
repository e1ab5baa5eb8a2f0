"""The ``m5kit`` command line: thin commands over library functions.

Each command module registers itself on :data:`m5kit.cli._util.app`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from m5kit.cli._util import app, run_app
from m5kit.execution.quiet import ignore_dask_dataframe_notice

__all__ = ["app", "main"]

# Command modules, imported for their registrations. Each is thin.
for _name in ("data", "train", "evaluate", "blend", "tune", "report", "bench", "classify", "classify_tune", "prod2vec"):
    importlib.import_module(f"m5kit.cli.{_name}")


def main() -> None:
    """Entry point of the ``m5kit`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any backend import
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ignore_dask_dataframe_notice()
    sys.exit(run_app(sys.argv[1:]))
