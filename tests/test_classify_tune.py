"""Tuning the classifiers: per-epoch reports and pruning through `callbacks`, and `m5kit classify tune`."""

from __future__ import annotations

import json
import shlex

import pytest
from typer.testing import CliRunner

pytest.importorskip("optuna")

from m5kit.cli import app
from m5kit.datasets.ucr import make_shapes, write_ucr_csv
from m5kit.models.classifiers import InceptionTimeClassifier, LSTMFCNClassifier
from m5kit.tuning import Choice, tune
from m5kit.tuning_objectives import CVData, HoldoutData, cross_validation, holdout_score

SMALL = {"filters": (4, 4, 4), "hidden_size": 4, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(n_per_class=8, length=24, seed=0)


@pytest.fixture(scope="module")
def files(tmp_path_factory, shapes):
    folder = tmp_path_factory.mktemp("classify_tune")
    write_ucr_csv(folder / "train.csv", *shapes)
    X, y = make_shapes(n_per_class=4, length=24, seed=1)
    write_ucr_csv(folder / "valid.csv", X, y)
    return folder


def _prune_odd():
    import optuna

    class PruneOdd(optuna.pruners.BasePruner):
        """Prunes every odd-numbered trial at its first report."""

        def prune(self, study, trial):
            return trial.number % 2 == 1

    return PruneOdd()


@pytest.mark.parametrize("objective", ["holdout", "cv"])
def test_classifier_trials_report_each_epoch_and_a_pruned_fit_stops(shapes, objective):
    """The classifiers hand each epoch to the search's pruning callback: kept trials report every epoch, pruned ones stop."""
    X, y = shapes
    clf = LSTMFCNClassifier(epochs=3, **SMALL)
    data = HoldoutData(clf, X, y, X, y) if objective == "holdout" else CVData(clf, X, y, scoring="accuracy", cv=2)
    func = holdout_score if objective == "holdout" else cross_validation
    result = tune(func, data, {"lr": Choice(0.001, 0.01)}, n_trials=3, direction="maximize", sampler="random",
                  pruner=_prune_odd(), seed=0)
    table = result.trials.set_index("number")
    assert table.loc[[0, 2], "state"].tolist() == ["COMPLETE", "COMPLETE"]
    assert table.loc[[0, 2], "steps"].tolist() == [3, 3]
    assert table.loc[1, "state"] == "PRUNED" and table.loc[1, "steps"] == 1
    assert 0.0 <= result.best_value <= 1.0


def test_callbacks_see_the_validation_scores_of_every_network(shapes):
    """A user's callback runs in each network's training, after the epoch's validation scores are in the logs."""
    import keras

    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))

    X, y = shapes
    clf = InceptionTimeClassifier(filters=4, depth=3, models=2, epochs=2, batch_size=16, random_state=0,
                                  callbacks=[Record()])
    clf.fit(X, y, validation_data=(X, y))
    assert [epoch for epoch, _ in seen] == [0, 1, 0, 1]
    assert all({"val_loss", "val_accuracy", "loss"} <= set(keys) for _, keys in seen)


