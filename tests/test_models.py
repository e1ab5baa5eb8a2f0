"""Tests of the CNN-LSTM builder and CNNLSTMRegressor (tiny models, CPU, one thread)."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # before Keras is imported: one thread, deterministic

import importlib.util  # noqa: E402
import pickle  # noqa: E402
import re  # noqa: E402

import cloudpickle  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone  # noqa: E402

from _traces import traced_calls  # noqa: E402

from m5kit.errors import ParamError  # noqa: E402
from m5kit.models import SEED_PRESET, CNNLSTMRegressor, build_cnn_lstm  # noqa: E402
from m5kit.transformers.windows import Windower  # noqa: E402

TINY = dict(model__conv_filters=4, model__kernel_size=3, model__lstm_units=4, batch_size=32)


def _tiny(**params) -> CNNLSTMRegressor:
    return CNNLSTMRegressor(**{**TINY, "epochs": 2, "random_state": 0, **params})


def _noise(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Windows of shape (n, 14, 3) and a target that depends on them a little."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 14, 3)).astype("float32")
    return X, (0.5 * X[:, -1, 0] + rng.normal(scale=0.5, size=n)).astype("float32")


def _weekly_frame(n_series: int = 2, n_days: int = 210, future: int = 28) -> pd.DataFrame:
    """Long frame of series that follow a weekly cycle (plus noise), with 28 future days."""
    rng = np.random.default_rng(1)
    d = np.arange(1, n_days + future + 1)
    parts = []
    for s in range(n_series):
        sales = 5.0 + 3.0 * np.sin(2 * np.pi * d / 7 + s) + rng.normal(scale=0.3, size=d.size)
        parts.append(pd.DataFrame({
            "id": f"S{s}", "d": d.astype(np.int16),
            "sales": np.where(d > n_days, np.nan, np.maximum(sales, 0)).astype(np.float32),
            "wday": ((d - 1) % 7 + 1).astype(np.int8), "available": np.ones(d.size, np.int8),
        }))
    frame = pd.concat(parts, ignore_index=True)
    frame["id"] = frame["id"].astype("category")
    return frame


def test_fit_learns_weekly_pattern_better_than_the_mean():
    """A real fit on a weekly cycle predicts the held-out end of history far better than the mean."""
    frame = _weekly_frame()
    X, y = Windower(window=14).fit(frame).make_training_data(frame)
    cut = int(len(X) * 0.8)
    # Early stopping keeps the best epoch: the last one of a tiny model at this learning rate is noisy.
    reg = _tiny(epochs=12, model__learning_rate=0.02, patience=3).fit(X[:cut], y[:cut])
    mse_model = float(np.mean((reg.predict(X[cut:]) - y[cut:]) ** 2))
    mse_mean = float(np.mean((y[:cut].mean() - y[cut:]) ** 2))
    assert mse_model < 0.5 * mse_mean, (mse_model, mse_mean)


def test_same_random_state_gives_identical_models():
    """Two fits with the same random_state give identical weights; another seed differs."""
    X, y = _noise()
    a, b = _tiny(random_state=3).fit(X, y), _tiny(random_state=3).fit(X, y)
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = _tiny(random_state=4).fit(X, y)
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_reused_trainer_gives_the_same_model_as_a_fresh_one():
    """Training on the process' cached trainer is exactly training a freshly built model (dropout too)."""
    X, y = _noise()
    params = dict(random_state=5, model__dropout=0.3)
    fresh = _tiny(reuse_trainer=False, **params).fit(X, y)
    reused = [_tiny(**params).fit(X, y) for _ in range(2)]  # a miss that builds the trainer, then a hit
    for reg in reused:
        np.testing.assert_array_equal(reg.predict(X), fresh.predict(X))
        assert reg.history_["loss"] == fresh.history_["loss"]


