"""``m5kit train`` and ``m5kit predict``: thin doors to :mod:`m5kit.runs`."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich.table import Table

from m5kit.cli._util import app, console, err_console, fail, quiet_dask
from m5kit.errors import M5kitError

DEFAULT_OUT = Path("m5-runs/run")


@app.command("train")
def train_cli(
    level: str = typer.Option("11", "--level", "-l", help="M5 aggregation level 1-12: one model per group of this level (11 = item x state)."),
    model: str = typer.Option("cnn-lstm", "--model", "-m", help="Forecaster of each group: 'cnn-lstm', 'lightgbm' or 'xgboost' (the last two need pip install \"m5kit[lightgbm]\" / \"m5kit[xgboost]\")."),
    workers: str = typer.Option("2", "--workers", "-w", help="Workers of the local Dask cluster, one thread each (ignored with --scheduler)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", "-d", help="Folder with the M5 CSVs (calendar.csv, sell_prices.csv, sales_train_*.csv). Default: generate the built-in M5-shaped data."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786) to use instead of a local cluster."),
    items: str | None = typer.Option(None, "--items", help="Use only the first N items (all their stores). Default: 139 for built-in data, all for --data-dir."),
    epochs: str = typer.Option("10", "--epochs", help="CNN-LSTM only: maximum training epochs per group (early stopping may end sooner)."),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Run folder: models, forecasts and reports. Running again with the same settings resumes."),
    seed: str = typer.Option("0", "--seed", help="Seed of the built-in data and of every group's model."),
    window: str = typer.Option("28", "--window", help="CNN-LSTM only: days of history in each input window."),
    on_short: str = typer.Option("skip", "--on-short", help="A group with less history than the window: 'skip' it (a warning line; it gets no forecast) or 'error' (exit 1 before fitting anything)."),
    retries: str = typer.Option("2", "--retries", help="Extra attempts for a group whose Dask worker died while fitting it."),
    timeout: str = typer.Option("30", "--timeout", help="Seconds to wait for the --scheduler before giving up."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a different run already in --out."),
) -> None:
    """Train one forecaster (CNN-LSTM, LightGBM or XGBoost) per group of an M5 level, in parallel on Dask.

    Prints a summary, the Dask dashboard link and a progress bar over
    groups, then a table of the run (and, on built-in data, the holdout
    WRMSSE next to the baselines). Running the same command again resumes:
    groups already in the run's model store are not fitted again. When some
    groups fail, the others are stored, the failed ones are listed on
    stderr, and the exit code is 1.
    """
    try:
        _train(level, model, workers, data_dir, scheduler, items, epochs, out, seed, window, on_short, retries, timeout, overwrite)
    except M5kitError as exc:
        fail(str(exc))


_ON_SHORT = {"skip": "warn", "error": "raise"}


def _train(level, model, workers, data_dir, scheduler, items, epochs, out, seed, window, on_short, retries, timeout, overwrite) -> None:
    from m5kit.execution.cluster import check_retries, check_timeout, check_workers, open_client
    from m5kit.errors import GroupError
    from m5kit.grouped import SkippedGroupWarning
    from m5kit.runs import prepare_run

    n_workers = None if scheduler else check_workers(workers)
    n_retries, wait = check_retries(retries), check_timeout(timeout)
    if on_short not in _ON_SHORT:
        raise GroupError(f"invalid --on-short {on_short!r}: give 'skip' or 'error'")
    run = prepare_run(out, level=level, model=model, data_dir=data_dir, items=items, seed=seed, epochs=epochs, window=window,
                      overwrite=overwrite)
    summary = run.summary()
    summary["workers"] = scheduler or n_workers
    console.print(_kv_table("m5kit train", summary))
    quiet_dask()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedGroupWarning)  # said in one line below instead
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)  # the link says which
        with open_client(n_workers=n_workers, scheduler=scheduler, timeout=wait) as client:
            console.print(f"Dask dashboard: [link]{client.dashboard_link}[/link]")
            result = run.fit(client=client, progress=True, retries=n_retries, on_short=_ON_SHORT[on_short], timeout=wait)
    name, slowest = result.slowest_group
    console.print(
        _kv_table(
            "result",
            {
                "groups fitted": f"{result.n_fitted} of {result.n_groups}"
                + (f" ({result.n_resumed} resumed from the store)" if result.n_resumed else "")
                + (f", {len(result.skipped)} skipped" if result.skipped else ""),
                "wall time": f"{result.wall_seconds:.1f} s",
                "median group": f"{result.median_group_seconds:.2f} s",
                "slowest group": f"{name} ({slowest:.2f} s)",
                "retried groups": ", ".join(result.retried) or "none",
                "model store": str(run.store_path),
                "forecast": str(result.out / "submission.csv"),
            },
        )
    )
    if result.skipped:
        shown = ", ".join(list(result.skipped)[:5]) + (f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5 else "")
        cnn = run.config.model == "cnn-lstm"
        why = f"have less history than the window ({run.config.window} days + 1)" if cnn else "have no day to train on"
        err_console.print(
            f"warning: {len(result.skipped)} group(s) {why} "
            f"and were skipped: {shown}; their series are not in submission.csv"
            + (" and the holdout WRMSSE (which needs every series) is not computed" if run.data.future is not None else "")
            + ("; lower --window to fit them" if cnn else "") + ", or pass --on-short error to stop on them",
            markup=False, highlight=False,
        )
    if result.scores is not None:
        console.print(scores_table(result.scores, "holdout WRMSSE (lower is better)", only_all=True))


@app.command("predict")
def predict_cli(
    run: Path = typer.Option(..., "--run", "-r", help="Run folder written by `m5kit train` (its --out)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Submission CSV to write. Default: <run>/submission.csv."),
    workers: str | None = typer.Option(None, "--workers", "-w", help="Forecast on a local Dask cluster of N workers. Default: in this process."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler to forecast on."),
    timeout: str = typer.Option("30", "--timeout", help="Seconds to wait for the --scheduler before giving up."),
) -> None:
    """Write 28-day forecasts of a trained run in the M5 submission format (id, F1 ... F28)."""
    from m5kit.execution.cluster import check_timeout, check_workers, open_client
    from m5kit.runs import predict_run, write_csv

    target = out or run / "submission.csv"
    try:
        wait = check_timeout(timeout)
        if workers is None and scheduler is None:
            submission = predict_run(run)
        else:
            quiet_dask()
            with open_client(n_workers=None if scheduler else check_workers(workers), scheduler=scheduler,
                             timeout=wait) as client:
                submission = predict_run(run, client=client)
        write_csv(submission, target)
    except M5kitError as exc:
        fail(str(exc))
    console.print(f"wrote {len(submission)} forecasts of 28 days to {target}")


def _kv_table(title: str, rows: dict) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    return table


def scores_table(scores, title: str, only_all: bool = False) -> Table:
    """A rich table of a WRMSSE score frame (levels x forecasts)."""
    table = Table(title=title, title_justify="left")
    table.add_column("level")
    names = [c for c in scores.columns if c != "level"]
    best = scores[names].idxmin(axis=1)
    for name in names:
        table.add_column(name, justify="right")
    rows = scores[scores["level"] == "all"] if only_all else scores
    for idx, row in rows.iterrows():
        cells = [f"[bold]{row[n]:.4f}[/bold]" if best[idx] == n else f"{row[n]:.4f}" for n in names]
        table.add_row(str(row["level"]), *cells)
    return table
