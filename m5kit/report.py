"""A run's report to look at: ``report.html`` with PNG plots, beside the run's files.

:func:`write_report` reads a run folder written by ``m5kit train`` (its
``scores.csv``, ``forecast.csv``, ``fit_report.csv`` and the model store's
group records) and the run's data, and writes ``report/``:

* ``wrmsse_levels.png``: WRMSSE per level (1-12 and all) of the model and of
  each baseline;
* ``series.png``: the forecast against the truth for three bottom series, the
  best, the median and the worst by RMSSE, after the last 8 weeks of history;
* ``losses.png``: per-epoch loss curves of the slowest and the worst groups
  (when the store recorded them);
* ``seconds.png``: the distribution of group seconds, and each worker's busy
  time when the workers are known;
* the training monitor's findings, as a table.

matplotlib comes with the ``report`` extra (``pip install "m5kit[report]"``).
"""

from __future__ import annotations

import html
import json
import logging
import shlex
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from m5kit import _checks
from m5kit.errors import M5kitError, ParamError, StoreError

__all__ = ["write_report", "REPORT_FILE"]

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
HISTORY_DAYS = 56


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ParamError('the run report needs matplotlib: pip install "m5kit[report]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    from m5kit.store import atomic_write

    fig.tight_layout()
    with atomic_write(path, suffix=".png") as fh:
        fig.savefig(fh, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def _plot_levels(plt, scores: pd.DataFrame, folder: Path) -> str:
    names = [c for c in scores.columns if c != "level"]
    x = np.arange(len(scores))
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for i, name in enumerate(names):
        ax.bar(x + i * width - 0.4 + width / 2, scores[name], width, label=name)
    ax.set_xticks(x, scores["level"].astype(str))
    ax.set_xlabel("M5 level")
    ax.set_ylabel("WRMSSE (lower is better)")
    ax.legend(fontsize=8)
    return _save(fig, folder / "wrmsse_levels.png")


def _bottom_rmsse(data, forecast: pd.DataFrame) -> pd.Series:
    """RMSSE of each bottom series of the forecast (M5's scale: one-step naive error of the history)."""
    from m5kit._schema import day_columns
    from m5kit.metrics import naive_scale, rmsse

    wide = forecast.pivot(index="id", columns="d", values="forecast")
    future = data.future.set_index("id")
    future.index = future.index.astype(str)
    days = [d for d in day_columns(future.columns) if d in wide.columns]
    ids = [i for i in wide.index if i in future.index]
    history = data.sales.set_index(data.sales["id"].astype(str)).loc[ids, day_columns(data.sales.columns)].to_numpy(float)
    scale = naive_scale(history)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = rmsse(future.loc[ids, days].to_numpy(float), wide.loc[ids, days].to_numpy(float), scale)
    return pd.Series(values, index=ids).replace([np.inf, -np.inf], np.nan).dropna().sort_values()


def _plot_series(plt, data, forecast: pd.DataFrame, folder: Path) -> tuple[str, dict[str, float]]:
    from m5kit._schema import day_columns, day_number

    scores = _bottom_rmsse(data, forecast)
    picks = {"best": scores.index[0], "median": scores.index[len(scores) // 2], "worst": scores.index[-1]}
    sales = data.sales.set_index(data.sales["id"].astype(str))
    history_days = day_columns(sales.columns)[-HISTORY_DAYS:]
    future = data.future.set_index(data.future["id"].astype(str))
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    for ax, (label, sid) in zip(axes, picks.items()):
        hist_x = [day_number(d) for d in history_days]
        ax.plot(hist_x, sales.loc[sid, history_days].to_numpy(float), color="0.4", label="history")
        rows = forecast[forecast["id"].astype(str) == sid]
        fut_days = list(rows["d"])
        ax.plot([day_number(d) for d in fut_days], future.loc[sid, fut_days].to_numpy(float), color="C0", label="truth")
        ax.plot([day_number(d) for d in fut_days], rows["forecast"].to_numpy(float), color="C3", label="forecast")
        ax.set_title(f"{label}: {sid} (RMSSE {scores[sid]:.3f})", fontsize=9)
        ax.set_ylabel("units")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("day")
    return _save(fig, folder / "series.png"), {f"{k} ({v})": float(scores[v]) for k, v in picks.items()}


def _records(run_dir: Path) -> dict[str, dict]:
    folder = run_dir / "models" / "groups"
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out[str(rec.get("group", path.stem))] = rec
    return out


def _plot_losses(plt, report: pd.DataFrame, records: dict[str, dict], folder: Path) -> str | None:
    with_history = {g: r["history"] for g, r in records.items() if isinstance(r.get("history"), dict) and r["history"].get("loss")}
    if not with_history or report.empty:
        return None
    fresh = report[report["group"].astype(str).isin(with_history)]
    if fresh.empty:
        return None
    slowest = str(fresh.loc[fresh["seconds"].idxmax(), "group"])
    key = "val_loss" if fresh["val_loss"].notna().any() else "loss"
    # a training loss that ended NaN diverged: the worst (idxmax passed it over, and failed when every one was NaN);
    # a NaN val_loss alone is a group without hold-out
    diverged = fresh.index[fresh["loss"].isna()]
    worst = str(fresh.loc[diverged[0] if len(diverged) else fresh[key].idxmax(), "group"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    for ax, (label, group) in zip(axes, (("slowest", slowest), ("worst", worst))):
        history = with_history[group]
        for name, values in history.items():
            if name in ("loss", "val_loss") and values:
                ax.plot(range(1, len(values) + 1), values, "o-", label=name)
        ax.set_title(f"{label} group: {group}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    return _save(fig, folder / "losses.png")


def _plot_seconds(plt, report: pd.DataFrame, records: dict[str, dict], folder: Path) -> str | None:
    fresh = report[~report["resumed"].astype(bool)] if "resumed" in report else report
    seconds = fresh["seconds"].dropna().to_numpy(float)
    if not len(seconds):
        return None
    # the workers of this fit: a resumed group's record names the worker of the earlier run that fitted it
    fitted = set(fresh["group"].astype(str))
    workers = pd.Series({g: r.get("worker") for g, r in records.items() if r.get("worker") and g in fitted}, dtype=object)
    fig, axes = plt.subplots(1, 2 if len(workers) else 1, figsize=(9 if len(workers) else 5, 3.3), squeeze=False)
    axes[0][0].hist(seconds, bins=min(30, max(5, len(seconds) // 5)), color="C0")
    axes[0][0].set_xlabel("seconds per group")
    axes[0][0].set_ylabel("groups")
    if len(workers):
        busy = fresh.assign(worker=fresh["group"].astype(str).map(workers)).groupby("worker")["seconds"].sum()
        names = [w.rsplit(":", 1)[-1] for w in busy.index]
        by = "port"
        if len(set(names)) < len(names):  # one port on several machines (a remote cluster): one bar drawn over another
            names, by = [w.split("://", 1)[-1] for w in busy.index], "address"
        axes[0][1].barh(names, busy.to_numpy(float), color="C2")
        axes[0][1].set_xlabel(f"busy seconds per worker ({by})")
    return _save(fig, folder / "seconds.png")


def _findings(report: pd.DataFrame) -> pd.DataFrame:
    if "monitor" not in report:
        return pd.DataFrame(columns=["group", "rule", "epoch", "detail"])
    rows = []
    for group, text in zip(report["group"], report["monitor"]):
        if isinstance(text, str) and text.strip():
            for finding in json.loads(text):
                epoch = finding.get("epoch")  # None: found after the fit (a column of numbers and None read 3.0, NaN)
                rows.append({"group": group, **finding, "epoch": "-" if epoch is None else str(int(epoch))})
    return pd.DataFrame(rows, columns=["group", "rule", "epoch", "detail"])


def write_report(run_dir: str | os.PathLike, *, _locked: bool = False) -> Path:
    """Write ``report.html`` and its PNG plots into ``<run_dir>/report/``; returns the HTML path.

    Parameters
    ----------
    run_dir : path
        The ``--out`` folder of ``m5kit train``, with its forecast and scores.

    Returns
    -------
    Path

    Raises
    ------
    StoreError
        The folder holds no finished run (no forecast or no scores), or one
        of its CSV files is damaged, or writing the report failed midway
        (a plot raised, the disk is full): the report is written into a
        temporary folder beside ``report/`` and put in its place only when
        complete, so the previous report is left as it was.
    DataError
        The run's data no longer knows the sales of the forecast days (the
        data folder changed since the forecast was made), or the run skipped
        groups (too short to train), so it has no scores.
    RunLockedError
        Another command (an `m5kit train`) is writing the run folder: nothing was written.

    Warns
    -----
    DataChangedWarning
        The run's data files changed since it was trained.
    """
    from m5kit.runs import holding_run

    if _locked:  # `m5kit train`, which holds the folder's lock
        return _write_report(_checks.path(run_dir, "run_dir", "the run folder (the --out of `m5kit train`)"))
    # a train writing the run removed its forecast (it was "no forecast.csv: run `m5kit train` to the end"), and writes
    # its own report/ at the end
    with holding_run(run_dir, "m5kit report", name="run_dir") as run_dir:
        return _write_report(run_dir)


def _write_report(run_dir: Path) -> Path:
    from m5kit.runs import REPORT_DIR, open_run, read_run_table

    run = open_run(run_dir)
    run.check_future("plot the forecast against")  # before the files it left unwritten: no file would do
    missing = [name for name in ("forecast.csv", "scores.csv", "fit_report.csv") if not (run_dir / name).exists()]
    if missing == ["scores.csv"] and run.data.future is not None:  # predicted again on changed data: not scored yet
        path = run_dir / "forecast.csv"  # or a run that skipped groups: evaluate cannot score it either, say why
        run.check_forecast_series(read_run_table(path, "`m5kit predict --run` writes it again", ("id",)), path)
        raise StoreError(f"{run_dir} has no scores.csv: run `m5kit evaluate --run {shlex.quote(str(run_dir))}` to "
                         "score its forecast, then the report")
    if missing:
        raise StoreError(f"{run_dir} has no {missing[0]}: the report needs a finished run with a known future "
                         "(run `m5kit train` to the end, on data whose holdout is known)")
    plt = _pyplot()
    scores = read_run_table(run_dir / "scores.csv", "`m5kit evaluate --run` writes it again", ("level",))
    forecast = read_run_table(run_dir / "forecast.csv", "`m5kit predict --run` writes it again", ("id", "d", "forecast"))
    report = read_run_table(run_dir / "fit_report.csv", "run the same `m5kit train` command again", ("group", "seconds"))
    run.check_forecast_days(forecast, run_dir / "forecast.csv")  # before anything is written
    run.check_forecast_values(forecast, run_dir / "forecast.csv")  # NaN: the plots failed with a bare IndexError
    run.check_forecast_table(forecast, run_dir / "forecast.csv")
    run.changed_warning("the report plots the forecast against the data as it is now")
    folder = run_dir / REPORT_DIR
    for left in run_dir.glob(f".{REPORT_DIR}.*.tmp"):  # a report killed midway
        shutil.rmtree(left, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{REPORT_DIR}.", suffix=".tmp", dir=run_dir))
    work.chmod(0o777 & ~_umask())  # a folder's usual mode (mkdtemp's is 0o700)
    try:
        _write_pages(plt, run, scores, forecast, report, work)
        _swap(work, folder)
    except Exception as exc:  # a plot or the disk failed: the previous report stays whole
        shutil.rmtree(work, ignore_errors=True)
        plt.close("all")
        if isinstance(exc, M5kitError):
            raise
        from m5kit.grouped.base import one_line

        logger.info("writing the report failed", exc_info=True)
        kept = f"the previous report in {folder} is left as it was" if folder.exists() else "no report was written"
        raise StoreError(f"writing the report failed ({one_line(exc)}): {kept}; run "
                         f"`m5kit report --run {shlex.quote(str(run_dir))}` again once the cause is fixed") from exc
    return folder / REPORT_FILE


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _swap(work: Path, folder: Path) -> None:
    """Put the complete report folder ``work`` in place of ``folder`` (the old one is removed only after; put back
    when the rename fails)."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old.tmp")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    try:
        work.rename(folder)
    except OSError:
        if old is not None:
            old.rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_pages(plt, run, scores: pd.DataFrame, forecast: pd.DataFrame, report: pd.DataFrame, folder: Path) -> None:
    """Write report.html and its plots into ``folder``."""
    from m5kit.store import atomic_write

    run_dir = run.out
    records = _records(run_dir)
    images = {"WRMSSE per level, model and baselines": _plot_levels(plt, scores, folder)}
    series_png, picked = _plot_series(plt, run.data, forecast, folder)
    images["Forecast against the truth: best, median and worst series by RMSSE"] = series_png
    losses = _plot_losses(plt, report, records, folder)
    if losses:
        images["Loss per epoch of the slowest and the worst groups"] = losses
    seconds = _plot_seconds(plt, report, records, folder)
    if seconds:
        images["Seconds per group, and the workers' busy time"] = seconds
    findings = _findings(report)
    parts = [f"<h1>m5kit run {html.escape(str(run_dir))}</h1>",
             "<h2>Scores</h2>", scores.to_html(index=False, float_format=lambda v: f"{v:.4f}")]
    for title, name in images.items():
        parts += [f"<h2>{html.escape(title)}</h2>", f'<img src="{name}" alt="{html.escape(title)}">']
    parts += ["<h2>Series shown</h2>", pd.Series(picked, name="RMSSE").to_frame().to_html(float_format=lambda v: f"{v:.3f}"),
              "<h2>Training monitor</h2>",
              findings.to_html(index=False) if len(findings) else "<p>No rule fired in any group.</p>"]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>m5kit report</title>"
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto} img{max-width:100%}"
            "table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
    target = folder / REPORT_FILE
    with atomic_write(target, "w") as fh:
        fh.write(page)
