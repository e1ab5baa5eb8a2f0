"""Forecast tables: the tidy forecast frame and M5's submission format.

A *tidy forecast* has one row per series and day: ``id``, ``d`` (``"d_1914"``,
...; day numbers are accepted too) and ``forecast`` (float). Every series
covers the same consecutive days.

An *M5 submission* has one row per series: ``id, F1 ... F28``, ``F1`` being the
first forecast day.

Examples
--------
>>> import pandas as pd
>>> tidy = pd.DataFrame({"id": ["a", "a", "b", "b"], "d": ["d_5", "d_6", "d_5", "d_6"],
...                      "forecast": [1.0, 2.0, 3.0, 4.0]})
>>> sub = to_submission(tidy, horizon=2)
>>> sub.to_dict("list")
{'id': ['a', 'b'], 'F1': [1.0, 3.0], 'F2': [2.0, 4.0]}
>>> from_submission(sub, first_day="d_5").equals(tidy)
True
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from m5kit import _checks
from m5kit._checks import _as_int, whole
from m5kit._schema import DAY, DAY_PREFIX, HORIZON, ID, day_name
from m5kit.errors import DataError

__all__ = ["FORECAST", "from_submission", "mean_forecast", "order_like", "to_submission"]

#: Column of the forecast values in a tidy forecast frame.
FORECAST = "forecast"

_DAY_RE = re.compile(rf"^{DAY_PREFIX}(\d+)$")
_F_RE = re.compile(r"^F(\d+)$")


def _day_numbers(values: pd.Series, what: str) -> np.ndarray:
    """Day numbers (int64) of a column holding ``"d_1914"`` strings or integers."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64)
        if np.isfinite(arr).all() and (arr == np.round(arr)).all():
            return arr.astype(np.int64)
        raise DataError(f"{what} column {DAY!r} holds non-integer day numbers: use 'd_1914' names or whole numbers")
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    numbers = np.empty(len(uniques), dtype=np.int64)
    for i, name in enumerate(uniques):
        name = str(name)
        match = _DAY_RE.match(name)
        if match is None:
            raise DataError(f"{what} column {DAY!r} holds {name!r}: days must be named like 'd_1914'")
        numbers[i] = int(match.group(1))
    return numbers[codes]


def _forecast_matrix(
    forecast: pd.DataFrame, *, horizon: int | None = None, what: str = "forecast"
) -> tuple[np.ndarray, int, np.ndarray]:
    """Validate a tidy forecast and return ``(ids, first_day, values)``.

    ``ids`` are the series ids (object array, in order of first appearance),
    ``first_day`` the day number of the first forecast day and ``values`` a
    float64 array of shape ``(n_series, n_days)``.
    """
    if not isinstance(forecast, pd.DataFrame):
        raise DataError(f"{what} must be a DataFrame with columns id, d, forecast, got {type(forecast).__name__}")
    missing = [c for c in (ID, DAY, FORECAST) if c not in forecast.columns]
    if missing:
        raise DataError(f"{what} has no column {missing[0]!r}: a tidy forecast has columns id, d, forecast")
    if len(forecast) == 0:
        raise DataError(f"{what} is empty: it needs one row per series and forecast day")
    ids = forecast[ID].astype(str).to_numpy(dtype=object)
    days = _day_numbers(forecast[DAY], what)
    try:
        values = pd.to_numeric(forecast[FORECAST], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what} column {FORECAST!r} is not numeric: it must hold the forecast units") from None
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{what} has {int(bad.sum())} NaN or infinite values (first: id {ids[i]!r}, {day_name(days[i])}): "
            "every series needs a finite forecast for every day"
        )
    codes, series = pd.factorize(pd.Series(ids, dtype=object), sort=False)
    series = np.asarray(series, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    n = len(series)
    counts = np.bincount(codes, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, days)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, codes, days)
    dup = pd.DataFrame({"c": codes, "d": days}).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"{what} has two rows for id {ids[i]!r} and {day_name(days[i])}: keep one row per series and day")
    # No duplicates: the days of a series are consecutive iff last - first + 1 == count.
    gap = np.flatnonzero(last - first + 1 != counts)
    if gap.size:
        raise DataError(f"{what} days of id {series[gap[0]]!r} are not consecutive: forecast every day of the horizon")
    h = int(counts[0])
    other = np.flatnonzero((first != first[0]) | (counts != h))
    if other.size:
        j = int(other[0])
        raise DataError(
            f"{what} covers {day_name(first[j])}..{day_name(last[j])} for id {series[j]!r} but "
            f"{day_name(first[0])}..{day_name(last[0])} for id {series[0]!r}: every series needs the same days"
        )
    if horizon is not None and h != horizon:
        raise DataError(f"{what} has {h} days per series ({day_name(first[0])}..{day_name(last[0])}), expected {horizon}: "
                        f"forecast {horizon} days, or pass horizon={h} (a make_pipeline(horizon={h}) forecast, say)")
    matrix = np.empty((n, h), dtype=np.float64)
    matrix[codes, days - first[0]] = values
    return series, int(first[0]), matrix


