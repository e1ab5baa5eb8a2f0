"""The whole flow as one scikit-learn Pipeline, on built-in data and a real LocalCluster."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from m5kit import GroupedEstimator, make_m5, make_pipeline, to_submission
from m5kit.hierarchy import count_groups

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def data():
    return make_m5(n_items=7, n_stores=2, n_days=150, seed=1)


def _tiny(level, data, **params):
    pipe = make_pipeline(level, data.calendar, data.prices, epochs=1, window=14, **params)
    pipe.set_params(groupedestimator__estimator__model__conv_filters=4, groupedestimator__estimator__model__lstm_units=4)
    return pipe


def test_readme_python_tour_runs():
    """The README's Python tour runs as written (so it cannot rot)."""
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no Python tour"
    namespace: dict = {"__name__": "__main__"}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    forecast = namespace["forecast"]
    assert list(forecast.columns) == ["id", "d", "forecast"]
    assert forecast.groupby("id").size().eq(28).all()
    assert namespace["submission"].shape[1] == 29


def test_readme_python_tour_imported_by_a_dask_worker_starts_nothing(monkeypatch):
    """The README's Python tour saved as a script and imported by a spawned Dask worker (as __mp_main__) makes no data
    and starts no cluster (unguarded, each worker ran the tour again and failed with pages of RuntimeError)."""
    import m5kit

    def refuse(*args, **kwargs):
        raise AssertionError("the tour ran in a worker process")

    monkeypatch.setattr(m5kit, "make_m5", refuse)
    block = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)[0]
    namespace: dict = {"__name__": "__mp_main__"}
    exec(compile(block, "README.md", "exec"), namespace)
    assert "pipe" not in namespace


@pytest.mark.parametrize("level", [1, 12])
def test_pipeline_fits_and_forecasts_every_series_on_a_local_cluster(level, data, dask_client):
    """At level 1 (one model) and level 12 (one per series) every series gets 28 forecast days."""
    pipe = _tiny(level, data, client=dask_client)
    pipe.fit(data.sales)
    grouped = pipe[-1]
    assert len(grouped.estimators_) == count_groups(data.sales, [level])[level]
    forecast = pipe.predict(data.sales)
    assert set(forecast["id"]) == set(data.sales["id"].astype(str))
    assert forecast.groupby("id").size().eq(28).all()
    assert np.isfinite(forecast["forecast"]).all() and (forecast["forecast"] >= 0).all()
    sub = to_submission(forecast)
    assert list(sub.columns) == ["id"] + [f"F{h}" for h in range(1, 29)]


def test_pipeline_params_clone_and_pickle(data):
    """Nested parameters are reachable; clone and pickle keep them."""
    pipe = make_pipeline(11, data.calendar, data.prices, epochs=3)
    params = pipe.get_params()
    assert params["groupedestimator__estimator__epochs"] == 3
    assert params["levelaggregator__level"] == 11
    pipe.set_params(groupedestimator__estimator__model__lstm_units=8, groupedestimator__windower__window=21)
    twin = clone(pipe)
    assert twin.get_params()["groupedestimator__estimator__model__lstm_units"] == 8
    again = pickle.loads(pickle.dumps(twin))
    assert again.get_params()["groupedestimator__windower__window"] == 21
    assert isinstance(again[-1], GroupedEstimator)


def test_grid_search_over_the_pipeline(data):
    """GridSearchCV tunes the window over folds of series and refits the best pipeline."""
    pipe = _tiny(3, data)
    search = GridSearchCV(pipe, {"groupedestimator__windower__window": [7, 14]}, cv=KFold(2, shuffle=True, random_state=0))
    search.fit(data.sales)
    assert search.best_params_["groupedestimator__windower__window"] in (7, 14)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores <= 0).all()
    assert search.predict(data.sales).groupby("id").size().eq(28).all()


