"""The work sent to Dask workers: module-level functions with plain arguments.

:func:`fit_group` fits one group's windower (any object with the windower
protocol, see :class:`~m5kit.grouped.GroupedEstimator`) and estimator;
:func:`forecast_group` forecasts one group with them. Both run unchanged in
this process, on a Dask worker, or in a joblib / process pool (the benchmarks
call :func:`fit_group` there with the same seeds to get the same models).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
from sklearn.base import clone

from m5kit._schema import ID
from m5kit.errors import DataError
from m5kit.execution.threads import limit_threads

__all__ = ["fit_group", "forecast_group", "frame_token"]


def fit_group(frame: pd.DataFrame, windower, estimator, seed: int | None, log_dir: str | None,
              horizon: int | None = None) -> dict:
    """Fit a fresh clone of ``windower`` and ``estimator`` on one group's rows.

    ``random_state`` (to ``seed``) and ``log_dir`` are set only on an
    estimator that has them. With ``horizon``, also forecast the group's
    future rows (when the frame has them) while its model is at hand: a
    ``predict`` on the same rows then needs no second trip to the workers.

    Parameters
    ----------
    frame : DataFrame
        One group's long rows.
    windower : windower
        Unfitted template: ``fit(frame)``, ``make_training_data(frame) -> (X, y)``,
        ``recursive_predict(frame, estimator, horizon=)``; raises
        :class:`~m5kit.errors.GroupError` when the group has no training rows.
    estimator : estimator
        Unfitted template, cloned here.
    seed : int or None
        The group's seed (see :func:`~m5kit.grouped.group_seed`).
    log_dir : str or None
        The group's log folder.
    horizon : int, optional
        Days to forecast at once.

    Returns
    -------
    dict
        ``windower``, ``estimator`` (fitted), ``forecast`` (or None),
        ``frame_token``, and report fields: ``n_series``, ``n_windows``,
        ``epochs``, ``loss``, ``val_loss``, ``prepare_seconds``,
        ``fit_seconds``, ``seed``.

    Examples
    --------
    >>> from m5kit import make_m5, CalendarMerger, LevelAggregator, CNNLSTMRegressor, Windower
    >>> data = make_m5(n_items=2, n_stores=2, n_days=60)
    >>> features = LevelAggregator(3).fit_transform(CalendarMerger(data.calendar).fit_transform(data.sales))
    >>> rows = features[features["group"] == "CA_1"]
    >>> model = CNNLSTMRegressor(epochs=1, model__conv_filters=4, model__lstm_units=4)
    >>> result = fit_group(rows, Windower(window=14), model, 0, None, horizon=28)
    >>> result["n_series"], result["epochs"], len(result["forecast"])
    (2, 1, 56)
    """
    from m5kit.execution.cluster import private_dask_random

    limit_threads()
    private_dask_random()  # seeded fits are reproducible on workers too
    start = time.perf_counter()
    win = clone(windower, safe=False).fit(frame)  # a windower of the protocol need not be an estimator (a deep copy)
    X, y = win.make_training_data(frame)
    est = clone(estimator)
    params = est.get_params(deep=False)
    updates = {}
    if "random_state" in params:
        updates["random_state"] = seed
    if log_dir is not None and "log_dir" in params:
        updates["log_dir"] = log_dir
    if y is not None and not np.any(y):  # nothing sold in the training rows: a log-link objective cannot fit that
        from m5kit.models.gbm import for_zero_targets

        updates.update(for_zero_targets(est))
    est.set_params(**updates)
    prep = time.perf_counter()
    est.fit(X, y)
    done = time.perf_counter()
    if isinstance(X, list):  # a blend's BlendData: its members' tables were made as the fit reached them
        prep += getattr(X, "prepare_seconds", 0.0)
    forecast = None
    if horizon is not None:
        try:
            forecast = win.recursive_predict(frame, est, horizon=int(horizon))
        except DataError:  # rows without the future days: predict says what is missing, if it is called
            forecast = None
    history = getattr(est, "history_", None) or {}
    findings = list(getattr(est, "monitor_", None) or [])
    if forecast is not None:
        findings += _flat_forecast(frame, forecast)
    return {
        "forecast": forecast,
        "frame_token": None if forecast is None else frame_token(frame),
        "windower": win,
        "estimator": est,
        "n_series": int(frame[ID].nunique()),
        "n_windows": len(X),
        "epochs": len(history.get("loss", [])),
        "loss": _last(history.get("loss")),
        "val_loss": _best(history.get("val_loss")),
        "prepare_seconds": prep - start,
        "fit_seconds": done - prep,
        "seed": seed,
        "history": {k: [float(v) for v in history[k]] for k in ("loss", "val_loss") if k in history},
        "monitor": findings,
        "worker": _worker_address(),
    }


def _worker_address() -> str | None:
    """The Dask worker running this task, or None in a plain process (the report's busy time per worker)."""
    import sys

    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return str(distributed.get_worker().address)
    except ValueError:  # not on a worker
        return None


def _flat_forecast(frame: pd.DataFrame, forecast: pd.DataFrame) -> list[dict]:
    """The monitor's ``constant_forecast`` rule on a group's forecast against its last 8 weeks."""
    from m5kit._schema import DAY, SALES
    from m5kit.monitor import check_forecast

    known = frame[frame[SALES].notna()]
    recent = known[known[DAY] > known[DAY].max() - 56]
    history = recent.pivot_table(index=ID, columns=DAY, values=SALES, observed=True).to_numpy(float)
    ahead = forecast.pivot_table(index=ID, columns="d", values="forecast", observed=True).to_numpy(float)
    finding = check_forecast(history, ahead) if len(history) == len(ahead) else None
    return [finding] if finding else []


def forecast_group(payload: tuple, horizon: int) -> pd.DataFrame:
    """Forecast ``horizon`` days of every series of one group, recursively.

    ``payload`` is ``(frame, windower, estimator)``: the group's rows and its
    fitted model travel together as the task's scattered data, once, instead
    of inside the task graph.

    Parameters
    ----------
    payload : tuple
        ``(frame, windower, estimator)``: the group's long frame (history and
        future rows), its fitted :class:`~m5kit.transformers.Windower` and
        the regressor fitted on its windows.
    horizon : int
        Days to forecast.

    Returns
    -------
    DataFrame
        ``id``, ``d`` and ``forecast``, one row per series and day (see
        :meth:`~m5kit.transformers.Windower.recursive_predict`).

    Raises
    ------
    DataError
        The frame lacks history or future rows.
    """
    limit_threads()
    frame, windower, estimator = payload
    return windower.recursive_predict(frame, estimator, horizon=horizon)


def frame_token(frame: pd.DataFrame) -> str:
    """A digest of a group's rows (columns, dtypes and values): same token, same forecast inputs."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _last(values) -> float | None:
    return float(values[-1]) if values else None


def _best(values) -> float | None:
    return float(np.nanmin(values)) if values else None
