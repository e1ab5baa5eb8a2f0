"""Read the M5 CSV files: :func:`load_m5`, and take a sample: :func:`subset_items`.

Every file's header is checked before its data is parsed, and the data is
parsed with explicit dtypes: the wide sales files by NumPy straight into one
int16 block (pandas when the file is unusual), the prices by pandas with
categorical ids. The full M5 loads with a peak RSS of about 0.6 GB (see
``benchmarks/RESULTS.md``). When a value cannot be parsed, the file is scanned
again to name the cell, so that bad input gives a
:class:`~m5kit.errors.DataError`, never a pandas traceback.
"""

from __future__ import annotations

import csv
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from m5kit import _checks
from m5kit._schema import CALENDAR_COLS, HORIZON, ID, ID_COLS, ITEM, PRICE_COLS, STORE, day_name, day_number
from m5kit.datasets._data import M5Data
from m5kit.datasets._dtypes import (
    CALENDAR_DTYPES, DAY_DTYPE, PRICE_DTYPES, SALES_MAX, conform_calendar, conform_prices, conform_sales,
)
from m5kit.datasets._validate import Labels, check_future, check_sales_columns, require_m5data, validate_m5
from m5kit.errors import DataError

__all__ = ["load_m5", "subset_items", "CALENDAR_FILE", "PRICES_FILE", "VALIDATION_FILE", "EVALUATION_FILE"]

logger = logging.getLogger(__name__)

CALENDAR_FILE = "calendar.csv"
PRICES_FILE = "sell_prices.csv"
VALIDATION_FILE = "sales_train_validation.csv"
EVALUATION_FILE = "sales_train_evaluation.csv"
_SALES_CHOICES = ("auto", "validation", "evaluation")
_CHUNK_ROWS = 2000
_SCAN_BYTES = 1 << 24


# --- low-level readers ------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty: use the M5 file (a header line, then rows)") from None
    except UnicodeDecodeError:
        _diagnose_utf8(path)
        raise
    except pd.errors.ParserError as exc:
        raise DataError(f"{path.name}: cannot read it as CSV ({type(exc).__name__}): "
                        "use the M5 file as downloaded") from None


