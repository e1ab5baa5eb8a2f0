"""`m5kit classify train|predict|serve`: model folders, predictions, the HTTP endpoint and one-line errors."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from m5kit.cli import app
from m5kit.datasets.ucr import make_shapes, write_ucr_csv
from m5kit.serving import MAX_BODY

TINY = ["--model", "lstm-fcn", "--epochs", "2", "--batch-size", "16", "--hidden-size", "4",
        "--filters-1", "4", "--filters-2", "4", "--filters-3", "4", "--seed", "0"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """train.csv (30 labelled shapes of length 24), test.csv (6 unlabelled series) in one folder."""
    folder = tmp_path_factory.mktemp("classify")
    X, y = make_shapes(n_per_class=10, length=24, seed=0)
    write_ucr_csv(folder / "train.csv", X, y)
    write_ucr_csv(folder / "test.csv", X[:6])
    return folder


@pytest.fixture(scope="module")
def model_dir(files):
    """A tiny LSTM-FCN trained by the CLI, with a validation file that picks the weights it keeps."""
    out = files / "model"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"),
                                      "--valid", str(files / "train.csv"), "--out", str(out), *TINY,
                                      "--restore-best", "valid_accuracy"])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_model_folder(model_dir):
    """train writes model.pkl, history.csv with the per-epoch metrics, and classifier.json, nothing else."""
    assert sorted(p.name for p in model_dir.iterdir()) == ["classifier.json", "history.csv", "model.pkl"]
    lines = (model_dir / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy" and len(lines) == 3
    meta = json.loads((model_dir / "classifier.json").read_text())
    assert meta["model"] == "lstm-fcn" and meta["classes"] == ["sawtooth", "sine", "square"]
    assert meta["series_length"] == 24 and meta["epochs_trained"] == 2
    assert meta["params"]["restore_best"] == "valid_accuracy"


def test_predict_writes_labels_and_probabilities(model_dir, files, tmp_path):
    """predict writes one label per input row, and with --proba a header and the class probabilities."""
    runner = CliRunner()
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["classify", "predict", "--model", str(model_dir), "--input", str(files / "test.csv"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    labels = out.read_text().splitlines()
    assert len(labels) == 6 and set(labels) <= {"sawtooth", "sine", "square"}
    result = runner.invoke(app, ["classify", "predict", "--model", str(model_dir), "--input", str(files / "test.csv"),
                                 "--out", str(out), "--proba"])
    rows = out.read_text().splitlines()
    assert rows[0] == "label,sawtooth,sine,square" and [r.split(",")[0] for r in rows[1:]] == labels
    assert np.allclose([sum(map(float, r.split(",")[1:])) for r in rows[1:]], 1.0, atol=1e-4)


def test_init_model_continues_training(model_dir, files, tmp_path):
    """--init-model fine-tunes a trained model: its epochs add up and its classes stay."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--restore-best", "last"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["epochs_trained"] == 3 and meta["params"]["hidden_size"] == 4
    assert meta["params"]["restore_best"] is None  # "last": the last epoch's weights
    assert "weights kept from epoch(s) 3;" in result.output


def test_init_model_without_valid_says_no_validation_score_of_nan(model_dir, files, tmp_path):
    """Fine-tuning a model trained with --valid, without --valid, ended 'last epoch: ..., valid_loss nan,
    valid_accuracy nan' (as if validation had diverged): the last epoch's line has the scores it measured."""
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out",
                                      str(tmp_path / "tuned"), "--init-model", str(model_dir), "--epochs", "1",
                                      "--restore-best", "last"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    said = result.stdout.split("last epoch: ")[1].split(";")[0]
    assert said.startswith("train_loss ") and ", train_accuracy " in said and "nan" not in said and "valid" not in said
    assert (tmp_path / "tuned" / "history.csv").read_text().splitlines()[-1].endswith(",nan,nan")  # the file keeps them


def test_init_model_that_restores_by_validation_needs_valid_in_cli_terms(model_dir, files, tmp_path):
    """Fine-tuning a model trained with --restore-best valid_accuracy, without --valid, says which CLI options to
    give (it used to be the Python API's message about validation_data=(X_valid, y_valid))."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1"])
    assert result.exit_code == 1 and "--restore-best valid_accuracy (kept from --init-model" in result.stderr
    assert "--valid CSV" in result.stderr and result.stderr.strip().count("\n") == 0 and not out.exists()


@pytest.mark.parametrize("option, said", [
    (["--filters-2", "8"], "--filters-2 8 would change the networks of --init-model"),
    (["--dropout", "0.5"], "--dropout 0.5 would change"),
    (["--hidden-size", "4", "--kernel-size-3", "2"], "--kernel-size-3 2 would change"),
])
def test_init_model_names_the_options_that_change_the_network(model_dir, files, tmp_path, option, said):
    """--init-model with an option that changes the network's layers names the option as given on the command line
    (it was "keep filters=4,4,4, or fit from scratch (warm_start=False)"); an option equal to the network's passes."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--restore-best", "last",
                                      *option])
    assert result.exit_code == 1 and said in result.stderr and "warm_start" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and not out.exists()


def test_train_help_says_which_defaults_an_init_model_keeps():
    """train --help says that --init-model keeps its own epochs, batch size, learning rate, precise BN and weights
    choice (it gave the fresh defaults only: a model trained with 1500 epochs fine-tunes 1500 more, not 100)."""
    result = CliRunner().invoke(app, ["classify", "train", "--help"], env={"COLUMNS": "400"})
    lines = {line.split()[1]: line for line in result.output.splitlines()
             if line.strip().startswith("│ ") and "--" in line}
    for option in ("--epochs", "--batch-size", "--lr", "--precise-bn", "--restore-best"):
        assert "--init-model" in lines[option], lines[option]


def test_serve_help_says_what_bodies_the_endpoint_takes():
    """serve --help says what a CSV and a JSON body hold and how to ask for the probabilities (it said only "text/csv
    or application/json": the JSON shape was found in a 400 answer, ?proba=true nowhere but the module's docstring)."""
    result = CliRunner().invoke(app, ["classify", "serve", "--help"], env={"COLUMNS": "400"})
    said = " ".join(result.output.split())
    assert '{"instances": [[...], ...]}' in said and "?proba=true" in said and '"proba": true' in said, said
    assert "no label" in said and '{"predictions": [...]}' in said, said


def test_init_model_refuses_seed(model_dir, files, tmp_path):
    """--init-model with --seed is one line and no folder (the seed was written into classifier.json, but the
    networks trained on with their own seeds and sample orders: the same model for any --seed)."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--restore-best", "last",
                                      "--seed", "7"])
    assert result.exit_code == 1 and "--seed does not apply with --init-model" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not out.exists()


def test_init_model_of_another_kind_than_model_says_an(model_dir, files, tmp_path):
    """--model inception-time with an LSTM-FCN --init-model: one line saying "an lstm-fcn model" (it said "a")."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--model", "inception-time", "--epochs", "1"])
    assert result.exit_code == 1 and result.stderr.startswith("error: --model inception-time but --init-model "), result.stderr
    assert result.stderr.endswith(" holds an lstm-fcn model: drop --model or give --model lstm-fcn\n"), result.stderr
    assert not out.exists()


def test_init_model_refuses_options_that_change_the_network(model_dir, files, tmp_path):
    """--init-model with an option that changes the network's layers is one line and no folder (it used to train
    the old network and write the new option into classifier.json)."""
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--hidden-size", "8",
                                      "--restore-best", "last"])
    assert result.exit_code == 1 and "--hidden-size 8 would change the networks of --init-model" in result.stderr
    assert "(built with --hidden-size 4): drop those options, or drop --init-model" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not out.exists()


