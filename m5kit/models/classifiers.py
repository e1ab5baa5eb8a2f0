"""Deep time-series classifiers: InceptionTime and LSTM-FCN as scikit-learn estimators.

Both take univariate series as a 2-D array ``(n_series, length)`` or
multivariate ones as a 3-D array ``(n_series, length, channels)``, labels of
any sortable type, and z-normalise every series (each channel on its own)
before the network sees it, so nothing data-dependent is stored but the
fitted attributes.

The Keras work sits in module-level functions, apart from the estimator
classes: :func:`_fit_member` (build or load one network and train it on
m5kit's Keras engine: what a Dask worker runs) and :func:`_predict_members`
(average the networks' probabilities). Every network trains through the
engine's epoch loop on the process' cached network of its architecture, so a
process traces the training step once for all the networks of that
architecture (measured in ``benchmarks/RESULTS.md``). The networks of an
InceptionTime ensemble are independent tasks: with ``n_workers``,
``scheduler`` or ``client`` they go to a Dask cluster through
:mod:`m5kit.execution.cluster` (with a progress bar when ``progress``), and
give the same networks as a serial fit with the same ``random_state``. When
the cluster's threads do not divide the networks (5 on 2 workers), each
network's fit is cut into parts of consecutive epochs that run as a chain
of tasks, breadth first (:func:`_parts`), so that no worker waits while
another trains the last network; the state a part hands to the next makes
the networks the same as uncut fits.

Examples
--------
>>> from m5kit.datasets.ucr import make_shapes
>>> X, y = make_shapes(n_per_class=6, length=32, seed=0)
>>> clf = LSTMFCNClassifier(filters=(4, 8, 4), epochs=2, random_state=0).fit(X, y)
>>> clf.predict(X[:2]).shape
(2,)
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import choice, fraction, layer_sizes, number, optional_whole, whole
from m5kit.datasets.ucr import _check_discrete, check_labels
from m5kit.errors import DataError, ParamError
from m5kit.execution.quiet import import_backend
from m5kit.models._keras._private import pack_model, unpack_model
from m5kit.models._keras.cache import clear_keras_session, load_training_state, training_copy, training_state
from m5kit.models._keras.loop import train_loop
from m5kit.models._keras.precise_bn import recalibrate_batch_norm

keras = import_backend()  # already imported by m5kit.models._keras, quietly

__all__ = ["InceptionTimeClassifier", "LSTMFCNClassifier"]

logger = logging.getLogger(__name__)

#: Metrics kept per epoch, in ``history_`` and ``history.csv``, and the Keras log each is read from.
_LOG_NAMES = {"train_loss": "loss", "train_accuracy": "accuracy", "valid_loss": "val_loss",
              "valid_accuracy": "val_accuracy"}
HISTORY_KEYS = tuple(_LOG_NAMES)

#: The metrics ``restore_best`` may name, and whether higher is better.
RESTORE_BEST = {"train_loss": False, "valid_loss": False, "valid_accuracy": True}

#: Rows per ``predict_on_batch`` call.
_PREDICT_BATCH = 512


# -- input ---------------------------------------------------------------------------------------

def _as_series(X, name: str = "X") -> np.ndarray:
    """``X`` as float32 of shape ``(n, length, channels)``; one DataError line for what cannot be."""
    import pandas as pd
    import scipy.sparse

    if scipy.sparse.issparse(X):  # np.asarray made it an object scalar: "non-numeric values"
        raise DataError(f"{name} is a SciPy sparse matrix: give a dense array ({name}.toarray()) of shape "
                        "(n_series, length) or (n_series, length, channels)")
    try:
        complex_values = np.iscomplexobj(X)
    except (TypeError, ValueError):  # ragged rows: said below
        complex_values = False
    if complex_values:  # float32 kept the real parts alone (NumPy's ComplexWarning)
        raise DataError(f"{name} holds complex numbers: give real-valued series (e.g. their absolute values or "
                        "real and imaginary parts as two channels)")
    if isinstance(X, (pd.DataFrame, pd.Series)):  # nullable columns (Float64): pd.NA is a gap, said below as missing
        try:
            X = X.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):  # text: said below
            pass
    try:
        with np.errstate(over="ignore"):  # values beyond float32 become inf: told below
            arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{name} holds non-numeric values (or rows of different lengths): "
                        "give an array of numbers, shape (n_series, length) or (n_series, length, channels)") from None
    except OverflowError:  # a Python int past float64's range
        raise DataError(f"{name} has values beyond the range of 32-bit floats (about ±3.4e38): scale the series "
                        "down") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DataError(f"{name} has shape {np.shape(X)}: give a non-empty array of shape (n_series, length) "
                        "or (n_series, length, channels)")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(np.argwhere(bad)[0])
        row = int(first[0])
        if np.isfinite(np.asarray(X, dtype=np.float64).reshape(arr.shape)[first]):
            raise DataError(f"{name} has values beyond the range of 32-bit floats (about ±3.4e38; first in series "
                            f"{row}): scale the series down")
        raise DataError(f"{name} has missing or infinite values (first in series {row}): "
                        "fill or drop them before fitting or predicting")
    return arr


def _znorm(X: np.ndarray) -> np.ndarray:
    """Z-normalise each series and channel over time (a constant series becomes zeros).

    The mean and spread are taken in float64: a constant float32 series then has a spread of exactly 0 whatever its
    value (in float32 a flat 1000.1 had a std of 6e-5, float32's rounding of its mean, which was scaled up to +-1),
    values past 1e19 do not overflow their squares, and a series of small amplitude, relative to its level or not,
    is normalised as any other.
    """
    mean = X.mean(axis=1, keepdims=True, dtype=np.float64)
    std = X.std(axis=1, keepdims=True, dtype=np.float64)
    flat = std == 0
    return np.where(flat, 0.0, (X - mean) / np.where(flat, 1.0, std)).astype(np.float32)


def _as_labels(y, n: int, name: str = "y") -> np.ndarray:
    if y is None:  # fit(X, None) said "y has shape () for N series"
        raise DataError(f"{name} is None: give one label per series ({n} labels)")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1 or len(arr) != n:
        raise DataError(f"{name} has shape {np.shape(y)} for {n} series: give one label per series")
    if arr.dtype.kind in "fcO":  # None or NaN would make a class of its own, never matched again
        import pandas as pd

        missing = np.flatnonzero(pd.isna(arr))  # also pd.NA (a "string" column's): `NA != NA` is no bool
        if len(missing):
            raise DataError(f"{name} has missing labels (None or NaN; first for series {missing[0]}): "
                            "give every series a label, or drop the unlabelled ones")
    if arr.dtype == object:
        try:
            np.unique(arr)
        except TypeError:  # the classes must sort
            types = ", ".join(sorted({type(v).__name__ for v in arr.tolist()}))
            raise DataError(f"{name} mixes labels of types that do not sort together ({types}): "
                            "give labels of one type (all text, or all numbers)") from None
    return arr


# -- the Keras work (module level: sent to Dask workers) -----------------------------------------

def _build(network: str, params: dict) -> keras.Model:
    from m5kit.models.networks import build_inception_time, build_lstm_fcn

    return {"inception-time": build_inception_time, "lstm-fcn": build_lstm_fcn}[network](**params)


#: Networks whose predict function is traced for any batch size (the cached trainers that scored validation sets).
_ANY_BATCH: weakref.WeakSet = weakref.WeakSet()


class _EpochEnd(keras.callbacks.Callback):
    """End of each epoch: score the validation set, and reduce the learning rate on a plateau of the training loss.

    With ``calibrate`` (precise batch normalization), the network's
    batch-normalization statistics are recomputed on the training series
    before the validation set is scored, so the per-epoch validation scores
    are those the network would have if training stopped there (training
    itself does not read those statistics: the weights are the same either
    way). ``val_loss`` and ``val_accuracy`` come from ``predict_on_batch`` (the
    network's predict function, traced once per cached network, not Keras'
    ``evaluate``), with the cross-entropy computed as Keras computes it on
    probabilities (normalised, clipped to ``[1e-7, 1 - 1e-7]``). The
    learning rate is multiplied by ``factor`` after ``patience`` epochs
    without a training loss lower by 1e-4, down to ``min_lr``: the
    authors' ``ReduceLROnPlateau(monitor="loss")``, counted within one fit.

    With ``restore`` (a key of :data:`RESTORE_BEST`), the weights of the
    epoch with the best value of that metric are kept (a copy each time it
    improves, strictly) and put back at the end of training, as the
    authors' ``ModelCheckpoint(monitor="loss", save_best_only=True)`` and
    the weights they evaluate. ``best_epoch`` is that epoch (0-based
    within this fit; the last epoch without ``restore``).
    """

    #: What carries over from one part of a fit to the next (see :func:`_fit_member`).
    CARRIED = ("best", "wait", "best_epoch", "best_score", "best_weights")

    def __init__(self, valid: tuple | None, plateau: tuple, calibrate=None, restore: str | None = None,
                 carried: dict | None = None, last_part: bool = True):
        super().__init__()
        self.valid = valid
        self.calibrate = calibrate
        self.factor, self.patience, self.min_lr = plateau
        self.best, self.wait = math.inf, 0
        self.restore = restore
        self.best_epoch, self.best_score, self.best_weights = -1, math.inf, None
        self.last_part = last_part
        for name, value in (carried or {}).items():
            setattr(self, name, value)

    def carried(self) -> dict:
        """The plateau count and the best epoch so far, for the next part of the fit."""
        return {name: getattr(self, name) for name in self.CARRIED}

    def on_train_begin(self, logs=None):
        # A traced predict function fits one batch size until a second one makes
        # TensorFlow trace it for any size: do that now, once per network, with
        # two tiny batches, so that validation sets of other sizes trace nothing.
        if self.valid is not None and self.model not in _ANY_BATCH:
            for rows in (1, 2):
                self.model.predict_on_batch(np.zeros((rows, *self.valid[0].shape[1:]), dtype=self.valid[0].dtype))
            _ANY_BATCH.add(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.valid is not None:
            if self.calibrate is not None:
                self.calibrate()
            X, y = self.valid
            proba = _predict_batches(self.model, X)
            proba = np.clip(proba / proba.sum(axis=1, keepdims=True), 1e-7, 1.0 - 1e-7)
            logs["val_loss"] = float(-np.log(proba[np.arange(len(y)), y]).mean())
            logs["val_accuracy"] = float((proba.argmax(axis=1) == y).mean())
        self._keep_best(epoch, logs)
        loss = float(logs["loss"])
        if loss < self.best - 1e-4:
            self.best, self.wait = loss, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            rate = self.model.optimizer.learning_rate
            rate.assign(max(float(rate.numpy()) * self.factor, self.min_lr))
            self.wait = 0

    def _keep_best(self, epoch: int, logs: dict) -> None:
        if self.restore is None:
            self.best_epoch = epoch
            return
        value = float(logs[_LOG_NAMES[self.restore]])
        score = -value if RESTORE_BEST[self.restore] else value
        if score < self.best_score or self.best_weights is None:
            self.best_epoch, self.best_score = epoch, score
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.last_part and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            self.best_weights = None


def _predict_batches(model: keras.Model, X: np.ndarray) -> np.ndarray:
    """``model``'s outputs for ``X``, ``_PREDICT_BATCH`` rows per ``predict_on_batch`` call, as float64."""
    parts = [np.asarray(model.predict_on_batch(X[i:i + _PREDICT_BATCH])) for i in range(0, len(X), _PREDICT_BATCH)]
    return np.concatenate(parts).astype(np.float64)


#: Per process: one built network per architecture, to load the state of a fit's later parts into.
_CARRIERS: dict[str, keras.Model] = {}


def _carrier(network: str, build: dict) -> keras.Model:
    """This process' network of ``build``'s architecture (built once, with any seed)."""
    key = json.dumps([network, {k: v for k, v in build.items() if k != "seed"}], sort_keys=True, default=str)
    if key not in _CARRIERS:
        if len(_CARRIERS) >= 4:
            _CARRIERS.pop(next(iter(_CARRIERS)))
        clear_keras_session()
        _CARRIERS[key] = _build(network, build)
    return _CARRIERS[key]


def _part_state(model: keras.Model, rng: np.random.Generator, epoch_end: _EpochEnd, history: dict) -> dict:
    """Everything a later part of the fit needs: weights and seed states, optimizer slots, sample order, callbacks."""
    return {"network": training_state(model), "rng": rng.bit_generator.state, "epoch_end": epoch_end.carried(),
            "history": history}


def _fit_member(data: tuple, spec: dict, state: dict | None = None) -> tuple[Any, dict] | dict:
    """Build one network (or take the one to continue), train it on the engine; return it with its history.

    ``data`` is ``(X, y, X_valid, y_valid)``, already normalised and
    encoded; ``spec`` says which network (``network`` and its ``build``
    params; ``init``: a fitted network to train further) and how to train
    it. Module level and plain arguments: this is what a Dask worker runs. A
    network travels to and from a worker as the bytes of its ``.keras`` file
    (``spec["pack"]``: distributed's own Keras serializer fails on Keras 3
    models); in this process it is trained in place.

    Training runs on the engine (:mod:`m5kit.models._keras`): its epoch loop
    on NumPy batches, on the process' cached network of the same
    architecture (the member's weights, seed states and optimizer slots
    copied in and back), so the second and later networks of an ensemble,
    and of any later fit in the process, trace nothing. The epochs' sample
    order comes from ``spec["seed"]`` and the epochs already trained: the
    same network on any worker. With ``spec["restore_best"]`` the network
    ends with the weights of its best epoch by that metric (the history says
    which: ``"best_epoch"``, 0-based within this fit). With
    ``spec["precise_bn"]`` the network's batch-normalization statistics are
    then set to the exact ones over ``X``
    (:func:`~m5kit.models._keras.precise_bn.recalibrate_batch_norm`).

    A fit can be cut into parts (``spec["part"]``: the epochs
    ``(start, stop)`` of this part) that run one after the other, each
    perhaps on another worker: a part before the last returns the state the
    next one continues from (``state``: weights and seed states, the
    optimizer's slots, learning rate and step count, the sample order's
    generator, the plateau count, the best epoch so far and its weights,
    the history), so the network and its history are the same as from one
    uncut fit (tested).
    """
    X, y, Xv, yv = data
    init = spec.get("init")
    start, stop = spec.get("part", (0, spec["epochs"]))
    build = functools.partial(_build, spec["network"], spec["build"])
    if state is not None:  # a later part: this process' network of the architecture, holding the state
        model = load_training_state(_carrier(spec["network"], spec["build"]), state["network"])
    elif init is None:
        clear_keras_session()
        model = build()
    else:
        model = unpack_model(init) if isinstance(init, np.ndarray) else init
    rng = np.random.default_rng([spec["seed"], spec["epochs_done"]])
    if state is not None:
        rng.bit_generator.state = state["rng"]
    last = stop == spec["epochs"]
    with training_copy(model, build, X, y) as network:
        if state is None:
            network.optimizer.learning_rate.assign(spec["lr"])
        # the cached trainer keeps its statistics probe: traced once per process
        calibrate = (functools.partial(recalibrate_batch_norm, network, X, holder=network if network is not model else None)
                     if spec.get("precise_bn") else None)
        epoch_end = _EpochEnd(None if Xv is None else (Xv, yv), spec["plateau"], calibrate, spec.get("restore_best"),
                              carried=None if state is None else state["epoch_end"], last_part=last)
        logs = train_loop(network, X, y, None, batch_size=spec["batch_size"], epochs=stop, initial_epoch=start,
                          shuffle=True, verbose=0, rng=rng, callbacks=[epoch_end, *spec.get("callbacks", ())]).history
        if calibrate is not None and last:
            calibrate()
    history = {key: [float(v) for v in logs[name]] for key, name in _LOG_NAMES.items() if name in logs}
    if state is not None:
        history = {key: state["history"].get(key, []) + values for key, values in history.items()}
    if not last:
        return _part_state(model, rng, epoch_end, history)
    history["best_epoch"] = epoch_end.best_epoch
    return (pack_model(model) if spec.get("pack") else model), history


#: Fewest epochs in one part of a network's fit, and most parts (each part moves the network's state once).
MIN_PART_EPOCHS = 10
MAX_PARTS = 8


def _parts(networks: int, threads: int, epochs: int) -> int:
    """Parts to cut each network's fit into, so that ``networks`` fits end soonest on ``threads`` workers.

    Breadth first, ``networks * p`` parts take ``ceil(networks * p /
    threads)`` rounds of ``1/p`` network each (and at least ``p``: the
    parts of one network run one after the other). The fewest parts that
    reach the shortest time, at least :data:`MIN_PART_EPOCHS` epochs each.

    Examples
    --------
    >>> _parts(5, 2, 100), _parts(6, 2, 100), _parts(5, 3, 100), _parts(3, 8, 100), _parts(5, 2, 15)
    (2, 1, 3, 1, 1)
    """
    def rounds(p):
        return max(math.ceil(networks * p / threads), p) / p

    candidates = range(1, max(1, min(MAX_PARTS, epochs // MIN_PART_EPOCHS)) + 1)
    return min(candidates, key=lambda p: (rounds(p), p))


def _spans(epochs: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive spans ``(start, stop)`` of ``epochs`` epochs, as equal as can be."""
    bounds = np.linspace(0, epochs, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _predict_members(models: Sequence, X: np.ndarray) -> np.ndarray:
    """The networks' mean class probabilities for normalised ``X``, each row summing to 1 in float64.

    A float32 softmax sums to 1 within ~1e-7 only: scikit-learn's
    ``log_loss`` (and ``scoring="neg_log_loss"``) warns below 1.5e-8.
    """
    total = None
    for model in models:
        proba = _predict_batches(model, X)
        total = proba if total is None else total + proba
    return total / total.sum(axis=1, keepdims=True)


def _member_seed(random_state, index: int) -> int:
    """Seed of network ``index``: from ``random_state`` and the index only (fresh entropy for None)."""
    if isinstance(random_state, np.random.RandomState):
        base = int(random_state.randint(2**31 - 1))
    elif random_state is None:
        base = int(np.random.SeedSequence().entropy % (2**31 - 1))
    else:
        base = whole(random_state, "random_state", minimum=0)
    return int(np.random.SeedSequence([base, index]).generate_state(1)[0] % (2**31 - 1))


def _architecture(build: dict) -> dict:
    """The parameters of a network's build that fix its layers (not its seed, learning rate or input)."""
    return {k: v for k, v in build.items() if k not in ("seed", "lr", "input_shape", "n_classes")}


def _said(value) -> str:
    """A parameter value as the user wrote it (a tuple of filters as 2,2,2)."""
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


# -- the estimators -------------------------------------------------------------------------------

#: What a fresh fit sets before training: the classes and the series' shape.
_SHAPE_ATTRIBUTES = ("classes_", "n_features_in_", "series_length_", "n_channels_")


class _SeriesClassifier(ClassifierMixin, BaseEstimator):
    """What InceptionTime and LSTM-FCN share: input checks, labels, members, Dask dispatch, pickling."""

    _network = ""
    _plateau = (0.5, 50, 1e-4)

    # Subclasses: _checked_params() -> dict of checked hyperparameters; _build_params(shape, n_classes, seed).

    def _n_members(self, params: dict) -> int:
        return 1

    def _common_checks(self) -> dict:
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):  # list(...): a bare TypeError
            raise ParamError(f"invalid callbacks {self.callbacks!r}: give a list of Keras callbacks, e.g. "
                             f"[{type(self.callbacks).__name__}()], or None")
        return {
            "lr": number(self.lr, "lr"),
            "batch_size": whole(self.batch_size, "batch_size"),
            "epochs": whole(self.epochs, "epochs"),
            "n_workers": optional_whole(self.n_workers, "n_workers"),
            # the text 'False' was read as true (bool('False')): the statistics recalibrated, or a warm start
            "precise_bn": bool(choice(self.precise_bn, "precise_bn", (False, True))),
            "warm_start": choice(self.warm_start, "warm_start", (False, True)),
            "progress": choice(self.progress, "progress", (False, True)),  # 'False' showed the bar (as GroupedEstimator)
            "restore_best": None if self.restore_best is None else choice(self.restore_best, "restore_best",
                                                                          [*RESTORE_BEST, None]),
        }

    def _check_restore(self, params: dict, validation_data) -> None:
        if params["restore_best"] in ("valid_loss", "valid_accuracy") and validation_data is None:
            raise ParamError(f"restore_best={params['restore_best']!r} needs validation data: give "
                             "validation_data=(X_valid, y_valid), or restore_best='train_loss' or None")

    # fit / warm_start / partial_fit all come here
    def fit(self, X, y, validation_data: tuple | None = None):
        """Fit the network(s) on series ``X`` and labels ``y``.

        With ``warm_start=True`` and a fitted model, train the fitted
        networks ``epochs`` more epochs on ``X, y`` (whose labels must be
        among ``classes_``) instead of starting again.

        Parameters
        ----------
        X : array of shape (n_series, length) or (n_series, length, channels)
        y : array of shape (n_series,)
        validation_data : (X_valid, y_valid), optional
            Scored after every epoch (``valid_loss``, ``valid_accuracy`` in ``history_``).

        Returns
        -------
        self
        """
        params = self._checked_params()
        self._check_restore(params, validation_data)
        if self.warm_start and self._stored_members() is not None:
            return self._continue(X, y, validation_data, params, params["epochs"])
        return self._fresh(X, y, validation_data, params, params["epochs"])

    def partial_fit(self, X, y, classes=None, validation_data: tuple | None = None):
        """Train one more epoch on ``X, y`` (fine-tuning on new data); the first call starts the model.

        Parameters
        ----------
        X, y : as for :meth:`fit`
        classes : array, optional
            All the classes, at the first call (default: those in ``y``).
        validation_data : (X_valid, y_valid), optional

        Returns
        -------
        self
        """
        params = self._checked_params()
        self._check_restore(params, validation_data)
        if self._stored_members() is not None:
            if classes is not None and np.unique(np.asarray(classes)).tolist() != self.classes_.tolist():
                # as scikit-learn's partial_fit: a class added later would have been ignored
                raise DataError(f"classes {np.unique(np.asarray(classes)).tolist()} differ from those of the first "
                                f"call, {self.classes_.tolist()}: give the same classes (or none), or fit a new "
                                "model to learn new classes")
            return self._continue(X, y, validation_data, params, 1)
        return self._fresh(X, y, validation_data, params, 1, classes=classes)

    def _fresh(self, X, y, validation_data, params, epochs, classes=None):
        X = _as_series(X)
        y = _as_labels(y, len(X))
        if classes is None:
            check_labels(y)
            classes_ = np.unique(y)
        else:
            classes_ = np.unique(np.asarray(classes))
            _check_discrete(classes_, "classes")
            if len(classes_) < 2:
                raise DataError(f"classes {classes_.tolist()} has fewer than two classes: give every class to learn")
        # the checks of the data read the new classes and shape; a fit that fails puts the last fit's back (its
        # networks came back under the new labels)
        kept = {k: self.__dict__[k] for k in _SHAPE_ATTRIBUTES if k in self.__dict__}
        try:
            self.classes_ = classes_
            self.n_features_in_ = X.shape[1]
            self.series_length_, self.n_channels_ = X.shape[1], X.shape[2]
            data = self._data(X, y, validation_data, fresh=True)
            n = self._n_members(params)
            seeds = [_member_seed(self.random_state, i) for i in range(n)]
            specs = [self._spec(params, epochs, seed, 0,
                                build=self._build_params(params, X.shape[1:], len(classes_), seed)) for seed in seeds]
            results = self._run(data, specs)
        except BaseException:
            for k in _SHAPE_ATTRIBUTES:
                self.__dict__.pop(k, None)
            self.__dict__.update(kept)
            raise
        self.member_seeds_ = seeds
        self.architecture_ = _architecture(specs[0]["build"])
        self.members_ = [model for model, _ in results]
        self.best_epochs_ = [history.pop("best_epoch") for _, history in results]
        self.member_histories_ = [history for _, history in results]
        self.n_epochs_ = epochs
        self._set_history()
        return self

    def _continue(self, X, y, validation_data, params, epochs):
        check_is_fitted(self, "_members")
        X = self._check_fitted_shape(_as_series(X))
        y = _as_labels(y, len(X))
        stored = self._stored_members()  # loaded or still bytes: either goes to _fit_member as it is
        n = self._n_members(params)
        if n != len(stored):
            raise ParamError(f"cannot continue training {len(stored)} network(s) with models={n}: "
                             f"keep models={len(stored)}, or fit from scratch (warm_start=False)")
        data = self._data(X, y, validation_data)
        seeds = getattr(self, "member_seeds_", None) or [_member_seed(self.random_state, i) for i in range(n)]
        shape = (self.series_length_, self.n_channels_)
        specs = [self._spec(params, epochs, seed, self.n_epochs_, init=model,
                            build=self._build_params(params, shape, len(self.classes_), seed))
                 for seed, model in zip(seeds, stored)]
        built = getattr(self, "architecture_", None)  # None: fitted before it was recorded
        changed = {k: v for k, v in _architecture(specs[0]["build"]).items() if built and built.get(k) != v}
        if changed:
            said = ", ".join(f"{k}={_said(v)}" for k, v in changed.items())
            kept = ", ".join(f"{k}={_said(built[k])}" for k in changed)
            raise ParamError(f"cannot continue training networks built with {kept} with {said}: "
                             f"keep {kept}, or fit from scratch (warm_start=False)")
        results = self._run(data, specs)
        self.members_ = [model for model, _ in results]
        self.best_epochs_ = [self.n_epochs_ + history.pop("best_epoch") for _, history in results]
        for old, (_, new) in zip(self.member_histories_, results):
            for key in HISTORY_KEYS:
                if key in new or key in old:
                    filler = [math.nan] * (self.n_epochs_ if key not in old else 0)
                    old[key] = old.get(key, []) + filler + new.get(key, [math.nan] * epochs)
        self.n_epochs_ += epochs
        self._set_history()
        return self

    def _spec(self, params, epochs, seed, epochs_done, *, build=None, init=None) -> dict:
        return {"network": self._network, "build": build, "init": init, "seed": seed, "epochs_done": epochs_done,
                "epochs": epochs, "batch_size": params["batch_size"], "lr": params["lr"], "plateau": self._plateau,
                "precise_bn": params["precise_bn"], "restore_best": params["restore_best"],
                "callbacks": list(self.callbacks or ())}

    def _encode(self, y, name: str = "y", fresh: bool = False) -> np.ndarray:
        """Labels as class indices; labels not in ``classes_`` are one DataError naming them.

        ``fresh``: the classes are those of the fit in progress (``y``'s, or ``classes=``), not of an earlier fit.
        """
        known = set(self.classes_.tolist())
        unseen = sorted({label for label in np.asarray(y).tolist() if label not in known}, key=str)
        if unseen:
            shown = ", ".join(map(repr, unseen[:10])) + (" ..." if len(unseen) > 10 else "")
            classes = ", ".join(map(repr, self.classes_.tolist()[:10]))
            if fresh:
                raise DataError(f"{name} has label(s) outside the classes being fitted: {shown}; the classes "
                                f"(of y, or classes=) are {classes}: drop those series, or fit on data of those classes")
            raise DataError(f"{name} has label(s) never seen when the model was first fitted: {shown}; "
                            f"the model knows {classes}: fit a new model to learn new classes")
        return np.searchsorted(self.classes_, np.asarray(y)).astype(np.int32)

    def _data(self, X, y, validation_data, fresh: bool = False) -> tuple:
        Xv = yv = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ParamError("invalid validation_data: give a pair (X_valid, y_valid)")
            Xv = self._check_fitted_shape(_as_series(validation_data[0], "X_valid"), "X_valid")
            yv = self._encode(_as_labels(validation_data[1], len(Xv), "y_valid"), "y_valid", fresh)
            Xv = _znorm(Xv)
        return _znorm(X), self._encode(y, fresh=fresh), Xv, yv

    def _run(self, data: tuple, specs: list[dict]) -> list[tuple]:
        """Fit the networks: one task each, here or on the Dask cluster; the first failure is raised.

        On a cluster whose thread count does not divide the number of
        networks, each network's fit is cut into parts of consecutive epochs
        (:func:`_parts`) that run as a chain of tasks, breadth first
        (:func:`~m5kit.execution.cluster.run_chains`): 5 networks on 2
        workers take the time of 2.5 networks instead of 3. The networks are
        the same as from uncut fits.
        """
        from m5kit.execution.cluster import Task, open_client, run_chains, run_tasks
        from m5kit.execution.progress import progress_bar

        tasks = [Task(f"{self._network}-{i}", _fit_member, data, (spec,)) for i, spec in enumerate(specs)]
        local = self.client is None and self.scheduler is None and self.n_workers is None
        if not local:
            for spec in specs:  # networks travel as .keras bytes
                spec["pack"] = True
                if spec["init"] is not None and not isinstance(spec["init"], np.ndarray):
                    spec["init"] = pack_model(spec["init"])
        # the bar starts once the cluster is there: a scheduler out of reach is its error line alone
        cluster = contextlib.nullcontext() if local else open_client(self.n_workers, self.scheduler, self.client)
        bar = progress_bar(bool(self.progress), len(tasks), label=f"{self._network} networks")
        with cluster as client, bar as advance:
            def done(outcome):
                logger.info("network %s trained in %.1f s", outcome.name, outcome.seconds)
                advance()

            parts = 1 if local else _parts(len(specs), sum(client.nthreads().values()), specs[0]["epochs"])
            if parts > 1 and not self.callbacks:  # a user's callback may keep state across epochs
                chains = [[(_fit_member, ({**spec, "part": part},)) for part in _spans(spec["epochs"], parts)]
                          for spec in specs]
                outcomes = run_chains(data, chains, [t.name for t in tasks], client, prefix="member", on_done=done)
            else:
                outcomes = run_tasks(tasks, client, prefix="member", on_done=done)
        for outcome in outcomes:
            if not outcome.ok:
                raise outcome.error
        # From a cluster the networks stay .keras bytes until members_ is first read (see there).
        return [outcome.result for outcome in outcomes]

    def _set_history(self) -> None:
        keys = [k for k in HISTORY_KEYS if k in self.member_histories_[0]]
        # nan where an epoch had no validation data: the mean of nans stays nan (no warning)
        self.history_ = {k: np.asarray([h[k] for h in self.member_histories_], dtype=float).mean(axis=0).tolist()
                         for k in keys}

    def _check_fitted_shape(self, X: np.ndarray, name: str = "X") -> np.ndarray:
        if X.shape[1] != self.series_length_ or X.shape[2] != self.n_channels_:
            raise DataError(f"{name} has series of length {X.shape[1]} with {X.shape[2]} channel(s) but the model "
                            f"was trained on length {self.series_length_} with {self.n_channels_}: give series of "
                            "the training shape")
        return X

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (the mean over the ensemble's networks), columns in the order of ``classes_``.

        Parameters
        ----------
        X : array of shape (n_series, length) or (n_series, length, channels)

        Returns
        -------
        ndarray of shape (n_series, n_classes)
        """
        check_is_fitted(self, "members_")
        X = self._check_fitted_shape(_as_series(X))
        return _predict_members(self.members_, _znorm(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each series.

        Returns
        -------
        ndarray of shape (n_series,), labels as given to ``fit``
        """
        probabilities = self.predict_proba(X)  # first: unfitted, it raises NotFittedError
        return self.classes_[np.argmax(probabilities, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_clone__(self):
        """A clone sharing ``client`` (a Dask client cannot be deep-copied: ``clone`` and every search's candidates
        failed with "cannot pickle '_asyncio.Task' object")."""
        client = self.client
        self.client = None
        try:
            new = super().__sklearn_clone__()
        finally:
            self.client = client
        new.client = client
        return new

    # -- the networks: loaded on first use; pickled as the bytes of their .keras files; a client never travels ----

    @property
    def members_(self) -> list:
        """The fitted networks, each loaded from its ``.keras`` bytes when first read.

        A fit on a cluster gets each network back as the bytes of its
        ``.keras`` file, and so does unpickling: loading one costs ~0.3-0.8
        CPU-s (InceptionTime at its defaults), which the client spent while
        the workers still trained (on a shared machine, taken from them), and
        which saving the model again (``m5kit classify train --out``) never
        needed. Predicting (or reading this) loads them, once.
        """
        members = self._stored_members()
        if members is None:
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: it has no members_")
        for i, member in enumerate(members):
            if isinstance(member, np.ndarray):
                members[i] = unpack_model(member)
        return members

    @members_.setter
    def members_(self, members) -> None:
        self.__dict__["_members"] = list(members)

    def _stored_members(self) -> list | None:
        """The networks as held (each a loaded model or its ``.keras`` bytes), without loading any; None unfitted."""
        return self.__dict__.get("_members")

    def __getstate__(self):
        state = dict(super().__getstate__())
        state["client"] = None
        members = state.pop("_members", None)
        if members is not None:
            state["_packed_members"] = [m if isinstance(m, np.ndarray) else pack_model(m) for m in members]
        return state

    def __setstate__(self, state):
        state.setdefault("progress", False)  # model folders written before these parameters existed
        state.setdefault("callbacks", None)
        state.setdefault("restore_best", None)  # saved before it existed: the last epoch's weights
        packed = state.pop("_packed_members", None)
        super().__setstate__(state)
        if packed is not None:
            self.members_ = packed  # loaded on first use


class InceptionTimeClassifier(_SeriesClassifier):
    """InceptionTime (Ismail Fawaz et al., 2020): an ensemble of Inception networks.

    ``models`` networks of the same architecture
    (:func:`m5kit.models.networks.build_inception_time`), differing only in
    their Glorot-uniform initial weights (each seeded from ``random_state``
    and its index), each trained on its own; :meth:`predict_proba` averages
    their probabilities. The learning rate halves after 50 epochs without a
    lower training loss (down to 1e-4), as in the authors' code.

    Parameters
    ----------
    filters : int, default=32
        Filters per convolution branch.
    depth : int, default=6
        Inception modules per network (a residual shortcut every 3).
    models : int, default=5
        Networks in the ensemble.
    lr : float, default=0.001
        Adam's initial learning rate.
    batch_size : int, default=64
    epochs : int, default=100
        Epochs per :meth:`fit` (:meth:`partial_fit` trains one).
    bottleneck : int, default=32
        Filters of the 1x1 bottleneck.
    kernel_size : int, default=40
        Largest kernel (the others are its half and quarter); at least 4.
    precise_bn : bool, default=True
        After training (and before each epoch's validation scores), set each
        batch normalization's statistics to the exact mean and variance over
        the training series ("precise BN", Wu and Johnson 2021) instead of
        the moving averages of training. With few steps per fit (a small set
        is one or two batches an epoch) those averages are still far from
        the data, and the networks predict near chance although trained:
        measured on GunPoint and Coffee with one network and 100 epochs,
        test accuracy 0.51 and 0.54 with the moving averages, 0.99 and 1.00
        with precise statistics. The authors' code has no such step; it
        trains 1,500 epochs. The weights are the same either way.
    restore_best : {"train_loss", "valid_loss", "valid_accuracy"} or None, default="train_loss"
        Each network ends a fit with the weights of its epoch with the
        lowest training loss (the authors' code keeps those, with
        ``ModelCheckpoint(monitor="loss", save_best_only=True)``, and
        predicts with them), or the best by the validation set's loss or
        accuracy (then give ``validation_data``); None keeps the last
        epoch's weights. Counted within one fit (a ``partial_fit`` or warm
        start picks among its own epochs); the optimizer's state stays the
        last epoch's.
    random_state : int, RandomState or None
        Seeds the networks' weights and the epochs' sample order.
    warm_start : bool, default=False
        ``fit`` on a fitted model continues training its networks.
    n_workers : int, optional
        Train the networks on a local Dask cluster of this many workers. When
        the workers' threads do not divide ``models`` (5 networks on 2
        workers), each network's epochs are cut into parts of at least
        :data:`MIN_PART_EPOCHS` epochs that run one after the other, perhaps
        on different workers (5 networks on 2 workers: 2 parts each, 2.5
        networks' time instead of 3); the networks are the same as uncut
        fits. Not with ``callbacks`` (they may keep state between epochs).
    scheduler : str, optional
        Address of a Dask scheduler to train the networks on.
    client : distributed.Client, optional
        A Dask client to train the networks on (not pickled).
    progress : bool, default=False
        Show a progress bar of the networks trained (done / total) on stderr.
    callbacks : list of keras.callbacks.Callback, optional
        Called in every network's training, after each epoch's validation
        scores are in the logs (``val_loss``, ``val_accuracy``): e.g. the
        pruning callback of a hyperparameter search
        (:meth:`m5kit.tuning_pruning.TrialReporter.keras_callback`). On a
        cluster they travel with each network's task, so they must pickle.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    members_ : list of keras.Model
        The fitted networks (from a cluster or a pickle each is loaded when
        this is first read, e.g. by the first prediction).
    history_ : dict of lists
        Per epoch, the networks' mean ``train_loss``, ``train_accuracy`` (and
        ``valid_loss``, ``valid_accuracy`` with validation data).
    member_histories_ : list of dict
        The same per network.
    best_epochs_ : list of int
        Per network, the epoch (0-based index into its history) whose
        weights it holds: the best by ``restore_best`` in the last fit.
    n_epochs_ : int
        Epochs trained so far.
    member_seeds_ : list of int
        Each network's seed (initial weights; with the epoch count, its sample order).
    architecture_ : dict
        The parameters that fixed the networks' layers (a warm start refuses others).
    series_length_, n_channels_, n_features_in_ : int
        Shape of the training series (``n_features_in_`` is the length).

    See Also
    --------
    LSTMFCNClassifier

    Examples
    --------
    >>> from m5kit.datasets.ucr import make_shapes
    >>> X, y = make_shapes(n_per_class=6, length=32, seed=0)
    >>> clf = InceptionTimeClassifier(filters=4, depth=3, models=2, epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _network = "inception-time"
    _plateau = (0.5, 50, 1e-4)

    def __init__(self, filters=32, depth=6, models=5, lr=0.001, batch_size=64, epochs=100, *, bottleneck=32,
                 kernel_size=40, precise_bn=True, restore_best="train_loss", random_state=None, warm_start=False,
                 n_workers=None, scheduler=None, client=None, progress=False, callbacks=None):
        self.filters = filters
        self.depth = depth
        self.models = models
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.bottleneck = bottleneck
        self.kernel_size = kernel_size
        self.precise_bn = precise_bn
        self.restore_best = restore_best
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.client = client
        self.progress = progress
        self.callbacks = callbacks

    def _checked_params(self) -> dict:
        return {
            **self._common_checks(),
            "filters": whole(self.filters, "filters"),
            "depth": whole(self.depth, "depth"),
            "models": whole(self.models, "models"),
            "bottleneck": whole(self.bottleneck, "bottleneck", minimum=0),
            "kernel_size": whole(self.kernel_size, "kernel_size", minimum=4),  # below 4 two branches share a kernel size
        }

    def _n_members(self, params: dict) -> int:
        return params["models"]

    def _build_params(self, params, shape, n_classes, seed) -> dict:
        return {"input_shape": tuple(shape), "n_classes": n_classes, "filters": params["filters"],
                "depth": params["depth"], "bottleneck": params["bottleneck"], "kernel_size": params["kernel_size"],
                "lr": params["lr"], "seed": seed}


class LSTMFCNClassifier(_SeriesClassifier):
    """LSTM-FCN (Karim et al., 2018): an LSTM over the dimension-shuffled series beside a fully convolutional block.

    See :func:`m5kit.models.networks.build_lstm_fcn` for the network. The
    learning rate is multiplied by ``1/2**(1/3)`` after 100 epochs without a
    lower training loss (down to 1e-4), as in the authors' code.

    Parameters
    ----------
    num_layers : int, default=1
        LSTM layers.
    hidden_size : int, default=8
        Units per LSTM layer.
    dropout : float, default=0.8
        Dropout after each LSTM layer.
    filters : tuple of int, default=(128, 256, 128)
        Filters of the three convolutions.
    kernel_sizes : tuple of int, default=(8, 5, 3)
        Their kernel sizes.
    lr : float, default=0.001
    batch_size : int, default=128
    epochs : int, default=2000
        Epochs per :meth:`fit` (:meth:`partial_fit` trains one).
    precise_bn : bool, default=True
        As for :class:`InceptionTimeClassifier` (the convolutional block's
        batch normalizations): GunPoint, 300 epochs, test accuracy 0.57 with
        the moving averages, 1.00 with precise statistics.
    restore_best : {"train_loss", "valid_loss", "valid_accuracy"} or None, default="train_loss"
        As for :class:`InceptionTimeClassifier` (the authors' LSTM-FCN code
        also keeps and evaluates the weights of the lowest training loss).
    random_state, warm_start, n_workers, scheduler, client, progress, callbacks
        As for :class:`InceptionTimeClassifier` (one network: the cluster trains it as one task).

    Attributes
    ----------
    classes_, members_, history_, member_histories_, best_epochs_, n_epochs_, member_seeds_, architecture_
        As for :class:`InceptionTimeClassifier` (``members_`` holds one network).
    series_length_, n_channels_, n_features_in_
        As for :class:`InceptionTimeClassifier`.

    See Also
    --------
    InceptionTimeClassifier

    Examples
    --------
    >>> from m5kit.datasets.ucr import make_shapes
    >>> X, y = make_shapes(n_per_class=6, length=32, seed=0)
    >>> clf = LSTMFCNClassifier(filters=(4, 8, 4), epochs=2, random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['sawtooth', 'sine', 'square']
    """

    _network = "lstm-fcn"
    _plateau = (1 / 2 ** (1 / 3), 100, 1e-4)

    def __init__(self, num_layers=1, hidden_size=8, dropout=0.8, filters=(128, 256, 128), kernel_sizes=(8, 5, 3),
                 lr=0.001, batch_size=128, epochs=2000, *, precise_bn=True, restore_best="train_loss",
                 random_state=None, warm_start=False, n_workers=None, scheduler=None, client=None, progress=False,
                 callbacks=None):
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.filters = filters
        self.kernel_sizes = kernel_sizes
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.precise_bn = precise_bn
        self.restore_best = restore_best
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.client = client
        self.progress = progress
        self.callbacks = callbacks

    def _checked_params(self) -> dict:
        filters = layer_sizes(self.filters, "filters")
        kernels = layer_sizes(self.kernel_sizes, "kernel_sizes")
        if not filters or len(filters) != len(kernels):
            raise ParamError(f"invalid filters {self.filters!r} / kernel_sizes {self.kernel_sizes!r}: give one "
                             "kernel size (>= 1) per convolution, e.g. filters=(128, 256, 128), kernel_sizes=(8, 5, 3)")
        return {
            **self._common_checks(),
            "num_layers": whole(self.num_layers, "num_layers"),
            "hidden_size": whole(self.hidden_size, "hidden_size"),
            "dropout": fraction(self.dropout, "dropout"),
            "filters": filters,
            "kernel_sizes": kernels,
        }

    def _build_params(self, params, shape, n_classes, seed) -> dict:
        return {"input_shape": tuple(shape), "n_classes": n_classes, "num_layers": params["num_layers"],
                "hidden_size": params["hidden_size"], "dropout": params["dropout"], "filters": params["filters"],
                "kernel_sizes": params["kernel_sizes"], "lr": params["lr"], "seed": seed}

