"""The bad-input catalogue: every bad input `m5kit train` recognises gives one line, exit 1, no output.

Each case runs the real CLI on a copy of small M5 files (written by
``write_m5``) with one thing broken, and checks: exit code 1, exactly one
line on stderr that names the problem and the fix, no traceback, and no
run folder written. README.md's "Bad input" table lists the same cases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit.cli import app
from m5kit.datasets import make_m5, write_m5

SMALL = {"n_items": 7, "n_stores": 2, "n_days": 150, "seed": 1}
VALIDATION = "sales_train_validation.csv"
TINY = ["--epochs", "1", "--window", "14", "--items", "2"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """Small, valid M5 files (written once)."""
    return write_m5(make_m5(**SMALL), tmp_path_factory.mktemp("m5"))


@pytest.fixture(scope="module")
def trained_run(pristine, tmp_path_factory, dask_client) -> Path:
    """A finished level-1 run of the small M5 files (trained once; tests must not change it)."""
    run = tmp_path_factory.mktemp("run") / "run"
    trained = CliRunner().invoke(app, ["train", "--data-dir", str(pristine), "--out", str(run), *TINY, "--level", "1",
                                       "--scheduler", dask_client.scheduler.address, "--no-track", "--no-report"])
    assert trained.exit_code == 0, trained.stderr
    return run


@pytest.fixture
def m5(pristine, tmp_path) -> Path:
    """A fresh copy of the small M5 files, to break."""
    return Path(shutil.copytree(pristine, tmp_path / "m5"))


def _table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _save(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def _set_cell(folder: Path, value: str, row: int = 1, column: str = "d_5") -> None:
    sales = _table(folder / VALIDATION)
    sales.loc[row, column] = value
    _save(sales, folder / VALIDATION)


# --- how to break the data ------------------------------------------------------------


def _drop_file(*names):
    def corrupt(folder: Path) -> None:
        for name in names:
            (folder / name).unlink()
    return corrupt


def _drop_column(file: str, column: str):
    def corrupt(folder: Path) -> None:
        _save(_table(folder / file).drop(columns=column), folder / file)
    return corrupt


def _rename_column(file: str, old: str, new: str):
    def corrupt(folder: Path) -> None:
        _save(_table(folder / file).rename(columns={old: new}), folder / file)
    return corrupt


def _cell(value: str):
    return lambda folder: _set_cell(folder, value)


def _duplicate_row(folder: Path) -> None:
    sales = _table(folder / VALIDATION)
    _save(pd.concat([sales, sales.iloc[[3]]], ignore_index=True), folder / VALIDATION)


def _short_calendar(folder: Path) -> None:
    calendar = _table(folder / "calendar.csv")
    _save(calendar.iloc[: SMALL["n_days"] + 10], folder / "calendar.csv")


def _prices_end_at_last_day(folder: Path) -> None:
    """The prices stop at the week of the last training day (a price file known up to today): no forecast week has one."""
    prices, calendar = _table(folder / "sell_prices.csv"), _table(folder / "calendar.csv")
    week = int(calendar.loc[calendar["d"] == f"d_{SMALL['n_days']}", "wm_yr_wk"].iloc[0])
    _save(prices[prices["wm_yr_wk"].astype(int) <= week], folder / "sell_prices.csv")


def _duplicate_price_row(folder: Path) -> None:
    prices = _table(folder / "sell_prices.csv")
    _save(pd.concat([prices, prices.iloc[[0]]], ignore_index=True), folder / "sell_prices.csv")


def _other_evaluation(folder: Path) -> None:
    """An evaluation file of other data: its copy of the last training day differs for one series."""
    sales = _table(folder / "sales_train_evaluation.csv")
    sales.loc[0, f"d_{SMALL['n_days']}"] = str(int(sales.loc[0, f"d_{SMALL['n_days']}"]) + 5)
    _save(sales, folder / "sales_train_evaluation.csv")


def _calendar_month(folder: Path) -> None:
    calendar = _table(folder / "calendar.csv")
    calendar.loc[40, "month"] = "2"
    _save(calendar, folder / "calendar.csv")


def _short_evaluation(folder: Path) -> None:
    sales = _table(folder / "sales_train_evaluation.csv")
    _save(sales.iloc[:, :-25], folder / "sales_train_evaluation.csv")


def _no_recent_sales(folder: Path) -> None:
    for name in (VALIDATION, "sales_train_evaluation.csv"):  # both files: they hold the same training days
        sales = _table(folder / name)
        sales[[f"d_{d}" for d in range(SMALL["n_days"] - 27, SMALL["n_days"] + 1)]] = "0"
        _save(sales, folder / name)


def _one_day(folder: Path) -> None:
    """A sales file of d_1 alone (no evaluation file): loads, but no model can learn from it."""
    sales = _table(folder / VALIDATION)
    _save(sales.iloc[:, :7], folder / VALIDATION)
    (folder / "sales_train_evaluation.csv").unlink()


def _unpriced_item(folder: Path) -> None:
    prices = _table(folder / "sell_prices.csv")
    gone = (prices["item_id"] == prices["item_id"].iloc[0]) & (prices["store_id"] == prices["store_id"].iloc[0])
    _save(prices[~gone], folder / "sell_prices.csv")


def _sale_without_price(folder: Path) -> None:
    """The first series keeps selling in its last training week, but that week's price row is gone."""
    prices, calendar = _table(folder / "sell_prices.csv"), _table(folder / "calendar.csv")
    week = calendar.loc[calendar["d"] == f"d_{SMALL['n_days']}", "wm_yr_wk"].iloc[0]
    first = prices.index[(prices["item_id"] == "FOODS_1_001") & (prices["store_id"] == "CA_1")]
    _save(prices.drop(index=first[prices.loc[first, "wm_yr_wk"] == week]), folder / "sell_prices.csv")
    for name in (VALIDATION, "sales_train_evaluation.csv"):  # both files: they hold the same training days
        sales = _table(folder / name)
        for day in calendar.loc[calendar["wm_yr_wk"] == week, "d"]:  # its only sale that week: the last day
            if day in sales.columns:
                sales.loc[0, day] = "0"
        sales.loc[0, f"d_{SMALL['n_days']}"] = "3"
        _save(sales, folder / name)


