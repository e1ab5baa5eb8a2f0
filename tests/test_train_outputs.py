"""What `m5kit train` shows and leaves besides the forecast: report, experiment record, monitor, tune, params."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit.cli import app
from m5kit.datasets import make_m5, write_m5
from _disk import full_disk_for
from _locks import assert_refused_while_held, run_holder

SMALL = {"n_items": 2, "n_stores": 2, "n_days": 150}
TINY = ["--epochs", "1", "--window", "14", "--level", "3"]


@pytest.fixture(scope="module")
def m5_dir(tmp_path_factory) -> Path:
    return write_m5(make_m5(**SMALL), tmp_path_factory.mktemp("m5"))


@pytest.fixture(scope="module")
def finished(m5_dir, tmp_path_factory, dask_client):
    """One finished tiny run, recorded in MLflow's format when mlflow is installed."""
    out = tmp_path_factory.mktemp("runs") / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), *TINY,
                                      "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    return out, result


def test_report_has_its_plots(finished):
    """report.html references PNG plots that exist and are real images with content."""
    out, result = finished
    pytest.importorskip("matplotlib")
    page = (out / "report" / "report.html").read_text()
    for name in ("wrmsse_levels.png", "series.png", "seconds.png"):
        assert f'src="{name}"' in page
        data = (out / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert "report:" in result.stdout and "Training monitor" in page


@pytest.mark.parametrize(("name", "content", "said"), [
    ("scores.csv", "garbage\n", "scores.csv is damaged (no column 'level'): `m5kit evaluate --run` writes it again"),
    ("forecast.csv", "", "forecast.csv is unreadable (No columns to parse from file): `m5kit predict --run`"),
    ("fit_report.csv", "group\nCA_1\n", "fit_report.csv is damaged (no column 'seconds'): run the same `m5kit train`"),
])
def test_report_of_a_run_with_a_damaged_file_is_one_line(finished, tmp_path, name, content, said):
    """`m5kit report` on a run whose CSV is damaged: one line naming the file and the fix, exit 1, no report folder
    (was a KeyError / EmptyDataError traceback after report/ was made)."""
    import shutil

    pytest.importorskip("matplotlib")
    out = Path(shutil.copytree(finished[0], tmp_path / "run", ignore=shutil.ignore_patterns("report")))
    (out / name).write_text(content)
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert not (out / "report").exists()


def test_report_of_a_forecast_holding_nan_is_one_line_naming_the_file(finished, tmp_path):
    """`m5kit report` on a run whose forecast.csv holds NaN failed midway: "writing the report failed (IndexError:
    index 0 is out of bounds ...)". Now one line naming the file and `m5kit predict --run`, and no report folder."""
    import shutil

    pytest.importorskip("matplotlib")
    out = Path(shutil.copytree(finished[0], tmp_path / "run", ignore=shutil.ignore_patterns("report")))
    forecast = pd.read_csv(out / "forecast.csv")
    forecast.assign(forecast=float("nan")).to_csv(out / "forecast.csv", index=False)
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr == (f"error: {out / 'forecast.csv'} has {len(forecast)} NaN or infinite forecast(s) (first: id "
                             f"{forecast['id'].iloc[0]!r}, {forecast['d'].iloc[0]}): run `m5kit predict --run {out}` to "
                             "forecast again\n"), result.stderr
    assert not (out / "report").exists()


def test_a_report_that_fails_midway_leaves_the_previous_report_intact(finished, tmp_path, monkeypatch):
    """A plot raising midway (after two plots were written): `m5kit report` says so in one line and the previous
    report/ is left as it was (it held the new first plots beside the old others), with no temporary folder left."""
    import shutil

    pytest.importorskip("matplotlib")
    import m5kit.report

    out = Path(shutil.copytree(finished[0], tmp_path / "run"))
    before = {p.name: p.read_bytes() for p in (out / "report").iterdir()}
    assert "wrmsse_levels.png" in before and "seconds.png" in before

    def broken(*args, **kwargs):
        raise RuntimeError("no room left for the plot")

    monkeypatch.setattr(m5kit.report, "_plot_seconds", broken)
    # plots of another size than the report's: a new plot written beside the old ones shows
    monkeypatch.setattr(m5kit.report, "_save", lambda fig, path: (fig.savefig(path, format="png", dpi=50), path.name)[1])
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr == (
        f"error: writing the report failed (RuntimeError: no room left for the plot): the previous report in "
        f"{out / 'report'} is left as it was; run `m5kit report --run {out}` again once the cause is fixed\n"), result.stderr
    assert {p.name: p.read_bytes() for p in (out / "report").iterdir()} == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def _drawn(plot, report, records, tmp_path):
    """The axes that the report's plot function ``plot`` (a name in m5kit.report) drew, and what it returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import m5kit.report

    drawn = []

    class Spy:
        def subplots(self, *args, **kwargs):
            fig, axes = plt.subplots(*args, **kwargs)
            drawn.append(axes)
            return fig, axes

    returned = getattr(m5kit.report, plot)(Spy(), report, records, tmp_path)
    return drawn[0], returned


def _drawn_seconds(report, records, tmp_path):
    """The axes _plot_seconds drew for a fit report and the groups' records."""
    return _drawn("_plot_seconds", report, records, tmp_path)[0][0]  # its first row of axes


def test_report_busy_time_counts_only_the_workers_of_this_fit(tmp_path):
    """A resumed run: the busy time per worker leaves out the groups fitted earlier (it showed the earlier run's
    worker beside this one's, as busy with seconds it spent in the earlier run)."""
    pytest.importorskip("matplotlib")
    import pandas as pd

    report = pd.DataFrame({"group": ["CA_1", "CA_2"], "seconds": [4.5, 1.5], "resumed": [True, False]})
    records = {"CA_1": {"worker": "tcp://127.0.0.1:46001"}, "CA_2": {"worker": "tcp://127.0.0.1:37365"}}
    axes = _drawn_seconds(report, records, tmp_path)
    busy = axes[1]
    assert [t.get_text() for t in busy.get_yticklabels()] == ["37365"]
    assert [p.get_width() for p in busy.patches] == [1.5]


def test_report_busy_time_tells_workers_of_one_port_on_two_hosts_apart(tmp_path):
    """Workers of a remote cluster listening on the same port on two machines are two bars, named by host and port
    (both were labelled '8788': their bars drawn over each other as one)."""
    pytest.importorskip("matplotlib")
    import pandas as pd

    report = pd.DataFrame({"group": ["CA_1", "CA_2"], "seconds": [4.5, 1.5], "resumed": [False, False]})
    records = {"CA_1": {"worker": "tcp://10.0.0.1:8788"}, "CA_2": {"worker": "tcp://10.0.0.2:8788"}}
    busy = _drawn_seconds(report, records, tmp_path)[1]
    assert sorted(t.get_text() for t in busy.get_yticklabels()) == ["10.0.0.1:8788", "10.0.0.2:8788"]
    assert sorted(p.get_width() for p in busy.patches) == [1.5, 4.5]


def _drawn_losses(report, records, tmp_path):
    """The titles of the axes _plot_losses drew."""
    axes, returned = _drawn("_plot_losses", report, records, tmp_path)
    assert returned == "losses.png"
    return [ax.get_title() for ax in axes]


def test_report_loss_curves_of_groups_whose_last_loss_is_nan(tmp_path):
    """A group whose training loss ended NaN (no hold-out) is the worst one; a run of one such group (level 1) gets
    its curves (the report failed with 'KeyError: nan', and with another group drew that one as the worst)."""
    pytest.importorskip("matplotlib")
    import pandas as pd

    diverged = {"history": {"loss": [2.0, 1.5, float("nan")]}}
    one = pd.DataFrame({"group": ["Total"], "seconds": [3.0], "loss": [float("nan")], "val_loss": [float("nan")]})
    assert _drawn_losses(one, {"Total": diverged}, tmp_path) == ["slowest group: Total", "worst group: Total"]
    two = pd.DataFrame({"group": ["CA_1", "CA_2"], "seconds": [3.0, 1.0], "loss": [1.0, float("nan")],
                        "val_loss": [float("nan")] * 2})
    records = {"CA_1": {"history": {"loss": [2.0, 1.0]}}, "CA_2": diverged}
    assert _drawn_losses(two, records, tmp_path) == ["slowest group: CA_1", "worst group: CA_2"]
    held_out = two.assign(val_loss=[0.5, float("nan")])  # with a hold-out, the diverged group's val_loss is NaN too
    assert _drawn_losses(held_out, records, tmp_path) == ["slowest group: CA_1", "worst group: CA_2"]


def test_report_findings_show_whole_epochs_and_no_nan():
    """The monitor table of a run where one group overfit at epoch 3 and another forecast a constant (found after
    the fit, no epoch): epoch 3, and '-' for the other (it showed 3.0 and NaN)."""
    import pandas as pd

    from m5kit.report import _findings

    report = pd.DataFrame({"group": ["CA_1", "CA_2", "CA_3"], "monitor": [
        json.dumps([{"rule": "overfit", "epoch": 3, "detail": "x"}]),
        json.dumps([{"rule": "constant_forecast", "epoch": None, "detail": "y"}]), "[]"]})
    found = _findings(report)
    assert found["epoch"].tolist() == ["3", "-"]
    page = found.to_html(index=False)
    assert "3.0" not in page and "NaN" not in page


@pytest.fixture
def appended(m5_dir, tmp_path):
    """A finished LightGBM run (trained in-process, as `m5kit train` does), then a week appended to its data files."""
    pytest.importorskip("lightgbm")
    import shutil

    from m5kit.runs import prepare_run

    data = Path(shutil.copytree(m5_dir, tmp_path / "m5"))
    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=data, params={"n_estimators": 5}).fit()
    write_m5(make_m5(**{**SMALL, "n_days": SMALL["n_days"] + 7}), data, overwrite=True)
    return data, out


