"""Keras network builders for m5kit's time-series classifiers.

Each builder returns a compiled Keras 3 functional model whose layers have
deterministic names and whose random initial weights and dropout masks are
all seeded from the builder's ``seed`` (never from Keras' global seed).
"""

from m5kit.models.networks.inception import build_inception_time
from m5kit.models.networks.lstm_fcn import build_lstm_fcn

__all__ = ["build_inception_time", "build_lstm_fcn"]
