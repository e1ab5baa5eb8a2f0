"""``m5kit train`` and ``m5kit predict``: thin doors to :mod:`m5kit.runs`."""

from __future__ import annotations

import contextlib
import os
import shlex
import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from m5kit._checks import choice, whole
from m5kit._schema import MODELS, STRATEGIES
from m5kit.cli._util import (SCHEDULER_HINT, TIMEOUT, URI_HINT, app, checked, console, err_console, fail, filled, home, interrupted,
                             parse_assignment, print_whole, quiet_dask, warning_lines)
from m5kit.errors import M5kitError, ParamError
from m5kit.execution.quiet import VERBOSE_ENV

DEFAULT_OUT = Path("m5-runs/run")
_ON_SHORT = {"skip": "warn", "error": "raise"}


# The checks below import their modules when an option is read, not when the command line starts:
# m5kit.pipeline brings scikit-learn and m5kit.hierarchy pandas (~1.5 s before `--help` could print).
def _level(value) -> int:
    from m5kit.hierarchy import check_level

    return check_level(value)


def _pretrain_level(value, name: str):
    from m5kit.pipeline import read_pretrain_level

    return read_pretrain_level(value, name)


@app.command("train")
def train_cli(
    ctx: typer.Context,
    level: str = typer.Option("11", "--level", "-l", metavar="L", callback=checked(_level), help="M5 aggregation level 1-12: one model per group of this level (11 = item x state)."),
    model: str = typer.Option("cnn-lstm", "--model", "-m", metavar="NAME", callback=checked(choice, "model", MODELS), help="Forecaster of each group: 'cnn-lstm', 'lightgbm' or 'xgboost' (the last two need pip install \"m5kit\\[lightgbm]\" / \"m5kit\\[xgboost]\")."),
    strategy: str | None = typer.Option(None, "--strategy", metavar="direct|recursive|blend|weekly", callback=checked(choice, "strategy", STRATEGIES), help="How the 28 days are forecast: all at once ('direct', the default), one day at a time with each forecast fed back ('recursive'), one model of each averaged ('blend'), or, for LightGBM and XGBoost, one direct model per week, each reading the sales up to the day before its week ('weekly': four fits per group)."),
    pretrain_level: str = typer.Option("auto", "--pretrain-level", metavar="L|auto|none", callback=checked(_pretrain_level, "--pretrain-level"), help="CNN-LSTM only: first train one model per group of this coarser level on all its series, then fine-tune a copy per --level group (5 epochs at a learning rate of 0.002). 'auto': 3 (the store) for --level 12, 2 (the state) for 11, none at other levels or with --seeds/--strategy blend; 'none': every group starts from fresh weights. Each group must lie in one group of L (level 10: 1, 4 or 5)."),
    seeds: str = typer.Option("1", "--seeds", metavar="N", callback=checked(whole, "seed count"), help="Models per group, each with its own seed, their forecasts averaged (steadier CNN-LSTM forecasts for N times the fitting)."),
    workers: str = typer.Option("2", "--workers", "-w", metavar="N", callback=checked(whole, "number of workers"), help="Workers of the local Dask cluster, one thread each (ignored with --scheduler)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", "-d", metavar="DIR", callback=home, help="Folder with the M5 CSVs (calendar.csv, sell_prices.csv, sales_train_*.csv). Default: generate the built-in M5-shaped data."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR", callback=filled(SCHEDULER_HINT), help="Address of an existing Dask scheduler (tcp://host:8786) to use instead of a local cluster (--workers is then ignored)."),
    items: str | None = typer.Option(None, "--items", metavar="N", callback=checked(whole, "item count"), help="With --data-dir: use only the first N items (all their stores; default all). Built-in data: generate N items x 10 stores (default 139)."),
    epochs: str = typer.Option("10", "--epochs", metavar="N", callback=checked(whole, "epoch count"), help="CNN-LSTM only: maximum training epochs per group (early stopping may end sooner); in a pretrained run (--pretrain-level), of each pretraining network: each group's fine-tune trains 5."),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", metavar="DIR", callback=home, help="Run folder: models, forecasts and reports. Running again with the same settings resumes."),
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "seed", minimum=0), help="Seed of the built-in data and of every group's model."),
    window: str = typer.Option("28", "--window", metavar="DAYS", callback=checked(whole, "window", minimum=2), help="CNN-LSTM only: days of history in each input window."),
    param: list[str] | None = typer.Option(None, "--param", "-p", metavar="NAME=VALUE", help="Set a model parameter (repeat), by the short names of `m5kit tune` (learning_rate=0.003) or in full (groupedestimator__estimator__num_leaves=63)."),
    on_short: str = typer.Option("skip", "--on-short", metavar="skip|error", callback=checked(choice, "--on-short", tuple(_ON_SHORT)), help="A group with less history than the window: 'skip' it (a warning line; it gets no forecast) or 'error' (exit 1 naming the short groups, before the cluster starts)."),
    retries: str = typer.Option("2", "--retries", metavar="N", callback=checked(whole, "number of retries", minimum=0), help="Extra attempts for a group whose Dask worker died while fitting it."),
    timeout: str = TIMEOUT,
    overwrite: bool = typer.Option(False, "--overwrite", metavar="", help="Replace a different run already in --out."),
    track: bool | None = typer.Option(None, "--track/--no-track", metavar="", help="Record the run in MLflow's format (default: when mlflow is installed; pip install \"m5kit\\[tracking]\")."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", metavar="URI", callback=filled(URI_HINT), help="Where to record runs. Default: sqlite:///<run's parent>/mlruns/mlflow.db."),
    report: bool | None = typer.Option(None, "--report/--no-report", metavar="", help="Write report.html with plots into <out>/report (default: when matplotlib is installed; pip install \"m5kit\\[report]\")."),
    verbose: bool = typer.Option(False, "--verbose", metavar="", help="Show the Keras backend's and Dask's own log lines."),
) -> None:
    """Train one forecaster (CNN-LSTM, LightGBM or XGBoost) per group of an M5 level, in parallel on Dask.

    Prints a summary, the Dask dashboard link and a progress bar over
    groups, then a table of the run (and, on built-in data, the holdout
    WRMSSE next to the baselines). Running the same command again resumes:
    groups already in the run's model store are not fitted again. When some
    groups fail, the others are stored, the failed ones are listed on
    stderr, and the exit code is 1.
    """
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    try:
        params = dict(parse_assignment(p) for p in param or [])
        _refuse_set_twice(ctx, model, params, {"epochs": epochs, "window": window})
        from m5kit.transformers.calendar import EventTypeWarning

        with warning_lines(EventTypeWarning):  # one line, not Python's two pointing into scikit-learn
            _train(level, model, workers, data_dir, scheduler, items, epochs, out, seed, window, params, on_short,
                   retries, timeout, overwrite, track, tracking_uri, report, verbose, strategy, seeds, pretrain_level)
    except M5kitError as exc:
        fail(str(exc))


def _refuse_set_twice(ctx, model: str, params: dict, options: dict) -> None:
    """An option given on the command line (--epochs, --window) and a --param of the same setting: the --param won
    without a word on the option."""
    from m5kit.runs import resolve_params
    from m5kit.tuning_objectives import ALIASES

    for given, full in zip(params, resolve_params(model, params)):
        for option, value in options.items():
            if full == ALIASES.get(model, {}).get(option) and \
                    getattr(ctx.get_parameter_source(option), "name", None) == "COMMANDLINE":  # typer's own click too
                raise ParamError(f"--{option} {value} and --param {given}={params[given]} both set the {option} "
                                 f"(the --param would win): drop one of them")


def _train(level, model, workers, data_dir, scheduler, items, epochs, out, seed, window, params, on_short, retries,
           timeout, overwrite, track, tracking_uri, report, verbose, strategy=None, seeds=1, pretrain_level="auto") -> None:
    from m5kit.execution.cluster import open_client
    from m5kit.grouped import SkippedGroupWarning
    from m5kit.runs import prepare_run
    from m5kit.tracking import available as tracking_available

    if track and not tracking_available():
        raise ParamError('--track needs MLflow: pip install "m5kit[tracking]"')
    if track is not False and not tracking_uri and (track or tracking_available()):
        from m5kit.tracking import default_uri

        try:  # a store beside the run that MLflow cannot keep: said before the fit
            default_uri(out)
        except ParamError as exc:
            if track:
                raise ParamError(f"{exc}, or --no-track") from None
            err_console.print(f"warning: the run will not be recorded: {exc}", markup=False, highlight=False)
            track = False
    with contextlib.ExitStack() as lock:  # the run folder's lock, from its claim to the report: one train at a time
        run = prepare_run(out, level=level, model=model, data_dir=data_dir, items=items, seed=seed, epochs=epochs,
                          window=window, params=params, overwrite=overwrite, strategy=strategy,
                          seeds=seeds, pretrain_level=pretrain_level, on_short=_ON_SHORT[on_short], _lock=lock)
        if tracking_uri and track is not False and (track or tracking_available()):
            from m5kit.tracking import check_store

            check_store(tracking_uri)  # a store MLflow cannot use fails now, not after the fit
        summary = run.summary()
        summary["workers"] = scheduler or workers
        print_whole(_kv_table("m5kit train", summary))
        if not verbose:
            quiet_dask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedGroupWarning)  # said in one line below instead
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)  # the link says which
            with open_client(n_workers=None if scheduler else workers, scheduler=scheduler, timeout=timeout) as client:
                console.print(f"Dask dashboard: [link]{client.dashboard_link}[/link]" + _port_note(client, scheduler),
                              soft_wrap=True)
                try:
                    result = run.fit(client=client, progress=True, retries=retries, on_short=_ON_SHORT[on_short],
                                     timeout=timeout)
                except KeyboardInterrupt:
                    _interrupted(run, client)
        if report is None:
            import importlib.util

            report = importlib.util.find_spec("matplotlib") is not None
        report = bool(report and result.scores is not None)  # the report plots the forecast against the known future
        written = failed = None
        if report:  # before the record: it holds the run folder's files, the report's too
            try:
                from m5kit.report import write_report

                written = write_report(run.out, _locked=True)
            except M5kitError as exc:
                failed = exc
        _print_result(run, result, written is not None)  # its monitor lines point at the report only when written
        if written is not None:
            console.print(f"report: {written}", markup=False, soft_wrap=True)
        elif failed is not None:
            err_console.print(f"warning: no report: {failed}", markup=False, highlight=False)
        unrecorded = None
        if track is not False and (track or tracking_available()):
            from m5kit.tracking import default_uri, record_train

            uri = tracking_uri or default_uri(run.out)
            try:
                run_id = record_train(run, result, uri)
            except M5kitError as exc:  # the store failed during the fit (a server went down): the run itself is saved
                unrecorded = exc
            else:
                # plain `m5kit runs` reads ./m5-runs/mlruns: a run recorded elsewhere needs its store named
                runs = "`m5kit runs`" if uri == _plain_runs_store() else \
                    f"`m5kit runs --tracking-uri {shlex.quote(uri)}`"  # as a shell needs it: a folder with a space
                console.print(f"recorded as MLflow run {run_id} ({uri}); {runs} lists runs", markup=False, soft_wrap=True)
        if unrecorded is not None:
            raise type(unrecorded)(f"{unrecorded} (the run in {run.out} is saved: the same command again records it "
                                   "without fitting anything)")


