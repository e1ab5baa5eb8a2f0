"""A process holding a folder's lock the way a running m5kit command does (see :func:`m5kit.runs.holding`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import m5kit


def run_holder(folder: Path, what: str = "m5kit train") -> subprocess.Popen:
    """Start a process that holds ``folder``'s lock as ``what`` until it is killed (the folder is made)."""
    code = ("import sys; from pathlib import Path; from m5kit.runs import holding; "
            "h = holding(Path(sys.argv[1]), sys.argv[2]); h.__enter__(); print('locked', flush=True); sys.stdin.read()")
    env = {**os.environ, "PYTHONPATH": str(Path(m5kit.__file__).parents[1])}
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), what], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout.readline() == "locked\n"
    return proc
