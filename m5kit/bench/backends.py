"""The same per-group fit on TensorFlow, torch and JAX, each backend in its own process."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import clone

from m5kit.bench._common import (
    CpuClock,
    level_data,
    rss,
    split_groups,
    version,
    wait_for_quiet,
)
from m5kit.bench.report import markdown_table
from m5kit.errors import ParamError
from m5kit.execution.threads import THREAD_ENV, limit_threads
from m5kit.store import atomic_write

__all__ = ["backends"]

HEADING = "Keras backends"
#: Packages of the ``bench`` extra this benchmark imports.
PACKAGES = ("psutil",)
_CHILD = "from m5kit.bench.backends import _child; _child()"


def backends(
    names: Sequence[str] = ("tensorflow", "torch", "jax"),
    level: int = 11, n_items: int = 4, n_days: int = 1000,  # the generated data's level and size
    epochs: int = 3,
    n_groups: int = 6,
    seed: int = 0,
    python: str | None = None,
    timeout: float = 1800.0,
    two_workers: bool = True,
    quiet: float | None = 0.25,
) -> dict[str, pd.DataFrame]:
    """The same per-group fit on each Keras backend, each in its own process.

    Each backend runs in a fresh interpreter (``python``, default this one)
    with ``KERAS_BACKEND`` set and the one-thread environment. A name
    ``"<backend>+jit"`` runs that backend with ``model__jit_compile=True``
    (JAX only compiles its training step with it). It reports import time,
    the first fit (import, build, tracing), then for ``n_groups`` groups the
    seconds of a 1-epoch and an ``epochs``-epoch fit of
    :func:`m5kit.grouped.fit_group` (hence seconds per epoch and fixed cost),
    the cores actually used (CPU time / wall time), the process's memory,
    and the 2-worker speedup of m5kit over the serial loop on the same
    groups (with the workers' memory; skipped with ``two_workers=False``).
    A backend that is not installed or fails gets a row saying so.

    Returns
    -------
    dict of DataFrame
        ``backends`` (one row per backend).

    Examples
    --------
    >>> tables = backends(["tensorflow"], n_items=1, n_days=150, epochs=2, n_groups=1)  # doctest: +SKIP
    """
    if python is not None and shutil.which(python) is None:  # it was a FileNotFoundError traceback
        raise ParamError(f"--python {python} is not a program that can be run: give the path of a Python interpreter "
                         "whose environment has the backends")
    rows = []
    for name in names:
        backend, _, variant = name.partition("+")
        config = {"backend": backend, "variant": variant, "level": level, "n_items": n_items, "n_days": n_days,
                  "epochs": epochs, "n_groups": n_groups, "seed": seed, "two_workers": two_workers}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            config["out"] = str(out)
            env = {**os.environ, **THREAD_ENV, "KERAS_BACKEND": backend}
            cmd = [python or sys.executable, "-c", _CHILD, json.dumps(config)]
            wait_for_quiet(quiet)
            clock = CpuClock()
            start = time.perf_counter()
            try:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
                error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]
            except subprocess.TimeoutExpired:
                error = f"timed out after {timeout:g} s"
            row = json.loads(out.read_text()) if out.exists() else {}
            row["backend"] = name
            row.setdefault("error", error)
            row["process_seconds"] = time.perf_counter() - start
            row["other_cores"] = clock.foreign_cores()
            row["python"] = python or sys.executable
        rows.append(row)
    return {"backends": pd.DataFrame(rows)}


def _child() -> None:
    """Entry point of one backend's process (see :func:`backends`); writes JSON to ``config['out']``."""
    config = json.loads(sys.argv[-1])
    result: dict[str, Any] = {"backend": config["backend"]}
    try:
        _measure(config, result)
    except ImportError as exc:
        result["error"] = f"not installed: {exc}"
    except Exception as exc:  # a backend that fails is reported, not fatal
        result["error"] = f"{type(exc).__name__}: {exc}"
    with atomic_write(Path(config["out"]), "w") as fh:
        fh.write(json.dumps(result, default=float))


def _measure(config: dict, result: dict) -> None:
    import psutil

    limit_threads(force=True)
    me = psutil.Process()
    start = time.perf_counter()
    import keras

    from m5kit.grouped import fit_group, group_seed

    result["import_seconds"] = time.perf_counter() - start
    result["keras_backend"] = keras.backend.backend()
    result["backend_version"] = version({"tensorflow": "tensorflow-cpu", "torch": "torch", "jax": "jax"}
                                        .get(result["keras_backend"], result["keras_backend"])) or version("tensorflow")
    if result["keras_backend"] != config["backend"]:
        raise RuntimeError(f"asked for {config['backend']}, Keras runs {result['keras_backend']}")
    _, long, template = level_data(config["level"], config["n_items"], config["n_days"], config["seed"],
                                   epochs=config["epochs"])
    est, win = template.estimator, template.windower
    if config.get("variant") == "jit":
        est = clone(est).set_params(model__jit_compile=True)
        template = clone(template).set_params(estimator=est)
    parts = list(split_groups(long).items())
    start = time.perf_counter()
    fit_group(parts[0][1], win, clone(est).set_params(epochs=1), 0, None)
    result["first_fit_seconds"] = time.perf_counter() - start
    chosen = parts[1 : config["n_groups"] + 1]
    ones, manys, epochs_run, cores = [], [], [], []
    for name, frame in chosen:
        s = group_seed(config["seed"], name)
        for k in (1, config["epochs"]):
            cpu0, t0 = sum(me.cpu_times()[:2]), time.perf_counter()
            res = fit_group(frame, win, clone(est).set_params(epochs=k), s, None)
            wall = time.perf_counter() - t0
            cores.append((sum(me.cpu_times()[:2]) - cpu0) / wall)
            (ones if k == 1 else manys).append(wall)
            if k != 1:
                epochs_run.append(res["epochs"])
    per_epoch = [(m - o) / max(e - 1, 1) for o, m, e in zip(ones, manys, epochs_run)]
    result.update(
        seconds_per_group=statistics.median(manys), seconds_per_epoch=statistics.median(per_epoch),
        fixed_seconds=statistics.median([o - p for o, p in zip(ones, per_epoch)]),
        epochs=config["epochs"], epochs_run=statistics.median(epochs_run), cores_used=statistics.median(cores),
        rss_mb=me.memory_info().rss / 2**20, n_groups=len(chosen),
    )
    if config.get("two_workers", True):
        result.update(_two_workers(long, template, est, win, parts[0][1], [n for n, _ in chosen], config["seed"]))


def _two_workers(long, template, est, win, first_frame, names, seed) -> dict[str, float]:
    """2 m5kit workers against the serial loop, on the same groups."""
    from m5kit.execution.cluster import close_local_clusters, open_client
    from m5kit.grouped import fit_group, group_seed

    subset = long[long["group"].astype(str).isin(names)]
    subset = subset.assign(group=subset["group"].cat.remove_unused_categories())
    start = time.perf_counter()
    for name, frame in split_groups(subset).items():
        fit_group(frame, win, est, group_seed(seed, name), None)
    serial = time.perf_counter() - start
    with open_client(n_workers=2, dashboard=False) as client:
        client.wait_for_workers(2)
        client.run(fit_group, first_frame, win, clone(est).set_params(epochs=1), 0, None)  # first fit: not timed
        start = time.perf_counter()
        clone(template).set_params(client=client).fit(subset)
        parallel = time.perf_counter() - start
        worker_rss = statistics.median(client.run(rss).values()) / 2**20
    close_local_clusters()
    return {"worker_rss_mb": worker_rss, "serial_seconds": serial, "two_worker_seconds": parallel,
            "speedup_2": serial / parallel}


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the backends section."""
    b = t["backends"]
    cols = [c for c in ["backend", "backend_version", "seconds_per_group", "seconds_per_epoch", "fixed_seconds",
                        "first_fit_seconds", "import_seconds", "cores_used", "rss_mb", "worker_rss_mb", "speedup_2",
                        "epochs_run", "n_groups", "other_cores", "error"] if c in b]
    return markdown_table(b[cols])
