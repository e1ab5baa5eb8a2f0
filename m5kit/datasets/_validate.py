"""Checks of the M5 tables: :func:`validate_m5`.

Each problem raises :class:`~m5kit.errors.DataError` with one line naming the
file (or table), the column, row or id, and what to do. The checks are
vectorised: the full M5 size takes well under a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from m5kit._schema import (
    CALENDAR_COLS, CAT, DAY_PREFIX, DEPT, HORIZON, ID, ID_COLS, ITEM, PRICE_COLS, STATE, STATES,
    STORE, STORES, day_name,
)
from m5kit.datasets._data import M5Data
from m5kit.datasets._dtypes import SALES_MAX
from m5kit.errors import DataError

__all__ = ["validate_m5", "require_m5data", "Labels", "check_sales_columns", "check_values", "check_future",
           "check_forecast_weeks"]

_DAY_RE = re.compile(r"d_([1-9][0-9]*)\Z")
_SUFFIXES = ("validation", "evaluation")


@dataclass(frozen=True)
class Labels:
    """How messages name each table (the file it came from, when there is one)."""

    calendar: str = "calendar.csv"
    prices: str = "sell_prices.csv"
    sales: str = "sales table"
    future: str = "future table"


def _fail(label: str, message: str) -> DataError:
    return DataError(f"{label}: {message}")


def check_sales_columns(columns, label: str, id_cols: tuple[str, ...] = ID_COLS) -> list[str]:
    """Check a wide sales header (ids, then ``d_1 ... d_N`` without gaps); return the day columns.

    Works on the header alone, so that a wrong file fails before any data is parsed.
    """
    columns = [str(c) for c in columns]
    for col in id_cols:
        if col not in columns:
            raise _fail(label, f"missing column {col!r}: the file needs the columns "
                               f"{', '.join(id_cols)}, then d_1, d_2, ... as in M5")
    if tuple(columns[:len(id_cols)]) != tuple(id_cols):
        raise _fail(label, f"the columns start with {', '.join(columns[:len(id_cols)])}: "
                           f"put {', '.join(id_cols)} first, then the day columns d_1, d_2, ...")
    days = columns[len(id_cols):]
    if not days:
        raise _fail(label, "no day columns: add the daily sales as columns d_1, d_2, ...")
    numbers = []
    for col in days:
        match = _DAY_RE.match(col)
        if match is None:
            raise _fail(label, f"extra column {col!r}: after {id_cols[-1]} only day columns d_1, d_2, ... "
                               "may follow; remove it")
        numbers.append(int(match.group(1)))
    steps = np.diff(np.asarray(numbers))
    if steps.size and (steps != 1).any():
        at = int(np.flatnonzero(steps != 1)[0])
        raise _fail(label, f"day columns jump from {days[at]} to {days[at + 1]} (a gap or disorder): "
                           "the day columns must be consecutive and in order")
    return days


def check_values(block: np.ndarray, ids, days: list[str], label: str) -> None:
    """Check that daily sales are whole, non-negative and not missing (vectorised)."""
    if block.size == 0:
        return
    if block.dtype.kind == "f":
        bad = np.isnan(block)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise _fail(label, f"empty or NaN sales in column {days[c]} of id {ids[r]!r}: "
                               "fill the missing days with 0 (no sales)")
        bad = block != np.floor(block)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise _fail(label, f"fractional sales {float(block[r, c]):g} in column {days[c]} of id {ids[r]!r}: "
                               "sales must be whole unit counts")
    elif block.dtype.kind not in "iub":
        raise _fail(label, f"the day columns hold {block.dtype} values, not numbers: "
                           "sales must be whole unit counts")
    if block.dtype.kind != "b" and np.max(block) > SALES_MAX:  # load_m5 refuses them too
        r, c = np.argwhere(block > SALES_MAX)[0]
        raise _fail(label, f"sales {block[r, c]:g} above {SALES_MAX} in column {days[c]} of id {ids[r]!r}: "
                           "m5kit stores daily units as int16")
    if block.dtype.kind != "u":
        neg = (block < 0).any(axis=1)
        if neg.any():
            r = int(np.flatnonzero(neg)[0])
            c = int(np.flatnonzero(block[r] < 0)[0])
            raise _fail(label, f"negative sales {block[r, c]} in column {days[c]} of id {ids[r]!r}: "
                               "sales must be whole unit counts >= 0")


def _check_calendar(cal: pd.DataFrame, label: str) -> np.ndarray:
    """Check the calendar; return its day numbers."""
    missing = [c for c in CALENDAR_COLS if c not in cal.columns]
    if missing:
        raise _fail(label, f"missing column {missing[0]!r}: the calendar needs M5's columns "
                           f"{', '.join(CALENDAR_COLS)}")
    if len(cal) == 0:
        raise _fail(label, "the calendar has no rows: use M5's calendar.csv (one row per day)")
    d = cal["d"].astype("str").to_numpy(dtype=object)
    numbers = np.array([int(m.group(1)) if (m := _DAY_RE.match(str(x))) else -1 for x in d])
    if (numbers < 0).any():
        r = int(np.flatnonzero(numbers < 0)[0])
        raise _fail(label, f"column 'd' holds {d[r]!r} in row {r + 1}: days are named d_1, d_2, ...")
    if (np.diff(numbers) != 1).any():
        r = int(np.flatnonzero(np.diff(numbers) != 1)[0])
        raise _fail(label, f"column 'd' jumps from {d[r]} to {d[r + 1]}: the calendar needs one row "
                           "per day, in order")
    dates = pd.to_datetime(cal["date"], errors="coerce")
    if dates.isna().any():
        r = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise _fail(label, f"column 'date' has no valid date in row {r + 1} ({d[r]}): write dates as YYYY-MM-DD")
    gaps = np.diff(dates.to_numpy().astype("datetime64[D]").astype(np.int64)) != 1
    if gaps.any():
        r = int(np.flatnonzero(gaps)[0])
        raise _fail(label, f"column 'date' does not advance by one day from {d[r]} to {d[r + 1]}: "
                           "the calendar needs one row per day, in order")
    stamp = pd.DatetimeIndex(dates)
    for col, truth in (("year", stamp.year), ("month", stamp.month)):  # read as features: they must be the date's
        values = cal[col].to_numpy(dtype=np.int64)
        off = values != truth.to_numpy()
        if off.any():
            r = int(np.flatnonzero(off)[0])
            raise _fail(label, f"column {col!r} holds {values[r]} on {d[r]} ({stamp[r].date()}), whose {col} is "
                               f"{truth[r]}: fix the calendar's {col} column")
    wday = cal["wday"].to_numpy(dtype=np.int64)
    off = (wday < 1) | (wday > 7)
    off[1:] |= wday[1:] != wday[:-1] % 7 + 1
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise _fail(label, f"column 'wday' holds {wday[r]} on {d[r]}" + (f" after {wday[r - 1]} on {d[r - 1]}" if r else "")
                    + ": the days of the week are numbered 1 to 7 in turn (M5: 1 is Saturday)")
    weeks = cal["wm_yr_wk"].to_numpy(dtype=np.int64)
    back = np.diff(weeks) < 0
    if back.any():
        r = int(np.flatnonzero(back)[0])
        raise _fail(label, f"column 'wm_yr_wk' goes back from {weeks[r]} on {d[r]} to {weeks[r + 1]} on {d[r + 1]}: "
                           "the weeks of a calendar never decrease (prices are looked up by them)")
    for col in ("snap_CA", "snap_TX", "snap_WI"):
        values = cal[col].to_numpy()
        bad = ~np.isin(values, (0, 1))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise _fail(label, f"column {col!r} holds {int(values[r])} on {d[r]}: SNAP flags are 0 or 1")
    return numbers


def _check_prices(prices: pd.DataFrame, label: str) -> None:
    missing = [c for c in PRICE_COLS if c not in prices.columns]
    if missing:
        raise _fail(label, f"missing column {missing[0]!r}: the prices need M5's columns {', '.join(PRICE_COLS)}")
    if not pd.api.types.is_numeric_dtype(prices["sell_price"].dtype) or pd.api.types.is_bool_dtype(prices["sell_price"].dtype):
        raise _fail(label, f"column 'sell_price' holds {prices['sell_price'].dtype} values: prices must be numbers")
    price = prices["sell_price"].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~((price > 0) & np.isfinite(price))  # also NaN and infinity
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise _fail(label, f"sell_price {price[r]:g} for item {str(prices[ITEM].iat[r])!r} in store "
                           f"{str(prices[STORE].iat[r])!r}, week {prices['wm_yr_wk'].iat[r]}: prices must be > 0 "
                           "and finite; drop the weeks without a price")
    weeks = prices["wm_yr_wk"]
    if len(weeks) and not (pd.api.types.is_integer_dtype(weeks.dtype) and _fits_int16(weeks.to_numpy())):
        numbers = pd.to_numeric(weeks, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(np.isfinite(numbers) & (numbers == np.floor(numbers)) & (np.abs(numbers) <= np.iinfo(np.int16).max))
        if bad.any():  # load_m5 keeps weeks as int16: it would refuse these
            r = int(np.flatnonzero(bad)[0])
            raise _fail(label, f"wm_yr_wk {weeks.iat[r]} for item {str(prices[ITEM].iat[r])!r} in store "
                               f"{str(prices[STORE].iat[r])!r} is not a week number like 11101: use the calendar's weeks")
    for col in (STORE, ITEM):
        if prices[col].isna().any():
            r = int(np.flatnonzero(prices[col].isna().to_numpy())[0])
            raise _fail(label, f"empty {col} in row {r + 1}: every price row needs a store and an item")
    dup = prices.duplicated(subset=[STORE, ITEM, "wm_yr_wk"])
    if dup.any():
        r = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(label, f"more than one price for item {str(prices[ITEM].iat[r])!r} in store "
                           f"{str(prices[STORE].iat[r])!r}, week {prices['wm_yr_wk'].iat[r]}: keep one row "
                           "per store, item and week")


def _check_forecast_prices(cal: pd.DataFrame, cal_days: np.ndarray, prices: pd.DataFrame, last: int, label: str) -> None:
    """:func:`check_forecast_weeks` of the ``HORIZON`` days after the sales' last day ``last``, by the calendar."""
    all_weeks = cal["wm_yr_wk"].to_numpy(dtype=np.int64)
    known = pd.to_numeric(prices["wm_yr_wk"], errors="coerce").dropna().astype(np.int64).unique()
    days = np.arange(last + 1, last + HORIZON + 1)
    check_forecast_weeks(last, int(all_weeks[last - cal_days[0]]), days, all_weeks[days - cal_days[0]], known, label)


