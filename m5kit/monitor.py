"""Training rules checked while each group trains, like a cloud training debugger's.

:class:`TrainingMonitor` is a Keras callback that reads the epoch's logs and
the model's weights at the end of every epoch and records which rules fired,
and at which epoch:

``no_progress``
    the training loss did not improve on its best by ``min_delta`` for
    ``patience`` epochs;
``overfit``
    the validation loss rose for ``patience`` epochs in a row while the
    training loss fell;
``nan_loss``
    a loss (training or validation) is NaN or infinite;
``exploding_update`` / ``vanishing_update``
    the global norm of the epoch's weight update (all trainable weights, end
    of epoch minus start), relative to the global norm of the weights at the
    start of the epoch, is above ``explode`` or below ``vanish``. This is the cheap stand-in for a
    gradient norm: it needs no extra backward pass (one subtraction per
    weight per epoch) and reacts to the same failures (an update that blows
    the weights up, or training that stopped moving them).

:func:`check_forecast` adds ``constant_forecast`` after the fit: a series
whose forecast is flat although its history is not.

Each rule fires once per fit (its first epoch is kept). The findings are
plain dicts (``rule``, ``epoch``, ``detail``) so they travel back from Dask
workers and go into the fit report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MonitorRules", "TrainingMonitor", "check_forecast", "summarize", "RULES"]

RULES = ("no_progress", "overfit", "nan_loss", "exploding_update", "vanishing_update", "constant_forecast")


@dataclass(frozen=True)
class MonitorRules:
    """Thresholds of the rules.

    Parameters
    ----------
    patience : int, default=3
        Epochs without progress (or of rising validation loss) before the rule fires.
    min_delta : float, default=1e-4
        Relative improvement of the training loss that counts as progress.
    explode : float, default=1.0
        Update norm / weight norm above which an epoch's update is exploding.
    vanish : float, default=1e-7
        Update norm / weight norm below which it is vanishing.
    """

    patience: int = 3
    min_delta: float = 1e-4
    explode: float = 1.0
    vanish: float = 1e-7


def _keras_callback_base():
    from m5kit.execution.quiet import import_backend

    return import_backend().callbacks.Callback


class _Rules:
    """The rules' state for one fit, independent of Keras (tested on plain numbers)."""

    def __init__(self, rules: MonitorRules):
        self.rules = rules
        self.findings: list[dict] = []
        self._best = math.inf
        self._since_best = 0
        self._rising = 0
        self._last: tuple[float, float] | None = None

    def _fire(self, rule: str, epoch: int, detail: str) -> None:
        if all(f["rule"] != rule for f in self.findings):
            self.findings.append({"rule": rule, "epoch": int(epoch) + 1, "detail": detail})

    def epoch(self, epoch: int, loss: float | None, val_loss: float | None, update_ratio: float | None) -> None:
        r = self.rules
        for name, value in (("loss", loss), ("val_loss", val_loss)):
            if value is not None and not math.isfinite(value):
                self._fire("nan_loss", epoch, f"{name} is {value}")
        if loss is not None and math.isfinite(loss):
            # relative to the best's size: best * (1 - min_delta) took any loss below 0 staying flat for progress
            if self._best == math.inf or loss < self._best - r.min_delta * abs(self._best):
                self._best, self._since_best = loss, 0
            else:
                self._since_best += 1
                if self._since_best >= r.patience:
                    self._fire("no_progress", epoch, f"training loss not below {self._best:.4g} for {r.patience} epochs")
        if loss is not None and val_loss is not None and self._last is not None:
            last_loss, last_val = self._last
            self._rising = self._rising + 1 if (val_loss > last_val and loss < last_loss) else 0
            if self._rising >= r.patience:
                self._fire("overfit", epoch, f"validation loss rose {r.patience} epochs in a row while training loss fell")
        if loss is not None and val_loss is not None:
            self._last = (loss, val_loss)
        if update_ratio is not None:
            if not math.isfinite(update_ratio) or update_ratio > r.explode:
                self._fire("exploding_update", epoch, f"weight update {update_ratio:.3g} x the weights' norm")
            elif update_ratio < r.vanish:
                self._fire("vanishing_update", epoch, f"weight update {update_ratio:.3g} x the weights' norm")


def _global_norm(arrays) -> float:
    return math.sqrt(sum(float(np.square(a, dtype=np.float64).sum()) for a in arrays))


