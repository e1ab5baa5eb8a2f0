"""The 12 M5 levels: level checks, keys, group names and group counts on the built-in data."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from m5kit.datasets import make_m5
from m5kit.errors import DataError, LevelError
from m5kit.hierarchy import LEVEL_NAMES, LEVELS, TOTAL, check_level, count_groups, group_names, level_keys, level_table


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return make_m5().sales


@pytest.mark.parametrize("bad", [0, 13, -1, "x", "", 1.5, True, False, None, "11.0", [11], np.float32(3.5),
                                 Fraction(7, 2)])
def test_bad_levels_raise_level_error(bad):
    """Levels that are not whole numbers from 1 to 12 raise a one-line LevelError saying what to pass (a NumPy float32
    3.5 or a Fraction 7/2 was cut to level 3)."""
    with pytest.raises(LevelError, match="choose a whole number from 1 to 12") as info:
        check_level(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("good", "expected"), [(1, 1), (12, 12), ("11", 11), (" 3 ", 3), (3.0, 3), (np.int64(7), 7)])
def test_good_levels_are_returned_as_int(good, expected):
    """Whole numbers 1-12, also as strings or whole floats, come back as int."""
    assert check_level(good) == expected and type(check_level(good)) is int


def test_levels_and_their_keys():
    """Twelve levels from the total down to item x store, with M5's keys."""
    assert list(LEVELS) == list(range(1, 13))
    assert level_keys(1) == () and level_keys("12") == ("item_id", "store_id")
    assert level_keys(7) == ("state_id", "dept_id") and LEVEL_NAMES[11] == "item x state"


def test_count_groups_on_the_built_in_data(sales):
    """make_m5()'s 139 items x 10 stores have the seed project's group counts at every level."""
    counts = count_groups(sales)
    assert [counts[level] for level in range(1, 13)] == [1, 3, 10, 3, 7, 9, 21, 30, 70, 139, 417, 1390]


def test_count_groups_without_a_levels_column_is_one_level_error(sales):
    """Sales without a level's id column: count_groups and level_table name it, as group_names does (they raised
    pandas' bare KeyError)."""
    no_store = sales.drop(columns="store_id")
    with pytest.raises(LevelError, match="^level 3 groups by store_id but the data has no column 'store_id'$"):
        count_groups(no_store, [1, 3])
    with pytest.raises(LevelError, match="no column 'store_id'"):
        level_table(no_store)


def test_group_names(sales):
    """Rows are named by their level's keys joined with '_' ("Total" at level 1)."""
    assert (group_names(sales, 1) == TOTAL).all()
    names = group_names(sales, 11)
    assert names.iloc[0] == "FOODS_1_001_CA" and names.nunique() == 417
    assert group_names(sales, 9).iloc[0] == "CA_1_FOODS_1"
    with pytest.raises(LevelError, match="no column 'store_id'"):
        group_names(sales.drop(columns="store_id"), 3)


def test_level_table(sales):
    """level_table lists the levels with keys, and group counts when given sales."""
    table = level_table(sales)
    assert list(table.columns) == ["level", "keys", "groups"]
    assert table["groups"].tolist()[-1] == 1390 and table["keys"].iloc[0] == "all"
    assert list(level_table().columns) == ["level", "keys"]


def test_join_keys_names_each_combination_once_and_refuses_two_that_join_alike():
    """join_keys joins each row's values with '_' (a missing value reads 'nan'), and two distinct combinations that
    would make one name are one DataError naming both (they became one group)."""
    from m5kit.errors import DataError
    from m5kit.hierarchy import join_keys

    frame = pd.DataFrame({"a": pd.Categorical(["x", "y", "x", None]), "b": [1.0, 2.0, 1.0, 3.0]})
    assert join_keys(frame, ["a", "b"]).tolist() == ["x_1.0", "y_2.0", "x_1.0", "nan_3.0"]
    assert join_keys(frame, ["a", "b"]).index.equals(frame.index)
    with pytest.raises(DataError, match=r"^the values \('a_b', 'c'\) and \('a', 'b_c'\) of columns a, b both make"):
        join_keys(pd.DataFrame({"a": ["q", "a_b", "a"], "b": ["r", "c", "b_c"]}), ["a", "b"])


def test_count_groups_takes_one_level_given_alone():
    """count_groups(sales, 12) and (sales, "12") count level 12 (a TypeError, and levels 1 and 2)."""
    sales = make_m5(n_items=2, n_stores=2, n_days=30).sales
    assert count_groups(sales, 12) == count_groups(sales, "12") == {12: 4}
    with pytest.raises(LevelError, match="no level given"):
        count_groups(sales, [])


@pytest.mark.parametrize("columns, error, said", [
    (["nope"], "DataError", "the frame has no column 'nope': give columns it has (a, b)"),  # a bare KeyError
    ([], "ParamError", "invalid columns []: give one or more column names"),  # a bare IndexError
    ("a", "ParamError", "invalid columns 'a': give a list of column names, e.g. ['a']"),  # KeyError for its letters
])
def test_join_keys_bad_columns_are_one_line_errors(columns, error, said):
    """join_keys with a column the frame lacks, no column or one text is one m5kit error line naming it."""
    from m5kit import errors
    from m5kit.hierarchy import join_keys

    with pytest.raises(getattr(errors, error)) as caught:
        join_keys(pd.DataFrame({"a": ["x"], "b": [1]}), columns)
    assert str(caught.value) == said


@pytest.mark.parametrize("call", [lambda: level_table([1]), lambda: count_groups(None, [3])])
def test_count_groups_and_level_table_of_no_frame_are_one_data_error(call):
    """level_table([1]) or count_groups(None) is one DataError saying to pass the sales table (a bare AttributeError)."""
    with pytest.raises(DataError) as caught:
        call()
    assert str(caught.value).startswith("sales must be a (wide or long) sales table (a DataFrame), got ")


def test_group_names_of_no_frame_is_one_data_error():
    """group_names([1], 3) was a bare AttributeError: one DataError line saying to pass a frame with the level's ids."""
    with pytest.raises(DataError, match=r"^frame must be a DataFrame holding the level's id columns, got list$"):
        group_names([1], 3)
    with pytest.raises(DataError, match=r"got NoneType$"):
        group_names(None, 1)


def test_count_groups_and_aggregate_levels_of_levels_none_is_one_level_error():
    """levels=None was a bare TypeError ('NoneType' object is not iterable): one LevelError line saying what to give."""
    from m5kit.metrics import aggregate_levels

    sales = make_m5(n_items=2, n_stores=1, n_days=30).sales
    said = r"^invalid levels None: choose whole numbers from 1 to 12 \(leave levels out for all 12\)$"
    with pytest.raises(LevelError, match=said):
        count_groups(sales, None)
    with pytest.raises(LevelError, match=said):
        aggregate_levels(sales, None)
