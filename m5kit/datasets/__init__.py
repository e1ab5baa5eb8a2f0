"""The M5 data: generate it, load it, write it, check it.

All entry points give the same tables with the same dtypes (listed in
``m5kit.datasets._dtypes``): ``make_m5`` generates M5-shaped data from a seed,
``load_m5`` reads M5's CSV files, ``write_m5`` writes them, ``validate_m5``
checks the tables, ``subset_items`` keeps the first items and
``series_stats`` measures how a sales table behaves (to compare data sets).

Examples
--------
>>> from m5kit.datasets import make_m5
>>> data = make_m5(n_items=7, n_stores=1, n_days=60)
>>> data.n_series, data.n_days
(7, 60)
"""

from m5kit.datasets._data import M5Data
from m5kit.datasets._generate import make_m5
from m5kit.datasets._load import load_m5, subset_items
from m5kit.datasets._stats import series_stats
from m5kit.datasets._validate import validate_m5
from m5kit.datasets._write import write_m5

__all__ = ["M5Data", "make_m5", "load_m5", "write_m5", "subset_items", "validate_m5", "series_stats"]
