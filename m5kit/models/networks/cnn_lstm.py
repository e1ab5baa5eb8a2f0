"""The CNN-LSTM network: a Keras model builder.

The model reads windows of shape ``(window, n_features)`` (see
:class:`m5kit.transformers.Windower`): causal ``Conv1D`` + ``MaxPooling1D``
blocks pick up short patterns, a stack of ``LSTM`` layers (each followed by
``BatchNormalization``) reads the sequence, and a ``Dense`` layer gives one
output per forecast day. The defaults are small on purpose: m5kit trains one
model per group (up to 30,490 of them), on one CPU thread each.

Defaults, as measured on one thread for a level-12 group (one series, ~1,880
windows of 28 x 14): Conv1D 16, LSTM 32, batch 256, Adam 5e-3 clipped at norm
1 cost ~0.12 CPU-s per epoch plus ~0.7 CPU-s per fit once the process has
traced the network (~2 CPU-s for the first fit). On synthetic M5-like series
their 28-day recursive forecast had 0.78x the RMSE of a seasonal naive
forecast; with Adam's usual 1e-3 the same network was undertrained (1.19x).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from m5kit._checks import layer_sizes, number
from m5kit.errors import ParamError
from m5kit.models._keras.seeding import Initializers

__all__ = ["build_cnn_lstm"]


def build_cnn_lstm(
    conv_filters: int | Sequence[int] = (16,),
    kernel_size: int = 7,
    pool_size: int = 2,
    lstm_units: int | Sequence[int] = (32,),
    dense_units: int | Sequence[int] = 0,
    dropout: float = 0.0,
    learning_rate: float = 5e-3,
    clipnorm: float | None = 1.0,
    bn_momentum: float = 0.9,
    jit_compile: bool | str = False,
    seed: int | None = None,
    meta: dict[str, Any] | None = None,
    compile_kwargs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> keras.Model:
    """Build and compile the CNN-LSTM.

    Parameters
    ----------
    conv_filters : int or sequence of int, default=(16,)
        Filters of each causal ``Conv1D`` block (each followed by
        ``MaxPooling1D``); ``0`` or ``()`` for none.
    kernel_size : int, default=7
        Kernel of every ``Conv1D`` (7 = one week).
    pool_size : int, default=2
        ``MaxPooling1D`` size after each convolution (``1``: no pooling).
    lstm_units : int or sequence of int, default=(32,)
        Units of each stacked ``LSTM`` (each followed by ``BatchNormalization``).
    dense_units : int or sequence of int, default=0
        Hidden ``Dense`` (relu) layers before the output; ``0`` for none.
    dropout : float, default=0.0
        Dropout rate before the dense layers.
    learning_rate, clipnorm : float
        Adam's learning rate (a number > 0, ints too, or a Keras schedule) and
        gradient-norm clipping (``None``: no clipping).
    bn_momentum : float, default=0.9
        Momentum of the ``BatchNormalization`` moving statistics. Keras' 0.99
        needs hundreds of steps to settle, more than a small group's fit has
        (70 steps for 10 epochs of a level-12 series): its inference-mode
        predictions then lag far behind training.
    jit_compile : bool or "auto", default=False
        XLA compilation. On one CPU thread it costs more (compile time) than it
        saves for these small networks.
    seed : int, optional
        Seed of every initializer and dropout layer; by default the
        wrapper's ``random_state``. Seeds are never drawn from Python's
        global ``random``, which other threads of a Dask worker also use.
    meta : dict
        scikeras' fit metadata: ``X_shape_`` gives the input shape
        (``(n, window, n_features)``; a 2-D ``(n, n_features)`` input is read
        as a sequence of ``n_features`` steps of one feature) and
        ``n_outputs_`` the number of outputs (the horizon).
    compile_kwargs : dict, optional
        scikeras' compile arguments. An ``optimizer``, ``loss`` or ``metrics``
        given there (the wrapper's parameters) replaces the defaults: Adam with
        ``learning_rate`` and ``clipnorm``, MSE loss, RMSE metric.
    params : dict, optional
        scikeras passes the wrapper's parameters (``random_state`` is used).

    Returns
    -------
    keras.Model
        Compiled.

    Examples
    --------
    >>> model = build_cnn_lstm(conv_filters=4, lstm_units=4, meta={"X_shape_": (100, 28, 14), "n_outputs_": 1})
    >>> model.output_shape
    (None, 1)
    """
    meta = meta or {}
    if "X_shape_" not in meta:
        raise ParamError("build_cnn_lstm needs meta['X_shape_'] (the training windows' shape): use it through CNNLSTMRegressor")
    shape = tuple(int(s) for s in meta["X_shape_"][1:])
    n_outputs = int(meta.get("n_outputs_", 1) or 1)
    conv, lstm, dense = layer_sizes(conv_filters, "conv_filters"), layer_sizes(lstm_units, "lstm_units"), layer_sizes(dense_units, "dense_units")
    if not callable(learning_rate):  # a Keras schedule or callable is Adam's to check; a number must be > 0
        learning_rate = number(learning_rate, "learning_rate", hint="a learning rate > 0, such as 0.005")
    layers = keras.layers
    if seed is None and params is not None:
        seed = params.get("random_state")
    init = Initializers(seed)

    inputs = keras.Input(shape=shape, name="windows")
    # Every layer is named: the same parameters give the same config in any
    # process state, which keys the reuse of traced networks.
    x = layers.Reshape((shape[0], 1), name="as_sequence")(inputs) if len(shape) == 1 else inputs
    for i, filters in enumerate(conv):
        x = layers.Conv1D(filters, int(kernel_size), padding="causal", activation="relu", kernel_initializer=init.glorot(),
                          name=f"conv_{i}")(x)
        if pool_size and int(pool_size) > 1:
            x = layers.MaxPooling1D(int(pool_size), padding="same", name=f"pool_{i}")(x)
    for i, units in enumerate(lstm):
        x = layers.LSTM(units, return_sequences=i < len(lstm) - 1, kernel_initializer=init.glorot(),
                        recurrent_initializer=init.orthogonal(), name=f"lstm_{i}")(x)
        x = layers.BatchNormalization(momentum=float(bn_momentum), name=f"lstm_{i}_norm")(x)
    if not lstm:
        x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(float(dropout), seed=init.seed(), name="dropout")(x)
    for i, units in enumerate(dense):
        x = layers.Dense(units, activation="relu", kernel_initializer=init.glorot(), name=f"dense_{i}")(x)
    outputs = layers.Dense(n_outputs, name="forecast", kernel_initializer=init.glorot())(x)
    model = keras.Model(inputs, outputs, name="cnn_lstm")

    given = compile_kwargs or {}
    kwargs = {k: given[k] for k in ("loss_weights", "weighted_metrics", "run_eagerly") if given.get(k) is not None}
    model.compile(
        optimizer=given.get("optimizer") or keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm, name="adam"),
        loss=given.get("loss") or "mse",
        metrics=given.get("metrics") or [keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=jit_compile,
        **kwargs,
    )
    # Create the optimizer's slots now, eagerly: created inside the first traced
    # train step they make TensorFlow trace the whole step a second time.
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model
