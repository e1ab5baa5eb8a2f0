"""PriceJoiner: sell price features by store, item and week."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit._schema import AVAILABLE, DAY, ID, ITEM, PRICE_COLS, PRICE_FEATURES, SALES, STORE, WEEK
from m5kit.errors import DataError
from m5kit.transformers._long import (
    LongFrameMixin,
    keeps_last_fit,
    codes_and_categories,
    require_columns,
    require_frame,
    runs_of,
)

__all__ = ["PriceJoiner"]

logger = logging.getLogger(__name__)

_NEEDED = (STORE, ITEM, WEEK)


class PriceJoiner(LongFrameMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Add the sell price features of each row's store, item and week.

    Adds the columns of :data:`m5kit._schema.PRICE_FEATURES`:

    - ``sell_price`` (float32): the price of the row's store, item and
      ``wm_yr_wk``; NaN when the price table has no row for it (before the
      item's launch). Never filled.
    - ``price_rel`` (float32): ``sell_price`` divided by the series' mean price
      over the weeks it has a price; 0 when there is no price.
    - ``price_change`` (float32): ``sell_price`` divided by the previous week's
      price, minus 1; 0 at launch and wherever either price is missing. The
      previous week is the previous ``wm_yr_wk`` of the price table.
    - ``available`` (int8): 1 when the row has a price, 0 otherwise. Days with
      ``available == 0`` are never training targets (the Windower skips them).

    ``fit`` turns the price table into 2-D lookup tables (series x week);
    ``transform`` only indexes them with integer codes (no ``merge`` on strings).

    Parameters
    ----------
    prices : DataFrame
        M5 ``sell_prices.csv``: ``store_id``, ``item_id``, ``wm_yr_wk``,
        ``sell_price`` (positive, no missing values, one row per store, item
        and week).

    Attributes
    ----------
    stores_ : Index
        Stores of the price table (rows of ``pair_index_``).
    items_ : Index
        Items of the price table (columns of ``pair_index_``).
    pair_index_ : ndarray of int32, shape (n_stores, n_items)
        Row of ``price_table_`` for each store and item; -1 when never priced.
    weeks_ : ndarray of int64
        Sorted weeks of the price table (columns of ``price_table_``).
    price_table_, rel_table_, change_table_ : ndarray of float32
        ``sell_price``, ``price_rel`` and ``price_change`` per (store, item)
        pair and week, with one extra all-missing row and column at the end
        for unknown pairs and weeks.
    n_features_in_ : int
        Number of columns of the frame seen in ``fit``.
    feature_names_in_ : ndarray of str
        Columns of the frame seen in ``fit``.

    See Also
    --------
    CalendarMerger : makes the long frame (with ``wm_yr_wk``) this step reads.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> from m5kit.transformers import CalendarMerger
    >>> data = make_m5(n_items=2, n_stores=2, n_days=60, seed=0)
    >>> long = CalendarMerger(data.calendar).fit_transform(data.sales)
    >>> priced = PriceJoiner(data.prices).fit_transform(long)
    >>> priced.columns[-4:].tolist()
    ['sell_price', 'price_rel', 'price_change', 'available']
    """

    def __init__(self, prices: pd.DataFrame):
        self.prices = prices

    @keeps_last_fit
    def fit(self, X: pd.DataFrame, y=None) -> PriceJoiner:
        """Validate the price table, build the lookup tables and check ``X``'s series.

        Parameters
        ----------
        X : DataFrame
            Long frame with ``store_id``, ``item_id`` and ``wm_yr_wk``.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        prices = require_frame(self.prices, "price table")
        X = require_frame(X, "long frame")
        require_columns(X, _NEEDED, "long frame", "run CalendarMerger first")
        (self.stores_, self.items_, self.pair_index_, self.weeks_,
         self.price_table_, self.rel_table_, self.change_table_) = _index_prices(prices)
        self._pairs_of_runs(X)
        self._record_input(X)
        logger.debug("PriceJoiner fitted: %d series, %d weeks", self.price_table_.shape[0] - 1, len(self.weeks_))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` with ``sell_price``, ``price_rel``, ``price_change``, ``available``.

        Existing columns of those names are replaced; the others are kept
        (not copied: pandas copy-on-write).

        Parameters
        ----------
        X : DataFrame
            Long frame with ``store_id``, ``item_id`` and ``wm_yr_wk``.

        Returns
        -------
        DataFrame
        """
        check_is_fitted(self, "price_table_")
        X = require_frame(X, "long frame")
        require_columns(X, _NEEDED, "long frame", "run CalendarMerger first")
        starts, lengths, pair_of_run = self._pairs_of_runs(X)
        weeks = X[WEEK].to_numpy()
        self._check_forecast_weeks(X, weeks)
        length = int(lengths[0]) if len(lengths) else 0
        grid = (len(lengths) > 0 and bool((lengths == length).all())
                and bool((weeks.reshape(len(lengths), length) == weeks[:length]).all()))
        if grid:
            # every series has the same weeks (the usual case): look them up once, take rows of the tables
            columns = self._week_index(weeks[:length])
            tables = [np.take(t[pair_of_run], columns, axis=1).reshape(-1)
                      for t in (self.price_table_, self.rel_table_, self.change_table_)]
        else:
            n_weeks = len(self.weeks_)
            index_dtype = np.int32 if self.price_table_.size < np.iinfo(np.int32).max else np.int64
            flat = np.repeat((pair_of_run * (n_weeks + 1)).astype(index_dtype), lengths)
            flat += self._week_index(weeks).astype(index_dtype, copy=False)
            tables = [t.reshape(-1)[flat] for t in (self.price_table_, self.rel_table_, self.change_table_)]
            del flat
        sell_price, price_rel, price_change = tables
        available = (~np.isnan(sell_price)).view(np.int8)
        if len(available) and not available.any():
            self._refuse_other_weeks(weeks)
        new = {
            "sell_price": sell_price,
            "price_rel": price_rel,
            "price_change": price_change,
            AVAILABLE: available,
        }
        kept = X.drop(columns=[c for c in PRICE_FEATURES if c in X.columns])
        out = pd.concat([kept, pd.DataFrame(new, index=X.index, copy=False)], axis=1)
        logger.debug("PriceJoiner: %d rows, %d available", len(out), int(new[AVAILABLE].sum()))
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the input columns followed by the four price features.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input columns; defaults to those seen in ``fit``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "price_table_")
        names = self.feature_names_in_ if input_features is None else input_features
        kept = [str(c) for c in names if c not in PRICE_FEATURES]
        return np.asarray([*kept, *PRICE_FEATURES], dtype=object)

    # ------------------------------------------------------------------ helpers

    def _pairs_of_runs(self, X: pd.DataFrame):
        """Runs of equal (store, item) in ``X`` and their rows of ``price_table_``.

        Raises DataError for a series the price table never prices.
        """
        store_codes, store_cats = codes_and_categories(X[STORE], drop_unused=False)
        item_codes, item_cats = codes_and_categories(X[ITEM], drop_unused=False)
        starts, lengths = runs_of((store_codes, item_codes), len(X))
        store_map = np.append(self.stores_.get_indexer(pd.Index(store_cats).astype(str)), -1)
        item_map = np.append(self.items_.get_indexer(pd.Index(item_cats).astype(str)), -1)
        store = store_map[store_codes[starts]]  # code -1 (missing) maps to the appended -1
        item = item_map[item_codes[starts]]
        known = (store >= 0) & (item >= 0)
        pair = np.full(len(starts), -1, dtype=np.int64)
        pair[known] = self.pair_index_[store[known], item[known]]
        if (pair < 0).any():
            row = int(starts[np.flatnonzero(pair < 0)[0]])
            ident = f"{X[ID].iloc[row]!r} " if ID in X.columns else ""
            raise DataError(
                f"series {ident}(store {X[STORE].iloc[row]!r}, item {X[ITEM].iloc[row]!r}) "
                "has no price in the price table: every series needs sell prices"
            )
        return starts, lengths, pair

    def _check_forecast_weeks(self, X: pd.DataFrame, weeks: np.ndarray) -> None:
        """Refuse a price table that stops after the last week with sales, before the forecast days (the rows after
        the last day with sales): every series would be forecast 0 there, as `m5kit train` refuses (DataError)."""
        from m5kit.datasets._validate import check_forecast_weeks

        if SALES not in X.columns or DAY not in X.columns or not pd.api.types.is_integer_dtype(X[DAY].dtype):
            return
        days = X[DAY].to_numpy()
        known = X[SALES].notna().to_numpy()
        if not known.any():
            return
        last = int(days[known].max())
        future = days > last
        if not future.any():
            return
        forecast_days, first = np.unique(days[future], return_index=True)
        last_week = int(weeks[np.flatnonzero(days == last)[0]])
        check_forecast_weeks(last, last_week, forecast_days, weeks[future][first].astype(np.int64), self.weeks_,
                             "price table")

    def _refuse_other_weeks(self, weeks: np.ndarray) -> None:
        """A DataError when no week of the frame is a week of the price table (another calendar's week numbers): every
        day would be 'not on sale', and every group fail later with 'no training row'."""
        ours = np.unique(weeks)
        if np.isin(ours, self.weeks_).any():
            return
        raise DataError(f"price table: no week of the data has a price (the table's weeks {self.weeks_[0]}.."
                        f"{self.weeks_[-1]}, the data's {ours[0]}..{ours[-1]}): use the prices of the same data as "
                        "the calendar")

    def _week_index(self, weeks: np.ndarray) -> np.ndarray:
        """Column of ``price_table_`` for each week (the last, all-missing one when unknown)."""
        n_weeks = len(self.weeks_)
        low = int(self.weeks_[0])
        lookup = np.full(int(self.weeks_[-1]) - low + 3, n_weeks, dtype=np.int32)
        lookup[self.weeks_ - low + 1] = np.arange(n_weeks, dtype=np.int32)
        position = np.clip(weeks.astype(np.int32) - (low - 1), 0, len(lookup) - 1)
        return lookup[position]