def test_report_after_the_data_changed_is_one_line_then_a_warning(appended):
    """`m5kit report` of a run whose data got a week more: one line saying to predict again, nothing written (was a
    KeyError traceback after report/ was made); after `m5kit predict`, the report is written with one warning line
    that the data changed since training (report said nothing, unlike predict and evaluate). The predict removes the
    stale scores.csv (the report showed the old forecast's scores beside the new forecast), and the report says to
    evaluate first."""
    pytest.importorskip("matplotlib")
    data, out = appended
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr == (
        f"error: {out / 'forecast.csv'} forecasts d_151..d_178 but the data in {data} knows the sales of d_158..d_185 "
        "(it changed since the run was trained: calendar.csv, sell_prices.csv, sales_train_validation.csv, "
        f"sales_train_evaluation.csv): run `m5kit predict --run {out}` to forecast the days after the data as it is "
        "now, or the same `m5kit train` command again to refit\n"), result.stderr
    assert not (out / "report").exists()

    assert CliRunner().invoke(app, ["predict", "--run", str(out)]).exit_code == 0
    assert not (out / "scores.csv").exists()  # it scored the old forecast against the old data
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr == (f"error: {out} has no scores.csv: run `m5kit evaluate --run {out}` "
                                                       "to score its forecast, then the report\n"), result.stderr
    assert CliRunner().invoke(app, ["evaluate", "--run", str(out)]).exit_code == 0
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"warning: the data in {data} changed since the run was trained (calendar.csv, ")
    assert "the report plots the forecast against the data as it is now" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert (out / "report" / "report.html").exists()


def test_evaluate_after_the_data_changed_says_to_predict_again(appended):
    """`m5kit evaluate` of a run whose data got a week more: the line says to predict again (it said 'forecast
    exactly those days', which a user cannot do to a saved forecast), and scores.csv is left as it was."""
    data, out = appended
    before = (out / "scores.csv").read_bytes()
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"error: {out / 'forecast.csv'} forecasts d_151..d_178 but the data in {data} "
                                    "knows the sales of d_158..d_185 (it changed since the run was trained: "), result.stderr
    assert f"run `m5kit predict --run {out}` to forecast the days after the data as it is now" in result.stderr
    assert result.stderr.count("\n") == 1 and (out / "scores.csv").read_bytes() == before


def test_monitor_lines_point_at_a_file_that_exists(m5_dir, tmp_path, dask_client):
    """With --no-report, the monitor's lines say to see fit_report.csv (they named report/report.html, never written)."""
    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--model", "lightgbm", "--level", "3", "--data-dir", str(m5_dir),
                                      "--out", str(out), "--param", "n_estimators=1", "--param", "learning_rate=0.000001",
                                      "--no-report", "--no-track", "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("monitor:")]
    assert lines, result.stderr  # a one-tree, zero-rate booster forecasts a constant
    assert all(line.endswith(f"; see {out / 'fit_report.csv'}") for line in lines), lines
    assert (out / "fit_report.csv").exists() and not (out / "report").exists()


