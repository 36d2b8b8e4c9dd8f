"""The closures a new year starts with (``cnam-calendar year new``).

PURE: no file, clock or network access. Neither FAQ speaks of a Christmas closure: the shipped
centre files assume the centres close over the school Christmas holidays, from the Saturday before
25 December to the Sunday two weeks later (docs/regles.md, « Fermetures »); a new year gets the same.
"""

from __future__ import annotations

from datetime import date, timedelta

from cnam_calendar.rules.dates import previous_weekday_before
from cnam_calendar.rules.model import Closure

SATURDAY = 5
CHRISTMAS_ID, CHRISTMAS_LABEL = "noel", "Fermeture de fin d'année"


def christmas_closure(year: int) -> Closure:
    """Return the end-of-year closure of academic year ``year``: Saturday before 25 December Y → Sunday 15 days on."""
    start = previous_weekday_before(date(year, 12, 25), SATURDAY)
    return Closure(CHRISTMAS_ID, CHRISTMAS_LABEL, start, start + timedelta(days=15))


def default_closures(year: int) -> tuple[Closure, ...]:
    """Return the closures a new ``[years.Y]`` table is written with."""
    return (christmas_closure(year),)