@pytest.mark.parametrize("edit, words", [
    (lambda line: line.replace("sine,", "zigzag,", 1), "t.csv has label(s) --init-model"),
    (lambda line: ",".join(line.split(",")[:11]), "t.csv has series of length 10 but --init-model"),
])
def test_init_model_refuses_new_labels_and_lengths_in_cli_terms(model_dir, files, tmp_path, edit, words):
    """--init-model with --train labels the model does not know, or series of another length, is one line naming the
    file and the option (it said "y has label(s) never seen ...", "X has series of length ...")."""
    lines = (files / "train.csv").read_text().splitlines()
    (tmp_path / "t.csv").write_text("\n".join(map(edit, lines)) + "\n")
    out = tmp_path / "tuned"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(tmp_path / "t.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--restore-best", "last"])
    assert result.exit_code == 1 and words in result.stderr and "drop --init-model" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not out.exists()


@pytest.mark.parametrize("edit, words", [
    (lambda line: line.replace("sine,", "zigzag,", 1), "v.csv has label(s) that train.csv has not: 'zigzag'"),
    (lambda line: ",".join(line.split(",")[:11]), "v.csv has series of length 10 but train.csv has length 24"),
])
def test_valid_with_other_labels_or_length_is_one_line_in_cli_terms(files, tmp_path, edit, words):
    """--valid with labels --train has not, or series of another length, is one line naming both files (it said
    "y_valid has label(s) outside the classes ... (of y, or classes=)", "the model was trained on length 24")."""
    lines = (files / "train.csv").read_text().splitlines()
    (tmp_path / "v.csv").write_text("\n".join(map(edit, lines)) + "\n")
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--valid",
                                      str(tmp_path / "v.csv"), "--out", str(tmp_path / "m"), *TINY])
    assert result.exit_code == 1 and words in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "m").exists()


@pytest.mark.parametrize("content, args, words", [
    ("label,a,b\nx,1,2\ny,3,4\nx,5,6\n", [], "header row"),
    ("x,1,2\nx,3,4\n", [], "single class"),
    ("x,1,2\ny,3\n", [], "same length"),
    ("0.731,1,2\n0.5,3,4\n0.731,5,6\n", [], "t.csv has labels that are not whole numbers (0.5, 0.731)"),
    ("x,1,2\ny,3,4\nx,5,6\n", ["--dropout", "2"], "--dropout"),
    ("x,1,2\ny,3,4\nx,5,6\n", ["--model", "inception-time", "--hidden-size", "3"], "do not apply"),
    ("x,1,2\ny,3,4\nx,5,6\n", ["--restore-best", "best"], "--restore-best"),
    ("x,1,2\ny,3,4\nx,5,6\n", ["--restore-best", "valid_loss"], "needs a validation set"),
])
def test_train_bad_input_is_one_line(tmp_path, content, args, words):
    """Bad training files and options end with exit 1, one line on stderr, and no model folder."""
    (tmp_path / "t.csv").write_text(content)
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(tmp_path / "t.csv"), "--out",
                                      str(tmp_path / "m"), *args])
    assert result.exit_code == 1 and words in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("target, words", [("train.csv/m", "train.csv is a file"), ("busy", "holds no model")])
