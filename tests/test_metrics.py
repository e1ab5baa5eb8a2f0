"""Tests of M5's metric (m5kit.metrics), on hand-computed tiny tables."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from m5kit.errors import DataError
from m5kit.forecasting.submission import to_submission
from m5kit.metrics import (
    WRMSSEEvaluator,
    aggregate_levels,
    dollar_weights,
    naive_scale,
    rmsse,
    wrmsse,
)

# --- a 2-item x 2-store example, worked by hand -------------------------------------
#
# Items A and B are in the same department (so the same category), stores CA_1 and
# CA_2 in the same state. The 12 levels then hold only 5 distinct kinds of series:
#   Total     at levels 1, 2 (CA), 4 (cat), 5 (dept), 6 (CA x cat), 7 (CA x dept)
#   stores    at levels 3, 8 (store x cat), 9 (store x dept)
#   items     at levels 10, 11 (item x CA)
#   bottom    at level 12
# Training days d_1..d_4, horizon d_5..d_6, weights from the last 2 days (d_3, d_4).
HISTORY = {
    "A_CA_1": [0, 2, 1, 3],
    "A_CA_2": [1, 1, 2, 2],
    "B_CA_1": [2, 0, 2, 0],
    "B_CA_2": [0, 0, 1, 3],
}
TRUTH = {"A_CA_1": [2, 2], "A_CA_2": [2, 2], "B_CA_1": [1, 1], "B_CA_2": [2, 2]}
PRED = {"A_CA_1": [3, 1], "A_CA_2": [2, 2], "B_CA_1": [2, 2], "B_CA_2": [1, 3]}
PRICE = {"A": 1.0, "B": 2.0}


def _ids(name: str) -> dict:
    item, store = name[0], name[2:]
    return {
        "id": f"{name}_validation", "item_id": item, "dept_id": "FOODS_1", "cat_id": "FOODS",
        "store_id": store, "state_id": "CA",
    }


def hand_tables():
    """Sales, future, forecast, prices and calendar of the hand-worked example."""
    sales = pd.DataFrame([{**_ids(k), **{f"d_{t + 1}": v for t, v in enumerate(h)}} for k, h in HISTORY.items()])
    for col in ("id", "item_id", "dept_id", "cat_id", "store_id", "state_id"):
        sales[col] = sales[col].astype("category")
    future = pd.DataFrame([{"id": f"{k}_validation", "d_5": v[0], "d_6": v[1]} for k, v in TRUTH.items()])
    forecast = pd.DataFrame(
        [{"id": f"{k}_validation", "d": f"d_{5 + h}", "forecast": float(v[h])} for k, v in PRED.items() for h in range(2)]
    )
    prices = pd.DataFrame(
        [{"store_id": s, "item_id": i, "wm_yr_wk": 11101, "sell_price": p} for i, p in PRICE.items() for s in ("CA_1", "CA_2")]
    )
    calendar = pd.DataFrame({"d": [f"d_{t}" for t in range(1, 7)], "wm_yr_wk": [11101] * 6})
    return sales, future, forecast, prices, calendar


def hand_evaluator(**kwargs) -> WRMSSEEvaluator:
    sales, _, _, prices, calendar = hand_tables()
    return WRMSSEEvaluator(sales, prices, calendar, weight_days=2, **kwargs)


def test_hand_worked_wrmsse():
    """The WRMSSE of the 2 x 2 example equals the value worked out by hand."""
    # Dollar sales over d_3, d_4 (price A = 1, B = 2):
    #   A_CA_1 (1+3)*1 = 4, A_CA_2 (2+2)*1 = 4, B_CA_1 (2+0)*2 = 4, B_CA_2 (1+3)*2 = 8; total 20
    #   bottom weights .2 .2 .2 .4; stores CA_1 8/20 = .4, CA_2 12/20 = .6; items A .4, B .6; Total 1.
    # Scales (mean squared diff from the first sale on):
    #   A_CA_1 [2,1,3] -> diffs -1,2 -> (1+4)/2 = 2.5      A_CA_2 [1,1,2,2] -> 0,1,0 -> 1/3
    #   B_CA_1 [2,0,2,0] -> -2,2,-2 -> 4                    B_CA_2 [1,3] -> 2 -> 4
    #   CA_1 [2,2,3,3] -> 0,1,0 -> 1/3                      CA_2 [1,1,3,5] -> 0,2,2 -> 8/3
    #   A [1,3,3,5] -> 2,0,2 -> 8/3                         B [2,0,3,3] -> -2,3,0 -> 13/3
    #   Total [3,3,6,8] -> 0,3,2 -> 13/3
    # Errors (forecast - truth) over d_5, d_6 and RMSSE = sqrt(mean(err^2) / scale):
    #   A_CA_1 [1,-1] -> sqrt(1/2.5)    A_CA_2 [0,0] -> 0    B_CA_1 [1,1] -> sqrt(1/4)   B_CA_2 [-1,1] -> sqrt(1/4)
    #   CA_1 [2,0] -> sqrt(2/(1/3)) = sqrt(6)                CA_2 [-1,1] -> sqrt(1/(8/3)) = sqrt(3/8)
    #   A [1,-1] -> sqrt(1/(8/3)) = sqrt(3/8)                B [0,2] -> sqrt(2/(13/3)) = sqrt(6/13)
    #   Total [1,1] -> sqrt(1/(13/3)) = sqrt(3/13)
    # WRMSSE = (6 x Total + 3 x sum_stores w RMSSE + 2 x sum_items w RMSSE + sum_bottom w RMSSE) / 12
    total = math.sqrt(3 / 13)
    stores = 0.4 * math.sqrt(6) + 0.6 * math.sqrt(3 / 8)
    items = 0.4 * math.sqrt(3 / 8) + 0.6 * math.sqrt(6 / 13)
    bottom = 0.2 * math.sqrt(1 / 2.5) + 0.2 * 0.0 + 0.2 * 0.5 + 0.4 * 0.5
    expected = (6 * total + 3 * stores + 2 * items + bottom) / 12
    sales, future, forecast, prices, calendar = hand_tables()
    score = wrmsse(sales, future, forecast, prices, calendar, weight_days=2)
    assert score == pytest.approx(expected, rel=1e-12)
    assert score == pytest.approx(0.72129945, abs=1e-8)   # the same number, written out


def test_hand_worked_per_level_table():
    """per_level=True gives 12 rows whose mean is the overall score, with the hand values per level."""
    sales, future, forecast, prices, calendar = hand_tables()
    score, table = wrmsse(sales, future, forecast, prices, calendar, weight_days=2, per_level=True)
    assert list(table["level"]) == list(range(1, 13))
    assert list(table["n_series"]) == [1, 1, 2, 1, 1, 1, 1, 2, 2, 2, 2, 4]
    assert table["wrmsse"].mean() == pytest.approx(score, rel=1e-12)
    by_level = table.set_index("level")["wrmsse"]
    assert by_level[1] == pytest.approx(math.sqrt(3 / 13))
    assert by_level[3] == pytest.approx(0.4 * math.sqrt(6) + 0.6 * math.sqrt(3 / 8))
    assert by_level[11] == pytest.approx(0.4 * math.sqrt(3 / 8) + 0.6 * math.sqrt(6 / 13))
    assert by_level[12] == pytest.approx(0.2 * math.sqrt(0.4) + 0.3)


def test_hand_worked_weights_and_scales():
    """The evaluator's weights and scales are the hand-computed ones."""
    series = hand_evaluator().series.set_index(["level", "series"])
    assert series.loc[(1, "Total"), "weight"] == pytest.approx(1.0)
    assert series.loc[(1, "Total"), "scale"] == pytest.approx(13 / 3)
    assert series.loc[(3, "CA_1"), "weight"] == pytest.approx(0.4)
    assert series.loc[(3, "CA_2"), "scale"] == pytest.approx(8 / 3)
    assert series.loc[(10, "B"), "scale"] == pytest.approx(13 / 3)
    assert series.loc[(12, "B_CA_2"), "weight"] == pytest.approx(0.4)
    assert series.loc[(12, "A_CA_1"), "scale"] == pytest.approx(2.5)


