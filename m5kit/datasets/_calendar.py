"""An M5 ``calendar.csv`` for any number of days: weeks, SNAP days and events.

Events carry M5's own names and types and follow the real date rules:
fixed dates, "n-th weekday of the month" holidays, Easter by the Gregorian
computus and Orthodox Easter by the Julian one (``dateutil.easter``), Jewish
holidays from the arithmetic Hebrew calendar and Muslim holidays from the
tabular Islamic calendar (Reingold & Dershowitz, *Calendrical Calculations*;
observed dates can differ by a day). The NBA Finals have no rule: they are
placed on the first Thursday of June and 14 days later, about where they fell
in 2011-2016.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
from dateutil.easter import EASTER_ORTHODOX, EASTER_WESTERN, easter

from m5kit._schema import FIRST_DATE, STATES

__all__ = ["make_calendar", "event_dates", "SNAP_DAYS", "EVENT_TYPE"]

#: Days of the month on which each state pays SNAP benefits (M5's rules).
SNAP_DAYS: dict[str, tuple[int, ...]] = {
    "CA": tuple(range(1, 11)),
    "TX": (1, 3, 5, 6, 7, 9, 11, 12, 13, 15),
    "WI": (2, 3, 5, 6, 8, 9, 11, 12, 14, 15),
}

#: M5's event names and their types.
EVENT_TYPE: dict[str, str] = {
    "SuperBowl": "Sporting",
    "ValentinesDay": "Cultural",
    "PresidentsDay": "National",
    "LentStart": "Religious",
    "LentWeek2": "Religious",
    "StPatricksDay": "Cultural",
    "Purim End": "Religious",
    "OrthodoxEaster": "Religious",
    "Easter": "Cultural",
    "Pesach End": "Religious",
    "Cinco De Mayo": "Cultural",
    "Mother's day": "Cultural",
    "MemorialDay": "National",
    "NBAFinalsStart": "Sporting",
    "NBAFinalsEnd": "Sporting",
    "Father's day": "Cultural",
    "IndependenceDay": "National",
    "Ramadan starts": "Religious",
    "Eid al-Fitr": "Religious",
    "LaborDay": "National",
    "ColumbusDay": "National",
    "Halloween": "Cultural",
    "EidAlAdha": "Religious",
    "VeteransDay": "National",
    "Thanksgiving": "National",
    "Christmas": "National",
    "Chanukah End": "Religious",
    "NewYear": "National",
    "OrthodoxChristmas": "Religious",
    "MartinLutherKingDay": "National",
}

_WEEKDAYS = ("Saturday", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


# --- date rules -------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday=0) of a month; ``n=-1`` for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


_MON, _THU, _SUN = 0, 3, 6


def _gregorian_events(year: int) -> Iterator[tuple[dt.date, str]]:
    western = easter(year, EASTER_WESTERN)
    yield dt.date(year, 1, 1), "NewYear"
    yield dt.date(year, 1, 7), "OrthodoxChristmas"
    yield _nth_weekday(year, 1, _MON, 3), "MartinLutherKingDay"
    yield _nth_weekday(year, 2, _SUN, 1), "SuperBowl"
    yield dt.date(year, 2, 14), "ValentinesDay"
    yield _nth_weekday(year, 2, _MON, 3), "PresidentsDay"
    yield western - dt.timedelta(days=46), "LentStart"
    yield western - dt.timedelta(days=39), "LentWeek2"
    yield dt.date(year, 3, 17), "StPatricksDay"
    yield easter(year, EASTER_ORTHODOX), "OrthodoxEaster"
    yield western, "Easter"
    yield dt.date(year, 5, 5), "Cinco De Mayo"
    yield _nth_weekday(year, 5, _SUN, 2), "Mother's day"
    yield _nth_weekday(year, 5, _MON, -1), "MemorialDay"
    finals = _nth_weekday(year, 6, _THU, 1)
    yield finals, "NBAFinalsStart"
    yield finals + dt.timedelta(days=14), "NBAFinalsEnd"
    yield _nth_weekday(year, 6, _SUN, 3), "Father's day"
    yield dt.date(year, 7, 4), "IndependenceDay"
    yield _nth_weekday(year, 9, _MON, 1), "LaborDay"
    yield _nth_weekday(year, 10, _MON, 2), "ColumbusDay"
    yield dt.date(year, 10, 31), "Halloween"
    yield dt.date(year, 11, 11), "VeteransDay"
    yield _nth_weekday(year, 11, _THU, 4), "Thanksgiving"
    yield dt.date(year, 12, 25), "Christmas"


# Hebrew calendar (months: 1 Nisan ... 7 Tishri ... 9 Kislev, 12 Adar [I], 13 Adar II).
_HEBREW_EPOCH = -1373427  # fixed (R.D.) date of 1 Tishri, year 1


def _hebrew_leap(year: int) -> bool:
    return (7 * year + 1) % 19 < 7


def _hebrew_elapsed_days(year: int) -> int:
    months = (235 * year - 234) // 19
    parts = 12084 + 13753 * months
    days = 29 * months + parts // 25920
    return days + 1 if (3 * (days + 1)) % 7 < 3 else days


def _hebrew_new_year(year: int) -> int:
    ny0, ny1, ny2 = (_hebrew_elapsed_days(y) for y in (year - 1, year, year + 1))
    correction = 2 if ny2 - ny1 == 356 else 1 if ny1 - ny0 == 382 else 0
    return _HEBREW_EPOCH + ny1 + correction


def _hebrew_month_days(month: int, year: int) -> int:
    length = _hebrew_new_year(year + 1) - _hebrew_new_year(year)
    if month in (2, 4, 6, 10, 13):
        return 29
    if month == 12 and not _hebrew_leap(year):
        return 29
    if month == 8 and length % 10 != 5:  # Marheshvan is long only in 355/385-day years
        return 29
    if month == 9 and length % 10 == 3:  # Kislev is short in 353/383-day years
        return 29
    return 30


def _from_hebrew(year: int, month: int, day: int) -> dt.date:
    fixed = _hebrew_new_year(year) + day - 1
    last_month = 13 if _hebrew_leap(year) else 12
    if month < 7:
        fixed += sum(_hebrew_month_days(m, year) for m in range(7, last_month + 1))
        fixed += sum(_hebrew_month_days(m, year) for m in range(1, month))
    else:
        fixed += sum(_hebrew_month_days(m, year) for m in range(7, month))
    return dt.date.fromordinal(fixed)


def _jewish_events(year: int) -> Iterator[tuple[dt.date, str]]:
    """Purim, Pesach and Chanukah ending in Gregorian ``year``."""
    spring = year + 3760  # the Hebrew year whose Adar and Nisan fall in this spring
    yield _from_hebrew(spring, 13 if _hebrew_leap(spring) else 12, 14), "Purim End"
    yield _from_hebrew(spring, 1, 22), "Pesach End"
    # Chanukah: 25 Kislev plus 7 days (it can end in January of the next year).
    for hebrew in (spring, spring + 1):
        end = _from_hebrew(hebrew, 9, 25) + dt.timedelta(days=7)
        if end.year == year:
            yield end, "Chanukah End"


_ISLAMIC_EPOCH = 227015  # fixed date of 1 Muharram AH 1 (July 16, 622 Julian)


def _from_islamic(year: int, month: int, day: int) -> dt.date:
    fixed = (_ISLAMIC_EPOCH - 1 + (year - 1) * 354 + (3 + 11 * year) // 30
             + 29 * (month - 1) + month // 2 + day)
    return dt.date.fromordinal(fixed)


def _islamic_events(year: int) -> Iterator[tuple[dt.date, str]]:
    """Ramadan, Eid al-Fitr and Eid al-Adha in Gregorian ``year``."""
    first = int((year - 622) * 33 / 32) - 1
    for hijri in range(first, first + 4):
        for when, name in (
            (_from_islamic(hijri, 9, 1), "Ramadan starts"),
            (_from_islamic(hijri, 10, 1), "Eid al-Fitr"),
            (_from_islamic(hijri, 12, 10), "EidAlAdha"),
        ):
            if when.year == year:
                yield when, name


def event_dates(start: dt.date, end: dt.date) -> list[tuple[dt.date, str, str]]:
    """All M5 events from ``start`` to ``end`` (inclusive) as ``(date, name, type)``.

    Examples
    --------
    >>> import datetime as dt
    >>> event_dates(dt.date(2011, 11, 24), dt.date(2011, 11, 24))
    [(datetime.date(2011, 11, 24), 'Thanksgiving', 'National')]
    """
    events = []
    for year in range(start.year, end.year + 1):
        for rule in (_gregorian_events, _jewish_events, _islamic_events):
            events.extend((when, name, EVENT_TYPE[name]) for when, name in rule(year))
    order = {name: i for i, name in enumerate(EVENT_TYPE)}
    return sorted((e for e in events if start <= e[0] <= end), key=lambda e: (e[0], order[e[1]]))


# --- the table --------------------------------------------------------------------------


def _week_ids(dates: pd.DatetimeIndex) -> np.ndarray:
    """Walmart weeks ``1YYWW``: weeks start on Saturday; week 01 of year Y starts on
    the Saturday on or before February 1 of Y (2011-01-29 is week 11101)."""
    days = dates.values.astype("datetime64[D]").astype(np.int64)  # days since 1970-01-01 (a Thursday)
    week_start = days - (days - 2) % 7  # the Saturday on or before each day
    years = dates.year.to_numpy()
    starts = {}
    for year in range(int(years.min()) - 1, int(years.max()) + 2):
        feb1 = np.datetime64(f"{year}-02-01", "D").astype(np.int64)
        starts[year] = feb1 - (feb1 - 2) % 7
    year_of = np.where(week_start >= np.array([starts[y] for y in years]), years, years - 1)
    first = np.array([starts[y] for y in year_of])
    week_no = (week_start - first) // 7 + 1
    return (100 + year_of % 100) * 100 + week_no


def make_calendar(n_days: int, start: str = FIRST_DATE) -> pd.DataFrame:
    """Build an M5 ``calendar.csv`` table of ``n_days`` days from ``start``.

    Parameters
    ----------
    n_days : int
        Number of days (M5: 1,969).
    start : str, default "2011-01-29"
        The date of ``d_1``.

    Returns
    -------
    DataFrame
        M5's calendar columns (not yet conformed to the lean dtypes).

    Examples
    --------
    >>> cal = make_calendar(3)
    >>> cal[["date", "wm_yr_wk", "weekday", "wday", "d"]].astype(str).values.tolist()[0]
    ['2011-01-29', '11101', 'Saturday', '1', 'd_1']
    """
    dates = pd.date_range(start, periods=n_days, freq="D")
    wday = (dates.day_of_week.to_numpy() + 2) % 7 + 1  # Monday=0 -> 3, Saturday=5 -> 1
    cal = pd.DataFrame({
        "date": dates,
        "wm_yr_wk": _week_ids(dates),
        "weekday": np.array(_WEEKDAYS, dtype=object)[wday - 1],
        "wday": wday,
        "month": dates.month,
        "year": dates.year,
        "d": [f"d_{i}" for i in range(1, n_days + 1)],
    })
    names = {1: np.full(n_days, np.nan, dtype=object), 2: np.full(n_days, np.nan, dtype=object)}
    types = {1: np.full(n_days, np.nan, dtype=object), 2: np.full(n_days, np.nan, dtype=object)}
    first = dates[0].date()
    for when, name, kind in event_dates(first, dates[-1].date()):
        i = (when - first).days
        slot = 1 if pd.isna(names[1][i]) else 2
        if slot == 2 and not pd.isna(names[2][i]):
            continue  # M5 has at most two events a day
        names[slot][i], types[slot][i] = name, kind
    for slot in (1, 2):
        cal[f"event_name_{slot}"] = names[slot]
        cal[f"event_type_{slot}"] = types[slot]
    day_of_month = dates.day.to_numpy()
    for state in STATES:
        cal[f"snap_{state}"] = np.isin(day_of_month, SNAP_DAYS[state]).astype(np.int8)
    return cal
