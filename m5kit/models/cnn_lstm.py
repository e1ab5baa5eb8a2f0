"""The CNN-LSTM forecaster: a Keras model builder and its scikit-learn wrapper.

The model reads windows of shape ``(window, n_features)`` (see
:class:`m5kit.transformers.Windower`): causal ``Conv1D`` + ``MaxPooling1D``
blocks pick up short patterns, a stack of ``LSTM`` layers (each followed by
``BatchNormalization``) reads the sequence, and a ``Dense`` layer gives one
output per forecast day. The defaults are small on purpose: m5kit trains one
model per group (up to 30,490 of them), on one CPU thread each.

Defaults, as measured on one thread for a level-12 group (one series, ~1,880
windows of 28 x 14): Conv1D 16, LSTM 32, batch 256, Adam 5e-3 clipped at norm
1 cost ~0.12 CPU-s per epoch plus ~0.7 CPU-s per fit once the process has
traced the network (~2 CPU-s for the first fit). On synthetic M5-like series
their 28-day recursive forecast had 0.78x the RMSE of a seasonal naive
forecast; with Adam's usual 1e-3 the same network was undertrained (1.19x).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import math
import os
import random
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from scikeras._utils import route_params
from scikeras.utils import metric_name
from scikeras.utils.random_state import tensorflow_random_state
from scipy import sparse
from sklearn.exceptions import NotFittedError

from m5kit.errors import DataError
from m5kit.models._compat import KerasRegressor

__all__ = ["build_cnn_lstm", "CNNLSTMRegressor", "SEED_PRESET"]

logger = logging.getLogger(__name__)

#: ``model__`` parameters that rebuild the seed project's network (Conv1D 64 and
#: 32 filters of kernel 7, LSTM 256/128/64; 565k weights against 8k). About 6x
#: the defaults' CPU time per epoch on one thread (0.72 s against 0.12 s for a
#: level-12 group). Use as ``CNNLSTMRegressor(**SEED_PRESET)``.
SEED_PRESET: dict[str, Any] = {
    "model__conv_filters": (64, 32),
    "model__kernel_size": 7,
    "model__pool_size": 2,
    "model__lstm_units": (256, 128, 64),
    "model__dense_units": 0,
}


def _sizes(value, name: str) -> tuple[int, ...]:
    """A layer-size parameter as a tuple of positive ints (an int means one layer, 0/None none)."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in items):
        raise DataError(f"{name} must be a whole number or a sequence of whole numbers >= 0, got {value!r}")
    return tuple(int(v) for v in items if v > 0)


class _Initializers:
    """Initializers seeded from a private RNG (``seed=None``: Keras' own defaults)."""

    def __init__(self, seed: int | None):
        self._rng = None if seed is None else random.Random(int(seed))

    def seed(self) -> int | None:
        return None if self._rng is None else self._rng.randrange(2**31 - 1)

    def glorot(self):
        return keras.initializers.GlorotUniform(seed=self.seed())

    def orthogonal(self):
        return keras.initializers.Orthogonal(seed=self.seed())