def test_clone_and_grid_search_of_a_pipeline_given_a_client(data, dask_client):
    """A pipeline made with client=: clone shares the client and GridSearchCV runs on it (both failed with
    "TypeError: cannot pickle '_asyncio.Task' object": clone deep-copied the client)."""
    pytest.importorskip("lightgbm")
    pipe = make_pipeline(3, data.calendar, data.prices, model="lightgbm", client=dask_client)
    pipe.set_params(groupedestimator__estimator__n_estimators=5)
    twin = clone(pipe)
    assert twin[-1].client is dask_client and twin[-1] is not pipe[-1]
    assert twin.get_params()["groupedestimator__estimator__n_estimators"] == 5
    search = GridSearchCV(pipe, {"groupedestimator__estimator__num_leaves": [4, 8]}, cv=KFold(2, shuffle=True, random_state=0))
    search.fit(data.sales)
    assert search.best_estimator_[-1].client is dask_client
    assert search.predict(data.sales).groupby("id").size().eq(28).all()


def test_backtest_score_prefers_a_better_model(data):
    """score() (minus mean RMSSE of a held-back horizon) ranks a trained model above an untrained one."""
    pytest.importorskip("lightgbm")  # score() is the same for every family; LightGBM fits these in ~2 s (the CNN-LSTM ~20 s)

    def lightgbm(**params):
        pipe = make_pipeline(9, data.calendar, data.prices, model="lightgbm")
        # leaves of 5 rows: m5kit's 50 leave one leaf, the mean, on these 150 days
        return pipe.set_params(**{f"groupedestimator__estimator__{k}": v for k, v in {"min_child_samples": 5, **params}.items()})

    good, bad = lightgbm(), lightgbm(n_estimators=1, learning_rate=1e-6)
    assert good.fit(data.sales).score(data.sales) > bad.fit(data.sales).score(data.sales) + 0.1


@pytest.mark.parametrize("horizon, frame, error", [
    (0, None, "ParamError: invalid horizon 0: give a whole number of at least 1"),
    ("a", None, "ParamError: invalid horizon 'a': give a whole number of at least 1"),
    (2, "wide", "DataError: hide_last_days needs a long frame with columns id, d (day numbers) and sales"),
    (2, "names", "DataError: column 'd' must hold day numbers (1 for d_1), got 'd_1'"),  # pandas 2 and 3 alike
])
def test_hide_last_days_refuses_a_bad_horizon_or_frame(horizon, frame, error):
    """hide_last_days with horizon 0 or 'a', a frame without sales or with day names is one m5kit error (0 hid nothing
    without a word; the others were numpy's and pandas' bare UFuncTypeError, KeyError and TypeError)."""
    from m5kit.errors import M5kitError
    from m5kit.forecasting import hide_last_days

    X = pd.DataFrame({"id": ["a"] * 4, "d": [1, 2, 3, 4], "sales": [1.0, 2.0, 3.0, 4.0]})
    X = {"wide": X.drop(columns="sales"), "names": X.assign(d=["d_1", "d_2", "d_3", "d_4"])}.get(frame, X)
    with pytest.raises(M5kitError) as info:
        hide_last_days(X, horizon)
    assert f"{type(info.value).__name__}: {info.value}" == error


@pytest.mark.parametrize("sales, horizon", [([2.0, 2.0, 2.0, 2.0, 4.0], 2), ([2.0, 3.0, 2.0, 2.0, 4.0], 5)])
def test_mean_rmsse_without_a_series_to_scale_is_one_data_error(sales, horizon):
    """A history whose sales never change (scale 0) or no history at all: one DataError (were NaN without a word,
    which GridSearchCV ranked, and pandas' bare 'No objects to concatenate')."""
    from m5kit.errors import DataError
    from m5kit.forecasting import hide_last_days, mean_rmsse

    X = pd.DataFrame({"id": ["a"] * 5, "d": [1, 2, 3, 4, 5], "sales": sales})
    masked, truth = hide_last_days(X, horizon)
    forecast = truth.assign(forecast=1.0).drop(columns="sales")
    with pytest.raises(DataError, match="^no series of the data can be scored: .*sales that change from one day"):
        mean_rmsse(truth, forecast, masked)


def test_mean_rmsse_of_series_with_number_ids():
    """Ids that are numbers (7) are scored: the history's scale was looked up by the number, the truth by '7' (NaN)."""
    from m5kit.forecasting import hide_last_days, mean_rmsse

    X = pd.DataFrame({"id": [7] * 5, "d": [1, 2, 3, 4, 5], "sales": [0.0, 2.0, 4.0, 2.0, 4.0]})
    masked, truth = hide_last_days(X, horizon=2)
    forecast = pd.DataFrame({"id": [7, 7], "d": ["d_4", "d_5"], "forecast": [4.0, 4.0]})
    assert mean_rmsse(truth, forecast, masked) == pytest.approx(np.sqrt(0.5))


