"""Sliding windows over one group's long frame, and recursive forecasts.

The :class:`Windower` turns the long frame of one group (one or many series,
training days plus the future days with ``sales`` NaN) into the 3-D arrays a
sequence model trains on, and rolls a fitted model forward day by day.

The feature row of day ``j`` is ``[sales_scaled[j-1], covariates of day j]``:
the first column is yesterday's (scaled) sales, the others are what is known
about day ``j`` in advance (calendar, price). The window for target day ``t``
holds the rows ``t-window+1 .. t``, so its last row carries the target day's
own calendar and price; the target is ``sales_scaled[t]`` (or days
``t .. t+horizon-1``). Sales are divided per series by the series' mean
(``scaling="series"``), or each window's lag column and targets by
``1 + mean`` of that window's lag column (``scaling="window"``).

All the work happens on a 2-D (series x day) grid of the group: no Python
loop over days or series, and only the selected windows are ever copied.
"""

from __future__ import annotations

import contextlib

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from m5kit._checks import choice, optional_whole
from m5kit._schema import AVAILABLE, DAY, EVENT_TYPES, GROUP, ID, SALES, day_name
from m5kit.errors import DataError, GroupError, ParamError

__all__ = ["Windower", "DEFAULT_FEATURES", "LAG_FEATURE"]

logger = logging.getLogger(__name__)

#: Name of the first feature of every row: the previous day's scaled sales.
LAG_FEATURE = "sales_lag1"

#: Covariates built from ``wday`` / ``month`` (cyclic encodings).
_CYCLIC: dict[str, tuple[str, int, str]] = {
    "dow_sin": ("wday", 7, "sin"),
    "dow_cos": ("wday", 7, "cos"),
    "month_sin": ("month", 12, "sin"),
    "month_cos": ("month", 12, "cos"),
}

#: The default covariates, used when their source columns are in the frame.
DEFAULT_FEATURES: tuple[str, ...] = (
    *_CYCLIC,
    "snap",
    "event",
    *(f"event_{t}" for t in EVENT_TYPES),
    "price_rel",
    "price_change",
    AVAILABLE,
)

_REQUIRED = (ID, DAY, SALES)

#: The ways of scaling sales (see ``Windower(scaling=...)``).
SCALINGS = ("series", "window")


@dataclass
class _Grid:
    """One group's long frame laid out as (series x day) arrays."""

    ids: np.ndarray          # (S,) series ids as str, in order of first appearance
    first_day: int           # day number of grid column 0
    sales: np.ndarray        # (S, D) float32, NaN where unknown or missing
    present: np.ndarray      # (S, D) bool, the frame has a row for this cell
    ok: np.ndarray           # (S, D) bool, available and sales known
    on_sale: np.ndarray      # (S, D) bool, the frame has a row and the item is available (sales known or not)
    cov: np.ndarray | None   # (S, D, C) float32 covariates, 0 where missing


def _check_columns(X) -> None:
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"Windower needs the long frame (a pandas DataFrame), got {type(X).__name__}")
    missing = [c for c in _REQUIRED if c not in X.columns]
    if missing:
        raise DataError(
            f"the long frame has no column {missing[0]!r}: Windower needs {', '.join(_REQUIRED)} "
            "(run CalendarMerger first)"
        )


def _source(feature: str) -> str:
    """The frame column a covariate is computed from."""
    return _CYCLIC[feature][0] if feature in _CYCLIC else feature


def _resolve_features(X: pd.DataFrame, features: Sequence[str] | None) -> list[str]:
    """Names of the covariates: the defaults that can be built, or the user's list."""
    if features is None:
        return [f for f in DEFAULT_FEATURES if _source(f) in X.columns]
    if isinstance(features, str):
        features = [features]
    names = [str(f) for f in features]
    _check_covariates(X, names)
    return names


