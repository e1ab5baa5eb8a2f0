"""The benchmark suite runs end to end at its smallest size and writes its tables (no timing asserted)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit import bench
from m5kit.bench.scaling import machine_ceiling
from m5kit.cli import app
from m5kit.cli._util import run_app
from _disk import full_disk_for


def test_makespan_is_greedy_list_scheduling():
    """Each task goes to the first free worker; overhead and dispatch rate add up as documented."""
    assert bench.simulate_makespan([4, 1, 1, 1, 1], 2) == 4
    assert bench.simulate_makespan([1, 1, 1, 1, 4], 2) == 6
    assert bench.simulate_makespan([1, 1], 2, overhead=0.5) == 1.5
    assert bench.simulate_makespan([0, 0, 0], 8, dispatch_interval=1.0) == 2.0
    proj = bench.project_speedup([1.0] * 6, [1, 2, 4], serial_seconds=6.0, fixed_seconds=1.0)
    assert proj["seconds"].tolist() == [7.0, 4.0, 3.0]


@pytest.mark.slow  # ~10 s: a developer's benchmark; its option checks stay in the default run
def test_dispatch_benchmark_writes_its_tables(tmp_path, dask_client):
    """`m5kit bench dispatch` at its smallest size writes runs, summary and data-transfer CSVs for every way."""
    methods = ["m5kit", "dask-map", "joblib", "process-pool"]
    bench.run_benchmark("dispatch", tmp_path, tmp_path / "RESULTS.md", command="test", n_tasks=[12], repetitions=1,
                        methods=methods, transfer_tasks=4, transfer_items=1, transfer_days=200, quiet=None)
    summary = pd.read_csv(tmp_path / "dispatch_summary.csv")
    assert sorted(summary["method"]) == sorted(methods)
    assert (summary["ms_per_task"] > 0).all()
    assert summary.loc[summary["method"] == "m5kit", "scatter_ms_per_task"].notna().all()
    transfer = pd.read_csv(tmp_path / "transfer_summary.csv")
    assert {"m5kit", "joblib", "process-pool"} <= set(transfer["method"])
    frames = pd.read_csv(tmp_path / "transfer_frames.csv")
    assert frames["pickled_mb"].iloc[1] > frames["pickled_mb"].iloc[0]  # full-M5 categories travel too
    assert "## Dispatch overhead per task" in (tmp_path / "RESULTS.md").read_text()


def test_scaling_then_projection_write_tables_and_plot(tmp_path, dask_client):
    """Scaling (serial, joblib, process pool, m5kit on 1 and 2 workers) feeds the projection and the plot."""
    tables, _ = bench.run_benchmark("scaling", tmp_path, command="test", level=11, n_items=1, n_days=120, epochs=1,
                                    window=14, workers=[1, 2], repetitions=1, estimator=bench.MeanRegressor(), quiet=None,
                                    ceiling=False)
    summary = tables["scaling_summary"]
    assert set(summary["method"]) == {"serial", "joblib", "process-pool", "m5kit"}
    assert set(summary.loc[summary["method"] == "joblib", "workers"]) == {2}  # n_jobs=1 is the serial loop
    groups = pd.read_csv(tmp_path / "scaling_groups.csv")
    assert set(groups.loc[groups["method"] == "m5kit", "group"]) == set(groups.loc[groups["method"] == "serial", "group"])
    proj, text = bench.run_benchmark("projection", tmp_path, command="test", workers=[1, 2, 4])
    rows = proj["projection"].set_index("workers")
    assert rows.loc[1, "label"] == "calibration" and rows.loc[2, "label"] == "validation"
    assert rows.loc[4, "label"] == "projection"
    assert (proj["projection_default"]["n_groups"] == 417).all()
    assert (tmp_path / "speedup.png").stat().st_size > 0
    assert "projection" in text


def test_machine_ceiling_compares_alone_and_concurrent():
    """The machine-ceiling probe times the same work alone and on every worker at once."""
    frame = machine_ceiling([2], repetitions=1, quiet=None, kinds=("python",), scale=0.01)
    row = frame.iloc[0]
    assert row["workers"] == 2 and row["seconds_alone"] > 0 and row["slowdown"] > 0


def test_projection_without_scaling_results_fails_clearly(tmp_path):
    """`m5kit bench projection` on an empty folder exits 1 and says what to run first."""
    assert run_app(["bench", "projection", "--output", str(tmp_path)]) == 1


def test_projection_hint_quotes_an_output_folder_with_a_space(tmp_path):
    """The hint `m5kit bench scaling --output /x/my results` split at the space when pasted back: it is quoted."""
    out = tmp_path / "my results"
    out.mkdir()
    result = CliRunner().invoke(app, ["bench", "projection", "--output", str(out)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: no scaling results in {out}: run `m5kit bench scaling --output '{out}'` "
                             "first\n"), result.stderr


def test_results_under_the_home_folder_is_read_as_such(tmp_path, monkeypatch):
    """--results=~/RESULTS.md (the shell leaves a '~' after '=') was a file under a folder named '~' in the working
    folder, as --output's '~' no longer was: the home folder's, here a file, so one line before anything runs."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "projection", "--output", "out", "--results=~/RESULTS.md"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr.startswith(f"error: cannot write {tmp_path / 'home' / 'RESULTS.md'}: {tmp_path / 'home'} is a "
                                    "file, not a folder"), result.stderr


