"""Tests of the Windower: window contents, selection, scaling and recursive forecasts."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from m5kit.errors import DataError, GroupError, ParamError
from m5kit.transformers.windows import DEFAULT_FEATURES, LAG_FEATURE, Windower

N_DAYS, LAST_SALES, LAUNCH_B = 60, 50, 11


def _frame(n_days: int = N_DAYS, last_sales: int = LAST_SALES) -> pd.DataFrame:
    """Two series by hand: A sells ``d`` units on day d; B launches on day 11 and sells 100 + d."""
    d = np.arange(1, n_days + 1)
    rows = []
    for name, sales, available in (
        ("A_CA_1", d.astype(float), np.ones(n_days)),
        ("B_CA_1", np.where(d >= LAUNCH_B, 100.0 + d, 0.0), (d >= LAUNCH_B).astype(float)),
    ):
        sales = np.where(d > last_sales, np.nan, sales)
        rows.append(pd.DataFrame({
            "id": name,
            "item_id": name[:1],
            "d": d.astype(np.int16),
            "sales": sales.astype(np.float32),
            "wday": ((d - 1) % 7 + 1).astype(np.int8),
            "month": (1 + (d - 1) // 31).astype(np.int8),
            "snap": (d % 3 == 0).astype(np.int8),
            "event": (d % 10 == 0).astype(np.int8),
            "event_Cultural": (d % 20 == 0).astype(np.int8),
            "event_National": np.zeros(n_days, np.int8),
            "event_Religious": (d % 30 == 0).astype(np.int8),
            "event_Sporting": np.zeros(n_days, np.int8),
            "price_rel": np.where(available > 0, 1.0 + d / 1000.0, 0.0).astype(np.float32),
            "price_change": np.where(d % 7 == 1, 0.01, 0.0).astype(np.float32),
            "available": available.astype(np.int8),
        }))
    frame = pd.concat(rows, ignore_index=True)
    for col in ("id", "item_id"):
        frame[col] = frame[col].astype("category")
    return frame


SCALE = {"A_CA_1": np.mean(np.arange(1, 51)), "B_CA_1": np.mean(100.0 + np.arange(11, 51))}


def _sales(series: str, day: int) -> float:
    """Unscaled sales of the hand frame."""
    return float(day) if series == "A_CA_1" else (100.0 + day if day >= LAUNCH_B else 0.0)


def test_feature_names_default_covariates():
    """The default features are the lag then the covariates built from the contract columns."""
    w = Windower(window=7).fit(_frame())
    assert list(w.get_feature_names_out()) == [LAG_FEATURE, *DEFAULT_FEATURES]
    assert w.n_features_ == 14


def test_scale_is_mean_of_available_known_sales():
    """Each series is scaled by its mean over available days with sales (pre-launch and future excluded)."""
    w = Windower(window=7).fit(_frame())
    assert w.scale_["A_CA_1"] == pytest.approx(SCALE["A_CA_1"])
    assert w.scale_["B_CA_1"] == pytest.approx(SCALE["B_CA_1"])
    np.testing.assert_allclose(w.unscale([1.0, 2.0], ["A_CA_1", "B_CA_1"]), [SCALE["A_CA_1"], 2 * SCALE["B_CA_1"]])
    np.testing.assert_allclose(w.scale([25.5, 261.0], ["A_CA_1", "B_CA_1"]), [1.0, 2.0])


def test_zero_sales_series_gets_scale_one():
    """A series that never sold is scaled by 1, not divided by zero."""
    frame = _frame()
    frame.loc[frame["id"] == "B_CA_1", "sales"] = frame.loc[frame["id"] == "B_CA_1", "sales"] * 0
    w = Windower(window=7).fit(frame)
    assert w.scale_["B_CA_1"] == 1.0


def test_window_contents_lag_and_target_covariates():
    """Row j holds sales[j-1] (scaled) then day j's covariates; the last row is the target day's."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    X, y = w.make_training_data(frame)
    assert X.dtype == np.float32 and y.dtype == np.float32
    # first window: series A, target day 8 (rows days 2..8, lags days 1..7)
    np.testing.assert_allclose(X[0, :, 0] * SCALE["A_CA_1"], np.arange(1, 8), rtol=1e-6)
    assert y[0] * SCALE["A_CA_1"] == pytest.approx(8.0)
    target_row = frame[(frame["id"] == "A_CA_1") & (frame["d"] == 8)].iloc[0]
    wday = target_row["wday"]
    expected = [np.sin(2 * np.pi * (wday - 1) / 7), np.cos(2 * np.pi * (wday - 1) / 7)]
    np.testing.assert_allclose(X[0, -1, 1:3], expected, atol=1e-6)
    names = list(w.get_feature_names_out())
    for col in ("snap", "event", "event_Cultural", "price_rel", "price_change", "available"):
        assert X[0, -1, names.index(col)] == pytest.approx(float(target_row[col]))
    # every window of every series: lag row j == scaled sales of day j-1
    ids, days = _window_index(w, frame)
    for i in range(len(X)):
        s, t = ids[i], days[i]
        lags = [_sales(s, day) / SCALE[s] for day in range(t - 7, t)]
        np.testing.assert_allclose(X[i, :, 0], lags, rtol=1e-6)
        assert y[i] == pytest.approx(_sales(s, t) / SCALE[s], rel=1e-6)


