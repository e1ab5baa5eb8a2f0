"""Labelled time series in the UCR CSV format, and a generator of labelled shapes.

The format (as the UCR archive's CSV and the managed time-series
classification services use it): no header, no index, one series per row;
with labels, the class label is the first column and the series the
others. Labels are kept as the text they are written with, so predictions
are written back with the same spelling.

Every problem in a file is reported as one :class:`~m5kit.errors.DataError`
line naming the row (1-based, as an editor shows it) and what to do.

Examples
--------
>>> X, y = make_shapes(n_per_class=2, length=16, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((6, 16), ['sawtooth', 'sine', 'square'])
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from m5kit import _checks
from m5kit.errors import DataError, ParamError

__all__ = ["make_shapes", "write_shapes", "read_ucr_csv", "write_ucr_csv", "parse_series_text", "check_labels", "predictions_csv"]

_SHAPES = ("sine", "square", "sawtooth")
#: Words spreadsheets and R write for a missing value.
_MISSING = {"na", "n/a", "null", "none", "-", "?", "#n/a"}
#: Largest magnitude a series value may have (the networks take float32).
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def make_shapes(n_per_class: int = 20, length: int = 64, *, classes: Sequence[str] = _SHAPES, channels: int = 1,
                noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate labelled shapes: noisy sine, square and sawtooth waves of random phase and period.

    Parameters
    ----------
    n_per_class : int, default=20
        Series per class.
    length : int, default=64
        Points per series.
    classes : sequence of {"sine", "square", "sawtooth"}
        The shapes (and labels) to generate.
    channels : int, default=1
        1 gives ``X`` of shape ``(n, length)``; more gives ``(n, length, channels)``,
        each channel the same shape with its own phase and noise.
    noise : float, default=0.3
        Standard deviation of the Gaussian noise (the waves have amplitude 1).
    seed : int, default=0
        The same seed gives the same data.

    Returns
    -------
    X : ndarray of float32
    y : ndarray of str
        The shape's name per row, rows shuffled.

    Raises
    ------
    ParamError
        A count below 1, a negative or non-finite noise or one that makes
        values beyond float32 (1e39), a negative seed, no class, or
        ``classes`` given as one text (``"sine"``, not ``["sine"]``).
    DataError
        A class that is none of the shapes.

    Examples
    --------
    >>> X, y = make_shapes(n_per_class=3, length=32, classes=("sine", "square"), channels=2, seed=1)
    >>> X.shape, y[:2].tolist()
    ((6, 32, 2), ['sine', 'sine'])
    """
    n_per_class, length = _checks.whole(n_per_class, "n_per_class"), _checks.whole(length, "length")
    channels, seed = _checks.whole(channels, "channels"), _checks.whole(seed, "seed", minimum=0)
    noise = _checks.number(noise, "noise", low=0.0, low_open=False)
    shapes = ", ".join(map(repr, _SHAPES))
    if isinstance(classes, str):  # read letter by letter: "unknown shape(s) ['s', 'i', 'n', 'e']"
        raise ParamError(f"invalid classes {classes!r}: give one or more of {shapes} as a list, e.g. [{classes!r}]")
    unknown = [c for c in classes if c not in _SHAPES]
    if unknown:
        raise DataError(f"unknown shape(s) {unknown}: give classes among {list(_SHAPES)}")
    if not len(classes):
        raise ParamError(f"invalid classes {classes!r}: give one or more of {shapes}")
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    xs, ys = [], []
    for label in classes:
        for _ in range(n_per_class):
            period = rng.uniform(length / 6, length / 2)
            chans = []
            for _ in range(channels):
                phase = rng.uniform(0, 1)
                u = (t / period + phase) % 1.0
                if label == "sine":
                    wave = np.sin(2 * np.pi * u)
                elif label == "square":
                    wave = np.where(u < 0.5, 1.0, -1.0)
                else:
                    wave = 2 * u - 1
                chans.append(wave + rng.normal(0, noise, length))
            xs.append(np.stack(chans, axis=-1))
            ys.append(label)
    order = rng.permutation(len(xs))
    with np.errstate(over="ignore"):  # beyond float32: said below
        X = np.asarray(xs, dtype=np.float32)[order]
    if not np.isfinite(X).all():  # inf, which write_shapes wrote and training refused
        raise ParamError(f"invalid noise {noise:g}: the series would hold values beyond the range of 32-bit floats "
                         "(about ±3.4e38): give a smaller noise, e.g. below 1e37")
    y = np.asarray(ys)[order]
    return (X[..., 0] if channels == 1 else X), y


