"""Bayesian search (m5kit.tuning): ask and tell, trials on Dask, resume, failures, analysis."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("optuna")

from m5kit.errors import ParamError  # noqa: E402
from m5kit.tuning import Choice, Float, Int, TuneError, tune, write_analysis  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _tuning_objectives as objectives  # noqa: E402
from _disk import full_disk_as_begun, full_disk_for  # noqa: E402

SPACE = {"x": Float(-5.0, 5.0), "n": Int(0, 3)}


def test_search_finds_the_minimum_in_process():
    """TPE finds a near-optimal x and n = 0 on a smooth objective, best trial first in the table."""
    result = tune(objectives.quadratic, {"target": 2.0}, SPACE, n_trials=40, seed=0)
    assert result.best_params["n"] == 0 and abs(result.best_params["x"] - 2.0) < 0.5
    assert result.trials.iloc[0]["value"] == result.best_value == min(result.trials["value"])
    assert len(result.trials) == 40 and set(result.trials["state"]) == {"COMPLETE"}
    # plain Python values, so that best.json holds 0, not "0"
    assert type(result.best_params["n"]) is int and type(result.best_params["x"]) is float


def test_trials_run_on_the_cluster_in_parallel(dask_client, tmp_path):
    """With a client, trials are Dask tasks (two in flight); every trial finishes and is recorded."""
    result = tune(objectives.quadratic, {"target": 1.0}, SPACE, n_trials=8, n_parallel=2, client=dask_client,
                  out=tmp_path)
    assert len(result.trials) == 8 and (result.trials["state"] == "COMPLETE").all()
    assert (tmp_path / "study.journal").exists()


def test_search_resumes_and_never_repeats_a_finished_trial(tmp_path):
    """Run again with more trials: the finished ones are kept as they were, only the missing ones run."""
    first = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=5, out=tmp_path)
    again = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=8, out=tmp_path)
    assert len(again.trials) == 8
    kept = again.trials.set_index("number").loc[first.trials["number"], ["x", "value"]]
    assert kept.reset_index(drop=True).equals(first.trials[["x", "value"]].reset_index(drop=True))
    same = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=8, out=tmp_path)
    assert len(same.trials) == 8  # nothing left to do
    # another space in the same folder: refused, its trials are not mixed in
    with pytest.raises(ParamError, match=r"searched another space \(x, n\): give the same space to resume it"):
        tune(objectives.quadratic, {"target": 0.0}, {**SPACE, "x": Float(-1.0, 1.0)}, n_trials=9, out=tmp_path)
    # another objective over the same space: refused too (its values are not comparable)
    with pytest.raises(ParamError, match=r"scored another objective \(_tuning_objectives.quadratic\): give the same "
                                         r"objective to resume it"):
        tune(objectives.fails_when_negative, {"target": 0.0}, SPACE, n_trials=9, out=tmp_path)
    assert len(tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=8, out=tmp_path).trials) == 8


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_resumed_search_does_not_ask_the_finished_trials_parameters_again(tmp_path, sampler):
    """The sampler of a resumed search started again from the same seed: its first trials asked the parameters of the
    first search's trials again (`m5kit tune` run again: trial 1 = trial 0), scoring the same configurations twice."""
    first = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=3, out=tmp_path, sampler=sampler)
    again = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=6, out=tmp_path, sampler=sampler)
    new = again.trials[~again.trials["number"].isin(first.trials["number"])]
    assert len(new) == 3 and not set(new["x"]) & set(first.trials["x"]), again.trials
    # the same again: a resumed search is as reproducible as a fresh one
    other = tmp_path / "other"
    tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=3, out=other, sampler=sampler)
    columns = ["number", "x", "n", "value"]
    assert tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=6, out=other,
                sampler=sampler).trials[columns].equals(again.trials[columns])


def test_a_search_whose_journal_ends_in_a_cut_line_resumes(tmp_path):
    """A full disk (or a kill) as the study journal was appended to left its last line cut short; the resumed search
    appended to it, and it and every later one stopped on a JSONDecodeError traceback. The cut line (a record never
    finished) is dropped and the search resumes."""
    tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=3, out=tmp_path)
    journal = tmp_path / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]) + lines[-1][:10])
    again = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=4, out=tmp_path)
    assert (again.trials["state"] == "COMPLETE").sum() == 4
    assert len(tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=4, out=tmp_path).trials) == len(again.trials)


def test_a_study_journal_damaged_inside_is_one_line(tmp_path):
    """A journal with a damaged line before its last (edited, or cut and appended to by an older m5kit) was a bare
    JSONDecodeError; it is one StoreError line naming the file and what to do."""
    from m5kit.errors import StoreError

    tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=2, out=tmp_path)
    journal = tmp_path / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([*lines[:2], b'{"op_code": 4, "worker\n', *lines[2:]]))
    with pytest.raises(StoreError, match=r"^the study journal .*study\.journal is damaged \(line 3 is not a record\): "
                                         r"choose another --out, or remove the file to start the search again$"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=3, out=tmp_path)


def test_an_interrupted_trial_is_asked_again(tmp_path):
    """A trial left running by a killed search is marked failed and its parameters are tried again."""
    from m5kit.tuning import _open_study, check_space

    study = _open_study(tmp_path / "study.journal", "minimize", 0, "tpe")
    trial = study.ask(check_space(SPACE))  # never told: as if the search was killed mid-trial
    params = dict(trial.params)
    result = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=2, out=tmp_path)
    done = result.trials[result.trials["state"] == "COMPLETE"]
    assert any(abs(row.x - params["x"]) < 1e-12 for row in done.itertuples())
    assert "FAIL" in set(result.trials["state"])
    # the trial asked again takes the interrupted one's place: 2 trials run in all (1 did, the other not at all)
    assert len(done) == 2, result.trials
    # its row in trials.csv says why it failed (the error was empty)
    assert result.trials.loc[result.trials["state"] == "FAIL", "error"].tolist() == [
        "interrupted: the search was stopped while this trial ran; its parameters were asked again on resume"]


def test_a_search_resumed_with_fewer_trials_than_it_left_running_keeps_whole_numbers(tmp_path):
    """Two trials left running, resumed with n_trials=1: the one asked again that never ran was a WAITING row of
    NaNs in the table, which made the best n a float (2.0; `m5kit train --param num_leaves=6.0` is refused)."""
    from m5kit.tuning import _open_study, check_space

    study = _open_study(tmp_path / "study.journal", "minimize", 0, "tpe")
    for _ in range(2):
        study.ask(check_space(SPACE))  # never told: as if the search was killed with two trials in flight
    result = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=1, out=tmp_path)
    assert type(result.best_params["n"]) is int, result.best_params
    assert set(result.trials["state"]) == {"COMPLETE", "FAIL"} and result.trials["n"].notna().all(), result.trials


