"""Experiment records (m5kit.tracking) in MLflow's format."""

from __future__ import annotations

import pytest

from m5kit.errors import ParamError


def test_a_run_is_recorded_and_listed(tmp_path):
    """Parameters, metrics, versions, machine and the run folder's files land in the store and in list_runs."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    run = tmp_path / "runs" / "run"
    (run / "models" / "groups").mkdir(parents=True)
    (run / "scores.csv").write_text("level,m5kit\nall,0.7\n")
    (run / "models" / "manifest.json").write_text("{}")
    (run / "models" / "groups" / "big.keras").write_bytes(b"x" * 10)
    (run / ".report.k1ll3d.tmp").mkdir()  # what a killed `m5kit report` left: its files were recorded too
    (run / ".report.k1ll3d.tmp" / "report.html").write_text("<html>half</html>")
    uri = default_uri(run)
    run_id = record_run("train", params={"model": "cnn-lstm", "level": 11, "epochs": 5, "data": "built-in"},
                        metrics={"wrmsse": 0.7, "wall_seconds": 12.5, "nan_metric": float("nan")}, artifacts=run, uri=uri)
    listed = list_runs(uri)
    assert listed.iloc[0][["run", "kind", "model", "level", "WRMSSE"]].tolist() == ["run", "train", "cnn-lstm", "11", 0.7]
    import mlflow
    from mlflow.tracking import MlflowClient

    record = MlflowClient(uri).get_run(run_id)
    assert record.data.tags["machine.cores"] and "version.scikit-learn" in record.data.tags
    files = {f.path for f in mlflow.artifacts.list_artifacts(run_id=run_id, tracking_uri=uri)}
    assert "scores.csv" in files and "models" in files and not any(".tmp" in f for f in files)
    nested = {f.path for f in mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="models", tracking_uri=uri)}
    assert nested == {"models/manifest.json"}  # the groups' model files stay in the run folder
    assert (tmp_path / "runs" / "mlruns" / "mlflow.db").exists()


def test_runs_list_the_strategy_and_no_epochs_for_gradient_boosting(tmp_path):
    """Two LightGBM runs of one level, direct and blend, are told apart by their strategy, and show no epoch count
    (`m5kit runs` showed 'epochs 10', the unused CNN-LSTM default, and no strategy)."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    for name, strategy in (("direct", "direct"), ("blend", "blend")):
        record_run("train", params={"model": "lightgbm", "level": 9, "strategy": strategy, "epochs": 10, "data": "d"},
                   metrics={"wrmsse": 0.5}, uri=uri, name=name)
    record_run("train", params={"model": "cnn-lstm", "level": 3, "strategy": "direct", "epochs": 5, "data": "d"},
               metrics={"wrmsse": 0.6}, uri=uri, name="cnn")
    listed = list_runs(uri).set_index("run")
    assert listed.loc[["direct", "blend"], "strategy"].tolist() == ["direct", "blend"]
    assert listed.loc[["direct", "blend"], "epochs"].isna().all() and listed.loc["cnn", "epochs"] == "5"