def test_weights_sum_to_one_in_every_level():
    """Each level's weights sum to 1, so every level counts equally."""
    weights = hand_evaluator().series.groupby("level")["weight"].sum()
    np.testing.assert_allclose(weights.to_numpy(), np.ones(12), rtol=1e-12)


def test_perfect_forecast_scores_zero():
    """A forecast equal to the truth scores exactly 0, at every level."""
    sales, future, _, prices, calendar = hand_tables()
    perfect = future.melt(id_vars="id", var_name="d", value_name="forecast")
    score, table = wrmsse(sales, future, perfect, prices, calendar, weight_days=2, per_level=True)
    assert score == 0.0
    assert (table["wrmsse"] == 0.0).all()


def test_scaling_sales_and_forecast_leaves_score_unchanged():
    """Multiplying all sales, truth and forecasts by c leaves RMSSE and WRMSSE unchanged."""
    sales, future, forecast, prices, calendar = hand_tables()
    base = wrmsse(sales, future, forecast, prices, calendar, weight_days=2)
    c = 7.5
    days = [f"d_{t}" for t in range(1, 5)]
    scaled_sales = sales.copy()
    scaled_sales[days] = sales[days].astype(float) * c
    scaled_future = future.copy()
    scaled_future[["d_5", "d_6"]] = future[["d_5", "d_6"]].astype(float) * c
    scaled_forecast = forecast.assign(forecast=forecast["forecast"] * c)
    assert wrmsse(scaled_sales, scaled_future, scaled_forecast, prices, calendar, weight_days=2) == pytest.approx(base, rel=1e-12)
    rng = np.random.default_rng(0)
    y, yhat = rng.poisson(3, (5, 28)).astype(float), rng.poisson(3, (5, 28)).astype(float)
    hist = rng.poisson(3, (5, 100)).astype(float)
    np.testing.assert_allclose(
        rmsse(c * y, c * yhat, naive_scale(c * hist)), rmsse(y, yhat, naive_scale(hist)), rtol=1e-12
    )


