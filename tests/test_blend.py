"""Blends: several models per group (strategies or seeds), their forecasts averaged."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit import make_m5
from m5kit.cli import app
from m5kit.errors import ParamError
from m5kit.forecasting.blend import BlendRegressor, BlendWindower
from m5kit.forecasting.features import LagFeatures
from m5kit.grouped._tasks import fit_group
from m5kit.pipeline import make_pipeline

lightgbm = pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def data():
    return make_m5(n_items=2, n_stores=2, n_days=120)


def _members_mean(pipe, data) -> pd.Series:
    """Each group's forecast recomputed from its fitted members, averaged by hand."""
    frame = pipe[:-1].transform(data.sales)
    grouped = pipe[-1]
    parts = []
    for name, windower in grouped.windowers_.items():
        rows = frame[frame["group"].astype(str) == name]
        member_forecasts = [w.recursive_predict(rows, est, horizon=28).set_index(["id", "d"])["forecast"]
                            for w, est in zip(windower.windowers_, grouped.estimators_[name].estimators_)]
        parts.append(sum(member_forecasts) / len(member_forecasts))
    return pd.concat(parts)


def test_blend_of_strategies_forecasts_the_mean_of_a_recursive_and_a_direct_model(data, tmp_path):
    """strategy='blend' fits a recursive and a direct LightGBM per group; the forecast is their mean, and it resumes."""
    pipe = make_pipeline(9, data.calendar, data.prices, model="lightgbm", strategy="blend", store=tmp_path / "store")
    pipe.set_params(groupedestimator__estimator__estimators=[lightgbm.LGBMRegressor(
        n_estimators=20, objective="tweedie", n_jobs=1, verbose=-1)] * 2)
    forecast = pipe.fit(data.sales).predict(data.sales)
    grouped = pipe[-1]
    assert len(grouped.groups_) == 4
    for name, windower in grouped.windowers_.items():
        assert [w.strategy for w in windower.windowers_] == ["recursive", "direct"]
        seeds = [est.random_state for est in grouped.estimators_[name].estimators_]
        assert seeds[1] == seeds[0] + 1  # each member its own seed
    expected = _members_mean(pipe, data)
    got = forecast.assign(id=forecast["id"].astype(str)).set_index(["id", "d"])["forecast"]
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).to_numpy(), rtol=1e-5)

    again = make_pipeline(9, data.calendar, data.prices, model="lightgbm", strategy="blend", store=tmp_path / "store")
    again.set_params(groupedestimator__estimator__estimators=[lightgbm.LGBMRegressor(
        n_estimators=20, objective="tweedie", n_jobs=1, verbose=-1)] * 2)
    resumed = again.fit(data.sales)[-1]
    assert sorted(resumed.resumed_) == sorted(grouped.groups_)  # nothing fitted again
    pd.testing.assert_frame_equal(again.predict(data.sales), forecast)
    assert pickle.loads(pickle.dumps(pipe)).predict(data.sales)["forecast"].equals(forecast["forecast"])


def test_cnn_lstm_seeds_average_networks_with_different_seeds(data):
    """seeds=2 trains two CNN-LSTMs per group with their own seeds and window samples; the forecast is their mean."""
    pipe = make_pipeline(3, data.calendar, data.prices, seeds=2, epochs=1, window=14)
    pipe.set_params(groupedestimator__estimator__estimators=[
        pipe[-1].estimator.estimators[0].set_params(model__conv_filters=4, model__lstm_units=4)] * 2)
    forecast = pipe.fit(data.sales).predict(data.sales)
    grouped = pipe[-1]
    for name, blend in grouped.estimators_.items():
        first, second = blend.estimators_
        assert second.random_state == first.random_state + 1
        assert not np.array_equal(first.model_.get_weights()[0], second.model_.get_weights()[0])
        assert [w.random_state for w in grouped.windowers_[name].windowers_] == [0, 1]
    expected = _members_mean(pipe, data)
    got = forecast.assign(id=forecast["id"].astype(str)).set_index(["id", "d"])["forecast"]
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).to_numpy(), rtol=1e-4, atol=1e-5)


def test_blend_members_must_pair_up():
    """A regressor blend fed data of another size says what to do."""
    from sklearn.linear_model import Ridge

    from m5kit.forecasting.blend import BlendData

    with pytest.raises(ParamError, match="as many members"):
        BlendRegressor([Ridge(), Ridge()]).fit(BlendData([(np.zeros((3, 2)), np.zeros(3))]))
    with pytest.raises(ParamError, match="non-empty list"):
        BlendWindower([]).fit(pd.DataFrame())


