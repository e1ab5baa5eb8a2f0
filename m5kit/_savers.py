"""How the model store splits a fitted estimator into a model file and a pickled rest, one saver per kind.

A saver turns an estimator into ``(model bytes, shell)``: the model in its
library's own format (or None) and the estimator without it, which the
store pickles beside; ``join`` puts them back together. The store picks the
saver with :func:`kind_of`, writes the files and never imports a model
library itself: each saver imports its library only when it runs.

===========  ==============================================  ==================
kind         estimators                                       model file
===========  ==============================================  ==================
keras        ``store_kind = "keras"``, or the three methods    ``<name>.keras``
             ``packed_model``, ``without_model``,
             ``set_packed_model`` (m5kit's Keras engine)
lightgbm     ``lightgbm.LGBMModel`` (LGBMRegressor, ...)       ``<name>.lgb.txt``
xgboost      ``xgboost.XGBModel`` (XGBRegressor, ...)          ``<name>.ubj``
pickle       anything else: the whole estimator is pickled    none
===========  ==============================================  ==================

An estimator may choose its saver with a ``store_kind`` attribute.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from m5kit.errors import StoreError

KERAS_METHODS = ("packed_model", "without_model", "set_packed_model")


@dataclass(frozen=True)
class Saver:
    """One kind of model file: its suffix (None: no model file), and the split and join of an estimator."""

    suffix: str | None
    split: Callable[[Any], tuple[bytes | None, Any]]
    join: Callable[[Any, bytes | None], Any]


def _shell(estimator, drop: str):
    """A shallow copy of ``estimator`` without the attribute ``drop``, built without pickling the estimator."""
    shell = object.__new__(type(estimator))
    shell.__dict__.update({k: v for k, v in vars(estimator).items() if k != drop})
    return shell


def _not_fitted(estimator, what: str) -> StoreError:
    return StoreError(f"the {type(estimator).__name__} has no fitted {what} to store: fit it first")


def _check_fitted(estimator, what: str) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise _not_fitted(estimator, what) from None


# -- keras: the estimator hands over its .keras bytes and takes them back (loaded when first used) ------
def _keras_split(estimator):
    missing = [m for m in KERAS_METHODS if not callable(getattr(estimator, m, None))]
    if missing:
        raise StoreError(f"the {type(estimator).__name__} is of store kind 'keras' but lacks {', '.join(missing)}: "
                         "give it the three methods or another store_kind")
    packed = estimator.packed_model()
    if packed is None:
        raise _not_fitted(estimator, "Keras model")
    return bytes(packed), estimator.without_model()


def _keras_join(shell, data):
    shell.set_packed_model(data)
    return shell


# -- lightgbm: the booster in LightGBM's text format ----------------------------------------------------
def _lightgbm_split(estimator):
    _check_fitted(estimator, "booster")
    return estimator.booster_.model_to_string().encode(), _shell(estimator, "_Booster")


def _lightgbm_join(shell, data):
    import lightgbm

    if b"end of trees" not in data:  # cut short: LightGBM's parser would abort the process
        raise ValueError("damaged LightGBM model file (it stops before 'end of trees')")
    try:
        shell._Booster = lightgbm.Booster(model_str=data.decode())  # what LGBMModel.booster_ returns
    except lightgbm.basic.LightGBMError as exc:
        raise ValueError(f"damaged LightGBM model file ({exc})") from None
    return shell


# -- xgboost: the booster in XGBoost's binary JSON (UBJSON) ---------------------------------------------
def _xgboost_split(estimator):
    _check_fitted(estimator, "booster")
    return bytes(estimator.get_booster().save_raw("ubj")), _shell(estimator, "_Booster")


def _xgboost_join(shell, data):
    import xgboost

    if data[-1:] != b"}":  # UBJSON ends its top object with "}": a cut file can make XGBoost allocate without bound
        raise ValueError("damaged XGBoost model file (it stops before its end)")
    booster = xgboost.Booster()
    booster.load_model(bytearray(data))  # raises XGBoostError, a ValueError, when damaged
    shell._Booster = booster  # what XGBModel.get_booster returns
    return shell


SAVERS = {
    "keras": Saver(".keras", _keras_split, _keras_join),
    "lightgbm": Saver(".lgb.txt", _lightgbm_split, _lightgbm_join),
    "xgboost": Saver(".ubj", _xgboost_split, _xgboost_join),
    "pickle": Saver(None, lambda estimator: (None, estimator), lambda shell, data: shell),
}

#: Classes recognised by their library, checked only when that library is already imported.
_LIBRARY_CLASSES = (("lightgbm", "lightgbm", "LGBMModel"), ("xgboost", "xgboost", "XGBModel"))


def saver(kind: str, *, whose: str) -> Saver:
    """The saver of ``kind``; an unknown kind raises StoreError naming ``whose`` it is."""
    try:
        return SAVERS[kind]
    except (KeyError, TypeError):
        raise StoreError(
            f"{whose} asks for store kind {kind!r}, which this m5kit does not know: use one of {', '.join(SAVERS)}"
        ) from None


def kind_of(estimator) -> str:
    """The kind of saver for ``estimator``: its ``store_kind``, else found from its class.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> kind_of(Ridge())
    'pickle'
    """
    kind = getattr(estimator, "store_kind", None)
    if kind is not None:
        saver(kind, whose=f"the {type(estimator).__name__}")
        return kind
    if all(callable(getattr(estimator, m, None)) for m in KERAS_METHODS):
        return "keras"
    for kind, module, cls in _LIBRARY_CLASSES:
        library = sys.modules.get(module)  # an instance of its class means it is imported: never import it here
        if library is not None and isinstance(estimator, getattr(library, cls)):
            return kind
    return "pickle"