def _rows(text: str, source: str = "the input") -> list[tuple[int, list[str]]]:
    """The non-blank rows of CSV text, with their 1-based line numbers; a malformed quote is one DataError line.

    A row of empty fields (``,,,``: pandas writes a row of NaN so) is a row, told as missing values, unless only
    such rows follow it: skipped, it would shift every later prediction up one row.
    """
    out = []
    reader = csv.reader(io.StringIO(text, newline=""))  # any line ending: \n, \r\n, or \r alone
    read = 0  # lines read up to the last whole row
    try:
        for number, row in enumerate(reader, start=1):
            if len(row) > 1 or (row and row[0].strip()):
                out.append((number, [field.strip() for field in row]))
            read = reader.line_num
    except csv.Error as exc:  # a stray '"' opens a field up to the next quote: past the field size limit
        start = read + 1
        raise DataError(f"{source}: unreadable CSV from line {start} ({exc}): look for a stray double quote "
                        "(\") there, which starts a quoted field that runs on over the next lines") from None
    while out and not any(out[-1][1]):  # trailing rows of empty fields (a spreadsheet's): nothing after to shift
        out.pop()
    return out


def _number(field: str) -> float | None:
    try:
        value = float(field)
    except ValueError:
        return None
    return value


def _separated(field: str, separator: str, labelled: bool) -> bool:
    """Whether ``field`` holds several values separated by ``separator`` instead of commas. Spaces: only numbers
    (after the label, for a ``labelled`` row read as one field), so that a label with a space is a label."""
    if separator != " ":
        return separator in field
    parts = field.split()
    return len(parts) > 1 and all(_number(part) is not None for part in parts[1 if labelled else 0:])


def _column_numbers(fields: list[str]) -> bool:
    """Whether ``fields`` are the column numbers 0..n-1 or 1..n written as integers (a header, not a series).

    Not below 8 columns: a short toy series may well count 1, 2, 3.
    """
    if len(fields) < 8 or not all(field.isdigit() for field in fields):
        return False
    numbers = [int(field) for field in fields]
    return numbers in (list(range(len(numbers))), list(range(1, len(numbers) + 1)))


