"""M5-shaped data from a seed: :func:`make_m5`.

Demand is a latent daily rate per series (item x store), the product of

    item base rate x store factor x series factor
    x weekday (per category) x yearly seasonality (per category, department, series)
    x trend and slow wander (per series) x SNAP (FOODS on its state's SNAP days)
    x events (Christmas: stores closed) x price (discount elasticity)
    x availability (0 before launch and during stock-outs),

from which daily unit sales are drawn as negative binomial counts (a gamma-mixed
Poisson), so that most item-store days sell nothing, as in M5. Training and
future days come from the same draw. Everything is vectorised over blocks of
series; the full M5 size (30,490 series) takes seconds, not minutes.
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

# --- the demand model's constants (see the module docstring) ---------------------------
# Median units per day of an item in an average store, by department.
_BASE_RATE = {"FOODS_1": 0.55, "FOODS_2": 0.45, "FOODS_3": 1.15, "HOBBIES_1": 0.30,
              "HOBBIES_2": 0.12, "HOUSEHOLD_1": 0.55, "HOUSEHOLD_2": 0.28}
# Median shelf price by department (USD).
_BASE_PRICE = {"FOODS_1": 3.2, "FOODS_2": 3.6, "FOODS_3": 2.6, "HOBBIES_1": 6.5,
               "HOBBIES_2": 3.0, "HOUSEHOLD_1": 4.5, "HOUSEHOLD_2": 6.0}
# Store volume, shaped like M5's (CA_3 busiest, CA_4 quietest).
_STORE_FACTOR = {"CA_1": 1.10, "CA_2": 0.85, "CA_3": 1.55, "CA_4": 0.60, "TX_1": 0.85,
                 "TX_2": 1.05, "TX_3": 0.90, "WI_1": 0.75, "WI_2": 1.05, "WI_3": 0.95}
# Weekday factors by category, M5's wday order (Saturday ... Friday).
_WEEKDAY = {
    "FOODS": (1.32, 1.36, 1.05, 0.93, 0.90, 0.92, 1.06),
    "HOBBIES": (1.27, 1.24, 0.98, 0.92, 0.91, 0.93, 1.03),
    "HOUSEHOLD": (1.38, 1.42, 1.04, 0.91, 0.89, 0.90, 1.04),
}
# Lift on the state's SNAP days, by category.
_SNAP_LIFT = {"FOODS": 1.15, "HOBBIES": 1.0, "HOUSEHOLD": 1.03}
# Event effects (FOODS, HOBBIES, HOUSEHOLD); events not listed have none.
_EVENT_EFFECT = {
    "Christmas": (0.0003, 0.0003, 0.0003),  # M5's stores are closed on December 25
    "Thanksgiving": (0.75, 0.70, 0.70),
    "NewYear": (0.90, 0.90, 0.90),
    "Easter": (0.93, 0.93, 0.93),
    "SuperBowl": (1.10, 1.00, 1.02),
    "ValentinesDay": (1.02, 1.08, 1.00),
    "IndependenceDay": (1.05, 1.00, 1.00),
    "MemorialDay": (1.05, 1.00, 1.02),
    "LaborDay": (1.05, 1.00, 1.02),
    "Halloween": (1.03, 1.15, 1.00),
}
_LAUNCH_ITEM_SHARE = 0.18   # items launched after d_1 (in every store, a few weeks apart)
_LAUNCH_STORE_SHARE = 0.06  # series of other items that reach a store late
_STOCKOUTS_PER_YEAR = 1.2   # stock-out spells per series and year
_STOCKOUT_MEAN_DAYS = 9.0
_DISCOUNT_SHARE = 0.05      # item-state-weeks on promotion
_PERIODS = (45.0, 70.0, 110.0, 170.0, 260.0, 400.0, 620.0)  # slow wander (days)
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


def _basis(calendar: pd.DataFrame) -> np.ndarray:
    """Smooth basis over the days: yearly sin/cos (by day of year), then slow waves."""
    t = np.arange(len(calendar), dtype=np.float64)
    doy = pd.to_datetime(calendar["date"]).dt.day_of_year.to_numpy(dtype=np.float64)
    rows = [np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25)]
    for period in _PERIODS:
        rows += [np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period)]
    return np.asarray(rows, dtype=np.float32)


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
    n_days = _check_int("n_days", n_days, 1)
    horizon = _check_int("horizon", horizon, 0)
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
    base_rate = np.array([_BASE_RATE[d] for d in DEPARTMENTS])[dept_of_item] * rng.lognormal(0, 1.0, n_items)
    store_factor = np.array([_STORE_FACTOR[s] for s in stores]) * rng.lognormal(0, 0.05, n_stores)
    series_factor = rng.lognormal(0, 0.35, n_series)
    log_level = np.log(base_rate[item_of] * store_factor[store_of] * series_factor)
    shape = np.clip(rng.lognormal(np.log(0.9), 0.5, n_series), 0.15, 8.0)  # NB dispersion

    dept_trend = rng.normal(0.03, 0.04, len(DEPARTMENTS))
    trend = np.clip(dept_trend[dept_of] + rng.normal(0, 0.12, n_series), -0.35, 0.35) / 365.25

    # Smooth log effects = coefficients @ basis (yearly by category/dept/series, slow waves).
    basis = _basis(calendar)
    n_basis = basis.shape[0]
    coef = np.zeros((n_series, n_basis), dtype=np.float32)
    amp = rng.uniform(0.08, 0.16, len(CATEGORIES))
    phase = rng.uniform(0, 2 * np.pi, len(CATEGORIES))
    cat_yearly = np.stack([amp * np.cos(phase), amp * np.sin(phase)], axis=1)
    dept_yearly = rng.normal(0, 0.05, (len(DEPARTMENTS), 2))
    coef[:, :2] = cat_yearly[cat_of] + dept_yearly[dept_of] + rng.normal(0, 0.08, (n_series, 2))
    wave_sd = np.repeat(np.array([0.05, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16]), 2)
    coef[:, 2:] = rng.normal(0, 1, (n_series, n_basis - 2)) * wave_sd

    # Launches: an item's launch day, plus late arrivals in single stores; at week starts.
    last_launch_week = max(0, (n_days - HORIZON) // 7)
    late_high = max(last_launch_week, 1) + 1
    item_late = rng.random(n_items) < _LAUNCH_ITEM_SHARE
    item_week = np.where(item_late, rng.integers(1, late_high, n_items), 0)
    store_delay = np.where(rng.random(n_series) < 0.5, rng.geometric(1 / 6, n_series), 0)
    series_late = rng.random(n_series) < _LAUNCH_STORE_SHARE
    launch_week = np.where(item_late[item_of], item_week[item_of] + store_delay,
                           np.where(series_late, rng.integers(1, late_high, n_series), 0))
    launch_week = np.minimum(launch_week, last_launch_week)

    # Weekly prices: the item's base price, a store variation, regular price steps, promotions.
    base_price = np.array([_BASE_PRICE[d] for d in DEPARTMENTS])[dept_of_item] * rng.lognormal(0, 0.55, n_items)
    store_price = np.where(rng.random(n_series) < 0.6, 1.0, 1.0 + rng.normal(0, 0.03, n_series))
    steps = (rng.random((n_items, n_weeks)) < 0.5 / 52) * rng.normal(0.04, 0.05, (n_items, n_weeks))
    steps[:, 0] = 0.0
    regular = np.exp(np.cumsum(steps, axis=1))  # (items, weeks), 1 in the first week
    n_states = len(state_index)
    promo = rng.random((n_items, n_states, n_weeks)) < _DISCOUNT_SHARE
    depth = np.where(promo, rng.uniform(0.10, 0.35, (n_items, n_states, n_weeks)), 0.0)
    elasticity = rng.uniform(1.3, 2.8, n_items)
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
    t_centered = (np.arange(n_cal) - n_cal / 2).astype(np.float32)  # trend is 0 mid-history
    day_index = np.arange(n_cal)

    # --- draw sales, one block of series at a time ---------------------------------------
    sales = np.empty((n_series, n_cal), dtype=DAY_DTYPE)
    for lo in range(0, n_series, _BLOCK):
        s = slice(lo, min(lo + _BLOCK, n_series))
        n = s.stop - s.start
        log_rate = coef[s] @ basis
        log_rate += log_level[s, None].astype(np.float32)
        log_rate += trend[s, None].astype(np.float32) * t_centered
        log_rate += log_weekday[cat_of[s]]
        log_rate += log_snap_lift[cat_of[s], None] * snap[state_of[s]]
        log_rate += log_event[cat_of[s]]
        log_rate += log_price_effect[s][:, week_of_day]
        mu = np.exp(log_rate, out=log_rate)
        mu[day_index[None, :] < (launch_week[s] * 7)[:, None]] = 0.0
        # Stock-outs: spells with no sales (start/end markers, then a running count).
        n_spells = rng.poisson(_STOCKOUTS_PER_YEAR * n_cal / 365.25, n)
        rows = np.repeat(np.arange(n), n_spells)
        starts = rng.integers(0, n_cal, rows.size)
        ends = np.minimum(starts + rng.geometric(1 / _STOCKOUT_MEAN_DAYS, rows.size), n_cal)
        marks = np.zeros((n, n_cal + 1), dtype=np.int16)
        np.add.at(marks, (rows, starts), 1)
        np.add.at(marks, (rows, ends), -1)
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