def test_naive_scale_starts_at_first_sale():
    """Leading zeros before the first sale do not count in the scale."""
    # From the first sale on: [3, 1, 1, 4] -> diffs -2, 0, 3 -> (4 + 0 + 9) / 3 = 13/3.
    # (With the zeros it would be diffs 0, 0, 3, -2, 0, 3 -> 22/6.)
    assert naive_scale(np.array([0, 0, 0, 3, 1, 1, 4]))[0] == pytest.approx(13 / 3, rel=1e-15)
    # A zero after the first sale counts: [2, 0, 0, 2] -> 4, 0, 4 over 3 diffs.
    assert naive_scale([[0, 2, 0, 0, 2]])[0] == pytest.approx(8 / 3, rel=1e-15)


def test_naive_scale_undefined_without_two_days_of_sales():
    """A series with no sale, or whose first sale is its last day, has an undefined (NaN) scale."""
    out = naive_scale([[0, 0, 0], [0, 0, 5], [1, 1, 1]])
    assert np.isnan(out[0]) and np.isnan(out[1])
    assert out[2] == 0.0


def test_naive_scale_reads_wide_sales_day_columns():
    """naive_scale of a wide sales table uses only its d_* columns."""
    sales, *_ = hand_tables()
    np.testing.assert_allclose(naive_scale(sales), [2.5, 1 / 3, 4.0, 4.0])


def test_rmsse_of_known_errors():
    """rmsse is sqrt(mean squared error / scale), series by series."""
    out = rmsse([[2, 2], [1, 1]], [[3, 1], [1, 3]], [2.5, 4.0])
    np.testing.assert_allclose(out, [math.sqrt(1 / 2.5), math.sqrt(2 / 4)])
    assert rmsse([1.0, 2.0], [1.0, 2.0], 3.0) == 0.0


