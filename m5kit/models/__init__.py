"""Keras models of m5kit, as scikit-learn estimators.

- :mod:`m5kit.models.networks`: network builders (:func:`build_cnn_lstm`) and
  the builder convention that gives a network the engine's speed.
- :mod:`m5kit.models.regression`: :class:`CNNLSTMRegressor`.
- :mod:`m5kit.models.classification`: :class:`BaseKerasClassifier`.

All of them train on one engine (``m5kit.models._keras``): its own epoch
loop, a per-process cache of traced networks, pickles as ``.keras`` bytes.

Importing this package is light: Keras (and its backend) is imported with
the first of these names used, or with a Keras module of the package
(``m5kit.models.classifiers``, ``m5kit.models._keras``, ...), so that the
gradient-boosted forecasters (:mod:`m5kit.models.gbm`) run without
TensorFlow in the process (it cost each fresh Dask worker ~4.5 CPU-s and its
memory). Set the thread environment first
(:func:`m5kit.execution.threads.limit_threads`) when it matters.
"""

import importlib

#: Public name -> the module that defines it (imported on first use: it imports Keras).
_LAZY = {
    "BaseKerasClassifier": "m5kit.models.classification",
    "CNNLSTMRegressor": "m5kit.models.regression",
    "Initializers": "m5kit.models.networks",
    "SEED_PRESET": "m5kit.models.regression",
    "build_cnn_lstm": "m5kit.models.networks",
}

__all__ = ["SEED_PRESET", "BaseKerasClassifier", "CNNLSTMRegressor", "Initializers", "build_cnn_lstm"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'm5kit.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
