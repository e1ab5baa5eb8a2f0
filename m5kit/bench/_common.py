"""What every benchmark shares: the machine it runs on, the quiet gate, CPU clocks, the data.

The extra packages (matplotlib, joblib, psutil: ``pip install "m5kit[bench]"``)
are imported inside the functions that use them; :func:`require` checks them
first so that a missing one gives one line saying what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from m5kit._checks import choice
from m5kit.errors import M5kitError, ParamError
from m5kit.execution.threads import limit_threads

__all__ = ["QUIET_TIMEOUT", "BenchExtraError", "MeanRegressor", "machine_info", "require", "wait_for_quiet"]

logger = logging.getLogger(__name__)

#: Longest wait of :func:`wait_for_quiet` before measuring anyway, seconds.
QUIET_TIMEOUT = 180.0


class BenchExtraError(M5kitError, ImportError):
    """A package of the ``bench`` extra is not installed."""


def require(benchmark: str, *packages: str) -> None:
    """Raise :class:`BenchExtraError` (one line: what to install) when one of ``packages`` is missing.

    Examples
    --------
    >>> require("dispatch", "numpy")
    """
    for name in packages:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise BenchExtraError(
                f"the {benchmark} benchmark needs {name}, which is not installed: pip install \"m5kit[bench]\""
            )


# --- machine ------------------------------------------------------------------------------------
def version(name: str) -> str | None:
    """Installed version of the distribution ``name`` (None when absent)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, load and library versions of this machine.

    Returns
    -------
    dict

    Examples
    --------
    >>> info = machine_info()
    >>> info["cores"] >= 1
    True
    """
    import psutil

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ["m5kit", "numpy", "pandas", "scikit-learn", "dask", "distributed", "joblib", "keras",
                "tensorflow-cpu", "tensorflow", "torch", "jax", "scikeras"]
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "versions": {p: v for p in packages if (v := version(p))},
    }


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have been busy (steal included)."""
    import psutil

    t = psutil.cpu_times()
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


class CpuClock:
    """CPU seconds used by this process and its children since the clock started,
    and the cores that *other* processes of the machine kept busy meanwhile.

    Counted per process, so that a child that exits (or a new one) does not
    make the difference negative: a child's CPU counts from when it was first
    seen, up to when it was last seen.
    """

    def __init__(self):
        self._start = self._read()
        self._last = dict(self._start)
        self._busy, self._t0 = _busy_seconds(), time.perf_counter()

    def foreign_cores(self) -> float:
        """Cores used by processes outside this process tree since the start (0 on a quiet machine)."""
        mine = self.seconds()
        wall = max(time.perf_counter() - self._t0, 1e-9)
        return max(0.0, (_busy_seconds() - self._busy - mine) / wall)

    @staticmethod
    def _read() -> dict[int, float]:
        import psutil

        me = psutil.Process()
        out = {}
        for proc in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                out[proc.pid] = t.user + t.system
        return out

    def seconds(self) -> float:
        """CPU seconds of this process tree since the start."""
        self._last.update(self._read())
        return sum(v - self._start.get(pid, 0.0) for pid, v in self._last.items())


def wait_for_quiet(max_cores: float | None = 0.25, timeout: float | None = None, sample: float = 2.0) -> float:
    """Wait until other processes use less than ``max_cores`` cores; return what they used.

    On a shared machine a measurement is only worth something when nothing
    else runs. Samples the CPU of processes outside this process tree for
    ``sample`` seconds at a time, for at most ``timeout`` seconds (default
    :data:`QUIET_TIMEOUT`; then measures anyway, and the run records the
    cores others used). ``max_cores=None`` does not wait.

    Examples
    --------
    >>> import math
    >>> math.isnan(wait_for_quiet(None))
    True
    """
    if max_cores is None:
        return float("nan")
    deadline = time.monotonic() + (QUIET_TIMEOUT if timeout is None else timeout)
    while True:
        clock = CpuClock()
        time.sleep(sample)
        used = clock.foreign_cores()
        if used < max_cores or time.monotonic() > deadline:
            if used >= max_cores:
                logger.warning("the machine stayed busy (%.2f cores used by other processes): measuring anyway", used)
            return used