def test_fitting_another_model_keeps_earlier_models_usable():
    """Fits clear Keras' session before building, so earlier fitted models keep predicting the same."""
    X, y = _noise()
    first = _tiny().fit(X, y)
    before = first.predict(X)
    _tiny(random_state=1).fit(X, y)
    _tiny(random_state=2).fit(X[:50], y[:50])
    np.testing.assert_array_equal(first.predict(X), before)
    np.testing.assert_allclose(first.model_.predict_on_batch(X[:5]).ravel(), before[:5], rtol=1e-5, atol=1e-6)


def test_pickle_and_cloudpickle_round_trip_predict_identically():
    """A fitted regressor survives pickle and cloudpickle (as Dask ships it) with identical predictions."""
    X, y = _noise()
    reg = _tiny(log_dir=None).fit(X, y)
    expected = reg.predict(X)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(reg))
        np.testing.assert_array_equal(back.predict(X), expected)
        np.testing.assert_array_equal(back.model_.predict_on_batch(X[:3]), reg.model_.predict_on_batch(X[:3]))
        assert back.get_params()["epochs"] == 2


def test_validation_is_the_end_of_the_samples():
    """The hold-out for early stopping is the last validation_split of the samples (the end of history)."""
    X, y = _noise(n=100)
    # precise_bn=False: the hold-out is scored with the statistics training left (precise BN resets them after)
    reg = _tiny(epochs=1, patience=None, validation_split=0.2, precise_bn=False).fit(X, y)
    pred = reg.model_.predict_on_batch(X[80:]).ravel()
    assert reg.history_["val_loss"][0] == pytest.approx(float(np.mean((pred - y[80:]) ** 2)), rel=1e-5)
    routed = _tiny(epochs=1, patience=None, fit__validation_split=0.5, precise_bn=False).fit(X, y)
    pred = routed.model_.predict_on_batch(X[50:]).ravel()
    assert routed.history_["val_loss"][0] == pytest.approx(float(np.mean((pred - y[50:]) ** 2)), rel=1e-5)


def test_early_stopping_stops_and_restores_best_weights():
    """With patience, training stops when val_loss stalls and keeps the best epoch's weights."""
    X, y = _noise(n=120)
    y = np.random.default_rng(9).normal(size=len(y)).astype("float32")  # nothing to learn
    reg = _tiny(epochs=40, patience=1, model__learning_rate=0.05, precise_bn=False).fit(X, y)
    losses = reg.history_["val_loss"]
    assert len(losses) < 40
    pred = reg.model_.predict_on_batch(X[108:]).ravel()
    assert float(np.mean((pred - y[108:]) ** 2)) == pytest.approx(min(losses), rel=1e-5)


def test_too_few_samples_train_without_hold_out():
    """With too few samples for a hold-out, the fit trains on all of them and stops on the training loss."""
    X, y = _noise(n=5)
    reg = _tiny(validation_split=0.9).fit(X, y)  # 5 * (1 - 0.9) rounds down to no training sample
    assert "val_loss" not in reg.history_ and len(reg.history_["loss"]) == 2


def test_log_dir_writes_epoch_logs(tmp_path):
    """log_dir makes the fit log its epochs there (TensorBoard events, or history.csv without tensorboard)."""
    X, y = _noise(n=60)
    _tiny(log_dir=tmp_path / "group_A").fit(X, y)
    if importlib.util.find_spec("tensorboard") is not None:
        assert list((tmp_path / "group_A").rglob("events.out.tfevents*"))
    else:
        history = pd.read_csv(tmp_path / "group_A" / "history.csv")
        assert list(history["epoch"]) == [0, 1] and "val_loss" in history.columns


def test_multi_day_targets_give_one_output_per_day():
    """A y of shape (n, h) builds a model with h outputs and predicts (n, h)."""
    X, y = _noise()
    Y = np.stack([y, y * 2, y * 3], axis=1)
    reg = _tiny().fit(X, Y)
    assert reg.model_.output_shape == (None, 3) and reg.predict(X).shape == (len(X), 3)