def _check_covariates(X: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        column = _source(name)
        if column not in X.columns:
            how = f" (built from {column!r})" if name in _CYCLIC else ""
            raise DataError(f"feature {name!r}{how} is not in the long frame: add the column or drop it from features")
        if not (pd.api.types.is_numeric_dtype(X[column]) or pd.api.types.is_bool_dtype(X[column])):
            raise DataError(f"feature {name!r} (column {column!r}) is not numeric: encode it or drop it from features")


def _covariate_values(X: pd.DataFrame, name: str) -> np.ndarray:
    """One covariate as float32, non-finite values as 0."""
    column, period, fn = _CYCLIC.get(name, (name, 0, ""))
    values = X[column].to_numpy(dtype=np.float32, na_value=np.nan)
    if period:
        angle = (2.0 * np.pi / period) * (values - 1.0)
        values = np.sin(angle) if fn == "sin" else np.cos(angle)
    bad = ~np.isfinite(values)
    return np.where(bad, np.float32(0.0), values) if bad.any() else values


def _grid(X: pd.DataFrame, covariates: Sequence[str] | None) -> _Grid:
    """Lay the long frame out as (series x day) arrays.

    A frame sorted by series then day with every day of every series (the
    usual case) is only reshaped; any other frame is scattered into place.
    """
    codes, uniques = pd.factorize(X[ID], sort=False)
    if (codes < 0).any():
        raise DataError(f"the long frame has {int((codes < 0).sum())} row(s) without an id: drop them")
    ids = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    days = X[DAY].to_numpy()
    if days.size == 0:
        raise DataError("the long frame of the group is empty: nothing to window")
    if not np.issubdtype(days.dtype, np.integer):
        raise DataError(f"column {DAY!r} must hold day numbers (int16, 1 = d_1), got dtype {X[DAY].dtype}")
    first = int(days.min())
    n_series, n_days = len(ids), int(days.max()) - first + 1
    cell = codes.astype(np.int64) * n_days + (days.astype(np.int64) - first)
    dense = cell.size == n_series * n_days and cell[0] == 0 and bool((np.diff(cell) == 1).all())

    def layout(values: np.ndarray, fill) -> np.ndarray:
        if dense:
            return values.reshape((n_series, n_days) + values.shape[1:])
        out = np.full((n_series * n_days,) + values.shape[1:], fill, dtype=values.dtype)
        out[cell] = values
        return out.reshape((n_series, n_days) + values.shape[1:])

    if dense:
        present = np.ones((n_series, n_days), dtype=bool)
    else:
        present = layout(np.ones(cell.size, dtype=bool), False)
        if int(present.sum()) != cell.size:
            raise DataError("the long frame has duplicate (id, d) rows: keep one row per series and day")
    sales = layout(X[SALES].to_numpy(dtype=np.float32, na_value=np.nan), np.nan)
    on_sale = present
    if AVAILABLE in X.columns:
        on_sale = present & layout(X[AVAILABLE].to_numpy(dtype=np.float32, na_value=0) > 0, False)
    ok = on_sale & ~np.isnan(sales)

    cov = None
    if covariates is not None:
        values = np.empty((cell.size, len(covariates)), dtype=np.float32)
        for k, name in enumerate(covariates):
            values[:, k] = _covariate_values(X, name)
        cov = layout(values, 0.0)
    return _Grid(ids=ids, first_day=first, sales=sales, present=present, ok=ok, on_sale=on_sale, cov=cov)


def _history_scale(grid: _Grid) -> np.ndarray:
    """Each series' scale: its mean sales over available days with known sales (1 when not positive)."""
    total = np.where(grid.ok, grid.sales, 0.0).sum(axis=1, dtype=np.float64)
    n_ok = grid.ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n_ok
    return np.where(np.isfinite(mean) & (mean > 0), mean, 1.0)


def _longest_run(ok: np.ndarray) -> np.ndarray:
    """Longest run of consecutive True per row of a 2-D bool array."""
    count = np.cumsum(ok, axis=1, dtype=np.int64)
    last_reset = np.maximum.accumulate(np.where(ok, 0, count), axis=1)
    return (count - last_reset).max(axis=1) if ok.shape[1] else np.zeros(ok.shape[0], dtype=np.int64)


class Windower(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Cut one group's long frame into training windows and forecast recursively.

    Parameters
    ----------
    window : int, default=28
        Days per window (rows of a sample).
    horizon : int, default=1
        Days predicted per window. With ``horizon > 1`` the targets of the
        window ending on day ``t`` are days ``t .. t+horizon-1``.
    features : sequence of str or None, default=None
        Covariates that follow the lag in each row. ``None`` takes every
        default covariate whose source column is in the frame: ``dow_sin``,
        ``dow_cos`` (from ``wday``), ``month_sin``, ``month_cos`` (from
        ``month``), ``snap``, ``event``, ``event_<type>``, ``price_rel``,
        ``price_change``, ``available``. Other numeric columns may be named.
    stride : int, default=1
        Keep every ``stride``-th target day, counted back from the last day
        with known sales (which is always kept).
    max_windows : int or None, default=None
        Keep at most this many training windows, a random subset drawn with
        ``random_state``. Use it on big groups (level 1 has ~2.5 M windows).
    random_state : int, default=0
        Seed of the ``max_windows`` subset.
    scaling : {"series", "window"}, default="series"
        ``"series"`` divides each series' sales by their mean over its whole
        history. ``"window"`` divides each window's lag column and targets by
        ``1 + mean`` of that lag column (the ``window`` days before the
        target, in units); the recursive forecast rescales every step the
        same way. Windows then look alike whatever the series' level was at
        the time (sales of real series drift over the years), and a model
        that outputs a constant forecasts a (shrunk) moving average.
    fallback_horizon : int or None, default=None
        The horizon (1 to ``horizon``) to train with when no series of the
        group has ``window + horizon`` days in a row (``horizon_`` says which
        was used); ``1`` trains such a group the recursive way. None: such a
        group raises :class:`~m5kit.errors.GroupError`.

    Attributes
    ----------
    scale_ : Series
        Each series' mean sales over its available days with known sales
        (1 where that mean is 0 or undefined), indexed by id; 1 for every
        series with ``scaling="window"``.
    covariates_ : list of str
        The covariates after the lag.
    feature_names_out_ : ndarray of str
        Names of the last axis of the windows: ``sales_lag1`` then covariates.
    n_features_ : int
        Length of the last axis of the windows.
    group_ : str
        Name of the group, for messages (the ``group`` column, or the id).
    n_windows_ : int
        Training windows in the fitted frame before ``stride``/``max_windows``.
    horizon_ : int
        The horizon trained on: ``horizon``, or ``fallback_horizon`` when the
        group is too short for ``horizon``.
    window_, scaling_ : int, str
        ``window`` and ``scaling`` as fitted: ``transform`` and
        ``recursive_predict`` use them, whatever ``set_params`` set since.

    See Also
    --------
    m5kit.models.CNNLSTMRegressor : the model trained on the windows.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"id": "A", "d": np.arange(1, 41, dtype="int16"),
    ...                       "sales": np.r_[np.arange(1, 37), [np.nan] * 4].astype("float32"),
    ...                       "wday": (np.arange(40) % 7 + 1).astype("int8")})
    >>> w = Windower(window=7).fit(frame)
    >>> X, y = w.make_training_data(frame)
    >>> X.shape, y.shape
    ((29, 7, 3), (29,))
    >>> list(w.get_feature_names_out())
    ['sales_lag1', 'dow_sin', 'dow_cos']
    """

    def __init__(
        self,
        window: int = 28,
        horizon: int = 1,
        features: Sequence[str] | None = None,
        stride: int = 1,
        max_windows: int | None = None,
        random_state: int = 0,
        scaling: str = "series",
        fallback_horizon: int | None = None,
    ):
        self.fallback_horizon = fallback_horizon
        self.window = window
        self.horizon = horizon
        self.features = features
        self.stride = stride
        self.max_windows = max_windows
        self.random_state = random_state
        self.scaling = scaling

    # -- fitting ---------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("window", "horizon", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParamError(f"Windower {name} must be a whole number >= 1, got {value!r}")
        f = self.fallback_horizon
        if f is not None and (isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 1 <= f <= self.horizon):
            raise ParamError(f"Windower fallback_horizon must be None or a whole number from 1 to horizon, got {f!r}")
        m = self.max_windows
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1):
            raise ParamError(f"Windower max_windows must be None or a whole number >= 1, got {m!r}")
        choice(self.scaling, "Windower scaling", SCALINGS)
        optional_whole(self.random_state, "Windower random_state", minimum=0)

    def fit(self, X: pd.DataFrame, y=None) -> Windower:
        """Learn each series' scale and check that the group has a training window.

        Parameters
        ----------
        X : DataFrame
            The long frame of one group (``id``, ``d``, ``sales`` and covariates).
        y : None
            Ignored.

        Returns
        -------
        self

        Raises
        ------
        ParamError
            A parameter that is not a whole number in its range.
        DataError
            A required column or a named feature is missing.
        GroupError
            No series of the group has ``window + horizon`` consecutive
            available days with known sales.
        """
        self._check_params()
        _check_columns(X)
        covariates = _resolve_features(X, self.features)
        grid = _grid(X, covariates=None)
        mean = _history_scale(grid) if self.scaling == "series" else np.ones(len(grid.ids))

        # the fitted attributes are set once the group has a window: a failed refit leaves the last fit whole
        group = self._group_name(X, grid)
        horizon, window = int(self.horizon), int(self.window)
        valid = self._valid_targets(grid.ok, horizon, window)
        if not valid.any() and self.fallback_horizon is not None:
            horizon = int(self.fallback_horizon)
            valid = self._valid_targets(grid.ok, horizon, window)
            if valid.any():
                logger.info("group %s: too short for horizon %d, trained with horizon %d",
                            group, int(self.horizon), horizon)
        need = window + horizon
        if not valid.any():
            runs = _longest_run(grid.ok)
            best = int(np.argmax(runs)) if runs.size else 0
            longest = int(runs[best]) if runs.size else 0
            # no window (of 1 day or more) fits a history shorter than 1 + horizon (an item not on sale yet)
            fix = ": lower the window or leave the group out" if longest > horizon else "; leave the group out"
            raise GroupError(
                f"group {group!r} has no training window: it needs {need} consecutive available days "
                f"with sales (window {self.window} + horizon {horizon}) but its longest history is "
                f"{longest} day(s) (series {grid.ids[best]!r}){fix}"
            )
        self.group_, self.horizon_, self.window_, self.scaling_ = group, horizon, window, self.scaling
        self.scale_ = pd.Series(mean, index=pd.Index(grid.ids, name=ID), name="scale")
        self.covariates_ = list(covariates)
        self.feature_names_out_ = np.asarray([LAG_FEATURE, *covariates], dtype=object)
        self.n_features_ = len(self.feature_names_out_)
        self.n_windows_ = int(valid.sum())
        logger.debug("group %s: %d series, %d training windows", self.group_, len(grid.ids), self.n_windows_)
        return self

    def _horizon(self) -> int:
        """The horizon trained on (``horizon_`` once fitted; older pickles have only ``horizon``)."""
        return int(getattr(self, "horizon_", self.horizon))

    def _window(self) -> int:
        """The window fitted (``window_``; older pickles have only ``window``): a set_params since changes no window."""
        return int(getattr(self, "window_", self.window))

    def _scaling(self) -> str:
        """The scaling fitted (``scaling_``; older pickles have only ``scaling``, or none: ``"series"``)."""
        return getattr(self, "scaling_", getattr(self, "scaling", "series"))

    @staticmethod
    def _group_name(X: pd.DataFrame, grid: _Grid) -> str:
        if GROUP in X.columns and len(X):
            return str(X[GROUP].iloc[0])
        return str(grid.ids[0]) if len(grid.ids) == 1 else f"{len(grid.ids)} series"

    def _valid_targets(self, ok: np.ndarray, horizon: int | None = None, window: int | None = None) -> np.ndarray:
        """Bool (S, n_targets): the window whose first target is day ``window + k`` is usable.

        A window is usable when every day from its lag day (``t - window``)
        to its last target (``t + horizon - 1``) is available with known sales
        (``horizon``, ``window``: the fitted ones unless given).
        """
        w = self._window() if window is None else int(window)
        h = self._horizon() if horizon is None else int(horizon)
        n_series, n_days = ok.shape
        n_targets = n_days - w - h + 1
        if n_targets <= 0:
            return np.zeros((n_series, 0), dtype=bool)
        count = np.zeros((n_series, n_days + 1), dtype=np.int32)
        np.cumsum(ok, axis=1, out=count[:, 1:])
        # days t-w .. t+h-1 for t = w .. n_days-h
        return (count[:, w + h:] - count[:, : n_targets]) == (w + h)

    # -- windows ---------------------------------------------------------------
    def _scaled_grid(self, X: pd.DataFrame, extra: pd.Series | None = None) -> tuple[_Grid, np.ndarray]:
        check_is_fitted(self, "scale_")
        _check_columns(X)
        _check_covariates(X, self.covariates_)
        grid = _grid(X, covariates=self.covariates_)
        table = self.scale_ if extra is None else pd.concat([self.scale_, extra])
        scale = table.reindex(grid.ids).to_numpy(dtype=np.float64)
        unknown = np.isnan(scale)
        if unknown.any():
            raise DataError(
                f"series {grid.ids[np.argmax(unknown)]!r} was not in the frame this Windower was fitted on: "
                "fit it on the same group"
            )
        return grid, scale

    def _select(self, valid: np.ndarray, last_day: int) -> tuple[np.ndarray, np.ndarray]:
        """Series and target-day indices of the kept windows, ordered by day then series."""
        t_idx, s_idx = np.nonzero(valid.T)
        t_idx = t_idx + self._window()  # grid column of the first target day
        if self.stride > 1:
            last_start = last_day - self._horizon() + 1
            keep = (last_start - t_idx) % int(self.stride) == 0
            t_idx, s_idx = t_idx[keep], s_idx[keep]
        if self.max_windows is not None and t_idx.size > self.max_windows:
            rng = np.random.default_rng(self.random_state)
            pick = np.sort(rng.choice(t_idx.size, size=int(self.max_windows), replace=False))
            t_idx, s_idx = t_idx[pick], s_idx[pick]
        return s_idx, t_idx

    def _windows(self, lag: np.ndarray, cov: np.ndarray, s_idx: np.ndarray, t_idx: np.ndarray) -> np.ndarray:
        """Copy the windows ending on grid columns ``t_idx`` of series ``s_idx``."""
        w = self._window()
        out = np.empty((s_idx.size, w, 1 + cov.shape[2]), dtype=np.float32)
        start = t_idx - w + 1
        out[:, :, 0] = sliding_window_view(lag, w, axis=1)[s_idx, start]
        out[:, :, 1:] = sliding_window_view(cov, w, axis=1)[s_idx, start].transpose(0, 2, 1)
        return out

    def make_training_data(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the training windows and their targets.

        Windows that reach into pre-launch days (``available == 0``) or days
        without sales (the future) are left out. The windows are ordered by
        target day, then series, so that a validation split taken from the
        end is the end of the history. Series come in the frame's order: the
        ``max_windows`` sample and the fit's shuffles pick windows by
        position, so the same frame gives the same model, and its series in
        another order a slightly different one (as any seeded sample would).

        Parameters
        ----------
        X : DataFrame
            The long frame of the group this Windower was fitted on.

        Returns
        -------
        X3d : ndarray of float32, shape (n_windows, window, n_features)
        y : ndarray of float32, shape (n_windows,) or (n_windows, horizon)
            Scaled sales of the target day(s).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> frame = pd.DataFrame({"id": "A", "d": np.arange(1, 11, dtype="int16"),
        ...                       "sales": np.arange(1, 11, dtype="float32")})
        >>> X, y = Windower(window=3, features=[]).fit(frame).make_training_data(frame)
        >>> X[0, :, 0] * 5.5, y[0] * 5.5
        (array([1., 2., 3.], dtype=float32), np.float32(4.0))
        """
        grid, scale = self._scaled_grid(X)
        lag, _ = self._lag_and_target(grid, scale)
        valid = self._valid_targets(grid.ok)
        if not valid.any():
            raise GroupError(
                f"group {self._group_name(X, grid)!r} has no training window of {self._window()} + "
                f"{self._horizon()} available days with sales in this frame"
            )
        last_day = int(np.nonzero(grid.ok.any(axis=0))[0][-1])
        s_idx, t_idx = self._select(valid, last_day)
        X3d = self._windows(lag, grid.cov, s_idx, t_idx)
        target = (grid.sales / scale[:, None]).astype(np.float32)
        h = self._horizon()
        if h == 1:
            y = target[s_idx, t_idx]
        else:
            y = np.ascontiguousarray(sliding_window_view(target, h, axis=1)[s_idx, t_idx])
        if self._scaling() == "window":
            by = _window_scale(X3d[:, :, 0])
            X3d[:, :, 0] /= by[:, None]
            y = y / (by if y.ndim == 1 else by[:, None])
        logger.debug("group %s: %d of %d windows kept", self._group_name(X, grid), s_idx.size, int(valid.sum()))
        return X3d, y

    @staticmethod
    def _lag_and_target(grid: _Grid, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled sales shifted by one day (``lag[:, j] = sales[:, j-1]``), NaN as 0."""
        scaled = np.nan_to_num(grid.sales / scale[:, None], nan=0.0).astype(np.float32)
        lag = np.zeros_like(scaled)
        lag[:, 1:] = scaled[:, :-1]
        return lag, scaled

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the training windows of ``X`` (the ``X3d`` of :meth:`make_training_data`)."""
        return self.make_training_data(X)[0]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the last axis of the windows: ``sales_lag1``, then the covariates."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def set_output(self, *, transform: str | None = None) -> Windower:
        """Windows are 3-D arrays: only the default (NumPy) output exists.

        Raises
        ------
        ParamError
            For ``transform="pandas"`` or ``"polars"``.
        """
        if transform not in (None, "default"):
            raise ParamError(
                f"Windower returns 3-D windows (n, window, features) that have no {transform} form: "
                "keep set_output(transform='default')"
            )
        return self

    # -- scaling ---------------------------------------------------------------
    def scale(self, values, ids) -> np.ndarray:
        """Divide sales ``values`` (one per entry of ``ids``) by their series' scale."""
        return np.asarray(values, dtype=np.float64) / self._scales(ids)

    def unscale(self, values, ids) -> np.ndarray:
        """Back to units: multiply scaled ``values`` by their series' scale.

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"id": ["A"] * 4, "d": [1, 2, 3, 4], "sales": [2.0, 4, 6, 8]})
        >>> Windower(window=2).fit(frame).unscale([1.0, 0.5], ["A", "A"])
        array([5. , 2.5])
        """
        return np.asarray(values, dtype=np.float64) * self._scales(ids)

    def _scales(self, ids) -> np.ndarray:
        check_is_fitted(self, "scale_")
        ids = np.asarray(ids).astype(str)
        scales = self.scale_.reindex(ids).to_numpy(dtype=np.float64)
        if np.isnan(scales).any():
            raise DataError(f"series {ids[np.argmax(np.isnan(scales))]!r} is unknown to this Windower")
        return scales.reshape(np.shape(ids))

    # -- forecasting -------------------------------------------------------------
    def _new_series_scales(self, X: pd.DataFrame) -> pd.Series | None:
        """Scales of series not seen in ``fit``, from their own history in ``X`` (same rule as fit).

        Lets a group's model forecast new series of the group, e.g. the test
        fold of a cross-validation over series.
        """
        new = ~X[ID].astype(str).isin(self.scale_.index).to_numpy()
        if not new.any():
            return None
        grid = _grid(X[new], covariates=None)
        scale = _history_scale(grid) if getattr(self, "scaling", "series") == "series" else np.ones(len(grid.ids))
        return pd.Series(scale, index=pd.Index(grid.ids, name=ID), name="scale")

    def recursive_predict(self, X: pd.DataFrame, regressor, horizon: int = 28) -> pd.DataFrame:
        """Forecast ``horizon`` days after the last day with sales, feeding predictions back.

        Each step predicts every series of the group in one batch
        (``regressor.model_.predict_on_batch`` for a Keras model, else
        ``regressor.predict``), writes the predictions (clipped at 0, and 0
        on days when the item is not on sale) in as the next days' lag, and
        uses the future rows' known covariates.
        With ``scaling="window"`` each step's windows are divided by their
        own scale and the predictions multiplied back.
        A model with ``k`` outputs advances ``k`` days per step. Series not
        seen in ``fit`` (the test fold of a cross-validation over series) are
        scaled by the mean of their own history in ``X``.

        Parameters
        ----------
        X : DataFrame
            The group's long frame, with at least ``window`` days of history
            and ``horizon`` future rows (``sales`` NaN, covariates known) per series.
        regressor : fitted regressor
            Trained on this Windower's windows.
        horizon : int, default=28
            Days to forecast.

        Returns
        -------
        DataFrame
            ``id`` (same dtype as the frame's), ``d`` (``"d_1914"``, ...), and
            ``forecast`` (float32, >= 0, in units); one row per series and day,
            ordered by series then day.

        Raises
        ------
        ParamError
            ``horizon`` is not a whole number >= 1.
        DataError
            The frame lacks history or future rows.
        """
        check_is_fitted(self, "scale_")
        _check_columns(X)
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ParamError(f"recursive_predict horizon must be a whole number >= 1, got {horizon!r}")
        w, horizon = self._window(), int(horizon)
        known = X[SALES].notna().to_numpy()
        if not known.any():
            raise DataError("the frame has no day with sales to forecast from: pass the history with the future rows")
        last = int(X[DAY].to_numpy()[known].max())
        first_needed = last + 1 - w  # lag day of the first forecast window's first row
        sub = X[(X[DAY].to_numpy() >= first_needed)]
        grid, scale = self._scaled_grid(sub, self._new_series_scales(X))
        if grid.first_day > first_needed:
            raise DataError(
                f"recursive_predict needs {w} days of history before {day_name(last + 1)}, "
                f"the frame starts on {day_name(grid.first_day)}"
            )
        f = last + 1 - grid.first_day  # grid column of the first forecast day
        future = grid.present[:, f: f + horizon]
        n_future = future.sum(axis=1) if future.shape[1] else np.zeros(len(grid.ids), dtype=np.int64)
        if future.shape[1] < horizon or (n_future < horizon).any():
            worst = int(np.argmin(n_future)) if n_future.size else 0
            raise DataError(
                f"series {grid.ids[worst]!r} has {int(n_future[worst]) if n_future.size else 0} future row(s) after "
                f"{day_name(last)} (the last day with sales) but the forecast needs {horizon}: "
                "add the future days with their calendar and price features (sales NaN)"
            )
        _check_shape(regressor, w, self.n_features_)

        _, scaled = self._lag_and_target(grid, scale)
        on_sale = grid.on_sale[:, f: f + horizon]  # a day off sale sells nothing: forecast (and fed back) as 0
        n_series = len(grid.ids)
        buf = np.zeros((n_series, w + horizon), dtype=np.float32)  # scaled sales of days f-w .. f+horizon-1
        buf[:, :w] = scaled[:, f - w: f]
        cov = grid.cov[:, f - w + 1: f + horizon]                  # covariates of days f-w+1 .. f+horizon-1
        x = np.empty((n_series, w, self.n_features_), dtype=np.float32)
        k = 0
        by_window = self._scaling() == "window"
        with _batch_predictor(regressor) as predict:
            while k < horizon:
                by = _window_scale(buf[:, k: k + w]) if by_window else None
                x[:, :, 0] = buf[:, k: k + w] if by is None else buf[:, k: k + w] / by[:, None]
                x[:, :, 1:] = cov[:, k: k + w]
                pred = _predict_batch(predict, x, n_series)
                step = min(pred.shape[1], horizon - k)
                if by is not None:
                    pred = pred * by[:, None]
                buf[:, w + k: w + k + step] = np.where(on_sale[:, k: k + step], np.maximum(pred[:, :step], 0.0), 0.0)
                k += step
        forecast = (buf[:, w:] * scale[:, None]).astype(np.float32)

        days = np.arange(last + 1, last + 1 + horizon)
        ids = np.repeat(grid.ids, horizon)
        id_dtype = X[ID].dtype
        id_col = pd.Series(ids).astype(id_dtype) if isinstance(id_dtype, pd.CategoricalDtype) else pd.Series(ids, dtype=str)
        return pd.DataFrame({
            ID: id_col,
            DAY: pd.Series(np.tile([day_name(d) for d in days], n_series), dtype=str),
            "forecast": forecast.ravel(),
        })


def _window_scale(lag: np.ndarray) -> np.ndarray:
    """Scale of each window (row of ``lag``, sales in units): 1 + the mean of its days (float32)."""
    return (1.0 + lag.mean(axis=1, dtype=np.float64)).astype(np.float32)


def _check_shape(regressor, window: int, n_features: int) -> None:
    """Fail early when the regressor was trained on windows of another shape."""
    shape = getattr(regressor, "X_shape_", None)
    if shape is not None and tuple(shape[1:]) != (window, n_features):
        raise DataError(
            f"the regressor was fitted on windows of shape {tuple(shape[1:])} but this Windower makes "
            f"{(window, n_features)}: fit both on the same group"
        )


def _batch_predictor(regressor):
    """A context giving the regressor's one-batch predict function.

    ``regressor.batch_predictor()`` when it has one (CNNLSTMRegressor:
    a cached traced network), else ``model_.predict_on_batch`` for Keras
    wrappers, else ``regressor.predict``.
    """
    if callable(getattr(regressor, "batch_predictor", None)):
        return regressor.batch_predictor()
    model = getattr(regressor, "model_", None)
    return contextlib.nullcontext(model.predict_on_batch if model is not None else regressor.predict)


def _predict_batch(predict, x: np.ndarray, n_series: int) -> np.ndarray:
    """One forward pass through ``predict``, checked: one row per series, finite (else 0 with a warning)."""
    pred = np.asarray(predict(x), dtype=np.float32)
    if pred.size == 0 or pred.size % n_series:
        raise DataError(f"the regressor returned {pred.size} values for a batch of {n_series} series")
    pred = pred.reshape(n_series, -1)
    bad = ~np.isfinite(pred)
    if bad.any():
        logger.warning("the regressor returned %d non-finite prediction(s); they are set to 0", int(bad.sum()))
        pred = np.where(bad, 0.0, pred).astype(np.float32)
    return pred
