"""How a sales table behaves: :func:`series_stats`, one number per property.

The statistics that decide whether generated data is a fair stand-in for M5:
intermittency, the spread of levels, weekly and yearly seasonality, trend,
launches and discontinued items, prices and promotions, events. Put the
statistics of two data sets side by side to compare them::

    pd.DataFrame({"real": series_stats(real.sales, real.calendar, real.prices),
                  "generated": series_stats(gen.sales, gen.calendar, gen.prices)})

A series "starts" on its first day with a sale (M5 pads items not yet on sale
with zeros); the per-series statistics count only the days from then on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from m5kit._schema import CAT, DEPT, FIRST_DATE, STATE, day_columns
from m5kit.errors import DataError

__all__ = ["series_stats", "STAT_NAMES"]

# Syntetos-Boylan-Croston cut-offs (Syntetos, Boylan & Croston 2005).
_ADI_CUT, _CV2_CUT = 1.32, 0.49
_QUANTILES = (10, 50, 90, 99)
_LAST_WEEKS = 12  # "discontinued": no sale over the last 12 weeks (84 days)
_PROMO_DROP = 0.95  # a price below 0.95 x both neighbouring weeks' is a promotion
_WEEKEND, _MIDWEEK = [1, 2], [4, 5, 6]  # M5's wday: Saturday, Sunday; Tuesday-Thursday

#: The statistics :func:`series_stats` returns, in order, with what they measure.
STAT_NAMES: dict[str, str] = {
    "zero_share": "share of days without a sale, from each series' first sale on",
    "adi_median": "median average inter-demand interval (days per day with a sale)",
    "cv2_median": "median squared coefficient of variation of the non-zero sales",
    "smooth_share": "share of series with ADI < 1.32 and CV^2 < 0.49 (Syntetos-Boylan)",
    "erratic_share": "share with ADI < 1.32 and CV^2 >= 0.49",
    "intermittent_share": "share with ADI >= 1.32 and CV^2 < 0.49",
    "lumpy_share": "share with ADI >= 1.32 and CV^2 >= 0.49",
    **{f"mean_q{q}": f"{q}th percentile of the per-series mean daily sales" for q in _QUANTILES},
    "weekday_max_min": "largest over smallest weekday index of the total (detrended by a 7-day mean)",
    "weekend_lift": "Saturday+Sunday over Tuesday-Thursday mean of the total",
    "weekly_r2": "share of the variance of the total's log (7-day mean removed) explained by the weekday",
    "day_autocorr": "lag-1 autocorrelation of the total's daily log with its centred 7-day mean and the weekday "
                    "removed: how much of a day's common shock the next day keeps",
    "weekday_season": "sd over the four quarters of the year of the total's weekend lift (Saturday+Sunday over "
                      "Tuesday-Thursday, each day over its centred 7-day mean; each quarter pooled over the years)",
    "weekday_drift": "mean absolute change of the total's weekday index from one 364-day block to the next",
    "yearly_max_min": "largest over smallest month index of the total (detrended by a 365-day mean)",
    "trend_last_first": "mean daily total of the last 365 days over the first 365",
    "series_yearly_sd": "a series' own yearly pattern: root mean covariance, between calendar years, of its monthly "
                        "log profile less its department's (busy series selling every month)",
    "series_weekly_sd": "a series' own weekday profile: the same over its weekday means in each calendar year "
                        "(busy series selling on every weekday)",
    "level_variation": "median of var(28-day sums) / (28 x within-block daily variance), busy series",
    "late_start_share": "share of series whose first sale comes after d_28",
    "late_price_share": "share of series whose first price comes after the first week (needs prices)",
    "discontinued_share": "share of series with no sale in the last 84 days",
    "price_change_share": "share of series-weeks whose price differs from the week before",
    "price_change_median": "median absolute relative price change, over the weeks with a change",
    "promo_week_share": "share of series-weeks priced below 0.95 x both neighbouring weeks",
    "promo_sales_ratio": "sales in promotion weeks over other weeks (each series relative to its mean)",
    "event_ratio": "total on event days over the same weekday 1-2 weeks around (Christmas excluded)",
    "christmas_ratio": "total on December 25 over the same weekday 1-2 weeks around",
    "snap_foods_ratio": "FOODS total on the state's SNAP days over other days",
}


def _check_tables(sales: pd.DataFrame, calendar, prices) -> None:
    """A DataError naming a calendar or prices (and the sales ids they are read by) without a column the statistics
    read (a bare KeyError)."""
    need = [("calendar", calendar, ["wday", "date"], "calendar.csv")]
    if prices is not None:
        need[0][2].append("wm_yr_wk")
        need += [("prices", prices, ["store_id", "item_id", "wm_yr_wk", "sell_price"], "sell_prices.csv"),
                 ("sales", sales, ["store_id", "item_id"], "sales_train_validation.csv")]
    for name, frame, columns, file in need:
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"{name} must be a DataFrame as in the M5 files, got {type(frame).__name__}")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{name} has no column {missing[0]!r}: pass M5's {file}")


def _weekday_and_dates(calendar: pd.DataFrame | None, n_days: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    if calendar is None:
        dates = pd.date_range(FIRST_DATE, periods=n_days, freq="D")
        return (dates.day_of_week.to_numpy() + 2) % 7 + 1, dates
    if len(calendar) < n_days:
        raise DataError(f"calendar has {len(calendar)} days but sales has {n_days}: pass the full calendar")
    cal = calendar.iloc[:n_days]
    return cal["wday"].to_numpy().astype(int), pd.DatetimeIndex(pd.to_datetime(cal["date"]))


def _centred_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean of ``width`` days (NaN where the window does not fit)."""
    return pd.Series(x).rolling(width, center=True).mean().to_numpy()


