"""Simple benchmark forecasters of M5, to judge the deep models against.

Each takes the wide M5 sales table and returns a tidy forecast frame
(``id``, ``d``, ``forecast``) of the ``horizon`` days after the last training
day, series in the order of ``sales``, days ascending.

Examples
--------
>>> import pandas as pd
>>> sales = pd.DataFrame({"id": ["x"], "item_id": ["A"], "dept_id": ["D"], "cat_id": ["C"],
...                       "store_id": ["S"], "state_id": ["X"], "d_1": [1], "d_2": [3]})
>>> naive(sales, horizon=2).to_dict("list")
{'id': ['x', 'x'], 'd': ['d_3', 'd_4'], 'forecast': [3.0, 3.0]}
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from m5kit._checks import consecutive_days, first_bad_sale
from m5kit._schema import DAY, HORIZON, ID, day_columns, day_name, day_number
from m5kit.errors import DataError
from m5kit.forecasting.submission import FORECAST

__all__ = ["naive", "seasonal_naive", "moving_average", "BASELINES"]


def _history(sales: pd.DataFrame, need: int, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Ids, the last ``need`` days (float64) and the last day number of a wide table."""
    if not isinstance(sales, pd.DataFrame) or ID not in sales.columns:
        raise DataError("sales has no column 'id': pass the wide M5 sales table (id, ..., d_1 ... d_N)")
    days = day_columns(sales.columns)
    if not days:
        raise DataError("sales has no day columns d_1 ...: pass the wide M5 sales table")
    consecutive_days(days, "sales")  # else the last column would not be the last day (the forecast named days of the history)
    if len(sales) == 0:
        raise DataError("sales has no rows")
    if need > len(days):
        raise DataError(f"{what} needs the last {need} days but sales has only {len(days)}")
    try:
        values = sales[days[-need:]].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("sales day columns must be numeric unit sales") from None
    if np.isnan(values).any():
        r = int(np.argwhere(np.isnan(values))[0][0])
        raise DataError(f"sales has missing values in the last {need} days (id {str(sales[ID].iloc[r])!r}): fill them with 0")
    found = first_bad_sale(values)  # forecast as they are (CalendarMerger and the WRMSSE refuse them)
    if found:
        (r, c), kind = found
        raise DataError(f"sales has {kind} sales {values[r, c]:g} (id {str(sales[ID].iloc[r])!r}, {days[c - need]}): "
                        "sales are unit counts >= 0")
    return sales[ID].astype(str).to_numpy(dtype=object), values, day_number(days[-1])


def _check_positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number of days >= 1, got {value!r}")
    return int(value)


def _tidy(ids: np.ndarray, last_day: int, values: np.ndarray) -> pd.DataFrame:
    """Tidy forecast of the days after ``last_day`` from an (n, horizon) array."""
    n, h = values.shape
    names = np.array([day_name(last_day + k) for k in range(1, h + 1)], dtype=object)
    return pd.DataFrame({ID: np.repeat(ids, h), DAY: np.tile(names, n), FORECAST: values.reshape(-1)})


def naive(sales: pd.DataFrame, horizon: int = HORIZON) -> pd.DataFrame:
    """Forecast every day with the last training day's sales.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table (``id``, ..., ``d_1 ... d_N``).
    horizon : int, default 28
        Number of days after ``d_N`` to forecast.

    Returns
    -------
    DataFrame
        Tidy forecast ``id``, ``d`` (``d_<N+1>`` ...), ``forecast`` (float64).

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"id": ["x"], "d_1": [4], "d_2": [2]})
    >>> naive(sales, horizon=3)["forecast"].tolist()
    [2.0, 2.0, 2.0]
    """
    horizon = _check_positive("horizon", horizon)
    ids, values, last = _history(sales, 1, "naive")
    return _tidy(ids, last, np.repeat(values, horizon, axis=1))


def seasonal_naive(sales: pd.DataFrame, horizon: int = HORIZON, season: int = 7) -> pd.DataFrame:
    """Forecast each day with the sales of the same day in the last season.

    Day ``N + k`` gets the sales of day ``N - season + 1 + (k - 1) % season``:
    the last week, repeated.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table.
    horizon : int, default 28
        Number of days to forecast.
    season : int, default 7
        Season length in days.

    Returns
    -------
    DataFrame
        Tidy forecast ``id``, ``d``, ``forecast``.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"id": ["x"], "d_1": [9], "d_2": [1], "d_3": [2]})
    >>> seasonal_naive(sales, horizon=5, season=2)["forecast"].tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    horizon = _check_positive("horizon", horizon)
    season = _check_positive("season", season)
    ids, values, last = _history(sales, season, "seasonal_naive")
    return _tidy(ids, last, values[:, np.arange(horizon) % season])


def moving_average(sales: pd.DataFrame, horizon: int = HORIZON, window: int = 28) -> pd.DataFrame:
    """Forecast every day with the mean sales of the last ``window`` days.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table.
    horizon : int, default 28
        Days to forecast after the last training day.
    window : int, default 28
        Number of last training days averaged.

    Returns
    -------
    DataFrame
        Tidy forecast, as :func:`naive` returns it.

    Examples
    --------
    >>> two_days = pd.DataFrame({"id": ["y"], "d_1": [3], "d_2": [6]})
    >>> moving_average(two_days, horizon=2, window=2)["forecast"].tolist()
    [4.5, 4.5]
    """
    horizon = _check_positive("horizon", horizon)
    window = _check_positive("window", window)
    ids, values, last = _history(sales, window, "moving_average")
    return _tidy(ids, last, np.repeat(values.mean(axis=1, keepdims=True), horizon, axis=1))


#: The baselines by display name, each ``f(sales, horizon=28) -> tidy forecast``.
BASELINES: dict[str, Callable[..., pd.DataFrame]] = {
    "Naive": naive,
    "Seasonal naive": seasonal_naive,
    "Moving average (28)": moving_average,
}