def _window_index(w: Windower, frame: pd.DataFrame):
    """Series and target day of each training window, read back from the lag and target values."""
    X, y = w.make_training_data(frame)
    ids, days = [], []
    for i in range(len(X)):
        for s in SCALE:
            day = y[i] * SCALE[s]
            last_lag = X[i, -1, 0] * SCALE[s]
            if s == "A_CA_1" and abs(day - last_lag - 1) < 1e-3 and day < 100:
                ids.append(s), days.append(round(day))
                break
            if s == "B_CA_1" and day > 100 and abs(day - last_lag - 1) < 1e-3:
                ids.append(s), days.append(round(day - 100))
                break
        else:  # pragma: no cover - would mean a window of unknown origin
            raise AssertionError(f"window {i} matches no series")
    return ids, days


def test_prelaunch_and_future_days_never_in_windows():
    """Windows that touch pre-launch days or future (NaN) days are skipped: counts by hand."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    X, y = w.make_training_data(frame)
    # A: targets 8..50 (43); B: lag day >= 11 so targets 18..50 (33)
    assert len(X) == 43 + 33 == w.n_windows_
    assert np.isfinite(X).all() and np.isfinite(y).all()
    ids, days = _window_index(w, frame)
    assert min(d for s, d in zip(ids, days) if s == "B_CA_1") == 18
    assert max(days) == LAST_SALES


def test_windows_ordered_by_target_day_then_series():
    """The windows come ordered by target day, so a validation split from the end is the end of history."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    ids, days = _window_index(w, frame)
    order = list(zip(days, [0 if s == "A_CA_1" else 1 for s in ids]))
    assert order == sorted(order)