def test_runs_list_the_seeds_and_the_pretrain_level_as_train_says_them(tmp_path):
    """Runs that differ only in --seeds or --pretrain-level are told apart in `m5kit runs`' strategy column, as
    train's summary says them (both showed 'direct')."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    for name, seeds, pretrain in (("one", 1, None), ("two", 2, None), ("pre", 1, 3)):
        record_run("train", params={"model": "cnn-lstm", "level": 9, "strategy": "direct", "seeds": seeds,
                                    "pretrain_level": pretrain, "epochs": 1, "data": "d"}, uri=uri, name=name)
    record_run("train", params={"model": "cnn-lstm", "level": 9, "strategy": "direct", "epochs": 1, "data": "d"},
               uri=uri, name="older")  # recorded before seeds were
    listed = list_runs(uri).set_index("run")
    assert listed.loc[["one", "two", "pre", "older"], "strategy"].tolist() == [
        "direct", "direct, 2 seeds", "direct, pretrained at level 3", "direct"]


def test_runs_list_the_start_in_local_time(tmp_path, monkeypatch):
    """`m5kit runs`' started column is the machine's local time, as `mlflow ui` shows it (it was UTC, unlabelled:
    an hour early in Berlin)."""
    pytest.importorskip("mlflow")
    import time

    from mlflow.tracking import MlflowClient

    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    run_id = record_run("train", params={"model": "cnn-lstm"}, uri=uri, name="r")
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no daylight saving
    time.tzset()
    try:
        start = MlflowClient(uri).get_run(run_id).info.start_time / 1000
        assert list_runs(uri)["started"].tolist() == [time.strftime("%Y-%m-%d %H:%M", time.localtime(start))]
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("cut", ["full disk", "ctrl-c, then a kill"])
def test_a_record_cut_off_midway_is_not_listed_and_the_same_command_records_it_whole(tmp_path, monkeypatch, cut):
    """A recording cut off while it copied the run's files left a half record that `m5kit runs` listed beside the
    whole one the same command records again: a full disk (a bare OSError traceback; now one ParamError line), Ctrl-C
    (FAILED forever) or a kill (RUNNING forever). Only finished records are listed."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from m5kit.tracking import EXPERIMENT, default_uri, list_runs, record_run

    run = tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    (run / "scores.csv").write_text("level,m5kit\nall,0.7\n")
    uri = default_uri(run)
    stop = OSError(28, "No space left on device") if cut == "full disk" else KeyboardInterrupt()

    def copy(*args, **kwargs):
        raise stop

    with monkeypatch.context() as patch:
        patch.setattr(MlflowClient, "log_artifact", copy)
        with pytest.raises(ParamError if cut == "full disk" else KeyboardInterrupt,
                           match="No space left on device" if cut == "full disk" else None) as info:
            record_run("train", params={"model": "cnn-lstm"}, metrics={"wrmsse": 0.7}, artifacts=run, uri=uri)
    if cut == "full disk":
        assert "\n" not in str(info.value) and str(uri) in str(info.value)
    else:
        client = MlflowClient(tracking_uri=uri)  # what a killed recording leaves: a run never ended
        killed = client.create_run(client.get_experiment_by_name(EXPERIMENT).experiment_id, run_name="run")
        client.log_param(killed.info.run_id, "model", "cnn-lstm")
        client.log_metric(killed.info.run_id, "wrmsse", 0.7)
    assert list_runs(uri).empty
    record_run("train", params={"model": "cnn-lstm"}, metrics={"wrmsse": 0.7}, artifacts=run, uri=uri)
    assert len(list_runs(uri)) == 1


def test_without_mlflow_the_error_says_what_to_install(monkeypatch):
    """With MLflow missing, recording is one line naming the extra to install."""
    import sys

    from m5kit.tracking import record_run

    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ParamError, match=r'pip install "m5kit\[tracking\]"'):
        record_run("train", params={}, uri="sqlite:///nowhere.db")


