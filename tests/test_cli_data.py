"""`m5kit data generate`, `m5kit data shapes` and `m5kit levels`: files written, tables printed, one-line errors with exit 1."""

from __future__ import annotations

import numpy as np
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


def test_shapes_writes_the_files_classify_reads(runner, tmp_path):
    """shapes writes two labelled sets, the series to classify and their labels: three different draws that
    `read_ucr_csv` reads back, test.csv without labels and test_labels.csv one label a line for test.csv's rows."""
    from m5kit.datasets.ucr import read_ucr_csv

    out = tmp_path / "shapes"
    result = runner.invoke(app, ["data", "shapes", "--out", str(out), "--per-class", "4", "--length", "12"])
    assert result.exit_code == 0, result.output
    for name in ("train.csv", "valid.csv", "test.csv", "test_labels.csv"):
        assert name in result.stdout
    train, valid = read_ucr_csv(out / "train.csv", training=True), read_ucr_csv(out / "valid.csv", training=True)
    test, _ = read_ucr_csv(out / "test.csv", labels=False, length=12)
    labels = (out / "test_labels.csv").read_text().splitlines()
    assert train[0].shape == valid[0].shape == test.shape == (12, 12)
    assert sorted(labels) == sorted(train[1].tolist()) == ["sawtooth"] * 4 + ["sine"] * 4 + ["square"] * 4
    assert not np.array_equal(train[0], valid[0]) and not np.array_equal(train[0], test)


def test_shapes_same_seed_same_files_other_seed_other(runner, tmp_path):
    """The same --seed writes the same bytes; another seed other series."""
    def files(folder, seed):
        assert runner.invoke(app, ["data", "shapes", "--out", str(folder), "--per-class", "2", "--seed", seed]).exit_code == 0
        return [(folder / name).read_bytes() for name in ("train.csv", "valid.csv", "test.csv", "test_labels.csv")]

    five = files(tmp_path / "a", "5")
    assert five == files(tmp_path / "b", "5")
    assert five[0] != files(tmp_path / "c", "6")[0]


def test_shapes_train_and_predict_with_classify(runner, tmp_path):
    """The files work as they are with `classify train` and `classify predict`: one prediction per test.csv row, each
    a label of the training set (the README's tour of classification starts this way)."""
    out = tmp_path / "shapes"
    assert runner.invoke(app, ["data", "shapes", "--out", str(out), "--per-class", "5", "--length", "16"]).exit_code == 0
    model = tmp_path / "clf"
    result = runner.invoke(app, ["classify", "train", "--train", str(out / "train.csv"), "--valid", str(out / "valid.csv"),
                                 "--out", str(model), "--model", "lstm-fcn", "--epochs", "1", "--hidden-size", "2",
                                 "--filters-1", "2", "--filters-2", "2", "--filters-3", "2"])
    assert result.exit_code == 0, result.output
    predictions = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["classify", "predict", "--model", str(model), "--input", str(out / "test.csv"),
                                 "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    assert len(predictions.read_text().splitlines()) == len((out / "test_labels.csv").read_text().splitlines()) == 15
    assert set(predictions.read_text().split()) <= {"sawtooth", "sine", "square"}


def test_shapes_refuses_existing_files_without_overwrite(runner, tmp_path):
    """A second shapes into the same folder is one line on stderr, the files kept, unless --overwrite."""
    args = ["data", "shapes", "--out", str(tmp_path), "--per-class", "2"]
    assert runner.invoke(app, args).exit_code == 0
    before = (tmp_path / "train.csv").read_bytes()
    result = runner.invoke(app, [*args, "--seed", "1"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"error: {str(tmp_path / 'train.csv')!r} already exists: pass overwrite=True (--overwrite) "
                             "to replace the files, or choose another folder\n")
    assert (tmp_path / "train.csv").read_bytes() == before
    assert runner.invoke(app, [*args, "--seed", "1", "--overwrite"]).exit_code == 0
    assert (tmp_path / "train.csv").read_bytes() != before


def test_shapes_a_failed_write_leaves_no_file(runner, tmp_path, monkeypatch):
    """A write that fails midway (a full disk) is one line naming the folder and the reason, and leaves none of the
    four files: not three new ones beside an old fourth."""
    from m5kit.datasets import ucr

    def full_disk(text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ucr, "predictions_csv", full_disk)  # the last file, test_labels.csv
    out = tmp_path / "shapes"
    result = runner.invoke(app, ["data", "shapes", "--out", str(out), "--per-class", "2"])
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write the CSV files to {out} (No space left on device): free some space or choose a folder you "
        "can write to\n"), result.stderr
    assert sorted(p.name for p in out.iterdir()) == []


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--per-class", "0", "invalid --per-class '0': give a whole number of at least 1"),
    ("--length", "1", "invalid --length '1': give a whole number of at least 2"),
    ("--noise", "-1", "invalid --noise '-1': give the noise's standard deviation, a number >= 0"),
    ("--noise", "nan", "invalid --noise 'nan': give the noise's standard deviation, a number >= 0"),
    ("--seed", "-1", "invalid --seed '-1': give a whole number of at least 0"),
])
def test_shapes_bad_options_are_one_line_errors(runner, tmp_path, option, value, expected):
    """Bad sizes, noise or seed exit 1 with one line on stderr, writing nothing."""
    result = runner.invoke(app, ["data", "shapes", "--out", str(tmp_path / "shapes"), option, value])
    assert result.exit_code == 1 and result.stderr == f"error: {expected}\n", result.stderr
    assert not (tmp_path / "shapes").exists()


