"""The one data contract shared by every m5kit step.

Wide tables are exactly the M5 CSVs. Between pipeline steps the data is a
*long* frame: one row per series and day, with these columns and dtypes.
"""

from __future__ import annotations

# --- ids (categorical everywhere) -------------------------------------------
ID = "id"
ITEM, DEPT, CAT, STORE, STATE = "item_id", "dept_id", "cat_id", "store_id", "state_id"
ID_COLS: tuple[str, ...] = (ID, ITEM, DEPT, CAT, STORE, STATE)

# --- M5 CSV layouts -----------------------------------------------------------
CALENDAR_COLS: tuple[str, ...] = (
    "date", "wm_yr_wk", "weekday", "wday", "month", "year", "d",
    "event_name_1", "event_type_1", "event_name_2", "event_type_2",
    "snap_CA", "snap_TX", "snap_WI",
)
PRICE_COLS: tuple[str, ...] = (STORE, ITEM, "wm_yr_wk", "sell_price")
SALES_FILES: tuple[str, ...] = ("sales_train_evaluation.csv", "sales_train_validation.csv")
DAY_PREFIX = "d_"

# --- the hierarchy -------------------------------------------------------------
STATES: tuple[str, ...] = ("CA", "TX", "WI")
STORES: tuple[str, ...] = ("CA_1", "CA_2", "CA_3", "CA_4", "TX_1", "TX_2", "TX_3", "WI_1", "WI_2", "WI_3")
CATEGORIES: tuple[str, ...] = ("FOODS", "HOBBIES", "HOUSEHOLD")
DEPARTMENTS: tuple[str, ...] = (
    "FOODS_1", "FOODS_2", "FOODS_3", "HOBBIES_1", "HOBBIES_2", "HOUSEHOLD_1", "HOUSEHOLD_2",
)
EVENT_TYPES: tuple[str, ...] = ("Cultural", "National", "Religious", "Sporting")

# --- long frame -------------------------------------------------------------------
DAY = "d"            # int16 day number: 1 for d_1
SALES = "sales"      # float32 units sold; NaN on future (forecast) days
GROUP = "group"      # categorical group key added by LevelAggregator
WEEK = "wm_yr_wk"    # int16 Walmart week

# Calendar features added by CalendarMerger (all small ints).
CALENDAR_FEATURES: tuple[str, ...] = (
    WEEK, "wday", "month", "year", "snap", "event",
    *(f"event_{t}" for t in EVENT_TYPES),
)
# Days to the next and since the last event of each type (0 on one; EVENT_REACH when none is
# that close), added by CalendarMerger(event_distance=True) for the gradient-boosted forecasters.
EVENT_REACH = 7
EVENT_DISTANCE_FEATURES: tuple[str, ...] = (*(f"event_{t}_in" for t in EVENT_TYPES), *(f"event_{t}_ago" for t in EVENT_TYPES))
# Every column CalendarMerger can add: one value per day (and state, for ``snap``), never summed.
DAY_FEATURES: tuple[str, ...] = (*CALENDAR_FEATURES, *EVENT_DISTANCE_FEATURES)
# Price features added by PriceJoiner. ``available`` is 0 before launch
# (no price row): those days are never training targets.
PRICE_FEATURES: tuple[str, ...] = ("sell_price", "price_rel", "price_change", "available")
AVAILABLE = "available"

HORIZON = 28
FIRST_DATE = "2011-01-29"


def day_name(day: int) -> str:
    """Return the M5 column name of day number ``day`` (``1 -> 'd_1'``)."""
    return f"{DAY_PREFIX}{int(day)}"


def day_number(name: str) -> int:
    """Return the day number of an M5 day column name (``'d_1' -> 1``)."""
    return int(str(name)[len(DAY_PREFIX):])


def day_columns(columns) -> list[str]:
    """Return the ``d_*`` columns of a wide sales table, in their order."""
    return [c for c in columns if isinstance(c, str) and c.startswith(DAY_PREFIX)]


# --- forecasting families and strategies (here, not in m5kit.pipeline, so that the command line
# can name them without importing scikit-learn) ---------------------------------------------------
#: Forecasting families of ``make_pipeline(model=...)`` and ``m5kit train --model``.
MODELS: tuple[str, ...] = ("cnn-lstm", "lightgbm", "xgboost")

#: Ways of forecasting the horizon (``make_pipeline(strategy=...)``, ``m5kit train --strategy``).
STRATEGIES: tuple[str, ...] = ("direct", "recursive", "blend", "weekly")
