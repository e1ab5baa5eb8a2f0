"""A fitted time-series classifier in a folder: what ``m5kit classify train`` writes and the others read.

Layout::

    <folder>/model.pkl        the fitted estimator (its networks as .keras bytes)
    <folder>/history.csv      per epoch: train_loss, train_accuracy (valid_loss, valid_accuracy)
    <folder>/classifier.json  model kind, classes, series shape, parameters, versions (written last)

Every file is written atomically (:func:`m5kit.store.atomic_write`): all
of them whole to temporary names first (a full disk leaves a model folder
there as it was), then ``classifier.json`` is removed, the files renamed in
place and ``classifier.json`` last: a folder is a model only once it exists,
so a crash never leaves a folder that looks complete but is not (the hidden
temporary files a killed save leaves are removed by the next save there).
``model.pkl`` is code (pickle): load folders only from sources you trust.

Examples
--------
>>> import tempfile
>>> from m5kit.datasets.ucr import make_shapes
>>> from m5kit.models.classifiers import LSTMFCNClassifier
>>> X, y = make_shapes(n_per_class=4, length=16)
>>> clf = LSTMFCNClassifier(filters=(2, 2, 2), epochs=1, random_state=0).fit(X, y)
>>> folder = save_classifier(clf, tempfile.mkdtemp() + "/model")
>>> load_classifier(folder).classes_.tolist()
['sawtooth', 'sine', 'square']
"""

from __future__ import annotations

import csv
import json
import os
import pickle
from pathlib import Path
from typing import Any

from m5kit.errors import DataError, ParamError
from m5kit.store import file_in_the_way, holds_files, remove_temp_files

__all__ = ["save_classifier", "load_classifier", "check_model_folder", "MODEL_KINDS", "META", "MODEL", "HISTORY"]

META = "classifier.json"
MODEL = "model.pkl"
HISTORY = "history.csv"
FORMAT = 1

#: CLI name of each classifier class.
MODEL_KINDS = {"InceptionTimeClassifier": "inception-time", "LSTMFCNClassifier": "lstm-fcn"}


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a parameter value."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def check_model_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a Path if :func:`save_classifier` can write a model there (checked before a long fit).

    Raises
    ------
    DataError
        ``folder`` is a file or under one, or a non-empty folder that is not a model folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder} is a file: give a folder to write the model into")
    under = file_in_the_way(folder)
    if under is not None:
        raise DataError(f"{under} is a file, so {folder} cannot be a folder: give a folder to write the model into")
    if holds_files(folder) and not (folder / META).exists():
        # the temporary files of a save that was killed are the folder's own (the next save removes them)
        raise DataError(f"{folder} is not empty and holds no model: give a new or empty folder, or a model folder to replace")
    return folder


def save_classifier(clf, folder: str | os.PathLike, *, extra: dict | None = None) -> Path:
    """Write a fitted classifier to ``folder`` (created; a model folder there is replaced).

    Parameters
    ----------
    clf : InceptionTimeClassifier or LSTMFCNClassifier
        Fitted.
    folder : path
    extra : dict, optional
        More facts for ``classifier.json`` (the training file, seconds, ...).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        ``clf`` is not fitted (``folder`` is left as it was).
    ParamError
        ``clf`` does not pickle (a callback's state): ``folder`` is left as it was.
    DataError
        ``folder`` is a file, or a non-empty folder that is not a model folder; or the files cannot be
        written (a full disk: a model folder there is left as it was).
    """
    from sklearn.utils.validation import check_is_fitted

    from m5kit.store import atomic_write, library_versions

    check_is_fitted(clf, "history_")  # before the folder is touched: its model stays a model
    folder = check_model_folder(folder)
    try:  # before the folder is touched too
        pickled = pickle.dumps(clf, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ParamError(f"cannot save this {type(clf).__name__}: it does not pickle ({type(exc).__name__}: "
                         f"{str(exc)[:120]}); set_params(callbacks=None) if a callback holds what does not") from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder} ({exc.strerror or type(exc).__name__}): give a writable folder") from None
    keys = list(clf.history_)
    params = {k: _plain(v) for k, v in clf.get_params().items() if k != "client"}
    meta = {
        "format": FORMAT,
        "model": MODEL_KINDS.get(type(clf).__name__, type(clf).__name__),
        "classes": [_plain(c) for c in clf.classes_.tolist()],
        "series_length": int(clf.series_length_),
        "channels": int(clf.n_channels_),
        "networks": len(clf.member_histories_),  # not members_: that would load every network
        "epochs_trained": int(clf.n_epochs_),
        "params": params,
        "versions": library_versions(),
        **(extra or {}),
    }
    remove_temp_files(folder)  # of a save that was killed
    had_model = (folder / META).exists()
    replacing = False
    try:
        # every file is written whole to its temporary name first: a full disk fails before the folder is touched.
        # The renames happen as the blocks close, classifier.json's last.
        with atomic_write(folder / META, "w") as meta_fh, atomic_write(folder / MODEL) as model_fh, \
                atomic_write(folder / HISTORY, "w") as history_fh:
            model_fh.write(pickled)
            writer = csv.writer(history_fh, lineterminator="\n")
            writer.writerow(["epoch", *keys])
            for epoch in range(len(clf.history_[keys[0]])):
                writer.writerow([epoch + 1, *(f"{clf.history_[k][epoch]:.6g}" for k in keys)])
            json.dump(meta, meta_fh, indent=2)
            for fh in (model_fh, history_fh, meta_fh):
                fh.flush()
                os.fsync(fh.fileno())
            replacing = True
            (folder / META).unlink(missing_ok=True)  # the folder stops being a model until the new one is complete
    except OSError as exc:
        kept = "; the model already there is kept" if had_model and not replacing else ""
        raise DataError(f"cannot write the model to {folder} ({exc.strerror or type(exc).__name__}): free disk space "
                        f"or give a writable folder, then train again{kept}") from None
    return folder


def load_classifier(folder: str | os.PathLike):
    """Load the classifier that :func:`save_classifier` wrote to ``folder``.

    Parameters
    ----------
    folder : path
        A model folder (``classifier.json`` and ``model.pkl``); ``model.pkl``
        is unpickled: load folders only from sources you trust.

    Returns
    -------
    InceptionTimeClassifier or LSTMFCNClassifier
        The fitted classifier.

    Raises
    ------
    DataError
        ``folder`` is missing or is not a (complete) model folder, one of its
        files cannot be read, or ``model.pkl`` holds another kind of object.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no model folder {folder}: give the --out folder of `m5kit classify train`")
    if not (folder / META).exists() or not (folder / MODEL).exists():
        raise DataError(f"{folder} is not a model folder (no {META} or {MODEL}): give the --out folder of "
                        "`m5kit classify train`")
    try:
        json.loads((folder / META).read_text())
        with open(folder / MODEL, "rb") as fh:
            clf = pickle.load(fh)
        if type(clf).__name__ in MODEL_KINDS:
            clf.members_  # noqa: B018  (its networks, kept as .keras bytes until read: damaged ones fail here)
    except Exception as exc:  # a damaged file: say which folder, not a traceback
        raise DataError(f"cannot load the model in {folder} ({type(exc).__name__}: {str(exc)[:120]}): "
                        "train it again") from None
    if type(clf).__name__ not in MODEL_KINDS:
        raise DataError(f"{folder / MODEL} holds a {type(clf).__name__}, not a time-series classifier")
    return clf