def test_dollar_weights_use_the_week_price_of_each_day():
    """Dollar sales multiply each day's units by that day's week price, over the last days only."""
    sales, _, _, prices, calendar = hand_tables()
    calendar = calendar.assign(wm_yr_wk=[11101, 11101, 11101, 11102, 11102, 11102])
    prices = pd.concat([prices, prices.assign(wm_yr_wk=11102, sell_price=prices["sell_price"] * 10)])
    out = dollar_weights(sales, prices, calendar, days=2)
    # d_3 at the 11101 price, d_4 at the 11102 price (10x).
    assert out.index.tolist() == sales["id"].astype(str).tolist()
    assert out.tolist() == pytest.approx([1 * 1 + 3 * 10, 2 * 1 + 2 * 10, 2 * 2 + 0, 1 * 2 + 3 * 20])


def test_dollar_weights_reject_sales_without_price():
    """Units sold in a week with no sell price are a DataError naming the series."""
    sales, _, _, prices, calendar = hand_tables()
    with pytest.raises(DataError, match="B_CA_2_validation.*no sell_price"):
        dollar_weights(sales, prices[~((prices["item_id"] == "B") & (prices["store_id"] == "CA_2"))], calendar, days=2)


def test_aggregate_levels_sums_bottom_series():
    """aggregate_levels sums the bottom series into every level's series."""
    sales, *_ = hand_tables()
    agg = aggregate_levels(sales)
    assert agg.groupby("level").size().tolist() == [1, 1, 2, 1, 1, 1, 1, 2, 2, 2, 2, 4]
    rows = agg.set_index(["level", "series"])
    assert rows.loc[(1, "Total")].tolist() == [3, 3, 6, 8]
    assert rows.loc[(3, "CA_2")].tolist() == [1, 1, 3, 5]
    assert rows.loc[(11, "B_CA")].tolist() == [2, 0, 3, 3]
    assert rows.loc[(12, "A_CA_1")].tolist() == [0, 2, 1, 3]


def test_submission_format_scores_like_tidy():
    """A forecast in M5 submission format (id, F1 ...) scores the same as the tidy one."""
    sales, future, forecast, prices, calendar = hand_tables()
    ev = hand_evaluator()
    assert ev.score(future, to_submission(forecast, horizon=2)) == ev.score(future, forecast)


def test_evaluator_scores_many_forecasts():
    """One evaluator scores several forecasts; per_series contributions add up to the score."""
    sales, future, forecast, prices, calendar = hand_tables()
    ev = hand_evaluator()
    other = forecast.assign(forecast=forecast["forecast"] + 1.0)
    first, second = ev.score(future, forecast), ev.score(future, other)
    assert first != second
    assert ev.per_series(future, other)["contribution"].sum() == pytest.approx(second, rel=1e-12)


def test_forecast_missing_an_id_is_rejected():
    """A forecast without one of the sales series is a DataError naming it."""
    sales, future, forecast, *_ = hand_tables()
    with pytest.raises(DataError, match="no rows for id 'B_CA_2_validation'"):
        hand_evaluator().score(future, forecast[forecast["id"] != "B_CA_2_validation"])


def test_forecast_with_an_unknown_id_is_rejected():
    """A forecast of a series that is not in sales is a DataError."""
    sales, future, forecast, *_ = hand_tables()
    extra = forecast[forecast["id"] == "A_CA_1_validation"].assign(id="Z_CA_1_validation")
    with pytest.raises(DataError, match="'Z_CA_1_validation' is not in sales"):
        hand_evaluator().score(future, pd.concat([forecast, extra]))


