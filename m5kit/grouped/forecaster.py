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
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import whole
from m5kit._schema import AVAILABLE, DAY, HORIZON, ID, SALES, day_name
from m5kit.errors import DataError, GroupError, LevelError, ParamError
from m5kit.grouped import _tasks
from m5kit.grouped.base import (
    BaseGrouped,
    GroupFitError,
    group_seed,
    one_line,
    shared_doc,
)
from m5kit.hierarchy import check_level, group_names
from m5kit.transformers._long import check_long_sales

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
        so serial and parallel runs give the same models (Keras ones to
        float rounding, ~1e-6: see ``CNNLSTMRegressor``'s
        ``reuse_trainer``). Set on estimators
        that have a ``random_state`` parameter.
    horizon : int, default=28
        Days forecast by :meth:`predict`.
    log_dir : str or Path, default=None
        TensorBoard logs, one sub-folder per group (for estimators that have
        a ``log_dir`` parameter).
    pretrain_level : int, default=None
        Pretrain, then fine-tune: first fit one model per group of this
        (coarser) M5 level on all the series of its groups, then start each
        group's fit from the model of the group it belongs to, with
        ``finetune_params``. A group of a few series then learns from its
        whole store (level 3) and adapts to its own: on the real store CA_1
        one CNN-LSTM per series (level 12) pretrained at level 3 scored
        below AutoETS, where one trained from scratch did not
        (benchmarks/RESULTS.md). Each group must fall in one group of this
        level (level 12's series in a store, level 3; level 11's in a
        state, level 2; any group in level 1). Needs an estimator with
        ``init_params_from`` (:class:`~m5kit.models.CNNLSTMRegressor`).
        The pretrained models are kept in ``pretrained_`` (not in ``store``:
        a resumed run fits them again, with the same seeds, only when some
        group is left to fit).
    finetune_params : dict, default=None
        Estimator parameters of the fine-tune after pretraining (for the
        CNN-LSTM e.g. ``{"epochs": 5, "model__learning_rate": 2e-3}``, what
        :func:`~m5kit.make_pipeline` uses);
        None keeps the estimator's own.
%(run)s

    Attributes
    ----------
    estimators_ : dict
        Fitted regressor of each group, keyed by group name.
    windowers_ : dict
        Fitted windower of each group.