def _plain_runs_store() -> str | None:
    """The store plain `m5kit runs` reads here (./m5-runs/mlruns); None where there is none (a '?' in this folder's
    path: it was the error of a train that had fitted and recorded its run)."""
    from m5kit.tracking import default_uri

    try:
        return default_uri(Path("m5-runs") / "run")
    except ParamError:
        return None


def _port_note(client, scheduler) -> str:
    """Why the dashboard of m5kit's own cluster is not on 8787 (a --scheduler's is where its owner put it)."""
    link = str(getattr(client, "dashboard_link", "") or "")
    if scheduler or not link or ":8787/" in link:
        return ""
    return " (port 8787 was taken, so the dashboard got another port)"


def _interrupted(run, client) -> None:
    """Ctrl-C: one line saying what is kept and how to resume; the cluster is stopped quietly."""
    import logging

    from m5kit.execution.cluster import close_local_clusters
    from m5kit.store import ModelStore

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    stored = len(ModelStore(run.store_path).records())
    total = run.summary()["groups"]
    with contextlib.suppress(Exception):
        close_local_clusters()
    interrupted(f"{stored} of {total} groups are saved in the store {run.store_path}; run the same command to resume")


def _print_result(run, result, report: bool = False) -> None:
    name, slowest = result.slowest_group
    fitted_now = result.n_fitted - result.n_resumed
    retried = result.retried
    rows = {
        "groups fitted": f"{result.n_fitted} of {result.n_groups}"
        + (f" ({result.n_resumed} resumed from the store)" if result.n_resumed else "")
        + (f", {len(result.skipped)} skipped" if result.skipped else ""),
        "wall time": f"{result.wall_seconds:.1f} s",
        "median group": f"{result.median_group_seconds:.2f} s" if fitted_now else "- (every group was already stored)",
        "slowest group": f"{name} ({slowest:.2f} s)" if fitted_now else "-",
        "retried groups": (f"{len(retried)}: " + ", ".join(retried[:3]) + (", ..." if len(retried) > 3 else "")) if retried else "none",
        "model store": str(run.store_path),
        "forecast": str(result.out / "submission.csv"),
    }
    if not fitted_now and result.n_resumed:
        console.print("every group is already stored: nothing to fit")
    print_whole(_kv_table("result", rows))
    where = result.out / "report" / "report.html" if report else result.out / "fit_report.csv"  # a file that exists
    for line in getattr(result, "monitor", None) or []:
        err_console.print(f"monitor: {line}; see {where}", markup=False, highlight=False)
    if result.skipped:
        from m5kit.runs import window_helps

        shown = ", ".join(list(result.skipped)[:5]) + (f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5 else "")
        cnn = window_helps(result.skipped.values())  # a group never on sale with sales: no window fits it either
        why = f"have less history than the window ({run.config.trained_with('window')} days + 1)" if cnn else "have no day to train on"
        err_console.print(
            f"warning: {len(result.skipped)} group(s) {why} "
            f"and were skipped: {shown}; their series are not in submission.csv"
            + (" and the holdout WRMSSE (which needs every series) is not computed" if run.data.future is not None else "")
            + ("; lower --window to fit them, or pass" if cnn else "; pass") + " --on-short error to stop on them",
            markup=False, highlight=False,
        )
    if result.scores is not None:
        print_whole(scores_table(result.scores, "holdout WRMSSE (lower is better)", only_all=True))
        for line in beaten_lines(result.scores):
            console.print(line, markup=False, highlight=False)