def test_seed_preset_rebuilds_the_seed_projects_sizes():
    """SEED_PRESET gives Conv1D 64/32 (kernel 7) and LSTM 256/128/64, each LSTM followed by BatchNormalization."""
    params = {k.removeprefix("model__"): v for k, v in SEED_PRESET.items()}
    model = build_cnn_lstm(meta={"X_shape_": (10, 28, 14), "n_outputs_": 1}, **params)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [c.filters for c in convs] == [64, 32] and all(c.kernel_size == (7,) for c in convs)
    assert [layer.units for layer in lstms] == [256, 128, 64]
    names = [type(layer).__name__ for layer in model.layers]
    assert names.count("BatchNormalization") == 3 and names.count("MaxPooling1D") == 2
    assert CNNLSTMRegressor(**SEED_PRESET).get_params()["model__lstm_units"] == (256, 128, 64)


def test_builder_needs_meta_and_valid_sizes():
    """The builder says clearly when it has no input shape or gets a nonsensical layer size."""
    with pytest.raises(ParamError, match="X_shape_"):
        build_cnn_lstm()
    with pytest.raises(ParamError, match="lstm_units"):
        build_cnn_lstm(lstm_units=(8, -1), meta={"X_shape_": (1, 28, 3)})
    with pytest.raises(ParamError, match="patience"):
        _tiny(patience=-1).fit(*_noise(n=20))


@pytest.mark.parametrize("bad", [-1, -0.5, 0, "abc", float("nan")])
def test_builder_refuses_a_learning_rate_that_is_not_a_positive_number(bad):
    """A learning rate <= 0 or not a number is one ParamError line (-0.5 trained uphill; -1 got Keras' "should be float")."""
    with pytest.raises(ParamError, match=r"invalid learning_rate .*: give a learning rate > 0"):
        build_cnn_lstm(learning_rate=bad, meta={"X_shape_": (1, 28, 3)})


def test_builder_takes_a_whole_number_learning_rate():
    """`--param learning_rate=1` arrives as the int 1, which Keras' Adam refused ("should be float")."""
    model = build_cnn_lstm(learning_rate=1, conv_filters=0, lstm_units=2, meta={"X_shape_": (1, 14, 3)})
    assert float(model.optimizer.learning_rate) == 1.0


def test_windower_and_regressor_forecast_recursively():
    """A fitted regressor and its Windower give a 28-day forecast per series, non-negative, in units."""
    frame = _weekly_frame()
    w = Windower(window=14).fit(frame)
    reg = _tiny(epochs=3, model__learning_rate=0.02).fit(*w.make_training_data(frame))
    out = w.recursive_predict(frame, reg, horizon=28)
    assert len(out) == 56 and out["forecast"].notna().all() and (out["forecast"] >= 0).all()
    assert out["forecast"].mean() == pytest.approx(5.0, rel=0.6)


def test_clone_of_fitted_regressor_is_unfitted_with_same_params(tmp_path):
    """clone drops the fitted model but keeps every parameter (as the GroupedEstimator needs)."""
    reg = _tiny(log_dir=tmp_path / "g1", patience=2).fit(*_noise(n=40))
    copy = clone(reg).set_params(random_state=7)
    assert not hasattr(copy, "model_")
    assert copy.get_params()["log_dir"] == tmp_path / "g1" and copy.patience == 2 and copy.random_state == 7


@pytest.mark.slow
def test_memory_stays_bounded_over_many_fits():
    """Twenty fits in one process (as on a Dask worker) do not grow its memory without bound."""
    psutil = pytest.importorskip("psutil")
    X, y = _noise()
    process = psutil.Process()
    for _ in range(5):
        _tiny().fit(X, y).model_.predict_on_batch(X[:1])
    start = process.memory_info().rss
    for i in range(20):
        _tiny(random_state=i).fit(X, y).model_.predict_on_batch(X[:1])
    grown = (process.memory_info().rss - start) / 2**20
    assert grown < 30, f"RSS grew {grown:.0f} MB over 20 fits"


