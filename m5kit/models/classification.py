"""Classifiers on m5kit's Keras engine: :class:`BaseKerasClassifier`, the base of time-series classifiers."""

from __future__ import annotations

from m5kit.models._keras import KerasEngineMixin
from m5kit.models._keras.compat import KerasClassifier

__all__ = ["BaseKerasClassifier"]


class BaseKerasClassifier(KerasEngineMixin, KerasClassifier):
    """scikit-learn classifier of any Keras network builder (a scikeras ``KerasClassifier`` on m5kit's engine).

    Labels may be of any type (ints, strings, ...): scikeras encodes them for
    the network and ``predict`` gives them back. The builder gets scikeras'
    ``meta`` (``X_shape_``, ``n_classes_``, ``target_type_``, ...) and should
    end in a softmax over ``meta["n_classes_"]`` units, compiled with
    ``sparse_categorical_crossentropy``. A builder with a ``seed`` argument
    trains on the engine's cached networks (see :mod:`m5kit.models.networks`).
    Subclasses give ``model`` a default builder.

    Parameters
    ----------
    model : callable
        The model builder (``model__*`` parameters are routed to it).
    epochs : int, default=10
        Maximum epochs (early stopping may end sooner).
    batch_size : int, default=64
    validation_split : float, default=0.1
        Fraction of the samples held out for early stopping, taken from the end.
    patience : int or None, default=3
        ``EarlyStopping`` patience on ``val_loss``; ``None`` disables early stopping.
    log_dir : str or path or None, default=None
        Epoch logs (TensorBoard, or ``history.csv`` without it).
    optimizer, loss, metrics : default=None
        ``None`` keeps what the builder compiled.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss (as scikeras' ``KerasClassifier``).
    verbose : int, default=0
    shuffle : bool, default=True
    random_state : int or None, default=None
        Seed: two fits with the same seed on the same data give identical weights.
    warm_start : bool, default=False
    reuse_trainer : bool, default=True
        Train on the process' cached copy of the network (identical results, no tracing).
    **kwargs
        Routed parameters (``model__*``, ``fit__*``, ``compile__*``, ...).

    Attributes
    ----------
    classes_ : ndarray
        The labels seen in ``fit``.
    model_ : keras.Model
        The fitted network.
    history_ : dict of list
        Loss and metrics per epoch.
    store_kind : str
        ``"keras"`` (class attribute), for the model store.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from m5kit.models.networks import Initializers
    >>> def build_dense(units=8, seed=None, meta=None):
    ...     init = Initializers(seed)
    ...     inputs = keras.Input(meta["X_shape_"][1:], name="x")
    ...     x = keras.layers.Flatten(name="flat")(inputs)
    ...     x = keras.layers.Dense(units, activation="relu", kernel_initializer=init.glorot(), name="hidden")(x)
    ...     out = keras.layers.Dense(meta["n_classes_"], activation="softmax", kernel_initializer=init.glorot(), name="out")(x)
    ...     model = keras.Model(inputs, out, name="dense")
    ...     model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ...     return model
    >>> X = np.random.default_rng(0).normal(size=(60, 10, 2)).astype("float32")
    >>> y = np.where(X[:, -1, 0] > 0, "up", "down")
    >>> clf = BaseKerasClassifier(build_dense, epochs=2, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict_proba(X[:3]).shape
    (['down', 'up'], (3, 2))
    """

    _holdout_rmse = False

    def __init__(self, model=None, *, epochs: int = 10, batch_size: int = 64, validation_split: float = 0.1,
                 patience: int | None = 3, log_dir=None, optimizer=None, loss=None, metrics=None, class_weight=None,
                 verbose: int = 0, shuffle: bool = True, random_state: int | None = None, warm_start: bool = False,
                 reuse_trainer: bool = True, **kwargs):
        super().__init__(model=model, class_weight=class_weight, epochs=epochs, batch_size=batch_size,
                         validation_split=validation_split, optimizer=optimizer, loss=loss, metrics=metrics,
                         verbose=verbose, shuffle=shuffle, random_state=random_state, warm_start=warm_start, **kwargs)
        self.patience = patience
        self.log_dir = log_dir
        self.reuse_trainer = reuse_trainer
