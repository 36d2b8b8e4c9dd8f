"""`build`: every centre-year of calendars/ into output/, all computed before anything is written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from . import ics
from .engine import check_schedule
from .errors import RuleError
from .files import read_or_none, write_all
from .model import Centre, Schedule
from .service import schedule

MANIFEST = ".manifest.json"


def year_dir(out: Path, centre: Centre, year: int) -> Path:
    """Return output/<centre>/<year>/."""
    return out / centre.id / str(year)


def calendar_name(sched: Schedule, lang: str = "fr") -> str:
    """Return the feed's display name."""
    if lang == "en":
        return f"{sched.centre.name}: academic year {sched.label}"
    return f"{sched.centre.name} — année {sched.label}"


def render_schedule(
    sched: Schedule, manifest: dict[str, dict], stamp: datetime, today: date, lang: str = "fr",
    extra: Iterable[ics.Item] = (),
) -> tuple[bytes, dict[str, dict]]:
    """Render the institutional feed of a schedule (plus ``extra`` items), tracking changes."""
    items = [ics.event_item(e, sched.centre, sched.year, lang) for e in sched.events]
    items.extend(extra)
    components, new_manifest = ics.track(items, manifest, stamp, today)
    first = min((e.start for e in sched.events), default=date(sched.year, 9, 1))
    last = max((e.end for e in sched.events), default=date(sched.year + 1, 9, 30))
    data = ics.calendar_bytes(
        components,
        name=calendar_name(sched, lang),
        tzid=sched.centre.timezone,
        cal_uid=f"{sched.centre.id}.{sched.year}@cnam-calendar",
        description=f"Semestres, examens, jours fériés, fermetures et échéances — {sched.centre.name}",
        tz_range=(first, last),
    )
    return data, new_manifest


def build(centres: Iterable[Centre], years: Iterable[int], out: Path, stamp: datetime, today: date) -> list[Path]:
    """Build each centre-year into ``out``; refuse (writing nothing) when a schedule has a problem."""
    files: dict[Path, bytes] = {}
    problems: list[str] = []
    for centre in centres:
        for year in years:
            sched = schedule(centre, year)
            problems.extend(check_schedule(sched))
            target = year_dir(out, centre, year)
            manifest = ics.load_manifest(read_or_none(target / MANIFEST))
            data, manifest = render_schedule(sched, manifest, stamp, today)
            files[target / "calendar.ics"] = data
            files[target / MANIFEST] = ics.dump_manifest(manifest)
    if problems:
        raise RuleError(problems[0], hint="lancez `cnam-calendar check` pour la liste complète",
                        problems=[RuleError(p) for p in problems])
    write_all(files)
    return [p for p in files if p.name != MANIFEST]
