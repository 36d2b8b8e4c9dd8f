"""The .ics feeds: valid for two independent parsers, feed properties, identity and determinism.

Feeds are built through the CLI (the form scripts rely on) with an injected clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from cnam_calendar import service
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.model import Centre, Schedule
from cnam_calendar.text.explain import render_all

CENTRES = ("ipst-cnam", "cnam-occitanie")
YEARS = (2026, 2027, 2028)
EPOCH = 1767225600
EPOCH_UTC = datetime.fromtimestamp(EPOCH, timezone.utc)
T1 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 11, 30, 8, 30, tzinfo=timezone.utc)
T3 = datetime(2026, 12, 7, 8, 30, tzinfo=timezone.utc)


def build(run_cli, calendars: Path, out: Path, *years: int, clock: datetime = T1, epoch: int | None = None,
          centres: tuple[str, ...] = ()) -> None:
    args = ["--calendars", str(calendars), "build", "--out", str(out)]
    for year in years:
        args += ["--year", str(year)]
    for centre in centres:
        args += ["--centre", centre]
    result = run_cli(*args, clock=clock, epoch=epoch)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def feed(out: Path, centre: str, year: int) -> Path:
    return out / centre / str(year) / "calendar.ics"


def events(data: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    found: dict[str, icalendar.Event] = {}
    for component in cal.walk("VEVENT"):
        uid = str(component["UID"])
        assert uid not in found, f"duplicate UID {uid}"
        found[uid] = component
    return found


@pytest.fixture(scope="module")
def all_feeds(tmp_path_factory: pytest.TempPathFactory, run_cli, calendars_dir: Path) -> Path:
    """Both centres × 2026, 2027, 2028, built once under SOURCE_DATE_EPOCH."""
    out = tmp_path_factory.mktemp("feeds")
    build(run_cli, calendars_dir, out, *YEARS, epoch=EPOCH)
    return out


@pytest.fixture(scope="module")
def schedules(calendars_dir: Path) -> dict[tuple[str, int], Schedule]:
    return {(c, y): service.schedule(load_centre(calendars_dir / f"{c}.toml"), y) for c in CENTRES for y in YEARS}


CASES = [pytest.param(c, y, id=f"{c}-{y}") for c in CENTRES for y in YEARS]


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_both_parsers_read_every_feed(centre: str, year: int, all_feeds: Path) -> None:
    data = feed(all_feeds, centre, year).read_bytes()
    cal = icalendar.Calendar.from_ical(data)
    assert cal.name == "VCALENDAR"
    parsed = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    assert len(parsed.events) == len(list(cal.walk("VEVENT"))) > 10
    assert {e.uid for e in parsed.events} == {str(e["UID"]) for e in cal.walk("VEVENT")}


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_every_generated_file_is_valid(centre: str, year: int, all_feeds: Path) -> None:
    """calendar.ics and any other feed of the centre-year (per-UE feeds…): two parsers, CRLF, size, UIDs."""
    files = sorted((all_feeds / centre / str(year)).rglob("*.ics"))
    assert feed(all_feeds, centre, year) in files
    uids: list[str] = []
    for path in files:
        data = path.read_bytes()
        assert b"\n" not in data.replace(b"\r\n", b""), path
        assert len(data) < 500_000, path
        cal = icalendar.Calendar.from_ical(data)
        stream = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
        assert len(stream.events) == len(list(cal.walk("VEVENT"))), path
        for line in ("CALSCALE:GREGORIAN", "REFRESH-INTERVAL;VALUE=DURATION:PT6H", "X-PUBLISHED-TTL:PT6H"):
            assert line in data.decode("utf-8").split("\r\n"), (path, line)
        assert "X-WR-CALNAME" in cal and "NAME" in cal and "X-WR-TIMEZONE" in cal
        # a subscription, not an iTIP message (no METHOD); no calendar UID (vdirsyncer would give it to every item)
        assert "METHOD" not in cal and "UID" not in cal, path
        assert cal.walk("VTIMEZONE"), path
        for vevent in cal.walk("VEVENT"):
            uid = str(vevent["UID"])
            assert re.fullmatch(rf"[A-Za-z0-9_-]+\.{re.escape(centre)}\.{year}@cnam-calendar", uid), uid
            uids.append(uid)
            start = vevent["DTSTART"].dt
            if type(start) is date:
                assert str(vevent["TRANSP"]) == "TRANSPARENT", uid
                assert vevent["DTEND"].dt > start, uid
            else:
                assert start.tzinfo is not None, f"{uid}: never a floating time"
            assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt == EPOCH_UTC, uid
    assert len(uids) == len(set(uids)), "UIDs are unique across the feeds of a centre-year"


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_rfc5545_lines(centre: str, year: int, all_feeds: Path) -> None:
    data = feed(all_feeds, centre, year).read_bytes()
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends with CRLF"
    assert all(len(line) <= 75 for line in data.split(b"\r\n")), "lines folded at 75 octets"
    assert len(data) < 500_000


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_calendar_properties(centre: str, year: int, all_feeds: Path) -> None:
    text = feed(all_feeds, centre, year).read_bytes().decode("utf-8")
    lines = text.split("\r\n")
    assert not any(line.startswith(("METHOD:", "UID:")) for line in lines[:lines.index("BEGIN:VTIMEZONE")])
    for line in ("CALSCALE:GREGORIAN", "X-WR-TIMEZONE:Europe/Paris",
                 "REFRESH-INTERVAL;VALUE=DURATION:PT6H", "X-PUBLISHED-TTL:PT6H", "VERSION:2.0"):
        assert line in lines, line
    cal = icalendar.Calendar.from_ical(text)
    assert f"{year}-{year + 1}" in str(cal["X-WR-CALNAME"])
    assert str(cal["NAME"]) == str(cal["X-WR-CALNAME"])
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert "PRODID" in cal


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_every_engine_event_is_published_as_it_was_derived(centre: str, year: int, all_feeds: Path,
                                                           schedules: dict) -> None:
    published = events(feed(all_feeds, centre, year).read_bytes())
    sched: Schedule = schedules[(centre, year)]
    for uid in published:
        assert re.fullmatch(rf"[a-z0-9-]+\.{re.escape(centre)}\.{year}@cnam-calendar", uid), uid
    for e in sched.events:
        uid = f"{e.id}.{centre}.{year}@cnam-calendar"
        assert uid in published, uid
        vevent = published[uid]
        start, end = vevent["DTSTART"], vevent["DTEND"]
        assert start.params.get("VALUE") == "DATE" and end.params.get("VALUE") == "DATE"
        assert type(start.dt) is date and type(end.dt) is date
        assert start.dt == e.start
        assert end.dt == e.end + timedelta(days=1), "DTEND is the day after the last day"
        assert str(vevent["TRANSP"]) == "TRANSPARENT"
        assert str(vevent["SUMMARY"]) == e.title
        description = str(vevent["DESCRIPTION"])
        assert render_all(e.explanation)[0] in description
        if e.source is not None:
            assert "Source" in description
        assert vevent.get("CATEGORIES") is not None
        assert str(vevent.get("STATUS", "CONFIRMED")) != "CANCELLED"
        assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt == EPOCH_UTC
        assert int(vevent["SEQUENCE"]) == 0


def test_french_summaries(all_feeds: Path) -> None:
    published = events(feed(all_feeds, "ipst-cnam", 2026).read_bytes())
    summaries = {uid.split(".")[0]: str(v["SUMMARY"]) for uid, v in published.items()}
    assert summaries["semester-1"] == "Semestre 1"
    assert summaries["exam-winter"] == "Session d'examens d'hiver"
    assert summaries["holiday-2026-11-11"] == "Armistice"
    assert summaries["closure-noel"] == "Fermeture de fin d'année"
    assert "CPF" in summaries["cpf-latest-validation-s1"]


@pytest.mark.parametrize(("centre", "year"), CASES)
def test_independent_expander_yields_the_engine_events(centre: str, year: int, all_feeds: Path,
                                                       schedules: dict) -> None:
    cal = icalendar.Calendar.from_ical(feed(all_feeds, centre, year).read_bytes())
    expanded = recurring_ical_events.of(cal).between(date(year, 8, 1), date(year + 1, 11, 1))
    all_day = {(str(e["UID"]).split(".")[0], e["DTSTART"].dt) for e in expanded if type(e["DTSTART"].dt) is date}
    assert all_day == {(e.id, e.start) for e in schedules[(centre, year)].events}


@pytest.fixture(scope="module")
def second_build(tmp_path_factory: pytest.TempPathFactory, run_cli, calendars_dir: Path) -> Path:
    """Ipst-Cnam × 2026–2028 again, into another directory, at another clock, same SOURCE_DATE_EPOCH."""
    out = tmp_path_factory.mktemp("again")
    build(run_cli, calendars_dir, out, *YEARS, clock=T3, epoch=EPOCH, centres=("ipst-cnam",))
    return out


def test_builds_in_two_directories_are_byte_identical(second_build: Path, all_feeds: Path) -> None:
    files = sorted(p.relative_to(second_build) for p in second_build.rglob("*") if p.is_file())
    assert Path("ipst-cnam/2026/calendar.ics") in files
    for relative in files:
        if relative.name != ".manifest.json":
            assert (second_build / relative).read_bytes() == (all_feeds / relative).read_bytes(), relative


def test_rebuild_without_change_is_byte_identical_and_keeps_sequence(tmp_path: Path, run_cli,
                                                                      calendars_dir: Path) -> None:
    out = tmp_path / "out"
    build(run_cli, calendars_dir, out, 2026, clock=T1, centres=("ipst-cnam",))
    first = {p: p.read_bytes() for p in out.rglob("*.ics")}
    build(run_cli, calendars_dir, out, 2026, clock=T2, centres=("ipst-cnam",))  # a week later, nothing changed
    assert {p: p.read_bytes() for p in out.rglob("*.ics")} == first
    first = feed(out, "ipst-cnam", 2026).read_bytes()
    for vevent in events(first).values():
        assert int(vevent["SEQUENCE"]) == 0
        assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt == T1, "DTSTAMP is the build clock, never now"


def _changed(before: dict[str, icalendar.Event], after: dict[str, icalendar.Event]) -> set[str]:
    return {uid.split(".")[0] for uid in after if int(after[uid]["SEQUENCE"]) != int(before[uid]["SEQUENCE"])}


def _add_override(line: str):
    def edit(text: str) -> str:
        marker = "[years.2026]\n"
        head, tail = text.split(marker, 1)
        closures, rest = tail.split("\n", 1)
        return head + marker + closures + "\n" + line + "\n" + rest
    return edit


@pytest.mark.parametrize(("line", "expected"), [
    pytest.param('overrides."add-drop-close" = { date = 2027-02-26, reason = "dimanche" }', {"add-drop-close"},
                 id="independent-event"),
    pytest.param('overrides."semester-1" = { start = 2026-10-05, reason = "rentrée avancée" }',
                 {"semester-1", "registration-close-s1", "cpf-latest-validation-s1"},
                 id="semester-and-its-dependents"),
    pytest.param('overrides."semester-2" = { start = 2027-02-08, reason = "rentrée avancée" }',
                 {"semester-2", "registration-close-s2", "cpf-latest-validation-s2", "exam-winter"},
                 id="semester-2-moves-exam-winter"),
])
def test_changing_an_override_raises_sequence_only_for_changed_events(
        line: str, expected: set[str], tmp_path: Path, run_cli, calendars_copy) -> None:
    calendars = calendars_copy(catalogues=False)
    out = tmp_path / "out"
    build(run_cli, calendars, out, 2026, clock=T1, centres=("ipst-cnam",))
    before = events(feed(out, "ipst-cnam", 2026).read_bytes())
    edit = _add_override(line)
    path = calendars / "ipst-cnam.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    build(run_cli, calendars, out, 2026, clock=T2, centres=("ipst-cnam",))
    after = events(feed(out, "ipst-cnam", 2026).read_bytes())
    assert set(after) == set(before)
    assert _changed(before, after) == expected
    for uid, vevent in after.items():
        if uid.split(".")[0] in expected:
            assert int(vevent["SEQUENCE"]) == 1
            assert vevent["LAST-MODIFIED"].dt == vevent["DTSTAMP"].dt == T2
        else:
            assert vevent["LAST-MODIFIED"].dt == vevent["DTSTAMP"].dt == T1
    # and a third build, unchanged, keeps the raised SEQUENCE
    build(run_cli, calendars, out, 2026, clock=T3, centres=("ipst-cnam",))
    assert _changed(after, events(feed(out, "ipst-cnam", 2026).read_bytes())) == set()


def _drop_closure_2026(text: str) -> str:
    return re.sub(r'(\[years\.2026\]\n)closures = \[\{ id = "noel"[^\n]*\n', r"\1closures = []\n", text)


@pytest.mark.parametrize(("clock", "present"), [
    pytest.param(T2, True, id="kept-cancelled-before-its-date"),
    pytest.param(datetime(2027, 1, 3, 12, tzinfo=timezone.utc), True, id="kept-on-its-last-day"),
    pytest.param(datetime(2027, 1, 4, 12, tzinfo=timezone.utc), False, id="gone-once-passed"),
])
def test_removed_event_stays_cancelled_until_its_date_passes(clock: datetime, present: bool, tmp_path: Path,
                                                             run_cli, calendars_copy) -> None:
    calendars = calendars_copy(catalogues=False)
    out = tmp_path / "out"
    build(run_cli, calendars, out, 2026, clock=T1, centres=("ipst-cnam",))
    uid = "closure-noel.ipst-cnam.2026@cnam-calendar"
    assert uid in events(feed(out, "ipst-cnam", 2026).read_bytes())
    path = calendars / "ipst-cnam.toml"
    path.write_text(_drop_closure_2026(path.read_text(encoding="utf-8")), encoding="utf-8")
    build(run_cli, calendars, out, 2026, clock=clock, centres=("ipst-cnam",))
    after = events(feed(out, "ipst-cnam", 2026).read_bytes())
    if not present:
        assert uid not in after
        return
    cancelled = after[uid]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["SUMMARY"]).startswith("[ANNULÉ]")
    assert int(cancelled["SEQUENCE"]) == 1
    assert cancelled["LAST-MODIFIED"].dt == cancelled["DTSTAMP"].dt == clock
    # still parsed by the second parser, and a rebuild keeps it as it is
    data = feed(out, "ipst-cnam", 2026).read_bytes()
    IcsCalendarStream.calendar_from_ics(data.decode())
    build(run_cli, calendars, out, 2026, clock=clock + timedelta(hours=1), centres=("ipst-cnam",))
    assert feed(out, "ipst-cnam", 2026).read_bytes() == data


def test_cancelled_event_that_comes_back_is_confirmed_again(tmp_path: Path, run_cli, calendars_copy) -> None:
    calendars = calendars_copy(catalogues=False)
    out = tmp_path / "out"
    path = calendars / "ipst-cnam.toml"
    original = path.read_text(encoding="utf-8")
    build(run_cli, calendars, out, 2026, clock=T1, centres=("ipst-cnam",))
    path.write_text(_drop_closure_2026(original), encoding="utf-8")
    build(run_cli, calendars, out, 2026, clock=T2, centres=("ipst-cnam",))
    path.write_text(original, encoding="utf-8")
    build(run_cli, calendars, out, 2026, clock=T3, centres=("ipst-cnam",))
    back = events(feed(out, "ipst-cnam", 2026).read_bytes())["closure-noel.ipst-cnam.2026@cnam-calendar"]
    assert str(back.get("STATUS", "CONFIRMED")) != "CANCELLED"
    assert not str(back["SUMMARY"]).startswith("[ANNULÉ]")
    assert int(back["SEQUENCE"]) == 2
    assert back["LAST-MODIFIED"].dt == T3


def test_feed_item_does_not_read_the_wall_clock(ipst: Centre, schedules: dict) -> None:
    """An item's content hash decides SEQUENCE, so it must not hold "now" (icalendar's default DTSTAMP)."""
    from cnam_calendar.ical import ics

    now = datetime.now(timezone.utc)  # read here only to show the code under test must not use it
    for e in schedules[("ipst-cnam", 2026)].events:
        component = ics.event_item(e, ipst, 2026).component
        stamp = component.get("DTSTAMP")
        assert stamp is None or abs(stamp.dt - now) > timedelta(hours=1), (
            f"{e.id}: DTSTAMP {stamp.dt} is the wall clock; pass stamp= to Event.new or leave it out")


def test_manifests_of_two_builds_are_byte_identical(second_build: Path, all_feeds: Path) -> None:
    """The manifest beside the feed is output too: same inputs, same bytes."""
    for year in YEARS:
        manifest = feed(second_build, "ipst-cnam", year).with_name(".manifest.json")
        assert manifest.read_bytes() == feed(all_feeds, "ipst-cnam", year).with_name(".manifest.json").read_bytes()


def test_years_never_collide(all_feeds: Path) -> None:
    uids = [uid for c in CENTRES for y in YEARS for uid in events(feed(all_feeds, c, y).read_bytes())]
    assert len(uids) == len(set(uids))


def test_output_holds_only_what_build_says(all_feeds: Path) -> None:
    for centre in CENTRES:
        for year in YEARS:
            assert feed(all_feeds, centre, year).is_file()
    assert not [p for p in all_feeds.rglob("*.tmp")], "no temporary file left behind"


def test_alsace_moselle_feed_carries_its_holidays(tmp_path: Path, run_cli, test_calendars_dir: Path) -> None:
    build(run_cli, test_calendars_dir, tmp_path, 2028, epoch=EPOCH)
    published = events(feed(tmp_path, "cnam-grand-est", 2028).read_bytes())
    assert str(published["holiday-2028-12-26.cnam-grand-est.2028@cnam-calendar"]["SUMMARY"]) == "Saint-Étienne"
    assert str(published["holiday-2029-03-30.cnam-grand-est.2028@cnam-calendar"]["SUMMARY"]) == "Vendredi saint"
