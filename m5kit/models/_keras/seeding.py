"""Seeds of a Keras fit without touching TensorFlow's global state (when the builder allows it).

A builder that takes a ``seed`` argument seeds its initializers and dropout
from it (:class:`Initializers`), and the engine's loop draws the epochs'
sample order from :func:`shuffle_rng`: such fits never set TensorFlow's global
seed, which empties its traced-function caches (~0.3 CPU-s per traced
function on the next fit). Builders without ``seed`` get the global seeds
(:func:`global_seeds`), as scikeras gives them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import random
from collections.abc import Iterator

import keras
import numpy as np

__all__ = ["Initializers", "accepts_seed", "global_seeds", "is_seed", "parameters", "shuffle_rng"]


class Initializers:
    """Keras initializers and dropout seeds drawn from a private RNG, for builders that take a ``seed``.

    Seeds come from a ``random.Random(seed)`` of the builder's own, never from
    Python's global ``random`` (other threads of a Dask worker draw from it)
    nor from TensorFlow's global seed. Draw them in the order the layers are
    built: the same seed then gives the same weights in any process.

    Parameters
    ----------
    seed : int or None
        ``None``: unseeded (Keras' own defaults, different each build).

    Examples
    --------
    >>> import keras
    >>> init = Initializers(0)
    >>> layer = keras.layers.Dense(4, kernel_initializer=init.glorot(), name="dense_0")
    >>> drop = keras.layers.Dropout(0.1, seed=init.seed(), name="dropout")
    >>> conv = keras.layers.Conv1D(4, 3, kernel_initializer=init.initializer("HeUniform"), name="conv_0")
    """

    def __init__(self, seed: int | None):
        self._rng = None if seed is None else random.Random(int(seed))

    def seed(self) -> int | None:
        """The next seed (for a ``Dropout`` or any seeded layer); None when unseeded."""
        return None if self._rng is None else self._rng.randrange(2**31 - 1)

    def glorot(self) -> keras.initializers.Initializer:
        """A ``GlorotUniform`` initializer with the next seed."""
        return keras.initializers.GlorotUniform(seed=self.seed())

    def orthogonal(self) -> keras.initializers.Initializer:
        """An ``Orthogonal`` initializer (LSTM recurrent kernels) with the next seed."""
        return keras.initializers.Orthogonal(seed=self.seed())

    def initializer(self, name: str) -> keras.initializers.Initializer:
        """Any seeded Keras initializer by class name (``"HeUniform"``, ``"GlorotNormal"``, ...) with the next seed."""
        return keras.initializers.get({"class_name": name, "config": {"seed": self.seed()}})


def accepts_seed(builder) -> bool:
    """Whether ``builder`` is a function taking a ``seed`` argument (it seeds itself: no global seeds)."""
    if isinstance(builder, keras.Model) or not callable(builder) or isinstance(builder, type):
        return False
    return "seed" in parameters(builder)[0]


def parameters(builder) -> tuple[frozenset[str], bool]:
    """The names of ``builder``'s parameters and whether it takes ``**kwargs`` (remembered per builder)."""
    try:
        return _parameters(builder)
    except TypeError:  # unhashable callable
        return _parameters.__wrapped__(builder)


@functools.lru_cache(maxsize=64)
def _parameters(builder) -> tuple[frozenset[str], bool]:
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return frozenset(), False
    return frozenset(params), any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def is_seed(value) -> bool:
    """Whether ``value`` is an int seed (bools are not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@contextlib.contextmanager
def global_seeds(seed) -> Iterator[None]:
    """Set Python's, NumPy's and the backend's global seeds for a block; restore Python's and NumPy's after.

    Only for builders without a ``seed`` argument: setting TensorFlow's seed
    makes every traced function trace again.
    """
    if not is_seed(seed):
        yield
        return
    states = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(int(seed))
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])


def shuffle_rng(random_state) -> np.random.Generator:
    """The generator of the epochs' sample order: seeded by an int ``random_state``, else fresh."""
    if is_seed(random_state):
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng()
