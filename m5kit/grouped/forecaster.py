"""GroupedEstimator: one clone of a forecaster per group, fitted in parallel.

The closest relative is scikit-learn's ``MultiOutputRegressor``: a
module-level function clones and fits the estimator on one group's rows, and
the fitted clones are kept keyed by group. The work goes through
:mod:`m5kit.execution.cluster` (in this process, a LocalCluster, or an existing Dask
cluster) and, optionally, into a :class:`~m5kit.store.ModelStore`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from m5kit._schema import DAY, GROUP, HORIZON, ID, SALES
from m5kit.execution.threads import limit_threads
from m5kit.errors import DataError, GroupError, M5kitError
from m5kit.hierarchy import check_level, group_names, join_keys

__all__ = ["GroupedEstimator", "GroupFitError", "SkippedGroupWarning", "group_seed"]

logger = logging.getLogger(__name__)


class GroupFitError(M5kitError, RuntimeError):
    """Some groups' fits (or forecasts) raised: the others finished and were kept.

    The message is one line listing each failed group with its error (the
    first few, then how many more).

    Parameters
    ----------
    failed : dict
        Group name -> error message (one line).
    n_ok : int, optional
        Groups that did not fail (said in the message).
    stage : {"fit", "forecast"}
        What failed.
    stored : bool
        Whether the other groups were saved to a model store.

    Attributes
    ----------
    failed : dict
        Group name -> error message.

    Examples
    --------
    >>> str(GroupFitError({"CA_1": "ValueError: bad"}, n_ok=2)).split(":")[0]
    '1 group(s) failed to fit'
    """

    SHOWN = 5

    def __init__(self, failed: dict[str, str], n_ok: int | None = None, stage: str = "fit", stored: bool = False):
        self.failed = dict(failed)
        listed = "; ".join(f"{name} ({error})" for name, error in list(failed.items())[: self.SHOWN])
        more = f"; and {len(failed) - self.SHOWN} more" if len(failed) > self.SHOWN else ""
        if stage == "fit":
            others = "the other groups" if n_ok is None else f"the other {n_ok} group(s)"
            kept = f"{others} are fitted" + (" and stored" if stored else "")
            todo = "fix the cause and run again: only the failed groups are fitted again" if stored else "fix the cause and fit again"
            tail = f"{kept}; {todo}"
        else:
            tail = "fix the cause and forecast again"
        super().__init__(f"{len(failed)} group(s) failed to {stage}: {listed}{more}. {tail}")


class SkippedGroupWarning(UserWarning):
    """Groups were left out: too short for the window, so no model and no forecast."""


def _one_line(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an error on one line, at most ``limit`` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_message(short: dict[str, str], stop: str | None = None) -> str:
    """One line about groups too short for the window: skipped, or (``stop``) why the fit stops."""
    reasons = "; ".join(list(short.values())[:3]) + (f"; and {len(short) - 3} more" if len(short) > 3 else "")
    if stop is None:
        names = ", ".join(list(short)[:10]) + (", ..." if len(short) > 10 else "")
        return f"{len(short)} group(s) too short for the window were skipped ({names}): {reasons}"
    return (f"{len(short)} group(s) too short for the window, {stop}: {reasons}. To skip such groups instead, "
            "pass on_short='warn' (`m5kit train --on-short skip`)")


def _short_groups(windower, parts: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Groups without a single training window (checked here, before any fit is sent)."""
    short = {}
    for name, frame in parts.items():
        try:
            clone(windower).fit(frame)
        except GroupError as exc:
            short[name] = str(exc)
    return short