def check_forecast_weeks(last: int, last_week: int, days: np.ndarray, weeks: np.ndarray, known, label: str) -> None:
    """Refuse prices that stop after the last training week: with no row at all in a week of the forecast days, no
    item is on sale then and every series would be forecast 0 there (a price file known up to today, say). Prices
    that stopped before the last training week are items discontinued alike: forecast 0, as they are.

    ``days`` are the days to forecast after the sales' last day ``last`` (in order), ``weeks`` their weeks,
    ``last_week`` the week of ``last`` and ``known`` the weeks the prices have a row in.
    """
    priced = np.isin(weeks, known)
    if priced.all() or last_week not in set(np.asarray(known).tolist()):
        return
    week = weeks[np.argmin(priced)]
    span = days[weeks == week]
    raise _fail(label, f"no price in week {week} ({day_name(span[0])}..{day_name(span[-1])}), one of the {len(days)} "
                       f"days to forecast after the sales' last day {day_name(last)}: every series would be forecast 0 "
                       f"there (not on sale); add the prices of the weeks up to {day_name(days[-1])} (M5's "
                       "sell_prices.csv has them)")


def _fits_int16(values: np.ndarray) -> bool:
    """Whether integer ``values`` fit in int16, the dtype weeks are kept in."""
    info = np.iinfo(np.int16)
    return bool(values.min() >= info.min and values.max() <= info.max)


