"""The progress bar of per-group work: groups done out of the total, on stderr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["progress_bar"]


class _NoBar:
    def __enter__(self) -> Callable[[], None]:
        return lambda: None

    def __exit__(self, *exc):
        return False


class _RichBar:
    def __init__(self, total: int, done: int, label: str):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(label, total=total, completed=done)

    def __enter__(self):
        self._progress.start()
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc):
        self._progress.stop()
        return False


def progress_bar(show: bool, total: int, done: int = 0, label: str = "") -> Any:
    """A context giving a function that advances a rich progress bar on stderr by one (a no-op when not ``show``).

    Parameters
    ----------
    show : bool
        Whether to show the bar; when false, the context gives a function that does nothing.
    total : int
        Steps (groups) of the whole work.
    done : int, default=0
        Steps already done when the bar starts (a resumed run).
    label : str, default=""
        The text left of the bar.

    Returns
    -------
    context manager
        Entering it starts the bar and gives the function ``advance()``;
        leaving it stops the bar.

    Examples
    --------
    >>> with progress_bar(False, total=3) as advance:
    ...     advance()
    """
    return _RichBar(total, done, label) if show else _NoBar()
