"""``m5kit tune``: a thin door to :func:`m5kit.tuning.tune` for the forecasters."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import warnings
from pathlib import Path

import typer
from rich.table import Table

from m5kit._checks import choice, number, whole
from m5kit._schema import MODELS
from m5kit.cli._util import (SCHEDULER_HINT, TIMEOUT, app, checked, console, err_console, fail, filled, home, interrupted,
                             print_whole, quiet_calendar, quiet_dask, quiet_tensorflow, warning_lines)
from m5kit.errors import ClusterError, M5kitError, ParamError, StoreError


def space_help(models=MODELS) -> str:
    """The default search space of each of ``models``, for a command's ``--help``."""
    from m5kit.tuning_objectives import SPACES

    lines = []
    for model in models:
        space = SPACES[model]
        dims = "; ".join(f"{name} {_describe(dim)}" for name, dim in space.items())
        lines.append(f"{model}: {dims}")
    return "\n\n".join(lines)


def _describe(dim) -> str:
    from m5kit.tuning import Choice

    if isinstance(dim, Choice):
        return "in {" + ", ".join(map(str, dim.options)) + "}"
    return f"{dim.low:g}..{dim.high:g}" + (" (log)" if dim.log else "")


def parse_space(params: list[str], default: dict) -> dict:
    """The search space of the ``--param`` options (``default`` without any); a name given twice is refused."""
    if not params:
        return dict(default)
    space = {}
    for text in params:
        name, dim = parse_param(text)
        if name in space:
            raise ParamError(f"--param {name} is given twice: give each parameter's range once")
        space[name] = dim
    return space


def parse_param(text: str):
    """``NAME=LOW:HIGH[:log]`` (a range; whole numbers give an Int) or ``NAME=A,B,C`` (choices) -> (name, dimension).

    Examples
    --------
    >>> parse_param("learning_rate=1e-3:1e-1:log")
    ('learning_rate', Float(low=0.001, high=0.1, log=True))
    >>> parse_param("window=14:56")
    ('window', Int(low=14, high=56, log=False))
    """
    from m5kit.tuning import Choice, Float, Int

    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ParamError(f"invalid --param {text!r}: give NAME=LOW:HIGH[:log] or NAME=A,B,C")
    name, spec = name.strip(), spec.strip()
    if ":" in spec:
        parts = spec.split(":")
        log = parts[-1] == "log"
        bounds = parts[:-1] if log else parts
        if len(bounds) != 2:
            raise ParamError(f"invalid --param {text!r}: a range is LOW:HIGH or LOW:HIGH:log")
        if all(b.strip().lstrip("+-").isdigit() for b in bounds):
            return name, Int(int(bounds[0]), int(bounds[1]), log=log)
        low, high = (number(b, f"--param {name} bound", low=float("-inf"), hint="a finite number", text=True) for b in bounds)
        return name, Float(low, high, log=log)
    values = spec.split(",")
    if not all(v.strip() for v in values):
        raise ParamError(f"invalid --param {text!r}: a choice is empty; give NAME=A,B,C with a value between the commas")
    return name, Choice(*(_scalar(v) for v in values))


def _scalar(text: str):
    text = text.strip()
    if text in ("True", "False", "true", "false"):  # booleans, spelt as `m5kit train --param` reads them
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


