"""The LSTM-FCN network (Karim et al., 2018), as a Keras 3 functional model.

Two blocks read the same input of shape ``(length, channels)``:

- the recurrent block reads the *dimension-shuffled* series: ``Permute``
  to ``(channels, length)``, so a univariate series is one time step of
  ``length`` features; ``num_layers`` LSTM layers of ``hidden_size`` units,
  each followed by ``Dropout(dropout)``;
- the fully convolutional block reads the series as it is: three ``Conv1D``
  (``filters`` with ``kernel_sizes``, ``padding="same"``), each followed by
  batch normalisation and ReLU, then global average pooling.

Their outputs are concatenated into a softmax ``Dense``.

Where the issue and the authors' code (``titu1994/LSTM-FCN``) differ, this
follows the code:

- The convolution kernels are He-uniform (``kernel_initializer="he_uniform"``
  in the code), not Glorot-uniform; the LSTM's kernel and the softmax are
  Glorot-uniform and the LSTM's recurrent kernel orthogonal (Keras' defaults,
  which the code keeps). Every initializer and dropout gets its own seed
  drawn from ``seed``.
- The convolutions keep their bias (the code does not remove it).
- Multivariate input follows the authors' MLSTM-FCN reading (each channel is
  one LSTM time step of ``length`` features) without its squeeze-and-excite
  blocks and masking.
- Training details in the authors' script that live in the estimator:
  Adam(0.001), ``ReduceLROnPlateau(monitor="loss", factor=1/2**(1/3),
  patience=100, min_lr=1e-4)``, and predicting with the weights of the
  epoch with the lowest training loss (``ModelCheckpoint(monitor="loss",
  save_best_only=True)``; the estimator's ``restore_best="train_loss"``).
  Their class weights (inverse class frequencies) are not used.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from m5kit.models._keras.seeding import Initializers
from m5kit.models.networks._compile import compile_classifier

__all__ = ["build_lstm_fcn"]


def build_lstm_fcn(
    input_shape: tuple[int, int],
    n_classes: int,
    *,
    num_layers: int = 1,
    hidden_size: int = 8,
    dropout: float = 0.8,
    filters: Sequence[int] = (128, 256, 128),
    kernel_sizes: Sequence[int] = (8, 5, 3),
    lr: float = 0.001,
    seed: int | None = 0,
) -> keras.Model:
    """Build and compile one LSTM-FCN network.

    Parameters
    ----------
    input_shape : (length, channels)
        Shape of one series.
    n_classes : int
        Number of classes.
    num_layers : int, default=1
        LSTM layers (each followed by dropout).
    hidden_size : int, default=8
        Units of each LSTM layer.
    dropout : float, default=0.8
        Dropout rate after each LSTM layer.
    filters, kernel_sizes : sequences of int
        Filters and kernel size of each convolution (same length).
    lr : float, default=0.001
        Adam's learning rate.
    seed : int, default=0
        Seed of every initializer and dropout layer.

    Returns
    -------
    keras.Model
        Compiled (Adam, sparse categorical cross-entropy, accuracy), optimizer built.

    Examples
    --------
    >>> model = build_lstm_fcn((50, 1), 2, filters=(4, 8, 4), seed=1)
    >>> model.output_shape
    (None, 2)
    """
    if len(filters) != len(kernel_sizes):
        from m5kit.errors import ParamError

        raise ParamError(f"filters {tuple(filters)} and kernel_sizes {tuple(kernel_sizes)} differ in length: "
                         "give one kernel size per convolution")
    seeds = Initializers(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="series")
    x = keras.layers.Permute((2, 1), name="dimension_shuffle")(inputs)
    for i in range(num_layers):
        x = keras.layers.LSTM(hidden_size, return_sequences=i < num_layers - 1, kernel_initializer=seeds.glorot(),
                              recurrent_initializer=seeds.orthogonal(), name=f"lstm{i + 1}")(x)
        x = keras.layers.Dropout(dropout, seed=seeds.seed(), name=f"lstm{i + 1}_dropout")(x)
    y = inputs
    for i, (f, k) in enumerate(zip(filters, kernel_sizes), start=1):
        y = keras.layers.Conv1D(f, k, padding="same", kernel_initializer=seeds.initializer("HeUniform"), name=f"conv{i}")(y)
        y = keras.layers.BatchNormalization(name=f"conv{i}_bn")(y)
        y = keras.layers.Activation("relu", name=f"conv{i}_relu")(y)
    y = keras.layers.GlobalAveragePooling1D(name="gap")(y)
    z = keras.layers.Concatenate(name="concat")([x, y])
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=seeds.glorot(),
                                 name="softmax")(z)
    model = keras.Model(inputs, outputs, name="lstm_fcn")
    return compile_classifier(model, lr)