def test_forecast_with_wrong_days_is_rejected():
    """A forecast of the wrong number of days, or of other days, is a DataError."""
    sales, future, forecast, *_ = hand_tables()
    ev = hand_evaluator()
    with pytest.raises(DataError, match="forecast covers d_5..d_5"):
        ev.score(future, forecast[forecast["d"] == "d_5"])
    shifted = forecast.assign(d=forecast["d"].map({"d_5": "d_6", "d_6": "d_7"}))
    with pytest.raises(DataError, match="forecast covers d_6..d_7"):
        ev.score(future, shifted)


def test_forecast_with_nan_is_rejected():
    """A NaN forecast is a DataError naming the series and day."""
    sales, future, forecast, *_ = hand_tables()
    bad = forecast.copy()
    bad.loc[3, "forecast"] = np.nan
    with pytest.raises(DataError, match="NaN.*A_CA_2_validation.*d_6"):
        hand_evaluator().score(future, bad)


def test_future_not_after_training_days_is_rejected():
    """Truth that does not start the day after the last training day is a DataError."""
    sales, future, forecast, *_ = hand_tables()
    with pytest.raises(DataError, match="future days must be d_5..d_6"):
        hand_evaluator().score(future.rename(columns={"d_5": "d_7", "d_6": "d_8"}), forecast)


def test_zero_scale_with_weight_raises_or_is_skipped():
    """A sold series with no change since its first sale raises, or is left out with on_zero_scale='skip'."""
    sales, future, forecast, prices, calendar = hand_tables()
    sales.loc[sales["id"] == "B_CA_2_validation", ["d_1", "d_2", "d_3", "d_4"]] = [0, 0, 2, 2]
    with pytest.raises(DataError, match="level 12 series 'B_CA_2'"):
        WRMSSEEvaluator(sales, prices, calendar, weight_days=2)
    ev = WRMSSEEvaluator(sales, prices, calendar, weight_days=2, on_zero_scale="skip")
    table = ev.per_series(future, forecast).set_index(["level", "series"])
    assert table.loc[(12, "B_CA_2"), "contribution"] == 0.0
    assert np.isfinite(ev.score(future, forecast))


def test_never_sold_series_adds_nothing():
    """A series with no sales at all (weight 0, undefined scale) is accepted and contributes 0."""
    sales, future, forecast, prices, calendar = hand_tables()
    sales.loc[sales["id"] == "B_CA_2_validation", ["d_1", "d_2", "d_3", "d_4"]] = 0
    ev = WRMSSEEvaluator(sales, prices, calendar, weight_days=2)
    table = ev.per_series(future, forecast).set_index(["level", "series"])
    assert table.loc[(12, "B_CA_2"), "weight"] == 0.0
    assert table.loc[(12, "B_CA_2"), "contribution"] == 0.0
    assert np.isfinite(ev.score(future, forecast))


def test_sales_with_missing_values_is_rejected():
    """NaN in the training sales is a DataError, not a silent NaN score."""
    sales, _, _, prices, calendar = hand_tables()
    sales["d_2"] = sales["d_2"].astype(float)
    sales.loc[1, "d_2"] = np.nan
    with pytest.raises(DataError, match="missing values.*A_CA_2_validation.*d_2"):
        WRMSSEEvaluator(sales, prices, calendar, weight_days=2)


@pytest.mark.parametrize("days", [1.5, "a", None, True])
def test_weight_days_that_is_not_a_whole_number_is_one_param_error(days):
    """weight_days=1.5 or 'a' is one ParamError naming it (1.5 was read as 1; 'a' was int()'s bare ValueError)."""
    from m5kit.errors import ParamError

    sales, _, _, prices, calendar = hand_tables()
    with pytest.raises(ParamError, match=rf"^invalid weight_days {re.escape(repr(days))}: give a whole number of days "
                                         r"from 1 to 4$"):
        WRMSSEEvaluator(sales, prices, calendar, weight_days=days)