#: Options of every search command (``m5kit tune``, ``m5kit classify tune``): one definition each.
TRIALS = typer.Option("20", "--trials", "-n", metavar="N", callback=checked(whole, "number of trials"), help="Trials in all (those of an earlier run in --out included).")
PARALLEL = typer.Option(None, "--parallel", metavar="N", callback=checked(whole, "number of parallel trials"), help="Trials in flight at a time. Default: the number of workers.")
WORKERS = typer.Option("2", "--workers", "-w", metavar="N", callback=checked(whole, "number of workers"), help="Workers of the local Dask cluster, one thread each (ignored with --scheduler).")
SCHEDULER = typer.Option(None, "--scheduler", metavar="ADDR", callback=filled(SCHEDULER_HINT), help="Address of an existing Dask scheduler (tcp://host:8786) to use instead of a local cluster (--workers is then ignored).")
PARAM = typer.Option(None, "--param", "-p", metavar="NAME=SPEC", help="Search NAME over LOW:HIGH[:log] or A,B,C instead of the default space (repeat; the first --param replaces the whole default space). Whole-number bounds search whole numbers only: 0:1 is 0 or 1, 0.0:1 the reals between.")
SAMPLER = typer.Option("tpe", "--sampler", metavar="NAME", callback=checked(choice, "--sampler", ("tpe", "random")), help="tpe (Bayesian) or random.")


@app.command("tune", epilog="Default search spaces:\n\n" + space_help())
def tune_cli(
    model: str = typer.Option("cnn-lstm", "--model", "-m", metavar="NAME", callback=checked(choice, "--model", MODELS), help="Model family to tune: cnn-lstm, lightgbm or xgboost."),
    level: str = typer.Option("11", "--level", "-l", metavar="L", help="M5 level 1-12: one model per group of this level."),
    trials: str = TRIALS,
    parallel: str | None = PARALLEL,
    workers: str = WORKERS,
    scheduler: str | None = SCHEDULER,
    timeout: str = TIMEOUT,
    data_dir: Path | None = typer.Option(None, "--data-dir", "-d", metavar="DIR", callback=home, help="Folder with the M5 CSVs. Default: the built-in M5-shaped data."),
    items: str | None = typer.Option(None, "--items", metavar="N", callback=checked(whole, "item count"), help="With --data-dir: use only the first N items (all their stores; default all). Built-in data: generate N items x 10 stores (default 139)."),
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "seed", minimum=0), help="Seed of the built-in data, the models and the sampler."),
    param: list[str] | None = PARAM,
    sampler: str = SAMPLER,
    pruner: str = typer.Option("median", "--pruner", metavar="NAME", callback=checked(choice, "--pruner", ("median", "none")), help="median: stop a CNN-LSTM trial whose first group's training loss (the CNN-LSTM holds no days out) is worse than the median of the finished trials at the same epoch (from the third epoch, once 5 trials finished); none: every trial runs all its epochs."),
    out: Path = typer.Option(Path("m5-runs/tune"), "--out", "-o", metavar="DIR", callback=home, help="Search folder: the study (resumable), trials.csv, plots, best.json."),
) -> None:
    """Search a forecaster's hyperparameters with Bayesian optimisation, trials in parallel on Dask.

    Each trial fits the model at --level on the history less its last 28
    days and scores those days with M5's WRMSSE (the holdout is never used).
    Running the same command again resumes the search: finished trials are
    kept (search.json says what the search is; another search's folder, or
    one whose data files changed since, is refused). CNN-LSTM trials whose training loss lags behind are pruned
    (--pruner). Writes trials.csv (best first), objective.png and one plot per
    parameter, and prints the command line that trains with the best
    parameters. At levels 11 and 12 a CNN-LSTM trial pretrains as `m5kit
    train` does: its learning rate and epochs are the pretraining's, and each
    group's fine-tune keeps 5 epochs at 0.002.
    """
    from m5kit.transformers.calendar import EventTypeWarning

    try:
        with warning_lines(EventTypeWarning):  # one line, not Python's two pointing into scikit-learn
            _tune(model, level, trials, parallel, workers, scheduler, timeout, data_dir, items, seed, param or [],
                  sampler, pruner, out)
    except M5kitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        search_interrupted(out)