def _read(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` that turns CSV structure errors into a DataError (values are the caller's job)."""
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError:  # a ValueError: the callers' value checks took it for a bad number
        _diagnose_utf8(path)
        raise
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[-1]
        raise DataError(f"{path.name}: malformed CSV ({first}): every line needs one value per column") from None


def _malformed(path: Path, expected: int, line: int, saw: int) -> DataError:
    return DataError(f"{path.name}: malformed CSV (Expected {expected} fields in line {line}, saw {saw}): "
                     "every line needs one value per column")


def _check_first_row(path: Path) -> None:
    """Refuse a first data row with more fields than the header.

    pandas raises for such a row further down, but takes the first row's extra
    field for an index column: every column would shift by one.
    """
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        rows = (row for row in csv.reader(fh) if row)
        header, first = next(rows, []), next(rows, None)
        if first is not None and len(first) > len(header):
            raise _malformed(path, len(header), 2, len(first))  # line 2 unless blank lines come first: rare


def _check_no_extra_fields(path: Path, n_fields: int) -> None:
    """Refuse a row with more than ``n_fields`` fields in a file that is not plain (quotes, CR line ends).

    pandas drops a row's extra fields silently when it reads some columns
    (``usecols``). NumPy counts each line's commas and quotes block by block;
    only a line with too many commas, or an odd number of quotes (a quoted
    comma or line end), has the csv module read the file to name the row.
    """
    at_ends = {b",": [np.zeros(1, np.int64)], b'"': [np.zeros(1, np.int64)]}
    seen = dict.fromkeys(at_ends, 0)
    with open(path, "rb") as fh:
        while block := fh.read(_SCAN_BYTES):
            raw = np.frombuffer(block, np.uint8)
            ends = np.flatnonzero((raw == ord("\n")) | (raw == ord("\r")))
            for char, counts in at_ends.items():
                where = np.flatnonzero(raw == char[0])
                counts.append(seen[char] + np.searchsorted(where, ends))
                seen[char] += where.size
    commas, quotes = (np.diff(np.concatenate([*at_ends[c], [seen[c]]])) for c in (b",", b'"'))
    if (commas < n_fields).all() and not (quotes % 2).any():
        return
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        try:
            for row in reader:
                if len(row) > n_fields:
                    raise _malformed(path, n_fields, reader.line_num, len(row))
        except csv.Error:
            return  # not CSV the csv module reads: pandas' reader names the problem


def _read_every_column(path: Path, header: list[str], dtype, **kwargs) -> pd.DataFrame:
    """Read all of ``header``'s columns: with ``usecols`` pandas silently drops a row's extra fields ('3,12' is 3)."""
    _check_first_row(path)
    if isinstance(dtype, dict):
        dtype = dict.fromkeys(header, "category") | dtype  # columns m5kit does not use: cheap, then dropped
    return _read(path, dtype=dtype, **kwargs)


def _diagnose_utf8(path: Path) -> None:
    """Name the first line of ``path`` that is not UTF-8 text (a file saved in Excel's Windows encoding)."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path.name}: line {number} is not UTF-8 text (it holds the byte "
                                f"0x{line[exc.start]:02x}, as a file saved in a Windows or Latin-1 encoding does): "
                                "save it as UTF-8 (Excel: CSV UTF-8)") from None


def _whole_numbers(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse strings as numbers: values (NaN where not a number) and a mask of empty cells."""
    flat = pd.Series(raw.ravel(), dtype=object)
    empty = flat.isna().to_numpy() | (flat.astype("str").str.strip() == "").to_numpy()
    numbers = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64)
    return numbers.reshape(raw.shape), empty.reshape(raw.shape)


_EMPTY = ("empty sales", "fill the missing days with 0 (no sales)")
_NOT_COUNT = "sales must be whole unit counts"


def _cell_problem(text: str) -> tuple[str, str] | None:
    """What is wrong with one day cell (None when it is a whole count from 0 to 32767)."""
    value = text.strip()
    if not value:
        return _EMPTY
    try:
        number = int(value)
    except ValueError:
        try:
            real = float(value)
        except ValueError:
            return f"non-numeric sales {text!r}", _NOT_COUNT
        if not math.isfinite(real):
            return f"non-numeric sales {text!r}", _NOT_COUNT
        if not real.is_integer():
            return f"fractional sales {text!r}", _NOT_COUNT
        number = int(real)
    if number < 0:
        return f"negative sales {text!r}", "sales must be whole unit counts >= 0"
    if number > SALES_MAX:
        return f"sales {text!r} above {SALES_MAX}", "m5kit stores daily units as int16"
    return None


def _ints_of_text(text: bytes, dtype) -> np.ndarray:
    """The comma-separated whole numbers of ``text``; ValueError at a cell that is none.

    NumPy 2 raises ValueError there; NumPy 1.26 returned the numbers before that
    cell with a DeprecationWarning: it is made the same ValueError.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=dtype, sep=",")
        except DeprecationWarning as exc:
            raise ValueError(str(exc)) from None


def _diagnose_plain(path: Path, key_col: str, days: list[str]) -> bool:
    """Name the first bad day cell of a plain file (NumPy finds the line, Python the cell).

    Returns False when the file is not plain (quotes, CR line ends other
    than Windows' CRLF): the caller then scans it with pandas.
    """
    raw = path.read_bytes()
    if b'"' in raw or raw.count(b"\r") != raw.count(b"\r\n"):
        return False
    lines = raw.split(b"\n")
    del raw
    # Excel's byte-order mark is no part of "id"
    header = lines[0].removesuffix(b"\r").decode("utf-8-sig", "replace").split(",")
    n_ids = len(ID_COLS)
    position = {name: i for i, name in enumerate(header)}
    wanted = [(position[d], d) for d in days]
    key = position[key_col]
    for number, line in enumerate(lines[1:], start=2):
        line = line.removesuffix(b"\r")
        if not line:
            continue
        try:
            values = _ints_of_text(line.split(b",", n_ids)[-1], np.int64)
            fine = values.size == len(header) - n_ids and values.min(initial=0) >= 0 \
                and values.max(initial=0) <= SALES_MAX
        except ValueError:
            fine = False
        if fine:
            continue
        fields = line.decode("utf-8", "replace").split(",")
        for index, day in wanted:
            problem = _EMPTY if index >= len(fields) else _cell_problem(fields[index])
            if problem is not None:
                what, todo = problem
                raise DataError(f"{path.name}: {what} in column {day}, line {number} "
                                f"({key_col} {fields[key]!r}): {todo}")
        if len(fields) != len(header):  # pandas drops the extra fields when it reads some columns
            raise _malformed(path, len(header), number, len(fields))
    return True


def _diagnose_days(path: Path, key_col: str, days: list[str]) -> None:
    """Name the first day cell of a wide sales file that is not a whole count from 0 to 32767."""
    if _diagnose_plain(path, key_col, days):
        return
    line = 1  # the header
    for chunk in _read(path, dtype=str, usecols=[key_col, *days], chunksize=_CHUNK_ROWS):
        raw = chunk[days].to_numpy(dtype=object)
        numbers, empty = _whole_numbers(raw)
        problems = (
            (empty, "empty sales", "fill the missing days with 0 (no sales)"),
            (np.isnan(numbers) & ~empty, "non-numeric sales {raw!r}", "sales must be whole unit counts"),
            (numbers != np.floor(numbers), "fractional sales {raw!r}", "sales must be whole unit counts"),
            (numbers < 0, "negative sales {raw!r}", "sales must be whole unit counts >= 0"),
            (numbers > SALES_MAX, "sales {raw!r} above {max}", "m5kit stores daily units as int16"),
        )
        hits = [(np.argwhere(mask)[0], what, todo) for mask, what, todo in problems if mask.any()]
        if hits:
            (r, c), what, todo = min(hits, key=lambda h: tuple(h[0]))
            what = what.format(raw=raw[r, c], max=SALES_MAX)
            raise DataError(f"{path.name}: {what} in column {days[c]}, line {line + r + 1} "
                            f"({key_col} {chunk[key_col].iat[r]!r}): {todo}")
        line += len(chunk)


def _parse_wide_fast(path: Path, n_ids: int, days: list[str], keep: list[str]):
    """Parse a plain wide sales CSV with NumPy: the id columns as text and the kept days as int16.

    About 3x faster than ``pd.read_csv`` on the full M5. Returns None for
    anything but plain integers in a plain file (quotes, CR line ends, blank
    lines, a wrong number of fields, decimals, text, values outside int16):
    pandas then reads the file, and names the problem if there is one.
    """
    raw = path.read_bytes()
    if b'"' in raw or b"\r" in raw:
        return None
    lines = raw.split(b"\n")
    del raw
    if lines and not lines[-1]:
        lines.pop()
    body = lines[1:]
    del lines
    n_days = len(days)
    fields = n_ids + n_days - 1
    if not body or any(line.count(b",") != fields for line in body):
        return None
    position = {d: i for i, d in enumerate(days)}
    cols = None if keep == days else np.asarray([position[d] for d in keep])
    block = np.empty((len(body), len(keep)), dtype=DAY_DTYPE)
    ids: list[list[bytes]] = [[] for _ in range(n_ids)]
    info = np.iinfo(DAY_DTYPE)
    for lo in range(0, len(body), _CHUNK_ROWS):
        parts = [line.split(b",", n_ids) for line in body[lo:lo + _CHUNK_ROWS]]
        for j in range(n_ids):
            ids[j].extend(p[j] for p in parts)
        try:
            values = _ints_of_text(b",".join(p[n_ids] for p in parts), np.int32)
        except ValueError:
            return None
        if values.size != len(parts) * n_days:
            return None
        values = values.reshape(len(parts), n_days)
        if cols is not None:
            values = values[:, cols]
        if values.size and (values.min() < info.min or values.max() > info.max):
            return None
        block[lo:lo + len(parts)] = values
    try:
        text = [[b.decode("utf-8") for b in col] for col in ids]
    except UnicodeDecodeError:
        return None
    if any(not value for col in text for value in col):
        return None  # an empty id: pandas reads it as missing, and validation names it
    return text, block


def _read_wide(path: Path, id_cols: tuple[str, ...], days: list[str], keep: list[str] | None = None,
               fast: bool = True) -> pd.DataFrame:
    """Read a wide sales file: the id columns (text) and the ``keep`` days (default all) as int16.

    Tries :func:`_parse_wide_fast`; when it declines, looks for a bad cell
    (:func:`_diagnose_plain`), then reads with ``pd.read_csv`` and explicit
    dtypes (ids as ``str``: pandas' threaded reader is much slower on
    categoricals, and one row per series costs little).
    """
    keep = days if keep is None else keep
    parsed = _parse_wide_fast(path, len(ID_COLS), days, keep) if fast else None
    if parsed is not None:
        text, block = parsed
        wanted = [ID_COLS.index(c) for c in id_cols]
        frame = pd.DataFrame(block, columns=pd.Index(keep), copy=False)
        for position, (col, i) in enumerate(zip(id_cols, wanted)):
            frame.insert(position, col, pd.array(text[i], dtype="str"))  # no copy of the day block
        return frame
    # a bad cell: name it now, without a pandas pass
    plain = fast and _diagnose_plain(path, id_cols[0], keep)
    _check_first_row(path)
    # int64, then checked: pandas wraps a value too large for a narrower int (70000 as int16 is 4464)
    dtype = {c: "str" for c in id_cols} | {d: np.int64 for d in keep}
    usecols = None if len(keep) == len(days) and len(id_cols) == len(ID_COLS) else [*id_cols, *keep]
    if usecols is not None and not plain:  # a plain file's lines were counted by _diagnose_plain
        _check_no_extra_fields(path, len(ID_COLS) + len(days))
    try:
        frame = _read(path, dtype=dtype, usecols=usecols, engine="c")
        if not _fits(frame[keep].to_numpy(), DAY_DTYPE):
            raise OverflowError
    except DataError:  # _read's line (a ValueError): not a bad number
        raise
    except (ValueError, OverflowError, TypeError):
        _diagnose_days(path, id_cols[0], keep)
        raise DataError(f"{path.name}: the day columns hold values that are not whole unit counts: "
                        "fix the file (sales are integers >= 0)") from None
    return frame.astype(dict.fromkeys(keep, DAY_DTYPE))


def _fits(values: np.ndarray, dtype) -> bool:
    """Whether integer ``values`` fit in ``dtype``."""
    info = np.iinfo(dtype)
    return not values.size or (values.min() >= info.min and values.max() <= info.max)


def _read_sales(path: Path) -> pd.DataFrame:
    days = check_sales_columns(_header(path), path.name)
    frame = _read_wide(path, ID_COLS, days)
    logger.info("read %s: %d series x %d days", path.name, len(frame), len(days))
    return conform_sales(frame)


def _read_future(path: Path, sales: pd.DataFrame) -> pd.DataFrame | None:
    """The evaluation file's days after the validation file's last day (at most HORIZON)."""
    days = check_sales_columns(_header(path), path.name)
    last = day_number(sales.columns[-1])
    extra = [d for d in days if day_number(d) > last][:HORIZON]
    if not extra or day_number(days[0]) > last + 1:
        raise DataError(f"{path.name}: has no days after {VALIDATION_FILE}'s last day {day_name(last)}: "
                        f"use the evaluation file of the same M5 release, or pass sales='validation'")
    # the last days both files hold are read too: an evaluation file of other data is refused, not scored against
    overlap = [d for d in days if last - HORIZON < day_number(d) <= last]
    frame = _read_wide(path, (ITEM, STORE), days, keep=overlap + extra)
    keys = pd.Index(frame[ITEM].astype("str") + "|" + frame[STORE].astype("str"))
    if not keys.is_unique:
        dup = keys[keys.duplicated()][0].split("|")
        raise DataError(f"{path.name}: item {dup[0]!r} in store {dup[1]!r} appears twice: "
                        "each item-store series must appear once")
    wanted = sales[ITEM].astype("str") + "|" + sales[STORE].astype("str")
    rows = keys.get_indexer(wanted)
    if (rows < 0).any():
        r = int(np.flatnonzero(rows < 0)[0])
        raise DataError(f"{path.name}: no row for id {str(sales[ID].iat[r])!r} of {VALIDATION_FILE}: "
                        "use both files of the same M5 release, or pass sales='validation'")
    if overlap:
        theirs, ours = frame[overlap].to_numpy()[rows], sales[overlap].to_numpy()
        differ = theirs != ours
        if differ.any():
            r, c = (int(i[0]) for i in np.nonzero(differ))
            raise DataError(f"{path.name}: its sales on {overlap[0]}..{overlap[-1]} differ from {VALIDATION_FILE}'s in "
                            f"{int(differ.any(axis=1).sum())} series (first: {str(sales[ID].iat[r])!r} on {overlap[c]}, "
                            f"{theirs[r, c]} against {ours[r, c]}): use both files of the same M5 release, or train on the "
                            f"validation file alone (move {path.name} out of the folder, or pass sales='validation')")
    block = frame[extra].to_numpy()[rows]
    future = pd.concat([sales[[ID]], pd.DataFrame(block, columns=pd.Index(extra))], axis=1)
    logger.info("read %s: %d future days (%s..%s)", path.name, len(extra), extra[0], extra[-1])
    return conform_sales(future, (ID,))


def _read_prices(path: Path) -> pd.DataFrame:
    header = _header(path)
    missing = [c for c in PRICE_COLS if c not in header]
    if missing:
        raise DataError(f"{path.name}: missing column {missing[0]!r}: the prices need M5's columns "
                        f"{', '.join(PRICE_COLS)}")
    try:  # categorical ids: 7 M rows of text would cost ~1 GB; weeks as int64, then checked (pandas wraps int16)
        prices = _read_every_column(path, header, {**PRICE_DTYPES, "wm_yr_wk": np.int64}, engine="c")
        if not _fits(prices["wm_yr_wk"].to_numpy(), PRICE_DTYPES["wm_yr_wk"]):
            raise OverflowError
        prices = prices.astype({"wm_yr_wk": PRICE_DTYPES["wm_yr_wk"]})
    except DataError:  # _read's line (a ValueError): not a bad number
        raise
    except (ValueError, OverflowError, TypeError):
        _diagnose_prices(path)
        raise DataError(f"{path.name}: wm_yr_wk or sell_price holds values that are not numbers: "
                        "fix the file") from None
    logger.info("read %s: %d price rows", path.name, len(prices))
    return conform_prices(prices[list(PRICE_COLS)])


def _diagnose_prices(path: Path) -> None:
    line = 1
    for chunk in _read(path, dtype=str, usecols=list(PRICE_COLS), chunksize=500_000):
        for col, whole in (("wm_yr_wk", True), ("sell_price", False)):
            raw = chunk[col].to_numpy(dtype=object)
            numbers, empty = _whole_numbers(raw)
            bad = np.isnan(numbers) | empty
            if whole:
                bad |= (numbers != np.floor(numbers)) | (np.abs(numbers) > np.iinfo(np.int16).max)
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                kind = "a whole week number like 11101" if whole else "a number"
                raise DataError(f"{path.name}: {col} {raw[r]!r} on line {line + r + 1} is not {kind}: "
                                "fix the file")
        line += len(chunk)


def _read_calendar(path: Path) -> pd.DataFrame:
    header = _header(path)
    missing = [c for c in CALENDAR_COLS if c not in header]
    if missing:
        raise DataError(f"{path.name}: missing column {missing[0]!r}: the calendar needs M5's columns "
                        f"{', '.join(CALENDAR_COLS)}")
    raw = _read_every_column(path, header, str)[list(CALENDAR_COLS)]
    if raw.empty:
        raise DataError(f"{path.name}: the calendar has no rows: use M5's calendar.csv (one row per day)")
    out = raw.copy()
    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        r = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(f"{path.name}: date {raw['date'].iat[r]!r} on line {r + 2} is not a YYYY-MM-DD date: "
                        "fix the file")
    out["date"] = dates
    for col, dtype in CALENDAR_DTYPES.items():
        if col == "date" or dtype == "str":
            continue
        numbers, empty = _whole_numbers(raw[col].to_numpy(dtype=object))
        info = np.iinfo(dtype)
        bad = empty | np.isnan(numbers) | (numbers != np.floor(numbers)) | (numbers < info.min) | (numbers > info.max)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path.name}: {col} {raw[col].iat[r]!r} on line {r + 2} is not a whole number "
                            f"from {info.min} to {info.max}: fix the file")
        out[col] = numbers
    return conform_calendar(out)


# --- public -------------------------------------------------------------------------------


def load_m5(folder: str | Path, *, sales: str = "auto") -> M5Data:
    """Read the M5 CSV files of a folder.

    Parameters
    ----------
    folder : str or Path
        A folder with ``calendar.csv``, ``sell_prices.csv`` and
        ``sales_train_validation.csv`` and/or ``sales_train_evaluation.csv``,
        exactly as M5 ships them (or as :func:`write_m5` writes them).
    sales : {"auto", "validation", "evaluation"}, default "auto"
        Which sales file to train on. ``"auto"``: when both files exist,
        train on the validation file and set ``future`` to the evaluation
        file's next 28 days (M5's holdout); when only one exists, use it with
        ``future=None``. ``"validation"``/``"evaluation"`` use that file only.

    Returns
    -------
    M5Data
        With the same dtypes as :func:`make_m5` (see ``m5kit.datasets._dtypes``).

    Raises
    ------
    DataError
        When the folder or a file is missing, or a file is malformed or
        inconsistent (see :func:`validate_m5`); one line naming the file.

    Examples
    --------
    >>> import tempfile
    >>> from m5kit.datasets import make_m5, write_m5
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     data = load_m5(write_m5(make_m5(n_items=7, n_stores=1, n_days=60), tmp))
    >>> data.n_series, data.n_days, data.future.shape[1] - 1
    (7, 60, 28)
    """
    if sales not in _SALES_CHOICES:
        raise DataError(f"sales={sales!r} is not one of {', '.join(_SALES_CHOICES)}: pick one")
    folder = _checks.home(_checks.path(folder, "folder", "the folder that holds the M5 CSV files"))
    if not folder.exists():
        raise DataError(f"M5 folder {str(folder)!r} does not exist: pass the folder that holds "
                        f"{CALENDAR_FILE}, {PRICES_FILE} and {VALIDATION_FILE} (or generate one with "
                        "`m5kit data generate --out DIR`)")
    if not folder.is_dir():
        raise DataError(f"{str(folder)!r} is a file, not a folder: pass the folder that holds the M5 CSV files")
    for name in (CALENDAR_FILE, PRICES_FILE):
        if not (folder / name).is_file():
            raise DataError(f"{name} is missing from {str(folder)!r}: put M5's {name} there")
    has_val, has_eval = (folder / VALIDATION_FILE).is_file(), (folder / EVALUATION_FILE).is_file()
    if sales == "auto":
        if not (has_val or has_eval):
            raise DataError(f"{VALIDATION_FILE} (or {EVALUATION_FILE}) is missing from {str(folder)!r}: "
                            "put M5's sales file there")
        train_file = VALIDATION_FILE if has_val else EVALUATION_FILE
    else:
        train_file = VALIDATION_FILE if sales == "validation" else EVALUATION_FILE
        if not (folder / train_file).is_file():
            raise DataError(f"{train_file} is missing from {str(folder)!r}: put it there or pass sales='auto'")

    calendar = _read_calendar(folder / CALENDAR_FILE)
    wide = _read_sales(folder / train_file)
    prices = _read_prices(folder / PRICES_FILE)
    labels = Labels(sales=train_file, future=f"{EVALUATION_FILE} (future days)")
    # the training file first: a bad id in it is named there, not as a row the evaluation file lacks
    validate_m5(M5Data(calendar=calendar, prices=prices, sales=wide, future=None), labels=labels)
    future = None
    if sales == "auto" and has_val and has_eval:
        future = _read_future(folder / EVALUATION_FILE, wide)
        check_future(future, wide, labels.future)
    return M5Data(calendar=calendar, prices=prices, sales=wide, future=future)


def subset_items(data: M5Data, n_items: int, *, seed: int | None = None) -> M5Data:
    """Keep the first ``n_items`` items (in row order), or a random sample of them, in all their stores.

    Prices and ``future`` are filtered to the kept series; unused categories
    are dropped, so the result equals what loading its written files gives.

    Parameters
    ----------
    data : M5Data
    n_items : int
        Items to keep; all of them when ``n_items`` is at least their number.
    seed : int, optional
        Keep a random sample of ``n_items`` items drawn with this seed (still
        in row order) instead of the first ones, which M5 sorts by category
        and department.

    Returns
    -------
    M5Data

    Examples
    --------
    >>> from m5kit.datasets import make_m5
    >>> small = subset_items(make_m5(n_items=14, n_stores=3, n_days=60), 2)
    >>> small.n_series
    6
    >>> subset_items(make_m5(n_items=14, n_stores=3, n_days=60), 2, seed=0).n_series
    6
    """
    require_m5data(data)
    n_items = _checks.whole(n_items, "n_items (how many items to keep)")
    sales = data.sales
    items = pd.unique(sales[ITEM])
    if n_items >= len(items):
        return data
    if seed is None:
        keep_items = items[:n_items]
    else:
        chosen = np.random.default_rng(_checks.whole(seed, "seed", minimum=0)).choice(len(items), n_items, replace=False)
        keep_items = items[np.sort(chosen)]
    mask = sales[ITEM].isin(keep_items).to_numpy()
    kept = sales.loc[mask].reset_index(drop=True)
    stores = pd.unique(kept[STORE])
    price_mask = (data.prices[ITEM].isin(keep_items) & data.prices[STORE].isin(stores)).to_numpy()
    future = None
    if data.future is not None:
        future = conform_sales(data.future.loc[mask].reset_index(drop=True), (ID,))
    logger.info("kept %d of %d items (%d series)", n_items, len(items), len(kept))
    return M5Data(
        calendar=data.calendar,
        prices=conform_prices(data.prices.loc[price_mask].reset_index(drop=True)),
        sales=conform_sales(kept),
        future=future,
    )