def _intermittency(values: np.ndarray, active: np.ndarray) -> dict[str, float]:
    n_active = active.sum(axis=1)
    nonzero = values > 0
    n_nonzero = nonzero.sum(axis=1)
    out = {"zero_share": float(1.0 - n_nonzero.sum() / max(n_active.sum(), 1))}
    ok = n_nonzero >= 2
    adi = n_active[ok] / n_nonzero[ok]
    sizes = np.where(nonzero, values, 0.0)[ok]
    mean = sizes.sum(axis=1) / n_nonzero[ok]
    second = (sizes**2).sum(axis=1) / n_nonzero[ok]
    cv2 = (second - mean**2) / mean**2
    out["adi_median"] = float(np.median(adi)) if ok.any() else np.nan
    out["cv2_median"] = float(np.median(cv2)) if ok.any() else np.nan
    low_adi, low_cv2 = adi < _ADI_CUT, cv2 < _CV2_CUT
    for name, mask in (("smooth", low_adi & low_cv2), ("erratic", low_adi & ~low_cv2),
                       ("intermittent", ~low_adi & low_cv2), ("lumpy", ~low_adi & ~low_cv2)):
        out[f"{name}_share"] = float(mask.mean()) if ok.any() else np.nan
    means = values.sum(axis=1)[n_active > 0] / n_active[n_active > 0]
    for q in _QUANTILES:
        out[f"mean_q{q}"] = float(np.percentile(means, q)) if means.size else np.nan
    return out


def _known_mean(values: np.ndarray) -> float:
    """The mean of the finite values; NaN, without numpy's 'Mean of empty slice' warning, when there are none."""
    known = values[np.isfinite(values)]
    return float(known.mean()) if known.size else np.nan


