"""Tests of the M5 submission format (m5kit.forecasting.submission.to_submission / from_submission) and of mean_forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from m5kit.errors import DataError, ParamError
from m5kit.forecasting.submission import from_submission, mean_forecast, to_submission


def tidy(ids=("x", "y"), first=1914, horizon=28) -> pd.DataFrame:
    """A tidy forecast whose value encodes series and step: 100 * series + step."""
    rows = [
        {"id": i, "d": f"d_{first + h}", "forecast": float(100 * s + h + 1)}
        for s, i in enumerate(ids)
        for h in range(horizon)
    ]
    return pd.DataFrame(rows)


def test_to_submission_has_one_row_per_id_and_f_columns():
    """to_submission gives id, F1..F28 with F1 the first forecast day."""
    sub = to_submission(tidy())
    assert list(sub.columns) == ["id"] + [f"F{h}" for h in range(1, 29)]
    assert sub["id"].tolist() == ["x", "y"]
    np.testing.assert_array_equal(sub.iloc[:, 1:].to_numpy(), [np.arange(1, 29), 100 + np.arange(1, 29)])


def test_to_submission_orders_days_even_if_rows_are_shuffled():
    """Row order of the tidy frame does not matter: F1..F28 follow the days."""
    shuffled = tidy().sample(frac=1.0, random_state=0)
    first_seen = shuffled["id"].iloc[0]
    sub = to_submission(shuffled)
    assert sub["id"].iloc[0] == first_seen
    expected = to_submission(tidy()).set_index("id").loc[sub["id"]].reset_index()
    pd.testing.assert_frame_equal(sub, expected)


def test_to_submission_follows_sales_order():
    """With sales=, rows follow the sales table's id order."""
    sales = pd.DataFrame({"id": pd.Categorical(["y", "x"]), "d_1": [1, 2]})
    assert to_submission(tidy(), sales=sales)["id"].tolist() == ["y", "x"]
    with pytest.raises(DataError, match="no rows for id 'z'"):
        to_submission(tidy(), sales=pd.DataFrame({"id": ["x", "y", "z"]}))
    with pytest.raises(DataError, match="'y' is not in sales"):
        to_submission(tidy(), sales=pd.DataFrame({"id": ["x"]}))


def test_to_submission_refuses_sales_with_an_id_twice():
    """Sales with an id on two rows is one DataError naming the id (the submission had that series' row twice)."""
    with pytest.raises(DataError, match="^sales has two rows for id 'x': keep one row per series$"):
        to_submission(tidy(), sales=pd.DataFrame({"id": ["x", "y", "x"], "d_1": [1, 2, 1]}))


def test_round_trip_through_submission():
    """from_submission(to_submission(f), first_day) gives back f."""
    original = tidy(first=1942)
    back = from_submission(to_submission(original), "d_1942")
    pd.testing.assert_frame_equal(back, original, check_dtype=False)
    assert back["forecast"].dtype == np.float64
    assert from_submission(to_submission(original), 1942)["d"].iloc[0] == "d_1942"


def test_to_submission_accepts_day_numbers():
    """Integer day numbers in `d` work like 'd_1914' names."""
    numbered = tidy().assign(d=lambda f: f["d"].str[2:].astype("int16"))
    pd.testing.assert_frame_equal(to_submission(numbered), to_submission(tidy()))


def test_nan_forecast_is_rejected():
    """A NaN forecast is a DataError naming the id and day."""
    bad = tidy()
    bad.loc[30, "forecast"] = np.nan
    with pytest.raises(DataError, match="NaN.*'y', d_1916"):
        to_submission(bad)


def test_wrong_number_of_days_is_rejected():
    """A series with other days than the rest, gaps, or not 28 days is a DataError; the last one says to pass the
    horizon the forecast has (it named no fix)."""
    with pytest.raises(DataError, match=r"27 days per series \(d_1914..d_1940\), expected 28: forecast 28 days, or pass "
                                        r"horizon=27 \(a make_pipeline\(horizon=27\) forecast, say\)$"):
        to_submission(tidy(horizon=27))
    assert to_submission(tidy(horizon=27), horizon=27).shape[1] == 1 + 27
    gap = tidy()
    with pytest.raises(DataError, match="days of id 'x' are not consecutive"):
        to_submission(gap.drop(index=5))
    shifted = pd.concat([tidy(ids=("x",)), tidy(ids=("y",), first=1915)])
    with pytest.raises(DataError, match="d_1915..d_1942 for id 'y'"):
        to_submission(shifted)
    with pytest.raises(DataError, match="two rows for id 'x' and d_1914"):
        to_submission(pd.concat([tidy(), tidy().iloc[:1]]))


@pytest.mark.parametrize("horizon", [0, -1, "a", 2.5])
def test_to_submission_bad_horizon_is_one_param_error(horizon):
    """horizon=0 or 'a' said 'expected a: forecast a days, or pass horizon=28', blaming the forecast."""
    with pytest.raises(ParamError, match=rf"^invalid horizon {horizon!r}: give a whole number of at least 1$"):
        to_submission(tidy(), horizon=horizon)


