"""Objectives of :func:`m5kit.tuning.tune`, and the default search space of each family.

Each objective is a module-level function ``objective(data, params)`` (sent to
Dask workers) whose ``data`` says what to fit and score:

* :func:`forecast_backtest`: a forecaster's WRMSSE on a backtest. The last
  ``horizon`` days of the *training* history are held back, the pipeline is
  fitted on the days before them and scored on them with M5's WRMSSE. The
  holdout (``data.future``) is never looked at: tuning on it would leak.
* :func:`cross_validation`: any scikit-learn estimator and scorer, by
  cross-validation (classifiers: accuracy; the higher the better).
* :func:`holdout_score`: any estimator fitted on training data and scored on
  a validation set (``m5kit classify tune --valid``); m5kit's classifiers
  get the validation set in ``fit`` too, scored after every epoch.

All take the search's ``trial`` reporter (:mod:`m5kit.tuning_pruning`): a
Keras estimator (the CNN-LSTM, or any estimator with a ``callbacks``
parameter) then reports its validation loss after each epoch, and a trial
the search prunes stops training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from m5kit._schema import HORIZON, day_columns
from m5kit.errors import DataError, ParamError
from m5kit.tuning import Choice, Float, Int

__all__ = ["ForecastData", "CVData", "HoldoutData", "forecast_backtest", "cross_validation", "holdout_score", "SPACES",
           "ALIASES", "resolve"]

#: Default search spaces by model family (``m5kit tune --help`` prints them).
SPACES: dict[str, dict[str, Any]] = {
    "cnn-lstm": {
        "window": Int(14, 84, log=True),
        "lstm_units": Choice(16, 32, 64),
        "learning_rate": Float(1e-3, 2e-2, log=True),
        "epochs": Int(3, 20),
    },
    "lightgbm": {
        "num_leaves": Int(15, 255, log=True),
        "learning_rate": Float(0.01, 0.3, log=True),
        "min_child_samples": Int(5, 200, log=True),
        "n_estimators": Int(100, 1000, log=True),
    },
    "xgboost": {
        "max_depth": Int(3, 10),
        "learning_rate": Float(0.01, 0.3, log=True),
        "min_child_weight": Float(1, 1000, log=True),
        "n_estimators": Int(100, 1000, log=True),
    },
    # The classifiers: the architecture's size and the learning rate (epochs and ensemble size stay fixed).
    "inception-time": {
        "filters": Choice(16, 32, 64),
        "depth": Int(3, 9),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Choice(16, 32, 64),
    },
    "lstm-fcn": {
        "hidden_size": Choice(8, 16, 32, 64, 128),
        "dropout": Float(0.0, 0.8),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Choice(16, 32, 64, 128),
    },
}

#: Short names of the default spaces -> the pipeline's own parameter names.
ALIASES: dict[str, dict[str, str]] = {
    "cnn-lstm": {
        "window": "groupedestimator__windower__window",
        "lstm_units": "groupedestimator__estimator__model__lstm_units",
        "learning_rate": "groupedestimator__estimator__model__learning_rate",
        "epochs": "groupedestimator__estimator__epochs",
    },
    "lightgbm": {name: f"groupedestimator__estimator__{name}" for name in SPACES["lightgbm"]},
    "xgboost": {name: f"groupedestimator__estimator__{name}" for name in SPACES["xgboost"]},
}


def resolve(model: str, params: dict[str, Any]) -> dict[str, Any]:
    """Pipeline parameter names for ``params`` given by short name (or already in full).

    Parameters
    ----------
    model : str
        The model family whose short names (:data:`ALIASES`) apply; a family
        without aliases keeps every name.
    params : dict
        Parameter values by short name (``"window"``) or full pipeline name;
        unknown names are kept as they are.

    Returns
    -------
    dict
        The same values by full pipeline name.

    Raises
    ------
    ParamError
        ``params`` is not a dict by name (a list, a text, a number as a name).

    Examples
    --------
    >>> resolve("cnn-lstm", {"window": 28})
    {'groupedestimator__windower__window': 28}
    """
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        # dict([1]) was a bare TypeError, a text a bare ValueError, .items() of a list an AttributeError
        raise ParamError(f"invalid params {params!r}: give a dict of parameter values by name, "
                         "e.g. {'learning_rate': 0.05}")
    aliases = ALIASES.get(model, {})
    return {aliases.get(name, name): value for name, value in params.items()}


@dataclass
class ForecastData:
    """What :func:`forecast_backtest` fits and scores (sent to the cluster once).

    Parameters
    ----------
    m5 : M5Data
        The data (``sales`` is the training history; ``future`` is never used).
    level : int
        The M5 level whose groups each get one model.
    model : str
        ``"cnn-lstm"``, ``"lightgbm"`` or ``"xgboost"``.
    fixed : dict
        Further :func:`m5kit.make_pipeline` arguments for every trial.
    horizon : int
        Days held back at the end of the history and forecast.
    leave_out : tuple of str
        Ids of series the backtest leaves out (:meth:`check_groups` sets them).
    """

    m5: Any
    level: int
    model: str = "cnn-lstm"
    fixed: dict = field(default_factory=dict)
    horizon: int = HORIZON
    leave_out: tuple = ()

    def pipeline(self, **params):
        """The trial's pipeline: ``make_pipeline`` with the fixed arguments, then ``params`` set."""
        from m5kit.pipeline import make_pipeline

        kwargs = dict(self.fixed)
        if self.model != "cnn-lstm":
            kwargs["model"] = self.model
        pipe = make_pipeline(self.level, self.m5.calendar, self.m5.prices, horizon=self.horizon, **kwargs)
        return pipe.set_params(**resolve(self.model, params))

    def check_history(self) -> None:
        """Refuse a history too short for the backtest of :func:`forecast_backtest` (before any trial runs).

        Raises
        ------
        DataError
            The history has no more than ``2 * horizon`` days.
        """
        days = day_columns(self.m5.sales.columns)
        if len(days) <= 2 * self.horizon:
            raise DataError(f"{len(days)} days of history are too few for a backtest of {self.horizon} days (it "
                            f"fits on the days before the last {self.horizon}, needing more than {self.horizon} of "
                            "them): give a longer history")

    def check_groups(self, space: dict[str, Any]) -> dict[str, str]:
        """Leave out of the backtest the groups that cannot train on its history, before any trial runs.

        A group too short to train on the history less its last ``horizon`` days (an item launched in the
        last weeks) gets no forecast, and the WRMSSE needs every series: every trial would fail. Its series
        are put in :attr:`leave_out`, so that every trial fits and scores the same other series. The groups
        are checked with the largest ``window`` of ``space`` (the trial that needs the most days).

        Returns
        -------
        dict
            The groups left out, each with why.

        Raises
        ------
        DataError
            No group of ``level`` can train on the backtest's history.
        """
        from types import SimpleNamespace

        from m5kit.errors import M5kitError
        from m5kit.hierarchy import group_names
        from m5kit.runs import _RECENT_DAYS, _days_needed, _short_groups

        params = {}
        for name, dim in space.items():
            if resolve(self.model, {name: None}) == {"groupedestimator__windower__window": None}:
                params[name] = max(dim.options) if isinstance(dim, Choice) else dim.high
        try:
            pipe = self.pipeline(**params)
            grouped = pipe[-1]
            recent = max(_RECENT_DAYS, 2 * (_days_needed(grouped.windower) + self.horizon))

            def check(sales, last_days: bool = False):
                if last_days:
                    sales = sales.drop(columns=day_columns(sales.columns)[:-recent])
                parts = grouped._split(pipe[:-1].fit_transform(sales))
                return len(parts), grouped._group_problems(parts, grouped._fit_setup(parts))

            history = self.m5.sales.drop(columns=day_columns(self.m5.sales.columns)[-self.horizon:])
            n_groups, short = _short_groups(SimpleNamespace(level=self.level), None, history, check)
        except M5kitError:
            return {}  # the settings' own problems: the trials name them
        if short and len(short) == n_groups:
            first = next(iter(short.values()))
            for advice in (": lower the window or leave the group out", "; leave the group out"):
                first = first.removesuffix(advice)
            raise DataError(f"none of the {n_groups} group(s) of level {self.level} can train on the backtest's "
                            f"history (the last {self.horizon} days held out): {first}: tune at another --level, or "
                            "on sales with longer histories")
        sales = self.m5.sales
        self.leave_out = tuple(sales["id"][group_names(sales, self.level).isin(list(short)).to_numpy()].astype(str))
        return short

    def check_space(self, space: dict[str, Any]) -> None:
        """Refuse a search range with values the model refuses, before any trial runs.

        Each dimension's bounds (and a value inside a :class:`Float` range; each
        option of a :class:`Choice`) are checked on the pipeline as a trial's
        fit would check them (:func:`m5kit.pipeline.check_pipeline`, on the
        first series), so that a bad range is one line, not every trial failing
        on the cluster.

        Parameters
        ----------
        space : dict
            Parameter name -> :class:`Int`, :class:`Float` or :class:`Choice`
            (names already checked by :func:`m5kit.tuning.check_space`).

        Raises
        ------
        ParamError
            A value of the range the model refuses, named with the library's
            reason.
        """
        from m5kit.errors import ParamError
        from m5kit.pipeline import check_pipeline
        from m5kit.runs import _said

        sample = self.m5.sales.iloc[:1]
        for name, dim in space.items():
            values, spec, fix = probe_values(dim)
            for value in values:
                try:
                    check_pipeline(self.pipeline(**{name: value}), sample)
                except Exception as exc:  # m5kit's checks and the libraries' own errors alike
                    shown = f"{value:g}" if isinstance(value, float) else value
                    raise ParamError(f"--param {name}={spec}: the {self.model} model refuses {name}={shown} "
                                     f"({_said(exc)}): {fix}") from None


