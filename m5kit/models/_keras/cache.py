"""Per-process reuse of traced networks, and the hygiene of a process that builds many models.

Tracing a network's train step costs ~1 CPU-s per new Keras model, more than
8 epochs of a level-12 group. A process keeps a few compiled copies
(:class:`Trainer`) of the networks it trained, keyed by architecture and
compile settings (:func:`network_key`); a fit copies its fresh model's
weights into the cached copy, trains that, and copies the weights back.
Results are those of training the fresh model, to float rounding: once the
cached step has seen several batch sizes, TensorFlow traces it for any batch
size (``reduce_retracing``), and those kernels round differently (weights
within ~1e-6 of a fresh model's).
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

import keras
import numpy as np

__all__ = [
    "Trainer", "borrow_predictor", "borrow_trainer", "clear_keras_session", "copy_state", "load_training_state",
    "network_key", "training_copy", "training_state",
]

_MAX_TRAINERS = 4
_TRAINERS: OrderedDict[str, Trainer] = OrderedDict()
_TRAINERS_LOCK = threading.Lock()


class Trainer:
    """A compiled network kept by the process to train (or predict for) others of the same architecture."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.lock = threading.Lock()


def network_key(model: keras.Model) -> str:
    """Architecture, shapes and compile settings of a model, as a string.

    Neither seeds (they change weights, not the network) nor layer and
    optimizer names count: every layer is named by its position, so a
    builder's auto-numbered names (``dense_7``, ``adam_2``) give the same key
    as the first build's (``dense``, ``adam``). Metric names count: they
    name the history's entries.
    """
    config = _canonical(model.get_config())
    config.pop("name", None)
    shapes = [tuple(v.shape) for v in model.variables]
    compiled = model.get_compile_config()
    optimizer = (compiled or {}).get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):  # "adam_2": auto-numbered too
        compiled = {**compiled, "optimizer": {**optimizer, "config": {
            k: v for k, v in optimizer["config"].items() if k != "name"}}}
    return json.dumps([config, shapes, compiled], sort_keys=True, default=str)


def _canonical(config, names: dict[str, str] | None = None):
    """A config without seeds, each scope's layer names (strings in ``names``) replaced by their positions."""
    if isinstance(config, str):
        return names.get(config, config) if names else config
    if isinstance(config, (list, tuple)):  # keras_history is a tuple
        return [_canonical(v, names) for v in config]
    if not isinstance(config, dict):
        return config
    if isinstance(config.get("layers"), list):  # a Functional or Sequential model: rename its layers
        names = dict(names or {})
        for i, layer in enumerate(config["layers"]):
            name = layer.get("name", (layer.get("config") or {}).get("name")) if isinstance(layer, dict) else None
            if isinstance(name, str):
                names[name] = f"#{i}"
    out = {k: _canonical(v, names) for k, v in config.items() if k != "seed"}
    for wrapped in ("layer", "backward_layer"):  # Bidirectional, TimeDistributed: the inner layer's own name
        if isinstance(out.get(wrapped), dict) and isinstance(out[wrapped].get("config"), dict):
            out[wrapped]["config"].pop("name", None)
    return out


def _keep(key: str, trainer: Trainer) -> Trainer:
    """Cache ``trainer`` under ``key``, dropping the least recently used beyond ``_MAX_TRAINERS``."""
    with _TRAINERS_LOCK:
        _TRAINERS[key] = trainer
        while len(_TRAINERS) > _MAX_TRAINERS:
            _TRAINERS.popitem(last=False)
    return trainer


def borrow_trainer(model: keras.Model, build: Callable[[], keras.Model], X, y, sample_weight) -> Trainer | None:
    """This process' trainer for ``model``'s network and these data (built by ``build`` on first use), locked, or None.

    The data's ranks and dtypes are part of the key: the traced step only
    fits arrays like those it was traced with. None when another thread
    trains on it (then train ``model`` itself).
    """
    if not all(isinstance(a, np.ndarray) for a in (X, y)) or model.optimizer is None:
        return None
    _build_optimizer(model)
    signature = (X.ndim, str(X.dtype), y.ndim, str(y.dtype), sample_weight is None)
    network = network_key(model)
    key = f"{signature}{network}"
    with _TRAINERS_LOCK:
        trainer = _TRAINERS.get(key)
        if trainer is not None:
            _TRAINERS.move_to_end(key)
    if trainer is None:
        trainer = Trainer(_build_optimizer(build()))
        if network_key(trainer.model) != network:
            return None  # pragma: no cover - a builder that is not deterministic
        _keep(key, trainer)
    if not trainer.lock.acquire(blocking=False):
        return None
    return trainer


