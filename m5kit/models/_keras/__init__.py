"""m5kit's Keras engine: fast, seeded, picklable training for any scikeras-style wrapper.

:class:`KerasEngineMixin` stands left of a scikeras wrapper
(:class:`~m5kit.models._keras.compat.KerasRegressor` or ``KerasClassifier``)
and gives every builder:

- its own epoch loop on NumPy batches (:mod:`.loop`), with a hold-out taken
  from the end of the samples and early stopping;
- for a builder that takes a ``seed`` argument (and names its layers), no
  global seeds and a per-process cache of traced networks (:mod:`.cache`):
  a second fit of the same network traces nothing (estimators that hold
  plain networks, as the time-series classifiers' ensembles, train them
  through :func:`.cache.training_copy` and :func:`.loop.train_loop`);
- pickles that carry the model as ``.keras`` bytes, loaded lazily
  (:mod:`.packing`), and ``batch_predictor`` for fast small predictions.

Builders without a ``seed`` argument train through the same loop under
global seeds (slower: setting TensorFlow's seed makes it trace again).
"""

from __future__ import annotations

from m5kit.execution.quiet import import_backend

import_backend()  # first (this package's modules import Keras): without the backend's start-up lines

import contextlib
import logging
import math
from collections import defaultdict

import keras
import numpy as np
from scikeras.utils import metric_name
from scipy import sparse
from sklearn.exceptions import NotFittedError

from m5kit._checks import choice, number, optional_whole, whole
from m5kit.errors import DataError, ParamError
from m5kit.models._keras import _private
from m5kit.models._keras.cache import borrow_predictor, clear_keras_session, copy_state, training_copy
from m5kit.models._keras.loop import LOOP_ARGS, HoldOut, WeightAverage, log_callback, train_loop, validation_fraction
from m5kit.models._keras.packing import PACKED, PackedModelMixin
from m5kit.models._keras.precise_bn import recalibrate_batch_norm
from m5kit.models._keras.seeding import accepts_seed, global_seeds, parameters, shuffle_rng

__all__ = ["KerasEngineMixin"]

logger = logging.getLogger(__name__)


