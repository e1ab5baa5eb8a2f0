"""Training rules (m5kit.monitor): each fires on the failure it names, and stays quiet otherwise."""

from __future__ import annotations

import math

import numpy as np

from m5kit.monitor import MonitorRules, _Rules, check_forecast, summarize


def _run(losses, val_losses=None, ratios=None, **rules):
    state = _Rules(MonitorRules(**rules))
    for i, loss in enumerate(losses):
        state.epoch(i, loss, None if val_losses is None else val_losses[i], None if ratios is None else ratios[i])
    return {f["rule"]: f["epoch"] for f in state.findings}


def test_healthy_training_fires_nothing():
    """Falling training and validation losses with moderate updates: no finding."""
    assert _run([1.0, 0.8, 0.6, 0.5, 0.45], [1.1, 0.9, 0.7, 0.6, 0.55], [0.1, 0.05, 0.03, 0.02, 0.01]) == {}


def test_no_progress_fires_after_patience_epochs():
    """A flat training loss fires no_progress at the epoch the patience runs out (1-based)."""
    assert _run([1.0, 0.5, 0.5, 0.5, 0.5], patience=3) == {"no_progress": 5}


def test_overfit_fires_when_validation_rises_while_training_falls():
    """Validation loss up 3 epochs in a row while training loss falls: overfit."""
    found = _run([1.0, 0.8, 0.6, 0.4, 0.2], [1.0, 0.9, 1.0, 1.1, 1.2])
    assert found == {"overfit": 5}


def test_nan_loss_and_exploding_and_vanishing_updates():
    """NaN losses, huge and tiny weight updates each fire their own rule, once."""
    assert _run([1.0, math.nan, math.nan]) == {"nan_loss": 2}
    assert _run([1.0, 0.9, 0.8], ratios=[0.1, 5.0, 7.0]) == {"exploding_update": 2}
    assert _run([1.0, 0.9, 0.8], ratios=[1e-9, 1e-9, 1e-9]) == {"vanishing_update": 1}


def test_constant_forecast_only_when_history_varies():
    """A flat forecast of a varying history fires; a flat forecast of a flat history does not."""
    assert check_forecast(np.array([[0, 2, 1, 4]]), np.array([[1.5] * 28]))["rule"] == "constant_forecast"
    assert check_forecast(np.array([[0, 0, 0, 0]]), np.array([[0.0] * 28])) is None
    assert check_forecast(np.array([[0, 2, 1, 4]]), np.linspace(0, 2, 28)[None]) is None


def test_keras_callback_records_findings_during_a_real_fit():
    """The callback reads a real Keras fit: a learning rate of 1e4 makes the updates explode."""
    from m5kit.execution.quiet import import_backend
    from m5kit.monitor import TrainingMonitor

    keras = import_backend()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=0))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e4), loss="mse")
    monitor = TrainingMonitor()
    model.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[monitor])
    assert {f["rule"] for f in monitor.findings} & {"exploding_update", "nan_loss"}


def test_summary_is_one_line_per_rule():
    """The CLI summary counts groups per rule with the earliest epoch."""
    lines = summarize({"a": [{"rule": "overfit", "epoch": 4, "detail": ""}],
                       "b": [{"rule": "overfit", "epoch": 3, "detail": ""}], "c": []})
    assert lines == ["2 of 3 group(s) overfit (from epoch 3)"]


def test_summary_counts_a_group_once_when_several_of_its_fits_fire_a_rule():
    """A group of several fits (a blend's members, pretraining and fine-tuning) is one group in the count."""
    lines = summarize({"a": [{"rule": "overfit", "epoch": 5, "detail": ""}, {"rule": "overfit", "epoch": 4, "detail": ""}],
                       "b": []})
    assert lines == ["1 of 2 group(s) overfit (from epoch 4)"]


def test_no_progress_fires_on_a_flat_negative_loss():
    """A flat negative training loss (a Poisson loss can be below 0) fires no_progress like a positive one."""
    assert _run([-1.0, -2.0, -2.0, -2.0, -2.0], patience=3) == {"no_progress": 5}
    assert _run([-1.0, -2.0, -1.9999, -1.9998, -1.9997], patience=3) == {"no_progress": 5}  # slowly worse
    assert _run([-1.0, -2.0, -3.0, -4.0, -5.0], patience=3) == {}


def test_keras_callback_measures_the_trainable_weights_only():
    """A fit that does not train (learning rate 0) fires vanishing_update in a network with batch normalization (its
    moving statistics, which no update moves, counted as an update and hid the rule)."""
    from m5kit.execution.quiet import import_backend
    from m5kit.monitor import TrainingMonitor

    keras = import_backend()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed=0)),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=1))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    monitor = TrainingMonitor()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, callbacks=[monitor])
    assert [f["rule"] for f in monitor.findings] == ["vanishing_update"]


def test_keras_callback_measures_an_explosion_against_the_weights_before_it():
    """Weights blown from 1 to ~1e6 in one epoch, along their own direction: exploding_update fires and says ~1e6
    (the update was measured against the weights after it, a ratio never far above 1: it stayed quiet here)."""
    from m5kit.execution.quiet import import_backend
    from m5kit.monitor import TrainingMonitor

    keras = import_backend()
    X, y = np.ones((64, 1), dtype="float32"), np.full((64, 1), 1e6, dtype="float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False,
                                                                     kernel_initializer=keras.initializers.Constant(1.0))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    monitor = TrainingMonitor()
    model.fit(X, y, epochs=1, batch_size=64, verbose=0, callbacks=[monitor])
    found = {f["rule"]: f["detail"] for f in monitor.findings}
    assert list(found) == ["exploding_update"] and found["exploding_update"].startswith("weight update 1e+06 x ")
