"""Pruning of hopeless trials: how a running trial reports per-epoch scores and learns it is pruned.

The study lives in the client (:func:`m5kit.tuning.tune`) while a trial runs
as a Dask task on a worker, so the two talk through two small channels:

* up, worker -> client: each report ``(trial, fit, step, value)`` is logged
  as a Dask event (``Worker.log_event``) on the search's topic; the client
  subscribes to it, and its ask-and-tell loop calls Optuna's
  ``trial.report(value, step)`` and ``trial.should_prune()`` (the pruner
  compares the trial's curve with those of the finished trials);
* down, client -> worker: when the pruner says so, the client marks the trial
  as pruned in the worker that runs it (``Client.run`` of :func:`_mark`, a
  set in the worker's memory). The trial's next report (or next fit) sees
  the mark and raises :class:`TrialPruned`; the search tells the trial as
  PRUNED. Reading the mark costs nothing per epoch: no round trip to the
  scheduler.

In-process (no cluster) the same :class:`TrialReporter` calls the search
directly: the decision is taken at the report itself.

An objective takes part by accepting a ``trial`` keyword: it receives a
:class:`TrialReporter` (or None when pruning is off) and either reports by
itself (``trial.report(loss, epoch)``) or hands
``trial.keras_callback()`` to a Keras estimator's ``callbacks``. Each fit of
a trial gets its own id; only the *first* fit of a trial is reported to the
pruner (for a grouped forecaster: the first group, which every trial fits
first, so the curves compare like with like); later fits only check the mark.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from m5kit.errors import M5kitError, ParamError

__all__ = ["Pruning", "TrialPruned", "TrialReporter", "make_pruner"]

logger = logging.getLogger(__name__)

#: (search token, trial number) of the trials pruned, in this process (a worker's, or the client's in-process).
_PRUNED: set[tuple[str, int]] = set()
#: In-process searches: search token -> the search's receiver of reports.
_RECEIVERS: dict[str, Callable[..., None]] = {}


class TrialPruned(M5kitError, RuntimeError):
    """The search pruned this trial: its scores so far were worse than the finished trials' at the same step."""


def make_pruner(pruner: Any):
    """Optuna's pruner for ``tune(pruner=...)``.

    Parameters
    ----------
    pruner : {"median", "none"}, None or optuna.pruners.BasePruner
        ``"median"``: Optuna's MedianPruner that judges a trial from its
        third epoch on, once 5 trials finished; ``"none"`` or None: no
        pruning; or a pruner of your own.

    Returns
    -------
    optuna.pruners.BasePruner or None
        None when pruning is off.

    Examples
    --------
    >>> type(make_pruner("median")).__name__
    'MedianPruner'
    >>> make_pruner("none") is None
    True
    """
    import optuna

    if pruner is None or (isinstance(pruner, str) and pruner.strip().lower() == "none"):
        return None
    if isinstance(pruner, optuna.pruners.BasePruner):
        return None if isinstance(pruner, optuna.pruners.NopPruner) else pruner
    if isinstance(pruner, str) and pruner.strip().lower() == "median":
        # The first two epochs of a fit are mostly its initial weights: not judged.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    raise ParamError(f"unknown pruner {pruner!r}: give 'median', 'none' or an Optuna pruner")


@dataclass(frozen=True)
class TrialReporter:
    """A running trial's line to the search (picklable: sent with the trial's task).

    Parameters
    ----------
    token : str
        The search's id (its Dask event topic is ``m5kit-tune-<token>``).
    number : int
        The trial's number in the study.
    direction : {"minimize", "maximize"}
        The search's direction: reported values must be better the same way.
    local : bool
        In-process search (reports go straight to it) rather than a Dask one.

    Examples
    --------
    >>> def objective(data, params, trial=None):
    ...     loss = 10.0
    ...     for epoch in range(20):
    ...         loss *= params["decay"]
    ...         if trial is not None:
    ...             trial.report(loss, epoch)   # raises TrialPruned once the search prunes the trial
    ...     return loss
    """

    token: str
    number: int
    direction: str = "minimize"
    local: bool = True

    @property
    def pruned(self) -> bool:
        """Whether the search pruned this trial (as far as this process knows)."""
        return (self.token, self.number) in _PRUNED

    def check(self) -> None:
        """Raise :class:`TrialPruned` if the search pruned this trial."""
        if self.pruned:
            raise TrialPruned(f"trial {self.number} was pruned: its scores were worse than the finished trials'")

    def report(self, value: float, step: int, *, fit: str = "0") -> None:
        """Report the score after ``step`` (an epoch, from 0); raise :class:`TrialPruned` if the trial is pruned.

        ``value`` must be better the way the search goes (lower for
        ``"minimize"``); NaN counts as hopeless. ``fit`` tells the fits of one
        trial apart: only the first fit's reports reach the pruner.
        """
        message = {"number": int(self.number), "fit": str(fit), "step": int(step), "value": float(value)}
        if self.local:
            receiver = _RECEIVERS.get(self.token)
            if receiver is not None:
                receiver(**message)
        else:
            _publish(self.token, message)
        self.check()

    def keras_callback(self, monitor: str = "val_loss", *, higher_is_better: bool | None = None):
        """A Keras callback that reports ``monitor`` after each epoch and stops a pruned fit.

        Give it to an m5kit Keras estimator's ``callbacks`` (scikeras routes
        it to the fit). Without ``monitor`` in the epoch's logs, ``loss`` is
        reported. ``higher_is_better`` defaults to False for names ending in
        ``loss`` and True otherwise; the value is turned to suit the search's
        direction.

        Returns
        -------
        keras.callbacks.Callback
        """
        if higher_is_better is None:
            higher_is_better = not monitor.endswith("loss")
        return _keras_pruning_class()(self, monitor, higher_is_better)


