"""The one home of m5kit's input checks: one function per kind of check.

Every check takes the value and the name the user knows it by (a parameter
``window``, a CLI option ``number of workers``), returns the value in its
proper type, and raises :class:`~m5kit.errors.ParamError` with one line that
names the value and says what to give. Text is accepted where a number is
expected (``"3"``), because CLI options arrive as text and are checked here
too, the same way as the estimators' parameters.

Examples
--------
>>> whole("3", "window", minimum=2, text=True)
3
>>> whole(0, "number of workers")
Traceback (most recent call last):
...
m5kit.errors.ParamError: invalid number of workers 0: give a whole number of at least 1
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from m5kit._schema import DAY_PREFIX, day_number
from m5kit.errors import DataError, ParamError

__all__ = ["whole", "optional_whole", "number", "fraction", "choice", "layer_sizes", "path"]


def _as_int(value: Any, text: bool = False) -> int | None:
    """``value`` as an int when it is one (an int, a NumPy int, or with ``text`` a text of digits), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str) and text:
        text = value.strip()
        sign = text[:1] in "+-" and text[:1] != ""
        digits = text[1:] if sign else text
        if digits.isdigit():
            return int(text)
    return None


def whole(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, text: bool = False) -> int:
    """A whole number in ``[minimum, maximum]``.

    Parameters
    ----------
    value : int or str
        The value to check (``"3"`` is accepted).
    name : str
        What the value is, as the user knows it (``"window"``).
    minimum, maximum : int
        Bounds, both included (``maximum=None``: no upper bound).
    text : bool, default=False
        Accept text of digits (``"3"``), as command-line options give it.

    Returns
    -------
    int

    Raises
    ------
    ParamError
        ``invalid <name> <value>: give a whole number of at least <minimum>``.

    Examples
    --------
    >>> whole(28, "window", minimum=2)
    28
    """
    number_ = _as_int(value, text)
    if number_ is None or number_ < minimum or (maximum is not None and number_ > maximum):
        span = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ParamError(f"invalid {name} {value!r}: give a whole number {span}")
    return number_


def optional_whole(value: Any, name: str, *, minimum: int = 1, text: bool = False) -> int | None:
    """:func:`whole`, or None for None.

    Examples
    --------
    >>> optional_whole(None, "max_windows") is None
    True
    """
    return None if value is None else whole(value, name, minimum=minimum, text=text)


def number(value: Any, name: str, *, low: float = 0.0, low_open: bool = True, hint: str | None = None,
           text: bool = False) -> float:
    """A finite real number above ``low`` (or at least ``low`` with ``low_open=False``).

    Parameters
    ----------
    value : float or str
    name : str
    low : float
    low_open : bool
        Whether ``low`` itself is refused.
    hint : str, optional
        What to give, said after the colon (default: ``a number > low``).
    text : bool, default=False
        Accept text (``"1.5"``), as command-line options give it.

    Returns
    -------
    float

    Examples
    --------
    >>> number("1.5", "timeout", text=True)
    1.5
    """
    out = math.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        out = float(value)
    elif isinstance(value, str) and text:
        try:
            out = float(value.strip())
        except ValueError:
            pass
    ok = math.isfinite(out) and (out > low if low_open else out >= low)
    if not ok:
        sign = ">" if low_open else ">="
        raise ParamError(f"invalid {name} {value!r}: give {hint or f'a number {sign} {low:g}'}")
    return out


def fraction(value: Any, name: str) -> float:
    """A fraction in ``[0, 1)`` (0 or None: none).

    Examples
    --------
    >>> fraction(0.1, "validation_split")
    0.1
    """
    if value is None:
        return 0.0
    out = number(value, name, low=0.0, low_open=False, hint="a fraction from 0 up to (not including) 1")
    if not out < 1.0:
        raise ParamError(f"invalid {name} {value!r}: give a fraction from 0 up to (not including) 1")
    return out


def choice(value: Any, name: str, options: Iterable[Any]) -> Any:
    """One of ``options``.

    Examples
    --------
    >>> choice("skip", "--on-short", ("skip", "error"))
    'skip'
    """
    options = list(options)
    if value not in options:
        said = repr(options[0]) if len(options) == 1 else ", ".join(map(repr, options[:-1])) + f" or {options[-1]!r}"
        raise ParamError(f"invalid {name} {value!r}: give {said}")
    return value


def layer_sizes(value: Any, name: str) -> tuple[int, ...]:
    """Layer sizes: an int means one layer, a sequence one layer each; 0 and None mean none.

    Examples
    --------
    >>> layer_sizes((16, 0, 8), "conv_filters")
    (16, 8)
    >>> layer_sizes(None, "dense_units")
    ()
    """
    if value is None:
        return ()
    items: Sequence[Any] = (value,) if _as_int(value) is not None or isinstance(value, (str, bool)) else tuple(value)
    sizes = [_as_int(v) for v in items]
    if any(s is None or s < 0 for s in sizes):
        raise ParamError(f"invalid {name} {value!r}: give a whole number >= 0 or a sequence of them (0: no layer)")
    return tuple(s for s in sizes if s > 0)