def test_blend_predict_needs_data_of_as_many_members():
    """predict of a 2-member blend given one member's data, or a plain array, is a ParamError (was the first member's
    prediction alone, or a Ridge error about a scalar)."""
    from sklearn.linear_model import Ridge

    from m5kit.forecasting.blend import BlendData

    X, y = np.arange(12.0).reshape(6, 2), np.arange(6.0)
    reg = BlendRegressor([Ridge(), Ridge(alpha=5.0)]).fit(BlendData([(X, y), (X, y)]))
    assert reg.predict(BlendData([(X, None), (X, None)])).shape == (6,)
    for bad, got in ((BlendData([(X, None)]), "got 1"), (X, "got ndarray")):
        with pytest.raises(ParamError, match=f"BlendRegressor with 2 members needs the data of a BlendWindower with as many members, {got}"):
            reg.predict(bad)


def test_blend_refit_keeps_no_history_of_the_last_fit():
    """A blend fitted again with members without a history has no history_ (kept the last fit's: the fit report's
    epochs and loss)."""
    from sklearn.linear_model import Ridge

    from m5kit.forecasting.blend import BlendData

    class WithHistory(Ridge):
        def fit(self, X, y):
            self.history_ = {"loss": [1.0, 0.5]}
            return super().fit(X, y)

    X, y = np.arange(12.0).reshape(6, 2), np.arange(6.0)
    reg = BlendRegressor([WithHistory(), WithHistory()]).fit(BlendData([(X, y), (X, y)]))
    assert reg.history_ == {"loss": [1.0, 0.5]}
    reg.set_params(estimators=[Ridge(), Ridge()]).fit(BlendData([(X, y), (X, y)]))
    assert not hasattr(reg, "history_") and reg.monitor_ == []


def test_a_failed_blend_refit_leaves_the_last_fit_whole():
    """A refit whose second member fails keeps both fitted members of the last fit (it kept the new first one alone)."""
    from sklearn.linear_model import Ridge

    from m5kit.forecasting.blend import BlendData

    X, y = np.arange(12.0).reshape(6, 2), np.arange(6.0)
    reg = BlendRegressor([Ridge(), Ridge(alpha=5.0)]).fit(BlendData([(X, y), (X, y)]))
    expected = reg.predict(BlendData([(X, None), (X, None)]))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.fit(BlendData([(X, 2 * y), (bad, y)]))
    assert len(reg.estimators_) == 2
    np.testing.assert_array_equal(reg.predict(BlendData([(X, None), (X, None)])), expected)


def test_train_refuses_an_unknown_strategy_and_a_zero_seed_count():
    """--strategy and --seeds are checked before anything runs: one line, exit 1."""
    result = CliRunner().invoke(app, ["train", "--strategy", "sideways"])
    assert result.exit_code == 1 and "strategy" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["train", "--seeds", "0"])
    assert result.exit_code == 1 and "seed count" in result.output


def _small_boosters(n: int) -> list:
    return [lightgbm.LGBMRegressor(n_estimators=20, objective="tweedie", n_jobs=1, verbose=-1)] * n


def test_weekly_strategy_forecasts_each_week_with_its_own_direct_model(data, tmp_path):
    """strategy='weekly' fits direct models of horizons 7, 14, 21 and 28 per group; week k comes from model k."""
    pipe = make_pipeline(9, data.calendar, data.prices, model="lightgbm", strategy="weekly", store=tmp_path / "store")
    pipe.set_params(groupedestimator__estimator__estimators=_small_boosters(4))
    forecast = pipe.fit(data.sales).predict(data.sales)
    assert len(forecast) == 28 * len(data.sales)
    got = forecast.assign(id=forecast["id"].astype(str)).set_index(["id", "d"])["forecast"]
    day = got.index.get_level_values("d").str[2:].astype(int) - 120  # 1..28

    # the first week is what a pipeline fitted for 7 days forecasts (same booster, same seed)
    week = make_pipeline(9, data.calendar, data.prices, model="lightgbm", horizon=7)
    week.set_params(groupedestimator__estimator=_small_boosters(1)[0])
    first = week.fit(data.sales).predict(data.sales)
    first = first.assign(id=first["id"].astype(str)).set_index(["id", "d"])["forecast"]
    np.testing.assert_allclose(got[day <= 7].to_numpy(), first.reindex(got[day <= 7].index).to_numpy(), rtol=1e-6)

    # the last week is the 28-day member's own forecast
    frame = pipe[:-1].transform(data.sales)
    grouped = pipe[-1]
    for name, windower in grouped.windowers_.items():
        assert windower.horizons_ == [7, 14, 21, 28]
        rows = frame[frame["group"].astype(str) == name]
        last = windower.windowers_[3].recursive_predict(rows, grouped.estimators_[name].estimators_[3], horizon=28)
        last = last.assign(id=last["id"].astype(str)).set_index(["id", "d"])["forecast"]
        mine = got.index.get_level_values("id").isin(last.index.get_level_values("id"))
        np.testing.assert_allclose(got[mine & (day > 21)].to_numpy(),
                                   last.reindex(got[mine & (day > 21)].index).to_numpy(), rtol=1e-6)
        # ... and not the first week's: that one reads more recent sales
        assert not np.allclose(got[mine & (day <= 7)].to_numpy(), last.reindex(got[mine & (day <= 7)].index))

    again = make_pipeline(9, data.calendar, data.prices, model="lightgbm", strategy="weekly", store=tmp_path / "store")
    again.set_params(groupedestimator__estimator__estimators=_small_boosters(4))
    assert sorted(again.fit(data.sales)[-1].resumed_) == sorted(grouped.groups_)
    pd.testing.assert_frame_equal(again.predict(data.sales), forecast)
    assert pickle.loads(pickle.dumps(pipe)).predict(data.sales)["forecast"].equals(forecast["forecast"])


