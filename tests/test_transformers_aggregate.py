"""LevelAggregator: group tags and summed series of the 12 M5 levels."""

from __future__ import annotations

import pickle
import re

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from m5kit._schema import ID_COLS
from m5kit.errors import DataError, LevelError, ParamError
from m5kit.hierarchy import LEVELS, count_groups, group_names
from m5kit.transformers import CalendarMerger, LevelAggregator, PriceJoiner, Windower

N_DAYS, HORIZON = 28, 3
ITEMS = ("FOODS_1_001", "FOODS_1_002", "HOBBIES_1_001")
STORES = ("CA_1", "CA_2", "TX_1")
LATE = ("CA_2", "FOODS_1_002")  # launched in the third week (no price in weeks 1-2)


def tiny_calendar(n_days: int = N_DAYS + HORIZON) -> pd.DataFrame:
    """Calendar: week ``11101 + (day - 1) // 7``; SNAP in CA on days 1-10, in TX on odd days."""
    day = np.arange(1, n_days + 1)
    events = pd.Series([np.nan] * n_days, dtype="str")
    return pd.DataFrame({
        "date": pd.date_range("2011-01-29", periods=n_days), "wm_yr_wk": (11101 + (day - 1) // 7).astype("int16"),
        "weekday": "x", "wday": ((day - 1) % 7 + 1).astype("int8"), "month": np.int8(1), "year": np.int16(2011),
        "d": [f"d_{i}" for i in day], "event_name_1": events, "event_type_1": events, "event_name_2": events,
        "event_type_2": events, "snap_CA": (day <= 10).astype("int8"), "snap_TX": (day % 2).astype("int8"),
        "snap_WI": np.int8(0),
    })


def tiny_sales() -> pd.DataFrame:
    """Wide sales of 3 items x 3 stores (9 series); series ``i`` sells ``i + day % 4`` units."""
    ids = [
        {"id": f"{item}_{store}_validation", "item_id": item, "dept_id": item[:-4],
         "cat_id": item.split("_")[0], "store_id": store, "state_id": store[:2]}
        for store in STORES for item in ITEMS
    ]
    values = np.arange(len(ids))[:, None] + (np.arange(1, N_DAYS + 1) % 4)[None, :]
    days = pd.DataFrame(values.astype("int16"), columns=[f"d_{d}" for d in range(1, N_DAYS + 1)])
    return pd.concat([pd.DataFrame(ids).astype("category"), days], axis=1)


def tiny_prices() -> pd.DataFrame:
    """Weekly prices ``1 + item index + store index / 10 + week / 100``; LATE is unpriced in weeks 1-2."""
    rows = [
        (store, item, 11101 + k, 1.0 + ITEMS.index(item) + STORES.index(store) / 10 + k / 100)
        for store in STORES for item in ITEMS for k in range(5)
        if not ((store, item) == LATE and k < 2)
    ]
    return pd.DataFrame(rows, columns=["store_id", "item_id", "wm_yr_wk", "sell_price"])


@pytest.fixture(scope="module")
def bottom() -> pd.DataFrame:
    long = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(tiny_sales())
    return PriceJoiner(tiny_prices()).fit_transform(long)


def aggregated(bottom, level) -> pd.DataFrame:
    return LevelAggregator(level, aggregate=True).fit_transform(bottom)


@pytest.mark.parametrize("level", [0, 13, "x", -1, 2.5, True])
def test_bad_level_is_a_level_error_in_fit(bottom, level):
    """Levels outside 1-12 are refused with LevelError when fitting (not in __init__)."""
    aggregator = LevelAggregator(level)
    with pytest.raises(LevelError):
        aggregator.fit(bottom)


@pytest.mark.parametrize("aggregate", ["no", "False", None])
def test_aggregate_other_than_true_or_false_is_a_param_error(bottom, aggregate):
    """aggregate='no' (text, as --param gives it) is refused, not read as true and summed."""
    with pytest.raises(ParamError, match=rf"^invalid aggregate {re.escape(repr(aggregate))}: give False or True$"):
        LevelAggregator(3, aggregate=aggregate).fit(bottom)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_group_column_names_every_row(bottom, level):
    """aggregate=False adds a categorical ``group`` equal to hierarchy.group_names, rows unchanged."""
    out = LevelAggregator(level).fit_transform(bottom)
    assert list(out.columns) == [*bottom.columns, "group"]
    assert isinstance(out["group"].dtype, pd.CategoricalDtype)
    assert list(out["group"].cat.categories) == sorted(out["group"].cat.categories)
    np.testing.assert_array_equal(out["group"].astype(str).to_numpy(),
                                  group_names(bottom, level).astype(str).to_numpy())
    pd.testing.assert_frame_equal(out.drop(columns="group"), bottom)
    assert out["group"].nunique() == count_groups(tiny_sales(), [level])[level]


def test_group_column_is_right_on_an_unsorted_frame(bottom):
    """Shuffled rows still get their own group (names are looked up per run of equal keys)."""
    shuffled = bottom.sample(frac=1.0, random_state=0)
    out = LevelAggregator(11).fit_transform(shuffled)
    np.testing.assert_array_equal(out["group"].astype(str).to_numpy(),
                                  group_names(shuffled, 11).astype(str).to_numpy())


def test_aggregate_sums_sales_exactly_and_keeps_future_nan(bottom):
    """Level 2 sums the series of each state day by day; the horizon days stay NaN."""
    out = aggregated(bottom, 2)
    assert out["id"].astype(str).unique().tolist() == ["CA", "TX"]
    assert len(out) == 2 * (N_DAYS + HORIZON)
    assert out["d"].tolist() == list(range(1, N_DAYS + HORIZON + 1)) * 2
    wide = tiny_sales()
    for state in ("CA", "TX"):
        got = out[out["id"] == state].set_index("d")["sales"]
        expected = wide[wide["state_id"] == state].filter(like="d_").sum()
        np.testing.assert_array_equal(got.loc[:N_DAYS].to_numpy(), expected.to_numpy(dtype="float32"))
        assert got.loc[N_DAYS + 1:].isna().all()
    assert out[out["id"] == "CA"].set_index("d").loc[5, "sales"] == sum(range(6)) + 6 * (5 % 4)


def test_shuffled_or_ragged_frames_aggregate_the_same(bottom):
    """Row order does not change the aggregate, and series with fewer days add only to the days they have."""
    expected = aggregated(bottom, 7)
    shuffled = aggregated(bottom.sample(frac=1.0, random_state=0), 7)
    pd.testing.assert_frame_equal(shuffled, expected, check_exact=False, rtol=1e-6)
    ragged = bottom[~((bottom["id"] == "FOODS_1_001_CA_1_validation") & (bottom["d"] <= 3))]
    out = aggregated(ragged, 7).set_index(["id", "d"])
    full = expected.set_index(["id", "d"])
    assert out.loc[("CA_FOODS_1", 3), "sales"] == full.loc[("CA_FOODS_1", 3), "sales"] - (0 + 3 % 4)
    assert out.loc[("CA_FOODS_1", 4), "sales"] == full.loc[("CA_FOODS_1", 4), "sales"]
    assert len(out) == len(full)


@pytest.mark.parametrize("level", [1, 7, 12])
def test_sums_over_blocks_of_days_match(bottom, level, monkeypatch):
    """Summing a few days at a time gives the same aggregate."""
    from m5kit.transformers import aggregate

    expected = aggregated(bottom, level)
    monkeypatch.setattr(aggregate._GridSums, "cells_per_block", 20)
    pd.testing.assert_frame_equal(aggregated(bottom, level), expected)


def test_total_level_is_the_sum_of_all_series(bottom):
    """Level 1 has one series named Total: the sum of every bottom series; other ids become 'all'."""
    out = aggregated(bottom, 1)
    assert out["id"].astype(str).unique().tolist() == ["Total"]
    assert out["group"].astype(str).unique().tolist() == ["Total"]
    expected = tiny_sales().filter(like="d_").sum().to_numpy(dtype="float32")
    np.testing.assert_array_equal(out["sales"].to_numpy()[:N_DAYS], expected)
    for column in ID_COLS[1:]:
        assert out[column].astype(str).unique().tolist() == ["all"]


def test_aggregated_id_columns(bottom):
    """Keys keep their values; other ids keep theirs when constant in the group, else 'all'."""
    store = aggregated(bottom, 3).drop_duplicates("id").set_index("id")
    assert store.loc["CA_2", ["store_id", "state_id", "item_id", "cat_id"]].astype(str).tolist() == [
        "CA_2", "CA", "all", "all"]
    item_state = aggregated(bottom, 11).drop_duplicates("id").set_index("id")
    assert item_state.loc["FOODS_1_002_CA", ["item_id", "dept_id", "cat_id", "state_id", "store_id"]].astype(
        str).tolist() == ["FOODS_1_002", "FOODS_1", "FOODS", "CA", "all"]
    assert item_state.loc["FOODS_1_002_TX", "store_id"] == "TX_1"


def test_aggregated_snap_and_calendar(bottom):
    """snap is 1 when any of the group's states has SNAP; calendar columns are the day's values."""
    cal = tiny_calendar()
    total = aggregated(bottom, 1).set_index("d")
    either = (cal["snap_CA"] | cal["snap_TX"]).to_numpy()
    np.testing.assert_array_equal(total["snap"].to_numpy(), either)
    tx = aggregated(bottom, 2).query("id == 'TX'").set_index("d")
    np.testing.assert_array_equal(tx["snap"].to_numpy(), cal["snap_TX"].to_numpy())
    np.testing.assert_array_equal(total["wm_yr_wk"].to_numpy(), cal["wm_yr_wk"].to_numpy())
    np.testing.assert_array_equal(total["wday"].to_numpy(), cal["wday"].to_numpy())
    assert str(total["snap"].dtype) == "int8" and str(total["wm_yr_wk"].dtype) == "int16"


def test_aggregated_prices_average_available_series(bottom):
    """sell_price/price_rel/price_change average the series available that day; available is any."""
    out = aggregated(bottom, 10).set_index(["id", "d"])
    # FOODS_1_002 in week 1: priced in CA_1 (1+1+0) and TX_1 (1+1+0.2), not yet in CA_2
    assert out.loc[("FOODS_1_002", 3), "sell_price"] == pytest.approx((2.0 + 2.2) / 2, rel=1e-6)
    assert out.loc[("FOODS_1_002", 3), "available"] == 1
    # week 3: all three stores
    assert out.loc[("FOODS_1_002", 15), "sell_price"] == pytest.approx((2.02 + 2.12 + 2.22) / 3, rel=1e-6)
    rel = bottom[(bottom["item_id"] == "FOODS_1_002") & (bottom["d"] == 3) & (bottom["available"] == 1)]
    assert out.loc[("FOODS_1_002", 3), "price_rel"] == pytest.approx(rel["price_rel"].mean(), rel=1e-6)
    change = bottom[(bottom["item_id"] == "FOODS_1_002") & (bottom["d"] == 10) & (bottom["available"] == 1)]
    assert len(change) == 2
    assert out.loc[("FOODS_1_002", 10), "price_change"] == pytest.approx(change["price_change"].mean(), rel=1e-5)
    late = aggregated(bottom, 12).set_index(["id", "d"])
    assert late.loc[("FOODS_1_002_CA_2", 3), "available"] == 0
    assert np.isnan(late.loc[("FOODS_1_002_CA_2", 3), "sell_price"])
    assert late.loc[("FOODS_1_002_CA_2", 3), "price_rel"] == 0.0


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_aggregated_frame_keeps_the_contract(bottom, level):
    """Every level's aggregate has the contract's columns and dtypes and one series per group."""
    out = aggregated(bottom, level)
    assert list(out.columns) == [*bottom.columns, "group"]
    assert (out.dtypes.drop(["id", *ID_COLS[1:], "group"]) == bottom.dtypes.drop(list(ID_COLS))).all()
    assert out["id"].nunique() == count_groups(tiny_sales(), [level])[level]
    assert len(out) == out["id"].nunique() * (N_DAYS + HORIZON)
    assert out["sales"].sum() == bottom["sales"].sum()
    assert (out["id"].astype(str) == out["group"].astype(str)).all()


def test_aggregate_without_price_columns(bottom):
    """A frame straight from CalendarMerger (no prices) aggregates too."""
    plain = bottom.drop(columns=["sell_price", "price_rel", "price_change", "available"])
    out = aggregated(plain, 4)
    assert list(out.columns) == [*plain.columns, "group"]
    assert out["id"].astype(str).unique().tolist() == ["FOODS", "HOBBIES"]


def test_price_feature_without_available_is_refused(bottom):
    """Averaging prices needs the ``available`` column."""
    with pytest.raises(DataError, match="available"):
        aggregated(bottom.drop(columns="available"), 3)


def test_missing_key_column_is_named(bottom):
    """A frame without the level's key column is a DataError naming it."""
    with pytest.raises(DataError, match="no column 'dept_id'"):
        LevelAggregator(9).fit(bottom.drop(columns="dept_id"))
    with pytest.raises(DataError, match="no column 'item_id'"):
        LevelAggregator(2, aggregate=True).fit(bottom.drop(columns="item_id"))


@pytest.mark.parametrize("aggregate", [False, True])
def test_a_missing_key_value_is_named(bottom, aggregate):
    """A row without its store_id is a DataError naming the column and row (pandas 2 made a group 'nan' of it; pandas 3
    warned and failed to sort the names: TypeError)."""
    frame = bottom.copy()
    frame.loc[5, "store_id"] = np.nan
    with pytest.raises(DataError, match="^long frame column 'store_id' is missing in row 5: every row needs its ids$"):
        LevelAggregator(3, aggregate=aggregate).fit_transform(frame)


def test_feature_names_and_set_output(bottom):
    """get_feature_names_out lists the output columns; set_output pandas/default both give them."""
    for aggregate in (False, True):
        agg = LevelAggregator(3, aggregate=aggregate).fit(bottom)
        for how in ("pandas", "default"):
            out = agg.set_output(transform=how).transform(bottom)
            assert list(agg.get_feature_names_out()) == list(out.columns)


def test_sklearn_params_clone_and_pickle(bottom):
    """get_params/set_params/clone and pickle/cloudpickle round trips work."""
    agg = LevelAggregator(11, aggregate=True)
    assert agg.get_params() == {"level": 11, "aggregate": True}
    assert agg.set_params(level=3).level == 3
    agg.fit(bottom)
    assert clone(agg).get_params() == {"level": 3, "aggregate": True} and not hasattr(clone(agg), "level_")
    expected = agg.transform(bottom)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        pd.testing.assert_frame_equal(loads(dumps(agg)).transform(bottom), expected)


def test_pipeline_on_wide_sales():
    """Pipeline(CalendarMerger -> PriceJoiner -> LevelAggregator) runs on the wide sales table."""
    pipe = Pipeline([
        ("calendar", CalendarMerger(tiny_calendar(), horizon=HORIZON)),
        ("prices", PriceJoiner(tiny_prices())),
        ("level", LevelAggregator(11)),
    ])
    out = pipe.fit_transform(tiny_sales())
    assert len(out) == 9 * (N_DAYS + HORIZON)
    assert list(pipe.get_feature_names_out()) == list(out.columns)
    assert out["group"].nunique() == 6
    pipe.set_params(level__level=3, level__aggregate=True)
    stores = clone(pipe).fit(tiny_sales()).transform(tiny_sales())
    assert stores["id"].astype(str).unique().tolist() == list(STORES)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(pipe.fit(tiny_sales()))).transform(tiny_sales()),
                                  stores)
    pd.testing.assert_frame_equal(pipe.set_output(transform="pandas").transform(tiny_sales()), stores)


