"""Helpers shared by the long-frame transformers.

The long frame (one row per series and day, see :mod:`m5kit._schema`) reaches
59 M rows at full M5 size, so everything here works on NumPy arrays of
categorical codes: no per-series Python loops, no ``melt``/``merge`` of the
full frame, no string keys per row.
"""

from __future__ import annotations

import copy
import functools
import logging

import numpy as np
import pandas as pd
from sklearn.base import clone

from m5kit._checks import first_bad_sale
from m5kit._schema import (
    DAY,
    DAY_FEATURES,
    DAY_PREFIX,
    ID,
    ID_COLS,
    PRICE_FEATURES,
    SALES,
    day_columns,
    day_name,
)
from m5kit.errors import DataError, ParamError

__all__ = [
    "CONTRACT_COLUMNS",
    "LONG_COLUMNS",
    "LongFrameMixin",
    "categorical",
    "code_dtype",
    "codes_and_categories",
    "extend_long",
    "is_wide",
    "long_days",
    "melt_wide",
    "require_columns",
    "runs_of",
    "require_frame",
    "wide_days",
    "wide_id_codes",
]

logger = logging.getLogger(__name__)

#: The first columns of every long frame: ids, day number, sales.
LONG_COLUMNS: tuple[str, ...] = (*ID_COLS, DAY, SALES)

#: Every column of the contract, in contract order (``group`` comes last).
CONTRACT_COLUMNS: tuple[str, ...] = (*LONG_COLUMNS, *DAY_FEATURES, *PRICE_FEATURES)


# --------------------------------------------------------------------------- codes


def code_dtype(n_categories: int) -> np.dtype:
    """Return the integer dtype pandas uses for codes of ``n_categories`` categories."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def codes_and_categories(values: pd.Series, drop_unused: bool = True) -> tuple[np.ndarray, pd.Index]:
    """Return integer codes and categories of a column (``-1`` for missing).

    A categorical column keeps its own categories in their order (unused ones
    dropped when ``drop_unused``; found with ``np.bincount``, not a sort, so this
    stays cheap on 59 M rows); any other column gets its sorted unique values.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        codes, categories = pd.factorize(values, sort=True)
        return codes, pd.Index(categories)
    codes = np.asarray(values.array.codes)
    categories = values.cat.categories
    if drop_unused and len(codes) and len(categories):
        used = np.bincount(codes.astype(np.int32) + 1, minlength=len(categories) + 1)[1:] > 0
        if not used.all():
            remap = np.full(len(categories) + 1, -1, dtype=np.int64)
            remap[1:][used] = np.arange(int(used.sum()))
            categories = categories[used]
            codes = remap[codes.astype(np.int64) + 1].astype(code_dtype(len(categories)))
    return codes, categories


def categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """Build a Categorical from codes without copying them when they already fit."""
    dtype = pd.CategoricalDtype(categories)
    codes = np.asarray(codes).astype(code_dtype(len(categories)), copy=False)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def runs_of(code_arrays, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of the runs where all ``code_arrays`` stay equal.

    In a long frame sorted by series then day, each series is one run. The
    result stays correct (only less compact) if the frame is not sorted,
    because every run holds rows that agree on the codes.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for codes in code_arrays:
        change[1:] |= codes[1:] != codes[:-1]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, n))
    return starts, lengths


# ------------------------------------------------------------------- validation


