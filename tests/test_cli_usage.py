"""Usage errors and --version of the ``m5kit`` command, under the newest and the oldest typer allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from m5kit.cli._util import run_app

ROOT = Path(__file__).resolve().parents[1]
OLDEST_TYPER = "typer==0.15.*"  # the lower bound of setup.cfg's typer>=0.15,<1

_SCRIPT = """
import sys
from m5kit.cli import app  # registers the commands
from m5kit.cli._util import run_app
import typer
print("typer", typer.__version__, file=sys.stderr)
sys.exit(run_app(sys.argv[1:]))
"""


@pytest.fixture(scope="module", params=["installed", "oldest"])
def typer_path(request, tmp_path_factory) -> str:
    """A folder to put first on sys.path: empty (the installed typer) or the oldest typer allowed."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "oldest":
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--target", str(folder), OLDEST_TYPER], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"cannot install {OLDEST_TYPER}: {done.stderr.strip().splitlines()[-1:]}")
    return str(folder)


def _m5kit(typer_path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([typer_path, str(ROOT)])}
    return subprocess.run([sys.executable, "-c", _SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(("args", "said"), [
    (["train", "--epoch", "5"], "No such option: --epoch"),
    (["trian"], "No such command 'trian'"),
    (["predict"], "Missing option '--run'"),
])
def test_usage_error_prints_short_usage_and_exits_2(typer_path, args, said):
    """A mistyped option or command prints typer's short usage message (no traceback) and exits 2."""
    done = _m5kit(typer_path, *args)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Usage: m5kit" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 6


def test_an_empty_path_option_is_refused_under_either_typer(typer_path, tmp_path):
    """--out "" (an unset variable in --out "$DIR") reached the command as ".", the working folder, which got the
    files; under either typer it is one line, exit 1, and nothing written."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([typer_path, str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, "data", "shapes", "--per-class", "2", "--out", ""],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.splitlines()[-1] == ("error: --out is empty: give a path (. for the "
                                                                      "working folder)"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_mistyped_option_gets_a_hint(typer_path):
    """``--epoch`` is answered with the option it resembles."""
    done = _m5kit(typer_path, "train", "--epoch", "5")
    assert "--epochs" in done.stderr


def test_version(typer_path):
    """``m5kit --version`` prints the package version and exits 0."""
    from m5kit import __version__

    done = _m5kit(typer_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"m5kit {__version__}"
    if Path(typer_path).name.startswith("oldest"):
        assert "typer 0.15." in done.stderr  # the run really used the oldest typer


@pytest.mark.parametrize("command", [["train"], ["predict"], ["evaluate"], ["tune"], ["classify", "train"], ["classify", "serve"], ["classify", "tune"], ["prod2vec", "run"]])
def test_help_gives_no_type_placeholders(command):
    """--help says what to give (N, DIR, ...) and shows flags bare: no <str>, <int> or <bool> on m5kit's own options."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    own = [line for line in result.output.splitlines() if "--" in line and "--help" not in line]
    assert own, result.output
    for placeholder in ("<str>", "<int>", "<bool>", "<float>"):
        assert not [line for line in own if placeholder in line], (placeholder, result.output)


def test_the_command_line_starts_without_the_heavy_libraries():
    """`m5kit --help` and every option check run before scikit-learn, pandas, Dask or a Keras backend is imported
    (they took the command ~2.5 s to start, before it could print its help)."""
    code = ("import sys; from m5kit.cli import app; "
            "print(sorted(m for m in ('sklearn', 'pandas', 'distributed', 'keras', 'tensorflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_python_dash_m_runs_the_command():
    """`python -m m5kit` is the `m5kit` command (for environments whose scripts folder is not on the PATH)."""
    done = subprocess.run([sys.executable, "-m", "m5kit", "trian"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "No such command 'trian'" in done.stderr and "Usage: m5kit" in done.stderr, done.stderr
    done = subprocess.run([sys.executable, "-m", "m5kit", "--version"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.startswith("m5kit "), done.stdout + done.stderr


@pytest.mark.parametrize("command", [["train", "--model", "lightgbm", "--level", "1", "--items", "2"],
                                     ["tune", "--model", "lightgbm", "--level", "1", "--items", "2"],
                                     ["classify", "train", "--train", "{csv}"], ["classify", "tune", "--train", "{csv}"],
                                     ["prod2vec", "run", "--orders", "50", "--min-count", "1"]])
def test_every_command_on_a_scheduler_waits_its_timeout(command, tmp_path):
    """Every command that runs on a --scheduler takes --timeout, the seconds to wait for it (`m5kit prod2vec run`
    had none and `m5kit classify train` none: they waited 30 s for a scheduler out of reach)."""
    import time

    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.datasets.ucr import make_shapes, write_ucr_csv

    write_ucr_csv(tmp_path / "train.csv", *make_shapes(n_per_class=4, length=12, seed=0))
    args = [a.replace("{csv}", str(tmp_path / "train.csv")) for a in command]
    start = time.perf_counter()
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9",
                                      "--timeout", "0.5"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 0.5 s"), result.stderr
    assert time.perf_counter() - start < 25


def _ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(("target", "command", "said"), [
    ("m5kit.report.write_report", ["report", "--run", "{tmp}/run"], "interrupted"),
    ("m5kit.runs.evaluate_run", ["evaluate", "--run", "{tmp}/run"], "interrupted"),
    ("m5kit.runs.blend_runs", ["blend", "{tmp}/a", "{tmp}/b", "--out", "{tmp}/blend"],
     "interrupted: run the same command to make the blend in {tmp}/blend"),
    ("m5kit.datasets.make_m5", ["data", "generate", "--out", "{tmp}/m5"], "interrupted: no file was written to {tmp}/m5"),
    ("m5kit.datasets._write._write_sales", ["data", "generate", "--out", "{tmp}/m5", "--items", "7", "--stores", "1",
                                            "--days", "30"],
     "interrupted: no file was written to {tmp}/m5"),  # the files are put in place only once all are written
    ("m5kit.datasets.ucr.make_shapes", ["data", "shapes", "--out", "{tmp}/shapes"],
     "interrupted: no file was written to {tmp}/shapes"),
    ("m5kit.cli.classify.train_classifier", ["classify", "train", "--train", "{tmp}/t.csv", "--out", "{tmp}/model"],
     "interrupted: {tmp}/model is as it was (the model is saved when training ends); run the same command to train "
     "again"),
    ("m5kit.cli.tune._tune", ["tune", "--out", "{tmp}/search"],
     "interrupted: no trial had finished; run the same command to start again"),
    ("m5kit.cli.classify_tune._tune", ["classify", "tune", "--train", "{tmp}/t.csv", "--out", "{tmp}/search"],
     "interrupted: no trial had finished; run the same command to start again"),
])
def test_ctrl_c_in_any_command_is_one_line_and_exit_130(target, command, said, tmp_path, monkeypatch, capsys):
    """Ctrl-C ended tune, classify train/tune, report, data generate, evaluate and blend with code 130 and nothing
    said; now one line says it was interrupted and, of a command that writes a folder, what the folder keeps."""
    import importlib

    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, _ctrl_c)
    assert run_app([a.replace("{tmp}", str(tmp_path)) for a in command]) == 130
    assert capsys.readouterr().err == said.replace("{tmp}", str(tmp_path)) + "\n"


def test_ctrl_c_in_a_search_says_how_many_finished_trials_are_kept(tmp_path, monkeypatch, capsys):
    """Ctrl-C in `m5kit tune` (or `classify tune`) names the finished trials --out keeps for the same command to
    resume with."""
    pytest.importorskip("optuna")
    import m5kit.cli.tune
    from m5kit.tuning import Float, tune

    sys.path.insert(0, str(Path(__file__).parent))
    import _tuning_objectives as objectives

    tune(objectives.quadratic, {"target": 0.0}, {"x": Float(-1.0, 1.0)}, n_trials=2, out=tmp_path)
    monkeypatch.setattr(m5kit.cli.tune, "_tune", _ctrl_c)
    assert run_app(["tune", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == (f"interrupted: 2 finished trials are kept in {tmp_path}; run the same command "
                                       "to resume\n")


@pytest.mark.parametrize("text, value", [("precise_bn=False", False), ("output_bias=True", True),
                                         ("precise_bn=false", False), ("shuffle=True,False", [True, False])])
def test_param_takes_python_and_json_spellings_of_true_and_false(text, value):
    """--param precise_bn=False, as a scikit-learn user writes it, is the boolean False (it was the text 'False',
    read as true by the model, then refused as not False or True)."""
    from m5kit.cli._util import parse_assignment

    assert parse_assignment(text)[1] == value and type(parse_assignment(text)[1]) is type(value)


def test_readme_command_blocks_give_each_run_its_own_folder():
    """Two commands of one README code block that each start a run or a search go to different folders (the tuning
    block's second search defaulted to the first's m5-runs/tune and the prod2vec block ran both into p2v: refused as
    'holds a different search/run' when run as written)."""
    import re
    import shlex

    import typer

    from m5kit.cli import app

    root = typer.main.get_command(app)
    fences = re.split(r"^```.*$", (ROOT / "README.md").read_text(), flags=re.M)
    for block in fences[1::2]:  # the text between an opening fence and its closing one
        outs: dict[tuple, list] = {}
        for line in block.splitlines():
            if not line.startswith("m5kit "):
                continue
            words = shlex.split(line, comments=True)
            command, path = root, []
            while len(words) > len(path) + 1 and words[len(path) + 1] in getattr(command, "commands", {}):
                command = command.commands[words[len(path) + 1]]
                path.append(command.name)
            out = next((p for p in command.params if "--out" in p.opts), None)
            if out is None:
                continue
            given = [words[i + 1] for i, w in enumerate(words[:-1]) if w in out.opts]
            outs.setdefault(tuple(path), []).append(str(given[-1] if given else out.default))
        for path, folders in outs.items():
            assert len(folders) == len(set(folders)), (path, folders, block)


def test_readme_says_what_pytest_dash_m_selects():
    """Each `pytest -m EXPR` of the README selects what its sentence says: the long tests alone, or every test (it said
    `pytest -m slow` "runs the long tests too", but its -m replaces the configured -m 'not slow': slow tests alone)."""
    import re
    import shlex

    from _pytest.mark.expression import Expression

    said = re.findall(r"`pytest -m ([^`]+)` runs ([^,.;)]+)", (ROOT / "README.md").read_text())
    assert said
    for expression, what in said:
        compiled = Expression.compile(shlex.split(expression)[0])
        slow = compiled.evaluate(lambda name, **kwargs: name == "slow")
        fast = compiled.evaluate(lambda name, **kwargs: False)
        assert slow, (expression, what)
        assert fast == (" too" in what or "every" in what or "all" in what), (expression, what)


def test_train_help_says_what_epochs_is_in_a_pretrained_run():
    """`--epochs` of a pretrained run (levels 11 and 12 by default) is the pretraining's: each group's fine-tune trains
    5 (its help said "maximum training epochs per group", and `--epochs 1` fitted every group for 5)."""
    from typer.testing import CliRunner

    from m5kit.cli import app
    from m5kit.pipeline import FINETUNE_PARAMS

    result = CliRunner(env={"COLUMNS": "1000"}).invoke(app, ["train", "--help"])
    line = next(ln for ln in result.stdout.splitlines() if "--epochs" in ln)
    assert "pretrain" in line and f"fine-tune trains {FINETUNE_PARAMS['epochs']}" in line, line


@pytest.mark.parametrize("args", [
    ["train", "--scheduler", "", "--items", "2"], ["train", "--scheduler="], ["predict", "--scheduler", "", "--run", "R"],
    ["tune", "--scheduler", ""], ["classify", "train", "--scheduler", "", "--train", "t.csv", "--out", "O"],
    ["classify", "tune", "--scheduler", "", "--train", "t.csv", "--valid", "v.csv"], ["prod2vec", "run", "--scheduler", ""],
])
def test_an_empty_scheduler_is_refused_not_a_local_cluster(tmp_path, monkeypatch, args):
    """--scheduler "" (an unset variable in --scheduler "$ADDR") trained on a local cluster without a word: one line."""
    from typer.testing import CliRunner

    from m5kit.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("error: --scheduler is empty: ") and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
