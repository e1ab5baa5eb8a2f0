"""m5kit's own epoch loop on NumPy arrays, its hold-out scoring and its logging callback.

On TensorFlow, ``Model.fit`` builds a ``tf.data`` pipeline for every fit and
epoch: ~0.4 CPU-s per fit before the first step runs (measured on a level-11
group), more than two epochs of a small group. :func:`train_loop` feeds NumPy
batches straight to the model's traced train function and calls the same
callbacks (history, early stopping, logging) the same way.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os

import keras
import numpy as np

from m5kit._checks import fraction as _fraction
from m5kit.models._keras._private import metrics_result

__all__ = ["LOOP_ARGS", "HoldOut", "WeightAverage", "log_callback", "train_loop", "validation_fraction"]

logger = logging.getLogger(__name__)

#: ``Model.fit`` arguments m5kit's own loop handles (others go to ``Model.fit``).
LOOP_ARGS = {"batch_size", "epochs", "initial_epoch", "verbose", "shuffle", "sample_weight", "callbacks"}


def train_loop(model: keras.Model, X: np.ndarray, y: np.ndarray, sample_weight, *, batch_size: int, epochs: int,
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
        epoch_logs = metrics_result(model, logs)
        cbs.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    if isinstance(model.optimizer, keras.optimizers.Optimizer) and epochs > 0:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs=training_logs)
    return model.history


def validation_fraction(n_samples: int, requested) -> float:
    """The hold-out fraction usable on ``n_samples`` (0 when a set would be empty)."""
    fraction = _fraction(requested, "validation_split")
    if fraction == 0.0:
        return 0.0
    split_at = math.floor(n_samples * (1.0 - fraction))
    if split_at == 0 or split_at == n_samples:
        logger.debug("%d samples are too few for validation_split=%s: no hold-out", n_samples, fraction)
        return 0.0
    return fraction


class HoldOut(keras.callbacks.Callback):
    """Score the held-out samples after each epoch: ``val_loss`` (and ``val_rmse`` with ``rmse``) in the logs.

    Uses ``predict_on_batch`` (whose traced function later serves the
    recursive forecast) instead of Keras' ``evaluate``, which traces a
    function of its own and costs ~50 ms per epoch on one CPU thread.
    """

    def __init__(self, X, y, sample_weight=None, chunk: int = 8192, rmse: bool = True):
        super().__init__()
        self.X, self.y, self.sample_weight, self.chunk, self.rmse = X, np.asarray(y), sample_weight, chunk, rmse

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        model = self.model
        parts = [np.asarray(model.predict_on_batch(self.X[i: i + self.chunk])) for i in range(0, len(self.X), self.chunk)]
        pred = np.concatenate(parts).reshape(self.y.shape if self.rmse else (len(self.y), -1)).astype(np.float64)
        loss_fn = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        losses = np.asarray(keras.ops.convert_to_numpy(loss_fn(self.y, pred)), dtype=np.float64)
        weights = self.sample_weight if losses.shape[:1] == self.y.shape[:1] else None
        logs["val_loss"] = float(np.average(losses.reshape(len(losses), -1).mean(axis=1), weights=weights)) if losses.ndim else float(losses)
        if self.rmse:
            logs["val_rmse"] = float(np.sqrt(np.average(((pred - self.y) ** 2).reshape(len(pred), -1).mean(axis=1), weights=self.sample_weight)))


class WeightAverage(keras.callbacks.Callback):
    """Sum the model's weights at the end of the last epochs of a fit, for their mean (weight averaging).

    Stochastic weight averaging (Izmailov et al., 2018) without its learning-rate
    schedule: the mean of the weights the optimizer passed through near the end
    of training, where each epoch's weights carry the noise of its last batches.

    Parameters
    ----------
    first_epoch : int
        The first epoch (0-based, counted as the fit counts them) whose
        weights enter the mean.
    """

    def __init__(self, first_epoch: int):
        super().__init__()
        self.first_epoch = int(first_epoch)
        self.count, self.sums = 0, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.first_epoch:
            return
        weights = [np.asarray(w, dtype=np.float64) for w in self.model.get_weights()]
        self.sums = weights if self.sums is None else [a + b for a, b in zip(self.sums, weights)]
        self.count += 1

    def apply(self, model: keras.Model) -> bool:
        """Set ``model``'s weights to the mean; False (nothing changed) over fewer than two epochs or when the fit
        was stopped (early stopping: its restored weights stay)."""
        if self.count < 2 or model.stop_training:
            return False
        model.set_weights([(total / self.count).astype(w.dtype) for total, w in zip(self.sums, model.get_weights())])
        return True


_warned_no_tensorboard = False


def log_callback(log_dir) -> keras.callbacks.Callback:
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