def test_a_schedulers_own_dashboard_port_is_not_said_to_be_taken(finished, tmp_path):
    """`--scheduler` of a cluster whose dashboard the user put on another port than 8787 (`dask scheduler
    --dashboard-address :8080`): predict and train said "(port 8787 was taken, so the dashboard got another port)"."""
    import shutil

    from distributed import LocalCluster

    run = Path(shutil.copytree(finished[0], tmp_path / "run"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        result = CliRunner().invoke(app, ["predict", "--run", str(run), "--scheduler", cluster.scheduler_address])
        link = cluster.dashboard_link
    assert result.exit_code == 0, result.stderr
    assert f"Dask dashboard: {link}" in result.stdout.replace("\n", "")
    assert "was taken" not in result.stdout


def test_evaluate_of_a_run_on_the_evaluation_file_alone_says_what_to_add(m5_dir, tmp_path, dask_client):
    """`m5kit evaluate` (and report) of a run trained on a folder holding sales_train_evaluation.csv alone said "put
    sales_train_evaluation.csv beside sales_train_validation.csv", a file the folder holds already: it names the file
    that is missing."""
    import shutil

    pytest.importorskip("lightgbm")
    data = Path(shutil.copytree(m5_dir, tmp_path / "m5"))
    (data / "sales_train_validation.csv").unlink()
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(data), "--out", str(out), "--model", "lightgbm",
                                      "--level", "1", "--param", "n_estimators=2", "--no-track", "--no-report",
                                      "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert f"{data} holds sales_train_evaluation.csv alone" in result.stderr, result.stderr
    assert "put M5's sales_train_validation.csv beside it" in result.stderr, result.stderr
    said = result.stderr  # `m5kit report` said "has no scores.csv: ... on data whose holdout is known", naming no fix
    result = CliRunner().invoke(app, ["report", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert said.split(": ", 2)[2] in result.stderr, result.stderr  # evaluate's line from its folder on
    assert not (out / "report").exists()


def test_monitor_lines_of_a_train_whose_report_failed_point_at_a_file_that_exists(m5_dir, tmp_path, dask_client,
                                                                                    monkeypatch):
    """`m5kit train` printed 'monitor: ...; see <run>/report/report.html' before writing the report: when the report
    failed ('warning: no report: ...') that file did not exist. They point at fit_report.csv then."""
    pytest.importorskip("lightgbm")
    pytest.importorskip("matplotlib")
    import m5kit.report
    from m5kit.errors import StoreError
    from m5kit.runs import TrainResult

    def fails(*args, **kwargs):
        raise StoreError("the disk is full")

    monkeypatch.setattr(m5kit.report, "write_report", fails)
    monkeypatch.setattr(TrainResult, "monitor", property(lambda self: ["a rule fired in 1 group"]))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), "--model", "lightgbm",
                                      "--level", "1", "--param", "n_estimators=2", "--no-track", "--report",
                                      "--scheduler", dask_client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    assert "warning: no report: the disk is full" in result.stderr, result.stderr
    seen = [line for line in result.stderr.splitlines() if line.startswith("monitor: ")]
    assert seen == [f"monitor: a rule fired in 1 group; see {out / 'fit_report.csv'}"], result.stderr
    assert (out / "fit_report.csv").is_file()


def test_evaluate_of_a_run_with_an_empty_forecast_is_one_line(finished, tmp_path):
    """`m5kit evaluate` on a run whose forecast.csv is empty: one line naming it and the fix (was an EmptyDataError traceback)."""
    import shutil

    out = Path(shutil.copytree(finished[0], tmp_path / "run"))
    (out / "forecast.csv").write_text("")
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr == (f"error: {out / 'forecast.csv'} is unreadable (No columns to parse from file): "
                             "`m5kit predict --run` writes it again\n"), result.stderr


def test_evaluate_of_a_forecast_with_a_series_the_data_lacks_names_the_file_and_the_fix(finished, tmp_path):
    """`m5kit evaluate` on a forecast.csv with rows of an id the data does not have: one line naming the file, the id
    and the fix, like a missing id (it said only "forecast id '...' is not in sales"); scores.csv stays as it was."""
    import shutil

    import pandas as pd

    out = Path(shutil.copytree(finished[0], tmp_path / "run"))
    forecast = pd.read_csv(out / "forecast.csv")
    first = forecast[forecast["id"] == forecast["id"].iloc[0]]
    pd.concat([forecast, first.assign(id="GONE_1_001_CA_1_validation")]).to_csv(out / "forecast.csv", index=False)
    before = (out / "scores.csv").read_bytes()
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr == (f"error: {out / 'forecast.csv'} has forecasts of 1 series the data does not have (e.g. "
                             "'GONE_1_001_CA_1_validation') and the WRMSSE scores the data's series: run "
                             f"`m5kit predict --run {out}` to forecast the data's series, then evaluate\n"), result.stderr
    assert (out / "scores.csv").read_bytes() == before


@pytest.mark.parametrize(("change", "problem"), [
    (lambda f: pd.concat([f, f.iloc[:1]]), "has two rows for id '{id}' and d_{first}: keep one row per series and day"),
    (lambda f: f.iloc[1:], "covers d_{first}..d_{last} for id '{other}' but d_{second}..d_{last} for id '{id}': every "
                           "series needs the same days"),
], ids=["a day twice", "a day missing"])
def test_evaluate_of_a_forecast_not_one_row_per_series_and_day_names_the_file_and_the_fix(finished, tmp_path, change,
                                                                                          problem):
    """`m5kit evaluate` on a forecast.csv with a day twice or a day missing said only "forecast ...": one line naming
    the file and `m5kit predict --run`; scores.csv stays as it was."""
    import shutil

    out = Path(shutil.copytree(finished[0], tmp_path / "run"))
    forecast = pd.read_csv(out / "forecast.csv")
    ids = forecast["id"].unique()
    first, last = (int(d[2:]) for d in (forecast["d"].iloc[0], forecast["d"].iloc[-1]))
    change(forecast).to_csv(out / "forecast.csv", index=False)
    before = (out / "scores.csv").read_bytes()
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    said = problem.format(id=ids[0], other=ids[1], first=first, second=first + 1, last=last)
    assert result.stderr == (f"error: {out / 'forecast.csv'} {said}; or run `m5kit predict --run {out}` to write it "
                             "again\n"), result.stderr
    assert (out / "scores.csv").read_bytes() == before


def test_result_names_every_baseline_that_beats_the_model(finished):
    """The table holds every baseline; each baseline that wins at some level is said in words."""
    out, result = finished
    import pandas as pd

    scores = pd.read_csv(out / "scores.csv")
    for name in scores.columns[2:]:
        assert name in result.stdout
        beats = [lv for lv, m, b in zip(scores["level"], scores.iloc[:, 1], scores[name]) if b < m]
        assert (f"{name} beats the model at level" in result.stdout) == bool(beats)


def test_run_is_recorded_and_listed(finished):
    """With mlflow installed, the run is recorded beside the run folder and `m5kit runs` lists it."""
    pytest.importorskip("mlflow")
    out, result = finished
    assert "recorded as MLflow run" in result.stdout
    uri = f"sqlite:///{out.parent / 'mlruns' / 'mlflow.db'}"
    listed = CliRunner().invoke(app, ["runs", "--tracking-uri", uri], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "cnn-lstm" in listed.stdout and "train" in listed.stdout


def test_the_record_holds_the_report(finished):
    """The run's record held every file of the run folder but its report: train wrote report/ after recording."""
    pytest.importorskip("mlflow")
    pytest.importorskip("matplotlib")
    from mlflow.tracking import MlflowClient

    out, result = finished
    client = MlflowClient(tracking_uri=f"sqlite:///{out.parent / 'mlruns' / 'mlflow.db'}")
    run_id = re.search(r"recorded as MLflow run (\w+)", result.stdout).group(1)
    recorded = {f.path for f in client.list_artifacts(run_id, "report")}
    assert recorded == {f"report/{f.name}" for f in (out / "report").iterdir()} and "report/report.html" in recorded


def test_recorded_line_gives_the_store_runs_lists_it_from(finished):
    """A run recorded outside ./m5-runs: the line gives `m5kit runs` the --tracking-uri it needs (it said plain
    `m5kit runs` lists runs, which looks in ./m5-runs/mlruns and found nothing)."""
    pytest.importorskip("mlflow")
    out, result = finished
    uri = f"sqlite:///{out.parent / 'mlruns' / 'mlflow.db'}"
    said = "".join(result.stdout.split())
    assert f"`m5kitruns--tracking-uri{uri}`listsruns" in said, result.stdout
    listed = CliRunner().invoke(app, ["runs", "--tracking-uri", uri], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "cnn-lstm" in listed.stdout


@pytest.mark.slow  # a LightGBM run and MLflow's store: ~20 s
def test_recorded_line_quotes_a_store_in_a_folder_with_a_space(m5_dir, tmp_path):
    """A run under 'my runs': the line said `m5kit runs --tracking-uri sqlite:///.../my runs/mlruns/mlflow.db`, which,
    pasted into a shell, is 'Got unexpected extra argument'; the URI is quoted as a shell needs it."""
    pytest.importorskip("mlflow")
    pytest.importorskip("lightgbm")
    import shlex

    out = tmp_path / "my runs" / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), "--model", "lightgbm",
                                      "--level", "3", "--param", "n_estimators=2", "--no-report"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.stderr
    uri = f"sqlite:///{out.parent / 'mlruns' / 'mlflow.db'}"
    assert f"`m5kit runs --tracking-uri {shlex.quote(uri)}` lists runs" in result.stdout, result.stdout


def test_rerun_of_a_finished_run_fits_nothing(finished, m5_dir, dask_client):
    """The same command again says everything is stored and shows no 'nan' timing."""
    out, _ = finished
    again = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), *TINY, "--no-track",
                                     "--no-report", "--scheduler", dask_client.scheduler.address])
    assert again.exit_code == 0, again.stderr
    assert "every group is already stored" in again.stdout and "nan" not in again.stdout


def test_fit_report_holds_monitor_findings_and_store_holds_loss_curves(finished):
    """Each group's row says which rules fired (JSON); its store record keeps the loss per epoch."""
    out, _ = finished
    import pandas as pd

    report = pd.read_csv(out / "fit_report.csv")
    assert all(isinstance(json.loads(m), list) for m in report["monitor"])
    record = json.loads(next((out / "models" / "groups").glob("*.json")).read_text())
    assert len(record["history"]["loss"]) == record["epochs"] >= 1


def test_param_sets_a_model_parameter_and_unknown_names_are_refused(m5_dir, tmp_path, dask_client):
    """--param reaches the pipeline (recorded in run.json); an unknown name is one line before anything is written,
    with a hint that names a parameter the command takes."""
    base = ["train", "--data-dir", str(m5_dir), *TINY, "--no-track", "--no-report", "--scheduler", dask_client.scheduler.address]
    bad = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "bad"), "--param", "lstm_unitz=8"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: unknown parameter 'lstm_unitz'") and "lstm_units" in bad.stderr
    assert not (tmp_path / "bad").exists()
    # a name with no short form: the hint gives the full name that works, not the one refused
    bad = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "bad"), "--param", "validation_split=0.1"])
    assert bad.exit_code == 1 and "(did you mean 'groupedestimator__estimator__validation_split'" in bad.stderr, bad.stderr
    good = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "good"), "--param", "lstm_units=8"])
    assert good.exit_code == 0, good.stderr
    assert json.loads((tmp_path / "good" / "run.json").read_text())["config"]["params"] == {"lstm_units": 8}


@pytest.mark.slow  # ~13 s with the CNN-LSTM; the default run tunes LightGBM through the command, resumed and printed
def test_tune_command_runs_resumes_and_prints_the_training_command(m5_dir, tmp_path, dask_client):
    """Two trials on the cluster, trials.csv and best.json written; the command line to train with the best follows."""
    pytest.importorskip("optuna")
    args = ["tune", "--data-dir", str(m5_dir), "--level", "3", "--trials", "2", "--out", str(tmp_path / "tune"),
            "--param", "window=7:14", "--param", "epochs=1:2", "--scheduler", dask_client.scheduler.address]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tune" / "trials.csv").exists() and (tmp_path / "tune" / "best.json").exists()
    assert "m5kit train --model cnn-lstm --level 3" in result.stdout and "--param window=" in result.stdout
    bad = CliRunner().invoke(app, [*args[:-2], "--param", "windoww=7:14", "--scheduler", dask_client.scheduler.address])
    assert bad.exit_code == 1 and "unknown parameter 'windoww'" in bad.stderr


