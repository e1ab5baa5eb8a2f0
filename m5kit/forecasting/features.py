"""Tabular features for gradient-boosted forecasters: the windower of a GBM.

:class:`LagFeatures` fills the ``windower`` slot of
:class:`~m5kit.grouped.GroupedEstimator` for tree models. Where the
:class:`~m5kit.transformers.Windower` cuts 3-D windows for a sequence model,
it makes one table row per series and day: sales lags and rolling statistics,
calendar, price and id features, and the day's sales as the target (in units:
a Tweedie objective needs no scaling).

Two strategies:

- ``"direct"``: every sales feature is lagged at least ``horizon`` days, so
  the features of all future days are known at the forecast origin and one
  ``predict`` call gives the whole forecast. No prediction is fed back.
- ``"recursive"``: lags start at one day; the forecast runs day by day and
  each day's prediction becomes the next days' lags.

All the work happens on a (series x day) grid of the group with NumPy: rolling
sums come from cumulative sums, so there is no Python loop over series or
days (only over the forecast days of the recursive strategy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit import _checks
from m5kit._schema import AVAILABLE, DAY, EVENT_DISTANCE_FEATURES, EVENT_TYPES, FIRST_DATE, GROUP, HORIZON, ID, SALES, day_name
from m5kit.errors import DataError, GroupError, ParamError

__all__ = ["LagFeatures", "STRATEGIES", "DIRECT_LAGS", "RECURSIVE_LAGS"]

logger = logging.getLogger(__name__)

STRATEGIES = ("direct", "recursive")

#: Default lags of the direct strategy, as offsets past ``horizon``: days
#: h .. h+7, then h+14, h+21, h+28 (28..35, 42, 49, 56 for h = 28, as in the
#: M5 winners' LightGBM models).
DIRECT_LAGS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 14, 21, 28)

#: Default lags of the recursive strategy (days): the last week, then weekly to eight weeks.
RECURSIVE_LAGS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 14, 21, 28, 35, 42, 49, 56)

#: Id columns used as categorical features when they are in the frame.
ID_FEATURES: tuple[str, ...] = ("item_id", "dept_id", "cat_id", "store_id", "state_id")

#: Calendar and price columns taken as they are when they are in the frame.
ROW_FEATURES: tuple[str, ...] = (
    "wday", "month", "snap", "event", *(f"event_{t}" for t in EVENT_TYPES),
    "sell_price", "price_rel", "price_change", *EVENT_DISTANCE_FEATURES,
)

_FIRST = np.datetime64(FIRST_DATE, "D")


@dataclass
class _Layout:
    """One group's long frame as a (series x day) grid of row numbers."""

    ids: np.ndarray       # (S,) series ids as str, in order of first appearance
    first_day: int        # day number of grid column 0
    row: np.ndarray       # (S, D) int64 row of the frame, -1 where the frame has no row
    sales: np.ndarray     # (S, D) float64 sales on available days with known sales, else NaN
    available: np.ndarray  # (S, D) bool: the frame has a row and the item is on sale


def _check_frame(X) -> None:
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"LagFeatures needs the long frame (a pandas DataFrame), got {type(X).__name__}")
    missing = [c for c in (ID, DAY, SALES) if c not in X.columns]
    if missing:
        raise DataError(f"the long frame has no column {missing[0]!r}: LagFeatures needs id, d and sales "
                        "(run CalendarMerger first)")
    if X.empty:
        raise DataError("the long frame of the group is empty: nothing to make features from")


def _layout(X: pd.DataFrame) -> _Layout:
    codes, uniques = pd.factorize(X[ID], sort=False)
    if (codes < 0).any():
        raise DataError(f"the long frame has {int((codes < 0).sum())} row(s) without an id: drop them")
    days = X[DAY].to_numpy()
    if not np.issubdtype(days.dtype, np.integer):
        raise DataError(f"column {DAY!r} must hold day numbers (int16, 1 = d_1), got dtype {X[DAY].dtype}")
    first = int(days.min())
    n_series, n_days = len(uniques), int(days.max()) - first + 1
    cell = codes.astype(np.int64) * n_days + (days.astype(np.int64) - first)
    row = np.full(n_series * n_days, -1, dtype=np.int64)
    row[cell] = np.arange(cell.size)
    if int((row >= 0).sum()) != cell.size:
        raise DataError("the long frame has duplicate (id, d) rows: keep one row per series and day")
    row = row.reshape(n_series, n_days)
    present = row >= 0
    take = np.where(present, row, 0)
    available = present.copy()
    if AVAILABLE in X.columns:
        available &= X[AVAILABLE].to_numpy(dtype=np.float32, na_value=0)[take] > 0
    sales = X[SALES].to_numpy(dtype=np.float64, na_value=np.nan)[take]
    sales = np.where(available, sales, np.nan)
    ids = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    return _Layout(ids=ids, first_day=first, row=row, sales=sales, available=available)