@pytest.mark.slow  # ~32 s (three architectures traced, then the best trained); the trials' objectives, callbacks and
# pruning, and the command's checks, stay in the default run
def test_classify_tune_writes_the_search_and_its_best_command_trains(files, tmp_path):
    """`m5kit classify tune` searches on Dask, writes trials.csv, plots and best.json, and prints a train command that works."""
    out = tmp_path / "search"
    args = ["classify", "tune", "--train", str(files / "train.csv"), "--valid", str(files / "valid.csv"),
            "--model", "lstm-fcn", "--trials", "3", "--workers", "1", "--epochs", "2",
            "--param", "hidden_size=2,4", "--param", "lr=1e-3:1e-2:log", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    trials = (out / "trials.csv").read_text().splitlines()
    assert len(trials) == 4 and trials[0].startswith("number,hidden_size,lr,value")
    best = json.loads((out / "best.json").read_text())
    assert best["objective"] == "validation accuracy" and 0.0 <= best["value"] <= 1.0
    assert (out / "objective.png").exists() and (out / "param_lr.png").exists()
    line = next(ln for ln in result.output.splitlines() if ln.strip().startswith("m5kit classify train"))
    command = shlex.split(line.replace("MODEL_DIR", str(tmp_path / "model")))[1:]
    assert f"--hidden-size {best['params']['hidden_size']}" in line and "--epochs 2" in line
    trained = CliRunner().invoke(app, command)
    assert trained.exit_code == 0, trained.output
    meta = json.loads((tmp_path / "model" / "classifier.json").read_text())
    assert meta["model"] == "lstm-fcn" and meta["epochs_trained"] == 2


@pytest.mark.parametrize("extra, said", [
    (["--cv", "20"], "error: the smallest class of"),
    (["--param", "colour=1:3"], "error: unknown parameter 'colour'"),
    (["--model", "lstm-fcn", "--models", "2"], "error: option --models does not apply to lstm-fcn"),
    # `m5kit classify train` has no --bottleneck or --kernel-size, and --precise-bn is a flag: the printed command failed
    (["--param", "bottleneck=16,32"], "error: --param bottleneck: `m5kit classify train` has no option that sets "
     "inception-time's bottleneck to one value, so the best trial could not be trained: search filters, depth, models"),
    (["--param", "kernel_size=10,20"], "error: --param kernel_size: `m5kit classify train` has no option"),
    (["--model", "lstm-fcn", "--param", "filters=64,128"], "error: --param filters: `m5kit classify train` has no "
     "option that sets lstm-fcn's filters to one value"),
    # --cv was ignored with --valid, the search scored on --valid alone without a word
    (["--valid", "{valid}", "--cv", "5"], "error: option --cv does not apply with --valid (each trial is scored on "
     "the --valid series): drop one of them"),
    # --epochs (or --models), which fixes the value for every trial, was ignored beside a --param searching it
    (["--epochs", "1", "--param", "epochs=2,3"], "error: --epochs 1 and --param epochs=2,3 both set epochs (--epochs "
     "fixes it for every trial, --param searches it): drop one of them"),
    (["--models", "1", "--param", "models=1:3"], "error: --models 1 and --param models=1:3 both set models"),
])
def test_classify_tune_bad_input_is_one_line_before_any_trial(files, tmp_path, extra, said):
    """A bad fold count, parameter name or option is one error line, and no search folder is left."""
    out = tmp_path / "search"
    extra = [a.replace("{valid}", str(files / "valid.csv")) for a in extra]
    result = CliRunner().invoke(app, ["classify", "tune", "--train", str(files / "train.csv"), "--trials", "2",
                                      "--workers", "1", "--out", str(out), *extra])
    assert result.exit_code == 1 and result.stderr.startswith(said), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("edit, said", [
    (lambda line: line.replace("sine,", "zigzag,", 1), "error: v.csv has label(s) that train.csv has not: 'zigzag'"),
    (lambda line: ",".join(line.split(",")[:11]), "error: v.csv has series of length 10 but train.csv has length 24"),
])
def test_classify_tune_valid_with_other_labels_or_length_is_one_line_before_the_search(files, tmp_path, monkeypatch,
                                                                                       edit, said):
    """--valid with labels --train has not, or series of another length, is one line naming both files before the
    search starts (a label started the cluster, failed every trial with the Python API's "y_valid has label(s)
    outside the classes ... (of y, or classes=)", and left a search folder)."""
    import m5kit.cli.classify_tune

    def no_search(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(m5kit.cli.classify_tune, "run_search", no_search)
    lines = (files / "valid.csv").read_text().splitlines()
    (tmp_path / "v.csv").write_text("\n".join(map(edit, lines)) + "\n")
    out = tmp_path / "search"
    result = CliRunner().invoke(app, ["classify", "tune", "--train", str(files / "train.csv"), "--valid",
                                      str(tmp_path / "v.csv"), "--trials", "2", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith(said), (result.stderr, result.exception)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_classify_tune_help_shows_the_default_spaces():
    """`m5kit classify tune --help` lists each classifier's default search space."""
    result = CliRunner().invoke(app, ["classify", "tune", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "inception-time: filters in {16, 32, 64}; depth 3..9" in result.output
    assert "lstm-fcn: hidden_size in {8, 16, 32, 64, 128}" in result.output


def _one_trial_on_a_copy_of_train(files, tmp_path, dask_client):
    """A classify search of one trial on a copy of --train: (the copy, --out, the command without its trial count)."""
    import shutil

    train = shutil.copy(files / "train.csv", tmp_path / "train.csv")
    out = tmp_path / "search"
    args = ["classify", "tune", "--train", str(train), "--valid", str(files / "valid.csv"), "--model", "lstm-fcn",
            "--epochs", "1", "--param", "hidden_size=2,4", "--scheduler", dask_client.scheduler.address,
            "--out", str(out), "--trials"]
    first = CliRunner().invoke(app, [*args, "1"])
    assert first.exit_code == 0, first.output
    return train, out, args


def test_a_classify_search_whose_data_changed_since_is_refused(files, tmp_path, dask_client):
    """The same `m5kit classify tune` command after --train changed resumed the search, its earlier trials scored on
    other series mixed into the best (as `m5kit tune` refuses); it is one line naming the file, the folder as it was."""
    train, out, args = _one_trial_on_a_copy_of_train(files, tmp_path, dask_client)
    before = {p: p.read_bytes() for p in out.iterdir()}
    lines = train.read_text().splitlines()
    train.write_text("\n".join(lines[:-1]) + "\n")  # one series fewer
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 1 and result.stderr == (
        f"error: the data changed since the search in {out} started ({train}: size or content differ), "
        "so its trials scored other data: choose another --out to search the data as it is now\n"), result.stderr
    assert {p: p.read_bytes() for p in out.iterdir()} == before


def test_a_classify_search_whose_train_file_was_only_touched_resumes(files, tmp_path, dask_client):
    """A --train file touched (same bytes, a new modification time) is the same data: the search resumes."""
    import os

    train, out, args = _one_trial_on_a_copy_of_train(files, tmp_path, dask_client)
    stat = os.stat(train)
    os.utime(train, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 0, result.stderr
    assert len((out / "trials.csv").read_text().splitlines()) == 1 + 2  # the header, the first trial and one more


def test_the_printed_classify_train_command_quotes_a_train_path_with_a_space(shapes, tmp_path, monkeypatch):
    """A --train path with a space in it was printed as two words: the `m5kit classify train` command copied from it
    failed (the search itself is stood in for: the command printed after it is what is checked)."""
    import pandas as pd

    import m5kit.cli.classify_tune
    from m5kit.tuning import TuneResult

    train = tmp_path / "my data" / "train.csv"
    train.parent.mkdir()
    write_ucr_csv(train, *shapes)
    found = TuneResult({"lr": 0.01}, 0.9, pd.DataFrame({"number": [0], "lr": [0.01], "value": [0.9],
                                                         "state": ["COMPLETE"], "error": [""]}), "maximize")
    monkeypatch.setattr(m5kit.cli.classify_tune, "run_search", lambda *args, **kwargs: found)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["classify", "tune", "--train", str(train), "--model",
                                                           "lstm-fcn", "--trials", "1", "--workers", "1",
                                                           "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    printed = shlex.split(result.stdout.strip().splitlines()[-1])
    assert printed[:4] == ["m5kit", "classify", "train", "--train"] and printed[4] == str(train), printed
    assert printed[-4:] == ["--lr", "0.01", "--out", "MODEL_DIR"], printed


def test_classify_tune_searches_precise_bn_and_prints_its_flag(shapes, tmp_path, monkeypatch):
    """--param precise_bn=True,False was refused ('classify train has no option that sets precise_bn'), though `m5kit
    tune` searches booleans: the booleans are searched, and the printed command sets the best with --precise-bn or
    --no-precise-bn, a command that trains (the search itself is stood in for)."""
    import pandas as pd

    import m5kit.cli.classify_tune
    from m5kit.tuning import TuneResult

    train = tmp_path / "train.csv"
    write_ucr_csv(train, *shapes)
    spaces = []

    def search(objective, data, space, **kwargs):
        spaces.append(space)
        return TuneResult({"precise_bn": False}, 0.9, pd.DataFrame({"number": [0], "precise_bn": [False],
                                                                    "value": [0.9], "state": ["COMPLETE"],
                                                                    "error": [""]}), "maximize")

    monkeypatch.setattr(m5kit.cli.classify_tune, "run_search", search)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [
        "classify", "tune", "--train", str(train), "--model", "inception-time", "--epochs", "1", "--models", "1",
        "--param", "precise_bn=True,False", "--trials", "1", "--workers", "1", "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    assert spaces[0]["precise_bn"].options == (True, False)
    printed = shlex.split(result.stdout.strip().splitlines()[-1].replace("MODEL_DIR", str(tmp_path / "model")))
    assert "--no-precise-bn" in printed and "False" not in printed, printed
    trained = CliRunner().invoke(app, printed[1:])
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "model" / "classifier.json").read_text())["params"]["precise_bn"] is False


def test_precise_bn_searched_as_1_and_0_prints_its_flag(shapes, tmp_path, monkeypatch):
    """--param precise_bn=1,0 (the classifier takes 1 and 0 for True and False) searched them, then printed
    '--precise-bn 1', which `m5kit classify train` refuses (an extra argument): the flag alone is printed."""
    train = tmp_path / "train.csv"
    write_ucr_csv(train, *shapes)
    _stub_search(monkeypatch, {"precise_bn": 0})
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [
        "classify", "tune", "--train", str(train), "--model", "lstm-fcn", "--param", "precise_bn=1,0",
        "--trials", "1", "--workers", "1", "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    printed = shlex.split(result.stdout.strip().splitlines()[-1])
    assert "--no-precise-bn" in printed and printed[printed.index("--no-precise-bn") + 1] != "0", printed


def _stub_search(monkeypatch, best):
    """Stand in for the search: record the space it gets and what check() says, and return ``best`` as its best."""
    import pandas as pd

    import m5kit.cli.classify_tune
    from m5kit.tuning import TuneResult

    spaces = []

    def search(objective, data, space, check=None, **kwargs):
        if check is not None:
            check(space)
        spaces.append(space)
        return TuneResult(best, 0.9, pd.DataFrame({"number": [0], **{k: [v] for k, v in best.items()}, "value": [0.9],
                                                   "state": ["COMPLETE"], "error": [""]}), "maximize")

    monkeypatch.setattr(m5kit.cli.classify_tune, "run_search", search)
    return spaces


def test_classify_tune_reads_restore_best_last_as_classify_train_does(shapes, tmp_path, monkeypatch):
    """--param restore_best=train_loss,last searched the text 'last', which the classifier refuses: every such trial
    failed ('give ... or None', which no option can give). 'last' is classify train's spelling of None, and a best
    of None prints --restore-best last (it was left out: the command trained with train_loss)."""
    train = tmp_path / "train.csv"
    write_ucr_csv(train, *shapes)
    spaces = _stub_search(monkeypatch, {"restore_best": None})
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [
        "classify", "tune", "--train", str(train), "--model", "lstm-fcn", "--param", "restore_best=train_loss,last",
        "--trials", "1", "--workers", "1", "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    assert spaces[0]["restore_best"].options == ("train_loss", None)
    printed = shlex.split(result.stdout.strip().splitlines()[-1])
    assert printed[printed.index("--restore-best") + 1] == "last", printed


@pytest.mark.parametrize("param, said", [
    ("hidden_size=0,4", "error: --param hidden_size=0,4: the lstm-fcn model refuses hidden_size=0 (invalid "
                        "hidden_size 0: give a whole number of at least 1): give values it accepts\n"),
    ("dropout=0.1:1.5", "error: --param dropout=0.1:1.5: the lstm-fcn model refuses dropout=1.5 (invalid dropout "
                        "1.5: give a fraction from 0 up to (not including) 1): give a range it accepts\n"),
    ("restore_best=valid_loss,train_loss", "error: --param restore_best=valid_loss,train_loss: restore_best "
     "valid_loss needs validation series: give --valid CSV, or search train_loss and last only\n"),
])
def test_classify_tune_refuses_values_the_model_refuses_before_any_trial(shapes, tmp_path, monkeypatch, param, said):
    """--param values the classifier refuses (hidden_size=0, a dropout of 1.5, restore_best=valid_loss without
    --valid) failed every trial that drew them on the cluster: one line before any trial, as `m5kit tune` says it."""
    train = tmp_path / "train.csv"
    write_ucr_csv(train, *shapes)
    spaces = _stub_search(monkeypatch, {"hidden_size": 4})
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [
        "classify", "tune", "--train", str(train), "--model", "lstm-fcn", "--param", param,
        "--trials", "1", "--workers", "1", "--out", str(tmp_path / "search")])
    assert result.exit_code == 1 and result.stderr == said, result.output
    assert spaces == []


def test_a_second_classify_tune_into_a_folder_being_searched_stops_before_it_reads_the_series(files, tmp_path,
                                                                                             monkeypatch):
    """A second `m5kit classify tune --out T` while another searched T read --train (and --valid) before it said the
    folder is in use: it stops with that one line before reading anything."""
    import m5kit.datasets.ucr
    from _locks import assert_refused_while_held

    def read(*args, **kwargs):
        raise AssertionError("the series were read")

    monkeypatch.setattr(m5kit.datasets.ucr, "read_ucr_csv", read)
    out = tmp_path / "search"
    assert_refused_while_held(out, "m5kit classify tune", ["classify", "tune", "--train", str(files / "train.csv"),
                                                           "--trials", "1", "--out", str(out)])


def test_classify_tune_prints_its_trials_whole_when_piped(files, tmp_path, monkeypatch):
    """Piped or redirected (no terminal: rich's 80 columns), the table of the best trials was folded at 80 columns, each
    row cut in two lines; it is printed as pandas lays it out (the search itself is stood in for)."""
    best = {"hidden_size": 16, "lr": 0.001234, "dropout": 0.25, "batch_size": 32, "epochs": 40, "restore_best": None}
    _stub_search(monkeypatch, best)
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, [
        "classify", "tune", "--train", str(files / "train.csv"), "--model", "lstm-fcn", "--param", "hidden_size=8,16",
        "--param", "lr=0.001:0.01:log", "--param", "dropout=0.1:0.5", "--param", "batch_size=16,32", "--param",
        "epochs=20:40", "--param", "restore_best=train_loss,last", "--trials", "1", "--workers", "1",
        "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["number"])
    assert lines[header].split() == ["number", *best, "value", "state"], lines[header]
    assert lines[header + 1].split() == ["0", "16", "0.001234", "0.25", "32", "40", "None", "0.9", "COMPLETE"]