def test_the_progress_bar_of_a_resumed_search_counts_its_failed_trials(tmp_path, monkeypatch):
    """The bar advances on every trial told, failed or pruned ones too, but a resumed search started it from the
    finished trials alone: it ended short of its total (7 of 8 after a failure)."""
    import contextlib

    import m5kit.execution.progress

    tune(objectives.fails_when_negative, {}, {"x": Float(-5.0, 5.0)}, n_trials=6, out=tmp_path, max_failures=10)
    shown = []

    @contextlib.contextmanager
    def bar(show, total, done=0, label=""):
        shown.append(done)
        yield lambda: shown.append(1)

    monkeypatch.setattr(m5kit.execution.progress, "progress_bar", bar)
    result = tune(objectives.fails_when_negative, {}, {"x": Float(-5.0, 5.0)}, n_trials=8, out=tmp_path,
                  max_failures=10, progress=True)
    assert "FAIL" in set(result.trials["state"]) and len(result.trials) == 8
    assert sum(shown) == 8, shown  # where the bar started, and one step per trial told


def test_a_failing_trial_is_recorded_and_the_search_goes_on():
    """A trial that raises is FAIL with its error; the others finish."""
    result = tune(objectives.fails_when_negative, None, {"x": Float(-1.0, 1.0)}, n_trials=12, seed=1,
                  max_failures=20)
    failed = result.trials[result.trials["state"] == "FAIL"]
    assert len(failed) and failed["error"].str.contains("ValueError: x=-").all()
    assert result.best_value >= 0 and (result.trials["state"] == "COMPLETE").any()


def test_a_search_whose_trials_all_fail_stops_with_the_first_errors():
    """Every trial raising stops the search after max_failures with one line quoting the errors."""
    with pytest.raises(TuneError, match=r"the first 3 trials all failed.*RuntimeError: broken objective"):
        tune(objectives.always_fails, None, SPACE, n_trials=10)


@pytest.mark.parametrize(("space", "known", "said"), [
    ({"lr": Float(1e-3, 1e-1, log=True)}, {"learning_rate"}, "unknown parameter 'lr'"),
    ({"x": Float(2.0, 1.0)}, None, "the search range of 'x' is empty"),
    ({"x": Float(0.0, 1.0, log=True)}, None, "a log scale needs low > 0"),
    ({"x": Choice()}, None, "the search space of 'x' is empty"),
    ({}, None, "the search space is empty"),
    ({"x": (1, 2)}, None, "declare it with Int, Float or Choice"),
    # the text was read as true: sampled on a log scale
    ({"x": Float(1.0, 2.0, log="no")}, None, r"^invalid x log 'no': give False or True$"),
    ({"x": Int(1, 8, log="False")}, None, r"^invalid x log 'False': give False or True$"),
])
def test_bad_space_is_one_line_before_any_trial(tmp_path, space, known, said):
    """Unknown names and empty ranges are refused before any trial runs (no study file is written)."""
    with pytest.raises(ParamError, match=said):
        tune(objectives.quadratic, {"target": 0.0}, space, n_trials=3, known=known, out=tmp_path)
    assert not (tmp_path / "study.journal").exists()


def test_choices_of_any_value_come_back_as_declared():
    """Tuple choices (layer sizes) reach the objective and the result as tuples."""
    seen = tune(objectives.quadratic, {"target": 0.0}, {"x": Float(-1, 1), "units": Choice((16,), (32, 16))},
                n_trials=4)
    assert set(map(type, seen.trials["units"])) == {tuple}