def test_a_negative_sale_in_sales_or_future_is_one_data_error():
    """A negative sale in the training sales or the truth is one DataError naming the id and day (it was scored:
    in the weight days it gave its series a negative dollar weight)."""
    sales, future, forecast, prices, calendar = hand_tables()
    bad = sales.copy()
    bad.loc[1, "d_4"] = -2
    with pytest.raises(DataError, match=r"^sales has a negative sale -2 \(id 'A_CA_2_validation', d_4\): sales are unit "
                                        r"counts >= 0$"):
        wrmsse(bad, future, forecast, prices, calendar, weight_days=2)
    future.loc[2, "d_6"] = -1
    with pytest.raises(DataError, match=r"^future has a negative sale -1 \(id 'B_CA_1_validation', d_6\)"):
        hand_evaluator().score(future, forecast)


def test_a_misnamed_day_column_in_sales_or_future_is_one_data_error():
    """A column d_x in the sales or the truth is one DataError naming it (it was int()'s bare ValueError)."""
    sales, future, forecast, prices, calendar = hand_tables()
    with pytest.raises(DataError, match=r"^sales column 'd_x' is not a day column: day columns are named d_1, d_2, \.\.\.$"):
        WRMSSEEvaluator(sales.rename(columns={"d_1": "d_x"}), prices, calendar, weight_days=2)
    with pytest.raises(DataError, match=r"^future column 'd_x' is not a day column"):
        hand_evaluator().score(future.rename(columns={"d_6": "d_x"}), forecast)


@pytest.mark.parametrize("price, problem", [
    (-2.0, "has sell_price -2 for item 'A' in store 'CA_1', week 11101: prices must be positive finite numbers"),
    (0.0, "has sell_price 0 for item 'A' in store 'CA_1', week 11101"),
    ("x", "column 'sell_price' must hold numbers"),
])
def test_a_price_that_is_not_a_positive_number_is_one_data_error(price, problem):
    """A negative or zero sell_price in the weight weeks is one DataError (it weighed its series silently, a negative
    price below zero); text is one too (it was pandas' bare ValueError)."""
    sales, _, _, prices, calendar = hand_tables()
    prices["sell_price"] = prices["sell_price"].astype(object)
    prices.loc[0, "sell_price"] = price
    with pytest.raises(DataError, match=f"^prices {re.escape(problem)}"):
        dollar_weights(sales, prices, calendar, days=2)


@pytest.mark.parametrize("missing", [np.nan, None])
def test_sales_with_a_missing_id_is_one_data_error(missing):
    """A series without its dept_id is one DataError naming the column and row, for the metric and aggregate_levels (pandas 2 scored it in a group 'nan',
    pandas 3 failed with numpy's bare "'list' argument must have no negative elements")."""
    sales, _, _, prices, calendar = hand_tables()
    sales["dept_id"] = sales["dept_id"].astype(object)
    sales.loc[1, "dept_id"] = missing
    with pytest.raises(DataError, match=r"^sales column 'dept_id' is missing in row 1: every series needs its ids$"):
        WRMSSEEvaluator(sales, prices, calendar, weight_days=2)
    with pytest.raises(DataError, match=r"^sales column 'dept_id' is missing in row 1"):
        aggregate_levels(sales)


def test_nullable_sales_and_truth_score_and_their_na_is_named_missing():
    """Sales and truth in pandas' nullable dtypes score as plain ones; a pd.NA in them is named a missing value (it was
    'day columns must be numeric unit sales')."""
    sales, future, forecast, prices, calendar = hand_tables()
    days, future_days = [f"d_{t}" for t in range(1, 5)], ["d_5", "d_6"]
    expected = wrmsse(sales, future, forecast, prices, calendar, weight_days=2)
    nullable_sales = sales.astype(dict.fromkeys(days, "Int64"))
    nullable_future = future.astype(dict.fromkeys(future_days, "Float64"))
    assert wrmsse(nullable_sales, nullable_future, forecast, prices, calendar, weight_days=2) == expected
    nullable_sales.loc[1, "d_2"] = pd.NA
    with pytest.raises(DataError, match=r"^sales has 1 missing values \(first: id 'A_CA_2_validation', d_2\)"):
        WRMSSEEvaluator(nullable_sales, prices, calendar, weight_days=2)
    nullable_future.loc[0, "d_6"] = pd.NA
    with pytest.raises(DataError, match=r"^future has NaN or infinite values \(first: id 'A_CA_1_validation', day 2"):
        hand_evaluator().score(nullable_future, forecast)


