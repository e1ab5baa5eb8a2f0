"""Gradient-boosted forecasters: LagFeatures + LightGBM / XGBoost through GroupedEstimator, make_pipeline and the CLI."""

from __future__ import annotations

import pickle
import warnings

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from typer.testing import CliRunner

from m5kit import make_m5
from m5kit.cli import app
from m5kit.datasets import write_m5
from m5kit.errors import DataError, GroupError, ParamError
from m5kit.forecasting.features import LagFeatures
from m5kit.pipeline import make_pipeline

lightgbm = pytest.importorskip("lightgbm")
xgboost = pytest.importorskip("xgboost")

FAST = {"n_estimators": 20}


@pytest.fixture(scope="module")
def data():
    """Two items in two stores, 120 days (and 28 known future days)."""
    return make_m5(n_items=2, n_stores=2, n_days=120)


def _pipe(level, data, model="lightgbm", strategy="recursive", **params):
    pipe = make_pipeline(level, data.calendar, data.prices, model=model, strategy=strategy, **params)
    return pipe.set_params(**{f"groupedestimator__estimator__{k}": v for k, v in FAST.items()})


def _frame(level, data):
    return make_pipeline(level, data.calendar, data.prices, model="lightgbm")[:-1].fit_transform(data.sales)


@pytest.mark.parametrize("model", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("strategy", ["direct", "recursive"])
@pytest.mark.parametrize("level", [3, 9])
def test_each_group_gets_a_28_day_non_negative_forecast(level, strategy, model, data):
    """Both libraries and both strategies fit one model per group and forecast 28 days of every series, >= 0."""
    pipe = _pipe(level, data, model, strategy).fit(data.sales)
    forecast = pipe.predict(data.sales)
    grouped = pipe[-1]
    assert len(grouped.groups_) == {3: 2, 9: 4}[level]
    assert len(forecast) == data.n_series * 28
    assert set(forecast.groupby("id").size()) == {28}
    assert (forecast["forecast"] >= 0).all() and np.isfinite(forecast["forecast"]).all()
    assert forecast["d"].iloc[0] == f"d_{data.last_day + 1}"
    expected = lightgbm.LGBMRegressor if model == "lightgbm" else xgboost.XGBRegressor
    assert all(isinstance(est, expected) for est in grouped.estimators_.values())


def test_each_group_model_sees_only_its_own_rows(data):
    """A group's feature table and model hold only that group's series (store CA_1's model never sees CA_2)."""
    frame = _frame(3, data)
    pipe = _pipe(3, data).fit(data.sales)
    for name, features in pipe[-1].windowers_.items():
        assert list(features.categories_["store_id"]) == [name]
        own = frame[frame["group"] == name]
        X, y = features.make_training_data(own)
        assert set(X["store_id"].astype(str)) == {name}
        assert pipe[-1].fit_report_.set_index("group").loc[name, "n_windows"] == len(X)


def test_training_rows_are_on_sale_days_with_known_sales_only(data):
    """No training row is a future day or a day the item is not on sale; the target is the day's sales in units."""
    frame = _frame(12, data)
    always = frame.groupby("id", observed=True)["available"].min()
    one = frame[frame["id"] == always[always == 1].index[0]].copy()  # a series on sale every day
    one.loc[one.index[:40], "available"] = 0  # not on sale for 40 days
    features = LagFeatures(strategy="recursive").fit(one)
    X, y = features.make_training_data(one)
    assert len(y) == len(one) - 40 - 1 - 28  # minus off-sale days, the first sale day (no history), the future
    assert np.isfinite(y).all()
    assert (y == one["sales"].to_numpy()[41:120]).all()
    Xd, _ = LagFeatures(strategy="direct").fit(one).make_training_data(one)
    assert len(Xd) == len(one) - 40 - 28 - 28  # direct: the first sale is 28 days before the first row


def test_direct_features_never_look_inside_the_horizon(data):
    """Direct: every sales feature is lagged >= horizon days; lags below the horizon are refused in one line."""
    frame = _frame(3, data)
    features = LagFeatures(strategy="direct", horizon=14).fit(frame[frame["group"] == "CA_1"])
    lags = [int(n.split("lag")[1]) for n in features.feature_names_out_ if n.startswith("sales_")]
    assert min(lags) == 14
    with pytest.raises(ParamError, match="the direct strategy needs every lag >= horizon"):
        LagFeatures(strategy="direct", lags=[7, 28]).fit(frame)


def test_direct_forecast_longer_than_its_horizon_is_refused(data):
    """A direct model fitted for 14 days refuses to forecast 28, naming the fix."""
    frame = _frame(3, data)
    own = frame[frame["group"] == "CA_1"]
    features = LagFeatures(strategy="direct", horizon=14).fit(own)
    X, y = features.make_training_data(own)
    model = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y)
    with pytest.raises(DataError, match="fit it with horizon=28"):
        features.recursive_predict(own, model, horizon=28)


