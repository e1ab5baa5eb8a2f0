"""`m5kit blend`: the mean of finished runs' forecasts, scored next to each run and the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from m5kit.cli import app
from m5kit.datasets import make_m5, write_m5
from _disk import full_disk_as_begun, full_disk_for

pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, dask_client):
    """LightGBM per store and per store and department (a blend of two ways), on the same tiny data."""
    m5_dir = write_m5(make_m5(n_items=3, n_stores=2, n_days=150), tmp_path_factory.mktemp("m5"))
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for name, args in (("r3", ["--level", "3"]), ("r9", ["--level", "9", "--strategy", "blend"])):
        out = root / name
        result = CliRunner().invoke(app, ["train", "--model", "lightgbm", "--data-dir", str(m5_dir), "--out", str(out),
                                          *args, "--scheduler", dask_client.scheduler.address, "--no-track"])
        assert result.exit_code == 0, result.stderr
        runs.append(out)
    return m5_dir, runs


def _values(path: Path) -> pd.Series:
    return pd.read_csv(path).set_index(["id", "d"])["forecast"].sort_index()


def test_blend_writes_the_mean_forecast_and_scores_it_beside_each_run(two_runs, tmp_path):
    """forecast.csv is each series' and day's mean of the runs'; scores.csv has each run, the blend and the baselines."""
    _, (r3, r9) = two_runs
    out = tmp_path / "blend"
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    expected = (_values(r3 / "forecast.csv") + _values(r9 / "forecast.csv")) / 2
    pd.testing.assert_series_equal(_values(out / "forecast.csv"), expected, check_exact=False, rtol=1e-9)
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission.columns) == ["id", *[f"F{h}" for h in range(1, 29)]]
    assert len(submission) == len(pd.read_csv(r3 / "submission.csv"))
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["level", "r3: LightGBM (m5kit), level 3", "r9: LightGBM (m5kit), level 9",
                                    "blend (m5kit)", "Naive", "Seasonal naive", "Moving average (28)"]
    assert scores["level"].astype(str).tolist() == [*map(str, range(1, 13)), "all"]
    # each run's column is the score its own evaluate wrote
    own = pd.read_csv(r3 / "scores.csv")
    np.testing.assert_allclose(scores.iloc[:, 1], own.iloc[:, 1])
    assert "WRMSSE of the blend of 2 runs" in result.stdout
    assert json.loads((out / "blend.json").read_text()) == {"runs": [str(r3.resolve()), str(r9.resolve())], "weights": None}


def test_blend_with_weights_and_again_in_the_same_folder(two_runs, tmp_path):
    """--weights 3,1 weighs the first run 3 times the second; running again replaces the blend."""
    _, (r3, r9) = two_runs
    out = tmp_path / "blend"
    assert CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out)]).exit_code == 0
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out), "--weights", "3,1"])
    assert result.exit_code == 0, result.stderr
    expected = (3 * _values(r3 / "forecast.csv") + _values(r9 / "forecast.csv")) / 4
    pd.testing.assert_series_equal(_values(out / "forecast.csv"), expected, check_exact=False, rtol=1e-9)
    assert json.loads((out / "blend.json").read_text())["weights"] == [3.0, 1.0]
    for args in (["evaluate", "--run", str(out)], ["report", "--run", str(out)],  # a blend folder given as a run
                 ["blend", str(r3), str(out), "--out", str(tmp_path / "again")]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and result.stderr == (  # it was "holds no m5kit run (no run.json)"
            f"error: {out} is the output of `m5kit blend`, not a run (its submission.csv and scores.csv are there): "
            "give the --out folder of `m5kit train`\n"), (args, result.stderr)


def test_a_blend_that_fails_to_write_is_one_line_and_keeps_nothing_of_the_older_blend(two_runs, tmp_path,
                                                                                     monkeypatch):
    """A full disk while a blend replaced an older one: an OSError traceback, and the new blend.json and forecast.csv
    beside the older blend's submission.csv and scores.csv. Now one line naming the folder, and the same command again
    writes the blend."""

    _, (r3, r9) = two_runs
    out = tmp_path / "blend"
    assert CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out)]).exit_code == 0
    command = ["blend", str(r3), str(r9), "--out", str(out), "--weights", "3,1"]
    with monkeypatch.context() as patch:
        full_disk_for(patch, "submission.csv")
        result = CliRunner().invoke(app, command)
    assert result.exit_code == 1 and result.stderr == (
        f"error: cannot write the blend in {out} (No space left on device): free disk space or make the folder "
        "writable, then run the same `m5kit blend` command again\n"), (result.exit_code, result.stderr)
    assert sorted(p.name for p in out.iterdir()) == ["blend.json", "forecast.csv", "scores.csv", "submission.csv"]
    assert CliRunner().invoke(app, command).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["blend.json", "forecast.csv", "scores.csv", "submission.csv"]