def build_cnn_lstm(
    conv_filters: int | Sequence[int] = (16,),
    kernel_size: int = 7,
    pool_size: int = 2,
    lstm_units: int | Sequence[int] = (32,),
    dense_units: int | Sequence[int] = 0,
    dropout: float = 0.0,
    learning_rate: float = 5e-3,
    clipnorm: float | None = 1.0,
    bn_momentum: float = 0.9,
    jit_compile: bool | str = False,
    seed: int | None = None,
    meta: dict[str, Any] | None = None,
    compile_kwargs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> keras.Model:
    """Build and compile the CNN-LSTM.

    Parameters
    ----------
    conv_filters : int or sequence of int, default=(16,)
        Filters of each causal ``Conv1D`` block (each followed by
        ``MaxPooling1D``); ``0`` or ``()`` for none.
    kernel_size : int, default=7
        Kernel of every ``Conv1D`` (7 = one week).
    pool_size : int, default=2
        ``MaxPooling1D`` size after each convolution (``1``: no pooling).
    lstm_units : int or sequence of int, default=(32,)
        Units of each stacked ``LSTM`` (each followed by ``BatchNormalization``).
    dense_units : int or sequence of int, default=0
        Hidden ``Dense`` (relu) layers before the output; ``0`` for none.
    dropout : float, default=0.0
        Dropout rate before the dense layers.
    learning_rate, clipnorm : float
        Adam's learning rate and gradient-norm clipping (``None``: no clipping).
    bn_momentum : float, default=0.9
        Momentum of the ``BatchNormalization`` moving statistics. Keras' 0.99
        needs hundreds of steps to settle, more than a small group's fit has
        (70 steps for 10 epochs of a level-12 series): its inference-mode
        predictions then lag far behind training.
    jit_compile : bool or "auto", default=False
        XLA compilation. On one CPU thread it costs more (compile time) than it
        saves for these small networks.
    seed : int, optional
        Seed of every initializer and dropout layer; by default the
        wrapper's ``random_state``. Seeds are never drawn from Python's
        global ``random``, which other threads of a Dask worker also use.
    meta : dict
        scikeras' fit metadata: ``X_shape_`` gives the input shape
        (``(n, window, n_features)``; a 2-D ``(n, n_features)`` input is read
        as a sequence of ``n_features`` steps of one feature) and
        ``n_outputs_`` the number of outputs (the horizon).
    compile_kwargs : dict, optional
        scikeras' compile arguments. An ``optimizer``, ``loss`` or ``metrics``
        given there (the wrapper's parameters) replaces the defaults: Adam with
        ``learning_rate`` and ``clipnorm``, MSE loss, RMSE metric.
    params : dict, optional
        scikeras passes the wrapper's parameters (``random_state`` is used).

    Returns
    -------
    keras.Model
        Compiled.

    Examples
    --------
    >>> model = build_cnn_lstm(conv_filters=4, lstm_units=4, meta={"X_shape_": (100, 28, 14), "n_outputs_": 1})
    >>> model.output_shape
    (None, 1)
    """
    meta = meta or {}
    if "X_shape_" not in meta:
        raise DataError("build_cnn_lstm needs meta['X_shape_'] (the training windows' shape): use it through CNNLSTMRegressor")
    shape = tuple(int(s) for s in meta["X_shape_"][1:])
    n_outputs = int(meta.get("n_outputs_", 1) or 1)
    conv, lstm, dense = _sizes(conv_filters, "conv_filters"), _sizes(lstm_units, "lstm_units"), _sizes(dense_units, "dense_units")
    layers = keras.layers
    if seed is None and params is not None:
        seed = params.get("random_state")
    init = _Initializers(seed)

    inputs = keras.Input(shape=shape, name="windows")
    # Every layer is named: the same parameters give the same config in any
    # process state, which keys the reuse of traced networks (_TRAINERS).
    x = layers.Reshape((shape[0], 1), name="as_sequence")(inputs) if len(shape) == 1 else inputs
    for i, filters in enumerate(conv):
        x = layers.Conv1D(filters, int(kernel_size), padding="causal", activation="relu", kernel_initializer=init.glorot(),
                          name=f"conv_{i}")(x)
        if pool_size and int(pool_size) > 1:
            x = layers.MaxPooling1D(int(pool_size), padding="same", name=f"pool_{i}")(x)
    for i, units in enumerate(lstm):
        x = layers.LSTM(units, return_sequences=i < len(lstm) - 1, kernel_initializer=init.glorot(),
                        recurrent_initializer=init.orthogonal(), name=f"lstm_{i}")(x)
        x = layers.BatchNormalization(momentum=float(bn_momentum), name=f"lstm_{i}_norm")(x)
    if not lstm:
        x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(float(dropout), seed=init.seed(), name="dropout")(x)
    for i, units in enumerate(dense):
        x = layers.Dense(units, activation="relu", kernel_initializer=init.glorot(), name=f"dense_{i}")(x)
    outputs = layers.Dense(n_outputs, name="forecast", kernel_initializer=init.glorot())(x)
    model = keras.Model(inputs, outputs, name="cnn_lstm")

    given = compile_kwargs or {}
    kwargs = {k: given[k] for k in ("loss_weights", "weighted_metrics", "run_eagerly") if given.get(k) is not None}
    model.compile(
        optimizer=given.get("optimizer") or keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm, name="adam"),
        loss=given.get("loss") or "mse",
        metrics=given.get("metrics") or [keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=jit_compile,
        **kwargs,
    )
    # Create the optimizer's slots now, eagerly: created inside the first traced
    # train step they make TensorFlow trace the whole step a second time.
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model


class CNNLSTMRegressor(KerasRegressor):
    """scikit-learn regressor of the CNN-LSTM (a scikeras ``KerasRegressor``).

    Parameters are routed the scikeras way: ``model__lstm_units=(64, 32)`` goes
    to :func:`build_cnn_lstm`, ``fit__validation_split`` to ``Model.fit``.

    Parameters
    ----------
    model : callable, default=build_cnn_lstm
        The model builder.
    epochs : int, default=10
        Maximum epochs (early stopping may end sooner).
    batch_size : int, default=256
    validation_split : float, default=0.1
        Fraction of the samples held out for early stopping, taken from the
        *end* (the Windower orders windows by day, so this is the end of the
        history). Ignored (no hold-out) when it would leave a set empty.
    patience : int or None, default=3
        ``EarlyStopping`` patience on ``val_loss`` (``loss`` without hold-out),
        restoring the best weights; ``None`` disables early stopping.
    log_dir : str or path or None, default=None
        When set, a Keras ``TensorBoard`` callback logs the epochs there (when
        the ``tensorboard`` package is missing: a ``history.csv`` of the epochs).
    optimizer, loss, metrics : default=None
        ``None`` keeps the builder's Adam (with clipping), MSE and RMSE.
    verbose : int, default=0
    shuffle : bool, default=True
        Shuffle the training part of the samples each epoch.
    random_state : int or None, default=None
        Seed: two fits with the same seed on the same data give identical
        weights (one CPU thread; TensorFlow op determinism is enabled for the fit).
    reuse_trainer : bool, default=True
        Train on a per-process cached copy of the same network whose training
        step is already traced, then copy the weights into ``model_``: tracing
        costs ~1 CPU-s per new model, more than 8 epochs of a level-12 group.
        Results are identical either way; only the default builder is cached.
    **kwargs
        Routed parameters (``model__*``, ``fit__*``, ``compile__*``, ``predict__*``, ...).

    Attributes
    ----------
    model_ : keras.Model
        The fitted model; ``model_.predict_on_batch`` is the fast path for
        small batches (``Windower.recursive_predict`` uses it).
    history_ : dict of list
        Loss and metrics per epoch (``loss``, ``rmse``, ``val_loss``, ...).
    n_outputs_ : int
        Outputs per sample (the horizon).

    See Also
    --------
    build_cnn_lstm : the network.
    m5kit.transformers.Windower : makes the windows it trains on.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 14, 3)).astype("float32")
    >>> y = X[:, -1, 0]
    >>> reg = CNNLSTMRegressor(epochs=2, model__conv_filters=4, model__lstm_units=4, random_state=0)
    >>> reg.fit(X, y).predict(X).shape
    (64,)
    """

    def __init__(
        self,
        model=build_cnn_lstm,
        *,
        epochs: int = 10,
        batch_size: int = 256,
        validation_split: float = 0.1,
        patience: int | None = 3,
        log_dir=None,
        optimizer=None,
        loss=None,
        metrics=None,
        verbose: int = 0,
        shuffle: bool = True,
        random_state: int | None = None,
        warm_start: bool = False,
        reuse_trainer: bool = True,
        **kwargs,
    ):
        super().__init__(
            model=model,
            epochs=epochs,
            batch_size=batch_size,
            validation_split=validation_split,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            verbose=verbose,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            **kwargs,
        )
        self.patience = patience
        self.log_dir = log_dir
        self.reuse_trainer = reuse_trainer

    def fit(self, X, y, sample_weight=None, **kwargs) -> CNNLSTMRegressor:
        """Build a fresh model (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array of shape (n_samples, window, n_features) or (n_samples, n_features)
        y : array of shape (n_samples,) or (n_samples, horizon)
        sample_weight : array of shape (n_samples,), optional
        **kwargs
            Passed to ``keras.Model.fit`` (prefer ``fit__`` parameters).

        Returns
        -------
        self
        """
        if sparse.issparse(X):
            raise DataError(f"{type(self).__name__} needs dense windows, got a sparse matrix: pass X.toarray()")
        if not self.warm_start:
            self.__dict__.pop(_PACKED, None)
        if self.patience is not None and (isinstance(self.patience, bool) or int(self.patience) != self.patience or self.patience < 0):
            raise DataError(f"patience must be None or a whole number >= 0, got {self.patience!r}")
        if not (self.warm_start and self.initialized_):
            _clear_keras_session()
        seed = self.random_state
        # build_cnn_lstm seeds its initializers and dropout, and the training
        # loop its sample order, from random_state: global seeds are only set
        # for other builders (setting TensorFlow's makes it trace every
        # traced function again, ~0.3 CPU-s each, on every fit).
        global_seeds = self.model is not build_cnn_lstm or not _tensorflow()
        if global_seeds and isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            states = random.getstate(), np.random.get_state()
            keras.utils.set_random_seed(int(seed))
            try:
                return super().fit(X, y, sample_weight=sample_weight, **kwargs)
            finally:
                random.setstate(states[0])
                np.random.set_state(states[1])
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def _validation_fraction(self, n_samples: int, requested) -> float:
        """The hold-out fraction usable on ``n_samples`` (0 when a set would be empty)."""
        fraction = float(requested or 0.0)
        if fraction <= 0.0:
            return 0.0
        if not fraction < 1.0:
            raise DataError(f"validation_split must be in [0, 1), got {requested!r}")
        split_at = math.floor(n_samples * (1.0 - fraction))
        if split_at == 0 or split_at == n_samples:
            logger.debug("%d samples are too few for validation_split=%s: no hold-out", n_samples, fraction)
            return 0.0
        return fraction

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
        requested = kwargs.pop("validation_split", getattr(self, "fit__validation_split", self.validation_split))
        callbacks: list = []
        monitor = "val_loss" if kwargs.get("validation_data") is not None else "loss"
        if monitor == "loss":
            fraction = self._validation_fraction(len(X), requested)
            if fraction:
                # The last `fraction` of the samples, as Keras' validation_split takes
                # them, scored by _HoldOut (cheaper than Keras' per-epoch evaluate).
                split_at = math.floor(len(X) * (1.0 - fraction))
                weights = None if sample_weight is None else sample_weight[split_at:]
                callbacks.append(_HoldOut(X[split_at:], y[split_at:], weights))
                X, y = X[:split_at], y[:split_at]
                sample_weight = None if sample_weight is None else sample_weight[:split_at]
                monitor = "val_loss"
        kwargs["validation_split"] = 0.0
        if self.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=int(self.patience), restore_best_weights=True,
            ))
        if self.log_dir is not None:
            callbacks.append(_log_callback(self.log_dir))
        # Callbacks live for this fit only: they hold the model, data and file
        # writers, which must not end up in clones or pickles.
        user_callbacks = self._fit_callbacks
        self._fit_callbacks = [*callbacks[:1], *user_callbacks, *callbacks[1:]]
        model, trainer = self.model_, self._borrow_trainer(X, y, sample_weight)
        try:
            if trainer is not None:
                _copy_state(model, trainer.model)
                self.model_ = trainer.model
            self._train(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
            if trainer is not None:
                _copy_state(trainer.model, model)
        finally:
            self.model_ = model
            self._fit_callbacks = user_callbacks
            if trainer is not None:
                trainer.lock.release()

    def _train(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
        """Train ``model_``: m5kit's own epoch loop on arrays, Keras' ``fit`` for anything else.

        On TensorFlow (the other backends' train functions take other
        arguments: they use ``Model.fit``), ``Model.fit`` builds a
        ``tf.data`` pipeline for every fit and epoch:
        ~0.4 CPU-s per fit before the first step runs (measured on a level-11
        group), more than two epochs of a small group. The loop feeds
        NumPy batches straight to the model's traced train function and calls
        the same callbacks (history, early stopping, logging) the same way.
        """
        fit_args = route_params(self.get_params(), destination="fit", pass_filter=self._fit_kwargs)
        fit_args.update(kwargs)
        fit_args.pop("validation_split", None)  # taken off by _fit_keras_model
        extra = {k for k, v in fit_args.items() if v is not None and k not in _LOOP_ARGS}
        arrays = all(isinstance(a, np.ndarray) for a in (X, y)) and (sample_weight is None or isinstance(sample_weight, np.ndarray))
        if extra or not arrays or not len(X) or self.model_.loss is None or not _tensorflow():
            super()._fit_keras_model(
                X, y, sample_weight=sample_weight, warm_start=warm_start, epochs=epochs, initial_epoch=initial_epoch,
                **kwargs,
            )
            return
        batch_size = fit_args.get("batch_size") or 32
        batch_size = len(X) if batch_size == -1 else int(batch_size)
        seeded = self.model is not build_cnn_lstm and self._random_state is not None
        with tensorflow_random_state(self._random_state) if seeded else contextlib.nullcontext():
            history = _train_loop(
                self.model_, X, y, sample_weight, batch_size=batch_size, epochs=initial_epoch + epochs,
                initial_epoch=initial_epoch, shuffle=fit_args.get("shuffle", True), verbose=fit_args.get("verbose", 0),
                callbacks=self._fit_callbacks, rng=_shuffle_rng(self._random_state),
            )
        if not warm_start or not hasattr(self, "history_") or initial_epoch == 0:
            self.history_ = defaultdict(list)
        for key, val in history.history.items():
            if not (key == "loss" or key[:4] == "val_"):
                try:
                    key = metric_name(key)
                except ValueError:
                    pass
            self.history_[key] += val

    def _build_keras_model(self) -> keras.Model:
        """Build the model: :func:`build_cnn_lstm` gets the seed directly, without global seeds."""
        if self.model is not build_cnn_lstm:
            return super()._build_keras_model()
        params = self.get_params()
        build_params = route_params(params, destination="model", pass_filter=getattr(self, "_user_params", set()),
                                    strict=True)
        build_params["meta"] = self._get_metadata()
        build_params["compile_kwargs"] = self._get_compile_kwargs()
        build_params["params"] = params
        if build_params.get("seed") is None and self._random_state is not None:
            build_params["seed"] = int(self._random_state)
        return build_cnn_lstm(**build_params)

    # -- pickling: the Keras model travels as its .keras bytes and is loaded when first used --------

    def __getstate__(self):
        state = super().__getstate__()
        model = state.pop("model_", None)
        if model is not None:
            state[_PACKED] = _pack_model(model)
        return state

    def __getattr__(self, name):
        # Called only when normal lookup fails: load a model that came out of a pickle.
        if name == "model_":
            packed = self.__dict__.get(_PACKED)
            if packed is not None:
                model = _unpack_model(packed)
                self.__dict__["model_"] = model
                del self.__dict__[_PACKED]
                return model
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def packed_model(self) -> bytes | None:
        """The fitted model as the bytes of a ``.keras`` file, without loading it when it came from a pickle.

        A regressor that travels (from a Dask worker, out of a pickle) keeps
        its model as these bytes until the model is used: the client that
        collects hundreds of fitted regressors, and writes them to a model
        store, never builds their Keras models (~0.2 CPU-s each, measured).

        Returns
        -------
        bytes or None
            None when the regressor is not fitted.
        """
        packed = self.__dict__.get(_PACKED)
        if packed is not None:
            return bytes(packed)
        model = self.__dict__.get("model_")
        return None if model is None else bytes(_pack_model(model))

    def without_model(self) -> CNNLSTMRegressor:
        """A shallow copy without the Keras model (loaded or packed), to pickle beside the model's own file.

        Not ``copy.copy``: that pickles the estimator's state, which packs the model into the copy.
        """
        shell = object.__new__(type(self))
        shell.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("model_", _PACKED)})
        return shell

    def set_packed_model(self, packed: bytes) -> None:
        """Attach a model given as the bytes of a ``.keras`` file; it is loaded when first used."""
        self.__dict__.pop("model_", None)
        self.__dict__[_PACKED] = np.frombuffer(bytes(packed), dtype=np.uint8)

    @contextlib.contextmanager
    def batch_predictor(self):
        """A fast ``predict_on_batch`` for the fitted model, as a context manager.

        For the default builder it runs on the process' cached network of the
        same architecture (the one fits train on), with this model's weights
        copied in: a model that was just unpickled or freshly fitted then
        predicts without tracing its own predict function (~0.1-0.2 CPU-s per
        model). Other models use their own ``predict_on_batch``. Predictions
        are the same either way.

        Yields
        ------
        callable
            ``predict(x) -> array`` for one batch of windows.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(64, 14, 3)).astype("float32")
        >>> reg = CNNLSTMRegressor(epochs=1, model__conv_filters=4, model__lstm_units=4, random_state=0).fit(X, X[:, -1, 0])
        >>> with reg.batch_predictor() as predict:
        ...     predict(X[:2]).shape
        (2, 1)
        """
        if not getattr(self, "initialized_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        trainer = self._borrow_predictor()
        if trainer is None:
            yield self.model_.predict_on_batch
            return
        try:
            _copy_state(self.model_, trainer.model, optimizer=False)
            yield trainer.model.predict_on_batch
        finally:
            trainer.lock.release()

    def _borrow_predictor(self) -> _Trainer | None:
        """A cached network (locked) of ``model_``'s architecture to predict with, or None."""
        if not self.reuse_trainer or self.model is not build_cnn_lstm or self.run_eagerly:
            return None
        network = _network_key(self.model_)
        with _TRAINERS_LOCK:
            trainer = next((t for key, t in reversed(_TRAINERS.items()) if key.endswith(network)), None)
        if trainer is None:
            trainer = _keep_trainer("predict" + network, _Trainer(keras.models.clone_model(self.model_)))  # not compiled
        if len(trainer.model.variables) != len(self.model_.variables) or not trainer.lock.acquire(blocking=False):
            return None
        return trainer

    def _borrow_trainer(self, X, y, sample_weight) -> _Trainer | None:
        """This process' trainer for ``model_``'s network and these data (built on first use), locked, or None.

        The data's ranks and dtypes are part of the key: the traced step only
        fits arrays like those it was traced with.
        """
        if not self.reuse_trainer or self.model is not build_cnn_lstm or self.run_eagerly:
            return None
        if not all(isinstance(a, np.ndarray) for a in (X, y)):
            return None
        signature = (X.ndim, str(X.dtype), y.ndim, str(y.dtype), sample_weight is None)
        key = f"{signature}{_network_key(self.model_)}"
        with _TRAINERS_LOCK:
            trainer = _TRAINERS.get(key)
            if trainer is not None:
                _TRAINERS.move_to_end(key)
        if trainer is None:
            trainer = _Trainer(self._build_keras_model())
            if _network_key(trainer.model, names=False) != _network_key(self.model_, names=False):
                return None  # pragma: no cover - the builder is deterministic
            _keep_trainer(key, trainer)
        if not trainer.lock.acquire(blocking=False):
            return None  # another thread trains on it: train model_ itself
        return trainer


#: Attribute of an unpickled regressor holding its not yet loaded model (bytes of a .keras file).
_PACKED = "_packed_model"


def _pack_model(model: keras.Model) -> np.ndarray:
    """A Keras model as the bytes of a ``.keras`` file (as scikeras pickles models)."""
    from scikeras._saving_utils import pack_keras_model

    return pack_keras_model(model)[1][0]


def _unpack_model(packed) -> keras.Model:
    """Load a model packed by :func:`_pack_model`."""
    from scikeras._saving_utils import unpack_keras_model

    return unpack_keras_model(np.asarray(packed))


def _tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (m5kit's own training loop and seeding are for it)."""
    return keras.backend.backend() == "tensorflow"


#: ``Model.fit`` arguments m5kit's own loop handles (others go to ``Model.fit``).
_LOOP_ARGS = {"batch_size", "epochs", "initial_epoch", "verbose", "shuffle", "sample_weight", "callbacks"}


def _shuffle_rng(random_state) -> np.random.Generator:
    """The generator of the epochs' sample order: seeded by an int ``random_state``, else fresh."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng()


def _train_loop(model: keras.Model, X: np.ndarray, y: np.ndarray, sample_weight, *, batch_size: int, epochs: int,
                initial_epoch: int, shuffle, verbose, callbacks, rng: np.random.Generator) -> keras.callbacks.History:
    """``Model.fit`` on in-memory arrays without ``tf.data``: same callbacks, metrics and history.

    Each epoch visits the samples in a new random order (``shuffle``) in
    batches of ``batch_size``, through the model's own train function (traced
    once for full batches and once for a short last batch, then reused by
    every fit on the same model).
    """
    n = len(X)
    n_batches = math.ceil(n / batch_size)
    cbs = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                                       epochs=epochs, steps=n_batches, model=model)
    model.stop_training = False
    train = model.make_train_function() or model.train_function
    cbs.on_train_begin()
    training_logs, logs = None, {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        cbs.on_epoch_begin(epoch)
        order = rng.permutation(n) if shuffle else None
        for step in range(n_batches):
            rows = slice(step * batch_size, (step + 1) * batch_size)
            if order is not None:
                rows = np.sort(order[rows])
            batch = (X[rows], y[rows]) if sample_weight is None else (X[rows], y[rows], sample_weight[rows])
            cbs.on_train_batch_begin(step)
            logs = train(iter([batch]))
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(model._get_metrics_result_or_logs(logs))
        cbs.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    if isinstance(model.optimizer, keras.optimizers.Optimizer) and epochs > 0:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs=training_logs)
    return model.history


_warned_no_tensorboard = False
_GC_EVERY = 10
_CLEAR_EVERY = 1000
_builds_since_gc = 0
_builds_since_clear = 0


def _clear_keras_session() -> None:
    """Keep a process that builds many models lean (called before each build, never after a fit).

    Dropped models are freed by a full garbage collection, which costs ~0.2
    CPU-s in a process that imported TensorFlow: it runs every ``_GC_EVERY``
    builds (without it RSS grew ~1.3 MB per fit). Keras' session (layer-name
    counters) is cleared only every ``_CLEAR_EVERY`` builds: clearing it also
    resets TensorFlow's default graph, after which every traced function,
    the reused trainers' too, traces again (~0.3 CPU-s per shape; measured:
    the first and the last step of every fit were traced anew when the
    session was cleared before each build). Fitted models stay usable either
    way: they hold their own variables and traced functions.
    """
    global _builds_since_gc, _builds_since_clear
    _builds_since_gc += 1
    _builds_since_clear += 1
    if _builds_since_clear >= _CLEAR_EVERY:
        _builds_since_clear = _builds_since_gc = 0
        keras.backend.clear_session(free_memory=True)
    elif _builds_since_gc >= _GC_EVERY:
        _builds_since_gc = 0
        gc.collect()


def _log_callback(log_dir) -> keras.callbacks.Callback:
    """TensorBoard logging into ``log_dir``; a CSV of the epochs when TensorBoard is not installed."""
    global _warned_no_tensorboard
    path = os.fspath(log_dir)
    if importlib.util.find_spec("tensorboard") is not None:
        return keras.callbacks.TensorBoard(log_dir=path, write_graph=False, profile_batch=0)
    if not _warned_no_tensorboard:
        logger.warning("tensorboard is not installed: logging epochs to %s instead (pip install tensorboard)",
                       os.path.join(path, "history.csv"))
        _warned_no_tensorboard = True
    os.makedirs(path, exist_ok=True)
    return keras.callbacks.CSVLogger(os.path.join(path, "history.csv"))


# -- reuse of traced training steps -------------------------------------------------

_MAX_TRAINERS = 4
_TRAINERS: OrderedDict[str, _Trainer] = OrderedDict()
_TRAINERS_LOCK = threading.Lock()


class _Trainer:
    """A compiled network kept by the process to train others of the same architecture."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.lock = threading.Lock()