def test_recursive_predict_follows_the_fitted_strategy_not_one_set_since(data):
    """A recursive LagFeatures after set_params(strategy="direct") without a refit refused to forecast 28 days as
    "this direct LagFeatures was fitted for a horizon of 1 days": recursive_predict follows the fitted strategy."""
    frame = _frame(3, data)
    own = frame[frame["group"] == "CA_1"]
    features = LagFeatures(strategy="recursive").fit(own)
    X, y = features.make_training_data(own)
    model = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y)
    expected = features.recursive_predict(own, model, horizon=28)
    features.set_params(strategy="direct")
    pd.testing.assert_frame_equal(features.recursive_predict(own, model, horizon=28), expected)
    assert features.strategy_ == "recursive"


def test_group_without_training_rows_raises_group_error(data):
    """A group whose items never go on sale has no training row: GroupError (GroupedEstimator skips it)."""
    frame = _frame(3, data)
    own = frame[frame["group"] == "CA_1"].assign(available=0)
    with pytest.raises(GroupError, match="has no training row"):
        LagFeatures().fit(own)



def test_a_series_with_one_training_row_is_skipped_not_a_lightgbm_failure():
    """A series first sold 28 days before its last known day has 1 direct training row: it is skipped as too short
    (LightGBM failed the whole fit with 'Check failed: (num_data) > (0)')."""
    data = make_m5(n_items=2, n_stores=1, n_days=120, seed=0)  # HOUSEHOLD_1_001 first sells on d_92
    pipe = make_pipeline(12, data.calendar, data.prices, model="lightgbm").set_params(
        groupedestimator__estimator__n_estimators=5)
    with pytest.warns(UserWarning, match="HOUSEHOLD_1_001_CA_1.*only 1 training row"):
        pipe.fit(data.sales)
    assert list(pipe[-1].skipped_) == ["HOUSEHOLD_1_001_CA_1"] and not pipe[-1].failed_


def test_a_lag_horizon_longer_than_the_history_says_so_not_lower_the_window(data):
    """When no group can be fitted, the error gives the groups' own reasons: with LagFeatures(horizon=500) on 120 days,
    that every first sale must lie 500 days back (it said 'every group is too short for the window; lower the window',
    and LagFeatures has no window)."""
    pipe = _pipe(3, data, strategy="direct").set_params(groupedestimator__windower__horizon=500)
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(GroupError) as info:
        pipe.fit(data.sales)
    message = str(info.value)
    assert message.startswith("no group could be fitted: group 'CA_1' has no training row")
    assert "at least 500 day(s) after a first such day" in message and "window" not in message and "\n" not in message

def test_bad_strategy_is_one_line(data):
    """An unknown strategy names the two choices."""
    with pytest.raises(ParamError, match="invalid strategy 'both': give 'direct' or 'recursive'"):
        LagFeatures(strategy="both").fit(_frame(3, data))


def test_unknown_model_is_one_line(data):
    """make_pipeline(model=...) with an unknown name lists the known ones."""
    with pytest.raises(ParamError, match="invalid model 'prophet': give 'cnn-lstm', 'lightgbm' or 'xgboost'"):
        make_pipeline(3, data.calendar, data.prices, model="prophet")


def test_defaults_are_tweedie_one_thread_seeded():
    """The factories give plain library estimators with m5kit's defaults, overridable by keyword."""
    from m5kit.models.gbm import make_lightgbm, make_xgboost

    lgb = make_lightgbm(n_estimators=7)
    assert type(lgb) is lightgbm.LGBMRegressor
    assert (lgb.objective, lgb.n_jobs, lgb.n_estimators, lgb.get_params()["tweedie_variance_power"]) == ("tweedie", 1, 7, 1.1)
    xgb = make_xgboost()
    assert type(xgb) is xgboost.XGBRegressor
    assert (xgb.objective, xgb.n_jobs, xgb.get_params()["tweedie_variance_power"]) == ("reg:tweedie", 1, 1.1)


def test_missing_library_says_what_to_install(monkeypatch):
    """Choosing a GBM without its library installed is one line naming the pip extra."""
    import sys

    from m5kit.models.gbm import MissingExtraError, make_lightgbm

    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now raises ImportError
    with pytest.raises(MissingExtraError, match=r'pip install "m5kit\[lightgbm\]"'):
        make_lightgbm()