def require_frame(X, what: str) -> pd.DataFrame:
    """Raise :class:`DataError` unless ``X`` is a DataFrame."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(X).__name__}")
    return X


def require_columns(frame: pd.DataFrame, columns, what: str, hint: str = "") -> None:
    """Raise :class:`DataError` naming the first of ``columns`` missing in ``frame``."""
    for column in columns:
        if column not in frame.columns:
            extra = f": {hint}" if hint else ""
            raise DataError(f"{what} has no column {column!r}{extra}")


def is_wide(X: pd.DataFrame) -> bool:
    """Tell a wide M5 sales table (``d_1 ... d_N`` columns) from a long frame."""
    if DAY in X.columns and SALES in X.columns:
        return False
    if day_columns(X.columns):
        return True
    raise DataError(
        "sales table has neither day columns 'd_1', 'd_2', ... (wide M5 table) "
        f"nor columns {DAY!r} and {SALES!r} (long frame): pass the M5 sales table"
    )


def wide_days(sales: pd.DataFrame) -> np.ndarray:
    """Return the day numbers of the ``d_`` columns, checked to be consecutive."""
    names = day_columns(sales.columns)
    try:
        days = np.array([int(name[len(DAY_PREFIX):]) for name in names], dtype=np.int64)
    except ValueError:
        bad = next(n for n in names if not n[len(DAY_PREFIX):].isdigit())
        raise DataError(f"sales column {bad!r} is not a day column: day columns are named d_1, d_2, ...") from None
    steps = np.flatnonzero(np.diff(days) != 1)
    if steps.size:
        i = steps[0]
        raise DataError(
            f"sales day columns are not consecutive: {names[i + 1]!r} follows {names[i]!r}; "
            "pass the days in order without gaps"
        )
    if days.size and (days[0] < 1 or days[-1] > np.iinfo(np.int16).max):
        raise DataError(f"sales day {names[0]!r} .. {names[-1]!r} is outside d_1 .. d_32767")
    return days


def long_days(frame: pd.DataFrame) -> np.ndarray:
    """Return the ``d`` column of a long frame as int64 day numbers."""
    values = frame[DAY]
    # a nullable integer column with a missing day is refused below (to_numpy raised a bare ValueError); 3.5 too
    if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        days = values.to_numpy(dtype=np.int64)
    elif pd.api.types.is_float_dtype(values.dtype) and not values.hasnans and (values.to_numpy(np.float64) % 1 == 0).all():
        days = values.to_numpy(dtype=np.int64)
    else:
        try:
            days = values.astype(str).str.removeprefix(DAY_PREFIX).astype(np.int64).to_numpy()
        except (TypeError, ValueError):
            raise DataError(
                f"column {DAY!r} must hold day numbers (1 for d_1) or names 'd_1', 'd_2', ..."
            ) from None
    if days.size and (days.min() < 1 or days.max() > np.iinfo(np.int16).max):
        raise DataError(f"column {DAY!r} holds day numbers outside 1 .. 32767")
    return days


# ------------------------------------------------------------------- wide -> long


def wide_id_codes(sales: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Index]:
    """Codes and categories of an id column of the wide table; DataError for missing or repeated ids."""
    codes, categories = codes_and_categories(sales[column])
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(f"sales table column {column!r} is missing in row {row}: every series needs its ids")
    if column == ID and len(np.unique(codes)) < len(codes):
        twice = sales[column].iloc[int(np.flatnonzero(pd.Series(codes).duplicated().to_numpy())[0])]
        raise DataError(f"sales table has series {twice!r} twice: one row per series")
    return codes.astype(code_dtype(len(categories)), copy=False), categories


def melt_wide(sales: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Turn the wide M5 sales table into the first columns of the long frame.

    Each series gets its sales days followed by ``horizon`` future days with
    NaN sales. Built from codes with ``np.repeat``/``np.tile`` (no ``melt``).

    Parameters
    ----------
    sales : DataFrame
        ``id``, ``item_id``, ``dept_id``, ``cat_id``, ``store_id``, ``state_id``,
        ``d_1 ... d_N`` (consecutive days).
    horizon : int
        Number of future days added after the last sales day.

    Returns
    -------
    DataFrame
        ``id ... state_id`` (category), ``d`` (int16), ``sales`` (float32),
        sorted by series (in the table's row order) then day.
    """
    days = wide_days(sales)
    n_series, n_days = len(sales), len(days)
    n_total = n_days + horizon
    first = int(days[0]) if n_days else 1

    values = np.empty((n_series, n_total), dtype=np.float32)
    if n_days:
        block = sales[[day_name(d) for d in days]]
        if not all(pd.api.types.is_numeric_dtype(dtype) for dtype in set(block.dtypes)):
            raise DataError("sales day columns must hold numbers (unit sales)")
        # nullable (Int64, Float64) and pyarrow columns: their missing values become NaN, an unknown day
        nullable = any(isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in set(block.dtypes))
        block = block.to_numpy(dtype=np.float32, na_value=np.nan) if nullable else block.to_numpy()
        values[:, :n_days] = block
        del block
        _check_unit_sales(values[:, :n_days], lambda row, col: (sales[ID].iloc[row], day_name(days[col])))
    values[:, n_days:] = np.nan

    columns: dict[str, object] = {}
    for column in ID_COLS:
        codes, categories = wide_id_codes(sales, column)
        columns[column] = categorical(np.repeat(codes, n_total), categories)
    columns[DAY] = np.tile(np.arange(first, first + n_total, dtype=np.int16), n_series)
    columns[SALES] = values.reshape(-1)
    return pd.DataFrame(columns, copy=False)


