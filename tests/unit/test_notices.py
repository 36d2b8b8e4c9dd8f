"""Change notices, the pure part: snapshots, what changed, the due time; and the hold-back setting."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.notices import CentreEvents, changes, digest, snapshot, soonest
from cnam_calendar.service import ouvres_for, schedule
from cnam_calendar.store.notices import due_time, next_monday
from tests.conftest import CALENDARS

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 2)


def entry(start: str, end: str | None = None, hours: str = "") -> list:
    return [start, end or start, hours, "Titre", "Title", "deadline"]


def test_moved_cancelled_added_soonest_first_and_nothing_all_past() -> None:
    old = {"a": entry("2027-02-28"), "b": entry("2026-12-01"), "c": entry("2026-10-01"), "s": entry(
        "2026-10-05", "2027-01-11", "18:00-21:00")}
    new = {"a": entry("2027-02-22"), "c": entry("2026-10-02"), "d": entry("2026-11-20"),
           "s": entry("2026-10-05", "2027-01-11", "17:30-20:30")}
    found = changes(old, new, TODAY)
    assert [(c["uid"], c["change"]) for c in found] == [("s", "moved"), ("d", "added"), ("b", "cancelled"),
                                                        ("a", "moved")]
    # c moved from 1 to 2 October: both past on 2 November, nothing to say
    assert soonest(found, TODAY) == TODAY  # the weekly sessions are under way
    assert soonest([c for c in found if c["uid"] != "s"], TODAY) == date(2026, 11, 20)


def test_a_title_or_explanation_change_alone_is_no_change() -> None:
    old = {"a": entry("2027-02-28")}
    new = {"a": ["2027-02-28", "2027-02-28", "", "Autre titre", "Other title", "deadline"]}
    assert changes(old, new, TODAY) == [] and digest(old) == digest(new)


snapshots = st.dictionaries(st.sampled_from("abcdef"), st.tuples(
    st.dates(date(2026, 9, 1), date(2027, 8, 31)), st.integers(0, 30), st.sampled_from(["", "18:00-21:00"])).map(
    lambda t: entry(t[0].isoformat(), (t[0] + timedelta(days=t[1])).isoformat(), t[2])), max_size=6)


@given(snapshots, snapshots, st.dates(date(2026, 9, 1), date(2027, 8, 31)))
def test_changes_are_exactly_the_differing_uids_not_all_past(old, new, today) -> None:
    found = {c["uid"]: c for c in changes(old, new, today)}
    assert changes(new, new, today) == []
    for uid in set(old) | set(new):
        a, b = old.get(uid), new.get(uid)
        differ = a is None or b is None or a[:3] != b[:3]
        live = any(e is not None and date.fromisoformat(e[1]) >= today for e in (a, b))
        assert (uid in found) == (differ and live), uid
    assert (digest(old) == digest(new)) == (all(old.get(u) is not None and new.get(u) is not None
                                                and old[u][:3] == new[u][:3] for u in set(old) | set(new)))


def test_a_learner_snapshot_holds_centre_events_ue_sessions_exams_and_own_deadlines() -> None:
    centre = load_centre(CALENDARS / "ipst-cnam.toml")
    shared = CentreEvents(schedule(centre, 2026), ouvres_for(centre, 2025, 2028), load_catalogue(centre))
    cpf = Learner("L", "l@example.org", "A", "B", "ipst-cnam", "31", "cpf", ("NFA031",), cpf_validated=date(2026, 11, 10))
    other = Learner("M", "m@example.org", "A", "B", "ipst-cnam", "31", "individuel")
    snap = snapshot(shared.learner(cpf, "k" * 32))
    assert "semester-1.ipst-cnam.2026@cnam-calendar" in snap
    assert snap["ue-NFA031-sessions.ipst-cnam.2026@cnam-calendar"][2]  # weekly sessions carry their hours
    assert any(u.startswith("ue-NFA031-exam-") for u in snap)
    assert snap[f"cpf-confirmation.{'k' * 32}.ipst-cnam.2026@cnam-calendar"][0] == "2026-11-16"
    assert "cpf-latest-validation-s1.ipst-cnam.2026@cnam-calendar" in snap
    plain = snapshot(shared.learner(other, "m" * 32))
    assert "cpf-latest-validation-s1.ipst-cnam.2026@cnam-calendar" not in plain  # CPF deadlines: CPF learners only
    assert not any(u.startswith("ue-") for u in plain)


def test_the_hold_back_and_the_monday_digest() -> None:
    centre = load_centre(CALENDARS / "ipst-cnam.toml")
    wednesday = datetime(2026, 11, 4, 10, 0, tzinfo=PARIS).astimezone(timezone.utc)
    far = [{"uid": "a", "change": "moved", "old": entry("2027-02-28"), "new": entry("2027-02-22")}]
    near = [{"uid": "a", "change": "moved", "old": entry("2027-02-28"), "new": entry("2026-11-10")}]
    assert due_time(centre, "each", far, wednesday) == wednesday + timedelta(minutes=30)
    assert due_time(centre, "weekly", far, wednesday) == datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)
    assert due_time(centre, "weekly", near, wednesday) == wednesday + timedelta(minutes=30)  # within 7 days
    # a Monday after 09:00 (and its hold-back): the next Monday
    monday = datetime(2026, 11, 9, 8, 45, tzinfo=PARIS).astimezone(timezone.utc)
    assert next_monday(monday + timedelta(minutes=30), centre.reminders.time, PARIS) == datetime(
        2026, 11, 16, 9, 0, tzinfo=PARIS)
    assert next_monday(monday, centre.reminders.time, PARIS) == datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)


@pytest.mark.parametrize("value", ["-1", "1441", "true", "\"30\"", "2.5"])
def test_a_bad_hold_back_is_one_line_naming_the_key(tmp_path: Path, value: str) -> None:
    shutil.copy(CALENDARS / "ipst-cnam.ues.csv", tmp_path / "ipst-cnam.ues.csv")
    path = tmp_path / "ipst-cnam.toml"
    path.write_text((CALENDARS / "ipst-cnam.toml").read_text().replace(
        "[reminders]\n", f"[reminders]\nnotice_holdback_minutes = {value}\n", 1))
    with pytest.raises(ConfigError) as err:
        load_centre(path)
    message = str(err.value)
    assert "\n" not in message and "reminders.notice_holdback_minutes" in message and str(path) in message
    assert "entier" in message


def test_a_hold_back_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ipst-cnam.toml"
    path.write_text((CALENDARS / "ipst-cnam.toml").read_text().replace(
        "[reminders]\n", "[reminders]\nnotice_holdback_minutes = 5\n", 1))
    shutil.copy(CALENDARS / "ipst-cnam.ues.csv", tmp_path / "ipst-cnam.ues.csv")
    assert load_centre(path).reminders.notice_holdback_minutes == 5
    assert load_centre(CALENDARS / "ipst-cnam.toml").reminders.notice_holdback_minutes == 30
