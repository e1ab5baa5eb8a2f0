"""The Keras backend's C++ start-up lines stay off the terminal unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_in_fresh_process(verbose: bool) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env["M5KIT_VERBOSE"] = "1" if verbose else "0"
    code = "from m5kit.execution.quiet import import_backend; import_backend(); import sys; print('python stderr works', file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_backend_import_prints_nothing_but_python_stderr_still_works():
    """No absl/oneDNN/cpu_feature_guard lines; stderr written after the import still reaches the terminal."""
    err = _import_in_fresh_process(verbose=False)
    assert "absl" not in err and "oneDNN" not in err and "cpu_feature_guard" not in err, err
    assert err.strip() == "python stderr works"


def test_verbose_lets_the_lines_through():
    """With M5KIT_VERBOSE=1 the backend's own lines are shown (this guards the test above against passing vacuously)."""
    err = _import_in_fresh_process(verbose=True)
    assert "oneDNN" in err or "absl" in err, err


def test_the_engines_expected_retracing_warning_stays_off_the_terminal():
    """TensorFlow's retracing warning (a worker training a pretrained model and its fine-tunes traces a few
    networks on purpose) is not shown; TensorFlow's other warnings are."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "M5KIT_VERBOSE": "0"}
    code = ("from m5kit.execution.quiet import import_backend; import_backend(); import logging; "
            "log = logging.getLogger('tensorflow'); "
            "log.warning('5 out of the last 16 calls to <function f> triggered tf.function retracing. Tracing is expensive'); "
            "log.warning('another warning')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "another warning" in done.stderr and "retracing" not in done.stderr, done.stderr
