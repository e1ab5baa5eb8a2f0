"""make_m5: M5's shape and dtypes, determinism, and the realism targets on the default data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from m5kit._schema import CALENDAR_COLS, CATEGORIES, DEPARTMENTS, ID_COLS, PRICE_COLS, STORES, day_columns
from m5kit.datasets import M5Data, make_m5, validate_m5
from m5kit.datasets._calendar import EVENT_TYPE, make_calendar
from m5kit.datasets._generate import DEPT_SIZES, allocate_items
from m5kit.errors import DataError


@pytest.fixture(scope="module")
def data() -> M5Data:
    return make_m5()


@pytest.fixture(scope="module")
def block(data) -> np.ndarray:
    """Training sales as a float matrix (series x days)."""
    return data.sales[day_columns(data.sales.columns)].to_numpy().astype(np.float64)


@pytest.fixture(scope="module")
def launched(data) -> np.ndarray:
    """True on the days on which a series has a price (it is on sale)."""
    first_week = data.prices.groupby(["item_id", "store_id"], observed=True)["wm_yr_wk"].min()
    first = first_week.reindex(pd.MultiIndex.from_arrays([data.sales["item_id"], data.sales["store_id"]]))
    weeks = data.calendar["wm_yr_wk"].to_numpy()[: data.n_days]
    return weeks[None, :] >= first.to_numpy()[:, None]


def _rows(data, **where) -> np.ndarray:
    mask = np.ones(data.n_series, dtype=bool)
    for col, value in where.items():
        mask &= (data.sales[col] == value).to_numpy()
    return mask


# --- shape, ids, dtypes ---------------------------------------------------------------------


def test_default_has_m5_ids_and_sizes(data):
    """The default data has 139 items x 10 stores with M5's states, stores, categories and departments."""
    sales = data.sales
    assert sales.shape == (1390, 6 + 1913)
    assert list(sales.columns[:6]) == list(ID_COLS)
    assert day_columns(sales.columns) == [f"d_{i}" for i in range(1, 1914)]
    assert sorted(sales["state_id"].unique()) == ["CA", "TX", "WI"]
    assert sorted(sales["store_id"].unique()) == list(STORES)
    assert sorted(sales["cat_id"].unique()) == list(CATEGORIES)
    assert sorted(sales["dept_id"].unique()) == list(DEPARTMENTS)
    items_per_dept = sales.drop_duplicates("item_id")["dept_id"].value_counts()
    assert items_per_dept.idxmax() == "FOODS_3" and items_per_dept.sum() == 139
    first = sales.iloc[0]
    assert first["item_id"] == "FOODS_1_001" and first["id"] == "FOODS_1_001_CA_1_validation"
    assert (sales["id"].astype(str) == sales["item_id"].astype(str) + "_" + sales["store_id"].astype(str)
            + "_validation").all()
    assert sales["item_id"].astype(str).str.match(r"^[A-Z]+_\d_\d{3}$").all()


def test_rows_sorted_by_item_then_store(data):
    """Rows are sorted by item then store, like the long frame's series order."""
    keys = data.sales[["item_id", "store_id"]].astype(str)
    assert keys.equals(keys.sort_values(["item_id", "store_id"]).reset_index(drop=True))


def test_dtypes_are_the_lean_contract(data):
    """Ids are categorical, days int16, prices float32, calendar ints small, dates datetime64."""
    for col in ID_COLS:
        assert isinstance(data.sales[col].dtype, pd.CategoricalDtype)
    assert (data.sales.dtypes.iloc[6:] == np.int16).all()
    assert (data.future.dtypes.iloc[1:] == np.int16).all()
    assert data.future["id"].dtype == data.sales["id"].dtype
    assert list(data.prices.columns) == list(PRICE_COLS)
    assert data.prices.dtypes.astype(str).tolist() == ["category", "category", "int16", "float32"]
    cal = data.calendar
    assert list(cal.columns) == list(CALENDAR_COLS)
    assert cal["date"].dtype == "datetime64[ns]"
    assert {c: str(cal[c].dtype) for c in ("wm_yr_wk", "wday", "month", "year", "snap_CA")} == {
        "wm_yr_wk": "int16", "wday": "int8", "month": "int8", "year": "int16", "snap_CA": "int8"}
    assert cal["event_name_1"].dtype == pd.Series([], dtype="str").dtype  # pandas 3: StringDtype; 2.x: object


