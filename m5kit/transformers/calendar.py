"""CalendarMerger: from M5 sales to the long frame with calendar features."""

from __future__ import annotations

import logging
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import choice, whole
from m5kit._schema import (
    CALENDAR_FEATURES,
    DAY,
    DAY_FEATURES,
    DAY_PREFIX,
    EVENT_REACH,
    EVENT_TYPES,
    HORIZON,
    ID_COLS,
    SALES,
    STATE,
    WEEK,
    day_name,
)
from m5kit.errors import DataError
from m5kit.transformers._long import (
    LONG_COLUMNS,
    LongFrameMixin,
    keeps_last_fit,
    codes_and_categories,
    extend_long,
    is_wide,
    long_days,
    melt_wide,
    require_columns,
    require_frame,
    wide_days,
    wide_id_codes,
)

__all__ = ["CalendarMerger", "EventTypeWarning"]

logger = logging.getLogger(__name__)

#: Calendar columns CalendarMerger reads (plus ``snap_<state>`` for each state of the data).
CALENDAR_NEEDED: tuple[str, ...] = (DAY, WEEK, "wday", "month", "year", "event_type_1", "event_type_2")
_INT_COLUMNS: dict[str, type] = {WEEK: np.int16, "wday": np.int8, "month": np.int8, "year": np.int16}
#: The values a weekday and a month can take (M5's wday: 1 = Saturday).
_RANGES: dict[str, tuple[int, int, str]] = {"wday": (1, 7, " (1 = Saturday)"), "month": (1, 12, "")}
#: The unknown event types already named in a warning of this process.
_WARNED_TYPES: set[tuple[str, ...]] = set()


class EventTypeWarning(UserWarning):
    """The calendar has event types that are none of M5's four: their days count in ``event`` only (`m5kit` commands
    show it as one line)."""