def _index_prices(prices: pd.DataFrame):
    """Validate the price table and build the (store, item) x week lookup tables."""
    require_columns(prices, PRICE_COLS, "price table", "pass the M5 sell_prices.csv table")
    price = prices["sell_price"]
    if not pd.api.types.is_numeric_dtype(price.dtype) or pd.api.types.is_bool_dtype(price.dtype):
        raise DataError("price table column 'sell_price' must hold numbers")
    price = price.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~((price > 0) & np.isfinite(price))  # NaN, zero, negative and infinite
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "missing" if np.isnan(price[row]) else f"{price[row]:g}"
        raise DataError(
            f"price table row {row} (store {prices[STORE].iloc[row]!r}, item {prices[ITEM].iloc[row]!r}, "
            f"week {prices[WEEK].iloc[row]}) has sell_price {what}: prices must be positive finite numbers"
        )
    week = prices[WEEK]
    if not pd.api.types.is_integer_dtype(week.dtype):
        raise DataError("price table column 'wm_yr_wk' must hold whole week numbers (like 11101)")
    week = week.to_numpy(dtype=np.int64)

    store_codes, stores = codes_and_categories(prices[STORE])
    item_codes, items = codes_and_categories(prices[ITEM])
    for codes, column in ((store_codes, STORE), (item_codes, ITEM)):
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataError(f"price table column {column!r} is missing in row {row}")
    stores, items = pd.Index(stores).astype(str), pd.Index(items).astype(str)

    key = store_codes.astype(np.int64) * len(items) + item_codes
    pair_keys, pair = np.unique(key, return_inverse=True)
    weeks, week_col = np.unique(week, return_inverse=True)
    n_pairs, n_weeks = len(pair_keys), len(weeks)
    cell = pair * n_weeks + week_col
    counts = np.bincount(cell, minlength=n_pairs * n_weeks)
    if (counts > 1).any():
        row = int(np.flatnonzero(counts[cell] > 1)[0])
        raise DataError(
            f"price table has more than one price for store {prices[STORE].iloc[row]!r}, "
            f"item {prices[ITEM].iloc[row]!r}, week {week[row]}: one row per store, item and week"
        )

    pair_index = np.full((len(stores), len(items)), -1, dtype=np.int32)
    pair_index[pair_keys // len(items), pair_keys % len(items)] = np.arange(n_pairs, dtype=np.int32)

    # one extra row (unknown pair) and column (unknown week), all missing
    table = np.full((n_pairs + 1, n_weeks + 1), np.nan, dtype=np.float64)
    table[pair, week_col] = price
    mean = np.bincount(pair, weights=price, minlength=n_pairs) / np.bincount(pair, minlength=n_pairs)
    rel = table[:n_pairs] / mean[:, None]
    change = np.zeros_like(table)
    change[:n_pairs, 1:n_weeks] = table[:n_pairs, 1:n_weeks] / table[:n_pairs, : n_weeks - 1] - 1.0
    rel_table = np.zeros_like(table, dtype=np.float32)
    rel_table[:n_pairs] = np.nan_to_num(rel, nan=0.0)
    change_table = np.nan_to_num(change, nan=0.0).astype(np.float32)
    return (stores, items, pair_index, weeks, table.astype(np.float32), rel_table, change_table)
