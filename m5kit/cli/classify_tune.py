"""``m5kit classify tune``: Bayesian search of a classifier's hyperparameters, trials on Dask."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from m5kit._checks import choice, whole
from m5kit.cli._util import TIMEOUT, checked, classify_app, console, fail, home
from m5kit.cli.tune import (PARALLEL, PARAM, SAMPLER, SCHEDULER, TRIALS, WORKERS, parse_space, print_pruned,
                             print_train_command, run_search, search_interrupted, space_help)
from m5kit.errors import DataError, M5kitError, ParamError

_KINDS = ("inception-time", "lstm-fcn")
#: Parameters that say where or how a fit runs, not what it learns: never searched.
_NOT_SEARCHED = {"n_workers", "scheduler", "client", "progress", "callbacks", "warm_start", "random_state"}
#: The parameters `m5kit classify train` has an option for (one value each), by model: the search of another could
#: not print the command that trains its best.
_SETTABLE = {
    "inception-time": ("filters", "depth", "models", "lr", "batch_size", "epochs", "restore_best", "precise_bn"),
    "lstm-fcn": ("num_layers", "hidden_size", "dropout", "lr", "batch_size", "epochs", "restore_best", "precise_bn"),
}


@classify_app.command("tune", epilog="Default search spaces:\n\n" + space_help(_KINDS))
def tune_cli(
    train: Path = typer.Option(..., "--train", metavar="CSV", callback=home, help="Training series: label first, then the values; no header."),
    valid: Path | None = typer.Option(None, "--valid", metavar="CSV", callback=home, help="Validation series: each trial is scored by its accuracy on them (and pruned on their loss). Default: stratified K-fold cross-validation on --train (--cv K)."),
    model: str = typer.Option("inception-time", "--model", "-m", metavar="NAME", callback=checked(choice, "--model", _KINDS), help="inception-time or lstm-fcn."),
    trials: str = TRIALS,
    parallel: str | None = PARALLEL,
    workers: str = WORKERS,
    scheduler: str | None = SCHEDULER,
    timeout: str = TIMEOUT,
    epochs: str | None = typer.Option(None, "--epochs", metavar="N", callback=checked(whole, "epochs"), help="Epochs of every trial (default: the model's, 100 for InceptionTime and 2000 for LSTM-FCN; fewer make a quicker search)."),
    models: str | None = typer.Option(None, "--models", metavar="N", callback=checked(whole, "models"), help="InceptionTime: networks per trial (default 5; 1 makes trials 5x cheaper)."),
    cv: str | None = typer.Option(None, "--cv", metavar="K", callback=checked(whole, "--cv folds", minimum=2), help="Without --valid: stratified K-fold cross-validation accuracy on --train (default 3)."),
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "seed", minimum=0), help="Seed of the networks, the folds and the sampler."),
    param: list[str] | None = PARAM,
    sampler: str = SAMPLER,
    pruner: str = typer.Option("median", "--pruner", metavar="NAME", callback=checked(choice, "--pruner", ("median", "none")), help="median: stop a trial whose first network's validation loss (training loss without --valid) is worse than the median of the finished trials at the same epoch (from the third epoch, once 5 trials finished); none: every trial runs all its epochs."),
    out: Path = typer.Option(Path("classify-tune"), "--out", "-o", metavar="DIR", callback=home, help="Search folder: the study (resumable), trials.csv, plots, best.json."),
) -> None:
    """Search an InceptionTime or LSTM-FCN classifier's hyperparameters, trials in parallel on Dask.

    Each trial trains the classifier on --train and scores its accuracy on
    --valid (or by cross-validation on --train). Running the same command
    again resumes the search: finished trials are kept (search.json says
    what the search is; another search's folder, or one whose --train or
    --valid file changed since, is refused). Writes trials.csv
    (best first), objective.png and one plot per parameter, best.json, and
    prints the `m5kit classify train` command that trains with the best
    parameters.
    """
    try:
        _tune(train, valid, model, trials, parallel, workers, scheduler, timeout, epochs, models, cv, seed,
              param or [], sampler, pruner, out)
    except M5kitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        search_interrupted(out)


def _tune(train, valid, model, trials, parallel, workers, scheduler, timeout, epochs, models, cv, seed, params, sampler,
          pruner, out) -> None:
    import numpy as np

    from m5kit.datasets.ucr import read_ucr_csv
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier
    from m5kit.runs import refuse_busy
    from m5kit.store import file_stats
    from m5kit.tuning import Choice
    from m5kit.tuning_objectives import SPACES, CVData, HoldoutData, cross_validation, holdout_score

    refuse_busy(out, "m5kit classify tune")  # another search in the folder: said before the series are read
    # before reading, as `m5kit tune` records its data files (by absolute path, as search.json names them)
    files = file_stats(Path.cwd(), [os.path.abspath(p) for p in (train, valid) if p is not None], content=True)
    X, y = read_ucr_csv(train, training=True)
    clf = InceptionTimeClassifier(random_state=seed) if model == "inception-time" else LSTMFCNClassifier(random_state=seed)
    fixed = {"epochs": epochs}
    if models is not None:
        if model != "inception-time":
            raise ParamError("option --models does not apply to lstm-fcn (one network): drop it")
        fixed["models"] = models
    clf.set_params(**{k: v for k, v in fixed.items() if v is not None})
    if valid is not None and cv is not None:  # it would be ignored: the trials are scored on --valid
        raise ParamError("option --cv does not apply with --valid (each trial is scored on the --valid series): "
                         "drop one of them")
    cv = 3 if cv is None else cv
    if valid is not None:
        from m5kit.cli.classify import read_valid

        X_valid, y_valid = read_valid(valid, train, X, y)  # labels --train has not would fail every trial
        objective, data, scored = holdout_score, HoldoutData(clf, X, y, X_valid, y_valid), "validation accuracy"
    else:
        from sklearn.model_selection import StratifiedKFold

        counts = np.unique(y, return_counts=True)[1]
        if counts.min() < cv:
            raise DataError(f"the smallest class of {train} has {counts.min()} series, too few for --cv {cv}: "
                            f"give --cv {max(2, counts.min())} (at least 2) or a --valid file")
        folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        objective, data = cross_validation, CVData(clf, X, y, scoring="accuracy", cv=folds)
        scored = f"{cv}-fold cross-validation accuracy"
    space = parse_space(params, SPACES[model])
    for name, value in fixed.items():  # the trials would search it: the fixed value was ignored without a word
        if value is not None and name in space:
            given = next(text.strip() for text in params if text.partition("=")[0].strip() == name)
            raise ParamError(f"--{name} {value} and --param {given} both set {name} (--{name} fixes it for every "
                             "trial, --param searches it): drop one of them")
    known = set(clf.get_params()) - _NOT_SEARCHED
    for name in space:
        if name in known and name not in _SETTABLE[model]:
            raise ParamError(f"--param {name}: `m5kit classify train` has no option that sets {model}'s {name} to one "
                             f"value, so the best trial could not be trained: search {', '.join(_SETTABLE[model])}")
    if isinstance(space.get("restore_best"), Choice):  # classify train's --restore-best last: the classifier's None
        space["restore_best"] = Choice(*(None if v == "last" else v for v in space["restore_best"].options))

    def check(space):  # once its names are known good, before the cluster starts: a bad value failed its trials
        _check_values(clf, model, space, validated=valid is not None)

    result = run_search(objective, data, space, trials=trials, parallel=parallel, workers=workers, scheduler=scheduler,
                        timeout=timeout, known=known, sampler=sampler, pruner=pruner, seed=seed, out=out, check=check,
                        direction="maximize", best_key="value", best_extra={"objective": scored},
                        search={"command": "classify tune", "model": model, "train": os.path.abspath(train),
                                "valid": os.path.abspath(valid) if valid else None, "objective": scored, **fixed},
                        paths=("train", "valid"), files=files)
    finished = result.trials[result.trials["state"] == "COMPLETE"]
    console.print(f"{len(finished)} of {len(result.trials)} trials finished; best {scored} {result.best_value:.4f}",
                  markup=False, highlight=False)
    console.print(result.trials.drop(columns=["error"], errors="ignore").head(5).to_string(index=False),
                  markup=False, highlight=False, soft_wrap=True)  # piped: not folded at rich's 80 columns
    print_pruned(result)
    command = ["m5kit", "classify", "train", "--train", str(train), *(["--valid", str(valid)] if valid else []),
               "--model", model, "--seed", str(seed)]
    command += [part for name, value in {**fixed, **result.best_params}.items()
                if value is not None or name == "restore_best" for part in _option(name, value)]
    print_train_command([*command, "--out", "MODEL_DIR"])


def _check_values(clf, model: str, space: dict, *, validated: bool) -> None:
    """Refuse a ``--param`` value the classifier refuses (each option of a choice, a range's bounds), before any trial
    (``validated``: the trials are scored on --valid, which a restore_best of a validation metric needs)."""
    from sklearn.base import clone

    from m5kit.tuning_objectives import probe_values

    for name, dim in space.items():
        values, spec, fix = probe_values(dim)
        if name == "restore_best":
            spec = ",".join("last" if v is None else str(v) for v in values)
        for value in values:
            if name == "restore_best" and value in ("valid_loss", "valid_accuracy") and not validated:
                raise ParamError(f"--param restore_best={spec}: restore_best {value} needs validation series: give "
                                 "--valid CSV, or search train_loss and last only")
            try:
                clone(clf).set_params(**{name: value})._checked_params()
            except ParamError as exc:
                shown = f"{value:g}" if isinstance(value, float) else value
                raise ParamError(f"--param {name}={spec}: the {model} model refuses {name}={shown} ({exc}): "
                                 f"{fix}") from None


#: The parameters `m5kit classify train` sets with a flag (--NAME or --no-NAME), whatever value stands for true.
_FLAGS = ("precise_bn",)


def _option(name: str, value) -> list[str]:
    """``m5kit classify train`` options for one parameter (LSTM-FCN's tuples become --filters-1 ... options; a
    boolean, the flag --NAME or --no-NAME)."""
    if isinstance(value, bool) or name in _FLAGS:  # precise_bn=1,0 searched: a flag takes no value ('--precise-bn 1')
        return [("--" if value else "--no-") + name.replace("_", "-")]
    if name == "restore_best" and value is None:  # the weights of the last epoch
        return ["--restore-best", "last"]
    if isinstance(value, tuple):
        stem = "--kernel-size" if name == "kernel_sizes" else "--" + name.replace("_", "-")
        return [part for i, v in enumerate(value, 1) for part in (f"{stem}-{i}", str(v))]
    text = repr(value) if isinstance(value, float) else str(value)  # in full, as best.json holds it
    return ["--" + name.replace("_", "-"), text]