def _network_key(model: keras.Model, names: bool = True) -> str:
    """Architecture, shapes and compile settings of a model, as a string."""
    config = _without_seeds(model.get_config())
    if not names:
        config = {k: v for k, v in config.items() if k not in ("name", "layers", "input_layers", "output_layers")}
        config["layers"] = [layer.__class__.__name__ for layer in model.layers]
        config["shapes"] = [tuple(v.shape) for v in model.variables]
    compile_config = model.get_compile_config()
    if not names and compile_config.get("optimizer"):
        compile_config = {**compile_config, "optimizer": {**compile_config["optimizer"], "config": {
            k: v for k, v in compile_config["optimizer"]["config"].items() if k != "name"}}}
    return json.dumps([config, compile_config], sort_keys=True, default=str)


def _without_seeds(config):
    """A model config without initializer/dropout seeds (they change weights, not the network)."""
    if isinstance(config, dict):
        return {k: _without_seeds(v) for k, v in config.items() if k != "seed"}
    if isinstance(config, list):
        return [_without_seeds(v) for v in config]
    return config


def _keep_trainer(key: str, trainer: _Trainer) -> _Trainer:
    """Cache ``trainer`` under ``key``, dropping the least recently used beyond ``_MAX_TRAINERS``."""
    with _TRAINERS_LOCK:
        _TRAINERS[key] = trainer
        while len(_TRAINERS) > _MAX_TRAINERS:
            _TRAINERS.popitem(last=False)
    return trainer