# --- work sent to workers (module level, plain arguments) ----------------------------
def _fit_group(frame: pd.DataFrame, windower, estimator, seed: int | None, log_dir: str | None,
               horizon: int | None = None) -> dict:
    """Fit a fresh clone of ``windower`` and ``estimator`` on one group's rows.

    With ``horizon``, also forecast the group's future rows (when the frame
    has them) while its model is at hand: ``GroupedEstimator.predict`` on the
    same rows then needs no second trip to the workers.
    """
    from m5kit.execution.cluster import private_dask_random

    limit_threads()
    private_dask_random()  # seeded fits are reproducible on workers too
    start = time.perf_counter()
    win = clone(windower).fit(frame)
    X, y = win.make_training_data(frame)
    est = clone(estimator)
    params = est.get_params(deep=False)
    updates = {}
    if "random_state" in params:
        updates["random_state"] = seed
    if log_dir is not None and "log_dir" in params:
        updates["log_dir"] = log_dir
    est.set_params(**updates)
    prep = time.perf_counter()
    est.fit(X, y)
    done = time.perf_counter()
    forecast = None
    if horizon is not None:
        try:
            forecast = win.recursive_predict(frame, est, horizon=int(horizon))
        except DataError:  # rows without the future days: predict says what is missing, if it is called
            forecast = None
    history = getattr(est, "history_", None) or {}
    return {
        "forecast": forecast,
        "frame_token": None if forecast is None else _frame_token(frame),
        "windower": win,
        "estimator": est,
        "n_series": int(frame[ID].nunique()),
        "n_windows": int(len(X)),
        "epochs": len(history.get("loss", [])),
        "loss": _last(history.get("loss")),
        "val_loss": _best(history.get("val_loss")),
        "prepare_seconds": prep - start,
        "fit_seconds": done - prep,
        "seed": seed,
    }


