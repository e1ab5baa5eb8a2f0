"""M5's accuracy metric: the Weighted Root Mean Squared Scaled Error (WRMSSE).

The definition is the official one of the M5 competition:

* Every bottom series (item x store) is summed up to the series of the 12
  levels of :mod:`m5kit.hierarchy` (42,840 series for the full data).
* Each series gets an RMSSE: the root of the mean squared forecast error over
  the horizon, divided by the mean squared one-step naive error of its
  training history, counted from the series' first non-zero sale on
  (:func:`naive_scale`).
* Each series gets a weight: its dollar sales (units x sell price) over the
  last 28 training days, normalised so that each level's weights sum to 1
  (:func:`dollar_weights`).
* WRMSSE = sum over the 12 levels of sum over the level's series of
  weight x RMSSE, divided by 12.

Series whose scale is zero or undefined (no sale at all, a single day of
history after the first sale, or a constant history) cannot be scaled. If their
weight is 0 (no dollar sales in the last 28 days) they contribute 0, exactly as
in M5. If their weight is positive, :class:`WRMSSEEvaluator` raises a
:class:`~m5kit.errors.DataError` naming the series (the real M5 data has none),
or, with ``on_zero_scale="skip"``, leaves them out (they contribute 0 and a
warning is logged).

Examples
--------
>>> from m5kit.metrics import naive_scale, rmsse
>>> naive_scale([[0, 0, 3, 1, 1]])      # diffs after the first sale: -2, 0
array([2.])
>>> rmsse([[1.0, 3.0]], [[2.0, 2.0]], scale=[4.0])
array([0.5])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse

from m5kit._checks import _as_int, choice, consecutive_days, day_numbers, first_bad_sale, first_missing
from m5kit._schema import DAY_PREFIX, HORIZON, ID, ID_COLS, ITEM, STORE, WEEK, day_columns, day_name, day_number
from m5kit.errors import DataError, ParamError
from m5kit.forecasting.submission import FORECAST, _forecast_matrix, from_submission
from m5kit.hierarchy import LEVELS, _as_levels, group_names

__all__ = [
    "rmsse",
    "naive_scale",
    "dollar_weights",
    "aggregate_levels",
    "WRMSSEEvaluator",
    "wrmsse",
]

logger = logging.getLogger(__name__)

#: Values (days x series) processed at once when computing scales and sums (bounds memory).
_BLOCK = 1 << 21


# --- building blocks ---------------------------------------------------------


def rmsse(y_true, y_pred, scale) -> np.ndarray:
    """Root Mean Squared Scaled Error of each series.

    ``sqrt(mean_h (y_true - y_pred)**2 / scale)``, computed in float64.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_series, horizon) or (horizon,)
        True and forecast values over the horizon.
    scale : array-like of shape (n_series,) or scalar
        Each series' :func:`naive_scale`.

    Returns
    -------
    ndarray of shape (n_series,) (a 0-d array for 1-D input)
        ``inf`` where ``scale`` is 0 and the error is not, ``nan`` where both are 0
        or the scale is NaN.

    Examples
    --------
    >>> rmsse([[2.0, 2.0], [1.0, 1.0]], [[3.0, 1.0], [1.0, 1.0]], [4.0, 1.0])
    array([0.5, 0. ])
    """
    y_true = _numbers(y_true, "y_true", "series x horizon")
    y_pred = _numbers(y_pred, "y_pred", "series x horizon")
    scale = _numbers(scale, "scale", "each series' naive_scale")
    if y_true.shape != y_pred.shape:
        raise DataError(f"y_true has shape {y_true.shape} but y_pred {y_pred.shape}: give both for the same series and days")
    mse = np.mean((y_true - y_pred) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(mse / scale)


def _numbers(value, name: str, what: str) -> np.ndarray:
    """``value`` as a float64 array; a DataError naming ``name`` when it holds text or ragged rows (NumPy's bare
    ValueError)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        got = repr(value) if isinstance(value, str) else type(value).__name__
        raise DataError(f"{name} must hold numbers ({what}), got {got}") from None


