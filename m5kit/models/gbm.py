"""LightGBM and XGBoost regressors with m5kit's defaults.

Both functions return the libraries' own scikit-learn estimators
(``lightgbm.LGBMRegressor``, ``xgboost.XGBRegressor``), set up for M5 sales:
a Tweedie objective (many zeros, a long right tail; variance power 1.1, as in
the M5 winners' models), one thread (m5kit runs one group per single-thread
Dask worker) and a fixed seed. Being plain library estimators, they clone,
pickle, and save in the libraries' native formats.

They train on the feature tables of :class:`~m5kit.forecasting.features.LagFeatures`
(one row per series and day). Neither library is a dependency of m5kit:
install them as extras, ``pip install "m5kit[lightgbm]"`` or ``"m5kit[xgboost]"``.
"""

from __future__ import annotations

import importlib
from typing import Any

from m5kit.errors import M5kitError

__all__ = ["make_lightgbm", "make_xgboost", "for_zero_targets", "LIGHTGBM_DEFAULTS", "XGBOOST_DEFAULTS",
           "MissingExtraError"]

#: m5kit's LightGBM settings. Leaves of >= 50 rows keep a level-12 group
#: (one series, two years of days) from fitting noise; row and column
#: sampling at 0.5 follow the M5 winners' per-store models. 200 trees at a
#: learning rate of 0.1: a store group of 2.2 million rows (LagFeatures'
#: two years) fits in about two CPU minutes on one thread.
LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "objective": "tweedie",
    "tweedie_variance_power": 1.1,
    "n_estimators": 200,
    "learning_rate": 0.1,
    "num_leaves": 63,
    "min_child_samples": 50,
    "subsample": 0.5,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "n_jobs": 1,
    "random_state": 0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}

#: m5kit's XGBoost settings (the same model as LIGHTGBM_DEFAULTS, leaf-wise growth).
#: XGBoost has no minimum of rows per leaf; its ``min_child_weight`` is a sum
#: of Tweedie hessians, about one per row of a series selling one unit a day
#: (more for fast movers, less for slow ones). At 1 (XGBoost's default) a
#: level-12 model (one series, 730 rows) fit leaves of a few rows and its
#: direct forecast fell to 0.58 of the actual on real M5 series (WRMSSE 1.57,
#: worse than naive); 200 gave 0.68 there and was also better at levels 3 and 9
#: (benchmarks/RESULTS.md).
XGBOOST_DEFAULTS: dict[str, Any] = {
    "objective": "reg:tweedie",
    "tweedie_variance_power": 1.1,
    "n_estimators": 200,
    "learning_rate": 0.1,
    "tree_method": "hist",
    "grow_policy": "lossguide",
    "max_leaves": 63,
    "max_depth": 0,
    "min_child_weight": 200.0,
    "subsample": 0.5,
    "colsample_bytree": 0.5,
    "enable_categorical": True,
    "n_jobs": 1,
    "random_state": 0,
}


class MissingExtraError(M5kitError, ImportError):
    """An optional library (an m5kit extra) is needed and not installed."""


def _require(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"the {extra} model needs the {module} package, which is not installed: "
            f'pip install "m5kit[{extra}]"'
        ) from None


def make_lightgbm(**params):
    """A ``lightgbm.LGBMRegressor`` with m5kit's defaults (Tweedie, one thread, seeded).

    Parameters
    ----------
    **params
        Any ``LGBMRegressor`` parameter; overrides :data:`LIGHTGBM_DEFAULTS`.

    Returns
    -------
    lightgbm.LGBMRegressor

    Raises
    ------
    MissingExtraError
        lightgbm is not installed (``pip install "m5kit[lightgbm]"``).

    Examples
    --------
    >>> model = make_lightgbm(n_estimators=50)      # doctest: +SKIP
    >>> model.get_params()["objective"]             # doctest: +SKIP
    'tweedie'
    """
    lightgbm = _require("lightgbm", "lightgbm")
    return lightgbm.LGBMRegressor(**{**LIGHTGBM_DEFAULTS, **params})


def make_xgboost(**params):
    """An ``xgboost.XGBRegressor`` with m5kit's defaults (Tweedie, one thread, seeded).

    Parameters
    ----------
    **params
        Any ``XGBRegressor`` parameter; overrides :data:`XGBOOST_DEFAULTS`.

    Returns
    -------
    xgboost.XGBRegressor

    Raises
    ------
    MissingExtraError
        xgboost is not installed (``pip install "m5kit[xgboost]"``).

    Examples
    --------
    >>> model = make_xgboost(n_estimators=50)       # doctest: +SKIP
    >>> model.get_params()["objective"]             # doctest: +SKIP
    'reg:tweedie'
    """
    xgboost = _require("xgboost", "xgboost")
    return xgboost.XGBRegressor(**{**XGBOOST_DEFAULTS, **params})


#: The squared-error objective of each library, for a group that sold nothing.
_SQUARED_ERROR = {"lightgbm": "regression", "xgboost": "reg:squarederror"}


def for_zero_targets(estimator) -> dict[str, Any]:
    """Parameters that let a LightGBM or XGBoost regressor fit a group whose targets are all zero.

    A Tweedie or Poisson objective models the log of the mean, which is minus infinity when nothing
    sold: LightGBM refuses to train ("sum of labels is zero") and XGBoost predicts NaN. A group
    without a sale in its training days (a series that sold nothing in two years) is fitted
    with the library's squared-error objective instead: a booster of the same class and format
    whose forecast is 0.

    Parameters
    ----------
    estimator : estimator
        The group's (cloned, unfitted) regressor.

    Returns
    -------
    dict
        ``{"objective": ...}`` for a LightGBM or XGBoost regressor with a log-link objective, else
        ``{}`` (any other estimator is left as it is).

    Examples
    --------
    >>> for_zero_targets(make_lightgbm())          # doctest: +SKIP
    {'objective': 'regression'}
    """
    objective = estimator.get_params(deep=False).get("objective") if hasattr(estimator, "get_params") else None
    if not isinstance(objective, str) or not any(k in objective for k in ("tweedie", "poisson", "gamma")):
        return {}
    library = type(estimator).__module__.split(".")[0]
    if library not in _SQUARED_ERROR:
        return {}
    params = {"objective": _SQUARED_ERROR[library]}
    if library == "xgboost" and "tweedie_variance_power" in estimator.get_params(deep=False):
        params["tweedie_variance_power"] = None  # XGBoost warns about a parameter its objective does not use
    return params