def _copy_state(source: keras.Model, target: keras.Model, optimizer: bool = True) -> None:
    """Copy weights and seed states of ``source`` into ``target``, and its optimizer slots with ``optimizer``."""
    pairs = [(source.variables, target.variables)]
    if optimizer:
        pairs.append((source.optimizer.variables, target.optimizer.variables))
    for src_vars, dst_vars in pairs:
        if len(src_vars) != len(dst_vars):  # pragma: no cover - guarded by _network_key
            raise RuntimeError("cannot copy the state of a different network")
        for src, dst in zip(src_vars, dst_vars):
            dst.assign(src.value)


class _HoldOut(keras.callbacks.Callback):
    """Score the held-out samples after each epoch: ``val_loss`` and ``val_rmse`` in the logs.

    Uses ``predict_on_batch`` (whose traced function later serves the
    recursive forecast) instead of Keras' ``evaluate``, which traces a
    function of its own and costs ~50 ms per epoch on one CPU thread.
    """

    def __init__(self, X, y, sample_weight=None, chunk: int = 8192):
        super().__init__()
        self.X, self.y, self.sample_weight, self.chunk = X, np.asarray(y), sample_weight, chunk

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        model = self.model
        parts = [np.asarray(model.predict_on_batch(self.X[i: i + self.chunk])) for i in range(0, len(self.X), self.chunk)]
        pred = np.concatenate(parts).reshape(self.y.shape).astype(np.float64)
        loss_fn = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        losses = np.asarray(keras.ops.convert_to_numpy(loss_fn(self.y, pred)), dtype=np.float64)
        weights = self.sample_weight if losses.shape[:1] == self.y.shape[:1] else None
        logs["val_loss"] = float(np.average(losses.reshape(len(losses), -1).mean(axis=1), weights=weights)) if losses.ndim else float(losses)
        logs["val_rmse"] = float(np.sqrt(np.average(((pred - self.y) ** 2).reshape(len(pred), -1).mean(axis=1), weights=self.sample_weight)))