def test_analysis_writes_the_trials_table_and_plots(tmp_path):
    """trials.csv (best first) and PNG plots of the search are written."""
    pytest.importorskip("matplotlib")
    result = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=6)
    written = write_analysis(result, tmp_path)
    import pandas as pd

    table = pd.read_csv(written["trials"])
    assert table["value"].iloc[0] == table["value"].min()
    for key in ("objective", "param_x", "param_n"):
        assert written[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_analysis_that_fails_midway_leaves_the_older_one_whole(tmp_path, monkeypatch):
    """A full disk (or Ctrl-C) as a plot was written left the new trials.csv beside the older search's plots; now
    every file of the older analysis stays as it was."""
    pytest.importorskip("matplotlib")
    write_analysis(tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=3, seed=0), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=5, seed=1)
    full_disk_as_begun(monkeypatch, "param_n.png")  # as the new param_n.png is begun
    with pytest.raises(OSError):
        write_analysis(result, tmp_path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


HOPELESS = {"x": Choice(1.0, 2.0, 50.0)}  # x = 50: a loss 25-50x the others' at every epoch


def test_hopeless_trials_are_pruned_in_process(tmp_path):
    """Trials whose per-epoch loss lags the finished trials' stop early and are PRUNED in trials.csv."""
    import pandas as pd

    result = tune(objectives.epochs, {"epochs": 20}, HOPELESS, n_trials=14, sampler="random", seed=1, out=tmp_path)
    table = pd.read_csv(write_analysis(result, tmp_path)["trials"])
    pruned = table[table["state"] == "PRUNED"]
    assert len(pruned) >= 1 and (pruned["x"] == 50.0).all()
    assert (pruned["steps"] < 20).all() and pruned["value"].isna().all()
    assert (table.loc[table["state"] == "COMPLETE", "steps"] == 20).all()
    again = tune(objectives.epochs, {"epochs": 20}, HOPELESS, n_trials=14, sampler="random", seed=1, out=tmp_path)
    assert len(again.trials) == 14  # pruned trials count as done: nothing runs again


def test_pruner_none_lets_every_trial_run_its_epochs():
    """pruner="none" switches pruning off: the same search completes every trial."""
    result = tune(objectives.epochs, {"epochs": 20}, HOPELESS, n_trials=14, sampler="random", seed=1, pruner="none")
    assert set(result.trials["state"]) == {"COMPLETE"}


def test_trials_on_workers_are_pruned_while_they_run(dask_client):
    """On Dask, a hopeless trial learns from the client that it is pruned and stops long before its last epoch."""
    result = tune(objectives.epochs, {"epochs": 20, "sleep": 0.1}, HOPELESS, n_trials=14, n_parallel=2,
                  sampler="random", seed=1, client=dask_client)
    pruned = result.trials[result.trials["state"] == "PRUNED"]
    done = result.trials[result.trials["state"] == "COMPLETE"]
    assert len(pruned) >= 1 and (pruned["x"] == 50.0).all()
    assert (pruned["steps"] < 20).all()
    assert pruned["seconds"].max() < done["seconds"].min() / 2  # 20 epochs of 0.1 s: stopped before half


def test_unknown_pruner_is_one_line_before_any_trial(tmp_path):
    """A pruner that is neither median nor none is refused before the study is written."""
    with pytest.raises(ParamError, match="unknown pruner 'hyperband'"):
        tune(objectives.epochs, {"epochs": 2}, HOPELESS, n_trials=3, pruner="hyperband", out=tmp_path)
    assert not (tmp_path / "study.journal").exists()


@pytest.mark.slow
def test_keras_fit_with_an_exploding_learning_rate_is_pruned():
    """A CNN-LSTM whose learning rate makes the loss explode is pruned through its Keras callback, epochs cut short."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 14, 2)).astype("float32")
    data = {"X": X, "y": X[:, -1, 0] + 0.5 * X[:, -2, 1], "epochs": 8}
    result = tune(objectives.keras_fit, data, {"learning_rate": Choice(0.01, 30.0)}, n_trials=10, sampler="random",
                  seed=0)
    pruned = result.trials[result.trials["state"] == "PRUNED"]
    assert len(pruned) >= 1 and (pruned["learning_rate"] == 30.0).all() and (pruned["steps"] < 8).all()
    from m5kit.tuning_pruning import TrialReporter

    callback = TrialReporter("t", 0).keras_callback()
    assert pickle.loads(pickle.dumps(callback)).reporter == callback.reporter


def test_tune_command_refuses_an_unknown_pruner(tmp_path):
    """`m5kit tune --pruner` takes median or none; anything else is one error line and nothing is written."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    result = CliRunner().invoke(app, ["tune", "--pruner", "hyperband", "--out", str(tmp_path / "tune")])
    assert result.exit_code == 1 and result.stderr.startswith("error: invalid --pruner 'hyperband'")
    assert not (tmp_path / "tune").exists()


def test_tune_command_with_a_file_as_out_is_one_line(tmp_path):
    """`m5kit tune --out` naming an existing file: one error line, exit 1, the file untouched (was a FileExistsError traceback)."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    m5 = write_m5(make_m5(n_items=7, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--data-dir", str(m5),
                                      "--items", "2", "--trials", "1", "--workers", "1", "--out", str(target)])
    assert result.exit_code == 1, result.stderr
    assert result.stderr == f"error: output {target} is a file: give a folder for the search\n", result.stderr
    assert target.read_text() == "mine"


def test_tune_command_error_is_one_line_when_the_dashboard_port_is_taken(tmp_path, port_8787_taken):
    """With port 8787 in use, Dask's "Port 8787 is already in use" warning is kept off `m5kit tune`'s stderr, as
    `m5kit train` does (the dashboard link names the port it got). A bad --param is refused before the cluster
    starts, so a search that runs is what meets the warning."""
    import os
    import subprocess

    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    m5 = write_m5(make_m5(n_items=7, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    proc = subprocess.run([sys.executable, "-c", "from m5kit.cli import main; main()", "tune", "--model", "lightgbm",
                           "--level", "1", "--data-dir", str(m5), "--items", "2", "--trials", "1", "--workers", "1",
                           "--param", "num_leaves=4:8", "--out", str(tmp_path / "tune")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "already in use" not in proc.stderr, proc.stderr


def test_tune_help_says_whole_number_bounds_search_whole_numbers():
    """`--param dropout=0:1` searches 0 and 1 alone (an Int), and --help did not say so: it read as the range 0..1."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.cli.tune import parse_param
    from m5kit.tuning import Int

    assert parse_param("dropout=0:1")[1] == Int(0, 1) and parse_param("dropout=0.0:1")[1] == Float(0.0, 1.0)
    result = CliRunner(env={"COLUMNS": "1000"}).invoke(app, ["tune", "--help"])
    assert "Whole-number bounds search whole numbers only: 0:1 is 0 or 1, 0.0:1 the reals between." in \
        " ".join(result.stdout.split()), result.stdout


@pytest.mark.parametrize("text", ["calendarmerger__event_distance=True,False", "calendarmerger__event_distance=true,false"])
def test_tune_param_searches_true_and_false_as_train_sets_them(text):
    """`--param NAME=True,False` searches the booleans, as `m5kit train --param NAME=False` sets one (it searched the
    texts 'True' and 'False': refused before any trial, "invalid event_distance 'True': give False or True")."""
    from m5kit.cli.tune import parse_param
    from m5kit.tuning import Choice

    name, dimension = parse_param(text)
    assert dimension == Choice(True, False) and all(type(option) is bool for option in dimension.options)


@pytest.mark.parametrize("text", ["learning_rate=,", "learning_rate=0.1,", "learning_rate=0.1,,0.2"])
def test_tune_param_with_an_empty_choice_is_refused(text):
    """`--param NAME=A,,B` was searched with "" as a choice (a trial ran with learning_rate="")."""
    from m5kit.cli.tune import parse_param

    with pytest.raises(ParamError, match="a choice is empty"):
        parse_param(text)


def test_a_range_bound_that_is_not_finite_says_give_a_finite_number():
    """A NaN or infinite bound said "give a number > -inf", which inf and NaN seem to be."""
    from m5kit.cli.tune import parse_param
    from m5kit.tuning import check_space

    with pytest.raises(ParamError, match=r"invalid x high inf: give a finite number$"):
        check_space({"x": Float(0.0, float("inf"))})
    with pytest.raises(ParamError, match=r"invalid --param x bound 'nan': give a finite number$"):
        parse_param("x=nan:1")


def test_an_out_that_cannot_be_created_is_one_line_before_any_trial(tmp_path):
    """`out` under a file was a NotADirectoryError traceback from Optuna's journal."""
    from m5kit.errors import StoreError

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"cannot create the search folder .*notes.txt/search \(Not a directory\): "
                                         "give a writable folder$"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=1, out=tmp_path / "notes.txt" / "search")