def naive_scale(history) -> np.ndarray:
    """M5's scale of each series: mean squared one-step naive error.

    The history of each series is taken from its first non-zero value on;
    the scale is the mean of ``(y_t - y_{t-1})**2`` over that part.

    Parameters
    ----------
    history : array-like of shape (n_series, n_days) or (n_days,), or DataFrame
        Training sales, oldest day first. A DataFrame's ``d_*`` columns are
        used when it has any (a wide M5 sales table), else all its columns.

    Returns
    -------
    ndarray of float64, shape (n_series,)
        NaN for a series that never sells or first sells on its last day
        (no one-step difference to average).

    Raises
    ------
    DataError
        ``history`` does not hold numbers, or is not 1-D or 2-D.

    Examples
    --------
    >>> naive_scale([[0, 0, 3, 1, 1], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
    array([ 2.,  1., nan])
    """
    if isinstance(history, pd.DataFrame):
        cols = day_columns(history.columns)
        if cols:  # a pivot sorts them as text (d_1, d_10, d_2): the steps would join days far apart
            consecutive_days(cols, "history")
        cols = cols or list(history.columns)
        try:
            values = history[cols].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):  # a text column: NumPy's bare ValueError
            bad = next((c for c in cols if not pd.api.types.is_numeric_dtype(history[c])), cols[0])
            fix = "give unit sales (numbers)" if day_columns([bad]) else "pass the sales values (d_1, d_2, ... columns) only"
            raise DataError(f"history column {bad!r} is not numeric: {fix}") from None
    else:
        values = _numbers(history, "history", "unit sales, series x days")
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2:
        raise DataError(f"history must be 2-D (series x days), got {values.ndim} dimensions")
    return _scales(values.T)


def _scales(values_t: np.ndarray) -> np.ndarray:
    """Naive scale of each column of a C-ordered (days x series) float array.

    Reads the array in blocks of whole days (contiguous memory). Before a
    series' first sale every one-step difference is 0 - 0 = 0 except the
    step *into* the first sale; zeroing that one difference and dividing by
    the number of steps after the first sale gives exactly the trimmed mean.
    """
    t, m = values_t.shape
    if t < 2:
        return np.full(m, np.nan)
    rows = max(1, _BLOCK // max(m, 1))
    first = np.full(m, t, dtype=np.int64)          # t: never sold
    for start in range(0, t, rows):
        nonzero = values_t[start : start + rows] != 0
        hit = np.flatnonzero(nonzero.any(axis=0) & (first == t))
        if hit.size:
            first[hit] = start + nonzero[:, hit].argmax(axis=0)
    total = np.zeros(m)
    for start in range(0, t - 1, rows):
        diff = np.diff(values_t[start : start + rows + 1], axis=0)   # diff[j] = y[start+j+1] - y[start+j]
        np.square(diff, out=diff)
        step = first - 1 - start                    # local index of the step into the first sale
        cols = np.flatnonzero((step >= 0) & (step < diff.shape[0]))
        diff[step[cols], cols] = 0.0
        total += diff.sum(axis=0)
    count = (t - 1) - first
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _day_major(frame: pd.DataFrame, days: list[str], what: str) -> np.ndarray:
    """The ``days`` columns of a wide table as a C-ordered (days x series) float64 array.

    pandas stores a wide table's columns as the rows of a block, so this
    orientation is read without the slow transposing copy of ``to_numpy``.
    """
    try:
        block = frame[days]
        # nullable (Int64, Float64) columns: pd.NA is a missing value, named below (it was 'must be numeric')
        nullable = any(isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in set(block.dtypes))
        raw = (block.to_numpy(dtype=np.float64, na_value=np.nan) if nullable else block.to_numpy()).T
        values = np.ascontiguousarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what} day columns must be numeric unit sales") from None
    if raw.dtype.kind not in "iub":
        bad = ~np.isfinite(values)
        if bad.any():
            d, r = np.argwhere(bad)[0]
            raise DataError(
                f"{what} has {int(bad.sum())} missing values (first: id {str(frame[ID].iloc[r])!r}, {days[d]}): fill them with 0"
            )
    _refuse_negative(values, lambda d, r: (frame[ID].iloc[r], days[d]), what)
    return values