def test_predict_says_when_the_data_changed_since_training(m5_dir, tmp_path):
    """run.json records the data files' size and modification time; `m5kit predict` on files replaced since (7 days
    more) forecasts the days after the new last day with one warning line naming the files and the days; data with
    a group the run has no model for is one error line saying so; a run.json without the record (an older run) is
    predicted as before, without a word (predict used to say nothing in every case). `m5kit evaluate` warns the same
    way when it scores a forecast against changed data."""
    pytest.importorskip("lightgbm")
    import shutil

    import pandas as pd

    from m5kit.runs import prepare_run

    data = Path(shutil.copytree(m5_dir, tmp_path / "m5"))
    out = tmp_path / "run"
    prepare_run(out, level=10, model="lightgbm", data_dir=data).fit()  # what `m5kit train` runs, here in-process
    files = json.loads((out / "run.json").read_text())["data"]["files"]
    assert files["sales_train_validation.csv"][:2] == [(data / "sales_train_validation.csv").stat().st_size,
                                                       (data / "sales_train_validation.csv").stat().st_mtime_ns]
    same = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert same.exit_code == 0 and "warning" not in same.stderr, same.stderr
    scored = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert scored.exit_code == 0 and "warning" not in scored.stderr, scored.stderr

    write_m5(make_m5(**{**SMALL, "n_days": SMALL["n_days"] + 7}), data, overwrite=True)  # the same series, a week more
    later = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert later.exit_code == 0, later.stderr
    warning = [line for line in later.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, later.stderr
    assert warning[0].startswith(f"warning: the data in {data} changed since the run was trained (calendar.csv, "
                                 "sell_prices.csv, sales_train_validation.csv, sales_train_evaluation.csv: size or "
                                 "content differ): this forecast of the 28 days after d_157 (the training "
                                 "data ended at d_150) comes from the models fitted on the old data"), warning[0]
    assert pd.read_csv(out / "forecast.csv")["d"].iloc[0] == "d_158"
    scored = CliRunner().invoke(app, ["evaluate", "--run", str(out)])  # evaluate used to say nothing either
    assert scored.exit_code == 0, scored.stderr
    warning = [line for line in scored.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "its forecast is scored against the data as it is now" in warning[0], scored.stderr

    write_m5(make_m5(**{**SMALL, "n_items": 3}), data, overwrite=True)  # a third item: a level-10 group without a model
    before = (out / "forecast.csv").read_bytes()
    new_group = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert new_group.exit_code == 1 and new_group.stderr.count("\n") == 1, new_group.stderr
    assert new_group.stderr.startswith(f"error: the data in {data} changed since the run was trained ("), new_group.stderr
    assert "1 of its 3 group(s) have no model" in new_group.stderr and "run the same `m5kit train` command again" in new_group.stderr
    assert (out / "forecast.csv").read_bytes() == before

    record = json.loads((out / "run.json").read_text())
    del record["data"]  # as run.json was written before the record
    (out / "run.json").write_text(json.dumps(record))
    write_m5(make_m5(**{**SMALL, "n_days": SMALL["n_days"] + 7}), data, overwrite=True)
    old = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert old.exit_code == 0 and "warning" not in old.stderr, old.stderr


def test_a_run_mlflow_cannot_record_after_the_fit_is_kept_and_recorded_by_the_same_command(m5_dir, tmp_path,
                                                                                         dask_client, monkeypatch):
    """The tracking store failing after the fit (a server gone down meanwhile): the forecast and the report are still
    written, the error is one line saying the run is saved, and the same command again records it without fitting
    (the error used to end the command before the report, and said nothing of the saved run)."""
    pytest.importorskip("mlflow")
    pytest.importorskip("lightgbm")
    import m5kit.tracking
    from m5kit.errors import ParamError

    def down(*args, **kwargs):
        raise ParamError("cannot reach the MLflow server at http://127.0.0.1:9 (Connection refused): start it, or "
                         "pass another --tracking-uri or --no-track")

    out = tmp_path / "run"
    args = ["train", "--data-dir", str(m5_dir), "--out", str(out), "--model", "lightgbm", "--level", "3",
            "--scheduler", dask_client.scheduler.address]
    with monkeypatch.context() as patch:
        patch.setattr(m5kit.tracking, "record_train", down)
        failed = CliRunner().invoke(app, args)
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert failed.exit_code == 1 and len(errors) == 1 and failed.stderr.splitlines()[-1] == errors[0], failed.stderr
    assert errors[0].startswith("error: cannot reach the MLflow server at http://127.0.0.1:9") and \
        f"the run in {out} is saved: the same command again records it without fitting anything" in errors[0]
    assert (out / "forecast.csv").exists() and (out / "scores.csv").exists()
    if __import__("importlib").util.find_spec("matplotlib"):
        assert (out / "report" / "report.html").exists()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.stderr
    assert "every group is already stored" in again.stdout and "recorded as MLflow run" in again.stdout


def test_a_run_on_a_relative_data_folder_works_from_any_folder(m5_dir, tmp_path, monkeypatch):
    """`m5kit train --data-dir m5` stored 'm5' in run.json: predict and evaluate from another working folder failed
    ('M5 folder 'm5' does not exist: pass the folder ...', which they cannot), and the same run given the folder's
    absolute path was 'a different run'. The folder is stored absolute; a run recorded relative still resumes from
    where it was trained, and elsewhere says so."""
    pytest.importorskip("lightgbm")
    import shutil

    from m5kit.errors import DataError
    from m5kit.runs import blend_runs, open_run, prepare_run

    work = tmp_path / "work"
    shutil.copytree(m5_dir, work / "m5")
    out = work / "run"
    monkeypatch.chdir(work)
    prepare_run(out, level=3, model="lightgbm", data_dir="m5", params={"n_estimators": 2}).fit()
    assert json.loads((out / "run.json").read_text())["config"]["data_dir"] == str(work / "m5")
    monkeypatch.chdir(tmp_path)
    for command in ("evaluate", "predict"):
        result = CliRunner().invoke(app, [command, "--run", str(out)])
        assert result.exit_code == 0, (command, result.stderr)
    prepare_run(out, level=3, model="lightgbm", data_dir=work / "m5", params={"n_estimators": 2})  # the same run

    record = json.loads((out / "run.json").read_text())
    record["config"]["data_dir"] = "m5"  # as run.json held it before
    (out / "run.json").write_text(json.dumps(record))
    monkeypatch.chdir(work)
    prepare_run(out, level=3, model="lightgbm", data_dir="m5", params={"n_estimators": 2})  # resumes, not refused
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="the data folder m5 of the run .* does not exist \\(a path relative to the "
                                        "folder `m5kit train` ran in: run this command from there\\)"):
        open_run(out)
    # m5kit blend of such runs says the same (it said 'M5 folder 'm5' does not exist: pass the folder ...')
    shutil.copytree(out, work / "twin")
    with pytest.raises(DataError, match="the data folder m5 of the run .* does not exist \\(a path relative to the "
                                        "folder `m5kit train` ran in"):
        blend_runs([out, work / "twin"], tmp_path / "blend")
    assert not (tmp_path / "blend").exists()


def test_a_new_forecast_or_refit_removes_the_report_of_the_old_one(m5_dir, tmp_path):
    """report/ plots a forecast and its scores: after `m5kit predict` on changed data replaced the forecast, and after
    the run is fitted again (--overwrite), no report/ is left (it stayed, plotting the old forecast and scores)."""
    pytest.importorskip("lightgbm")
    pytest.importorskip("matplotlib")
    import shutil

    from m5kit.report import write_report
    from m5kit.runs import prepare_run

    data = Path(shutil.copytree(m5_dir, tmp_path / "m5"))
    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=data, params={"n_estimators": 5}).fit()
    write_report(out)
    write_m5(make_m5(**{**SMALL, "n_days": SMALL["n_days"] + 7}), data, overwrite=True)  # a week more
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 0, result.stderr
    assert not (out / "report").exists() and not (out / "scores.csv").exists()

    assert CliRunner().invoke(app, ["evaluate", "--run", str(out)]).exit_code == 0
    assert CliRunner().invoke(app, ["report", "--run", str(out)]).exit_code == 0
    assert (out / "report" / "report.html").exists()
    prepare_run(out, level=3, model="lightgbm", data_dir=data, params={"n_estimators": 7}, overwrite=True).fit()
    assert (out / "scores.csv").exists() and not (out / "report").exists()


