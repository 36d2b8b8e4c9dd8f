"""Golden files: one centre-year pinned as .ics (under SOURCE_DATE_EPOCH) and as engine JSON, one
per-UE feed (NFA031) and one personal feed.

Regenerate (then review the diff with `git diff tests/golden/`):

    UPDATE_GOLDEN=1 python -m pytest tests/golden -q

Without UPDATE_GOLDEN=1 nothing is written. With it, a file is rewritten only when its content
changed, and every test still compares and checks the facts worked out by hand below, so an
update cannot pin a wrong date.

The .ics is built by the CLI from the repository's calendars/ (named by the relative path
`calendars`, as staff run it), with SOURCE_DATE_EPOCH=1767225600 (2026-01-01T00:00:00Z).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from cnam_calendar import service
from cnam_calendar.ical.personal import PersonalFeeds
from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centre, parse_centre
from cnam_calendar.rules.model import Learner, Schedule
from cnam_calendar.text.explain import render_all

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
EPOCH = 1767225600

# golden JSON file → (centre file relative to the repository, academic year)
ENGINE_GOLDENS = {
    "ipst-cnam-2026.json": ("calendars/ipst-cnam.toml", 2026),
    "cnam-occitanie-2027.json": ("calendars/cnam-occitanie.toml", 2027),
    "cnam-grand-est-2028.json": ("tests/data/calendars/cnam-grand-est.toml", 2028),
}
ICS_GOLDEN = HERE / "ipst-cnam-2026.ics"
UE_GOLDEN = HERE / "ipst-cnam-2026-ue-NFA031.ics"
PERSONAL_GOLDEN = HERE / "personal-ipst-cnam-2026.ics"
LEARNER_KEY = "0123456789abcdef0123456789abcdef"  # the opaque key the store would derive


def _compare(path: Path, data: bytes) -> None:
    if UPDATE and (not path.exists() or path.read_bytes() != data):
        path.write_bytes(data)
    assert path.exists(), f"{path.name} missing: run UPDATE_GOLDEN=1 python -m pytest tests/golden"
    assert data == path.read_bytes(), (
        f"{path.name} differs from the golden file; if the change is intended, run "
        "UPDATE_GOLDEN=1 python -m pytest tests/golden and review the diff")


def schedule_json(sched: Schedule) -> bytes:
    """Serialise a schedule independently of the CLI's JSON."""
    events = [{
        "id": e.id,
        "kind": e.kind,
        "title": e.title,
        "title_en": e.title_en,
        "start": e.start.isoformat(),
        "end": e.end.isoformat(),
        "overridden": e.overridden,
        "categories": list(e.categories),
        "explanation": list(render_all(e.explanation)),
        "source": e.source.cite() if e.source else None,
    } for e in sched.events]
    doc = {"centre": sched.centre.id, "year": sched.year, "label": sched.label, "events": events}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode() + b"\n"


@pytest.mark.parametrize("name", sorted(ENGINE_GOLDENS))
def test_engine_json(name: str) -> None:
    relative, year = ENGINE_GOLDENS[name]
    centre = parse_centre((REPO / relative).read_text(encoding="utf-8"), relative)
    _compare(HERE / name, schedule_json(service.schedule(centre, year)))