def _seasonality(total: np.ndarray, wday: np.ndarray, dates: pd.DatetimeIndex) -> dict[str, float]:
    open_ = total > 0.1 * np.median(total)  # leaves out the closed days (Christmas)
    daily = np.where(open_, total, np.nan)
    filled = pd.Series(daily).interpolate(limit_direction="both").to_numpy()
    index = daily / _centred_mean(filled, 7)
    by_day = pd.Series(index).groupby(wday).mean()
    out = {"weekday_max_min": float(by_day.max() / by_day.min())}
    means = pd.Series(daily).groupby(wday).mean()
    out["weekend_lift"] = float(means.reindex(_WEEKEND).mean() / means.reindex(_MIDWEEK).mean())
    log = np.log(filled)
    resid = (log - _centred_mean(log, 7))[open_]
    keep = np.isfinite(resid)
    fitted = pd.Series(resid[keep]).groupby(wday[open_][keep]).transform("mean").to_numpy()
    out["weekly_r2"] = float(fitted.var() / resid[keep].var()) if keep.sum() > 14 else np.nan
    # Consecutive open days only (a closed day breaks the pair).
    shock = np.full(len(total), np.nan)
    shock[np.flatnonzero(open_)[keep]] = resid[keep] - fitted
    pairs = np.isfinite(shock[1:]) & np.isfinite(shock[:-1])
    out["day_autocorr"] = (float(np.corrcoef(shock[1:][pairs], shock[:-1][pairs])[0, 1]) if pairs.sum() > 14
                           else np.nan)
    out["weekday_season"] = np.nan
    if len(total) >= 365:  # every quarter present
        quarter = dates.quarter.to_numpy()
        lifts = [_known_mean(index[(quarter == q) & np.isin(wday, _WEEKEND)])
                 / _known_mean(index[(quarter == q) & np.isin(wday, _MIDWEEK)]) for q in range(1, 5)]
        out["weekday_season"] = float(np.std(lifts))  # NaN when a quarter has no open day
    # The weekday index of each whole 364-day block, counted back from the last day.
    n_years = len(total) // 364
    profiles = [pd.Series(index[len(total) - 364 * (k + 1): len(total) - 364 * k])
                .groupby(wday[len(total) - 364 * (k + 1): len(total) - 364 * k]).mean().to_numpy()
                for k in range(n_years)]
    out["weekday_drift"] = (float(np.mean([np.abs(a - b).mean() for a, b in zip(profiles, profiles[1:])]))
                            if n_years >= 2 else np.nan)
    if len(total) >= 2 * 365:
        yearly = daily / _centred_mean(filled, 365)
        by_month = pd.Series(yearly).groupby(dates.month.to_numpy()).mean()
        out["yearly_max_min"] = float(by_month.max() / by_month.min())
        out["trend_last_first"] = float(np.nanmean(daily[-365:]) / np.nanmean(daily[:365]))
    else:
        out["yearly_max_min"] = out["trend_last_first"] = np.nan
    return out


def _own_profile(sales: pd.DataFrame, values: np.ndarray, dates: pd.DatetimeIndex, bucket: np.ndarray,
                 n_buckets: int) -> float:
    """How much of a series' profile over ``bucket`` (month, weekday) comes back every year, beyond its department's.

    Each busy series' mean sales per bucket in each whole calendar year, as logs less the year's
    mean; the department's mean profile of the year is taken out. What is left recurs from year to
    year only where the series has a profile of its own: the square root of the mean covariance of
    these profiles between years (0 for none), in log units. Noise and a wandering level add
    variance but no covariance between years.
    """
    years = [y for y in np.unique(dates.year) if (dates.year == y).sum() >= 365]
    if len(years) < 2:
        return np.nan
    key = dates.year.to_numpy() * n_buckets + bucket
    means = np.stack([values[:, key == y * n_buckets + b].mean(axis=1) for y in years for b in range(n_buckets)],
                     axis=1).reshape(len(values), len(years), n_buckets)
    busy = (means > 0).all(axis=(1, 2)) & (values[:, -730:].mean(axis=1) >= 0.5)
    if busy.sum() < 10:
        return np.nan
    profile = np.log(means[busy] + 0.5)
    profile -= profile.mean(axis=2, keepdims=True)
    groups = sales[DEPT].to_numpy()[busy] if DEPT in sales else np.zeros(int(busy.sum()))
    for group in np.unique(groups):
        profile[groups == group] -= profile[groups == group].mean(axis=0)
    pairs = [(a, b) for a in range(len(years)) for b in range(a + 1, len(years))]
    cov = float(np.mean([(profile[:, a] * profile[:, b]).mean() for a, b in pairs]))
    return float(np.sqrt(max(cov, 0.0)))


def _level_variation(values: np.ndarray, active: np.ndarray) -> float:
    n_blocks = values.shape[1] // 28
    if n_blocks < 10:
        return np.nan
    tail = slice(values.shape[1] - n_blocks * 28, None)  # the last whole blocks
    blocks = values[:, tail].reshape(len(values), n_blocks, 28)
    on = active[:, tail].reshape(len(values), n_blocks, 28).all(axis=2)
    ratios = []
    for i in range(len(values)):
        chunk = blocks[i][on[i]]
        if len(chunk) >= 10 and chunk.mean() >= 0.5:
            within = chunk.var(axis=1, ddof=1).mean()
            if within > 0:
                ratios.append(chunk.sum(axis=1).var(ddof=1) / (28 * within))
    return float(np.median(ratios)) if ratios else np.nan


