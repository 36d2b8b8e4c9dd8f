"""`build` and `feed`: centre-years of calendars/ into .ics files, all computed before anything is written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

from cnam_calendar.files import read_or_none
from cnam_calendar.ical import ics
from cnam_calendar.ical.publish import publish
from cnam_calendar.rules.model import UE, Centre, Schedule
from cnam_calendar.rules.sessions import exam_events, ue_sessions
from cnam_calendar.service import checked_schedules

MANIFEST = ".manifest.json"
CALENDAR = "calendar.ics"


def year_dir(out: Path, centre: Centre, year: int) -> Path:
    """Return output/<centre>/<year>/."""
    return out / centre.id / str(year)


def calendar_name(sched: Schedule, lang: str = "fr", ues: Sequence[UE] = ()) -> str:
    """Return a feed's display name."""
    suffix = (" — " + ", ".join(u.code for u in ues)) if ues else ""
    if lang == "en":
        return f"{sched.centre.name}: academic year {sched.label}{suffix}"
    return f"{sched.centre.name} — année {sched.label}{suffix}"


def ue_items(sched: Schedule, ue: UE, lang: str = "fr", feed: str = "") -> list[ics.Item]:
    """Return the feed items of one UE: its weekly sessions and its two exam sessions."""
    feed = feed or f"ue/{ue.code}.ics"
    items = [ics.event_item(e, sched.centre, sched.year, lang, feed) for e in exam_events(ue, sched)]
    session = ics.sessions_item(ue_sessions(ue, sched), sched.centre, sched.year, lang, feed)
    return ([session] if session else []) + items


def institutional_items(sched: Schedule, lang: str = "fr", feed: str = CALENDAR) -> list[ics.Item]:
    """Return the feed items of the institutional events."""
    return [ics.event_item(e, sched.centre, sched.year, lang, feed) for e in sched.events]


def feed_bytes(sched: Schedule, events: Sequence[ics.Stamped], *, name: str) -> bytes:
    """Wrap stamped events in a calendar named ``name``."""
    first = min((e.start for e in sched.events), default=date(sched.year, 9, 1))
    last = max((e.end for e in sched.events), default=date(sched.year + 1, 9, 30))
    return ics.calendar_bytes(
        events,
        name=name,
        tzid=sched.centre.timezone,
        description=f"Semestres, examens, jours fériés, fermetures et échéances — {sched.centre.name}",
        tz_range=(first, last),
    )


def render_centre_year(
    sched: Schedule, catalogue: Sequence[UE], manifest: dict[str, dict], stamp: datetime, today: date
) -> tuple[dict[str, bytes], dict[str, dict]]:
    """Render calendar.ics and ue/<CODE>.ics of a centre-year; returns {relative path: bytes} and the manifest."""
    items = institutional_items(sched)
    for ue in catalogue:
        items.extend(ue_items(sched, ue))
    events, manifest = ics.track(items, manifest, stamp, today)
    by_feed: dict[str, list[ics.Stamped]] = defaultdict(list)
    for event in events:
        by_feed[event.feed].append(event)
    files = {CALENDAR: feed_bytes(sched, by_feed.pop(CALENDAR, []), name=calendar_name(sched))}
    codes = {f"ue/{ue.code}.ics": ue for ue in catalogue}
    for feed, components in sorted(by_feed.items()):
        ue = codes.get(feed)
        # a UE no longer in the catalogue keeps its file, its events cancelled, until they are past
        code = ue.code if ue else feed.removeprefix("ue/").removesuffix(".ics")
        files[feed] = feed_bytes(sched, components, name=f"{calendar_name(sched)} — {code}")
    return files, manifest


def removed_ue_feed(sched: Schedule, code: str, manifest: dict[str, dict], today: date) -> bytes | None:
    """Render the feed of a UE the catalogue no longer has: its events as the last build cancelled them, or None."""
    feed = f"ue/{code}.ics"
    kept = {uid: entry for uid, entry in manifest.items() if entry.get("feed") == feed}
    events, _ = ics.track((), kept, ics.UNSTAMPED, today, readonly=True)
    if not events:
        return None
    return feed_bytes(sched, events, name=f"{calendar_name(sched)} — {code}")


def combined_feed(
    sched: Schedule, ues: Sequence[UE], manifest: dict[str, dict], stamp: datetime, today: date, lang: str = "fr"
) -> bytes:
    """Render one calendar with the institutional events and the chosen UEs, in ``lang``."""
    items = institutional_items(sched, lang)
    for ue in ues:
        items.extend(ue_items(sched, ue, lang))
    events, _ = ics.track(items, manifest, stamp, today, readonly=True)
    wanted = {CALENDAR, *(f"ue/{u.code}.ics" for u in ues)}
    components = [e for e in events if e.feed in wanted]
    return feed_bytes(sched, components, name=calendar_name(sched, lang, ues))


def overview_links(rendered: dict[str, bytes], catalogue: Sequence[UE]) -> list[tuple[str, str]]:
    """Return (label, relative href) of every .ics of a centre-year, the centre's calendar first."""
    titles = {f"ue/{u.code}.ics": f"{u.code} — {u.title}" for u in catalogue}
    links = [("Calendrier de l'année (semestres, examens, jours fériés, échéances)", CALENDAR)]
    return links + [(titles.get(rel, rel), rel) for rel in sorted(rendered) if rel != CALENDAR]


def load_manifest(out: Path, centre: Centre, year: int) -> dict[str, dict]:
    """Read the manifest of a built centre-year (empty when never built)."""
    return ics.load_manifest(read_or_none(year_dir(out, centre, year) / MANIFEST))


def build(
    centres: Iterable[Centre],
    years: Iterable[int],
    out: Path,
    stamp: datetime,
    today: date,
    catalogues: dict[str, Sequence[UE]] | None = None,
    overview=None,
) -> list[Path]:
    """Build each centre-year into ``out``; refuse (writing nothing) when a schedule has a problem."""
    published: dict[Path, dict[str, bytes]] = {}
    names: dict[Path, str] = {}
    for sched in checked_schedules(centres, years):
        centre, year = sched.centre, sched.year
        catalogue = (catalogues or {}).get(centre.id, ())
        target = year_dir(out, centre, year)
        rendered, manifest = render_centre_year(sched, catalogue, load_manifest(out, centre, year), stamp, today)
        files = dict(rendered)
        if overview is not None:
            files["index.html"] = overview(sched, overview_links(rendered, catalogue)).encode()
        files[MANIFEST] = ics.dump_manifest(manifest)
        published[target], names[target] = files, f"{centre.id} {year}"
    publish(out, published, describe=names)  # each year whole or not at all
    return [target / rel for target, files in published.items() for rel in files if rel != MANIFEST]
