"""Write the M5 tables as M5's CSV files: :func:`write_m5`.

Every file is first written whole to a hidden temporary name in the target
folder; only when all are written are they renamed into place, so a failure
(a full disk, Ctrl-C) never leaves a half-written M5 file nor new files beside
old ones (with ``overwrite=True`` the old files stay as they were). The wide
files are formatted with lookup tables (no per-cell Python formatting), so
the full M5 size writes in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from m5kit._schema import CALENDAR_COLS, ID_COLS, ITEM, PRICE_COLS, STORE, day_columns
from m5kit.datasets._data import M5Data
from m5kit.datasets._load import CALENDAR_FILE, EVALUATION_FILE, PRICES_FILE, VALIDATION_FILE
from m5kit.datasets._validate import validate_m5
from m5kit import _checks
from m5kit.errors import DataError
from m5kit.store import file_in_the_way, remove_temp_files, write_together

__all__ = ["write_m5", "check_target", "check_folder", "M5_FILES"]

logger = logging.getLogger(__name__)

#: Every file name write_m5 may write (and refuses to overwrite by default).
M5_FILES: tuple[str, ...] = (CALENDAR_FILE, PRICES_FILE, VALIDATION_FILE, EVALUATION_FILE)
_ROWS_PER_WRITE = 1000
_PRICE_ROWS_PER_WRITE = 500_000


def _text(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and strings of a column (so 7 M rows are formatted from a few thousand strings)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, np.asarray([str(u) for u in uniques], dtype=object)


def _price_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and shortest round-tripping strings of float32 prices (``9.58``, not ``9.579999``)."""
    codes, uniques = pd.factorize(values)
    text = [np.format_float_positional(np.float32(u), unique=True, trim="0") for u in uniques]
    return codes, np.asarray(text, dtype=object)


def _wide_lines(prefix: np.ndarray, block: np.ndarray) -> Iterator[str]:
    """Lines ``prefix,v1,v2,...`` for a block of non-negative integer counts, in chunks."""
    table = np.asarray([str(i) for i in range(int(block.max(initial=0)) + 1)], dtype=object)
    for lo in range(0, block.shape[0], _ROWS_PER_WRITE):
        cells = table[block[lo:lo + _ROWS_PER_WRITE]]
        yield "".join(p + ",".join(row) + "\n" for p, row in zip(prefix[lo:lo + _ROWS_PER_WRITE], cells.tolist()))


def _counts(block: np.ndarray) -> np.ndarray:
    """Validated whole counts as integers (they index a lookup table), also when held as floats or booleans."""
    return block if block.dtype.kind in "iu" else block.astype(np.int64)


def _write_sales(handle, sales: pd.DataFrame, block: np.ndarray, days: list[str], suffix: str) -> None:
    ids = (sales[ITEM].astype("str") + "_" + sales[STORE].astype("str") + "_" + suffix).to_numpy(dtype=object)
    others = [sales[c].astype("str").to_numpy(dtype=object) for c in ID_COLS[1:]]
    prefix = np.asarray([",".join(parts) + "," for parts in zip(ids, *others)], dtype=object)
    handle.write(",".join([*ID_COLS, *days]) + "\n")
    for text in _wide_lines(prefix, block):
        handle.write(text)


def _write_prices(handle, prices: pd.DataFrame) -> None:
    handle.write(",".join(PRICE_COLS) + "\n")
    store_codes, store_text = _text(prices[STORE])
    item_codes, item_text = _text(prices[ITEM])
    week_codes, week_text = _text(prices["wm_yr_wk"])
    price_codes, price_text = _price_text(prices["sell_price"].to_numpy())
    for lo in range(0, len(prices), _PRICE_ROWS_PER_WRITE):
        hi = lo + _PRICE_ROWS_PER_WRITE
        handle.write("".join(
            f"{s},{i},{w},{p}\n" for s, i, w, p in zip(
                store_text[store_codes[lo:hi]], item_text[item_codes[lo:hi]],
                week_text[week_codes[lo:hi]], price_text[price_codes[lo:hi]])
        ))


def _write_calendar(handle, calendar: pd.DataFrame) -> None:
    calendar[list(CALENDAR_COLS)].to_csv(handle, index=False, date_format="%Y-%m-%d", lineterminator="\n")


