"""Module-level objectives for tests/test_tuning.py (sent to Dask workers, so importable by name)."""

from __future__ import annotations


def quadratic(data, params):
    """(x - target)^2 + n: minimum at x = target, n = 0."""
    return (params["x"] - data["target"]) ** 2 + params.get("n", 0)


def fails_when_negative(data, params):
    """Raises for x < 0: a trial's own error."""
    if params["x"] < 0:
        raise ValueError(f"x={params['x']:.2f} is negative")
    return params["x"]


def always_fails(data, params):
    """Every trial raises."""
    raise RuntimeError("broken objective")