%(state)s
    fit_report_ : DataFrame
        One row per group: series, windows, epochs, losses, the seconds
        spent making the training data (``prepare_seconds``) and fitting
        (``fit_seconds``), the task's seconds in all, attempts.
    pretrained_ : dict
        With ``pretrain_level``: the fitted model of each group of that level
        whose groups were fitted in the last ``fit``, keyed by its name.

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
    _report_columns = ("n_series", "n_windows", "epochs", "loss", "val_loss", "prepare_seconds", "fit_seconds",
                       "monitor")
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
        pretrain_level: int | None = None,
        finetune_params: dict | None = None,
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
        self.pretrain_level = pretrain_level
        self.finetune_params = finetune_params

    def set_params(self, **params) -> GroupedEstimator:
        """Set parameters, nested ones too (``estimator__epochs``, ``windower__window``).

        Returns
        -------
        self

        Raises
        ------
        ParamError
            A nested parameter of ``estimator`` or ``windower`` left None (their
            default is only made at fit): pass the estimator or windower itself.
        """
        for slot, default in (("estimator", "CNNLSTMRegressor"), ("windower", "Windower")):
            nested = [name for name in params if name.startswith(f"{slot}__")]
            if nested and params.get(slot, getattr(self, slot)) is None:  # was AttributeError: None has no set_params
                raise ParamError(f"cannot set {nested[0]!r}: GroupedEstimator's {slot} is None (a {default} with its "
                                 f"defaults is made at fit), so it has no parameters yet: pass {slot}={default}(...) "
                                 "with them instead")
        return super().set_params(**params)

    # -- what one group's fit is -------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        whole(self.horizon, "horizon", minimum=1)
        own = self.windower.get_params(deep=False) if hasattr(self.windower, "get_params") else {}
        short = own.get("horizon")
        if own.get("strategy") == "direct" and isinstance(short, (int, np.integer)) and not isinstance(short, bool) \
                and 1 <= short < int(self.horizon):  # every group was fitted, then every forecast failed
            raise ParamError(f"GroupedEstimator forecasts horizon={int(self.horizon)} days but its windower "
                             f"{type(self.windower).__name__}(strategy='direct', horizon={int(short)}) only {int(short)}: "
                             "give both the same horizon")
        if self.pretrain_level is not None:
            try:
                check_level(self.pretrain_level)
            except LevelError as exc:
                raise ParamError(f"pretrain_level: {exc}") from None
        if self.finetune_params is not None:
            if not isinstance(self.finetune_params, dict):
                raise ParamError(f"finetune_params must be a dict of estimator parameters, got {type(self.finetune_params).__name__}")
            if self.pretrain_level is None:
                raise ParamError("finetune_params apply to the fine-tune after pretraining: set pretrain_level too, "
                                 "or set the parameters on the estimator")

    def _fit_setup(self, parts):
        """The estimator and windower templates (defaults resolved), and no per-group estimator yet."""
        estimator, windower = self.estimator, self.windower
        if estimator is None:
            from m5kit.models import CNNLSTMRegressor

            estimator = CNNLSTMRegressor()
        if windower is None:
            from m5kit.transformers import Windower

            windower = Windower()
        check = getattr(windower, "_check_params", None)
        if callable(check):  # before any group: a bad window is no group's failure
            check()
        if self.pretrain_level is not None:
            if not callable(getattr(estimator, "init_params_from", None)):
                raise ParamError(f"pretrain_level needs an estimator that can start from a fitted one "
                                 f"(init_params_from, as CNNLSTMRegressor has); {type(estimator).__name__} has not")
            try:
                clone(estimator).set_params(**(self.finetune_params or {}))
            except ValueError as exc:
                first = str(exc).strip().splitlines()[0].rstrip(".")
                raise ParamError(f"finetune_params: {first}: give parameters of the estimator (its get_params())") from None
        return estimator, windower, {}

    def _before_tasks(self, parts, to_fit, setup):
        """With ``pretrain_level``: fit the parents of the groups ``to_fit``, and give each group its start."""
        if self.pretrain_level is None or not to_fit:
            return setup
        from m5kit.execution.cluster import Task

        estimator, windower, _ = setup
        level = int(self.pretrain_level)
        parent_of = _parents(parts, level)
        needed = list(dict.fromkeys(parent_of[name] for name in to_fit))
        tasks = [
            Task(parent, _tasks.fit_group,
                 pd.concat([parts[name] for name in parts if parent_of[name] == parent], ignore_index=True),
                 (windower, estimator, group_seed(self.random_state, f"pretrain level {level} {parent}"), None, None))
            for parent in needed
        ]
        outcomes = self._run(tasks, "pretrain", f"pretraining at level {level}")
        failed = {o.name: one_line(o.error) for o in outcomes if not o.ok and not isinstance(o.error, GroupError)}
        if failed:
            raise GroupFitError(failed, stage="pretrain")
        short = [o.name for o in outcomes if not o.ok]
        if short:
            logger.warning("pretraining: %d level-%d group(s) too short to fit (%s); their groups start from fresh weights",
                           len(short), level, ", ".join(short[:5]))
        finetune = dict(self.finetune_params or {})
        starts = {}
        for outcome in outcomes:
            if outcome.ok:
                fitted = outcome.result["estimator"]
                self.pretrained_[outcome.name] = fitted
                starts[outcome.name] = clone(estimator).set_params(**finetune, **estimator.init_params_from(fitted))
        return estimator, windower, {name: starts[parent_of[name]] for name in to_fit if parent_of[name] in starts}

    def _group_problems(self, parts, setup):
        """Groups without a single training window."""
        short = {}
        for name, frame in parts.items():
            try:
                clone(setup[1], safe=False).fit(frame)  # any object of the windower protocol
            except GroupError as exc:
                short[name] = str(exc)
        return short

    def _fit_call(self, name, setup):
        estimator, windower, starts = setup
        estimator = starts.get(name, estimator)
        log_dir = None if self.log_dir is None else _group_log_dir(self.log_dir, name)
        # looked up at each fit, so that a replaced m5kit.grouped._tasks.fit_group is the one sent
        return _tasks.fit_group, (windower, estimator, group_seed(self.random_state, name), log_dir, int(self.horizon))

    def _run_params(self, setup):
        estimator, windower = setup[:2]
        params = {f"estimator__{k}": v for k, v in estimator.get_params(deep=True).items()}
        params.update({f"windower__{k}": v for k, v in _settings(windower).items()})
        params.update(random_state=self.random_state, level=self.level, groups=self.groups)
        if self.pretrain_level is not None:  # older stores keep their token
            params.update(pretrain_level=self.pretrain_level, finetune_params=self.finetune_params)
        return params, type(estimator).__name__

    def _reset(self) -> None:
        super()._reset()
        self.windowers_ = {}
        self.pretrained_ = {}
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

    def _loaded(self, params: dict) -> None:
        """After :meth:`from_store`: without ``horizon=``, forecast the horizon of the forecasts the fit stored (a
        14-day run's models asked for 28 days)."""
        horizons = {horizon for _, horizon, _ in self._fit_forecasts.values()}
        if "horizon" not in params and len(horizons) == 1:
            self.horizon = horizons.pop()

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

        Raises
        ------
        DataError
            A negative or infinite sale (CalendarMerger refuses them; a long
            frame made another way reached the models with them).
        ParamError
            A fit parameter (``fit(X, epochs=3)``): set it on the estimator
            instead (``set_params(estimator__epochs=3)``).
        """
        if fit_params:  # they were ignored without a word: every group trained with the estimator's own settings
            name = next(iter(fit_params))
            raise ParamError(f"GroupedEstimator.fit takes no fit parameters (got {name!r}): set them on the estimator, "
                             f"e.g. set_params(estimator__{name}=...) (groupedestimator__estimator__{name} in a pipeline)")
        self._check_data(X)
        _refuse_bad_sales(X)
        return self._fit_groups(X)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Forecast ``horizon`` days after each series' last known sale.

        Runs each group's ``windower.recursive_predict`` (on the cluster when
        one is configured) with the known future calendar and prices of ``X``:
        a windower of ``horizon`` 1 (or ``strategy="recursive"``) feeds each
        day's forecast back as the next input, a direct one (make_pipeline's
        default) forecasts the days at once. Groups whose rows are the
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
        _warn_if_no_future_day_on_sale(X, int(self.horizon))
        known = self._known_forecasts(parts)
        if known:
            logger.info("%d of %d group(s) reuse the forecast made when they were fitted; forecasting %d",
                        len(known), len(parts), len([name for name in parts if name not in known and name in self.estimators_]))
        horizon = int(self.horizon)
        made = self._predict_groups(
            {name: frame for name, frame in parts.items() if name not in known},
            lambda name, frame: (_tasks.forecast_group, (frame, self.windowers_[name], self.estimators_[name]), (horizon,)),
        )
        if not known and not made:
            fitted = ", ".join(map(repr, self.groups_[:5])) + (", ..." if len(self.groups_) > 5 else "")
            raise DataError(f"none of the {len(parts)} group(s) of the data has a fitted model (e.g. {next(iter(parts))!r}): "
                            f"predict the groups the estimator was fitted on ({fitted})")
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
        self._check_data(X)
        masked, truth = hide_last_days(X, int(self.horizon))
        return -mean_rmsse(truth, self.predict(masked), masked)


def _refuse_bad_sales(X: pd.DataFrame) -> None:
    """A DataError for a negative or infinite sale in the long frame (LightGBM trained on inf without a word)."""
    sales = X[SALES]
    nullable = isinstance(sales.dtype, pd.api.extensions.ExtensionDtype)  # Int64, Float64: pd.NA is an unknown day
    values = sales.to_numpy(dtype=np.float64, na_value=np.nan) if nullable else sales.to_numpy()  # no copy
    if values.dtype.kind not in "fiu":  # text or objects: the windower says what it cannot read
        return
    check_long_sales(X, values)  # as CalendarMerger refuses them


def _warn_if_no_future_day_on_sale(X: pd.DataFrame, horizon: int) -> None:
    """A warning when no series is on sale on any of the ``horizon`` days after the last known sales (a price table
    without those weeks).

    Both windowers forecast 0 on a day when the item is not on sale: such a forecast is 0 everywhere.
    """
    if AVAILABLE not in X.columns:
        return
    known = X[SALES].notna().to_numpy()
    if not known.any():
        return
    days = X[DAY].to_numpy()
    last = int(days[known].max())
    future = (days > last) & (days <= last + horizon)
    if future.any() and not (X[AVAILABLE].to_numpy(dtype=np.float32, na_value=0)[future] > 0).any():
        n_days = int(days[future].max()) - last
        warnings.warn(f"no series is on sale on any of the {n_days} forecast days from {day_name(last + 1)}: the price "
                      f"table has no price for them ({AVAILABLE!r} 0), so every forecast is 0; pass sell prices that "
                      "cover the forecast weeks", UserWarning, stacklevel=3)


def _settings(windower) -> dict[str, Any]:
    """A windower's parameters for the store's run token: ``get_params``, or the attributes of a plain object of the
    windower protocol (which need not be a scikit-learn estimator), with its class."""
    if hasattr(windower, "get_params"):
        return windower.get_params(deep=True)
    return {"class": f"{type(windower).__module__}.{type(windower).__qualname__}", **getattr(windower, "__dict__", {})}


def _parents(parts: dict[str, pd.DataFrame], level: int) -> dict[str, str]:
    """The group of ``level`` each group's rows belong to; an error when a group spans several."""
    parents = {}
    for name, frame in parts.items():
        try:
            found = group_names(frame, level).unique()
        except LevelError as exc:
            raise ParamError(f"pretrain_level {level}: {exc} (the groups' rows must hold that level's id columns)") from None
        if len(found) != 1:
            raise ParamError(
                f"pretrain_level {level} does not contain the groups: group {name!r} has rows in {len(found)} level-{level} "
                f"groups ({', '.join(map(str, found[:3]))}); choose a level that contains them "
                "(m5kit.hierarchy.contains: e.g. 3 for level 12, 2 for level 11, 1 for any)"
            )
        parents[name] = str(found[0])
    return parents


def _group_log_dir(log_dir: str | Path, name: str) -> str:
    from m5kit.store import _file_stem

    return str(Path(log_dir) / _file_stem(name))
