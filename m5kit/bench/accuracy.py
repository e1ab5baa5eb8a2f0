"""WRMSSE per training level of the CNN-LSTM, next to the baselines, on the built-in holdout."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd

from m5kit.bench._common import default_counts
from m5kit.bench.report import markdown_table
from m5kit.execution.threads import limit_threads

__all__ = ["accuracy"]

HEADING = "Accuracy: WRMSSE per training level"
#: Packages of the ``bench`` extra this benchmark imports.
PACKAGES = ("psutil",)


def accuracy(
    levels: Sequence[int] = (3, 9, 11, 12),
    n_items: int = 10,
    n_days: int = 1913,
    epochs: int = 3,
    n_workers: int = 2,
    seed: int = 0,
    estimator=None,
) -> dict[str, pd.DataFrame]:
    """WRMSSE on the built-in holdout per training level, with the baselines.

    For each level, ``make_pipeline(level, ...)`` is fitted on
    ``make_m5(n_items, n_days, seed)`` on m5kit's LocalCluster of
    ``n_workers`` workers and forecasts the 28 held-out days;
    :func:`m5kit.runs.score_forecasts` scores it with Naive, seasonal Naive
    and the moving average on all 12 levels. The per-group fit reports are
    kept (the projection uses them).

    Returns
    -------
    dict of DataFrame
        ``accuracy`` (WRMSSE: one row per evaluated level and ``all``, one
        column per forecast), ``accuracy_groups`` (per-group fit report of
        each training level) and ``accuracy_counts`` (groups per level in the
        default 139-item data and in this data).

    Examples
    --------
    >>> tables = accuracy(levels=[3], n_items=1, n_days=200, epochs=1)  # doctest: +SKIP
    """
    from m5kit.datasets import make_m5
    from m5kit.execution.cluster import open_client
    from m5kit.hierarchy import count_groups
    from m5kit.pipeline import make_pipeline
    from m5kit.runs import baseline_forecasts, score_forecasts

    levels = list(dict.fromkeys(levels))  # a level given twice would be fitted twice and its timings merged
    limit_threads(force=True)
    data = make_m5(n_items=n_items, n_days=n_days, seed=seed)
    forecasts, reports, timing = {}, [], []
    with open_client(n_workers=n_workers, dashboard=False) as client:
        for level in levels:
            pipe = make_pipeline(level, data.calendar, data.prices, client=client, random_state=seed,
                                 estimator=estimator, **({"epochs": epochs} if estimator is None else {}))
            start = time.perf_counter()
            pipe.fit(data.sales)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            forecasts[f"CNN-LSTM level {level}"] = pipe.predict(data.sales)
            timing.append({"level": level, "level_fit_seconds": fit_s,
                           "level_predict_seconds": time.perf_counter() - start})
            reports.append(pipe[-1].fit_report_.assign(level=level))
    forecasts.update(baseline_forecasts(data.sales))
    scores = score_forecasts(data, forecasts)
    default, here = default_counts(seed), count_groups(data.sales)
    counts = pd.DataFrame({"level": list(default), "groups": list(default.values()),
                           "groups_here": [here[k] for k in default]})
    groups = pd.concat(reports, ignore_index=True).merge(pd.DataFrame(timing), on="level")
    return {"accuracy": scores, "accuracy_groups": groups, "accuracy_counts": counts}


def render(t: dict[str, pd.DataFrame]) -> str:
    """The markdown of the accuracy section."""
    a = t["accuracy"]
    text = ["WRMSSE on the 28 held-out days (lower is better); rows are the evaluation levels, columns the "
            "forecasts (CNN-LSTM trained per group of the named level).", "", markdown_table(a, digits=4)]
    g = t.get("accuracy_groups")
    if g is not None and not g.empty:
        per = g.groupby("level").agg(groups=("group", "size"), median_group_s=("seconds", "median"),
                                     level_fit_s=("level_fit_seconds", "first"),
                                     level_predict_s=("level_predict_seconds", "first"))
        text += ["", markdown_table(per.reset_index())]
    return "\n".join(text)
