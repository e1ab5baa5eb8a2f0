"""A CNN-LSTM whose output goes through softplus (a positive rate), for Poisson/Tweedie losses.

Importing this module makes m5kit's regressor treat ``build_rate_cnn_lstm`` as its
default builder (so the traced-trainer cache and per-model seeding apply): only
import it in runs that use it.
"""
from __future__ import annotations

import keras

import m5kit.models.cnn_lstm as _cl

_ORIGINAL = getattr(_cl, "_original_build_cnn_lstm", _cl.build_cnn_lstm)
_cl._original_build_cnn_lstm = _ORIGINAL


@keras.saving.register_keras_serializable(package="m5kit_exp")
def tweedie_loss(y_true, y_pred, p=1.5):
    """Tweedie deviance (power 1.5) on a positive rate ``y_pred``."""
    y_pred = keras.ops.maximum(y_pred, 1e-6)
    return keras.ops.mean(-y_true * keras.ops.power(y_pred, 1 - p) / (1 - p) + keras.ops.power(y_pred, 2 - p) / (2 - p),
                          axis=-1)


def build_rate_cnn_lstm(output="softplus", meta=None, compile_kwargs=None, params=None, **kwargs):
    """build_cnn_lstm, then ``output`` activation on its Dense output, compiled like it."""
    base = _ORIGINAL(meta=meta, compile_kwargs=compile_kwargs, params=params, **kwargs)
    if not output or output == "linear":
        return base
    out = keras.layers.Activation(output, name="rate")(base.outputs[0])
    model = keras.Model(base.inputs, out, name="cnn_lstm")
    given = compile_kwargs or {}
    model.compile(
        optimizer=given.get("optimizer") or keras.optimizers.Adam(learning_rate=kwargs.get("learning_rate", 5e-3),
                                                                  clipnorm=kwargs.get("clipnorm", 1.0), name="adam"),
        loss=given.get("loss") or "mse",
        metrics=given.get("metrics") or [keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=False,
    )
    model.optimizer.build(model.trainable_variables)
    return model


_cl.build_cnn_lstm = build_rate_cnn_lstm