def _codes(values: pd.Series, categories) -> np.ndarray:
    """Codes of ``values`` against ``categories`` (-1 when absent), without building strings.

    A categorical column is looked up by its categories, not recoded: pandas 3 warns when a
    categorical is recoded to categories it does not share (a prices file of other stores).
    """
    known = pd.Index(categories)
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = known.get_indexer(values.cat.categories)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[codes], -1).astype(np.int64)
    return known.get_indexer(values).astype(np.int64)


def _check_ids(sales: pd.DataFrame, label: str) -> None:
    for col in ID_COLS:
        if sales[col].isna().any():
            r = int(np.flatnonzero(sales[col].isna().to_numpy())[0])
            raise _fail(label, f"empty {col} in row {r + 1}: every row needs all of {', '.join(ID_COLS)}")
    dup = sales[ID].duplicated()
    if dup.any():
        r = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(label, f"duplicate id {sales[ID].iat[r]!r}: each item-store series must appear once")
    pair = sales[[ITEM, STORE]].duplicated(keep=False)  # the same series under another id (_validation and _evaluation)
    if pair.any():
        first = int(np.flatnonzero(pair.to_numpy())[0])
        same = (sales[ITEM] == sales[ITEM].iat[first]).to_numpy() & (sales[STORE] == sales[STORE].iat[first]).to_numpy()
        second = int(np.flatnonzero(same)[1])
        raise _fail(label, f"item {str(sales[ITEM].iat[first])!r} in store {str(sales[STORE].iat[first])!r} appears "
                           f"twice (ids {str(sales[ID].iat[first])!r} and {str(sales[ID].iat[second])!r}): each "
                           "item-store series must appear once")
    # Hierarchy: each pair is checked once, on the distinct pairs.
    state = sales[STATE].astype("str")
    unknown = ~state.isin(STATES)
    if unknown.any():
        raise _fail(label, f"unknown state_id {state[unknown].iat[0]!r}: M5's states are {', '.join(STATES)}")
    store = sales[STORE].astype("str")
    unknown = ~store.isin(STORES)
    if unknown.any():
        raise _fail(label, f"unknown store_id {store[unknown].iat[0]!r}: M5's stores are {', '.join(STORES)}")
    for child, parent, what in ((STORE, STATE, "store"), (DEPT, CAT, "department"), (ITEM, DEPT, "item")):
        pairs = sales[[child, parent]].drop_duplicates().astype("str")
        ok = [c.startswith(p + "_") for c, p in zip(pairs[child], pairs[parent])]
        if not all(ok):
            r = ok.index(False)
            c, p = pairs[child].iat[r], pairs[parent].iat[r]
            raise _fail(label, f"{what} {c!r} is not in {parent} {p!r} (ids outside the hierarchy): "
                               f"a {child} starts with its {parent} and '_' as in M5")
    ids = sales[ID].astype("str").to_numpy(dtype=object)
    items = sales[ITEM].astype("str").to_numpy(dtype=object)
    stores = store.to_numpy(dtype=object)
    good = [i.startswith(f"{it}_{st}_") and i[len(it) + len(st) + 2:] in _SUFFIXES
            for i, it, st in zip(ids, items, stores)]
    if not all(good):
        r = good.index(False)
        raise _fail(label, f"id {ids[r]!r} does not match <item_id>_<store_id>_(validation|evaluation) "
                           f"for item {items[r]!r} in store {stores[r]!r}: fix the id or its item/store columns")


