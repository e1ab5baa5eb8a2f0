"""Keras models of m5kit, as scikit-learn estimators.

- :mod:`m5kit.models.networks`: network builders (:func:`build_cnn_lstm`) and
  the builder convention that gives a network the engine's speed.
- :mod:`m5kit.models.regression`: :class:`CNNLSTMRegressor`.
- :mod:`m5kit.models.classification`: :class:`BaseKerasClassifier`.

All of them train on one engine (``m5kit.models._keras``): its own epoch
loop, a per-process cache of traced networks, pickles as ``.keras`` bytes.

Importing this package imports Keras (and its backend): set the thread
environment first (:func:`m5kit.execution.threads.limit_threads`) when it matters.
"""

from m5kit.execution.quiet import import_backend

import_backend()  # first: without the backend's C++ start-up lines on the terminal

from m5kit.models.classification import BaseKerasClassifier
from m5kit.models.networks import Initializers, build_cnn_lstm
from m5kit.models.regression import SEED_PRESET, CNNLSTMRegressor

__all__ = ["SEED_PRESET", "BaseKerasClassifier", "CNNLSTMRegressor", "Initializers", "build_cnn_lstm"]