def _around(total: np.ndarray, days: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Ratio of ``total`` on ``days`` to its mean on the same weekday 1 and 2 weeks before and after."""
    ratios = []
    for t in days:
        near = [t + k for k in (-14, -7, 7, 14) if 0 <= t + k < len(total) and not skip[t + k]]
        base = np.mean(total[near]) if near else 0.0
        if base > 0:  # no sales around the day: no ratio (0/0 warned and gave NaN)
            ratios.append(total[t] / base)
    return np.asarray(ratios, dtype=np.float64)


def _events(total: np.ndarray, calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> dict[str, float]:
    if calendar is None or "event_name_1" not in calendar.columns:
        return {"event_ratio": np.nan, "christmas_ratio": np.nan}
    cal = calendar.iloc[: len(total)]
    event = (cal["event_name_1"].notna() | cal["event_name_2"].notna()).to_numpy()
    christmas = ((dates.month == 12) & (dates.day == 25))
    skip = event | christmas
    other = np.flatnonzero(event & ~christmas)
    ratios = _around(total, other, skip)
    xmas = _around(total, np.flatnonzero(christmas), skip)
    return {"event_ratio": float(ratios.mean()) if ratios.size else np.nan,
            "christmas_ratio": float(xmas.mean()) if xmas.size else np.nan}


def _snap(sales: pd.DataFrame, values: np.ndarray, calendar: pd.DataFrame | None) -> float:
    if calendar is None or CAT not in sales.columns or STATE not in sales.columns:
        return np.nan
    ratios = []
    foods = (sales[CAT].astype(str) == "FOODS").to_numpy()
    states = sales[STATE].astype(str).to_numpy()
    for state in np.unique(states[foods]):
        column = f"snap_{state}"
        if column not in calendar.columns:
            continue
        snap = calendar[column].to_numpy()[: values.shape[1]] == 1
        daily = values[foods & (states == state)].sum(axis=0)
        if snap.any() and (~snap).any():
            ratios.append(daily[snap].mean() / daily[~snap].mean())
    return float(np.mean(ratios)) if ratios else np.nan


def _prices(sales: pd.DataFrame, values: np.ndarray, calendar: pd.DataFrame | None,
            prices: pd.DataFrame | None) -> dict[str, float]:
    names = ("late_price_share", "price_change_share", "price_change_median", "promo_week_share", "promo_sales_ratio")
    if prices is None:
        return dict.fromkeys(names, np.nan)
    if calendar is None:
        raise DataError("series_stats needs the calendar with the prices: pass calendar=...")
    n_days = values.shape[1]
    day_week = calendar["wm_yr_wk"].to_numpy()[:n_days]
    weeks, week_of_day = np.unique(day_week, return_inverse=True)
    full = np.bincount(week_of_day) == 7
    series = pd.Series(np.arange(len(sales)), index=pd.MultiIndex.from_arrays(
        [sales["item_id"].astype(str), sales["store_id"].astype(str)]))
    rows = series.reindex(pd.MultiIndex.from_arrays(
        [prices["item_id"].astype(str), prices["store_id"].astype(str)])).to_numpy()
    col = np.searchsorted(weeks, prices["wm_yr_wk"].to_numpy())
    keep = ~np.isnan(rows) & (col < len(weeks))
    keep[keep] &= weeks[col[keep]] == prices["wm_yr_wk"].to_numpy()[keep]
    table = np.full((len(sales), len(weeks)), np.nan)
    table[rows[keep].astype(int), col[keep]] = prices["sell_price"].to_numpy(dtype=np.float64)[keep]
    priced = ~np.isnan(table)
    first = np.where(priced.any(axis=1), priced.argmax(axis=1), len(weeks))
    out = {"late_price_share": float((first > 0).mean())}
    prev, cur = table[:, :-1], table[:, 1:]
    both = ~np.isnan(prev) & ~np.isnan(cur)
    change = np.abs(cur[both] / prev[both] - 1.0)
    changed = change > 0.005
    out["price_change_share"] = float(changed.mean()) if both.any() else np.nan
    out["price_change_median"] = float(np.median(change[changed])) if changed.any() else np.nan
    neighbour = np.fmax(np.roll(table, 1, axis=1), np.roll(table, -1, axis=1))
    neighbour[:, [0, -1]] = np.nan
    low = np.fmin(np.roll(table, 1, axis=1), np.roll(table, -1, axis=1))
    promo = (table < _PROMO_DROP * low) & (neighbour > 0)
    weekly = np.zeros((len(sales), len(weeks)))
    np.add.at(weekly.T, week_of_day, values.T)
    use = priced & full[None, :]
    out["promo_week_share"] = float(promo[use].mean()) if use.any() else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(use, weekly, 0.0).sum(axis=1, keepdims=True) / use.sum(axis=1, keepdims=True)
        relative = weekly / level
    good = use & np.isfinite(relative)
    on, off = good & promo, good & ~promo
    out["promo_sales_ratio"] = float(relative[on].mean() / relative[off].mean()) if on.any() else np.nan
    return out


def series_stats(sales: pd.DataFrame, calendar: pd.DataFrame | None = None,
                 prices: pd.DataFrame | None = None) -> pd.Series:
    """Statistics of a wide M5 sales table: intermittency, seasonality, prices, events.

    Parameters
    ----------
    sales : DataFrame
        Wide M5 sales table (``id``, ..., ``d_1 ... d_N``), real or generated.
    calendar : DataFrame, optional
        M5's calendar (from ``d_1``): weekdays, dates, events and SNAP days.
        Without it, ``d_1`` is taken to be 2011-01-29 and the event and SNAP
        statistics are NaN.
    prices : DataFrame, optional
        ``sell_prices.csv`` (needs ``calendar``, whose weeks it is read by);
        without it the price statistics are NaN.

    Returns
    -------
    Series
        One value per statistic of :data:`STAT_NAMES` (its keys, in order;
        the values say what each one measures).

    Raises
    ------
    DataError
        If ``sales`` has no day columns or no rows, or no sale at all, or
        ``prices`` come without ``calendar``, or a table lacks a column the
        statistics read.

    Examples
    --------
    >>> from m5kit.datasets import make_m5, series_stats
    >>> data = make_m5(n_items=20, n_stores=1, n_days=800)
    >>> stats = series_stats(data.sales, data.calendar, data.prices)
    >>> bool(0.4 < stats["zero_share"] < 0.7), bool(stats["weekend_lift"] > 1.3)   # like CA_1: 0.55, 1.51
    (True, True)
    """
    days = day_columns(sales.columns) if isinstance(sales, pd.DataFrame) else []
    if not days or len(sales) == 0:
        raise DataError("sales has no rows or no day columns d_1 ...: pass the wide M5 sales table")
    _check_tables(sales, calendar, prices)
    values = sales[days].to_numpy(dtype=np.float64)
    n, n_days = values.shape
    sold = values > 0
    start = np.where(sold.any(axis=1), sold.argmax(axis=1), n_days)
    active = np.arange(n_days)[None, :] >= start[:, None]
    wday, dates = _weekday_and_dates(calendar, n_days)
    total = values.sum(axis=0)
    if not sold.any():  # every statistic would be 0/0 (and warn)
        raise DataError("sales has no sale on any day: its statistics are undefined; pass sales with sales in them")

    out: dict[str, float] = {}
    out.update(_intermittency(values, active))
    out.update(_seasonality(total, wday, dates))
    out["series_yearly_sd"] = _own_profile(sales, values, dates, dates.month.to_numpy() - 1, 12)
    out["series_weekly_sd"] = _own_profile(sales, values, dates, dates.day_of_week.to_numpy(), 7)
    out["level_variation"] = _level_variation(values, active)
    out["late_start_share"] = float((start >= 28).mean())
    last = min(_LAST_WEEKS * 7, n_days)
    ever = sold.any(axis=1)
    out["discontinued_share"] = float((ever & ~sold[:, -last:].any(axis=1)).sum() / max(ever.sum(), 1))
    out.update(_prices(sales, values, calendar, prices))
    out.update(_events(total, calendar, dates))
    out["snap_foods_ratio"] = _snap(sales, values, calendar)
    return pd.Series({name: out[name] for name in STAT_NAMES}, name="value", dtype=np.float64)
