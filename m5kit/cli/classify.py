"""``m5kit classify train|predict|serve``: thin doors to the time-series classifiers (``tune``: :mod:`m5kit.cli.classify_tune`).

The CSV format: no header, no index, one series per row; for training the
class label is the first column.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from pathlib import Path

import typer

from m5kit._checks import choice, fraction, number, whole
from m5kit.cli._util import (SCHEDULER_HINT, TIMEOUT, checked, classify_app, console, fail, filled, home, interrupted,
                             quiet_dask, quiet_tensorflow)
from m5kit.errors import DataError, M5kitError, ParamError

_KINDS = ("inception-time", "lstm-fcn")
_RESTORE = ("train_loss", "valid_loss", "valid_accuracy", "last")


def _fraction(value, name: str) -> float:
    """A fraction in [0, 1) given as text."""
    return fraction(number(value, name, low=0.0, low_open=False, text=True,
                           hint="a fraction from 0 up to (not including) 1"), name)


def _opt(name: str, help: str, check=whole, **kwargs):
    metavar = "N" if check is whole else "X"
    return typer.Option(None, name, metavar=metavar, help=help, callback=checked(check, name, **kwargs))


@classify_app.command("train")
def train_cli(
    train: Path = typer.Option(..., "--train", metavar="CSV", callback=home, help="Training series: label first, then the values; no header."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", callback=home, help="Folder to write the model to (model.pkl, history.csv, classifier.json)."),
    model: str | None = typer.Option(None, "--model", "-m", metavar="NAME", callback=checked(choice, "--model", _KINDS), help="inception-time or lstm-fcn (default: the --init-model's, else inception-time)."),
    valid: Path | None = typer.Option(None, "--valid", metavar="CSV", callback=home, help="Validation series, scored after every epoch."),
    init_model: Path | None = typer.Option(None, "--init-model", metavar="DIR", callback=home, help="Continue training this model folder (fine-tuning on --train); its labels must cover --train's."),
    workers: str | None = _opt("--workers", "Train the networks on a local Dask cluster of N single-thread workers. Default: in this process."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR", callback=filled(SCHEDULER_HINT), help="Address of an existing Dask scheduler (tcp://host:8786) to use instead of a local cluster (--workers is then ignored)."),
    timeout: str = TIMEOUT,
    seed: str | None = _opt("--seed", "Random seed (initial weights, sample order): the same seed, the same model. Not with --init-model (its networks keep theirs).", minimum=0),
    epochs: str | None = _opt("--epochs", "Epochs (default: InceptionTime 100, LSTM-FCN 2000; with --init-model, the --epochs it was trained with)."),
    batch_size: str | None = _opt("--batch-size", "Mini-batch size (InceptionTime 64, LSTM-FCN 128; with --init-model, its own)."),
    lr: str | None = _opt("--lr", "Adam's learning rate (0.001; with --init-model, its own).", check=number),
    precise_bn: bool | None = typer.Option(None, "--precise-bn/--no-precise-bn", metavar="", help="Set the batch normalizations' statistics to the exact ones over the training series after training (default: on, or the --init-model's; without it, small sets trained for few epochs predict near chance)."),
    restore_best: str | None = typer.Option(None, "--restore-best", metavar="WHICH", callback=checked(choice, "--restore-best", _RESTORE), help="The weights each network keeps: those of its epoch of lowest train_loss (default, as the authors' code; with --init-model, its own), of lowest valid_loss or highest valid_accuracy (with --valid), or of the last epoch."),
    filters: str | None = _opt("--filters", "InceptionTime: filters per convolution branch (32)."),
    depth: str | None = _opt("--depth", "InceptionTime: Inception modules per network (6)."),
    models: str | None = _opt("--models", "InceptionTime: networks in the ensemble (5)."),
    num_layers: str | None = _opt("--num-layers", "LSTM-FCN: LSTM layers (1)."),
    hidden_size: str | None = _opt("--hidden-size", "LSTM-FCN: units per LSTM layer (8)."),
    dropout: str | None = _opt("--dropout", "LSTM-FCN: dropout after each LSTM layer (0.8).", check=_fraction),
    filters_1: str | None = _opt("--filters-1", "LSTM-FCN: filters of the 1st convolution (128)."),
    filters_2: str | None = _opt("--filters-2", "LSTM-FCN: filters of the 2nd convolution (256)."),
    filters_3: str | None = _opt("--filters-3", "LSTM-FCN: filters of the 3rd convolution (128)."),
    kernel_size_1: str | None = _opt("--kernel-size-1", "LSTM-FCN: kernel size of the 1st convolution (8)."),
    kernel_size_2: str | None = _opt("--kernel-size-2", "LSTM-FCN: kernel size of the 2nd convolution (5)."),
    kernel_size_3: str | None = _opt("--kernel-size-3", "LSTM-FCN: kernel size of the 3rd convolution (3)."),
) -> None:
    """Train an InceptionTime or LSTM-FCN classifier on a CSV of labelled series."""
    options = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "random_state": seed, "precise_bn": precise_bn,
               "restore_best": restore_best}
    inception = {"filters": filters, "depth": depth, "models": models}
    lstm = {"num_layers": num_layers, "hidden_size": hidden_size, "dropout": dropout}
    convs = {"filters": (filters_1, filters_2, filters_3), "kernel_sizes": (kernel_size_1, kernel_size_2, kernel_size_3)}
    try:
        summary = train_classifier(train, out, model=model, valid=valid, init_model=init_model, workers=workers,
                                   scheduler=scheduler, timeout=timeout, options=options, inception=inception, lstm=lstm,
                                   convs=convs)
    except M5kitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # the folder is written when training ends, at once
        interrupted(f"{out} is as it was (the model is saved when training ends); run the same command to train again")
    console.print(summary, markup=False, highlight=False, soft_wrap=True)  # one line, paths whole


def train_classifier(train: Path, out: Path, *, model, valid, init_model, workers, scheduler, options, inception,
                     lstm, convs, timeout=30.0) -> str:
    """Read the CSVs, build (or load) the classifier, fit it, write the folder; return a summary line."""
    from m5kit.datasets.ucr import read_ucr_csv
    from m5kit.models.classifier_folder import MODEL_KINDS, check_model_folder, load_classifier, save_classifier
    from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier

    check_model_folder(out)  # before the fit, not after it
    X, y = read_ucr_csv(train, training=init_model is None)
    if init_model is not None:
        clf = load_classifier(init_model)
        kind = MODEL_KINDS[type(clf).__name__]
        if model is not None and model != kind:
            raise ParamError(f"--model {model} but --init-model {init_model} holds an {kind} model: "
                             f"drop --model or give --model {kind}")
        if options.get("random_state") is not None:  # its networks keep their seeds: --seed would be recorded, unused
            raise ParamError(f"--seed does not apply with --init-model: the networks of {init_model} keep their own "
                             "seeds (and sample orders): drop --seed")
        y = _covered_labels(X, y, clf, train.name, f"--init-model {init_model}")
        clf.set_params(warm_start=True)
    else:
        kind = model or "inception-time"
        clf = InceptionTimeClassifier() if kind == "inception-time" else LSTMFCNClassifier()
    given = {k: v for k, v in options.items() if v is not None}
    restore = given.get("restore_best", clf.restore_best)  # an --init-model keeps its own
    if given.get("restore_best") == "last":
        given["restore_best"] = None
    elif restore in ("valid_loss", "valid_accuracy") and valid is None:
        kept = "" if "restore_best" in given else f" (kept from --init-model {init_model})"
        raise ParamError(f"--restore-best {restore}{kept} needs a validation set: give --valid CSV, or "
                         "--restore-best train_loss or last")
    if kind == "inception-time":
        given.update({k: v for k, v in inception.items() if v is not None})
        wrong = [k for k, v in lstm.items() if v is not None]
        wrong += [f"{k}-{i}" for k, values in convs.items() for i, v in enumerate(values, 1) if v is not None]
    else:
        given.update({k: v for k, v in lstm.items() if v is not None})
        wrong = [k for k, v in inception.items() if v is not None]
        for key, values in convs.items():  # --filters-2 alone changes the 2nd convolution only
            if any(v is not None for v in values):
                given[key] = tuple(c if v is None else v for v, c in zip(values, clf.get_params()[key]))
    if wrong:
        names = ", ".join("--" + w.replace("_", "-").replace("kernel-sizes", "kernel-size") for w in wrong)
        raise ParamError(f"option(s) {names} do not apply to {kind}: drop them")
    if init_model is not None:
        _check_same_networks(clf, given, init_model)
    on_dask = workers is not None or scheduler is not None
    if on_dask:
        quiet_dask()  # and a progress bar of the networks (on stderr) instead of the spinner
        given.update(n_workers=None if scheduler else workers, scheduler=scheduler, progress=True)
    clf.set_params(**given)
    validation = None
    if valid is not None:
        validation = read_valid(valid, train, X, y, init_model=(clf, init_model) if init_model is not None else None)
    start = time.perf_counter()
    status = f"training {kind} on {len(X)} series of length {X.shape[1]}"
    if scheduler is not None:  # reached here, waiting --timeout seconds; the classifier trains on the client
        from m5kit.execution.cluster import open_client

        cluster = open_client(scheduler=scheduler, timeout=timeout)
    else:
        cluster = contextlib.nullcontext()
    with cluster as client, contextlib.nullcontext() if on_dask else console.status(status), warnings.catch_warnings():
        # a second local cluster's dashboard gets another port: Dask's 4-line warning is no use here
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        clf.set_params(client=client)
        clf.fit(X, y, validation_data=validation)
    seconds = time.perf_counter() - start
    clf.set_params(n_workers=None, scheduler=None, client=None, warm_start=False, progress=False)
    save_classifier(clf, out, extra={"train_file": str(train), "valid_file": str(valid) if valid else None,
                                     "init_model": str(init_model) if init_model else None,
                                     "seconds": round(seconds, 2)})
    # the last epoch's scores: no valid_ ones without --valid (an --init-model trained with one has them, NaN since)
    last = {k: v[-1] for k, v in clf.history_.items() if valid is not None or not k.startswith("valid_")}
    scores = ", ".join(f"{k} {v:.4f}" for k, v in last.items())
    kept = ", ".join(str(epoch + 1) for epoch in clf.best_epochs_)  # 1-based, as history.csv
    return (f"{kind}: {len(clf.member_histories_)} network(s), {clf.n_epochs_} epochs, {seconds:.1f} s; last epoch: {scores}; "
            f"weights kept from epoch(s) {kept}; saved to {out}")


def _check_same_networks(clf, given: dict, init_model: Path) -> None:
    """Refuse, in the command's terms, options that would change the layers (or number) of --init-model's networks."""
    built = {**(getattr(clf, "architecture_", None) or {}), "models": len(clf.member_histories_)}
    changed, kept = [], []
    for key, value in given.items():
        if key not in built or (key == "models" and "models" not in clf.get_params()):
            continue
        old = built[key]
        if isinstance(value, (tuple, list)):
            stem = "--kernel-size" if key == "kernel_sizes" else "--" + key
            diff = [i for i, (a, b) in enumerate(zip(value, old), 1) if a != b]
            changed += [f"{stem}-{i} {value[i - 1]}" for i in diff]
            kept += [f"{stem}-{i} {old[i - 1]}" for i in diff]
        elif value != old:
            changed.append(f"--{key.replace('_', '-')} {value}")
            kept.append(f"--{key.replace('_', '-')} {old}")
    if changed:
        raise ParamError(f"{', '.join(changed)} would change the networks of --init-model {init_model} (built with "
                         f"{', '.join(kept)}): drop those options, or drop --init-model to train a new model")


def read_valid(valid: Path, train: Path, X, y, *, init_model: tuple | None = None) -> tuple:
    """The --valid file's series and labels, refused in the command's terms if another length or unknown labels.

    ``init_model``: ``(classifier, folder)`` of an --init-model, whose classes the labels must be among (else
    among --train's).
    """
    from m5kit.datasets.ucr import _number, read_ucr_csv

    Xv, yv = read_ucr_csv(valid)
    if Xv.shape[1] != X.shape[1]:
        raise DataError(f"{valid.name} has series of length {Xv.shape[1]} but {train.name} has length "
                        f"{X.shape[1]}: give validation series of the training length")
    if init_model is not None:
        return Xv, _covered_labels(Xv, yv, init_model[0], valid.name, f"--init-model {init_model[1]}")
    unknown = sorted(set(yv.tolist()) - set(y.tolist()))
    numbers = {_number(label): label for label in set(y.tolist())} if unknown else {}
    for label in unknown:  # 1.0 in one file, 1 in the other: to add it to --train would make two classes there too
        value = _number(label)
        if value is not None and math.isfinite(value) and value in numbers:
            same = numbers[value]
            raise DataError(f"{valid.name} has the label {label!r} where {train.name} has {same!r} (one number "
                            "written two ways, which would be two classes): write each class's label one way in "
                            "both files")
    if unknown:
        shown = ", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise DataError(f"{valid.name} has label(s) that {train.name} has not: {shown}: drop those series "
                        f"from {valid.name}, or add series of those classes to {train.name}")
    return Xv, yv


def _check_univariate(clf, model: str) -> None:
    """Refuse a model of multivariate series (fitted in Python): the CSV format holds one channel."""
    if clf.n_channels_ != 1:
        raise DataError(f"{model} takes series of {clf.n_channels_} channels, which the CSV format cannot hold (one "
                        "series per row): use it from Python, or serve it and send JSON")


def _covered_labels(X, y, clf, source: str, model: str):
    """``y`` (text from a CSV) as ``clf``'s classes (ints of a model fitted in Python: 1 for "1").

    Refuses, in the command's terms, series of another length or labels ``model`` (an --init-model) does not know.
    """
    _check_univariate(clf, model)
    if X.shape[1] != clf.series_length_:
        raise DataError(f"{source} has series of length {X.shape[1]} but {model} was trained on length "
                        f"{clf.series_length_}: give series of length {clf.series_length_}, or drop --init-model "
                        "to train a new model")
    index = {str(c): i for i, c in enumerate(clf.classes_.tolist())}
    known = set(index)
    unknown = sorted(set(y.tolist()) - known)
    if unknown:
        shown = ", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        classes = ", ".join(map(repr, sorted(known)[:10])) + (" ..." if len(known) > 10 else "")
        raise DataError(f"{source} has label(s) {model} does not know: {shown} (it knows {classes}): drop those "
                        "series, or drop --init-model to train a new model on every class")
    return clf.classes_[[index[label] for label in y.tolist()]]


@classify_app.command("predict")
def predict_cli(
    model: Path = typer.Option(..., "--model", "-m", metavar="DIR", callback=home, help="Model folder written by `m5kit classify train`."),
    input: Path = typer.Option(..., "--input", "-i", metavar="CSV", callback=home, help="Series to classify, one per row, no label, no header."),
    out: Path = typer.Option(..., "--out", "-o", metavar="CSV", callback=home, help="Where to write one predicted label per row."),
    proba: bool = typer.Option(False, "--proba", metavar="", help="Also write the class probabilities (then with a header row label,<classes>)."),
) -> None:
    """Classify the series of a CSV file with a trained model (batch inference)."""
    quiet_tensorflow()  # each network of an ensemble traces its own predict step: TF warns of "retracing"
    try:
        count = predict_file(model, input, out, proba=proba)
    except M5kitError as exc:
        fail(str(exc))
    console.print(f"{count} prediction(s) written to {out}", markup=False, highlight=False, soft_wrap=True)


def predict_file(model: Path, input: Path, out: Path, *, proba: bool = False) -> int:
    """Predict the series of ``input`` and write the answers to ``out`` atomically; return the row count."""
    from m5kit.datasets.ucr import predictions_csv, read_ucr_csv
    from m5kit.models.classifier_folder import HISTORY, META, MODEL, load_classifier
    from m5kit.store import atomic_write, file_in_the_way

    if Path(out).is_dir():
        raise DataError(f"{out} is a folder: give the path of a CSV file to write the predictions to")
    blocking = file_in_the_way(out)
    if blocking is not None:  # before the model is loaded and every series classified: the write would fail
        raise DataError(f"cannot write {out}: {blocking} is a file, not a folder: give --out a file in a folder")
    if Path(out).exists() and Path(input).exists() and Path(out).samefile(input):
        raise DataError(f"--out {out} is the --input file: give another path (the predictions would replace "
                        "the series)")
    own = [Path(model) / name for name in (META, MODEL, HISTORY)]
    if Path(out).exists() and any(path.exists() and Path(out).samefile(path) for path in own):
        raise DataError(f"--out {out} is a file of the --model folder: give another path (the predictions would "
                        "replace it, and the folder would no longer hold the model)")
    clf = load_classifier(model)
    _check_univariate(clf, f"--model {model}")
    X, _ = read_ucr_csv(input, labels=False, length=clf.series_length_)
    probabilities = clf.predict_proba(X)
    labels = clf.classes_[probabilities.argmax(axis=1)]
    try:
        with atomic_write(out, "w") as fh:
            fh.write(predictions_csv(labels, clf.classes_.tolist(), probabilities if proba else None))
    except OSError as exc:  # a parent that is a file, no permission, a full disk
        raise DataError(f"cannot write {out} ({exc.strerror or type(exc).__name__}): give a writable file path") from None
    return len(X)


@classify_app.command("serve")
def serve_cli(
    model: Path = typer.Option(..., "--model", "-m", metavar="DIR", callback=home, help="Model folder written by `m5kit classify train`."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Interface to listen on (0.0.0.0: every interface; ::, every IPv6 one)."),
    port: str = typer.Option("8080", "--port", metavar="PORT", callback=checked(whole, "--port", minimum=0, maximum=65535), help="Port (0: any free port)."),
) -> None:
    """Serve a trained model over HTTP: POST /invocations (text/csv or application/json), GET /ping.

    A text/csv body holds one series per row, no label, no header (as for
    `m5kit classify predict`), and is answered with one label per row (with
    ?proba=true: a header row label,<classes> and each row's probabilities).
    An application/json body is {"instances": [[...], ...]} (add "proba": true
    for the probabilities), answered with {"predictions": [...]} (and "classes",
    "probabilities"). An Accept header asks for the other type.
    """
    from m5kit.models.classifier_folder import load_classifier
    from m5kit.serving import bind, serve_model

    quiet_tensorflow()
    if not host.strip():  # an unset variable, --host "$HOST": "" listened on every interface
        fail("--host is empty: give the address to listen on, 127.0.0.1 (this machine alone, the default) or 0.0.0.0 "
             "(every interface)")
    try:  # the port first: a taken one is said before the model is loaded
        server = bind(host, int(port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}): give another --port or --host")
    try:
        serve_model(server, load_classifier(model))
    except M5kitError as exc:
        server.server_close()
        fail(str(exc))
    bound_host, bound_port = server.server_address[:2]
    bound_host = f"[{bound_host}]" if ":" in bound_host else bound_host  # IPv6, as in a URL
    console.print(f"serving {model} on http://{bound_host}:{bound_port} (POST /invocations, GET /ping); Ctrl-C stops",
                  markup=False, highlight=False, soft_wrap=True)
    on_main = threading.current_thread() is threading.main_thread()  # where signal handlers can be set
    if on_main:  # SIGTERM (docker stop, kill, systemd) as Ctrl-C: it ended the process at once, exit 143
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        server.server_close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
