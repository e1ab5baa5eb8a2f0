"""Seeds for one network: a private generator draws each layer's seed, and the compile step."""

from __future__ import annotations

import random

import keras


class LayerSeeds:
    """Draw one seed per layer from ``random.Random(seed)``, in the order the layers are built.

    The same ``seed`` gives the same seeds to the same layers, whatever the
    process, thread or Dask worker: Keras' global seed is never read.
    """

    def __init__(self, seed: int | None):
        self._rng = random.Random(seed)

    def next(self) -> int:
        return self._rng.randrange(2**31 - 1)

    def glorot(self) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=self.next())

    def he(self) -> keras.initializers.Initializer:
        return keras.initializers.HeUniform(seed=self.next())

    def orthogonal(self) -> keras.initializers.Initializer:
        return keras.initializers.Orthogonal(seed=self.next())


def compile_classifier(model: keras.Model, lr: float) -> keras.Model:
    """Compile with Adam(lr), sparse categorical cross-entropy and accuracy; build the optimizer now.

    Building the optimizer's variables at once (not at the first step) lets
    a freshly built or loaded model have its weights and optimizer state set
    before training, and keeps the first ``fit`` from building them mid-trace.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    return model