def to_submission(forecast: pd.DataFrame, sales: pd.DataFrame | None = None, *, horizon: int | None = HORIZON) -> pd.DataFrame:
    """Turn a tidy forecast into M5's submission table ``id, F1 ... F28``.

    Parameters
    ----------
    forecast : DataFrame
        Tidy forecast: ``id``, ``d`` (``"d_1914"`` or day numbers), ``forecast``.
        Every series must cover the same consecutive days.
    sales : DataFrame, optional
        Wide sales table. When given, the rows follow its ``id`` order and the
        forecast must cover exactly its series. Otherwise rows follow the order
        in which the ids first appear in ``forecast``.
    horizon : int or None, default 28
        Number of days each series must have (``None``: any, as long as all
        series agree).

    Returns
    -------
    DataFrame
        ``id`` then ``F1 ... F<horizon>`` (float64), ``F1`` the first forecast day.

    Raises
    ------
    DataError
        Missing columns, NaN forecasts, duplicate or missing days, series
        with different days, ids that do not match ``sales``, or an id on two
        rows of ``sales``.
    ParamError
        ``horizon`` is neither None nor a whole number of at least 1.

    Examples
    --------
    >>> import pandas as pd
    >>> tidy = pd.DataFrame({"id": ["x"] * 28, "d": [f"d_{d}" for d in range(1914, 1942)],
    ...                      "forecast": range(28)})
    >>> sub = to_submission(tidy)
    >>> list(sub.columns[:3]), sub["F28"].tolist()
    (['id', 'F1', 'F2'], [27.0])
    """
    if horizon is not None:  # 0 or 'a' was blamed on the forecast ("expected a: forecast a days")
        horizon = whole(horizon, "horizon")
    ids, _, values = _forecast_matrix(forecast, horizon=horizon)
    if sales is not None:
        if ID not in getattr(sales, "columns", ()):
            raise DataError("sales has no column 'id': pass the wide M5 sales table")
        order = sales[ID].astype(str).to_numpy(dtype=object)
        twice = pd.Series(order).duplicated().to_numpy()
        if twice.any():  # the submission would hold that series' row twice
            raise DataError(f"sales has two rows for id {order[twice][0]!r}: keep one row per series")
        pos = pd.Index(ids).get_indexer(order)
        if (pos < 0).any():
            missing = order[pos < 0]
            raise DataError(f"forecast has no rows for id {missing[0]!r} ({missing.size} sales series missing)")
        if len(np.unique(pos)) < len(ids):
            extra = np.setdiff1d(ids, order)
            raise DataError(f"forecast id {extra[0]!r} is not in sales ({extra.size} unknown ids): forecast the sales series only")
        ids, values = order, values[pos]
    columns = [f"F{h}" for h in range(1, values.shape[1] + 1)]
    sub = pd.DataFrame(values, columns=columns)
    sub.insert(0, ID, ids)
    return sub


