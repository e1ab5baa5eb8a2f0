"""Keras models of m5kit, as scikit-learn estimators.

Importing this package imports Keras (and its backend): set the thread
environment first (:func:`m5kit.execution.threads.limit_threads`) when it matters.
"""

from m5kit.execution.quiet import import_backend

import_backend()  # first: without the backend's C++ start-up lines on the terminal

from m5kit.models.cnn_lstm import SEED_PRESET, CNNLSTMRegressor, build_cnn_lstm

__all__ = ["CNNLSTMRegressor", "SEED_PRESET", "build_cnn_lstm"]
