"""m5kit: one small deep forecaster per group of M5 series, fitted on Dask.

The heavy parts (Keras, Dask) are imported only when first used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "M5Data": "m5kit.datasets",
    "make_m5": "m5kit.datasets",
    "load_m5": "m5kit.datasets",
    "write_m5": "m5kit.datasets",
    "subset_items": "m5kit.datasets",
    "validate_m5": "m5kit.datasets",
    "CalendarMerger": "m5kit.transformers",
    "PriceJoiner": "m5kit.transformers",
    "LevelAggregator": "m5kit.transformers",
    "Windower": "m5kit.transformers",
    "CNNLSTMRegressor": "m5kit.models",
    "build_cnn_lstm": "m5kit.models",
    "GroupedEstimator": "m5kit.grouped",
    "make_pipeline": "m5kit.pipeline",
    "to_submission": "m5kit.forecasting.submission",
    "mean_forecast": "m5kit.forecasting.submission",
    "wrmsse": "m5kit.metrics",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'm5kit' has no attribute {name!r}")


def __dir__():
    return __all__
