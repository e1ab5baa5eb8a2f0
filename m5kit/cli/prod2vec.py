"""``m5kit prod2vec run``: a thin door to :func:`m5kit.prod2vec.run_prod2vec`."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from m5kit._checks import number, whole
from m5kit.cli._util import SCHEDULER_HINT, TIMEOUT, app, checked, console, fail, filled, home, interrupted, quiet_dask
from m5kit.errors import M5kitError

prod2vec_app = typer.Typer(help="Product embeddings (prod2vec) from order baskets.", no_args_is_help=True)
app.add_typer(prod2vec_app, name="prod2vec")


@prod2vec_app.command("run")
def run_cli(
    data_dir: Path | None = typer.Option(None, "--data-dir", "-d", metavar="DIR", callback=home, help="Folder with Instacart's CSV files (orders.csv, order_products__prior.csv, products.csv, aisles.csv, departments.csv). Default: generated baskets."),
    out: Path = typer.Option(Path("prod2vec-runs/run"), "--out", "-o", metavar="DIR", callback=home, help="Run folder; the same command again resumes after the last finished step (a run that stopped before tuning or training may be run again there with other options; a run that trained may not). One run at a time: while a run is running, another one into the same folder stops at once."),
    orders: str = typer.Option("100000", "--orders", metavar="N", callback=checked(whole, "--orders"), help="Orders of the generated baskets (without --data-dir)."),
    embedding_dim: str = typer.Option("100", "--embedding-dim", metavar="N", callback=checked(whole, "--embedding-dim"), help="Length of each product vector (with --tune: searched over 100-500 instead)."),
    negatives: str = typer.Option("5", "--negatives", metavar="N", callback=checked(whole, "--negatives"), help="Negative samples per genuine pair."),
    lr: str = typer.Option("0.025", "--lr", metavar="RATE", callback=checked(number, "--lr"), help="SGD's starting learning rate per pair (word2vec's alpha; falls linearly to 1e-4 of it). With --tune: searched over 0.005-0.1 instead."),
    epochs: str = typer.Option("3", "--epochs", metavar="N", callback=checked(whole, "--epochs"), help="Passes over the baskets."),
    batch_size: str = typer.Option("1024", "--batch-size", metavar="N", callback=checked(whole, "--batch-size"), help="Genuine pairs per training step."),
    min_count: str = typer.Option("5", "--min-count", metavar="N", callback=checked(whole, "--min-count"), help="Leave out products bought fewer times."),
    tune: bool = typer.Option(False, "--tune/--no-tune", metavar="", help="Tune the embedding size (100-500) and learning rate with a Bayesian search first."),
    trials: str = typer.Option("10", "--trials", metavar="N", callback=checked(whole, "--trials"), help="Trials of the search (with --tune)."),
    workers: str | None = typer.Option(None, "--workers", "-w", metavar="N", callback=checked(whole, "number of workers"), help="Run the steps and trials on a local Dask cluster of N workers (with --scheduler: N trials at a time; default: one per worker of the scheduler). Default: in this process."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDR", callback=filled(SCHEDULER_HINT), help="Address of an existing Dask scheduler (tcp://host:8786) to use instead of a local cluster (--workers then sets only the trials at a time)."),
    timeout: str = TIMEOUT,
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "seed", minimum=0), help="Seed of the generated data, the sampler and the model."),
) -> None:
    """Learn product vectors from baskets: pre-process, check, (tune), train, extract.

    Writes the embeddings (CSV and Parquet, with product names), each
    product's nearest neighbours, the data-quality report and, with --tune,
    the trials and plots of the search into --out.

    Ctrl-C stops it, keeping the finished steps' outputs: the same command
    resumes after them.

    While it runs, --out holds prod2vec.lock (this run's host and process
    id): a second run into the same folder stops with exit code 1 and
    changes nothing. The lock is removed when the run ends; one left by a
    run that was killed is taken over by the next run on the same host.
    """
    from m5kit.execution.cluster import open_client
    from m5kit.prod2vec import P2VConfig, check_out, run_prod2vec

    config = P2VConfig(data_dir=str(data_dir) if data_dir else None, n_orders=orders, seed=seed,
                       embedding_dim=embedding_dim, negatives=negatives, lr=lr, epochs=epochs, batch_size=batch_size,
                       min_count=min_count, tune=tune, trials=trials)
    try:
        if workers is None and scheduler is None:
            result = run_prod2vec(config, out, progress=True)
        else:
            check_out(out, config)  # before a cluster starts (seconds, and a dashboard line, for a folder it cannot use)
            quiet_dask()
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)  # the link says which
                    with open_client(n_workers=None if scheduler else workers, scheduler=scheduler, timeout=timeout) as client:
                        console.print(f"Dask dashboard: [link]{client.dashboard_link}[/link]")
                        # a scheduler's trials in flight: one per worker it has (unless --workers says)
                        n_parallel = workers or max(1, len(client.nthreads()))  # every worker (scheduler_info(n_workers=...) needs distributed 2025.4)
                        result = run_prod2vec(config, out, client=client, n_parallel=n_parallel, progress=True)
            finally:  # the local cluster is closed as the command exits: its "lose scattered data" ERROR is no news
                logging.getLogger("distributed").setLevel(logging.CRITICAL)
    except M5kitError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        _interrupted(out)
    table = Table(title=escape(f"prod2vec run {out}"), show_header=False, title_justify="left")
    q = result["quality"]
    warned = "; ".join(f"{w['check']}: {w['rows']:,}" for w in q["warnings"])  # how many, and where they are named
    rows = {"steps run": ", ".join(result["steps"]["ran"]) or "none",
            "already done": ", ".join(result["steps"]["already done"]) or "none",
            "baskets": f"{q['orders']:,} orders, {q['rows']:,} rows, {q['mean_basket']:.1f} products each",
            "vocabulary": f"{q['vocabulary']:,} products",
            "warnings": f"{warned} (see {out / '02_quality' / 'report.json'})" if warned else "none",
            **({"tuned": ", ".join(f"{k}={v:.4g}" for k, v in result["best"].items())} if result["best"] else {}),
            **{f"file ({k})": v for k, v in result["files"].items()}}
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(key, escape(str(value)))  # a path's "[v2]" is no style
    console.print(table)


def _interrupted(out: Path) -> None:
    """Ctrl-C: one line saying which steps the run folder keeps and how to resume (typer would exit silently)."""
    from m5kit.prod2vec import finished_steps

    kept = finished_steps(out)
    interrupted(f"the finished steps ({', '.join(kept)}) are kept in {out}; run the same command to resume" if kept
                else "no step had finished; run the same command to start again")