@pytest.mark.parametrize("extra, said", [
    (["--param", "num_leaves=5:1"], "error: the search range of 'num_leaves' is empty (5 > 1): give low <= high\n"),
    (["--param", "no_such_param=1:2"], "error: unknown parameter 'no_such_param' in the search space"),
])
def test_tune_command_checks_the_space_before_starting_the_cluster(tmp_path, monkeypatch, extra, said):
    """A bad --param was found only after the Dask cluster had started (seconds later, with its dashboard line)."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    pytest.importorskip("lightgbm")

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster was started")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", no_cluster)
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--items", "2", "--trials", "1",
                                      *extra, "--out", str(tmp_path / "tune")])
    assert result.exit_code == 1 and result.stderr.startswith(said), (result.stderr, result.exception)
    assert not (tmp_path / "tune").exists()


def test_tune_command_searches_a_network_builder_argument_as_train_sets_it(tmp_path, monkeypatch):
    """`m5kit train --param groupedestimator__estimator__model__conv_filters=8` sets the CNN-LSTM builder's argument;
    `m5kit tune` refused the same name as an unknown parameter."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5
    from m5kit.errors import ClusterError

    def at_the_cluster(*args, **kwargs):
        raise ClusterError("the space was taken")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", at_the_cluster)
    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    result = CliRunner().invoke(app, ["tune", "--level", "1", "--data-dir", str(m5), "--trials", "1", "--param",
                                      "groupedestimator__estimator__model__conv_filters=4:8", "--param", "window=7:14",
                                      "--out", str(tmp_path / "tune")])
    assert result.exit_code == 1 and result.stderr == "error: the space was taken\n", (result.stderr, result.exception)
    assert not (tmp_path / "tune").exists()


@pytest.mark.parametrize("extra, said", [
    (["--model", "lightgbm", "--param", "learning_rate=-1:0.3"],
     "error: --param learning_rate=-1:0.3: the lightgbm model refuses learning_rate=-1 (Check failed: "
     "(learning_rate) > (0.0)): give a range it accepts\n"),
    (["--model", "lightgbm", "--param", "num_leaves=a,b"],
     "error: --param num_leaves=a,b: the lightgbm model refuses num_leaves=a (Parameter num_leaves should be of type "
     "int, got \"a\"): give values it accepts\n"),
    (["--param", "window=1.5:3"],
     "error: --param window=1.5:3: the cnn-lstm model refuses window=1.5 (Windower window must be a whole number >= 1, "
     "got 1.5): give a range it accepts\n"),
])
def test_tune_command_refuses_a_range_the_model_refuses_before_the_cluster(tmp_path, monkeypatch, extra, said):
    """A --param range with values the model refuses started the cluster, failed every trial (the search stopped
    after 3 with the libraries' errors) and left a search folder that the corrected command was refused as
    'a different search'; it is one line before anything starts, and nothing is written."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    if "lightgbm" in extra:
        pytest.importorskip("lightgbm")

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster was started")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", no_cluster)
    result = CliRunner().invoke(app, ["tune", "--level", "1", "--items", "2", "--trials", "1", *extra,
                                      "--out", str(tmp_path / "tune")])
    assert result.exit_code == 1 and result.stderr == said, (result.stderr, result.exception)
    assert not (tmp_path / "tune").exists()


def test_a_search_with_fewer_trials_than_max_failures_that_all_fail_quotes_the_errors():
    """Said "see the errors in the trials table", a table that a failed search never writes."""
    with pytest.raises(TuneError, match=r"no trial of the search finished: trial 0: RuntimeError: broken objective"):
        tune(objectives.always_fails, None, SPACE, n_trials=1)


@pytest.mark.parametrize(("n_trials", "said"), [
    (3, "the first 3 trials all failed, so the search stopped: trials 0, 1, 2: RuntimeError: broken objective. Fix"),
    (2, "no trial of the search finished: trials 0, 1: RuntimeError: broken objective. Fix"),
])
def test_a_search_whose_trials_all_fail_with_one_error_says_it_once(n_trials, said):
    """Every trial failing with the same error (a group's failure, some 300 characters) quoted it once per trial: a
    line of three copies. The error is said once, with the trials it stopped."""
    with pytest.raises(TuneError) as caught:
        tune(objectives.always_fails, None, SPACE, n_trials=n_trials)
    assert said in str(caught.value) and str(caught.value).count("broken objective") == 1


def test_a_search_folder_of_another_search_is_refused_and_the_same_command_resumes(tmp_path, dask_client, monkeypatch):
    """`m5kit tune` into the folder of another search (another model, level or space) is one line before the cluster
    starts, the folder untouched; the same command resumes it and prints the command that trains with the best. (The other search's trials used to be mixed in: a
    LightGBM trial came out best of an XGBoost search, with max_depth=nan in best.json.)"""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    pytest.importorskip("lightgbm")
    out = tmp_path / "tune"
    first = ["tune", "--model", "lightgbm", "--level", "1", "--items", "2", "--trials", "1", "--param", "num_leaves=4:8",
             "--scheduler", dask_client.scheduler.address, "--out", str(out)]
    assert CliRunner().invoke(app, first).exit_code == 0
    before = {p: p.read_bytes() for p in out.iterdir()}
    with monkeypatch.context() as patch:
        patch.setattr(m5kit.execution.cluster, "open_client", lambda *a, **k: pytest.fail("the cluster was started"))
        for change in (["--model", "xgboost", "--param", "max_depth=2:3"], ["--level", "2"], ["--param", "num_leaves=4:9"]):
            other = [*first, *change]  # a later option wins
            if "--param" in change:  # a different space, not one more parameter
                other = [a for i, a in enumerate(first) if a != "--param" and first[i - 1] != "--param"] + change
            result = CliRunner().invoke(app, other)
            assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
            assert result.stderr.startswith(f"error: output folder {out} holds a different search ("), result.stderr
    assert {p: p.read_bytes() for p in out.iterdir()} == before
    again = CliRunner().invoke(app, [*first[:first.index("--trials") + 1], "2", *first[first.index("--trials") + 2:]])
    assert again.exit_code == 0, again.stderr
    assert len((out / "trials.csv").read_text().splitlines()) == 3  # the first trial kept, one more run
    assert (out / "best.json").exists() and "m5kit train --model lightgbm --level 1" in again.stdout
    assert "--param num_leaves=" in again.stdout


def test_a_search_on_a_relative_data_folder_resumes_from_its_folder_only(tmp_path, dask_client, monkeypatch):
    """search.json kept --data-dir as typed: the folder's absolute path was refused as a different search from
    `--data-dir m5`, and `--data-dir m5` run from another folder resumed the search on that folder's other data,
    mixing its trials in. The folder is kept absolute."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    for where, seed in (("work", 1), ("elsewhere", 2)):
        write_m5(make_m5(n_items=2, n_stores=1, n_days=120, seed=seed), tmp_path / where / "m5")
    out = tmp_path / "tune"
    args = ["tune", "--model", "lightgbm", "--level", "1", "--param", "num_leaves=4:8",
            "--scheduler", dask_client.scheduler.address, "--out", str(out)]
    monkeypatch.chdir(tmp_path / "work")
    assert CliRunner().invoke(app, [*args, "--data-dir", "m5", "--trials", "1"]).exit_code == 0
    again = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "work" / "m5"), "--trials", "2"])
    assert again.exit_code == 0, again.stderr
    assert len((out / "trials.csv").read_text().splitlines()) == 3
    monkeypatch.chdir(tmp_path / "elsewhere")
    other = CliRunner().invoke(app, [*args, "--data-dir", "m5", "--trials", "3"])
    assert other.exit_code == 1 and other.stderr == (
        f"error: output folder {out} holds a different search (data={tmp_path / 'work' / 'm5'}): choose another "
        "--out (the same command as before resumes that one)\n"), other.stderr