@pytest.mark.parametrize("params, asked", [
    ({"seeds": 3}, "seeds=3"),
    ({"model": "lightgbm", "strategy": "blend"}, "strategy 'blend'"),
    ({"model": "lightgbm", "strategy": "weekly"}, "strategy 'weekly'"),
])
def test_make_pipeline_refuses_a_windower_with_several_models_per_group(params, asked, data):
    """seeds, a blend or a weekly stitch with your own windower is one ParamError (they were dropped without a word:
    one model per group)."""
    from m5kit import Windower
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=rf"^{asked} fits several models per group, each with its own windower: .*"
                                         r"BlendWindower"):
        make_pipeline(3, data.calendar, data.prices, windower=Windower(window=14), **params)


@pytest.mark.parametrize("params, said", [
    ({"estimator": True, "epochs": 3}, "epochs=3 does not apply with your own estimator"),
    ({"windower": True, "window": 7}, "window=7 does not apply with your own windower"),
    ({"estimator": True, "windower": True, "epochs": 3, "max_windows": 50},
     "epochs=3, max_windows=50 do not apply with your own estimator and windower"),
])
def test_make_pipeline_refuses_options_your_own_estimator_or_windower_ignores(params, said, data):
    """make_pipeline(estimator=..., epochs=3) or (windower=..., window=7) dropped the option without a word (it sets
    only m5kit's default CNN-LSTM and Windower): one ParamError line naming them; their defaults pass."""
    from m5kit import Windower
    from m5kit.bench import MeanRegressor
    from m5kit.errors import ParamError

    own = {"estimator": MeanRegressor(), "windower": Windower(window=14)}
    params = {k: own[k] if k in own else v for k, v in params.items()}
    with pytest.raises(ParamError, match=rf"^{said} \((it sets|they set) m5kit's default .*\): drop (it|them), or set the parameters of your own "):
        make_pipeline(3, data.calendar, data.prices, **params)
    kept = {k: v for k, v in params.items() if k in own}
    pipe = make_pipeline(3, data.calendar, data.prices, epochs=10, window=28, **kept)
    assert pipe[-1].estimator is kept.get("estimator", pipe[-1].estimator)


def test_pipeline_refuses_prices_that_stop_before_the_forecast_days(data):
    """make_pipeline with a price table that stops at the sales' last week fitted every group and forecast 0 on every
    day after that week, without a word (`m5kit train` refuses such files): the fit stops first, in one line."""
    from m5kit.errors import DataError

    last = int(data.sales.columns[-1][2:])
    last_week = int(data.calendar.loc[data.calendar["d"] == f"d_{last}", "wm_yr_wk"].iloc[0])
    prices = data.prices[data.prices["wm_yr_wk"] <= last_week]
    pipe = _tiny(3, data).set_params(pricejoiner__prices=prices)
    with pytest.raises(DataError, match=rf"^price table: no price in week {last_week + 1} \(d_\d+\.\.d_\d+\), one of "
                                        rf"the 28 days to forecast after the sales' last day d_{last}: every series "
                                        r"would be forecast 0 there \(not on sale\); add the prices"):
        pipe.fit(data.sales)
    assert not hasattr(pipe[-1], "groups_")


@pytest.mark.parametrize("horizon", [-3, 0, 7.5])
def test_make_pipeline_refuses_a_horizon_below_one_in_one_line(horizon, data):
    """make_pipeline(horizon=-3) says a horizon is at least 1 when it is built (the calendar step said 'at least 0'
    at fit, and 0 then failed in another step with 'at least 1')."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=rf"^invalid horizon {horizon}: give a whole number of at least 1$"):
        make_pipeline(3, data.calendar, data.prices, model="lightgbm", horizon=horizon)


@pytest.mark.parametrize(("params", "said"), [
    ({"epochs": 0}, "invalid epochs 0: give a whole number of at least 1"),
    ({"epochs": 2.5}, "invalid epochs 2.5: give a whole number of at least 1"),
    ({"window": 0}, "Windower window must be a whole number >= 1, got 0"),
    ({"max_windows": 0, "strategy": "blend"}, "Windower max_windows must be None or a whole number >= 1, got 0"),
])
def test_make_pipeline_refuses_a_bad_count_of_its_default_cnn_lstm_when_built(params, said, data):
    """make_pipeline(epochs=0) was refused only in each group's fit, as a GroupFitError after the cluster started: it
    is the CNN-LSTM's (or Windower's) own ParamError line when the pipeline is built."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=f"^{re.escape(said)}$"):
        make_pipeline(3, data.calendar, data.prices, **params)