def _frame_token(frame: pd.DataFrame) -> str:
    """A digest of a group's rows (columns, dtypes and values): same token, same forecast inputs."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _predict_group(payload: tuple, horizon: int) -> pd.DataFrame:
    """Forecast ``horizon`` days of every series of one group, recursively.

    ``payload`` is ``(frame, windower, estimator)``: the group's rows and its
    fitted model travel together as the task's scattered data, once, instead
    of inside the task graph.
    """
    limit_threads()
    frame, windower, estimator = payload
    return windower.recursive_predict(frame, estimator, horizon=horizon)


def _last(values) -> float | None:
    return float(values[-1]) if values else None


def _best(values) -> float | None:
    return float(np.nanmin(values)) if values else None


def group_seed(random_state: int | None, name: str) -> int | None:
    """The seed of one group: stable across runs, processes and orders.

    Examples
    --------
    >>> group_seed(0, "CA_1") == group_seed(0, "CA_1")
    True
    """
    if random_state is None:
        return None
    return (int(random_state) * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


class GroupedEstimator(BaseEstimator):
    """Fit one clone of a windowed forecaster per group, on Dask or in-process.

    Parameters
    ----------
    estimator : estimator, default=None
        The per-group regressor, fitted on 3-D windows; None means
        :class:`~m5kit.models.CNNLSTMRegressor` with its defaults.
    windower : Windower, default=None
        Turns a group's long frame into windows and runs the recursive
        forecast; None means :class:`~m5kit.transformers.Windower` defaults.
    level : int, default=None
        Group by this M5 level's keys (1-12). None uses ``groups``, or the
        ``group`` column that :class:`~m5kit.transformers.LevelAggregator` adds.
    groups : str or list of str, default=None
        Explicit group column(s), instead of ``level``.
    n_workers : int, default=None
        Start (or reuse) a local Dask cluster of this many single-thread
        workers. With ``n_workers``, ``scheduler`` and ``client`` all None,
        groups are fitted one after the other in this process.
    scheduler : str, default=None
        Address of an existing Dask scheduler (``tcp://host:8786``).
    client : distributed.Client, default=None
        A client you manage (not pickled with the estimator).
    store : str or Path, default=None
        Model store folder: each group is saved as soon as it is fitted, and
        a later fit with the same parameters skips groups already stored with
        the same data.
    overwrite : bool, default=False
        Let ``store`` replace a different run instead of raising.
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
        so serial and parallel runs give the same models.
    horizon : int, default=28
        Days forecast by :meth:`predict`.
    log_dir : str or Path, default=None
        TensorBoard logs, one sub-folder per group.
    progress : bool, default=False
        Show a progress bar (groups done / total) on stderr.
    timeout : float, default=30
        Seconds to wait for a remote scheduler.

    Attributes
    ----------
    estimators_ : dict
        Fitted regressor of each group, keyed by group name.
    windowers_ : dict
        Fitted Windower of each group.
    groups_ : list of str
        Groups with a fitted model, in the order of the data.
    skipped_ : dict
        Groups skipped as too short, with the reason.
    resumed_ : list of str
        Groups loaded from ``store`` instead of being fitted again.
    retried_ : list of str
        Groups whose task was retried after losing its worker.
    failed_ : dict
        Groups whose fit raised, with the error (one line). When there are
        any, :meth:`fit` raises :class:`GroupFitError` after finishing and
        storing the others.
    fit_report_ : DataFrame
        One row per group: series, windows, epochs, losses, seconds, attempts.

    See Also
    --------
    sklearn.multioutput.MultiOutputRegressor : the same idea for output columns.

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

    # -- parameters resolved at fit time ---------------------------------------------
    def _templates(self):
        estimator, windower = self.estimator, self.windower
        if estimator is None:
            from m5kit.models import CNNLSTMRegressor

            estimator = CNNLSTMRegressor()
        if windower is None:
            from m5kit.transformers import Windower

            windower = Windower()
        return estimator, windower

    def _check_params(self) -> None:
        if self.on_short not in ("warn", "raise"):
            raise ValueError(f"on_short must be 'warn' or 'raise', got {self.on_short!r}")
        if self.level is not None:
            check_level(self.level)
        if not isinstance(self.retries, (int, np.integer)) or self.retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, got {self.retries!r}")
        if not isinstance(self.horizon, (int, np.integer)) or self.horizon < 1:
            raise ValueError(f"horizon must be a whole number >= 1, got {self.horizon!r}")

    def _use_dask(self) -> bool:
        return self.client is not None or bool(self.scheduler) or self.n_workers is not None

    def _open_client(self):
        from m5kit.execution.cluster import open_client

        return open_client(self.n_workers, self.scheduler, self.client, timeout=self.timeout)

    # -- splitting -----------------------------------------------------------------------
    def _group_keys(self, X: pd.DataFrame) -> pd.Series:
        """The group name of every row of ``X``."""
        if self.groups is not None:
            cols = [self.groups] if isinstance(self.groups, str) else list(self.groups)
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise DataError(f"group column {missing[0]!r} is not in the data: name existing columns in groups=")
            return join_keys(X, cols)
        if self.level is not None:
            return group_names(X, self.level)
        if GROUP in X.columns:
            return X[GROUP].astype(str)
        raise DataError(
            "the data has no groups: give GroupedEstimator level= or groups=, or put LevelAggregator before it"
        )

    def _split(self, X) -> dict[str, pd.DataFrame]:
        """Each group's own rows (one copy of that group's rows, nothing more)."""
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"GroupedEstimator needs the long frame (a pandas DataFrame), got {type(X).__name__}: "
                "put CalendarMerger, PriceJoiner and LevelAggregator before it"
            )
        missing = [c for c in (ID, DAY, SALES) if c not in X.columns]
        if missing:
            raise DataError(
                f"the data has no column {missing[0]!r}: GroupedEstimator needs the long frame of CalendarMerger"
            )
        if X.empty:
            raise DataError("the data is empty: there is nothing to fit or forecast")
        keys = self._group_keys(X)
        codes, names = pd.factorize(keys, sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        return {
            str(name): X.iloc[order[bounds[i] : bounds[i + 1]]]
            for i, name in enumerate(names)
        }

    # -- fit -------------------------------------------------------------------------------
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
        self._check_params()
        estimator, windower = self._templates()
        parts = self._split(X)
        if self.on_short == "raise":
            short = _short_groups(windower, parts)
            if short:
                raise GroupError(_short_message(short, stop="so nothing was fitted"))
        store = self._open_store(estimator, windower, parts)

        self.estimators_, self.windowers_, self._fit_forecasts = {}, {}, {}
        self.skipped_, self.failed_, self.resumed_, self.retried_ = {}, {}, [], []
        records: dict[str, dict] = {}
        tracebacks: dict[str, str] = {}

        if store is not None:
            store_obj, fingerprints = store
            for name in store_obj.stored(fingerprints):
                win, est, rec = store_obj.load_group(name)
                self.windowers_[name], self.estimators_[name] = win, est
                records[name] = {**rec, "resumed": True}
                self.resumed_.append(name)
            if self.resumed_:
                logger.info("resuming: %d of %d groups already in the store", len(self.resumed_), len(parts))

        from m5kit.execution.cluster import Task, run_tasks

        tasks = [
            Task(name, _fit_group, frame, (windower, estimator, group_seed(self.random_state, name), self._group_log_dir(name),
                                           int(self.horizon)))
            for name, frame in parts.items()
            if name not in self.estimators_
        ]

        def on_done(outcome):
            if outcome.ok and store is not None:
                res = outcome.result
                store[0].save_group(outcome.name, res["windower"], res["estimator"], {
                    **_record(res, outcome), "fingerprint": store[1][outcome.name]})

        with _progress_bar(self.progress, len(parts), len(self.resumed_), "fitting groups") as advance:
            def callback(outcome):
                on_done(outcome)
                advance()

            if self._use_dask():
                with self._open_client() as client:
                    outcomes = run_tasks(tasks, client, prefix="fit", retries=self.retries, on_done=callback)
            else:
                outcomes = run_tasks(tasks, None, on_done=callback)

        for outcome in outcomes:
            if outcome.ok:
                res = outcome.result
                self.windowers_[outcome.name] = res["windower"]
                self.estimators_[outcome.name] = res["estimator"]
                if res.get("forecast") is not None:
                    self._fit_forecasts[outcome.name] = (res["frame_token"], int(self.horizon), res["forecast"])
                records[outcome.name] = _record(res, outcome)
                if outcome.attempts > 1:
                    self.retried_.append(outcome.name)
            elif isinstance(outcome.error, GroupError):
                self.skipped_[outcome.name] = str(outcome.error)
            else:
                self.failed_[outcome.name] = _one_line(outcome.error)
                tracebacks[outcome.name] = outcome.traceback or self.failed_[outcome.name]
                logger.info("group %s failed to fit:\n%s", outcome.name, tracebacks[outcome.name])

        self.groups_ = [name for name in parts if name in self.estimators_]
        self.fit_report_ = _report(records, parts)
        if store is not None:
            store[0].finish({"n_groups": len(parts), "skipped": self.skipped_, "failed": self.failed_,
                             "tracebacks": tracebacks})
        if self.skipped_:
            if self.on_short == "raise":
                raise GroupError(_short_message(self.skipped_, stop="the other groups are fitted"))
            warnings.warn(_short_message(self.skipped_), SkippedGroupWarning, stacklevel=2)
        if self.failed_:
            raise GroupFitError(self.failed_, n_ok=len(self.groups_), stored=store is not None)
        if not self.estimators_:
            raise GroupError("no group could be fitted: every group is too short for the window; lower the window")
        return self

    def _group_log_dir(self, name: str) -> str | None:
        if self.log_dir is None:
            return None
        from m5kit.store import _file_stem

        return str(Path(self.log_dir) / _file_stem(name))

    def _open_store(self, estimator, windower, parts):
        if self.store is None:
            return None
        from m5kit.store import ModelStore, frame_fingerprint, params_token

        params = {f"estimator__{k}": v for k, v in estimator.get_params(deep=True).items()}
        params.update({f"windower__{k}": v for k, v in windower.get_params(deep=True).items()})
        params.update(random_state=self.random_state, level=self.level, groups=self.groups)
        store = ModelStore(self.store)
        fingerprints = {name: frame_fingerprint(frame) for name, frame in parts.items()}
        run = {"params": params_token(params), "estimator": type(estimator).__name__, "level": self.level, "groups": repr(self.groups)}
        store.open_run(run, overwrite=self.overwrite)
        return store, fingerprints

    @classmethod
    def from_store(cls, path: str | Path, **params) -> GroupedEstimator:
        """Load a fitted GroupedEstimator from a model store.

        Model files are pickles: load stores only from a source you trust.

        Parameters
        ----------
        path : str or Path
            The store folder written by a fit with ``store=path``.
        **params
            GroupedEstimator parameters for prediction (``n_workers``,
            ``horizon``, ``level`` or ``groups`` ...).

        Returns
        -------
        GroupedEstimator
            Fitted: ``estimators_`` and ``windowers_`` hold every stored group.
        """
        from m5kit.errors import StoreError
        from m5kit.store import ModelStore

        store = ModelStore(path)
        if store.read_manifest() is None:
            raise StoreError(f"{path} holds no m5kit model store (no manifest.json): give the folder of a finished run")
        records = store.records()
        if not records:
            raise StoreError(f"the model store {path} holds no fitted group: run the fit first")
        self = cls(store=path, **params)
        self.estimators_, self.windowers_ = {}, {}
        for name in records:
            self.windowers_[name], self.estimators_[name], _ = store.load_group(name)
        self.groups_ = list(records)
        self.skipped_, self.failed_, self.retried_ = {}, {}, []
        self.resumed_ = list(records)
        self.fit_report_ = _report({k: {**v, "resumed": True} for k, v in records.items()}, records)
        return self

    # -- predict ---------------------------------------------------------------------------
    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Forecast ``horizon`` days after each series' last known sale.

        Runs recursively per group (on the cluster when one is configured),
        feeding each day's forecast back as the next input and using the
        known future calendar and prices of ``X``.

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
        check_is_fitted(self, "estimators_")
        parts = self._split(X)
        unknown = [name for name in parts if name not in self.estimators_]
        if unknown:
            warnings.warn(
                f"{len(unknown)} group(s) have no fitted model and get no forecast (e.g. {unknown[0]!r})",
                SkippedGroupWarning,
                stacklevel=2,
            )
        from m5kit.execution.cluster import Task, run_tasks

        known = self._known_forecasts(parts)
        tasks = [
            Task(name, _predict_group, (frame, self.windowers_[name], self.estimators_[name]), (int(self.horizon),))
            for name, frame in parts.items()
            if name in self.estimators_ and name not in known
        ]
        if not tasks:
            return _order_like(pd.concat(list(known.values()), ignore_index=True), X)
        with _progress_bar(self.progress, len(tasks), 0, "forecasting") as advance:
            if self._use_dask():
                with self._open_client() as client:
                    outcomes = run_tasks(tasks, client, prefix="predict", retries=self.retries, on_done=lambda o: advance())
            else:
                outcomes = run_tasks(tasks, None, on_done=lambda o: advance())
        failed = {o.name: _one_line(o.error) for o in outcomes if not o.ok}
        if failed:
            raise GroupFitError(failed, stage="forecast") from None
        forecast = pd.concat([*known.values(), *(o.result for o in outcomes)], ignore_index=True)
        return _order_like(forecast, X)

    def _known_forecasts(self, parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The forecasts made during ``fit`` for groups whose rows (and horizon) are the ones fitted on."""
        made = getattr(self, "_fit_forecasts", None) or {}
        return {name: made[name][2] for name, frame in parts.items()
                if name in made and made[name][1] == int(self.horizon) and made[name][0] == _frame_token(frame)}

    def score(self, X: pd.DataFrame, y=None) -> float:
        """Backtest score on ``X``: minus the mean RMSSE of the last ``horizon`` known days.

        Each series' last ``horizon`` known sales are hidden and forecast
        from the history before them with the fitted models; the error is
        scaled like M5's RMSSE (by the mean squared one-step naive error of
        the history). Higher is better, 0 is perfect: use it with
        ``GridSearchCV`` on folds of series (for example a ``KFold`` over
        the items of a store level).

        Returns
        -------
        float
        """
        check_is_fitted(self, "estimators_")
        h = int(self.horizon)
        known = X[SALES].notna().to_numpy()
        last_known = pd.Series(np.where(known, X[DAY].to_numpy(), -1)).groupby(X[ID].to_numpy(), observed=True).transform("max").to_numpy()
        hide = known & (X[DAY].to_numpy() > last_known - h)
        truth = X.loc[hide, [ID, DAY, SALES]]
        masked = X.copy()
        masked.loc[hide, SALES] = np.nan
        masked = masked[X[DAY].to_numpy() <= last_known]
        forecast = self.predict(masked)
        from m5kit._schema import day_number

        forecast = forecast.assign(**{DAY: forecast[DAY].map(day_number).astype("int32")})
        truth = truth.assign(**{ID: truth[ID].astype(str), DAY: truth[DAY].astype("int32")})
        merged = truth.merge(forecast.assign(**{ID: forecast[ID].astype(str)}), on=[ID, DAY], how="inner")
        if merged.empty:
            raise DataError("no series of the data can be scored: each needs a history and a fitted group model")
        history = masked[masked[SALES].notna()]
        scale = _naive_scale_long(history)
        err = (merged[SALES].astype(float) - merged["forecast"].astype(float)) ** 2
        mse = err.groupby(merged[ID]).mean()
        rmsse = np.sqrt(mse / scale.reindex(mse.index).replace(0, np.nan))
        return -float(rmsse.dropna().mean())

    def __getstate__(self):
        state = self.__dict__.copy()
        state["client"] = None  # a live client cannot travel; it is yours, not the model's
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        return tags


def _naive_scale_long(history: pd.DataFrame) -> pd.Series:
    """M5's scale per series: mean squared day-to-day change from the first sale on."""
    ids = history[ID].astype(str).to_numpy()
    sales = history[SALES].to_numpy(dtype=float)
    started = pd.Series(sales > 0).groupby(ids).cummax().to_numpy()
    diffs = pd.Series(sales).groupby(ids).diff().to_numpy()
    started_prev = pd.Series(started).groupby(ids).shift(1, fill_value=False).to_numpy().astype(bool)
    sq = pd.Series(np.where(started_prev, diffs**2, np.nan))
    return sq.groupby(ids).mean()


def _record(res: dict, outcome) -> dict:
    return {
        "n_series": res["n_series"],
        "n_windows": res["n_windows"],
        "epochs": res["epochs"],
        "loss": res["loss"],
        "val_loss": res["val_loss"],
        "prepare_seconds": res["prepare_seconds"],
        "fit_seconds": res["fit_seconds"],
        "seconds": outcome.seconds,
        "attempts": outcome.attempts,
        "seed": res["seed"],
    }


def _report(records: dict[str, dict], parts: dict) -> pd.DataFrame:
    cols = ["group", "n_series", "n_windows", "epochs", "loss", "val_loss", "fit_seconds", "seconds", "attempts", "resumed"]
    rows = [{"group": name, **records[name]} for name in parts if name in records]
    frame = pd.DataFrame(rows, columns=None if rows else cols)
    for c in cols:
        if c not in frame:
            frame[c] = False if c == "resumed" else np.nan
    frame["resumed"] = frame["resumed"].fillna(False).astype(bool)
    return frame[cols]


def _order_like(forecast: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Sort a forecast by the order of the series in ``X``, then by day."""
    order = {name: i for i, name in enumerate(pd.unique(X[ID].astype(str)))}
    from m5kit._schema import day_number

    key_id = forecast[ID].astype(str).map(order)
    key_day = forecast[DAY].map(day_number)
    idx = np.lexsort((key_day.to_numpy(), key_id.to_numpy()))
    out = forecast.iloc[idx].reset_index(drop=True)
    out[ID] = out[ID].astype(str)
    return out


class _NoBar:
    def __enter__(self) -> Callable[[], None]:
        return lambda: None

    def __exit__(self, *exc):
        return False


class _RichBar:
    def __init__(self, total: int, done: int, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(label, total=total, completed=done)

    def __enter__(self):
        self._progress.start()
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc):
        self._progress.stop()
        return False


def _progress_bar(show: bool, total: int, done: int, label: str):
    return _RichBar(total, done, label) if show else _NoBar()

