"""Every private scikeras/Keras name m5kit's Keras engine uses still exists (m5kit.models._keras._private)."""

from __future__ import annotations

from m5kit.execution.threads import limit_threads

limit_threads()  # before Keras is imported

import importlib  # noqa: E402
import inspect  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from m5kit.models._keras import _private  # noqa: E402

VERSIONS = {"scikeras": _private.SCIKERAS_VERSION, "keras": _private.KERAS_VERSION}


def _lookup(dotted: str):
    """Import the longest module prefix of ``dotted`` and get the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize(("library", "name"), _private.PRIVATE_NAMES, ids=[n for _, n in _private.PRIVATE_NAMES])
def test_private_name_exists(library, name):
    """Each private name the engine reaches is still there in the installed release."""
    try:
        _lookup(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{name} is gone in {library} {VERSIONS[library]} ({error}): update m5kit/models/_keras/_private.py")


@pytest.mark.parametrize("hook", sorted(_private.WRAPPER_HOOKS))
def test_scikeras_hook_keeps_its_arguments(hook):
    """The scikeras methods the engine overrides still exist and take the arguments it relies on."""
    from scikeras.wrappers import BaseWrapper

    method = getattr(BaseWrapper, hook, None)
    if method is None:
        pytest.fail(f"scikeras.wrappers.BaseWrapper.{hook} is gone in scikeras {_private.SCIKERAS_VERSION}")
    params = tuple(inspect.signature(method).parameters)
    missing = [p for p in _private.WRAPPER_HOOKS[hook] if p not in params]
    assert not missing, f"BaseWrapper.{hook} lost {missing} in scikeras {_private.SCIKERAS_VERSION}: its arguments are now {params}"


def test_fit_sets_the_attributes_the_engine_reads():
    """scikeras' fit still sets the private attributes the engine reads (callbacks, seed, routed params)."""
    from m5kit.models import CNNLSTMRegressor

    X = np.random.default_rng(0).normal(size=(20, 6, 2)).astype("float32")
    reg = CNNLSTMRegressor(epochs=1, model__conv_filters=2, model__lstm_units=2, random_state=0).fit(X, X[:, -1, 0])
    for name, set_by in _private.FIT_ATTRIBUTES:
        assert hasattr(reg, name), f"{name} (set by {set_by}) is gone in scikeras {_private.SCIKERAS_VERSION}"
    assert _private.random_state(reg) == 0 and "model__conv_filters" in _private.user_params(reg)


def test_private_helpers_work():
    """The wrappers around private names do their job: routing, metadata, packing, epoch metrics."""
    from m5kit.models import CNNLSTMRegressor

    assert _private.route({"model__units": 3, "epochs": 2}, "model", pass_filter=set()) == {"units": 3}
    X = np.random.default_rng(0).normal(size=(20, 6, 2)).astype("float32")
    reg = CNNLSTMRegressor(epochs=1, model__conv_filters=2, model__lstm_units=2, random_state=0).fit(X, X[:, -1, 0])
    assert _private.metadata(reg)["X_shape_"] == (20, 6, 2)
    assert "optimizer" in _private.compile_kwargs(reg) and "batch_size" in _private.fit_kwargs(reg)
    back = _private.unpack_model(_private.pack_model(reg.model_))
    np.testing.assert_array_equal(back.predict_on_batch(X[:3]), reg.model_.predict_on_batch(X[:3]))
    logs = back.train_on_batch(X[:4], X[:4, -1, 0], return_dict=True)
    assert set(_private.metrics_result(back, logs)) == {"loss", "rmse"}
