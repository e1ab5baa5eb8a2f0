"""Reliability: a killed worker, a group failing on its own, resume after a kill, no half-written file, safe defaults."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

import m5kit.grouped._tasks
from m5kit import make_m5, make_pipeline
from m5kit.cli import app
from m5kit.execution.cluster import Task, _local_cluster, open_client, run_tasks
from m5kit.datasets import write_m5
from m5kit.errors import ClusterError, StoreError
from m5kit.grouped import GroupFitError
from m5kit.runs import write_csv
from m5kit.store import ModelStore, atomic_write

SMALL = {"n_items": 7, "n_stores": 2, "n_days": 150, "seed": 1}
TINY = ["--epochs", "1", "--window", "14"]
BAD = "CA_2"  # the group whose fit raises in the failure tests (level 3: one group per store)
_REAL_FIT_GROUP = m5kit.grouped.fit_group
README = Path(__file__).resolve().parents[1] / "README.md"


# --- work sent to workers (module level: the workers import this module) -------------------


def _slow(data, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _raise_and_count(data, path: str) -> None:
    with open(path, "a") as fh:
        fh.write("run\n")
    raise ValueError("this group's own error")


def _fit_or_fail(frame, *args):
    """m5kit's per-group fit, except that group CA_2's fit raises (a group's own failure)."""
    if str(frame["group"].iloc[0]) == BAD:
        raise RuntimeError("injected failure\nwith a second line")
    return _REAL_FIT_GROUP(frame, *args)


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return make_m5(**SMALL)


@pytest.fixture(scope="module")
def m5_dir(data, tmp_path_factory) -> Path:
    return write_m5(data, tmp_path_factory.mktemp("m5"))


@pytest.fixture(scope="module")
def own_client():
    """A 2-worker LocalCluster of this module's own (its workers get killed), with m5kit's worker settings.

    Those include no MALLOC_TRIM_THRESHOLD_: a nanny writes its pre-spawn
    environment into this process' ``os.environ``, where every later cluster
    of the test run would inherit Dask's value.
    """
    from distributed import Client

    with _local_cluster(2, False, "127.0.0.1", silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


def _pipe(data, level: int = 3, **params):
    pipe = make_pipeline(level, data.calendar, data.prices, epochs=1, window=14, **params)
    pipe.set_params(groupedestimator__estimator__model__conv_filters=4, groupedestimator__estimator__model__lstm_units=4)
    return pipe


class _Killer(threading.Thread):
    """SIGKILL one worker process ``delay`` seconds after it starts running a task."""

    def __init__(self, client, delay: float):
        super().__init__(daemon=True)
        client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is back
        self.client, self.delay = client, delay
        self.pids = client.run(os.getpid)  # worker address -> pid
        self.killed: tuple[str, int] | None = None

    def run(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [w for w, keys in self.client.processing().items() if keys and w in self.pids]
            if busy:
                time.sleep(self.delay)
                self.killed = (busy[0], self.pids[busy[0]])
                os.kill(self.killed[1], signal.SIGKILL)
                return
            time.sleep(0.02)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


# --- worker loss ---------------------------------------------------------------------------


def test_tasks_survive_a_killed_worker_and_say_they_were_retried(own_client):
    """A worker killed mid-run: every task still finishes, and the resent ones report attempts > 1."""
    killer = _Killer(own_client, delay=0.3)
    killer.start()
    outcomes = run_tasks([Task(f"G{i}", _slow, i, (1.0,)) for i in range(6)], own_client, retries=2)
    killer.join(10)
    assert killer.killed is not None, "no worker was killed"
    assert all(o.ok for o in outcomes), [(o.name, o.error) for o in outcomes]
    assert any(o.attempts > 1 for o in outcomes)
    assert killer.killed[1] not in {o.result for o in outcomes}  # nothing came back from the dead worker


def test_without_retries_a_task_lost_with_its_worker_says_so(own_client):
    """retries=0: the tasks lost with a killed worker fail with a ClusterError saying the worker died; the rest finish."""
    killer = _Killer(own_client, delay=0.3)
    killer.start()
    outcomes = run_tasks([Task(f"G{i}", _slow, i, (1.0,)) for i in range(6)], own_client, retries=0)
    killer.join(10)
    lost = [o for o in outcomes if not o.ok]
    assert lost, "the killed worker's tasks should be lost without retries"
    assert all(isinstance(o.error, ClusterError) and "worker died" in str(o.error) for o in lost)
    assert all(o.result != killer.killed[1] for o in outcomes if o.ok)


@pytest.mark.slow  # ~25 s; the default run kills a worker under plain tasks (test_tasks_survive_a_killed_worker_...)
def test_grouped_fit_survives_a_killed_worker_and_reports_the_retried_group(data, own_client, tmp_path):
    """Real group fits: a worker killed mid-fit, every group is still fitted and stored, retried_ names the retried group."""
    pipe = _pipe(data, client=own_client, retries=2, store=tmp_path / "store")
    killer = _Killer(own_client, delay=1.0)
    killer.start()
    pipe.fit(data.sales)
    killer.join(10)
    grouped = pipe[-1]
    assert killer.killed is not None
    assert sorted(grouped.groups_) == ["CA_1", "CA_2"] and grouped.failed_ == {}
    assert grouped.retried_, "the group on the killed worker should be reported as retried"
    report = grouped.fit_report_.set_index("group")
    assert (report.loc[grouped.retried_, "attempts"] > 1).all()
    assert sorted(ModelStore(tmp_path / "store").records()) == ["CA_1", "CA_2"]


def test_retries_are_a_parameter_everywhere(data, monkeypatch, m5_dir, tmp_path, dask_client):
    """The retry count is set by GroupedEstimator(retries=), make_pipeline(retries=) and `m5kit train --retries`."""
    assert _pipe(data, retries=5)[-1].retries == 5
    seen = {}

    def fake_fit(self, **kwargs):
        seen.update(kwargs)
        raise StoreError("stop here")

    monkeypatch.setattr("m5kit.runs.Run.fit", fake_fit)
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(tmp_path / "run"), "--level", "3",
                                      "--retries", "7", "--scheduler", dask_client.scheduler.address, *TINY])
    assert result.exit_code == 1 and seen["retries"] == 7


# --- a group failing for its own reason ------------------------------------------------------


def test_a_task_that_raises_is_not_retried(dask_client, tmp_path):
    """A group's own error comes back once, with its traceback: only lost workers are retried."""
    count = tmp_path / "runs.txt"
    [outcome] = run_tasks([Task("G", _raise_and_count, None, (str(count),))], dask_client, retries=3)
    assert isinstance(outcome.error, ValueError) and outcome.attempts == 1
    assert count.read_text() == "run\n"
    assert "_raise_and_count" in outcome.traceback


def test_a_failing_group_is_listed_and_the_others_are_stored(data, dask_client, tmp_path, monkeypatch):
    """One group's fit raises: the others are fitted and stored, GroupFitError lists it with its error; a refit fits only it."""
    monkeypatch.setattr(m5kit.grouped._tasks, "fit_group", _fit_or_fail)
    pipe = _pipe(data, client=dask_client, store=tmp_path / "store")
    with pytest.raises(GroupFitError) as info:
        pipe.fit(data.sales)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("1 group(s) failed to fit: CA_2 (RuntimeError: injected failure with a second line)")
    assert "The other 1 group(s) are fitted and stored" in message
    assert info.value.failed == {BAD: "RuntimeError: injected failure with a second line"}
    grouped = pipe[-1]
    assert grouped.groups_ == ["CA_1"] and grouped.failed_ == info.value.failed and grouped.retried_ == []
    store = ModelStore(tmp_path / "store")
    assert list(store.records()) == ["CA_1"]
    manifest = store.read_manifest()
    assert manifest["failed"] == info.value.failed
    assert "Traceback" in manifest["tracebacks"][BAD] and "_fit_or_fail" in manifest["tracebacks"][BAD]

    monkeypatch.undo()  # the cause is fixed: fitting again fits only the failed group
    pipe.fit(data.sales)
    assert pipe[-1].resumed_ == ["CA_1"] and sorted(pipe[-1].groups_) == ["CA_1", "CA_2"]


def test_cli_lists_failed_groups_exits_1_and_resumes_after_the_fix(m5_dir, dask_client, tmp_path, monkeypatch):
    """`m5kit train` with a failing group: exit 1 and one line listing it, others stored, no forecast; predict refuses; rerun finishes."""
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(m5_dir), "--out", str(out), "--level", "3", *TINY, "--workers", "2"]  # reuses dask_client
    monkeypatch.setattr(m5kit.grouped._tasks, "fit_group", _fit_or_fail)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]  # the rest: the progress bar
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0] and "Traceback" not in result.stderr
    assert errors[0].startswith("error: 1 group(s) failed to fit: CA_2 (RuntimeError: injected failure with a second line)")
    assert "run again: only the failed groups are fitted again" in errors[0]
    assert sorted(p.name for p in (out / "models" / "groups").glob("*.json")) == ["CA_1.json"]
    assert not any((out / name).exists() for name in ("forecast.csv", "submission.csv", "fit_report.csv", "scores.csv"))

    refused = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "is unfinished: 1 of 2 group(s) have no stored model" in refused.stderr
    assert not (out / "submission.csv").exists()

    monkeypatch.undo()
    again = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.stderr
    assert "2 of 2 (1 resumed from the store)" in again.stdout
    assert len(pd.read_csv(out / "submission.csv")) == SMALL["n_items"] * SMALL["n_stores"]


