"""Calendar arithmetic of French deadlines: jours ouvrés/ouvrables, prorogation, months.

PURE: no file, clock or network access. Holidays are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from cnam_calendar.rules.errors import RuleError

OUVRES = frozenset(range(5))  # Monday to Friday
OUVRABLES = frozenset(range(6))  # Monday to Saturday


class WorkingCalendar:
    """Working days between two years, indexed so that D + N is two list look-ups.

    ``holidays`` maps a date to the names of the public holidays on it.
    """

    def __init__(
        self,
        holidays: Mapping[date, tuple[str, ...]],
        first_year: int,
        last_year: int,
        weekdays: frozenset[int] = OUVRES,
    ) -> None:
        self.holidays = holidays
        self.weekdays = weekdays
        self.first = date(first_year, 1, 1)
        self.last = date(last_year, 12, 31)
        self._lo = self.first.toordinal()
        work_days: list[date] = []
        count: list[int] = []  # count[i] = working days on or before day lo + i
        day = self.first
        while day <= self.last:
            if day.weekday() in weekdays and day not in holidays:
                work_days.append(day)
            count.append(len(work_days))
            day += timedelta(days=1)
        self._work_days = work_days
        self._count = count

    def _index(self, d: date) -> int:
        i = d.toordinal() - self._lo
        if not 0 <= i < len(self._count):
            raise RuleError(
                f"la date {d.isoformat()} est hors de la période calculée "
                f"({self.first.isoformat()} – {self.last.isoformat()})",
                hint="choisissez une date entre ces bornes",
            )
        return i

    def is_working(self, d: date) -> bool:
        """Tell whether ``d`` is a working day of this calendar."""
        return d.weekday() in self.weekdays and d not in self.holidays

    def add(self, d: date, n: int) -> date:
        """Return the n-th working day strictly after ``d`` (D never counts); n ≥ 1."""
        i = self._index(d)
        try:
            return self._work_days[self._count[i] + n - 1]
        except IndexError:
            raise RuleError(
                f"{d.isoformat()} + {n} jours dépasse la période calculée "
                f"(jusqu'au {self.last.isoformat()})"
            ) from None

    def subtract(self, d: date, n: int) -> date:
        """Return the n-th working day strictly before ``d``; n ≥ 1."""
        i = self._index(d)
        before = self._count[i] - (1 if self.is_working(d) else 0)  # working days < d
        k = before - n
        if k < 0:
            raise RuleError(
                f"{d.isoformat()} − {n} jours précède la période calculée "
                f"(depuis le {self.first.isoformat()})"
            )
        return self._work_days[k]

    def next_or_same(self, d: date) -> date:
        """Return ``d`` when it is a working day, else the next one."""
        return d if self.is_working(d) else self.add(d, 1)


def prorogate(d: date, ouvres: WorkingCalendar) -> date:
    """Move a deadline off a Saturday, Sunday or public holiday (CPC art. 642)."""
    return ouvres.next_or_same(d)


def add_months(d: date, months: int) -> date:
    """Same day number ``months`` later, clipped to the end of a shorter month (CPC art. 641)."""
    return d + relativedelta(months=months)


def monday_of_iso_week(d: date) -> date:
    """Return the Monday of the ISO week containing ``d``."""
    return d - timedelta(days=d.weekday())


def saturday_of_iso_week(d: date) -> date:
    """Return the Saturday of the ISO week containing ``d``."""
    return monday_of_iso_week(d) + timedelta(days=5)


def next_weekday_after(d: date, weekday: int) -> date:
    """Return the first day strictly after ``d`` falling on ``weekday`` (0 = Monday)."""
    return d + timedelta(days=(weekday - d.weekday() - 1) % 7 + 1)


def previous_weekday_before(d: date, weekday: int) -> date:
    """Return the last day strictly before ``d`` falling on ``weekday`` (0 = Monday)."""
    return d - timedelta(days=(d.weekday() - weekday - 1) % 7 + 1)


def last_day_of_february(year: int) -> date:
    """Return 28 or 29 February of ``year``."""
    return date(year, 3, 1) - timedelta(days=1)


def days(first: date, last: date):
    """Yield every date from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
