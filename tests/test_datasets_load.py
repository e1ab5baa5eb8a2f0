"""load_m5 / write_m5 / subset_items / validate_m5: M5's file format, round trips and one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import m5kit
from m5kit.datasets import M5Data, load_m5, make_m5, subset_items, validate_m5, write_m5
from m5kit.datasets import _write
from m5kit.errors import DataError, ParamError

TABLES = ("calendar", "prices", "sales", "future")


def assert_same(a: M5Data, b: M5Data) -> None:
    for name in TABLES:
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            assert left is None and right is None, name
        else:
            assert_frame_equal(left, right, obj=name)


@pytest.fixture(scope="module")
def data() -> M5Data:
    return make_m5()


@pytest.fixture(scope="module")
def tiny() -> M5Data:
    return make_m5(n_items=7, n_stores=4, n_days=60, seed=5)


@pytest.fixture(scope="module")
def tiny_dir(tiny, tmp_path_factory) -> Path:
    """The tiny data written once; tests copy it before changing it."""
    return write_m5(tiny, tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def folder(tiny_dir, tmp_path) -> Path:
    """A fresh copy of the tiny M5 folder."""
    return Path(shutil.copytree(tiny_dir, tmp_path / "m5"))


def edit(folder: Path, name: str, change) -> None:
    """Rewrite one CSV after ``change(frame)`` (all cells as text)."""
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    frame = change(frame)
    frame.to_csv(folder / name, index=False)


def load_error(folder: Path, **kwargs) -> str:
    """The one-line DataError message of load_m5(folder)."""
    with pytest.raises(DataError) as info:
        load_m5(folder, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- round trips and the file format ---------------------------------------------------------------


def test_write_then_load_gives_back_all_four_tables(data, tmp_path):
    """load_m5(write_m5(make_m5())) equals the generated data (calendar, prices, sales, future)."""
    assert_same(load_m5(write_m5(data, tmp_path)), data)


def test_files_are_in_m5_format(tiny, tiny_dir):
    """The files have M5's names, headers, id suffixes, dates and plain integer/price text."""
    assert sorted(p.name for p in tiny_dir.iterdir()) == [
        "calendar.csv", "sales_train_evaluation.csv", "sales_train_validation.csv", "sell_prices.csv"]
    cal = (tiny_dir / "calendar.csv").read_text().splitlines()
    assert cal[0] == ("date,wm_yr_wk,weekday,wday,month,year,d,event_name_1,event_type_1,"
                      "event_name_2,event_type_2,snap_CA,snap_TX,snap_WI")
    assert cal[1] == "2011-01-29,11101,Saturday,1,1,2011,d_1,,,,,0,0,0"
    val = (tiny_dir / "sales_train_validation.csv").read_text().splitlines()
    assert val[0] == "id,item_id,dept_id,cat_id,store_id,state_id," + ",".join(f"d_{i}" for i in range(1, 61))
    assert val[1].startswith("FOODS_1_001_CA_1_validation,FOODS_1_001,FOODS_1,FOODS,CA_1,CA,")
    assert len(val) == 1 + 28
    ev = (tiny_dir / "sales_train_evaluation.csv").read_text().splitlines()
    assert ev[0].endswith(",d_88") and ev[1].startswith("FOODS_1_001_CA_1_evaluation,")
    prices = (tiny_dir / "sell_prices.csv").read_text().splitlines()
    assert prices[0] == "store_id,item_id,wm_yr_wk,sell_price"
    price = prices[1].split(",")[-1]
    assert price == f"{float(price):.2f}".rstrip("0").rstrip(".") or "." in price
    assert len(price.split(".")[-1]) <= 2


@pytest.mark.parametrize("mode", ["validation", "evaluation"])
def test_only_one_sales_file_means_no_future(tiny, folder, mode):
    """With one sales file, load_m5 trains on it and future is None."""
    other = "evaluation" if mode == "validation" else "validation"
    (folder / f"sales_train_{other}.csv").unlink()
    loaded = load_m5(folder)
    assert loaded.future is None
    n_days = 60 if mode == "validation" else 88
    assert loaded.n_days == n_days
    assert loaded.sales["id"].astype(str).str.endswith(f"_{mode}").all()


def test_forcing_a_sales_file(tiny, tiny_dir):
    """sales='validation'/'evaluation' read that file only; 'evaluation' includes the holdout days."""
    val = load_m5(tiny_dir, sales="validation")
    assert val.future is None
    assert_frame_equal(val.sales, tiny.sales)
    ev = load_m5(tiny_dir, sales="evaluation")
    assert ev.future is None and ev.n_days == 88
    np.testing.assert_array_equal(ev.sales.iloc[:, -28:].to_numpy(), tiny.future.iloc[:, 1:].to_numpy())