def test_ics_built_under_source_date_epoch(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = run_cli("--calendars", "calendars", "build", "--centre", "ipst-cnam", "--year", "2026",
                     "--out", str(tmp_path), epoch=EPOCH)
    assert result.exit_code == 0, result.output
    _compare(ICS_GOLDEN, (tmp_path / "ipst-cnam" / "2026" / "calendar.ics").read_bytes())
    _compare(UE_GOLDEN, (tmp_path / "ipst-cnam" / "2026" / "ue" / "NFA031.ics").read_bytes())


def _events(path: Path) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


def test_golden_ue_feed_says_what_the_rules_give() -> None:
    """NFA031, S1 2026, Tuesdays 17:45–21:30 in Toulouse: worked out from DESIGN.md by hand.

    S1 runs Mon 12 Oct 2026 – Sat 16 Jan 2027: Tuesdays 13 Oct … 12 Jan, without 22 and 29 Dec
    (closure 19 Dec – 3 Jan); winter exams Mon 18 Jan – Sat 13 Feb 2027, then June.
    """
    events = _events(UE_GOLDEN)
    assert set(events) == {f"ue-NFA031-{e}.ipst-cnam.2026@cnam-calendar"
                           for e in ("sessions", "exam-winter", "exam-june")}
    sessions = events["ue-NFA031-sessions.ipst-cnam.2026@cnam-calendar"]
    paris = ZoneInfo("Europe/Paris")
    assert sessions["DTSTART"].dt == datetime(2026, 10, 13, 17, 45, tzinfo=paris)
    assert sessions["DTEND"].dt == datetime(2026, 10, 13, 21, 30, tzinfo=paris)
    rule = sessions["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and sessions["DTSTART"].dt.weekday() == 1  # weekly from a Tuesday
    assert rule["UNTIL"][0].astimezone(paris).date() == date(2027, 1, 12)
    exdates = sorted(d.dt.date() for x in (sessions.get("EXDATE") if isinstance(sessions.get("EXDATE"), list)
                                           else [sessions["EXDATE"]]) for d in x.dts)
    assert exdates == [date(2026, 12, 22), date(2026, 12, 29)]
    winter = events["ue-NFA031-exam-winter.ipst-cnam.2026@cnam-calendar"]
    assert (winter["DTSTART"].dt, winter["DTEND"].dt) == (date(2027, 1, 18), date(2027, 2, 14))
    june = events["ue-NFA031-exam-june.ipst-cnam.2026@cnam-calendar"]
    assert (june["DTSTART"].dt, june["DTEND"].dt) == (date(2027, 6, 1), date(2027, 7, 1))
    held = recurring_ical_events.of(icalendar.Calendar.from_ical(UE_GOLDEN.read_bytes())).between(
        date(2026, 9, 1), date(2027, 9, 1))
    assert len([e for e in held if str(e["UID"]).endswith("sessions.ipst-cnam.2026@cnam-calendar")]) == 12


def personal_feed() -> bytes:
    centre = load_centre(REPO / "calendars" / "ipst-cnam.toml")
    sched = service.schedule(centre, 2026)
    stamp = datetime.fromtimestamp(EPOCH, timezone.utc)
    feeds = PersonalFeeds(sched, load_catalogue(centre), {}, stamp, date(2026, 1, 1),
                          service.ouvres_for(centre, 2025, 2028))
    learner = Learner("2026-00001", "camille.martin@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf",
                      ("NFA031", "NFA035"), date(2026, 11, 2), date(2026, 11, 10), None, "fr")
    return feeds.render(learner, LEARNER_KEY, stamp)


def test_personal_feed() -> None:
    _compare(PERSONAL_GOLDEN, personal_feed())


def test_golden_personal_feed_says_what_the_rules_give() -> None:
    """A CPF learner validated Tue 10 Nov 2026 (deadline Mon 16 Nov: 11 Nov is Armistice), dossier
    received Mon 2 Nov (withdrawal Thu 12 Nov), NFA031 (S1) and NFA035 (annual, FOAD)."""
    events = _events(PERSONAL_GOLDEN)
    own = {uid: e for uid, e in events.items() if LEARNER_KEY in uid}
    assert set(own) == {f"{rule}.{LEARNER_KEY}.ipst-cnam.2026@cnam-calendar"
                        for rule in ("cpf-confirmation", "withdrawal")}
    cpf = own[f"cpf-confirmation.{LEARNER_KEY}.ipst-cnam.2026@cnam-calendar"]
    assert (cpf["DTSTART"].dt, cpf["DTEND"].dt) == (date(2026, 11, 16), date(2026, 11, 17))
    withdrawal = own[f"withdrawal.{LEARNER_KEY}.ipst-cnam.2026@cnam-calendar"]
    assert (withdrawal["DTSTART"].dt, withdrawal["DTEND"].dt) == (date(2026, 11, 12), date(2026, 11, 13))
    assert {uid for uid in events if uid.startswith("ue-")} == {
        "ue-NFA031-sessions.ipst-cnam.2026@cnam-calendar", "ue-NFA031-exam-winter.ipst-cnam.2026@cnam-calendar",
        "ue-NFA031-exam-june.ipst-cnam.2026@cnam-calendar", "ue-NFA035-exam-june.ipst-cnam.2026@cnam-calendar",
        "ue-NFA035-exam-september.ipst-cnam.2026@cnam-calendar"}
    # a CPF learner sees the centre's latest-validation deadlines; everyone sees the semesters
    assert "cpf-latest-validation-s1.ipst-cnam.2026@cnam-calendar" in events
    assert "semester-1.ipst-cnam.2026@cnam-calendar" in events
    # alarms at 09:00 on J-7 and J-1 (before 00:00 of the day), never before the date that made the
    # deadline: the CPF's J-7 (9 Nov) comes before the validation (10 Nov), the withdrawal's (5 Nov) does not
    def triggers(event):
        return sorted(str(a["TRIGGER"].to_ical(), "ascii") for a in event.walk("VALARM"))
    assert triggers(cpf) == ["-PT15H"]
    assert triggers(withdrawal) == ["-P6DT15H", "-PT15H"]


def test_golden_ics_is_read_by_three_independent_tools() -> None:
    data = ICS_GOLDEN.read_bytes()
    cal = icalendar.Calendar.from_ical(data)
    stream = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    assert len(stream.events) == len(list(cal.walk("VEVENT")))
    expanded = recurring_ical_events.of(cal).between(date(2026, 9, 1), date(2027, 10, 1))
    uids = {str(e["UID"]) for e in expanded}
    assert "semester-1.ipst-cnam.2026@cnam-calendar" in uids
    assert "holiday-2026-11-11.ipst-cnam.2026@cnam-calendar" in uids
    assert all(uid.endswith(".ipst-cnam.2026@cnam-calendar") for uid in uids)


def test_golden_files_are_rewritten_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.ics"
    path.write_bytes(b"old\n")
    monkeypatch.setitem(globals(), "UPDATE", False)
    with pytest.raises(AssertionError, match="differs from the golden file"):
        _compare(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    monkeypatch.setitem(globals(), "UPDATE", True)
    _compare(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    stat = path.stat()
    _compare(path, b"new\n")  # unchanged content: the file is not touched
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
