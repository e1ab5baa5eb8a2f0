"""The 12 aggregation levels of M5.

At level ``L`` the bottom series (item x store) are split into groups by the
level's keys. The same keys define the series that M5's metric sums up to.

Examples
--------
>>> from m5kit.hierarchy import LEVELS, check_level
>>> LEVELS[11]
('item_id', 'state_id')
>>> check_level("3")
3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Number

import numpy as np
import pandas as pd

from m5kit._schema import CAT, DEPT, ITEM, STATE, STORE
from m5kit.errors import DataError, LevelError, ParamError

__all__ = ["LEVELS", "LEVEL_NAMES", "TOTAL", "check_level", "level_keys", "contains", "group_names", "join_keys", "count_groups",
           "level_table"]

#: Keys of each level, in the order in which M5 ids join them.
LEVELS: Mapping[int, tuple[str, ...]] = {
    1: (),
    2: (STATE,),
    3: (STORE,),
    4: (CAT,),
    5: (DEPT,),
    6: (STATE, CAT),
    7: (STATE, DEPT),
    8: (STORE, CAT),
    9: (STORE, DEPT),
    10: (ITEM,),
    11: (ITEM, STATE),
    12: (ITEM, STORE),
}

LEVEL_NAMES: Mapping[int, str] = {
    level: (" x ".join(k.removesuffix("_id") for k in keys) if keys else "total")
    for level, keys in LEVELS.items()
}

#: Name of the single group of level 1.
TOTAL = "Total"


def check_level(level) -> int:
    """Validate an aggregation level and return it as an ``int``.

    Parameters
    ----------
    level : int or str
        A whole number from 1 to 12 (``"11"`` is accepted).

    Returns
    -------
    int

    Raises
    ------
    LevelError
        If ``level`` is not a whole number from 1 to 12.

    Examples
    --------
    >>> check_level(12)
    12
    """
    try:
        if isinstance(level, bool):
            raise TypeError
        if isinstance(level, float) and not level.is_integer():
            raise TypeError
        value = int(str(level).strip()) if isinstance(level, str) else int(level)
        if not isinstance(level, str) and level != value:  # np.float32(3.5), Fraction(7, 2): int() cut them to 3
            raise TypeError
    except (TypeError, ValueError):
        raise LevelError(f"unknown level {level!r}: choose a whole number from 1 to 12") from None
    if value not in LEVELS:
        raise LevelError(f"unknown level {value}: choose a whole number from 1 to 12")
    return value


def _as_levels(levels) -> list[int]:
    """Validate several levels; a level given alone (``12``, ``"12"``) is that one level.

    Iterating it failed for an int and took ``"12"`` for levels 1 and 2.
    """
    if levels is None:  # a bare TypeError ('NoneType' object is not iterable)
        raise LevelError("invalid levels None: choose whole numbers from 1 to 12 (leave levels out for all 12)")
    if isinstance(levels, (str, bytes, Number)):
        levels = [levels]
    checked = [check_level(level) for level in levels]
    if not checked:
        raise LevelError("no level given: choose whole numbers from 1 to 12")
    return checked


#: What an M5 id determines: a store is in one state, an item in one department and category.
_IMPLIES: Mapping[str, tuple[str, ...]] = {STORE: (STATE,), ITEM: (DEPT, CAT), DEPT: (CAT,)}


def contains(parent, level) -> bool:
    """Whether every group of ``level`` lies inside one group of ``parent`` (M5's hierarchy).

    Parameters
    ----------
    parent, level : int or str
        Aggregation levels (1-12). A level's keys imply others: a store is in
        one state, an item in one department and category.

    Returns
    -------
    bool
        True when the keys of ``parent`` are among those of ``level`` or
        implied by them.

    Raises
    ------
    LevelError
        If ``parent`` or ``level`` is not a whole number from 1 to 12.

    Examples
    --------
    >>> contains(3, 12), contains(2, 12), contains(3, 11), contains(1, 10)
    (True, True, False, True)
    """
    known = set(level_keys(level))
    known |= {implied for key in tuple(known) for implied in _IMPLIES.get(key, ())}
    return set(level_keys(parent)) <= known


def level_keys(level) -> tuple[str, ...]:
    """Return the id columns that define the groups of ``level``.

    Parameters
    ----------
    level : int or str
        A whole number from 1 to 12.

    Returns
    -------
    tuple of str
        The level's keys (:data:`LEVELS`); empty for level 1.

    Raises
    ------
    LevelError
        If ``level`` is not a whole number from 1 to 12.

    Examples
    --------
    >>> level_keys(9)
    ('store_id', 'dept_id')
    """
    return LEVELS[check_level(level)]


def group_names(frame: pd.DataFrame, level) -> pd.Series:
    """Name each row's group at ``level`` (``"FOODS_3_090_CA"``, ``"Total"``).

    Parameters
    ----------
    frame : DataFrame
        Any frame holding the level's id columns (wide sales or long frame).
    level : int

    Returns
    -------
    Series of str, aligned with ``frame``.

    Raises
    ------
    LevelError
        If ``level`` is not a whole number from 1 to 12, or ``frame`` lacks
        one of its id columns.
    DataError
        If ``frame`` is not a DataFrame.

    Examples
    --------
    >>> df = pd.DataFrame({"store_id": ["CA_1"], "dept_id": ["FOODS_3"]})
    >>> group_names(df, 9).tolist()
    ['CA_1_FOODS_3']
    """
    keys = level_keys(level)
    if not isinstance(frame, pd.DataFrame):  # a bare AttributeError (no .index or .columns)
        raise DataError(f"frame must be a DataFrame holding the level's id columns, got {type(frame).__name__}")
    if not keys:
        return pd.Series(TOTAL, index=frame.index, dtype=object)
    _require_keys(frame, level, keys)
    return join_keys(frame, keys)


def _require_keys(frame: pd.DataFrame, level, keys: tuple[str, ...]) -> None:
    """A LevelError when ``frame`` lacks one of the level's key columns."""
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise LevelError(f"level {level} groups by {', '.join(keys)} but the data has no column {missing[0]!r}")


def join_keys(frame: pd.DataFrame, columns) -> pd.Series:
    """Join the values of ``columns`` with ``_`` into one name per row.

    The names are joined once per distinct combination of values, not per
    row, and two combinations that join to the same name (``("A_B", "C")``
    and ``("A", "B_C")``) are refused: their rows would silently become one
    group.

    Parameters
    ----------
    frame : DataFrame
        Holds ``columns``.
    columns : sequence of str
        One or more columns, joined in this order (each value as text; a
        missing value reads ``"nan"``).

    Returns
    -------
    Series of object (str), aligned with ``frame``.

    Raises
    ------
    DataError
        If two distinct combinations of values join to the same name, or
        ``frame`` lacks one of ``columns``.
    ParamError
        No column, or ``columns`` given as one text (``"a"``, not ``["a"]``).

    Examples
    --------
    >>> join_keys(pd.DataFrame({"a": ["X"], "b": [1]}), ["a", "b"]).tolist()
    ['X_1']
    """
    if isinstance(columns, (str, bytes)):  # its letters were taken for columns: a bare KeyError
        raise ParamError(f"invalid columns {columns!r}: give a list of column names, e.g. [{columns!r}]")
    given, columns = columns, list(columns)
    if not columns:  # columns[0] was a bare IndexError
        raise ParamError(f"invalid columns {given!r}: give one or more column names")
    missing = [c for c in columns if c not in frame.columns]
    if missing:  # a bare KeyError
        shown = ", ".join(map(str, frame.columns[:10])) + (", ..." if len(frame.columns) > 10 else "")
        raise DataError(f"the frame has no column {missing[0]!r}: give columns it has ({shown})")
    combined, parts = None, []
    for column in columns:
        codes, uniques = pd.factorize(frame[column], sort=False)
        # a missing value has code -1, which picks the "nan" appended last
        parts.append((codes, np.append(np.asarray(pd.Index(uniques).astype(str), dtype=object), "nan")))
        step = codes.astype(np.int64) + 1
        combined = pd.factorize(step if combined is None else combined * (len(uniques) + 1) + step)[0]
    _, first = np.unique(combined, return_index=True)  # a row of each distinct combination, by its code
    names = parts[0][1][parts[0][0][first]]
    for codes, text in parts[1:]:
        names = names + "_" + text[codes[first]]
    clash = np.flatnonzero(pd.Series(names).duplicated(keep=False).to_numpy())
    if clash.size:
        twins = clash[names[clash] == names[clash[0]]][:2]
        values = [tuple(str(frame[c].iloc[r]) for c in columns) for r in first[twins]]
        raise DataError(f"the values {values[0]} and {values[1]} of columns {', '.join(columns)} both make the group name "
                        f"{names[clash[0]]!r}: rename values so that they stay distinct joined with '_', "
                        "or group by one column that holds the combined key")
    return pd.Series(names[combined], index=frame.index, dtype=object)


def count_groups(sales: pd.DataFrame, levels: Iterable[int] = LEVELS) -> dict[int, int]:
    """Count the groups of each level in a (wide or long) sales table.

    Parameters
    ----------
    sales : DataFrame
        Holds the id columns of ``levels`` (level 1 needs none).
    levels : int or iterable of int, default=all 12 levels
        The levels to count (one level alone counts that level).

    Returns
    -------
    dict of int to int
        Level -> number of distinct combinations of its keys (1 for level 1).

    Raises
    ------
    LevelError
        If a level is not a whole number from 1 to 12, or ``sales`` lacks
        one of its id columns.
    DataError
        If ``sales`` is not a DataFrame.

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": ["A", "A"], "store_id": ["CA_1", "CA_2"],
    ...                    "state_id": ["CA", "CA"], "cat_id": ["F", "F"], "dept_id": ["F_1", "F_1"]})
    >>> count_groups(df, [1, 3, 12])
    {1: 1, 3: 2, 12: 2}
    """
    if not isinstance(sales, pd.DataFrame):  # a bare AttributeError (no .columns)
        raise DataError(f"sales must be a (wide or long) sales table (a DataFrame), got {type(sales).__name__}: "
                        "pass the sales table with its id columns")
    counts = {}
    for level in _as_levels(levels):
        keys = level_keys(level)
        _require_keys(sales, level, keys)
        counts[level] = 1 if not keys else int(sales[list(keys)].drop_duplicates().shape[0])
    return counts


def level_table(sales: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the 12 levels as a table (level, keys, and group counts for ``sales``).

    Parameters
    ----------
    sales : DataFrame, optional
        A (wide or long) sales table holding every level's id columns.

    Returns
    -------
    DataFrame
        One row per level: ``level``, ``keys`` (comma-separated, ``"all"`` for
        level 1) and, when ``sales`` is given, ``groups`` (see
        :func:`count_groups`).

    Raises
    ------
    DataError
        If ``sales`` is given but is not a DataFrame.
    LevelError
        If ``sales`` lacks one of the levels' id columns.
    """
    rows = []
    counts = count_groups(sales) if sales is not None else {}
    for level, keys in LEVELS.items():
        row = {"level": level, "keys": ", ".join(keys) if keys else "all"}
        if sales is not None:
            row["groups"] = counts[level]
        rows.append(row)
    return pd.DataFrame(rows)
