"""Rolling feeds: one URL without a year, the running academic year plus the next one once it is built.

``/feeds/<centre>.ics``, ``/feeds/<centre>/ue/<CODE>.ics`` and the personal feeds serve the academic
year of today (1 September starts a new one, in the centre's time zone) and, as soon as
``output/<centre>/<year+1>/`` holds a build, that next year too: a subscriber never changes URL in
September. Each year's events keep their own UIDs, SEQUENCE and LAST-MODIFIED (the yearly feeds'
ones); the calendar is wrapped once, with one VTIMEZONE covering both years.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical import ics
from cnam_calendar.rules.model import UE, Centre, Schedule

VTIMEZONE_END = b"END:VTIMEZONE\r\n"


def rolling_years(centre: Centre, today: date, built: set[int]) -> tuple[int, ...]:
    """Return the academic years a rolling feed serves on ``today``: the running one, and the next once built."""
    year = today.year if today.month >= 9 else today.year - 1
    return (year, year + 1) if year + 1 in built else (year,)


def built_years(out: Path, centre: Centre, generation: Sequence[tuple[str, int]] = ()) -> set[int]:
    """Return the academic years of ``centre`` built in ``out`` (a manifest present), from ``generation`` if given."""
    prefix = str(out / centre.id) + "/"
    paths = [p for p, _ in generation] if generation else [
        str(p) for p in (out / centre.id).glob(f"*/{build_mod.MANIFEST}")]
    years: set[int] = set()
    for path in paths:
        if path.startswith(prefix) and path.endswith("/" + build_mod.MANIFEST):
            name = path[len(prefix):].split("/", 1)[0]
            if name.isdigit() and len(name) == 4:
                years.add(int(name))
    return years


def feed_name(centre: Centre, lang: str = "fr", ues: Sequence[UE] = (), personal: bool = False) -> str:
    """Return the display name of a rolling feed (no year: it stays right from one year to the next)."""
    suffix = (" — " + ", ".join(u.code for u in ues)) if ues else ""
    if lang == "en":
        name = f"{centre.name}: calendar{suffix}"
        return "My calendar — " + name if personal else name
    name = f"{centre.name} — calendrier{suffix}"
    return "Mon calendrier — " + name if personal else name


def head(scheds: Sequence[Schedule], name: str) -> bytes:
    """Return the VCALENDAR opening of a feed over ``scheds`` (one VTIMEZONE for all of them), without its end."""
    centre = scheds[0].centre
    first = min((e.start for s in scheds for e in s.events), default=date(scheds[0].year, 9, 1))
    last = max((e.end for s in scheds for e in s.events), default=date(scheds[-1].year + 1, 9, 30))
    data = ics.calendar_bytes([], name=name, tzid=centre.timezone, tz_range=(first, last),
                              description=f"Semestres, examens, jours fériés, fermetures et échéances — {centre.name}")
    return data.removesuffix(ics.END)


def components(feed: bytes) -> bytes:
    """Return the events of a feed written by this package: what lies between its VTIMEZONE and its end."""
    at = feed.find(VTIMEZONE_END)
    start = at + len(VTIMEZONE_END) if at >= 0 else max(feed.find(b"BEGIN:VEVENT\r\n"), 0)
    return feed[start:].removesuffix(ics.END)


def merge(opening: bytes, feeds: Sequence[bytes]) -> bytes:
    """Return one calendar: ``opening`` (see ``head``), then the events of each feed, in order."""
    return opening + b"".join(components(f) for f in feeds) + ics.END


def rolling_feed(scheds: Sequence[Schedule], ues_by_year: Sequence[Sequence[UE]], manifests: Sequence[dict],
                 stamp: datetime, today: date, lang: str = "fr") -> bytes:
    """Render the institutional events and the chosen UEs of every schedule of ``scheds`` as one calendar."""
    feeds = [build_mod.combined_feed(s, ues, m, stamp, today, lang)
             for s, ues, m in zip(scheds, ues_by_year, manifests, strict=True)]
    return merge(head(scheds, feed_name(scheds[0].centre, lang, ues_by_year[0])), feeds)


__all__ = ["built_years", "feed_name", "head", "merge", "rolling_feed", "rolling_years"]