def test_fit_ignores_other_threads_using_global_random():
    """Another thread drawing from Python's random (as a Dask worker's event loop does) never changes the model."""
    import random
    import threading

    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 14, 3)).astype("float32")
    y = X[:, -1, 0]

    def fit():
        reg = CNNLSTMRegressor(epochs=2, batch_size=32, model__conv_filters=4, model__lstm_units=4, random_state=5)
        return reg.fit(X, y).predict(X)

    quiet = fit()
    stop = threading.Event()

    def noise():
        while not stop.wait(0.0002):  # thousands of draws during the fit, without holding the GIL the whole time
            random.random()

    thread = threading.Thread(target=noise)
    thread.start()
    try:
        noisy = fit()
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(quiet, noisy)


def test_later_fits_of_the_same_network_trace_nothing(monkeypatch):
    """After the first fit of a network, fits of the same shape (other seeds, other data) reuse its traced steps.

    A trace runs the layers' Python ``call`` on graph tensors; executing a
    traced function does not. Setting TensorFlow's global seed or clearing
    Keras' session on every fit once made each fit trace three times (~1 CPU-s).
    """
    X, y = _noise(n=90)  # 90 = 2 full batches of 32 and a short one of 26 (less the hold-out)
    first = _tiny(random_state=1).fit(X, y)
    with first.batch_predictor() as predict:  # as the first group's recursive forecast does (order-independent test)
        predict(X[:5])
    X2, y2 = _noise(n=90, seed=7)
    with traced_calls(monkeypatch) as traced:
        reg = _tiny(random_state=2, epochs=3).fit(X2, y2)
        with reg.batch_predictor() as predict:
            fast = predict(X2[:5])
    assert traced == []
    assert len(reg.history_["loss"]) == 3
    np.testing.assert_allclose(fast, reg.model_.predict_on_batch(X2[:5]), rtol=1e-6)


def test_batch_predictor_predicts_like_the_model_after_a_pickle_round_trip():
    """The cached network predicts with the fitted (or unpickled) model's weights, not another model's."""
    X, y = _noise()
    a, b = _tiny(random_state=1).fit(X, y), _tiny(random_state=2).fit(X, y)
    restored = pickle.loads(pickle.dumps(a))
    for reg in (a, b, restored, a):
        with reg.batch_predictor() as predict:
            np.testing.assert_allclose(predict(X[:7]), reg.model_.predict_on_batch(X[:7]), rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="not fitted"):
        with _tiny().batch_predictor():
            pass


def test_unpickled_regressor_loads_its_model_only_when_used(tmp_path):
    """A regressor out of a pickle (as Dask returns fitted groups) keeps its model as .keras bytes until used."""
    X, y = _noise()
    reg = _tiny(random_state=1).fit(X, y)
    expected = reg.predict(X[:9])
    restored = pickle.loads(pickle.dumps(reg))
    assert "model_" not in vars(restored)
    packed = restored.packed_model()
    assert packed[:2] == b"PK" and "model_" not in vars(restored)  # a .keras file is a zip
    path = tmp_path / "m.keras"
    path.write_bytes(packed)
    np.testing.assert_allclose(keras.saving.load_model(path).predict_on_batch(X[:9]).ravel(), expected, rtol=1e-5)
    np.testing.assert_array_equal(restored.predict(X[:9]), expected)  # first use loads it
    assert "model_" in vars(restored) and restored.packed_model()[:2] == b"PK"
    refit = pickle.loads(pickle.dumps(reg)).fit(X, y)
    assert "_packed_model" not in vars(refit)