def _one_lightgbm_trial(tmp_path, dask_client):
    """A LightGBM search of one trial on written data: (the data folder, --out, the command without its trial count)."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    out = tmp_path / "tune"
    args = ["tune", "--model", "lightgbm", "--level", "1", "--param", "num_leaves=4:8", "--data-dir", str(m5),
            "--scheduler", dask_client.scheduler.address, "--out", str(out), "--trials"]
    assert CliRunner().invoke(app, [*args, "1"]).exit_code == 0
    return m5, out, args


def test_the_printed_train_command_quotes_a_data_folder_with_a_space(tmp_path, dask_client):
    """A --data-dir with a space in it was printed as two words: the train command copied from it failed."""
    import shlex

    m5, out, args = _one_lightgbm_trial(tmp_path / "my data", dask_client)
    from typer.testing import CliRunner

    from m5kit.cli import app

    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [*args, "1"])
    assert result.exit_code == 0, result.stderr
    printed = shlex.split(result.stdout.strip().splitlines()[-1])
    assert printed[:3] == ["m5kit", "train", "--model"] and printed[printed.index("--data-dir") + 1] == str(m5)
    assert printed[-2] == "--param" and printed[-1].startswith("num_leaves="), printed


def test_a_full_disk_as_the_search_starts_is_one_line(tmp_path, monkeypatch):
    """A full disk as `m5kit tune` wrote search.json, its first file, was an OSError traceback; now one line naming
    the file, before any cluster starts."""

    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    out = tmp_path / "tune"
    full_disk_for(monkeypatch, "search.json")
    monkeypatch.setattr("m5kit.execution.cluster.open_client", lambda *a, **k: pytest.fail("a cluster started"))
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--param", "num_leaves=4:8",
                                      "--data-dir", str(m5), "--out", str(out), "--trials", "1"])
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write {out / 'search.json'} (No space left on device): free disk space or choose another "
        "--out\n"), (result.exit_code, result.stderr)
    assert not (out / "search.json").exists()


def test_a_search_whose_data_changed_since_is_refused(tmp_path, dask_client):
    """The same `m5kit tune` command after the data files changed (a week appended) resumed the search, its earlier
    trials scored on another backtest window mixed into the best; it is one line naming the files, the folder left
    as it was."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    m5, out, args = _one_lightgbm_trial(tmp_path, dask_client)
    before = {p: p.read_bytes() for p in out.iterdir()}
    write_m5(make_m5(n_items=2, n_stores=1, n_days=127, seed=1), m5, overwrite=True)
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 1 and result.stderr == (
        f"error: the data in {m5} changed since the search in {out} started (calendar.csv, sell_prices.csv, "
        "sales_train_validation.csv, sales_train_evaluation.csv: size or content differ), so its trials "
        "scored other data: choose another --out to search the data as it is now\n"), result.stderr
    assert {p: p.read_bytes() for p in out.iterdir()} == before


def test_a_search_whose_data_files_were_only_touched_resumes(tmp_path, dask_client):
    """The same `m5kit tune` command after the data files were touched (new modification times, the same bytes:
    copied, checked out again) was refused as "the data changed"; it resumes the search."""
    import os

    from typer.testing import CliRunner

    from m5kit.cli import app

    m5, out, args = _one_lightgbm_trial(tmp_path, dask_client)
    for path in m5.iterdir():
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 0, result.stderr
    assert len((out / "trials.csv").read_text().splitlines()) == 3  # the first trial kept, one more run


def test_a_full_disk_after_the_search_is_one_line_and_the_same_command_writes_the_results(tmp_path, dask_client,
                                                                                        monkeypatch):
    """A full disk as a resumed search wrote its results was an OSError traceback after the trials, and left the new
    trials.csv beside the best.json of the search before (another best). Now one line, no best.json of an older
    search, and the same command again writes the results without running a trial."""

    from typer.testing import CliRunner

    from m5kit.cli import app

    pytest.importorskip("matplotlib")
    m5, out, args = _one_lightgbm_trial(tmp_path, dask_client)
    with monkeypatch.context() as patch:
        full_disk_for(patch, "objective.png")
        result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 1 and result.stderr.splitlines()[-1] == (  # after the progress bar
        f"error: cannot write the search's results to {out} (No space left on device): free disk space or make the "
        "folder writable, then run the same command again (its finished trials are kept and not run again)"), \
        (result.exit_code, result.stderr)
    assert not (out / "best.json").exists()
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 0, result.stderr
    assert len((out / "trials.csv").read_text().splitlines()) == 3 and (out / "best.json").exists()


