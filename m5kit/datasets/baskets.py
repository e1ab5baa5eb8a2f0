"""Order baskets in Instacart's file format: load, check, generate, write.

Files (as Instacart ships them):

* ``orders.csv``: order_id, user_id, eval_set, order_number, order_dow,
  order_hour_of_day, days_since_prior_order
* ``order_products__prior.csv`` (and ``order_products__train.csv``):
  order_id, product_id, add_to_cart_order, reordered
* ``products.csv``: product_id, product_name, aisle_id, department_id
* ``aisles.csv``: aisle_id, aisle; ``departments.csv``: department_id, department

:func:`make_baskets` generates data in that format with a structure it knows
(products in aisles and departments, users who prefer a few aisles, baskets
drawn from two or three aisles at a time, a long tail of rare products,
about 10 items per basket), so that the quality of product vectors can be
measured against the truth it planted. Everything is vectorised: the real
prior file's size (~32 M rows) is generated in chunks of orders.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from m5kit import _checks
from m5kit.datasets._load import _check_first_row
from m5kit.errors import DataError

__all__ = ["Baskets", "make_baskets", "load_baskets", "write_baskets", "BASKET_FILES"]

logger = logging.getLogger(__name__)

ORDER_COLS = ("order_id", "user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day", "days_since_prior_order")
ITEM_COLS = ("order_id", "product_id", "add_to_cart_order", "reordered")
PRODUCT_COLS = ("product_id", "product_name", "aisle_id", "department_id")
BASKET_FILES = {
    "orders": ("orders.csv", ORDER_COLS),
    "prior": ("order_products__prior.csv", ITEM_COLS),
    "products": ("products.csv", PRODUCT_COLS),
    "aisles": ("aisles.csv", ("aisle_id", "aisle")),
    "departments": ("departments.csv", ("department_id", "department")),
}
_DTYPES = {"order_id": "int32", "user_id": "int32", "product_id": "int32", "add_to_cart_order": "int16",
           "reordered": "int8", "order_number": "int16", "order_dow": "int8", "order_hour_of_day": "int8",
           "aisle_id": "int16", "department_id": "int16"}
#: ``read_csv`` options that keep a name as written: only an empty field is missing (pandas also reads a product
#: or aisle called 'NA', 'None', 'null' or 'N/A' as missing).
NAMES_AS_WRITTEN = {"keep_default_na": False, "na_values": [""]}
#: Rows of an order-products file read, checked and narrowed at a time. load_baskets of Instacart's size (32.1 M
#: prior rows): 0.75 GB at the peak, 2.22 GB read whole; 11.7-13.3 s, 13.2-15.8 s (benchmarks/RESULTS.md).
_CHUNK_ROWS = 2_000_000


@dataclass
class Baskets:
    """The tables of an order-basket data set (Instacart's layout).

    Attributes
    ----------
    orders, prior, products, aisles, departments : DataFrame
        As in the files; ``prior`` holds one row per (order, product).
    """

    orders: pd.DataFrame
    prior: pd.DataFrame
    products: pd.DataFrame
    aisles: pd.DataFrame
    departments: pd.DataFrame

    @property
    def n_rows(self) -> int:
        return len(self.prior)


def _long_tail(rng: np.random.Generator, n: int, exponent: float = 0.75) -> np.ndarray:
    """Popularity weights with a long tail (Zipf-like over a random order)."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights)


def make_baskets(
    n_orders: int = 100_000,
    *,
    n_users: int | None = None,
    n_products: int = 2_000,
    n_aisles: int = 60,
    n_departments: int = 12,
    basket_size: float = 10.0,
    seed: int = 0,
    chunk: int = 200_000,
) -> Baskets:
    """Generate order baskets with a known structure, in Instacart's format.

    Each product belongs to one aisle and each aisle to one department.
    Every user prefers a few aisles; every order draws two or three aisles
    from its user's preferences and fills a basket of about
    ``basket_size`` products from them, each aisle's products chosen by a
    long-tailed popularity. Products of one aisle are therefore bought
    together far more often than products of different aisles: a good
    embedding puts them close.

    Parameters
    ----------
    n_orders : int, default=100000
        Prior orders (Instacart: 3.2 M orders, 32 M rows).
    n_users : int, optional
        Users (default: one per 15 orders).
    n_products, n_aisles, n_departments : int
        Catalogue sizes (Instacart: 49,688 products, 134 aisles, 21 departments).
    basket_size : float, default=10.0
        Mean products per order (1 + Poisson(basket_size - 1)).
    seed : int, default=0
        Same seed, same data.
    chunk : int, default=200000
        Orders generated at a time (bounds memory).

    Returns
    -------
    Baskets

    Examples
    --------
    >>> data = make_baskets(n_orders=200, n_products=50, n_aisles=5, n_departments=2)
    >>> bool(5 < data.prior.groupby("order_id").size().mean() < 15)
    True
    """
    n_orders = _checks.whole(n_orders, "n_orders")
    n_products = _checks.whole(n_products, "n_products", minimum=2)
    n_aisles = _checks.whole(n_aisles, "n_aisles", minimum=1, maximum=n_products)
    n_departments = _checks.whole(n_departments, "n_departments", minimum=1, maximum=n_aisles)
    n_users = max(1, n_orders // 15) if n_users is None else _checks.whole(n_users, "n_users")
    basket_size = _checks.number(basket_size, "basket_size", low=1.0, low_open=False)
    chunk = _checks.whole(chunk, "chunk")
    rng = np.random.default_rng(_checks.whole(seed, "seed", minimum=0))

    aisle_dept = np.concatenate([np.arange(n_departments), rng.integers(0, n_departments, n_aisles - n_departments)])
    product_aisle = np.concatenate([np.arange(n_aisles), rng.integers(0, n_aisles, n_products - n_aisles)])
    popularity = _long_tail(rng, n_products)
    order = np.argsort(product_aisle, kind="stable")
    aisle_start = np.searchsorted(product_aisle[order], np.arange(n_aisles))
    aisle_count = np.bincount(product_aisle, minlength=n_aisles)
    cdf = np.empty(n_products)
    for a in range(n_aisles):  # per-aisle cumulative popularity (n_aisles is small)
        members = order[aisle_start[a]: aisle_start[a] + aisle_count[a]]
        w = popularity[members]
        cdf[aisle_start[a]: aisle_start[a] + aisle_count[a]] = np.cumsum(w) / w.sum()
    aisle_weight = np.bincount(product_aisle, weights=popularity, minlength=n_aisles)
    # Each user prefers 4 aisles (drawn by the aisles' overall popularity).
    prefs = np.stack([rng.choice(n_aisles, size=min(4, n_aisles), replace=False, p=aisle_weight / aisle_weight.sum())
                      for _ in range(n_users)])

    orders_parts, items_parts = [], []
    for first in range(0, n_orders, chunk):
        n = min(chunk, n_orders - first)
        order_ids = np.arange(first + 1, first + n + 1, dtype=np.int32)
        users = rng.integers(0, n_users, n)
        sizes = 1 + rng.poisson(basket_size - 1, n)
        shuffled = rng.permuted(np.tile(np.arange(prefs.shape[1]), (n, 1)), axis=1)
        themes = np.take_along_axis(prefs[users], shuffled, axis=1)  # the user's aisles, in a random order
        n_themes = np.minimum(rng.integers(2, 4, n), prefs.shape[1])
        # Draw more candidates than the basket's size: repeats of a popular product are dropped, then the
        # basket is cut to its size.
        item_order = np.repeat(np.arange(n), 2 * sizes + 2)
        pick = (rng.random(len(item_order)) * n_themes[item_order]).astype(int)
        aisle = themes[item_order, pick]
        local = _sample_in_aisle(cdf, aisle_start, aisle_count, aisle, rng.random(len(item_order)))
        products = order[aisle_start[aisle] + local]
        frame = pd.DataFrame({"order_id": order_ids[item_order], "product_id": products.astype(np.int32) + 1})
        frame = frame.drop_duplicates(["order_id", "product_id"])
        position = frame.groupby("order_id").cumcount().to_numpy()
        keep = position < sizes[frame["order_id"].to_numpy() - first - 1]
        frame = frame[keep].assign(add_to_cart_order=(position[keep] + 1).astype(np.int16))
        frame["reordered"] = (rng.random(len(frame)) < 0.59).astype(np.int8)
        items_parts.append(frame)
        orders_parts.append(pd.DataFrame({
            "order_id": order_ids, "user_id": (users + 1).astype(np.int32), "eval_set": "prior",
            "order_number": np.zeros(n, np.int16), "order_dow": rng.integers(0, 7, n).astype(np.int8),
            "order_hour_of_day": rng.integers(7, 23, n).astype(np.int8), "days_since_prior_order": np.nan,
        }))
    orders = pd.concat(orders_parts, ignore_index=True)
    orders["order_number"] = (orders.groupby("user_id").cumcount() + 1).astype(np.int16)
    gaps = rng.integers(1, 31, len(orders)).astype(float)
    orders["days_since_prior_order"] = np.where(orders["order_number"] > 1, gaps, np.nan)
    products = pd.DataFrame({
        "product_id": np.arange(1, n_products + 1, dtype=np.int32),
        "product_name": [f"product {i} (aisle {a + 1})" for i, a in enumerate(product_aisle, start=1)],
        "aisle_id": (product_aisle + 1).astype(np.int16),
        "department_id": (aisle_dept[product_aisle] + 1).astype(np.int16),
    })
    aisles = pd.DataFrame({"aisle_id": np.arange(1, n_aisles + 1, dtype=np.int16),
                           "aisle": [f"aisle {a}" for a in range(1, n_aisles + 1)]})
    departments = pd.DataFrame({"department_id": np.arange(1, n_departments + 1, dtype=np.int16),
                                "department": [f"department {d}" for d in range(1, n_departments + 1)]})
    return Baskets(orders, pd.concat(items_parts, ignore_index=True), products, aisles, departments)


def _sample_in_aisle(cdf, aisle_start, aisle_count, aisle, u) -> np.ndarray:
    """Index within its aisle of a product drawn by popularity, for each (aisle, uniform) pair.

    One ``searchsorted`` over the concatenated per-aisle CDFs: ``u`` is
    shifted by the aisle's number so that each aisle's CDF occupies its own
    unit interval.
    """
    n_aisles = len(aisle_start)
    shifted = cdf + np.repeat(np.arange(n_aisles), aisle_count)
    pos = np.searchsorted(shifted, aisle + u, side="left")
    pos = np.minimum(pos, aisle_start[aisle] + aisle_count[aisle] - 1)
    return pos - aisle_start[aisle]


def _shown(value) -> str:
    """A cell's value as the message shows it: ``'abc'``, ``1.5``, or ``(empty)`` for a missing one."""
    if isinstance(value, str):
        return repr(value)
    if pd.isna(value):
        return "(empty)"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _read(path: Path, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    if not path.is_file():
        packed = [p.name for p in (path.with_name(name + ext) for ext in (".zip", ".gz")) if p.is_file()]
        if packed:  # Kaggle ships Instacart's files zipped
            raise DataError(f"{name} is missing from '{path.parent}', which holds {packed[0]}: unpack it there")
        raise DataError(f"{name} is missing from '{path.parent}': put Instacart's {name} there")
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
        missing = [c for c in columns if c not in header]
        for separator, sep_name in (("\t", "tabs"), (";", "semicolons")):
            if missing and any(separator in str(field) for field in header):  # a spreadsheet's "CSV" in Europe
                raise DataError(f"{name}: its header has values separated by {sep_name}: give the file with values "
                                f"separated by commas ({', '.join(columns)})")
        if missing:
            found = ", ".join(repr(c) for c in header[:12]) + (", ..." if len(header) > 12 else "")
            raise DataError(f"{name}: missing column {missing[0]!r} (its header has {found}): the file needs the "
                            f"columns {', '.join(columns)}")
        # every column read: given usecols, pandas drops a row's extra fields silently (a name with an unquoted comma)
        _check_first_row(path)  # pandas takes a first row's extra field for an index: every column would shift
        if all(col in _DTYPES for col in columns):  # order products: Instacart's prior file has 32 M rows
            frame = _read_whole_numbers(path, columns, name)
        else:
            frame = _checked(pd.read_csv(path, **NAMES_AS_WRITTEN)[list(columns)], columns, name, 0)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty: it needs a header line ({', '.join(columns)}) and its rows") from None
    except UnicodeDecodeError:
        raise DataError(f"{name} is not UTF-8 text: give Instacart's CSV file") from None
    except pd.errors.ParserError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{name} cannot be read as CSV ({reason}): fix the file") from None
    except OSError as exc:  # no permission to read it, a disk error
        raise DataError(f"{name} in '{path.parent}' cannot be read ({exc.strerror or type(exc).__name__}): "
                        "make it readable, or give another --data-dir") from None
    return frame


def _read_whole_numbers(path: Path, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """A file of whole-number columns, read :data:`_CHUNK_ROWS` rows at a time into arrays of their narrow dtypes.

    Read whole, pandas parses every column as int64 (and copies it once more) before it can be checked and
    narrowed. The arrays are made once, one row per line of the file: each chunk's temporaries then take
    the memory of the last one's, where a list of chunks to concatenate scatters them through the heap, which
    glibc keeps after they are freed.
    """
    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))
    arrays = {col: np.empty(lines + 1, _DTYPES[col]) for col in columns}  # rows <= lines - header + a last line
    names, rows = list(columns), 0
    with pd.read_csv(path, chunksize=_CHUNK_ROWS) as reader:
        for chunk in reader:
            chunk = _checked(chunk[[c for c in chunk.columns if c in columns]], columns, name, rows)
            names = list(chunk.columns)  # the file's order
            if rows + len(chunk) > len(arrays[names[0]]):  # lines ended by a lone '\r' (old Mac files): not counted
                arrays = {col: np.concatenate([arr[:rows], np.empty(rows + 2 * len(chunk), arr.dtype)])
                          for col, arr in arrays.items()}
            for col in names:
                arrays[col][rows:rows + len(chunk)] = chunk[col].to_numpy()
            rows += len(chunk)
    return pd.DataFrame({col: arrays[col][:rows] for col in names}, copy=False)


def _checked(frame: pd.DataFrame, columns: tuple[str, ...], name: str, start: int) -> pd.DataFrame:
    """``frame`` (the rows of file ``name`` from row ``start`` on) with its id and count columns cast to
    :data:`_DTYPES`; a value that is not a whole number, or does not fit, is a DataError naming its line."""
    for col in columns:
        if col in _DTYPES:
            values = pd.to_numeric(frame[col], errors="coerce")
            bad = values.isna() & (col != "days_since_prior_order")  # a first order has no days since a prior one
            if values.dtype.kind == "f":  # a fraction would be cut to its whole part by the cast below
                bad |= values % 1 != 0
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"{name}: {col} {_shown(frame[col].iat[row])} on line {start + row + 2} is not a whole "
                                "number: fix the file")
            limits = np.iinfo(_DTYPES[col])
            wide = (values < limits.min) | (values > limits.max)  # would wrap around in the cast below
            if wide.any():
                row = int(np.flatnonzero(wide.to_numpy())[0])
                raise DataError(f"{name}: {col} {_shown(frame[col].iat[row])} on line {start + row + 2} is out of "
                                f"range (give a whole number from {limits.min} to {limits.max}): fix the file")
            frame[col] = values.astype(_DTYPES[col])
    return frame


def data_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a Path, or a DataError unless it is a folder (that :func:`load_baskets` reads)."""
    folder = _checks.home(_checks.path(folder, "folder", "the folder that holds the Instacart CSV files"))
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(f"data folder {folder} {what}: give the folder that holds Instacart's CSV files")
    return folder


def load_baskets(folder: str | os.PathLike, *, train: bool = False) -> Baskets:
    """Read order baskets in Instacart's format from ``folder``.

    Parameters
    ----------
    folder : path
        Holds orders.csv, order_products__prior.csv, products.csv,
        aisles.csv and departments.csv.
    train : bool, default=False
        Also read ``order_products__train.csv`` and add its rows to ``prior``.

    Returns
    -------
    Baskets

    Raises
    ------
    DataError
        A missing, unreadable, empty or malformed file (or folder), a missing
        column, or a value that is not a whole number: one line naming the
        file, the column or line, and the fix.
    ParamError
        ``train`` neither False nor True, or ``folder`` no path.
    """
    train = _checks.choice(train, "train", (False, True))  # the text 'no' was read as true
    folder = data_folder(folder)
    tables = {key: _read(folder / fname, cols, fname) for key, (fname, cols) in BASKET_FILES.items()}
    if train:
        tables["prior"] = pd.concat([tables["prior"], _read(folder / "order_products__train.csv", ITEM_COLS,
                                                             "order_products__train.csv")], ignore_index=True)
    return Baskets(**tables)


def write_baskets(data: Baskets, folder: str | os.PathLike) -> Path:
    """Write the tables as Instacart's CSV files (all of them or, on a failure, none); returns the folder.

    Parameters
    ----------
    data : Baskets
        The tables to write (the columns of :data:`BASKET_FILES`, in that order).
    folder : path
        Where to write orders.csv, order_products__prior.csv, products.csv,
        aisles.csv and departments.csv (created with its parents if missing;
        files of those names are replaced).

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    DataError
        A table is missing or lacks a column of its file, or ``folder`` is a
        file, under one, or holds a folder named as one of the files (nothing
        is written).
    """
    from m5kit.datasets._write import check_folder
    from m5kit.store import remove_temp_files, write_together

    # each was a bare OSError
    folder = check_folder(folder, [fname for fname, _ in BASKET_FILES.values()], "the CSV files")
    for key, (fname, cols) in BASKET_FILES.items():  # before anything is written (was a bare KeyError)
        table = getattr(data, key, None)
        if not isinstance(table, pd.DataFrame):
            raise DataError(f"the {key} table is a {type(table).__name__}, not a DataFrame: {fname} needs "
                            f"{', '.join(cols)}")
        missing = [col for col in cols if col not in table.columns]
        if missing:
            raise DataError(f"the {key} table has no column {missing[0]!r} (it has "
                            f"{', '.join(map(str, table.columns))}): {fname} needs {', '.join(cols)}")
    folder.mkdir(parents=True, exist_ok=True)
    # what a killed write left (hidden .<file>.<random>.tmp files), not the user's
    remove_temp_files(folder, [fname for fname, _ in BASKET_FILES.values()])
    # all written before any is replaced: a failure midway left new files beside old ones, two data sets mixed
    write_together({folder / fname: lambda fh, key=key, cols=cols: getattr(data, key)[list(cols)].to_csv(fh, index=False)
                    for key, (fname, cols) in BASKET_FILES.items()})
    return folder
