"""One clone of an estimator per group of rows, fitted in parallel on Dask or in this process.

:class:`~m5kit.grouped.base.BaseGrouped` holds the per-group machinery for any
estimator; :class:`GroupedEstimator` is the windowed forecaster built on it;
:func:`fit_group` is the task it sends for each group (public: the benchmarks
run it in joblib and process pools too).
"""

from m5kit.grouped._tasks import fit_group, forecast_group
from m5kit.grouped.base import (
    BaseGrouped,
    GroupFitError,
    SkippedGroupWarning,
    group_seed,
)
from m5kit.grouped.forecaster import GroupedEstimator

__all__ = ["BaseGrouped", "GroupFitError", "GroupedEstimator", "SkippedGroupWarning", "fit_group", "forecast_group", "group_seed"]