def TrainingMonitor(rules: MonitorRules | None = None):  # noqa: N802 - a factory standing for a Keras class
    """A Keras callback that checks the rules at the end of every epoch.

    Built by a function so that importing :mod:`m5kit.monitor` does not
    import Keras. After the fit, ``callback.findings`` lists what fired.

    Parameters
    ----------
    rules : MonitorRules, optional

    Returns
    -------
    keras.callbacks.Callback
    """
    base = _keras_callback_base()

    class _Monitor(base):
        def __init__(self):
            super().__init__()
            self.state = _Rules(rules or MonitorRules())
            self._start: list[np.ndarray] | None = None

        @property
        def findings(self) -> list[dict]:
            return self.state.findings

        def _weights(self) -> list[np.ndarray]:
            # the trainable ones: get_weights() counted batch normalization's moving statistics as an update, which
            # hid a training that moved no weight (vanishing_update never fired)
            return [np.asarray(w.numpy()) for w in self.model.trainable_weights]  # as get_weights() reads them

        def on_epoch_begin(self, epoch, logs=None):
            self._start = self._weights()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            ratio = None
            if self._start is not None:
                now = self._weights()
                moved = _global_norm(np.subtract(a, b, dtype=np.float64) for a, b in zip(now, self._start))
                # against the weights before the update: against those after it, an update that blows them up
                # reads ~1 (||w1 - w0|| / ||w1||), and one along their own direction stays below explode
                size = _global_norm(self._start)
                ratio = moved / size if size > 0 else (math.inf if moved > 0 else 0.0)
            self.state.epoch(epoch, _number(logs.get("loss")), _number(logs.get("val_loss")), ratio)

    return _Monitor()


def _number(value) -> float | None:
    return None if value is None else float(value)


def check_forecast(history: np.ndarray, forecast: np.ndarray, *, tolerance: float = 1e-6) -> dict | None:
    """``constant_forecast`` when a series' forecast is flat although its history varies.

    Parameters
    ----------
    history : array of shape (n_series, n_days)
        Recent sales (NaN allowed).
    forecast : array of shape (n_series, horizon)
    tolerance : float, default=1e-6
        A history varies when its standard deviation is above this; a
        forecast is flat when its standard deviation is at most this times
        its mean absolute value (at least 1).

    Returns
    -------
    dict or None
        The finding (``rule``, ``epoch`` None, ``detail``) or None.

    Examples
    --------
    >>> check_forecast(np.array([[0.0, 3.0, 1.0]]), np.array([[2.0, 2.0]]))["rule"]
    'constant_forecast'
    """
    history, forecast = np.atleast_2d(np.asarray(history, float)), np.atleast_2d(np.asarray(forecast, float))
    varies = np.nanstd(history, axis=1) > tolerance
    flat = np.nanstd(forecast, axis=1) <= tolerance * np.maximum(1.0, np.nanmean(np.abs(forecast), axis=1))
    hit = varies & flat
    if not hit.any():
        return None
    return {"rule": "constant_forecast", "epoch": None,
            "detail": f"{int(hit.sum())} of {len(hit)} series forecast a constant although their history varies"}


def summarize(findings_by_group: dict[str, list[dict]]) -> list[str]:
    """One line per rule that fired anywhere: how many groups, and from which epoch (the earliest).

    Parameters
    ----------
    findings_by_group : dict of str to list of dict
        Each group's findings (dicts with ``rule`` and ``epoch``; ``epoch``
        may be None), as the groups' fit results carry them.

    Returns
    -------
    list of str
        One line per rule of :data:`RULES` that fired, in that order; empty
        when none did.

    Examples
    --------
    >>> summarize({"a": [{"rule": "overfit", "epoch": 3, "detail": ""}], "b": []})
    ['1 of 2 group(s) overfit (from epoch 3)']
    >>> summarize({"a": [{"rule": "overfit", "epoch": 5, "detail": ""}, {"rule": "overfit", "epoch": 4, "detail": ""}]})
    ['1 of 1 group(s) overfit (from epoch 4)']
    """
    words = {"no_progress": "stopped making progress", "overfit": "overfit", "nan_loss": "had a NaN or infinite loss",
             "exploding_update": "had exploding weight updates", "vanishing_update": "had vanishing weight updates",
             "constant_forecast": "forecast a constant"}
    lines = []
    for rule in RULES:
        epochs = [f["epoch"] for fs in findings_by_group.values() for f in fs if f["rule"] == rule]
        if epochs:
            known = [e for e in epochs if e is not None]
            when = f" (from epoch {min(known)})" if known else ""
            # groups, not findings: a group of several fits (a blend's members, seeds) may fire a rule in each
            groups = sum(any(f["rule"] == rule for f in fs) for fs in findings_by_group.values())
            lines.append(f"{groups} of {len(findings_by_group)} group(s) {words[rule]}{when}")
    return lines
