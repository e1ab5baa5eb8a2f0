"""Where the benchmarks' figures go: CSV tables, the speedup plot and RESULTS.md sections."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from m5kit.errors import StoreError
from m5kit.store import atomic_write

__all__ = [
    "load_tables",
    "markdown_table",
    "plot_speedup",
    "render_head",
    "save_tables",
    "update_results",
    "verdict",
]


def save_tables(tables: dict[str, pd.DataFrame], directory: str | os.PathLike) -> list[Path]:
    """Write each table as ``<directory>/<name>.csv``; return the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        with atomic_write(path, "w") as fh:
            frame.to_csv(fh, index=False)
        paths.append(path)
    return paths


def load_tables(directory: str | os.PathLike, names: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Read the tables ``names`` back from ``directory`` (missing ones are left out)."""
    out = {}
    for name in names:
        path = Path(directory) / f"{name}.csv"
        if path.exists():
            out[name] = pd.read_csv(path)
    return out


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of ``frame`` (floats to ``digits`` significant digits).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.23456], "b": ["x"]})))
    | a | b |
    |---|---|
    | 1.23 | x |
    """

    def cell(v):
        if v is None or v is pd.NA:  # a text column's missing value (a backend that ran has no error)
            return ""
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    """``**met**`` or ``**missed**`` (a target's outcome in RESULTS.md)."""
    return "**met**" if ok else "**missed**"


def _machine_line(info: dict) -> str:
    v = info.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("numpy", "pandas", "scikit-learn", "dask", "distributed", "joblib",
                                               "keras", "tensorflow-cpu", "torch", "jax") if k in v)
    return (f"{info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB, Python {info['python']}; {libs}; "
            f"load average at start {info['load_average'][0]}")


def render_head(command: str, info: dict) -> str:
    """The lines above every benchmark's tables: command, machine, date."""
    return "\n".join([f"Command: `{command}`  ", f"Machine: {_machine_line(info)}  ",
                      f"Measured {time.strftime('%Y-%m-%d %H:%M')}; medians of the repetitions; the machine was "
                      "shared with other jobs (load average per run in the CSV).", "", ""])


def update_results(path: str | os.PathLike, heading: str, block: str, key: str) -> Path:
    """Put ``block`` into the ``## heading`` section of a markdown file.

    Only the text between ``<!-- bench:key:start -->`` and ``<!-- bench:key:end -->``
    is replaced, so notes written by hand around it stay (a start marker
    without an end one after it: up to the next ``## `` heading); a missing
    section is appended at the end. Other sections are left untouched.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""  # as it is written, whatever the locale
    except UnicodeDecodeError:
        raise StoreError(f"{path} is not UTF-8 text: save it as UTF-8, or give another --results") from None
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    generated = f"{start}\n{block.strip()}\n{end}"
    lines = text.split("\n")
    if start in text:
        before, rest = text.split(start, 1)
        before = before.replace(f"{end}\n", "").replace(end, "")  # a stray end marker above the block
        if end in rest:
            after = rest.split(end, 1)[1]
        else:  # the end marker was lost: the block ran to the end of its section
            cut = rest.find("\n## ")
            after = "\n" if cut < 0 else "\n\n" + rest[cut + 1:]
        text = before + generated + after
    elif any(line.rstrip() == f"## {heading}" for line in lines):  # a heading that ends the file or a line with spaces
        i = next(k for k, line in enumerate(lines) if line.rstrip() == f"## {heading}")
        j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
        text = "\n".join(lines[:j]).rstrip("\n") + f"\n\n{generated}\n\n" + "\n".join(lines[j:])
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n{generated}\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path


def plot_speedup(tables: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Speedup against workers: measured ways (solid) and the projection (dashed).

    Needs ``scaling_summary``; draws ``projection`` when present.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = tables["scaling_summary"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    top = int(summary["workers"].max())
    proj = tables.get("projection")
    if proj is not None and not proj.empty:
        top = max(top, int(proj["workers"].max()))
        ax.plot(proj["workers"], proj["projected_speedup"], "--", marker="x", color="tab:red",
                label="m5kit, projection (every core busy)")
        alone = tables.get("projection_alone")
        if alone is not None and not alone.empty:
            ax.plot(alone["workers"], alone["projected_speedup"], "--", marker="+", color="tab:purple",
                    label="m5kit, projection (one worker alone)")
    ax.plot([1, top], [1, top], ":", color="grey", label="ideal")
    for method, part in summary.groupby("method", sort=False):
        part = part.sort_values("workers")
        ax.plot(part["workers"], part["speedup"], "-", marker="o", label=f"{method}, measured")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("workers (one thread each)")
    ax.set_ylabel("speedup over the serial loop")
    level = int(summary["level"].iloc[0])
    ax.set_title(f"Level {level} fit: measured (2 cores) and projected")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path
