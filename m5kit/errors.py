"""Errors that m5kit raises for bad input.

Every error m5kit raises on purpose derives from :class:`M5kitError`. Its
message is one line that names the problem and what to do about it; the CLI
prints exactly that line on stderr and exits with code 1.
"""

from __future__ import annotations

__all__ = [
    "M5kitError",
    "DataError",
    "ParamError",
    "LevelError",
    "ClusterError",
    "StoreError",
    "GroupError",
]


class M5kitError(Exception):
    """Base class of m5kit's user-facing errors (one-line message)."""


class DataError(M5kitError, ValueError):
    """The M5 tables are missing, malformed or inconsistent."""


class ParamError(M5kitError, ValueError):
    """A parameter or command-line option has a value m5kit cannot use (see :mod:`m5kit._checks`)."""


class LevelError(ParamError):
    """An aggregation level outside 1-12 (or not a whole number)."""


class ClusterError(M5kitError, RuntimeError):
    """The Dask cluster cannot be started or reached."""


class StoreError(M5kitError, RuntimeError):
    """A model store cannot be used (holds a different run, is damaged, ...)."""


class GroupError(M5kitError, ValueError):
    """A group cannot be fitted (too short for the window, empty, ...)."""