def _tune(model, level, trials, parallel, workers, scheduler, timeout, data_dir, items, seed, params, sampler, pruner,
          out) -> None:
    from m5kit.hierarchy import check_level
    from m5kit.runs import DEFAULT_ITEMS, data_files, load_data, param_names, refuse_busy
    from m5kit.tuning_objectives import SPACES, ForecastData, forecast_backtest

    level = check_level(level)
    space = parse_space(params, SPACES[model])
    refuse_busy(out, "m5kit tune")
    files = data_files(data_dir, content=True)  # before reading, as `m5kit train` records them
    data = ForecastData(load_data(data_dir, items, seed), level, model, fixed={"random_state": seed})
    data.check_history()  # every trial would fail on it, after the cluster started
    known = param_names(data.pipeline()) | set(SPACES[model])  # what `m5kit train --param` takes

    def check(space):  # once its names are known good, before the cluster starts
        if params:  # the default spaces are known to work
            data.check_space(space)
        short = data.check_groups(space)  # a group too short for the backtest failed every trial on the cluster
        if short:
            names = ", ".join(list(short)[:3]) + (", ..." if len(short) > 3 else "")
            err_console.print(f"warning: {len(short)} group(s) of level {level} ({names}) cannot train on the "
                              f"backtest's history (the last {data.horizon} days held out"
                              + (", with the longest window searched" if model == "cnn-lstm" else "") + "); their "
                              f"{len(data.leave_out)} series are left out of every trial's fit and score",
                              markup=False, highlight=False)
    result = run_search(forecast_backtest, data, space, trials=trials, parallel=parallel, workers=workers,
                        scheduler=scheduler, timeout=timeout, known=known, sampler=sampler, pruner=pruner, seed=seed,
                        out=out, direction="minimize", best_key="backtest_wrmsse",
                        check=check,
                        # the built-in data's default items recorded as their number: --items 139 is the same search
                        search={"command": "tune", "model": model, "level": level,
                                "items": DEFAULT_ITEMS if items is None and data_dir is None else items,
                                # absolute: the same folder from anywhere, another folder by the same name never
                                "data": os.path.abspath(os.path.expanduser(data_dir)) if data_dir is not None else "built-in"},
                        paths=("data",), files=files)
    table = Table(title="best trials (backtest WRMSSE on the last 28 days of history)", title_justify="left")
    shown = result.trials.head(5)
    for column in shown.columns:
        if column not in ("error",):
            table.add_column(column)
    for row in shown.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in row._asdict().items() if k != "error"))
    print_whole(table)
    print_pruned(result)
    command = ["m5kit", "train", "--model", model, "--level", str(level), "--seed", str(seed)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if items is not None:
        command += ["--items", str(items)]
    for name, value in result.best_params.items():
        command += ["--param", f"{name}={_cli_value(value)}"]
    print_train_command(command)


#: What a search folder's search is (command, model, data, space): the same command again resumes it, another is refused.
SEARCH_FILE = "search.json"
#: The field of search.json with the data files' sizes, modification times and SHA-256 when the search started.
FILES_KEY = "files"


def run_search(objective, data, space, *, trials, parallel, workers, scheduler, timeout, known, sampler, pruner, seed,
               out, direction, best_key, best_extra=None, search=None, check=None, paths=(), files=None):
    """What every search command does: the cluster, the search, its analysis and ``best.json``.

    ``check(space)``, when given, checks the space's values (raising ParamError) once its names are known
    good, before anything is written or the cluster starts.

    ``best.json`` holds the best parameters, ``best_extra``'s fields, and the best value under ``best_key``.
    ``search`` (the command's settings that make two searches the same search) is kept in ``search.json``:
    a folder holding a different search is refused before anything runs, as its trials would mix with these.
    ``paths`` name its fields that hold absolute paths (recorded relative to the working folder before m5kit
    stored them absolute). ``files`` are the data files' sizes, modification times and SHA-256 (``data_files(..., content=True)``):
    kept in ``search.json``, a search whose data changed since is refused, as its trials scored other data.

    Returns
    -------
    TuneResult
    """
    from m5kit.execution.cluster import open_client
    from m5kit.store import new_folders, remove_temp_files, undo_claim, write_together
    from m5kit.runs import holding
    from m5kit.tuning import _analysis_writes, check_out, check_space, tune

    check_space(space, known)  # before the cluster starts: a bad --param or --out is one line at once
    if check is not None:
        check(space)
    _check_not_other_files(Path(out))
    made = new_folders(out)
    new = not (Path(out) / SEARCH_FILE).exists()
    check_out(out)
    with contextlib.ExitStack() as lock:  # one search at a time in the folder: two wrote into one study at once
        lock.enter_context(holding(Path(out), f"m5kit {(search or {}).get('command', 'tune')}"))
        remove_temp_files(Path(out))  # of a search killed as it wrote its results (the folder is this one's now)
        _claim_search(Path(out), {**(search or {}), "seed": seed, "space": {name: repr(dim) for name, dim in space.items()}},
                      paths=paths, files=files)
        quiet_dask()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)  # the link says which
            with contextlib.ExitStack() as stack:
                try:
                    client = stack.enter_context(open_client(n_workers=None if scheduler else workers, scheduler=scheduler,
                                                             timeout=timeout))
                except ClusterError:  # no search ran: leave no search.json (nor the folders made for it) behind
                    lock.close()
                    undo_claim(Path(out) / SEARCH_FILE if new else None, made)
                    raise
                console.print(f"Dask dashboard: [link]{client.dashboard_link}[/link]")
                n_parallel = parallel or max(1, len(client.nthreads()))  # every worker (scheduler_info(n_workers=...) needs distributed 2025.4)
                client.run(quiet_tensorflow)
                client.run(quiet_calendar)
                result = tune(objective, data, space, n_trials=trials, n_parallel=n_parallel, direction=direction, out=out,
                              known=known, sampler=sampler, pruner=pruner, seed=seed, client=client, progress=True)
        (Path(out) / "best.json").unlink(missing_ok=True)  # a search resumed: its older best is not this search's
        try:
            _, writes = _analysis_writes(result, Path(out))
            best = json.dumps({"params": result.best_params, **(best_extra or {}), best_key: result.best_value}, indent=1,
                              default=str).encode("utf-8")
            writes[Path(out) / "best.json"] = lambda fh: fh.write(best)
            write_together(writes, "wb")  # all whole before any is replaced: never a new trials.csv beside older plots
        except OSError as exc:  # a full disk: the study keeps the trials, and the same command writes these from it
            raise StoreError(f"cannot write the search's results to {out} ({exc.strerror or exc}): free disk space or make "
                             "the folder writable, then run the same command again (its finished trials are kept and not "
                             "run again)") from None
        return result