def _publish(token: str, message: dict) -> None:
    """Log a report on the search's Dask topic (from inside the worker that runs the trial)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        logger.debug("trial %d reported outside a Dask worker: report dropped", message["number"])
        return
    worker.log_event(topic(token), {**message, "worker": worker.address})


def topic(token: str) -> str:
    """The Dask event topic of a search's reports."""
    return f"m5kit-tune-{token}"


def _mark(token: str, number: int) -> None:
    """Mark a trial pruned in this process (run on the trial's worker by ``Client.run``)."""
    _PRUNED.add((token, int(number)))


def _forget(token: str) -> None:
    """Drop a finished search's marks from this process."""
    for key in [k for k in _PRUNED if k[0] == token]:
        _PRUNED.discard(key)


class Pruning:
    """The client's side of pruning for one search: receives reports, asks the pruner, marks pruned trials.

    Parameters
    ----------
    client : distributed.Client, optional
        None for an in-process search.
    direction : str
        The search's direction (given to each :class:`TrialReporter`).
    """

    def __init__(self, client: Any = None, direction: str = "minimize"):
        self.token = uuid.uuid4().hex[:12]
        self.client, self.direction = client, direction
        self.live: dict[int, Any] = {}
        self.first_fit: dict[int, str] = {}
        self.steps: dict[int, set[int]] = {}
        self.pruned: set[int] = set()

    def reporter(self, trial) -> TrialReporter:
        """The reporter sent with ``trial``'s task (the trial is now live)."""
        self.live[trial.number] = trial
        return TrialReporter(self.token, trial.number, self.direction, local=self.client is None)

    def done(self, number: int) -> bool:
        """The trial's task finished: forget it; return whether it was pruned."""
        self.live.pop(number, None)
        self.first_fit.pop(number, None)
        self.steps.pop(number, None)
        return number in self.pruned

    def receive(self, number: int, fit: str, step: int, value: float, worker: str | None = None) -> None:
        """One report of a running trial: tell Optuna, and mark the trial when the pruner says so."""
        trial = self.live.get(number)
        if trial is None:  # a late report of a trial that already finished
            return
        if number in self.pruned:
            self._mark(number, worker)  # a fit on another worker (a retried task) learns it too
            return
        if self.first_fit.setdefault(number, fit) != fit:
            return
        steps = self.steps.setdefault(number, set())
        if step in steps:  # Optuna keeps a step's first value only
            return
        steps.add(step)
        trial.report(value if math.isfinite(value) else math.nan, step)
        if trial.should_prune():
            logger.info("trial %d pruned after step %d (value %.4g)", number, step, value)
            self.pruned.add(number)
            self._mark(number, worker)

    def _mark(self, number: int, worker: str | None) -> None:
        if self.client is None:
            _mark(self.token, number)
        elif worker is not None:
            try:
                self.client.run(_mark, self.token, number, workers=[worker])
            except Exception as exc:  # the worker left: the trial's result is told as PRUNED anyway
                logger.debug("could not mark trial %d pruned on %s: %s", number, worker, exc)

    def __enter__(self) -> Pruning:  # not typing.Self: Python 3.11's, and setup.cfg admits 3.10
        if self.client is None:
            _RECEIVERS[self.token] = self.receive
        return self

    def __exit__(self, *exc) -> None:
        _RECEIVERS.pop(self.token, None)
        _forget(self.token)
        if self.client is not None:
            try:
                self.client.run(_forget, self.token)
            except Exception as err:  # workers gone: their marks went with them
                logger.debug("could not clear the pruning marks on the workers: %s", err)


def __getattr__(name: str):
    # KerasPruning subclasses keras.callbacks.Callback: it is built on first use, so that
    # importing this module does not import Keras, and found by name when a pickle is loaded.
    if name == "KerasPruning":
        return _keras_pruning_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _keras_pruning_class():
    from m5kit.execution.quiet import import_backend

    base = import_backend().callbacks.Callback

    class KerasPruning(base):
        """Reports ``monitor`` after each epoch to the search; a pruned trial's fit raises :class:`TrialPruned`."""

        def __init__(self, reporter: TrialReporter, monitor: str = "val_loss", higher_is_better: bool = False):
            super().__init__()
            self.reporter, self.monitor, self.higher_is_better = reporter, monitor, higher_is_better
            self._fit = "0"

        def on_train_begin(self, logs=None):
            self._fit = uuid.uuid4().hex[:8]
            self.reporter.check()  # the later groups of a pruned trial stop before their first epoch

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            value = logs.get(self.monitor, logs.get("loss"))
            if value is None:
                return
            value = float(value)
            if self.higher_is_better != (self.reporter.direction == "maximize"):
                value = -value
            self.reporter.report(value, epoch, fit=self._fit)

        def __reduce__(self):
            return (_rebuild, (self.reporter, self.monitor, self.higher_is_better))

    KerasPruning.__module__ = __name__
    KerasPruning.__qualname__ = "KerasPruning"
    return KerasPruning


def _rebuild(reporter: TrialReporter, monitor: str, higher_is_better: bool):
    return _keras_pruning_class()(reporter, monitor, higher_is_better)
