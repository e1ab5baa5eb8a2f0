"""Blends: several models per group (strategies or seeds), their forecasts averaged."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit import make_m5
from m5kit.cli import app
from m5kit.errors import ParamError
from m5kit.forecasting.blend import BlendRegressor, BlendWindower
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


def test_train_refuses_an_unknown_strategy_and_a_zero_seed_count():
    """--strategy and --seeds are checked before anything runs: one line, exit 1."""
    result = CliRunner().invoke(app, ["train", "--strategy", "sideways"])
    assert result.exit_code == 1 and "strategy" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["train", "--seeds", "0"])
    assert result.exit_code == 1 and "seed count" in result.output