def test_the_temporary_files_of_a_search_killed_as_it_wrote_its_results_are_removed(tmp_path, dask_client):
    """A search killed as it wrote trials.csv, the plots and best.json (all written before any is renamed) left their
    hidden temporary files in the search folder for good: the same command removes them."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    m5, out, args = _one_lightgbm_trial(tmp_path, dask_client)
    for name in (".trials.csv.k1ll3d.tmp", ".best.json.k1ll3d.tmp"):
        (out / name).write_text("half")
    result = CliRunner().invoke(app, [*args, "2"])
    assert result.exit_code == 0, result.stderr
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", ["run.json", "notes.txt"])
def test_tune_into_a_folder_of_other_files_is_refused_before_the_cluster(tmp_path, monkeypatch, name):
    """`m5kit tune --out` a run folder (or any folder of other files) wrote study.journal, trials.csv, plots and
    best.json among its files; it is one line before the cluster starts, the folder left as it was."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    pytest.importorskip("lightgbm")
    monkeypatch.setattr(m5kit.execution.cluster, "open_client", lambda *a, **k: pytest.fail("the cluster was started"))
    out = tmp_path / "folder"
    out.mkdir()
    (out / name).write_text("{}")
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--items", "2", "--trials", "1",
                                      "--param", "num_leaves=4:8", "--out", str(out)])
    assert result.exit_code == 1 and result.stderr == (f"error: output folder {out} is not empty and holds no m5kit "
                                                       "search: choose a new or empty folder for the search\n"), \
        (result.stderr, result.exception)
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_tune_on_a_history_too_short_for_the_backtest_is_one_line_before_the_cluster(tmp_path, monkeypatch):
    """56 days of sales (no backtest of 28 days can fit on the 28 before them) started the cluster, failed three
    trials with the same error and left a search folder; it is one line before anything starts."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5

    pytest.importorskip("lightgbm")
    monkeypatch.setattr(m5kit.execution.cluster, "open_client", lambda *a, **k: pytest.fail("the cluster was started"))
    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=56, seed=1), tmp_path / "m5")
    out = tmp_path / "tune"
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--data-dir", str(m5),
                                      "--trials", "3", "--param", "num_leaves=4:8", "--out", str(out)])
    assert result.exit_code == 1 and result.stderr == (
        "error: 56 days of history are too few for a backtest of 28 days (it fits on the days before the last 28, "
        "needing more than 28 of them): give a longer history\n"), (result.stderr, result.exception)
    assert not out.exists()


def test_tune_with_an_unreachable_scheduler_leaves_no_search_folder(tmp_path):
    """`m5kit tune --scheduler` out of reach is one line and leaves nothing (it left --out with a search.json)."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    pytest.importorskip("lightgbm")
    out = tmp_path / "runs" / "tune"
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--items", "2", "--trials", "1",
                                      "--param", "num_leaves=4:8", "--scheduler", "tcp://127.0.0.1:1", "--timeout", "1",
                                      "--out", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith(
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s"), (result.stderr, result.exception)
    assert list(tmp_path.iterdir()) == []


def _late_item_data(tmp_path):
    """3 items in 2 stores, 150 days, the second item launched on d_144 (6 days before the end): its folder, item."""
    import pandas as pd

    from m5kit.datasets import make_m5, write_m5

    m5 = write_m5(make_m5(n_items=3, n_stores=2, n_days=150), tmp_path / "m5")
    calendar, prices = pd.read_csv(m5 / "calendar.csv"), pd.read_csv(m5 / "sell_prices.csv")
    late = sorted(prices["item_id"].unique())[1]
    launch_week = int(calendar.loc[calendar["d"] == "d_144", "wm_yr_wk"].iloc[0])
    launch_day = int(calendar.loc[calendar["wm_yr_wk"] == launch_week, "d"].iloc[0][2:])
    prices[(prices["item_id"] != late) | (prices["wm_yr_wk"] >= launch_week)].to_csv(m5 / "sell_prices.csv", index=False)
    for name in ("sales_train_validation.csv", "sales_train_evaluation.csv"):
        sales = pd.read_csv(m5 / name)
        sales.loc[sales["item_id"] == late, [f"d_{d}" for d in range(1, launch_day)]] = 0
        sales.to_csv(m5 / name, index=False)
    return m5, late


def test_tune_leaves_out_a_group_too_short_for_the_backtest(tmp_path, monkeypatch):
    """An item launched 6 days before the end has no history before the backtest's 28 days: its group was skipped
    in every trial, whose WRMSSE then failed on the cluster ("forecast has no rows for id ..."), trial after trial
    (the built-in data at levels 10-12 has such items: the README's level-11 search failed every trial). Its series
    are now left out of every trial's fit and score, with one warning line before the cluster starts, and the
    backtest scores the others."""
    import math

    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app
    from m5kit.runs import load_data
    from m5kit.tuning import Int
    from m5kit.tuning_objectives import ForecastData, forecast_backtest

    pytest.importorskip("lightgbm")
    m5, late = _late_item_data(tmp_path)
    data = ForecastData(load_data(m5, None, 0), 10, "lightgbm", fixed={"random_state": 0})
    assert list(data.check_groups({"num_leaves": Int(4, 8)})) == [late]
    assert data.leave_out == (f"{late}_CA_1_validation", f"{late}_CA_2_validation")
    assert math.isfinite(forecast_backtest(data, {"num_leaves": 4}))  # it raised: forecast has no rows for id ...

    class Started(Exception):
        pass

    def started(*args, **kwargs):
        raise Started
    monkeypatch.setattr(m5kit.execution.cluster, "open_client", started)
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--data-dir", str(m5), "--trials", "2", "--param",
                                      "num_leaves=4:8", "--level", "10", "--out", str(tmp_path / "tune")])
    assert isinstance(result.exception, Started), (result.stderr, result.exception)
    assert result.stderr == (f"warning: 1 group(s) of level 10 ({late}) cannot train on the backtest's history (the "
                             "last 28 days held out); their 2 series are left out of every trial's fit and score\n")


