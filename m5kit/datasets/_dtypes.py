"""The dtypes of the three M5 tables, in one place.

:func:`~m5kit.datasets.make_m5` and :func:`~m5kit.datasets.load_m5` both pass
their tables through :func:`conform`, so generated and loaded data have exactly
the same columns and dtypes:

========================  ==========================================
column(s)                 dtype
========================  ==========================================
id, item_id, dept_id,     ``category`` (categories: sorted ``str``)
cat_id, store_id,
state_id
d_1 ... d_N (sales,       ``int16``
future)
date                      ``datetime64[ns]``
wm_yr_wk                  ``int16``
wday, month               ``int8``
year                      ``int16``
snap_CA/TX/WI             ``int8``
weekday, d, event_*       ``str`` (missing events are NaN)
sell_price                ``float32``
========================  ==========================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from m5kit._schema import CALENDAR_COLS, ID, ID_COLS, PRICE_COLS, day_columns

__all__ = [
    "CALENDAR_DTYPES",
    "DAY_DTYPE",
    "ID_DTYPE",
    "PRICE_DTYPES",
    "SALES_MAX",
    "conform",
    "conform_calendar",
    "conform_prices",
    "conform_sales",
    "as_category",
]

#: dtype of the id columns (sales, future, prices' store_id/item_id).
ID_DTYPE = "category"
#: dtype of the daily unit sales (``d_*`` columns).
DAY_DTYPE = np.int16
#: The largest unit count a ``d_*`` cell can hold.
SALES_MAX = int(np.iinfo(DAY_DTYPE).max)
#: dtype of the date column.
DATE_DTYPE = "datetime64[ns]"

CALENDAR_DTYPES: dict[str, object] = {
    "date": DATE_DTYPE,
    "wm_yr_wk": np.int16,
    "weekday": "str",
    "wday": np.int8,
    "month": np.int8,
    "year": np.int16,
    "d": "str",
    "event_name_1": "str",
    "event_type_1": "str",
    "event_name_2": "str",
    "event_type_2": "str",
    "snap_CA": np.int8,
    "snap_TX": np.int8,
    "snap_WI": np.int8,
}
assert tuple(CALENDAR_DTYPES) == CALENDAR_COLS

PRICE_DTYPES: dict[str, object] = {
    "store_id": ID_DTYPE,
    "item_id": ID_DTYPE,
    "wm_yr_wk": np.int16,
    "sell_price": np.float32,
}
assert tuple(PRICE_DTYPES) == PRICE_COLS


def as_category(values) -> pd.Series:
    """Return ``values`` as a categorical Series with sorted ``str`` categories, all used.

    Categoricals that already are so are returned as they are (one pass over
    the codes), so that 7 M price rows cost milliseconds, not a sort; other
    categoricals are recoded through their categories.
    """
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        codes = values.cat.codes.to_numpy()
        used = np.bincount(codes[codes >= 0], minlength=len(cats)) > 0
        if cats.dtype == "str" and cats.is_monotonic_increasing and not values.cat.ordered:
            return values if used.all() else values.cat.set_categories(cats[used])
        # Recode through the categories, not the rows: pandas 2 reads categories as object, and
        # turning 7.5 M price rows into text and back took 5 s. A missing value stays missing.
        text = cats.astype("str")
        kept = pd.Index(text[used]).unique().sort_values()
        lookup = kept.get_indexer(text)
        recoded = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
        return pd.Series(pd.Categorical.from_codes(recoded, categories=kept), index=values.index, name=values.name)
    return values.astype("str").astype("category")


def conform_calendar(calendar: pd.DataFrame) -> pd.DataFrame:
    """Return ``calendar`` with M5's columns in order and the lean dtypes."""
    out = pd.DataFrame(index=pd.RangeIndex(len(calendar)))
    for col, dtype in CALENDAR_DTYPES.items():
        values = calendar[col].reset_index(drop=True)
        if col == "date":
            out[col] = pd.to_datetime(values).astype(dtype)
        elif dtype == "str":
            # pandas 3's "str" keeps a missing event missing; pandas 2 writes it as the text "nan",
            # which made every day an event. Keep missing values missing under both.
            out[col] = values.astype(dtype).where(values.notna())
        else:
            out[col] = values.astype(dtype)
    out.columns = pd.Index(CALENDAR_COLS)
    return out


def conform_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Return ``prices`` with M5's columns in order and the lean dtypes."""
    out = pd.DataFrame(index=pd.RangeIndex(len(prices)))
    for col, dtype in PRICE_DTYPES.items():
        values = prices[col].reset_index(drop=True)
        out[col] = as_category(values) if dtype == ID_DTYPE else values.astype(dtype)
    out.columns = pd.Index(PRICE_COLS)
    return out


def conform_sales(sales: pd.DataFrame, id_cols: tuple[str, ...] = ID_COLS) -> pd.DataFrame:
    """Return a wide sales (or future) table with categorical ids and ``int16`` days.

    Already conforming day columns are not copied (copy-on-write); others are
    converted as one block.
    """
    days = day_columns(sales.columns)
    order = [*id_cols, *days]
    out = sales if list(sales.columns) == order else sales[order]
    out = out.reset_index(drop=True)
    if any(out[d].dtype != DAY_DTYPE for d in days):
        block = pd.DataFrame(out[days].to_numpy().astype(DAY_DTYPE), columns=pd.Index(days))
        out = pd.concat([out[list(id_cols)], block], axis=1)
    out = out.assign(**{col: as_category(out[col]) for col in id_cols})
    out.columns = pd.Index(order)
    return out


def conform(calendar: pd.DataFrame, prices: pd.DataFrame, sales: pd.DataFrame,
            future: pd.DataFrame | None) -> tuple:
    """Conform all four tables (see the module docstring for the dtypes)."""
    return (
        conform_calendar(calendar),
        conform_prices(prices),
        conform_sales(sales),
        None if future is None else conform_sales(future, (ID,)),
    )