def _check_not_other_files(out: Path) -> None:
    """Refuse a folder that holds files but no search (a run folder, a data folder): trials.csv, plots and
    best.json would be written among them."""
    from m5kit.runs import RUN_LOCK
    from m5kit.store import holds_files
    from m5kit.tuning import STUDY_FILE

    if not out.is_dir() or (out / SEARCH_FILE).exists() or (out / STUDY_FILE).exists():
        return
    if holds_files(out, besides=lambda name: name.startswith(RUN_LOCK)):  # a killed search's lock, taken over
        raise StoreError(f"output folder {out} is not empty and holds no m5kit search: choose a new or empty folder "
                         "for the search")


def _claim_search(out: Path, search: dict, paths: tuple[str, ...] = (), files: dict | None = None) -> None:
    """Start the search in ``out``, or resume it there; a folder of another search is refused (ParamError).

    The fields ``paths`` of a search.json written before m5kit stored them absolute hold paths relative to
    the folder that search ran in: they are compared as seen from here. ``files`` (the data files' sizes and
    modification times) are recorded; a search whose data files changed since (in size or content) is refused.
    """
    from m5kit.store import atomic_write, changed_files
    from m5kit.tuning import STUDY_FILE, _finished_trials

    path = out / SEARCH_FILE
    search = json.loads(json.dumps(search, default=str))  # as it reads back
    if path.exists():
        try:
            theirs = json.loads(path.read_text())
        except (OSError, ValueError):
            theirs = None
        if not isinstance(theirs, dict):  # cut short, edited by hand: not a search this command can resume
            raise ParamError(f"output folder {out} holds an unreadable {SEARCH_FILE} (not the record m5kit writes): "
                             "choose another --out")
        theirs = {k: os.path.abspath(v) if k in paths and isinstance(v, str) and v != "built-in" else v
                  for k, v in theirs.items()}
        if theirs.get("data") == "built-in" and "items" in theirs and theirs["items"] is None:
            from m5kit.runs import DEFAULT_ITEMS  # a search.json written before the default was recorded as its number

            theirs["items"] = DEFAULT_ITEMS
        recorded = theirs.pop(FILES_KEY, None)  # none in a search started before m5kit kept them
        changed = isinstance(recorded, dict) and files is not None and bool(changed_files(search.get("data") or "", recorded, files))
        if (theirs != search or changed) and _finished_trials(out) == 0:
            # every trial of that search failed (a range or data the trials refused): nothing to keep or to mix in
            console.print(f"the search in {out} finished no trial: this search starts in its place",
                          markup=False, highlight=False, soft_wrap=True)
            (out / STUDY_FILE).unlink(missing_ok=True)
            path.unlink()
            theirs, recorded, changed = None, None, False
        elif theirs != search:
            differ = sorted(k for k in set(search) | set(theirs) if theirs.get(k) != search.get(k))
            said = {k: ",".join(v) if k == "space" and isinstance(v, dict) else v for k, v in theirs.items()}
            shown = ", ".join(f"{k}={said.get(k)}" for k in differ[:3])
            raise ParamError(f"output folder {out} holds a different search ({shown}): "
                             "choose another --out (the same command as before resumes that one)")
        elif changed:
            names = changed_files(search.get("data") or "", recorded, files)  # classify tune's paths are absolute
            where = f" in {search['data']}" if "data" in search else ""  # classify tune's files are named alone
            raise ParamError(f"the data{where} changed since the search in {out} started "
                             f"({', '.join(names)}: size or content differ), so its trials scored other "
                             "data: choose another --out to search the data as it is now")
        if theirs is not None:
            return
    # a folder without it: a new search, or one started before m5kit kept search.json (resumed, as it was then)
    try:
        with atomic_write(path, "w") as fh:
            json.dump({**search, **({FILES_KEY: files} if files is not None else {})}, fh, indent=1)
    except OSError as exc:  # a full disk: the search's first file
        raise StoreError(f"cannot write {path} ({exc.strerror or exc}): free disk space or choose another "
                         "--out") from None


def search_interrupted(out: Path) -> None:
    """Ctrl-C in a search: one line saying how many finished trials --out keeps and how to resume."""
    from m5kit.tuning import _finished_trials

    finished = _finished_trials(out)
    if finished is None:  # a study that cannot be read: not known to be empty
        interrupted(f"the search in {out} is kept; run the same command to resume")
    interrupted(f"{finished} finished trial{' is' if finished == 1 else 's are'} kept in {out}; run the same command "
                "to resume" if finished else "no trial had finished; run the same command to start again")


def print_train_command(command: list[str]) -> None:
    """Print the command that trains the best parameters, quoted for the shell (a path with a space in it was two
    words of the printed command, and the copied command failed)."""
    console.print("train with the best parameters:\n  " + shlex.join(command), markup=False, highlight=False,
                  soft_wrap=True)


def print_pruned(result) -> None:
    """Say how many trials were pruned, if any."""
    pruned = int((result.trials["state"] == "PRUNED").sum())
    if pruned:
        console.print(f"{pruned} of {len(result.trials)} trials pruned (stopped early: see 'steps' in trials.csv)")


def _cli_value(value) -> str:
    """A best parameter as ``--param`` takes it back: floats in full (as best.json holds them), not rounded."""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)
