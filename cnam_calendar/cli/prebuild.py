"""What `build` checks before it writes anything: the UEs' hours as `check` does, the years' tables.

The schedule's own checks (``service.checked_schedules``) run in ``ical.build.build`` and refuse with status 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from cnam_calendar.messages import ngettext
from cnam_calendar.rules.engine import check_schedule
from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.rules.sessions import hours_problems
from cnam_calendar.service import schedule

EXIT_PROBLEMS = 1


def hours_before_build(centre: Centre, year: int, catalogue: Sequence[UE]) -> list[str]:
    """Return the problems `check` names in the UEs' hours of one centre-year.

    A schedule that is itself unsound (dates inverted, semesters overlapping, out of the year) is
    not listed here: `build` refuses it with status 2 and every problem, `--force` or not.
    """
    try:
        sched = schedule(centre, year)
    except CnamCalendarError:
        return []  # build says it, with status 2
    return [] if check_schedule(sched) else hours_problems(sched, catalogue)


def missing_tables(centres: Sequence[Centre], years: Sequence[int]) -> list[str]:
    """Return a warning for each centre-year without its ``[years.Y]`` table (built without any closure)."""
    return [f"{c.path or c.file_name} n'a pas de table [years.{y}] : {y}-{y + 1} sera construite sans aucune "
            f"fermeture ; créez-la avec : cnam-calendar year new --centre {c.id} --year {y}"
            for c in centres for y in years if y not in c.years]


def check_before_build(ctx: click.Context, centres: Sequence[Centre], years: Sequence[int],
                       catalogues: dict[str, Sequence[UE]], *, force: bool) -> None:
    """Warn about missing year tables; list every problem and stop with status 1 unless ``force``."""
    for warning in missing_tables(centres, years):
        click.echo(f"Attention : {warning}", err=True)
    problems = [p for c in centres for y in years for p in hours_before_build(c, y, catalogues.get(c.id, ()))]
    if not problems:
        return
    if force:
        for problem in problems:
            click.echo(f"Attention (--force) : {problem}", err=True)
        return
    for problem in problems:
        click.echo(f"Problème : {problem}", err=True)
    click.echo(ngettext("fr", "%(num)d problème : rien n'a été construit.", "%(num)d problèmes : rien n'a été construit.",
                        len(problems)) + " Corrigez-les (cnam-calendar check), ou construisez quand même avec --force.",
               err=True)
    ctx.exit(EXIT_PROBLEMS)
