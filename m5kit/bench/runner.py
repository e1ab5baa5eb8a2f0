"""One entry point for the CLI and the scripts: run a benchmark, write its CSVs, plot and RESULTS.md section."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from pathlib import Path
from types import ModuleType

import pandas as pd

from m5kit._checks import choice
from m5kit.bench import accuracy, backends, dispatch, fixed_cost, projection, scaling
from m5kit.bench._common import machine_info, require
from m5kit.bench.report import (
    load_tables,
    plot_speedup,
    render_head,
    save_tables,
    update_results,
)
from m5kit.errors import M5kitError, StoreError
from m5kit.store import file_in_the_way

__all__ = ["BENCHMARKS", "HEADINGS", "run_benchmark"]

#: The module of each benchmark: its ``HEADING``, ``PACKAGES`` and ``render``.
_MODULES: dict[str, ModuleType] = {"dispatch": dispatch, "scaling": scaling, "projection": projection,
                                   "fixed-cost": fixed_cost, "backends": backends, "accuracy": accuracy}
BENCHMARKS = tuple(_MODULES)
#: Section heading in RESULTS.md of each benchmark.
HEADINGS = {name: module.HEADING for name, module in _MODULES.items()}
_PLOT_TABLES = ("scaling_summary", "projection", "projection_alone")


def _measure(name: str, out: Path, params: dict) -> dict[str, pd.DataFrame]:
    if name == "dispatch":
        return dispatch.run(**params)
    if name == "scaling":
        return scaling.scaling(**params)
    if name == "projection":
        inputs = load_tables(out, projection.INPUTS)
        again = f"`m5kit bench scaling --output {shlex.quote(str(out))}`"  # as a shell needs it: a folder with a space
        if "scaling_runs" not in inputs:
            raise M5kitError(f"no scaling results in {out}: run {again} first")
        runs = inputs["scaling_runs"]
        if not ((runs["kind"] == "fit") & (runs["method"] == "m5kit")).any():  # was a ValueError traceback
            raise M5kitError(f"the scaling results in {out} have no m5kit runs to project: run {again} with "
                             "m5kit among --methods first")
        lost = next((t for t in ("scaling_groups", "scaling_summary") if t not in inputs), None)
        if lost:  # a folder copied in part: it was a KeyError traceback
            raise M5kitError(f"the scaling results in {out} have no {lost}.csv: run {again} again")
        return projection.projection(inputs, **params)
    if name == "fixed-cost":
        return fixed_cost.fixed_cost(**params)
    if name == "backends":
        return backends.backends(**params)
    return accuracy.accuracy(**params)


def run_benchmark(name: str, output: str | os.PathLike = "benchmarks/results", results: str | os.PathLike | None = None,
                  command: str = "", **params) -> tuple[dict[str, pd.DataFrame], str]:
    """Run one benchmark, write its CSVs (and plot), render its markdown.

    Parameters
    ----------
    name : {"dispatch", "scaling", "projection", "fixed-cost", "backends", "accuracy"}
    output : path
        Folder of the CSV and PNG files. ``projection`` reads the other
        benchmarks' tables from it.
    results : path, optional
        A RESULTS.md whose section of this benchmark is updated.
    command : str
        The command line to record.
    **params
        Passed to the benchmark function; ``dispatch`` also takes
        ``transfer_tasks`` (default 200; 0 skips the data-transfer
        measurement), ``transfer_items`` (default 20) and ``transfer_days``
        (default 1913).

    Returns
    -------
    tables : dict of DataFrame
    markdown : str

    Raises
    ------
    m5kit.bench.BenchExtraError
        A package of the ``bench`` extra is missing (the message says what to install).
    StoreError
        ``output`` or ``results`` cannot be written (checked before measuring), or writing failed after it (a
        full disk: no CSV file of this benchmark is left when the tables could not all be written).

    Examples
    --------
    >>> tables, text = run_benchmark("dispatch", "/tmp/out", n_tasks=[20], repetitions=1)  # doctest: +SKIP
    """
    module = _MODULES[choice(name, "benchmark", BENCHMARKS)]
    require(name, *module.PACKAGES)
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise StoreError(f"output {out} is a file: give a folder for the benchmark's CSV and PNG files")
    if results and Path(results).is_dir():
        raise StoreError(f"--results {results} is a folder: give the RESULTS.md file to update")
    if results and Path(results).is_file() and not (os.access(results, os.W_OK) and Path(results).stat().st_mode & 0o222):
        # no write bit: it was replaced (root, or a writable folder) after the benchmark had run
        raise StoreError(f"--results {results} is read-only: make it writable (chmod u+w) or give another file")
    for path in (out, Path(results)) if results else (out,):
        blocking = file_in_the_way(path)
        if blocking is not None:  # found after measuring, it was a NotADirectoryError traceback
            raise StoreError(f"cannot write {path}: {blocking} is a file, not a folder: give --output and --results "
                             "paths below folders")
        folder = next(parent for parent in (path, *path.parents) if parent.is_dir())  # what mkdir would write in
        try:  # found after measuring, no permission was an OSError traceback
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise StoreError(f"cannot write {path} ({exc.strerror or type(exc).__name__}): give --output and --results "
                             "paths in folders you can write to") from None
    info = machine_info()
    tables = _measure(name, out, params)
    try:
        save_tables(tables, out)
    except OSError as exc:  # a full disk after measuring: no table of this run beside those of the run before
        for table in tables:
            with contextlib.suppress(OSError):
                (out / f"{table}.csv").unlink(missing_ok=True)
        raise StoreError(f"cannot write the benchmark's results to {out} ({exc.strerror or exc}): free disk space, "
                         "then run the benchmark again") from None
    figure = None
    try:
        if name in ("scaling", "projection"):
            figure_path = plot_speedup({**load_tables(out, _PLOT_TABLES), **tables}, out / "speedup.png")
            figure = os.path.relpath(figure_path, Path(results).parent) if results else str(figure_path)
        text = render_head(command, info) + module.render(tables)
        if figure:
            text += f"\n\n![speedup]({figure})"
        if results:
            update_results(results, HEADINGS[name], text, name)
    except OSError as exc:  # the tables are written: the plot and the section are made from them
        raise StoreError(f"cannot write the benchmark's plot or --results {results} ({exc.strerror or exc}): free "
                         f"disk space, then run the benchmark again (its CSV files are in {out})") from None
    return tables, text