def extend_long(frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Sort a long frame by series then day and add ``horizon`` future days per series.

    Series are ordered by first appearance of their ``id``. Each series' days
    must be consecutive and unique. Extra columns are dropped.
    """
    n = len(frame)
    days = long_days(frame)
    id_codes, _ = codes_and_categories(frame[ID])
    if (id_codes < 0).any():
        row = int(np.flatnonzero(id_codes < 0)[0])
        raise DataError(f"column {ID!r} is missing in row {row}: every row needs a series id")
    # rank series by first appearance
    n_ids = int(id_codes.max()) + 1 if n else 0
    first_row = np.full(n_ids, n, dtype=np.int64)
    # first row of each id, looked up on the runs of equal ids only (few in a sorted frame)
    runs = np.flatnonzero(np.r_[True, id_codes[1:] != id_codes[:-1]]) if n else np.zeros(0, dtype=np.int64)
    np.minimum.at(first_row, id_codes[runs], runs)
    rank = np.empty(n_ids, dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(n_ids)
    series = rank[id_codes]
    if n > 1 and not _is_sorted(series, days):
        order = np.lexsort((days, series))
        series, days = series[order], days[order]
    else:
        order = None

    same = series[1:] == series[:-1]
    step = np.diff(days)
    bad = np.flatnonzero(same & (step != 1))
    if bad.size:
        i = int(bad[0])
        ident = frame[ID].iloc[order[i + 1] if order is not None else i + 1]
        problem = (f"two rows for day {day_name(days[i])}" if step[i] == 0
                   else f"a gap from {day_name(days[i])} to {day_name(days[i + 1])}")
        raise DataError(f"series {ident!r} has {problem}: each series needs one row per consecutive day")

    starts = np.flatnonzero(np.r_[True, ~same]) if n else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.append(starts, n))
    n_series = len(starts)
    last = days[starts + counts - 1] if n else days[:0]
    series_index = np.repeat(np.arange(n_series), counts)
    dest_old = np.arange(n) + horizon * series_index
    new_start = starts + horizon * np.arange(n_series) + counts
    dest_new = (np.repeat(new_start, horizon) + np.tile(np.arange(horizon), n_series))
    total = n + horizon * n_series

    columns: dict[str, object] = {}
    for column in ID_COLS:
        codes, categories = codes_and_categories(frame[column])
        codes = codes.astype(code_dtype(len(categories)), copy=False)
        if order is not None:
            codes = codes[order]
        out = np.empty(total, dtype=codes.dtype)
        out[dest_old] = codes
        out[dest_new] = np.repeat(codes[starts], horizon)
        columns[column] = categorical(out, categories)
    out_days = np.empty(total, dtype=np.int16)
    out_days[dest_old] = days
    out_days[dest_new] = (np.repeat(last, horizon) + np.tile(np.arange(1, horizon + 1), n_series))
    columns[DAY] = out_days
    sales = frame[SALES]
    if not (pd.api.types.is_numeric_dtype(sales.dtype) or pd.api.types.is_bool_dtype(sales.dtype)):
        raise DataError(f"column {SALES!r} must hold numbers (unit sales)")
    values = sales.to_numpy(dtype=np.float32, na_value=np.nan)
    check_long_sales(frame, values)
    if order is not None:
        values = values[order]
    out_sales = np.empty(total, dtype=np.float32)
    out_sales[dest_old] = values
    out_sales[dest_new] = np.nan
    columns[SALES] = out_sales
    return pd.DataFrame(columns, copy=False)


def check_long_sales(frame: pd.DataFrame, values: np.ndarray) -> None:
    """Raise DataError for a negative or infinite value of ``values``, the sales of the long ``frame``'s rows."""
    _check_unit_sales(values, lambda row: (frame[ID].iloc[row], day_name(long_days(frame.iloc[[row]])[0])))


def _check_unit_sales(values: np.ndarray, where) -> None:
    """Raise DataError for a negative or infinite sale; ``where(*position)`` gives its (id, day name). NaN is an unknown day."""
    found = first_bad_sale(values)
    if found:
        position, what = found
        ident, day = where(*position)
        raise DataError(f"{what} sales {values[position]:g} for series {ident!r} on {day}: "
                        "sales are unit counts >= 0 (NaN for a day whose sales are unknown)")


def _is_sorted(series: np.ndarray, days: np.ndarray) -> bool:
    """Whether rows are sorted by series, then day."""
    ds = np.diff(series)
    if (ds < 0).any():
        return False
    return not ((ds == 0) & (np.diff(days) < 0)).any()


# ------------------------------------------------------------------ estimator base


def _copy_on_write() -> bool:
    """Whether pandas copies a shared table on write (always from pandas 3; an option in pandas 2)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.options.mode.copy_on_write is True


def keeps_last_fit(fit):
    """Decorate a transformer's ``fit``: when it fails, the fitted attributes (``name_``) of the last fit come back.

    A refit after ``set_params`` that failed part way left the new horizon, level or lookups beside the last
    fit's others, and ``transform`` mixed the two.
    """
    @functools.wraps(fit)
    def guarded(self, *args, **kwargs):
        before = _fitted_attributes(self)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            for name in _fitted_attributes(self).keys() - before.keys():
                delattr(self, name)
            self.__dict__.update(before)
            raise
    return guarded


def _fitted_attributes(estimator) -> dict:
    return {name: value for name, value in vars(estimator).items() if name.endswith("_") and not name.startswith("__")}


class LongFrameMixin:
    """Behaviour shared by m5kit's long-frame transformers.

    - ``transform`` always returns a DataFrame, so ``set_output`` accepts
      ``"default"`` and ``"pandas"`` and only records the choice (no renaming
      by position, no copy of a 59 M-row frame).
    - ``clone`` shares DataFrame parameters (the calendar, the 6.8 M-row price
      table) copy-on-write instead of deep-copying them; on pandas 2 without
      ``pd.options.mode.copy_on_write = True`` it deep-copies them, as only
      then a change to the clone's table stays out of the original's.
    - Tags: DataFrame input with strings, categories and NaN; no ``y``.
    """

    def set_output(self, *, transform: str | None = None):
        """Set the output container; m5kit transformers always return DataFrames.

        Parameters
        ----------
        transform : {"default", "pandas"} or None
            ``"default"`` and ``"pandas"`` both give a DataFrame; ``None``
            leaves the setting unchanged.

        Returns
        -------
        self
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ParamError(
                f"{type(self).__name__} outputs pandas DataFrames only: "
                f"set_output(transform={transform!r}) is not supported, use 'pandas' or 'default'"
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def __sklearn_clone__(self):
        params = {}
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, pd.DataFrame):
                # Under copy-on-write (pandas 3, or pandas 2 with the option on) a shallow
                # copy costs nothing for a large table and cannot be changed through the
                # original (or vice versa); without it, only a deep copy is independent.
                params[name] = value.copy(deep=not _copy_on_write())
            else:
                params[name] = clone(value, safe=False)
        new = type(self)(**params)
        if hasattr(self, "_sklearn_output_config"):
            new._sklearn_output_config = copy.deepcopy(self._sklearn_output_config)
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        tags.target_tags.required = False
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags

    def _record_input(self, X: pd.DataFrame) -> None:
        """Set ``n_features_in_`` and ``feature_names_in_`` from a DataFrame."""
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

