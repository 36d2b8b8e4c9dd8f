"""The use cases the CLI, the server and the daemon share: one way to compute each date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cnam_calendar.inputs.holidays_fr import calendars_for
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.engine import build_schedule, check_schedule, personal_deadline
from cnam_calendar.rules.errors import CnamCalendarError, RuleError
from cnam_calendar.rules.model import UE, Centre, Deadline, Schedule
from cnam_calendar.rules.sessions import hours_problems

DEFAULT_CENTRE = Centre(id="cnam", name="Cnam (règles par défaut, calendrier national)")


def academic_year(today: date) -> int:
    """Return the academic year running on ``today``: September starts a new one."""
    return today.year if today.month >= 9 else today.year - 1


def local_date(moment: datetime, tz: str = "Europe/Paris") -> date:
    """Return the calendar date of ``moment`` where the centres are (a day starts at Paris midnight)."""
    return moment.astimezone(ZoneInfo(tz)).date()


def ouvres_for(centre: Centre, first_year: int, last_year: int) -> WorkingCalendar:
    """Return the jours ouvrés calendar of ``centre`` over the given civil years."""
    return calendars_for(centre.holiday_subdivision, first_year, last_year)[0]


def schedule(centre: Centre, year: int) -> Schedule:
    """Derive the institutional schedule of ``centre`` for academic year ``year``."""
    return build_schedule(centre, year, ouvres_for(centre, year - 1, year + 2))


def checked_schedules(centres: Iterable[Centre], years: Iterable[int]) -> list[Schedule]:
    """Derive every centre-year, or raise RuleError listing every problem: what each command that publishes uses."""
    years = list(years)
    schedules = [schedule(centre, year) for centre in centres for year in years]
    problems = [p for sched in schedules for p in check_schedule(sched)]
    if problems:
        raise RuleError(problems[0], hint="lancez `cnam-calendar check` pour la liste complète",
                        problems=[RuleError(p) for p in problems])
    return schedules


def checked_schedule(centre: Centre, year: int) -> Schedule:
    """Derive one centre-year as ``build`` would, refusing it when it has a problem."""
    return checked_schedules([centre], [year])[0]


def year_problems(centre: Centre, year: int, catalogue: Iterable[UE] | None) -> list[str]:
    """Return what `check` reports for one centre-year: the schedule's problems, else the UEs' hours.

    ``catalogue`` is None when it could not be read (its error is reported on its own): no hours then.
    """
    try:
        sched = schedule(centre, year)
        # hours only mean something once the semesters and the catalogue themselves are sound
        return check_schedule(sched) or ([] if catalogue is None else hours_problems(sched, list(catalogue)))
    except CnamCalendarError as exc:
        return exc.lines()


def deadline(rule: str, origin: date, centre: Centre = DEFAULT_CENTRE) -> Deadline:
    """Apply a personal rule to ``origin`` with the centre's settings and holidays."""
    return personal_deadline(rule, origin, centre, ouvres_for(centre, origin.year - 1, origin.year + 2))
