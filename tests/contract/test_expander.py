"""Every per-UE feed of both shipped catalogues, 2026–2028, against two independent readers.

``recurring-ical-events`` must expand the RRULE/EXDATE of each ``ue/<CODE>.ics`` into exactly the
engine's own list of sessions (``ue_sessions(ue, sched).dates`` at the UE's local start time);
``ical`` must read the same file and see the same sessions on its timeline.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from cnam_calendar.ical import build
from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.sessions import ue_sessions
from cnam_calendar.service import schedule

CALENDARS = Path(__file__).resolve().parents[2] / "calendars"
CENTRES = ("ipst-cnam", "cnam-occitanie")
YEARS = (2026, 2027, 2028)
STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)
TODAY = date(2026, 1, 1)
# DESIGN.md: S1 sits the winter then the June session; S2 and annual sit June then September.
EXAM_SESSIONS = {"S1": ("exam-winter", "exam-june"), "S2": ("exam-june", "exam-september"),
                 "annual": ("exam-june", "exam-september")}


def literal_uid(event_id: str, centre_id: str, year: int) -> str:
    """A feed UID as DESIGN.md writes it: ``<event id>.<centre>.<year>@cnam-calendar``."""
    return f"{event_id}.{centre_id}.{year}@cnam-calendar"


def unfold(data: bytes) -> str:
    return data.decode().replace("\r\n ", "").replace("\r\n\t", "")


def _list(value):
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module", params=[pytest.param((c, y), id=f"{c}-{y}") for c in CENTRES for y in YEARS])
def rendered(request: pytest.FixtureRequest):
    centre_id, year = request.param
    centre = load_centre(CALENDARS / f"{centre_id}.toml")
    catalogue = load_catalogue(centre)
    sched = schedule(centre, year)
    files, _ = build.render_centre_year(sched, catalogue, {}, STAMP, TODAY)
    return centre, sched, catalogue, files


def test_shipped_catalogues_have_timed_and_foad_ues() -> None:
    for centre_id in CENTRES:
        catalogue = load_catalogue(load_centre(CALENDARS / f"{centre_id}.toml"))
        assert len(catalogue) >= 25
        assert sum(u.timed for u in catalogue) >= 20 and any(not u.timed for u in catalogue)


def test_one_feed_per_ue(rendered) -> None:
    _, _, catalogue, files = rendered
    assert set(files) == {"calendar.ics", *(f"ue/{u.code}.ics" for u in catalogue)}


def test_recurring_ical_events_yields_exactly_the_engine_sessions(rendered) -> None:
    centre, sched, catalogue, files = rendered
    tz = ZoneInfo(centre.timezone)
    first, last = date(sched.year, 9, 1), date(sched.year + 2, 1, 1)
    checked = 0
    for ue in (u for u in catalogue if u.timed):
        engine = ue_sessions(ue, sched)
        assert engine.dates, f"{ue.code}: no session in {sched.label}"
        expected = [datetime.combine(d, ue.start, tz) for d in engine.dates]
        cal = icalendar.Calendar.from_ical(files[f"ue/{ue.code}.ics"])
        occurrences = recurring_ical_events.of(cal).between(first, last)
        sessions = [o for o in occurrences if isinstance(o["DTSTART"].dt, datetime)]
        starts = sorted(o["DTSTART"].dt for o in sessions)
        assert len(starts) == len(set(starts)), f"{ue.code}: duplicate occurrences"
        assert set(starts) == set(expected), (
            f"{ue.code} {sched.label}: expander-only {sorted(set(starts) - set(expected))}, "
            f"engine-only {sorted(set(expected) - set(starts))}")
        # same wall-clock time and same UTC offset, not only the same instant
        assert [(s.astimezone(tz).replace(tzinfo=None), s.utcoffset()) for s in starts] == \
            [(e.replace(tzinfo=None), e.utcoffset()) for e in expected], ue.code
        ends = sorted(o["DTEND"].dt for o in sessions)
        assert ends == [datetime.combine(d, ue.end, tz) for d in engine.dates], ue.code
        # the two exam sessions, all-day
        exam_uids = {str(o["UID"]) for o in occurrences if not isinstance(o["DTSTART"].dt, datetime)}
        assert exam_uids == {literal_uid(f"ue-{ue.code}-{e}", centre.id, sched.year)
                             for e in EXAM_SESSIONS[ue.semester]}
        checked += 1
    assert checked >= 20


def test_ical_reads_every_feed_and_sees_the_same_sessions(rendered) -> None:
    centre, sched, catalogue, files = rendered
    tz = ZoneInfo(centre.timezone)
    for ue in catalogue:
        text = files[f"ue/{ue.code}.ics"].decode()
        cal = IcsCalendarStream.calendar_from_ics(text)
        assert len(cal.events) == (3 if ue.timed else 2), ue.code
        timeline = list(cal.timeline_tz(tz))
        timed = [e for e in timeline if isinstance(e.dtstart, datetime)]
        engine = ue_sessions(ue, sched)
        assert len(timed) == len(engine.dates), ue.code
        if ue.timed:
            assert sorted(e.dtstart for e in timed) == [datetime.combine(d, ue.start, tz) for d in engine.dates]
        assert len(timeline) - len(timed) == 2, f"{ue.code}: two exam sessions"


def test_session_event_properties(rendered) -> None:
    centre, sched, catalogue, files = rendered
    sites = {s.id: s.name for s in centre.sites}
    for ue in catalogue:
        data = files[f"ue/{ue.code}.ics"]
        cal = icalendar.Calendar.from_ical(data)
        events = cal.walk("VEVENT")
        with_rrule = [e for e in events if "RRULE" in e]
        if not ue.timed:
            assert with_rrule == [], f"{ue.code} is FOAD: no weekly sessions"
            assert "RRULE" not in unfold(data)
            continue
        assert len(with_rrule) == 1, ue.code
        event = with_rrule[0]
        engine = ue_sessions(ue, sched)
        text = unfold(data)
        # time zone: DTSTART/DTEND carry the centre's TZID, never floating or UTC
        assert event["DTSTART"].params.get("TZID") == centre.timezone, ue.code
        assert event["DTEND"].params.get("TZID") == centre.timezone, ue.code
        assert f"DTSTART;TZID={centre.timezone}:{engine.first:%Y%m%d}T{ue.start:%H%M}00" in text
        assert f"BEGIN:VTIMEZONE\r\nTZID:{centre.timezone}" in text
        # UNTIL in UTC, the instant of the last session
        until = event["RRULE"]["UNTIL"][0]
        assert until.tzinfo is not None and until.utcoffset().total_seconds() == 0, ue.code
        assert until == datetime.combine(engine.last, ue.start, ZoneInfo(centre.timezone))
        assert f"UNTIL={until:%Y%m%dT%H%M%S}Z" in text
        assert event["RRULE"]["FREQ"] == ["WEEKLY"]
        # EXDATE exactly when dates are skipped, one per skipped date, in the same zone
        if engine.skipped:
            assert "EXDATE" in event, ue.code
            props = _list(event["EXDATE"])
            assert all(p.params.get("TZID") == centre.timezone for p in props), ue.code
            exdates = sorted(d.dt for p in props for d in p.dts)
            assert exdates == [datetime.combine(d, ue.start, ZoneInfo(centre.timezone)) for d, _ in engine.skipped]
        else:
            assert "EXDATE" not in event, ue.code
        # LOCATION: site name and room; none for a UE with neither
        location = str(event.get("LOCATION", ""))
        if ue.site:
            assert sites[ue.site] in location, (ue.code, location)
        if ue.room:
            assert f"salle {ue.room}" in location, (ue.code, location)
        if not ue.site and not ue.room:
            assert "LOCATION" not in event, ue.code
        assert ue.code in [str(c) for c in event["CATEGORIES"].cats]


def test_some_feeds_have_exdates(rendered) -> None:
    """The samples exercise EXDATE: at least one UE per centre-year skips a holiday or closure."""
    _, sched, catalogue, files = rendered
    skipping = [u for u in catalogue if u.timed and ue_sessions(u, sched).skipped]
    assert skipping
    assert all(b"EXDATE;TZID=" in files[f"ue/{u.code}.ics"] for u in skipping)