@app.command("predict")
def predict_cli(
    run: Path = typer.Option(..., "--run", "-r", metavar="DIR", callback=home, help="Run folder written by `m5kit train` (its --out)."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="CSV", callback=home, help="Submission CSV to write. Default: <run>/submission.csv."),
    workers: str | None = typer.Option(None, "--workers", "-w", metavar="N", callback=checked(whole, "number of workers"), help="Forecast on a local Dask cluster of N workers. Default: in this process."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR", callback=filled(SCHEDULER_HINT), help="Address of an existing Dask scheduler to forecast on."),
    timeout: str = TIMEOUT,
) -> None:
    """Write 28-day forecasts of a trained run in the M5 submission format (id, F1 ... F28).

    The forecast reads the run's data folder as it is now: when its files
    changed since the run was trained, a warning line on stderr names them
    and the days forecast.
    """
    from m5kit.execution.cluster import check_address, open_client
    from m5kit.grouped import SkippedGroupWarning
    from m5kit.runs import DataChangedWarning, check_run_folder, predict_run, refuse_busy, write_csv
    from m5kit.store import file_in_the_way
    from m5kit.transformers.calendar import EventTypeWarning

    target = out or run / "submission.csv"
    if target.is_dir():
        fail(f"{target} is a folder, not a CSV file: give --out the path of the file to write, e.g. {target / 'submission.csv'}")
    blocking = file_in_the_way(target)
    if blocking is not None and out is not None:  # without --out, a --run that is a file holds no run: predict_run says so
        fail(f"cannot write {target}: {blocking} is a file, not a folder: give --out a file in a folder")
    own = _run_file(run, target)
    if own is not None:
        fail(f"{target} is the run's own {own}, which predict, evaluate, report and blend read: give --out another "
             f"file, or leave it out to write {run / 'submission.csv'}")
    try:
        if scheduler is not None:
            check_address(scheduler)
        check_run_folder(run)  # before a cluster starts (5 s and a dashboard line for a folder that holds no run)
        refuse_busy(run, "m5kit predict", "give another --run")  # a train still writing it, the same
        with warning_lines(DataChangedWarning, SkippedGroupWarning, EventTypeWarning):  # one line each, not Python's two
            if workers is None and scheduler is None:
                submission = predict_run(run, progress=True)
            else:
                quiet_dask()
                with open_client(n_workers=None if scheduler else workers, scheduler=scheduler, timeout=timeout) as client:
                    console.print(f"Dask dashboard: [link]{client.dashboard_link}[/link]" + _port_note(client, scheduler),
                              soft_wrap=True)
                    submission = predict_run(run, client=client, progress=True)
        if target.resolve() != (run / "submission.csv").resolve():  # predict_run wrote the run's own
            write_csv(submission, target)
    except M5kitError as exc:
        fail(str(exc))
    except OSError as exc:  # a folder that cannot be made or written: the forecast in the run folder is kept
        fail(f"cannot write {target} ({exc.strerror or exc}): give --out a file in a folder you can write "
             f"(the forecast is in {run / 'forecast.csv'})")
    console.print(f"wrote {len(submission)} forecasts of 28 days to {target}", markup=False, soft_wrap=True)


def _run_file(run: Path, target: Path) -> str | None:
    """The name of the run's own file (or model store) that ``target`` would overwrite, if any (not submission.csv)."""
    from m5kit.runs import OUTPUTS, RUN_FILE

    where = target.resolve()
    for name in (RUN_FILE, *OUTPUTS):
        if name != "submission.csv" and where == (run / name).resolve():
            return name
    if (run / "models").resolve() in where.parents:
        return "model store (models/)"
    return None


def _kv_table(title: str, rows: dict) -> Table:
    table = Table(title=escape(title), show_header=False, title_justify="left")  # a path's "[v2]" is no style
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(escape(str(key)), escape(str(value)))
    return table


def beaten_lines(scores) -> list[str]:
    """One line per baseline that beats the run's model at some level (the model is the first column).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"level": ["1", "2", "all"], "m5kit": [0.5, 0.9, 0.7], "naive": [0.6, 0.8, 0.9]})
    >>> beaten_lines(scores)
    ['naive beats the model at level 2']
    """
    names = [c for c in scores.columns if c != "level"]
    model, baselines = names[0], names[1:]
    lines = []
    for name in baselines:
        levels = [str(lv) for lv, m, b in zip(scores["level"], scores[model], scores[name]) if b < m]
        if levels:
            lines.append(f"{name} beats the model at level{'s' if len(levels) > 1 else ''} {', '.join(levels)}")
    return lines


def scores_table(scores, title: str, only_all: bool = False) -> Table:
    """A rich table of a WRMSSE score frame (levels x forecasts)."""
    table = Table(title=escape(title), title_justify="left")
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
