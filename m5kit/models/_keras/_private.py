"""Every private scikeras and Keras name the engine uses, and nothing else.

scikeras 0.13 and Keras 3 keep some of what a fast training loop needs
behind private names. The rest of :mod:`m5kit.models` imports them from here
only, so a release that moves one breaks this module (and
``tests/test_keras_private.py``, which names the missing name and the
version), not the engine. ``PRIVATE_NAMES`` lists them all.

Besides these, the engine overrides two documented-by-source hooks of
scikeras' ``BaseWrapper``: ``_build_keras_model`` and ``_fit_keras_model``
(``WRAPPER_HOOKS``, checked by the same test).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from scikeras import __version__ as SCIKERAS_VERSION  # noqa: N812
from scikeras._saving_utils import pack_keras_model, unpack_keras_model
from scikeras._utils import route_params
from scikeras.utils.random_state import tensorflow_random_state
from scikeras.wrappers import BaseWrapper

__all__ = [
    "KERAS_VERSION", "PRIVATE_NAMES", "SCIKERAS_VERSION", "WRAPPER_HOOKS", "compile_kwargs", "fit_callbacks",
    "fit_kwargs", "metadata", "metrics_result", "pack_model", "random_state", "route", "scikeras_build",
    "scikeras_fit_keras_model", "set_fit_callbacks", "tensorflow_random_state", "unpack_model", "user_params",
]

KERAS_VERSION = keras.__version__

#: (library, dotted name) of every private name reached below; the test imports or looks up each.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("scikeras", "scikeras._saving_utils.pack_keras_model"),
    ("scikeras", "scikeras._saving_utils.unpack_keras_model"),
    ("scikeras", "scikeras._utils.route_params"),
    ("scikeras", "scikeras.utils.random_state.tensorflow_random_state"),
    ("scikeras", "scikeras.wrappers.BaseWrapper._fit_kwargs"),
    ("scikeras", "scikeras.wrappers.BaseWrapper._get_metadata"),
    ("scikeras", "scikeras.wrappers.BaseWrapper._get_compile_kwargs"),
    ("keras", "keras.Model._get_metrics_result_or_logs"),
)

#: Instance attributes scikeras' ``fit`` sets and the engine reads: ``(name, set by)``.
FIT_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("_fit_callbacks", "BaseWrapper._initialize_callbacks"),
    ("_random_state", "BaseWrapper._fit"),
    ("_user_params", "BaseWrapper.__init__ (routed **kwargs)"),
)

#: scikeras ``BaseWrapper`` methods the engine overrides, with the arguments it relies on.
WRAPPER_HOOKS: dict[str, tuple[str, ...]] = {
    "_build_keras_model": ("self",),
    "_fit_keras_model": ("self", "X", "y", "sample_weight", "warm_start", "epochs", "initial_epoch"),
}


def route(params: dict[str, Any], destination: str, pass_filter, strict: bool = False) -> dict[str, Any]:
    """scikeras' routing of ``destination__*`` parameters (``model__units`` -> ``units``)."""
    return route_params(params, destination=destination, pass_filter=pass_filter, strict=strict)


def pack_model(model: keras.Model) -> np.ndarray:
    """A Keras model as the bytes of a ``.keras`` file (as scikeras pickles models)."""
    return pack_keras_model(model)[1][0]


def unpack_model(packed) -> keras.Model:
    """Load a model packed by :func:`pack_model`, compiled."""
    return unpack_keras_model(np.asarray(packed))


def metrics_result(model: keras.Model, logs) -> dict[str, Any]:
    """The epoch's metrics as ``Model.fit`` reports them (from the model's metrics, else the last logs)."""
    return dict(model._get_metrics_result_or_logs(logs))


def fit_kwargs(estimator) -> set[str]:
    """Parameters scikeras routes to ``Model.fit``."""
    return estimator._fit_kwargs


def metadata(estimator) -> dict[str, Any]:
    """scikeras' fit metadata (``X_shape_``, ``n_outputs_``, ``n_classes_``, ...) for the builder's ``meta``."""
    return estimator._get_metadata()


def compile_kwargs(estimator) -> dict[str, Any]:
    """scikeras' compile arguments (the wrapper's optimizer, loss, metrics) for the builder's ``compile_kwargs``."""
    return estimator._get_compile_kwargs()


def random_state(estimator) -> int | None:
    """The int seed scikeras derived from ``random_state`` for this fit (None: unseeded)."""
    return estimator._random_state


def user_params(estimator) -> set[str]:
    """Names of the routed parameters given to ``__init__`` (``model__*``, ``fit__*``, ...)."""
    return getattr(estimator, "_user_params", set())


def fit_callbacks(estimator) -> list:
    """The callbacks scikeras prepared for this fit."""
    return estimator._fit_callbacks


def set_fit_callbacks(estimator, callbacks: list) -> None:
    """Replace the callbacks scikeras passes to ``Model.fit`` (and the engine's loop uses)."""
    estimator._fit_callbacks = callbacks


def scikeras_build(estimator) -> keras.Model:
    """scikeras' own build (global seeds around the builder call)."""
    return BaseWrapper._build_keras_model(estimator)


def scikeras_fit_keras_model(estimator, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs) -> None:
    """scikeras' own training through ``Model.fit``."""
    BaseWrapper._fit_keras_model(estimator, X, y, sample_weight=sample_weight, warm_start=warm_start, epochs=epochs,
                                 initial_epoch=initial_epoch, **kwargs)
