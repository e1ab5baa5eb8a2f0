"""Counting traces of a Keras layer (shared by the tests that check that a second fit traces nothing)."""

from __future__ import annotations

import contextlib

import keras


@contextlib.contextmanager
def traced_calls(monkeypatch, layer_class=keras.layers.Dense):
    """Collect the names of ``layer_class`` layers whose ``call`` runs in a trace (graph tensors), inside the block.

    A trace runs the layers' Python ``call`` on graph tensors; executing a
    traced function does not.
    """
    import tensorflow as tf

    traced: list[str] = []
    original = layer_class.call

    def counting_call(self, inputs, *args, **kwargs):
        if isinstance(inputs, tf.Tensor) and not isinstance(inputs, keras.KerasTensor) and not tf.executing_eagerly():
            traced.append(self.name)
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(layer_class, "call", counting_call)
    try:
        yield traced
    finally:
        monkeypatch.setattr(layer_class, "call", original)