@pytest.mark.parametrize("which, frame, said", [
    ("truth", pd.DataFrame({"x": [1]}), "truth has no column 'id': mean_rmsse needs truth with columns id, d (day "
                                        "numbers) and sales"),  # a bare KeyError
    ("forecast", pd.DataFrame({"id": ["a"], "d": [3]}), "forecast has no column 'forecast': mean_rmsse needs forecast "
                                                        "with columns id, d and forecast"),
    ("history", None, "history must be a DataFrame with columns id, d (day numbers) and sales, got NoneType"),
])
def test_mean_rmsse_of_a_frame_without_its_columns_is_one_data_error(which, frame, said):
    """mean_rmsse with a frame lacking a column or None was a bare KeyError/AttributeError: one DataError naming it."""
    from m5kit.errors import DataError
    from m5kit.forecasting import mean_rmsse

    frames = {"truth": pd.DataFrame({"id": ["a"], "d": [3], "sales": [1.0]}),
              "forecast": pd.DataFrame({"id": ["a"], "d": [3], "forecast": [1.0]}),
              "history": pd.DataFrame({"id": ["a", "a"], "d": [1, 2], "sales": [1.0, 2.0]})}
    frames[which] = frame
    with pytest.raises(DataError) as caught:
        mean_rmsse(frames["truth"], frames["forecast"], frames["history"])
    assert str(caught.value) == said


def test_mean_rmsse_reads_a_forecast_of_day_numbers_as_one_of_day_names():
    """A tidy forecast whose d are day numbers (1914) scores as with 'd_1914' (1914 was read as day 14, 4 as a bare ValueError)."""
    from m5kit.errors import DataError
    from m5kit.forecasting import hide_last_days, mean_rmsse

    X = pd.DataFrame({"id": ["a"] * 6, "d": np.arange(1909, 1915), "sales": [0.0, 2.0, 4.0, 2.0, 4.0, 2.0]})
    masked, truth = hide_last_days(X, horizon=2)
    named = pd.DataFrame({"id": ["a", "a"], "d": ["d_1913", "d_1914"], "forecast": [4.0, 4.0]})
    assert mean_rmsse(truth, named.assign(d=[1913, 1914]), masked) == mean_rmsse(truth, named, masked)
    with pytest.raises(DataError, match="forecast column 'd' holds 'day_5': days must be named like 'd_1914'"):
        mean_rmsse(truth, named.assign(d=["day_5", "day_6"]), masked)


def test_pipeline_on_aggregated_series(data):
    """With LevelAggregator(aggregate=True) the pipeline forecasts the level's own series."""
    pipe = _tiny(3, data).set_params(levelaggregator__aggregate=True)
    forecast = pipe.fit(data.sales).predict(data.sales)
    assert sorted(forecast["id"].unique()) == sorted(data.sales["store_id"].astype(str).unique())
    assert isinstance(forecast, pd.DataFrame)


def test_direct_cnn_lstm_trains_a_series_too_short_for_its_windows_the_recursive_way(data):
    """A level-12 series launched too late for 14 + 28 days in a row gets a 1-step model and still 28 forecast days."""
    pipe = _tiny(12, data).fit(data.sales)
    grouped = pipe[-1]
    horizons = {name: w.horizon_ for name, w in grouped.windowers_.items()}
    assert not grouped.skipped_
    assert set(horizons.values()) == {1, 28}  # the calibrated data launch some items late
    short = next(name for name, h in horizons.items() if h == 1)
    assert grouped.estimators_[short].n_outputs_ == 1
    forecast = pipe.predict(data.sales)
    assert forecast.groupby("id").size().eq(28).all() and len(forecast) == 28 * data.n_series