def test_pipeline_clones_pickles_and_sets_params(data):
    """The GBM pipeline clones, round-trips get/set_params, and pickles fitted (pickle and cloudpickle) with equal forecasts."""
    pipe = _pipe(9, data)
    params = pipe.get_params()
    assert params["groupedestimator__windower__strategy"] == "recursive"
    assert params["groupedestimator__estimator__objective"] == "tweedie"
    pipe.set_params(groupedestimator__windower__windows=(7, 14), groupedestimator__estimator__num_leaves=15)
    again = clone(pipe)
    assert again.get_params()["groupedestimator__windower__windows"] == (7, 14)
    assert again.get_params()["groupedestimator__estimator__num_leaves"] == 15
    pipe.fit(data.sales)
    forecast = pipe.predict(data.sales)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        copy = loads(dumps(pipe))
        pd.testing.assert_frame_equal(copy.predict(data.sales), forecast)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lightgbm", "xgboost"])
def test_serial_and_cluster_forecasts_are_identical(model, data, dask_client):
    """With the same seed, in-process and LocalCluster(2 workers) fits give identical forecasts."""
    serial = _pipe(9, data, model, "recursive").fit(data.sales).predict(data.sales)
    parallel = _pipe(9, data, model, "recursive", client=dask_client).fit(data.sales).predict(data.sales)
    pd.testing.assert_frame_equal(serial, parallel)


def _store_saves_gbm() -> bool:
    """Whether this branch's model store can save a LightGBM model (the store branch adds it)."""
    import tempfile

    from m5kit.store import ModelStore

    model = lightgbm.LGBMRegressor(n_estimators=1, verbose=-1).fit(np.arange(20.0).reshape(-1, 1), np.arange(20.0))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ModelStore(tmp).save_group("g", LagFeatures(), model, {})
        except Exception:
            return False
    return True


@pytest.mark.slow
def test_cli_trains_lightgbm_and_records_the_model(tmp_path, dask_client):
    """`m5kit train --model lightgbm` fits, forecasts and scores on tiny data; run.json records the model."""
    if not _store_saves_gbm():
        pytest.skip("the model store on this branch saves Keras models only (LightGBM saver pending on the store branch)")
    m5 = write_m5(make_m5(n_items=2, n_stores=2, n_days=150, seed=1), tmp_path / "m5")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--model", "lightgbm", "--data-dir", str(m5), "--out", str(out),
                                      "--level", "3", "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    assert '"model": "lightgbm"' in (out / "run.json").read_text()
    assert len(pd.read_csv(out / "submission.csv")) == 4
    assert "LightGBM (m5kit)" in pd.read_csv(out / "scores.csv").columns


def test_cli_unknown_model_is_one_line(tmp_path):
    """`m5kit train --model prophet`: exit 1, one stderr line listing the models, nothing written."""
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--model", "prophet", "--items", "2", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: invalid model 'prophet': give 'cnn-lstm', 'lightgbm' or 'xgboost'\n"
    assert not out.exists()


def test_cli_help_says_epochs_and_window_are_cnn_lstm_only():
    """`m5kit train --help` lists --model and marks --epochs / --window as CNN-LSTM only."""
    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"})
    text = " ".join(result.output.split())
    assert "--model" in text and "'lightgbm'" in text
    assert text.count("CNN-LSTM only") >= 2


def test_each_family_gets_its_measured_default_strategy(data):
    """Without a strategy, LightGBM and XGBoost forecast directly (the steadier way over three windows of the real store)."""
    from m5kit.pipeline import make_pipeline

    for model, way in (("lightgbm", "direct"), ("xgboost", "direct")):
        pipe = make_pipeline(9, data.calendar, data.prices, model=model)
        assert pipe.get_params()["groupedestimator__windower__strategy"] == way


def test_xgboost_per_series_forecast_keeps_the_series_level():
    """One XGBoost per series (level 12) forecasts about the sales of the last 28 days, not a fraction of them.

    With XGBoost's own ``min_child_weight=1`` a two-year series grew leaves of a few rows: here the
    forecast totalled 0.63 of the recent sales and a busy series' median 0.41 (0.89 and 0.73 now;
    0.58 of the total on real M5 series).
    """
    data = make_m5(n_items=20, n_stores=1, seed=0)
    days = [c for c in data.sales.columns if c.startswith("d_")]
    recent = data.sales.set_index(data.sales["id"].astype(str))[days[-28:]].sum(axis=1)
    forecast = make_pipeline(12, data.calendar, data.prices, model="xgboost").fit(data.sales).predict(data.sales)
    total = forecast.groupby(forecast["id"].astype(str))["forecast"].sum()
    busy = recent.index[recent >= 28]  # a unit a day or more
    assert len(busy) >= 5
    assert (total[busy] / recent[busy]).median() > 0.6
    assert 0.75 < total.sum() / recent.sum() < 1.35


