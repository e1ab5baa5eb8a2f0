"""``m5kit report`` and ``m5kit runs``: look at a run, and compare the recorded runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from m5kit._checks import whole
from m5kit.cli._util import URI_HINT, app, checked, console, fail, filled, home, warning_lines
from m5kit.errors import M5kitError


@app.command("report")
def report_cli(
    run: Path = typer.Option(..., "--run", "-r", metavar="DIR", callback=home, help="Run folder written by `m5kit train` (its --out)."),
) -> None:
    """Write report.html with PNG plots of a finished run into <run>/report.

    WRMSSE per level for the model and each baseline, forecasts against the
    truth for the best, median and worst series, loss curves of the slowest
    and worst groups, group seconds and workers' busy time, and the training
    monitor's findings.
    """
    from m5kit.report import write_report
    from m5kit.runs import DataChangedWarning

    try:
        with warning_lines(DataChangedWarning):
            path = write_report(run)
    except M5kitError as exc:
        fail(str(exc))
    console.print(f"wrote {path}", markup=False)


@app.command("runs")
def runs_cli(
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", metavar="URI", callback=filled(URI_HINT), help="The tracking store. Default: sqlite:///<current folder>/m5-runs/mlruns/mlflow.db (beside `m5kit train`'s default --out)."),
    last: str = typer.Option("20", "--last", metavar="N", callback=checked(whole, "--last"), help="Show the N newest runs."),
) -> None:
    """List the recorded runs side by side: model, level, strategy, epochs, data, WRMSSE, wall time.

    `mlflow ui --backend-store-uri <the same URI>` shows the same records.
    """
    from m5kit.tracking import default_uri, list_runs

    uri = tracking_uri or default_uri(Path("m5-runs") / "run")
    try:
        runs = list_runs(uri, max_runs=last)
    except M5kitError as exc:
        fail(str(exc))
    if runs.empty:
        console.print(f"no run recorded in {uri} yet: `m5kit train` records one when mlflow is installed", markup=False)
        return
    table = Table(title=escape(f"recorded runs ({uri})"), title_justify="left")  # a path's "[v2]" is no style
    for column in runs.columns:
        table.add_column(column, justify="right" if column in ("WRMSSE", "wall s", "level", "epochs") else "left",
                         overflow="fold")
    digits = {"WRMSSE": 4, "wall s": 1}
    for row in runs.itertuples(index=False):
        table.add_row(*("-" if v is None or v != v else f"{v:.{digits.get(c, 3)}f}" if isinstance(v, float) else escape(str(v))
                        for c, v in zip(runs.columns, row)))  # a data folder's "[v2]" is no style
    console.print(table)