# --- resume ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_store(data, tmp_path_factory):
    """A model store of the tiny level-3 pipeline (fitted in this process) and its forecast."""
    store = tmp_path_factory.mktemp("fitted") / "store"
    pipe = _pipe(data, store=store)
    return store, pipe.fit(data.sales).predict(data.sales)


def test_refit_after_losing_some_groups_fits_only_those_and_forecasts_the_same(data, fitted_store, tmp_path):
    """Groups whose record is gone (as after a kill) are refitted, the others resumed untouched; the forecast is identical."""
    store = Path(shutil.copytree(fitted_store[0], tmp_path / "store"))
    forecast = fitted_store[1]
    groups = store / "groups"
    kept = {p.name: _digest(p) for p in groups.glob("CA_1.*")}
    (groups / "CA_2.json").unlink()

    again = _pipe(data, store=store).fit(data.sales)
    grouped = again[-1]
    assert grouped.resumed_ == ["CA_1"]
    assert grouped.fit_report_.set_index("group")["resumed"].to_dict() == {"CA_1": True, "CA_2": False}
    assert {p.name: _digest(p) for p in groups.glob("CA_1.*")} == kept
    pd.testing.assert_frame_equal(again.predict(data.sales), forecast)


_REFIT = """
import sys
from m5kit import make_m5, make_pipeline
data = make_m5(n_items=7, n_stores=2, n_days=150, seed=1)
pipe = make_pipeline(3, data.calendar, data.prices, epochs=1, window=14, store=sys.argv[1])
pipe.set_params(groupedestimator__estimator__model__conv_filters=4, groupedestimator__estimator__model__lstm_units=4)
print(",".join(sorted(pipe.fit(data.sales)[-1].resumed_)))
"""