def probe_values(dim) -> tuple[list, str, str]:
    """The values of a search dimension to check before any trial (each option of a :class:`Choice`; a range's bounds
    and, of a :class:`Float`, a value inside), the dimension as ``--param`` spells it, and what to give instead."""
    if isinstance(dim, Choice):
        return list(dict.fromkeys(dim.options)), ",".join(map(str, dim.options)), "give values it accepts"
    values = [dim.low, dim.high] + ([dim.low + (dim.high - dim.low) / 3] if isinstance(dim, Float) else [])
    return list(dict.fromkeys(values)), f"{dim.low:g}:{dim.high:g}" + (":log" if dim.log else ""), \
        "give a range it accepts"


def forecast_backtest(data: ForecastData, params: dict, trial: Any = None) -> float:
    """WRMSSE of a backtest: fit on the history less its last ``horizon`` days, score those days.

    The series of ``data.leave_out`` are left out of the fit and the score.

    With ``trial`` (a :class:`~m5kit.tuning_pruning.TrialReporter`), a
    CNN-LSTM reports each epoch's validation loss of its first group (its
    training loss when, as by default, it holds no samples out) and
    stops when the search prunes the trial (gradient-boosted models: no
    per-epoch scores, no pruning).

    Parameters
    ----------
    data : ForecastData
        The data, level, model and fixed pipeline arguments.
    params : dict
        The trial's parameters, by short name or full pipeline name (:func:`resolve`).
    trial : TrialReporter, optional
        The search's reporter (see above).

    Returns
    -------
    float
        The WRMSSE over all 12 levels (lower is better).

    Raises
    ------
    DataError
        The history has no more than ``2 * horizon`` days.
    """
    from m5kit.metrics import WRMSSEEvaluator

    data.check_history()
    sales = data.m5.sales
    if data.leave_out:  # groups that cannot train on the backtest's history
        sales = sales[~sales["id"].astype(str).isin(data.leave_out)]
    days = day_columns(sales.columns)
    held = days[-data.horizon:]
    history = sales.drop(columns=held)
    truth = sales[["id", *held]]
    pipe = data.pipeline(**params)
    if trial is not None and data.model == "cnn-lstm":
        _add_callback(pipe, "groupedestimator__estimator__callbacks", trial)
    forecast = pipe.fit(history).predict(history)
    evaluator = WRMSSEEvaluator(history, data.m5.prices, data.m5.calendar, on_zero_scale="skip")
    return float(evaluator.score(truth, forecast))