def from_submission(sub: pd.DataFrame, first_day: int | str) -> pd.DataFrame:
    """Turn an M5 submission table ``id, F1 ... Fh`` back into a tidy forecast.

    Parameters
    ----------
    sub : DataFrame
        ``id`` and ``F1 ... Fh`` (h >= 1, no gaps).
    first_day : int or str
        The day of ``F1``, as a number (``1914``) or name (``"d_1914"``).

    Returns
    -------
    DataFrame
        ``id``, ``d`` (``"d_1914"``, ...), ``forecast`` (float64), series in the
        submission's row order, days ascending.

    Raises
    ------
    DataError
        Missing ``id``, unknown or missing ``F`` columns, duplicate ids, NaN values.

    Examples
    --------
    >>> import pandas as pd
    >>> sub = pd.DataFrame({"id": ["x"], "F1": [1.0], "F2": [2.0]})
    >>> from_submission(sub, 1914)["d"].tolist()
    ['d_1914', 'd_1915']
    """
    if not isinstance(sub, pd.DataFrame) or ID not in sub.columns:
        raise DataError("submission has no column 'id': an M5 submission has columns id, F1 ... F28")
    if isinstance(first_day, str):
        match = _DAY_RE.match(first_day)
        if match is None:
            raise DataError(f"first_day {first_day!r} is not a day: use a number (1914) or a name ('d_1914')")
        first = int(match.group(1))
    else:
        first = _as_int(first_day)  # int() cut 1914.5 to 1914 and read True as 1
        if first is None:
            raise DataError(f"first_day {first_day!r} is not a day: use a number (1914) or a name ('d_1914')")
    if first < 1:
        raise DataError(f"first_day {first_day!r} must be 1 or later")
    steps = {}
    for col in sub.columns:
        if col == ID:
            continue
        match = _F_RE.match(str(col))
        if match is None:
            raise DataError(f"submission column {col!r} is neither 'id' nor F1 ... F28")
        steps[int(match.group(1))] = col
    h = len(steps)
    if h == 0 or sorted(steps) != list(range(1, h + 1)):
        raise DataError(f"submission columns must be F1 ... F<h> without gaps, got {sorted(steps)[:5]}...")
    ids = sub[ID].astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        raise DataError(f"submission has two rows for id {ids[np.flatnonzero(dup)[0]]!r}: keep one row per series")
    try:
        values = sub[[steps[k] for k in range(1, h + 1)]].apply(pd.to_numeric).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("submission columns F1 ... F<h> must be numeric") from None
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"submission has NaN or infinite values (first: id {ids[r]!r}, F{c + 1}): every value must be finite")
    return _tidy(ids, first, values)


def _tidy(ids: np.ndarray, first: int, values: np.ndarray) -> pd.DataFrame:
    """The tidy forecast of ``values`` (one row per series, one column per day from day ``first``)."""
    h = values.shape[1]
    return pd.DataFrame(
        {
            ID: np.repeat(ids, h),
            DAY: np.tile(np.array([day_name(first + k) for k in range(h)], dtype=object), len(ids)),
            FORECAST: values.reshape(-1),
        }
    )


