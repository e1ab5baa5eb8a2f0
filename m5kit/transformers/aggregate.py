"""LevelAggregator: tag each row with its group, or sum the series up to a level."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import choice, first_missing
from m5kit._schema import (
    AVAILABLE,
    DAY,
    DAY_FEATURES,
    GROUP,
    ID,
    ID_COLS,
    SALES,
)
from m5kit.errors import DataError
from m5kit.hierarchy import check_level, group_names, level_keys
from m5kit.transformers._long import (
    CONTRACT_COLUMNS,
    LongFrameMixin,
    keeps_last_fit,
    categorical,
    code_dtype,
    codes_and_categories,
    long_days,
    require_columns,
    require_frame,
    runs_of,
)

__all__ = ["LevelAggregator", "OTHER"]

logger = logging.getLogger(__name__)

#: Value of an id column that varies inside an aggregated series (``store_id`` at level 10, ...).
OTHER = "all"

#: Price features averaged over the series available that day (0 when none is).
_MEAN_OVER_AVAILABLE = ("price_rel", "price_change")


class LevelAggregator(LongFrameMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Tag each row with its group at an M5 level, or sum the series up to that level.

    With ``aggregate=False`` the frame is returned with a ``group`` column
    (category; ``"FOODS_3_090_CA"`` at level 11, ``"Total"`` at level 1, names
    from :func:`m5kit.hierarchy.group_names`). Names are computed once per
    series and spread to the rows by codes.

    With ``aggregate=True`` the bottom series are summed up to the level's own
    series: one series per group, sorted by group name then day, with the
    columns of the input that belong to the long-frame contract, so the
    Windower consumes it like bottom-level data:

    - ``id`` and ``group``: the group name.
    - the level's keys keep their values; any other id column keeps its value
      when it is the same for all the group's series (``cat_id`` at level 5,
      ``state_id`` at level 3) and is ``"all"`` otherwise.
    - ``sales``: the sum over the group's series. A missing value in any of
      them makes the sum missing, so future days stay NaN.
    - calendar columns other than ``snap`` are the same for every series on
      a day and are taken as they are.
    - ``snap``: 1 when any of the group's states has SNAP that day (the max;
      it stays an int8 flag and is the state's own flag for levels within one
      state).
    - ``available``: 1 when any of the group's series has a price that day.
    - ``sell_price``: the mean price of the series available that day (NaN
      when none is).
    - ``price_rel``, ``price_change``: the mean over the series available that
      day (0 when none is), so pre-launch series do not dilute them.

    Other columns are dropped when aggregating.

    Parameters
    ----------
    level : int
        M5 aggregation level, 1 (total) to 12 (item x store).
    aggregate : bool, default=False
        Sum the bottom series up to the level's series instead of only tagging rows.

    Attributes
    ----------
    level_ : int
        The validated level.
    aggregate_ : bool
        Whether ``transform`` sums the series (the validated ``aggregate``).
    keys_ : tuple of str
        The level's id columns.
    n_features_in_ : int
        Number of columns of the frame seen in ``fit``.
    feature_names_in_ : ndarray of str
        Columns of the frame seen in ``fit``.

    See Also
    --------
    m5kit.hierarchy.LEVELS : the keys of each level.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> from m5kit.transformers import CalendarMerger
    >>> data = make_m5(n_items=2, n_stores=2, n_days=60, seed=0)
    >>> long = CalendarMerger(data.calendar).fit_transform(data.sales)
    >>> tagged = LevelAggregator(level=3).fit_transform(long)
    >>> sorted(tagged["group"].cat.categories)
    ['CA_1', 'CA_2']
    >>> total = LevelAggregator(level=1, aggregate=True).fit_transform(long)
    >>> total["id"].unique().tolist()
    ['Total']
    """

    def __init__(self, level: int, aggregate: bool = False):
        self.level = level
        self.aggregate = aggregate

    @keeps_last_fit
    def fit(self, X: pd.DataFrame, y=None) -> LevelAggregator:
        """Validate the level and the columns of ``X``.

        Parameters
        ----------
        X : DataFrame
            Long frame (id columns, ``d``, ``sales``, features).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self.level_ = check_level(self.level)
        # the text 'no' (as --param gives it) was read as true
        self.aggregate_ = bool(choice(self.aggregate, "aggregate", (False, True)))
        self.keys_ = level_keys(self.level_)
        X = require_frame(X, "long frame")
        self._check(X)
        self._record_input(X)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Add the ``group`` column, or return the level's summed series.

        Parameters
        ----------
        X : DataFrame
            Long frame.

        Returns
        -------
        DataFrame
        """
        check_is_fitted(self, "level_")
        X = require_frame(X, "long frame")
        self._check(X)
        if self._aggregates():
            return self._aggregate(X)
        starts, lengths, run_group, names = self._group_runs(X, self.keys_)
        codes = np.repeat(run_group.astype(code_dtype(len(names))), lengths)
        kept = X.drop(columns=[GROUP]) if GROUP in X.columns else X
        group = pd.DataFrame({GROUP: categorical(codes, names)}, index=X.index, copy=False)
        return pd.concat([kept, group], axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the output columns (input columns plus ``group``).

        Parameters
        ----------
        input_features : array-like of str, optional
            Input columns; defaults to those seen in ``fit``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "level_")
        names = [str(c) for c in (self.feature_names_in_ if input_features is None else input_features)]
        if self._aggregates():
            kept = [c for c in CONTRACT_COLUMNS if c in names]
        else:
            kept = [c for c in names if c != GROUP]
        return np.asarray([*kept, GROUP], dtype=object)

    # ------------------------------------------------------------------ helpers

    def _aggregates(self) -> bool:
        """The fitted ``aggregate``: a set_params(aggregate=...) since the fit does not change what transform does."""
        return getattr(self, "aggregate_", self.aggregate)

    def _check(self, X: pd.DataFrame) -> None:
        keys = ID_COLS if self._aggregates() else self.keys_
        hint = f"level {self.level_} groups by {', '.join(self.keys_) or 'nothing (one group)'}"
        require_columns(X, keys, "long frame", hint)
        found = first_missing(X, keys)  # a missing id was a group 'nan' (pandas 2), failed or warned (pandas 3)
        if found:
            raise DataError(f"long frame column {found[0]!r} is missing in row {found[1]}: every row needs its ids")
        if self._aggregates():
            require_columns(X, (DAY, SALES), "long frame", "aggregation sums sales by day")

    def _group_runs(self, X: pd.DataFrame, columns):
        """Runs of rows with equal ``columns`` and each run's group code and the group names.

        Group names are computed once per run (per series in a sorted frame),
        not per row; the names are the sorted categories.
        """
        if columns:
            starts, lengths = runs_of([codes_and_categories(X[c], drop_unused=False)[0] for c in columns], len(X))
        else:  # level 1 tags only: the whole frame is one run
            n_runs = min(len(X), 1)
            starts, lengths = np.zeros(n_runs, dtype=np.int64), np.full(n_runs, len(X), dtype=np.int64)
        run_names = group_names(_rows(X, starts, self.keys_), self.level_).astype(str).to_numpy(dtype=object)
        names, run_group = np.unique(run_names, return_inverse=True)
        return starts, lengths, run_group, pd.Index(names.astype(str))

    def _aggregate(self, X: pd.DataFrame) -> pd.DataFrame:
        """Sum the bottom series of ``X`` up to the level's series (see the class docstring)."""
        columns = [c for c in CONTRACT_COLUMNS if c in X.columns]
        starts, lengths, run_group, names = self._group_runs(X, ID_COLS)
        n_groups = len(names)
        day = X[DAY].to_numpy() if pd.api.types.is_integer_dtype(X[DAY].dtype) else long_days(X)
        sums = _GridSums(day, lengths, run_group, n_groups) if _is_grid(day, lengths) else \
            _CellSums(day, lengths, run_group, n_groups)
        del day
        out_group = sums.group.astype(code_dtype(n_groups), copy=False)
        out: dict[str, object] = {ID: categorical(out_group, names)}

        # ids: the level's keys keep their values, other ids too when constant in the group
        runs = _rows(X, starts, ID_COLS)
        for column in ID_COLS[1:]:
            codes, cats = codes_and_categories(runs[column], drop_unused=False)
            first_code = np.full(n_groups, -1, dtype=np.int64)
            first_code[run_group] = codes  # one representative per group (any of them)
            varies = np.zeros(n_groups, dtype=bool)
            np.logical_or.at(varies, run_group, codes != first_code[run_group])
            group_values = np.where(varies, OTHER, np.asarray(cats.astype(str), dtype=object)[first_code])
            value_names, value_codes = np.unique(group_values.astype(str), return_inverse=True)
            value_codes = value_codes.astype(code_dtype(len(value_names)))
            out[column] = categorical(value_codes[out_group], pd.Index(value_names))
        out[DAY] = sums.day.astype(np.int16, copy=False)

        if AVAILABLE in columns:
            available = X[AVAILABLE].to_numpy() > 0
            n_available = sums.total(available)
        for column in columns:
            if column in ID_COLS or column == DAY:
                continue
            values = X[column].to_numpy()
            if column == SALES:
                out[column] = sums.total(values, exact=True).astype(np.float32)
            elif column == "snap":
                out[column] = (sums.total(values) > 0).astype(np.int8)
            elif column in DAY_FEATURES:
                out[column] = sums.by_day(values)
            elif column == AVAILABLE:
                out[column] = (n_available > 0).astype(np.int8)
            elif AVAILABLE not in columns:
                raise DataError(f"long frame has {column!r} but no {AVAILABLE!r} column: run PriceJoiner first")
            else:
                summed = sums.total(values, where=available)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = summed / n_available
                fill = np.nan if column == "sell_price" else 0.0
                out[column] = np.where(n_available > 0, mean, fill).astype(np.float32, copy=False)
        out[GROUP] = categorical(out_group.copy(), names)  # own codes: columns must not share memory
        frame = pd.DataFrame({c: out[c] for c in [*columns, GROUP]}, copy=False)
        logger.debug("LevelAggregator: level %d, %d series, %d rows", self.level_, n_groups, len(frame))
        return frame


