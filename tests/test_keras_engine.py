"""Tests of m5kit's Keras engine with builders other than the CNN-LSTM, and of BaseKerasClassifier."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # before Keras is imported: one thread, deterministic

import pickle  # noqa: E402

import cloudpickle  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _traces import traced_calls  # noqa: E402
from sklearn.base import clone, is_classifier  # noqa: E402

from m5kit.models import BaseKerasClassifier, CNNLSTMRegressor  # noqa: E402
from m5kit.models._keras.cache import network_key  # noqa: E402
from m5kit.models.networks import Initializers  # noqa: E402


def build_conv_dense(filters=3, units=5, seed=None, meta=None, compile_kwargs=None):
    """A tiny seeded Conv1D + Dense regressor; its layers keep Keras' auto-numbered names on purpose."""
    init = Initializers(seed)
    inputs = keras.Input(meta["X_shape_"][1:])
    x = keras.layers.Conv1D(filters, 3, activation="relu", kernel_initializer=init.glorot())(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(units, activation="relu", kernel_initializer=init.glorot())(x)
    x = keras.layers.Dropout(0.2, seed=init.seed())(x)
    model = keras.Model(inputs, keras.layers.Dense(meta["n_outputs_"], kernel_initializer=init.glorot())(x))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def build_unseeded(units=5, meta=None):
    """A builder without a seed argument (the engine seeds it through global seeds)."""
    inputs = keras.Input(meta["X_shape_"][1:])
    x = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    return model


def build_classifier(units=6, seed=None, meta=None):
    """A tiny seeded softmax classifier over meta['n_classes_'] classes."""
    init = Initializers(seed)
    inputs = keras.Input(meta["X_shape_"][1:], name="x")
    x = keras.layers.Flatten(name="flat")(inputs)
    x = keras.layers.Dense(units, activation="relu", kernel_initializer=init.glorot(), name="hidden")(x)
    out = keras.layers.Dense(meta["n_classes_"], activation="softmax", kernel_initializer=init.glorot(), name="out")(x)
    model = keras.Model(inputs, out, name="tiny_classifier")
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model




def _regressor(builder=build_conv_dense, **params):
    return CNNLSTMRegressor(builder, **{"epochs": 2, "batch_size": 32, "random_state": 0, **params})


def _noise(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12, 2)).astype("float32")
    return X, (X[:, -1, 0] + rng.normal(scale=0.3, size=n)).astype("float32")


def _labelled(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10, 2)).astype("float32")
    labels = np.array(["down", "flat", "up"])
    return X, labels[np.digitize(X[:, -1, 0], [-0.4, 0.4])]


def test_second_fit_of_another_seeded_builder_traces_nothing(monkeypatch):
    """Any builder with a seed argument (not only the CNN-LSTM) reuses the traced steps of the first fit."""
    X, y = _noise()
    first = _regressor(random_state=1).fit(X, y)
    with first.batch_predictor() as predict:  # as the first group's recursive forecast does
        predict(X[:5])
    X2, y2 = _noise(seed=7)
    with traced_calls(monkeypatch) as traced:
        reg = _regressor(random_state=2, epochs=3).fit(X2, y2)
        with reg.batch_predictor() as predict:
            fast = predict(X2[:5])
    assert traced == [] and len(reg.history_["loss"]) == 3
    np.testing.assert_allclose(fast, reg.model_.predict_on_batch(X2[:5]), rtol=1e-6)


def test_cache_key_ignores_auto_numbered_layer_names():
    """Two builds of the same network share one cache key although Keras numbered their layers differently."""
    meta = {"X_shape_": (10, 12, 2), "n_outputs_": 1}
    a, b = build_conv_dense(seed=1, meta=meta), build_conv_dense(seed=2, meta=meta)
    assert [layer.name for layer in a.layers] != [layer.name for layer in b.layers]
    assert network_key(a) == network_key(b)
    assert network_key(a) != network_key(build_conv_dense(units=6, seed=1, meta=meta))


def test_seeded_builder_gives_the_same_model_cached_or_not():
    """Training on the cached network is exactly training the fresh model, for any seeded builder."""
    X, y = _noise()
    fresh = _regressor(random_state=4, reuse_trainer=False).fit(X, y)
    for reg in (_regressor(random_state=4).fit(X, y), _regressor(random_state=4).fit(X, y)):
        np.testing.assert_array_equal(reg.predict(X), fresh.predict(X))
        assert reg.history_["loss"] == fresh.history_["loss"]


def test_builder_without_seed_is_seeded_through_global_seeds():
    """A builder without a seed argument still trains, and the same random_state gives the same model."""
    X, y = _noise()
    a, b = _regressor(build_unseeded, random_state=3).fit(X, y), _regressor(build_unseeded, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    with a.batch_predictor() as predict:
        np.testing.assert_allclose(predict(X[:4]), a.model_.predict_on_batch(X[:4]), rtol=1e-6)


def test_pickling_keeps_the_live_estimator_loaded():
    """Pickling a fitted estimator (as Dask does to send it) leaves its own model in place."""
    X, y = _noise()
    reg = _regressor().fit(X, y)
    model = reg.model_
    pickle.dumps(reg)
    assert vars(reg)["model_"] is model and "_packed_model" not in vars(reg)


def test_classifier_fits_predicts_and_scores_labels_of_any_type():
    """BaseKerasClassifier learns string labels: predict gives labels, predict_proba one column per class."""
    X, y = _labelled()
    clf = BaseKerasClassifier(build_classifier, epochs=15, batch_size=16, random_state=0).fit(X, y)
    assert is_classifier(clf) and list(clf.classes_) == ["down", "flat", "up"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(X)) <= {"down", "flat", "up"}
    assert clf.score(X, y) > 0.6
    assert "val_loss" in clf.history_ and "val_rmse" not in clf.history_


def test_classifier_is_seeded_cloneable_and_picklable():
    """Same seed, same classifier; clone is unfitted with the same params; pickles predict identically."""
    X, y = _labelled()
    clf = BaseKerasClassifier(build_classifier, epochs=2, random_state=5, model__units=4).fit(X, y)
    twin = BaseKerasClassifier(build_classifier, epochs=2, random_state=5, model__units=4).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), twin.predict_proba(X))
    copy = clone(clf)
    assert not hasattr(copy, "model_") and copy.get_params()["model__units"] == 4
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(clf))
        assert "model_" not in vars(back)
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))
        np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_model_store_api_on_every_engine_estimator():
    """Regressors and classifiers both offer store_kind, packed_model, without_model and set_packed_model."""
    X, y = _labelled()
    clf = BaseKerasClassifier(build_classifier, epochs=1, random_state=0)
    assert clf.store_kind == "keras" == CNNLSTMRegressor.store_kind and clf.packed_model() is None
    clf.fit(X, y)
    packed = clf.packed_model()
    assert packed[:2] == b"PK"
    shell = clf.without_model()
    assert "model_" not in vars(shell) and list(shell.classes_) == list(clf.classes_)
    shell.set_packed_model(packed)
    np.testing.assert_array_equal(shell.predict_proba(X[:5]), clf.predict_proba(X[:5]))


def test_bad_patience_is_a_clear_error():
    """A negative patience fails at fit with a message naming the parameter."""
    from m5kit.errors import ParamError

    with pytest.raises(ParamError, match="patience"):
        BaseKerasClassifier(build_classifier, patience=-2).fit(*_labelled(n=20))