def test_overwrite_replaces_a_different_run(m5_dir, tmp_path, dask_client):
    """`m5kit train --overwrite` over a run of other settings trains the new run (it stopped with 'the folder
    <out>/models is not empty and holds no m5kit run', the emptied groups/ folder left in the store)."""
    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    args = ["train", "--model", "lightgbm", "--data-dir", str(m5_dir), "--out", str(out), "--no-track", "--no-report",
            "--scheduler", dask_client.scheduler.address, "--param", "n_estimators=5"]
    assert CliRunner().invoke(app, [*args, "--level", "3"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--level", "1", "--overwrite"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["config"]["level"] == 1
    assert (out / "submission.csv").exists() and len(list((out / "models" / "groups").glob("*.json"))) == 1


def test_a_gradient_boosted_run_resumes_with_other_cnn_lstm_only_settings(m5_dir, tmp_path, dask_client):
    """A LightGBM run trained again with another --epochs or --window (CNN-LSTM only) resumes, fitting nothing, and
    keeps the settings it was trained with (it was refused as 'a different run (epochs=10)' unless --overwrite)."""
    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    args = ["train", "--model", "lightgbm", "--level", "3", "--data-dir", str(m5_dir), "--out", str(out), "--no-track",
            "--no-report", "--scheduler", dask_client.scheduler.address, "--param", "n_estimators=5"]
    assert CliRunner().invoke(app, args).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--epochs", "3", "--window", "14"])
    assert result.exit_code == 0, result.stderr
    assert "every group is already stored: nothing to fit" in result.stdout
    config = json.loads((out / "run.json").read_text())["config"]
    assert (config["epochs"], config["window"]) == (10, 28)
    assert CliRunner().invoke(app, ["predict", "--run", str(out)]).exit_code == 0


def test_open_run_reads_run_json_once(m5_dir, tmp_path, monkeypatch):
    """predict, evaluate, report and blend read a run's run.json once: its settings and its record of the data come
    from the same file (open_run read it twice, so a run.json replaced in between mixed two runs)."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import open_run, prepare_run

    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2}).fit()
    reads = []
    read_text = Path.read_text

    def counted(self, *args, **kwargs):
        if self.name == "run.json":
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    run = open_run(out)
    assert len(reads) == 1 and run.trained is not None and run.config.level == 3


def test_predict_of_a_run_whose_run_json_names_another_model_is_one_line(m5_dir, tmp_path):
    """A LightGBM run whose run.json was edited to say xgboost (or blend) forecast with the LightGBM models and
    labelled them XGBoost; predict says run.json and the store disagree, and the forecast is left as it was."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import prepare_run

    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2}).fit()
    before = (out / "forecast.csv").read_bytes()
    record = json.loads((out / "run.json").read_text())
    record["config"]["model"] = "xgboost"
    (out / "run.json").write_text(json.dumps(record))
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr == (
        f"error: {out / 'run.json'} describes a run of XGBRegressor models (xgboost) but its model store "
        f"{out / 'models'} holds LGBMRegressor models: put the run's own run.json back, or train the run again\n"), \
        result.stderr
    assert (out / "forecast.csv").read_bytes() == before


def test_predict_of_a_run_whose_run_json_names_another_level_is_one_line(m5_dir, tmp_path):
    """A level-3 run whose run.json was edited to level 5 said "the run is unfinished: 2 of 2 group(s) have no stored
    model ... run the same `m5kit train` command again" (which would train another run); predict says run.json and
    the store share no group, and the forecast is left as it was."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import prepare_run

    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2}).fit()
    before = (out / "forecast.csv").read_bytes()
    record = json.loads((out / "run.json").read_text())
    record["config"]["level"] = 5
    (out / "run.json").write_text(json.dumps(record))
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr == (
        f"error: none of the 2 level-5 group(s) that {out / 'run.json'} describes is in the model store "
        f"{out / 'models'}, which holds other groups (e.g. 'CA_1'): put the run's own run.json back, or train the run "
        "again\n"), result.stderr
    assert (out / "forecast.csv").read_bytes() == before


@pytest.mark.parametrize(("key", "value"), [("items", 1), ("seed", 1), ("horizon", 14)])
def test_a_run_whose_run_json_was_edited_to_other_settings_is_refused(m5_dir, tmp_path, key, value):
    """run.json edited to other items, seed or horizon: predict, evaluate and the same train command again each say
    in one line that run.json and the model store disagree (they forecast or refit silently with the edited settings)."""
    pytest.importorskip("lightgbm")
    from m5kit.errors import StoreError
    from m5kit.runs import prepare_run

    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, items=2, params={"n_estimators": 2}).fit()
    before = (out / "forecast.csv").read_bytes()
    record = json.loads((out / "run.json").read_text())
    trained = record["config"][key]
    record["config"][key] = value
    (out / "run.json").write_text(json.dumps(record))
    said = (f"error: {out / 'run.json'} says {key}={value!r} but its model store {out / 'models'} was trained with "
            f"{key}={trained!r}: put the run's own run.json back, ")
    for command in (["predict", "--run", str(out)], ["evaluate", "--run", str(out)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1 and result.stderr == said + "or train the run again\n", result.stderr
    assert (out / "forecast.csv").read_bytes() == before
    if key != "horizon":  # not a setting of `m5kit train`
        with pytest.raises(StoreError, match=re.escape(said[len("error: "):] + "or pass --overwrite to train the run anew")):
            prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2},
                        **{"items": 2, key: value})


@pytest.fixture(scope="module")
def gbm_run(m5_dir, tmp_path_factory):
    """A finished tiny LightGBM run (seconds), to copy and damage."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import prepare_run

    out = tmp_path_factory.mktemp("gbm") / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2}).fit()
    return out


@pytest.mark.parametrize(("edit", "why"), [
    (lambda r: [r], "it holds no 'config' object of settings"),
    (lambda r: {**r, "config": {**r["config"], "shards": 4}}, "unknown setting 'shards'"),
    (lambda r: {**r, "config": {**r["config"], "data_dir": 3}}, "its data_dir 3 is not a folder path"),
    (lambda r: {**r, "data": {**r["data"], "files": ["calendar.csv"]}}, "its record of the data files is damaged"),
    (lambda r: {**r, "data": {**r["data"], "files": {"calendar.csv": 5}}}, "its record of the data files is damaged"),
])
def test_a_damaged_run_json_is_one_line_in_every_command(gbm_run, tmp_path, edit, why):
    """run.json edited into other JSON (a list, an unknown setting, a data folder or a record of the data files of the
    wrong type): predict and evaluate say in one line what is wrong and to put run.json back (were AttributeError and
    TypeError tracebacks, or 'remove it or choose another --out', which neither command has)."""
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "run"))
    (out / "run.json").write_text(json.dumps(edit(json.loads((out / "run.json").read_text()))))
    for command in ("predict", "evaluate"):
        result = CliRunner().invoke(app, [command, "--run", str(out)])
        assert result.exit_code == 1 and result.stderr == (
            f"error: {out / 'run.json'} is unreadable ({why}): put the run's own run.json back, or train the run "
            "again in a new folder\n"), result.stderr


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_full_disk_in_predict_or_evaluate_is_one_line_and_keeps_the_run_files(gbm_run, tmp_path, monkeypatch,
                                                                                  command):
    """A full disk while predict or evaluate wrote the run's forecast or scores: evaluate was an OSError traceback and
    predict said to give --out another file (no --out was given; it was the run's forecast.csv that failed). Now one
    line naming the file and the command to run again; the run's files are as they were."""
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "run"))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    full_disk_for(monkeypatch)
    result = CliRunner().invoke(app, [command, "--run", str(out)])
    name = "forecast.csv" if command == "predict" else "scores.csv"
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write {out / name} (No space left on device): free disk space or make the folder writable, "
        f"then run `m5kit {command} --run {out}` again\n"), (result.exit_code, result.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_the_command_an_error_says_to_run_again_quotes_a_run_folder_with_a_space(gbm_run, tmp_path, monkeypatch):
    """A run folder with a space ('my runs/run 1'): the line said to run `m5kit evaluate --run .../my runs/run 1`,
    which, pasted into a shell, is 'Got unexpected extra argument'; the folder is quoted as a shell needs it."""
    import shlex
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "my runs" / "run 1"))
    full_disk_for(monkeypatch)
    result = CliRunner().invoke(app, ["evaluate", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr.endswith(
        f"then run `m5kit evaluate --run {shlex.quote(str(out))}` again\n"), result.stderr
    assert shlex.split(result.stderr.split("`")[1])[-1] == str(out)


def test_a_failed_submission_write_leaves_no_older_submission_beside_the_new_forecast(gbm_run, tmp_path, monkeypatch):
    """predict wrote the new forecast.csv, then failed on submission.csv: the older submission.csv (another forecast's)
    stayed beside it. Now it is removed, and the error names submission.csv."""
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "run"))
    (out / "submission.csv").write_text("id,F1\nan older forecast,1\n")
    full_disk_for(monkeypatch, "submission.csv")
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith(f"error: cannot write {out / 'submission.csv'} (No space"), \
        result.stderr
    assert (out / "forecast.csv").exists() and not (out / "submission.csv").exists()