def _late_second_item(folder: Path) -> None:
    """The second item (both stores) goes on sale at most 13 days before the last training day: too short for a window of 14."""
    _launch_late(folder, _table(folder / VALIDATION)["item_id"].unique()[1:2])


def _late_every_item(folder: Path) -> None:
    """Every item goes on sale at most 13 days before the last training day: no group can be fitted."""
    _launch_late(folder, _table(folder / VALIDATION)["item_id"].unique())


def _launch_late(folder: Path, items) -> None:
    prices, calendar = _table(folder / "sell_prices.csv"), _table(folder / "calendar.csv")
    launch_week = int(calendar.loc[calendar["d"] == f"d_{SMALL['n_days'] - 6}", "wm_yr_wk"].iloc[0])
    launch_day = calendar.loc[calendar["wm_yr_wk"].astype(int) == launch_week, "d"].iloc[0]
    early = prices["item_id"].isin(items) & (prices["wm_yr_wk"].astype(int) < launch_week)
    _save(prices[~early], folder / "sell_prices.csv")
    for name in (VALIDATION, "sales_train_evaluation.csv"):  # no sales before the launch, as in M5
        sales = _table(folder / name)
        before = [c for c in sales.columns if c.startswith("d_") and int(c[2:]) < int(launch_day[2:])]
        sales.loc[sales["item_id"].isin(items), before] = "0"
        _save(sales, folder / name)