def test_tune_where_no_group_can_train_on_the_backtest_is_one_line_before_the_cluster(tmp_path, monkeypatch):
    """A level whose every group is too short for the backtest (the one group of level 1, here, whose window is
    longer than the history) is one line before the cluster starts."""
    from typer.testing import CliRunner

    import m5kit.execution.cluster
    from m5kit.cli import app

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", lambda *a, **k: pytest.fail("the cluster was started"))
    m5, _ = _late_item_data(tmp_path)
    out = tmp_path / "tune"
    result = CliRunner().invoke(app, ["tune", "--data-dir", str(m5), "--trials", "2", "--param", "window=100:110",
                                      "--level", "1", "--out", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith(
        "error: none of the 1 group(s) of level 1 can train on the backtest's history (the last 28 days held out)"), \
        (result.stderr, result.exception)
    assert result.stderr.endswith(": tune at another --level, or on sales with longer histories\n")
    assert result.stderr.count("\n") == 1 and not out.exists()


def test_a_failed_search_lets_go_of_its_data_on_the_cluster(dask_client):
    """A search stopped by its failing trials kept its data on the workers while its error was held (a local
    cluster then ended with the scheduler's "ERROR ... Removing worker ... caused the cluster to lose scattered
    data" under the error line); the data is released when the search stops."""
    import time

    def held() -> set:
        return {key for keys in dask_client.has_what().values() for key in keys}

    before = held()
    with pytest.raises(TuneError) as caught:
        tune(objectives.always_fails, {"target": 0.0}, SPACE, n_trials=3, client=dask_client)
    deadline = time.monotonic() + 10
    while held() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not held() - before and caught.value is not None


def test_a_search_folder_whose_trials_all_failed_is_taken_by_the_corrected_command(tmp_path, dask_client):
    """A search whose every trial failed left search.json and its study: the corrected command (another range) was
    refused as 'a different search' although there was nothing to keep; it starts in its place, saying so."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.cli.tune import _claim_search

    pytest.importorskip("lightgbm")
    out = tmp_path / "tune"
    out.mkdir()
    _claim_search(out, {"command": "tune", "model": "lightgbm", "level": 1, "items": 2, "data": "built-in", "seed": 0,
                        "space": {"num_leaves": "IntDistribution()"}})  # as a search of another range records it
    with pytest.raises(TuneError):
        tune(objectives.always_fails, {"target": 0.0}, SPACE, n_trials=3, out=out)
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--items", "2", "--trials", "1",
                                      "--param", "num_leaves=4:8", "--scheduler", dask_client.scheduler.address,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"the search in {out} finished no trial: this search starts in its place" in result.stdout
    assert len((out / "trials.csv").read_text().splitlines()) == 2 and (out / "best.json").exists()


def test_a_parameter_given_twice_a_space_that_is_not_a_dict_and_a_bad_seed_are_one_line():
    """`--param a=1:2 --param a=3:4` kept the last range silently; a list as the space raised AttributeError and
    seed=-1 the sampler's ValueError."""
    from m5kit.cli.tune import parse_space

    with pytest.raises(ParamError, match=r"^--param num_leaves is given twice: give each parameter's range once$"):
        parse_space(["num_leaves=4:8", "lr=0.1,0.2", "num_leaves=9:12"], {})
    assert parse_space([], SPACE) == SPACE
    with pytest.raises(ParamError, match=r"^the search space is a list: give a dict of parameter name"):
        tune(objectives.quadratic, {"target": 0.0}, [("x", Float(-1.0, 1.0))], n_trials=1)
    with pytest.raises(ParamError, match=r"seed"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=1, seed=-1)


def test_a_choice_of_a_value_given_twice_or_of_nan_is_refused():
    """Choice(1, 1) weighed 1 twice in the search; Choice(nan) could never be found again in the trials."""
    from m5kit.tuning import check_space

    with pytest.raises(ParamError, match=r"^the search space of 'a' gives 1 twice: give each Choice value once$"):
        check_space({"a": Choice(1, 2, 1)})
    with pytest.raises(ParamError, match=r"^the search space of 'a' holds NaN"):
        check_space({"a": Choice(0.1, float("nan"))})
    assert list(check_space({"a": Choice((8, 4), (4, 8)), "b": Choice(1, "1")})) == ["a", "b"]


@pytest.mark.parametrize("text", ["{\"model\": \"lightg", "[1, 2]", "null"])
def test_an_unreadable_search_record_is_one_line_that_says_so(tmp_path, text):
    """A search.json cut short or not a record said "holds a different search (level=None, model=None, seed=None)"
    (or raised AttributeError on a list): values the folder never held."""
    from m5kit.cli.tune import SEARCH_FILE, _claim_search

    (tmp_path / SEARCH_FILE).write_text(text)
    with pytest.raises(ParamError, match=rf"^output folder {re.escape(str(tmp_path))} holds an unreadable search.json "
                                         r"\(not the record m5kit writes\): choose another --out$"):
        _claim_search(tmp_path, {"model": "lightgbm", "level": 1, "seed": 0, "space": {}})
    assert (tmp_path / SEARCH_FILE).read_text() == text


@pytest.mark.parametrize("value", [0.0012345678, 0.00012345, 3.0e-7, 123456.789])
def test_the_printed_train_command_gives_the_best_floats_in_full(value):
    """`m5kit tune` and `m5kit classify tune` printed the best floats to 4 digits (0.001235 for 0.0012345678), so
    the printed train command trained with other values than best.json holds; they are printed as best.json has them."""
    import json

    from m5kit.cli.classify_tune import _option
    from m5kit.cli.tune import _cli_value

    saved = json.dumps(value)
    assert _cli_value(value) == saved and float(_cli_value(value)) == value
    assert _option("lr", value) == ["--lr", saved]


@pytest.mark.parametrize("recorded, given", [(None, ["--items", "2"]), (2, []), (2, ["--items", "2"])])
def test_a_built_in_search_with_the_default_items_resumes_with_items_of_that_number(tmp_path, monkeypatch, recorded,
                                                                                      given):
    """On the built-in data, `m5kit tune` (its default items) and `m5kit tune --items <the default>` are one search:
    either resumes the other, also from a search.json written before the default was recorded (it held null); they
    were refused as 'holds a different search (items=None)'. The default is made 2 to keep the data small."""
    import json

    from typer.testing import CliRunner

    import m5kit.runs
    from m5kit.cli import app
    from m5kit.cli.tune import SEARCH_FILE
    from m5kit.tuning import STUDY_FILE

    pytest.importorskip("lightgbm")
    monkeypatch.setattr(m5kit.runs, "DEFAULT_ITEMS", 2)
    out = tmp_path / "tune"
    out.mkdir()
    (out / SEARCH_FILE).write_text(json.dumps({"command": "tune", "model": "lightgbm", "level": 1, "items": recorded,
                                               "data": "built-in", "seed": 0,
                                               "space": {"num_leaves": "Int(low=4, high=8, log=False)"}}))
    (out / STUDY_FILE).write_text("?")  # a study not known to be empty: another search would be refused
    before = (out / SEARCH_FILE).read_text()
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", *given, "--trials", "1",
                                      "--param", "num_leaves=4:8", "--scheduler", "tcp://127.0.0.1:1", "--timeout", "1",
                                      "--out", str(out)])
    # past the search check: what stops it is the scheduler (the search.json kept as it was)
    assert result.exit_code == 1 and result.stderr.startswith(
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s"), (result.stderr, result.exception)
    assert (out / SEARCH_FILE).read_text() == before


def test_tune_with_an_unreachable_scheduler_leaves_no_study(tmp_path, monkeypatch):
    """`tune(out=..., scheduler=<out of reach>)` left a study journal recording the space: the next call with another
    space was refused as 'searched another space' though no trial ran. Nothing is left behind, as by `m5kit tune`."""
    import m5kit.execution.cluster
    from m5kit.errors import ClusterError

    opened = m5kit.execution.cluster.open_client
    monkeypatch.setattr(m5kit.execution.cluster, "open_client",  # 1 s, not the default 30 s, to give up
                        lambda *args, **kwargs: opened(*args, **{**kwargs, "timeout": 1}))
    out = tmp_path / "runs" / "search"
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=2, out=out, scheduler="tcp://127.0.0.1:1")
    assert list(tmp_path.iterdir()) == []
    other = tune(objectives.quadratic, {"target": 0.0}, {"x": Float(-1.0, 1.0)}, n_trials=2, out=out)
    assert len(other.trials) == 2