def test_stride_counts_back_from_last_day():
    """stride keeps every stride-th target day counted back from the last day with sales."""
    frame = _frame()
    w = Windower(window=7, stride=5).fit(frame)
    ids, days = _window_index(w, frame)
    assert set(days) <= {50, 45, 40, 35, 30, 25, 20, 15, 10}
    assert sorted(d for s, d in zip(ids, days) if s == "A_CA_1") == [10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert sorted(d for s, d in zip(ids, days) if s == "B_CA_1") == [20, 25, 30, 35, 40, 45, 50]


def test_max_windows_caps_with_a_reproducible_subset():
    """max_windows keeps that many windows, the same ones for the same random_state, still ordered."""
    frame = _frame()
    X1, y1 = Windower(window=7, max_windows=20, random_state=3).fit(frame).make_training_data(frame)
    X2, y2 = Windower(window=7, max_windows=20, random_state=3).fit(frame).make_training_data(frame)
    X3, _ = Windower(window=7, max_windows=20, random_state=4).fit(frame).make_training_data(frame)
    assert X1.shape == (20, 7, 14)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    w = Windower(window=7, max_windows=20, random_state=3).fit(frame)
    _, days = _window_index(w, frame)
    assert days == sorted(days)
    assert Windower(window=7, max_windows=1000).fit(frame).transform(frame).shape[0] == 76


def test_horizon_targets_are_consecutive_days():
    """With horizon h the targets are days t..t+h-1 and the last one never reaches the future."""
    frame = _frame()
    w = Windower(window=7, horizon=3).fit(frame)
    X, y = w.make_training_data(frame)
    assert y.shape == (len(X), 3)
    # A: targets start 8..48 (41); B: 18..48 (31)
    assert len(X) == 41 + 31
    np.testing.assert_allclose(y[0] * SCALE["A_CA_1"], [8, 9, 10], rtol=1e-6)
    np.testing.assert_allclose(X[0, :, 0] * SCALE["A_CA_1"], np.arange(1, 8), rtol=1e-6)
    np.testing.assert_allclose(y[-1] * SCALE["B_CA_1"], [148, 149, 150], rtol=1e-6)


def test_unsorted_or_gappy_frame_gives_same_windows():
    """The order of the rows does not matter as long as the series come in the same order; a missing row counts as an
    unusable day."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    X, y = w.make_training_data(frame)
    shuffled = frame.sample(frac=1.0, random_state=0)
    Xs, ys = Windower(window=7).fit(shuffled).make_training_data(shuffled)
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)
    gappy = frame[~((frame["id"] == "A_CA_1") & (frame["d"] == 30))]
    Xg, _ = Windower(window=7).fit(gappy).make_training_data(gappy)
    assert len(Xg) == 76 - 8  # A's targets 30..37 touch day 30


def test_features_subset_and_extra_column():
    """features picks the covariates (derived or any numeric column), in the given order."""
    frame = _frame()
    frame["temperature"] = np.float32(20.0)
    w = Windower(window=7, features=["temperature", "dow_sin"]).fit(frame)
    X = w.transform(frame)
    assert list(w.get_feature_names_out()) == [LAG_FEATURE, "temperature", "dow_sin"]
    assert X.shape[2] == 3 and (X[:, :, 1] == 20.0).all()
    assert Windower(window=7, features=[]).fit(frame).transform(frame).shape[2] == 1


def test_missing_columns_and_features_raise_data_error():
    """A frame without id/d/sales, or a feature that is not there, fails with a one-line DataError."""
    frame = _frame()
    with pytest.raises(DataError, match="no column 'sales'"):
        Windower().fit(frame.drop(columns="sales"))
    with pytest.raises(DataError, match="'holiday' is not in the long frame"):
        Windower(features=["holiday"]).fit(frame)
    with pytest.raises(DataError, match="'dow_sin'.*'wday'"):
        Windower(features=["dow_sin"]).fit(frame.drop(columns="wday"))
    with pytest.raises(DataError, match="not numeric"):
        Windower(features=["item_id"]).fit(frame)
    with pytest.raises(ParamError, match="window must be a whole number"):
        Windower(window=0).fit(frame)
    w = Windower(window=7).fit(frame)
    with pytest.raises(DataError, match="price_rel"):
        w.transform(frame.drop(columns="price_rel"))
    other = frame.assign(id=frame["id"].cat.rename_categories({"B_CA_1": "C_CA_1"}))
    with pytest.raises(DataError, match="'C_CA_1' was not in the frame"):
        w.transform(other)


def test_short_group_raises_group_error_naming_window_and_history():
    """A group without window + horizon consecutive available days fails with GroupError saying why."""
    frame = _frame().assign(group="FOODS_1_CA")
    with pytest.raises(GroupError, match=r"group 'FOODS_1_CA'.*51 consecutive.*window 50.*longest history is 50 day\(s\) \(series 'A_CA_1'\)"):
        Windower(window=50).fit(frame)
    one = _frame()[lambda f: f["id"] == "B_CA_1"]
    with pytest.raises(GroupError, match="group 'B_CA_1'.*longest history is 40"):
        Windower(window=40).fit(one)


def test_a_group_never_on_sale_is_not_told_to_lower_the_window():
    """A series not on sale on any training day (launched after it, as FOODS_3_595 before d_1846 on the real store)
    was told to "lower the window", which no window (>= 2 days) fits; now only to leave the group out."""
    one = _frame()[lambda f: f["id"] == "B_CA_1"].assign(available=np.int8(0))
    with pytest.raises(GroupError, match=r"longest history is 0 day\(s\) \(series 'B_CA_1'\); leave the group out$"):
        Windower(window=7).fit(one)
    with pytest.raises(GroupError, match=r"longest history is 40 day\(s\).*: lower the window or leave the group out$"):
        Windower(window=40).fit(_frame()[lambda f: f["id"] == "B_CA_1"])


class _LastLag:
    """A fake fitted Keras wrapper whose model predicts the window's last lag times a factor."""

    def __init__(self, factor: float = 1.0):
        self.factor = factor
        self.model_ = self
        self.calls = []

    def predict_on_batch(self, x):
        self.calls.append(x.copy())
        return x[:, -1, :1] * self.factor + 0.1


def test_recursive_predict_feeds_predictions_back():
    """Each step predicts all series in one batch and the next step sees that prediction as its lag."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    reg = _LastLag()
    out = w.recursive_predict(frame, reg, horizon=10)
    assert len(reg.calls) == 10 and all(x.shape == (2, 7, 14) for x in reg.calls)
    assert list(out.columns) == ["id", "d", "forecast"]
    assert out["forecast"].dtype == np.float32 and isinstance(out["id"].dtype, pd.CategoricalDtype)
    assert out["d"].tolist()[:3] == ["d_51", "d_52", "d_53"] and len(out) == 20
    for s in SCALE:
        got = out.loc[out["id"] == s, "forecast"].to_numpy()
        # scaled: p_1 = sales_50 / scale + 0.1, p_k = p_{k-1} + 0.1
        expected = (_sales(s, 50) / SCALE[s] + 0.1 * np.arange(1, 11)) * SCALE[s]
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    # the step-2 window holds the step-1 prediction as its last lag and day 52's covariates
    names = list(w.get_feature_names_out())
    np.testing.assert_allclose(reg.calls[1][:, -1, 0], reg.calls[0][:, -1, 0] + 0.1, rtol=1e-6)
    day52 = frame[frame["d"] == 52].set_index("id")
    np.testing.assert_allclose(reg.calls[1][:, -1, names.index("price_rel")], day52["price_rel"].to_numpy(), rtol=1e-6)


def test_recursive_predict_clips_negative_forecasts():
    """Negative predictions are clipped to 0 before they are fed back and returned."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    out = w.recursive_predict(frame, _LastLag(factor=-5.0), horizon=3)
    assert (out["forecast"] >= 0).all()
    a = out.loc[out["id"] == "A_CA_1", "forecast"].to_numpy()
    assert a[0] == 0.0 and a[1] == pytest.approx(0.1 * SCALE["A_CA_1"], rel=1e-5)


def test_recursive_predict_forecasts_zero_on_days_not_on_sale():
    """A future day when the item is not on sale (available 0, as PriceJoiner marks a day without a price) is
    forecast 0 and fed back as 0, as LagFeatures does (a network never trained on such a day forecast sales)."""
    frame = _frame()
    off = (frame["id"] == "A_CA_1") & frame["d"].isin([52, 53])
    frame.loc[off, "available"] = 0
    out = Windower(window=7).fit(frame).recursive_predict(frame, _LastLag(), horizon=5)
    a = out.loc[out["id"] == "A_CA_1", "forecast"].to_numpy()
    np.testing.assert_allclose(a, np.array([50 / SCALE["A_CA_1"] + 0.1, 0.0, 0.0, 0.1, 0.2]) * SCALE["A_CA_1"],
                               rtol=1e-5)
    b = out.loc[out["id"] == "B_CA_1", "forecast"].to_numpy()
    assert (b > 100).all()


def test_recursive_predict_multi_output_model_advances_by_its_outputs():
    """A model with k outputs is called once per k days."""

    class TwoDays:
        calls = 0

        def predict(self, x):
            TwoDays.calls += 1
            return np.stack([x[:, -1, 0] + 1, x[:, -1, 0] + 2], axis=1)

    frame = _frame()
    w = Windower(window=7, horizon=2).fit(frame)
    out = w.recursive_predict(frame, TwoDays(), horizon=5)
    assert TwoDays.calls == 3
    a = out.loc[out["id"] == "A_CA_1", "forecast"].to_numpy() / SCALE["A_CA_1"]
    np.testing.assert_allclose(a, 50 / SCALE["A_CA_1"] + np.array([1, 2, 3, 4, 5]), rtol=1e-5)


def test_recursive_predict_needs_future_rows_and_history():
    """A frame without enough future rows (or history) fails with a clear DataError."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    with pytest.raises(DataError, match="10 future row.*d_50.*needs 28"):
        w.recursive_predict(frame, _LastLag(), horizon=28)
    with pytest.raises(DataError, match="7 days of history"):
        w.recursive_predict(frame[frame["d"] >= 47], _LastLag(), horizon=5)
    with pytest.raises(DataError, match="no day with sales"):
        w.recursive_predict(frame[frame["d"] > 50], _LastLag(), horizon=5)


def test_sklearn_contract_clone_params_pickle():
    """The Windower clones, exposes its params, and survives pickle/cloudpickle after fit."""
    frame = _frame()
    w = Windower(window=5, stride=2, features=["snap"], max_windows=10, random_state=1)
    c = clone(w)
    assert c.get_params() == w.get_params()
    c.set_params(window=7)
    assert c.window == 7 and w.window == 5
    assert not hasattr(c, "scale_")
    w.fit(frame)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(w))
        np.testing.assert_array_equal(back.transform(frame), w.transform(frame))
    assert w.fit_transform(frame).shape == (10, 5, 2)
    with pytest.raises(ParamError, match="3-D"):
        w.set_output(transform="pandas")
    assert w.set_output(transform="default") is w


def test_recursive_predict_scales_a_new_series_by_its_own_history():
    """A series unseen in fit (a cross-validation fold) is forecast, scaled by its own history's mean."""
    frame = _frame()
    w = Windower(window=7).fit(frame[frame["id"] == "A_CA_1"])
    out = w.recursive_predict(frame, _LastLag(), horizon=3)
    got = out.loc[out["id"] == "B_CA_1", "forecast"].to_numpy()
    expected = (_sales("B_CA_1", 50) / SCALE["B_CA_1"] + 0.1 * np.arange(1, 4)) * SCALE["B_CA_1"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_window_scaling_divides_each_window_by_one_plus_its_lag_mean():
    """scaling='window': lag column and targets are divided by 1 + the mean of the window's unscaled lags."""
    frame = _frame()
    frame = frame[frame["id"] == "A_CA_1"]
    w = Windower(window=7, horizon=2, scaling="window").fit(frame)
    assert (w.scale_ == 1.0).all()
    X, y = w.make_training_data(frame)
    raw_X, raw_y = Windower(window=7, horizon=2).fit(frame).make_training_data(frame)
    units, units_y = raw_X[:, :, 0] * SCALE["A_CA_1"], raw_y * SCALE["A_CA_1"]
    by = 1.0 + units.mean(axis=1)
    np.testing.assert_allclose(X[:, :, 0], units / by[:, None], rtol=1e-5)
    np.testing.assert_allclose(y, units_y / by[:, None], rtol=1e-5)
    np.testing.assert_array_equal(X[:, :, 1:], raw_X[:, :, 1:])


def test_window_scaling_recursive_predict_rescales_every_step():
    """scaling='window': each forecast step sees its window scaled by 1 + its mean and is multiplied back."""
    frame = _frame()
    w = Windower(window=7, scaling="window").fit(frame)
    reg = _LastLag()
    out = w.recursive_predict(frame, reg, horizon=3)
    a = out.loc[out["id"] == "A_CA_1", "forecast"].to_numpy()
    lags = list(np.arange(44, 51, dtype=float))
    for k in range(3):
        by = 1.0 + np.mean(lags[-7:])
        np.testing.assert_allclose(reg.calls[k][0, :, 0], np.array(lags[-7:]) / by, rtol=1e-5)
        lags.append((lags[-1] / by + 0.1) * by)
    np.testing.assert_allclose(a, lags[-3:], rtol=1e-5)


def test_scaling_must_be_series_or_window():
    """An unknown scaling fails in fit with a ParamError naming both choices."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match="'series' or 'window'"):
        Windower(scaling="recent").fit(_frame())


def test_a_failed_refit_leaves_the_last_fit_whole():
    """A refit that raises GroupError keeps the last fit's horizon, scales and group (it set a fallback horizon_
    and group_ first, and the next windows were of that horizon)."""
    frame = _frame()
    w = Windower(window=7, horizon=7, fallback_horizon=3).fit(frame)
    X, y = w.make_training_data(frame)
    state = (w.horizon_, w.group_, w.scale_.copy(), w.n_windows_)
    short = frame[(frame["id"] == "A_CA_1") & (frame["d"] <= 8)]
    with pytest.raises(GroupError, match="has no training window"):
        w.fit(short)
    assert (w.horizon_, w.group_, w.n_windows_) == (state[0], state[1], state[3])
    pd.testing.assert_series_equal(w.scale_, state[2])
    X2, y2 = w.make_training_data(frame)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_bad_parameters_and_set_output_are_param_errors_as_elsewhere():
    """Windower's bad parameters and set_output('pandas') were DataError (LagFeatures': ParamError; the long-frame
    transformers': a plain ValueError): all are ParamError now, their lines unchanged."""
    from m5kit.forecasting.features import LagFeatures
    from m5kit.transformers import CalendarMerger

    frame = _frame()
    for bad in (dict(window=0), dict(stride=1.5), dict(fallback_horizon=99), dict(max_windows=0)):
        with pytest.raises(ParamError, match=r"^Windower \w+ must be "):
            Windower(**bad).fit(frame)
    w = Windower(window=7).fit(frame)
    with pytest.raises(ParamError, match=r"^recursive_predict horizon must be a whole number >= 1, got 0$"):
        w.recursive_predict(frame, None, horizon=0)
    with pytest.raises(ParamError, match=r"^recursive_predict horizon must be a whole number >= 1, got 0$"):
        LagFeatures(horizon=7).fit(frame).recursive_predict(frame, None, horizon=0)
    for estimator in (w, LagFeatures(), CalendarMerger(None)):
        with pytest.raises(ParamError, match=r"^\w+ (returns|outputs) .*: .*set_output\(transform="):
            estimator.set_output(transform="polars")


def test_transform_uses_the_fitted_window_and_scaling_not_ones_set_since():
    """set_params(window=..., scaling=...) without a refit changed transform's windows (another length, another
    scaling) beside the fitted scales and horizon: transform follows the fit, as for horizon_."""
    frame = _frame()
    w = Windower(window=7).fit(frame)
    expected = w.transform(frame)
    w.set_params(window=3, scaling="window")
    np.testing.assert_array_equal(w.transform(frame), expected)
    assert (w.window_, w.scaling_) == (7, "series")
