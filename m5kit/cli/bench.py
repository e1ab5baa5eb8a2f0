"""``m5kit bench ...``: thin doors to :func:`m5kit.bench.run_benchmark`.

The benchmarks need the ``bench`` extra (matplotlib, joblib, psutil): when
one is missing the command says in one line what to install and exits 1.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from m5kit.cli._util import app, console, fail, home, quiet_dask
from m5kit.errors import M5kitError

bench_app = typer.Typer(
    help="Measure how m5kit's per-group training scales (writes CSV/PNG; optionally updates RESULTS.md).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

_OUTPUT = typer.Option(Path("benchmarks/results"), "--output", "-o", callback=home, help="Folder for the CSV and PNG files.")
_RESULTS = typer.Option(None, "--results", callback=home, help="Update this benchmark's section of this RESULTS.md.")
_REPS = typer.Option(3, "--repetitions", "-r", min=1, help="Runs of each measurement; tables give medians.")
_SEED = typer.Option(0, "--seed", help="Seed of the generated data and the models.")
_QUIET = typer.Option(0.25, "--quiet", help="Before each timed run, wait (up to 3 min) until other processes use fewer "
                      "cores than this; 0 does not wait.")


def _quiet(value: float) -> float | None:
    if not value >= 0:  # NaN too (it was taken as 0: do not wait)
        fail(f"invalid --quiet {value:g}: give a number of cores >= 0 (0: do not wait)")
    return value if value > 0 else None


#: The Keras backends ``m5kit bench backends`` can measure.
_BACKENDS = ("tensorflow", "torch", "jax")


def _backends(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in _BACKENDS]
    if not names or unknown:
        fail(f"invalid --backends {text!r}: give Keras backends among {', '.join(_BACKENDS)}, comma separated")
    return names


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        fail(f"{what} must be whole numbers >= 1 separated by commas, got {text!r}")
    return values


def _run(name: str, output: Path, results: Path | None, **params) -> None:
    from m5kit.bench import run_benchmark

    script = Path(sys.argv[0]) if sys.argv else Path()
    if script.name == "m5kit":
        prefix = ["m5kit"]
    elif script.name == "__main__.py" and script.parent.name == "m5kit":  # python -m m5kit
        prefix = ["python", "-m", "m5kit"]
    else:
        prefix = ["python", str(script)]
    command = shlex.join([*prefix, *sys.argv[1:]])  # as it runs again: quoted where a shell needs it
    quiet_dask()  # the local clusters' INFO lines (start, workers, shutdown) were some 30 lines on stderr
    try:
        _, text = run_benchmark(name, output, results, command=command, **params)
    except M5kitError as exc:  # a missing extra, results to read first, a bad value: one line, exit 1
        fail(str(exc))
    console.print(text, markup=False, highlight=False)
    console.print(f"\nCSV files in {output}" + (f"; section updated in {results}" if results else ""), markup=False)


@bench_app.command("dispatch")
def dispatch_cli(
    tasks: str = typer.Option("1000,10000", "--tasks", help="Numbers of trivial tasks, comma separated."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Worker processes of every pool."),
    methods: str = typer.Option("m5kit,dask-map,joblib,process-pool", "--methods", help="Ways compared."),
    transfer_tasks: int = typer.Option(200, "--transfer-tasks", min=0, help="Tasks that each move a level-11 group frame (0: skip)."),
    transfer_items: int = typer.Option(20, "--transfer-items", min=1, help="Items of the data the group frames come from."),
    repetitions: int = _REPS,
    quiet: float = _QUIET,
    output: Path = _OUTPUT,
    results: Path | None = _RESULTS,
) -> None:
    """Per-task cost of Dask (m5kit and raw client.map), joblib and a process pool, and of moving a group's data."""
    _run("dispatch", output, results, n_tasks=_ints(tasks, "--tasks"), n_workers=workers, repetitions=repetitions,
         methods=[m.strip() for m in methods.split(",") if m.strip()], transfer_tasks=transfer_tasks,
         transfer_items=transfer_items, quiet=_quiet(quiet))