@contextlib.contextmanager
def training_copy(model: keras.Model, build: Callable[[], keras.Model], X, y, sample_weight=None) -> Iterator[keras.Model]:
    """The network to train in place of ``model``: the process' cached trainer holding ``model``'s state, or ``model``.

    Inside the block, train the yielded network; when the block ends without
    an error, its weights, seed states and optimizer slots are copied back
    into ``model``. The trainer stays locked for the block. Without a usable
    trainer (another thread holds it, data that are not arrays) ``model``
    itself is yielded, and trains (tracing its own step).
    """
    trainer = borrow_trainer(model, build, X, y, sample_weight)
    if trainer is None:
        yield model
        return
    try:
        copy_state(model, trainer.model)
        yield trainer.model
        copy_state(trainer.model, model)
    finally:
        trainer.lock.release()


def _build_optimizer(model: keras.Model) -> keras.Model:
    """Create the optimizer's slots now, eagerly, so that the model and its trainer have the same variables.

    Created inside the first traced train step they also make TensorFlow
    trace the whole step a second time.
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model


def borrow_predictor(model: keras.Model) -> Trainer | None:
    """A cached network (locked) of ``model``'s architecture to predict with, or None."""
    network = network_key(model)
    with _TRAINERS_LOCK:
        trainer = next((t for key, t in reversed(_TRAINERS.items()) if key.endswith(network)), None)
    if trainer is None:
        trainer = _keep("predict" + network, Trainer(keras.models.clone_model(model)))  # not compiled
    if len(trainer.model.variables) != len(model.variables) or not trainer.lock.acquire(blocking=False):
        return None
    return trainer


def training_state(model: keras.Model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """What :func:`copy_state` copies, as arrays: weights and seed states, and the optimizer's variables.

    The optimizer's include its step count and learning rate, so a network
    loaded with :func:`load_training_state` trains on exactly as the one saved
    would have (e.g. on another worker).
    """
    return [v.numpy() for v in model.variables], [v.numpy() for v in _build_optimizer(model).optimizer.variables]


def load_training_state(model: keras.Model, state: tuple[list, list]) -> keras.Model:
    """Put a :func:`training_state` of a network of the same architecture into ``model``."""
    for variables, values in zip((model.variables, _build_optimizer(model).optimizer.variables), state, strict=True):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
    return model


def copy_state(source: keras.Model, target: keras.Model, optimizer: bool = True) -> None:
    """Copy weights and seed states of ``source`` into ``target``, and its optimizer slots with ``optimizer``."""
    pairs = [(source.variables, target.variables)]
    if optimizer:
        pairs.append((source.optimizer.variables, target.optimizer.variables))
    for src_vars, dst_vars in pairs:
        if len(src_vars) != len(dst_vars):  # pragma: no cover - guarded by network_key
            raise RuntimeError("cannot copy the state of a different network")
        for src, dst in zip(src_vars, dst_vars):
            dst.assign(src.value)


_GC_EVERY = 10
_CLEAR_EVERY = 1000
_builds_since_gc = 0
_builds_since_clear = 0


def clear_keras_session() -> None:
    """Keep a process that builds many models lean (called before each build, never after a fit).

    Dropped models are freed by a full garbage collection, which costs ~0.2
    CPU-s in a process that imported TensorFlow: it runs every ``_GC_EVERY``
    builds (without it RSS grew ~1.3 MB per fit). Keras' session (layer-name
    counters) is cleared only every ``_CLEAR_EVERY`` builds: clearing it also
    resets TensorFlow's default graph, after which every traced function,
    the reused trainers' too, traces again (~0.3 CPU-s per shape; measured:
    the first and the last step of every fit were traced anew when the
    session was cleared before each build). Fitted models stay usable either
    way: they hold their own variables and traced functions.
    """
    global _builds_since_gc, _builds_since_clear
    _builds_since_gc += 1
    _builds_since_clear += 1
    if _builds_since_clear >= _CLEAR_EVERY:
        _builds_since_clear = _builds_since_gc = 0
        keras.backend.clear_session(free_memory=True)
    elif _builds_since_gc >= _GC_EVERY:
        _builds_since_gc = 0
        gc.collect()
