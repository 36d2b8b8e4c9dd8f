"""`cnam-calendar feed` (one calendar: institutional events + chosen UEs) and `build` with catalogues.

In-process through click's runner with the fixed clock of conftest.py; nothing is read from or
written to the repository's output/ (every command gets ``--out`` under the test's tmp_path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import icalendar
import pytest
from click.testing import Result

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.model import Centre, Schedule
from cnam_calendar.service import schedule

CHOSEN = ("NFP107", "NFA031")  # annual Monday in Albi, S1 Tuesday in Toulouse
# DESIGN.md: S1 sits the winter then the June session; S2 and annual sit June then September.
EXAM_SESSIONS = {"S1": ("exam-winter", "exam-june"), "S2": ("exam-june", "exam-september"),
                 "annual": ("exam-june", "exam-september")}


def literal_uid(event_id: str, centre_id: str, year: int) -> str:
    """A feed UID as DESIGN.md writes it: ``<event id>.<centre>.<year>@cnam-calendar``."""
    return f"{event_id}.{centre_id}.{year}@cnam-calendar"


@pytest.fixture(scope="module")
def sched(ipst: Centre) -> Schedule:
    return schedule(ipst, 2026)


def feed(run_cli: Callable[..., Result], calendars: Path, out: Path, *args: str) -> Result:
    return run_cli("--calendars", str(calendars), "feed", "--centre", "ipst-cnam", "--year", "2026",
                   "--out", str(out), *args)


def vevents(data: str | bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    by_uid = {str(e["UID"]): e for e in events}
    assert len(by_uid) == len(events), "duplicate UIDs"
    return by_uid


def ue_uids(code: str, semester: str) -> set[str]:
    return {literal_uid(f"ue-{code}-sessions", "ipst-cnam", 2026),
            *(literal_uid(f"ue-{code}-{e}", "ipst-cnam", 2026) for e in EXAM_SESSIONS[semester])}


def test_feed_prints_institutional_events_and_exactly_the_chosen_ues(run_cli, calendars_dir: Path, tmp_path: Path,
                                                                    ipst: Centre, sched: Schedule) -> None:
    result = feed(run_cli, calendars_dir, tmp_path, "--ue", CHOSEN[0], "--ue", CHOSEN[1])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("BEGIN:VCALENDAR")
    events = vevents(result.stdout)
    catalogue = {u.code: u for u in load_catalogue(ipst)}
    institutional = {literal_uid(e.id, "ipst-cnam", 2026) for e in sched.events}
    wanted = institutional | ue_uids(CHOSEN[0], catalogue[CHOSEN[0]].semester) \
        | ue_uids(CHOSEN[1], catalogue[CHOSEN[1]].semester)
    assert set(events) == wanted
    others = set(catalogue) - set(CHOSEN)
    for uid, event in events.items():
        codes = {str(c) for c in event["CATEGORIES"].cats} & set(catalogue)
        assert not codes & others, (uid, codes)
    for code in others:
        assert f"ue-{code}-" not in result.stdout
    sessions = events[literal_uid("ue-NFP107-sessions", "ipst-cnam", 2026)]
    assert "RRULE" in sessions and "Albi" in str(sessions["LOCATION"])
    assert "NFP107" in str(icalendar.Calendar.from_ical(result.stdout)["X-WR-CALNAME"])


def test_feed_without_ue_holds_only_the_institutional_events(run_cli, calendars_dir: Path, tmp_path: Path,
                                                             sched: Schedule) -> None:
    result = feed(run_cli, calendars_dir, tmp_path)
    assert result.exit_code == 0, result.output
    assert set(vevents(result.stdout)) == {literal_uid(e.id, "ipst-cnam", 2026) for e in sched.events}


def test_feed_output_file_is_written_atomically(run_cli, calendars_dir: Path, tmp_path: Path) -> None:
    printed = feed(run_cli, calendars_dir, tmp_path / "build", "--ue", "NFP107")
    assert printed.exit_code == 0, printed.output
    target_dir = tmp_path / "feeds"
    target = target_dir / "mes-cours.ics"
    result = feed(run_cli, calendars_dir, tmp_path / "build", "--ue", "NFP107", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert str(target) in result.stderr
    assert target.read_bytes() == printed.stdout_bytes  # same clock, same feed
    assert sorted(p.name for p in target_dir.iterdir()) == ["mes-cours.ics"]  # no temporary file left
    # replaced in place on a second run, still nothing else beside it
    target.write_text("ancien contenu", encoding="utf-8")
    assert feed(run_cli, calendars_dir, tmp_path / "build", "--ue", "NFP107", "-o", str(target)).exit_code == 0
    assert target.read_bytes() == printed.stdout_bytes
    assert sorted(p.name for p in target_dir.iterdir()) == ["mes-cours.ics"]


def test_feed_in_english_has_english_titles_for_every_event_type(run_cli, calendars_dir: Path, tmp_path: Path,
                                                                 sched: Schedule) -> None:
    fr = feed(run_cli, calendars_dir, tmp_path, "--ue", "NFP107", "--ue", "NFA031")
    en = feed(run_cli, calendars_dir, tmp_path, "--ue", "NFP107", "--ue", "NFA031", "--lang", "en")
    assert fr.exit_code == 0 and en.exit_code == 0, fr.output + en.output
    fr_events, en_events = vevents(fr.stdout), vevents(en.stdout)
    assert set(fr_events) == set(en_events)
    kinds = {e.kind for e in sched.events}
    assert kinds == {"semester", "exam", "deadline", "holiday", "closure"}
    for e in sched.events:
        uid = literal_uid(e.id, "ipst-cnam", 2026)
        assert str(en_events[uid]["SUMMARY"]) == e.title_en, e.id
        assert str(fr_events[uid]["SUMMARY"]) == e.title, e.id
    en_summaries = {str(e["SUMMARY"]) for e in en_events.values()}
    for title in ("Semester 1", "Semester 2", "Winter exam session", "June exam session",
                  "September exam session", "Easter Monday", "Whit Monday", "Christmas Day",
                  "CPF: latest validation for semester 1", "Registration closes (semester 1)"):
        assert title in en_summaries, title
    assert any(s.startswith("Closure") for s in en_summaries)
    fr_summaries = {str(e["SUMMARY"]) for e in fr_events.values()}
    for title in ("Semestre 1", "Session d'examens d'hiver", "Lundi de Pâques", "Fermeture de fin d'année"):
        assert title in fr_summaries and title not in en_summaries, title
    # classes and UE exams
    sessions = literal_uid("ue-NFP107-sessions", "ipst-cnam", 2026)
    assert str(en_events[sessions]["SUMMARY"]).endswith("(class)")
    assert str(fr_events[sessions]["SUMMARY"]).endswith("(cours)")
    exam = literal_uid("ue-NFA031-exam-winter", "ipst-cnam", 2026)
    assert str(en_events[exam]["SUMMARY"]).startswith("Exam NFA031")
    assert str(fr_events[exam]["SUMMARY"]).startswith("Examen NFA031")
    # categories follow the language
    en_categories = {str(e["CATEGORIES"].cats[0]) for e in en_events.values()}
    assert en_categories == {"Semester", "Exams", "Deadline", "Public holiday", "Closure", "Class"}
    fr_categories = {str(e["CATEGORIES"].cats[0]) for e in fr_events.values()}
    assert fr_categories == {"Semestre", "Examens", "Échéance", "Jour férié", "Fermeture", "Cours"}
    assert "academic year" in str(icalendar.Calendar.from_ical(en.stdout)["X-WR-CALNAME"])
    assert "année" in str(icalendar.Calendar.from_ical(fr.stdout)["X-WR-CALNAME"])


@pytest.mark.parametrize(("code", "close"), [
    pytest.param("NFP170", "NFP107", id="swapped-digits"),
    pytest.param("NSY1033", "NSY103", id="extra-digit"),
])
def test_unknown_ue_is_one_french_line_with_a_suggestion(run_cli, calendars_dir: Path, tmp_path: Path,
                                                         code: str, close: str) -> None:
    target = tmp_path / "feed.ics"
    result = feed(run_cli, calendars_dir, tmp_path, "--ue", "NFP107", "--ue", code, "-o", str(target))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Erreur : ")
    assert f"« {code} »" in lines[0] and "UE inconnue" in lines[0]
    assert f"vouliez-vous dire « {close} »" in lines[0]
    assert result.stdout == ""
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("centre_id", ["ipst-cnam", "cnam-occitanie"])
def test_build_writes_every_ue_feed_and_the_overview(run_cli, calendars_dir: Path, tmp_path: Path,
                                                     centre_id: str) -> None:
    out = tmp_path / "output"
    result = run_cli("--calendars", str(calendars_dir), "build", "--centre", centre_id, "--year", "2026",
                     "--out", str(out))
    assert result.exit_code == 0, result.output
    year_dir = out / centre_id / "2026"
    catalogue = load_catalogue(load_centre(calendars_dir / f"{centre_id}.toml"))
    assert len(catalogue) >= 25
    for ue in catalogue:
        path = year_dir / "ue" / f"{ue.code}.ics"
        assert path.is_file(), ue.code
        events = vevents(path.read_bytes())
        expected = {literal_uid(f"ue-{ue.code}-{e}", centre_id, 2026) for e in EXAM_SESSIONS[ue.semester]}
        if ue.timed:
            expected.add(literal_uid(f"ue-{ue.code}-sessions", centre_id, 2026))
        assert set(events) == expected, ue.code
    assert sorted(p.name for p in (year_dir / "ue").iterdir()) == sorted(f"{u.code}.ics" for u in catalogue)
    assert (year_dir / "calendar.ics").is_file()
    index = (year_dir / "index.html").read_text(encoding="utf-8")
    assert index.lstrip().lower().startswith("<!doctype html")
    assert "calendar.ics" in index
    for ue in catalogue:
        assert f"ue/{ue.code}.ics" in index, ue.code
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # atomic writes leave nothing behind
    written = result.stdout.splitlines()
    assert f"écrit {year_dir / 'index.html'}" in written
    assert all(f"écrit {year_dir / 'ue' / (u.code + '.ics')}" in written for u in catalogue)