# (id, how to break the data, extra CLI arguments, words naming the problem, words naming the fix)
CASES = [
    ("missing data folder", None, ["--data-dir", "{tmp}/nowhere"], "nowhere does not exist", "give the folder that holds"),
    ("missing calendar.csv", _drop_file("calendar.csv"), [], "calendar.csv is missing", "put M5's calendar.csv there"),
    ("missing sell_prices.csv", _drop_file("sell_prices.csv"), [], "sell_prices.csv is missing", "put M5's sell_prices.csv there"),
    ("missing sales files", _drop_file(VALIDATION, "sales_train_evaluation.csv"), [],
     f"{VALIDATION} (or sales_train_evaluation.csv) is missing", "put M5's sales file there"),
    ("missing sales column", _drop_column(VALIDATION, "dept_id"), [], "missing column 'dept_id'", "the file needs the columns"),
    ("misnamed sales column", _rename_column(VALIDATION, "item_id", "item"), [], "missing column 'item_id'", "the file needs the columns"),
    ("missing calendar column", _drop_column("calendar.csv", "wday"), [], "calendar.csv: missing column 'wday'", "needs M5's columns"),
    ("misnamed price column", _rename_column("sell_prices.csv", "sell_price", "price"), [],
     "sell_prices.csv: missing column 'sell_price'", "need M5's columns"),
    ("non-numeric sales", _cell("abc"), [], "non-numeric sales 'abc' in column d_5, line 3", "whole unit counts"),
    ("negative sales", _cell("-2"), [], "negative sales -2 in column d_5 of id 'FOODS_1_001_CA_2_validation'", "whole unit counts >= 0"),
    ("fractional sales", _cell("1.5"), [], "fractional sales '1.5' in column d_5, line 3", "whole unit counts"),
    ("NaN sales", _cell("NaN"), [], "non-numeric sales 'NaN' in column d_5, line 3", "whole unit counts"),
    ("empty sales cell", _cell(""), [], "empty sales in column d_5, line 3", "fill the missing days with 0"),
    ("duplicate series id", _duplicate_row, [], "duplicate id", "must appear once"),
    ("gap in the day columns", _drop_column(VALIDATION, "d_50"), [], "day columns jump from d_49 to d_51", "consecutive and in order"),
    ("calendar shorter than sales + horizon", _short_calendar, [], "calendar.csv: covers d_1..d_160 but the sales need d_1..d_178",
     "use a calendar that covers them"),
    ("prices ending before the forecast days", _prices_end_at_last_day, [],
     f"sell_prices.csv: no price in week 11123 (d_155..d_161), one of the 28 days to forecast after the sales' last "
     f"day d_{SMALL['n_days']}: every series would be forecast 0 there (not on sale)",
     "add the prices of the weeks up to d_178 (M5's sell_prices.csv has them)"),
    ("duplicate price row", _duplicate_price_row, [], "sell_prices.csv: more than one price for item 'FOODS_1_001' in store 'CA_1'",
     "keep one row per store, item and week"),
    ("evaluation file of other sales", _other_evaluation, [],
     f"sales_train_evaluation.csv: its sales on d_123..d_150 differ from {VALIDATION}'s in 1 series",
     "use both files of the same M5 release, or train on the validation file alone"),
    ("calendar month that contradicts the date", _calendar_month, [],
     "calendar.csv: column 'month' holds 2 on d_41 (2011-03-10), whose month is 3", "fix the calendar's month column"),
    ("evaluation file shorter than the horizon", _short_evaluation, [],
     f"sales_train_evaluation.csv: has only 3 day(s) after {VALIDATION}'s last day d_150", "move it out of the data folder"),
    ("no sale in the last 28 training days", _no_recent_sales, [],
     "none of the 4 series sold anything in the last 28 training days (d_123..d_150), so the holdout WRMSSE has no weights",
     "move sales_train_evaluation.csv out of the data folder"),
    ("a sales file of one day", _one_day, [],
     "the sales hold 1 day(s) (d_1..d_1) but one training example of the CNN-LSTM's window needs at least 15",
     "lower --window or give a sales file with more days"),
    ("a sales file of one day (LightGBM)", _one_day, ["--model", "lightgbm"],
     "the sales hold 1 day(s) (d_1..d_1) but one training example of LightGBM's direct strategy needs at least 29",
     "give a sales file with more days"),
    ("an item with no prices", _unpriced_item, [], "no price at all for item", "add its weekly prices or drop the series"),
    ("a sale in a week without a price", _sale_without_price, [],
     f"id 'FOODS_1_001_CA_1_validation' sold units on d_{SMALL['n_days']} but prices has no sell_price for week 11122",
     "every sale needs a price"),
    ("level 0", None, ["--level", "0"], "unknown level 0", "choose a whole number from 1 to 12"),
    ("level 13", None, ["--level", "13"], "unknown level 13", "choose a whole number from 1 to 12"),
    ("level x", None, ["--level", "x"], "level 'x'", "choose a whole number from 1 to 12"),
    ("workers 0", None, ["--workers", "0"], "invalid number of workers '0'", "give a whole number of at least 1"),
    ("workers negative", None, ["--workers", "-1"], "invalid number of workers '-1'", "give a whole number of at least 1"),
    ("retries negative", None, ["--retries", "-1"], "invalid number of retries '-1'", "give a whole number of at least 0"),
    ("timeout 0", None, ["--timeout", "0"], "invalid timeout '0'", "a number > 0"),
    ("window 1", None, ["--window", "1"], "invalid window '1'", "give a whole number of at least 2"),
    ("epochs 0", None, ["--epochs", "0"], "invalid epoch count '0'", "give a whole number of at least 1"),
    ("items 0", None, ["--items", "0"], "invalid item count '0'", "give a whole number of at least 1"),
    ("on-short unknown", None, ["--on-short", "maybe"], "invalid --on-short 'maybe'", "give 'skip' or 'error'"),
    ("unreachable scheduler", None, ["--scheduler", "tcp://127.0.0.1:1", "--timeout", "1"],
     "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s", "check the address"),
    ("--param value LightGBM refuses", None, ["--model", "lightgbm", "--param", "learning_rate=-1"],
     "--param learning_rate=-1: the lightgbm model refuses this value (Check failed: (learning_rate) > (0.0))",
     "give a value it accepts"),
    ("--param of the wrong type", None, ["--model", "lightgbm", "--param", "num_leaves=abc"],
     "--param num_leaves=abc: the lightgbm model refuses this value (Parameter num_leaves should be of type int",
     "give a value it accepts"),
    ("--param value XGBoost refuses", None, ["--model", "xgboost", "--param", "max_depth=-3"],
     "--param max_depth=-3: the xgboost model refuses this value (value -3 for Parameter max_depth should be greater equal to 0)",
     "give a value it accepts"),
    ("--param bad value among good ones", None, ["--model", "lightgbm", "--param", "num_leaves=15", "--param", "learning_rate=0"],
     "--param learning_rate=0: the lightgbm model refuses this value", "give a value it accepts"),
    ("--param value the network builder refuses", None, ["--param", "lstm_units=abc"],
     "--param lstm_units=abc: invalid lstm_units 'abc'", "give a whole number >= 0 or a sequence of them"),
    ("--param learning_rate <= 0 for the CNN-LSTM", None, ["--param", "learning_rate=-1"],
     "--param learning_rate=-1: invalid learning_rate -1", "give a learning rate > 0"),
    ("group with less history than the window (--on-short error)", _late_second_item, ["--level", "10", "--on-short", "error"],
     "1 of 2 group(s) of level 10 have too little history to train (FOODS_2_001), so nothing was fitted: group "
     "'FOODS_2_001' has no training window", "lower --window or give sales with longer histories, or pass --on-short skip"),
    ("every item launched too late for the window", _late_every_item, ["--level", "10"],
     "no group of level 10 has enough history to train, so nothing was fitted: group 'FOODS_1_001' has no training "
     "window: it needs 15 consecutive available days", "the 1 other group(s) are as short: lower --window or give sales "
     "with longer histories"),
    ("every item launched too late (LightGBM)", _late_every_item, ["--level", "10", "--model", "lightgbm"],
     "no group of level 10 has enough history to train, so nothing was fitted: group 'FOODS_1_001' has no training row",
     "the 1 other group(s) are as short: give sales with longer histories"),
]