def _refuse_negative(values: np.ndarray, where, what: str) -> None:
    """A DataError for a negative (or infinite) sale: it would weigh or score as one; ``where(*position)`` gives its
    (id, day)."""
    found = first_bad_sale(values)
    if found:
        position, kind = found
        ident, day = where(*position)
        raise DataError(f"{what} has a{'n' if kind == 'infinite' else ''} {kind} sale {values[position]:g} "
                        f"(id {str(ident)!r}, {day}): sales are unit counts >= 0")


def _check_ids(sales: pd.DataFrame) -> None:
    """A DataError for a missing id (it was a group named 'nan' under pandas 2, a bare ValueError under pandas 3)."""
    found = first_missing(sales, [c for c in ID_COLS if c in sales.columns])
    if found:
        raise DataError(f"sales column {found[0]!r} is missing in row {found[1]}: every series needs its ids")


def _check_sales(sales: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Validate a wide M5 sales table; return its day columns and (days x series) float64 values."""
    if not isinstance(sales, pd.DataFrame):
        raise DataError(f"sales must be the wide M5 sales table (a DataFrame), got {type(sales).__name__}")
    missing = [c for c in ID_COLS if c not in sales.columns]
    if missing:
        raise DataError(f"sales has no column {missing[0]!r}: pass the wide M5 sales table (id, item_id, ..., d_1 ...)")
    days = day_columns(sales.columns)
    if len(days) < 2:
        raise DataError("sales has fewer than 2 day columns d_1 ...: the metric needs a training history")
    numbers = day_numbers(days, "sales")
    if (np.diff(numbers) != 1).any():
        raise DataError(f"sales day columns must be consecutive (d_1, d_2, ...), got {days[0]}..{days[-1]} with gaps")
    if len(sales) == 0:
        raise DataError("sales has no rows")
    _check_ids(sales)
    ids = sales[ID].astype(str)
    if ids.duplicated().any():
        raise DataError(f"sales has two rows for id {ids[ids.duplicated()].iloc[0]!r}: keep one row per series")
    keys = sales[[ITEM, STORE]].astype(str)
    if keys.duplicated().any():
        row = keys[keys.duplicated()].iloc[0]
        raise DataError(f"sales has two rows for item {row[ITEM]!r} in store {row[STORE]!r}: keep one row per item and store")
    return days, _day_major(sales, days, "sales")


def dollar_weights(sales: pd.DataFrame, prices: pd.DataFrame, calendar: pd.DataFrame, days: int = HORIZON) -> pd.Series:
    """Dollar sales of each bottom series over the last ``days`` training days.

    Units of each day times the item's sell price in that store and week
    (M5's weights before aggregation and normalisation).

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table.
    prices : DataFrame
        ``sell_prices.csv``: ``store_id, item_id, wm_yr_wk, sell_price``.
    calendar : DataFrame
        ``calendar.csv`` (its ``d`` and ``wm_yr_wk`` columns are used).
    days : int, default 28
        Number of last training days summed.

    Returns
    -------
    Series of float64
        Dollar sales indexed by ``id``, in the order of ``sales``.

    Raises
    ------
    DataError
        Missing columns, a day missing from the calendar, or units sold in a
        week without a price.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"id": ["A_S_1"], "item_id": ["A"], "dept_id": ["D"], "cat_id": ["C"],
    ...                       "store_id": ["S_1"], "state_id": ["S"], "d_1": [5], "d_2": [1], "d_3": [2]})
    >>> calendar = pd.DataFrame({"d": ["d_1", "d_2", "d_3"], "wm_yr_wk": [11101, 11101, 11102]})
    >>> prices = pd.DataFrame({"store_id": ["S_1", "S_1"], "item_id": ["A", "A"],
    ...                        "wm_yr_wk": [11101, 11102], "sell_price": [1.0, 2.5]})
    >>> dollar_weights(sales, prices, calendar, days=2).tolist()   # 1 x 1.0 + 2 x 2.5
    [6.0]
    """
    day_cols, values = _check_sales(sales)
    return pd.Series(_dollars(sales, values, day_cols, prices, calendar, days), index=pd.Index(sales[ID].astype(str), name=ID), name="dollar_sales")


def _dollars(sales, values_t, day_cols, prices, calendar, days) -> np.ndarray:
    number = _as_int(days)  # int() took 1.5 for 1 and failed on 'a' with a bare ValueError
    if number is None:
        raise ParamError(f"invalid weight_days {days!r}: give a whole number of days from 1 to {len(day_cols)}")
    days = number
    if days < 1 or days > len(day_cols):
        raise DataError(f"weights use the last {days} training days but sales has {len(day_cols)} days: use 1 to {len(day_cols)}")
    for name, frame, cols in (("calendar", calendar, ("d", WEEK)), ("prices", prices, (STORE, ITEM, WEEK, "sell_price"))):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"{name} must be a DataFrame as in the M5 files, got {type(frame).__name__}")
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"{name} has no column {missing[0]!r}")
    last = day_cols[-days:]
    week_of = pd.Series(calendar[WEEK].to_numpy(), index=calendar["d"].astype(str).to_numpy())
    week_of = week_of[~week_of.index.duplicated()]
    weeks = week_of.reindex(last)
    if weeks.isna().any():
        raise DataError(f"calendar has no row for {weeks.index[weeks.isna()][0]}: it must cover every training day")
    weeks = weeks.to_numpy(dtype=np.int64)
    uweeks = np.unique(weeks)
    p = prices.loc[prices[WEEK].isin(uweeks), [STORE, ITEM, WEEK, "sell_price"]]
    series = pd.MultiIndex.from_arrays([sales[STORE].astype(str).to_numpy(), sales[ITEM].astype(str).to_numpy()])
    row = series.get_indexer(pd.MultiIndex.from_arrays([p[STORE].astype(str).to_numpy(), p[ITEM].astype(str).to_numpy()]))
    keep = row >= 0
    p, row = p[keep], row[keep]
    col = np.searchsorted(uweeks, p[WEEK].to_numpy(dtype=np.int64))
    if pd.DataFrame({"r": row, "c": col}).duplicated().any():
        raise DataError("prices has two sell prices for the same store, item and week: keep one")
    table = np.full((len(sales), len(uweeks)), np.nan)
    try:
        sell = pd.to_numeric(p["sell_price"]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("prices column 'sell_price' must hold numbers: the item's price in the store that week") from None
    bad = (sell <= 0) | np.isinf(sell)  # a weight of the wrong sign, or none (NaN is no price: named below when sold)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"prices has sell_price {sell[i]:g} for item {str(p[ITEM].iloc[i])!r} in store "
                        f"{str(p[STORE].iloc[i])!r}, week {p[WEEK].iloc[i]}: prices must be positive finite numbers")
    table[row, col] = sell
    price = table[:, np.searchsorted(uweeks, weeks)]
    units = values_t[-days:].T
    unpriced = (units != 0) & ~np.isfinite(price)
    if unpriced.any():
        r, c = np.argwhere(unpriced)[0]
        raise DataError(
            f"id {str(sales[ID].iloc[r])!r} sold units on {last[c]} but prices has no sell_price for week {weeks[c]}: "
            "every sale needs a price"
        )
    return np.where(units != 0, units * np.nan_to_num(price), 0.0).sum(axis=1)


def _level_codes(frame: pd.DataFrame, levels: Iterable[int]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """For each level: ``(level, code of each bottom series, series names sorted)``."""
    out = []
    for level in _as_levels(levels):
        codes, names = pd.factorize(group_names(frame, level).to_numpy(dtype=object), sort=True)
        out.append((level, codes.astype(np.int64), np.asarray(names, dtype=object)))
    return out


def _series_frame(coded) -> pd.DataFrame:
    """``level``, ``series`` of the level series, in the order of ``coded``."""
    return pd.DataFrame(
        {
            "level": np.concatenate([np.full(len(names), level, dtype=np.int8) for level, _, names in coded]),
            "series": np.concatenate([names for _, _, names in coded]),
        }
    )


def _summing_matrix(coded, n: int) -> sparse.csr_matrix:
    """Sparse 0/1 matrix (n_level_series x n_bottom) summing bottom series to the level series."""
    sizes = [len(names) for _, _, names in coded]
    offsets = np.cumsum([0, *sizes[:-1]])
    rows = np.concatenate([codes + off for (_, codes, _), off in zip(coded, offsets)])
    cols = np.tile(np.arange(n), len(coded))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(int(sum(sizes)), n))


def _group_sum(values_t: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Sum the columns of a C-ordered (days x m) array by ``codes`` (0..k-1): (days x k).

    One ``np.bincount`` per block of days over the flattened block: a single
    sequential pass over the data, no gathered copy.
    """
    t, m = values_t.shape
    rows = max(1, min(t, _BLOCK // max(m, 1)))
    index = (np.arange(rows)[:, None] * k + codes[None, :]).ravel()
    out = np.empty((t, k))
    for start in range(0, t, rows):
        block = values_t[start : start + rows]
        r = block.shape[0]
        out[start : start + r] = np.bincount(index[: r * m], weights=block.ravel(), minlength=r * k).reshape(r, k)
    return out


def _sum_levels(values_t: np.ndarray, coded):
    """Sum a (days x bottom series) array to each level of ``coded``.

    Yields ``(i, array, columns)`` for each level ``coded[i]``: the level's
    series are ``array[:, columns]`` (``columns`` is None when ``array`` holds
    them in order already). A level with one bottom series per series (level
    12) is a mere reordering of ``values_t`` and yields it with its column
    order, without copying. Every other level is summed from the smallest level
    already summed whose series each fall in one of its series (levels 1-8 from
    level 9, level 10 from 11), so the bottom array is read only a few times.
    """
    n = values_t.shape[1]
    done: list[tuple[np.ndarray, int, np.ndarray]] = []
    for i in sorted(range(len(coded)), key=lambda j: -len(coded[j][2])):
        _, codes, names = coded[i]
        k = len(names)
        if k == n:
            columns = np.empty(n, dtype=np.int64)
            columns[codes] = np.arange(n)
            yield i, values_t, columns
            continue
        source, source_codes = values_t, codes
        for parent_codes, parent_k, parent in sorted(done, key=lambda d: d[1]):
            mapping = np.zeros(parent_k, dtype=np.int64)
            mapping[parent_codes] = codes
            if np.array_equal(mapping[parent_codes], codes):
                source, source_codes = parent, mapping
                break
        summed = _group_sum(source, source_codes, k)
        done.append((codes, k, summed))
        yield i, summed, None


def aggregate_levels(sales_wide: pd.DataFrame, levels: Iterable[int] = range(1, 13)) -> pd.DataFrame:
    """Sum the bottom series up to every series of the given levels.

    Parameters
    ----------
    sales_wide : DataFrame
        Wide M5 sales table (``id``, the id columns, ``d_*``), or any wide
        table with the id columns and ``d_*`` columns (a future table too).
    levels : int or iterable of int, default 1 ... 12
        M5 levels (see :data:`m5kit.hierarchy.LEVELS`); one level alone is that level.

    Returns
    -------
    DataFrame
        ``level`` (int8), ``series`` (group name from
        :func:`m5kit.hierarchy.group_names`, ``"Total"`` at level 1), then the
        ``d_*`` columns as float64 sums. Levels in the given order, series
        sorted by name within a level.

    Examples
    --------
    >>> import pandas as pd
    >>> sales = pd.DataFrame({"id": ["A_S1", "A_S2"], "item_id": ["A", "A"], "dept_id": ["D", "D"],
    ...                       "cat_id": ["C", "C"], "store_id": ["S1", "S2"], "state_id": ["X", "X"],
    ...                       "d_1": [1, 2], "d_2": [3, 4]})
    >>> aggregate_levels(sales, [1, 3]).to_dict("list")
    {'level': [1, 3, 3], 'series': ['Total', 'S1', 'S2'], 'd_1': [3.0, 1.0, 2.0], 'd_2': [7.0, 3.0, 4.0]}
    """
    if not isinstance(sales_wide, pd.DataFrame):
        raise DataError(f"sales must be a wide DataFrame, got {type(sales_wide).__name__}")
    days = day_columns(sales_wide.columns)
    if not days:
        raise DataError(f"sales has no day columns ({DAY_PREFIX}1, ...)")
    if ID not in sales_wide.columns:
        raise DataError("sales has no column 'id': pass the wide M5 sales table")
    _check_ids(sales_wide)
    values_t = _day_major(sales_wide, days, "sales")
    coded = _level_codes(sales_wide, levels)
    parts: list = [None] * len(coded)
    for i, summed, columns in _sum_levels(values_t, coded):
        parts[i] = summed if columns is None else summed[:, columns]
    summed = np.concatenate(parts, axis=1)
    return pd.concat([_series_frame(coded), pd.DataFrame(summed.T, columns=days)], axis=1)


# --- the evaluator -------------------------------------------------------------


class WRMSSEEvaluator:
    """M5's WRMSSE with scales, weights and summing matrix computed once.

    Build it from the training tables, then score as many forecasts of the
    28 days after the training days as needed: each score costs one sparse
    product of the (series x horizon) errors.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table (training days ``d_1 ... d_N``).
    prices : DataFrame
        ``sell_prices.csv`` table.
    calendar : DataFrame
        ``calendar.csv`` table (``d`` and ``wm_yr_wk`` are used).
    weight_days : int, default 28
        Last training days whose dollar sales weigh the series (28 in M5).
    on_zero_scale : {"raise", "skip"}, default "raise"
        What to do with a series of positive weight whose scale is zero or
        undefined: raise a DataError naming it, or leave it out (it adds 0;
        a warning is logged). Such series of weight 0 always add 0.

    Attributes
    ----------
    ids : ndarray of str
        Bottom series ids, in the order of ``sales``.
    last_day : int
        Day number of the last training day.
    series : DataFrame
        One row per series of the 12 levels: ``level``, ``series`` (name),
        ``weight`` (sums to 1 within each level), ``scale``.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> from m5kit.forecasting.baselines import BASELINES
    >>> data = make_m5(n_items=10, seed=0)
    >>> ev = WRMSSEEvaluator(data.sales, data.prices, data.calendar)
    >>> ev.series.groupby("level")["weight"].sum().round(9).unique()   # each level weighs 1
    array([1.])
    >>> scores = {name: ev.score(data.future, f(data.sales)) for name, f in BASELINES.items()}
    >>> sorted(scores)
    ['Moving average (28)', 'Naive', 'Seasonal naive']
    """

    def __init__(
        self,
        sales: pd.DataFrame,
        prices: pd.DataFrame,
        calendar: pd.DataFrame,
        *,
        weight_days: int = HORIZON,
        on_zero_scale: str = "raise",
    ) -> None:
        if on_zero_scale not in ("raise", "skip"):
            raise DataError(f"on_zero_scale must be 'raise' or 'skip', got {on_zero_scale!r}")
        day_cols, values = _check_sales(sales)
        self.ids = sales[ID].astype(str).to_numpy(dtype=object)
        self.last_day = day_number(day_cols[-1])
        self._index = pd.Index(self.ids)
        coded = _level_codes(sales, LEVELS)
        series = _series_frame(coded)
        self._matrix = _summing_matrix(coded, len(sales))
        dollars = self._matrix @ _dollars(sales, values, day_cols, prices, calendar, weight_days)
        level = series["level"].to_numpy()
        total = np.bincount(level, weights=dollars)[level]
        if not (total > 0).all():
            raise DataError(f"sales has no dollar sales in the last {weight_days} training days: the weights are undefined")
        scales: list = [None] * len(coded)
        for i, summed, columns in _sum_levels(values, coded):
            scales[i] = _scales(summed) if columns is None else _scales(summed)[columns]
        scale = np.concatenate(scales)
        series["weight"] = dollars / total
        series["scale"] = scale
        bad = (series["weight"].to_numpy() > 0) & ~(scale > 0)
        if bad.any():
            first = series[bad].iloc[0]
            message = (
                f"{int(bad.sum())} series with dollar sales have a zero or undefined scale (no change in their history "
                f"since their first sale), first: level {first['level']} series {first['series']!r}"
            )
            if on_zero_scale == "raise":
                raise DataError(message + ": pass on_zero_scale='skip' to leave them out")
            logger.warning("%s; they are left out of the WRMSSE", message)
        self._use = (series["weight"].to_numpy() > 0) & (scale > 0)
        self.series = series
        logger.debug("WRMSSE evaluator: %d series over %d levels, %d training days", len(series), 12, len(day_cols))

    # -- inputs -------------------------------------------------------------------

    def _truth(self, future: pd.DataFrame) -> np.ndarray:
        """Align the wide ``future`` table with the training series: (n, h) float64."""
        if not isinstance(future, pd.DataFrame) or ID not in future.columns:
            raise DataError("future has no column 'id': pass the wide table id, d_<N+1> ... d_<N+28>")
        days = day_columns(future.columns)
        if not days:
            raise DataError("future has no day columns d_<N+1> ...: it must hold the true sales of the forecast days")
        numbers = day_numbers(days, "future")
        expected = np.arange(self.last_day + 1, self.last_day + 1 + len(days))
        if not np.array_equal(numbers, expected):
            raise DataError(
                f"future days must be {day_name(expected[0])}..{day_name(expected[-1])} (right after the training days), "
                f"got {days[0]}..{days[-1]}"
            )
        ids = future[ID].astype(str).to_numpy(dtype=object)
        try:
            values = future[days].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("future day columns must be numeric unit sales") from None
        truth = self._align(ids, values, "future")
        _refuse_negative(truth, lambda r, c: (self.ids[r], days[c]), "future")
        return truth

    def _align(self, ids: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
        if pd.Series(ids).duplicated().any():
            raise DataError(f"{what} has two rows for id {ids[pd.Series(ids).duplicated().to_numpy()][0]!r}")
        pos = pd.Index(ids).get_indexer(self.ids)
        if (pos < 0).any():
            missing = self.ids[pos < 0]
            raise DataError(f"{what} has no rows for id {missing[0]!r} ({missing.size} of {self.ids.size} series missing)")
        if len(ids) > len(self.ids):
            extra = ids[self._index.get_indexer(ids) < 0]
            raise DataError(f"{what} id {extra[0]!r} is not in sales ({extra.size} unknown ids)")
        out = values[pos]
        bad = ~np.isfinite(out)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{what} has NaN or infinite values (first: id {self.ids[r]!r}, day {c + 1} of the horizon)")
        return out

    def _forecast(self, forecast: pd.DataFrame, h: int) -> np.ndarray:
        """Align a tidy or submission-format forecast: (n, h) float64."""
        if not isinstance(forecast, pd.DataFrame):
            raise DataError(f"forecast must be a DataFrame (tidy id, d, forecast or submission id, F1 ...), got {type(forecast).__name__}")
        if "F1" in forecast.columns and FORECAST not in forecast.columns:
            forecast = from_submission(forecast, self.last_day + 1)
        ids, first, values = _forecast_matrix(forecast)
        if first != self.last_day + 1 or values.shape[1] != h:
            raise DataError(
                f"forecast covers {day_name(first)}..{day_name(first + values.shape[1] - 1)} but the truth covers "
                f"{day_name(self.last_day + 1)}..{day_name(self.last_day + h)}: forecast exactly those days"
            )
        return self._align(ids, values, "forecast")

    # -- scores ---------------------------------------------------------------------

    def per_series(self, future: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
        """RMSSE and weighted contribution of every series of the 12 levels.

        Parameters
        ----------
        future : DataFrame
            Wide truth: ``id``, ``d_<N+1> ... d_<N+h>``.
        forecast : DataFrame
            Tidy (``id, d, forecast``) or submission (``id, F1 ... Fh``) forecast.

        Returns
        -------
        DataFrame
            :attr:`series` plus ``rmsse`` and ``contribution``
            (``weight * rmsse / 12``; 0 for left-out series). The contributions
            sum to the WRMSSE.
        """
        truth = self._truth(future)
        pred = self._forecast(forecast, truth.shape[1])
        errors = np.asarray(self._matrix @ (pred - truth))
        scale = self.series["scale"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.sqrt(np.mean(errors**2, axis=1) / scale)
        out = self.series.copy()
        out["rmsse"] = score
        out["contribution"] = out["weight"].to_numpy() * np.where(self._use, score, 0.0) / len(LEVELS)
        return out

    def score(self, future: pd.DataFrame, forecast: pd.DataFrame, *, per_level: bool = False):
        """WRMSSE of ``forecast`` against ``future``.

        Parameters
        ----------
        future : DataFrame
            Wide truth: ``id``, ``d_<N+1> ... d_<N+h>`` (h = 28 in M5).
        forecast : DataFrame
            Tidy (``id, d, forecast``) or submission (``id, F1 ... Fh``) forecast
            of the same series and days.
        per_level : bool, default False
            Also return the WRMSSE of each level.

        Returns
        -------
        float, or (float, DataFrame)
            The WRMSSE; with ``per_level`` also a 12-row table ``level``,
            ``n_series``, ``wrmsse`` (sum of weight x RMSSE in the level); the
            overall score is the mean of the 12 level values.

        Raises
        ------
        ParamError
            ``per_level`` is neither False nor True (the text ``'no'`` was read as true).
        """
        per_level = choice(per_level, "per_level", (False, True))  # 'no' gave the (score, table) tuple
        table = self.per_series(future, forecast)
        levels = table.groupby("level", sort=True).agg(n_series=("series", "size"), wrmsse=("contribution", "sum"))
        levels["wrmsse"] *= len(LEVELS)
        total = float(table["contribution"].sum())
        if not per_level:
            return total
        return total, levels.reset_index()


def wrmsse(
    sales: pd.DataFrame,
    future: pd.DataFrame,
    forecast: pd.DataFrame,
    prices: pd.DataFrame,
    calendar: pd.DataFrame,
    *,
    per_level: bool = False,
    weight_days: int = HORIZON,
    on_zero_scale: str = "raise",
):
    """M5's Weighted Root Mean Squared Scaled Error over the 12 levels.

    For many forecasts of the same data, build a :class:`WRMSSEEvaluator` once.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 training sales ``id, item_id, ..., d_1 ... d_N``.
    future : DataFrame
        Wide true sales ``id, d_<N+1> ... d_<N+h>``.
    forecast : DataFrame
        Tidy forecast (``id, d, forecast``) or M5 submission (``id, F1 ... Fh``).
    prices, calendar : DataFrame
        ``sell_prices.csv`` and ``calendar.csv`` tables (for the weights).
    per_level : bool, default False
        Also return the 12-row table of per-level WRMSSE.
    weight_days, on_zero_scale
        See :class:`WRMSSEEvaluator`.

    Returns
    -------
    float, or (float, DataFrame) with ``per_level=True``

    Raises
    ------
    DataError
        Missing or unknown ids, wrong days, NaN forecasts, malformed tables.

    Examples
    --------
    >>> import pandas as pd
    >>> ids = {"id": ["A_S1"], "item_id": ["A"], "dept_id": ["D"], "cat_id": ["C"], "store_id": ["S1"], "state_id": ["X"]}
    >>> sales = pd.DataFrame({**ids, "d_1": [1], "d_2": [3], "d_3": [1]})
    >>> calendar = pd.DataFrame({"d": ["d_1", "d_2", "d_3"], "wm_yr_wk": [1, 1, 1]})
    >>> prices = pd.DataFrame({"store_id": ["S1"], "item_id": ["A"], "wm_yr_wk": [1], "sell_price": [2.0]})
    >>> future = pd.DataFrame({"id": ["A_S1"], "d_4": [2]})
    >>> forecast = pd.DataFrame({"id": ["A_S1"], "d": ["d_4"], "forecast": [4.0]})
    >>> wrmsse(sales, future, forecast, prices, calendar, weight_days=3)   # sqrt(2**2 / 4)
    1.0
    """
    evaluator = WRMSSEEvaluator(sales, prices, calendar, weight_days=weight_days, on_zero_scale=on_zero_scale)
    return evaluator.score(future, forecast, per_level=per_level)
