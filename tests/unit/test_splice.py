"""Serialise once, splice per copy: the bytes must be exactly those icalendar writes for each copy."""

from __future__ import annotations

import random
import string
from datetime import date, datetime, timedelta, timezone

import icalendar
import pytest

from cnam_calendar.ical import ics, splice
from cnam_calendar.ical.feed_cache import rendered
from cnam_calendar.ical.personal import PersonalFeeds
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.engine import personal_deadline
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.personal import deadline_event
from cnam_calendar.service import ouvres_for, schedule
from tests.conftest import CALENDARS, FIXED_NOW

ALNUM = string.ascii_letters + string.digits


@pytest.mark.parametrize("prefix", ["", "x.", "withdrawal.", "apprenticeship-contract.", "a" * 70, "é" * 40])
@pytest.mark.parametrize("suffix", ["", ".ipst-cnam.2026@cnam-calendar", ".cnam-occitanie.2027@cnam-calendar"])
def test_folded_lines_are_what_icalendar_writes(prefix: str, suffix: str) -> None:
    rng = random.Random(f"{prefix}|{suffix}")
    lines = splice.FoldedLines("UID", prefix, 32, suffix)
    for _ in range(50):
        run = "".join(rng.choice(ALNUM) for _ in range(32))
        assert lines.line(run) == splice.content_line("UID", prefix + run + suffix)


@pytest.mark.parametrize("run", ["short", "x" * 40, "with space here and there 12345", "a,b;c\\d^e" + "0" * 23,
                                 "é" * 32])
def test_folded_lines_leave_other_values_to_icalendar(run: str) -> None:
    lines = splice.FoldedLines("UID", "withdrawal.", 32, ".ipst-cnam.2026@cnam-calendar")
    uid = "withdrawal." + run + ".ipst-cnam.2026@cnam-calendar"
    assert lines.line(run) == splice.content_line("UID", uid)


def test_a_prefix_that_needs_escaping_goes_through_icalendar() -> None:
    lines = splice.FoldedLines("UID", "a,b;" * 10, 32, ";end")
    run = "0123456789abcdef" * 2
    assert lines.line(run) == splice.content_line("UID", "a,b;" * 10 + run + ";end")


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("alarms", [True, False])
def test_a_filled_template_is_the_event_icalendar_writes(lang: str, alarms: bool) -> None:
    centre = load_centre(CALENDARS / "ipst-cnam.toml")
    ouvres = ouvres_for(centre, 2025, 2028)
    stamp = datetime(2026, 11, 23, 9, 30, 12, tzinfo=timezone.utc)
    for rule, origin in (("cpf-confirmation", date(2026, 11, 9)), ("withdrawal", date(2026, 12, 24)),
                         ("apprenticeship-contract", date(2026, 11, 30))):
        event = deadline_event(personal_deadline(rule, origin, centre, ouvres))

        def component(uid: str, event=event) -> icalendar.Event:
            made = ics.event_item(event, centre, 2026, lang).component
            made["UID"] = uid
            if alarms:
                ics.add_alarms(made, centre.reminders.offsets_days, centre.reminders.time, "Rappel")
            return made

        template = splice.template(component(splice.PLACEHOLDER_UID))
        for key in ("0" * 32, "f3a9c0d41b7e2265a8c9d0e1f2a3b4c5"):
            uid = f"{rule}.{key}.ipst-cnam.2026@cnam-calendar"
            expected = ics.stamped(component(uid), "", 0, stamp).data
            assert template.fill(splice.content_line("UID", uid), ics.stamp_lines(0, stamp)) == expected


def test_validators_come_from_the_body_without_parsing_it() -> None:
    centre = load_centre(CALENDARS / "ipst-cnam.toml")
    sched = schedule(centre, 2026)
    feeds = PersonalFeeds(sched, [], {}, FIXED_NOW - timedelta(days=30), FIXED_NOW.date(),
                          ouvres_for(centre, 2025, 2028))
    learner = Learner("L1", "l1@example.org", "Léa", "Petit", "ipst-cnam", "31", "cpf", (),
                      date(2026, 10, 22), date(2026, 11, 9), None, "fr")
    changed = datetime(2026, 11, 20, 8, 15, 42, tzinfo=timezone.utc)
    body = feeds.render(learner, "0123456789abcdef0123456789abcdef", changed)
    feed = rendered(body)
    cal = icalendar.Calendar.from_ical(body)
    newest = max(e["LAST-MODIFIED"].dt for e in cal.walk("VEVENT"))
    assert feed.last_modified == newest == changed
    assert feed.etag.startswith('"') and feed.etag.endswith('"') and feed.body is body