def _rows(X: pd.DataFrame, rows: np.ndarray, columns) -> pd.DataFrame:
    """Some rows of some columns of ``X`` (only those are copied), with a fresh index."""
    return X.iloc[rows, [X.columns.get_loc(c) for c in columns]].reset_index(drop=True)


def _is_grid(day: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether every run holds the same consecutive days (a series x day grid)."""
    if len(lengths) == 0 or not (lengths == lengths[0]).all():
        return False
    length = int(lengths[0])
    first = day[:length]
    if length > 1 and not (np.diff(first) == 1).all():
        return False
    return bool((day.reshape(len(lengths), length) == first).all())


class _GridSums:
    """Per-group, per-day sums when every series has the same days.

    Each column is viewed as a (series x day) grid and multiplied by a sparse
    0/1 (group x series) matrix, a block of days at a time, so temporaries
    stay a few MB however large the frame.
    """

    cells_per_block = 2**21  # grid cells (series x days) per block

    def __init__(self, day, lengths, run_group, n_groups):
        from scipy import sparse

        self.n_series, self.length, self.n_groups = len(lengths), int(lengths[0]), n_groups
        self.matrix = sparse.csr_matrix(
            (np.ones(self.n_series, dtype=np.float32), (run_group, np.arange(self.n_series))),
            shape=(n_groups, self.n_series),
        )
        self.group = np.repeat(np.arange(n_groups, dtype=code_dtype(n_groups)), self.length)
        self.day = np.tile(day[: self.length].astype(np.int16), n_groups)

    def total(self, values: np.ndarray, exact: bool = False, where: np.ndarray | None = None) -> np.ndarray:
        """Sum over each group's series, day by day (float64 when ``exact``); only ``where`` if given.

        A NaN in any summed value makes the sum NaN.
        """
        dtype = np.float64 if exact else np.float32
        matrix = self.matrix.astype(dtype)
        grid = values.reshape(self.n_series, self.length)
        mask = None if where is None else where.reshape(self.n_series, self.length)
        out = np.empty((self.n_groups, self.length), dtype=dtype)
        step = max(1, self.cells_per_block // max(self.n_series, 1))
        for low in range(0, self.length, step):
            days = slice(low, low + step)
            block = grid[:, days].astype(dtype)
            if mask is not None:
                np.copyto(block, 0, where=~mask[:, days])
            out[:, days] = matrix @ block
        return out.reshape(-1)

    def by_day(self, values: np.ndarray) -> np.ndarray:
        """A column that is the same for all series on a day, laid out per group and day."""
        return np.tile(values[: self.length], self.n_groups)


class _CellSums:
    """Per-group, per-day sums for any long frame: ``np.bincount`` over (group, day) cells."""

    def __init__(self, day, lengths, run_group, n_groups):
        self.first = int(day.min()) if len(day) else 1
        self.n_days = int(day.max()) - self.first + 1 if len(day) else 0
        cells = n_groups * self.n_days
        dtype = np.int32 if cells < np.iinfo(np.int32).max else np.int64
        self.offset = (day - self.first).astype(np.int16 if self.n_days < np.iinfo(np.int16).max else np.int32)
        self.cell = np.repeat(run_group.astype(dtype) * self.n_days, lengths)
        self.cell += self.offset
        self.cells = cells
        self.present = np.flatnonzero(np.bincount(self.cell, minlength=cells) > 0)
        self.group = self.present // max(self.n_days, 1)
        self.day = self.present % max(self.n_days, 1) + self.first

    def total(self, values: np.ndarray, exact: bool = False, where: np.ndarray | None = None) -> np.ndarray:
        """Sum over each group's rows of each day (NaN if any is NaN), for the cells present."""
        if where is not None:
            values = np.where(where, values, 0)
        return np.bincount(self.cell, weights=values, minlength=self.cells)[self.present]

    def by_day(self, values: np.ndarray) -> np.ndarray:
        """A column that is the same for all series on a day, laid out per group and day."""
        table = np.zeros(self.n_days, dtype=values.dtype)
        table[self.offset] = values
        return table[self.day - self.first]