def _bn_input_stats(reg: CNNLSTMRegressor, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the (only) BatchNormalization layer's inputs over ``X``, in inference mode."""
    bn = next(layer for layer in reg.model_.layers if isinstance(layer, keras.layers.BatchNormalization))
    acts = np.asarray(keras.Model(reg.model_.input, bn.input)(X, training=False), dtype=np.float64)
    return acts.mean(axis=0), acts.var(axis=0)


def test_precise_bn_sets_the_exact_statistics_of_the_training_windows():
    """After fit, the BN layer predicts with the statistics of all training windows, not of the last batches."""
    X, y = _noise(400)
    train = X[: int(len(X) * 0.9)]  # the engine holds the last 10% out
    precise = _tiny(epochs=3).fit(X, y)
    mean, var = _bn_input_stats(precise, train)
    bn = next(layer for layer in precise.model_.layers if isinstance(layer, keras.layers.BatchNormalization))
    np.testing.assert_allclose(np.asarray(bn.moving_mean), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), var, rtol=1e-3, atol=1e-5)

    moving = _tiny(epochs=3, precise_bn=False).fit(X, y)
    mean, _ = _bn_input_stats(moving, train)
    bn = next(layer for layer in moving.model_.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert not np.allclose(np.asarray(bn.moving_mean), mean, rtol=1e-4, atol=1e-5)


def test_precise_bn_traces_nothing_on_a_second_fit(monkeypatch):
    """The statistics pass runs on the cached trainer's probe: a second fit of the same network traces nothing."""
    X, y = _noise()
    with traced_calls(monkeypatch, keras.layers.BatchNormalization) as traces:
        for seed in (0, 7):  # a group's fit and forecast, then the next group's
            before = len(traces)
            reg = _tiny(random_state=seed).fit(X, y)
            with reg.batch_predictor() as predict:
                predict(X[:5])
    assert traces[before:] == [], traces


def test_output_bias_starts_a_short_fit_at_the_level_of_its_targets():
    """With targets far from zero (a group selling ~20 a day), one epoch starting from the mean target forecasts
    near that level; starting from a zero bias, the same epoch is still far below it."""
    X, y = _noise(300)
    y = (y + 20.0).astype("float32")
    started = _tiny(epochs=1, patience=None).fit(X, y)
    zero = _tiny(epochs=1, patience=None, output_bias=False).fit(X, y)
    assert abs(started.predict(X).mean() - y.mean()) < 1.0
    assert zero.predict(X).mean() < y.mean() - 5.0
    # a direct (multi-output) head gets one bias per output
    Y = np.stack([y, 2 * y], axis=1)
    direct = _tiny(epochs=1, patience=None).fit(X, Y)
    np.testing.assert_allclose(direct.predict(X).mean(axis=0), Y.mean(axis=0), rtol=0.05)


def test_a_first_fit_with_warm_start_starts_at_the_level_of_its_targets_too():
    """warm_start=True (and partial_fit) on an unfitted regressor starts the output bias at the mean target, as a
    plain fit does (it started at zero: another model); a second warm fit continues without resetting it."""
    X, y = _noise(300)
    y = (y + 20.0).astype("float32")
    plain = _tiny(epochs=1, patience=None).fit(X, y)
    warm = _tiny(epochs=1, patience=None, warm_start=True).fit(X, y)
    np.testing.assert_array_equal(warm.predict(X), plain.predict(X))
    np.testing.assert_array_equal(_tiny(epochs=1, patience=None).partial_fit(X, y).predict(X), plain.predict(X))
    bias = warm.model_.layers[-1].get_weights()[-1].copy()
    warm.fit(X, (y + 100.0).astype("float32"))  # continued: the bias moves by training, not to the new mean
    assert abs(float(warm.model_.layers[-1].get_weights()[-1][0]) - float(bias[0])) < 10.0


def test_average_last_fits_the_mean_of_the_last_epochs_weights():
    """average_last=0.5 over 4 epochs: the fitted weights are the mean of the weights after epochs 3 and 4 of
    the same training (fits with the same seed train alike); 0 keeps epoch 4's."""
    X, y = _noise(300)
    same = {"patience": None, "precise_bn": False}
    three = _tiny(epochs=3, average_last=0, **same).fit(X, y).model_.get_weights()
    four = _tiny(epochs=4, average_last=0, **same).fit(X, y).model_.get_weights()
    averaged = _tiny(epochs=4, average_last=0.5, **same).fit(X, y)
    assert any(not np.allclose(a, b) for a, b in zip(three, four))
    for got, a, b in zip(averaged.model_.get_weights(), three, four):
        np.testing.assert_allclose(got, (a.astype(np.float64) + b) / 2, rtol=1e-5, atol=1e-6)
    # its forecasts are those of the averaged network, after a save and load too
    restored = pickle.loads(pickle.dumps(averaged))
    np.testing.assert_allclose(restored.predict(X[:20]), averaged.predict(X[:20]), rtol=1e-6)


@pytest.mark.parametrize("param, value", [("epochs", 0), ("epochs", -1), ("epochs", 1.5), ("epochs", "2"),
                                          ("batch_size", 0), ("batch_size", -5), ("batch_size", 2.5)])
def test_bad_epochs_or_batch_size_is_one_param_error_before_training(param, value):
    """epochs=0 or -1 fitted an untrained network silently, 1.5 and "2" failed in the training loop with a TypeError,
    batch_size=-5 failed inside TensorFlow: each is one ParamError naming the value (None and -1 stay valid batch sizes)."""
    X, y = _noise(50)
    with pytest.raises(ParamError, match=rf"^invalid {param} {re.escape(repr(value))}: give a whole number of at least 1$"):
        _tiny(**{param: value}).fit(X, y)
    assert _tiny(epochs=1, batch_size=-1).fit(X, y).predict(X[:2]).shape == (2,)


@pytest.mark.parametrize("param, value", [("precise_bn", "False"), ("output_bias", "no"), ("monitor", "off"),
                                          ("shuffle", None), ("run_eagerly", "False")])
def test_a_switch_other_than_true_or_false_is_one_param_error_before_training(param, value):
    """precise_bn='False' (what --param precise_bn=False gave before it read Python's spelling) was read as true and did the
    opposite without a word; each on/off parameter is now one ParamError naming the value."""
    X, y = _noise(50)
    with pytest.raises(ParamError, match=rf"^invalid {param} {re.escape(repr(value))}: give False or True$"):
        _tiny(**{param: value}).fit(X, y)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", float("nan")])
def test_average_last_outside_zero_to_one_is_refused_before_training(bad):
    X, y = _noise(50)
    with pytest.raises(ParamError, match="average_last"):
        _tiny(average_last=bad).fit(X, y)


def test_precise_bn_one_pass_and_layer_by_layer_agree(monkeypatch):
    """Up to 4,096 samples the statistics come from one pass; beyond, one pass per layer: the same statistics."""
    from m5kit.models._keras import precise_bn

    X, y = _noise(300)
    reg = _tiny(epochs=1, model__lstm_units=(4, 4), precise_bn=False).fit(X, y)
    layers = [layer for layer in reg.model_.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert precise_bn._whole_batch_probe(reg.model_, None) is not None  # the one-pass graph can be built
    assert precise_bn.recalibrate_batch_norm(reg.model_, X) == len(layers) == 2
    one_pass = [(np.asarray(b.moving_mean), np.asarray(b.moving_variance)) for b in layers]
    monkeypatch.setattr(precise_bn, "_BATCH", 64)  # 300 samples: more than one batch, so a pass per layer
    assert precise_bn.recalibrate_batch_norm(reg.model_, X) == 2
    for (mean, var), layer in zip(one_pass, layers):
        np.testing.assert_allclose(np.asarray(layer.moving_mean), mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(layer.moving_variance), var, rtol=1e-3, atol=1e-5)


def test_init_weights_start_a_fit_from_another_network_and_misfits_start_fresh():
    """CNNLSTMRegressor(init_weights=...) starts from those weights (a fit at a learning rate of ~0 keeps them);
    weights of another shape (another horizon) are ignored and the fit starts fresh; a non-list is one error line."""
    from m5kit.errors import ParamError
    from m5kit.models import CNNLSTMRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 14, 3)).astype("float32")
    y2 = np.stack([X[:, -1, 0], X[:, -2, 0]], axis=1)
    small = {"model__conv_filters": 4, "model__lstm_units": 4, "validation_split": 0.0, "random_state": 0}
    parent = CNNLSTMRegressor(epochs=2, **small).fit(X, y2)
    weights = parent.model_.get_weights()
    child = CNNLSTMRegressor(epochs=1, model__learning_rate=1e-9, **{**small, "random_state": 5},
                             **parent.init_params_from(parent)).fit(X, y2)
    assert all(np.allclose(a.numpy(), b.numpy(), atol=1e-5)
               for a, b in zip(child.model_.trainable_weights, parent.model_.trainable_weights))
    other = CNNLSTMRegressor(epochs=1, init_weights=weights, **small).fit(X, X[:, -1, 0])  # one output, not two
    assert other.model_.get_weights()[0].shape == weights[0].shape
    assert not np.allclose(other.model_.get_weights()[-1], weights[-1][:1])
    with pytest.raises(ParamError, match="init_weights must be a list of arrays"):
        CNNLSTMRegressor(epochs=1, init_weights="weights.keras", **small).fit(X, y2)


