"""Fuzz the console's changes: whatever a form carries, a preview or a publish either succeeds with a
file the commands read, or refuses with a French message and leaves file and output as they were.

In process (``web.admin_edit.edit_from_fields`` then ``ical.edit.preview``/``publish``), on a copy of
the shipped calendars/; the HTTP side of the same path is tests/e2e/test_admin_edit.py.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.ical.edit import Conflict, file_version, preview, publish
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.web.admin_edit import UE_COLUMNS, edit_from_fields
from tests.conftest import CALENDARS
from tests.support.fuzz import STATS, fuzz_settings

NOW = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
DAY = st.one_of(st.dates(date(2025, 1, 1), date(2028, 12, 31)).map(date.isoformat), TEXT)
FORMS = st.one_of(
    st.fixed_dictionaries({"quoi": st.just("date"), "event": st.sampled_from(["semester-1", "exam-june",
                                                                             "add-drop-close", "nope"]),
                           "start": DAY, "end": DAY, "reason": TEXT}),
    st.fixed_dictionaries({"quoi": st.just("fermeture"), "original": st.sampled_from(["", "noel", "absent"]),
                           "id": TEXT, "label": TEXT, "start": DAY, "end": DAY}),
    st.fixed_dictionaries({"quoi": st.just("ue"), "original": st.sampled_from(["", "NFA031", "ZZZ999"]),
                           **{c: TEXT for c in UE_COLUMNS}}),
    st.fixed_dictionaries({"quoi": TEXT, "event": TEXT, "id": TEXT}),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("console-fuzz")
    shutil.copytree(CALENDARS, root / "calendars")
    return root / "calendars", root / "output"


def snapshot(calendars: Path, out: Path) -> dict[str, bytes]:
    files = [*calendars.iterdir(), *(out.rglob("*") if out.exists() else [])]
    return {str(p): p.read_bytes() for p in files if p.is_file() and not p.name.endswith(".lock")}


@fuzz_settings(60)
@given(fields=FORMS)
def test_a_form_either_publishes_a_readable_file_or_changes_nothing(site, fields: dict[str, str]) -> None:
    calendars, out = site
    kind = fields["quoi"]
    edit, problems = edit_from_fields(kind, fields, 2026)
    if edit is None:
        assert problems and all(isinstance(p, str) and p for p in problems)
        STATS["refused"] += 1
        return
    before = snapshot(calendars, out)
    path = calendars / ("ipst-cnam.ues.csv" if kind == "ue" else "ipst-cnam.toml")
    try:
        seen = preview(calendars, out, "ipst-cnam", 2026, edit, None, NOW.date())
    except CnamCalendarError as exc:
        assert exc.lines() and all(line.strip() for line in exc.lines())
        assert snapshot(calendars, out) == before
        STATS["refused"] += 1
        return
    assert snapshot(calendars, out) == before  # a preview writes nothing
    try:
        publish(calendars, out, "ipst-cnam", 2026, edit, "0" * 64, None, "fuzz", NOW)
    except Conflict:
        pass
    assert snapshot(calendars, out) == before  # a stale version never writes
    publish(calendars, out, "ipst-cnam", 2026, edit, file_version(path), None, "fuzz", NOW)
    assert path.read_text(encoding="utf-8") == seen.new_text
    load_centres(calendars)  # what every command reads next
    shutil.copyfile(CALENDARS / path.name, path)  # back to the shipped file for the next example
    STATS["published"] += 1


def test_the_fuzz_reached_both_outcomes() -> None:
    """The run above both refused and published (a fuzz that only ever refused would prove nothing)."""
    assert STATS["refused"] > 0 and STATS["published"] > 0, dict(STATS)
