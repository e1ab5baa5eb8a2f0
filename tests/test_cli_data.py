"""`m5kit data generate` and `m5kit levels`: files written, tables printed, one-line errors with exit 1."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from m5kit.cli import app
from m5kit.datasets import load_m5, make_m5

SMALL = ["--items", "7", "--stores", "2", "--days", "60"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_generate_writes_the_m5_files(runner, tmp_path):
    """generate writes M5 files that load back equal to make_m5 with the same options, and lists them."""
    out = tmp_path / "m5"
    result = runner.invoke(app, ["data", "generate", "--out", str(out), *SMALL, "--seed", "3"])
    assert result.exit_code == 0, result.output
    for name in ("calendar.csv", "sell_prices.csv", "sales_train_validation.csv", "sales_train_evaluation.csv"):
        assert name in result.stdout
    assert "14 series" in result.stdout
    loaded, made = load_m5(out), make_m5(n_items=7, n_stores=2, n_days=60, seed=3)
    for table in ("calendar", "prices", "sales", "future"):
        assert_frame_equal(getattr(loaded, table), getattr(made, table))


def test_generate_refuses_existing_files_without_overwrite(runner, tmp_path):
    """A second generate into the same folder fails with one line on stderr unless --overwrite."""
    args = ["data", "generate", "--out", str(tmp_path), *SMALL]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "already exists" in result.stderr and "--overwrite" in result.stderr
    assert result.stdout == ""
    assert runner.invoke(app, [*args, "--overwrite", "--seed", "1"]).exit_code == 0
    assert_frame_equal(load_m5(tmp_path).sales, make_m5(n_items=7, n_stores=2, n_days=60, seed=1).sales)


def test_generate_into_a_folder_it_cannot_write_is_one_line(runner, tmp_path, monkeypatch):
    """A write that fails (a full disk, a folder without write permission) exits 1 with one line naming the folder, the
    reason (was an OSError traceback); no file is left, neither half-written nor whole."""
    from m5kit.datasets import _write

    def full_disk(handle, prices):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_write, "_write_prices", full_disk)
    out = tmp_path / "m5"
    result = runner.invoke(app, ["data", "generate", "--out", str(out), *SMALL])
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write the M5 files to {out} (No space left on device): free some space or choose a folder you "
        "can write to\n"), result.stderr
    assert sorted(p.name for p in out.iterdir()) == []


def test_generate_under_a_file_is_refused_before_generating(runner, tmp_path, monkeypatch):
    """--out under a file generated the data first (17 s for the full M5 size) and only then could not make the folder:
    the same one line now comes before the generation."""
    import m5kit.datasets

    def no_generation(**kwargs):
        raise AssertionError("the data was generated")

    monkeypatch.setattr(m5kit.datasets, "make_m5", no_generation)
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / "m5"
    result = runner.invoke(app, ["data", "generate", "--out", str(out), *SMALL])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.stderr == f"error: cannot create the folder {str(out)!r} (Not a directory): choose another folder\n"
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--items", "0", "invalid --items '0': give a whole number of at least 1"),
    ("--items", "-3", "invalid --items '-3': give a whole number of at least 1"),
    ("--items", "many", "invalid --items 'many': give a whole number of at least 1"),
    ("--stores", "11", "invalid --stores '11': give a whole number from 1 to 10"),
    ("--days", "0", "invalid --days '0': give a whole number from 1 to 32452"),
    ("--days", "32453", "invalid --days '32453': give a whole number from 1 to 32452"),  # M5's weeks end in 2099
])
def test_generate_bad_counts_are_one_line_errors(runner, tmp_path, option, value, expected):
    """Counts that are not whole numbers in range exit 1 with one line on stderr, writing nothing."""
    result = runner.invoke(app, ["data", "generate", "--out", str(tmp_path / "m5"), option, value])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {expected}") and result.stderr.count("\n") == 1
    assert not (tmp_path / "m5").exists()


def test_generate_help_shows_every_option_and_default(runner):
    """--help explains generate and shows each option's default."""
    result = runner.invoke(app, ["data", "generate", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    text = result.stdout
    assert "Generate M5-shaped data" in text
    for option, default in (("--items", "139"), ("--stores", "10"), ("--days", "1913"), ("--seed", "0")):
        assert option in text and f"[default: {default}]" in text
    assert "--out" in text and "--overwrite" in text


def test_levels_on_the_built_in_data(runner):
    """levels lists the 12 levels with keys and group counts of the default data."""
    result = runner.invoke(app, ["levels"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "1,390 series" in result.stdout
    expected = {1: 1, 2: 3, 3: 10, 4: 3, 5: 7, 6: 9, 7: 21, 8: 30, 9: 70, 10: 139, 11: 417, 12: "1,390"}
    for level, groups in expected.items():
        row = next(line for line in lines if line.split("│")[1:2] and line.split("│")[1].strip() == str(level))
        cells = [cell.strip() for cell in row.split("│")[1:-1]]
        assert cells[-1] == str(groups), (level, cells)
    assert any("item_id, store_id" in line for line in lines)


def test_levels_on_a_folder(runner, tmp_path):
    """levels --data-dir counts the groups of the M5 files in the folder."""
    assert runner.invoke(app, ["data", "generate", "--out", str(tmp_path), *SMALL]).exit_code == 0
    result = runner.invoke(app, ["levels", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "14 series" in result.stdout


def test_levels_on_a_missing_folder(runner, tmp_path):
    """levels on a folder that does not exist exits 1 with one line on stderr."""
    result = runner.invoke(app, ["levels", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: M5 folder") and result.stderr.count("\n") == 1


def test_a_folder_name_in_square_brackets_is_shown_whole(runner, tmp_path):
    """--out 'm5 [v2]': the table's title said 'M5-shaped data in .../m5 ' (rich took '[v2]' for a style and dropped
    it); the path is shown as given."""
    out = tmp_path / "m5 [v2]"
    result = runner.invoke(app, ["data", "generate", "--out", str(out), *SMALL], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    said = "".join(result.stdout.split())  # the title wraps at the table's width
    assert "".join(f"M5-shaped data in {out}".split()) in said, result.stdout


def test_a_folder_named_with_a_tilde_and_no_user_is_that_folder(runner, tmp_path, monkeypatch):
    """--out '~nosuchuser_m5kit/m5' (a folder named so in the working folder; the shell leaves a '~name' of no user
    as it is) was a RuntimeError traceback ('Could not determine home directory'): the shell's reading, that folder,
    which load_m5 reads back."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["data", "generate", "--out", "~nosuchuser_m5kit/m5", "--items", "7", "--stores", "1",
                                 "--days", "60"])
    assert result.exit_code == 0, result.output
    assert load_m5("~nosuchuser_m5kit/m5").n_series == 7
