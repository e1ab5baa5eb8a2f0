"""Tests of the baseline forecasters (m5kit.forecasting.baselines) and their WRMSSE on built-in data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from m5kit.forecasting.baselines import BASELINES, moving_average, naive, seasonal_naive
from m5kit.errors import DataError


def tiny_sales() -> pd.DataFrame:
    """Two series over 9 days."""
    ids = {
        "id": ["a_validation", "b_validation"], "item_id": ["a", "b"], "dept_id": ["D", "D"],
        "cat_id": ["C", "C"], "store_id": ["S", "S"], "state_id": ["X", "X"],
    }
    days = {f"d_{t}": [t, 10 * (t % 3)] for t in range(1, 10)}
    frame = pd.DataFrame({**ids, **days})
    frame[list(days)] = frame[list(days)].astype("int16")
    return frame


def _matrix(forecast: pd.DataFrame, ids=("a_validation", "b_validation")) -> np.ndarray:
    return np.stack([forecast.loc[forecast["id"] == i, "forecast"].to_numpy() for i in ids])


def test_naive_repeats_the_last_day():
    """Naive forecasts every day with the last training day (a: 9, b: 0)."""
    out = naive(tiny_sales(), horizon=4)
    np.testing.assert_array_equal(_matrix(out), [[9, 9, 9, 9], [0, 0, 0, 0]])


def test_seasonal_naive_repeats_the_last_week():
    """Seasonal naive repeats the last `season` days in order."""
    # Last 7 days are d_3..d_9: a 3..9; b 10*(t%3) = 0,10,20,0,10,20,0.
    out = seasonal_naive(tiny_sales(), horizon=9)
    np.testing.assert_array_equal(
        _matrix(out), [[3, 4, 5, 6, 7, 8, 9, 3, 4], [0, 10, 20, 0, 10, 20, 0, 0, 10]]
    )
    short = seasonal_naive(tiny_sales(), horizon=4, season=3)   # last 3 days d_7..d_9
    np.testing.assert_array_equal(_matrix(short), [[7, 8, 9, 7], [10, 20, 0, 10]])


def test_moving_average_is_the_mean_of_the_window():
    """Moving average forecasts the mean of the last `window` days, flat."""
    out = moving_average(tiny_sales(), horizon=3, window=4)   # d_6..d_9
    np.testing.assert_allclose(_matrix(out), [[7.5] * 3, [(0 + 10 + 20 + 0) / 4] * 3])
    with pytest.raises(DataError, match="needs the last 28 days but sales has only 9"):
        moving_average(tiny_sales())


def test_baselines_return_tidy_frames_of_the_next_days():
    """Every baseline returns id, d, forecast (float64) for days N+1..N+horizon, series in sales order."""
    sales = tiny_sales()
    for name, baseline in BASELINES.items():
        kwargs = {"window": 9} if baseline is moving_average else {}
        out = baseline(sales, horizon=28, **kwargs)
        assert list(out.columns) == ["id", "d", "forecast"], name
        assert out["forecast"].dtype == np.float64
        assert len(out) == 2 * 28
        assert out["d"].iloc[:28].tolist() == [f"d_{t}" for t in range(10, 38)]
        assert out["id"].drop_duplicates().tolist() == ["a_validation", "b_validation"]


def test_baselines_reject_bad_arguments():
    """A horizon below 1 or a season longer than the history is a DataError."""
    with pytest.raises(DataError, match="horizon must be a whole number"):
        naive(tiny_sales(), horizon=0)
    with pytest.raises(DataError, match="needs the last 10 days"):
        seasonal_naive(tiny_sales(), season=10)
    with pytest.raises(DataError, match="no column 'id'"):
        naive(tiny_sales().drop(columns="id"))


def test_baselines_refuse_day_columns_out_of_order_or_misnamed():
    """Day columns out of order, with a gap or misnamed (d_x) are one DataError (the last column was taken as the last
    day: d_3, d_1, d_2 was forecast from d_2 as days d_3 ...; d_x was int()'s bare ValueError)."""
    sales = tiny_sales()
    days = [f"d_{t}" for t in range(1, 10)]
    for name, baseline in BASELINES.items():
        with pytest.raises(DataError, match="^sales day columns are not consecutive: 'd_1' follows 'd_2'"):
            baseline(sales[["id", "d_2", "d_1", *days[2:]]], horizon=2)
        with pytest.raises(DataError, match="^sales day columns are not consecutive: 'd_9' follows 'd_7'"):
            baseline(sales.drop(columns="d_8"), horizon=2)
        with pytest.raises(DataError, match="^sales column 'd_x' is not a day column"):
            baseline(sales.rename(columns={"d_1": "d_x"}), horizon=2)


@pytest.mark.parametrize("value, kind", [(-3, "negative sales -3"), (np.inf, "infinite sales inf")])
def test_baselines_refuse_negative_or_infinite_sales(value, kind):
    """A negative or infinite sale is one DataError naming its id and day, as CalendarMerger and the WRMSSE refuse it
    (the baselines forecast it: naive gave -3 or inf for every day)."""
    sales = tiny_sales().astype({f"d_{t}": "float64" for t in range(1, 10)})
    sales.loc[1, "d_9"] = value
    for baseline in (naive, seasonal_naive, lambda sales, horizon: moving_average(sales, horizon, window=3)):
        with pytest.raises(DataError, match=rf"^sales has {kind} \(id 'b_validation', d_9\): sales are unit counts "
                                            ">= 0$"):
            baseline(sales, horizon=2)


def test_baselines_score_on_built_in_data():
    """On built-in data the baselines have finite positive WRMSSE values that differ."""
    from m5kit.datasets import make_m5
    from m5kit.metrics import WRMSSEEvaluator

    data = make_m5(n_items=20, seed=0)
    evaluator = WRMSSEEvaluator(data.sales, data.prices, data.calendar)
    scores = {name: evaluator.score(data.future, baseline(data.sales)) for name, baseline in BASELINES.items()}
    assert all(np.isfinite(s) and s > 0 for s in scores.values()), scores
    assert len(set(scores.values())) == 3, scores