@dataclass
class CVData:
    """What :func:`cross_validation` fits: an estimator, its data and how to score it."""

    estimator: Any
    X: Any
    y: Any = None
    scoring: Any = None
    cv: Any = 3


def _add_callback(estimator, name: str, trial) -> bool:
    """Add the trial's Keras pruning callback to the ``callbacks`` parameter ``name``, if the estimator has it."""
    params = estimator.get_params()
    if name not in params:
        return False
    estimator.set_params(**{name: [*(params[name] or []), trial.keras_callback()]})
    return True


@dataclass
class HoldoutData:
    """What :func:`holdout_score` fits and scores.

    Parameters
    ----------
    estimator : estimator
        Cloned for each trial, then given the trial's parameters.
    X, y : array-like
        Training data.
    X_valid, y_valid : array-like
        The validation set the trial is scored on.
    scoring : str or callable, optional
        A scikit-learn scorer (default: the estimator's ``score``, accuracy for a classifier).
    """

    estimator: Any
    X: Any
    y: Any
    X_valid: Any
    y_valid: Any
    scoring: Any = None


def holdout_score(data: HoldoutData, params: dict, trial: Any = None) -> float:
    """Validation score of ``clone(estimator).set_params(**params)`` fitted on the training data (higher is better).

    An estimator whose ``fit`` takes ``validation_data`` (m5kit's
    classifiers) is given the validation set; with ``trial`` it then reports
    the validation loss after each epoch of its first network, and a pruned
    trial stops at once.

    Parameters
    ----------
    data : HoldoutData
        The estimator, training data, validation set and scorer.
    params : dict
        The trial's parameters, set on a clone of the estimator.
    trial : TrialReporter, optional
        The search's reporter (see above).

    Returns
    -------
    float
        The score on ``X_valid, y_valid`` (the estimator's ``score`` when
        ``data.scoring`` is None).

    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> X = [[0.0], [0.1], [1.0], [1.1]]; y = [0, 0, 1, 1]
    >>> holdout_score(HoldoutData(KNeighborsClassifier(), X, y, [[0.05], [1.05]], [0, 1]), {"n_neighbors": 1})
    1.0
    """
    import inspect

    from sklearn.base import clone
    from sklearn.metrics import check_scoring

    estimator = clone(data.estimator).set_params(**params)
    if "validation_data" in inspect.signature(estimator.fit).parameters:
        if trial is not None:
            _add_callback(estimator, "callbacks", trial)
        estimator.fit(data.X, data.y, validation_data=(data.X_valid, data.y_valid))
    else:
        estimator.fit(data.X, data.y)
    return float(check_scoring(estimator, scoring=data.scoring)(estimator, data.X_valid, data.y_valid))