@bench_app.command("scaling")
def scaling_cli(
    level: int = typer.Option(11, "--level", "-l", min=1, max=12, help="M5 level whose groups are fitted."),
    items: int = typer.Option(20, "--items", min=1, help="Items of the generated data (x 10 stores; level 11: x 3 groups)."),
    days: int = typer.Option(1913, "--days", min=60, help="Training days of the generated data."),
    epochs: int = typer.Option(5, "--epochs", min=1, help="Epochs per group (the README's main job uses 5)."),
    workers: str | None = typer.Option(None, "--workers", "-w", help="Worker counts, comma separated (default 1 .. cores)."),
    methods: str = typer.Option("serial,joblib,process-pool,m5kit", "--methods", help="Ways compared."),
    repetitions: int = _REPS,
    seed: int = _SEED,
    quiet: float = _QUIET,
    output: Path = _OUTPUT,
    results: Path | None = _RESULTS,
) -> None:
    """Speedup and efficiency against workers: serial loop, joblib, process pool and m5kit, same groups."""
    _run("scaling", output, results, level=level, n_items=items, n_days=days, epochs=epochs,
         workers=_ints(workers, "--workers") if workers else None, repetitions=repetitions, seed=seed,
         methods=[m.strip() for m in methods.split(",") if m.strip()], quiet=_quiet(quiet))


@bench_app.command("projection")
def projection_cli(
    workers: str = typer.Option("1,2,4,8,16,32,64", "--workers", "-w", help="Worker counts to project."),
    seed: int = typer.Option(0, "--seed", help="Seed of the built-in data whose groups are counted (139 items) and of the sampling of measured durations."),
    output: Path = typer.Option(Path("benchmarks/results"), "--output", "-o", callback=home, help="Folder for the CSV and PNG files; it must hold the CSV files of `m5kit bench scaling` (read as input)."),
    results: Path | None = _RESULTS,
) -> None:
    """Project the measured scaling to more workers (greedy list scheduling of measured durations)."""
    _run("projection", output, results, workers=_ints(workers, "--workers"), seed=seed)


@bench_app.command("fixed-cost")
def fixed_cost_cli(
    items: int = typer.Option(4, "--items", min=1, help="Items of the generated data (x 10 stores)."),
    days: int = typer.Option(1000, "--days", min=60, help="Training days of the generated data."),
    epochs: int = typer.Option(3, "--epochs", min=2, help="Epochs of the long fit (the short one has 1)."),
    groups: int = typer.Option(6, "--groups", min=1, help="Level-11 groups measured."),
    seed: int = _SEED,
    quiet: float = _QUIET,
    output: Path = _OUTPUT,
    results: Path | None = _RESULTS,
) -> None:
    """What a group costs besides its epochs, by phase, and m5kit's fit against bare Keras."""
    _run("fixed-cost", output, results, n_items=items, n_days=days, epochs=epochs, n_groups=groups, seed=seed,
         quiet=_quiet(quiet))


@bench_app.command("backends")
def backends_cli(
    names: str = typer.Option("tensorflow,torch,jax", "--backends", help="Keras backends, comma separated."),
    python: str | None = typer.Option(None, "--python", help="Interpreter whose environment has the backends (default: this one)."),
    items: int = typer.Option(4, "--items", min=1, help="Items of the generated data (x 10 stores)."),
    days: int = typer.Option(1000, "--days", min=60, help="Training days of the generated data."),
    epochs: int = typer.Option(3, "--epochs", min=2, help="Epochs per group."),
    groups: int = typer.Option(6, "--groups", min=1, help="Level-11 groups fitted per backend."),
    seed: int = _SEED,
    quiet: float = _QUIET,
    output: Path = _OUTPUT,
    results: Path | None = _RESULTS,
) -> None:
    """The same per-group fit on each Keras backend, each in its own process, one thread."""
    _run("backends", output, results, names=_backends(names), python=python,
         n_items=items, n_days=days, epochs=epochs, n_groups=groups, seed=seed, quiet=_quiet(quiet))


@bench_app.command("accuracy")
def accuracy_cli(
    levels: str = typer.Option("3,9,11,12", "--levels", help="Training levels, comma separated."),
    items: int = typer.Option(10, "--items", min=1, help="Items of the generated data (x 10 stores)."),
    epochs: int = typer.Option(3, "--epochs", min=1, help="Epochs per group."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Workers of the local Dask cluster."),
    seed: int = _SEED,
    output: Path = _OUTPUT,
    results: Path | None = _RESULTS,
) -> None:
    """WRMSSE on the built-in holdout per training level, for the CNN-LSTM and the baselines."""
    lv = _ints(levels, "--levels")
    if any(v > 12 for v in lv):
        fail(f"--levels must be M5 levels 1-12, got {levels!r}")
    _run("accuracy", output, results, levels=lv, n_items=items, epochs=epochs, n_workers=workers, seed=seed)
