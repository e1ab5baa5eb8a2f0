"""Forecasting on top of the per-group machinery: submission format and baselines."""

from m5kit.forecasting.baselines import BASELINES
from m5kit.forecasting.submission import FORECAST, from_submission, to_submission

__all__ = ["BASELINES", "FORECAST", "from_submission", "to_submission"]