def require_m5data(data) -> None:
    """A DataError unless ``data`` is an :class:`M5Data` (a table alone was an AttributeError further on)."""
    if not isinstance(data, M5Data):
        raise DataError(f"expected M5Data (from make_m5 or load_m5), got {type(data).__name__}")


def validate_m5(data: M5Data, *, labels: Labels | None = None) -> None:
    """Check that the M5 tables are complete and consistent.

    Checks the columns of the three tables, that sales are whole numbers >= 0
    without gaps, that ids are unique, follow ``<item_id>_<store_id>_validation``
    and sit in M5's hierarchy (store in its state, department in its category,
    item in its department, known states and stores), that the calendar covers
    the sales days plus a 28-day horizon, that prices on sale in the last
    training week do not stop before the forecast weeks, that every
    item-store has at least one price, and that ``future`` (when present)
    continues ``sales``.

    Parameters
    ----------
    data : M5Data
    labels : Labels, optional
        Names of the tables in messages (``load_m5`` passes the file names).

    Raises
    ------
    DataError
        On the first problem found, one line naming the table, column and
        row or id, and what to do.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> validate_m5(make_m5(n_items=7, n_stores=1, n_days=60))
    """
    labels = labels or Labels()
    require_m5data(data)
    cal_days = _check_calendar(data.calendar, labels.calendar)
    _check_prices(data.prices, labels.prices)

    sales = data.sales
    days = check_sales_columns(sales.columns, labels.sales)
    if len(sales) == 0:
        raise _fail(labels.sales, "no rows: the sales table needs one row per item-store series")
    _check_ids(sales, labels.sales)
    check_values(sales[days].to_numpy(), sales[ID].to_numpy(), days, labels.sales)

    first = int(days[0][len(DAY_PREFIX):])
    last = int(days[-1][len(DAY_PREFIX):])
    need_end = last + HORIZON
    if first < cal_days[0] or need_end > cal_days[-1]:
        raise _fail(labels.calendar, f"covers {day_name(cal_days[0])}..{day_name(cal_days[-1])} but the sales "
                                     f"need {day_name(first)}..{day_name(need_end)} (the sales days plus a "
                                     f"{HORIZON}-day horizon): use a calendar that covers them")

    _check_forecast_prices(data.calendar, cal_days, data.prices, last, labels.prices)

    # Every item-store has at least one price (codes against the sales' own categories).
    items = sales[ITEM].cat.categories if isinstance(sales[ITEM].dtype, pd.CategoricalDtype) \
        else pd.Index(pd.unique(sales[ITEM]))
    stores = sales[STORE].cat.categories if isinstance(sales[STORE].dtype, pd.CategoricalDtype) \
        else pd.Index(pd.unique(sales[STORE]))
    p_item, p_store = _codes(data.prices[ITEM], items), _codes(data.prices[STORE], stores)
    known = (p_item >= 0) & (p_store >= 0)
    has_price = np.zeros(len(items) * len(stores), dtype=bool)
    has_price[p_item[known] * len(stores) + p_store[known]] = True
    s_key = _codes(sales[ITEM], items) * len(stores) + _codes(sales[STORE], stores)
    no_price = ~has_price[s_key]
    if no_price.any():
        r = int(np.flatnonzero(no_price)[0])
        store = str(sales[STORE].iat[r])
        priced = pd.unique(data.prices[STORE].astype("str"))
        if store not in set(priced):  # a prices file of other stores, not one series' gap
            shown = ", ".join(sorted(priced)[:5]) + (", ..." if len(priced) > 5 else "")
            raise _fail(labels.prices, f"no price at all for store {store!r} (id {str(sales[ID].iat[r])!r}): the file "
                                       f"prices store(s) {shown or 'none'}: use the prices file of the same data "
                                       "as the sales")
        raise _fail(labels.prices, f"no price at all for item {str(sales[ITEM].iat[r])!r} in store "
                                   f"{str(sales[STORE].iat[r])!r} (id {str(sales[ID].iat[r])!r}): add its "
                                   "weekly prices or drop the series")

    if data.future is not None:
        check_future(data.future, sales, labels.future)


def check_future(future: pd.DataFrame, sales: pd.DataFrame, label: str) -> None:
    """Check that ``future`` continues ``sales``: the next days, the same ids in the same order, whole counts >= 0."""
    last = int(check_sales_columns(sales.columns, "sales table")[-1][len(DAY_PREFIX):])
    days = check_sales_columns(future.columns, label, id_cols=(ID,))
    if days[0] != day_name(last + 1):
        raise _fail(label, f"starts at {days[0]} but the sales end at {day_name(last)}: "
                           f"the future must start at {day_name(last + 1)}")
    if len(future) != len(sales) or not np.array_equal(
            future[ID].astype("str").to_numpy(), sales[ID].astype("str").to_numpy()):
        raise _fail(label, "its ids differ from the sales ids: the future needs the same rows in the same order")
    check_values(future[days].to_numpy(), future[ID].to_numpy(), days, label)