def test_future_continues_the_sales(data):
    """future holds the 28 days after the training days, same rows, and the calendar covers them."""
    future = data.future
    assert future.shape == (1390, 29)
    assert list(future.columns) == ["id"] + [f"d_{i}" for i in range(1914, 1942)]
    assert future["id"].equals(data.sales["id"])
    assert len(data.calendar) == 1913 + 28 + 28  # M5's 1,969 days
    assert future.iloc[:, 1:].to_numpy().sum() > 0
    validate_m5(data)


def test_same_seed_same_data_other_seed_other_data():
    """The same seed gives identical tables; another seed gives other sales."""
    a = make_m5(n_items=14, n_stores=2, n_days=90, seed=3)
    b = make_m5(n_items=14, n_stores=2, n_days=90, seed=3)
    c = make_m5(n_items=14, n_stores=2, n_days=90, seed=4)
    for name in ("calendar", "prices", "sales", "future"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.sales.equals(c.sales)


def test_items_spread_like_m5():
    """Items split over the departments in M5's proportions, each department at least one."""
    assert allocate_items(3049) == DEPT_SIZES
    for n in (7, 8, 20, 139, 500):
        counts = allocate_items(n)
        assert sum(counts.values()) == n and min(counts.values()) >= 1
    assert sum(allocate_items(3).values()) == 3


@pytest.mark.parametrize("kwargs", [
    {"n_items": 3, "n_stores": 1, "n_days": 10},
    {"n_items": 7, "n_stores": 4, "n_days": 40, "horizon": 0},
    {"n_items": 8, "n_stores": 3, "n_days": 35, "horizon": 60},
])
def test_small_and_odd_sizes_are_valid(kwargs):
    """Tiny sizes, no horizon and a long horizon give valid, consistent data."""
    data = make_m5(**kwargs)
    validate_m5(data)
    assert data.n_days == kwargs["n_days"]
    assert len(data.calendar) == kwargs["n_days"] + kwargs.get("horizon", 28) + 28
    assert (data.future is None) == (kwargs.get("horizon", 28) == 0)
    if data.future is not None:
        assert data.future.shape[1] - 1 == kwargs.get("horizon", 28)


@pytest.mark.parametrize("kwargs", [
    {"n_items": 0}, {"n_items": -5}, {"n_items": 1.5}, {"n_items": True},
    {"n_stores": 0}, {"n_stores": 11}, {"n_days": 0}, {"n_days": 100_000}, {"horizon": -1}, {"horizon": 100_000},
    {"seed": "x"},
])
def test_bad_sizes_raise_data_error(kwargs):
    """Sizes that are not whole numbers in range raise a one-line DataError naming the argument."""
    with pytest.raises(DataError, match=next(iter(kwargs))) as info:
        make_m5(**kwargs)
    assert "\n" not in str(info.value)


def test_the_most_days_make_valid_data_and_one_more_is_refused():
    """At the largest n_days the calendar's weeks still rise (1YYWW ends in 2099) and the data is valid; one day more is a DataError."""
    from m5kit.datasets._generate import DAYS_MAX

    data = make_m5(n_items=1, n_stores=1, n_days=DAYS_MAX)
    validate_m5(data)
    assert data.calendar["wm_yr_wk"].is_monotonic_increasing
    with pytest.raises(DataError, match=rf"^n_days={DAYS_MAX + 1} is out of range"):
        make_m5(n_items=1, n_stores=1, n_days=DAYS_MAX + 1)


# --- calendar ---------------------------------------------------------------------------------


def test_calendar_weeks_and_weekdays_like_m5(data):
    """d_1 is Saturday 2011-01-29 in week 11101; weeks start on Saturday (wday 1)."""
    cal = data.calendar
    first = cal.iloc[0]
    assert (str(first["date"].date()), first["wm_yr_wk"], first["weekday"], first["wday"], first["d"]) == (
        "2011-01-29", 11101, "Saturday", 1, "d_1")
    assert (cal["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    changes = cal["wm_yr_wk"].diff().fillna(0).to_numpy() != 0
    assert (cal["wday"].to_numpy()[changes] == 1).all()
    assert (cal["weekday"] == cal["date"].dt.day_name()).all()
    assert (cal["wday"] == (cal["date"].dt.day_of_week + 2) % 7 + 1).all()
    assert cal.loc[cal["date"] == "2012-01-28", "wm_yr_wk"].item() == 11201
    full = make_calendar(1969)
    assert (str(full["date"].iloc[-1].date()), full["wm_yr_wk"].iloc[-1], full["wm_yr_wk"].nunique()) == (
        "2016-06-19", 11621, 282)


def test_calendar_snap_days_follow_the_state_rules(data):
    """SNAP days: CA on days 1-10, TX and WI on their own ten days of each month."""
    cal = data.calendar
    day = cal["date"].dt.day
    assert (cal["snap_CA"] == day.between(1, 10)).all()
    assert (cal["snap_TX"] == day.isin([1, 3, 5, 6, 7, 9, 11, 12, 13, 15])).all()
    assert (cal["snap_WI"] == day.isin([2, 3, 5, 6, 8, 9, 11, 12, 14, 15])).all()


@pytest.mark.parametrize(("date", "name"), [
    ("2011-02-06", "SuperBowl"), ("2016-02-07", "SuperBowl"), ("2012-02-14", "ValentinesDay"),
    ("2013-02-18", "PresidentsDay"), ("2011-03-09", "LentStart"), ("2011-03-16", "LentWeek2"),
    ("2014-03-17", "StPatricksDay"), ("2011-03-20", "Purim End"), ("2014-04-20", "Easter"),
    ("2012-04-15", "OrthodoxEaster"), ("2011-04-26", "Pesach End"), ("2013-05-12", "Mother's day"),
    ("2015-05-25", "MemorialDay"), ("2012-06-17", "Father's day"), ("2011-07-04", "IndependenceDay"),
    ("2011-08-01", "Ramadan starts"), ("2012-10-26", "EidAlAdha"), ("2015-09-07", "LaborDay"),
    ("2014-10-13", "ColumbusDay"), ("2013-10-31", "Halloween"), ("2012-11-11", "VeteransDay"),
    ("2011-11-24", "Thanksgiving"), ("2015-11-26", "Thanksgiving"), ("2011-12-25", "Christmas"),
    ("2011-12-28", "Chanukah End"), ("2014-12-24", "Chanukah End"), ("2013-01-01", "NewYear"),
    ("2012-01-07", "OrthodoxChristmas"), ("2016-01-18", "MartinLutherKingDay"),
])
def test_calendar_has_real_events_on_real_dates(data, date, name):
    """M5's recurring events fall on their real dates, with M5's names and types."""
    row = data.calendar.loc[data.calendar["date"] == date].iloc[0]
    names = {row["event_name_1"]: row["event_type_1"], row["event_name_2"]: row["event_type_2"]}
    assert names.get(name) == EVENT_TYPE[name]


def test_calendar_event_names_and_types_are_m5s(data):
    """Every M5 event occurs in the data's years; event_name_2 is rarely filled."""
    cal = make_calendar(1969)
    seen = set(cal["event_name_1"].dropna()) | set(cal["event_name_2"].dropna())
    assert seen == set(EVENT_TYPE)
    assert EVENT_TYPE["Christmas"] == "National" and EVENT_TYPE["Easter"] == "Cultural"
    assert EVENT_TYPE["SuperBowl"] == "Sporting" and EVENT_TYPE["Purim End"] == "Religious"
    assert 1 <= data.calendar["event_name_2"].notna().sum() <= 10
    assert 150 <= data.calendar["event_name_1"].notna().sum() <= 170
    filled = data.calendar[["event_name_1", "event_type_1"]].notna()
    assert (filled["event_name_1"] == filled["event_type_1"]).all()


# --- realism -------------------------------------------------------------------------------------


def test_demand_is_intermittent_and_foods_sells_most(data, block, launched):
    """55-75% of item-store days on sale sell nothing; FOODS sells most per series, HOBBIES least."""
    zero_share = (block[launched] == 0).mean()
    assert 0.55 <= zero_share <= 0.75
    mean = {c: block[_rows(data, cat_id=c)][launched[_rows(data, cat_id=c)]].mean() for c in CATEGORIES}
    assert mean["FOODS"] > mean["HOUSEHOLD"] > mean["HOBBIES"]


def test_weekends_sell_more(data, block):
    """Saturday and Sunday sell at least 1.2x the Tuesday-Thursday average."""
    wday = data.calendar["wday"].to_numpy()[: data.n_days]
    total = block.sum(axis=0)
    assert total[np.isin(wday, [1, 2])].mean() >= 1.2 * total[np.isin(wday, [4, 5, 6])].mean()


def test_snap_days_lift_foods_not_hobbies(data, block):
    """FOODS sells >= 1.08x on its state's SNAP days; HOBBIES is within 5% of 1."""
    for state in ("CA", "TX", "WI"):
        snap = data.calendar[f"snap_{state}"].to_numpy()[: data.n_days] == 1
        for cat, low, high in (("FOODS", 1.08, 2.0), ("HOBBIES", 0.95, 1.05)):
            daily = block[_rows(data, cat_id=cat, state_id=state)].sum(axis=0)
            ratio = daily[snap].mean() / daily[~snap].mean()
            assert low <= ratio <= high, (state, cat, ratio)


def test_stores_are_closed_on_christmas(data, block):
    """Every store sells almost nothing on December 25."""
    xmas = ((data.calendar["month"] == 12) & (data.calendar["date"].dt.day == 25)).to_numpy()[: data.n_days]
    assert xmas.sum() == 5  # 2011-2015
    for store in STORES:
        daily = block[_rows(data, store_id=store)].sum(axis=0)
        assert daily[xmas].max() <= 0.02 * daily.mean(), store


def test_prices_are_weekly_from_launch_with_similar_prices_across_stores(data, launched):
    """One price row per store, item and week from launch on; an item costs about the same in every store."""
    prices = data.prices
    assert not prices.duplicated(["store_id", "item_id", "wm_yr_wk"]).any()
    assert (prices["sell_price"] > 0).all()
    rows = prices.groupby(["item_id", "store_id"], observed=True).size()
    last_week = data.calendar["wm_yr_wk"].iloc[-1]
    first = prices.groupby(["item_id", "store_id"], observed=True)["wm_yr_wk"].min()
    weeks = data.calendar.drop_duplicates("wm_yr_wk")["wm_yr_wk"].to_numpy()
    expected = np.searchsorted(weeks, last_week) - np.searchsorted(weeks, first.to_numpy()) + 1
    assert (rows.to_numpy() == expected).all()
    week = prices[prices["wm_yr_wk"] == last_week]
    spread = week.groupby("item_id", observed=True)["sell_price"].agg(lambda p: p.max() / p.min())
    assert spread.median() < 1.1


def test_discount_weeks_sell_more(data, block, launched):
    """Promotions (weeks priced below the surrounding weeks) are rare, as in CA_1, and lift demand by >= 1.05x."""
    weeks = data.calendar["wm_yr_wk"].to_numpy()[: data.n_days]
    codes = np.unique(data.calendar["wm_yr_wk"], return_inverse=True)[1]
    table = np.full((data.n_series, codes.max() + 1), np.nan)
    series = pd.Series(np.arange(data.n_series), index=pd.MultiIndex.from_arrays(
        [data.sales["item_id"], data.sales["store_id"]]))
    rows = series.reindex(pd.MultiIndex.from_arrays([data.prices["item_id"], data.prices["store_id"]])).to_numpy()
    week_code = np.searchsorted(np.unique(data.calendar["wm_yr_wk"]), data.prices["wm_yr_wk"].to_numpy())
    table[rows, week_code] = data.prices["sell_price"].to_numpy()
    reference = np.fmax(np.roll(table, 1, axis=1), np.roll(table, -1, axis=1))
    promo = (table < 0.93 * reference)[:, np.searchsorted(np.unique(data.calendar["wm_yr_wk"]), weeks)]
    level = np.where(launched, block, np.nan)
    relative = block / np.maximum(np.nanmean(level, axis=1, keepdims=True), 1e-9)
    on, off = launched & promo, launched & ~promo
    assert 0.0005 < on.mean() < 0.01
    assert relative[on].mean() >= 1.05 * relative[off].mean()


def test_some_series_launch_late(data, block, launched):
    """At least 10% of series start after d_1: no price rows and no sales before launch."""
    late = ~launched[:, 0]
    assert late.mean() >= 0.10
    assert block[~launched].sum() == 0


def test_levels_move_over_time(data, block, launched):
    """28-day totals vary far more than day-to-day noise allows (trends, seasonality): no flat series."""
    n_blocks = data.n_days // 28
    sums, ratios = block[:, : n_blocks * 28].reshape(data.n_series, n_blocks, 28), []
    on_sale = launched[:, : n_blocks * 28].reshape(data.n_series, n_blocks, 28).all(axis=2)
    for i in range(data.n_series):
        chunk = sums[i][on_sale[i]]
        if len(chunk) >= 10 and chunk.mean() >= 0.5:
            ratios.append(chunk.sum(axis=1).var(ddof=1) / (28 * chunk.var(axis=1, ddof=1).mean()))
    # A stationary generator gives a ratio near 1 (weekly patterns push it below).
    assert len(ratios) > 300 and np.median(ratios) >= 1.5


def test_yearly_seasonality_repeats(data, block):
    """FOODS' and HOUSEHOLD's monthly profiles (trend removed) repeat from 2011-13 to 2014-15.

    HOBBIES is left out: its yearly pattern is too weak to repeat in CA_1 either (correlation -0.15).
    """
    dates = data.calendar["date"].iloc[: data.n_days].to_numpy()
    for cat in ("FOODS", "HOUSEHOLD"):
        daily = pd.Series(block[_rows(data, cat_id=cat)].sum(axis=0), index=dates)
        monthly = daily.resample("MS").mean().iloc[1:-1]
        detrended = monthly / monthly.rolling(13, center=True).mean()
        profile = detrended.groupby([detrended.index.year, detrended.index.month]).mean().unstack()
        early, late = profile.loc[[2011, 2012, 2013]].mean(), profile.loc[[2014, 2015]].mean()
        assert early.corr(late) >= 0.5, cat
        assert early.max() / early.min() >= 1.05, cat


@pytest.mark.slow
def test_full_m5_size():
    """The full M5 size (3,049 items, 30,490 series) generates with M5's department sizes."""
    data = make_m5(n_items=3049)
    assert data.sales.shape == (30490, 1919)
    assert data.sales.drop_duplicates("item_id")["dept_id"].value_counts().to_dict() == DEPT_SIZES
    assert 5_000_000 < len(data.prices) < 9_000_000
