"""Golden files: one centre-year pinned as .ics (under SOURCE_DATE_EPOCH) and as engine JSON.

Regenerate (then review the diff with `git diff tests/golden/`):

    UPDATE_GOLDEN=1 python -m pytest tests/golden -q

The .ics is built by the CLI from the repository's calendars/ (named by the relative path
`calendars`, as staff run it), with SOURCE_DATE_EPOCH=1767225600 (2026-01-01T00:00:00Z).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from cnam_calendar import service
from cnam_calendar.config import parse_centre
from cnam_calendar.model import Schedule

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


def _compare(path: Path, data: bytes) -> None:
    if UPDATE:
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
        "explanation": list(e.explanation),
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