def test_a_blend_that_fails_to_write_keeps_the_older_blend_whole(two_runs, tmp_path, monkeypatch):
    """A full disk while a blend replaced an older one left only the new blend.json and forecast.csv (the older
    blend's files were removed first); now the older blend stays, every file as it was."""
    _, (r3, r9) = two_runs
    out = tmp_path / "blend"
    assert CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    full_disk_as_begun(monkeypatch, "submission.csv")  # as the new submission.csv is begun
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out), "--weights", "3,1"])
    monkeypatch.undo()
    assert result.exit_code == 1 and "No space left on device" in result.stderr, result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_blend_bad_input_is_one_line_and_writes_nothing(two_runs, tmp_path, dask_client):
    """One run, a run as --out, bad weights, a folder that is no run, runs of different data: exit 1, one line."""
    m5_dir, (r3, r9) = two_runs
    other = tmp_path / "other"  # the same files, fewer items: other series
    result = CliRunner().invoke(app, ["train", "--model", "lightgbm", "--data-dir", str(m5_dir), "--items", "1",
                                      "--level", "3", "--out", str(other), "--scheduler", dask_client.scheduler.address,
                                      "--no-track"])
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "blend"
    cases = {
        (str(r3),): "blend needs at least two runs, got 1",
        (str(r3), str(r9), "--weights", "1"): "1 weight(s) for 2 runs: give one weight per run",
        (str(r3), str(r9), "--weights", "1,x"): "--weights '1,x': give numbers separated by commas",
        (str(r3), str(r9), "--weights", "0,0"): "weights must be finite, >= 0 and not all 0",
        (str(r3), str(tmp_path)): "holds no m5kit run (no run.json)",
        (str(r3), str(other)): "were trained on different data (their items differs)",
        (str(r3), str(r3) + "/"): f"the run {r3} is given twice: blend different runs (--weights weighs one run more)",
    }
    for args, message in cases.items():
        result = CliRunner().invoke(app, ["blend", *args, "--out", str(out)])
        assert result.exit_code == 1, (args, result.stdout)
        assert result.stderr.count("\n") == 1 and message in result.stderr, (args, result.stderr)
        assert not out.exists(), args
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(other)])
    assert result.exit_code == 1 and "holds an m5kit run" in result.stderr
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(other / "run.json" / "blend")])
    assert result.exit_code == 1 and result.stderr == (  # was a NotADirectoryError traceback
        f"error: cannot make the blend folder {other / 'run.json' / 'blend'}: {other / 'run.json'} is a file, not a "
        "folder: give --out a folder path\n"), result.stderr
    assert not (other / "blend.json").exists()


@pytest.fixture
def appended_runs(tmp_path):
    """Two LightGBM runs (levels 3 and 2, trained in-process as `m5kit train` does), then a week appended to their data."""
    from m5kit.runs import prepare_run

    small = {"n_items": 2, "n_stores": 2, "n_days": 150}
    data = write_m5(make_m5(**small), tmp_path / "m5")
    runs = []
    for level in (3, 2):
        out = tmp_path / f"r{level}"
        prepare_run(out, level=level, model="lightgbm", data_dir=data, params={"n_estimators": 5}).fit()
        runs.append(out)
    write_m5(make_m5(**{**small, "n_days": small["n_days"] + 7}), data, overwrite=True)
    return data, runs