def test_an_unknown_network_parameter_is_one_param_error_before_training():
    """model__bogus=3 (a typo of a builder argument) was a bare TypeError from deep in the fit; now one ParamError
    naming it and the builder's parameters."""
    X, y = _noise(50)
    with pytest.raises(ParamError, match=r"^unknown network parameter model__bogus: build_cnn_lstm takes .*learning_rate"):
        _tiny(model__bogus=3).fit(X, y)
    assert _tiny(model__learning_rate=0.01).fit(X, y).predict(X[:2]).shape == (2,)


def test_a_fit_on_targets_that_are_all_zero_forecasts_zero():
    """A series that sold nothing in its training windows (priced, never sold: an item before its first sale) was
    forecast at its parent's level when fine-tuned from it (~1 unit a day on the real store); now 0, as a GBM's."""
    X, y = _noise(128)
    parent = _tiny(epochs=1, patience=None).fit(X, np.stack([y + 5.0, y + 5.0], axis=1).astype("float32"))
    child = _tiny(epochs=2, patience=None, **parent.init_params_from(parent)).fit(X, np.zeros((len(X), 2), "float32"))
    np.testing.assert_array_equal(child.predict(X), 0.0)
    with child.batch_predictor() as predict:  # the path of Windower.recursive_predict
        np.testing.assert_array_equal(np.asarray(predict(X[:4])), 0.0)
    np.testing.assert_array_equal(_tiny(epochs=1).fit(X, np.zeros(len(X), "float32")).predict(X), 0.0)
    assert parent.predict(X).mean() > 1.0  # a model of other targets is untouched


def test_a_partial_fit_on_a_batch_of_zeros_keeps_what_the_model_learnt():
    """One partial_fit (or warm fit) step on a batch whose targets are all zero (a few days without a sale) set the
    output layer to zero: a model that forecast ~5 forecast 0 for every input; now it trains on the batch as on any."""
    X, y = _noise(64)
    zeros = np.zeros((8, 2), "float32")
    model = _tiny(epochs=3, patience=None).fit(X, np.stack([y + 5.0, y + 5.0], axis=1).astype("float32"))
    assert model.partial_fit(X[:8], zeros).predict(X).mean() > 1.0
    warm = _tiny(epochs=3, patience=None).fit(X, np.stack([y + 5.0, y + 5.0], axis=1).astype("float32"))
    assert warm.set_params(warm_start=True, epochs=1).fit(X[:8], zeros).predict(X).mean() > 1.0
