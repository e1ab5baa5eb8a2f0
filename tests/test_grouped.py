"""GroupedEstimator: one model per group, each trained on its own group's data only."""

from __future__ import annotations

import pickle
import re

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from m5kit.errors import GroupError, StoreError
from m5kit.grouped import BaseGrouped, GroupedEstimator, group_seed
from m5kit.models import CNNLSTMRegressor
from m5kit.transformers import Windower

N_DAYS, HORIZON = 140, 7
# M5's wday: 1 = Saturday, 2 = Sunday, 3 = Monday, 4 = Tuesday, ...
PEAKS = {"WEEKEND": (1, 2), "TUESDAY": (4,)}


def _frame(peaks=PEAKS, n_series=2, n_days=N_DAYS, horizon=HORIZON, short=()) -> pd.DataFrame:
    """A long frame whose groups have different weekly patterns (12 on peak days, 2 otherwise)."""
    rows = []
    for group, days in peaks.items():
        for s in range(n_series):
            sid = f"{group}_{s}"
            for d in range(1, n_days + horizon + 1):
                wday = (d - 1) % 7 + 1
                start = n_days - 10 if group in short else 1
                sales = (12.0 if wday in days else 2.0) if d <= n_days else np.nan
                rows.append((sid, group, d, sales, wday, 1 + (d // 30) % 12, int(d >= start)))
    frame = pd.DataFrame(rows, columns=["id", "group", "d", "sales", "wday", "month", "available"])
    frame.loc[frame["available"] == 0, "sales"] = 0.0
    return frame.astype({"id": "category", "group": "category", "d": "int16", "sales": "float32", "wday": "int8", "month": "int8", "available": "int8"})


def _estimator(**params) -> GroupedEstimator:
    reg = CNNLSTMRegressor(epochs=25, batch_size=32, patience=None, validation_split=0.0,
                           model__conv_filters=8, model__lstm_units=16, model__learning_rate=0.01)
    return GroupedEstimator(reg, Windower(window=14), horizon=HORIZON, **params)


@pytest.fixture(scope="module")
def frame():
    return _frame()


@pytest.fixture(scope="module")
def fitted_dask(frame, dask_client):
    return _estimator(client=dask_client).fit(frame)


def _by_day(forecast: pd.DataFrame, series: str) -> pd.Series:
    part = forecast[forecast["id"] == series]
    return part.set_index(part["d"].str[2:].astype(int))["forecast"]


def test_each_group_model_learned_its_own_group_only(frame, fitted_dask):
    """Each group's model forecasts its own group's weekly peaks, not the other group's."""
    forecast = fitted_dask.predict(frame)
    for group, days in PEAKS.items():
        fc = _by_day(forecast, f"{group}_0")
        wday = (fc.index - 1) % 7 + 1
        on_peak, off_peak = fc[np.isin(wday, days)], fc[~np.isin(wday, days)]
        assert on_peak.min() > off_peak.max(), f"{group}: peaks not learned: {fc.round(1).tolist()}"
        other = [d for g, ds in PEAKS.items() if g != group for d in ds]
        assert fc[np.isin(wday, other)].max() < 6, f"{group} model forecasts the other group's peaks"


def test_each_group_model_saw_only_its_rows(frame, fitted_dask):
    """A group's fitted Windower knows only its series, and its window count is its own."""
    for group in PEAKS:
        part = frame[frame["group"] == group]
        assert set(fitted_dask.windowers_[group].scale_.index) == set(part["id"].astype(str).unique())
        alone = Windower(window=14).fit(part).make_training_data(part)[0]
        report = fitted_dask.fit_report_.set_index("group")
        assert report.loc[group, "n_windows"] == len(alone)
    assert sorted(fitted_dask.estimators_) == sorted(PEAKS)


def test_serial_fit_gives_the_same_models_as_dask(frame, fitted_dask):
    """Fitting in-process gives the same forecasts as the Dask cluster for the same seeds."""
    serial = _estimator().fit(frame)
    a, b = serial.predict(frame), fitted_dask.predict(frame)
    pd.testing.assert_frame_equal(a[["id", "d"]], b[["id", "d"]])
    np.testing.assert_allclose(a["forecast"], b["forecast"], rtol=1e-4, atol=1e-4)


def test_group_seeds_are_stable_and_distinct():
    """Every group gets its own seed, the same in every process and order."""
    assert group_seed(0, "CA_1") == group_seed(0, "CA_1")
    assert group_seed(0, "CA_1") != group_seed(0, "CA_2")
    assert group_seed(None, "CA_1") is None


def test_forecast_is_tidy_with_horizon_days_per_series(frame, fitted_dask):
    """predict returns id, d, forecast: HORIZON consecutive future days for every series."""
    forecast = fitted_dask.predict(frame)
    assert list(forecast.columns) == ["id", "d", "forecast"]
    assert forecast.groupby("id").size().eq(HORIZON).all()
    assert forecast["d"].iloc[:HORIZON].tolist() == [f"d_{N_DAYS + h}" for h in range(1, HORIZON + 1)]
    assert (forecast["forecast"] >= 0).all()


def test_short_group_is_skipped_with_a_warning_naming_it():
    """A group with less history than the window is skipped, and the warning names it."""
    frame = _frame(short=("TUESDAY",), n_series=1, n_days=60)
    est = _estimator(on_short="warn")
    est.estimator.set_params(epochs=1)
    with pytest.warns(UserWarning, match="TUESDAY"):
        est.fit(frame)
    assert list(est.estimators_) == ["WEEKEND"] and "TUESDAY" in est.skipped_


def test_short_group_can_be_an_error():
    """With on_short='raise' a too-short group is an error naming it."""
    frame = _frame(short=("TUESDAY",), n_series=1, n_days=60)
    est = _estimator(on_short="raise")
    est.estimator.set_params(epochs=1)
    with pytest.raises(GroupError, match="TUESDAY"):
        est.fit(frame)


def test_pickle_and_cloudpickle_round_trip(frame, fitted_dask):
    """A fitted GroupedEstimator survives pickle and cloudpickle with identical forecasts."""
    expected = fitted_dask.predict(frame)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        copy = loads(dumps(fitted_dask))
        assert copy.client is None
        pd.testing.assert_frame_equal(copy.predict(frame), expected)


def test_clone_and_nested_params():
    """clone keeps every parameter; nested estimator/windower parameters are reachable."""
    est = _estimator(level=None, retries=3)
    params = est.get_params(deep=True)
    assert params["estimator__model__lstm_units"] == 16
    assert params["windower__window"] == 14
    est.set_params(estimator__model__lstm_units=4, windower__window=7)
    twin = clone(est)
    assert twin.get_params()["estimator__model__lstm_units"] == 4
    assert twin.windower.window == 7 and twin.retries == 3


@pytest.mark.parametrize(("param", "slot"), [("estimator__epochs", "estimator"), ("windower__window", "windower")])
def test_nested_params_of_a_default_slot_are_one_param_error(param, slot):
    """estimator__/windower__ parameters of a slot left None are one ParamError (was AttributeError on None)."""
    from m5kit.errors import ParamError

    est = GroupedEstimator()
    with pytest.raises(ParamError, match=f"cannot set {param!r}: GroupedEstimator's {slot} is None") as info:
        est.set_params(**{param: 3}, retries=5)
    assert "\n" not in str(info.value) and est.retries == 2 and getattr(est, slot) is None
    given = GroupedEstimator().set_params(**{slot: CNNLSTMRegressor() if slot == "estimator" else Windower(), param: 3})
    assert given.get_params()[param] == 3


def test_missing_groups_is_a_clear_error(frame):
    """Data without a group column or level gives one clear error."""
    from m5kit.errors import DataError

    with pytest.raises(DataError, match="no groups"):
        _estimator().fit(frame.drop(columns="group"))


def test_store_saves_every_group_and_resumes(tmp_path, frame):
    """Each group is stored atomically; a second fit with the same settings refits nothing."""
    est = _estimator(store=tmp_path / "store")
    est.estimator.set_params(epochs=2)
    est.fit(frame)
    files = sorted(p.name for p in (tmp_path / "store" / "groups").iterdir())
    assert files == sorted(f"{g}.{ext}" for g in PEAKS for ext in ("json", "keras", "pkl"))
    again = clone(est).fit(frame)
    assert sorted(again.resumed_) == sorted(PEAKS)
    pd.testing.assert_frame_equal(again.predict(frame), est.predict(frame))
    loaded = GroupedEstimator.from_store(tmp_path / "store", horizon=HORIZON)
    pd.testing.assert_frame_equal(loaded.predict(frame), est.predict(frame))


def test_store_refuses_a_different_run(tmp_path, frame):
    """A store holding a run with other parameters is refused unless overwrite=True, which the message names as the
    Python API spells it (it said only the command line's --overwrite)."""
    est = _estimator(store=tmp_path / "store")
    est.estimator.set_params(epochs=1)
    est.fit(frame)
    other = clone(est).set_params(windower__window=7)
    with pytest.raises(StoreError, match=r"holds a different run \(differs in params\): choose another folder or pass "
                                         r"overwrite=True \(`m5kit train --overwrite`\)$"):
        other.fit(frame)
    other.set_params(overwrite=True).fit(frame)
    assert other.resumed_ == []


def test_forecast_made_during_fit_is_the_one_predict_computes(frame, fitted_dask):
    """fit forecasts each group's future rows on its worker; predict on the same rows returns it, and
    returns exactly what the workers compute from the fitted models when they must (other rows)."""
    import copy

    cached = fitted_dask.predict(frame)
    assert set(fitted_dask._known_forecasts(fitted_dask._split(frame))) == set(PEAKS)
    recomputed = copy.copy(fitted_dask)
    recomputed._fit_forecasts = {}
    pd.testing.assert_frame_equal(cached, recomputed.predict(frame))

    changed = frame.copy()
    future = changed["sales"].isna() & (changed["group"] == "TUESDAY")
    changed.loc[future, "month"] = 1  # other known covariates of the future days: another forecast
    assert set(fitted_dask._known_forecasts(fitted_dask._split(changed))) == {"WEEKEND"}
    pd.testing.assert_frame_equal(fitted_dask.predict(changed), recomputed.predict(changed))


def test_fit_on_history_only_then_predict_with_the_future_rows():
    """Rows without future days fit as before (nothing to forecast yet); predict on the full rows forecasts."""
    full = _frame(n_series=1)
    history = full[full["sales"].notna()]
    fitted = _estimator().set_params(estimator__epochs=1).fit(history)
    assert fitted._known_forecasts(fitted._split(full)) == {}
    forecast = fitted.predict(full)
    assert forecast.groupby("id").size().eq(HORIZON).all()


# --- any estimator: a scikit-learn Ridge per group, no Keras -------------------------------

_RIDGE = """
import sys, warnings
warnings.simplefilter("error")
from m5kit import make_m5, CalendarMerger, PriceJoiner, LevelAggregator
from m5kit.grouped import GroupedEstimator
from m5kit.transformers import Windower
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
import numpy as np

def flatten(windows):
    return np.asarray(windows).reshape(len(windows), -1)

data = make_m5(n_items=2, n_stores=2, n_days=120)
features = make_pipeline(CalendarMerger(data.calendar), PriceJoiner(data.prices), LevelAggregator(3)).fit_transform(data.sales)
ridge = make_pipeline(FunctionTransformer(flatten), Ridge(alpha=1.0))
est = GroupedEstimator(ridge, Windower(window=14)).fit(features)
forecast = est.predict(features)
assert est.groups_ == ["CA_1", "CA_2"], est.groups_
assert all(type(e[-1]).__name__ == "Ridge" for e in est.estimators_.values())
assert forecast.groupby("id").size().eq(28).all() and len(forecast) == 28 * len(data.sales)
assert np.isfinite(est.score(features))
print("keras" in sys.modules)
"""


def _flatten(windows):
    return np.asarray(windows).reshape(len(windows), -1)


def _ridge(**params) -> GroupedEstimator:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return GroupedEstimator(make_pipeline(FunctionTransformer(_flatten), Ridge()), Windower(window=14), **params)


@pytest.fixture(scope="module")
def m5_features():
    from sklearn.pipeline import make_pipeline

    from m5kit import CalendarMerger, LevelAggregator, PriceJoiner, make_m5

    data = make_m5(n_items=2, n_stores=2, n_days=120)
    return make_pipeline(CalendarMerger(data.calendar), PriceJoiner(data.prices), LevelAggregator(3)).fit_transform(data.sales)


def test_a_ridge_per_group_fits_and_forecasts_without_keras():
    """Any scikit-learn regressor works per group: a Ridge on the windows fits, forecasts 28 days per series
    and scores, and Keras is never imported."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _RIDGE], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_a_ridge_per_group_fits_on_dask_like_in_process(m5_features, dask_client):
    """The Ridge per group gives the same forecast on the Dask cluster as in this process."""
    here = _ridge().fit(m5_features).predict(m5_features)
    there = _ridge(client=dask_client).fit(m5_features)
    assert there.fit_report_["group"].tolist() == ["CA_1", "CA_2"]
    pd.testing.assert_frame_equal(there.predict(m5_features), here)


def test_a_ridge_per_group_is_stored_and_resumed(m5_features, tmp_path):
    """A Ridge per group is stored; after one group's record is lost only that group is fitted again."""
    store = tmp_path / "store"
    first = _ridge(store=store).fit(m5_features)
    expected = first.predict(m5_features)
    (store / "groups" / "CA_2.json").unlink()
    again = _ridge(store=store).fit(m5_features)
    assert again.resumed_ == ["CA_1"]
    assert again.fit_report_.set_index("group")["resumed"].to_dict() == {"CA_1": True, "CA_2": False}
    forecast = again.predict(m5_features)
    assert forecast.groupby("id").size().eq(28).all()
    pd.testing.assert_frame_equal(forecast, expected)


def test_a_stored_group_that_cannot_be_loaded_is_fitted_again(m5_features, tmp_path):
    """A group whose stored files are damaged (a cut .pkl) is fitted again on resume, not a StoreError telling to refit it."""
    store = tmp_path / "store"
    expected = _ridge(store=store).fit(m5_features).predict(m5_features)
    pkl = store / "groups" / "CA_2.pkl"
    pkl.write_bytes(pkl.read_bytes()[:100])
    again = _ridge(store=store).fit(m5_features)
    assert again.resumed_ == ["CA_1"]
    pd.testing.assert_frame_equal(again.predict(m5_features), expected)
    assert sorted(_ridge(store=store).fit(m5_features).resumed_) == ["CA_1", "CA_2"]  # stored whole again


@pytest.mark.parametrize("param, value, problem", [
    ("on_short", "skip", "invalid on_short 'skip': give 'warn' or 'raise'"),
    ("retries", -1, "invalid retries -1: give a whole number of at least 0"),
    ("horizon", 0, "invalid horizon 0: give a whole number of at least 1"),
    ("timeout", 0, "invalid timeout 0: give the seconds to wait for the scheduler"),
    ("level", 13, "unknown level 13: choose a whole number from 1 to 12"),
    # was a bare ValueError from int('a') in group_seed; -1 and 1.5 failed inside each group's Windower sample
    ("random_state", "a", "invalid random_state 'a': give a whole number of at least 0"),
    ("random_state", -1, "invalid random_state -1: give a whole number of at least 0"),
    ("random_state", 1.5, "invalid random_state 1.5: give a whole number of at least 0"),
    ("windower__random_state", -1, "invalid Windower random_state -1: give a whole number of at least 0"),
    # were a bare IndexError (list index out of range) and TypeError from the group names
    ("groups", [], "invalid groups []: give a column name or a non-empty list of them (None groups by level)"),
    ("groups", 3, "invalid groups 3: give a column name or a non-empty list of them"),
    ("overwrite", "no", "invalid overwrite 'no': give False or True"),  # was read as true: a store of another run wiped
    ("progress", "False", "invalid progress 'False': give False or True"),  # was read as true: the bar showed
    # was a bare TypeError ('expected str, bytes or os.PathLike object, not int')
    ("store", 5, "invalid store 5: give the model store's folder as a str or pathlib.Path"),
])
def test_bad_parameters_are_one_line_param_errors(frame, param, value, problem):
    """A bad parameter value stops fit before any work with one ParamError line naming it and what to give."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=f"^{re.escape(problem)}") as info:
        _estimator().set_params(**{param: value}).fit(frame)
    assert "\n" not in str(info.value)




@pytest.mark.parametrize("param, value, problem", [
    ("n_workers", 0, "invalid number of workers 0: give a whole number of at least 1"),
    ("n_workers", 1.5, "invalid number of workers 1.5: give a whole number of at least 1"),
    ("scheduler", "localhost", "invalid Dask scheduler address 'localhost' (missing port number"),
])
def test_a_bad_worker_count_or_address_stops_fit_before_the_store_is_claimed(frame, tmp_path, param, value, problem):
    """n_workers=0 or a scheduler address without a port was refused only when the cluster was asked for, after the
    store had been claimed: the fit run again with other settings was then refused as "a different run"."""
    from m5kit.errors import M5kitError

    store = tmp_path / "store"
    with pytest.raises(M5kitError, match=f"^{re.escape(problem)}"):
        _estimator(store=str(store)).set_params(**{param: value}).fit(frame)
    assert not store.exists()


def test_an_unreachable_scheduler_leaves_no_claimed_store(frame, tmp_path):
    """`fit(store=..., scheduler=<out of reach>)` left the store claimed (manifest.json naming the run's settings): the
    fit again with other settings was refused as "a different run" though no group was fitted."""
    from m5kit.errors import ClusterError

    store = tmp_path / "runs" / "store"
    with pytest.raises(ClusterError, match="^cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s"):
        _estimator(store=str(store), scheduler="tcp://127.0.0.1:1", timeout=1).fit(frame)
    assert list(tmp_path.iterdir()) == []


def test_a_refit_that_gets_no_cluster_keeps_the_last_fit(m5_features):
    """A refit whose scheduler is out of reach keeps the fitted groups (they were dropped, and predict said none of
    the groups has a fitted model while groups_ still listed them)."""
    from m5kit.errors import ClusterError

    est = _ridge().fit(m5_features)
    expected = est.predict(m5_features)
    with pytest.raises(ClusterError, match="^cannot reach the Dask scheduler"):
        est.set_params(scheduler="tcp://127.0.0.1:1", timeout=1).fit(m5_features)
    est.set_params(scheduler=None)
    assert sorted(est.estimators_) == sorted(est.groups_) == ["CA_1", "CA_2"]
    pd.testing.assert_frame_equal(est.predict(m5_features), expected)


class _PlainWindower:
    """A windower of the documented protocol (fit, make_training_data, recursive_predict) that is no scikit-learn
    estimator: m5kit's Windower, its windows flattened for a 2-D regressor."""

    def __init__(self, window=14):
        self.window = window

    def fit(self, frame):
        self.inner_ = Windower(window=self.window).fit(frame)
        return self

    def make_training_data(self, frame):
        X, y = self.inner_.make_training_data(frame)
        return _flatten(X), y

    def recursive_predict(self, frame, estimator, horizon=28):
        flat = type("Flat", (), {"predict": lambda _, x: estimator.predict(_flatten(x))})()
        return self.inner_.recursive_predict(frame, flat, horizon=horizon)


def test_a_windower_of_the_documented_protocol_need_not_be_an_estimator(m5_features, tmp_path):
    """GroupedEstimator takes "any object with fit, make_training_data and recursive_predict" as its windower, but
    every group failed with clone's TypeError (it does not implement a 'get_params' method), on_short='raise' raised
    it, and a fit with a store stopped with an AttributeError. Such a windower fits, forecasts and resumes."""
    from sklearn.linear_model import Ridge

    store = str(tmp_path / "store")
    est = GroupedEstimator(Ridge(), _PlainWindower(), on_short="raise", store=store).fit(m5_features)
    forecast = est.predict(m5_features)
    assert sorted(est.groups_) == ["CA_1", "CA_2"] and len(forecast) == 4 * 28
    again = GroupedEstimator(Ridge(), _PlainWindower(), store=store).fit(m5_features)
    assert sorted(again.resumed_) == ["CA_1", "CA_2"]
    with pytest.raises(StoreError, match="holds a different run"):
        GroupedEstimator(Ridge(), _PlainWindower(window=7), store=store).fit(m5_features)


def test_fit_parameters_are_refused_not_ignored(m5_features):
    """fit(X, epochs=3) (``pipe.fit(sales, groupedestimator__epochs=3)``, as Keras' and scikeras' fit take it) was
    silently ignored: every group trained with the estimator's own epochs. It is one ParamError saying how to set it."""
    from m5kit.errors import ParamError

    est = _ridge()
    with pytest.raises(ParamError, match=r"^GroupedEstimator\.fit takes no fit parameters \(got 'epochs'\): set "
                                         r"them on the estimator, e.g\. set_params\(estimator__epochs=\.\.\.\) "
                                         r"\(groupedestimator__estimator__epochs in a pipeline\)$"):
        est.fit(m5_features, epochs=3)
    assert not hasattr(est, "estimators_")


def test_level_and_groups_together_are_one_param_error(frame):
    """level= and groups= both given: one ParamError saying to give one of them (groups= was used, level= ignored)."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match=r"^GroupedEstimator got both level=9 and groups='group': give one of them "
                                         r"\(level groups by an M5 level's keys, groups by your columns\)$"):
        _estimator(level=9, groups="group").fit(frame)


def test_predict_on_groups_none_of_which_was_fitted_is_one_data_error(m5_features):
    """Data whose groups all lack a model: one DataError naming a group and the fitted ones (was pandas' bare
    'ValueError: No objects to concatenate'); the SkippedGroupWarning still says which groups get no forecast."""
    from m5kit.errors import DataError
    from m5kit.grouped.base import SkippedGroupWarning

    fitted = _ridge().fit(m5_features[m5_features["group"] == "CA_1"])
    other = m5_features[m5_features["group"] == "CA_2"]
    with pytest.warns(SkippedGroupWarning), pytest.raises(
            DataError, match=r"^none of the 1 group\(s\) of the data has a fitted model \(e.g. 'CA_2'\): predict the "
                             r"groups the estimator was fitted on \('CA_1'\)$"):
        fitted.predict(other)

def test_score_on_the_wide_sales_table_is_one_data_error(m5_features):
    """score() given the wide sales table (not the long frame) names the missing column and the steps to put before
    it, as fit and predict do (it was pandas' bare KeyError: 'sales')."""
    from m5kit import make_m5
    from m5kit.errors import DataError

    fitted = _ridge().fit(m5_features)
    with pytest.raises(DataError, match=r"^the data has no column 'd': GroupedEstimator needs the long frame"):
        fitted.score(make_m5(n_items=2, n_stores=2, n_days=120).sales)


def test_rows_without_a_group_key_are_one_data_error(m5_features):
    """Rows whose level key is missing are one DataError naming the column (pandas 3 left them out of every group
    without a word: no model, no forecast; pandas 2 fitted them as a group 'nan')."""
    from m5kit.errors import DataError

    frame = m5_features.copy()
    frame.loc[frame["id"] == frame["id"].iloc[-1], "store_id"] = np.nan
    with pytest.raises(DataError, match=r"^\d+ row\(s\) have no 'store_id' to group them by \(first: row \d+\): fill the "
                                        "column or drop those rows$"):
        _ridge(level=3).fit(frame)


def _bad_windowers():
    from m5kit.forecasting.blend import BlendWindower, StitchWindower
    from m5kit.forecasting.features import LagFeatures

    return [
        (Windower(window=0), "Windower window must be a whole number >= 1, got 0"),
        (Windower(window=14, max_windows=0), "Windower max_windows must be None or a whole number >= 1, got 0"),
        (LagFeatures(strategy="sideways"), "invalid strategy 'sideways': give 'direct' or 'recursive'"),
        (LagFeatures(horizon=0), "invalid horizon 0: give a whole number of at least 1"),
        (BlendWindower([Windower(window=14), Windower(window=-1)]), "Windower window must be a whole number >= 1, got -1"),
        (StitchWindower([LagFeatures(horizon=7), LagFeatures(strategy="recursive", horizon=14)]),
         "a stitch member must forecast directly"),
    ]


@pytest.mark.parametrize("windower, problem", _bad_windowers(),
                         ids=["window 0", "max_windows 0", "lag strategy", "lag horizon 0", "blend member", "stitch member"])
def test_bad_windower_parameters_stop_fit_before_any_group(m5_features, windower, problem, monkeypatch):
    """A bad windower parameter is the windower's own one-line error, raised before any group is fitted (it was a
    GroupFitError listing every group as failed, after each group's fit had tried, and on Dask retried, it)."""
    from m5kit.errors import M5kitError
    from m5kit.grouped import _tasks
    from m5kit.grouped.base import GroupFitError

    def no_fit(*args, **kwargs):
        raise AssertionError("a group was fitted")

    monkeypatch.setattr(_tasks, "fit_group", no_fit)
    with pytest.raises(M5kitError, match=f"^{re.escape(problem)}") as info:
        _ridge().set_params(windower=windower).fit(m5_features)
    assert not isinstance(info.value, GroupFitError) and "\n" not in str(info.value)

# --- the machinery without forecasting: a classifier per group --------------------------------


def _fit_classifier(data, estimator, seed):
    """One group's task: fit a clone on the group's (X, y)."""
    X, y = data
    return {"estimator": clone(estimator).set_params(random_state=seed).fit(X[["x"]], y), "n_rows": len(X)}


def _predict_classes(payload):
    X, estimator = payload
    return pd.Series(estimator.predict(X[["x"]]), index=X.index)


class _GroupedClassifier(BaseGrouped):
    """A per-group classifier: the least a subclass of BaseGrouped has to say."""

    _report_columns = ("n_rows",)

    def __init__(self, estimator, *, level=None, groups=None, n_workers=None, scheduler=None, client=None, store=None,
                 overwrite=False, on_short="warn", retries=2, random_state=0, progress=False, timeout=30.0):
        self.estimator, self.level, self.groups, self.n_workers = estimator, level, groups, n_workers
        self.scheduler, self.client, self.store, self.overwrite = scheduler, client, store, overwrite
        self.on_short, self.retries, self.random_state = on_short, retries, random_state
        self.progress, self.timeout = progress, timeout

    def _fit_call(self, name, setup):
        return _fit_classifier, (self.estimator, group_seed(self.random_state, name))

    def _report_fields(self, result):
        return {"n_rows": result["n_rows"]}

    def fit(self, X, y):
        return self._fit_groups(X, y)

    def predict(self, X):
        parts = self._split(X)
        made = self._predict_groups(parts, lambda name, rows: (_predict_classes, (rows, self.estimators_[name]), ()))
        return pd.concat(made).reindex(X.index).to_numpy()


def test_base_grouped_fits_any_estimator_per_group_with_its_own_targets(dask_client):
    """BaseGrouped alone (no windows, no forecast): a classifier per group learns its group's rule, on Dask too."""
    from sklearn.linear_model import LogisticRegression

    x = np.tile(np.arange(40.0), 2)
    X = pd.DataFrame({"g": ["UP"] * 40 + ["DOWN"] * 40, "x": x})
    y = np.where(X["g"] == "UP", x >= 20, x < 20).astype(int)  # opposite rules per group
    for est in (_GroupedClassifier(LogisticRegression(), groups="g"),
                _GroupedClassifier(LogisticRegression(), groups="g", client=dask_client)):
        est.fit(X, y)
        assert est.groups_ == ["UP", "DOWN"] and est.fit_report_["n_rows"].tolist() == [40, 40]
        assert (est.predict(X) == y).mean() > 0.9
    assert clone(est.set_params(client=None)).get_params()["estimator__C"] == 1.0



def test_groups_whose_joined_names_collide_are_one_data_error():
    """groups=["a", "b"] with rows ("A_B", "C") and ("A", "B_C"): both joined to the name 'A_B_C' and were silently
    trained as one group on both groups' rows; now one DataError naming both before any fit."""
    from sklearn.linear_model import LogisticRegression

    from m5kit.errors import DataError

    X = pd.DataFrame({"a": ["A_B"] * 4 + ["A"] * 4, "b": ["C"] * 4 + ["B_C"] * 4, "x": np.arange(8.0)})
    y = np.array([0, 1] * 4)
    with pytest.raises(DataError, match=r"^the values \('A_B', 'C'\) and \('A', 'B_C'\) of columns a, b both make the "
                                        r"group name 'A_B_C': rename values"):
        _GroupedClassifier(LogisticRegression(), groups=["a", "b"]).fit(X, y)
    fitted = _GroupedClassifier(LogisticRegression(), groups=["a", "b"]).fit(X.assign(a=["A_B"] * 4 + ["Z"] * 4), y)
    assert fitted.groups_ == ["A_B_C", "Z_B_C"]

# --- the Dask dashboard: what its Progress panel counts ------------------------------------

class _ProgressWatch:
    """A scheduler plugin that reads each task prefix as the dashboard's Progress panel does,
    each time a task finishes: ``(key's prefix, {prefix: (done, all)})``."""

    name = "m5kit-test-progress-watch"

    def __init__(self):
        self.seen = []

    def start(self, scheduler):
        self.scheduler = scheduler

    def transition(self, key, start, finish, *args, **kwargs):
        from dask.utils import key_split

        if start == "processing" and finish == "memory":
            view = {}
            for name, tp in self.scheduler.task_prefixes.items():
                states = tp.states
                total = sum(v for k, v in states.items() if k != "forgotten")
                if total:
                    view[name] = (states["memory"] + states["released"] + states["erred"], total)
            self.seen.append((key_split(key), view))


def _watched(dask_scheduler):
    return dask_scheduler.plugins[_ProgressWatch.name].seen


def test_dashboard_progress_counts_every_finished_group_under_its_own_step(dask_client, tmp_path):
    """While a fit runs, the dashboard's Progress panel counts every finished group as done out of all
    groups (finished results used to drop out of the count: `fit 1/137` with 63 of 200 done), and the
    fit, store and forecast steps are bars of their own."""
    from _slow_ridge import slow_ridge
    from distributed.diagnostics.plugin import SchedulerPlugin
    from sklearn.pipeline import make_pipeline

    from m5kit import CalendarMerger, LevelAggregator, PriceJoiner, make_m5

    data = make_m5(n_items=1, n_stores=8, n_days=100)
    features = make_pipeline(CalendarMerger(data.calendar), PriceJoiner(data.prices), LevelAggregator(3)).fit_transform(data.sales)
    history = features[features["sales"].notna()]  # no future rows: no forecast at fit time, predict forecasts

    watch = type("Watch", (_ProgressWatch, SchedulerPlugin), {})()
    dask_client.register_plugin(watch, name=_ProgressWatch.name)
    try:
        est = GroupedEstimator(slow_ridge(0.4), Windower(window=14), client=dask_client, store=tmp_path / "store")
        est.fit(history)
        est.predict(features)
        seen = dask_client.run_on_scheduler(_watched)
    finally:
        dask_client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.remove_plugin(_ProgressWatch.name))

    n = len(est.groups_)
    assert n == 8
    fits = [view[prefix] for prefix, view in seen if "fit" in prefix]  # (done, all) as each fit task finished
    assert len(fits) == n
    for finished, (done, total) in enumerate(fits, start=1):
        assert total >= n and done >= finished, f"after {finished} of {n} groups the panel said fit {done}/{total}"
    assert {prefix for prefix, _ in seen} == {"m5kit_fit", "m5kit_forecast"}
    stored = [view.get("m5kit_store", (0, 0))[0] for prefix, view in seen if prefix == "m5kit_fit"]
    assert stored == sorted(stored) and 2 <= stored[-1] < n  # the groups saved so far (not the last ones yet)


# --- a rerun of a finished run reuses the stored forecast ----------------------------------

def test_a_rerun_of_a_stored_fit_reuses_its_forecast_and_a_changed_input_forecasts_again(m5_features, tmp_path, monkeypatch):
    """Fitting again into the same store fits nothing and forecasts nothing: the forecast made at fit time was
    stored with each group's model, and predict returns it unchanged (from_store too). A group whose rows changed
    is forecast again; a store written without forecasts still loads and forecasts as before."""
    import pickle as pkl

    from m5kit.grouped import _tasks

    calls = []
    original = _tasks.forecast_group

    def counted(payload, horizon):
        calls.append(len(payload[0]))
        return original(payload, horizon)

    monkeypatch.setattr(_tasks, "forecast_group", counted)
    store = tmp_path / "store"
    expected = _ridge(store=store).fit(m5_features).predict(m5_features)
    assert calls == []  # made at fit time

    again = _ridge(store=store).fit(m5_features)
    assert sorted(again.resumed_) == ["CA_1", "CA_2"]
    pd.testing.assert_frame_equal(again.predict(m5_features), expected)
    loaded = GroupedEstimator.from_store(store)
    pd.testing.assert_frame_equal(loaded.predict(m5_features), expected)
    assert calls == [], "a rerun forecast stored groups again"

    changed = m5_features.copy()
    future = changed["sales"].isna() & (changed["group"] == "CA_2")
    changed.loc[future, "sell_price"] = changed.loc[future, "sell_price"] * 2
    forecast = again.predict(changed)
    assert len(calls) == 1  # CA_2 only
    pd.testing.assert_frame_equal(forecast[forecast["id"].str.contains("CA_1")], expected[expected["id"].str.contains("CA_1")])

    for path in (store / "groups").glob("*.pkl"):  # a store written before forecasts were kept
        payload = pkl.loads(path.read_bytes())
        assert payload.pop("extra")["horizon"] == 28
        path.write_bytes(pkl.dumps(payload))
    calls.clear()
    old = _ridge(store=store).fit(m5_features)
    assert sorted(old.resumed_) == ["CA_1", "CA_2"]
    pd.testing.assert_frame_equal(old.predict(m5_features), expected)
    assert len(calls) == 2


# --- pretrain, then fine-tune -------------------------------------------------------------------


@pytest.fixture(scope="module")
def series_features():
    """Level-12 groups (one series each) of 3 items in 2 stores."""
    from sklearn.pipeline import make_pipeline

    from m5kit import CalendarMerger, LevelAggregator, PriceJoiner, make_m5

    data = make_m5(n_items=3, n_stores=2, n_days=120, seed=1)
    return make_pipeline(CalendarMerger(data.calendar, horizon=HORIZON), PriceJoiner(data.prices),
                         LevelAggregator(12)).fit_transform(data.sales)


def _pretrained(**params) -> GroupedEstimator:
    reg = CNNLSTMRegressor(epochs=2, batch_size=32, validation_split=0.0, model__conv_filters=4, model__lstm_units=4)
    return GroupedEstimator(reg, Windower(window=14, horizon=HORIZON), horizon=HORIZON, pretrain_level=3, **params)


def test_pretraining_starts_each_series_from_its_stores_model(series_features):
    """With pretrain_level=3, one model per store is fitted on the store's series first, and each series' model
    starts from its own store's weights (a fine-tune at a learning rate of ~0 leaves them there)."""
    fitted = _pretrained(finetune_params={"epochs": 1, "model__learning_rate": 1e-9}).fit(series_features)
    assert sorted(fitted.pretrained_) == ["CA_1", "CA_2"]
    assert len(fitted.groups_) == 6
    stores = {"CA_1": fitted.pretrained_["CA_1"], "CA_2": fitted.pretrained_["CA_2"]}
    first = {k: [w.numpy() for w in v.model_.trainable_weights] for k, v in stores.items()}
    assert not np.allclose(first["CA_1"][0], first["CA_2"][0])
    for name in fitted.groups_:
        store = name[-4:]
        own = [w.numpy() for w in fitted.estimators_[name].model_.trainable_weights]
        assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(own, first[store])), name
    fresh = _pretrained().set_params(pretrain_level=None).fit(series_features)
    own = fresh.estimators_[fitted.groups_[0]].model_.trainable_weights[0].numpy()
    assert not np.allclose(own, first[fitted.groups_[0][-4:]][0], atol=1e-3)


def test_pretraining_gives_the_same_forecast_on_dask_as_in_process(series_features, dask_client):
    """Pretrain and fine-tune on the Dask cluster give the same models, so the same forecast, as in this process."""
    here = _pretrained(finetune_params={"epochs": 1}).fit(series_features)
    there = _pretrained(finetune_params={"epochs": 1}, client=dask_client).fit(series_features)
    pd.testing.assert_frame_equal(there.predict(series_features), here.predict(series_features))
    assert list(there.pretrained_) == list(here.pretrained_)


@pytest.mark.parametrize("params, problem", [
    ({"pretrain_level": 3, "estimator": "ridge"}, "pretrain_level needs an estimator that can start from a fitted one"),
    ({"pretrain_level": 13}, "pretrain_level: unknown level 13"),
    ({"pretrain_level": 3, "finetune_params": {"epoch": 3}}, "finetune_params: Invalid parameter epoch for estimator CNNLSTMRegressor: give"),
    ({"pretrain_level": None, "finetune_params": {"epochs": 3}}, "finetune_params apply to the fine-tune after pretraining"),
    ({"pretrain_level": 12, "level": 3}, "pretrain_level 12 does not contain the groups: group 'CA_1' has rows in 3"),
    ({"pretrain_level": 3, "level": None}, "pretrain_level 3: level 3 groups by store_id but the data has no column"),
])
def test_bad_pretraining_is_one_line_before_any_fit(series_features, frame, params, problem):
    """A pretrain level that does not contain the groups, an estimator that cannot start from another, or bad
    fine-tune parameters stop fit before any model is fitted, with one line."""
    from m5kit.errors import ParamError

    params = dict(params)
    if params.get("estimator") == "ridge":
        params["estimator"] = _ridge().estimator
    data = frame if params.get("level", 12) is None else series_features
    with pytest.raises(ParamError, match=re.escape(problem)) as info:
        _pretrained().set_params(**params).fit(data)
    assert "\n" not in str(info.value)


def test_train_checks_the_pretrain_level_before_anything_runs(tmp_path):
    """`m5kit train --pretrain-level` takes a level, for one CNN-LSTM per group; else one line and exit 1."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    result = CliRunner().invoke(app, ["train", "--pretrain-level", "13", "--out", str(tmp_path / "a")])
    assert result.exit_code == 1 and "unknown level 13" in result.output and "'auto' or 'none'" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["train", "--level", "12", "--pretrain-level", "3", "--seeds", "2", "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and "--pretrain-level works with one CNN-LSTM per group" in result.output
    assert not (tmp_path / "b").exists()
    result = CliRunner().invoke(app, ["train", "--level", "11", "--pretrain-level", "3", "--out", str(tmp_path / "c")])
    assert result.exit_code == 1 and "does not contain level 11's groups" in result.output
    assert "choose one of 1, 2, 4, 5, 6, 7, 10" in result.output
    assert not (tmp_path / "c").exists()


def test_a_pretrain_level_that_is_the_run_level_is_refused(tmp_path):
    """`--pretrain-level 3` at `--level 3` is one line naming the coarser levels (it pretrained and fine-tuned the
    same groups); at level 1, which has none, the line says 'none'."""
    from m5kit import make_m5, make_pipeline
    from m5kit.datasets import write_m5
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    data = make_m5(n_items=2, n_stores=2, n_days=120)
    with pytest.raises(ParamError, match=r"^--pretrain-level 3 is the run's own level, not a coarser one: choose one of 1, 2$"):
        prepare_run(tmp_path / "a", level=3, data_dir=write_m5(data, tmp_path / "m5"), pretrain_level=3)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ParamError, match=r"^pretrain_level 1 is the run's own level, not a coarser one: level 1 has none: use 'none'$"):
        make_pipeline(1, data.calendar, data.prices, pretrain_level=1)

def test_make_pipeline_fine_tunes_with_its_defaults_after_pretraining():
    """make_pipeline(pretrain_level=3) pretrains per store and fine-tunes with FINETUNE_PARAMS unless told otherwise."""
    from m5kit import make_m5, make_pipeline
    from m5kit.errors import ParamError
    from m5kit.pipeline import FINETUNE_PARAMS

    data = make_m5(n_items=2, n_stores=2, n_days=120)
    grouped = make_pipeline(12, data.calendar, data.prices, pretrain_level=3)[-1]
    assert grouped.pretrain_level == 3 and grouped.finetune_params == FINETUNE_PARAMS
    assert make_pipeline(12, data.calendar, data.prices, pretrain_level=3, finetune_params={"epochs": 1})[-1].finetune_params == {"epochs": 1}
    with pytest.raises(ParamError, match="pretrain_level works with one CNN-LSTM per group"):
        make_pipeline(12, data.calendar, data.prices, pretrain_level=3, seeds=2)
    with pytest.raises(ParamError, match=r"pretrain_level 3 does not contain level 10's groups .* choose one of 1, 4, 5$"):
        make_pipeline(10, data.calendar, data.prices, pretrain_level=3)


def test_make_pipeline_pretrains_one_cnn_lstm_per_series_by_default():
    """By default ("auto") a CNN-LSTM per item and store starts from its store's, per item and state from its state's."""
    from m5kit import make_m5, make_pipeline
    from m5kit.pipeline import FINETUNE_PARAMS

    data = make_m5(n_items=2, n_stores=2, n_days=120)

    def pretrain(level, **kwargs):
        grouped = make_pipeline(level, data.calendar, data.prices, **kwargs)[-1]
        return grouped.pretrain_level, grouped.finetune_params

    assert pretrain(12) == (3, FINETUNE_PARAMS) and pretrain(11) == (2, FINETUNE_PARAMS)
    # groups of many series, several models per group, boosters, or switched off: fresh weights
    assert pretrain(9) == pretrain(3) == pretrain(10) == (None, None)
    assert pretrain(12, seeds=2) == pretrain(12, strategy="blend") == pretrain(12, model="lightgbm") == (None, None)
    assert pretrain(12, pretrain_level=None) == pretrain(12, pretrain_level="none") == (None, None)
    from sklearn.linear_model import Ridge

    assert pretrain(12, estimator=Ridge()) == (None, None)  # it cannot start from another's weights


def test_train_pretrains_per_series_by_default_and_stores_the_level_it_chose(tmp_path):
    """`m5kit train --level 12` pretrains per store unless `--pretrain-level none`; a run made the other way is not resumed as this one."""
    import json
    from dataclasses import asdict

    from m5kit.datasets import make_m5, write_m5
    from m5kit.runs import prepare_run

    data_dir = write_m5(make_m5(n_items=3, n_stores=2, n_days=120), tmp_path / "m5")
    run = prepare_run(tmp_path / "a", level=12, data_dir=data_dir)
    assert run.config.pretrain_level == 3 and "pretrained at level 3" in run.summary()["strategy"]
    fresh = prepare_run(tmp_path / "b", level=12, data_dir=data_dir, pretrain_level="none")
    assert fresh.config.pretrain_level is None and "pretrained" not in fresh.summary()["strategy"]
    assert prepare_run(tmp_path / "c", level=9, data_dir=data_dir).config.pretrain_level is None

    # a folder of a run from fresh weights (as every run before this default; run.json without the key)
    config = {k: v for k, v in asdict(fresh.config).items() if k != "pretrain_level"}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run.json").write_text(json.dumps({"format": 1, "config": config}))
    with pytest.raises(StoreError, match=r"holds a different run \(pretrain_level=None\): resume it with --pretrain-level none"):
        prepare_run(tmp_path / "old", level=12, data_dir=data_dir)
    assert prepare_run(tmp_path / "old", level=12, data_dir=data_dir, pretrain_level="none").config == fresh.config


def test_a_setting_every_group_refuses_is_said_once(frame):
    """A bad setting of the estimator (epochs=0) fails every group with the same error: it is said once, with the
    groups, and the message says no group is fitted (it was repeated per group, then "the other 0 group(s) are
    fitted")."""
    from m5kit.grouped import GroupFitError

    with pytest.raises(GroupFitError) as info:
        _estimator().set_params(estimator__epochs=0).fit(frame)
    assert str(info.value) == ("2 group(s) failed to fit: WEEKEND, TUESDAY, each with ParamError: invalid epochs 0: "
                               "give a whole number of at least 1. No group is fitted; fix the cause and fit again")


def test_from_store_of_a_fit_killed_midway_is_one_store_error(m5_features, tmp_path, monkeypatch, dask_client):
    """A store whose fit was killed after its first group loaded without a word (the missing group only warned at
    predict): from_store now refuses it with one StoreError naming the folder and what is missing."""
    from m5kit.store import ModelStore

    store, real = tmp_path / "store", ModelStore.save_group

    def killed(self, name, *args, **kwargs):
        if (self.path / "groups").is_dir():
            raise KeyboardInterrupt
        return real(self, name, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ModelStore, "save_group", killed)
        with pytest.raises(KeyboardInterrupt):
            _ridge(store=store, client=dask_client).fit(m5_features)
    assert len(ModelStore(store).records()) == 1
    with pytest.raises(StoreError, match=rf"^the model store {re.escape(str(store))} is unfinished: its fit stopped "
                                         r"before the end \(1 group\(s\) stored\): run the same fit \(`m5kit train` "
                                         r"command\) again to finish it, then load it$"):
        GroupedEstimator.from_store(store)
    _ridge(store=store, client=dask_client).fit(m5_features)  # the fit again: the store loads
    assert sorted(GroupedEstimator.from_store(store).groups_) == ["CA_1", "CA_2"]
    (store / "groups" / "CA_2.json").unlink()  # a refit of CA_2 killed before its new record was written
    with pytest.raises(StoreError, match=rf"^the model store {re.escape(str(store))} is unfinished: 1 group\(s\) "
                                         r"its fit stored have no record \(CA_2\): run the same fit \(`m5kit train` "
                                         r"command\) again to finish it, then load it$"):
        GroupedEstimator.from_store(store)


def test_from_store_of_a_refit_killed_midway_is_one_store_error(m5_features, tmp_path, monkeypatch):
    """A finished store fitted again on changed data and killed after its first group loaded the new group beside
    the old one without a word (the old fit's manifest said finished): it is now refused as unfinished."""
    from m5kit.store import ModelStore

    store, real = tmp_path / "store", ModelStore.save_group
    _ridge(store=store).fit(m5_features)
    changed = m5_features.assign(sales=m5_features["sales"] * 2)
    saved = []

    def killed(self, name, *args, **kwargs):
        if saved:
            raise KeyboardInterrupt
        saved.append(name)
        return real(self, name, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ModelStore, "save_group", killed)
        with pytest.raises(KeyboardInterrupt):
            _ridge(store=store).fit(changed)
    with pytest.raises(StoreError, match=r"is unfinished: its fit stopped before the end \(2 group\(s\) stored\)"):
        GroupedEstimator.from_store(store)
    _ridge(store=store).fit(changed)  # the fit again: the store loads
    assert sorted(GroupedEstimator.from_store(store).groups_) == ["CA_1", "CA_2"]


def test_from_store_of_a_refit_that_failed_a_group_is_one_store_error(m5_features, tmp_path, monkeypatch):
    """A finished store fitted again on changed data, with one group's refit failing, loaded that group's model of the
    old data without a word: from_store now refuses it, naming the group; a group whose first fit failed (no model)
    is left out as before."""
    import warnings

    from m5kit.grouped import GroupFitError, _tasks
    from m5kit.grouped.base import SkippedGroupWarning

    real = _tasks.fit_group

    def fails(frame, *args, **kwargs):
        if str(frame["group"].iloc[0]) == "CA_2":
            raise RuntimeError("injected failure")
        return real(frame, *args, **kwargs)

    first, store = tmp_path / "first", tmp_path / "store"
    with monkeypatch.context() as patch:  # the first fit fails CA_2: the store holds CA_1 only, which loads
        patch.setattr(_tasks, "fit_group", fails)
        with pytest.raises(GroupFitError):
            _ridge(store=first).fit(m5_features)
    loaded = GroupedEstimator.from_store(first)
    assert loaded.groups_ == ["CA_1"]
    with pytest.warns(SkippedGroupWarning):
        assert set(loaded.predict(m5_features)["id"].str.contains("_CA_1_")) == {True}

    _ridge(store=store).fit(m5_features)
    with monkeypatch.context() as patch:
        patch.setattr(_tasks, "fit_group", fails)
        with pytest.raises(GroupFitError):
            _ridge(store=store).fit(m5_features.assign(sales=m5_features["sales"] * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(StoreError, match=rf"^the model store {re.escape(str(store))} is unfinished: its fit failed "
                                             r"to fit 1 group\(s\) \(CA_2\), which keep their model of the old data: "
                                             r"fix the cause and run the same fit \(`m5kit train` command\) again, "
                                             r"then load it$"):
            GroupedEstimator.from_store(store)
