"""PriceJoiner: sell price features by store, item and week on the long frame."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from m5kit._schema import ID_COLS, PRICE_FEATURES
from m5kit.errors import DataError
from m5kit.transformers import CalendarMerger, PriceJoiner
from m5kit.transformers._long import _copy_on_write

N_DAYS, HORIZON = 40, 5
ITEMS = ("FOODS_1_001", "HOBBIES_1_002")
STORES = ("CA_1", "TX_1")
WEEKS = 11101 + np.arange(7)  # the 45 days span weeks 11101 .. 11107 (7 days each)
LAUNCH = 2  # HOBBIES_1_002 has no price in its first 2 weeks (days 1-14)


def tiny_calendar(n_days: int = N_DAYS + HORIZON) -> pd.DataFrame:
    """Calendar of ``n_days`` days, week ``11101 + (day - 1) // 7``, no events."""
    day = np.arange(1, n_days + 1)
    events = pd.Series([np.nan] * n_days, dtype="str")
    return pd.DataFrame({
        "date": pd.date_range("2011-01-29", periods=n_days), "wm_yr_wk": (11101 + (day - 1) // 7).astype("int16"),
        "weekday": "x", "wday": ((day - 1) % 7 + 1).astype("int8"), "month": np.int8(1), "year": np.int16(2011),
        "d": [f"d_{i}" for i in day], "event_name_1": events, "event_type_1": events, "event_name_2": events,
        "event_type_2": events, "snap_CA": np.int8(0), "snap_TX": np.int8(1), "snap_WI": np.int8(0),
    })


def tiny_sales(n_days: int = N_DAYS) -> pd.DataFrame:
    """Wide sales of 2 items x 2 stores."""
    ids = [
        {"id": f"{item}_{store}_validation", "item_id": item, "dept_id": item[:-4],
         "cat_id": item.split("_")[0], "store_id": store, "state_id": store[:2]}
        for store in STORES for item in ITEMS
    ]
    values = np.ones((len(ids), n_days), dtype="int16")
    days = pd.DataFrame(values, columns=[f"d_{d}" for d in range(1, n_days + 1)])
    return pd.concat([pd.DataFrame(ids).astype("category"), days], axis=1)


def price_of(store: str, item: str, k: int) -> float:
    """Price in week ``WEEKS[k]``: distinct per store and item, changing every week."""
    return (1.0 + STORES.index(store)) * (2.0 + ITEMS.index(item)) + 0.25 * k


def tiny_prices() -> pd.DataFrame:
    """All weeks priced, except the first LAUNCH weeks of HOBBIES_1_002 (not launched yet)."""
    rows = [
        (store, item, int(week), price_of(store, item, k))
        for store in STORES for item in ITEMS for k, week in enumerate(WEEKS)
        if not (item == "HOBBIES_1_002" and k < LAUNCH)
    ]
    prices = pd.DataFrame(rows, columns=["store_id", "item_id", "wm_yr_wk", "sell_price"])
    return prices.astype({"store_id": "category", "item_id": "category", "wm_yr_wk": "int16",
                          "sell_price": "float32"})


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    return CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(tiny_sales())


@pytest.fixture(scope="module")
def priced(long) -> pd.DataFrame:
    return PriceJoiner(tiny_prices()).fit_transform(long)


def series(frame: pd.DataFrame, store: str, item: str) -> pd.DataFrame:
    return frame[(frame["store_id"] == store) & (frame["item_id"] == item)].set_index("d")


def test_columns_and_dtypes(long, priced):
    """The four price features are appended with their contract dtypes; other columns are kept as they were."""
    assert list(priced.columns) == [*long.columns, *PRICE_FEATURES]
    assert [str(priced[c].dtype) for c in PRICE_FEATURES] == ["float32", "float32", "float32", "int8"]
    pd.testing.assert_frame_equal(priced[list(long.columns)], long)


def test_price_week_maps_to_its_seven_days(priced):
    """Days 1-7 carry week 11101's price, days 8-14 week 11102's, ..., future days included."""
    s = series(priced, "TX_1", "FOODS_1_001")
    for day in (1, 7, 8, 14, 15, 43, 45):
        k = (day - 1) // 7
        assert s.loc[day, "wm_yr_wk"] == WEEKS[k]
        assert s.loc[day, "sell_price"] == np.float32(price_of("TX_1", "FOODS_1_001", k))
    assert s["available"].eq(1).all()


def test_days_before_launch_are_unavailable_never_filled(priced):
    """Pre-launch days have available=0, NaN price, price_rel 0 and price_change 0; launch week change is 0."""
    s = series(priced, "CA_1", "HOBBIES_1_002")
    before = s.loc[: 7 * LAUNCH]
    assert before["available"].eq(0).all() and before["sell_price"].isna().all()
    assert before["price_rel"].eq(0).all() and before["price_change"].eq(0).all()
    after = s.loc[7 * LAUNCH + 1:]
    assert after["available"].eq(1).all() and after["sell_price"].notna().all()
    assert s.loc[7 * LAUNCH + 1, "price_change"] == 0.0
    assert int(priced["available"].eq(0).sum()) == 2 * 7 * LAUNCH


def test_price_rel_and_price_change_exact(priced):
    """price_rel = price / the series' mean weekly price; price_change = price / previous week's - 1."""
    s = series(priced, "TX_1", "HOBBIES_1_002")
    weekly = [price_of("TX_1", "HOBBIES_1_002", k) for k in range(LAUNCH, len(WEEKS))]
    weekly32 = np.float32(weekly).astype(np.float64)
    mean = weekly32.mean()
    day = 7 * 4 + 3  # week index 4
    price = weekly32[4 - LAUNCH]
    assert s.loc[day, "price_rel"] == pytest.approx(price / mean, rel=1e-6)
    assert s.loc[day, "price_change"] == pytest.approx(price / weekly32[3 - LAUNCH] - 1, rel=1e-6)
    steady = series(priced, "CA_1", "FOODS_1_001")
    assert steady.loc[3, "price_change"] == 0.0  # first week of the table
    assert steady.loc[10, "price_change"] == pytest.approx(0.25 / 2.0, rel=1e-6)


def test_week_missing_from_the_price_table_is_unavailable(long):
    """A week of the history with no price row (here the fourth, dropped) gives available=0 and NaN price (a week of
    the forecast days without one is refused: see the next test)."""
    prices = tiny_prices()
    out = PriceJoiner(prices[prices["wm_yr_wk"] != WEEKS[3]]).fit_transform(long)
    dropped = out[out["wm_yr_wk"] == WEEKS[3]]
    assert len(dropped) > 0 and dropped["available"].eq(0).all() and dropped["sell_price"].isna().all()


def test_prices_that_stop_before_the_forecast_days_are_refused(long):
    """A price table that stops at the sales' last week (a prices file known up to today) gave every forecast day
    after it available=0 and the forecasts 0 without a word (`m5kit train` refuses such files): one DataError line,
    the same as the CLI's; prices that stopped before the last training week (discontinued items) pass."""
    prices = tiny_prices()
    with pytest.raises(DataError, match=r"^price table: no price in week 11107 \(d_43\.\.d_45\), one of the 5 days "
                                        r"to forecast after the sales' last day d_40: every series would be forecast 0 "
                                        r"there \(not on sale\); add the prices of the weeks up to d_45 "):
        PriceJoiner(prices[prices["wm_yr_wk"] != WEEKS[-1]]).fit_transform(long)
    joiner = PriceJoiner(prices[prices["wm_yr_wk"] != WEEKS[-1]]).fit(long)
    with pytest.raises(DataError, match=r"^price table: no price in week 11107 "):
        joiner.transform(long)
    stopped = PriceJoiner(prices[prices["wm_yr_wk"] <= WEEKS[3]]).fit_transform(long)
    assert stopped.loc[stopped["d"] > 28, "available"].eq(0).all()


def test_prices_of_other_weeks_than_the_data_are_refused(long):
    """A price table of none of the data's weeks (another calendar's week numbers) made every day 'not on sale': the
    fit failed later with 'group ... has no training row' and no word on the prices. One DataError line now."""
    prices = tiny_prices().assign(wm_yr_wk=lambda p: (p["wm_yr_wk"] + 100).astype("int16"))
    with pytest.raises(DataError, match=r"^price table: no week of the data has a price \(the table's weeks "
                                        r"11201\.\.11207, the data's 11101\.\.11107\): use the prices of the same "
                                        r"data as the calendar$"):
        PriceJoiner(prices).fit_transform(long)


def test_string_ids_and_unsorted_prices_give_the_same_result(long, priced):
    """Plain-string id columns and a shuffled price table give the same features."""
    prices = tiny_prices().astype({"store_id": str, "item_id": str}).sample(frac=1.0, random_state=1)
    frame = long.astype({"store_id": str, "item_id": str})
    out = PriceJoiner(prices).fit_transform(frame)
    for column in PRICE_FEATURES:
        np.testing.assert_array_equal(out[column].to_numpy(), priced[column].to_numpy())


def test_unsorted_or_ragged_frames_get_the_same_prices(long, priced):
    """Rows in any order, or series with different days, get the price of their own store, item and week."""
    shuffled = long.sample(frac=1.0, random_state=2)
    out = PriceJoiner(tiny_prices()).fit_transform(shuffled)
    pd.testing.assert_frame_equal(out.sort_index(), priced)
    ragged = long[~((long["item_id"] == "FOODS_1_001") & (long["d"] < 5))]
    out = PriceJoiner(tiny_prices()).fit_transform(ragged)
    pd.testing.assert_frame_equal(out, priced.loc[ragged.index])


def test_series_without_any_price_is_named(long):
    """A series the price table never prices is a DataError naming its id."""
    prices = tiny_prices()
    missing = (prices["store_id"] == "TX_1") & (prices["item_id"] == "HOBBIES_1_002")
    with pytest.raises(DataError, match="'HOBBIES_1_002_TX_1_validation'.*has no price"):
        PriceJoiner(prices[~missing]).fit(long)
    joiner = PriceJoiner(prices[~missing]).fit(long[long["store_id"] == "CA_1"])
    with pytest.raises(DataError, match="HOBBIES_1_002_TX_1_validation"):
        joiner.transform(long)


@pytest.mark.parametrize("column", ["store_id", "item_id", "wm_yr_wk", "sell_price"])
def test_price_table_missing_column_is_named(long, column):
    """A price table without one of its four columns is a DataError naming it."""
    with pytest.raises(DataError, match=f"price table has no column '{column}'"):
        PriceJoiner(tiny_prices().drop(columns=column)).fit(long)


@pytest.mark.parametrize("value, word", [(np.nan, "missing"), (-1.5, "-1.5"), (0.0, "0"), (np.inf, "inf")])
def test_missing_or_non_positive_price_is_rejected(long, value, word):
    """A NaN, negative, zero or infinite sell_price is a DataError naming the row, store, item and week (the week as
    written, not numpy's np.int16(11104))."""
    prices = tiny_prices()
    prices.loc[3, "sell_price"] = value
    with pytest.raises(DataError, match=rf"row 3 \(store 'CA_1', item 'FOODS_1_001', week 11104\) has sell_price {word}"):
        PriceJoiner(prices).fit(long)


def test_duplicate_price_rows_are_rejected(long):
    """Two prices for one store, item and week are a DataError."""
    prices = pd.concat([tiny_prices(), tiny_prices().iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="more than one price for store 'CA_1', item 'FOODS_1_001', week 11101"):
        PriceJoiner(prices).fit(long)


def test_frame_without_week_column_is_rejected(long):
    """The long frame needs wm_yr_wk (from CalendarMerger)."""
    with pytest.raises(DataError, match="no column 'wm_yr_wk'.*CalendarMerger"):
        PriceJoiner(tiny_prices()).fit(long.drop(columns="wm_yr_wk"))


def test_transform_replaces_existing_price_columns(priced):
    """Transforming an already priced frame gives the same frame, not duplicated columns."""
    again = PriceJoiner(tiny_prices()).fit_transform(priced)
    pd.testing.assert_frame_equal(again, priced)


def test_transform_does_not_change_the_input(long):
    """transform returns a new frame; the caller's frame keeps its columns and values."""
    before = long.copy()
    out = PriceJoiner(tiny_prices()).fit_transform(long)
    out.loc[0, "sales"] = -5.0
    pd.testing.assert_frame_equal(long, before)


def test_transform_before_fit_raises_not_fitted(long):
    """transform before fit raises sklearn's NotFittedError."""
    with pytest.raises(NotFittedError):
        PriceJoiner(tiny_prices()).transform(long)


def test_sklearn_params_clone_pickle_and_set_output(long, priced):
    """get_params/set_params/clone/pickle/cloudpickle/set_output/get_feature_names_out all work."""
    prices = tiny_prices()
    joiner = PriceJoiner(prices)
    assert joiner.get_params() == {"prices": prices}
    assert joiner.set_params(prices=prices).prices is prices
    joiner.fit(long)
    assert not hasattr(clone(joiner), "price_table_")
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        pd.testing.assert_frame_equal(loads(dumps(joiner)).transform(long), priced)
    assert list(joiner.get_feature_names_out()) == list(priced.columns)
    pd.testing.assert_frame_equal(joiner.set_output(transform="pandas").transform(long), priced)
    pd.testing.assert_frame_equal(joiner.set_output(transform="default").transform(long), priced)


def test_clone_does_not_deep_copy_the_price_table():
    """clone shares the price table where pandas copies on write (no copy of a 6.8 M-row table; a deep
    copy on pandas 2 without it), and no writes are shared either way."""
    prices = tiny_prices()
    twin = clone(PriceJoiner(prices))
    assert twin.prices is not prices
    shared = np.shares_memory(twin.prices["sell_price"].to_numpy(), prices["sell_price"].to_numpy())
    assert shared == _copy_on_write()
    twin.prices.loc[0, "sell_price"] = 99.0
    assert prices.loc[0, "sell_price"] != 99.0

API_CHECKS = [
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_get_params_invariance", "check_set_params",
]


@pytest.mark.parametrize("check", API_CHECKS)
def test_sklearn_api_checks(check):
    """scikit-learn's API checks pass (its data checks feed random arrays, not M5 tables, so they do not apply)."""
    from sklearn.utils import estimator_checks

    estimator = (lambda: PriceJoiner(tiny_prices()))()
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


# --------------------------------------------------------------- built-in data


@pytest.fixture(scope="module")
def m5():
    from m5kit.datasets import make_m5

    return make_m5(n_items=7, n_days=200, seed=0)


def test_builtin_data_prices_match_a_merge(m5):
    """On generated data sell_price equals a plain merge on store, item, week; unpriced rows are unavailable."""
    long = CalendarMerger(m5.calendar).fit_transform(m5.sales)
    out = PriceJoiner(m5.prices).fit_transform(long)
    keys = ["store_id", "item_id", "wm_yr_wk"]
    ref = long[keys].astype({"store_id": str, "item_id": str}).merge(
        m5.prices.astype({"store_id": str, "item_id": str}), on=keys, how="left")
    np.testing.assert_array_equal(out["sell_price"].to_numpy(), ref["sell_price"].to_numpy())
    assert (out["available"] == out["sell_price"].notna()).all()
    assert out["available"].eq(0).any(), "generated data should have items launched late"
    assert (out.groupby("id", observed=True)["available"].max() == 1).all()
    rel_mean = out[out["available"] == 1].groupby("id", observed=True)["price_rel"].mean()
    assert rel_mean.between(0.5, 1.5).all()
    assert not out[list(ID_COLS)].isna().any().any()


def test_a_failed_refit_keeps_the_last_fit_whole(long, priced):
    """A refit whose price table lacks a series failed, yet left the new table's lookups in place: transform then
    read the old frame's rows in the new table. The last fit now stays whole."""
    joiner = PriceJoiner(tiny_prices()).fit(long)
    smaller = tiny_prices()
    smaller = smaller[smaller["item_id"] != smaller["item_id"].iloc[0]]
    with pytest.raises(DataError, match="has no price in the price table"):
        joiner.set_params(prices=smaller).fit(long)
    joiner.set_params(prices=tiny_prices())
    pd.testing.assert_frame_equal(joiner.transform(long), priced)


def test_a_write_into_the_priced_frame_leaves_the_input_alone(long):
    """The output shares the input's columns only where pandas copies on write: a value set in it is not set in the
    input under pandas 2 either (the frame is copied there: a shallow copy saves memory but fails this)."""
    source = long.copy()
    out = PriceJoiner(tiny_prices()).fit_transform(source)
    out.loc[out.index[0], "sales"] = -1.0
    out.loc[out.index[0], "sell_price"] = -1.0
    pd.testing.assert_frame_equal(source, long)