def test_blend_of_runs_whose_data_changed_warns_in_one_line(appended_runs, tmp_path):
    """Runs predicted again after their data got a week more: the blend is written, with one warning line naming the
    runs and the changed files, as predict and evaluate say (blend said nothing)."""
    data, (r3, r2) = appended_runs
    for run in (r3, r2):
        assert CliRunner().invoke(app, ["predict", "--run", str(run)]).exit_code == 0
    out = tmp_path / "blend"
    result = CliRunner().invoke(app, ["blend", str(r3), str(r2), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (f"warning: the data in {data} changed since {r3}, {r2} were trained (calendar.csv, "
                             "sell_prices.csv, sales_train_validation.csv, sales_train_evaluation.csv: size or "
                             "content differ): the blend is made and scored with the data as it is now; run "
                             "the same `m5kit train` commands again to refit\n"), result.stderr
    assert (out / "scores.csv").exists()


def test_blend_of_forecasts_of_other_days_names_the_run_to_predict_again(appended_runs, tmp_path):
    """After a week was appended to the data, a run still holding its old forecast is named with the fix (`m5kit
    predict --run` it); it was 'forecast covers d_151..d_178 but the truth covers d_158..d_185: forecast exactly those
    days', or 'forecast 2 covers ..., forecast 1 ...' without saying which run. Nothing is written."""
    data, (r3, r2) = appended_runs
    out = tmp_path / "blend"
    assert CliRunner().invoke(app, ["predict", "--run", str(r3)]).exit_code == 0
    result = CliRunner().invoke(app, ["blend", str(r3), str(r2), "--out", str(out)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {r2 / 'forecast.csv'} forecasts d_151..d_178 but the data in {data} knows "
                                    "the sales of d_158..d_185 (it changed since the run was trained: "), result.stderr
    assert f"run `m5kit predict --run {r2}`" in result.stderr
    assert not out.exists()

    (data / "sales_train_evaluation.csv").unlink()  # no known future: the two forecasts are compared with each other
    result = CliRunner().invoke(app, ["blend", str(r3), str(r2), "--out", str(out)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == (f"error: {r2 / 'forecast.csv'} forecasts d_151..d_178 but {r3 / 'forecast.csv'} forecasts "
                             "d_158..d_185: run `m5kit predict --run` for each run on the data as it is now, then blend "
                             "them\n"), result.stderr
    assert not out.exists()


@pytest.mark.parametrize("weights, said", [("0,0", "got 0,0"), ("nan,1", "got nan,1"), ("1e400,1", "got inf,1"),
                                           ("2,-1", "got 2,-1")])
def test_blend_bad_weights_are_shown_as_typed_numbers(weights, said):
    """`m5kit blend --weights 0,0` said "got [np.float64(0.0), np.float64(0.0)]" (NumPy's repr): the weights are
    shown as numbers, with what to give."""
    import pandas as pd

    from m5kit.errors import ParamError
    from m5kit.forecasting.submission import mean_forecast

    forecast = pd.DataFrame({"id": ["a", "a"], "d": ["d_11", "d_12"], "forecast": [1.0, 2.0]})
    with pytest.raises(ParamError) as caught:
        mean_forecast([forecast, forecast], weights=[float(w) for w in weights.split(",")])
    assert str(caught.value) == (f"weights must be finite, >= 0 and not all 0, {said}: give one weight >= 0 per "
                                 "forecast, at least one of them > 0")


@pytest.mark.parametrize("kwargs, said", [
    # the text was counted letter by letter: "3 weight(s) for 2 runs"
    ({"runs": ["r1", "r2"], "weights": "1,2"}, "invalid weights '1,2': give one number >= 0 per run as a list, e.g. [1, 1]"),
    ({"runs": ["r1", "r2"], "weights": 2}, "invalid weights 2: give one number >= 0 per run as a list, e.g. [1, 1]"),
    # "blend needs at least two runs, got 2" (its letters) / a bare TypeError (a Path is not iterable)
    ({"runs": "r1"}, "invalid runs 'r1': give a list of at least two run folders"),
    ({"runs": Path("r1")}, "invalid runs 'r1': give a list of at least two run folders"),
])
def test_blend_runs_text_for_a_list_is_one_param_error(kwargs, said, tmp_path):
    """blend_runs(weights="1,2") or runs="r1" (text where a list is expected) is one ParamError naming it."""
    from m5kit.errors import ParamError
    from m5kit.runs import blend_runs

    kwargs = dict(kwargs)
    with pytest.raises(ParamError) as caught:
        blend_runs(kwargs.pop("runs"), tmp_path / "blend", **kwargs)
    assert str(caught.value) == said
    assert not (tmp_path / "blend").exists()


@pytest.mark.parametrize("weights, said", [
    ([0, 0], "weights must be finite, >= 0 and not all 0, got 0,0: give one weight >= 0 per run, at least one of them "
             "> 0"),
    ([2, -1], "weights must be finite, >= 0 and not all 0, got 2,-1: give one weight >= 0 per run, at least one of "
              "them > 0"),
    (["a", 1], "weights must be numbers, got ['a', 1]"),
])
def test_blend_runs_checks_the_weights_before_reading_any_run(weights, said, tmp_path):
    """blend_runs(weights=[0, 0]) read every run and the data before mean_forecast refused the weights, 'per
    forecast': one ParamError first, per run (the runs here do not even exist)."""
    from m5kit.errors import ParamError
    from m5kit.runs import blend_runs

    with pytest.raises(ParamError) as caught:
        blend_runs([tmp_path / "r1", tmp_path / "r2"], tmp_path / "blend", weights=weights)
    assert str(caught.value) == said
    assert not (tmp_path / "blend").exists()


def test_built_in_runs_of_the_default_items_and_of_items_139_are_the_same_data(tmp_path):
    """`m5kit train` (139 items of the built-in data by default) and `m5kit train --items 139` were refused as
    'trained on different data (their items differs)'."""
    from m5kit.errors import DataError, StoreError
    from m5kit.runs import blend_runs

    runs = []
    for name, items in (("default", None), ("explicit", 139)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"config": {"level": 3, "model": "lightgbm",
                                                                          "items": items, "strategy": "direct"}}))
        runs.append(tmp_path / name)
    # past the data check: what is missing now is the forecast (the runs were never trained)
    with pytest.raises(StoreError, match="forecast.csv does not exist"):
        blend_runs(runs, tmp_path / "blend")
    (tmp_path / "explicit" / "run.json").write_text(json.dumps({"config": {"level": 3, "model": "lightgbm",
                                                                            "items": 138, "strategy": "direct"}}))
    with pytest.raises(DataError, match=r"trained on different data \(their items differs\)"):
        blend_runs(runs, tmp_path / "blend")
    assert not (tmp_path / "blend").exists()


def test_forecast_with_nan_names_the_run_file_to_predict_again(tmp_path):
    """A run's forecast.csv holding NaN is named, with its run and the fix, by evaluate and blend (they said
    'forecast (2) has 1 NaN or infinite values ...' without the file). Nothing is written."""
    from m5kit.runs import prepare_run

    data = write_m5(make_m5(n_items=2, n_stores=2, n_days=150), tmp_path / "m5")
    runs = []
    for level in (3, 2):
        out = tmp_path / f"r{level}"
        prepare_run(out, level=level, model="lightgbm", data_dir=data, params={"n_estimators": 5}).fit()
        runs.append(out)
    r3, r2 = runs
    forecast = pd.read_csv(r2 / "forecast.csv")
    forecast.loc[3, "forecast"] = np.nan
    forecast.to_csv(r2 / "forecast.csv", index=False)
    said = (f"error: {r2 / 'forecast.csv'} has 1 NaN or infinite forecast(s) (first: id {forecast.at[3, 'id']!r}, "
            f"{forecast.at[3, 'd']}): run `m5kit predict --run {r2}` to forecast again\n")
    result = CliRunner().invoke(app, ["evaluate", "--run", str(r2)])
    assert result.exit_code == 1 and result.stderr == said, result.stderr
    out = tmp_path / "blend"
    result = CliRunner().invoke(app, ["blend", str(r3), str(r2), "--out", str(out)])
    assert result.exit_code == 1 and result.stderr == said, result.stderr
    assert not out.exists()


def test_a_folder_holding_only_a_killed_writes_temp_file_takes_the_blend(two_runs, tmp_path):
    """A blend killed as it wrote its first file leaves only a hidden .blend.json.<random>.tmp: the same command was
    refused ('is not empty and holds no blend'), as train and tune are not; now it blends and removes the file."""
    _, (r3, r9) = two_runs
    out = tmp_path / "blend"
    out.mkdir()
    (out / ".blend.json.x1y2z3ab.tmp").write_text("{")
    result = CliRunner().invoke(app, ["blend", str(r3), str(r9), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert (out / "forecast.csv").exists() and not (out / ".blend.json.x1y2z3ab.tmp").exists()