def methods_among(methods: Sequence[str], known: Sequence[str]) -> list[str]:
    """``methods`` checked against ``known`` (ParamError on an unknown one, or on none at all)."""
    methods = [choice(m, "method", known) for m in methods]
    if not methods:
        raise ParamError(f"no method to compare: give --methods one or more of {', '.join(known)}, comma separated")
    return methods


def rotate(seq: Sequence, k: int) -> list:
    """``seq`` rotated left by ``k`` (the order of the ways changes between repetitions)."""
    k %= max(len(seq), 1)
    return list(seq[k:]) + list(seq[:k])


# --- tasks sent to workers (module level) ------------------------------------------------------------
def noop(data: Any, *args) -> int:
    """A trivial group task."""
    return 0


def nrows(data: Any, *args) -> int:
    """A task that only touches its group's rows."""
    return len(data)


def rss() -> int:
    """Resident memory of the calling process, bytes (run on workers)."""
    import psutil

    return psutil.Process().memory_info().rss


def warm_backend(pause: float = 0.0) -> int:
    """Import the Keras backend and run one training step of a tiny CNN-LSTM (pool warm-up)."""
    limit_threads()
    import keras

    from m5kit.models import build_cnn_lstm

    model = build_cnn_lstm(conv_filters=2, lstm_units=2, meta={"X_shape_": (2, 4, 2), "n_outputs_": 1})
    model.train_on_batch(np.zeros((2, 4, 2), "float32"), np.zeros((2, 1), "float32"))
    keras.backend.clear_session()  # once per worker process, before any timed fit
    time.sleep(pause)
    return os.getpid()


class MeanRegressor(RegressorMixin, BaseEstimator):
    """A per-group model that costs nothing: predicts the training mean.

    Used to measure the framework without Keras (and by the smoke tests).

    Parameters
    ----------
    random_state : int or None
        Accepted (and ignored) so that per-group seeds can be set.

    Examples
    --------
    >>> MeanRegressor().fit([[0], [1]], [1.0, 3.0]).predict([[5]]).tolist()
    [2.0]
    """

    def __init__(self, random_state: int | None = None):
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y, dtype="float64")
        self.mean_ = y.mean(axis=0)
        return self

    def predict(self, X):
        return np.broadcast_to(self.mean_, (len(X), *np.shape(self.mean_))).astype("float32")


def timed_fit_group(frame, windower, estimator, seed, log_dir, horizon=None) -> dict:
    """:func:`m5kit.grouped.fit_group`, with its wall and CPU seconds where it runs (module level)."""
    from m5kit.grouped import fit_group

    start, cpu = time.perf_counter(), time.process_time()
    result = fit_group(frame, windower, estimator, seed, log_dir, horizon)
    return {**result, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


# --- data -------------------------------------------------------------------------------------------
def level_data(level: int, n_items: int, n_days: int, seed: int, epochs: int = 1, window: int = 28,
               max_windows: int | None = None, estimator=None):
    """Generated data, its long frame and the level's GroupedEstimator (template), as ``make_pipeline`` builds them."""
    from m5kit.datasets import make_m5
    from m5kit.pipeline import DEFAULT_MAX_WINDOWS, make_pipeline

    data = make_m5(n_items=n_items, n_days=n_days, seed=seed)
    pipe = make_pipeline(level, data.calendar, data.prices, window=window,
                         max_windows=DEFAULT_MAX_WINDOWS if max_windows is None else max_windows,
                         random_state=seed, estimator=estimator, pretrain_level=None,  # the groups' own fits
                         **({"epochs": epochs} if estimator is None else {}))  # the default CNN-LSTM's
    long = pipe[:-1].fit_transform(data.sales)
    return data, long, pipe[-1]


def split_groups(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each group's rows of the long frame (the ``group`` column LevelAggregator adds), in order of appearance."""
    return {str(name): part for name, part in long.groupby("group", sort=False, observed=True)}


def default_counts(seed: int = 0) -> dict[int, int]:
    """Groups per level in the default built-in data (139 items)."""
    from m5kit.datasets import make_m5
    from m5kit.hierarchy import count_groups

    return count_groups(make_m5(n_items=139, n_days=60, horizon=0, seed=seed).sales)