def cross_validation(data: CVData, params: dict, trial: Any = None) -> float:
    """Mean cross-validated score of ``clone(estimator).set_params(**params)`` (higher is better).

    With ``trial``, an estimator with a ``callbacks`` parameter (m5kit's Keras
    estimators) reports the validation loss of its first fold after each
    epoch, and a pruned trial stops at once.

    Parameters
    ----------
    data : CVData
        The estimator, ``X``, ``y``, scorer and ``cv`` (passed to
        :func:`sklearn.model_selection.cross_val_score`).
    params : dict
        The trial's parameters, set on a clone of the estimator.
    trial : TrialReporter, optional
        The search's reporter. When the estimator reports to it, a fold's
        error is raised; otherwise a failing fold scores NaN.

    Returns
    -------
    float
        The mean of the folds' scores.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> import numpy as np
    >>> X = np.arange(40.0).reshape(20, 2); y = X @ [1.0, 2.0]
    >>> round(cross_validation(CVData(Ridge(), X, y, scoring="r2"), {"alpha": 1e-3}), 3)
    1.0
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    estimator = clone(data.estimator).set_params(**params)
    reports = trial is not None and _add_callback(estimator, "callbacks", trial)
    # A pruned fold raises: end the trial there instead of scoring the other folds as NaN.
    scores = cross_val_score(estimator, data.X, data.y, scoring=data.scoring, cv=data.cv,
                             error_score="raise" if reports else np.nan)
    return float(scores.mean())
