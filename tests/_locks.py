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


def assert_refused_while_held(folder: Path, what: str, args: list[str]) -> None:
    """Run ``m5kit ARGS`` while another process holds ``folder``'s lock as ``what``: the command stops with one line
    naming the folder and that process, and writes nothing beside the lock."""
    import socket

    from typer.testing import CliRunner

    from m5kit.cli import app

    holder = run_holder(folder, what)
    try:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
        line = result.stderr
        assert line.startswith(f"error: {folder} is in use by another {what} (process {holder.pid} on "
                               f"{socket.gethostname()}, since "), line
        assert line.endswith("): wait for it or pass another --out\n") and line.count("\n") == 1, line
        assert [p.name for p in folder.iterdir()] == ["run.lock"]
    finally:
        holder.kill()
        holder.communicate()