def test_shapes_under_a_file_is_one_line(runner, tmp_path):
    """--out under a file, or a file itself, is one line naming it; the file is kept."""
    (tmp_path / "notes.txt").write_text("mine")
    for out in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "shapes"):
        result = runner.invoke(app, ["data", "shapes", "--out", str(out)])
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and repr(str(out)) in result.stderr, result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_shapes_too_large_for_memory_is_one_line(runner, tmp_path):
    """A --length (or --per-class) beyond the memory (a few zeros too many) is one line saying what to lower, exit 1,
    nothing written (it was NumPy's bare traceback 'Unable to allocate 7.11 PiB ...')."""
    out = tmp_path / "shapes"
    result = runner.invoke(app, ["data", "shapes", "--out", str(out), "--length", str(10**15)])
    assert result.exit_code == 1 and result.stderr == (
        "error: not enough memory to generate 3 sets of 60 series of length 1,000,000,000,000,000: lower --per-class "
        "or --length\n"), result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_shapes_into_a_folder_of_ones_own_keeps_its_hidden_tmp_files(runner, tmp_path):
    """`data shapes --out .` removed every hidden '.<name>.tmp' file of the folder (a user's '.notes.txt.tmp', another
    program's download), taken for its own killed writes: only the temporary files of its four files go now."""
    (tmp_path / ".notes.txt.tmp").write_text("mine")
    (tmp_path / ".train.csv.4242.tmp").write_text("sine,0.1")  # a killed write of shapes' own
    assert runner.invoke(app, ["data", "shapes", "--out", str(tmp_path), "--per-class", "1"]).exit_code == 0
    assert (tmp_path / ".notes.txt.tmp").read_text() == "mine"
    assert not (tmp_path / ".train.csv.4242.tmp").exists()


@pytest.mark.parametrize("args", [["data", "shapes", "--out", ""], ["data", "generate", "--out=", *SMALL],
                                  ["data", "shapes", "-o", "", "--per-class", "2"]])
def test_an_empty_out_is_refused_not_the_working_folder(runner, tmp_path, monkeypatch, args):
    """--out "" (an unset variable, --out "$DIR") wrote the files into the working folder, as --out . does; it is one
    line saying the option is empty, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    option = "-o" if "-o" in args else "--out"
    assert result.exit_code == 1 and result.stderr == f"error: {option} is empty: give a path (. for the working folder)\n"
    assert list(tmp_path.iterdir()) == []
    assert runner.invoke(app, ["data", "shapes", "--out", ".", "--per-class", "2"]).exit_code == 0  # . is as it was


def test_shapes_refuses_a_noise_that_makes_values_beyond_float32(runner, tmp_path):
    """--noise 1e39 wrote files of inf values, which classify train then refused; it is one line and nothing is
    written."""
    result = runner.invoke(app, ["data", "shapes", "--out", str(tmp_path / "s"), "--per-class", "2", "--noise", "1e39"])
    assert result.exit_code == 1 and result.stderr.startswith("error: invalid noise 1e+39: the series would hold values "
                                                              "beyond the range of 32-bit floats")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "s").exists()