def _args(extra: list[str], m5: Path, out: Path, tmp: Path) -> list[str]:
    args = ["train", "--data-dir", str(m5), "--out", str(out), *TINY, "--level", "3", *extra]
    return [a.replace("{tmp}", str(tmp)) for a in args]


def _check_one_line_error(result, problem: str, fix: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    assert problem in result.stderr and fix in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize(("case", "corrupt", "extra", "problem", "fix"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_1_and_writes_nothing(case, corrupt, extra, problem, fix, m5, tmp_path):
    """Each catalogued bad input: exit 1, one stderr line naming problem and fix, no traceback, no run folder."""
    if "--model" in extra:
        pytest.importorskip(extra[extra.index("--model") + 1])
    if corrupt is not None:
        corrupt(m5)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, _args(extra, m5, out, tmp_path))
    _check_one_line_error(result, problem, fix)
    assert not out.exists()
    assert "Dask dashboard" not in result.stdout  # refused before the cluster starts


def test_a_refused_train_into_new_nested_folders_leaves_none_of_them(m5, tmp_path):
    """--out new/deeper/run with an unreachable scheduler removed the run folder it had made to hold its lock, but left
    the empty new/deeper it had made for it: now none of them is left."""
    out = tmp_path / "new" / "deeper" / "run"
    result = CliRunner().invoke(app, _args(["--scheduler", "tcp://127.0.0.1:1", "--timeout", "1"], m5, out, tmp_path))
    _check_one_line_error(result, "cannot reach the Dask scheduler", "check the address")
    assert not (tmp_path / "new").exists()


def test_output_folder_of_a_different_run_is_refused_and_left_alone(m5, tmp_path, dask_client):
    """--out holding another run: exit 1 naming the difference and --overwrite; the folder is untouched."""
    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    # LightGBM: the folder's claim does not depend on the model, and its fit is quick
    base = ["train", "--data-dir", str(m5), "--out", str(out), "--model", "lightgbm", "--items", "2", "--no-track",
            "--scheduler", dask_client.scheduler.address]
    first = CliRunner().invoke(app, [*base, "--level", "1"])
    assert first.exit_code == 0, first.stderr
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, [*base, "--level", "2"])
    _check_one_line_error(result, f"output folder {out} holds a different run (level=1)", "choose another --out or pass --overwrite")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_an_output_folder_under_a_file_is_refused_before_the_cluster(m5, tmp_path):
    """--out <file>/run: one line before anything starts (was a NotADirectoryError traceback after the cluster started)."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    out = blocker / "run"
    result = CliRunner().invoke(app, _args([], m5, out, tmp_path))
    _check_one_line_error(result, f"cannot make the run folder {out}: {blocker} is a file, not a folder",
                          "give --out a folder path")
    assert "Dask dashboard" not in result.stdout and blocker.read_text() == "mine"


def test_a_folder_that_is_not_a_run_is_refused(m5, tmp_path):
    """--out that already holds other files (not an m5kit run) is refused, and nothing is added to it."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(out), *TINY])
    _check_one_line_error(result, "is not empty and holds no m5kit run", "choose a new or empty folder")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_short_group_is_skipped_with_one_warning_line_by_default(m5, tmp_path, dask_client):
    """By default a group with less history than the window is skipped: one warning line naming it and the fix, exit 0;
    `m5kit predict` of the run says in one line that the group gets no forecast, and `m5kit evaluate` that it has no
    score because of it."""
    _late_second_item(m5)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(out), *TINY, "--level", "10",
                                      "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "FOODS_2_001" in warning[0] and "lower --window" in warning[0], result.stderr
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr
    submission = pd.read_csv(out / "submission.csv")
    assert submission["id"].str.startswith("FOODS_1_001_").all() and len(submission) == SMALL["n_stores"]
    # `m5kit predict` of that run says so in one line too (it printed Python's warning: a source path and code line)
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ("warning: 1 group(s) have no fitted model and get no forecast (e.g. 'FOODS_2_001')\n"), \
        result.stderr
    # `m5kit evaluate` names the skipped group as the reason there is no score (it said only that an id had no rows)
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    _check_one_line_error(result, f"{out / 'forecast.csv'} has no forecast for 2 of 4 series (e.g. "
                                  "'FOODS_2_001_CA_1_validation') and the WRMSSE needs every series",
                          "the run skipped 1 group(s) with too little history to train (FOODS_2_001): fit them")
    # `m5kit report` too (it said to run `m5kit evaluate` first, which can only say the above)
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    _check_one_line_error(result, f"{out / 'forecast.csv'} has no forecast for 2 of 4 series (e.g. "
                                  "'FOODS_2_001_CA_1_validation') and the WRMSSE needs every series",
                          "the run skipped 1 group(s) with too little history to train (FOODS_2_001): fit them")
    # `m5kit blend` too names the run and its skipped group (it said "forecast has no rows for id ...", no run named)
    shutil.copytree(out, tmp_path / "copy")
    result = CliRunner().invoke(app, ["blend", str(out), str(tmp_path / "copy"), "--out", str(tmp_path / "blend")])
    _check_one_line_error(result, f"{out / 'forecast.csv'} has no forecast for 2 of 4 series (e.g. "
                                  "'FOODS_2_001_CA_1_validation') and a blend needs every series",
                          "the run skipped 1 group(s) with too little history to train (FOODS_2_001): fit them "
                          "(a lower --window for the CNN-LSTM) to blend the run")
    assert not (tmp_path / "blend").exists()


def test_gradient_boosted_short_group_warning_is_one_sentence(m5, tmp_path, dask_client):
    """A LightGBM run that skips a late item says in one line what happened and how to stop on it (it said "...their
    series are not in submission.csv, or pass --on-short error to stop on them": the CNN-LSTM's fix left out)."""
    pytest.importorskip("lightgbm")
    _late_second_item(m5)
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(tmp_path / "run"), "--items", "2",
                                      "--model", "lightgbm", "--level", "10", "--param", "n_estimators=2",
                                      "--scheduler", dask_client.scheduler.address, "--no-track", "--no-report"])
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "FOODS_2_001" in warning[0] and "lower --window" not in warning[0], result.stderr
    assert ", or pass" not in warning[0] and "; pass --on-short error to stop on them" in warning[0], warning[0]


