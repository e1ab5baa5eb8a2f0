"""The container for the three M5 tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from m5kit._schema import day_columns, day_number

__all__ = ["M5Data"]


@dataclass
class M5Data:
    """The three M5 tables, plus the true future sales when they are known.

    Attributes
    ----------
    calendar : DataFrame
        ``calendar.csv``: one row per day, M5's columns.
    prices : DataFrame
        ``sell_prices.csv``: ``store_id, item_id, wm_yr_wk, sell_price``.
    sales : DataFrame
        The wide sales table exactly as in the CSV: ``id``, the 5 id columns,
        ``d_1 ... d_N``.
    future : DataFrame or None
        ``id`` and the true sales of the ``horizon`` days after the training
        days (``d_{N+1} ... d_{N+horizon}``), same rows and dtypes as
        ``sales``: from :func:`make_m5`, or from :func:`load_m5` when the
        folder holds both sales files (the evaluation file's next 28 days).

    The dtypes of every table are listed once, in ``m5kit.datasets._dtypes``.

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> data = make_m5(n_items=7, n_stores=2, n_days=60)
    >>> data.n_series, data.n_days, data.last_day
    (14, 60, 60)
    """

    calendar: pd.DataFrame
    prices: pd.DataFrame
    sales: pd.DataFrame
    future: pd.DataFrame | None = None

    @property
    def n_series(self) -> int:
        """Number of item-store series."""
        return int(self.sales.shape[0])

    @property
    def n_days(self) -> int:
        """Number of training days (``d_`` columns of ``sales``)."""
        return len(day_columns(self.sales.columns))

    @property
    def last_day(self) -> int:
        """Day number of the last training day."""
        return day_number(day_columns(self.sales.columns)[-1])
