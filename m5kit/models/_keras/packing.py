"""A fitted Keras estimator travels (pickle, Dask, the model store) as its model's ``.keras`` bytes.

An estimator that comes out of a pickle keeps its model as these bytes until
``model_`` is first used: the client that collects hundreds of fitted
estimators and writes them to a model store never builds their Keras models
(~0.2 CPU-s each, measured).
"""

from __future__ import annotations

import numpy as np

from m5kit.models._keras._private import pack_model, unpack_model

__all__ = ["PACKED", "PackedModelMixin"]

#: Attribute of an unpickled estimator holding its not yet loaded model (bytes of a .keras file).
PACKED = "_packed_model"


class PackedModelMixin:
    """Pickle ``model_`` as ``.keras`` bytes, load it lazily; the three methods the model store uses."""

    #: What the model store saves these estimators as (a ``.keras`` file beside a pickle of the rest).
    store_kind = "keras"

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: pickling must not unload the live estimator's model
        model = state.pop("model_", None)
        if model is not None:
            state[PACKED] = pack_model(model)
        return state

    def __getattr__(self, name):
        # Called only when normal lookup fails: load a model that came out of a pickle.
        if name == "model_":
            packed = self.__dict__.get(PACKED)
            if packed is not None:
                model = unpack_model(packed)
                self.__dict__["model_"] = model
                del self.__dict__[PACKED]
                return model
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def packed_model(self) -> bytes | None:
        """The fitted model as the bytes of a ``.keras`` file, without loading it when it came from a pickle.

        Returns
        -------
        bytes or None
            None when the estimator is not fitted.
        """
        packed = self.__dict__.get(PACKED)
        if packed is not None:
            return bytes(packed)
        model = self.__dict__.get("model_")
        return None if model is None else bytes(pack_model(model))

    def without_model(self):
        """A shallow copy without the Keras model (loaded or packed), to pickle beside the model's own file.

        Not ``copy.copy``: that pickles the estimator's state, which packs the model into the copy.
        """
        shell = object.__new__(type(self))
        shell.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("model_", PACKED)})
        return shell

    def set_packed_model(self, packed: bytes) -> None:
        """Attach a model given as the bytes of a ``.keras`` file; it is loaded when first used."""
        self.__dict__.pop("model_", None)
        self.__dict__[PACKED] = np.frombuffer(bytes(packed), dtype=np.uint8)
