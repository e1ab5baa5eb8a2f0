"""``m5kit data generate``, ``m5kit data shapes`` and ``m5kit levels``: thin doors to :mod:`m5kit.datasets`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from m5kit._checks import number, whole
from m5kit.cli._util import app, checked, console, data_app, fail, home, interrupted
from m5kit.errors import M5kitError


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def _days(value) -> int:
    """--days: a whole number up to the last that leaves M5's weeks rising (to 2099; the generator is imported when it is read)."""
    from m5kit.datasets._generate import DAYS_MAX

    return whole(value, "--days", maximum=DAYS_MAX, text=True)


@data_app.command("generate")
def generate_cli(
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", callback=home, help="Folder to write the M5 CSV files into (created if missing)."),
    items: str = typer.Option("139", "--items", metavar="N", callback=checked(whole, "--items"), help="Items, spread over M5's 7 departments (the full M5 has 3049)."),
    stores: str = typer.Option("10", "--stores", metavar="N", callback=checked(whole, "--stores", maximum=10), help="Stores: the first N of CA_1-4, TX_1-3, WI_1-3 (1-10)."),
    days: str = typer.Option("1913", "--days", metavar="N", callback=checked(_days), help="Training days from d_1 = 2011-01-29; the next 28 days go to sales_train_evaluation.csv."),
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "--seed", minimum=0), help="Random seed: the same seed writes the same files."),
    overwrite: bool = typer.Option(False, "--overwrite", metavar="", help="Replace M5 files already in --out."),
) -> None:
    """Generate M5-shaped data and write it as M5's CSV files.

    Writes calendar.csv, sell_prices.csv, sales_train_validation.csv (the
    training days) and sales_train_evaluation.csv (plus the 28 holdout days),
    which `m5kit train --data-dir` and `load_m5` read like the real M5.
    """
    from m5kit.datasets import make_m5, write_m5
    from m5kit.datasets._write import check_target

    n_items, n_stores, n_days, n_seed = int(items), int(stores), int(days), int(seed)  # checked by their callbacks
    before = _m5_files(out)
    try:
        check_target(out, overwrite)  # before generating: a refusal must not cost the generation
        with console.status("generating"):
            data = make_m5(n_items=n_items, n_stores=n_stores, n_days=n_days, seed=n_seed)
        with console.status(f"writing to {out}"):
            folder = write_m5(data, out, overwrite=overwrite)
    except M5kitError as exc:
        fail(str(exc))
    except OSError as exc:  # a full disk, a folder without write permission: each file is written whole or not at all
        written = _written(out, before)
        fail(f"cannot write the M5 files to {out} ({exc.strerror or exc}): free some space or choose a folder you can "
             "write to" + (f", then run the same command with --overwrite ({', '.join(written)} "
                           f"{'was' if len(written) == 1 else 'were'} written)" if written else ""))
    except KeyboardInterrupt:
        _interrupted(out, before)
    table = Table(title=escape(f"M5-shaped data in {folder}"), title_justify="left")  # "[v2]" is no style
    for column in ("file", "rows", "columns", "size"):
        table.add_column(column, justify="left" if column == "file" else "right")
    shapes = {
        "calendar.csv": data.calendar.shape,
        "sell_prices.csv": data.prices.shape,
        "sales_train_validation.csv": data.sales.shape,
        "sales_train_evaluation.csv": (data.n_series, data.sales.shape[1] + data.future.shape[1] - 1),
    }
    for name, (rows, cols) in shapes.items():
        table.add_row(name, f"{rows:,}", f"{cols:,}", _size(folder / name))
    console.print(table)
    console.print(f"{n_items} items x {n_stores} stores = {data.n_series:,} series, "
                  f"{n_days} training days + 28 holdout days, seed {n_seed}")


def _m5_files(out: Path) -> dict:
    """Size and modification time of each M5 file in ``out`` (None for a missing one): each is written whole or not at all."""
    from m5kit.datasets._load import CALENDAR_FILE, EVALUATION_FILE, PRICES_FILE, VALIDATION_FILE
    from m5kit.store import file_stats

    return file_stats(out, (CALENDAR_FILE, PRICES_FILE, VALIDATION_FILE, EVALUATION_FILE))


def _written(out: Path, before: dict) -> list[str]:
    """The M5 files of ``out`` written since ``before`` (:func:`_m5_files`)."""
    return [name for name, stat in _m5_files(out).items() if stat is not None and before.get(name) != stat]