def _reference_wrmsse(sales, future, forecast, prices, calendar, weight_days):
    """A slow, loop-by-loop WRMSSE straight from the M5 guide, to check the vectorised one."""
    from m5kit.hierarchy import LEVELS

    days = [c for c in sales.columns if c.startswith("d_")]
    fdays = [c for c in future.columns if c.startswith("d_")]
    week = dict(zip(calendar["d"], calendar["wm_yr_wk"]))
    price = {(r.store_id, r.item_id, r.wm_yr_wk): r.sell_price for r in prices.itertuples()}
    pred = forecast.pivot(index="id", columns="d", values="forecast")[fdays]
    truth = future.set_index("id")[fdays]
    total = 0.0
    for level, keys in LEVELS.items():
        groups = sales.groupby(list(keys), observed=True) if keys else [("all", sales)]
        dollars, terms = {}, {}
        for name, rows in groups:
            ids = rows["id"].astype(str)
            hist = rows[days].to_numpy(float).sum(axis=0)
            start = next(t for t, v in enumerate(hist) if v != 0)
            trimmed = hist[start:]
            scale = sum((trimmed[t] - trimmed[t - 1]) ** 2 for t in range(1, len(trimmed))) / (len(trimmed) - 1)
            err = pred.loc[ids].to_numpy().sum(axis=0) - truth.loc[ids].to_numpy(float).sum(axis=0)
            terms[name] = math.sqrt(sum(e * e for e in err) / len(err) / scale)
            dollars[name] = sum(
                r[d] * price[(r["store_id"], r["item_id"], week[d])]
                for _, r in rows.iterrows() for d in days[-weight_days:] if r[d] != 0
            )
        level_total = sum(dollars.values())
        total += sum(dollars[k] / level_total * terms[k] for k in terms)
    return total / 12


