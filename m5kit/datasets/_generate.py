"""M5-shaped data from a seed: :func:`make_m5`.

Demand is a latent daily rate per series (item x store), the product of

    item base rate x store factor x series factor
    x weekday (per category) x yearly seasonality (per category, department, series)
    x trend and a mean-reverting wander (per series)
    x daily shocks (per store and per store and category) x a drifting weekday profile (per store)
    x SNAP (FOODS on its state's SNAP days) x events (Christmas: stores closed)
    x price (regular price steps, rare promotions)
    x availability (0 before launch, during stock-outs and after discontinuation),

from which daily unit sales are drawn as negative binomial counts (a gamma-mixed
Poisson, close to Poisson), so that most item-store days sell nothing, as in M5.
The constants are calibrated against the real store CA_1 (see
``benchmarks/bench_data_stats.py``). Training and future days come from the
same draw. Everything is vectorised over blocks of series; the full M5 size
(30,490 series) takes seconds, not minutes.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from m5kit._schema import (
    CAT, CATEGORIES, DEPARTMENTS, DEPT, FIRST_DATE, HORIZON, ID, ITEM, STATE, STORE, STORES, day_name,
)
from m5kit.datasets._calendar import make_calendar
from m5kit.datasets._data import M5Data
from m5kit.datasets._dtypes import DAY_DTYPE, SALES_MAX, conform
from m5kit.errors import DataError

__all__ = ["make_m5", "DEPT_SIZES", "allocate_items"]

logger = logging.getLogger(__name__)

#: Items per department in the full M5 data (3,049 in all).
DEPT_SIZES: dict[str, int] = {
    "FOODS_1": 216, "FOODS_2": 398, "FOODS_3": 823,
    "HOBBIES_1": 416, "HOBBIES_2": 149,
    "HOUSEHOLD_1": 532, "HOUSEHOLD_2": 515,
}
assert tuple(DEPT_SIZES) == DEPARTMENTS

#: Calendar days from d_1 to the last day of Walmart's year 2099 (2100-01-29): M5's week ids ``1YYWW`` have a
#: two-digit year, so week 1 of 2100 would be 10001, below 2099's weeks, and prices are looked up by week. And the
#: most training days that leave room for the default horizon and M5's extra 28 calendar days.
_YEAR_2100 = pd.Timestamp("2100-02-01")
CALENDAR_DAYS_MAX = (_YEAR_2100 - pd.Timedelta(days=(_YEAR_2100.day_of_week - 5) % 7)  # its week 1's Saturday
                     - pd.Timestamp(FIRST_DATE)).days
DAYS_MAX = CALENDAR_DAYS_MAX - 2 * HORIZON

# --- the demand model's constants (see the module docstring) ---------------------------
# Calibrated against the real store CA_1 (3,049 series, d_1 ... d_1913) with
# benchmarks/bench_data_stats.py: the statistics of series_stats agree within
# the tolerances in tests/test_datasets_stats.py (figures in benchmarks/RESULTS.md).
# Median units per day of an item in an average store, by department.
_BASE_RATE = {"FOODS_1": 0.75, "FOODS_2": 0.60, "FOODS_3": 1.58, "HOBBIES_1": 0.43,
              "HOBBIES_2": 0.18, "HOUSEHOLD_1": 0.75, "HOUSEHOLD_2": 0.39}
_ITEM_SD = 1.00             # log-sd of the item base rate around its department's
# Median shelf price by department (USD).
_BASE_PRICE = {"FOODS_1": 3.2, "FOODS_2": 3.6, "FOODS_3": 2.6, "HOBBIES_1": 6.5,
               "HOBBIES_2": 3.0, "HOUSEHOLD_1": 4.5, "HOUSEHOLD_2": 6.0}
# Store volume, shaped like M5's (CA_3 busiest, CA_4 quietest).
_STORE_FACTOR = {"CA_1": 1.10, "CA_2": 0.85, "CA_3": 1.55, "CA_4": 0.60, "TX_1": 0.85,
                 "TX_2": 1.05, "TX_3": 0.90, "WI_1": 0.75, "WI_2": 1.05, "WI_3": 0.95}
# Weekday factors by category, M5's wday order (Saturday ... Friday), as in CA_1.
_WEEKDAY = {
    "FOODS": (1.25, 1.29, 0.96, 0.84, 0.82, 0.83, 1.00),
    "HOBBIES": (1.25, 1.11, 0.95, 0.90, 0.88, 0.89, 1.03),
    "HOUSEHOLD": (1.28, 1.34, 0.97, 0.83, 0.80, 0.81, 0.97),
}
# Yearly seasonality by category: amplitude of the log effect and the day of year of its peak.
_YEARLY = {"FOODS": (0.06, 200.0), "HOBBIES": (0.04, 150.0), "HOUSEHOLD": (0.10, 200.0)}
_YEARLY_DEPT_SD = 0.02      # department and series deviations from the category's (per sin/cos)
# A series' own yearly pattern: CA_1's busy series repeat a monthly profile of their own from year
# to year (series_stats' series_yearly_sd 0.063). At 0.03 the generated ones measured 0.035, and a
# per-series LightGBM, whose day-of-year splits found little that recurs, lost to AutoETS by 9% on
# 300 built-in series while it beat AutoETS on 300 real ones; 0.065 measures 0.050-0.059, and the
# gap closed to 2.5% (benchmarks/RESULTS.md, "Every family at every training level").
_YEARLY_SERIES_SD = 0.065
# Lift on the state's SNAP days, by category.
_SNAP_LIFT = {"FOODS": 1.12, "HOBBIES": 1.0, "HOUSEHOLD": 1.02}
# Event effects (FOODS, HOBBIES, HOUSEHOLD), as measured on CA_1 (the total on the day over the
# same weekday one and two weeks around); events not listed have none.
_EVENT_EFFECT = {
    "Christmas": (0.0003, 0.0003, 0.0003),  # M5's stores are closed on December 25
    "NewYear": (0.80, 0.69, 0.85),
    "Thanksgiving": (0.80, 0.35, 0.58),
    "Easter": (0.85, 0.72, 0.71),
    "Father's day": (0.85, 0.85, 0.78),
    "Mother's day": (0.86, 0.84, 0.79),
    "Halloween": (0.88, 0.98, 0.89),
    "StPatricksDay": (0.90, 0.99, 0.97),
    "ValentinesDay": (0.91, 0.92, 0.82),
    "SuperBowl": (1.02, 0.93, 0.83),
    "IndependenceDay": (1.07, 0.77, 0.83),
    "PresidentsDay": (1.03, 1.17, 1.25),
    "MemorialDay": (1.04, 0.97, 1.12),
    "MartinLutherKingDay": (1.09, 1.15, 1.13),
    "VeteransDay": (1.10, 0.94, 1.08),
    "ColumbusDay": (1.14, 1.05, 1.06),
    "LaborDay": (1.39, 1.08, 1.37),
}
# Launches: a share of the items starts after d_1, most in the first half of the history.
_LAUNCH_ITEM_SHARE = 0.52   # items launched after d_1 (in every store, a few weeks apart)
_LAUNCH_EARLY = 0.70        # of those, the share launched in the first 52% of the days
_LAUNCH_STORE_SHARE = 0.06  # series of other items that reach a store late
_END_SHARE = 0.006          # series discontinued in their last year (no sales after)
_STOCKOUTS_PER_YEAR = 1.0   # stock-out spells per series and year (no sales during them)
_STOCKOUT_MEAN_DAYS = 40.0
_DISCOUNT_SHARE = 0.002     # item-state-weeks on promotion (CA_1 has almost none)
_ELASTICITY = (0.3, 1.2)    # discount elasticity range
# Demand: a per-series level that wanders (AR(1) on the log rate, mean-reverting over
# _WANDER_DAYS), a per-series trend, day-to-day shocks common to a store and category,
# then negative binomial counts, close to Poisson (CA_1's daily sales are).
_WANDER_DAYS = 120.0
_WANDER_SD = 0.30           # stationary log-sd of the wander
_TREND_SD = 0.15            # per-series trend, log units per year
# CA_1's weekday profile hardly moves from year to year (series_stats' weekday_drift 0.011), and
# its total's daily noise is larger than a weekly pattern and a level explain (residual log-sd
# 0.091). A drift of 0.06 moved the profile four times as much (0.043) and made a model that
# learns the weekday from two years lose to exponential smoothing, unlike on the real store;
# 0.015 with a daily store shock of 0.065 matches both (0.014 and 0.091; benchmarks/RESULTS.md).
_STORE_DAY_SD = 0.065       # log-sd of the daily shock of a store (all items)
_CAT_DAY_SD = 0.03          # and of a store's category
_WEEKDAY_DRIFT_SD = 0.015   # a store's weekday profile drifts (log-sd, AR(1) over weeks)
_WEEKDAY_DRIFT_WEEKS = 26.0
_SHAPE = (4.0, 1.0)         # negative binomial shape: lognormal median and log-sd
_BLOCK = 2048               # series per vectorised block


def allocate_items(n_items: int) -> dict[str, int]:
    """Split ``n_items`` over the 7 departments in M5's proportions.

    Largest remainders; every department gets at least one item when
    ``n_items >= 7`` (with fewer, the largest departments get one each).

    Examples
    --------
    >>> allocate_items(139)
    {'FOODS_1': 10, 'FOODS_2': 18, 'FOODS_3': 38, 'HOBBIES_1': 19, 'HOBBIES_2': 7, 'HOUSEHOLD_1': 24, 'HOUSEHOLD_2': 23}
    """
    total = sum(DEPT_SIZES.values())
    quotas = {d: n_items * size / total for d, size in DEPT_SIZES.items()}
    counts = {d: int(math.floor(q)) for d, q in quotas.items()}
    if n_items >= len(DEPT_SIZES):
        counts = {d: max(1, c) for d, c in counts.items()}
    by_remainder = sorted(quotas, key=lambda d: (-(quotas[d] - math.floor(quotas[d])), -DEPT_SIZES[d]))
    i = 0
    while sum(counts.values()) < n_items:
        counts[by_remainder[i % len(by_remainder)]] += 1
        i += 1
    while sum(counts.values()) > n_items:
        counts[max(counts, key=counts.get)] -= 1
    return counts


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name}={value!r} is not a whole number: pass an int from {low}"
                        + (f" to {high}" if high is not None else " up"))
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise DataError(f"{name}={value} is out of range: pass a whole number {span}")
    return int(value)


def _event_log_effects(calendar: pd.DataFrame) -> np.ndarray:
    """Log event effect per category and day, shape (3, n_days)."""
    out = np.zeros((len(CATEGORIES), len(calendar)), dtype=np.float32)
    for slot in ("event_name_1", "event_name_2"):
        names = calendar[slot].to_numpy(dtype=object)
        for name, effect in _EVENT_EFFECT.items():
            hit = names == name
            if hit.any():
                out[:, hit] += np.log(np.asarray(effect, dtype=np.float32))[:, None]
    return out


def _yearly_basis(calendar: pd.DataFrame) -> np.ndarray:
    """Yearly sin/cos by day of year, shape (2, n_days)."""
    doy = pd.to_datetime(calendar["date"]).dt.day_of_year.to_numpy(dtype=np.float64)
    return np.asarray([np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25)], dtype=np.float32)


def _launch_weeks(rng: np.random.Generator, n_items: int, n_series: int, item_of: np.ndarray,
                  last_launch_week: int) -> np.ndarray:
    """Week of launch of every series (0: on sale from d_1).

    A share of the items launches late, most in the first half of the history
    (as in CA_1), in every store a few weeks apart; a few series of the other
    items reach their store late.
    """
    late_high = max(last_launch_week, 1) + 1
    split = max(2, int(round(0.52 * late_high)))
    item_late = rng.random(n_items) < _LAUNCH_ITEM_SHARE
    early = rng.random(n_items) < _LAUNCH_EARLY
    item_week = np.where(early, rng.integers(1, split, n_items), rng.integers(min(split, late_high - 1), late_high, n_items))
    item_week = np.where(item_late, item_week, 0)
    store_delay = np.where(rng.random(n_series) < 0.5, rng.geometric(1 / 6, n_series), 0)
    series_late = rng.random(n_series) < _LAUNCH_STORE_SHARE
    launch_week = np.where(item_late[item_of], item_week[item_of] + store_delay,
                           np.where(series_late, rng.integers(1, late_high, n_series), 0))
    return np.minimum(launch_week, last_launch_week)


def _wander(rng: np.random.Generator, n: int, n_weeks: int) -> np.ndarray:
    """Mean-reverting log level of ``n`` series by week: a stationary AR(1), (n, n_weeks) float32.

    Weekly steps cost a seventh of daily ones; the daily noise on top hides the steps.
    """
    phi = np.float32(math.exp(-7.0 / _WANDER_DAYS))
    level = rng.standard_normal((n_weeks, n), dtype=np.float32)  # week-major: each step reads one row
    level[1:] *= np.float32(_WANDER_SD * math.sqrt(1 - phi**2))
    level[0] *= np.float32(_WANDER_SD)  # start in the stationary distribution
    for t in range(1, n_weeks):
        level[t] += phi * level[t - 1]
    return level.T


def _weekday_drift(rng: np.random.Generator, n_stores: int, n_weeks: int) -> np.ndarray:
    """A store's slowly drifting weekday profile: one AR(1) over the weeks per store and weekday.

    Shape (n_stores, 7 * n_weeks) float32, day-aligned (d_1 is the first weekday). It varies the
    weekday pattern a little from season to season, as in CA_1, without adding noise that last
    week's sales cannot tell (a seasonal naive forecast copies it).
    """
    phi = np.float32(math.exp(-1.0 / _WEEKDAY_DRIFT_WEEKS))
    drift = rng.standard_normal((n_weeks, n_stores, 7), dtype=np.float32)
    drift[1:] *= np.float32(_WEEKDAY_DRIFT_SD * math.sqrt(1 - phi**2))
    drift[0] *= np.float32(_WEEKDAY_DRIFT_SD)
    for t in range(1, n_weeks):
        drift[t] += phi * drift[t - 1]
    return drift.transpose(1, 0, 2).reshape(n_stores, n_weeks * 7)


def make_m5(n_items: int = 139, n_stores: int = 10, n_days: int = 1913,
            horizon: int = HORIZON, seed: int = 0) -> M5Data:
    """Generate M5-shaped data: the three M5 tables and the true future sales.

    Same files, columns, ids and dtypes as M5, drawn from a demand model with
    M5's features: intermittent demand (most item-store days sell nothing),
    weekly and yearly patterns, trends, SNAP days, events (stores closed on
    Christmas), weekly prices with promotions, and product launches.

    Parameters
    ----------
    n_items : int, default 139
        Items, spread over the 7 departments in M5's proportions (full M5: 3,049).
    n_stores : int, default 10
        The first ``n_stores`` of CA_1-4, TX_1-3, WI_1-3.
    n_days : int, default 1913
        Training days (``d_1 ... d_{n_days}``; d_1 = 2011-01-29).
    horizon : int, default 28
        Days of true future sales in ``future``; 0 for none. The calendar and
        prices cover ``n_days + horizon + 28`` days (1,969 by default, as in
        M5), so that a 28-day forecast has its calendar even after the
        future days (``load_m5(..., sales="evaluation")`` on written data).
    seed : int, default 0
        The same seed gives the same data.

    Returns
    -------
    M5Data
        ``calendar``, ``prices``, ``sales`` (wide, ``n_items * n_stores`` rows,
        sorted by item then store) and ``future`` (``id`` and the ``horizon``
        days after ``n_days``, same rows and dtypes as ``sales``).

    Raises
    ------
    DataError
        If a size is not a whole number in range.

    See Also
    --------
    load_m5 : read the real M5 files.
    write_m5 : write the tables as M5 CSV files.

    Examples
    --------
    >>> data = make_m5(n_items=14, n_stores=2, n_days=120, seed=1)
    >>> data.sales.shape, data.future.shape
    ((28, 126), (28, 29))
    >>> data.sales.loc[0, "id"]
    'FOODS_1_001_CA_1_validation'
    """
    n_items = _check_int("n_items", n_items, 1)
    n_stores = _check_int("n_stores", n_stores, 1, len(STORES))
    horizon = _check_int("horizon", horizon, 0, CALENDAR_DAYS_MAX - HORIZON - 1)
    n_days = _check_int("n_days", n_days, 1, CALENDAR_DAYS_MAX - HORIZON - horizon)  # weeks end in 2099
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)

    n_cal = n_days + horizon + HORIZON  # like M5: 1,913 + 28 + 28 = 1,969 days
    calendar = make_calendar(n_cal, FIRST_DATE)
    n_weeks = (n_cal + 6) // 7  # d_1 is a Saturday: weeks are aligned to day 0
    week_of_day = np.arange(n_cal) // 7
    week_ids = calendar["wm_yr_wk"].to_numpy()[::7]

    # --- ids --------------------------------------------------------------------------
    counts = allocate_items(n_items)
    dept_of_item = np.repeat(np.arange(len(DEPARTMENTS)), [counts[d] for d in DEPARTMENTS])
    item_ids = [f"{d}_{k:03d}" for d in DEPARTMENTS for k in range(1, counts[d] + 1)]
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    cat_of_dept = np.array([cat_index[d.rsplit("_", 1)[0]] for d in DEPARTMENTS])
    stores = list(STORES[:n_stores])
    state_index = {s: i for i, s in enumerate(("CA", "TX", "WI"))}
    state_of_store = np.array([state_index[s.split("_")[0]] for s in stores])
    n_series = n_items * n_stores
    item_of = np.repeat(np.arange(n_items), n_stores)
    store_of = np.tile(np.arange(n_stores), n_items)
    dept_of = dept_of_item[item_of]
    cat_of = cat_of_dept[dept_of]
    state_of = state_of_store[store_of]
    logger.info("generating %d items x %d stores x %d days (seed %d)", n_items, n_stores, n_cal, seed)

    # --- static draws (one rng, fixed order: deterministic for a seed) -----------------
    base_rate = np.array([_BASE_RATE[d] for d in DEPARTMENTS])[dept_of_item] * rng.lognormal(0, _ITEM_SD, n_items)
    store_factor = np.array([_STORE_FACTOR[s] for s in stores]) * rng.lognormal(0, 0.05, n_stores)
    series_factor = rng.lognormal(0, 0.35, n_series)
    log_level = np.log(base_rate[item_of] * store_factor[store_of] * series_factor)
    shape = np.clip(rng.lognormal(np.log(_SHAPE[0]), _SHAPE[1], n_series), 0.3, 30.0)  # NB dispersion

    dept_trend = rng.normal(-0.03, 0.04, len(DEPARTMENTS))
    trend = np.clip(dept_trend[dept_of] + rng.normal(0, _TREND_SD, n_series), -0.5, 0.5) / 365.25

    # Yearly seasonality: the category's profile plus small department and series deviations.
    basis = _yearly_basis(calendar)
    cat_yearly = np.array([[a * math.sin(2 * np.pi * peak / 365.25), a * math.cos(2 * np.pi * peak / 365.25)]
                           for a, peak in (_YEARLY[c] for c in CATEGORIES)])  # (sin, cos) weights
    dept_yearly = rng.normal(0, _YEARLY_DEPT_SD, (len(DEPARTMENTS), 2))
    coef = (cat_yearly[cat_of] + dept_yearly[dept_of]
            + rng.normal(0, _YEARLY_SERIES_SD, (n_series, 2))).astype(np.float32)

    # Launches at week starts; a few series are discontinued in their last year.
    last_launch_week = max(0, (n_days - HORIZON) // 7)
    launch_week = _launch_weeks(rng, n_items, n_series, item_of, last_launch_week)
    ends = rng.random(n_series) < _END_SHARE
    end_day = np.where(ends, rng.integers(max(n_days - 365, 1), n_days + 1, n_series), n_cal)
    end_day = np.maximum(end_day, launch_week * 7 + 28)

    # Weekly prices: the item's base price, a store variation, regular price steps, promotions.
    base_price = np.array([_BASE_PRICE[d] for d in DEPARTMENTS])[dept_of_item] * rng.lognormal(0, 0.55, n_items)
    store_price = np.where(rng.random(n_series) < 0.6, 1.0, 1.0 + rng.normal(0, 0.03, n_series))
    steps = (rng.random((n_items, n_weeks)) < 0.5 / 52) * rng.normal(0.04, 0.05, (n_items, n_weeks))
    steps[:, 0] = 0.0
    regular = np.exp(np.cumsum(steps, axis=1))  # (items, weeks), 1 in the first week
    n_states = len(state_index)
    promo = rng.random((n_items, n_states, n_weeks)) < _DISCOUNT_SHARE
    depth = np.where(promo, rng.uniform(0.05, 0.25, (n_items, n_states, n_weeks)), 0.0)
    elasticity = rng.uniform(*_ELASTICITY, n_items)
    price = np.round(
        np.maximum(
            base_price[item_of, None] * store_price[:, None] * regular[item_of]
            * (1.0 - depth[item_of, state_of]),
            0.01,
        ),
        2,
    )  # (series, weeks)
    log_price_effect = (
        -elasticity[item_of, None] * np.log1p(-depth[item_of, state_of])
        - 0.3 * np.log(regular[item_of])
    ).astype(np.float32)

    # Day-level tables.
    wday = calendar["wday"].to_numpy() - 1
    log_weekday = np.log(np.array([_WEEKDAY[c] for c in CATEGORIES], dtype=np.float32))[:, wday]
    snap = calendar[["snap_CA", "snap_TX", "snap_WI"]].to_numpy().T.astype(np.float32)
    log_snap_lift = np.log(np.array([_SNAP_LIFT[c] for c in CATEGORIES], dtype=np.float32))
    log_event = _event_log_effects(calendar)
    # Daily shocks shared by a store's series and by its category's (weather, traffic, ...).
    store_day = rng.normal(0, _STORE_DAY_SD, (n_stores, n_cal)).astype(np.float32)
    cat_day = rng.normal(0, _CAT_DAY_SD, (n_stores, len(CATEGORIES), n_cal)).astype(np.float32)
    store_day += _weekday_drift(rng, n_stores, n_weeks)[:, :n_cal]
    t_centered = (np.arange(n_cal) - n_cal / 2).astype(np.float32)  # trend is 0 mid-history
    day_index = np.arange(n_cal)

    # --- draw sales, one block of series at a time ---------------------------------------
    sales = np.empty((n_series, n_cal), dtype=DAY_DTYPE)
    for lo in range(0, n_series, _BLOCK):
        s = slice(lo, min(lo + _BLOCK, n_series))
        n = s.stop - s.start
        log_rate = coef[s] @ basis
        log_rate += _wander(rng, n, n_weeks)[:, week_of_day]
        log_rate += log_level[s, None].astype(np.float32)
        log_rate += trend[s, None].astype(np.float32) * t_centered
        log_rate += log_weekday[cat_of[s]]
        log_rate += log_snap_lift[cat_of[s], None] * snap[state_of[s]]
        log_rate += log_event[cat_of[s]]
        log_rate += store_day[store_of[s]] + cat_day[store_of[s], cat_of[s]]
        log_rate += log_price_effect[s][:, week_of_day]
        mu = np.exp(log_rate, out=log_rate)
        mu[day_index[None, :] < (launch_week[s] * 7)[:, None]] = 0.0
        mu[day_index[None, :] >= end_day[s, None]] = 0.0
        # Stock-outs: spells with no sales (start/end markers, then a running count).
        n_spells = rng.poisson(_STOCKOUTS_PER_YEAR * n_cal / 365.25, n)
        rows = np.repeat(np.arange(n), n_spells)
        starts = rng.integers(0, n_cal, rows.size)
        stops = np.minimum(starts + rng.geometric(1 / _STOCKOUT_MEAN_DAYS, rows.size), n_cal)
        marks = np.zeros((n, n_cal + 1), dtype=np.int16)
        np.add.at(marks, (rows, starts), 1)
        np.add.at(marks, (rows, stops), -1)
        mu[np.cumsum(marks[:, :-1], axis=1, dtype=np.int16) > 0] = 0.0
        # Negative binomial = Poisson with a gamma-distributed rate.
        k = shape[s, None].astype(np.float32)
        lam = rng.standard_gamma(np.broadcast_to(k, mu.shape), dtype=np.float32) * (mu / k)
        counts_ = rng.poisson(lam)
        sales[s] = np.minimum(counts_, SALES_MAX)

    # --- tables -----------------------------------------------------------------------
    item_cat = pd.Categorical.from_codes(item_of, item_ids)
    store_cat = pd.Categorical.from_codes(store_of, stores)
    dept_cat = pd.Categorical.from_codes(dept_of, list(DEPARTMENTS))
    cat_cat = pd.Categorical.from_codes(cat_of, list(CATEGORIES))
    state_cat = pd.Categorical.from_codes(state_of, ["CA", "TX", "WI"])
    item_names, store_names = np.asarray(item_ids, dtype=object), np.asarray(stores, dtype=object)
    ids = [f"{it}_{st}_validation" for it, st in zip(item_names[item_of], store_names[store_of])]
    id_frame = pd.DataFrame({ID: ids, ITEM: item_cat, DEPT: dept_cat, CAT: cat_cat,
                             STORE: store_cat, STATE: state_cat})
    train = pd.DataFrame(sales[:, :n_days], columns=[day_name(i) for i in range(1, n_days + 1)])
    wide = pd.concat([id_frame, train], axis=1)
    future = None
    if horizon:
        future = pd.concat([id_frame[[ID]], pd.DataFrame(
            sales[:, n_days:n_days + horizon],
            columns=[day_name(i) for i in range(n_days + 1, n_days + horizon + 1)])], axis=1)

    # Price rows: one per store, item and week from launch on; sorted like M5 (store, item, week).
    grid = (np.arange(n_weeks)[None, :] >= launch_week[:, None])  # (series, weeks)
    order = np.lexsort((item_of, store_of))  # store-major
    s_idx, w_idx = np.nonzero(grid[order])
    series = order[s_idx]
    prices = pd.DataFrame({
        STORE: pd.Categorical.from_codes(store_of[series], stores),
        ITEM: pd.Categorical.from_codes(item_of[series], item_ids),
        "wm_yr_wk": week_ids[w_idx],
        "sell_price": price[series, w_idx],
    })
    calendar, prices, wide, future = conform(calendar, prices, wide, future)
    return M5Data(calendar=calendar, prices=prices, sales=wide, future=future)