def test_projection_of_a_scaling_run_without_m5kit_fails_clearly(tmp_path):
    """`m5kit bench scaling --methods serial,joblib` then `m5kit bench projection` was a ValueError traceback
    ('min() arg is an empty sequence'): there are no m5kit group durations to project."""
    runs = pd.DataFrame({"method": ["serial", "joblib"], "workers": [1, 2], "kind": ["fit", "fit"], "repetition": [0, 0],
                         "seconds": [2.0, 1.2]})
    runs.to_csv(tmp_path / "scaling_runs.csv", index=False)
    groups = pd.DataFrame({"group": ["a", "a"], "seconds": [1.0, 1.0], "method": ["serial", "joblib"], "workers": [1, 2],
                           "repetition": [0, 0]})
    groups.to_csv(tmp_path / "scaling_groups.csv", index=False)
    result = CliRunner().invoke(app, ["bench", "projection", "--output", str(tmp_path)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: the scaling results in {tmp_path} have no m5kit runs to project: run `m5kit bench "
                             f"scaling --output {tmp_path}` with m5kit among --methods first\n"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scaling_groups.csv", "scaling_runs.csv"]


def test_accuracy_scores_every_level_and_baseline(tmp_path, dask_client):
    """The accuracy benchmark scores the per-level model and the three baselines on all 12 levels; a level given
    twice is fitted once (it was fitted twice, its timing rows merged with each other)."""
    tables, _ = bench.run_benchmark("accuracy", tmp_path, command="test", levels=[3, 3], n_items=1, n_days=200,
                                    epochs=1, estimator=bench.MeanRegressor())
    scores = pd.read_csv(tmp_path / "accuracy.csv")
    assert len(scores) == 13 and "CNN-LSTM level 3" in scores.columns
    assert scores.drop(columns="level").notna().all().all()
    assert len(tables["accuracy_groups"]) == 10


@pytest.mark.slow  # ~14 s: a developer's benchmark (the scaling benchmark, the one users run, stays in the default run)
def test_fixed_cost_measures_phases_and_bare_keras(tmp_path):
    """The fixed-cost benchmark times a 1- and a k-epoch fit, their phases and the hand-written Keras fit."""
    bench.run_benchmark("fixed-cost", tmp_path, command="test", n_items=1, n_days=150, epochs=2, n_groups=1, quiet=None)
    row = pd.read_csv(tmp_path / "fixed_cost_groups.csv").iloc[0]
    for col in ("fixed_s", "per_epoch_s", "bare_keras_seconds", "reused_model_fixed_s", "phase_first_step_s", "result_mb"):
        assert pd.notna(row[col])
    assert row["phase_first_step_s"] > 0


def test_backends_reports_a_backend_that_cannot_run(tmp_path):
    """A backend Keras does not know gives a row with its error instead of stopping the benchmark."""
    bench.run_benchmark("backends", tmp_path, command="test", names=["no-such-backend"], n_items=1, n_days=120,
                        epochs=2, n_groups=1, two_workers=False, quiet=None)
    row = pd.read_csv(tmp_path / "backends.csv").iloc[0]
    assert row["backend"] == "no-such-backend" and isinstance(row["error"], str)


@pytest.mark.slow
def test_backends_measure_tensorflow(tmp_path):
    """The TensorFlow backend is measured in its own process: seconds per group and per epoch, cores used."""
    tables, _ = bench.run_benchmark("backends", tmp_path, command="test", names=["tensorflow"], n_items=1,
                                    n_days=150, epochs=2, n_groups=1, quiet=None)
    row = tables["backends"].iloc[0]
    assert pd.isna(row["error"]) and row["seconds_per_group"] > 0 and row["speedup_2"] > 0


def test_quiet_gate_measures_other_processes():
    """The quiet gate returns the cores other processes used, and does not wait when disabled."""
    assert bench.wait_for_quiet(None) != bench.wait_for_quiet(None)  # NaN: not measured
    assert bench.wait_for_quiet(64.0, sample=0.2) >= 0.0


def test_update_results_keeps_other_sections_and_notes(tmp_path):
    """Re-running a benchmark replaces only its generated block; other sections and hand notes stay."""
    path = tmp_path / "RESULTS.md"
    path.write_text("## Other\n\nkeep me\n\n## Mine\n\nhand note\n")
    bench.update_results(path, "Mine", "v1", "mine")
    bench.update_results(path, "Mine", "v2", "mine")
    bench.update_results(path, "New", "n1", "new")
    text = path.read_text()
    assert "keep me" in text and "hand note" in text and "v2" in text and "v1" not in text
    assert text.index("## Other") < text.index("## Mine") < text.index("## New")


@pytest.mark.parametrize("missing", ["matplotlib", "psutil"])
def test_missing_bench_extra_says_what_to_install(tmp_path, monkeypatch, missing):
    """`m5kit bench` without a package of the bench extra: one line naming it and `pip install "m5kit[bench]"`, exit 1."""
    monkeypatch.setitem(sys.modules, missing, None)  # as if not installed
    result = CliRunner().invoke(app, ["bench", "projection", "--output", str(tmp_path)])
    assert result.exit_code == 1, (result.output, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert missing in result.stderr and 'pip install "m5kit[bench]"' in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not list(tmp_path.iterdir())


def test_bench_keeps_dask_log_lines_off_stderr(tmp_path):
    """`m5kit bench dispatch` printed ~30 INFO lines of its local cluster on stderr (start, workers, shutdown),
    which `m5kit train` and `m5kit tune` keep quiet."""
    import os
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "m5kit", "bench", "dispatch", "--methods", "m5kit", "--tasks", "2",
                           "--transfer-tasks", "0", "-r", "1", "--quiet", "0", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "INFO" not in proc.stderr and (tmp_path / "dispatch_summary.csv").exists(), proc.stderr


def test_unknown_dispatch_method_is_refused(tmp_path):
    """A way the dispatch benchmark does not know is refused with the ways it knows (retired ones included)."""
    result = CliRunner().invoke(app, ["bench", "dispatch", "--output", str(tmp_path), "--methods", "m5kit-before",
                                      "--tasks", "2", "--transfer-tasks", "0", "-r", "1", "--quiet", "0"])
    assert result.exit_code == 1 and "m5kit-before" in result.stderr and "dask-map" in result.stderr


@pytest.mark.parametrize("command", ["dispatch", "scaling"])
def test_no_method_is_refused(tmp_path, command):
    """`--methods ''` (or `,`) was a KeyError traceback after the pools had started."""
    args = ["--tasks", "2", "--transfer-tasks", "0"] if command == "dispatch" else ["--items", "1", "--days", "60"]
    result = CliRunner().invoke(app, ["bench", command, "--output", str(tmp_path / "out"), "--methods", ",", "-r", "1",
                                      "--quiet", "0", *args])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr.startswith("error: no method to compare: give --methods one or more of ")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_scaling_of_joblib_alone_on_one_worker_is_refused(tmp_path):
    """joblib is not run at W=1 (it is the serial loop there): `--methods joblib --workers 1` measured nothing and
    ended in a KeyError traceback."""
    result = CliRunner().invoke(app, ["bench", "scaling", "--output", str(tmp_path / "out"), "--methods", "joblib",
                                      "--workers", "1", "--items", "1", "--days", "60", "-r", "1", "--quiet", "0"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == ("error: joblib on 1 worker is the serial loop and is not measured: give --workers 2 or "
                             "more, or other --methods\n"), result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where, said", [
    ("output", "is a file: give a folder for the benchmark's CSV and PNG files"),
    ("results", "is a folder: give the RESULTS.md file to update"),
])
def test_an_output_that_is_a_file_is_refused_before_measuring(tmp_path, where, said):
    """`--output` naming a file was a FileExistsError traceback, and `--results` naming a folder an
    IsADirectoryError one, both after the whole benchmark had run."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    paths = {"output": notes, "results": None} if where == "output" else {"output": tmp_path / "out", "results": tmp_path}
    args = ["bench", "dispatch", "--output", str(paths["output"]), "--tasks", "2", "--transfer-tasks", "0", "-r", "1",
            "--methods", "joblib", "--quiet", "0"]
    if paths["results"]:
        args += ["--results", str(paths["results"])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr.startswith("error: ") and said in result.stderr and result.stderr.count("\n") == 1
    assert notes.read_text() == "mine" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["output", "results"])
def test_an_output_below_a_file_is_refused_before_measuring(tmp_path, where):
    """`--output notes.txt/out` (or `--results notes.txt/RESULTS.md`) was a NotADirectoryError traceback
    after the whole benchmark had run."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    output, results = (notes / "out", None) if where == "output" else (tmp_path / "out", notes / "RESULTS.md")
    args = ["bench", "dispatch", "--output", str(output), "--tasks", "2", "--transfer-tasks", "0", "-r", "1",
            "--methods", "joblib", "--quiet", "0"] + (["--results", str(results)] if results else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: cannot write {results or output}: {notes} is a file, not a folder: give "
                             "--output and --results paths below folders\n"), result.stderr
    assert notes.read_text() == "mine" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, said", [
    (["backends", "--backends", "tensorflow,tensorfow"], "error: invalid --backends 'tensorflow,tensorfow': give Keras "
                                                         "backends among tensorflow, torch, jax, comma separated"),
    (["dispatch", "--quiet", "-1"], "error: invalid --quiet -1: give a number of cores >= 0 (0: do not wait)"),
    (["dispatch", "--quiet", "nan"], "error: invalid --quiet nan: give a number of cores >= 0 (0: do not wait)"),
    (["backends", "--backends", "tensorflow", "--python", "/no/such/python"],  # was a FileNotFoundError traceback
     "error: --python /no/such/python is not a program that can be run: give the path of a Python interpreter whose "
     "environment has the backends"),
])
def test_unknown_backend_and_negative_quiet_are_one_line_before_measuring(tmp_path, args, said):
    """A misspelt backend was measured as a row of errors (exit 0); a negative or NaN --quiet meant "do not wait"; a
    --python that cannot run was a traceback."""
    result = CliRunner().invoke(app, ["bench", *args, "--output", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.stderr == said + "\n", result.stderr
    assert not (tmp_path / "out").exists()


def test_fixed_cost_of_more_groups_than_the_data_has_is_one_line(tmp_path):
    """`bench fixed-cost --groups 50` on data of fewer groups measured the few there were without a word: one line
    saying how many it has, before anything is measured."""
    result = CliRunner().invoke(app, ["bench", "fixed-cost", "--items", "1", "--days", "150", "--epochs", "2",
                                      "--groups", "50", "--quiet", "0", "--output", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.stderr == (
        "error: 50 groups to measure but the data of 1 item(s) has 2 level-11 groups besides the one fitted first to "
        "warm up: give --groups 2 at most, or more --items\n"), result.stderr
    assert not (tmp_path / "out" / "fixed_cost_groups.csv").exists()


@pytest.mark.parametrize("text", ["## Other\n\nkeep\n\n## Mine", "## Other\n\nkeep\n\n## Mine  \n\nnote\n"])
def test_update_results_finds_a_heading_at_the_end_or_with_trailing_spaces(tmp_path, text):
    """`--results` on a RESULTS.md whose section heading was its last line (no newline) or ended in spaces added a
    second `## Mine` section instead of filling the one there."""
    path = tmp_path / "RESULTS.md"
    path.write_text(text)
    bench.update_results(path, "Mine", "v1", "mine")
    new = path.read_text()
    assert new.count("## Mine") == 1 and new.count("v1") == 1 and "keep" in new, new
    assert new.index("## Mine") < new.index("v1")


def test_update_results_with_an_end_marker_before_the_start_one(tmp_path):
    """A RESULTS.md whose generated block lost its end marker and got a later one by hand (end before start) was an
    IndexError traceback after the whole benchmark had run: the block now ends at the next end marker or is added."""
    path = tmp_path / "RESULTS.md"
    path.write_text("## Mine\n\n<!-- bench:mine:end -->\nnote\n<!-- bench:mine:start -->\nold\n\n## Other\n\nkeep\n")
    bench.update_results(path, "Mine", "v1", "mine")
    new = path.read_text()
    assert "v1" in new and "old" not in new and "keep" in new and "note" in new, new
    assert new.count("<!-- bench:mine:start -->") == 1 and new.count("<!-- bench:mine:end -->") == 1, new


@pytest.mark.parametrize("argv0, said", [
    ("/somewhere/site-packages/m5kit/__main__.py", "python -m m5kit bench projection --output 'my results' -w 1,2"),
    ("/venv/bin/m5kit", "m5kit bench projection --output 'my results' -w 1,2"),
])
def test_bench_records_a_command_that_runs_as_written(monkeypatch, argv0, said):
    """Under `python -m m5kit` RESULTS.md recorded `python /somewhere/site-packages/m5kit/__main__.py bench ...`,
    and an argument with a space lost its quotes."""
    import m5kit.bench

    seen = {}

    def run_benchmark(name, output, results, command="", **params):
        seen["command"] = command
        return {}, ""

    monkeypatch.setattr(m5kit.bench, "run_benchmark", run_benchmark)
    monkeypatch.setattr(sys, "argv", [argv0, "bench", "projection", "--output", "my results", "-w", "1,2"])
    result = CliRunner().invoke(app, sys.argv[1:])
    assert result.exit_code == 0, (result.output, result.exception)
    assert seen["command"] == said


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is a folder no one can create files in")
@pytest.mark.parametrize("where", ["output", "results"])
def test_an_output_that_cannot_be_written_is_refused_before_measuring(tmp_path, where):
    """`--output` or `--results` in a folder one cannot write to (no permission) was an OSError traceback after the
    whole benchmark had run."""
    output, results = ("/proc/m5kit-out", None) if where == "output" else (tmp_path / "out", "/proc/RESULTS.md")
    args = ["bench", "dispatch", "--output", str(output), "--tasks", "2", "--transfer-tasks", "0", "-r", "1",
            "--methods", "joblib", "--quiet", "0"] + (["--results", results] if results else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr.startswith(f"error: cannot write {results or output} (") and result.stderr.endswith(
        "): give --output and --results paths in folders you can write to\n"), result.stderr
    assert "Per-task cost" not in result.output and not (tmp_path / "out").exists()


def test_projection_text_claims_no_dispatch_or_accuracy_results_it_did_not_use(tmp_path):
    """`bench projection` on a folder of scaling results alone wrote "scheduler dispatch 0.00 ms per task from the
    dispatch benchmark" and described a `projected_eff_16_default` column that its table did not have."""
    pd.DataFrame({"method": ["serial", "m5kit", "m5kit"], "workers": [1, 1, 2], "kind": ["fit"] * 3,
                  "repetition": [0, 0, 0], "seconds": [2.0, 2.2, 1.2]}).to_csv(tmp_path / "scaling_runs.csv", index=False)
    pd.DataFrame({"group": ["a", "b"] * 3, "seconds": [1.0] * 6, "method": ["serial"] * 2 + ["m5kit"] * 4,
                  "workers": [1, 1, 1, 1, 2, 2], "repetition": [0] * 6}).to_csv(tmp_path / "scaling_groups.csv", index=False)
    pd.DataFrame({"workers": [1, 1, 2], "method": ["serial", "m5kit", "m5kit"], "level": [11] * 3,
                  "speedup": [1.0, 0.9, 1.7]}).to_csv(
        tmp_path / "scaling_summary.csv", index=False)
    tables, text = bench.run_benchmark("projection", tmp_path, command="test", workers=[1, 2, 4])
    assert "projected_eff_16_default" not in tables["projection_levels"] and "projected_eff_16_default" not in text
    assert "from the dispatch benchmark" not in text and "no dispatch benchmark" in text, text


@pytest.mark.parametrize("lost", ["scaling_groups", "scaling_summary"])
def test_projection_of_scaling_results_missing_a_table_fails_clearly(tmp_path, lost):
    """A scaling folder without scaling_groups.csv or scaling_summary.csv (copied in part) was a KeyError traceback."""
    tables = {"scaling_runs": pd.DataFrame({"method": ["m5kit"], "workers": [1], "kind": ["fit"], "repetition": [0],
                                            "seconds": [2.0]}),
              "scaling_groups": pd.DataFrame({"group": ["a"], "seconds": [1.0], "method": ["m5kit"], "workers": [1],
                                              "repetition": [0]}),
              "scaling_summary": pd.DataFrame({"workers": [1], "method": ["m5kit"], "level": [11], "speedup": [1.0]})}
    for name, frame in tables.items():
        if name != lost:
            frame.to_csv(tmp_path / f"{name}.csv", index=False)
    result = CliRunner().invoke(app, ["bench", "projection", "--output", str(tmp_path)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: the scaling results in {tmp_path} have no {lost}.csv: run `m5kit bench scaling "
                             f"--output {tmp_path}` again\n"), result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the C locale's ASCII encoding stands in for cp1252")
def test_update_results_reads_a_utf8_results_file_whatever_the_locale(tmp_path):
    """A RESULTS.md with `≥` or `×` was read in the locale's encoding (a UnicodeDecodeError traceback after the
    benchmark under LC_ALL=C; mojibake written back as UTF-8 under Windows' cp1252); it is written as UTF-8."""
    import os
    import subprocess

    path = tmp_path / "RESULTS.md"
    path.write_bytes("## Other\n\nspeedup ≥ 0.9 × 2\n".encode())
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    proc = subprocess.run([sys.executable, "-c", "import sys; from m5kit.bench import update_results; "
                           "update_results(sys.argv[1], 'Mine', 'v1', 'mine')", str(path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes().decode().startswith("## Other\n\nspeedup ≥ 0.9 × 2\n\n## Mine\n")


def test_a_read_only_results_file_is_refused_before_measuring(tmp_path):
    """`--results` naming a read-only RESULTS.md replaced it (a new file, writable) after the benchmark had run."""
    path = tmp_path / "RESULTS.md"
    path.write_text("## Other\n\nkeep\n")
    path.chmod(0o444)
    result = CliRunner().invoke(app, ["bench", "dispatch", "--output", str(tmp_path / "out"), "--tasks", "2",
                                      "--transfer-tasks", "0", "-r", "1", "--methods", "joblib", "--quiet", "0",
                                      "--results", str(path)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: --results {path} is read-only: make it writable (chmod u+w) or give another "
                             "file\n"), result.stderr
    assert path.read_text() == "## Other\n\nkeep\n" and path.stat().st_mode & 0o777 == 0o444
    assert not (tmp_path / "out").exists()


def test_a_full_disk_after_measuring_is_one_line_and_leaves_no_mix_of_two_runs_tables(tmp_path, monkeypatch):
    """A full disk as the CSV files were written, after the whole benchmark had run, was an OSError traceback, and
    the folder kept the new dispatch_runs.csv beside the dispatch_summary.csv of the run before (that `bench
    projection` reads together). Now one line, and no table of this benchmark is left from either run."""

    out = tmp_path / "out"
    args = ["bench", "dispatch", "--output", str(out), "--tasks", "2", "--transfer-tasks", "0", "-r", "1",
            "--methods", "joblib", "--quiet", "0"]
    assert CliRunner().invoke(app, args).exit_code == 0
    full_disk_for(monkeypatch, "dispatch_summary.csv")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: cannot write the benchmark's results to {out} (No space left on device): free "
                             "disk space, then run the benchmark again\n"), result.stderr
    assert not (out / "dispatch_runs.csv").exists() and not (out / "dispatch_summary.csv").exists()


def test_a_full_disk_as_results_md_is_updated_is_one_line(tmp_path, monkeypatch):
    """A full disk as --results was updated, after the benchmark had run, was an OSError traceback; now one line
    naming the file and where the CSV files are; RESULTS.md is as it was."""

    path = tmp_path / "RESULTS.md"
    path.write_text("## Other\n\nkeep\n")
    full_disk_for(monkeypatch, "RESULTS.md")
    result = CliRunner().invoke(app, ["bench", "dispatch", "--output", str(tmp_path / "out"), "--tasks", "2",
                                      "--transfer-tasks", "0", "-r", "1", "--methods", "joblib", "--quiet", "0",
                                      "--results", str(path)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr == (f"error: cannot write the benchmark's plot or --results {path} (No space left on "
                             f"device): free disk space, then run the benchmark again (its CSV files are in "
                             f"{tmp_path / 'out'})\n"), result.stderr
    assert path.read_text() == "## Other\n\nkeep\n" and (tmp_path / "out" / "dispatch_runs.csv").exists()


def test_markdown_table_leaves_a_missing_text_cell_blank():
    """`bench backends` wrote `None` in the error column of every backend that ran (a blank cell reads "no error"),
    as a missing number already was."""
    text = bench.markdown_table(pd.DataFrame({"backend": ["tensorflow", "jax"], "seconds": [1.5, float("nan")],
                                              "error": [None, "not installed"]}))
    assert text.splitlines()[2:] == ["| tensorflow | 1.5 |  |", "| jax |  | not installed |"], text