def test_train_out_that_cannot_hold_a_model_is_refused_before_training(files, tmp_path, monkeypatch, target, words):
    """train --out under a file, or a non-empty folder that is not a model, is one line and exit 1, before any fit."""
    from m5kit.models.classifiers import _SeriesClassifier

    def no_fit(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(_SeriesClassifier, "fit", no_fit)
    (tmp_path / "train.csv").write_text((files / "train.csv").read_text())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(tmp_path / "train.csv"), "--out",
                                      str(tmp_path / target), *TINY])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert words in result.stderr and result.stderr.strip().count("\n") == 0
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def test_predict_refuses_wrong_length_and_non_models(model_dir, tmp_path):
    """predict with series of another length, or a folder that is not a model, is one line and exit 1."""
    (tmp_path / "short.csv").write_text("1,2,3\n")
    runner = CliRunner()
    result = runner.invoke(app, ["classify", "predict", "--model", str(model_dir), "--input", str(tmp_path / "short.csv"),
                                 "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "length 24" in result.stderr and not (tmp_path / "p.csv").exists()
    result = runner.invoke(app, ["classify", "predict", "--model", str(tmp_path), "--input", str(tmp_path / "short.csv"),
                                 "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "not a model folder" in result.stderr


def test_a_model_folder_with_a_damaged_network_is_one_line(model_dir, files, tmp_path):
    """predict with a model.pkl whose network is damaged (cut short) is one line, "cannot load the model", and no output
    (the networks load on first use: it was a zipfile.BadZipFile traceback at the first prediction; serve and
    --init-model load the folder the same way)."""
    import pickle
    import shutil

    from m5kit.models._keras._private import pack_model
    from m5kit.models.classifier_folder import load_classifier

    shutil.copytree(model_dir, tmp_path / "model")
    clf = load_classifier(model_dir)
    member = np.asarray(pack_model(clf.members_[0]))
    clf.members_ = [member[:len(member) // 2]]  # cut: no zip directory
    with open(tmp_path / "model" / "model.pkl", "wb") as fh:
        pickle.dump(clf, fh)
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(tmp_path / "model"), "--input",
                                      str(files / "test.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"cannot load the model in {tmp_path / 'model'}" in result.stderr and "train it again" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "p.csv").exists()


def test_saving_an_unfitted_classifier_leaves_the_folder_as_it_was(model_dir, tmp_path):
    """save_classifier of an unfitted classifier raises NotFittedError and leaves a model folder there a model (it
    removed classifier.json, replaced model.pkl by the unfitted one, then failed with AttributeError 'history_')."""
    import shutil

    from sklearn.exceptions import NotFittedError

    from m5kit.models.classifier_folder import load_classifier, save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier

    shutil.copytree(model_dir, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}
    with pytest.raises(NotFittedError):
        save_classifier(LSTMFCNClassifier(), tmp_path / "model")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    assert load_classifier(tmp_path / "model").n_epochs_ == 2


def test_saving_a_classifier_that_does_not_pickle_leaves_the_folder_as_it_was(model_dir, files, tmp_path):
    """save_classifier of a classifier whose callback does not pickle is one ParamError and leaves a model folder there
    a model (it removed classifier.json first, then failed with pickle's TypeError: the old model was lost)."""
    import shutil
    import threading

    import keras

    from m5kit.datasets.ucr import read_ucr_csv
    from m5kit.errors import ParamError
    from m5kit.models.classifier_folder import load_classifier, save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier

    class Locked(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    X, y = read_ucr_csv(files / "train.csv")
    clf = LSTMFCNClassifier(hidden_size=2, filters=(2, 2, 2), epochs=1, callbacks=[Locked()]).fit(X, y)
    shutil.copytree(model_dir, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}
    with pytest.raises(ParamError, match="it does not pickle .*callbacks=None"):
        save_classifier(clf, tmp_path / "model")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    save_classifier(clf.set_params(callbacks=None), tmp_path / "model")
    assert load_classifier(tmp_path / "model").n_epochs_ == 1


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_full_disk_while_saving_keeps_the_model_already_in_the_folder(model_dir, files, tmp_path, monkeypatch,
                                                                        failing):
    """A full disk while train saved into a model folder (fine-tuning it in place) was an OSError traceback, and the
    folder had lost its classifier.json (and, later on, its model.pkl): the model there was gone. Now one line, and
    the folder holds the model it held, which predict still reads."""
    import errno
    import os
    import shutil

    out = Path(shutil.copytree(model_dir, tmp_path / "model"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(out), "--epochs", "1", "--restore-best", "last"])
    monkeypatch.undo()
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write the model to {out} (No space left on device): free disk space or give a writable "
        "folder, then train again; the model already there is kept\n"), (result.exit_code, result.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(out), "--input", str(files / "test.csv"),
                                      "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.stderr


def test_train_again_into_the_folder_of_a_train_killed_while_saving(files, tmp_path):
    """A train killed (SIGKILL) while it saved leaves only its hidden temporary files (.model.pkl.<random>.tmp, ...)
    in --out; the same command again was refused ("is not empty and holds no model"). Now it trains, and the
    temporary files are removed."""
    out = tmp_path / "model"
    out.mkdir()
    for name in (".classifier.json.13zf8x6r.tmp", ".history.csv.rnsldcoo.tmp", ".model.pkl.q48z3167.tmp"):
        (out / name).write_bytes(b"\x80\x05 half written")
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      *TINY])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["classifier.json", "history.csv", "model.pkl"]


def test_a_multivariate_model_folder_is_refused_in_cli_terms(files, tmp_path):
    """predict and train --init-model with a model of 2-channel series (saved from Python) say the CSV format holds
    one channel (predict said "X has series of length 24 with 1 channel(s) but the model was trained on ... with 2";
    --init-model "train.csv has series of length 24 but ... was trained on length 24")."""
    from m5kit.models.classifier_folder import save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = make_shapes(n_per_class=4, length=24, channels=2, seed=0)
    save_classifier(LSTMFCNClassifier(hidden_size=2, filters=(2, 2, 2), epochs=1, random_state=0).fit(X, y),
                    tmp_path / "model")
    runner = CliRunner()
    result = runner.invoke(app, ["classify", "predict", "--model", str(tmp_path / "model"), "--input",
                                 str(files / "test.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "takes series of 2 channels, which the CSV format cannot hold" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "p.csv").exists()
    result = runner.invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(tmp_path / "t"),
                                 "--init-model", str(tmp_path / "model"), "--epochs", "1"])
    assert result.exit_code == 1 and "takes series of 2 channels, which the CSV format cannot hold" in result.stderr
    assert not (tmp_path / "t").exists()


def test_init_model_fitted_in_python_on_integer_labels_fine_tunes_on_a_csv(tmp_path):
    """--init-model of a model fitted in Python on integer labels (saved by save_classifier) trains on a CSV of those
    labels, with --valid (the CSV's text "1" was "never seen": "the model knows 1, 2")."""
    from m5kit.models.classifier_folder import load_classifier, save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = make_shapes(n_per_class=4, length=24, seed=0)
    numbers = np.searchsorted(np.unique(y), y) + 1
    save_classifier(LSTMFCNClassifier(hidden_size=2, filters=(2, 2, 2), epochs=1, random_state=0).fit(X, numbers),
                    tmp_path / "model")
    write_ucr_csv(tmp_path / "t.csv", X, numbers)
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(tmp_path / "t.csv"), "--valid",
                                      str(tmp_path / "t.csv"), "--out", str(tmp_path / "tuned"), "--init-model",
                                      str(tmp_path / "model"), "--epochs", "1"])
    assert result.exit_code == 0, result.stderr
    tuned = load_classifier(tmp_path / "tuned")
    assert tuned.classes_.tolist() == [1, 2, 3] and tuned.n_epochs_ == 2 and "valid_loss" in tuned.history_


def test_predict_on_a_labelled_file_says_to_drop_the_labels(model_dir, files, tmp_path):
    """predict --input a labelled (training) file is one line saying to drop the label column (it said
    "line 1, column 1 holds 'sine', not a number: ... (fill or drop missing values)")."""
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(files / "train.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "train.csv: line 1 starts with '" in result.stderr
    assert "without a label column" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("target, words", [(".", "is a folder"), ("test.csv/p.csv", "cannot write")])
def test_predict_out_that_cannot_be_a_file_is_one_line(model_dir, files, target, words):
    """predict --out naming a folder, or a path under a file, is one line and exit 1, and the input is left alone."""
    before = (files / "test.csv").read_text()
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(files / "test.csv"), "--out", str(files / target)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert words in result.stderr and result.stderr.strip().count("\n") == 0
    assert (files / "test.csv").read_text() == before


def test_predict_out_under_a_file_is_refused_before_the_model_is_loaded(model_dir, files, monkeypatch):
    """predict --out under a file loaded the model and classified every series before the write failed: the same
    one line now comes first (the networks of an ensemble take their time)."""
    import m5kit.models.classifier_folder

    def no_load(folder):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(m5kit.models.classifier_folder, "load_classifier", no_load)
    out = files / "test.csv" / "p.csv"
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(files / "test.csv"), "--out", str(out)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.stderr == (f"error: cannot write {out}: {files / 'test.csv'} is a file, not a folder: give --out a "
                             "file in a folder\n"), result.stderr


@pytest.mark.parametrize("name", ["classifier.json", "model.pkl", "history.csv"])
def test_predict_out_that_is_a_file_of_the_model_is_refused(model_dir, files, name):
    """predict --out naming a file of the --model folder is one line and exit 1, the model kept (the predictions
    replaced it: the folder held no model any more)."""
    before = (model_dir / name).read_bytes()
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(files / "test.csv"), "--out", str(model_dir / "." / name)])
    assert result.exit_code == 1 and "is a file of the --model folder" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and (model_dir / name).read_bytes() == before


def test_predict_writes_labels_beyond_ascii_as_utf8_whatever_the_locale(files, tmp_path):
    """Labels beyond ASCII are written as UTF-8 (as the CSVs are read) under an ASCII locale too: predict and
    write_ucr_csv (they were written in the locale's encoding: a UnicodeEncodeError traceback)."""
    import os
    import subprocess
    import sys

    from m5kit.models.classifier_folder import save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier

    X, y = make_shapes(n_per_class=4, length=24, seed=0)
    names = {"sine": "café", "square": "日本", "sawtooth": "saw"}
    labels = np.array([names[v] for v in y])
    save_classifier(LSTMFCNClassifier(filters=(2, 2, 2), hidden_size=2, epochs=1, random_state=0).fit(X, labels),
                    tmp_path / "model")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    script = ("import sys; from m5kit.datasets.ucr import write_ucr_csv; "
              "write_ucr_csv(sys.argv[1], [[0.5, 1.5]], ['\\u65e5\\u672c'])")  # ASCII: the locale's argv
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "t.csv")], env=env, check=True)
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == "日本,0.5,1.5\n"
    result = subprocess.run([sys.executable, "-m", "m5kit", "classify", "predict", "--model", str(tmp_path / "model"),
                             "--input", str(files / "test.csv"), "--out", str(tmp_path / "p.csv"), "--proba"],
                            env=env, capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr[-500:]
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines()[0] == "label,café,saw,日本"


def test_predict_out_that_is_the_input_is_refused(model_dir, files, tmp_path):
    """predict --out naming the --input file is one line and exit 1, the series kept (they were replaced by the
    predictions)."""
    (tmp_path / "in.csv").write_text((files / "test.csv").read_text())
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(tmp_path / "in.csv"), "--out", str(tmp_path / "." / "in.csv")])
    assert result.exit_code == 1 and "is the --input file" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert (tmp_path / "in.csv").read_text() == (files / "test.csv").read_text()


def test_train_and_predict_say_long_paths_on_one_line(model_dir, files, tmp_path):
    """train's summary and predict's line are one line each, whatever the terminal's width, with the paths whole
    (piped, rich folded them at 80 columns, cutting a long --out path in two)."""
    deep = tmp_path / ("a_folder_with_a_rather_long_name_" * 3) / "predictions.csv"
    deep.parent.mkdir()
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(files / "test.csv"), "--out", str(deep)], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and result.stdout == f"6 prediction(s) written to {deep}\n", result.stdout
    out = deep.parent / "model"
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(files / "train.csv"), "--out", str(out),
                                      "--init-model", str(model_dir), "--epochs", "1", "--restore-best", "last"],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0 and result.stdout.endswith(f"; saved to {out}\n") and result.stdout.count("\n") == 1