def test_tune_progress_given_as_text_is_one_param_error(tmp_path):
    """tune(progress='False') was read as true (bool('False')) and showed the bar: one ParamError line before any
    trial, as GroupedEstimator's progress."""
    with pytest.raises(ParamError, match=r"^invalid progress 'False': give False or True$"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=2, out=tmp_path / "search", progress="False")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [0, 1.5])
def test_tune_with_a_bad_worker_count_leaves_no_study(tmp_path, bad):
    """`tune(out=..., n_workers=0)` was refused only when the cluster was asked for, after the study journal had
    recorded the space: the next call with another space was refused as 'searched another space'."""
    out = tmp_path / "search"
    with pytest.raises(ParamError, match=f"^invalid number of workers {bad}: give a whole number of at least 1$"):
        tune(objectives.quadratic, {"target": 0.0}, SPACE, n_trials=2, out=out, n_workers=bad)
    assert list(tmp_path.iterdir()) == []
    other = tune(objectives.quadratic, {"target": 0.0}, {"x": Float(-1.0, 1.0)}, n_trials=2, out=out)
    assert len(other.trials) == 2


def test_pruning_imports_without_typing_self():
    """m5kit.tuning_pruning imports where typing has no Self (Python 3.11's; setup.cfg admits 3.10, where tune failed)."""
    import subprocess

    code = "import typing; del typing.Self; import m5kit.tuning_pruning"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_second_tune_into_a_folder_being_searched_stops_at_once_and_writes_nothing(tmp_path, monkeypatch):
    """Two `m5kit tune --out T` at once wrote into one study: one stopped with Optuna's traceback, the other marked its
    running trials failed ('interrupted') and ran them again. Now the second stops with one line naming the first."""
    import m5kit.execution.cluster
    from _locks import assert_refused_while_held

    pytest.importorskip("lightgbm")

    def no_cluster(*args, **kwargs):
        raise AssertionError("the cluster was started")

    monkeypatch.setattr(m5kit.execution.cluster, "open_client", no_cluster)
    out = tmp_path / "tune"
    assert_refused_while_held(out, "m5kit tune", ["tune", "--model", "lightgbm", "--level", "1", "--items", "2",
                                                  "--trials", "1", "--out", str(out)])


def test_a_second_tune_stops_before_it_reads_the_data(tmp_path, monkeypatch):
    """A second tune into a folder being searched read and checked the whole data first (12 s and 600 MB at M5's
    size, beside the running search) before it said the folder is in use: it stops before reading anything."""
    import m5kit.runs
    from _locks import assert_refused_while_held

    pytest.importorskip("lightgbm")

    def loaded(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(m5kit.runs, "load_data", loaded)
    out = tmp_path / "tune"
    assert_refused_while_held(out, "m5kit tune", ["tune", "--model", "lightgbm", "--level", "1", "--items", "2",
                                                  "--trials", "1", "--out", str(out)])


def _ignores_event_type_warnings() -> bool:
    import warnings

    from m5kit.transformers.calendar import EventTypeWarning

    return any(f[0] == "ignore" and f[2] is EventTypeWarning for f in warnings.filters)


@pytest.mark.slow
def test_tune_says_an_unknown_event_type_in_one_line(tmp_path, dask_client, monkeypatch):
    """A calendar with an event type M5 does not have ('Festival'): `m5kit tune` printed Python's two-line warning
    pointing into scikit-learn, and each worker printed it again. Now one line, and the workers keep quiet."""
    import pandas as pd
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets import make_m5, write_m5
    from m5kit.transformers import calendar as calendar_module

    pytest.importorskip("lightgbm")
    monkeypatch.setattr(calendar_module, "_WARNED_TYPES", set())
    m5 = write_m5(make_m5(n_items=2, n_stores=1, n_days=120, seed=1), tmp_path / "m5")
    calendar = pd.read_csv(m5 / "calendar.csv")
    calendar.loc[calendar["event_type_1"].eq("Cultural").idxmax(), "event_type_1"] = "Festival"
    calendar.to_csv(m5 / "calendar.csv", index=False)
    result = CliRunner().invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--data-dir", str(m5),
                                      "--trials", "1", "--scheduler", dask_client.scheduler.address,
                                      "--out", str(tmp_path / "tune")])
    assert result.exit_code == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "Festival" in line] == [
        "warning: calendar: event type 'Festival' is none of M5's Cultural, National, Religious, Sporting: its days "
        "count in the 'event' feature only, in no event_<type> one; to give them one, rename it to one of these "
        "types"], result.stderr
    assert set(dask_client.run(_ignores_event_type_warnings).values()) == {True}


def test_tune_prints_its_table_whole_when_piped(tmp_path, monkeypatch):
    """Piped or redirected (no terminal: rich's 80 columns), `m5kit tune`'s table of the best trials was cut to fit:
    'num_le…', 'learni…', 'COMPLE…'. Every header and value is printed whole (the search itself is stood in for)."""
    import pandas as pd
    from typer.testing import CliRunner

    import m5kit.cli.tune
    from m5kit.cli import app
    from m5kit.tuning import TuneResult

    best = {"num_leaves": 49, "learning_rate": 0.08996, "min_child_samples": 24, "n_estimators": 779}
    trials = pd.DataFrame({"number": [1], **{k: [v] for k, v in best.items()}, "value": [0.7818], "seconds": [5.719],
                           "state": ["COMPLETE"], "error": [""]})
    monkeypatch.setattr(m5kit.cli.tune, "run_search", lambda *args, **kwargs: TuneResult(best, 0.7818, trials, "minimize"))
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["tune", "--model", "lightgbm", "--level", "1", "--items",
                                                           "3", "--trials", "1", "--out", str(tmp_path / "tune")])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "number" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["number", *best, "value", "seconds", "state"], header
    row = next(line for line in result.stdout.splitlines() if "COMPLETE" in line)
    assert [cell.strip() for cell in row.split("│")[1:-1]] == ["1", "49", "0.08996", "24", "779", "0.7818", "5.719",
                                                               "COMPLETE"], row
