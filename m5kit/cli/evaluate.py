"""``m5kit evaluate``: WRMSSE of a run next to the baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from m5kit.cli._util import app, console, fail, home, print_whole, warning_lines
from m5kit.errors import M5kitError


@app.command("evaluate")
def evaluate_cli(
    run: Path = typer.Option(..., "--run", "-r", metavar="DIR", callback=home, help="Run folder written by `m5kit train` (its --out)."),
) -> None:
    """Score a run's forecast with M5's WRMSSE, overall and per level 1-12.

    The baselines Naive, seasonal Naive (7 days) and the 28-day moving
    average are scored on the same days. Needs the true sales of the
    forecast days: built-in data, or M5 folders with both sales files.
    """
    from m5kit.cli.train import scores_table
    from m5kit.runs import DataChangedWarning, evaluate_run

    try:
        with warning_lines(DataChangedWarning):
            scores = evaluate_run(run)
    except M5kitError as exc:
        fail(str(exc))
    print_whole(scores_table(scores, f"WRMSSE of {run} (lower is better; best in bold)"))
    console.print(f"written to {run / 'scores.csv'}", markup=False, soft_wrap=True)
