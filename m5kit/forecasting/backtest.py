"""Backtests on a long frame: hide each series' last known days, forecast them, score with M5's RMSSE.

The scoring uses :mod:`m5kit.metrics`' building blocks (:func:`~m5kit.metrics.naive_scale`
and :func:`~m5kit.metrics.rmsse`), so a backtest score is the same RMSSE that
WRMSSE averages.

Examples
--------
>>> import pandas as pd
>>> X = pd.DataFrame({"id": ["a"] * 5, "d": [1, 2, 3, 4, 5], "sales": [0.0, 2.0, 4.0, 2.0, 4.0]})
>>> masked, truth = hide_last_days(X, horizon=2)
>>> masked["sales"].tolist()
[0.0, 2.0, 4.0, nan, nan]
>>> forecast = pd.DataFrame({"id": ["a", "a"], "d": ["d_4", "d_5"], "forecast": [4.0, 4.0]})
>>> mean_rmsse(truth, forecast, masked)     # sqrt(mean([4, 0]) / naive scale 4)
0.7071067811865476
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from m5kit._checks import whole
from m5kit._schema import DAY, ID, SALES
from m5kit.errors import DataError
from m5kit.forecasting.submission import FORECAST, _day_numbers

__all__ = ["hide_last_days", "mean_rmsse"]


def hide_last_days(X: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide the last ``horizon`` known sales of each series.

    Parameters
    ----------
    X : DataFrame
        A long frame (``id``, ``d`` day numbers, ``sales``; NaN sales are future days).
    horizon : int
        Days to hide at the end of each series' known sales.

    Returns
    -------
    masked : DataFrame
        ``X`` up to each series' last known day, with the hidden sales set to NaN
        (its other columns, such as calendar and prices, kept).
    truth : DataFrame
        The hidden rows: ``id``, ``d``, ``sales``.

    Raises
    ------
    ParamError
        ``horizon`` is not a whole number of at least 1.
    DataError
        ``X`` lacks ``id``, ``d`` or ``sales``, or its ``d`` are not day numbers.
    """
    horizon = whole(horizon, "horizon")  # 0 and -1 hid nothing without a word; 'a' was numpy's bare UFuncTypeError
    if not isinstance(X, pd.DataFrame) or any(c not in X.columns for c in (ID, DAY, SALES)):
        raise DataError("hide_last_days needs a long frame with columns id, d (day numbers) and sales")
    if not pd.api.types.is_integer_dtype(X[DAY].dtype):
        raise DataError(f"column {DAY!r} must hold day numbers (1 for d_1), got {X[DAY].iloc[0]!r}" if len(X) else
                        f"column {DAY!r} must hold day numbers (1 for d_1)")
    known = X[SALES].notna().to_numpy()
    days = X[DAY].to_numpy()
    last_known = pd.Series(np.where(known, days, -1)).groupby(X[ID].to_numpy(), observed=True).transform("max").to_numpy()
    hide = known & (days > last_known - horizon)
    truth = X.loc[hide, [ID, DAY, SALES]]
    masked = X.copy()
    masked.loc[hide, SALES] = np.nan
    return masked[days <= last_known], truth


def mean_rmsse(truth: pd.DataFrame, forecast: pd.DataFrame, history: pd.DataFrame) -> float:
    """Mean RMSSE over the series that have a forecast, a truth and a non-zero scale.

    Parameters
    ----------
    truth : DataFrame
        ``id``, ``d`` (day numbers), ``sales``: the true values.
    forecast : DataFrame
        Tidy forecast: ``id``, ``d`` (``"d_1914"`` ... or day numbers), ``forecast``.
    history : DataFrame
        ``id``, ``d``, ``sales`` before the forecast days (NaN sales are left out):
        each series' scale (:func:`~m5kit.metrics.naive_scale`).

    Returns
    -------
    float

    Raises
    ------
    DataError
        If no series has both a truth and a forecast, and a history whose
        sales change (a naive scale above 0); a frame without its columns.
    """
    from m5kit.metrics import (  # metrics imports this package: not at module level
        naive_scale,
        rmsse,
    )

    for name, frame, value in (("truth", truth, SALES), ("forecast", forecast, FORECAST), ("history", history, SALES)):
        said = f"id, d (day numbers) and {value}" if name != "forecast" else "id, d and forecast"
        if not isinstance(frame, pd.DataFrame):  # a bare AttributeError
            raise DataError(f"{name} must be a DataFrame with columns {said}, got {type(frame).__name__}")
        missing = [c for c in (ID, DAY, value) if c not in frame.columns]
        if missing:  # a bare KeyError
            raise DataError(f"{name} has no column {missing[0]!r}: mean_rmsse needs {name} with columns {said}")

    # "d_1914" names or day numbers, as every tidy forecast (a number went through the name parser: 1914 became day 14)
    forecast = forecast.assign(**{ID: forecast[ID].astype(str), DAY: _day_numbers(forecast[DAY], "forecast").astype("int32")})
    truth = truth.assign(**{ID: truth[ID].astype(str), DAY: truth[DAY].astype("int32")})
    merged = truth.merge(forecast, on=[ID, DAY], how="inner")
    if merged.empty:
        raise DataError("no series of the data can be scored: each needs a history and a fitted group model")
    history = history[history[SALES].notna()]
    scales = [pd.Series(naive_scale(values), index=names)
              for names, (values,) in _series_blocks(history[ID].astype(str), history[DAY], history[SALES])]
    scale = pd.concat(scales) if scales else pd.Series(dtype=np.float64)
    scores = []
    for names, (true, pred) in _series_blocks(merged[ID], merged[DAY], merged[SALES], merged[FORECAST]):
        scores.append(rmsse(true, pred, scale.reindex(names).replace(0, np.nan).to_numpy()))
    scored = pd.Series(np.concatenate(scores)).dropna()
    if scored.empty:  # the mean of nothing was NaN, without a word
        raise DataError("no series of the data can be scored: each needs a history before the forecast days with "
                        "sales that change from one day to the next (M5's naive scale above 0)")
    return float(scored.mean())


def _series_blocks(ids, days, *columns):
    """Yield ``(names, arrays)`` per block of series of equal length: each array (n_series, length), days ascending."""
    codes, names = pd.factorize(np.asarray(ids, dtype=object))
    order = np.lexsort((np.asarray(days), codes))
    counts = np.bincount(codes, minlength=len(names))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    values = [np.asarray(column, dtype=np.float64)[order] for column in columns]
    for length in np.unique(counts):
        which = np.flatnonzero(counts == length)
        rows = starts[which][:, None] + np.arange(length)
        yield np.asarray(names)[which], [v[rows] for v in values]
