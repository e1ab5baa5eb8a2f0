"""One clone of an estimator per group of rows, fitted in parallel on Dask or in this process."""

from m5kit.grouped.forecaster import GroupedEstimator, GroupFitError, SkippedGroupWarning, _fit_group, group_seed

fit_group = _fit_group

__all__ = ["GroupedEstimator", "GroupFitError", "SkippedGroupWarning", "group_seed"]
