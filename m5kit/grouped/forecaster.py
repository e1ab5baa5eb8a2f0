"""GroupedEstimator: one clone of a windowed forecaster per group, fitted in parallel.

The closest relative is scikit-learn's ``MultiOutputRegressor``: a
module-level function (:func:`m5kit.grouped.fit_group`) clones and fits the
estimator on one group's rows, and the fitted clones are kept keyed by group.
Splitting, dispatch (in this process, a LocalCluster, or an existing Dask
cluster), retries, the model store and the fit report come from
:class:`~m5kit.grouped.base.BaseGrouped`; this module adds the forecasting:
the windower, the recursive forecast (made at fit time when the rows hold the
future days), and a backtest score.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import whole
from m5kit._schema import DAY, HORIZON, ID, SALES
from m5kit.errors import GroupError
from m5kit.grouped import _tasks
from m5kit.grouped.base import BaseGrouped, group_seed, shared_doc

__all__ = ["GroupedEstimator"]

logger = logging.getLogger(__name__)


@shared_doc
class GroupedEstimator(BaseGrouped):
    """Fit one clone of a windowed forecaster per group, on Dask or in-process.

    Parameters
    ----------
    estimator : estimator, default=None
        The per-group regressor, fitted on what the windower makes (3-D
        windows for the CNN-LSTM; any scikit-learn regressor fits a
        windower that makes 2-D rows); None means
        :class:`~m5kit.models.CNNLSTMRegressor` with its defaults.
    windower : windower, default=None
        Turns a group's long frame into training data and runs the recursive
        forecast; None means :class:`~m5kit.transformers.Windower` defaults.
        Any object with ``fit(frame)``, ``make_training_data(frame) -> (X, y)``
        and ``recursive_predict(frame, estimator, horizon=)`` that raises
        :class:`~m5kit.errors.GroupError` for a group without training rows.
%(where)s
    on_short : {"warn", "raise"}, default="warn"
        What to do with a group whose history is too short for one window:
        skip it with a :class:`SkippedGroupWarning` (it gets no model and no
        forecast), or raise :class:`~m5kit.errors.GroupError` before any
        group is fitted.
    retries : int, default=2
        Extra attempts for a group whose Dask worker died while fitting it
        (a group whose own fit raises is not retried: see ``failed_``).
    random_state : int or None, default=0
        Base seed; each group's seed is derived from it and the group's name,
        so serial and parallel runs give the same models. Set on estimators
        that have a ``random_state`` parameter.
    horizon : int, default=28
        Days forecast by :meth:`predict`.
    log_dir : str or Path, default=None
        TensorBoard logs, one sub-folder per group (for estimators that have
        a ``log_dir`` parameter).
%(run)s

    Attributes
    ----------
    estimators_ : dict
        Fitted regressor of each group, keyed by group name.
    windowers_ : dict
        Fitted windower of each group.