def order_like(forecast: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Sort a tidy forecast by the order of the series in ``X``, then by day; ids as strings.

    Parameters
    ----------
    forecast : DataFrame
        Tidy forecast: ``id``, ``d`` (``"d_1914"`` names or day numbers) and
        its values.
    X : DataFrame
        Its ``id`` column gives the order of the series (first appearance).

    Returns
    -------
    DataFrame
        The rows of ``forecast`` reordered, index reset, ``id`` as strings.

    Raises
    ------
    DataError
        A day in ``d`` is neither a whole number nor named like ``"d_1914"``;
        ``forecast`` without ``id`` or ``d``, or ``X`` without ``id``.

    Examples
    --------
    >>> tidy = pd.DataFrame({"id": ["b", "a", "a"], "d": ["d_5", "d_6", "d_5"], "forecast": [3.0, 2.0, 1.0]})
    >>> order_like(tidy, pd.DataFrame({"id": ["a", "b"]}))["forecast"].tolist()
    [1.0, 2.0, 3.0]
    """
    if not isinstance(forecast, pd.DataFrame):  # a bare KeyError or TypeError
        raise DataError(f"forecast must be a tidy forecast (a DataFrame with columns id, d and its values), "
                        f"got {type(forecast).__name__}")
    missing = [c for c in (ID, DAY) if c not in forecast.columns]
    if missing:
        raise DataError(f"forecast has no column {missing[0]!r}: a tidy forecast has columns id, d and its values")
    if ID not in getattr(X, "columns", ()):
        raise DataError("X has no column 'id': pass the frame whose id column gives the order of the series")
    order = {name: i for i, name in enumerate(pd.unique(X[ID].astype(str)))}
    key_id = forecast[ID].astype(str).map(order).to_numpy()
    key_day = _day_numbers(forecast[DAY], "forecast")
    out = forecast.iloc[np.lexsort((key_day, key_id))].reset_index(drop=True)
    out[ID] = out[ID].astype(str)
    return out


def mean_forecast(forecasts, weights=None) -> pd.DataFrame:
    """Average tidy forecasts of the same series and days, as the M5 winners averaged models.

    Each forecast may come from another model, strategy or training level
    (e.g. LightGBM per store and per store and department: on the real store
    CA_1 their mean was 14.3% below AutoETS over four 28-day windows, each
    model alone 9.4% and 11.3%; benchmarks/RESULTS.md "Two levels averaged").

    Parameters
    ----------
    forecasts : sequence of DataFrame
        Tidy forecasts (``id``, ``d``, ``forecast``), at least one, all of
        the same series and days, in any row order.
    weights : sequence of float, optional
        One weight >= 0 per forecast (not all 0); by default equal weights.

    Returns
    -------
    DataFrame
        ``id``, ``d`` (``"d_1914"``, ...), ``forecast`` (float64): the
        weighted mean, series in the order of the first forecast, days
        ascending.

    Raises
    ------
    DataError
        No forecast, a forecast that is not a valid tidy forecast, or
        forecasts of different series or days.
    ParamError
        Weights of the wrong count, negative, not finite or all 0, or given
        as one text ("3,1", not [3, 1]).

    Examples
    --------
    >>> a = pd.DataFrame({"id": ["x", "x"], "d": ["d_5", "d_6"], "forecast": [1.0, 2.0]})
    >>> b = pd.DataFrame({"id": ["x", "x"], "d": ["d_6", "d_5"], "forecast": [4.0, 3.0]})
    >>> mean_forecast([a, b])["forecast"].tolist()
    [2.0, 3.0]
    >>> mean_forecast([a, b], weights=[3, 1])["forecast"].tolist()
    [1.5, 2.5]
    """
    if isinstance(forecasts, pd.DataFrame) or not isinstance(forecasts, (list, tuple)) or not forecasts:
        raise DataError("mean_forecast takes a non-empty list of tidy forecasts (id, d, forecast)")
    w = _checks.weights(weights, len(forecasts), "forecast", "forecast(s)")
    ids, first, total = _forecast_matrix(forecasts[0], horizon=None, what="forecast 1")
    total = total * w[0]
    for k, frame in enumerate(forecasts[1:], start=2):
        other_ids, other_first, values = _forecast_matrix(frame, horizon=None, what=f"forecast {k}")
        if other_first != first or values.shape[1] != total.shape[1]:
            raise DataError(f"forecast {k} covers {day_name(other_first)}..{day_name(other_first + values.shape[1] - 1)}, "
                            f"forecast 1 {day_name(first)}..{day_name(first + total.shape[1] - 1)}: average forecasts "
                            "of the same days")
        pos = pd.Index(other_ids).get_indexer(ids)
        if (pos < 0).any() or len(other_ids) != len(ids):
            missing = ids[pos < 0] if (pos < 0).any() else np.setdiff1d(other_ids, ids)
            raise DataError(f"forecast {k} and forecast 1 differ in their series (e.g. {missing[0]!r}): average "
                            "forecasts of the same series")
        total = total + w[k - 1] * values[pos]
    return _tidy(ids, first, total / w.sum())
