"""Keras network builders of m5kit (builders only; the estimators live in :mod:`m5kit.models`).

The builder convention, which gives a network the engine's speed: a builder
that takes a ``seed`` argument seeds every initializer and dropout layer
from it (draw them from :class:`Initializers`) and names every layer
deterministically. The engine then never sets global seeds for it, and a
process traces its training step once for all fits of the same network.
Builders also receive scikeras' ``meta`` (input shape, outputs, classes),
``compile_kwargs`` and ``params`` when their signature asks for them.
"""

from m5kit.models._keras.seeding import Initializers
from m5kit.models.networks.cnn_lstm import build_cnn_lstm
from m5kit.models.networks.inception import build_inception_time
from m5kit.models.networks.lstm_fcn import build_lstm_fcn

__all__ = ["Initializers", "build_cnn_lstm", "build_inception_time", "build_lstm_fcn"]