def test_malformed_tables_are_rejected():
    """Missing columns or bad day names are one-line DataErrors."""
    with pytest.raises(DataError, match="no column 'forecast'"):
        to_submission(tidy().drop(columns="forecast"))
    with pytest.raises(DataError, match="days must be named like 'd_1914'"):
        to_submission(tidy().assign(d="2016-04-25"))
    sub = to_submission(tidy())
    with pytest.raises(DataError, match="F1 ... F<h> without gaps"):
        from_submission(sub.drop(columns="F3"), 1914)
    with pytest.raises(DataError, match="column 'extra'"):
        from_submission(sub.assign(extra=1), 1914)
    with pytest.raises(DataError, match="NaN.*'x', F2"):
        from_submission(sub.assign(F2=[np.nan, 1.0]), 1914)
    with pytest.raises(DataError, match="first_day 'day 3'"):
        from_submission(sub, "day 3")


@pytest.mark.parametrize("first_day", [1914.5, True])
def test_from_submission_refuses_a_first_day_that_is_no_day_number(first_day):
    """first_day=1914.5 was cut to d_1914 (and True read as d_1) without a word."""
    with pytest.raises(DataError, match=rf"^first_day {first_day!r} is not a day: use a number \(1914\) or a name"):
        from_submission(to_submission(tidy()), first_day)
    assert from_submission(to_submission(tidy()), np.int64(1914))["d"].iloc[0] == "d_1914"


def test_mean_forecast_averages_each_series_and_day_whatever_the_row_order():
    """Two models' forecasts in different row orders are averaged series by series, day by day."""
    a = tidy()
    b = tidy()
    b["forecast"] = b["forecast"] * 3
    b = b.sample(frac=1.0, random_state=0).reset_index(drop=True)
    mean = mean_forecast([a, b])
    assert list(mean.columns) == ["id", "d", "forecast"]
    assert mean["id"].tolist() == a["id"].tolist() and mean["d"].tolist() == a["d"].tolist()
    np.testing.assert_allclose(mean["forecast"], a["forecast"] * 2)
    weighted = mean_forecast([a, b], weights=[3, 1])
    np.testing.assert_allclose(weighted["forecast"], a["forecast"] * 1.5)
    alone = mean_forecast([b])  # series in the order of their first row in b
    assert set(alone["id"]) == {"x", "y"}
    np.testing.assert_allclose(alone.set_index(["id", "d"])["forecast"].loc[a.set_index(["id", "d"]).index],
                               a["forecast"] * 3)


def test_mean_forecast_of_different_series_or_days_is_refused():
    """Forecasts that do not cover the same series and days are one DataError naming the difference."""
    with pytest.raises(DataError, match="differ in their series .*'y'"):
        mean_forecast([tidy(), tidy(ids=("x", "z"))])
    with pytest.raises(DataError, match="differ in their series"):
        mean_forecast([tidy(), tidy(ids=("x", "y", "z"))])
    with pytest.raises(DataError, match="covers d_1915..d_1942"):
        mean_forecast([tidy(), tidy(first=1915)])
    with pytest.raises(DataError, match="non-empty list"):
        mean_forecast([])
    with pytest.raises(DataError, match="non-empty list"):
        mean_forecast(tidy())
    with pytest.raises(DataError, match="forecast 2 has no column 'forecast'"):
        mean_forecast([tidy(), tidy().drop(columns="forecast")])


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0, 0], [1.0, float("nan")], ["a", "b"]])
def test_mean_forecast_bad_weights_are_one_param_error(weights):
    with pytest.raises(ParamError, match="weight"):
        mean_forecast([tidy(), tidy()], weights=weights)


def test_mean_forecast_of_huge_weights_is_their_ratio():
    """Only the weights' ratio counts: 1e308,1e308 is an equal mean (the sum overflowed, every forecast NaN)."""
    a, b = tidy(), tidy()
    b["forecast"] = a["forecast"] + 2.0
    np.testing.assert_allclose(mean_forecast([a, b], weights=[1e308, 1e308])["forecast"],
                               mean_forecast([a, b])["forecast"])


@pytest.mark.parametrize("forecast, X, said", [
    (pd.DataFrame({"id": ["a"], "d": ["d_5"], "forecast": [1.0]}), pd.DataFrame({"x": [1]}),
     "X has no column 'id': pass the frame whose id column gives the order of the series"),
    (pd.DataFrame({"id": ["a"], "forecast": [1.0]}), pd.DataFrame({"id": ["a"]}),
     "forecast has no column 'd': a tidy forecast has columns id, d and its values"),
    ([1.0], pd.DataFrame({"id": ["a"]}), "forecast must be a tidy forecast (a DataFrame with columns id, d and its "
                                         "values), got list"),
])
def test_order_like_without_its_columns_is_one_data_error(forecast, X, said):
    """order_like with an X without 'id' or a forecast without 'd' is one DataError naming it (a bare KeyError)."""
    from m5kit.forecasting import order_like

    with pytest.raises(DataError) as caught:
        order_like(forecast, X)
    assert str(caught.value) == said


@pytest.mark.parametrize("weights", ["31", "3,1"])
def test_mean_forecast_weights_given_as_text_are_one_param_error(weights):
    """weights='31' was read as the one weight 31 ('1 weight(s) for 2 forecast(s)'), '3,1' as 'not numbers': both
    are text where a list is wanted, and the error now says so."""
    with pytest.raises(ParamError, match=r"^invalid weights '3,?1': give one number >= 0 per forecast as a list, "
                                         r"e\.g\. \[1, 1\]$"):
        mean_forecast([tidy(), tidy()], weights=weights)
