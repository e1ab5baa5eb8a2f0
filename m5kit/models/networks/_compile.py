"""The compile step shared by the classifier networks (their seeds come from :class:`~m5kit.models.networks.Initializers`)."""

from __future__ import annotations


import keras


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