def test_a_group_never_on_sale_in_training_is_not_told_to_lower_the_window(m5, tmp_path, dask_client):
    """An item launched after the last training day (no price, no sale: FOODS_3_595 of the real store before d_1846)
    is skipped; the warning and `m5kit evaluate` said "lower --window to fit them", which no window does: now they
    say only what happened and how to stop on it."""
    prices, calendar = _table(m5 / "sell_prices.csv"), _table(m5 / "calendar.csv")
    item = _table(m5 / VALIDATION)["item_id"].unique()[1]
    launch_week = int(calendar.loc[calendar["d"] == f"d_{SMALL['n_days'] + 8}", "wm_yr_wk"].iloc[0])
    _save(prices[~((prices["item_id"] == item) & (prices["wm_yr_wk"].astype(int) < launch_week))], m5 / "sell_prices.csv")
    for name in (VALIDATION, "sales_train_evaluation.csv"):
        sales = _table(m5 / name)
        days = [c for c in sales.columns if c.startswith("d_") and int(c[2:]) <= SMALL["n_days"] + 1]
        sales.loc[sales["item_id"] == item, days] = "0"
        _save(sales, m5 / name)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(out), *TINY, "--level", "10",
                                      "--scheduler", dask_client.scheduler.address, "--no-track", "--no-report"])
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and item in warning[0] and "window" not in warning[0].split("skipped")[1], result.stderr
    assert warning[0].endswith("; pass --on-short error to stop on them"), warning[0]
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    _check_one_line_error(result, "the WRMSSE needs every series", f"the run skipped 1 group(s) with too little "
                                  f"history to train ({item}): fit them to score the run")
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(tmp_path / "stop"), *TINY,
                                      "--level", "10", "--on-short", "error"])
    _check_one_line_error(result, f"longest history is 0 day(s) (series '{item}_CA_1_validation')",
                          "give sales with longer histories, or pass --on-short skip")
    assert "lower --window" not in result.stderr


@pytest.mark.parametrize("case", ["non-numeric sales", "unreachable scheduler", "--param value LightGBM refuses"])
def test_the_installed_command_prints_only_the_error_line(case, m5, tmp_path):
    """Through the real `m5kit` entry point (a subprocess) stderr holds the one error line and nothing else
    (LightGBM's C++ core writes its own "[LightGBM] [Fatal] ..." line to the process' stderr)."""
    _, corrupt, extra, problem, fix = next(c for c in CASES if c[0] == case)
    if "--model" in extra:
        pytest.importorskip(extra[extra.index("--model") + 1])
    if corrupt is not None:
        corrupt(m5)
    out = tmp_path / "run"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", "from m5kit.cli import main; main()", *_args(extra, m5, out, tmp_path)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert problem in proc.stderr and fix in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(("extra", "problem", "fix"), [
    (["--scheduler", "tcp://127.0.0.1:1", "--timeout", "1"], "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s",
     "check the address"),
    (["--scheduler", "tcp://127.0.0.1:1", "--timeout", "0"], "invalid timeout '0'", "a number > 0"),
])
def test_predict_with_an_unreachable_scheduler_is_one_line_exit_1(extra, problem, fix, trained_run):
    """`m5kit predict --scheduler` gives up after --timeout with the same one-line error as train, writing nothing."""
    before = sorted(p.name for p in trained_run.iterdir())
    result = CliRunner().invoke(app, ["predict", "--run", str(trained_run), "--out", str(trained_run / "sub.csv"), *extra])
    _check_one_line_error(result, problem, fix)
    assert sorted(p.name for p in trained_run.iterdir()) == before


def test_predict_to_a_folder_is_one_line_exit_1(m5, tmp_path, dask_client):
    """`m5kit predict --out` naming an existing folder: one line saying to give a file, exit 1, the folder untouched."""
    run = tmp_path / "run"
    trained = CliRunner().invoke(app, ["train", "--data-dir", str(m5), "--out", str(run), *TINY, "--level", "1",
                                       "--scheduler", dask_client.scheduler.address, "--no-track", "--no-report"])
    assert trained.exit_code == 0, trained.stderr
    folder = tmp_path / "forecasts"
    folder.mkdir()
    result = CliRunner().invoke(app, ["predict", "--run", str(run), "--out", str(folder)])
    _check_one_line_error(result, f"{folder} is a folder, not a CSV file", "give --out the path of the file to write")
    assert list(folder.iterdir()) == []


