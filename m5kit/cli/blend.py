"""``m5kit blend``: the mean of finished runs' forecasts, scored next to each run and the baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from m5kit.cli._util import app, console, fail, home, interrupted, print_whole, warning_lines
from m5kit.errors import M5kitError


def _weights(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{value!r}: give numbers separated by commas, one per run, e.g. 1,1") from None


@app.command("blend")
def blend_cli(
    runs: list[Path] = typer.Argument(..., metavar="RUN", callback=home, help="Run folders written by `m5kit train` (their --out), on the same data."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", callback=home, help="New or empty folder for the blend: forecast.csv, submission.csv, scores.csv, blend.json."),
    weights: str | None = typer.Option(None, "--weights", metavar="W,W,...", help="One weight per run, e.g. 2,1. Default: equal weights."),
) -> None:
    """Average the forecasts of finished runs (any models, levels or strategies) and score the mean.

    As the M5 winners averaged models per store and per store and
    department: on the real store CA_1 the mean of `m5kit train --model
    lightgbm --level 3` and `--level 9 --strategy blend` was 14.3% below
    AutoETS over four 28-day windows (each alone 9.4% and 11.3%). The runs must
    be on the same data (data folder, --items, built-in --seed). With the
    true future known, WRMSSE per level of each run, the blend and the
    baselines goes to scores.csv.
    """
    from m5kit.cli.train import scores_table
    from m5kit.runs import DataChangedWarning, blend_runs

    try:
        w = _weights(weights)
    except typer.BadParameter as exc:
        fail(f"--weights {exc}")
    try:
        with warning_lines(DataChangedWarning):
            scores = blend_runs(runs, out, weights=w)
    except M5kitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # the blend's files are written last, each whole: the command writes them again
        interrupted(f"run the same command to make the blend in {out}")
    if scores is None:
        console.print(f"no known future days to score against: the blended forecast is in {out / 'forecast.csv'}",
                      markup=False, soft_wrap=True)
    else:
        print_whole(scores_table(scores, f"WRMSSE of the blend of {len(runs)} runs (lower is better; best in bold)"))
        console.print(f"written to {out}: forecast.csv, submission.csv, scores.csv", markup=False, soft_wrap=True)