def test_future_is_aligned_by_item_and_store(tiny, folder):
    """Rows of the evaluation file in another order still give the future in the sales' order."""
    edit(folder, "sales_train_evaluation.csv", lambda f: f.iloc[::-1])
    assert_frame_equal(load_m5(folder).future, tiny.future)


def test_evaluation_file_of_other_sales_is_refused(tiny, folder):
    """An evaluation file whose last training days differ from the validation file's is named, not scored against."""
    last = tiny.sales.columns[-1]
    first = str(tiny.sales["id"].iat[1])
    sold = int(tiny.sales[last].iat[1])

    def change(frame):
        frame.loc[1, last] = str(sold + 3)
        return frame

    edit(folder, "sales_train_evaluation.csv", change)
    assert load_error(folder).startswith(
        f"sales_train_evaluation.csv: its sales on d_{int(last[2:]) - 27}..{last} differ from "
        f"sales_train_validation.csv's in 1 series (first: {first!r} on {last}, {sold + 3} against {sold}): use both "
        "files of the same M5 release, or train on the validation file alone")


@pytest.mark.parametrize(("col", "row", "value", "expected"), [
    ("month", 40, "2", "column 'month' holds 2 on d_41 (2011-03-10), whose month is 3: fix the calendar's month column"),
    ("year", 3, "2012", "column 'year' holds 2012 on d_4 (2011-02-01), whose year is 2011: fix the calendar's year column"),
    ("wday", 5, "3", "column 'wday' holds 3 on d_6 after 5 on d_5: the days of the week are numbered 1 to 7 in turn"),
    ("wday", 0, "0", "column 'wday' holds 0 on d_1: the days of the week are numbered 1 to 7 in turn"),
])
def test_calendar_columns_that_contradict_the_date(folder, col, row, value, expected):
    """The calendar's year, month and day of the week are model inputs: one that contradicts the date is named."""

    def change(frame):
        frame.loc[row, col] = value
        return frame

    edit(folder, "calendar.csv", change)
    assert load_error(folder).startswith(f"calendar.csv: {expected}")


def test_future_is_the_first_28_extra_days(tiny, tmp_path):
    """An evaluation file with more than 28 extra days gives a 28-day future."""
    long = make_m5(n_items=7, n_stores=1, n_days=40, horizon=35, seed=2)
    loaded = load_m5(write_m5(long, tmp_path))
    assert loaded.future.shape[1] - 1 == 28
    assert_frame_equal(loaded.future, long.future.iloc[:, :29])


def test_numpy_and_pandas_readers_agree(tiny, tiny_dir, monkeypatch):
    """The fast NumPy reader of the wide files and pandas' reader give identical tables."""
    from m5kit.datasets import _load

    fast = load_m5(tiny_dir)
    monkeypatch.setattr(_load, "_parse_wide_fast", lambda *args, **kwargs: None)
    assert_same(load_m5(tiny_dir), fast)
    assert_same(fast, tiny)