def test_a_predict_interrupted_while_writing_keeps_the_forecast_and_submission_a_pair(gbm_run, tmp_path, monkeypatch):
    """Ctrl-C (or a kill) while predict wrote submission.csv left the new forecast.csv beside the submission.csv of
    the forecast before (of other days, after the data changed). Both files are written whole before either is
    put in place: the pair stays the older one."""
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "run"))
    older = pd.read_csv(out / "forecast.csv")
    older.assign(forecast=older["forecast"] + 1).to_csv(out / "forecast.csv", index=False)  # another forecast's pair
    (out / "submission.csv").write_text("id,F1\nthe older forecast,1\n")
    before = {name: (out / name).read_bytes() for name in ("forecast.csv", "submission.csv")}
    real = pd.DataFrame.to_csv

    def interrupted(self, path_or_buf=None, **kwargs):
        if "F1" in self.columns:  # the submission, half written
            path_or_buf.write("id,F1\n")
            raise KeyboardInterrupt
        return real(self, path_or_buf, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 130, (result.exit_code, result.stderr)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_after_the_fit_is_one_store_error(m5_dir, tmp_path, monkeypatch):
    """A full disk when the fitted run wrote its forecast was a bare OSError (a traceback in `m5kit train`); now one
    StoreError line saying that the same command again writes it (the groups are stored)."""
    pytest.importorskip("lightgbm")
    from m5kit.errors import StoreError
    from m5kit.runs import prepare_run

    out = tmp_path / "run"
    run = prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2})
    full_disk_for(monkeypatch, "forecast.csv")
    with pytest.raises(StoreError, match=r"^cannot write .*forecast\.csv \(No space left on device\): free disk space or "
                                         r"make the folder writable, then run the same `m5kit train` command again "
                                         r"\(the fitted groups are stored\)$"):
        run.fit()
    monkeypatch.undo()
    result = prepare_run(out, level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2}).fit()
    assert result.n_resumed == result.n_fitted and (out / "submission.csv").exists()