def test_stitch_members_must_forecast_directly_and_far_enough(data):
    """A recursive member, or a forecast longer than the longest member's, is one clear error."""
    from m5kit.errors import DataError
    from m5kit.forecasting.blend import StitchWindower
    from m5kit.forecasting.features import LagFeatures

    with pytest.raises(ParamError, match="forecast directly"):
        StitchWindower([LagFeatures(strategy="recursive"), LagFeatures(horizon=28)]).fit(pd.DataFrame())
    frame = make_pipeline(3, data.calendar, data.prices, model="lightgbm", horizon=14)[:-1].fit_transform(data.sales)
    stitch = StitchWindower([LagFeatures(horizon=7), LagFeatures(horizon=14)]).fit(frame)
    regressor = BlendRegressor(_small_boosters(2)).fit(stitch.make_training_data(frame)[0])
    assert len(stitch.recursive_predict(frame, regressor, horizon=10)) == 10 * len(data.sales)
    with pytest.raises(DataError, match="at most 14 days"):
        stitch.recursive_predict(frame, regressor, horizon=21)
    with pytest.raises(ParamError, match="gradient-boosted"):
        make_pipeline(3, data.calendar, data.prices, strategy="weekly")
    result = CliRunner().invoke(app, ["train", "--strategy", "weekly", "--model", "cnn-lstm"])
    assert result.exit_code == 1 and "gradient-boosted" in result.output and "Traceback" not in result.output


def test_a_parameter_of_the_model_reaches_every_member_of_a_blend(data, tmp_path):
    """--param num_leaves=7 sets every booster of a weekly stitch (it was a bare ValueError); horizon stays each member's."""
    pipe = make_pipeline(3, data.calendar, data.prices, model="lightgbm", strategy="weekly")
    pipe.set_params(groupedestimator__estimator__num_leaves=7, groupedestimator__windower__train_days=60)
    assert [e.num_leaves for e in pipe[-1].estimator.estimators] == [7] * 4
    assert [w.train_days for w in pipe[-1].windower.windowers] == [60] * 4
    assert [w.horizon for w in pipe[-1].windower.windowers] == [7, 14, 21, 28]
    with pytest.raises(ParamError, match="own horizon"):
        pipe.set_params(groupedestimator__windower__horizon=7)

    result = CliRunner().invoke(app, ["train", "--model", "lightgbm", "--level", "3", "--items", "2", "--strategy",
                                      "blend", "--param", "num_leaves=7", "--param", "n_estimators=5",
                                      "--no-track", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output


class _SlowTables(LagFeatures):
    """LagFeatures whose training table takes at least 0.2 s to make."""

    def make_training_data(self, X):
        time.sleep(0.2)
        return super().make_training_data(X)


def test_fit_report_counts_a_blends_tables_as_preparation_not_fitting(data):
    """A blend makes its members' tables while its regressor fits; the report still books them as preparation."""
    frame = make_pipeline(3, data.calendar, data.prices, model="lightgbm")[:-1].fit_transform(data.sales)
    rows = frame[frame["group"].astype(str) == "CA_1"]
    windower = BlendWindower([_SlowTables(strategy="direct"), _SlowTables(strategy="recursive")])
    start = time.perf_counter()
    result = fit_group(rows, windower, BlendRegressor(_small_boosters(2)), 0, None)
    wall = time.perf_counter() - start
    assert result["prepare_seconds"] >= 0.4  # both members' tables, made inside the regressor's fit
    assert 0 <= result["fit_seconds"] and result["prepare_seconds"] + result["fit_seconds"] <= wall  # not twice