def _interrupted(out: Path, before: dict) -> None:
    """Ctrl-C: one line naming the files written before it and how to write them all."""
    written = _written(out, before)
    interrupted(f"{', '.join(written)} {'was' if len(written) == 1 else 'were'} written to {out}; run the same command "
                "with --overwrite to write all the files" if written else f"no file was written to {out}")


@data_app.command("shapes")
def shapes_cli(
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", callback=home, help="Folder to write the CSV files into (created if missing)."),
    per_class: str = typer.Option("20", "--per-class", metavar="N", callback=checked(whole, "--per-class"), help="Series per class in each of the three sets."),
    length: str = typer.Option("64", "--length", metavar="N", callback=checked(whole, "--length", minimum=2), help="Points per series (at least 2)."),
    noise: str = typer.Option("0.3", "--noise", metavar="SD", callback=checked(number, "--noise", low_open=False, hint="the noise's standard deviation, a number >= 0"), help="Standard deviation of the Gaussian noise on waves of amplitude 1."),
    seed: str = typer.Option("0", "--seed", metavar="S", callback=checked(whole, "--seed", minimum=0), help="Random seed: the same seed writes the same files."),
    overwrite: bool = typer.Option(False, "--overwrite", metavar="", help="Replace the files already in --out."),
) -> None:
    """Generate labelled series (noisy sine, square and sawtooth waves) as the CSV files of `m5kit classify`.

    Writes train.csv and valid.csv (the label first, then the series: `classify
    train --train/--valid`), test.csv (the series alone: `classify predict
    --input` and the endpoint) and test_labels.csv (test.csv's labels, one a
    line, as `classify predict` writes its predictions): three independent
    draws of the three shapes.
    """
    from m5kit.datasets.ucr import SHAPES_FILES, write_shapes

    n_per_class, n_length, sd, n_seed = int(per_class), int(length), float(noise), int(seed)  # checked by their callbacks
    try:
        folder = write_shapes(out, n_per_class=n_per_class, length=n_length, noise=sd, seed=n_seed, overwrite=overwrite)
    except M5kitError as exc:
        fail(str(exc))
    except MemoryError:  # a --length or --per-class with zeros too many: NumPy's bare 'Unable to allocate 7.11 PiB'
        fail(f"not enough memory to generate 3 sets of {3 * n_per_class:,} series of length {n_length:,}: lower "
             "--per-class or --length")
    except OSError as exc:  # a full disk, a folder without write permission: the four files are written together or not at all
        fail(f"cannot write the CSV files to {out} ({exc.strerror or exc}): free some space or choose a folder you can write to")
    except KeyboardInterrupt:
        interrupted(f"no file was written to {out}")
    table = Table(title=escape(f"labelled series in {folder}"), title_justify="left")
    for column in ("file", "rows", "columns", "size"):
        table.add_column(column, justify="left" if column == "file" else "right")
    columns = {"train.csv": n_length + 1, "valid.csv": n_length + 1, "test.csv": n_length, "test_labels.csv": 1}
    for name in SHAPES_FILES:
        table.add_row(name, f"{3 * n_per_class:,}", f"{columns[name]:,}", _size(folder / name))
    console.print(table)
    console.print(f"3 classes (sawtooth, sine, square) x {n_per_class} series of length {n_length} in each set, seed {n_seed}")


@app.command("levels")
def levels_cli(
    data_dir: Path | None = typer.Option(None, "--data-dir", "-d", metavar="DIR", callback=home, help="Folder with the M5 CSVs to count groups in. Default: the built-in data (139 items, 10 stores)."),
) -> None:
    """List the 12 M5 aggregation levels with their keys and group counts.

    At level L one model is trained per group of L's keys (level 12 = one per
    item-store series).
    """
    from m5kit.datasets import load_m5, make_m5
    from m5kit.hierarchy import LEVEL_NAMES, level_table

    try:
        with console.status("loading" if data_dir else "generating"):
            data = load_m5(data_dir) if data_dir is not None else make_m5()
    except M5kitError as exc:
        fail(str(exc))
    source = str(data_dir) if data_dir is not None else "built-in data, seed 0"
    table = Table(title=escape(f"M5 levels ({data.n_series:,} series, {source})"), title_justify="left")
    for column, justify in (("level", "right"), ("name", "left"), ("keys", "left"), ("groups", "right")):
        table.add_column(column, justify=justify)
    for row in level_table(data.sales).itertuples(index=False):
        table.add_row(str(row.level), LEVEL_NAMES[row.level], row.keys, f"{row.groups:,}")
    console.print(table)