def test_a_data_file_only_touched_is_not_changed_data(m5_dir, tmp_path):
    """A data file touched since training (another modification time, the same bytes: copied, checked out again)
    made predict warn that the data changed and drop scores.csv; it is the same data. The same size with other
    bytes is still a change."""
    pytest.importorskip("lightgbm")
    import os
    import shutil

    from m5kit.runs import prepare_run

    data = Path(shutil.copytree(m5_dir, tmp_path / "m5"))
    out = tmp_path / "run"
    prepare_run(out, level=3, model="lightgbm", data_dir=data, params={"n_estimators": 2}).fit()
    sales = data / "sales_train_validation.csv"
    st = sales.stat()
    os.utime(sales, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert touched.exit_code == 0 and "warning" not in touched.stderr, touched.stderr
    assert (out / "scores.csv").exists()

    prices = data / "sell_prices.csv"
    size, text = prices.stat().st_size, prices.read_text()
    prices.write_text(text[:-2] + ("1" if text[-2] != "1" else "2") + text[-1])  # the last price edited: the same size
    assert prices.stat().st_size == size
    edited = CliRunner().invoke(app, ["predict", "--run", str(out)])
    warning = [line for line in edited.stderr.splitlines() if line.startswith("warning:")]
    assert edited.exit_code == 0 and len(warning) == 1 and warning[0].startswith(
        f"warning: the data in {data} changed since the run was trained (sell_prices.csv: "), edited.stderr


def test_on_short_error_checks_the_groups_once(m5_dir, tmp_path, monkeypatch):
    """prepare_run(on_short="raise") checks every group before the cluster starts; the fit does not check them all
    again (as long again: 30 CPU-s for LightGBM at level 12 on 3,049 series)."""
    pytest.importorskip("lightgbm")
    from m5kit.grouped import GroupedEstimator
    from m5kit.runs import prepare_run

    checked = []
    problems = GroupedEstimator._group_problems

    def counted(self, parts, setup):
        checked.append(len(parts))
        return problems(self, parts, setup)

    monkeypatch.setattr(GroupedEstimator, "_group_problems", counted)
    run = prepare_run(tmp_path / "run", level=3, model="lightgbm", data_dir=m5_dir, params={"n_estimators": 2},
                      on_short="raise")
    before = len(checked)
    assert before >= 1
    result = run.fit(on_short="raise")
    assert len(checked) == before and result.n_fitted == 2 and not result.skipped


def test_predict_without_out_writes_the_run_submission_once(gbm_run, tmp_path, monkeypatch):
    """Without --out, predict wrote <run>/submission.csv twice (the run's own write, then the command's copy), and a
    failure of the second, redundant write said 'give --out a file ...' though no --out was given."""
    import shutil

    out = Path(shutil.copytree(gbm_run, tmp_path / "run"))

    def fails(frame, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("m5kit.runs.write_csv", fails)  # the command's own copy; the run writes its pair atomically
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 0, result.stderr
    assert (out / "submission.csv").exists()


def test_a_second_train_into_a_folder_being_trained_stops_at_once_and_writes_nothing(tmp_path):
    """Two `m5kit train --out R` at once both fitted into R (run.json of one, the model store of the other). While one
    runs, a second one stops with one line naming the folder and the running process, and writes nothing."""
    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    assert_refused_while_held(out, "m5kit train", ["train", "--model", "lightgbm", "--items", "3", "--no-track",
                                                   "--no-report", "--out", str(out)])


def test_a_second_train_stops_before_it_reads_the_data(tmp_path, monkeypatch):
    """A second train into a folder being trained read and checked the whole data first (12 s and 600 MB at M5's size,
    beside the running train) before it said the folder is in use: it stops before reading anything."""
    import m5kit.runs

    out = tmp_path / "run"

    def loaded(config):
        raise AssertionError("the data was read")

    monkeypatch.setattr(m5kit.runs, "_load_data", loaded)
    assert_refused_while_held(out, "m5kit train", ["train", "--model", "lightgbm", "--items", "3", "--no-track",
                                                   "--no-report", "--out", str(out)])


def test_a_train_takes_over_the_lock_of_a_killed_train_and_removes_its_own(tmp_path, caplog):
    """A lock left by a killed train never blocks: the next train takes it over (a warning names it) and, however it
    ends, removes its own."""
    import contextlib
    import json
    import os

    from m5kit.runs import RUN_LOCK, prepare_run

    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    holder = run_holder(out)
    holder.kill()  # -9: it never removes its lock
    holder.communicate()
    assert (out / RUN_LOCK).exists()
    with caplog.at_level("WARNING", logger="m5kit.store"), contextlib.ExitStack() as lock:
        prepare_run(out, level=1, model="lightgbm", items=3, _lock=lock)
        assert json.loads((out / RUN_LOCK).read_text())["pid"] == os.getpid()
    assert f"no longer running (process {holder.pid} on" in caplog.text
    assert not (out / RUN_LOCK).exists()


def test_the_lock_of_a_killed_train_not_yet_reaped_is_taken_over(tmp_path, caplog):
    """A train killed by a script that had not yet waited for it (a zombie process: its pid answers, its process
    runs no more) held its lock: the next train stopped with 'in use by another m5kit train'. It is taken over."""
    import contextlib
    import json
    import os
    import time

    from m5kit.runs import RUN_LOCK, holding

    out = tmp_path / "run"
    holder = run_holder(out)
    holder.kill()  # not reaped until communicate()
    stat = Path(f"/proc/{holder.pid}/stat")
    if not stat.exists():
        holder.communicate()
        pytest.skip("no /proc: a zombie process cannot be told here")
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with caplog.at_level("WARNING", logger="m5kit.store"), contextlib.ExitStack() as lock:
            lock.enter_context(holding(out, "m5kit train"))
            assert json.loads((out / RUN_LOCK).read_text())["pid"] == os.getpid()
    finally:
        holder.communicate()
    assert f"no longer running (process {holder.pid} on" in caplog.text


def test_a_live_lock_whose_process_cannot_be_told_apart_says_how_to_remove_it(tmp_path, monkeypatch):
    """Where a process's start time cannot be read (no /proc: macOS), a lock whose pid another program took since
    its command died looks alive forever, and the refusal said only "wait for it": it now also says to remove the
    lock if no such command runs. Where the start time is read, the refusal stays as it was."""
    import json
    import os
    import socket

    import m5kit.store as store
    from m5kit.runs import RUN_LOCK, refuse_busy
    from m5kit.store import RunLockedError

    out = tmp_path / "run"
    out.mkdir()
    record = {"pid": os.getpid(), "host": socket.gethostname(), "what": "m5kit train", "started": store._started(os.getpid())}
    (out / RUN_LOCK).write_text(json.dumps(record))
    with pytest.raises(RunLockedError) as told:
        refuse_busy(out, "m5kit train")
    assert str(told.value).endswith(": wait for it or pass another --out"), told.value
    monkeypatch.setattr(store, "_started", lambda pid: None)
    with pytest.raises(RunLockedError) as told:
        refuse_busy(out, "m5kit train")
    assert str(told.value).endswith(f": wait for it or pass another --out; if no m5kit train is running, process "
                                    f"{os.getpid()} is another program now: remove {out / RUN_LOCK} and run again"), told.value


def _refused_beside_a_train(out, command: str, call) -> None:
    """``m5kit <command> --run out`` and ``call(out)`` while a train holds ``out``'s lock: one line naming the train
    (the CLI, exit 1) and a RunLockedError (Python); the lock is gone afterwards."""
    import socket

    from m5kit.store import RunLockedError

    holder = run_holder(out)
    try:
        result = CliRunner().invoke(app, [command, "--run", str(out)])
        assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
        line = result.stderr
        assert line.startswith(f"error: {out} is in use by another m5kit train (process {holder.pid} on "
                               f"{socket.gethostname()}, since "), line
        assert line.endswith("): wait for it or give another --run\n") and line.count("\n") == 1, line
        with pytest.raises(RunLockedError, match="in use by another m5kit train"):
            call(out)
    finally:
        holder.kill()
        holder.communicate()
    (out / "run.lock").unlink()


def test_predict_while_a_train_writes_the_run_stops_at_once_naming_the_train(finished):
    """`m5kit predict --run R` while a train wrote R said "unfinished: run the same `m5kit train` command again" (a
    second train into the folder) or served a store being rewritten; now one line names the running train."""
    from m5kit.runs import predict_run

    out, _ = finished
    before = (out / "forecast.csv").read_bytes()
    _refused_beside_a_train(out, "predict", predict_run)
    assert (out / "forecast.csv").read_bytes() == before


def test_report_while_a_train_writes_the_run_stops_at_once_naming_the_train(finished):
    """`m5kit report --run R` while a train wrote R said "R has no forecast.csv: ... run `m5kit train` to the end" (the
    train had removed it) or swapped its report/ in beside the train's own; now one line names the running train."""
    pytest.importorskip("matplotlib")
    from m5kit.report import write_report

    out, _ = finished
    before = sorted(p.name for p in out.iterdir())
    _refused_beside_a_train(out, "report", write_report)
    assert sorted(p.name for p in out.iterdir()) == before
    assert write_report(out).exists() and not (out / "run.lock").exists()


def test_evaluate_while_a_train_writes_the_run_stops_at_once_naming_the_train(finished):
    """`m5kit evaluate --run R` while a train wrote R said "R/forecast.csv does not exist: run `m5kit train` ... first"
    (the train had removed it), or wrote scores.csv between the train's forecast and its own: one line names the
    running train, and scores.csv is left to it."""
    from m5kit.runs import evaluate_run

    out, _ = finished
    before = (out / "scores.csv").read_bytes()
    _refused_beside_a_train(out, "evaluate", evaluate_run)
    assert (out / "scores.csv").read_bytes() == before
    assert len(evaluate_run(out)) == 13 and not (out / "run.lock").exists()


def test_predict_in_a_run_folder_it_cannot_write_says_so_in_one_line(finished, monkeypatch):
    """A run folder where predict cannot write its lock (no permission): one line naming the lock file and the fix."""
    from m5kit import store

    out, _ = finished

    def denied(path, record):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store, "_create_lock", denied)
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 1 and not isinstance(result.exception, Exception), result.exception
    assert result.stderr == (f"error: cannot write the lock file {out / 'run.lock'} (Permission denied): make the "
                             "folder writable, or give another --run\n")


@pytest.mark.parametrize("saved", [0, 1])
def test_predict_of_a_run_whose_refit_on_changed_data_was_killed_is_refused(tmp_path, monkeypatch, saved):
    """The same train command again after the data changed, killed after it refitted one group (or before it stored
    any): predict forecast with that group's new model beside the other's old one (or every old model), without a
    word: run.json already named the new data, so not even the 'data changed' warning. Now one line: the run is
    unfinished, run the same train command again."""
    pytest.importorskip("lightgbm")
    from m5kit.runs import prepare_run
    from m5kit.store import ModelStore

    data_dir, out = tmp_path / "m5", tmp_path / "run"
    write_m5(make_m5(**SMALL), data_dir)
    prepare_run(out, level=3, model="lightgbm", data_dir=data_dir, params={"n_estimators": 2}).fit()
    write_m5(make_m5(**SMALL, seed=1), data_dir, overwrite=True)
    from m5kit.grouped import BaseGrouped

    real, stored = ModelStore.save_group, []

    def killed(self, name, *args, **kwargs):
        if len(stored) == saved:
            raise KeyboardInterrupt
        stored.append(name)
        return real(self, name, *args, **kwargs)

    def killed_fitting(self, tasks, prefix, *args, **kwargs):  # before any group is fitted, so before any is saved
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        if saved:
            patch.setattr(ModelStore, "save_group", killed)
        else:
            patch.setattr(BaseGrouped, "_run", killed_fitting)
        with pytest.raises(KeyboardInterrupt):
            prepare_run(out, level=3, model="lightgbm", data_dir=data_dir, params={"n_estimators": 2}).fit()
    assert len(ModelStore(out / "models").records()) == 2  # the groups of the old data, but for those refitted
    _assert_predict_refused(out, "its last `m5kit train` stopped before the end: run the same `m5kit train` command "
                                 "again to finish it, then predict")


def test_predict_of_a_run_whose_refit_of_a_group_failed_on_changed_data_is_refused(tmp_path, monkeypatch):
    """The same train command again after the data changed, with one group's refit failing: train said 'no forecast is
    written; fix the cause and run again', but predict then forecast that group with its model of the old data,
    without a word. Now one line: the run is unfinished, naming the group."""
    pytest.importorskip("lightgbm")
    import m5kit.grouped._tasks
    from m5kit.grouped import GroupFitError
    from m5kit.runs import prepare_run

    data_dir, out = tmp_path / "m5", tmp_path / "run"
    write_m5(make_m5(**SMALL), data_dir)
    prepare_run(out, level=3, model="lightgbm", data_dir=data_dir, params={"n_estimators": 2}).fit()
    write_m5(make_m5(**SMALL, seed=1), data_dir, overwrite=True)
    real = m5kit.grouped._tasks.fit_group

    def fails(frame, *args):
        if str(frame["group"].iloc[0]) == "CA_2":
            raise RuntimeError("injected failure")
        return real(frame, *args)

    with monkeypatch.context() as patch:
        patch.setattr(m5kit.grouped._tasks, "fit_group", fails)
        with pytest.raises(GroupFitError):
            prepare_run(out, level=3, model="lightgbm", data_dir=data_dir, params={"n_estimators": 2}).fit()
    _assert_predict_refused(out, "its last `m5kit train` failed to fit 1 group(s) (CA_2): fix the cause and run the "
                                 "same `m5kit train` command again, then predict")


def _assert_predict_refused(out, why: str) -> None:
    """`m5kit predict --run out` exits 1 with the one line 'the run in <out> is unfinished: <why>' and writes no
    submission."""
    result = CliRunner().invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 1 and result.stderr == f"error: the run in {out} is unfinished: {why}\n", result.stderr
    assert not (out / "submission.csv").exists()


def test_an_unreadable_run_lock_names_no_command(finished, m5_dir):
    """A run folder whose run.lock cannot be read (garbage): predict said the folder 'holds an m5kit predict lock file'
    and train 'an m5kit train lock file', though nobody knows whose it is (usually a train's). Now both: an m5kit lock
    file, and what to do."""
    out, _ = finished
    lock = out / "run.lock"
    lock.write_text("garbage")
    try:
        result = CliRunner().invoke(app, ["predict", "--run", str(out)])
        assert result.exit_code == 1 and result.stderr == (
            f"error: {out} holds an m5kit lock file that cannot be read ({lock}): if no other run is using the "
            f"folder, remove {lock} and run again, or give another --run\n"), result.stderr
        result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), *TINY])
        assert result.exit_code == 1 and result.stderr == (
            f"error: {out} holds an m5kit lock file that cannot be read ({lock}): if no other run is using the "
            f"folder, remove {lock} and run again, or pass another --out\n"), result.stderr
    finally:
        lock.unlink()


