"""The InceptionTime network (Ismail Fawaz et al., 2020), as a Keras 3 functional model.

One network of the InceptionTime ensemble: ``depth`` Inception modules, a
residual shortcut every 3 modules, global average pooling and a softmax.

Each Inception module:

- a 1x1 ``Conv1D`` bottleneck of ``bottleneck`` filters, applied only when
  the module's input has more than one channel (as in the authors' code, so
  a univariate series enters the first module without a bottleneck);
- three ``Conv1D`` of ``filters`` filters with kernel sizes
  ``kernel_size // 1, // 2, // 4`` over the bottleneck's output, and a
  ``MaxPooling1D(3, stride 1)`` over the module's input followed by a 1x1
  ``Conv1D`` of ``filters``; all four concatenated (``4 * filters``
  channels), batch normalisation, ReLU. No convolution has a bias (the
  batch normalisation that follows gives the shift).

Residual shortcut (after modules 3, 6, ...): a 1x1 ``Conv1D`` (no bias) of
the previous shortcut's input to ``4 * filters`` channels, batch
normalisation, added to the module output, then ReLU.

Where the paper/issue and the authors' code (``hfawaz/InceptionTime``,
``classifiers/inception.py``) differ, this follows the code:

- Kernel sizes: the issue says 10, 20 and 40; the code takes
  ``kernel_size=41``, subtracts 1 and halves it, giving 40, 20 and 10 (even
  sizes, ``padding="same"``). Same here with ``kernel_size=40``.
- The bottleneck is skipped when the input has a single channel (the paper's
  figure draws it always).
- Convolutions have no bias (``use_bias=False``); the shortcut's convolution too.
- All kernels are Glorot-uniform (Keras' default, as in the code), each with
  its own seed drawn from ``seed``.

Training details of the authors' script that live in the estimator, not
here: Adam(0.001), cross-entropy, ``ReduceLROnPlateau(monitor="loss",
factor=0.5, patience=50, min_lr=1e-4)``, and predicting with the weights of
the epoch with the lowest training loss (``ModelCheckpoint(monitor="loss",
save_best_only=True)``; the estimator's ``restore_best="train_loss"``).
Their 1500 epochs are not copied (the issue's default is 100; the batch of
64 is the code's default too).
"""

from __future__ import annotations

import keras

from m5kit.models._keras.seeding import Initializers
from m5kit.models.networks._compile import compile_classifier

__all__ = ["build_inception_time"]


def _module(x, index: int, filters: int, bottleneck: int, kernel_size: int, seeds: Initializers):
    """One Inception module; layers named ``inception<index>_*``."""
    name = f"inception{index}"
    branch_in = x
    if bottleneck and x.shape[-1] > 1:
        branch_in = keras.layers.Conv1D(bottleneck, 1, padding="same", use_bias=False,
                                        kernel_initializer=seeds.glorot(), name=f"{name}_bottleneck")(x)
    branches = []
    for k in range(3):
        size = max(1, kernel_size // (2**k))
        branches.append(keras.layers.Conv1D(filters, size, padding="same", use_bias=False,
                                            kernel_initializer=seeds.glorot(), name=f"{name}_conv{size}")(branch_in))
    pooled = keras.layers.MaxPooling1D(3, strides=1, padding="same", name=f"{name}_maxpool")(x)
    branches.append(keras.layers.Conv1D(filters, 1, padding="same", use_bias=False,
                                        kernel_initializer=seeds.glorot(), name=f"{name}_poolconv")(pooled))
    x = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(branches)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _shortcut(res, x, index: int, seeds: Initializers):
    """The residual shortcut ending after module ``index``."""
    name = f"shortcut{index}"
    s = keras.layers.Conv1D(x.shape[-1], 1, padding="same", use_bias=False,
                            kernel_initializer=seeds.glorot(), name=f"{name}_conv")(res)
    s = keras.layers.BatchNormalization(name=f"{name}_bn")(s)
    x = keras.layers.Add(name=f"{name}_add")([s, x])
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def build_inception_time(
    input_shape: tuple[int, int],
    n_classes: int,
    *,
    filters: int = 32,
    depth: int = 6,
    bottleneck: int = 32,
    kernel_size: int = 40,
    residual: bool = True,
    lr: float = 0.001,
    seed: int | None = 0,
) -> keras.Model:
    """Build and compile one InceptionTime network.

    Parameters
    ----------
    input_shape : (length, channels)
        Shape of one series.
    n_classes : int
        Number of classes (softmax outputs).
    filters : int, default=32
        Filters of each convolution branch (a module outputs ``4 * filters`` channels).
    depth : int, default=6
        Number of Inception modules.
    bottleneck : int, default=32
        Filters of the 1x1 bottleneck (0: none).
    kernel_size : int, default=40
        Largest kernel; the others are its half and quarter.
    residual : bool, default=True
        Add a shortcut every 3 modules.
    lr : float, default=0.001
        Adam's learning rate.
    seed : int, default=0
        Seed of every initializer (each layer gets its own, drawn from it).

    Returns
    -------
    keras.Model
        Compiled (Adam, sparse categorical cross-entropy, accuracy), optimizer built.

    Examples
    --------
    >>> model = build_inception_time((50, 1), 3, filters=4, depth=3, seed=1)
    >>> model.output_shape
    (None, 3)
    """
    seeds = Initializers(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="series")
    x = res = inputs
    for d in range(depth):
        x = _module(x, d + 1, filters, bottleneck, kernel_size, seeds)
        if residual and d % 3 == 2:
            x = res = _shortcut(res, x, d + 1, seeds)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=seeds.glorot(),
                                 name="softmax")(x)
    model = keras.Model(inputs, outputs, name="inception_time")
    return compile_classifier(model, lr)