def _request(port, method, path, body=None, content_type="text/csv", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers={**({"Content-Type": content_type} if body is not None else {}),
                                                   **(headers or {})})
    response = conn.getresponse()
    out = response.status, response.getheader("Content-Type"), response.read().decode()
    conn.close()
    return out


def test_endpoint_answers_good_and_bad_requests(model_dir, files):
    """The endpoint answers CSV and JSON, 400 with one line for bad bodies, and keeps serving."""
    from m5kit.models.classifier_folder import load_classifier
    from m5kit.serving import make_server

    server = make_server(load_classifier(model_dir), "127.0.0.1", 0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _request(port, "GET", "/ping")[0] == 200
        rows = (files / "test.csv").read_text()
        status, kind, text = _request(port, "POST", "/invocations", rows)
        assert status == 200 and kind == "text/csv; charset=utf-8" and len(text.splitlines()) == 6
        series = [[float(v) for v in line.split(",")] for line in rows.splitlines()[:2]]
        status, kind, text = _request(port, "POST", "/invocations", json.dumps({"instances": series, "proba": True}),
                                      "application/json")
        answer = json.loads(text)
        assert status == 200 and len(answer["predictions"]) == 2 and len(answer["probabilities"][0]) == 3
        status, _, text = _request(port, "POST", "/invocations?proba=true", rows)
        assert text.splitlines()[0] == "label,sawtooth,sine,square"
        for body, kind, words in [("", "text/csv", "empty body"), ("1,2,3\n", "text/csv", "length 24"),
                                  ("1,a," + "1," * 21 + "1\n", "text/csv", "not a number"),
                                  ("{bad", "application/json", "bad JSON"),
                                  ('{"instances": [[1, 2]]}', "application/json", "length 2")]:
            status, _, text = _request(port, "POST", "/invocations", body, kind)
            assert status == 400 and words in text and text.count("\n") == 1, (body, text)
        assert _request(port, "POST", "/invocations", rows)[0] == 200  # still serving
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def port(model_dir):
    """A server of the tiny model on a free port, stopped after the module."""
    from m5kit.models.classifier_folder import load_classifier
    from m5kit.serving import make_server

    server = make_server(load_classifier(model_dir), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _still_serving(port, files):
    assert _request(port, "GET", "/ping")[0] == 200
    assert _request(port, "POST", "/invocations", (files / "test.csv").read_text())[0] == 200


def test_endpoint_refuses_json_nested_too_deeply_with_400(port, files):
    """JSON nested deeper than the parser's recursion limit is 400 with one line (it was 500, RecursionError)."""
    status, _, text = _request(port, "POST", "/invocations", "[" * 100_000, "application/json")
    assert status == 400 and "nested too deeply" in text and text.count("\n") == 1
    _still_serving(port, files)


@pytest.mark.parametrize("instances, words", [
    ([0.5] * 24, '"instances" has one list of numbers, not a list of series: give [[...24 numbers...], ...]'),
    ([[None] * 24], '"instances" has null, NaN, infinite values'),
    ([[1e39] * 24], "beyond the range of 32-bit floats"),
    ([[[0.5, 0.5]] * 24], '"instances" has the shape (1, 24, 2)'),
    ([[10**400] + [0.5] * 23], "beyond the range of 32-bit floats"),  # it was 500, OverflowError
    ([[True] * 24], '"instances" holds true or false, not numbers'),
    ([[0.5] * 23 + [False]], '"instances" holds true or false, not numbers'),
    ([["1.5"] + [0.5] * 23], '"instances" holds the string \'1.5\', not numbers'),  # it was read as 1.5
    ([], '"instances" is empty: give'),  # it said the JSON had no list "instances"
])
def test_endpoint_names_what_is_wrong_with_json_instances(port, files, instances, words):
    """JSON instances of the wrong shape or with nulls are 400 with a line in the request's terms (they were the
    Python API's "X has shape (24,)", "X has missing or infinite values ... before fitting or predicting"); true and
    false too (they were classified as 1 and 0)."""
    status, _, text = _request(port, "POST", "/invocations", json.dumps({"instances": instances}), "application/json")
    assert status == 400 and words in text and " X " not in text and text.count("\n") == 1, text
    _still_serving(port, files)


def test_endpoint_answers_415_to_another_content_type(port, files):
    """A body of a content type other than CSV or JSON is 415 Unsupported Media Type with one line (it was 400)."""
    status, _, text = _request(port, "POST", "/invocations", "<x>1</x>", "application/xml")
    assert status == 415 and "unsupported content type 'application/xml'" in text and text.count("\n") == 1
    _still_serving(port, files)


def test_endpoint_answers_a_chunked_body(port, files):
    """A chunked body (requests with a generator, curl -T -, Go's and Node's streams) is classified as the same body
    with a Content-Length (it was 411 Length Required): 8 MB of chunks, one label per row, on a connection that
    stays open for the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rows = (files / "test.csv").read_bytes()
    copies = 8 * 2**20 // len(rows)
    conn.request("POST", "/invocations", body=iter([rows] * copies), headers={"Content-Type": "text/csv"},
                 encode_chunked=True)
    response = conn.getresponse()
    labels = response.read().decode().splitlines()
    assert response.status == 200 and response.getheader("Connection") != "close"
    assert len(labels) == copies * len(rows.splitlines())
    assert labels[:len(rows.splitlines())] == _request(port, "POST", "/invocations", rows.decode())[2].splitlines()
    conn.request("GET", "/ping")
    assert conn.getresponse().read() == b"ok\n"
    conn.close()


@pytest.mark.parametrize(("frames", "status", "said"), [
    (b"zz\r\n0.1,0.2\r\n0\r\n\r\n", 400, "the body is not in chunked framing"),
    (b"5\r\n0.1\r\n", 400, "the body is not in chunked framing"),  # the connection closed inside a chunk
    # chunk sizes other than hex digits (int(x, 16) took them as 16: a proxy in front reads them otherwise)
    *((size + b"\r\n0.1,0.2,0.3,0.4\n\r\n0\r\n\r\n", 400, "the body is not in chunked framing")
      for size in (b"0x10", b"+10", b" 10", b"1_0")),
    # a size 3 short of the chunk: the 2 bytes where its CRLF should be were dropped unchecked, the last value read as
    # 1. for 1.50, the chunk's last '0' taken for the last chunk (200)
    (b"%x\r\n" % (len(b"0.5," * 23 + b"1.50") - 3) + b"0.5," * 23 + b"1.50\r\n0\r\n\r\n", 400,
     "the body is not in chunked framing"),
])
def test_endpoint_answers_a_body_not_chunked_as_it_says_with_400(port, files, frames, status, said):
    """A body sent as chunked that is not in chunked framing (a chunk size other than hex digits too) is one line and
    a close; the server keeps serving."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + frames)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()) and b"Connection: close" in head, head
    assert said in body.decode() and body.count(b"\n") == 1, body
    _still_serving(port, files)


def test_endpoint_answers_in_the_type_the_accept_header_asks_for(port, files):
    """An Accept header picks the answer's type: JSON for a CSV body, CSV for a JSON body (the answer was always of
    the body's type); */* (a browser's) keeps the body's; one that allows neither is 406 with one line."""
    rows = (files / "test.csv").read_text()
    series = [[float(v) for v in line.split(",")] for line in rows.splitlines()]
    csv_answer = _request(port, "POST", "/invocations", rows)[2]
    status, kind, text = _request(port, "POST", "/invocations?proba=true", rows,
                                  headers={"Accept": "application/json"})
    assert status == 200 and kind == "application/json"
    answer = json.loads(text)
    assert answer["predictions"] == csv_answer.splitlines() and len(answer["probabilities"]) == 6
    status, kind, text = _request(port, "POST", "/invocations", json.dumps({"instances": series}),
                                  "application/json", headers={"Accept": "application/json;q=0.5, text/csv"})
    assert status == 200 and kind == "text/csv; charset=utf-8" and text == csv_answer
    status, kind, _ = _request(port, "POST", "/invocations", rows,
                               headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert status == 200 and kind == "text/csv; charset=utf-8"
    status, _, text = _request(port, "POST", "/invocations", rows, headers={"Accept": "image/png"})
    assert status == 406 and "accept text/csv or application/json" in text and text.count("\n") == 1
    _still_serving(port, files)


def test_endpoint_refuses_a_body_shorter_than_its_content_length_with_400(port, files):
    """A client that stops sending before its Content-Length (closing its side) is 400 with one line (the rows it
    sent were classified as if whole: 200)."""
    rows = (files / "test.csv").read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     + f"Content-Length: {len(rows) + 1000}\r\n\r\n".encode() + rows)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and f"ended after {len(rows)} of" in text and text.count("\n") == 1
    _still_serving(port, files)


def test_endpoint_answers_413_to_a_client_that_sends_a_body_too_large_before_reading(port, files, monkeypatch):
    """A body over the cap sent whole before the answer is read (as http.client and requests do) gets the 413 line:
    the body is read and dropped after the answer (the connection was closed on the client still sending: it got
    a broken pipe, not the answer)."""
    from m5kit import serving

    monkeypatch.setattr(serving, "MAX_BODY", 2**20)
    for _ in range(2):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/invocations", body=b"1," * (2 * 2**20), headers={"Content-Type": "text/csv"})
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
        assert response.status == 413 and text == (f"the body of {4 * 2**20} bytes is over the limit of {2**20} bytes: "
                                                    "send its series in several requests\n")
    _still_serving(port, files)


def _raw(port, data: bytes) -> tuple[str, str]:
    """The head and body of the answer to ``data`` sent as is, read to the server's close."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.decode().partition("\r\n\r\n")
    return head, text


def test_endpoint_refuses_differing_content_lengths_with_400(port, files):
    """Two Content-Length headers that differ are 400 with one line and the connection closed (the first was taken,
    and the rest of the body read as the start of the next request, the connection left open on it)."""
    head, text = _raw(port, b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\nContent-Length: 4\r\n"
                            b"Content-Length: 8\r\n\r\n1,2,3,4,")
    assert head.startswith("HTTP/1.1 400 ") and text == f"give one Content-Length from 0 to {MAX_BODY} bytes\n"
    _still_serving(port, files)


@pytest.mark.parametrize("data, status, words", [
    (b"GARBAGE\r\n\r\n", 400, "Bad request syntax ('GARBAGE')"),
    (b"GET /ping?" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "URI Too Long"),  # Python < 3.13: "Request-URI Too Long"
    (b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431, "Too many headers"),
])
def test_endpoint_answers_malformed_requests_with_one_line(port, files, data, status, words):
    """A request line or headers the standard library refuses are answered with one plain-text line, as the other
    errors (they were its HTML page; to a request line of one word, with no status line at all)."""
    head, text = _raw(port, data)
    assert head.startswith(f"HTTP/1.1 {status} ") and "Content-Type: text/plain; charset=utf-8" in head
    assert words in text and "POST /invocations" in text and text.count("\n") == 1, text
    _still_serving(port, files)


@pytest.mark.parametrize("method, path, allow, said", [
    ("GET", "/invocations", "POST", "method not allowed: POST the series to /invocations\n"),
    ("POST", "/ping", "GET, HEAD", "method not allowed: GET /ping\n"),
])
def test_endpoint_answers_405_to_the_other_method_of_its_paths(port, files, method, path, allow, said):
    """GET /invocations and POST /ping are 405 with an Allow header naming the method to use (they were 404 "not
    found", of a path that is there)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body="1,2\n" if method == "POST" else None)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == 405 and response.getheader("Allow") == allow and text == said
    assert _request(port, "GET", "/nowhere")[0] == 404
    _still_serving(port, files)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_endpoint_answers_405_to_other_methods(port, files, method):
    """Methods other than GET and POST are 405 with one plain-text line and an Allow header (they were 501 with an
    HTML page), and the server goes on serving."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, "/invocations", body="1,2\n" if method in ("PUT", "PATCH") else None)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == 405 and response.getheader("Allow") == "POST"
    assert response.getheader("Content-Type").startswith("text/plain")
    assert text == "method not allowed: POST the series to /invocations\n"
    _still_serving(port, files)


@pytest.mark.parametrize("path, status, allow", [("/ping", 200, None), ("/invocations", 405, "POST"),
                                                 ("/nowhere", 404, None)])
def test_endpoint_answers_head_as_get_without_the_body(port, files, path, status, allow):
    """HEAD is answered as GET, with its headers and no body: HEAD /ping is 200, as a load balancer's health check
    expects (it was 405 for every path)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("HEAD", path)
    response = conn.getresponse()
    assert response.read() == b"" and response.status == status and response.getheader("Allow") == allow
    assert int(response.getheader("Content-Length")) > 0  # the length GET's body has
    conn.close()
    _still_serving(port, files)


@pytest.mark.parametrize("length", [b"+10", b"1_0", b"0x10", b"\xd9\xa1\xd9\xa0", b""])
def test_endpoint_refuses_a_content_length_of_other_than_digits_with_400(port, files, length):
    """A Content-Length other than ASCII digits is 400 with one line and the connection closed (Python's int()
    took "+10", "1_0" and Arabic-Indic digits as 10, which a proxy in front would read otherwise)."""
    head, text = _raw(port, b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\nContent-Length: " + length
                      + b"\r\n\r\n1,2,3,4,5,")
    assert head.startswith("HTTP/1.1 400 ") and text == f"give a Content-Length from 0 to {MAX_BODY} bytes\n"
    _still_serving(port, files)


def test_labels_with_commas_and_quotes_are_quoted_in_predictions(files, tmp_path):
    """Labels holding a comma or a quote (read from a training CSV, where they were quoted) are quoted in predict's
    file and in the endpoint's CSV answer, so each row reads back as one label and its probabilities (they were
    written bare: "a, b" made two columns)."""
    import csv
    import io

    from m5kit.datasets.ucr import read_ucr_csv
    from m5kit.models.classifier_folder import save_classifier
    from m5kit.models.classifiers import LSTMFCNClassifier
    from m5kit.serving import invoke

    X, y = read_ucr_csv(files / "train.csv")
    names = {"sine": "sine, noisy", "square": 'the "square"', "sawtooth": "saw\ntooth"}
    clf = LSTMFCNClassifier(hidden_size=2, filters=(2, 2, 2), epochs=1, random_state=0).fit(X, [names[v] for v in y])
    save_classifier(clf, tmp_path / "model")
    out = tmp_path / "p.csv"
    for proba in (False, True):
        result = CliRunner().invoke(app, ["classify", "predict", "--model", str(tmp_path / "model"), "--input",
                                          str(files / "test.csv"), "--out", str(out), *(["--proba"] if proba else [])])
        assert result.exit_code == 0, result.output
        answer = invoke(clf, (files / "test.csv").read_bytes(), "text/csv", proba=proba)[1].decode()
        with open(out, newline="") as fh:
            assert answer == fh.read()
        rows = list(csv.reader(io.StringIO(answer, newline="")))
        if proba:
            assert rows[0] == ["label", *sorted(names.values())]
            rows = rows[1:]
        assert len(rows) == 6 and all(len(row) == (4 if proba else 1) for row in rows)
        assert {row[0] for row in rows} <= set(names.values())


def test_train_on_workers_keeps_dasks_dashboard_port_warning_off_stderr(files, tmp_path, port_8787_taken):
    """classify train --workers with port 8787 taken prints no "Port 8787 is already in use" warning (4 lines of
    Dask's on stderr; `m5kit train` and `m5kit tune` already kept it off)."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "m5kit", "classify", "train", "--train", str(files / "train.csv"),
                           "--out", str(tmp_path / "m"), "--workers", "1", *TINY],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 0, proc.stderr
    assert "already in use" not in proc.stderr, proc.stderr


def test_train_on_a_scheduler_out_of_reach_is_its_error_line_alone(files, tmp_path):
    """classify train --scheduler that cannot be reached or parsed: stderr is the one error line (a progress bar of
    the networks, "0/1", was drawn above it: the bar started before the cluster was reached). A malformed address
    fails at once; one out of reach fails the same way after Dask's 30 s connect timeout."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "m5kit", "classify", "train", "--train", str(files / "train.csv"),
                           "--out", str(tmp_path / "m"), "--scheduler", "foo", *TINY],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "m").exists()


def test_predict_on_a_file_with_numeric_labels_says_to_drop_them(model_dir, files, tmp_path):
    """predict --input a UCR test file (numeric labels first, one column too many) says to drop the label column (it
    said only "has series of length 25 but the model was trained on length 24: give series of length 24")."""
    X, _ = make_shapes(n_per_class=2, length=24, seed=1)
    write_ucr_csv(tmp_path / "TEST.csv", X, np.arange(len(X)) % 3 + 1)
    result = CliRunner().invoke(app, ["classify", "predict", "--model", str(model_dir), "--input",
                                      str(tmp_path / "TEST.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "TEST.csv has series of length 25" in result.stderr
    assert "label" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "p.csv").exists()


def test_serve_on_a_taken_port_says_so_before_loading_the_model(model_dir, monkeypatch):
    """serve --port of a port in use says "cannot listen" without loading the model (it loaded it, then said so)."""
    import m5kit.models.classifier_folder

    def no_load(folder):
        raise AssertionError("the model was loaded before the port was bound")

    monkeypatch.setattr(m5kit.models.classifier_folder, "load_classifier", no_load)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        result = CliRunner().invoke(app, ["classify", "serve", "--model", str(model_dir), "--port", str(port)])
    finally:
        holder.close()
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: cannot listen on 127.0.0.1:{port} (") and result.output.count("\n") == 1


def test_paths_written_with_a_tilde_name_the_home_folder(model_dir, files, tmp_path, monkeypatch):
    """--input '~/test.csv' (quoted, or --input=~/..., which the shell leaves) was 'no file ~/test.csv', --model
    '~/model' 'no model folder', and --out '~/p.csv' wrote a folder named '~' in the working folder; as train's
    --data-dir, '~' is the home folder."""
    monkeypatch.setenv("HOME", str(files))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["classify", "predict", "--model", "~/model", "--input=~/test.csv",
                                      "--out", "~/p é.csv"])
    assert result.exit_code == 0, result.output
    assert len((files / "p é.csv").read_text().splitlines()) == 6 and not (tmp_path / "~").exists()


def test_valid_labels_that_write_the_training_numbers_another_way_say_so(tmp_path):
    """--train labelled 1 and 2, --valid 1.0 and 2.0 (another tool's floats): it said 'v.csv has label(s) that t.csv
    has not: '1.0', '2.0': ... add series of those classes to t.csv', which t.csv would then refuse as one number
    written two ways; it says the labels are the same numbers written another way."""
    rows = ["1,0.1,0.2,0.3", "2,0.9,0.8,0.7", "1,0.2,0.1,0.3", "2,0.8,0.9,0.7"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "v.csv").write_text("\n".join(r.replace(r[0] + ",", r[0] + ".0,", 1) for r in rows) + "\n")
    result = CliRunner().invoke(app, ["classify", "train", "--train", str(tmp_path / "t.csv"), "--valid",
                                      str(tmp_path / "v.csv"), "--out", str(tmp_path / "m"), *TINY])
    assert result.exit_code == 1 and result.stderr == (
        "error: v.csv has the label '1.0' where t.csv has '1' (one number written two ways, which would be two "
        "classes): write each class's label one way in both files\n"), result.stderr
    assert not (tmp_path / "m").exists()


def test_a_client_gone_before_its_answer_is_one_log_line_not_a_traceback(port, files, capsys, caplog):
    """A client that resets the connection (gave up, timed out) is one log line, not socketserver's 15-line traceback
    of a ConnectionResetError or BrokenPipeError on the server's stderr for each such client."""
    import logging
    import struct
    import time

    caplog.set_level(logging.INFO, logger="m5kit.serving")
    rows = (files / "test.csv").read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\n"
                     + f"Content-Length: {len(rows)}\r\n\r\n".encode() + rows)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    err = ""
    for _ in range(200):
        err += capsys.readouterr().err
        if "Traceback" in err or any("closed the connection" in r.getMessage() for r in caplog.records):
            break
        time.sleep(0.05)
    assert "Traceback" not in err and any("closed the connection" in r.getMessage() for r in caplog.records), err
    _still_serving(port, files)


@pytest.mark.parametrize("kind", ["chunked", "too large"])
def test_an_answer_before_closing_the_connection_says_connection_close(port, files, monkeypatch, kind):
    """The 413 of a body too large, chunked or not, says "Connection: close", so a keep-alive client's next request
    goes on a new connection (it was sent on the closed one: BrokenPipeError in http.client)."""
    from m5kit import serving

    monkeypatch.setattr(serving, "MAX_BODY", 2**10)
    rows = (files / "test.csv").read_bytes()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if kind == "chunked":
        conn.request("POST", "/invocations", body=iter([rows, rows]), headers={"Content-Type": "text/csv"},
                     encode_chunked=True)
    else:
        conn.request("POST", "/invocations", body=rows * 2, headers={"Content-Type": "text/csv"})
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 413 and response.getheader("Connection") == "close"
    assert "over the limit of 1024 bytes" in text and text.count("\n") == 1
    conn.request("POST", "/invocations", body=rows[:1000].rsplit(b"\n", 1)[0], headers={"Content-Type": "text/csv"})
    response = conn.getresponse()
    assert response.status == 200 and len(response.read().splitlines()) >= 1
    conn.close()


def test_csv_answers_say_their_charset(port, files):
    """A CSV answer says "charset=utf-8": without it, requests decodes text/csv as Latin-1 (RFC 2616's default),
    and labels such as "Zürich" came out of response.text as "ZÃ¼rich"."""
    rows = (files / "test.csv").read_text()
    series = [[float(v) for v in line.split(",")] for line in rows.splitlines()]
    assert _request(port, "POST", "/invocations", rows)[1] == "text/csv; charset=utf-8"
    assert _request(port, "POST", "/invocations", json.dumps({"instances": series}), "application/json",
                    headers={"Accept": "text/csv"})[1] == "text/csv; charset=utf-8"


def test_serve_stops_on_sigterm_as_on_ctrl_c(model_dir, monkeypatch):
    """SIGTERM (docker stop, kill, systemd) stops serve as Ctrl-C does: the port closed, exit 0 (the signal ended the
    process at once, exit 143, the server never closed)."""
    import os
    import signal
    import time

    import m5kit.serving

    servers, guard = [], []
    bind = m5kit.serving.bind
    monkeypatch.setattr(m5kit.serving, "bind", lambda *a: servers.append(bind(*a)) or servers[-1])

    def send_sigterm():
        while not servers:
            time.sleep(0.05)
        port = servers[0].server_address[1]
        while True:
            try:
                if _request(port, "GET", "/ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    def unhandled(signum, frame):  # without serve's own handler: stop it here, not pytest
        guard.append(signum)
        threading.Thread(target=servers[0].shutdown).start()

    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        threading.Thread(target=send_sigterm, daemon=True).start()
        result = CliRunner().invoke(app, ["classify", "serve", "--model", str(model_dir), "--port", "0"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 0 and not guard, (result.output, guard)
    assert servers[0].socket.fileno() == -1  # closed


def test_a_body_that_stops_short_of_its_content_length_is_408_after_the_timeout(port, files, monkeypatch):
    """A client that sends less than its Content-Length and waits (a Content-Length set by hand, counted in
    characters) gets 408 with one line after the socket timeout (the connection was closed with no answer: "Empty
    reply from server" after 60 s)."""
    from m5kit import serving

    monkeypatch.setattr(serving._Handler, "timeout", 0.5)
    rows = (files / "test.csv").read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     + f"Content-Length: {len(rows) + 10}\r\n\r\n".encode() + rows)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 408 ") and "Connection: close" in head, answer
    assert f"of the Content-Length's {len(rows) + 10} bytes" in text and text.count("\n") == 1, text
    _still_serving(port, files)


@pytest.mark.parametrize("accept, body, answer", [
    ("text/csv;q=0, */*", "csv", "application/json"),  # it was text/csv: */* took the body's type
    ("*/*;q=0.1, text/csv;q=0", "csv", "application/json"),
    ("application/json;q=0, */*", "json", "text/csv; charset=utf-8"),
    ("text/*;q=0, application/*;q=0.5, */*", "csv", "application/json"),
    ("*/*", "json", "application/json"),  # as before: the body's type
    ("*/*, application/json", "json", "application/json"),
    ("application/json, text/csv", "csv", "application/json"),
])
def test_accept_refusing_a_type_with_q_0_is_not_answered_in_it(port, files, accept, body, answer):
    """A type refused with q=0 in an Accept that also has */* is not the answer's (*/* gave the body's type, the one
    refused): the most specific range of each type gives its quality."""
    rows = (files / "test.csv").read_text()
    series = [[float(v) for v in line.split(",")] for line in rows.splitlines()]
    data, kind = (rows, "text/csv") if body == "csv" else (json.dumps({"instances": series}), "application/json")
    status, got, _ = _request(port, "POST", "/invocations", data, kind, headers={"Accept": accept})
    assert status == 200 and got == answer


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/csv"}])
def test_a_json_body_sent_without_its_content_type_says_to_send_application_json(port, files, headers):
    """JSON sent with no Content-Type (requests.post(url, data=json.dumps(...))) or as text/csv is 400 saying to send
    Content-Type: application/json (it was read as CSV: 'line 1 looks like a header row ...: remove it')."""
    series = [[float(v) for v in line.split(",")] for line in (files / "test.csv").read_text().splitlines()]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/invocations", body=json.dumps({"instances": series}).encode(), headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == 400 and "Content-Type: application/json" in text and "header" not in text, text
    assert text.count("\n") == 1 and ("with no Content-Type" in text) == (not headers)
    _still_serving(port, files)


def test_an_http_1_0_keep_alive_request_is_told_the_connection_stays_open(port, files):
    """An HTTP/1.0 request asking "Connection: keep-alive" (ab -k) is answered with "Connection: keep-alive" when the
    connection stays open (it was not said: such a client waits for the close that ends an HTTP/1.0 answer, 60 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        answers = []
        for _ in range(2):
            sock.sendall(b"GET /ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            answer = b""
            while b"ok\n" not in answer:
                answer += sock.recv(65536)
            answers.append(answer.decode())
    assert all("\r\nConnection: keep-alive\r\n" in answer for answer in answers), answers
    head, _ = _raw(port, b"GET /ping HTTP/1.0\r\n\r\n")  # without it: closed after the answer, as before
    assert head.startswith("HTTP/1.1 200 ") and "keep-alive" not in head


@pytest.mark.parametrize("query, body, said", [
    ("?proba=ture", None, "invalid ?proba='ture': give ?proba=true or ?proba=false"),
    ("?proba", None, "invalid ?proba='': give ?proba=true or ?proba=false"),
    ("", {"proba": "maybe"}, "invalid \"proba\" 'maybe': give \"proba\": true or false"),
    ("", {"proba": 2}, "invalid \"proba\" 2: give \"proba\": true or false"),
])
def test_a_proba_neither_true_nor_false_is_400(port, files, query, body, said):
    """?proba=ture, a bare ?proba or "proba": "maybe" is 400 with one line (it was read as false: the answer came
    without the probabilities asked for, and nothing said why)."""
    rows = (files / "test.csv").read_text()
    if body is None:
        status, _, text = _request(port, "POST", "/invocations" + query, rows)
    else:
        series = [[float(v) for v in line.split(",")] for line in rows.splitlines()]
        status, _, text = _request(port, "POST", "/invocations", json.dumps({"instances": series, **body}),
                                   "application/json")
    assert status == 400 and text == said + "\n", text
    for query, proba in [("?proba=true", True), ("?proba=1", True), ("?proba=False", False), ("?x=1", False)]:
        status, _, text = _request(port, "POST", "/invocations" + query, rows)
        assert status == 200 and text.startswith("label,") == proba


@pytest.mark.parametrize("method, path", [("POST", "/nowhere"), ("POST", "/ping"), ("PUT", "/invocations")])
def test_a_chunked_body_to_another_path_or_method_is_not_read_as_the_next_request(port, files, method, path):
    """A chunked body sent to a path or with a method the endpoint refuses is read before the 404/405 and the
    connection closed, said: the keep-alive client's next request is answered (its chunks were read as the next
    request: 400 "Bad request syntax ('AF0')" to a GET /ping, or a broken pipe)."""
    rows = (files / "test.csv").read_bytes()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=iter([rows]), headers={"Content-Type": "text/csv"}, encode_chunked=True)
    response = conn.getresponse()
    response.read()
    assert response.status in (404, 405)
    conn.request("GET", "/ping")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"ok\n"
    conn.close()


def test_an_unread_body_to_another_path_is_not_read_as_the_next_request(port, files):
    """The body of a POST to another path too long to read (or of a Content-Length not a number) closes the connection
    after the 404: its bytes were read as the next request (here a GET /ping that the client never sent)."""
    head, text = _raw(port, b"POST /nowhere HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nGET /ping HTTP/1.1\r\n\r\n")
    assert head.startswith("HTTP/1.1 404 ") and "Connection: close" in head and "HTTP/1.1 200" not in text, text
    _still_serving(port, files)


def test_a_get_with_a_body_does_not_spoil_the_next_request(port, files):
    """A GET (or HEAD) sent with a body has it read before the answer: it was read as the start of the next request
    on the connection (400 "Bad request syntax ('{"x": 1}GET /ping HTTP/1.1')")."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for method in ("GET", "HEAD", "GET"):
        conn.request(method, "/ping", body=b'{"x": 1}', headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200 and response.read() == (b"" if method == "HEAD" else b"ok\n")
    conn.close()


@pytest.mark.parametrize("method, path, status, allow", [
    ("PUT", "/ping", 405, "GET, HEAD"), ("DELETE", "/invocations", 405, "POST"), ("POST", "/ping", 405, "GET, HEAD"),
    ("PATCH", "/nowhere", 404, None),
])
def test_allow_names_the_methods_of_the_path_asked(port, files, method, path, status, allow):
    """A 405's Allow names the methods of the path asked (PUT /ping said "GET, HEAD, POST", and POST /ping is 405;
    DELETE /invocations said GET, which is 405 there); another method to a path that is not there is 404 (405)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path)
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == status and response.getheader("Allow") == allow


def test_closing_the_server_waits_for_the_requests_being_answered(model_dir, files):
    """server_close (serve's Ctrl-C, SIGTERM) waits for the requests being classified to be answered: the process
    ended under them, and their clients got "Remote end closed connection without response"."""
    import time

    from m5kit.models.classifier_folder import load_classifier
    from m5kit.serving import make_server

    server = make_server(load_classifier(model_dir), "127.0.0.1", 0)
    predict, started, done = server.clf.predict_proba, threading.Event(), threading.Event()

    def slow_predict(X):
        started.set()
        time.sleep(1.0)
        try:
            return predict(X)
        finally:
            done.set()

    server.clf.predict_proba = slow_predict
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answers = []
    client = threading.Thread(target=lambda: answers.append(
        _request(server.server_address[1], "POST", "/invocations", (files / "test.csv").read_text())))
    client.start()
    assert started.wait(30)
    server.shutdown()
    server.server_close()
    assert done.is_set()  # it returned while the request was being classified
    client.join(60)
    assert answers[0][0] == 200, answers


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_the_server_listens_on_an_ipv6_address(host):
    """--host ::1 (or [::1], or :: for every interface) listens there (it was 'cannot listen on ::1:8080 (Address
    family for hostname not supported)': the server was IPv4 only)."""
    from m5kit.serving import bind

    server = bind(host, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = http.client.HTTPConnection("::1", server.server_address[1], timeout=60)
        conn.request("GET", "/ping")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"ok\n"
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host", ["", " "])
def test_serve_refuses_an_empty_host(model_dir, host):
    """--host "" (an unset variable, --host "$HOST") is refused with one line (it listened on every interface,
    0.0.0.0, where the default is this machine alone)."""
    result = CliRunner().invoke(app, ["classify", "serve", "--model", str(model_dir), "--host", host, "--port", "0"])
    assert result.exit_code == 1 and result.output.startswith("error: --host is empty: give")
    assert result.output.count("\n") == 1


def test_a_compressed_body_is_415_saying_to_send_it_uncompressed(port, files):
    """A body sent with Content-Encoding: gzip is 415 saying to send it uncompressed (it was 400 "the body is not
    UTF-8 text: give CSV or JSON text", of CSV that was)."""
    import gzip

    body = gzip.compress((files / "test.csv").read_bytes())
    status, _, text = _request(port, "POST", "/invocations", body, headers={"Content-Encoding": "gzip"})
    assert status == 415 and text == "Content-Encoding 'gzip' is not supported: send the body uncompressed\n", text
    _still_serving(port, files)


def test_many_clients_connecting_at_once_wait_in_the_queue():
    """64 connections at once are queued until the server accepts them (the queue held 5, socketserver's default:
    the others' handshakes were dropped and retried, and 100 clients pinging at once waited 1.4 s at the median and up
    to 27 s, some until their timeout)."""
    from m5kit.serving import bind

    server = bind("127.0.0.1", 0)  # not accepting yet: the connections wait in the queue
    sockets = []
    try:
        for _ in range(64):
            sockets.append(socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=2))
    finally:
        for sock in sockets:
            sock.close()
        server.server_close()
    assert len(sockets) == 64


def test_answers_on_a_kept_alive_connection_are_not_held_back(port):
    """The answers on a keep-alive connection go out at once: its headers and body were two writes, and Nagle's
    algorithm held the body back until the client's delayed ACK, 40 ms (a GET /ping took 44 ms, a one-row POST 48)."""
    import time

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    seconds = []
    for _ in range(10):
        start = time.perf_counter()
        conn.request("GET", "/ping")
        assert conn.getresponse().read() == b"ok\n"
        seconds.append(time.perf_counter() - start)
    conn.close()
    assert sorted(seconds)[5] < 0.02, seconds  # the median: the first answer went at once anyway


def test_closing_the_server_does_not_wait_for_a_body_still_coming():
    """server_close waits for the requests being classified, not for a client still sending its body (Ctrl-C waited
    the 30 s of CLOSE_WAIT for a client that had sent its headers and stalled)."""
    import time

    from m5kit.serving import bind

    server = bind("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=60) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n1,")
        time.sleep(0.2)  # the request is being read
        start = time.perf_counter()
        server.shutdown()
        server.server_close()
        assert time.perf_counter() - start < 5


def test_a_chunk_over_the_body_limit_is_not_held_in_memory(port, files, monkeypatch):
    """One chunk larger than MAX_BODY (a stream sent as a single block) is read and dropped piece by piece before
    its 413: the server held the whole chunk in memory (up to DRAIN_LIMIT, 1 GiB, per connection)."""
    import tracemalloc

    from m5kit import serving

    rows = (files / "test.csv").read_bytes()
    copies = 3 * 2**20 // len(rows) + 1  # one chunk of over 3 MiB, under the limit: classified whole
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/invocations", body=iter([rows * copies]), headers={"Content-Type": "text/csv"},
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200 and len(response.read().splitlines()) == copies * len(rows.splitlines())
    conn.close()
    monkeypatch.setattr(serving, "MAX_BODY", 2**20)
    data = b"1," * (24 * 2**20)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        tracemalloc.start()
        try:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(data))
            sock.sendall(memoryview(data))
            sock.sendall(b"\r\n0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413 ") and b"over the limit of 1048576 bytes" in answer, answer
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB"
    _still_serving(port, files)


def test_a_chunked_body_that_also_has_a_content_length_is_answered_then_closed(port, files):
    """A request with both Transfer-Encoding: chunked and a Content-Length (which a proxy in front may read as the
    body's end instead: request smuggling) is classified by its chunks, then its connection closed, said, as HTTP/1.1
    requires (RFC 9112 6.3); it was kept open for the next request."""
    rows = (files / "test.csv").read_bytes()
    head, text = _raw(port, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                            b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                            + b"%x\r\n" % len(rows) + rows + b"\r\n0\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 ") and "Connection: close" in head, head
    assert text == _request(port, "POST", "/invocations", rows.decode())[2]
    _still_serving(port, files)


@pytest.mark.parametrize("method, path, status", [("POST", "/invocation", 404), ("PUT", "/invocations", 405)])
def test_a_body_too_large_to_a_refused_path_or_method_gets_its_answer(port, files, monkeypatch, method, path, status):
    """A body over MAX_BODY sent whole before the answer is read (http.client, requests) to a mistyped path or with
    another method got a broken pipe (the connection closed on it still sending), not the 404/405 line that says
    what is wrong, as /invocations' 413 does: the body is read and dropped first."""
    from m5kit import serving

    monkeypatch.setattr(serving, "MAX_BODY", 2**20)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=b"1," * (4 * 2**20), headers={"Content-Type": "text/csv"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == status and response.getheader("Connection") == "close" and text.count("\n") == 1, text
    _still_serving(port, files)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_stalled_body_to_a_refused_path_gets_its_answer_after_the_timeout(port, files, monkeypatch, framing):
    """A client that sends less body than it said to a mistyped path (or a chunked body it does not end) and waits
    got no answer, the connection closed after the socket timeout (curl: 'Empty reply from server'): it gets the 404
    line, then the close, as /invocations answers 408."""
    from m5kit import serving

    monkeypatch.setattr(serving._Handler, "timeout", 0.5)
    frame = (b"Content-Length: 100\r\n\r\n0.1,0.2" if framing == "length"
             else b"Transfer-Encoding: chunked\r\n\r\n64\r\n0.1,0.2")
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /invocation HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n" + frame)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 404 ") and "Connection: close" in head, answer
    assert text == "not found: POST /invocations or GET /ping\n"
    _still_serving(port, files)
