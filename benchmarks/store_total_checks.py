"""How a store's daily total behaves: its weekday profile over time and the noise left after a level and the calendar.

For each M5 folder given (real files or ``m5kit data generate`` output), on the total of all its series:

- the weekday index (each day over its centred 7-day mean, averaged per weekday) of the 28 holdout days
  against that of the last 56, 364 and 728 training days (mean absolute difference), and the mean change
  of the index from one 364-day block to the next and one 91-day block to the next;
- the log-sd of the residual of a linear fit of the total's log over the last 730 training days on a
  level known 28 days ahead (the mean of days t-56..t-29) and weekday dummies, then SNAP, events and the
  day of the month added; and the residual's lag-1 autocorrelation;
- what the series that sell at least one unit a day move together: each one's daily deviation from its
  centred 28-day mean (relative, its weekday means removed; last 730 training days, series whose 28-day
  mean never falls to 0), the mean of those deviations (the common factor), its size and lag-1
  autocorrelation, and the median share of a series' deviation that the store's or its department's
  factor explains (R squared).

    python benchmarks/store_total_checks.py ../shared/data/m5-ca1 /tmp/gen
"""

from __future__ import annotations

import argparse


def _profile(total, n):
    import numpy as np

    block = total[-n:].reshape(-1, 7)
    return (block / block.mean(axis=1, keepdims=True)).mean(axis=0)


def weekday_checks(data) -> dict[str, float]:
    """Weekday-index distances of the holdout days and between consecutive blocks."""
    import numpy as np

    total = data.sales.filter(regex=r"^d_\d+$").to_numpy(float).sum(axis=0)
    future = data.future.filter(regex=r"^d_\d+$").to_numpy(float).sum(axis=0)
    total = total[len(total) % 7:]  # whole weeks that end on the last training day
    test = _profile(future, 28)
    out = {f"holdout vs last {n} days": float(np.abs(test - _profile(total, n)).mean()) for n in (56, 364, 728)}
    for size, name in ((364, "year"), (91, "quarter")):
        blocks = [_profile(total[len(total) - size * (k + 1): len(total) - size * k], size)
                  for k in range(min(len(total) // size, 8 if size == 91 else 4))]
        out[f"change per {name}"] = float(np.mean([np.abs(a - b).mean() for a, b in zip(blocks, blocks[1:])]))
    return out


def residual_checks(data) -> dict[str, float]:
    """Log-sd of the total's residual after a level, the weekday and the calendar (last 730 days)."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    days = data.sales.filter(regex=r"^d_\d+$").shape[1]
    total = data.sales.filter(regex=r"^d_\d+$").to_numpy(float).sum(axis=0)[-730:]
    cal = data.calendar.iloc[days - 730: days].reset_index(drop=True)
    y = np.log1p(total)
    level = pd.Series(y).rolling(28).mean().shift(29).to_numpy()
    ok = ~np.isnan(level) & (total > 0.2 * np.median(total))  # leaves out the closed days (Christmas)
    weekday = pd.get_dummies(cal["wday"].astype(int)).to_numpy(float)
    snap = cal.filter(like="snap_").to_numpy(float)
    event = cal["event_name_1"].notna().to_numpy(float)[:, None]
    mday = pd.to_datetime(cal["date"]).dt.day.to_numpy()
    month_ends = np.stack([mday <= 5, mday > 25], axis=1).astype(float)
    out = {}
    resid = None
    for name, X in (("level + weekday", np.c_[level, weekday]),
                    ("+ SNAP", np.c_[level, weekday, snap]),
                    ("+ events", np.c_[level, weekday, snap, event]),
                    ("+ day of month", np.c_[level, weekday, snap, event, month_ends])):
        fit = LinearRegression().fit(X[ok], y[ok])
        resid = y[ok] - fit.predict(X[ok])
        out[f"residual log-sd, {name}"] = float(resid.std())
    out["residual lag-1 autocorrelation"] = float(np.corrcoef(resid[1:], resid[:-1])[0, 1])
    return out


def common_factor_checks(data) -> dict[str, float]:
    """How the busy series' daily deviations move together (see the module's docstring)."""
    import numpy as np
    import pandas as pd

    sales = data.sales.filter(regex=r"^d_\d+$").to_numpy(float)[:, -730:]
    dept = data.sales["dept_id"].to_numpy()
    mean = pd.DataFrame(sales.T).rolling(28, center=True).mean().to_numpy().T[:, 14:-14]
    sales = sales[:, 14:-14]
    busy = (sales[:, -365:].mean(axis=1) >= 1.0) & (mean.min(axis=1) > 0)
    dev = sales[busy] / mean[busy]
    weekday = np.arange(dev.shape[1]) % 7
    for k in range(7):
        dev[:, weekday == k] -= dev[:, weekday == k].mean(axis=1, keepdims=True)

    def r2(rows):
        factor = rows.mean(axis=0)
        return [np.corrcoef(row, factor)[0, 1] ** 2 for row in rows]

    factor = dev.mean(axis=0)
    by_dept = [v for d in np.unique(dept[busy]) for v in r2(dev[dept[busy] == d])]
    return {"busy series in the common factor": float(busy.sum()),
            "common factor sd": float(factor.std()),
            "common factor lag-1 autocorrelation": float(np.corrcoef(factor[1:], factor[:-1])[0, 1]),
            "median R2 of a series on the store factor": float(np.median(r2(dev))),
            "median R2 on its department's factor": float(np.median(by_dept))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="M5 folders (with sales_train_evaluation.csv)")
    args = parser.parse_args()

    import pandas as pd

    import m5kit

    rows = {}
    for folder in args.folders:
        data = m5kit.load_m5(folder)
        rows[folder] = {**weekday_checks(data), **residual_checks(data), **common_factor_checks(data)}
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).round(4).to_string())


if __name__ == "__main__":
    main()