def test_items_past_the_folders_count_is_the_run_of_all_its_items(m5, tmp_path):
    """--items beyond the data folder's items trains on all of them and is recorded so: the same command without
    --items (or with the folder's count) resumes the run (it recorded items=5000, and both were refused as 'a
    different run')."""
    pytest.importorskip("lightgbm")
    import pandas as pd

    from m5kit.runs import prepare_run

    n = pd.read_csv(m5 / "sales_train_validation.csv")["item_id"].nunique()
    run = tmp_path / "run"
    first = prepare_run(run, level=3, model="lightgbm", data_dir=m5, items=5000, params={"n_estimators": 2})
    assert first.config.items is None
    first.fit()
    for items in (None, n, 5000):
        assert prepare_run(run, level=3, model="lightgbm", data_dir=m5, items=items,
                           params={"n_estimators": 2}).config.items is None
    fewer = prepare_run(tmp_path / "fewer", level=3, model="lightgbm", data_dir=m5, items=n - 1)
    assert fewer.config.items == n - 1 and fewer.data.sales["item_id"].nunique() == n - 1


@pytest.mark.parametrize("max_windows", [0, "x", 2.5])
def test_prepare_run_refuses_a_bad_max_windows_before_claiming_the_folder(m5, tmp_path, max_windows):
    """prepare_run(max_windows=0) was accepted: the fit wrote run.json, then failed on the Windower, and the corrected
    call was refused as 'a different run (max_windows=0)'. A bad parameter is a ParamError (it was a DataError)."""
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    with pytest.raises(ParamError, match=rf"^invalid max_windows {max_windows!r}: give a whole number of at least 1$"):
        prepare_run(tmp_path / "run", level=3, data_dir=m5, max_windows=max_windows)
    assert not (tmp_path / "run").exists()
    assert prepare_run(tmp_path / "run", level=3, data_dir=m5, max_windows=None).config.max_windows is None


@pytest.mark.parametrize("given, said", [({"epochs": 0}, "epoch count 0"), ({"seeds": 0}, "seed count 0"),
                                         ({"window": 1}, "window 1"), ({"seed": -1}, "seed -1"),
                                         ({"items": 0}, "item count 0")])
def test_prepare_run_bad_count_is_a_param_error(tmp_path, given, said):
    """prepare_run(epochs=0, seeds=0, window=1, seed=-1, items=0) raised DataError (the data was fine): a ParamError."""
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    with pytest.raises(ParamError, match=rf"^invalid {said}: give a whole number of at least \d$"):
        prepare_run(tmp_path / "run", level=3, model="lightgbm", **given)
    assert not (tmp_path / "run").exists()


def test_prepare_run_data_dir_that_is_no_path_is_one_param_error(tmp_path):
    """prepare_run(data_dir=5) was a bare TypeError ('expected str, bytes or os.PathLike object')."""
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    with pytest.raises(ParamError, match=r"^invalid data_dir 5: give the folder that holds the M5 CSV files as a str "
                                         r"or pathlib\.Path$"):
        prepare_run(tmp_path / "run", level=3, data_dir=5)
    assert not (tmp_path / "run").exists()


def test_prepare_run_overwrite_given_as_text_is_one_param_error(tmp_path):
    """prepare_run(overwrite='no') was read as true: a different run in the folder was replaced. One ParamError line
    before the folder is touched."""
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    with pytest.raises(ParamError, match=r"^invalid overwrite 'no': give False or True$"):
        prepare_run(tmp_path / "run", level=3, model="lightgbm", items=2, overwrite="no")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("params", [[1], "n_estimators=2", {1: 2}])
