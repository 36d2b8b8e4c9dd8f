"""What `check` finds: problems in files it could read (exit 1) apart from files it could not read (exit 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import centre_files, load_centres
from cnam_calendar.rules.errors import CnamCalendarError, UnreadableError
from cnam_calendar.service import academic_year, year_problems


@dataclass
class Findings:
    """The lines `check` prints: problems of sound files, files it cannot read, years checked."""

    problems: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    years: int = 0

    def add(self, exc: CnamCalendarError) -> None:
        for problem in exc.problems or (exc,):
            (self.unreadable if isinstance(problem, UnreadableError) else self.problems).append(str(problem))


def check_centres(calendars: Path, only: tuple[str, ...], today: date) -> Findings:
    """Check each centre file of ``calendars`` (or those named), its catalogue and each of its years."""
    stems = [p.stem for p in centre_files(calendars)]
    names = list(dict.fromkeys(only)) or stems
    unknown = tuple(n for n in names if n not in stems)
    if unknown or not names:
        load_centres(calendars, unknown)  # raises the usual « centre inconnu » or « aucun fichier » (exit 2)
    found = Findings()
    for name in names:
        try:
            centre = load_centres(calendars, (name,))[0]
        except CnamCalendarError as exc:
            found.add(exc)
            continue
        try:
            catalogue = load_catalogue(centre)
        except CnamCalendarError as exc:
            found.add(exc)
            catalogue = None
        for year in sorted({*centre.years, academic_year(today)}):
            # the files are read: what is left are problems of the year (the console shows the same list)
            found.problems.extend(year_problems(centre, year, catalogue))
            found.years += 1
    return found