def parse_series_text(text: str, *, labels: bool = False, source: str = "the input",
                      length: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse CSV text of series (one per row; with ``labels``, the label first).

    Parameters
    ----------
    text : str
        The CSV text.
    labels : bool, default=False
        Whether the first column holds the class label.
    source : str
        How to name the text in error messages (a file name).
    length : int, optional
        The series length the rows must have (a fitted model's).

    Returns
    -------
    X : ndarray of float32, shape (n, length)
    y : ndarray of str or None

    Raises
    ------
    DataError
        Empty text, a header row, rows of different lengths, missing or
        non-numeric values, or a length other than ``length``; ``text``
        that is no str (bytes: decode them first).
    ParamError
        ``labels`` neither False nor True.

    Examples
    --------
    >>> X, y = parse_series_text("a,1,2,3\\nb,4,5,6\\n", labels=True)
    >>> X.shape, y.tolist()
    ((2, 3), ['a', 'b'])
    """
    labels = _checks.choice(labels, "labels", (False, True))  # the text 'no' was read as true
    if not isinstance(text, str):  # bytes or None: a bare TypeError
        fix = "decode it first, e.g. data.decode('utf-8')" if isinstance(text, (bytes, bytearray)) else \
            "give the CSV text of the series"
        raise DataError(f"{source} must be text (a str), got {type(text).__name__}: {fix}")
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after each character
        raise DataError(f"{source} holds NUL characters, as text saved as UTF-16 does: save it as UTF-8 CSV")
    rows = _rows(text, source)
    if not rows:
        raise DataError(f"{source} holds no rows: give one series per row, values separated by commas")
    first = 1 if labels else 0
    width = len(rows[0][1])
    shown = rows[0][1][first:] if width > first else rows[0][1]
    for separator, name in (("\t", "tabs"), (";", "semicolons"), (" ", "spaces")):
        # the UCR archive's .tsv files, a spreadsheet's "CSV" in Europe, the archive's older space-separated .txt
        if any(_separated(field, separator, labels and width == 1) for field in shown):
            what = "the label first, then the series values" if labels else "the series values"
            raise DataError(f"{source}: line {rows[0][0]} has values separated by {name}: give {what} separated "
                            "by commas, with a decimal point")
    if width <= first:
        raise DataError(f"{source}: line {rows[0][0]} has no series values after the label: "
                        "give the label first, then the series")
    line, header = rows[0]
    if header[0] == "" and _column_numbers(header[1 + first:]):  # to_csv's default writes the index too
        raise DataError(f"{source}: line {line} looks like the header row of a table written with its index "
                        f"({', '.join(header[:3])}, ...): write it with to_csv(..., header=False, index=False), "
                        "the format has no header and no index column")
    if _column_numbers(header[first:]) and (not labels or [r[0] for _, r in rows].count(header[0]) == 1):
        # pandas' to_csv header of columns 0..n-1 (after "label"): all numbers, so it read as a series (or a class)
        raise DataError(f"{source}: line {line} looks like a header row ({', '.join(header[:3])}, ...: the column "
                        "numbers): remove it (to_csv(..., header=False)), the format has no header")
    values = np.empty((len(rows), width - first), dtype=np.float32)
    for i, (line, row) in enumerate(rows):
        if len(row) != width and any("\n" in field or "\r" in field for field in row):  # read up to a quote further on
            raise DataError(f"{source}: line {line} has a quoted field that runs on over the next lines: look for a "
                            "stray double quote (\") there")
        if len(row) != width:
            raise DataError(f"{source}: line {line} has {len(row) - first} values but line {rows[0][0]} has "
                            f"{width - first}: every series must have the same length")
        for j, field in enumerate(row[first:]):
            value = _number(field)
            if value is not None and abs(value) > _FLOAT32_MAX and (  # float() makes 1e400 inf: a number, too large
                    math.isfinite(value) or field.lower().lstrip("+-") not in ("inf", "infinity")):
                raise DataError(f"{source}: line {line}, column {j + first + 1} holds {field[:20]!r}, beyond the range "
                                "of 32-bit floats (about ±3.4e38): scale the series down")
            if value is None or not math.isfinite(value):
                column = j + first + 1
                if (value is None and not labels and i == 0 and j == 0 and len(row) > 1
                        and field.lower() not in _MISSING and all(_number(f) is not None for f in row[1:])):
                    # a training file given to predict
                    raise DataError(f"{source}: line {line} starts with {field[:20]!r}, not a number, as a label "
                                    "would: give the series values alone, without a label column")
                if value is None and field and i == 0 and sum(_number(f) is None for f in row[first:]) > 1:
                    raise DataError(f"{source}: line {line} looks like a header row ({', '.join(row[:3])}, ...): "
                                    "remove it, the format has no header")
                what = "a missing value" if (field == "" or (value is not None and math.isnan(value))) else \
                    f"{field[:20]!r}, not a number" if value is None else f"{field!r}, not a finite number"
                raise DataError(f"{source}: line {line}, column {column} holds {what}: "
                                "give finite numbers only (fill or drop missing values)")
            values[i, j] = value
        if labels and not row[0]:  # it made a class "" of the unlabelled series (after the values: a header says so)
            raise DataError(f"{source}: line {line} has no label (its first column is empty): give every series "
                            "a label first, or drop the unlabelled ones")
    if length is not None and values.shape[1] != length:
        # one column too many: perhaps a labelled file (a UCR test file, numeric labels first) given to predict
        labelled = " (without the label column, if the first column is each series' label)" \
            if not labels and values.shape[1] == length + 1 else ""
        raise DataError(f"{source} has series of length {values.shape[1]} but the model was trained on length "
                        f"{length}: give series of length {length}{labelled}")
    y = np.asarray([row[0] for _, row in rows], dtype=object).astype(str) if labels else None
    return values, y


def check_labels(y: np.ndarray, source: str = "the training data") -> None:
    """Refuse training labels that cannot train a classifier: one class, or no more rows than classes.

    Parameters
    ----------
    y : array-like
        The class labels of the training rows.
    source : str, default="the training data"
        How to name the labels in error messages (a file name).

    Raises
    ------
    DataError
        ``y`` is empty or has a single class, or has no more rows than
        classes, or is no list or array (None, a text), or holds numbers
        that are not whole (0.731: measurements, not classes).

    Examples
    --------
    >>> check_labels(np.array(["a", "b", "a"]))
    """
    if y is None or isinstance(y, (str, bytes)) or np.ndim(y) == 0:  # it said "has a single class, None"
        raise DataError(f"{source}'s labels must be a list or array of one label per series, got {type(y).__name__}: "
                        "give the class of each series")
    classes = np.unique(np.asarray(y))
    _check_discrete(classes, source)
    _check_one_spelling(classes, source)
    if len(classes) < 2:
        raise DataError(f"{source} has a single class, {classes.tolist()[0]!r}: give series of at least two classes"
                        if len(classes) else f"{source} has no rows")
    if len(y) <= len(classes):
        raise DataError(f"{source} has {len(y)} rows for {len(classes)} classes: give more rows than classes "
                        "(several series per class)")


def _check_discrete(classes: np.ndarray, source: str) -> None:
    """Refuse labels that are measurements, not classes: numbers (or all numbers as text) some of which are not whole
    (0.731), which would make one class per distinct value (scikit-learn's "Unknown label type: continuous")."""
    values = []
    for label in np.asarray(classes).tolist():
        if isinstance(label, str):
            value = _number(label)
        elif isinstance(label, float):
            value = label
        elif isinstance(label, int):
            value = float(label)
        else:
            return
        if value is None:  # a name: all labels are not numbers
            return
        values.append((value, label))
    fractional = [label for value, label in values if math.isfinite(value) and not value.is_integer()]
    if fractional:
        shown = ", ".join(map(str, fractional[:2])) + (", ..." if len(fractional) > 2 else "")
        raise DataError(f"{source} has labels that are not whole numbers ({shown}), measurements rather than classes: "
                        "a classifier learns classes: give each series a class (a name or a whole number), e.g. by "
                        "binning the values")


def _check_one_spelling(classes: np.ndarray, source: str) -> None:
    """Refuse text labels that write one number several ways ("1" and "1.0", "01"): they would be several classes
    (a file pasted together from two sources, one of which wrote its labels as floats)."""
    if classes.dtype.kind not in "UO":
        return
    spellings: dict[float, list[str]] = {}
    for label in classes:
        value = _number(label) if isinstance(label, str) else None
        if value is not None and math.isfinite(value):
            spellings.setdefault(value, []).append(str(label))
    for same in spellings.values():
        if len(same) > 1:
            shown = " and ".join(repr(label) for label in same[:3])
            raise DataError(f"{source} has the labels {shown}, one number written {len(same)} ways, which would be "
                            f"{len(same)} classes: write each class's label one way")


def read_ucr_csv(path: str | os.PathLike, *, labels: bool = True, length: int | None = None,
                 training: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a UCR-format CSV file: no header, no index, the label (``labels=True``) first.

    Parameters
    ----------
    path : path
    labels : bool, default=True
        Whether the first column is the class label (False for inputs to predict).
    length : int, optional
        The series length required (a fitted model's).
    training : bool, default=False
        Also refuse a single class and no more rows than classes (:func:`check_labels`).

    Returns
    -------
    X : ndarray of float32, shape (n, length)
    y : ndarray of str, or None without labels

    Raises
    ------
    ParamError
        ``labels`` or ``training`` neither False nor True, or ``path`` no path.
    DataError
        A missing or unreadable file, or text :func:`parse_series_text` refuses.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.csv"
    >>> write_ucr_csv(path, *make_shapes(n_per_class=2, length=8))
    >>> X, y = read_ucr_csv(path, training=True)
    >>> X.shape
    (6, 8)
    """
    # the text 'no' was read as true: the first column taken for labels, or the labels checked as training ones
    labels = _checks.choice(labels, "labels", (False, True))
    training = _checks.choice(training, "training", (False, True))
    path = _checks.path(path, "path", "the path of a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is not part of a label
    except FileNotFoundError:
        raise DataError(f"no file {path}: give the path of a CSV file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}): give a readable UTF-8 CSV file") from None
    X, y = parse_series_text(text, labels=labels, source=path.name, length=length)
    if training:
        check_labels(y, path.name)
    return X, y


def predictions_csv(labels, classes=None, probabilities=None) -> str:
    """CSV text of predicted labels, one per row; with ``probabilities``, a header ``label,<classes>`` and each row's.

    What ``m5kit classify predict`` writes and the endpoint answers. Labels
    (and class names) holding a comma, a quote or a line break are quoted as
    CSV quotes them, so each row stays one label (and its probabilities).

    Raises
    ------
    ParamError
        ``probabilities`` without ``classes``, or ``labels`` or ``classes``
        given as one text (``"a"``, not ``["a"]``).
    DataError
        ``probabilities`` not of one row per label and one column per class.

    Examples
    --------
    >>> print(predictions_csv(["a", "b,c"]), end="")
    a
    "b,c"
    >>> print(predictions_csv(["a"], ["a", "b"], np.array([[0.75, 0.25]])), end="")
    label,a,b
    a,0.75,0.25
    """
    for name, value in (("labels", labels), ("classes", classes)):
        if isinstance(value, str):  # a row (or class) per letter
            raise ParamError(f"invalid {name} {value!r}: give a list of {name}, e.g. [{value!r}]")
    if probabilities is not None:
        if classes is None:  # a bare TypeError
            raise ParamError("predictions_csv got probabilities but no classes: give classes, the class of each "
                             "probability column")
        labels, classes = list(labels), list(classes)
        try:
            shape = np.shape(probabilities)
        except ValueError:  # rows of different lengths
            shape = "(rows of different lengths)"
        if shape != (len(labels), len(classes)):  # zip dropped the rows past the shorter silently
            raise DataError(f"probabilities has shape {shape} for {len(labels)} labels and {len(classes)} classes: "
                            "give one row per label and one column per class")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if probabilities is None:
        writer.writerows([str(label)] for label in labels)
    else:
        writer.writerow(["label", *map(str, classes)])
        writer.writerows([str(label), *(f"{p:.6g}" for p in row)] for label, row in zip(labels, probabilities))
    return out.getvalue()


def _check_writable(X: np.ndarray, y) -> None:
    """A DataError for the first value of ``X`` (2-D floats) or label of ``y`` that :func:`read_ucr_csv` refuses."""
    bad = np.argwhere(~np.isfinite(X) | (np.abs(X) > _FLOAT32_MAX))
    if len(bad):
        i, j = (int(k) for k in bad[0])
        value = float(X[i, j])
        if math.isfinite(value):
            raise DataError(f"X[{i}, {j}] is {value:g}, beyond the range of 32-bit floats (about ±3.4e38) that "
                            "read_ucr_csv reads: scale the series down before writing")
        what = "a missing value (NaN)" if math.isnan(value) else f"{value}, not a finite number"
        raise DataError(f"X[{i}, {j}] is {what}: the UCR CSV format holds finite numbers only: fill or drop "
                        "missing values before writing")
    empty = [] if y is None else [i for i, label in enumerate(y) if label is None or str(label) == ""]
    if empty:
        raise DataError(f"y[{empty[0]}] is an empty label: give every series a label, or drop the unlabelled ones "
                        "before writing")


def write_ucr_csv(path: str | os.PathLike, X, y=None) -> None:
    """Write series (and labels first, when given) in the UCR CSV format, atomically.

    Parameters
    ----------
    path : path
        The CSV file to write (replaced if it exists).
    X : array-like, shape (n, length)
        The series, one per row.
    y : array-like of length n, optional
        The class labels, written as the first column.

    Raises
    ------
    DataError
        ``X`` is not 2-D (the format holds univariate series only) or holds
        something other than finite numbers in the range of 32-bit floats
        (what :func:`read_ucr_csv` reads), or ``y`` has not one label per
        series or an empty one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> write_ucr_csv(path, np.array([[1.0, 2.5]]), np.array(["x"]))
    >>> path.read_text()
    'x,1.0,2.5\\n'
    """
    from m5kit.store import atomic_write, file_in_the_way

    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):  # a text value, None, or ragged rows: NumPy's bare error
        raise DataError("X must hold numbers, rows of one length: give the series as a 2-D array of numbers") from None
    if X.ndim != 2:
        raise DataError(f"the CSV format holds univariate series (a 2-D array), not an array of shape {X.shape}")
    if y is not None and (isinstance(y, str) or not hasattr(y, "__len__")):  # no len(), or a label per letter
        raise DataError(f"y must be one label per series (a list or array), got {type(y).__name__}")
    if y is not None and len(y) != len(X):
        raise DataError(f"{len(y)} labels for {len(X)} series: give one label per series (row of X)")
    _check_writable(X, y)  # what read_ucr_csv would refuse: a file that cannot be read back
    target = _checks.path(path, "path", "the path of the CSV file to write")
    if target.is_dir():  # was a bare IsADirectoryError
        raise DataError(f"{target} is a folder: give the path of a CSV file to write, e.g. {target / 'series.csv'}")
    blocking = file_in_the_way(target)
    if blocking is not None:  # was a bare FileExistsError or NotADirectoryError
        raise DataError(f"cannot write {target}: {blocking} is a file, not a folder: give a path in a folder")
    with atomic_write(target, "w") as fh:
        _write_rows(fh, X, y)


def _write_rows(fh, X: np.ndarray, y=None) -> None:
    """Write checked series ``X`` (2-D floats), with their labels ``y`` first when given, as UCR CSV rows to ``fh``."""
    writer = csv.writer(fh, lineterminator="\n")
    labels = None if y is None else list(y)  # by position, as X's rows (a Series' index is not the row number)
    for i, row in enumerate(X):
        values = [repr(float(v)) for v in row]
        writer.writerow(values if labels is None else [labels[i], *values])


#: What :func:`write_shapes` writes: two labelled sets, series to classify (no label) and their labels.
SHAPES_FILES = ("train.csv", "valid.csv", "test.csv", "test_labels.csv")


def write_shapes(folder: str | os.PathLike, *, n_per_class: int = 20, length: int = 64, noise: float = 0.3,
                 seed: int = 0, overwrite: bool = False) -> Path:
    """Write generated shapes (:func:`make_shapes`) as the CSV files ``m5kit classify`` reads.

    Three independent draws of the three shapes: ``train.csv`` and
    ``valid.csv`` (labelled, for ``classify train --train/--valid``),
    ``test.csv`` (the series alone, for ``classify predict`` and the endpoint)
    and ``test_labels.csv`` (its labels, one a line, as ``classify predict``
    writes its predictions). All four are written, or on a failure none.

    Parameters
    ----------
    folder : path
        Where to write the files (created with its parents if missing).
    n_per_class : int, default=20
        Series per class in each of the three sets.
    length : int, default=64
        Points per series (at least 2).
    noise : float, default=0.3
        Standard deviation of the Gaussian noise on waves of amplitude 1.
    seed : int, default=0
        The same seed writes the same files.
    overwrite : bool, default=False
        Replace the files if ``folder`` already holds some of them.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    ParamError
        A count below 1, a length below 2, a negative noise or seed, a noise
        that makes values beyond float32 (1e39), or ``overwrite`` neither
        False nor True.
    DataError
        ``folder`` is a file or under one, holds a folder named as one of the
        files, or holds one of the files and ``overwrite`` is False (nothing
        is written).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = write_shapes(pathlib.Path(tempfile.mkdtemp()) / "shapes", n_per_class=2, length=8)
    >>> sorted(f.name for f in folder.iterdir())
    ['test.csv', 'test_labels.csv', 'train.csv', 'valid.csv']
    >>> read_ucr_csv(folder / "train.csv")[0].shape
    (6, 8)
    """
    from m5kit.datasets._write import check_folder
    from m5kit.store import remove_temp_files, write_together

    n_per_class = _checks.whole(n_per_class, "n_per_class")
    length = _checks.whole(length, "length", minimum=2)  # one point has no shape: z-normalised, it is 0
    noise = _checks.number(noise, "noise", low=0.0, low_open=False)
    seed = _checks.whole(seed, "seed", minimum=0)
    folder = check_folder(folder, SHAPES_FILES, "the files", overwrite=overwrite)
    # three draws apart, not seeds seed, seed + 1, seed + 2 (seed 1's training set would be seed 0's validation set)
    # 4 decimals on waves of amplitude 1: files a quarter of float32's 17 digits, and readable
    train, valid, test = ((np.round(X.astype(np.float64), 4), y) for X, y in
                          (make_shapes(n_per_class, length, noise=noise, seed=int(s))
                           for s in np.random.SeedSequence(seed).generate_state(3)))
    folder.mkdir(parents=True, exist_ok=True)
    remove_temp_files(folder, SHAPES_FILES)  # what a killed write left (hidden .<file>.<random>.tmp files)
    train_csv, valid_csv, test_csv, labels_csv = (folder / name for name in SHAPES_FILES)
    write_together({train_csv: lambda fh: _write_rows(fh, *train), valid_csv: lambda fh: _write_rows(fh, *valid),
                    test_csv: lambda fh: _write_rows(fh, test[0]),
                    labels_csv: lambda fh: fh.write(predictions_csv(test[1]))})
    return folder