@pytest.mark.parametrize("value", ["0", "x"])
def test_runs_command_bad_last_is_one_line_exit_1(value, tmp_path):
    """`m5kit runs --last` that is not a whole number >= 1: one error line and exit 1, like every other count."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    result = CliRunner().invoke(app, ["runs", "--last", value, "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr == f"error: invalid --last '{value}': give a whole number of at least 1\n", result.stderr


@pytest.mark.parametrize(("store", "said"), [
    ("folder", "The filesystem tracking backend"),  # a plain path: MLflow 3.13+ no longer writes folder stores
    ("sqlite:///{tmp}/notes.txt", "file is not a database"),
])
def test_a_store_mlflow_cannot_use_is_one_line(store, said, tmp_path):
    """list_runs and `m5kit runs` on a store MLflow refuses: one ParamError line naming it and the fix (was a traceback)."""
    pytest.importorskip("mlflow")
    import mlflow.environment_variables as mlflow_env

    allow = getattr(mlflow_env, "MLFLOW_ALLOW_FILE_STORE", None)  # MLflow 3.13+ refuses folder stores unless it is set
    if store == "folder" and (allow is None or allow.get()):
        pytest.skip("this MLflow writes folder stores (before 3.13, or MLFLOW_ALLOW_FILE_STORE set)")
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.tracking import list_runs

    (tmp_path / "notes.txt").write_text("mine")
    uri = store.replace("{tmp}", str(tmp_path)) if "{tmp}" in store else str(tmp_path / store)
    with pytest.raises(ParamError, match=f"cannot use the tracking store '{uri}'.*{said}") as info:
        list_runs(uri)
    assert "\n" not in str(info.value) and "give --tracking-uri sqlite:///PATH/mlflow.db" in str(info.value)
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", uri])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot use the tracking store '{uri}'")


def test_listing_a_store_that_does_not_exist_creates_nothing(tmp_path):
    """`m5kit runs` on an SQLite store not there yet (a typo, or nothing recorded) says so and leaves no database behind."""
    pytest.importorskip("mlflow")
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.tracking import list_runs

    uri = f"sqlite:///{tmp_path / 'typo' / 'mlflow.db'}"
    assert list_runs(uri).empty
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", uri])
    assert result.exit_code == 0 and "no run recorded" in result.stdout
    assert list(tmp_path.iterdir()) == []


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(60)
def test_an_mlflow_server_nothing_answers_at_fails_in_seconds(tmp_path):
    """`m5kit runs` and check_store on an http:// store with nothing listening: one line naming the server and the fix,
    in seconds (MLflow's own HTTP retries took 4 minutes before saying anything)."""
    pytest.importorskip("mlflow")
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.tracking import check_store

    uri = f"http://127.0.0.1:{_free_port()}"  # the test's timeout (60 s) stands for MLflow's 4 minutes of retries
    with pytest.raises(ParamError, match=rf"cannot reach the MLflow server at {uri} \(.*\): start it, or pass another "
                                         r"--tracking-uri or --no-track$"):
        check_store(uri)
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", uri])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"error: cannot reach the MLflow server at {uri} (") and result.stderr.count("\n") == 1
    assert result.stderr.endswith("): start it or pass another --tracking-uri\n"), result.stderr


@pytest.mark.timeout(60)
def test_an_mlflow_server_that_accepts_but_never_answers_times_out(monkeypatch):
    """A server that takes the connection and says nothing: one line after PROBE_SECONDS, not MLflow's minutes."""
    pytest.importorskip("mlflow")
    import socket

    from m5kit import tracking

    monkeypatch.setattr(tracking, "PROBE_SECONDS", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections are queued, never read
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(ParamError, match=rf"cannot reach the MLflow server at {uri} \(no answer within 0.5 s\)"):
            tracking.list_runs(uri)


def test_train_from_a_folder_with_a_question_mark_records_and_exits_0(tmp_path, monkeypatch, dask_client):
    """m5kit train --out <plain path> run from a working folder 'a?b' fitted and recorded the run, then failed with
    exit 1 and 'no tracking store beside a?b/m5-runs' (the check of which `m5kit runs` hint to print): exit 0, and
    the hint names the store."""
    pytest.importorskip("mlflow")
    pytest.importorskip("lightgbm")
    from typer.testing import CliRunner

    from m5kit.cli import app

    (tmp_path / "a?b").mkdir()
    monkeypatch.chdir(tmp_path / "a?b")
    out = tmp_path / "runs" / "run"
    result = CliRunner().invoke(app, ["train", "--level", "1", "--items", "2", "--model", "lightgbm", "--track",
                                      "--no-report", "--scheduler", dask_client.scheduler.address, "--out", str(out)],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.stderr
    assert "`m5kit runs --tracking-uri sqlite:///" in result.stdout


def test_a_run_trained_with_param_epochs_is_recorded_and_shown_with_those_epochs(tmp_path):
    """`m5kit train --param epochs=2` (what `m5kit tune` prints) trains 2 epochs per group; the run's table, its
    MLflow record and `m5kit runs` said epochs 10 (the --epochs default), and window 28 for --param window=14."""
    pytest.importorskip("mlflow")
    import pandas as pd

    from m5kit.datasets import make_m5
    from m5kit.runs import Run, RunConfig, TrainResult
    from m5kit.tracking import default_uri, list_runs, record_train

    out = tmp_path / "runs" / "run"
    out.mkdir(parents=True)
    config = RunConfig(level=1, strategy="direct", params={"epochs": 2, "groupedestimator__windower__window": 14})
    run = Run(out, config, make_m5(n_items=1, n_stores=1, n_days=60, seed=0))
    assert run.summary()["epochs"] == 2
    report = pd.DataFrame({"group": ["Total"], "seconds": [1.0], "resumed": [False], "epochs": [2]})
    uri = default_uri(out)
    record_train(run, TrainResult(out, 1, 1, 0, 1.0, report), uri)
    assert list_runs(uri).iloc[0]["epochs"] == "2"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    assert client.search_runs([client.get_experiment_by_name("m5kit").experiment_id])[0].data.params["window"] == "14"


def test_runs_tell_built_in_data_of_other_items_or_seeds_apart(tmp_path):
    """Runs on the built-in data of other --items or --seed (other data: their scores do not compare) all showed
    'built-in' in `m5kit runs`' data column; each now shows its items and seed."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    for name, items, seed, data in (("default", None, 0, "built-in"), ("small", 20, 0, "built-in"),
                                    ("seed1", None, 1, "built-in"), ("files", 5, 0, "/data/m5")):
        record_run("train", params={"model": "lightgbm", "level": 3, "items": items, "seed": seed, "data": data},
                   metrics={"wrmsse": 0.5}, uri=uri, name=name)
    listed = list_runs(uri).set_index("run")["data"]
    assert listed[["default", "small", "seed1", "files"]].tolist() == [
        "built-in (139 items, seed 0)", "built-in (20 items, seed 0)", "built-in (139 items, seed 1)", "/data/m5"]


def test_a_long_parameter_is_recorded_whole(tmp_path):
    """A parameter value over 500 characters (a search space, a long --param list) was cut at 500 without a word,
    though MLflow keeps 6000: it is recorded whole."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from m5kit.tracking import default_uri, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    space = repr({f"model__layer_{i}": (1, 512) for i in range(40)})
    assert 500 < len(space) < 6000
    run_id = record_run("tune", params={"space": space}, uri=uri, name="long")
    assert MlflowClient(uri).get_run(run_id).data.params["space"] == space


@pytest.mark.parametrize("call", ["check_store", "list_runs"])
def test_a_tracking_uri_that_is_no_text_is_one_param_error(tmp_path, call):
    """check_store(Path(...)) or list_runs(None) was a bare AttributeError ('PosixPath' object has no attribute
    'lower'): one ParamError line saying to give the URI as text."""
    pytest.importorskip("mlflow")
    from m5kit import tracking

    for uri in (tmp_path / "mlflow.db", None):
        with pytest.raises(ParamError, match=r"^invalid tracking URI .*: give the store's URI as text, e\.g\. "
                                             r"'sqlite:///.*mlflow\.db' \(see m5kit\.tracking\.default_uri\)$"):
            getattr(tracking, call)(uri)
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_under_a_question_mark_has_no_default_store(tmp_path):
    """default_uri of a run under 'a?b/' was 'sqlite:///.../a?b/mlruns/mlflow.db', which MLflow read as the database
    '.../a' (its query '?b/...' dropped): runs went to a stray file and `m5kit runs` listed none. One ParamError."""
    from m5kit.tracking import default_uri

    with pytest.raises(ParamError, match=r"^no tracking store beside .*a\?b.*: the '\?' in its path .*--tracking-uri"):
        default_uri(tmp_path / "a?b" / "run")
    assert default_uri(tmp_path / "a#b" / "run").endswith("a#b/mlruns/mlflow.db")  # MLflow reads '#' and spaces


def test_a_run_folder_under_a_percent_escape_has_no_default_store(tmp_path):
    """default_uri of a run under 'a%41b/' was 'sqlite:///.../a%41b/mlruns/mlflow.db', which SQLAlchemy decoded to the
    database '.../aAb/mlruns/mlflow.db': runs went to another folder and listed none. One ParamError; a '%' that
    escapes nothing ('50%off') is kept as it is."""
    from m5kit.tracking import default_uri

    with pytest.raises(ParamError, match=r"^no tracking store beside .*a%41b.*: the '%41' in its path .*--tracking-uri"):
        default_uri(tmp_path / "a%41b" / "run")
    assert default_uri(tmp_path / "50%off" / "run").endswith("50%off/mlruns/mlflow.db")


def test_train_with_track_under_a_question_mark_is_refused_before_the_fit(tmp_path, monkeypatch):
    """m5kit train --track --out 'a?b/run' fitted the run, then recorded it where no `m5kit runs` finds it: now one
    line before anything is fitted or written."""
    pytest.importorskip("mlflow")
    from typer.testing import CliRunner

    from m5kit.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--level", "3", "--items", "3", "--epochs", "1", "--track",
                                      "--out", str(tmp_path / "a?b" / "run")])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
    assert result.stderr.startswith("error: no tracking store beside ") and result.stderr.count("\n") == 1
    assert "--no-track" in result.stderr and not (tmp_path / "a?b" / "run" / "store").exists()


def test_a_finished_run_trained_again_is_not_recorded_twice(tmp_path):
    """The same `m5kit train` run again on a finished run (every group resumed) recorded it a second time, with the
    resume's wall time (0.2 s for a 30 s run): `m5kit runs` listed it twice. It stays one record; a refit is a new one."""
    pytest.importorskip("mlflow")
    import pandas as pd

    from m5kit.datasets import make_m5
    from m5kit.runs import Run, RunConfig, TrainResult
    from m5kit.tracking import default_uri, list_runs, record_train

    out = tmp_path / "runs" / "run"
    out.mkdir(parents=True)
    run = Run(out, RunConfig(level=1, epochs=2), make_m5(n_items=1, n_stores=1, n_days=60, seed=0))
    report = pd.DataFrame({"group": ["Total"], "seconds": [30.0], "resumed": [False], "epochs": [2]})
    uri = default_uri(out)
    first = record_train(run, TrainResult(out, 1, 1, 0, 31.0, report), uri)
    again = record_train(run, TrainResult(out, 1, 1, 1, 0.2, report.assign(resumed=True)), uri)
    assert again == first and list_runs(uri)["wall s"].tolist() == [31.0]
    refit = record_train(run, TrainResult(out, 1, 1, 0, 29.0, report.assign(seconds=28.0)), uri)
    assert refit != first and list_runs(uri)["wall s"].tolist() == [29.0, 31.0]


def test_recording_leaves_the_callers_own_mlflow_run_alone(tmp_path):
    """record_run inside the caller's own MLflow run (in another store) failed ('Run ... is already active') and left
    MLflow pointed at m5kit's store: the caller's run could be neither logged to nor ended (a traceback)."""
    pytest.importorskip("mlflow")
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    from m5kit.tracking import default_uri, list_runs, record_run

    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    uri = default_uri(tmp_path / "runs" / "run")
    with _use_tracking_uri(mine):
        with mlflow.start_run(experiment_id=MlflowClient(mine).create_experiment("mine")) as own:
            run_id = record_run("train", params={"model": "cnn-lstm"}, metrics={"wrmsse": 0.7}, uri=uri, name="r")
            assert list_runs(uri)["run"].tolist() == ["r"] and mlflow.get_tracking_uri() == mine
            mlflow.log_metric("score", 1.0)
    assert MlflowClient(mine).get_run(own.info.run_id).data.metrics == {"score": 1.0}
    assert MlflowClient(uri).get_run(run_id).data.metrics == {"wrmsse": 0.7}


def test_a_train_record_names_its_run_folder(tmp_path):
    """A train record kept the run folder's files but its groups' models ('they stay in the run folder') and named no
    folder: two runs named 'run' in one store could not be told apart, nor their models found. Tag run_folder."""
    pytest.importorskip("mlflow")
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from m5kit.datasets import make_m5
    from m5kit.runs import Run, RunConfig, TrainResult
    from m5kit.tracking import record_train

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = pd.DataFrame({"group": ["Total"], "seconds": [3.0], "resumed": [False], "epochs": [2]})
    for parent in ("a", "b"):
        out = tmp_path / parent / "run"
        out.mkdir(parents=True)
        run = Run(out, RunConfig(level=1, epochs=2), make_m5(n_items=1, n_stores=1, n_days=60, seed=0))
        run_id = record_train(run, TrainResult(out, 1, 1, 0, 4.0, report), uri)
        assert MlflowClient(uri).get_run(run_id).data.tags["run_folder"] == str(out.resolve())


def test_a_resumed_train_record_says_how_many_groups_were_resumed(tmp_path):
    """A run interrupted and resumed was recorded with the resume's wall time and nothing saying that part of its
    groups were fitted before (train's table says '(N resumed from the store)'): the metric groups_resumed."""
    pytest.importorskip("mlflow")
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from m5kit.datasets import make_m5
    from m5kit.runs import Run, RunConfig, TrainResult
    from m5kit.tracking import record_train

    out = tmp_path / "runs" / "run"
    out.mkdir(parents=True)
    run = Run(out, RunConfig(level=2, epochs=2), make_m5(n_items=1, n_stores=2, n_days=60, seed=0))
    report = pd.DataFrame({"group": ["CA", "TX"], "seconds": [3.0, 4.0], "resumed": [True, False], "epochs": [2, 2]})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = record_train(run, TrainResult(out, 2, 2, 1, 4.5, report), uri)
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    assert metrics["groups_resumed"] == 1 and metrics["groups_fitted"] == 2 and metrics["wall_seconds"] == 4.5


def test_runs_last_beyond_mlflows_page_lists_them_and_a_bad_count_is_no_store_error(tmp_path):
    """`m5kit runs --last 60000` (more than MLflow gives in one search, 50000) said 'cannot use the tracking store ...
    (Invalid value 60000 for parameter 'max_results'): give --tracking-uri ...', and list_runs(uri, 0) or "5" blamed the
    store the same way: the runs are listed, a bad count is one line naming max_runs."""
    pytest.importorskip("mlflow")
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    for name in ("one", "two"):
        record_run("train", params={"model": "lightgbm"}, uri=uri, name=name)
    result = CliRunner().invoke(app, ["runs", "--last", "60000", "--tracking-uri", uri], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "one" in result.stdout and "two" in result.stdout, result.stderr
    assert list_runs(uri, 1)["run"].tolist() == ["two"]
    for bad in (0, "5"):
        with pytest.raises(ParamError, match=r"^invalid max_runs .*: give a whole number of at least 1$"):
            list_runs(uri, bad)


def test_record_run_of_artifacts_that_are_no_folder_is_one_line_and_no_record(tmp_path):
    """record_run(artifacts=<a folder that does not exist, or a file>) recorded the run without a word and without a
    file (a typo lost the run's files): one ParamError naming the path, nothing recorded."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    (tmp_path / "scores.csv").write_text("level,m5kit\nall,0.7\n")
    for wrong in (tmp_path / "nope", tmp_path / "scores.csv"):
        said = r"\((does not exist|is a file)\): give the folder whose files to record$"
        with pytest.raises(ParamError, match=rf"^invalid artifacts {wrong} {said}"):
            record_run("train", params={"model": "cnn-lstm"}, artifacts=wrong, uri=uri)
    assert list_runs(uri).empty


@pytest.mark.parametrize("value", ["abc", [0.7, 0.8]])
def test_record_run_of_a_metric_that_is_no_number_is_one_param_error(tmp_path, value):
    """record_run(metrics={'wrmsse': 'abc'}) was a bare ValueError ('could not convert string to float'), and a list
    'The truth value of an array ... is ambiguous': one ParamError naming the metric, nothing recorded."""
    pytest.importorskip("mlflow")
    from m5kit.tracking import default_uri, list_runs, record_run

    uri = default_uri(tmp_path / "runs" / "run")
    with pytest.raises(ParamError, match=r"^invalid metric 'wrmsse' .*: give each metric as a number$"):
        record_run("train", params={"model": "cnn-lstm"}, metrics={"wall_seconds": 3.0, "wrmsse": value}, uri=uri)
    assert list_runs(uri).empty


@pytest.mark.parametrize("args", [["runs", "--tracking-uri", ""], ["runs", "--tracking-uri="],
                                  ["train", "--tracking-uri", "", "--items", "2", "--out", "OUT"]])
def test_an_empty_tracking_uri_is_refused_not_the_default_store(tmp_path, monkeypatch, args):
    """--tracking-uri "" (an unset variable) used the default store without a word: it is one line, nothing written."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    monkeypatch.chdir(tmp_path)
    args = [str(tmp_path / "run") if a == "OUT" else a for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("error: --tracking-uri is empty: ") and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