@pytest.mark.parametrize("model, strategy", [("lightgbm", None), ("xgboost", None), ("lightgbm", "blend")])
def test_a_series_that_never_sold_gets_a_zero_forecast(model, strategy):
    """One model per series: a series with no sale in its training days is fitted (not an error) and forecasts 0.

    LightGBM's Tweedie objective refused such a group ("sum of labels is zero"), which failed the
    whole fit at level 12 of the real store CA_1; XGBoost's predicted NaN.
    """
    data = make_m5(n_items=20, n_stores=1, seed=0)
    days = [c for c in data.sales.columns if c.startswith("d_")]
    never = data.sales[data.sales[days].sum(axis=1) == 0]
    assert len(never) >= 1
    pipe = make_pipeline(12, data.calendar, data.prices, model=model, strategy=strategy)
    forecast = pipe.fit(never).predict(never)
    assert len(forecast) == 28 * len(never) and (forecast["forecast"] == 0).all()
    assert not pipe[-1].failed_ and not pipe[-1].skipped_


def test_a_lightgbm_pipeline_runs_without_tensorflow():
    """Fitting and forecasting with LightGBM never imports Keras or TensorFlow (a fresh worker paid ~4.5 CPU-s and
    the memory for them on its first group)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from m5kit import make_m5\n"
            "from m5kit.pipeline import make_pipeline\n"
            "data = make_m5(n_items=3, n_stores=1, n_days=200, seed=0)\n"
            "pipe = make_pipeline(level=9, calendar=data.calendar, prices=data.prices, model='lightgbm')\n"
            "assert len(pipe.fit(data.sales).predict(data.sales)) == 3 * 28\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'torch') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_lightgbm_learns_the_days_before_a_holiday():
    """Sales tripled on the two days before every National event: the forecast lifts those days of the horizon.

    The gradient-boosted pipelines read the days to and since each type of event
    (``CalendarMerger(event_distance=True)``); without them the forecast cannot tell those days apart.
    """
    data = make_m5(n_items=6, n_stores=1, n_days=700, seed=3)
    calendar = data.calendar
    national = calendar.loc[calendar["event_type_1"] == "National", "d"].str.removeprefix("d_").astype(int)
    sales = data.sales.copy()
    for day in national:
        for before in (day - 1, day - 2):
            if f"d_{before}" in sales.columns:
                sales[f"d_{before}"] = sales[f"d_{before}"] * 3
    lifted = {f"d_{d - k}" for d in national for k in (1, 2) if 700 < d - k <= 728}
    assert lifted == {"d_702", "d_703", "d_722", "d_723"}  # before New Year and Martin Luther King Day

    def lift(event_distance: bool) -> float:
        pipe = make_pipeline(3, calendar, data.prices, model="lightgbm")
        pipe.set_params(calendarmerger__event_distance=event_distance)
        total = pipe.fit(sales).predict(sales).groupby("d")["forecast"].sum()
        return float(total[total.index.isin(lifted)].mean() / total[~total.index.isin(lifted)].mean())

    assert make_pipeline(3, calendar, data.prices, model="lightgbm")[0].event_distance
    assert not make_pipeline(3, calendar, data.prices)[0].event_distance  # the CNN-LSTM does not read them
    with_distance, without = lift(True), lift(False)
    assert with_distance > 2.0 and without < 1.5, (with_distance, without)


def test_a_fitted_lightgbm_reads_the_columns_it_was_fitted_with(data):
    """Switching the holiday distances off or on after a fit, without a refit: the forecast of the fit (the merger
    adds the columns it was fitted with; switching them off was a GroupFitError for the missing columns)."""
    pipe = _pipe(3, data, strategy="direct")
    pipe.set_params(calendarmerger__event_distance=False)
    forecast = pipe.fit(data.sales).predict(data.sales)
    pipe.set_params(calendarmerger__event_distance=True)  # more columns than the fit saw: the same forecast
    pd.testing.assert_frame_equal(pipe.predict(data.sales), forecast)
    with_them = _pipe(3, data, strategy="direct").fit(data.sales)
    expected = with_them.predict(data.sales)
    with_them.set_params(calendarmerger__event_distance=False)
    pd.testing.assert_frame_equal(with_them.predict(data.sales), expected)


def test_prices_that_do_not_cover_the_forecast_days_are_said(data):
    """A price table without the forecast weeks makes every future day 'not on sale', so every forecast 0: predict
    says so in one warning (the forecast was all but 0 without a word)."""
    week = data.calendar.set_index("d")["wm_yr_wk"]
    prices = data.prices[data.prices["wm_yr_wk"] < week[f"d_{data.last_day + 1}"]]
    pipe = make_pipeline(3, data.calendar, prices, model="lightgbm").set_params(groupedestimator__estimator__n_estimators=5)
    with pytest.warns(UserWarning, match=rf"^no series is on sale on any of the 28 forecast days from d_{data.last_day + 1}: "
                                         r"the price table has no price for them"):
        pipe.fit(data.sales).predict(data.sales)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _pipe(3, data, strategy="direct").fit(data.sales).predict(data.sales)  # prices that cover them: no warning


def test_from_store_forecasts_the_horizon_the_run_was_fitted_for(data, tmp_path):
    """A store of a 14-day run loaded without horizon= forecasts its 14 days (it asked for 28 and every group failed,
    saying to fit with horizon=28); a horizon= given still wins."""
    from m5kit.grouped import GroupedEstimator

    pipe = make_pipeline(3, data.calendar, data.prices, model="lightgbm", horizon=14, store=tmp_path / "store")
    pipe.set_params(groupedestimator__estimator__n_estimators=5)
    expected = pipe.fit(data.sales).predict(data.sales)
    features = pipe[:-1].transform(data.sales)
    loaded = GroupedEstimator.from_store(tmp_path / "store")
    assert loaded.horizon == 14
    pd.testing.assert_frame_equal(loaded.predict(features), expected)
    assert GroupedEstimator.from_store(tmp_path / "store", horizon=7).predict(features).groupby("id").size().eq(7).all()


def test_a_direct_windower_of_a_shorter_horizon_is_refused_before_any_fit(data):
    """GroupedEstimator(horizon=28) with LagFeatures(strategy='direct', horizon=7) fitted every group, then every
    forecast failed: one ParamError before any fit."""
    from lightgbm import LGBMRegressor

    from m5kit.grouped import GroupedEstimator

    features = make_pipeline(3, data.calendar, data.prices, model="lightgbm")[:-1].fit_transform(data.sales)
    est = GroupedEstimator(LGBMRegressor(n_estimators=5, verbose=-1), LagFeatures(strategy="direct", horizon=7))
    with pytest.raises(ParamError, match=r"^GroupedEstimator forecasts horizon=28 days but its windower "
                                         r"LagFeatures\(strategy='direct', horizon=7\) only 7: give both the same horizon$"):
        est.fit(features)
    assert not hasattr(est, "estimators_")
    assert len(est.set_params(horizon=7).fit(features).predict(features)) == data.sales.shape[0] * 7


@pytest.mark.parametrize(("value", "kind"), [(np.inf, "infinite"), (-3.0, "negative")])
def test_a_bad_sale_in_a_long_frame_given_straight_is_one_data_error(data, value, kind):
    """A long frame made without CalendarMerger (which refuses them) with an infinite or negative sale: LightGBM
    trained on it without a word (the CNN-LSTM failed in scikit-learn's check); now one DataError before any fit."""
    from lightgbm import LGBMRegressor

    from m5kit.grouped import GroupedEstimator

    features = _frame(3, data)
    row = int(features.index[features["d"] == 50][0])
    features.loc[row, "sales"] = value
    est = GroupedEstimator(LGBMRegressor(n_estimators=5, verbose=-1), LagFeatures())
    with pytest.raises(DataError, match=rf"^{kind} sales {value:g} for series '{features.loc[row, 'id']}' on d_50: "
                                        r"sales are unit counts >= 0"):
        est.fit(features)
    assert not hasattr(est, "estimators_")


def test_a_failed_lag_features_refit_leaves_the_last_fit_whole(data):
    """A LagFeatures refit that raises GroupError (another horizon, a short frame) keeps the last fit's lags, so its
    tables are made as before (they were a DataError about missing lag columns)."""
    frame = _frame(3, data)
    frame = frame[frame["group"] == frame["group"].iloc[0]]
    lags = LagFeatures(horizon=7).fit(frame)
    table, y = lags.make_training_data(frame)
    with pytest.raises(GroupError, match="no training row"):
        lags.set_params(horizon=28).fit(frame[frame["d"] > 100])
    assert lags.shift_ == 7 and lags.lags_[0] == 7
    again, y_again = lags.make_training_data(frame)
    pd.testing.assert_frame_equal(again, table)
    np.testing.assert_array_equal(y_again, y)