def test_windower_consumes_an_aggregated_group(bottom):
    """An aggregated series feeds the Windower like a bottom series (contract columns kept)."""
    out = aggregated(bottom, 3)
    group = out[out["group"] == "CA_1"]
    windower = Windower(window=7).fit(group)
    X, y = windower.make_training_data(group)
    assert X.shape[1:] == (7, windower.n_features_) and len(X) == len(y) > 0
    assert np.isfinite(X).all() and np.isfinite(y).all()

API_CHECKS = [
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_get_params_invariance", "check_set_params",
]


@pytest.mark.parametrize("check", API_CHECKS)
def test_sklearn_api_checks(check):
    """scikit-learn's API checks pass (its data checks feed random arrays, not M5 tables, so they do not apply)."""
    from sklearn.utils import estimator_checks

    estimator = (lambda: LevelAggregator(11, aggregate=True))()
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


# --------------------------------------------------------------- built-in data


@pytest.fixture(scope="module")
def m5_bottom():
    from m5kit.datasets import make_m5

    data = make_m5(n_items=7, n_days=200, seed=0)
    long = CalendarMerger(data.calendar).fit_transform(data.sales)
    return data, PriceJoiner(data.prices).fit_transform(long)


@pytest.mark.parametrize("level", [1, 5, 11])
def test_builtin_data_aggregate_matches_groupby(m5_bottom, level):
    """On generated data the aggregate equals a pandas groupby-sum of the tagged bottom series."""
    data, bottom = m5_bottom
    tagged = LevelAggregator(level).fit_transform(bottom)
    ref = (tagged.groupby(["group", "d"], observed=True)["sales"].sum(min_count=1)
           .reset_index().sort_values(["group", "d"]))
    ref.loc[ref["d"] > data.last_day, "sales"] = np.nan
    out = aggregated(bottom, level)
    assert out["id"].nunique() == count_groups(data.sales, [level])[level]
    np.testing.assert_array_equal(out["group"].astype(str).to_numpy(), ref["group"].astype(str).to_numpy())
    np.testing.assert_array_equal(out["sales"].to_numpy(), ref["sales"].to_numpy(dtype="float32"))
    avail = tagged.groupby(["group", "d"], observed=True)["available"].max().to_numpy()
    np.testing.assert_array_equal(out["available"].to_numpy(), avail)


def test_a_failed_refit_keeps_the_last_fit_whole(bottom):
    """set_params(level=12) then a refit on a frame without item_id failed, yet left level_ at 12: the old fit then
    named level-12 groups it was never fitted for. The last fit now stays whole."""
    aggregator = LevelAggregator(3).fit(bottom)
    before = aggregator.transform(bottom)
    with pytest.raises(DataError, match="item_id"):
        aggregator.set_params(level=12).fit(bottom.drop(columns=["item_id"]))
    assert aggregator.level_ == 3
    pd.testing.assert_frame_equal(aggregator.set_params(level=3).transform(bottom), before)


def test_transform_uses_the_fitted_aggregate_not_one_set_since(bottom):
    """set_params(aggregate=True) without a refit summed the series in transform: it now follows the fit."""
    tagger = LevelAggregator(3).fit(bottom)
    expected = tagger.transform(bottom)
    tagger.set_params(aggregate=True, level=1)
    pd.testing.assert_frame_equal(tagger.transform(bottom), expected)
    assert list(tagger.get_feature_names_out()) == list(expected.columns)