def test_an_unknown_event_type_is_one_warning_line_in_train_and_predict(tmp_path, monkeypatch):
    """An M5 calendar with an event type M5 does not have ('Festival'): train and predict printed Python's two-line
    warning pointing at sklearn/base.py. Now one line each: warning: calendar: event type 'Festival' ..."""
    pytest.importorskip("lightgbm")
    from m5kit.transformers import calendar as calendar_module

    data_dir, out = tmp_path / "m5", tmp_path / "run"
    write_m5(make_m5(**SMALL), data_dir)
    calendar = pd.read_csv(data_dir / "calendar.csv")
    calendar.loc[calendar["event_type_1"].eq("Cultural").idxmax(), "event_type_1"] = "Festival"
    calendar.to_csv(data_dir / "calendar.csv", index=False)
    line = ("warning: calendar: event type 'Festival' is none of M5's Cultural, National, Religious, Sporting: its days "
            "count in the 'event' feature only, in no event_<type> one; to give them one, rename it to one of these "
            "types")
    for args in (["train", "--data-dir", str(data_dir), "--out", str(out), "--model", "lightgbm", "--level", "3",
                  "--param", "n_estimators=2", "--no-track", "--no-report"], ["predict", "--run", str(out)]):
        monkeypatch.setattr(calendar_module, "_WARNED_TYPES", set())
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.stderr
        assert [text for text in result.stderr.splitlines() if "Festival" in text] == [line], result.stderr
        assert "sklearn" not in result.stderr and "UserWarning" not in result.stderr, result.stderr


def test_prepare_run_in_python_beside_a_running_train_stops_at_once(tmp_path):
    """prepare_run(R).fit() in Python took no lock: beside a running `m5kit train --out R` it claimed R and fitted into
    it (run.json, models, forecast of two runs). Now prepare_run stops with the train's RunLockedError line."""
    from m5kit.runs import prepare_run
    from m5kit.store import RunLockedError

    out = tmp_path / "run"
    holder = run_holder(out)
    try:
        with pytest.raises(RunLockedError, match=rf"^{re.escape(str(out))} is in use by another m5kit train \(process "
                                                 rf"{holder.pid} on .*\): wait for it or pass another --out$"):
            prepare_run(out, level=1, model="lightgbm", items=3)
        assert [p.name for p in out.iterdir()] == ["run.lock"]
    finally:
        holder.kill()
        holder.communicate()


def test_a_python_fit_takes_the_run_lock_and_removes_it(tmp_path):
    """Run.fit() of prepare_run wrote into a folder that a train started since held: it stops at once, writing
    nothing; a fit that runs holds run.lock (its own process) and removes it at the end."""
    import os

    from m5kit.runs import RUN_LOCK, prepare_run
    from m5kit.store import RunLockedError

    pytest.importorskip("lightgbm")
    out = tmp_path / "run"
    run = prepare_run(out, level=1, model="lightgbm", items=3, params={"n_estimators": 2})
    holder = run_holder(out)
    try:
        with pytest.raises(RunLockedError, match=rf"in use by another m5kit train \(process {holder.pid} on "):
            run.fit()
        assert [p.name for p in out.iterdir()] == ["run.lock"]
    finally:
        holder.kill()
        holder.communicate()
    seen = []
    run.pipeline = (lambda pipeline: lambda **kw: seen.append(json.loads((out / RUN_LOCK).read_text())["pid"])
                    or pipeline(**kw))(run.pipeline)
    run.fit()
    assert seen == [os.getpid()] and not (out / RUN_LOCK).exists() and (out / "forecast.csv").exists()


def test_train_and_predict_print_long_paths_whole_when_piped(m5_dir, tmp_path):
    """Piped or redirected (no terminal: rich's 80 columns), train's table cut a long --out path ('model store
    /tmp/…/a_rather_long_folder_name_for_the_runs…') and predict's line folded it in two: they are printed whole."""
    pytest.importorskip("lightgbm")
    out = tmp_path / ("a_rather_long_folder_name_for_the_runs_" * 2) / "run"
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, [
        "train", "--data-dir", str(m5_dir), "--model", "lightgbm", "--level", "1", "--param", "n_estimators=2",
        "--no-track", "--no-report", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    lines = [line.strip("│ ") for line in result.stdout.splitlines()]
    assert f"model store    │ {out / 'models'}" in lines and f"forecast       │ {out / 'submission.csv'}" in lines, \
        result.stdout
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["predict", "--run", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"wrote {SMALL['n_items'] * SMALL['n_stores']} forecasts of 28 days to " \
                                             f"{out / 'submission.csv'}", result.stdout


@pytest.mark.parametrize(("trained", "again"), [(139, None), (None, 139)])
def test_a_built_in_run_resumes_with_or_without_items_of_the_default_number(tmp_path, trained, again):
    """A run of the built-in data trained with --items 139 (its default) and run again without --items (or the other
    way) was refused: "holds a different run (items=139)", though it is the same data and run (`m5kit tune` and
    `m5kit blend` take them as the same): it resumes as itself."""
    from dataclasses import asdict, replace

    from m5kit.runs import RUN_FILE, RunConfig, _claim_folder

    config = RunConfig(level=1, model="lightgbm", strategy="direct")
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_FILE).write_text(json.dumps({"format": 1, "config": asdict(replace(config, items=trained))}))
    assert _claim_folder(out, replace(config, items=again), overwrite=False).items == trained
    with pytest.raises(Exception, match=r"holds a different run \(items="):  # another number of items is another run
        _claim_folder(out, replace(config, items=20), overwrite=False)


@pytest.mark.parametrize(("args", "said"), [
    (["--window", "14", "--param", "window=20"], "error: --window 14 and --param window=20 both set the window"),
    (["--epochs", "3", "--param", "groupedestimator__estimator__epochs=5"],
     "error: --epochs 3 and --param groupedestimator__estimator__epochs=5 both set the epochs"),
])
def test_an_option_and_a_param_setting_the_same_value_are_refused(m5_dir, tmp_path, args, said):
    """--window 14 --param window=20 trained with a window of 20 and said nothing of the --window given (the --param
    wins): one line naming both, before anything is written."""
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out), "--level", "3", *args])
    assert result.exit_code == 1 and result.stderr.startswith(said), result.stderr
    assert result.stderr.count("\n") == 1 and "drop one of them" in result.stderr and not out.exists()
    # either alone is the same run's setting, and the default --window beside a --param window is no conflict
    assert "both set" not in CliRunner().invoke(app, ["train", "--data-dir", str(m5_dir), "--out", str(out),
                                                      "--param", "window=20", "--scheduler", "tcp://127.0.0.1:1",
                                                      "--timeout", "1"]).stderr