def test_matches_a_loop_by_loop_reference_on_random_data():
    """The vectorised WRMSSE equals a slow reference on random 3-item x 4-store data over 2 weeks of prices."""
    rng = np.random.default_rng(3)
    stores = [("CA_1", "CA"), ("CA_2", "CA"), ("TX_1", "TX"), ("WI_1", "WI")]
    items = [("FOODS_1_001", "FOODS_1", "FOODS"), ("FOODS_2_001", "FOODS_2", "FOODS"), ("HOBBIES_1_001", "HOBBIES_1", "HOBBIES")]
    n_days, h = 20, 4
    rows, prices = [], []
    for item, dept, cat in items:
        for store, state in stores:
            sold = rng.poisson(2.0, n_days + h) * (np.arange(n_days + h) >= rng.integers(0, 6))
            rows.append({"id": f"{item}_{store}_evaluation", "item_id": item, "dept_id": dept, "cat_id": cat,
                         "store_id": store, "state_id": state, **{f"d_{t + 1}": int(v) for t, v in enumerate(sold)}})
            prices += [{"store_id": store, "item_id": item, "wm_yr_wk": w, "sell_price": round(rng.uniform(1, 9), 2)}
                       for w in (1, 2, 3, 4)]
    full = pd.DataFrame(rows)
    sales = full.drop(columns=[f"d_{t}" for t in range(n_days + 1, n_days + h + 1)])
    future = full[["id"] + [f"d_{t}" for t in range(n_days + 1, n_days + h + 1)]]
    prices = pd.DataFrame(prices)
    calendar = pd.DataFrame({"d": [f"d_{t}" for t in range(1, n_days + h + 1)],
                             "wm_yr_wk": [1 + (t - 1) // 7 for t in range(1, n_days + h + 1)]})
    forecast = future.melt(id_vars="id", var_name="d", value_name="forecast")
    forecast["forecast"] = forecast["forecast"] + rng.normal(0, 1.5, len(forecast))
    expected = _reference_wrmsse(sales, future, forecast, prices, calendar, weight_days=10)
    assert wrmsse(sales, future, forecast, prices, calendar, weight_days=10) == pytest.approx(expected, rel=1e-10)


def test_default_built_in_data_has_2100_level_series():
    """On make_m5()'s default 139 items x 10 stores the 12 levels hold 2,100 series, weights summing to 1 per level."""
    from m5kit.datasets import make_m5

    data = make_m5(seed=0)
    # One series (FOODS_2_003_CA_4, a slow item launched late) first sells on the last training day:
    # its scale is undefined, so it is kept with its weight and scored 0.
    ev = WRMSSEEvaluator(data.sales, data.prices, data.calendar, on_zero_scale="skip")
    counts = ev.series.groupby("level").size().tolist()
    assert counts == [1, 3, 10, 3, 7, 9, 21, 30, 70, 139, 417, 1390]
    assert sum(counts) == 2100
    np.testing.assert_allclose(ev.series.groupby("level")["weight"].sum().to_numpy(), np.ones(12), rtol=1e-12)
    agg = aggregate_levels(data.sales, [1, 12])
    assert agg.iloc[0, 2:].to_numpy() == pytest.approx(data.sales.filter(like="d_").to_numpy(float).sum(axis=0))


def test_aggregate_levels_takes_one_level_given_alone():
    """A single level (12, "12") is that level (an int was a TypeError, "12" summed levels 1 and 2); no level is
    one LevelError line."""
    from m5kit.errors import LevelError

    sales, *_ = hand_tables()
    for one in (12, "12", np.int64(12)):
        assert aggregate_levels(sales, one).equals(aggregate_levels(sales, [12]))
    with pytest.raises(LevelError, match="no level given"):
        aggregate_levels(sales, [])


def test_naive_scale_refuses_day_columns_out_of_order():
    """A wide table whose d_ columns a pivot sorted as text (d_1, d_10, d_2, ...) is one DataError line (its scale
    was computed over the days in that order: a wrong number, silently)."""
    days = {f"d_{i}": [float(v)] for i, v in enumerate([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], start=1)}
    wide = pd.DataFrame(days)
    assert naive_scale(wide).tolist() == [1.0]
    pivoted = wide[sorted(wide.columns)]  # d_1, d_10, d_11, d_2, ...
    with pytest.raises(DataError, match="^history day columns are not consecutive: 'd_10' follows 'd_1'; pass the "
                                        "days in order without gaps$"):
        naive_scale(pivoted)


@pytest.mark.parametrize("call, said", [
    (lambda: naive_scale("abc"), "history must hold numbers (unit sales, series x days), got 'abc'"),
    (lambda: naive_scale([[1, 2], [3]]), "history must hold numbers (unit sales, series x days), got list"),
    (lambda: naive_scale(pd.DataFrame({"id": ["a"], "x": [1]})),
     "history column 'id' is not numeric: pass the sales values (d_1, d_2, ... columns) only"),
    (lambda: rmsse("ab", [1.0], 1.0), "y_true must hold numbers (series x horizon), got 'ab'"),
    (lambda: rmsse([1.0], [1.0], "s"), "scale must hold numbers (each series' naive_scale), got 's'"),
])
def test_naive_scale_and_rmsse_of_text_are_one_data_error(call, said):
    """naive_scale("abc") or rmsse of text is one DataError naming the argument (a bare ValueError from NumPy)."""
    with pytest.raises(DataError) as caught:
        call()
    assert str(caught.value) == said


def test_per_level_given_as_text_is_one_param_error():
    """score(..., per_level='no') was read as true and gave a (score, table) tuple: one ParamError line."""
    from m5kit.errors import ParamError

    sales, future, forecast, prices, calendar = hand_tables()
    with pytest.raises(ParamError, match=r"^invalid per_level 'no': give False or True$"):
        wrmsse(sales, future, forecast, prices, calendar, weight_days=2, per_level="no")