def check_folder(folder: str | Path, names, what: str, overwrite: bool = True, name: str = "folder") -> Path:
    """Check that the files ``names`` can be written into ``folder`` before anything is made; return it as a Path.

    What every writer of a set of data files checks first (:func:`check_target`, ``write_baskets``,
    ``write_shapes``). ``what`` names the files in the messages (``"the M5 files"``), ``name`` the
    argument that gave ``folder``.

    Raises
    ------
    DataError
        If ``folder`` is a file (or under one), holds a folder named as one of ``names``, or (``overwrite``
        False) holds one of them.
    ParamError
        If ``overwrite`` is neither False nor True (the text ``'no'`` and None were read as true).
    """
    overwrite = _checks.choice(overwrite, "overwrite", (False, True))  # 'no' or None replaced the files
    folder = _checks.home(_checks.path(folder, name, f"the folder to write {what} to"))
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{str(folder)!r} is a file, not a folder: give a folder to write {what} into")
    if file_in_the_way(folder) is not None:  # as mkdir says it, but before the data is generated
        raise DataError(f"cannot create the folder {str(folder)!r} (Not a directory): choose another folder")
    folders = [name for name in names if (folder / name).is_dir()]
    if folders:  # nothing can be written in its place
        raise DataError(f"{str(folder / folders[0])!r} is a folder, not a file: remove it or choose another folder")
    existing = [] if overwrite else [name for name in names if (folder / name).exists()]
    if existing:
        raise DataError(f"{str(folder / existing[0])!r} already exists: pass overwrite=True (--overwrite) "
                        f"to replace {what}, or choose another folder")
    return folder


def check_target(out: str | Path, overwrite: bool = False) -> Path:
    """Check that the M5 files can be written to ``out``; return it as a Path.

    Raises
    ------
    DataError
        If ``out`` is a file (or under one), holds a folder named as an M5 file, or holds M5 files and
        ``overwrite`` is False.
    ParamError
        If ``overwrite`` is neither False nor True (the text ``'no'`` was read as true).
    """
    return check_folder(out, M5_FILES, "the M5 CSV files", overwrite=overwrite, name="out")


def write_m5(data: M5Data, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the tables as M5's CSV files.

    Writes ``calendar.csv``, ``sell_prices.csv``, ``sales_train_validation.csv``
    (the training days) and, when ``data.future`` is known,
    ``sales_train_evaluation.csv`` (training plus future days), in M5's exact
    format; ids get the suffix of their file (``_validation``/``_evaluation``).
    :func:`load_m5` reads them back equal to ``data``.

    Parameters
    ----------
    data : M5Data
        Checked with :func:`validate_m5` before anything is written.
    out : str or Path
        The folder (created if missing).
    overwrite : bool, default False
        Replace M5 files already in ``out``. With ``overwrite=True`` and no
        ``future``, a stale ``sales_train_evaluation.csv`` is removed.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    DataError
        If ``out`` holds M5 files and ``overwrite`` is False, or ``data`` is invalid.
    ParamError
        If ``overwrite`` is neither False nor True.

    Examples
    --------
    >>> import tempfile
    >>> from m5kit.datasets import make_m5
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = write_m5(make_m5(n_items=7, n_stores=1, n_days=60), tmp)
    ...     sorted(p.name for p in folder.iterdir())
    ['calendar.csv', 'sales_train_evaluation.csv', 'sales_train_validation.csv', 'sell_prices.csv']
    """
    out = check_target(out, overwrite)
    validate_m5(data)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the folder {str(out)!r} ({exc.strerror}): choose another folder") from None
    remove_temp_files(out, M5_FILES)  # what a killed write left (hidden .<file>.<random>.tmp files), not the user's

    sales = data.sales
    days = day_columns(sales.columns)
    block = _counts(sales[days].to_numpy())
    writes = {out / CALENDAR_FILE: lambda h: _write_calendar(h, data.calendar),
              out / PRICES_FILE: lambda h: _write_prices(h, data.prices),
              out / VALIDATION_FILE: lambda h: _write_sales(h, sales, block, days, "validation")}
    if data.future is not None:
        future_days = day_columns(data.future.columns)
        both = np.concatenate([block, _counts(data.future[future_days].to_numpy())], axis=1)
        writes[out / EVALUATION_FILE] = lambda h: _write_sales(h, sales, both, [*days, *future_days], "evaluation")
    write_together(writes)  # every file whole under a temporary name first: no mix of old and new files
    if data.future is None and (out / EVALUATION_FILE).exists():
        (out / EVALUATION_FILE).unlink()  # only reachable with overwrite=True: it would be stale
        logger.info("removed the stale %s from %s", EVALUATION_FILE, out)
    logger.info("wrote the M5 files of %d series x %d days to %s", len(sales), len(days), out)
    return out
