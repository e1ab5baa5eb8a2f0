"""Forecasting on top of the per-group machinery: submission format, baselines, backtests."""

from m5kit.forecasting.backtest import hide_last_days, mean_rmsse
from m5kit.forecasting.baselines import BASELINES
from m5kit.forecasting.submission import (
    FORECAST,
    from_submission,
    mean_forecast,
    order_like,
    to_submission,
)

__all__ = ["BASELINES", "FORECAST", "from_submission", "hide_last_days", "mean_forecast", "mean_rmsse", "order_like", "to_submission"]