def _tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (the engine's own loop and seeding are for it)."""
    return keras.backend.backend() == "tensorflow"


def _takes(builder, name: str) -> bool:
    """Whether ``builder`` accepts the keyword ``name`` (by name or through ``**kwargs``)."""
    names, var_keyword = parameters(builder)
    return name in names or var_keyword


def start_output_bias(model: keras.Model, y, sample_weight=None) -> bool:
    """Set the bias of ``model``'s output layer to the (weighted) mean training target of each output.

    A network starts from a bias at zero, far from the level of its targets; a
    short fit (a few dozen steps for a small group, ended early by its
    hold-out) does not always get there, and its forecasts stay biased
    towards zero. Started at the mean, the output is at the right level from
    the first step ("init well": the mean is what the loss would move it to
    first). Only a last ``Dense`` layer with a bias and one unit per target
    column is set; returns whether it was.
    """
    layer = model.layers[-1] if model.layers else None
    if not isinstance(layer, keras.layers.Dense) or layer.bias is None:
        return False
    target = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if not len(target) or target.shape[1] != layer.bias.shape[0] or not np.isfinite(target).all():
        return False
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weights is not None and not weights.sum() > 0:
        return False
    layer.bias.assign(np.average(target, axis=0, weights=weights).astype(layer.bias.dtype))
    return True


def zero_output(model: keras.Model) -> bool:
    """Set the kernel and bias of ``model``'s last ``Dense`` layer to zero, so that it predicts 0 for any input.

    The least-squares fit of targets that are all zero (a series that sold nothing in its training windows):
    a network fine-tuned from a parent's weights keeps forecasting the parent's level after a few steps on them.
    Returns whether the layer was set (a builder whose last layer is no ``Dense`` is left as it is).
    """
    layer = model.layers[-1] if model.layers else None
    if not isinstance(layer, keras.layers.Dense) or getattr(layer, "activation", None) not in (None, keras.activations.linear):
        return False
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    return True


def start_from_weights(model: keras.Model, weights, owner: str = "the estimator") -> bool:
    """Set ``model``'s weights to ``weights`` (as ``Model.get_weights`` gives them) when their shapes match.

    Returns whether they were set. ``None`` sets nothing; weights of another
    shape (a group trained with another horizon than the model they come
    from) are left out with a log line, and the model keeps its fresh start.
    """
    if weights is None:
        return False
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise ParamError(f"{owner} init_weights must be a list of arrays (Model.get_weights()), got {type(weights).__name__}")
    weights = [np.asarray(w) for w in weights]
    shapes = [tuple(w.shape) for w in model.get_weights()]
    if [tuple(w.shape) for w in weights] != shapes:
        logger.info("%s: init_weights do not fit this network (%d arrays against %d, or other shapes); "
                    "it starts from fresh weights", owner, len(weights), len(shapes))
        return False
    model.set_weights(weights)
    return True


def _average_last(value) -> float:
    """The checked ``average_last``: a fraction from 0 to 1 (None: 0)."""
    if value is None:
        return 0.0
    out = number(value, "average_last", low=0.0, low_open=False, hint="a fraction of the epochs from 0 to 1")
    if out > 1.0:
        raise ParamError(f"invalid average_last {value!r}: give a fraction of the epochs from 0 to 1")
    return out


#: The on/off parameters of the Keras estimators (those an estimator has are checked to be True or False).
_SWITCHES = ("shuffle", "warm_start", "reuse_trainer", "monitor", "precise_bn", "output_bias", "run_eagerly")


class KerasEngineMixin(PackedModelMixin):
    """The engine of m5kit's Keras estimators; put it left of a scikeras wrapper.

    The estimator's ``__init__`` must also store ``patience``, ``log_dir``
    and ``reuse_trainer``, and may store ``monitor``, ``precise_bn`` and ``average_last`` (see
    :class:`~m5kit.models.CNNLSTMRegressor` for their meaning).

    Attributes
    ----------
    store_kind : str
        ``"keras"``: the model store saves the model as a ``.keras`` file
        (:meth:`packed_model`) beside a pickle of :meth:`without_model`.
    """

    #: Whether the hold-out also reports ``val_rmse`` (regressors).
    _holdout_rmse = True

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build a fresh model (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array of shape (n_samples, ...)
        y : array of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array of shape (n_samples,), optional
        **kwargs
            Passed to ``keras.Model.fit`` (prefer ``fit__`` parameters).

        Returns
        -------
        self
        """
        if sparse.issparse(X):
            raise DataError(f"{type(self).__name__} needs dense arrays, got a sparse matrix: pass X.toarray()")
        if not self.warm_start:
            self.__dict__.pop(PACKED, None)
        self._check_params()
        if not (self.warm_start and self.initialized_):
            clear_keras_session()
        # A builder with a `seed` argument seeds its initializers and dropout,
        # and the loop its sample order, from random_state: global seeds are
        # only set for other builders (setting TensorFlow's makes it trace
        # every traced function again, ~0.3 CPU-s each, on every fit).
        with contextlib.nullcontext() if self._seeds_itself() else global_seeds(self.random_state):
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def _check_params(self) -> None:
        """Check the training parameters of :meth:`fit` (the builder's own are checked when it builds the network)."""
        whole(self.epochs, "epochs")
        for name in _SWITCHES:  # the text 'False' (as --param gives it, false being JSON's) was read as true
            if name in self.__dict__:
                choice(getattr(self, name), name, (False, True))
        if self.batch_size is not None and self.batch_size != -1:  # None: Keras' 32; -1: all samples in one batch
            whole(self.batch_size, "batch_size")
        optional_whole(self.patience, "patience", minimum=0)
        _average_last(getattr(self, "average_last", None))
        self._check_network_params()

    def _check_network_params(self) -> None:
        """Refuse a ``model__*`` parameter the builder does not take (Python's TypeError came from deep in the fit)."""
        names, var_keyword = parameters(self.model)
        if var_keyword or not names:  # takes anything, or a signature Python cannot read
            return
        unknown = sorted(key for key in self.get_params(deep=False)
                         if key.startswith("model__") and key[len("model__"):] not in names)
        if unknown:
            takes = ", ".join(sorted(names - {"meta", "compile_kwargs", "params"}))
            raise ParamError(f"unknown network parameter {unknown[0]}: "
                             f"{getattr(self.model, '__name__', 'the builder')} takes {takes}")

    def _seeds_itself(self) -> bool:
        """Whether the builder takes the seed directly (no global seeds needed) on this backend."""
        return accepts_seed(self.model) and _tensorflow()

    def _cached(self) -> bool:
        """Whether fits and ``batch_predictor`` use the process' cached networks."""
        return bool(self.reuse_trainer) and not self.run_eagerly and self._seeds_itself()

    def _build_keras_model(self) -> keras.Model:
        """Build the model, started from ``init_weights`` when the estimator has them and they fit it."""
        model = self._build_fresh_model()
        self._from_init = start_from_weights(model, getattr(self, "init_weights", None), type(self).__name__)
        self._untrained = True  # a warm_start fit of this model starts it as a plain fit does (read by _fit_keras_model)
        return model

    def _build_fresh_model(self) -> keras.Model:
        """Build the model: a builder with ``seed`` gets it directly (the int ``random_state``), without global seeds."""
        if not self._seeds_itself():
            return _private.scikeras_build(self)
        params = self.get_params()
        build_params = _private.route(params, "model", pass_filter=_private.user_params(self), strict=True)
        if _takes(self.model, "meta"):
            build_params["meta"] = _private.metadata(self)
        if _takes(self.model, "compile_kwargs"):
            build_params["compile_kwargs"] = _private.compile_kwargs(self)
        if _takes(self.model, "params"):
            build_params["params"] = params
        seed = _private.random_state(self)
        if build_params.get("seed") is None and seed is not None:
            build_params["seed"] = int(seed)
        return self.model(**build_params)

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
        requested = kwargs.pop("validation_split", getattr(self, "fit__validation_split", self.validation_split))
        callbacks: list = []
        monitor = "val_loss" if kwargs.get("validation_data") is not None else "loss"
        if monitor == "loss":
            fraction = validation_fraction(len(X), requested)
            if fraction:
                # The last `fraction` of the samples, as Keras' validation_split takes
                # them, scored by HoldOut (cheaper than Keras' per-epoch evaluate).
                split_at = math.floor(len(X) * (1.0 - fraction))
                weights = None if sample_weight is None else sample_weight[split_at:]
                callbacks.append(HoldOut(X[split_at:], y[split_at:], weights, rmse=self._holdout_rmse))
                X, y = X[:split_at], y[:split_at]
                sample_weight = None if sample_weight is None else sample_weight[:split_at]
                monitor = "val_loss"
        kwargs["validation_split"] = 0.0
        # scikeras passes warm_start=True also to the first fit of a warm_start (or partial_fit) estimator, whose
        # model was just built: only a model trained before keeps its bias
        untrained = self.__dict__.pop("_untrained", False)
        if getattr(self, "output_bias", False) and (untrained or not warm_start) and not getattr(self, "_from_init", False):
            start_output_bias(self.model_, y, sample_weight)
        watch = None
        if getattr(self, "monitor", False):
            from m5kit.monitor import TrainingMonitor

            watch = TrainingMonitor()
            callbacks.insert(1 if monitor == "val_loss" else 0, watch)  # after the hold-out: it reads val_loss
        if self.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=int(self.patience), restore_best_weights=True,
            ))
        if self.log_dir is not None:
            callbacks.append(log_callback(self.log_dir))
        average = None
        n_average = round(_average_last(getattr(self, "average_last", None)) * epochs)
        if n_average >= 2:
            average = WeightAverage(initial_epoch + epochs - n_average)
            callbacks.append(average)
        # Callbacks live for this fit only: they hold the model, data and file
        # writers, which must not end up in clones or pickles.
        user_callbacks = _private.fit_callbacks(self)
        _private.set_fit_callbacks(self, [*callbacks[:1], *user_callbacks, *callbacks[1:]])
        model = self.model_
        copy = training_copy(model, self._build_keras_model, X, y, sample_weight) if self._cached() else None
        try:
            with copy or contextlib.nullcontext(model) as network:
                self.model_ = network
                self._train(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
                if average is not None:
                    average.apply(network)  # before the batch normalizations' statistics: they follow the weights
                if getattr(self, "precise_bn", False):
                    # a cached trainer keeps its statistics probe: traced once per process
                    recalibrate_batch_norm(network, X, holder=network if network is not model else None)
            self.monitor_ = [] if watch is None else list(watch.findings)
        finally:
            self.model_ = model
            self.__dict__.pop("_untrained", None)  # set again by the build of a cached trainer
            _private.set_fit_callbacks(self, user_callbacks)

    def _train(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
        """Train ``model_``: the engine's own epoch loop on arrays, Keras' ``fit`` for anything else.

        Other backends' train functions take other arguments: they use ``Model.fit``.
        """
        fit_args = _private.route(self.get_params(), "fit", pass_filter=_private.fit_kwargs(self))
        fit_args.update(kwargs)
        fit_args.pop("validation_split", None)  # taken off by _fit_keras_model
        extra = {k for k, v in fit_args.items() if v is not None and k not in LOOP_ARGS}
        arrays = all(isinstance(a, np.ndarray) for a in (X, y)) and (sample_weight is None or isinstance(sample_weight, np.ndarray))
        if extra or not arrays or not len(X) or self.model_.loss is None or not _tensorflow():
            _private.scikeras_fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
            return
        batch_size = fit_args.get("batch_size") or 32
        batch_size = len(X) if batch_size == -1 else int(batch_size)
        seed = _private.random_state(self)
        seeded = not self._seeds_itself() and seed is not None
        with _private.tensorflow_random_state(seed) if seeded else contextlib.nullcontext():
            history = train_loop(
                self.model_, X, y, sample_weight, batch_size=batch_size, epochs=initial_epoch + epochs,
                initial_epoch=initial_epoch, shuffle=fit_args.get("shuffle", True), verbose=fit_args.get("verbose", 0),
                callbacks=_private.fit_callbacks(self), rng=shuffle_rng(seed),
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

    @contextlib.contextmanager
    def batch_predictor(self):
        """A fast ``predict_on_batch`` for the fitted model, as a context manager.

        For a builder with a ``seed`` argument it runs on the process' cached
        network of the same architecture (the one fits train on), with this
        model's weights copied in: a model that was just unpickled or freshly
        fitted then predicts without tracing its own predict function
        (~0.1-0.2 CPU-s per model). Other models use their own
        ``predict_on_batch``. Predictions are the same either way.

        Yields
        ------
        callable
            ``predict(x) -> array`` of the model's raw outputs for one batch.

        Examples
        --------
        >>> import numpy as np
        >>> from m5kit.models import CNNLSTMRegressor
        >>> X = np.random.default_rng(0).normal(size=(64, 14, 3)).astype("float32")
        >>> reg = CNNLSTMRegressor(epochs=1, model__conv_filters=4, model__lstm_units=4, random_state=0).fit(X, X[:, -1, 0])
        >>> with reg.batch_predictor() as predict:
        ...     predict(X[:2]).shape
        (2, 1)
        """
        if not getattr(self, "initialized_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        trainer = borrow_predictor(self.model_) if self._cached() else None
        if trainer is None:
            yield self.model_.predict_on_batch
            return
        try:
            copy_state(self.model_, trainer.model, optimizer=False)
            yield trainer.model.predict_on_batch
        finally:
            trainer.lock.release()
