"""CalendarMerger: wide or long M5 sales -> the long frame with calendar features."""

from __future__ import annotations

import pickle
import re

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from m5kit._schema import CALENDAR_FEATURES, ID_COLS
from m5kit.errors import DataError, ParamError
from m5kit.transformers import CalendarMerger
from m5kit.transformers._long import _copy_on_write

N_DAYS, HORIZON = 40, 5
ITEMS = ("FOODS_1_001", "HOBBIES_1_002")
STORES = ("CA_1", "TX_1")
LONG = [*ID_COLS, "d", "sales", *CALENDAR_FEATURES]


def tiny_calendar(n_days: int = N_DAYS + HORIZON) -> pd.DataFrame:
    """Calendar of ``n_days`` days: events on d_4 (Sporting) and d_10 (Cultural + Religious)."""
    day = np.arange(1, n_days + 1)
    events = pd.Series([np.nan] * n_days, dtype="str")
    cal = pd.DataFrame({
        "date": pd.date_range("2011-01-29", periods=n_days),
        "wm_yr_wk": (11101 + (day - 1) // 7).astype("int16"),
        "weekday": "x",
        "wday": ((day - 1) % 7 + 1).astype("int8"),
        "month": (1 + (day - 1) // 30).astype("int8"),
        "year": np.int16(2011),
        "d": [f"d_{i}" for i in day],
        "event_name_1": events, "event_type_1": events, "event_name_2": events, "event_type_2": events,
        "snap_CA": (day <= 10).astype("int8"),
        "snap_TX": (day % 2).astype("int8"),
        "snap_WI": np.int8(0),
    })
    cal.loc[3, ["event_name_1", "event_type_1"]] = ["SuperBowl", "Sporting"]
    cal.loc[9, ["event_name_1", "event_type_1", "event_name_2", "event_type_2"]] = [
        "ValentinesDay", "Cultural", "LentStart", "Religious"]
    return cal


def tiny_sales(n_days: int = N_DAYS) -> pd.DataFrame:
    """Wide sales of 2 items x 2 stores; series ``i`` sells ``100 * i + day`` on each day."""
    ids = [
        {"id": f"{item}_{store}_validation", "item_id": item, "dept_id": item[:-4],
         "cat_id": item.split("_")[0], "store_id": store, "state_id": store[:2]}
        for store in STORES for item in ITEMS
    ]
    values = 100 * np.arange(len(ids))[:, None] + np.arange(1, n_days + 1)[None, :]
    days = pd.DataFrame(values.astype("int16"), columns=[f"d_{d}" for d in range(1, n_days + 1)])
    return pd.concat([pd.DataFrame(ids).astype("category"), days], axis=1)


def to_long(sales: pd.DataFrame) -> pd.DataFrame:
    """Reference wide -> long melt with pandas (tiny data only)."""
    long = sales.melt(id_vars=list(ID_COLS), var_name="d", value_name="sales")
    long["d"] = long["d"].str.removeprefix("d_").astype("int16")
    return long


@pytest.fixture
def merged() -> pd.DataFrame:
    return CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(tiny_sales())


def test_wide_sales_become_sorted_long_frame_with_contract_dtypes(merged):
    """The wide table becomes one row per series and day, in contract order and dtypes."""
    assert list(merged.columns) == LONG
    assert len(merged) == 4 * (N_DAYS + HORIZON)
    for col in ID_COLS:
        assert isinstance(merged[col].dtype, pd.CategoricalDtype)
    expected = {"d": "int16", "sales": "float32", "wm_yr_wk": "int16", "wday": "int8", "month": "int8",
                "year": "int16", "snap": "int8", "event": "int8", "event_Sporting": "int8"}
    assert {c: str(merged[c].dtype) for c in expected} == expected
    # sorted by series (table row order) then day
    assert merged["id"].astype(str).tolist()[:: N_DAYS + HORIZON] == tiny_sales()["id"].astype(str).tolist()
    assert merged["d"].tolist() == list(range(1, N_DAYS + HORIZON + 1)) * 4
    assert merged["state_id"].astype(str).tolist()[0] == "CA"


def test_sales_values_land_on_their_day_and_future_is_nan(merged):
    """Each day's units end up on that day's row; the horizon days have NaN sales."""
    series2 = merged[merged["id"] == "FOODS_1_001_TX_1_validation"].set_index("d")["sales"]
    assert series2[7] == 207.0
    assert series2[N_DAYS] == 200.0 + N_DAYS
    assert series2.loc[N_DAYS + 1:].isna().all() and len(series2.loc[N_DAYS + 1:]) == HORIZON
    assert not series2.loc[:N_DAYS].isna().any()


def test_snap_is_the_rows_own_state(merged):
    """``snap`` is the SNAP flag of the row's state (snap_TX for TX rows, snap_CA for CA rows)."""
    cal = tiny_calendar().set_index("d")
    for state in ("CA", "TX"):
        rows = merged[merged["state_id"] == state]
        expected = cal.loc[[f"d_{d}" for d in rows["d"]], f"snap_{state}"].to_numpy()
        np.testing.assert_array_equal(rows["snap"].to_numpy(), expected)
    tx_day3 = merged[(merged["state_id"] == "TX") & (merged["d"] == 3)]["snap"]
    ca_day12 = merged[(merged["state_id"] == "CA") & (merged["d"] == 12)]["snap"]
    assert (tx_day3 == 1).all() and (ca_day12 == 0).all()


def test_event_flags_come_from_both_event_types(merged):
    """``event`` marks any event; ``event_<type>`` marks event_type_1 or event_type_2 of that type."""
    day = merged[merged["id"] == merged["id"].iloc[0]].set_index("d")
    assert day.loc[4, ["event", "event_Sporting", "event_Cultural"]].tolist() == [1, 1, 0]
    assert day.loc[10, ["event", "event_Cultural", "event_Religious", "event_National"]].tolist() == [1, 1, 1, 0]
    assert day.loc[5, ["event", "event_Cultural", "event_National", "event_Religious", "event_Sporting"]].sum() == 0
    assert int(day["event"].sum()) == 2


def test_event_types_are_matched_whatever_their_case():
    """A calendar typing its events 'cultural' or 'SPORTING' counted them in ``event`` but in no event_<type>
    feature, without a word: M5's four types are matched whatever their case."""
    cal = tiny_calendar()
    cal.loc[3, "event_type_1"] = "SPORTING"
    cal.loc[9, ["event_type_1", "event_type_2"]] = ["cultural", " religious"]
    day = CalendarMerger(cal, horizon=HORIZON).fit_transform(tiny_sales())
    day = day[day["id"] == day["id"].iloc[0]].set_index("d")
    assert day.loc[4, ["event", "event_Sporting"]].tolist() == [1, 1]
    assert day.loc[10, ["event", "event_Cultural", "event_Religious", "event_National"]].tolist() == [1, 1, 1, 0]


def test_an_unknown_event_type_is_named_in_one_warning(monkeypatch):
    """A new event type ('Promotion') counted in ``event`` but in no event_<type> feature without a word: one warning
    names it and M5's four types (once: m5kit train fits the calendar twice), and the features are as before."""
    import warnings

    from m5kit.transformers import calendar as calendar_module

    monkeypatch.setattr(calendar_module, "_WARNED_TYPES", set())
    cal = tiny_calendar()
    cal.loc[[3, 20], ["event_name_2", "event_type_2"]] = ["Sale", "Promotion"]
    cal.loc[25, ["event_name_1", "event_type_1"]] = ["Fair", "Local"]
    with pytest.warns(UserWarning) as caught:
        frame = CalendarMerger(cal, horizon=HORIZON).fit_transform(tiny_sales())
    assert [str(w.message) for w in caught] == [
        "calendar: event types 'Local', 'Promotion' are none of M5's Cultural, National, Religious, Sporting: their "
        "days count in the 'event' feature only, in no event_<type> one; to give them one, rename them to one of "
        "these types"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CalendarMerger(cal, horizon=HORIZON).fit(tiny_sales())
    day = frame[frame["id"] == frame["id"].iloc[0]].set_index("d")
    assert day.loc[[4, 21, 26], "event"].tolist() == [1, 1, 1]
    assert day.loc[4, "event_Sporting"] == 1 and day.loc[[21, 26], ["event_Cultural", "event_National",
                                                                     "event_Religious", "event_Sporting"]].sum().sum() == 0


def test_event_distance_counts_the_days_to_and_since_each_type_of_event():
    """event_distance=True adds, per event type, the days to the next and since the last event (7 when farther)."""
    merger = CalendarMerger(tiny_calendar(), horizon=HORIZON, event_distance=True)
    frame = merger.fit_transform(tiny_sales())
    names = [f"event_{t}_{way}" for way in ("in", "ago") for t in ("Cultural", "National", "Religious", "Sporting")]
    assert list(frame.columns) == [*LONG, *names] == list(merger.get_feature_names_out())
    day = frame[frame["id"] == frame["id"].iloc[0]].set_index("d")
    # SuperBowl (Sporting) on d_4; Valentine's (Cultural) and LentStart (Religious) on d_10
    assert day.loc[1:12, "event_Sporting_in"].tolist() == [3, 2, 1, 0, 7, 7, 7, 7, 7, 7, 7, 7]
    assert day.loc[1:12, "event_Sporting_ago"].tolist() == [7, 7, 7, 0, 1, 2, 3, 4, 5, 6, 7, 7]
    assert day.loc[[3, 8, 10, 11, 17, 18], "event_Cultural_in"].tolist() == [7, 2, 0, 7, 7, 7]
    assert day.loc[[3, 8, 10, 11, 17, 18], "event_Cultural_ago"].tolist() == [7, 7, 0, 1, 7, 7]
    assert day.loc[[8, 10, 11], "event_Religious_in"].tolist() == [2, 0, 7]
    assert (day["event_National_in"] == 7).all() and (day["event_National_ago"] == 7).all()
    assert all(str(frame[c].dtype) == "int8" for c in names)
    # the same values from a long input, and none of the columns by default
    long = CalendarMerger(tiny_calendar(), horizon=HORIZON, event_distance=True).fit_transform(to_long(tiny_sales()))
    pd.testing.assert_frame_equal(long[names].reset_index(drop=True), frame[names].reset_index(drop=True))
    assert not set(names) & set(CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(tiny_sales()).columns)


def test_calendar_columns_are_copied_by_day(merged):
    """wm_yr_wk, wday, month, year of each row are the calendar's values of that day, future days too."""
    cal = tiny_calendar()
    for d in (1, 7, 8, 31, N_DAYS + HORIZON):
        row = merged[merged["d"] == d].iloc[-1]
        ref = cal.iloc[d - 1]
        assert [row["wm_yr_wk"], row["wday"], row["month"], row["year"]] == [
            ref["wm_yr_wk"], ref["wday"], ref["month"], ref["year"]]


def test_long_input_gives_the_same_frame_as_wide(merged):
    """A shuffled long frame gives the same result as the wide table (series in order of first appearance)."""
    long = to_long(tiny_sales()).sample(frac=1.0, random_state=0)
    long = long.sort_values("id", key=lambda s: s.map({v: i for i, v in enumerate(tiny_sales()["id"])}).astype(int),
                            kind="stable")
    long["extra"] = 1
    out = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(long)
    pd.testing.assert_frame_equal(out.astype({c: str for c in ID_COLS}), merged.astype({c: str for c in ID_COLS}))


def test_long_input_with_ragged_series_extends_each_after_its_own_last_day():
    """Series ending on different days each get ``horizon`` future days after their own last day."""
    long = to_long(tiny_sales())
    long = long[~((long["id"] == "FOODS_1_001_CA_1_validation") & (long["d"] > 30))]
    out = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(long)
    first = out[out["id"] == "FOODS_1_001_CA_1_validation"]
    assert first["d"].tolist() == list(range(1, 36))
    assert first["sales"].isna().sum() == HORIZON
    assert len(out) == len(long) + 4 * HORIZON


def test_long_input_with_duplicate_day_is_rejected():
    """A long frame with two rows for the same series and day is a DataError naming the series and day."""
    long = to_long(tiny_sales())
    twice = long[(long["id"] == "FOODS_1_001_CA_1_validation") & (long["d"] == 6)]
    with pytest.raises(DataError, match=r"'FOODS_1_001_CA_1_validation' has two rows for day d_6"):
        CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(pd.concat([long, twice]))


@pytest.mark.parametrize("dtype, value", [("Int64", pd.NA), ("float64", 6.5)])
def test_long_input_with_a_missing_or_fractional_day_is_rejected(dtype, value):
    """A day column with a missing value (nullable Int64) or a fraction is one DataError saying what the column holds
    (the first was pandas' bare ValueError; 6.5 was cut to 6 and called 'two rows for day d_6')."""
    long = to_long(tiny_sales()).astype({"d": dtype})
    day = long.loc[6, "d"]
    long.loc[6, "d"] = value
    with pytest.raises(DataError, match=r"^column 'd' must hold day numbers \(1 for d_1\) or names 'd_1', 'd_2', \.\.\.$"):
        CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(long)
    long.loc[6, "d"] = day  # the day again: the frame of the wide table
    assert len(CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(long)) == 4 * (N_DAYS + HORIZON)


def test_long_input_with_a_day_gap_is_rejected():
    """A long frame whose series skips a day is a DataError naming the series and the gap."""
    long = to_long(tiny_sales())
    gap = (long["id"] == "HOBBIES_1_002_TX_1_validation") & (long["d"] == 9)
    with pytest.raises(DataError, match=r"'HOBBIES_1_002_TX_1_validation' has a gap from d_8 to d_10"):
        CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(long[~gap])


@pytest.mark.parametrize("column", ["d", "wm_yr_wk", "wday", "month", "year", "event_type_1", "event_type_2"])
def test_calendar_missing_column_is_named(column):
    """A calendar without a needed column is a DataError naming that column."""
    with pytest.raises(DataError, match=f"calendar has no column '{column}'"):
        CalendarMerger(tiny_calendar().drop(columns=column)).fit(tiny_sales())


@pytest.mark.parametrize("column, value, problem", [
    ("wday", 9, "calendar column 'wday' holds 9 on d_4: it must hold 1 to 7 (1 = Saturday)"),
    ("wday", 0, "calendar column 'wday' holds 0 on d_4: it must hold 1 to 7 (1 = Saturday)"),
    ("month", 13, "calendar column 'month' holds 13 on d_4: it must hold 1 to 12"),
])
def test_a_weekday_or_month_out_of_range_is_named(column, value, problem):
    """A wday outside 1-7 or a month outside 1-12 is a DataError naming the day (it became a model feature that no real
    day has; the loader refused such a calendar, CalendarMerger did not)."""
    cal = tiny_calendar()
    cal.loc[3, column] = value
    with pytest.raises(DataError, match=f"^{re.escape(problem)}$"):
        CalendarMerger(cal, horizon=HORIZON).fit(tiny_sales())


def test_calendar_without_the_states_snap_column_is_rejected():
    """A calendar without snap_TX cannot serve TX series."""
    with pytest.raises(DataError, match="snap_TX"):
        CalendarMerger(tiny_calendar().drop(columns="snap_TX"), horizon=HORIZON).fit(tiny_sales())


def test_sales_day_missing_from_calendar_is_named():
    """A sales day that the calendar lacks is a DataError naming the first missing day."""
    cal = tiny_calendar().drop(index=[6, 8])
    with pytest.raises(DataError, match="no row for sales day d_7"):
        CalendarMerger(cal, horizon=HORIZON).fit(tiny_sales())
    merger = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit(tiny_sales())
    merger.set_params(calendar=cal)
    with pytest.raises(DataError, match="d_7"):
        merger.fit(tiny_sales())


def test_calendar_must_cover_the_horizon():
    """A calendar that ends before the last horizon day is a DataError naming the first missing day."""
    with pytest.raises(DataError, match="no row for d_44, a day of the forecast horizon"):
        CalendarMerger(tiny_calendar(N_DAYS + 3), horizon=HORIZON).fit(tiny_sales())
    merger = CalendarMerger(tiny_calendar(N_DAYS + 3), horizon=HORIZON).fit(tiny_sales(N_DAYS - 2))
    with pytest.raises(DataError, match="d_44"):
        merger.transform(tiny_sales())


@pytest.mark.parametrize("bad", [
    lambda s: s.drop(columns="state_id"),
    lambda s: s.drop(columns=["d_3"]),
    lambda s: s.iloc[:, :6],
    lambda s: s.to_numpy(),
    lambda s: pd.concat([s, s.iloc[[1]]], ignore_index=True),
    lambda s: s.assign(store_id=s["store_id"].astype(object).where(s.index != 2, None)),
])
def test_bad_sales_tables_are_data_errors(bad):
    """Sales without an id column, with a day gap, without days, not a DataFrame, with a repeated
    or missing id are DataErrors."""
    with pytest.raises(DataError):
        CalendarMerger(tiny_calendar(), horizon=HORIZON).fit(bad(tiny_sales()))


@pytest.mark.parametrize("value, what", [(-3, "negative sales -3"), (np.inf, "infinite sales inf")])
@pytest.mark.parametrize("shape", ["wide", "long"])
def test_negative_or_infinite_sales_are_a_data_error_naming_series_and_day(value, what, shape):
    """A negative or infinite sale is one DataError naming the series and the day (it was fitted silently, or failed
    deep inside LightGBM's Tweedie objective); NaN stays an unknown day."""
    sales = tiny_sales().astype({"d_7": "float32"})
    sales.loc[2, "d_7"] = value
    frame = sales if shape == "wide" else to_long(sales)
    with pytest.raises(DataError, match=rf"^{what} for series 'FOODS_1_001_TX_1_validation' on d_7: sales are unit "
                                        r"counts >= 0 \(NaN for a day whose sales are unknown\)$"):
        CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(frame)
    sales.loc[2, "d_7"] = np.nan
    assert CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(sales)["sales"].isna().sum() == 4 * HORIZON + 1


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "int64[pyarrow]"])
def test_nullable_sales_columns_are_numbers_and_their_na_an_unknown_day(dtype):
    """Wide sales in pandas' nullable or pyarrow number dtypes give the frame of plain ones, pd.NA an unknown day (NaN)
    (they were refused: 'sales day columns must hold numbers')."""
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    days = [f"d_{d}" for d in range(1, N_DAYS + 1)]
    nullable = tiny_sales().astype(dict.fromkeys(days, dtype))
    nullable.loc[2, "d_7"] = pd.NA
    plain = tiny_sales().astype({"d_7": "float32"})
    plain.loc[2, "d_7"] = np.nan
    expected = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(plain)
    pd.testing.assert_frame_equal(CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(nullable), expected)


@pytest.mark.parametrize("horizon", [-1, 2.5, "28", True])
def test_bad_horizon_is_a_param_error(horizon):
    """The horizon must be a whole number of days >= 0."""
    with pytest.raises(ParamError, match=r"invalid horizon \(days\)"):
        CalendarMerger(tiny_calendar(), horizon=horizon).fit(tiny_sales())


@pytest.mark.parametrize("value", ["yes", "false", None])
def test_event_distance_other_than_true_or_false_is_a_param_error(value):
    """A string such as --param calendarmerger__event_distance=yes is not read as true."""
    with pytest.raises(ParamError, match=r"invalid event_distance .*: give False or True"):
        CalendarMerger(tiny_calendar(), horizon=HORIZON, event_distance=value).fit(tiny_sales())


def test_horizon_zero_adds_no_future_days():
    """With horizon=0 the long frame holds the sales days only."""
    out = CalendarMerger(tiny_calendar(), horizon=0).fit_transform(tiny_sales())
    assert len(out) == 4 * N_DAYS and not out["sales"].isna().any()


def test_transform_before_fit_raises_not_fitted():
    """transform before fit raises sklearn's NotFittedError."""
    with pytest.raises(NotFittedError):
        CalendarMerger(tiny_calendar()).transform(tiny_sales())


def test_sklearn_params_clone_and_pickle(merged):
    """get_params/set_params/clone work and a fitted merger round-trips through pickle and cloudpickle."""
    cal = tiny_calendar()
    merger = CalendarMerger(cal, horizon=HORIZON)
    assert merger.get_params()["horizon"] == HORIZON and merger.get_params()["calendar"] is cal
    assert merger.set_params(horizon=3).horizon == 3
    merger.set_params(horizon=HORIZON).fit(tiny_sales())
    twin = clone(merger)
    assert twin.horizon == HORIZON and not hasattr(twin, "day_features_")
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        again = loads(dumps(merger))
        pd.testing.assert_frame_equal(again.transform(tiny_sales()), merged)


def test_clone_shares_the_calendar_copy_on_write():
    """clone shares the calendar where pandas copies on write (deep-copies it on pandas 2 without), and
    changing the clone's table leaves the original intact either way."""
    cal = tiny_calendar()
    twin = clone(CalendarMerger(cal))
    assert twin.calendar is not cal
    shared = np.shares_memory(twin.calendar["snap_TX"].to_numpy(), cal["snap_TX"].to_numpy())
    assert shared == _copy_on_write()
    twin.calendar.loc[0, "snap_TX"] = 9
    assert cal.loc[0, "snap_TX"] == 1


def test_set_output_pandas_and_default_return_the_frame():
    """set_output('pandas') and ('default') both give the same DataFrame; other containers are refused."""
    merger = CalendarMerger(tiny_calendar(), horizon=HORIZON)
    plain = merger.fit_transform(tiny_sales())
    as_pandas = clone(merger).set_output(transform="pandas").fit_transform(tiny_sales())
    as_default = merger.set_output(transform="default").transform(tiny_sales())
    pd.testing.assert_frame_equal(as_pandas, plain)
    pd.testing.assert_frame_equal(as_default, plain)
    assert list(merger.get_feature_names_out()) == list(plain.columns)
    with pytest.raises(ValueError, match="pandas"):
        merger.set_output(transform="polars")


def test_input_table_is_not_modified():
    """transform leaves the caller's sales table unchanged."""
    sales = tiny_sales()
    before = sales.copy()
    CalendarMerger(tiny_calendar(), horizon=HORIZON).fit_transform(sales)
    pd.testing.assert_frame_equal(sales, before)

API_CHECKS = [
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_get_params_invariance", "check_set_params",
]


@pytest.mark.parametrize("check", API_CHECKS)
def test_sklearn_api_checks(check):
    """scikit-learn's API checks pass (its data checks feed random arrays, not M5 tables, so they do not apply)."""
    from sklearn.utils import estimator_checks

    estimator = (lambda: CalendarMerger(tiny_calendar()))()
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


# --------------------------------------------------------------- built-in data


@pytest.fixture(scope="module")
def m5():
    from m5kit.datasets import make_m5

    return make_m5(n_items=7, n_days=200, seed=0)


@pytest.fixture(scope="module")
def m5_long(m5):
    return CalendarMerger(m5.calendar).fit_transform(m5.sales)


def test_builtin_data_long_frame_matches_wide_sales(m5, m5_long):
    """On generated data every sales cell lands on its row and each series gets 28 future days."""
    assert len(m5_long) == m5.n_series * (200 + 28)
    ref = to_long(m5.sales)
    ref = ref.assign(id=ref["id"].astype(str)).sort_values(["id", "d"]).reset_index(drop=True)
    got = m5_long[m5_long["sales"].notna()]
    got = got.assign(id=got["id"].astype(str)).sort_values(["id", "d"]).reset_index(drop=True)
    np.testing.assert_array_equal(got["sales"].to_numpy(), ref["sales"].to_numpy(dtype="float32"))
    np.testing.assert_array_equal(got["d"].to_numpy(), ref["d"].to_numpy())
    assert (m5_long.groupby("id", observed=True)["sales"].apply(lambda s: s.isna().sum()) == 28).all()


def test_builtin_data_snap_and_events_match_calendar(m5, m5_long):
    """On generated data snap equals snap_<state> and event flags equal the calendar, for every row."""
    cal = m5.calendar.assign(d=m5.calendar["d"].str.removeprefix("d_").astype("int16"))
    joined = m5_long[["state_id", "d", "snap", "event_Religious"]].merge(cal, on="d", how="left")
    state = joined["state_id"].astype(str)
    expected = np.select([state == s for s in ("CA", "TX", "WI")],
                         [joined[f"snap_{s}"] for s in ("CA", "TX", "WI")])
    np.testing.assert_array_equal(joined["snap"].to_numpy(), expected)
    religious = (joined["event_type_1"] == "Religious") | (joined["event_type_2"] == "Religious")
    np.testing.assert_array_equal(joined["event_Religious"].to_numpy(), religious.astype("int8").to_numpy())
    assert joined["snap"].sum() > 0 and religious.sum() > 0


def test_days_without_an_event_are_not_events(m5, m5_long, tmp_path):
    """A day without an event has its names missing and event == 0, in make_m5 and after a CSV round trip.

    Under pandas 2 the calendar's missing event names became the text "nan", which made every
    day an event (the `event` feature was a constant 1).
    """
    from m5kit import load_m5
    from m5kit.datasets import write_m5

    any_event = m5.calendar[["event_name_1", "event_name_2"]].notna().any(axis=1)
    assert 0 < any_event.mean() < 0.2  # M5 has an event on ~8% of days
    assert not m5.calendar[["event_name_1", "event_type_1"]].isin(["nan", "None", ""]).any().any()
    by_day = pd.Series(any_event.astype("int8").to_numpy(), index=m5.calendar["d"].str.removeprefix("d_").astype("int16"))
    flag = m5_long.drop_duplicates("d").set_index("d")["event"]
    np.testing.assert_array_equal(flag.to_numpy(), by_day.loc[flag.index].to_numpy())

    write_m5(m5, tmp_path)
    assert ",nan," not in (tmp_path / "calendar.csv").read_text()
    again = load_m5(tmp_path).calendar
    np.testing.assert_array_equal(again[["event_name_1", "event_name_2"]].notna().any(axis=1), any_event)


def test_a_failed_refit_keeps_the_last_fit_whole(merged):
    """set_params(horizon=7) then a refit on a calendar without the SNAP column failed, yet left horizon_ at 7: the old
    fit's transform then added 7 future days instead of its 28. The last fit now stays whole."""
    merger = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit(tiny_sales())
    merger.set_params(calendar=tiny_calendar().drop(columns=["snap_CA"]), horizon=7)
    with pytest.raises(DataError, match="snap_CA"):
        merger.fit(tiny_sales())
    assert merger.horizon_ == HORIZON
    merger.set_params(calendar=tiny_calendar(), horizon=HORIZON)  # the parameters the kept fit was made with
    pd.testing.assert_frame_equal(merger.transform(tiny_sales()), merged)


def test_the_unknown_event_type_warning_points_at_the_callers_line(monkeypatch):
    """The unknown event type warning pointed into scikit-learn (sklearn/base.py, which calls fit in fit_transform)
    and said "event types 'Festival' are" of one type: it now points at the line that called m5kit, from fit_transform
    and from a Pipeline too, and a single type reads as one."""
    from sklearn.pipeline import make_pipeline

    from m5kit.transformers import calendar as calendar_module
    from m5kit.transformers import EventTypeWarning  # public, as SkippedGroupWarning from m5kit.grouped

    cal = tiny_calendar()
    cal.loc[25, ["event_name_1", "event_type_1"]] = ["Fair", "Festival"]
    for fit in (lambda: CalendarMerger(cal, horizon=HORIZON).fit_transform(tiny_sales()),
                lambda: make_pipeline(CalendarMerger(cal, horizon=HORIZON)).fit(tiny_sales())):
        monkeypatch.setattr(calendar_module, "_WARNED_TYPES", set())
        with pytest.warns(EventTypeWarning) as caught:
            fit()
        [warning] = caught
        assert issubclass(warning.category, UserWarning) and warning.filename == __file__
        assert str(warning.message).startswith("calendar: event type 'Festival' is none of M5's Cultural, National, ")


def test_transform_uses_the_fitted_event_distance_not_one_set_since():
    """set_params(event_distance=True) without a refit gave 26 columns beside the old horizon: transform now follows the fit."""
    merger = CalendarMerger(tiny_calendar(), horizon=HORIZON).fit(tiny_sales())
    expected = merger.transform(tiny_sales())
    merger.set_params(event_distance=True, horizon=3)
    pd.testing.assert_frame_equal(merger.transform(tiny_sales()), expected)
    assert list(merger.get_feature_names_out()) == list(expected.columns)
