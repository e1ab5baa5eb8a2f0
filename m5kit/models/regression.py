"""Regressors on m5kit's Keras engine: :class:`CNNLSTMRegressor`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from m5kit.models._keras import KerasEngineMixin, zero_output
from m5kit.models._keras.compat import KerasRegressor
from m5kit.models.networks.cnn_lstm import build_cnn_lstm

__all__ = ["SEED_PRESET", "CNNLSTMRegressor"]

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


class CNNLSTMRegressor(KerasEngineMixin, KerasRegressor):
    """scikit-learn regressor of the CNN-LSTM (a scikeras ``KerasRegressor`` on m5kit's Keras engine).

    Parameters are routed the scikeras way: ``model__lstm_units=(64, 32)`` goes
    to :func:`build_cnn_lstm`, ``fit__validation_split`` to ``Model.fit``.

    Parameters
    ----------
    model : callable, default=build_cnn_lstm
        The model builder (any builder works; one with a ``seed`` argument
        trains fastest, see :mod:`m5kit.models.networks`).
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
    warm_start : bool, default=False
        A fit of a fitted model goes on training its network (for ``epochs``
        more) instead of starting from fresh weights.
    reuse_trainer : bool, default=True
        Train on a per-process cached copy of the same network whose training
        step is already traced, then copy the weights into ``model_``: tracing
        costs ~1 CPU-s per new model, more than 8 epochs of a level-12 group.
        Results are the same either way to float rounding (weights within
        ~1e-6): once a process's cached step has seen several batch sizes,
        TensorFlow traces it for any batch size, whose kernels round
        differently from those of a step traced for one size. Builders with
        a ``seed`` argument are cached (see :mod:`m5kit.models.networks`).
    monitor : bool, default=True
        Check the training rules of :mod:`m5kit.monitor` at the end of every
        epoch (no progress, overfitting, NaN loss, exploding or vanishing
        weight updates); what fired is in ``monitor_``.
    precise_bn : bool, default=True
        After training, set every ``BatchNormalization`` layer's moving mean and
        variance to the exact statistics of its inputs over the training windows
        (one inference pass; see :mod:`m5kit.models._keras.precise_bn`). The
        moving averages of a short fit are those of its last few batches, and
        their noise shifts the level of every forecast.
    average_last : float, default=0.5
        Fraction of the epochs, counted from the end of the fit, whose
        end-of-epoch weights are averaged into the fitted weights (stochastic
        weight averaging, Izmailov et al. 2018, at Adam's constant rate); the
        batch normalizations' statistics are then set for the averaged weights
        (with ``precise_bn``). ``0`` keeps the last epoch's weights. Nothing is
        averaged over fewer than two epochs, nor when early stopping ended the
        fit (its restored weights stay). On the whole real store CA_1 it
        lowered WRMSSE in 9 of 11 runs (levels 3, 9 and 12, three 28-day
        windows, two seeds): one network per store and department, from 0.573
        to 0.558 on the mean of the three windows (benchmarks/RESULTS.md,
        "The CNN-LSTM's weights averaged").
    output_bias : bool, default=True
        Start the output layer's bias at the mean training target of each
        output (forecast day) instead of zero, so that a short fit starts at
        the level of its group. Measured on 60 series of the real store CA_1,
        one model per series (level 12): WRMSSE 0.724 with the bias at zero,
        0.653 started at the mean (store total, level 1: 0.752 and 0.607).
    init_weights : list of ndarray or None, default=None
        Start the network from these weights (``model_.get_weights()`` of a
        fitted model of the same architecture) instead of fresh ones: a
        fine-tune. The output bias is then left as it is. Weights of other
        shapes (a model trained with another horizon) are ignored with a log
        line. :class:`~m5kit.grouped.GroupedEstimator` ``pretrain_level`` sets
        them per group from a model pooled over the group's parent; see
        :meth:`init_params_from`.
    **kwargs
        Routed parameters (``model__*``, ``fit__*``, ``compile__*``, ``predict__*``, ...).

    Attributes
    ----------
    store_kind : str
        ``"keras"`` (class attribute): the model store saves ``packed_model()``
        as a ``.keras`` file beside a pickle of ``without_model()``.
    model_ : keras.Model
        The fitted model; ``model_.predict_on_batch`` is the fast path for
        small batches (``Windower.recursive_predict`` uses it).
    history_ : dict of list
        Loss and metrics per epoch (``loss``, ``rmse``, ``val_loss``, ...).
    monitor_ : list of dict
        The training rules that fired (``rule``, ``epoch``, ``detail``); empty with ``monitor=False``.
    n_outputs_ : int
        Outputs per sample (the horizon).

    See Also
    --------
    build_cnn_lstm : the network.
    m5kit.transformers.Windower : makes the windows it trains on.

    Notes
    -----
    A fit on targets that are all zero (a series that sold nothing in its
    training windows: priced, not sold yet) sets the output layer to zero
    after training, so the model forecasts 0, as a LightGBM or XGBoost
    group that sold nothing does (:func:`m5kit.models.gbm.for_zero_targets`);
    fine-tuned from its store's network it forecast the store's level. A
    ``partial_fit`` or ``warm_start`` fit trains on such a batch as on any.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 14, 3)).astype("float32")
    >>> y = X[:, -1, 0]
    >>> reg = CNNLSTMRegressor(epochs=2, model__conv_filters=4, model__lstm_units=4, random_state=0)
    >>> reg.fit(X, y).predict(X).shape
    (64,)
    """

    def __init__(self, model=build_cnn_lstm, *, epochs: int = 10, batch_size: int = 256, validation_split: float = 0.1,
                 patience: int | None = 3, log_dir=None, optimizer=None, loss=None, metrics=None, verbose: int = 0,
                 shuffle: bool = True, random_state: int | None = None, warm_start: bool = False,
                 reuse_trainer: bool = True, monitor: bool = True, precise_bn: bool = True, output_bias: bool = True,
                 average_last: float = 0.5, init_weights=None, **kwargs):
        super().__init__(model=model, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                         optimizer=optimizer, loss=loss, metrics=metrics, verbose=verbose, shuffle=shuffle,
                         random_state=random_state, warm_start=warm_start, **kwargs)
        self.patience = patience
        self.log_dir = log_dir
        self.reuse_trainer = reuse_trainer
        self.monitor = monitor
        self.precise_bn = precise_bn
        self.output_bias = output_bias
        self.average_last = average_last
        self.init_weights = init_weights

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
        super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        # nothing sold: the least-squares fit is 0 (see the class docstring); not a partial_fit or warm fit, whose
        # batch of zeros (a few days without a sale) is one step among others: it reset what the model had learnt
        if not warm_start and len(y) and not np.any(y):
            zero_output(self.model_)

    def init_params_from(self, fitted: CNNLSTMRegressor) -> dict[str, Any]:
        """Parameters that start a fit of this estimator from ``fitted``'s network (its weights).

        The protocol :class:`~m5kit.grouped.GroupedEstimator` uses with
        ``pretrain_level``: each group's clone gets these parameters from
        the model fitted on the group's parent.

        Parameters
        ----------
        fitted : CNNLSTMRegressor
            A fitted model of the same architecture.

        Returns
        -------
        dict
            ``{"init_weights": [...]}``.
        """
        if not getattr(fitted, "initialized_", False):
            raise NotFittedError(f"init_params_from needs a fitted {type(fitted).__name__}: fit it first")
        return {"init_weights": [w.copy() for w in fitted.model_.get_weights()]}