def test_prepare_run_params_that_are_no_dict_of_names_are_one_param_error(tmp_path, params):
    """prepare_run(params=[1]) or params as text was a bare TypeError/ValueError from dict(): one ParamError line."""
    from m5kit.errors import ParamError
    from m5kit.runs import prepare_run

    with pytest.raises(ParamError) as caught:
        prepare_run(tmp_path / "run", level=3, model="lightgbm", items=2, params=params)
    assert str(caught.value) == (f"invalid params {params!r}: give a dict of parameter values by name, "
                                 "e.g. {'learning_rate': 0.05}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("params", [[1], "n_estimators=2", {1: 2}])
def test_resolve_params_of_no_dict_of_names_is_one_param_error(params):
    """resolve_params("lightgbm", [1]) was a bare AttributeError ('list' object has no attribute 'items')."""
    from m5kit.errors import ParamError
    from m5kit.runs import resolve_params

    with pytest.raises(ParamError, match=r"^invalid params .*: give a dict of parameter values by name, e\.g\. "):
        resolve_params("lightgbm", params)


def test_predict_over_the_runs_own_files_or_through_a_file_is_one_line_exit_1(m5, tmp_path):
    """`m5kit predict --out <run>/forecast.csv` (or run.json, scores.csv, a file in models/): one line, exit 1, the file
    untouched. It wrote the submission over the run's tidy forecast, and evaluate, report and blend then failed on
    it ('forecast 1 has no column 'd'')."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import prepare_run

    run = tmp_path / "run"
    prepare_run(run, level=3, model="lightgbm", data_dir=m5, params={"n_estimators": 2}).fit()
    for name, said in (("forecast.csv", "forecast.csv"), ("run.json", "run.json"), ("scores.csv", "scores.csv"),
                       ("models/manifest.json", "model store (models/)")):
        target = run / name
        before = target.read_bytes() if target.exists() else None
        result = CliRunner().invoke(app, ["predict", "--run", str(run), "--out", str(target)])
        _check_one_line_error(result, f"{target} is the run's own {said}", "give --out another file")
        assert (target.read_bytes() if target.exists() else None) == before, name
    ok = CliRunner().invoke(app, ["predict", "--run", str(run), "--out", str(run / "submission.csv")])
    assert ok.exit_code == 0, ok.stderr
    # a path through a file: one line before anything is forecast (was a FileExistsError traceback after it)
    target = run / "run.json" / "submission.csv"
    result = CliRunner().invoke(app, ["predict", "--run", str(run), "--out", str(target)])
    _check_one_line_error(result, f"cannot write {target}: {run / 'run.json'} is a file, not a folder",
                          "give --out a file in a folder")


def test_a_run_folder_that_does_not_exist_is_said_so(tmp_path):
    """`m5kit report --run <a typo>` said '<typo> holds no m5kit run (no run.json)', as if the folder were there but
    damaged: report, predict and evaluate say the folder does not exist, and create nothing."""
    missing = tmp_path / "m5-runs" / "rn"
    for command in ("report", "predict", "evaluate"):
        result = CliRunner().invoke(app, [command, "--run", str(missing)])
        _check_one_line_error(result, f"the run folder {missing} does not exist", "give the --out folder of `m5kit train`")
    assert list(tmp_path.iterdir()) == []


def test_predict_with_a_file_as_run_says_it_holds_no_run(tmp_path):
    """`m5kit predict --run <a file>` (run.json itself, say) without --out: one line that it holds no run, like evaluate
    and report say (it said 'cannot write <file>/submission.csv: ... give --out a file in a folder', an option not given)."""
    target = tmp_path / "run.json"
    target.write_text("{}")
    for command in ("predict", "evaluate", "report"):
        result = CliRunner().invoke(app, [command, "--run", str(target)])
        _check_one_line_error(result, f"{target} holds no m5kit run", "give the --out folder of `m5kit train`")


def test_a_tracking_store_mlflow_cannot_use_fails_before_the_fit(m5, tmp_path):
    """`m5kit train --tracking-uri` a store MLflow cannot use (a file that is not a database, with every MLflow; a plain
    folder from MLflow 3.13 on): one line before anything is fitted (was a traceback after the fit)."""
    pytest.importorskip("mlflow")
    out = tmp_path / "run"
    (tmp_path / "notes.txt").write_text("mine")
    uri = f"sqlite:///{tmp_path / 'notes.txt'}"
    result = CliRunner().invoke(app, _args(["--tracking-uri", uri], m5, out, tmp_path))
    _check_one_line_error(result, f"cannot use the tracking store '{uri}'", "give --tracking-uri sqlite:///PATH/mlflow.db")
    assert not out.exists() and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.timeout(60)
def test_an_unreachable_mlflow_server_fails_in_seconds_before_the_fit(m5, tmp_path):
    """`m5kit train --tracking-uri http://...` with nothing listening there: one line naming the server, in seconds and
    before anything is written (MLflow's own HTTP retries took minutes)."""
    pytest.importorskip("mlflow")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
    out = tmp_path / "run"
    result = CliRunner().invoke(app, _args(["--tracking-uri", uri], m5, out, tmp_path))  # the timeout stands for minutes
    _check_one_line_error(result, f"cannot reach the MLflow server at {uri}",
                          "start it, or pass another --tracking-uri or --no-track")
    assert not out.exists()


@pytest.mark.parametrize(("address", "problem", "fix"), [
    # Dask cannot parse these: the half-made Client also printed "Exception ignored in Client.__del__" at exit
    *[(a, f"invalid Dask scheduler address {a!r}", "give tcp://HOST:PORT") for a in ("foo", "tcp://host:abc", "foo://host:8786")],
    # tls:// without Dask's TLS settings, ucx:// without its backend, an inproc:// of no scheduler: a TypeError
    # traceback, or the line then a 6 s wait and a Client.__del__ traceback at exit
    ("tls://127.0.0.1:1", "the Dask scheduler at tls://127.0.0.1:1 needs TLS certificates", "distributed.comm.tls"),
    ("ucx://127.0.0.1:1", "invalid Dask scheduler address 'ucx://127.0.0.1:1' (this Dask cannot connect over ucx://",
     "give tcp://HOST:PORT"),
    ("inproc://x", "invalid Dask scheduler address 'inproc://x' (no scheduler of this process listens there",
     "give tcp://HOST:PORT"),
])
def test_a_scheduler_address_dask_cannot_use_is_one_line_and_nothing_else(address, problem, fix, tmp_path):
    """`m5kit predict --scheduler` with an address Dask cannot parse or connect to: one line naming it and what to do,
    exit 1, nothing else printed and nothing written."""
    env = {**os.environ, "COLUMNS": "300"}
    proc = subprocess.run([sys.executable, "-c", "from m5kit.cli import main; main()", "predict", "--run", str(tmp_path),
                           "--scheduler", address, "--timeout", "1"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {problem}"), proc.stderr
    assert fix in proc.stderr
    assert list(tmp_path.iterdir()) == []


def _stop_selling(folder: Path, items, last_day: int) -> None:
    """``items`` (every store) have no price and no sale after ``last_day``: discontinued."""
    prices, calendar = _table(folder / "sell_prices.csv"), _table(folder / "calendar.csv")
    stop_week = int(calendar.loc[calendar["d"] == f"d_{last_day}", "wm_yr_wk"].iloc[0])
    _save(prices[~(prices["item_id"].isin(items) & (prices["wm_yr_wk"].astype(int) > stop_week))], folder / "sell_prices.csv")
    last = calendar.loc[calendar["wm_yr_wk"].astype(int) == stop_week, "d"].iloc[-1]
    for name in (VALIDATION, "sales_train_evaluation.csv"):
        sales = _table(folder / name)
        after = [c for c in sales.columns if c.startswith("d_") and int(c[2:]) > int(last[2:])]
        sales.loc[sales["item_id"].isin(items), after] = "0"
        _save(sales, folder / name)


def test_groups_that_stopped_selling_but_have_history_are_not_refused(tmp_path):
    """Items with no sale in their last 140 days but 50 days before: trained, --on-short error refuses none of them."""
    from m5kit.runs import prepare_run

    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=200, seed=1), tmp_path / "m5")  # both on sale from week 1 or 2
    _stop_selling(m5, _table(m5 / VALIDATION)["item_id"].unique(), 60)
    (m5 / "sales_train_evaluation.csv").unlink()  # no score: WRMSSE weighs the last 28 days' sales
    for level in (12, 1):
        run = prepare_run(tmp_path / f"run{level}", level=level, data_dir=m5, window=14, on_short="raise")
        assert run.summary()["groups"] == (2 if level == 12 else 1)


def test_predict_on_a_folder_without_a_run_says_so_before_a_cluster_starts(tmp_path):
    """`m5kit predict --run <no run> --workers 2` started a local cluster (seconds, and a dashboard line) before it
    said the folder holds no run: the one line comes first, and no cluster starts."""
    result = CliRunner().invoke(app, ["predict", "--run", str(tmp_path), "--workers", "2"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: {tmp_path} holds no m5kit run (no run.json): give the --out folder of "
                             "`m5kit train`\n"), result.stderr
    assert "Dask dashboard" not in result.stdout and list(tmp_path.iterdir()) == []


def _path_calls():
    """A public function per path argument, each called with None for it."""
    from m5kit import prod2vec, report, runs, store
    from m5kit.datasets import load_m5, make_m5, write_m5
    from m5kit.datasets.baskets import load_baskets, make_baskets, write_baskets
    from m5kit.datasets.ucr import read_ucr_csv, write_ucr_csv

    return {
        "load_m5": (lambda: load_m5(None), "folder", "the folder that holds the M5 CSV files"),
        "write_m5": (lambda: write_m5(make_m5(n_items=1, n_stores=1, n_days=30), None), "out",
                     "the folder to write the M5 CSV files to"),
        "read_ucr_csv": (lambda: read_ucr_csv(None), "path", "the path of a CSV file"),
        "write_ucr_csv": (lambda: write_ucr_csv(None, [[1.0, 2.0]]), "path", "the path of the CSV file to write"),
        "load_baskets": (lambda: load_baskets(None), "folder", "the folder that holds the Instacart CSV files"),
        "write_baskets": (lambda: write_baskets(make_baskets(n_orders=5), None), "folder",
                          "the folder to write the CSV files to"),
        "prepare_run": (lambda: runs.prepare_run(None, level=3), "out", "the run folder"),
        "open_run": (lambda: runs.open_run(None), "out", "the run folder (the --out of `m5kit train`)"),
        "check_run_folder": (lambda: runs.check_run_folder(None), "out", "the run folder (the --out of `m5kit train`)"),
        "predict_run": (lambda: runs.predict_run(None), "out", "the run folder (the --out of `m5kit train`)"),
        "evaluate_run": (lambda: runs.evaluate_run(None), "out", "the run folder (the --out of `m5kit train`)"),
        "blend_runs": (lambda: runs.blend_runs(["a", "b"], None), "out", "a new or empty folder for the blend"),
        "check_out": (lambda: prod2vec.check_out(None), "out", "the run folder"),
        "run_prod2vec": (lambda: prod2vec.run_prod2vec(prod2vec.P2VConfig(), None), "out", "the run folder"),
        "finished_steps": (lambda: prod2vec.finished_steps(None), "out", "the run folder"),
        "write_report": (lambda: report.write_report(None), "run_dir", "the run folder (the --out of `m5kit train`)"),
        "ModelStore": (lambda: store.ModelStore(None), "path", "the model store's folder"),
    }


@pytest.mark.parametrize("function", sorted(_path_calls()))
def test_a_path_argument_given_none_is_one_param_error(function):
    """A path argument given None (an unset variable) was Python's bare TypeError 'expected str, bytes or os.PathLike
    object, not NoneType': one ParamError line naming the argument and what to give."""
    from m5kit.errors import ParamError

    call, name, what = _path_calls()[function]
    with pytest.raises(ParamError) as caught:
        call()
    assert str(caught.value) == f"invalid {name} None: give {what} as a str or pathlib.Path"


@pytest.mark.parametrize("data_dir", [None, "m5"])
def test_load_data_of_items_0_is_refused(m5, data_dir):
    """load_data(items=0) gave every item (0 read as 'not given'): one ParamError line, as prepare_run says it."""
    from m5kit.errors import ParamError
    from m5kit.runs import load_data

    with pytest.raises(ParamError, match=r"^invalid item count 0: give a whole number of at least 1$"):
        load_data(None if data_dir is None else m5, items=0)