def _caller_stacklevel() -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` in the function that calls this) of the first caller outside m5kit,
    scikit-learn and joblib (a Pipeline's ``memory``): the user's line, not ``fit_transform``'s inside scikit-learn."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and str(frame.f_globals.get("__name__")).partition(".")[0] in ("m5kit", "sklearn",
                                                                                                "joblib"):
        frame, level = frame.f_back, level + 1
    return level


class CalendarMerger(LongFrameMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Turn M5 sales into the long frame and add the calendar features of each day.

    ``transform`` accepts the wide M5 sales table (``id``, the five id columns,
    ``d_1 ... d_N``) or a long frame (id columns, ``d``, ``sales``). It returns
    one row per series and day, sorted by series (the table's row order) then
    day, with ``horizon`` future days (NaN sales) after each series' last day,
    and the columns of :data:`m5kit._schema.CALENDAR_FEATURES`:

    - ``wm_yr_wk`` (int16), ``wday`` (int8, 1 = Saturday), ``month`` (int8),
      ``year`` (int16): copied from the calendar row of the day;
    - ``snap`` (int8): the SNAP flag of the row's own state
      (``snap_CA`` for a CA store, ...);
    - ``event`` (int8): 1 when the day has any event;
    - ``event_Cultural``, ``event_National``, ``event_Religious``,
      ``event_Sporting`` (int8): 1 when ``event_type_1`` or ``event_type_2``
      is that type, whatever its case (a type M5 does not have counts in
      ``event`` only, and a warning names it);
    - with ``event_distance=True``, ``event_<type>_in`` and
      ``event_<type>_ago`` (int8): days to the next and since the last day
      with an event of that type (0 on one), ``7`` when none is that close.
      Holidays move the sales of the days around them: in store CA_1 of M5
      the FOODS sold on the three days before Easter were 1.14-1.25 times
      their usual, on the three after Thanksgiving 0.74-0.83
      (benchmarks/RESULTS.md). Days after the calendar's last row count as
      days without events.

    The frame is built from NumPy arrays of codes (1.4 GB for the full M5
    size, 59 M rows; each column is its own array, so later steps add columns
    without copying): no ``melt`` or ``merge`` on the full frame.

    Parameters
    ----------
    calendar : DataFrame
        M5 ``calendar.csv``: needs ``d``, ``wm_yr_wk``, ``wday``, ``month``,
        ``year``, ``event_type_1``, ``event_type_2`` and ``snap_<state>``
        for every state of the data. It must cover the sales days and the
        ``horizon`` days after them.
    horizon : int, default=28
        Number of future days added after each series' last sales day.
    event_distance : bool, default=False
        Add the eight ``event_<type>_in`` / ``event_<type>_ago`` columns
        (8 bytes a row: 0.5 GB at the full M5 size). :func:`m5kit.make_pipeline`
        switches them on for the gradient-boosted models, which read them
        (:class:`~m5kit.forecasting.features.LagFeatures`).

    Attributes
    ----------
    horizon_ : int
        The validated horizon.
    event_distance_ : bool
        Whether ``transform`` adds the ``event_<type>_in`` / ``_ago`` columns.
    day_features_ : dict of str to ndarray
        Calendar features indexed by day number (index 0 unused).
    covered_ : ndarray of bool
        ``covered_[d]`` is True when the calendar has day ``d``.
    snap_states_ : Index
        States with a ``snap_<state>`` column, in the row order of ``snap_table_``.
    snap_table_ : ndarray of int8, shape (n_states, n_days + 1)
        SNAP flag per state and day number.
    n_features_in_ : int
        Number of columns of the table seen in ``fit``.
    feature_names_in_ : ndarray of str
        Columns of the table seen in ``fit``.

    Warns
    -----
    EventTypeWarning
        The calendar has event types that are none of M5's four (Cultural,
        National, Religious, Sporting, in any case): their days count in
        ``event`` only, in no ``event_<type>`` feature. Once per process for
        the same types.

    See Also
    --------
    PriceJoiner : adds the sell price features to the long frame.
    LevelAggregator : tags or sums the series of an aggregation level.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> data = make_m5(n_items=2, n_stores=2, n_days=60, seed=0)
    >>> long = CalendarMerger(data.calendar, horizon=28).fit_transform(data.sales)
    >>> len(long) == data.n_series * (60 + 28)
    True
    >>> long[["d", "sales", "snap", "event"]].dtypes.astype(str).tolist()
    ['int16', 'float32', 'int8', 'int8']
    """

    def __init__(self, calendar: pd.DataFrame, horizon: int = HORIZON, event_distance: bool = False):
        self.calendar = calendar
        self.horizon = horizon
        self.event_distance = event_distance

    @keeps_last_fit
    def fit(self, X: pd.DataFrame, y=None) -> CalendarMerger:
        """Validate the calendar and the sales table; index the calendar by day.

        Parameters
        ----------
        X : DataFrame
            Wide M5 sales table or long frame (id columns, ``d``, ``sales``).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self.horizon_ = _check_horizon(self.horizon)
        event_distance = bool(choice(self.event_distance, "event_distance", (False, True)))
        calendar = require_frame(self.calendar, "calendar")
        X = require_frame(X, "sales table")
        wide = _check_sales(X)
        (self.day_features_, self.covered_, self.snap_states_, self.snap_table_) = _index_calendar(calendar)
        _, states = codes_and_categories(X[STATE])
        self._state_rows(states)
        if wide:
            days = wide_days(X)
        else:
            days = np.flatnonzero(np.bincount(long_days(X)))
        last = int(days[-1]) if days.size else 0
        _check_coverage(self.covered_, days, np.arange(last + 1, last + 1 + self.horizon_))
        self.event_distance_ = event_distance
        self._record_input(X)
        logger.debug("CalendarMerger fitted: %d calendar days, states %s", int(self.covered_.sum()), list(states))
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return the long frame with future days and calendar features.

        Parameters
        ----------
        X : DataFrame
            Wide M5 sales table or long frame (id columns, ``d``, ``sales``;
            other columns are dropped).

        Returns
        -------
        DataFrame
            Columns ``id ... state_id, d, sales`` and the calendar features,
            sorted by series then day.
        """
        check_is_fitted(self, "day_features_")
        X = require_frame(X, "sales table")
        horizon = self.horizon_
        if _check_sales(X):
            days = wide_days(X)
            last = int(days[-1]) if days.size else 0
            _check_coverage(self.covered_, days, np.arange(last + 1, last + 1 + horizon))
            long = melt_wide(X, horizon)
            # a (series x day) grid: features are one row per day, tiled over the series
            first = int(days[0]) if days.size else 1
            grid_days = np.arange(first, first + len(days) + horizon)
            state = long[STATE].array
            series_rows = self._state_rows(state.categories)[state.codes[:: max(len(grid_days), 1)]]
            features = {
                name: np.tile(self.day_features_[name][grid_days], len(X))
                for name in self._day_columns() if name != "snap"
            }
            features["snap"] = self.snap_table_[series_rows[:, None], grid_days[None, :]].reshape(-1)
        else:
            observed = np.flatnonzero(np.bincount(long_days(X)))
            long = extend_long(X, horizon)
            needed = np.flatnonzero(np.bincount(long[DAY].to_numpy()))
            _check_coverage(self.covered_, observed, np.setdiff1d(needed, observed))
            day = long[DAY].to_numpy().astype(np.intp)
            state = long[STATE].array
            state_rows = self._state_rows(state.categories)[state.codes]
            features = {
                name: self.day_features_[name][day] for name in self._day_columns() if name != "snap"
            }
            features["snap"] = self.snap_table_[state_rows, day]
            del day, state_rows

        columns = {name: long[name] for name in LONG_COLUMNS}
        columns.update({name: features[name] for name in self._day_columns()})
        out = pd.DataFrame(columns, copy=False)
        logger.debug("CalendarMerger: %d rows", len(out))
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the columns of the long frame made by ``transform``.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "day_features_")
        return np.asarray([*LONG_COLUMNS, *self._day_columns()], dtype=object)

    def _day_columns(self) -> tuple[str, ...]:
        # the fitted value: a set_params(event_distance=...) since the fit does not change transform's columns
        return DAY_FEATURES if getattr(self, "event_distance_", self.event_distance) else CALENDAR_FEATURES

    def _state_rows(self, states: pd.Index) -> np.ndarray:
        """Map state names to rows of ``snap_table_``; DataError for a state without SNAP column."""
        rows = self.snap_states_.get_indexer(pd.Index(states).astype(str))
        if (rows < 0).any():
            state = states[int(np.flatnonzero(rows < 0)[0])]
            raise DataError(
                f"calendar has no column 'snap_{state}' for the SNAP days of state {state!r}: "
                "pass the M5 calendar with one snap_<state> column per state"
            )
        return rows.astype(np.int8 if len(rows) < 127 else np.int64)


def _check_horizon(horizon) -> int:
    """Validate the forecast horizon (a whole number >= 0)."""
    return whole(horizon, "horizon (days)", minimum=0)


def _check_sales(X: pd.DataFrame) -> bool:
    """Validate the columns of a wide or long sales table; return True for wide."""
    wide = is_wide(X)
    hint = "the M5 sales table has id, item_id, dept_id, cat_id, store_id, state_id"
    require_columns(X, ID_COLS, "sales table", hint)
    if wide:
        for column in ID_COLS:
            wide_id_codes(X, column)
    else:
        require_columns(X, (DAY, SALES), "long sales frame")
    return wide


def _check_coverage(covered: np.ndarray, sales_days: np.ndarray, future_days: np.ndarray) -> None:
    """Raise DataError naming the first sales day, then the first future day, missing in the calendar."""
    for days, what in ((sales_days, "sales"), (future_days, "future")):
        days = np.asarray(days, dtype=np.int64)
        inside = days < len(covered)
        ok = np.zeros(len(days), dtype=bool)
        ok[inside] = covered[days[inside]]
        if not ok.all():
            first = day_name(days[~ok][0])
            if what == "sales":
                raise DataError(
                    f"calendar has no row for sales day {first}: pass a calendar that covers every sales day"
                )
            raise DataError(
                f"calendar has no row for {first}, a day of the forecast horizon after the last sales day: "
                "pass a calendar that covers the horizon too, or a smaller horizon"
            )


def _index_calendar(calendar: pd.DataFrame):
    """Validate the calendar and index its features by day number."""
    require_columns(calendar, CALENDAR_NEEDED, "calendar", "pass the M5 calendar.csv table")
    names = calendar[DAY].astype(str)
    numbers_ = pd.to_numeric(names.str.removeprefix(DAY_PREFIX), errors="coerce")
    bad = ~names.str.startswith(DAY_PREFIX) | numbers_.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"calendar column 'd' must hold day names d_1, d_2, ...: got {names.iloc[row]!r} in row {row}")
    days = numbers_.to_numpy(dtype=np.int64)
    if days.min() < 1 or days.max() > np.iinfo(np.int16).max:
        raise DataError("calendar column 'd' holds days outside d_1 .. d_32767")
    duplicated = pd.Series(days).duplicated().to_numpy()
    if duplicated.any():
        raise DataError(f"calendar has day {day_name(days[duplicated][0])} twice: one row per day")

    size = int(days.max()) + 1
    covered = np.zeros(size, dtype=bool)
    covered[days] = True

    def by_day(values: np.ndarray, dtype) -> np.ndarray:
        table = np.zeros(size, dtype=dtype)
        table[days] = values
        return table

    features: dict[str, np.ndarray] = {}
    for column, dtype in _INT_COLUMNS.items():
        values = pd.to_numeric(calendar[column], errors="coerce")
        _no_missing(values, column, days)
        info = np.iinfo(dtype)
        if ((values % 1) != 0).any() or values.min() < info.min or values.max() > info.max:
            raise DataError(f"calendar column {column!r} must hold whole numbers that fit {np.dtype(dtype).name}")
        if column in _RANGES:  # read by the models as they are: a wday of 9 was a feature no day has
            low, high, note = _RANGES[column]
            out = ((values < low) | (values > high)).to_numpy()
            if out.any():
                raise DataError(f"calendar column {column!r} holds {values[out].iloc[0]:g} on "
                                f"{day_name(days[out][0])}: it must hold {low} to {high}{note}")
        features[column] = by_day(values.to_numpy(), dtype)

    types = [_event_types(calendar[c]) for c in ("event_type_1", "event_type_2")]
    unknown = sorted({t for column in types for t in column if t and t not in EVENT_TYPES})
    if unknown and tuple(unknown) not in _WARNED_TYPES:  # they were silently in no event_<type> feature
        _WARNED_TYPES.add(tuple(unknown))  # once: a run fits the calendar more than once (m5kit train: twice)
        shown = ", ".join(map(repr, unknown[:5])) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        one = len(unknown) == 1
        warnings.warn(f"calendar: event type{'' if one else 's'} {shown} {'is' if one else 'are'} none of M5's "
                      f"{', '.join(EVENT_TYPES)}: {'its' if one else 'their'} days count in the 'event' feature only, in "
                      f"no event_<type> one; to give them one, rename {'it' if one else 'them'} to one of these types",
                      EventTypeWarning, stacklevel=_caller_stacklevel())
    names_ = [_text(calendar[c]) for c in ("event_name_1", "event_name_2") if c in calendar.columns]
    any_event = np.zeros(len(calendar), dtype=bool)
    for text in types + names_:
        any_event |= text != ""
    features["event"] = by_day(any_event, np.int8)
    for kind in EVENT_TYPES:
        features[f"event_{kind}"] = by_day((types[0] == kind) | (types[1] == kind), np.int8)
        features[f"event_{kind}_in"], features[f"event_{kind}_ago"] = _event_distance(features[f"event_{kind}"] > 0)

    snap_columns = [c for c in calendar.columns if isinstance(c, str) and c.startswith("snap_")]
    states = pd.Index([c.removeprefix("snap_") for c in snap_columns], dtype=object)
    snap = np.zeros((len(snap_columns), size), dtype=np.int8)
    for i, column in enumerate(snap_columns):
        values = pd.to_numeric(calendar[column], errors="coerce")
        _no_missing(values, column, days)
        if not values.isin([0, 1]).all():
            raise DataError(f"calendar column {column!r} must hold 0 or 1")
        snap[i, days] = values.to_numpy()
    return features, covered, states, snap


def _event_distance(flags: np.ndarray, reach: int = EVENT_REACH) -> tuple[np.ndarray, np.ndarray]:
    """Days to the next and since the last True of ``flags`` (0 on one), ``reach`` when none is that close.

    Examples
    --------
    >>> [a.tolist() for a in _event_distance(np.array([0, 0, 1, 0, 0, 0], dtype=bool), reach=2)]
    [[2, 1, 0, 2, 2, 2], [2, 2, 0, 1, 2, 2]]
    """
    at = np.arange(len(flags))
    far = 2 * len(flags) + reach
    last = np.maximum.accumulate(np.where(flags, at, -far))
    following = np.minimum.accumulate(np.where(flags, at, far)[::-1])[::-1]
    return (np.minimum(following - at, reach).astype(np.int8), np.minimum(at - last, reach).astype(np.int8))


def _no_missing(values: pd.Series, column: str, days: np.ndarray) -> None:
    """Raise DataError naming the first day on which a calendar column is missing."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"calendar column {column!r} is missing or not a number on {day_name(days[missing][0])}"
        )


def _event_types(values: pd.Series) -> np.ndarray:
    """An event type column as text ('' when missing), M5's four types spelled as M5 does whatever their case."""
    known = {kind.lower(): kind for kind in EVENT_TYPES}
    return np.asarray([known.get(t.lower(), t) for t in _text(values)], dtype=object)


def _text(values: pd.Series) -> np.ndarray:
    """Return a text column as an array of str, with missing values as ''."""
    return values.astype(object).where(values.notna(), "").astype(str).str.strip().to_numpy(dtype=object)