%(state)s
    fit_report_ : DataFrame
        One row per group: series, windows, epochs, losses, seconds, attempts.

    See Also
    --------
    sklearn.multioutput.MultiOutputRegressor : the same idea for output columns.
    m5kit.grouped.base.BaseGrouped : the per-group machinery, for other estimators.

    Examples
    --------
    >>> from m5kit import make_m5, CalendarMerger, PriceJoiner, LevelAggregator
    >>> from m5kit import GroupedEstimator, Windower, CNNLSTMRegressor
    >>> from sklearn.pipeline import make_pipeline as sk_make_pipeline
    >>> data = make_m5(n_items=2, n_stores=2, n_days=120)
    >>> pipe = sk_make_pipeline(
    ...     CalendarMerger(data.calendar), PriceJoiner(data.prices), LevelAggregator(3),
    ...     GroupedEstimator(CNNLSTMRegressor(epochs=1), Windower(window=14)))
    >>> forecast = pipe.fit(data.sales).predict(data.sales)    # doctest: +SKIP
    """

    _required_columns = (ID, DAY, SALES)
    _data_hint = "the long frame of CalendarMerger: put CalendarMerger, PriceJoiner and LevelAggregator before it"
    _short_what = "too short for the window"
    _short_fix = "lower the window"
    _report_columns = ("n_series", "n_windows", "epochs", "loss", "val_loss", "fit_seconds", "monitor")
    _predict_stage = "forecast"

    def __init__(
        self,
        estimator=None,
        windower=None,
        *,
        level: int | None = None,
        groups: str | Sequence[str] | None = None,
        n_workers: int | None = None,
        scheduler: str | None = None,
        client: Any = None,
        store: str | Path | None = None,
        overwrite: bool = False,
        on_short: str = "warn",
        retries: int = 2,
        random_state: int | None = 0,
        horizon: int = HORIZON,
        log_dir: str | Path | None = None,
        progress: bool = False,
        timeout: float = 30.0,
    ):
        self.estimator = estimator
        self.windower = windower
        self.level = level
        self.groups = groups
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.client = client
        self.store = store
        self.overwrite = overwrite
        self.on_short = on_short
        self.retries = retries
        self.random_state = random_state
        self.horizon = horizon
        self.log_dir = log_dir
        self.progress = progress
        self.timeout = timeout

    # -- what one group's fit is -------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        whole(self.horizon, "horizon", minimum=1)

    def _fit_setup(self, parts):
        """The estimator and windower templates (defaults resolved)."""
        estimator, windower = self.estimator, self.windower
        if estimator is None:
            from m5kit.models import CNNLSTMRegressor

            estimator = CNNLSTMRegressor()
        if windower is None:
            from m5kit.transformers import Windower

            windower = Windower()
        return estimator, windower

    def _group_problems(self, parts, setup):
        """Groups without a single training window."""
        short = {}
        for name, frame in parts.items():
            try:
                clone(setup[1]).fit(frame)
            except GroupError as exc:
                short[name] = str(exc)
        return short

    def _fit_call(self, name, setup):
        estimator, windower = setup
        log_dir = None if self.log_dir is None else _group_log_dir(self.log_dir, name)
        # looked up at each fit, so that a replaced m5kit.grouped._tasks.fit_group is the one sent
        return _tasks.fit_group, (windower, estimator, group_seed(self.random_state, name), log_dir, int(self.horizon))

    def _run_params(self, setup):
        estimator, windower = setup
        params = {f"estimator__{k}": v for k, v in estimator.get_params(deep=True).items()}
        params.update({f"windower__{k}": v for k, v in windower.get_params(deep=True).items()})
        params.update(random_state=self.random_state, level=self.level, groups=self.groups)
        return params, type(estimator).__name__

    def _reset(self) -> None:
        super()._reset()
        self.windowers_ = {}
        self._fit_forecasts = {}

    def _adopt(self, name, result) -> None:
        super()._adopt(name, result)
        self.windowers_[name] = result["windower"]
        if result.get("forecast") is not None:
            self._fit_forecasts[name] = (result["frame_token"], int(self.horizon), result["forecast"])

    def _report_fields(self, result) -> dict:
        fields = ("n_series", "n_windows", "epochs", "loss", "val_loss", "prepare_seconds", "fit_seconds", "seed",
                  "history", "worker")
        out = {key: result.get(key) for key in fields}
        out["monitor"] = json.dumps(result.get("monitor") or [])  # the training rules that fired, as JSON
        return out

    def _store_parts(self, result):
        return result["windower"], result["estimator"]

    def _restore(self, name, companion, estimator) -> None:
        super()._restore(name, companion, estimator)
        self.windowers_[name] = companion

    def _store_extra(self, result):
        """The group's fit-time forecast, with the token of the rows and the horizon it was made for."""
        if result.get("forecast") is None:
            return None
        return {"frame_token": result["frame_token"], "horizon": int(self.horizon), "forecast": result["forecast"]}

    def _restore_extra(self, name, extra) -> None:
        """A stored fit-time forecast: :meth:`predict` reuses it for the same rows and horizon."""
        if isinstance(extra, dict) and extra.get("forecast") is not None:
            self._fit_forecasts[name] = (extra["frame_token"], int(extra["horizon"]), extra["forecast"])

    # -- fit and predict ---------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None, **fit_params) -> GroupedEstimator:
        """Fit one clone per group.

        Parameters
        ----------
        X : DataFrame
            The long frame (see :class:`~m5kit.transformers.CalendarMerger`),
            with a group column or the level's id columns.
        y : None
            Ignored: the targets are the ``sales`` column.

        Returns
        -------
        self
        """
        return self._fit_groups(X)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Forecast ``horizon`` days after each series' last known sale.

        Runs recursively per group (on the cluster when one is configured),
        feeding each day's forecast back as the next input and using the
        known future calendar and prices of ``X``. Groups whose rows are the
        ones fitted on (and ``horizon`` the same) reuse the forecast made at
        fit time, also when their model was loaded from a model store that
        kept it: a rerun of a finished run forecasts nothing again.

        Parameters
        ----------
        X : DataFrame
            The long frame with the future days (``sales`` NaN) that
            CalendarMerger adds.

        Returns
        -------
        DataFrame
            Tidy forecast: ``id``, ``d`` (``"d_1914"`` ...), ``forecast``.
        """
        from m5kit.forecasting import order_like

        check_is_fitted(self, "estimators_")
        parts = self._split(X)
        known = self._known_forecasts(parts)
        if known:
            logger.info("%d of %d group(s) reuse the forecast made when they were fitted; forecasting %d",
                        len(known), len(parts), len([name for name in parts if name not in known and name in self.estimators_]))
        horizon = int(self.horizon)
        made = self._predict_groups(
            {name: frame for name, frame in parts.items() if name not in known},
            lambda name, frame: (_tasks.forecast_group, (frame, self.windowers_[name], self.estimators_[name]), (horizon,)),
        )
        return order_like(pd.concat([*known.values(), *made], ignore_index=True), X)

    def _known_forecasts(self, parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The forecasts made during ``fit`` for groups whose rows (and horizon) are the ones fitted on."""
        made = getattr(self, "_fit_forecasts", None) or {}
        return {name: made[name][2] for name, frame in parts.items()
                if name in made and made[name][1] == int(self.horizon) and made[name][0] == _tasks.frame_token(frame)}

    def score(self, X: pd.DataFrame, y=None) -> float:
        """Backtest score on ``X``: minus the mean RMSSE of the last ``horizon`` known days.

        Each series' last ``horizon`` known sales are hidden and forecast
        from the history before them with the fitted models; the error is
        M5's RMSSE (:func:`m5kit.metrics.rmsse`, scaled by
        :func:`m5kit.metrics.naive_scale` of the history). Higher is better,
        0 is perfect: use it with ``GridSearchCV`` on folds of series (for
        example a ``KFold`` over the items of a store level).

        Returns
        -------
        float
        """
        from m5kit.forecasting import hide_last_days, mean_rmsse

        check_is_fitted(self, "estimators_")
        masked, truth = hide_last_days(X, int(self.horizon))
        return -mean_rmsse(truth, self.predict(masked), masked)


def _group_log_dir(log_dir: str | Path, name: str) -> str:
    from m5kit.store import _file_stem

    return str(Path(log_dir) / _file_stem(name))