def _cumulative(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative sums (with a leading 0 column) of values, squares and counts, NaN skipped."""
    known = ~np.isnan(values)
    v = np.where(known, values, 0.0)
    out = []
    for a in (v, v * v, known.astype(np.float64)):
        c = np.zeros((a.shape[0], a.shape[1] + 1))
        np.cumsum(a, axis=1, out=c[:, 1:])
        out.append(c)
    return out[0], out[1], out[2]


def _sales_features(sales: np.ndarray, s: np.ndarray, t: np.ndarray, lags: Sequence[int], shift: int,
                    windows: Sequence[int], std_windows: Sequence[int]) -> dict[str, np.ndarray]:
    """Lags and rolling statistics (over days up to ``t - shift``) at the cells ``(s, t)`` of the grid."""
    out: dict[str, np.ndarray] = {}
    n_days = sales.shape[1]
    for lag in lags:
        src = t - lag
        out[f"sales_lag{lag}"] = np.where(src >= 0, sales[s, np.clip(src, 0, n_days - 1)], np.nan).astype(np.float32)
    total, squares, count = _cumulative(sales)
    end = np.clip(t - shift + 1, 0, n_days)
    for w in sorted(set(windows) | set(std_windows)):
        start = np.clip(end - w, 0, n_days)
        n = count[s, end] - count[s, start]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (total[s, end] - total[s, start]) / n
            if w in windows:
                out[f"sales_mean{w}_lag{shift}"] = np.where(n > 0, mean, np.nan).astype(np.float32)
            if w in std_windows:
                var = (squares[s, end] - squares[s, start]) / n - mean * mean
                out[f"sales_std{w}_lag{shift}"] = np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan).astype(np.float32)
    return out


def _row_table(X: pd.DataFrame, price_max: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per-row calendar and price features of the frame (float32)."""
    days = X[DAY].to_numpy().astype(np.int64)
    dates = _FIRST + (days - 1)
    table = {
        "mday": ((dates - dates.astype("datetime64[M]")).astype(np.int64) + 1).astype(np.float32),
        "yday": ((dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1).astype(np.float32),
    }
    for col in ROW_FEATURES:
        if col in X.columns:
            table[col] = X[col].to_numpy(dtype=np.float32, na_value=np.nan)
    if price_max is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            table["price_max_rel"] = (table["sell_price"] / price_max).astype(np.float32)
    return table


def _price_max(X: pd.DataFrame) -> np.ndarray | None:
    """Each row's series' highest sell price (over the whole frame: prices are known in advance)."""
    if "sell_price" not in X.columns:
        return None
    price = X["sell_price"].to_numpy(dtype=np.float32, na_value=np.nan)
    return pd.Series(price).groupby(X[ID].to_numpy(), sort=False).transform("max").to_numpy(dtype=np.float32)


class LagFeatures(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Make one table row per series and day for a gradient-boosted forecaster.

    Fills the ``windower`` slot of :class:`~m5kit.grouped.GroupedEstimator`
    (the same ``fit`` / ``make_training_data`` / ``recursive_predict``
    protocol as :class:`~m5kit.transformers.Windower`), for LightGBM or
    XGBoost regressors (see :mod:`m5kit.models.gbm`).

    Features of day ``t`` of a series:

    - sales lags (``sales_lag<k>``: sales of day ``t - k``);
    - rolling mean (and std) of sales over ``w`` days ending on day
      ``t - shift`` (``sales_mean<w>_lag<shift>``), where ``shift`` is
      ``horizon`` for the direct strategy and 1 for the recursive one;
    - calendar: ``wday``, ``month``, day of month ``mday``, day of year
      ``yday``, ``snap``, ``event`` and ``event_<type>``, and the days to
      and since each type of event (``event_<type>_in``, ``event_<type>_ago``,
      when :class:`~m5kit.transformers.CalendarMerger` adds them);
    - price: ``sell_price``, ``price_rel``, ``price_change`` and
      ``price_max_rel`` (price over the series' highest price);
    - ids as categories: ``item_id``, ``dept_id``, ``cat_id``, ``store_id``,
      ``state_id`` (those in the frame).

    Sales of days when the item is not on sale (``available`` 0) count as
    unknown. The training rows are the days with known sales when the item
    is on sale and was on sale with known sales (sold or not) at least
    ``shift`` days before; the target
    is the day's sales in units.

    Parameters
    ----------
    strategy : {"direct", "recursive"}, default="direct"
        ``"direct"``: every sales feature is lagged ``>= horizon`` days and
        the forecast is one ``predict``. ``"recursive"``: lags from one day,
        each day's forecast fed back. Direct is the default: on three 28-day
        windows of the real store CA_1 (one LightGBM per store) it scored
        WRMSSE 0.43-0.59 (mean 0.522) against 0.50-0.75 (mean 0.658) for
        recursive, and AutoETS 0.54-0.62. The recursive forecast feeds back
        means (0.3 units) where training saw whole units, and LightGBM
        splits "no sale" from "a sale" at 1e-35, so a fed-back 0.3 reads as a
        sale and the forecast climbs (a global model's total 13.6% too high
        in one window); it won only on M5's own holdout window (see
        ``benchmarks/RESULTS.md``, "Three holdout windows").
    horizon : int, default=28
        Days the direct strategy must forecast: its smallest lag. Ignored by
        the recursive strategy.
    lags : sequence of int or None, default=None
        Sales lags in days. None: ``horizon + DIRECT_LAGS`` (direct) or
        ``RECURSIVE_LAGS`` (recursive). Direct lags must be ``>= horizon``.
    windows : sequence of int, default=(7, 28, 56)
        Rolling-mean windows in days.
    std_windows : sequence of int, default=(7, 28)
        Rolling standard-deviation windows in days.
    train_days : int or None, default=730
        Train on the last ``train_days`` days with known sales only: two
        years hold every seasonal pattern and bound memory and time (a
        level-3 store group of 3,049 series is 2.2 million rows); None uses
        the whole history.

    Attributes
    ----------
    group_ : str
        Name of the group fitted on.
    feature_names_out_ : ndarray of str
        Columns of the feature table.
    categories_ : dict
        Categories of each id feature, fixed at fit so that predictions
        code them as in training.
    lags_ : tuple of int
        The lags used.
    shift_ : int
        Days between a target day and the last day of its rolling windows.
    strategy_ : str
        The strategy fitted: ``recursive_predict`` follows it.
    n_rows_ : int
        Training rows of the fitted frame.

    See Also
    --------
    m5kit.transformers.Windower : the windows of the sequence models.
    m5kit.models.gbm.make_lightgbm : a LightGBM regressor with m5kit's defaults.

    Examples
    --------
    >>> from m5kit import make_m5, CalendarMerger, PriceJoiner
    >>> from sklearn.pipeline import make_pipeline as sk_make_pipeline
    >>> data = make_m5(n_items=2, n_stores=1, n_days=120)
    >>> frame = sk_make_pipeline(CalendarMerger(data.calendar), PriceJoiner(data.prices)).fit_transform(data.sales)
    >>> features = LagFeatures(strategy="direct").fit(frame)
    >>> X, y = features.make_training_data(frame)
    >>> X.columns[:3].tolist(), len(X) == len(y)
    (['sales_lag28', 'sales_lag29', 'sales_lag30'], True)
    """

    def __init__(
        self,
        strategy: str = "direct",
        horizon: int = HORIZON,
        lags: Sequence[int] | None = None,
        windows: Sequence[int] = (7, 28, 56),
        std_windows: Sequence[int] = (7, 28),
        train_days: int | None = 730,
    ):
        self.strategy = strategy
        self.horizon = horizon
        self.lags = lags
        self.windows = windows
        self.std_windows = std_windows
        self.train_days = train_days

    # -- parameters -------------------------------------------------------------
    def _settings(self) -> tuple[tuple[int, ...], int, tuple[int, ...], tuple[int, ...]]:
        """Checked (lags, shift, windows, std_windows)."""
        _checks.choice(self.strategy, "strategy", STRATEGIES)
        horizon = _checks.whole(self.horizon, "horizon")
        _checks.optional_whole(self.train_days, "train_days")
        shift = horizon if self.strategy == "direct" else 1
        if self.lags is None:
            lags = tuple(horizon + k for k in DIRECT_LAGS) if self.strategy == "direct" else RECURSIVE_LAGS
        else:
            lags = tuple(_checks.whole(v, "lag") for v in _as_sequence(self.lags))
        if self.strategy == "direct" and lags and min(lags) < horizon:
            raise ParamError(f"invalid lags {self.lags!r}: the direct strategy needs every lag >= horizon ({horizon}), "
                             "or use strategy='recursive'")
        windows = tuple(_checks.whole(v, "window") for v in _as_sequence(self.windows))
        std_windows = tuple(_checks.whole(v, "std window", minimum=2) for v in _as_sequence(self.std_windows))
        return tuple(sorted(set(lags))), shift, windows, std_windows

    def _check_params(self) -> None:
        """Check the parameters (what :class:`~m5kit.grouped.GroupedEstimator` does before any group is fitted)."""
        self._settings()

    def _lookback(self) -> int:
        """Days of history before a forecast day that its features read."""
        return max([*self.lags_, self.shift_ + max([*self.windows_, *self.std_windows_, 0])])

    # -- fit ----------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None) -> LagFeatures:
        """Check the group's frame and fix the feature set.

        Parameters
        ----------
        X : DataFrame
            One group's long frame (CalendarMerger -> PriceJoiner ->
            LevelAggregator output).
        y : None
            Ignored: the targets are the ``sales`` column.

        Returns
        -------
        self

        Raises
        ------
        GroupError
            The group has fewer than 2 training rows (days with known sales
            on sale, at least ``shift`` days after a first such day).
        """
        lags, shift, windows, std_windows = self._settings()
        _check_frame(X)
        layout = _layout(X)
        group = str(X[GROUP].iloc[0]) if GROUP in X.columns else (
            str(layout.ids[0]) if len(layout.ids) == 1 else f"{len(layout.ids)} series")
        s, t = self._training_cells(layout, shift)
        if s.size < 2:  # LightGBM cannot fit one row (it bags none of it: "Check failed: (num_data) > (0)")
            rows = "no training row" if s.size == 0 else "only 1 training row (at least 2 are needed)"
            raise GroupError(
                f"group {group!r} has {rows}: it needs days with known sales while on sale, "
                f"at least {shift} day(s) after a first such day; leave the group out"
            )
        # set once the group has training rows: a failed refit leaves the last fit whole
        self.lags_, self.shift_, self.strategy_ = lags, shift, self.strategy
        self.windows_, self.std_windows_ = windows, std_windows
        self.group_ = group
        self.categories_ = {
            col: _present_values(X[col])
            for col in ID_FEATURES if col in X.columns
        }
        self.n_rows_ = int(s.size)
        self.__dict__.pop("feature_names_out_", None)  # a refit takes the columns of its own frame
        self.feature_names_out_ = np.asarray(list(self._table(X, layout, s[:1], t[:1]).columns), dtype=object)
        self.n_features_ = len(self.feature_names_out_)
        logger.debug("group %s: %d series, %d training rows", self.group_, len(layout.ids), self.n_rows_)
        return self

    def _training_cells(self, layout: _Layout, shift: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Series and grid-day indices of the training rows, ordered by day then series (``shift``: the fitted one
        unless given)."""
        shift = self.shift_ if shift is None else shift
        known = ~np.isnan(layout.sales)
        started = np.maximum.accumulate(known, axis=1)  # sold (known, on sale) on this day or before
        ok = known.copy()
        ok[:, : shift] = False
        ok[:, shift:] &= started[:, : -shift or None]
        if self.train_days is not None and ok.any():
            last = int(np.nonzero(known.any(axis=0))[0][-1])
            ok[:, : max(last - int(self.train_days) + 1, 0)] = False
        t, s = np.nonzero(ok.T)
        return s, t

    # -- the table ---------------------------------------------------------------
    def _table(self, X: pd.DataFrame, layout: _Layout, s: np.ndarray, t: np.ndarray,
               rows: dict[str, np.ndarray] | None = None, sales: np.ndarray | None = None) -> pd.DataFrame:
        """Feature rows of the cells ``(s, t)`` of the layout (sales from ``sales`` when given)."""
        columns = _sales_features(layout.sales if sales is None else sales, s, t, self.lags_, self.shift_,
                                  self.windows_, self.std_windows_)
        if rows is None:
            rows = _row_table(X, _price_max(X))
        at = layout.row[s, t]
        missing = at < 0
        take = np.where(missing, 0, at)
        for name, values in rows.items():
            columns[name] = np.where(missing, np.nan, values[take]).astype(np.float32)
        frame = pd.DataFrame(columns)
        for col, cats in getattr(self, "categories_", {}).items():
            if col in X.columns:
                frame[col] = _categorical(X[col], cats, take, missing)
        fitted = getattr(self, "feature_names_out_", None)
        if fitted is not None and list(frame.columns) != list(fitted):
            absent = [c for c in fitted if c not in frame.columns]
            if absent:
                raise DataError(f"the frame lacks the column(s) {', '.join(map(repr, absent))} this LagFeatures was "
                                "fitted with: transform the data with the same pipeline steps as in fit")
            frame = frame[list(fitted)]  # columns the fit did not see are left out, in the fitted order
        return frame

    def make_training_data(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the feature table of the training rows and their sales.

        Parameters
        ----------
        X : DataFrame
            The long frame of the group this LagFeatures was fitted on.

        Returns
        -------
        X_table : DataFrame
            One row per training (series, day), ordered by day then series
            (in the frame's order: LightGBM's bagging samples rows by
            position, so the frame's series in another order fit a slightly
            different model); columns ``feature_names_out_`` (ids as pandas
            categories).
        y : ndarray of float32
            Sales of each row's day, in units.
        """
        check_is_fitted(self, "feature_names_out_")
        _check_frame(X)
        layout = _layout(X)
        s, t = self._training_cells(layout)
        if s.size == 0:
            raise GroupError(f"group {self.group_!r} has no training row in this frame")
        table = self._table(X, layout, s, t)
        return table, layout.sales[s, t].astype(np.float32)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return the feature table of the training rows (the ``X_table`` of :meth:`make_training_data`)."""
        return self.make_training_data(X)[0]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the feature columns."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def set_output(self, *, transform: str | None = None) -> LagFeatures:
        """The table is a pandas DataFrame already: ``"pandas"`` and ``"default"`` are accepted."""
        if transform not in (None, "default", "pandas"):
            raise ParamError(f"LagFeatures returns a pandas DataFrame, it has no {transform!r} output: "
                             "use set_output(transform='pandas')")
        return self

    # -- forecasting -----------------------------------------------------------------
    def recursive_predict(self, X: pd.DataFrame, regressor, horizon: int = HORIZON) -> pd.DataFrame:
        """Forecast ``horizon`` days after the last day with sales.

        The direct strategy makes the feature rows of every future day at
        once (their sales features reach back ``>= self.horizon`` days) and
        calls ``regressor.predict`` once. The recursive strategy predicts one
        day of every series per call and writes the predictions in as known
        sales for the next days' lags. Predictions are clipped at 0 and set to
        0 on days when the item is not on sale.

        Parameters
        ----------
        X : DataFrame
            The group's long frame: the history and ``horizon`` future rows
            per series (``sales`` NaN, calendar and price known).
        regressor : fitted regressor
            Trained on this LagFeatures' table.
        horizon : int, default=28
            Days to forecast.

        Returns
        -------
        DataFrame
            ``id`` (same dtype as the frame's), ``d`` (``"d_1914"``, ...),
            ``forecast`` (float32, >= 0); one row per series and day, ordered
            by series then day.

        Raises
        ------
        ParamError
            ``horizon`` is not a whole number >= 1.
        DataError
            No history or future rows, or a direct forecast longer than the
            ``horizon`` it was fitted for.
        """
        check_is_fitted(self, "feature_names_out_")
        _check_frame(X)
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ParamError(f"recursive_predict horizon must be a whole number >= 1, got {horizon!r}")
        horizon = int(horizon)
        strategy = getattr(self, "strategy_", self.strategy)  # as fitted: a set_params since changes no forecast
        if strategy == "direct" and horizon > self.shift_:
            raise DataError(
                f"this direct LagFeatures was fitted for a horizon of {self.shift_} days and cannot forecast "
                f"{horizon}: fit it with horizon={horizon} (or strategy='recursive')"
            )
        known = X[SALES].notna().to_numpy()
        if not known.any():
            raise DataError("the frame has no day with sales to forecast from: pass the history with the future rows")
        last = int(X[DAY].to_numpy()[known].max())
        price_max = _price_max(X)
        keep = X[DAY].to_numpy() >= last + 1 - self._lookback()
        sub = X[keep]
        rows = _row_table(sub, None if price_max is None else price_max[keep])
        layout = _layout(sub)
        f = last + 1 - layout.first_day  # grid column of the first forecast day
        future = layout.row[:, f: f + horizon] >= 0
        n_future = future.sum(axis=1) if future.shape[1] else np.zeros(len(layout.ids), dtype=np.int64)
        if future.shape[1] < horizon or (n_future < horizon).any():
            worst = int(np.argmin(n_future)) if n_future.size else 0
            raise DataError(
                f"series {layout.ids[worst]!r} has {int(n_future[worst]) if n_future.size else 0} future row(s) after "
                f"{day_name(last)} (the last day with sales) but the forecast needs {horizon}: "
                "add the future days with their calendar and price features (sales NaN)"
            )
        n_series = len(layout.ids)
        on_sale = layout.available[:, f: f + horizon]
        if strategy == "direct":
            s = np.repeat(np.arange(n_series), horizon)
            t = np.tile(np.arange(f, f + horizon), n_series)
            pred = _predict(regressor, self._table(sub, layout, s, t, rows)).reshape(n_series, horizon)
            forecast = np.where(on_sale, np.maximum(pred, 0.0), 0.0)
        else:
            sales = layout.sales.copy()
            sales[:, f:] = np.nan
            forecast = np.zeros((n_series, horizon))
            s = np.arange(n_series)
            for k in range(horizon):
                t = np.full(n_series, f + k)
                pred = _predict(regressor, self._table(sub, layout, s, t, rows, sales=sales))
                forecast[:, k] = np.where(on_sale[:, k], np.maximum(pred, 0.0), 0.0)
                sales[:, f + k] = np.where(on_sale[:, k], forecast[:, k], np.nan)

        days = np.arange(last + 1, last + 1 + horizon)
        ids = np.repeat(layout.ids, horizon)
        id_dtype = X[ID].dtype
        id_col = pd.Series(ids).astype(id_dtype) if isinstance(id_dtype, pd.CategoricalDtype) else pd.Series(ids, dtype=str)
        return pd.DataFrame({
            ID: id_col,
            DAY: pd.Series(np.tile([day_name(d) for d in days], n_series), dtype=str),
            "forecast": forecast.astype(np.float32).ravel(),
        })


def _present_values(column: pd.Series) -> np.ndarray:
    """The sorted distinct values of an id column, as str."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.unique(column.cat.codes.to_numpy())
        values = column.cat.categories.astype(str).to_numpy()[codes[codes >= 0]]
    else:
        values = pd.unique(column.dropna().astype(str).to_numpy())
    return np.asarray(sorted(values), dtype=object)


def _categorical(column: pd.Series, categories: np.ndarray, take: np.ndarray, missing: np.ndarray) -> pd.Categorical:
    """The values ``column[take]`` coded with the fitted ``categories`` (unknown values as NaN)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        lookup = pd.Index(categories).get_indexer(column.cat.categories.astype(str))
        raw = column.cat.codes.to_numpy()[take]
        codes = np.where(raw >= 0, lookup[raw], -1)
    else:
        codes = pd.Index(categories).get_indexer(column.astype(str).to_numpy()[take])
    codes = np.where(missing, -1, codes)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))


def _as_sequence(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:
        return (value,)
    return tuple(value)


def _predict(regressor, table: pd.DataFrame) -> np.ndarray:
    """``regressor.predict`` as finite float64 (non-finite values become 0, with a warning in the log)."""
    pred = np.asarray(regressor.predict(table), dtype=np.float64).reshape(-1)
    if pred.size != len(table):
        raise DataError(f"the regressor returned {pred.size} values for {len(table)} feature rows")
    bad = ~np.isfinite(pred)
    if bad.any():
        logger.warning("the regressor returned %d non-finite prediction(s); they are set to 0", int(bad.sum()))
        pred = np.where(bad, 0.0, pred)
    return pred
