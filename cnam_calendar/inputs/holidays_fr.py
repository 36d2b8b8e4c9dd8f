"""French public holidays: the one place that calls the ``holidays`` package."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays

from cnam_calendar.messages import gettext
from cnam_calendar.rules.dates import OUVRABLES, OUVRES, WorkingCalendar
from cnam_calendar.rules.errors import ConfigError

# Public-holiday subdivisions only: the "Zone A/B/C" entries are school holidays, not days off.
SUBDIVISIONS = tuple(s for s in holidays.France.subdivisions if not s.startswith("Zone"))


def french_holidays(subdivision: str | None, years: Iterable[int]) -> dict[date, tuple[str, ...]]:
    """Return {date: French names} for ``years`` (Code du travail L3133-1, + local days)."""
    return dict(_holidays(subdivision or None, tuple(sorted(set(years)))))


@lru_cache(maxsize=64)
def _holidays(subdivision: str | None, years: tuple[int, ...]) -> tuple[tuple[date, tuple[str, ...]], ...]:
    if subdivision is not None and subdivision not in SUBDIVISIONS:
        raise ConfigError(
            gettext("fr", "subdivision de jours fériés inconnue « %(subdivision)s »", subdivision=subdivision),
            hint=gettext("fr", "attendu : vide, ou l'une de %(choices)s", choices=", ".join(SUBDIVISIONS)),
        )
    table = holidays.France(subdiv=subdivision, years=years, language="fr")
    return tuple(sorted((d, tuple(table.get_list(d))) for d in table))


def calendars_for(subdivision: str | None, first_year: int, last_year: int) -> tuple[WorkingCalendar, WorkingCalendar]:
    """Return (jours ouvrés, jours ouvrables) calendars covering the given civil years."""
    return _calendars(subdivision or None, first_year, last_year)


@lru_cache(maxsize=32)
def _calendars(subdivision: str | None, first_year: int, last_year: int) -> tuple[WorkingCalendar, WorkingCalendar]:
    names = french_holidays(subdivision, range(first_year, last_year + 1))
    return (
        WorkingCalendar(names, first_year, last_year, OUVRES),
        WorkingCalendar(names, first_year, last_year, OUVRABLES),
    )