def test_a_new_process_resumes_the_store_of_another(fitted_store, tmp_path):
    """The same fit started in a new process finds the stored groups (the run's identity is the same in every process)."""
    store = shutil.copytree(fitted_store[0], tmp_path / "store")
    proc = subprocess.run([sys.executable, "-c", _REFIT, str(store)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "CA_1,CA_2"


def test_run_identity_ignores_memory_addresses():
    """Parameters whose repr holds a memory address (functions, plain objects) hash the same across objects and processes."""
    from m5kit.store import params_token

    class Callback:
        pass

    assert params_token({"callbacks": [Callback()], "model": _slow}) == params_token({"callbacks": [Callback()], "model": _slow})
    assert params_token({"model": _slow}) != params_token({"model": _raise_and_count})


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from m5kit.cli import main; main()", *args]


@pytest.fixture(scope="module")
def killed_run(m5_dir, tmp_path_factory):
    """`m5kit train` killed (SIGKILL) with some groups stored, then the same command run again."""
    out = tmp_path_factory.mktemp("killed") / "run"
    args = ["train", "--data-dir", str(m5_dir), "--out", str(out), "--level", "12", "--items", "4", "--workers", "2", *TINY]
    groups = out / "models" / "groups"
    start = time.monotonic()
    proc = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (groups.is_dir() and len(list(groups.glob("*.json"))) >= 2):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() - start < 300, "no group was stored within 300 s"
            time.sleep(0.02)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_after = time.monotonic() - start
    _, alive = psutil.wait_procs(children, timeout=30)
    stored = {p.stem: {f.name: _digest(f) for f in groups.glob(p.stem + ".*")} for p in groups.glob("*.json")}
    leftovers = sorted(p.name for p in out.iterdir())
    start = time.monotonic()
    resumed = subprocess.run(_cli(*args), capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    return {"out": out, "args": args, "stored": stored, "leftovers": leftovers, "alive": alive, "resumed": resumed,
            "killed_after": killed_after, "resume_seconds": time.monotonic() - start}


@pytest.mark.slow
def test_killed_cli_run_leaves_only_complete_groups_and_resumes(killed_run):
    """Killed mid-run: only whole groups and no forecast remain; the same command fits only the rest and finishes."""
    run, stored = killed_run, killed_run["stored"]
    assert run["alive"] == [], "worker processes outlived the killed run"
    assert 2 <= len(stored) < 8
    for name, files in stored.items():  # every stored record has both model files
        assert sorted(files) == sorted(f"{name}.{ext}" for ext in ("json", "keras", "pkl"))
    assert [n for n in run["leftovers"] if not n.startswith(".")] == ["models", "run.json"]  # no forecast of any kind

    resumed = run["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"8 of 8 ({len(stored)} resumed from the store)" in resumed.stdout
    out = run["out"]
    report = pd.read_csv(out / "fit_report.csv").set_index("group")["resumed"]
    assert sorted(report[report].index) == sorted(stored)
    groups = out / "models" / "groups"
    for name, files in stored.items():  # the groups stored before the kill were not touched
        assert {f: _digest(groups / f) for f in files} == files
    assert len(list(groups.glob("*.json"))) == 8 and _temp_files(out) == []
    assert len(pd.read_csv(out / "submission.csv")) == 8
    print(f"killed after {run['killed_after']:.1f} s with {len(stored)} of 8 groups stored; "
          f"the resumed run took {run['resume_seconds']:.1f} s")


@pytest.mark.slow
def test_resumed_run_gives_the_forecast_of_an_uninterrupted_run(killed_run, tmp_path):
    """The resumed run's models and submission equal an uninterrupted run's to float rounding (the README's ~1e-6)."""
    args = list(killed_run["args"])
    args[args.index("--out") + 1] = str(tmp_path / "whole")
    start = time.monotonic()
    whole = subprocess.run(_cli(*args), capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr[-3000:]
    print(f"the uninterrupted run took {time.monotonic() - start:.1f} s")
    a = pd.read_csv(killed_run["out"] / "submission.csv")
    b = pd.read_csv(tmp_path / "whole" / "submission.csv")
    # seeded fits are reproducible across processes, the CNN-LSTM's to float rounding: a process's cached train step,
    # once it has seen several batch sizes, is traced for any size and rounds differently (README, Resume)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-5)
    import keras

    for path in sorted((killed_run["out"] / "models" / "groups").glob("*.keras")):
        resumed = keras.saving.load_model(path).get_weights()
        whole_ = keras.saving.load_model(tmp_path / "whole" / "models" / "groups" / path.name).get_weights()
        assert all(np.allclose(x, y, rtol=1e-5, atol=1e-5) for x, y in zip(resumed, whole_, strict=True)), path.name


def test_dask_message_sizing_leaves_the_global_random_generator_alone():
    """After private_dask_random, Dask sizing a message does not draw from the generator Keras seeds from."""
    import random

    from dask.sizeof import sizeof

    from m5kit.execution.cluster import private_dask_random

    private_dask_random()
    random.seed(3)
    expected = random.random()
    random.seed(3)
    sizeof({"metrics": list(range(100)), "more": [[1.0] * 50] * 20})
    assert random.random() == expected


# --- nothing half-written --------------------------------------------------------------------


def _broken_to_csv(self, path_or_buf=None, **kwargs):
    path_or_buf.write("id,d,forecast\nFOODS_1_001_CA_1_validation,d_151,")
    raise OSError(28, "No space left on device")


def test_a_failed_csv_write_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    """A CSV write that dies half-way leaves neither the target nor a temporary file; an older target is kept as it was."""
    monkeypatch.setattr(pd.DataFrame, "to_csv", _broken_to_csv)
    frame = pd.DataFrame({"id": ["a"], "d": ["d_1"], "forecast": [1.0]})
    with pytest.raises(OSError, match="No space left"):
        write_csv(frame, tmp_path / "forecast.csv")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "submission.csv").write_text("old, complete\n")
    with pytest.raises(OSError):
        write_csv(frame, tmp_path / "submission.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]
    assert (tmp_path / "submission.csv").read_text() == "old, complete\n"


@pytest.fixture(scope="module")
def one_fitted_group(data):
    """A fitted (Windower, CNN-LSTM) pair for one group, fitted in this process."""
    from m5kit.models import CNNLSTMRegressor
    from m5kit.transformers import Windower

    features = _pipe(data)[:-1].fit_transform(data.sales)
    frame = features[features["group"] == "CA_1"]
    result = _REAL_FIT_GROUP(frame, Windower(window=14), CNNLSTMRegressor(epochs=1, model__conv_filters=4, model__lstm_units=4), 0, None)
    return result["windower"], result["estimator"]


def test_a_failed_model_save_leaves_no_part_of_the_group(one_fitted_group, tmp_path, monkeypatch):
    """Packing the Keras model, a write or the pickle dying mid-way: StoreError, no file of the group, no temp; an older version stops counting."""
    win, est = one_fitted_group
    store = ModelStore(tmp_path)
    store.open_run({"level": 3})
    store.save_group("OLD", win, est, {"fingerprint": "a"})

    def broken_pack(self):
        raise OSError(28, "No space left on device")

    def broken_dump(obj, fh, *args, **kwargs):
        fh.write(b"\x80\x05 half a pickle")
        raise OSError(28, "No space left on device")

    def broken_bytes(path, data):
        Path(path).write_bytes(data[:10])
        raise OSError(28, "No space left on device")

    packed = pickle.loads(pickle.dumps(est))  # as collected from a worker: the model still as .keras bytes
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.model_ is not None and "_packed_model" not in vars(loaded)  # used once: a loaded Keras model
    for target, broken, fitted in (("m5kit.models.CNNLSTMRegressor.packed_model", broken_pack, loaded),
                                   ("m5kit.store.pickle.dump", broken_dump, loaded),
                                   ("m5kit.store._atomic_write_bytes", broken_bytes, packed)):
        with monkeypatch.context() as patch:
            patch.setattr(target, broken)
            for name in ("NEW", "OLD"):
                with pytest.raises(StoreError, match=f"cannot write group '{name}'.*No space left on device"):
                    store.save_group(name, win, fitted, {"fingerprint": "b"})
        assert sorted(p.name for p in (tmp_path / "groups").iterdir()) == [], target
        assert store.records() == {}
        store.save_group("OLD", win, est, {"fingerprint": "a"})  # works again once the disk is fine
        assert list(store.records()) == ["OLD"]
        assert store.load_group("OLD")[2]["fingerprint"] == "a"


_WRITER = """
import sys, time
from m5kit.store import atomic_write
with atomic_write(sys.argv[1], "w") as fh:
    fh.write('{"groups": {' * 1000)
    fh.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def test_a_writer_killed_mid_write_leaves_only_a_hidden_temp_that_the_next_run_removes(tmp_path):
    """SIGKILL during a write: the target never appears (only a hidden temp file), and reopening the store sweeps it."""
    target = tmp_path / "models" / "manifest.json"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()
        proc.wait()
    [temp] = list(target.parent.iterdir())
    assert not target.exists() and temp.name.startswith(".manifest.json.") and temp.name.endswith(".tmp")
    ModelStore(target.parent).open_run({"level": 3})
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    """Files written atomically get the mode a plain open() gives (not mkstemp's owner-only 0600)."""
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "submission.csv", "w") as fh:
            fh.write("id\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "submission.csv").stat().st_mode & 0o777 == 0o644


# --- safe defaults ---------------------------------------------------------------------------


def test_local_cluster_listens_on_loopback_only(dask_client):
    """m5kit's LocalCluster (as `m5kit train --workers 2` starts it): scheduler, workers and dashboard on 127.0.0.1 only."""
    with open_client(n_workers=2) as client:
        assert client is dask_client  # the session's cluster is m5kit's own, with its defaults
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        sockets = client.cluster.scheduler.http_server._sockets.values()
        assert sockets and {s.getsockname()[0] for s in sockets} == {"127.0.0.1"}


def test_readme_says_model_files_are_pickles_from_trusted_sources_only():
    """The README warns that model stores are pickles (code) to load only from trusted sources."""
    safety = README.read_text().split("## Safety", 1)[1]
    assert "pickle" in safety and "trust" in safety


def test_the_store_keeps_each_model_once(one_fitted_group, tmp_path):
    """The .keras file holds the model; the .pkl beside it holds the rest, not a second copy of the model."""
    win, est = one_fitted_group
    store = ModelStore(tmp_path)
    store.open_run({"level": 3})
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.model_ is not None  # used once: the Keras model is loaded
    for name, fitted in (("LOADED", loaded), ("PACKED", pickle.loads(pickle.dumps(est)))):
        store.save_group(name, win, fitted, {"fingerprint": "a"})
        groups = tmp_path / "groups"
        assert (groups / f"{name}.pkl").stat().st_size < (groups / f"{name}.keras").stat().st_size / 4, name
        _, back, _ = store.load_group(name)
        assert back.model_.count_params() == est.model_.count_params()