def test_windows_line_ends_and_decimal_zeros_are_read(tiny, folder):
    """Files with CRLF line ends or counts written as '3.0' load like plain ones."""
    for name in ("sales_train_validation.csv", "sales_train_evaluation.csv", "calendar.csv"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert_same(load_m5(folder), tiny)

    def decimals(frame):
        frame["d_9"] = frame["d_9"] + ".0"
        return frame

    edit(folder, "sales_train_validation.csv", decimals)
    assert_same(load_m5(folder), tiny)


def test_bad_cell_in_a_crlf_file_is_named(folder):
    """In a file the fast reader declines (CRLF line ends), a bad cell is still named with its line."""

    def change(frame):
        frame.loc[4, "d_12"] = "?"
        return frame

    edit(folder, "sales_train_validation.csv", change)
    path = folder / "sales_train_validation.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    message = load_error(folder)
    assert "non-numeric sales '?' in column d_12, line 6 (id 'FOODS_2_001_CA_1_validation')" in message


def test_files_that_start_with_a_byte_order_mark_are_read_and_their_bad_cells_named(tiny, folder):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark: the files load like plain ones, and a bad cell in
    the sales was a KeyError 'id' traceback (the header's first column read as '\\ufeffid'): it is named."""
    for path in folder.glob("*.csv"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert_same(load_m5(folder), tiny)
    path = folder / "sales_train_validation.csv"
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5][:-1] + b"?"
    path.write_bytes(b"\n".join(lines))
    assert load_error(folder).startswith("sales_train_validation.csv: non-numeric sales '")


@pytest.mark.parametrize(("value", "what"), [("70000", "sales '70000' above 32767"), ("40000", "sales '40000' above 32767")])
def test_too_large_sales_in_a_crlf_file_are_refused_not_wrapped(folder, value, what):
    """In a file the fast reader declines (CRLF line ends), sales beyond int16 are named, not read as 4464 or negative."""

    def change(frame):
        frame.loc[4, "d_12"] = value
        return frame

    edit(folder, "sales_train_validation.csv", change)
    path = folder / "sales_train_validation.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert f"{what} in column d_12, line 6 (id 'FOODS_2_001_CA_1_validation')" in load_error(folder)


def test_lazy_top_level_exports():
    """make_m5, load_m5, write_m5 are importable from m5kit itself."""
    assert m5kit.make_m5 is make_m5 and m5kit.load_m5 is load_m5 and m5kit.write_m5 is write_m5


# --- write_m5 -----------------------------------------------------------------------------------------


def test_write_refuses_to_overwrite(tiny, tiny_dir):
    """Existing M5 files are not replaced without overwrite=True; the error names the file."""
    with pytest.raises(DataError, match=r"calendar\.csv.*already exists.*overwrite"):
        write_m5(tiny, tiny_dir)


def test_overwrite_given_as_text_is_one_param_error_and_replaces_nothing(tiny, tiny_dir):
    """write_m5(overwrite='no') was read as true and replaced the M5 files: one ParamError line, the files kept."""
    from m5kit.errors import ParamError

    before = (tiny_dir / "calendar.csv").stat().st_mtime_ns
    with pytest.raises(ParamError, match=r"^invalid overwrite 'no': give False or True$"):
        write_m5(tiny, tiny_dir, overwrite="no")
    assert (tiny_dir / "calendar.csv").stat().st_mtime_ns == before


def test_overwrite_without_future_removes_a_stale_evaluation_file(tiny, folder):
    """overwrite=True replaces the files; without a future the old evaluation file goes too."""
    no_future = M5Data(tiny.calendar, tiny.prices, tiny.sales, None)
    write_m5(no_future, folder, overwrite=True)
    assert not (folder / "sales_train_evaluation.csv").exists()
    assert_same(load_m5(folder), no_future)


def test_failed_write_leaves_no_half_written_file(tiny, tmp_path, monkeypatch):
    """A failure while writing a file leaves neither that file (nor the files written before it) nor a temporary
    file behind."""

    def broken(handle, prices):
        handle.write("store_id,item_id,wm_yr_wk,sell_price\nCA_1,")
        raise OSError("disk full")

    monkeypatch.setattr(_write, "_write_prices", broken)
    with pytest.raises(OSError, match="disk full"):
        write_m5(tiny, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_overwrite_that_fails_midway_keeps_the_old_files_whole(tiny, folder, monkeypatch):
    """overwrite=True failing at the last file (a full disk) left three new files beside the old evaluation file, a mix
    of two datasets: the folder now keeps the old data whole and no temporary file."""
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(handle, sales, block, days, suffix):
        if suffix == "evaluation":
            raise OSError(28, "No space left on device")
        return real(handle, sales, block, days, suffix)

    real = _write._write_sales
    monkeypatch.setattr(_write, "_write_sales", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_m5(make_m5(n_items=7, n_stores=4, n_days=70, seed=6), folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_overwrite_of_a_folder_with_a_folder_named_as_an_m5_file_keeps_the_old_files(tiny, folder):
    """overwrite=True into a folder whose sell_prices.csv is a folder replaced calendar.csv, then failed with a bare
    IsADirectoryError (a mix of two datasets): one DataError line naming it, and every old file kept."""
    (folder / "sell_prices.csv").unlink()
    (folder / "sell_prices.csv").mkdir()
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(DataError, match=r"^'.*sell_prices\.csv' is a folder, not a file: remove it or choose another "
                                        r"folder$"):
        write_m5(make_m5(n_items=7, n_stores=4, n_days=70, seed=6), folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_write_together_with_a_folder_as_one_target_replaces_none(tmp_path):
    """write_together renamed the files before a target that is a folder into place, then failed: none is replaced
    now, and no temporary file is left."""
    from m5kit.store import write_together

    (tmp_path / "a.csv").write_text("old")
    (tmp_path / "b.csv").mkdir()
    with pytest.raises(IsADirectoryError):
        write_together({tmp_path / "a.csv": lambda fh: fh.write("new"), tmp_path / "b.csv": lambda fh: fh.write("new")})
    assert (tmp_path / "a.csv").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_a_killed_write_leaves_nothing_behind_once_written_again(tiny, tmp_path):
    """A write killed mid-file left its hidden temporary file in the data folder for good (nothing removed it):
    writing the folder again removes it, and only the M5 files stay."""
    (tmp_path / ".sell_prices.csv.4242.tmp").write_text("store_id,item_id,wm_yr_wk,sell_price\nCA_1,")
    write_m5(tiny, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["calendar.csv", "sell_prices.csv", "sales_train_validation.csv", "sales_train_evaluation.csv"])


def test_write_of_sales_held_as_whole_floats(tiny, tmp_path):
    """Sales held as floats of whole counts (a frame read or computed by the user) pass validate_m5, so write_m5 writes
    them as counts that load back equal (was an IndexError from the writer's lookup table)."""
    days = [c for c in tiny.sales.columns if c.startswith("d_")]
    sales = tiny.sales.astype(dict.fromkeys(days, "float64"))
    write_m5(M5Data(calendar=tiny.calendar, prices=tiny.prices, sales=sales, future=tiny.future), tmp_path)
    assert_same(load_m5(tmp_path), tiny)


def test_write_checks_the_data_first(tiny, tmp_path):
    """Invalid tables raise DataError before any file is written."""
    bad = tiny.sales.copy()
    bad["d_3"] = bad["d_3"] - 100
    with pytest.raises(DataError, match="negative sales"):
        write_m5(M5Data(tiny.calendar, tiny.prices, bad, tiny.future), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- subset_items ---------------------------------------------------------------------------------------


def test_subset_keeps_the_first_items_in_all_stores(data, tmp_path):
    """subset_items keeps the first items with all their stores, prices and future; it round-trips."""
    small = subset_items(data, 5)
    first = data.sales["item_id"].astype(str).unique()[:5].tolist()
    assert small.sales["item_id"].cat.categories.tolist() == first
    assert small.n_series == 50 and small.future.shape == (50, 29)
    assert set(small.prices["item_id"].astype(str)) == set(first)
    assert_frame_equal(small.sales, data.sales.iloc[:50].reset_index(drop=True).assign(
        **{c: small.sales[c] for c in ("id", "item_id", "dept_id", "cat_id", "store_id", "state_id")}))
    validate_m5(small)
    assert_same(load_m5(write_m5(small, tmp_path)), small)
    assert subset_items(data, 10_000) is data


@pytest.mark.parametrize("n", [0, -1, 2.5, "3", True])
def test_subset_rejects_bad_counts(data, n):
    """A count that is not a whole number >= 1 raises ParamError."""
    with pytest.raises(ParamError, match=r"invalid n_items \(how many items to keep\)"):
        subset_items(data, n)


def test_subset_of_a_table_instead_of_m5data_is_one_data_error(data):
    """subset_items(data.sales, 5) raised a bare AttributeError ('DataFrame' object has no attribute 'sales')."""
    with pytest.raises(DataError, match=r"^expected M5Data \(from make_m5 or load_m5\), got DataFrame$"):
        subset_items(data.sales, 5)


# --- validation: one test per problem, each a one-line DataError naming the file --------------------


def test_missing_folder(tmp_path):
    """A folder that does not exist is named, with how to get one."""
    message = load_error(tmp_path / "nowhere")
    assert "nowhere" in message and "does not exist" in message and "m5kit data generate" in message


@pytest.mark.parametrize("name", ["calendar.csv", "sell_prices.csv"])
def test_missing_file(folder, name):
    """A missing calendar or prices file is named."""
    (folder / name).unlink()
    assert load_error(folder).startswith(f"{name} is missing")


def test_missing_sales_files(folder):
    """Without any sales file the error names the sales files; a forced missing one is named too."""
    (folder / "sales_train_validation.csv").unlink()
    assert "sales_train_validation.csv" in load_error(folder, sales="validation")
    (folder / "sales_train_evaluation.csv").unlink()
    assert "is missing" in load_error(folder)


def test_bad_sales_choice(tiny_dir):
    """sales= must be auto, validation or evaluation."""
    assert "sales='both'" in load_error(tiny_dir, sales="both")


def test_missing_id_column(folder):
    """A sales file without an id column names the column."""
    edit(folder, "sales_train_validation.csv", lambda f: f.drop(columns="dept_id"))
    assert load_error(folder).startswith("sales_train_validation.csv: missing column 'dept_id'")


def test_extra_column(folder):
    """A sales file with an extra column names it."""
    edit(folder, "sales_train_validation.csv", lambda f: f.assign(comment="x"))
    assert load_error(folder).startswith("sales_train_validation.csv: extra column 'comment'")


def test_id_columns_out_of_order(folder):
    """Id columns in another order are reported before any data is parsed."""
    edit(folder, "sales_train_validation.csv",
         lambda f: f[["item_id", "id", *f.columns[2:]]])
    assert "put id, item_id" in load_error(folder)


@pytest.mark.parametrize(("value", "what"), [
    ("abc", "non-numeric sales 'abc'"), ("-2", "negative sales"), ("1.5", "fractional sales '1.5'"),
    ("", "empty sales"), ("40000", "above 32767"),
])
def test_bad_sales_values(folder, value, what):
    """Non-numeric, negative, fractional, empty and too large sales name the column and id."""

    def change(frame):
        frame.loc[2, "d_7"] = value
        return frame

    edit(folder, "sales_train_validation.csv", change)
    message = load_error(folder)
    assert message.startswith("sales_train_validation.csv:") and what in message
    assert "d_7" in message and "FOODS_1_001_CA_3_validation" in message


def test_bad_value_in_the_future_days(folder):
    """A bad cell among the evaluation file's future days is named in that file."""

    def change(frame):
        frame.loc[0, "d_70"] = "n/a"
        return frame

    edit(folder, "sales_train_evaluation.csv", change)
    message = load_error(folder)
    assert message.startswith("sales_train_evaluation.csv:") and "d_70" in message


def test_duplicate_ids(folder):
    """A repeated id is named."""
    edit(folder, "sales_train_validation.csv", lambda f: pd.concat([f, f.iloc[[3]]]))
    assert "duplicate id 'FOODS_1_001_CA_4_validation'" in load_error(folder)


def test_the_same_series_under_two_ids(folder):
    """An item-store in the file twice, as <...>_validation and <...>_evaluation (M5's two sets of rows pasted
    together), is named: it was trained as one level-12 group of two series and forecast twice."""

    def change(frame):
        other = frame.iloc[[0, 3]].copy()
        other["id"] = other["id"].str.replace("_validation", "_evaluation")
        return pd.concat([frame, other])

    edit(folder, "sales_train_validation.csv", change)
    assert load_error(folder, sales="validation") == (
        "sales_train_validation.csv: item 'FOODS_1_001' in store 'CA_1' appears twice (ids 'FOODS_1_001_CA_1_validation' "
        "and 'FOODS_1_001_CA_1_evaluation'): each item-store series must appear once")


def test_id_not_matching_item_and_store(folder):
    """An id that is not <item_id>_<store_id>_validation is named."""

    def change(frame):
        frame.loc[1, "id"] = "FOODS_1_001_CA_9_validation"
        return frame

    edit(folder, "sales_train_validation.csv", change)
    message = load_error(folder)
    assert "'FOODS_1_001_CA_9_validation' does not match <item_id>_<store_id>_(validation|evaluation)" in message


@pytest.mark.parametrize(("rename", "expected"), [
    ({"d_5": "d_6", "d_6": "d_5"}, "jump from d_4 to d_6"),
    ({"d_60": "d_61"}, "jump from d_59 to d_61"),
    ({"d_1": "d_0"}, "extra column 'd_0'"),
])
def test_day_column_gaps_and_disorder(folder, rename, expected):
    """Day columns with a gap or out of order are named."""
    edit(folder, "sales_train_validation.csv", lambda f: f.rename(columns=rename))
    assert expected in load_error(folder, sales="validation")


def test_calendar_too_short(folder):
    """A calendar that does not reach 28 days past the sales is reported with the days needed."""
    edit(folder, "calendar.csv", lambda f: f.iloc[:80])
    message = load_error(folder, sales="validation")
    assert message.startswith("calendar.csv: covers d_1..d_80") and "d_1..d_88" in message
    assert "d_1..d_116" in load_error(folder, sales="evaluation")


def test_series_without_any_price(folder):
    """An item-store with no price row is named."""
    edit(folder, "sell_prices.csv",
         lambda f: f[~((f["item_id"] == "FOODS_3_001") & (f["store_id"] == "CA_2"))])
    message = load_error(folder)
    assert message.startswith("sell_prices.csv: no price at all for item 'FOODS_3_001' in store 'CA_2'")


def test_prices_of_other_stores(folder):
    """A sell_prices.csv of other stores is named as such (it said to add one item's prices or drop the series)."""
    edit(folder, "sell_prices.csv", lambda f: f.assign(store_id=f["store_id"].str.replace("CA_", "TX_")))
    assert load_error(folder) == ("sell_prices.csv: no price at all for store 'CA_1' (id 'FOODS_1_001_CA_1_validation'): "
                                  "the file prices store(s) TX_1, TX_2, TX_3, TX_4: use the prices file of the same "
                                  "data as the sales")


@pytest.mark.parametrize("col", ["store_id", "item_id"])
def test_price_row_without_a_store_or_item(folder, col):
    """An empty store or item in a price row is named (pandas 2 read it as the text 'nan' and loaded it)."""
    edit(folder, "sell_prices.csv", lambda f: f.assign(**{col: f[col].where(f.index != 2, "")}))
    assert load_error(folder) == (f"sell_prices.csv: empty {col} in row 3: every price row needs a store and an item")


@pytest.mark.parametrize(("col", "value", "expected"), [
    ("state_id", "TX", "store 'CA_1' is not in state_id 'TX'"),
    ("cat_id", "HOBBIES", "department 'FOODS_1' is not in cat_id 'HOBBIES'"),
    ("dept_id", "FOODS_2", "item 'FOODS_1_001' is not in dept_id 'FOODS_2'"),
    ("state_id", "NY", "unknown state_id 'NY'"),
    ("store_id", "CA_9", "unknown store_id 'CA_9'"),
])
def test_ids_outside_the_hierarchy(folder, col, value, expected):
    """A store outside its state, a department outside its category, an item outside its department,
    and unknown states or stores are named."""

    def change(frame):
        frame.loc[0, col] = value
        return frame

    edit(folder, "sales_train_validation.csv", change)
    assert expected in load_error(folder, sales="validation")


def test_calendar_column_missing(folder):
    """A calendar without one of M5's columns names it."""
    edit(folder, "calendar.csv", lambda f: f.drop(columns="snap_TX"))
    assert load_error(folder).startswith("calendar.csv: missing column 'snap_TX'")


@pytest.mark.parametrize(("col", "value", "expected"), [
    ("date", "29/01/2011", "not a YYYY-MM-DD date"),
    ("wm_yr_wk", "week1", "wm_yr_wk 'week1' on line 2"),
])
def test_calendar_bad_values(folder, col, value, expected):
    """Unparseable calendar cells are named with their line."""

    def change(frame):
        frame.loc[0, col] = value
        return frame

    edit(folder, "calendar.csv", change)
    assert expected in load_error(folder)


@pytest.mark.parametrize(("col", "value", "expected"), [
    ("wm_yr_wk", "11101", "calendar.csv: column 'wm_yr_wk' goes back from 11105 on d_29 to 11101 on d_30"),
    ("snap_CA", "2", "calendar.csv: column 'snap_CA' holds 2 on d_30: SNAP flags are 0 or 1"),
])
def test_calendar_inconsistent_values(folder, col, value, expected):
    """A week number going back (it silently gave that day another week's prices) is named; a SNAP flag other than 0
    or 1 is shown as a number (it read np.int8(2))."""

    def change(frame):
        frame.loc[29, col] = value
        return frame

    edit(folder, "calendar.csv", change)
    assert load_error(folder).startswith(expected)


def test_prices_column_missing(folder):
    """A prices file without one of M5's columns names it."""
    edit(folder, "sell_prices.csv", lambda f: f.drop(columns="sell_price"))
    assert load_error(folder).startswith("sell_prices.csv: missing column 'sell_price'")


@pytest.mark.parametrize(("value", "expected"), [("cheap", "sell_price 'cheap' on line 5"),
                                                 ("-1.0", "prices must be > 0"),
                                                 ("", "prices must be > 0")])
def test_prices_bad_values(folder, value, expected):
    """Non-numeric, negative and empty prices are reported."""

    def change(frame):
        frame.loc[3, "sell_price"] = value
        return frame

    edit(folder, "sell_prices.csv", change)
    assert expected in load_error(folder)


@pytest.mark.parametrize("week", ["70000", "99999", "-40000"])
def test_a_week_number_beyond_int16_is_refused_not_wrapped(folder, week):
    """A price row's wm_yr_wk too large for int16 is named, not silently read as another week (70000 as 4464)."""

    def change(frame):
        frame.loc[3, "wm_yr_wk"] = week
        return frame

    edit(folder, "sell_prices.csv", change)
    assert f"sell_prices.csv: wm_yr_wk '{week}' on line 5 is not a whole week number like 11101" in load_error(folder)


def test_prices_infinite(folder):
    """An infinite price is refused like a negative one (it made NaN price features and trained on them)."""

    def change(frame):
        frame.loc[3, "sell_price"] = "inf"
        return frame

    edit(folder, "sell_prices.csv", change)
    message = load_error(folder)
    assert message.startswith("sell_prices.csv: sell_price inf for item") and "prices must be > 0 and finite" in message


@pytest.mark.parametrize("price", ["same", "other"])
def test_prices_duplicate_week(folder, price):
    """Two price rows for one store, item and week are named when the files are loaded (not after the cluster started)."""

    def change(frame):
        extra = frame.iloc[[4]].copy()
        if price == "other":
            extra["sell_price"] = "9.99"
        return pd.concat([frame, extra])

    edit(folder, "sell_prices.csv", change)
    row = pd.read_csv(folder / "sell_prices.csv", dtype=str).iloc[4]
    message = load_error(folder)
    assert message == (f"sell_prices.csv: more than one price for item {row['item_id']!r} in store {row['store_id']!r}, "
                       f"week {row['wm_yr_wk']}: keep one row per store, item and week")


@pytest.mark.parametrize(("col", "value", "expected"), [
    ("store_id", " CA_1", "sales_train_validation.csv: unknown store_id ' CA_1'"),
    ("item_id", "FOODS_1_01", "sales_train_validation.csv: id 'FOODS_1_001_CA_1_validation' does not match"),
])
def test_bad_id_in_the_training_file_is_named_there_with_both_files(folder, col, value, expected):
    """A stray space or a typo in the validation file's ids is named in that file; with the evaluation file beside it,
    it was reported as 'sales_train_evaluation.csv: no row for id ...', sending the user to the wrong file."""

    def change(frame):
        frame.loc[0, col] = value
        return frame

    edit(folder, "sales_train_validation.csv", change)
    assert load_error(folder).startswith(expected)


def test_evaluation_file_missing_a_series(folder):
    """An evaluation file without one of the validation file's series is named."""
    edit(folder, "sales_train_evaluation.csv", lambda f: f.iloc[1:])
    message = load_error(folder)
    assert message.startswith("sales_train_evaluation.csv: no row for id 'FOODS_1_001_CA_1_validation'")


@pytest.mark.parametrize("name", ["sell_prices.csv", "calendar.csv", "sales_train_evaluation.csv",
                                  "sales_train_validation.csv"])
@pytest.mark.parametrize("line", [2, 5])
def test_a_row_with_an_extra_field_is_refused_in_every_file(folder, name, line):
    """A row with one field too many (',7' appended; a price written '3,12') was read silently from the prices, the
    calendar and the evaluation file (pandas drops it when columns are picked), as the first row of the validation file
    it was 'the day columns hold values that are not whole unit counts': one line naming the file and the line."""
    lines = (folder / name).read_bytes().splitlines(True)
    lines[line - 1] = lines[line - 1].rstrip(b"\n") + b",7\n"
    (folder / name).write_bytes(b"".join(lines))
    fields = lines[0].count(b",") + 1
    assert load_error(folder).startswith(f"{name}: malformed CSV (")
    assert f"Expected {fields} fields in line {line}, saw {fields + 1}): every line needs one value per column" \
        in load_error(folder)


def test_a_row_with_an_extra_field_in_a_crlf_evaluation_file_is_refused(folder):
    """An evaluation file with Windows line ends (read by pandas, some columns picked) took a row with an extra field
    silently: it is named as in a plain file."""
    path = folder / "sales_train_evaluation.csv"
    lines = path.read_bytes().splitlines()
    lines[3] += b",7"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    fields = lines[0].count(b",") + 1
    assert load_error(folder) == (f"sales_train_evaluation.csv: malformed CSV (Expected {fields} fields in line 4, saw "
                                  f"{fields + 1}): every line needs one value per column")


@pytest.mark.parametrize("line_end", [b"\n", b"\r"])
def test_a_row_with_an_extra_field_in_a_quoted_evaluation_file_is_refused(folder, line_end):
    """An evaluation file with quoted fields (or old Mac line ends) skipped the line scan, and pandas, picking some
    columns, dropped a row's extra field silently: it is named as in a plain file."""
    path = folder / "sales_train_evaluation.csv"
    lines = [b",".join(b'"' + field + b'"' for field in line.split(b",")) for line in path.read_bytes().splitlines()]
    lines[3] += b',"7"'
    path.write_bytes(line_end.join(lines) + line_end)
    fields = lines[0].count(b",") + 1
    assert load_error(folder) == (f"sales_train_evaluation.csv: malformed CSV (Expected {fields} fields in line 4, saw "
                                  f"{fields + 1}): every line needs one value per column")
    lines[3] = lines[3].removesuffix(b',"7"')
    path.write_bytes(line_end.join(lines) + line_end)
    assert load_m5(folder).future is not None


def test_a_price_written_with_a_decimal_comma_is_refused_not_cut(folder):
    """A price '3,12' (a decimal comma) was read as 3.0 without a word; it is named as a malformed line."""
    lines = (folder / "sell_prices.csv").read_bytes().splitlines(True)
    lines[3] = lines[3].replace(b".", b",", 1)
    (folder / "sell_prices.csv").write_bytes(b"".join(lines))
    assert "sell_prices.csv: malformed CSV (" in load_error(folder)
    assert "Expected 4 fields in line 4, saw 5" in load_error(folder)


def test_empty_file(folder):
    """An empty file is named."""
    (folder / "sell_prices.csv").write_text("")
    assert load_error(folder).startswith("sell_prices.csv: the file is empty")


def test_validate_refuses_what_load_m5_would_refuse_after_write(tiny, tmp_path):
    """In-memory sales above 32767 or a week number beyond int16 passed validate_m5, and write_m5 wrote files that
    load_m5 then refused: both are refused before anything is written."""
    big = tiny.sales.assign(d_2=tiny.sales["d_2"].astype("int64").where(tiny.sales.index != 4, 40000))
    with pytest.raises(DataError, match=r"^sales table: sales 40000 above 32767 in column d_2 of id '[^']+': m5kit "
                                        r"stores daily units as int16$"):
        write_m5(M5Data(tiny.calendar, tiny.prices, big, None), tmp_path)
    weeks = tiny.prices.assign(wm_yr_wk=tiny.prices["wm_yr_wk"].astype("int64").where(tiny.prices.index != 3, 70000))
    with pytest.raises(DataError, match=r"^sell_prices\.csv: wm_yr_wk 70000 for item '[^']+' in store '[^']+' is not a "
                                        r"week number like 11101"):
        write_m5(M5Data(tiny.calendar, weeks, tiny.sales, None), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_validate_in_memory_tables(tiny):
    """validate_m5 checks tables built in memory: NaN sales and a future with other ids."""
    nan_sales = tiny.sales.assign(d_2=tiny.sales["d_2"].astype("float32").where(tiny.sales.index != 4))
    with pytest.raises(DataError, match="empty or NaN sales in column d_2"):
        validate_m5(M5Data(tiny.calendar, tiny.prices, nan_sales, None))
    half = tiny.sales.assign(d_2=tiny.sales["d_2"].astype("float32").where(tiny.sales.index != 4, 1.5))
    with pytest.raises(DataError, match=r"fractional sales 1\.5 in column d_2 of id"):  # it read np.float32(1.5)
        validate_m5(M5Data(tiny.calendar, tiny.prices, half, None))
    shuffled = tiny.future.iloc[::-1].reset_index(drop=True)
    with pytest.raises(DataError, match="future table: its ids differ"):
        validate_m5(M5Data(tiny.calendar, tiny.prices, tiny.sales, shuffled))
    with pytest.raises(DataError, match="expected M5Data"):
        validate_m5(tiny.sales)


def test_bad_cell_is_named_with_the_numpy_setup_cfg_allows(folder, monkeypatch):
    """NumPy 1.26 (setup.cfg allows numpy>=1.26) reads '1,x,3' as [1] with a DeprecationWarning where NumPy 2 raises
    ValueError: the loader's fast reader then stopped on that warning (an error under warnings-as-errors) instead of
    naming the cell. Old NumPy's behaviour is mimicked here."""
    real = np.fromstring

    def numpy_126(text, dtype=float, sep=""):
        try:
            return real(text, dtype=dtype, sep=sep)
        except ValueError:
            import warnings

            warnings.warn("string or file could not be read to its end due to unmatched data; this will raise a "
                          "ValueError in the future.", DeprecationWarning, stacklevel=2)
            good = []
            for cell in text.split(b","):
                try:
                    good.append(int(cell))
                except ValueError:
                    break
            return np.asarray(good, dtype=dtype)

    monkeypatch.setattr(np, "fromstring", numpy_126)

    def change(frame):
        frame.loc[2, "d_7"] = "abc"
        return frame

    edit(folder, "sales_train_validation.csv", change)
    message = load_error(folder)
    assert "non-numeric sales 'abc'" in message and "d_7" in message


@pytest.mark.parametrize("name", ["sales_train_validation.csv", "sell_prices.csv", "calendar.csv"])
def test_a_line_saved_in_a_windows_encoding_is_named(folder, name):
    """A file saved in Excel's Windows (cp1252) encoding, a store id 'CA_é' far down: the prices were a bare
    UnicodeDecodeError traceback, the sales 'the day columns hold values that are not whole unit counts'; one line
    naming the file and line, and saying to save it as UTF-8."""
    lines = (folder / name).read_bytes().splitlines(True)
    body = lines[1] * (400_000 // len(lines[1]))  # past the block pandas reads the header from
    bad = lines[2].replace(b"CA_", "CA_é".encode("cp1252"), 1) if b"CA_" in lines[2] else \
        lines[2].replace(b",,", ",Café Day,".encode("cp1252"), 1)
    (folder / name).write_bytes(lines[0] + body + bad)
    line = body.count(b"\n") + 2
    assert load_error(folder) == f"{name}: line {line} is not UTF-8 text (it holds the byte 0xe9, as a file " \
        "saved in a Windows or Latin-1 encoding does): save it as UTF-8 (Excel: CSV UTF-8)"


def test_overwrite_none_is_one_param_error_and_replaces_nothing(tiny, tiny_dir):
    """write_m5(overwrite=None) (a setting read as null) replaced the M5 files without a word since check_folder
    took None for 'do not check': one ParamError line, as before it, the files kept."""
    from m5kit.errors import ParamError

    before = (tiny_dir / "calendar.csv").stat().st_mtime_ns
    with pytest.raises(ParamError, match=r"^invalid overwrite None: give False or True$"):
        write_m5(tiny, tiny_dir, overwrite=None)
    assert (tiny_dir / "calendar.csv").stat().st_mtime_ns == before


def test_write_keeps_hidden_tmp_files_that_are_not_its_own(tiny, tmp_path):
    """write_m5 into a folder of one's own (`m5kit data generate --out .`) removed every hidden '.<name>.tmp' file
    there (a user's '.notes.txt.tmp'), taken for its own killed writes: only those of the M5 files go now."""
    (tmp_path / ".notes.txt.tmp").write_text("mine")
    write_m5(tiny, tmp_path)
    assert (tmp_path / ".notes.txt.tmp").read_text() == "mine"
