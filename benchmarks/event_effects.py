"""Event effects on the day and on the days around it, per category, in one M5 store's sales.

A least-squares regression of each category's daily log total (and the store's) on the weekday, the
state's SNAP days, four yearly harmonics, a piecewise-linear level (a knot every 8 weeks) and one
indicator per recurring event (four or more occurrences) and offset, from ``--span`` days before the
event to ``--span`` after. Days with a total under 30% of the median (Christmas, when M5's stores are
closed) are left out. Prints each event's multiplicative effect (exp of its coefficient) by offset,
with the residual's standard deviation (one event's effect, measured over 5 years, has a standard
error of about that divided by the square root of 5), and writes them to ``--out`` as CSV.

Works on the real store and on generated data alike, so the two can be read side by side:

    python benchmarks/event_effects.py --data ../shared/data/m5-ca1 --out results/event_effects_real.csv
    m5kit data generate --out /tmp/gen --items 3049 --stores 1 --seed 0
    python benchmarks/event_effects.py --data /tmp/gen
"""

from __future__ import annotations

import argparse

import numpy as np


def event_effects(data, span: int = 3):
    """Multiplicative effect of each recurring event by category and offset.

    Parameters
    ----------
    data : M5Data
        One store's sales, calendar and prices (``m5kit.load_m5`` or ``make_m5``).
    span : int
        Days before and after the event with an effect of their own.

    Returns
    -------
    effects : pandas.DataFrame
        One row per event, category and offset: ``event``, ``category`` (``ALL`` for the store),
        ``offset`` (days from the event), ``effect`` (the day's sales over what the rest of the
        regression predicts) and ``resid_sd`` (the regression's residual standard deviation).
    """
    import pandas as pd

    from m5kit._schema import day_columns

    sales = data.sales
    if sales["store_id"].nunique() != 1:
        raise SystemExit("event_effects: pass the data of one store (the SNAP days are the store's state's)")
    block = sales[day_columns(sales.columns)].to_numpy(dtype=np.float64)
    n_days = block.shape[1]
    calendar = data.calendar.iloc[:n_days].reset_index(drop=True)
    state = str(sales["state_id"].iloc[0])
    totals = {str(c): block[(sales["cat_id"] == c).to_numpy()].sum(axis=0) for c in sorted(sales["cat_id"].unique())}
    totals["ALL"] = block.sum(axis=0)

    day = np.arange(n_days)
    year = pd.to_datetime(calendar["date"]).dt.day_of_year.to_numpy() / 365.25
    columns = [pd.get_dummies(calendar["wday"].astype(int)).to_numpy(float)[:, 1:],
               calendar[[f"snap_{state}"]].to_numpy(float), np.ones((n_days, 1))]
    for k in range(1, 5):
        columns.append(np.c_[np.sin(2 * np.pi * k * year), np.cos(2 * np.pi * k * year)])
    knots = np.arange(0, n_days, 56)
    columns.append(np.maximum(0, day[:, None] - knots[None, :]) / 56.0)
    names = calendar["event_name_1"].to_numpy(dtype=object)
    counts = pd.Series(names).value_counts()
    terms = []
    for name in sorted(counts[counts >= 4].index):
        days = np.flatnonzero(names == name)
        for offset in range(-span, span + 1):
            hit = days + offset
            column = np.zeros(n_days)
            column[hit[(hit >= 0) & (hit < n_days)]] = 1.0
            columns.append(column[:, None])
            terms.append((name, offset))
    design = np.concatenate(columns, axis=1)

    rows = []
    for category, total in totals.items():
        open_ = total > 0.3 * np.median(total)
        y = np.log(np.maximum(total[open_], 1.0))
        x = design[open_]
        keep = x.any(axis=0)  # an event offset that falls only on closed days has no data
        coef = np.zeros(design.shape[1])
        coef[keep] = np.linalg.lstsq(x[:, keep], y, rcond=None)[0]
        resid_sd = float(np.std(y - x @ coef))
        tail = coef[-len(terms):]
        for (name, offset), c, k in zip(terms, tail, keep[-len(terms):]):
            rows.append({"event": name, "category": category, "offset": offset,
                         "effect": float(np.exp(c)) if k else np.nan, "resid_sd": resid_sd})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/m5-ca1", help="M5 folder of one store")
    parser.add_argument("--span", type=int, default=3, help="days before and after each event")
    parser.add_argument("--out", default=None, help="also write the effects as CSV")
    args = parser.parse_args()

    import pandas as pd

    import m5kit

    effects = event_effects(m5kit.load_m5(args.data), span=args.span)
    pd.set_option("display.width", 200)
    for category, part in effects.groupby("category", sort=False):
        print(f"{category} (residual sd {part['resid_sd'].iloc[0]:.3f})")
        print(part.pivot(index="event", columns="offset", values="effect").round(2).to_string())
        print()
    if args.out:
        effects.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