def weights(value: Any, count: int, what: str, many: str) -> np.ndarray:
    """One weight >= 0 per ``what`` (``count`` of them, said ``many``: "runs"), not all 0, as floats scaled to a
    largest of 1 (only their ratios count: huge weights would overflow a sum); None gives equal weights.

    >>> weights([3, 1], 2, "forecast", "forecast(s)").tolist()
    [1.0, 0.3333333333333333]
    """
    if value is None:
        return np.ones(count)
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:  # '31' was the one weight 31, '3,1' "not numbers"
        raise ParamError(f"invalid weights {value!r}: give one number >= 0 per {what} as a list, "
                         f"e.g. [{', '.join(['1'] * count)}]")
    try:
        w = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ParamError(f"weights must be numbers, got {value!r}") from None
    if len(w) != count:
        raise ParamError(f"{len(w)} weight(s) for {count} {many}: give one weight per {what}")
    if not np.isfinite(w).all() or (w < 0).any() or not w.any():
        raise ParamError(f"weights must be finite, >= 0 and not all 0, got {','.join(f'{v:g}' for v in w)}: "
                         f"give one weight >= 0 per {what}, at least one of them > 0")
    return w / w.max()


def path(value: Any, name: str, what: str) -> Path:
    """``value`` (a str or :class:`os.PathLike`) as a :class:`~pathlib.Path`.

    None (an unset option, a missing environment variable) was Python's bare
    TypeError 'expected str, bytes or os.PathLike object, not NoneType'.

    Examples
    --------
    >>> path("runs", "out", "the run folder").name
    'runs'
    >>> path(None, "out", "the run folder")
    Traceback (most recent call last):
    ...
    m5kit.errors.ParamError: invalid out None: give the run folder as a str or pathlib.Path
    """
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise ParamError(f"invalid {name} {value!r}: give {what} as a str or pathlib.Path")


def home(value: str | os.PathLike) -> Path:
    """``value`` with a leading ``~`` (or ``~user``) as that home folder, as the shell reads it.

    A ``~name`` of no user is left as it is, as the shell leaves it (a folder
    named so): :meth:`pathlib.Path.expanduser` raised a bare RuntimeError.

    Examples
    --------
    >>> home("~/runs") == Path.home() / "runs"
    True
    >>> str(home("~nosuchuser_m5kit/runs"))
    '~nosuchuser_m5kit/runs'
    """
    return Path(os.path.expanduser(value))


def day_numbers(days: Sequence[str], what: str) -> np.ndarray:
    """The numbers of the ``d_`` columns ``days`` of the table ``what``; a DataError naming one that is not
    ``d_<number>`` (``d_x``)."""
    try:
        return np.array([day_number(d) for d in days])
    except ValueError:
        bad = next(d for d in days if not d[len(DAY_PREFIX):].isdigit())
        raise DataError(f"{what} column {bad!r} is not a day column: day columns are named d_1, d_2, ...") from None


def consecutive_days(days: Sequence[str], what: str) -> np.ndarray:
    """:func:`day_numbers` of ``days``, refused in one line unless they run in order without gaps (else a column
    is taken for the day after the one before it)."""
    numbers = day_numbers(days, what)
    steps = np.flatnonzero(np.diff(numbers) != 1)
    if steps.size:
        i = int(steps[0])
        raise DataError(f"{what} day columns are not consecutive: {days[i + 1]!r} follows {days[i]!r}; "
                        "pass the days in order without gaps")
    return numbers


def first_missing(frame, columns: Iterable[str]) -> tuple[str, int, int] | None:
    """The first of ``columns`` with a missing value: ``(column, first row position, rows missing)``, or None.

    The callers word their own DataError (a missing id or group key: pandas 2
    grouped it as 'nan', pandas 3 left it out of every group).
    """
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            return column, int(np.flatnonzero(missing)[0]), int(missing.sum())
    return None


def first_bad_sale(values: np.ndarray) -> tuple[tuple[int, ...], str] | None:
    """The position of the first negative or infinite value of ``values`` and which it is, or None (NaN passes).

    Sales are unit counts >= 0; the callers word their own DataError.
    """
    if values.size == 0:
        return None
    bad = (values < 0) | np.isinf(values)
    if not bad.any():
        return None
    position = tuple(int(i[0]) for i in np.nonzero(bad))
    return position, "infinite" if np.isinf(values[position]) else "negative"
