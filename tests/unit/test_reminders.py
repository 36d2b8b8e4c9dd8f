"""The reminder planner (pure): which reminders, when (exact across DST), with which key and payload."""

from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import cnam_calendar.rules.reminders as reminders_mod
from cnam_calendar.ical.ics import uid_for
from cnam_calendar.ical.personal import PersonalFeeds
from cnam_calendar.inputs.roster import generate_learners
from cnam_calendar.rules.model import UE, Learner, ReminderPolicy
from cnam_calendar.rules.reminders import academic_year_of, local_instant, plan_reminders, uid_year
from cnam_calendar.service import ouvres_for, schedule

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
CATALOGUE = (
    UE("NFA001", "Algorithmique", 6, "S1", "FOAD"),
    UE("NFA002", "Programmation", 6, "S2", "FOAD"),
    UE("GDN100", "Gestion", 6, "annual", "FOAD"),
)
KEYS = {f"L{n}": f"{n:032x}" for n in range(100)}


@pytest.fixture(scope="module")
def world(request):
    ipst = request.getfixturevalue("ipst")
    return {
        "centre": ipst,
        "schedules": {ipst.id: [schedule(ipst, 2026), schedule(ipst, 2027)]},
        "ouvres": {ipst.id: ouvres_for(ipst, 2025, 2029)},
        "catalogues": {ipst.id: CATALOGUE},
    }


def learner(n: int = 1, **changes) -> Learner:
    base = Learner(f"L{n}", f"l{n}@example.org", "Camille", "Martin", "ipst-cnam", "31", "individuel", ())
    return replace(base, **changes)


def plan(world, *learners: Learner, **kwargs):
    return plan_reminders(learners, world["schedules"], world["ouvres"], KEYS, catalogues=world["catalogues"],
                          **kwargs)


def of(reminders, event_id: str):
    return [r for r in reminders if r.event_id == event_id]


# Purity


def test_reminders_module_reads_nothing_of_the_world():
    tree = ast.parse(Path(reminders_mod.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnam_calendar."):
            # of the package, only the other pure rules modules (no reader, no store)
            assert node.module in {f"cnam_calendar.rules.{m}" for m in ("checks", "dates", "model", "personal",
                                                                         "sessions")}, node.module
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"relative import of {node.module}")
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("now", "today", "utcnow", "environ", "getenv", "read_text"), node.attr
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("open", "print", "input"), node.func.id
    forbidden = {"sqlalchemy", "smtplib", "click", "socket", "apscheduler", "os", "sys", "time", "icalendar",
                 "holidays", "email", "pathlib", "random", "secrets"}
    assert not imported & forbidden
    # zoneinfo is the one reference-data import (injectable with zone=), like a calendar passed in
    assert imported <= {"__future__", "collections", "dataclasses", "datetime", "typing", "zoneinfo"}


# Personal deadlines


def test_cpf_confirmation_reminders_never_come_before_the_validation(world):
    # Validated Tuesday 10 Nov 2026: 3 jours ouvrés (11 Nov is a holiday) → Monday 16 Nov.
    rs = of(plan(world, learner(cpf_validated=date(2026, 11, 10), status="cpf")), "cpf-confirmation")
    assert [(r.offset_days, r.local_due) for r in rs] == [(1, datetime(2026, 11, 15, 9, 0, tzinfo=PARIS))]
    assert rs[0].origin == date(2026, 11, 10) and rs[0].target == date(2026, 11, 16)


def test_a_reminder_on_the_origin_day_is_kept(world):
    # Withdrawal: 10 days from receipt; with offsets (10, 1) the J-10 falls on the receipt day itself.
    centre = replace(world["centre"], reminders=ReminderPolicy(offsets_days=(11, 10, 1)))
    w = dict(world, schedules={centre.id: [replace(s, centre=centre) for s in world["schedules"][centre.id]]})
    rs = of(plan(w, learner(dossier_received=date(2026, 11, 2))), "withdrawal")
    assert rs[0].target == date(2026, 11, 12)
    assert [r.offset_days for r in rs] == [10, 1]  # J-11 (1 Nov) is before the file arrived


def test_personal_deadline_keys_and_uids(world):
    one = learner(training_start=date(2026, 10, 5), status="apprentissage")
    rs = of(plan(world, one), "apprenticeship-contract")
    assert [r.offset_days for r in rs] == [7, 1]
    uid = f"apprenticeship-contract.{KEYS['L1']}.ipst-cnam.2026@cnam-calendar"
    assert {r.event_uid for r in rs} == {uid}
    assert rs[0].key == f"L1/{uid}/J-7/2027-01-05"
    # a moved deadline gets new keys; the same one keeps them
    assert [r.key for r in of(plan(world, one), "apprenticeship-contract")] == [r.key for r in rs]
    moved = of(plan(world, replace(one, training_start=date(2026, 10, 6))), "apprenticeship-contract")
    assert {r.event_uid for r in moved} == {uid} and not {r.key for r in moved} & {r.key for r in rs}


def test_personal_uids_are_those_of_the_personal_feed(world):
    sched = world["schedules"]["ipst-cnam"][0]
    one = learner(cpf_validated=date(2026, 11, 10), dossier_received=date(2026, 11, 2), status="cpf")
    feed = PersonalFeeds(sched, CATALOGUE, {}, datetime(2026, 11, 1, tzinfo=UTC), date(2026, 11, 1),
                         world["ouvres"]["ipst-cnam"]).render(one, KEYS["L1"], datetime(2026, 11, 1, tzinfo=UTC))
    text = feed.decode().replace("\r\n ", "")
    uids = {line[4:] for line in text.split("\r\n") if line.startswith("UID:")}
    planned = {r.event_uid for r in plan(world, one) if r.year == 2026}
    assert planned <= uids
    assert uid_for("registration-close-s1", "ipst-cnam", 2026) in planned


def test_personal_deadlines_are_planned_in_the_year_they_fall_in(world):
    # Both years are planned: a deadline in November 2026 belongs to 2026-2027 only.
    rs = of(plan(world, learner(dossier_received=date(2026, 11, 2))), "withdrawal")
    assert {r.year for r in rs} == {2026} and len(rs) == 2
    assert academic_year_of(date(2027, 8, 31)) == 2026 and academic_year_of(date(2027, 9, 1)) == 2027
    assert uid_year(rs[0].event_uid) == 2026


# Institutional deadlines and exams


def test_institutional_deadlines_apply_as_in_the_feed(world):
    cpf = {r.event_id for r in plan(world, learner(status="cpf")) if r.kind == "deadline"}
    other = {r.event_id for r in plan(world, learner(status="individuel")) if r.kind == "deadline"}
    assert "cpf-latest-validation-s1" in cpf and "cpf-latest-validation-s1" not in other
    assert "registration-close-s1" in other


def test_exam_reminders_two_and_one_day_before_the_first_day_of_each_session(world):
    rs = [r for r in plan(world, learner(ues=("NFA001", "NFA002"))) if r.kind == "exam" and r.year == 2026]
    by_event: dict[str, list] = {}
    for r in rs:
        by_event.setdefault(r.event_id, []).append(r)
    assert sorted(by_event) == ["ue-NFA001-exam-june", "ue-NFA001-exam-winter", "ue-NFA002-exam-june",
                                "ue-NFA002-exam-september"]
    sched = world["schedules"]["ipst-cnam"][0]
    for event_id, items in by_event.items():
        first = sched.get(event_id.split("-", 2)[2]).start
        assert [(r.offset_days, r.local_due.date()) for r in items] == [
            (2, first - timedelta(days=2)), (1, first - timedelta(days=1))]
        assert all(r.event_uid == f"{event_id}.ipst-cnam.2026@cnam-calendar" for r in items)
        assert all(r.expires_at == datetime.combine(first + timedelta(days=1), time(0), PARIS) for r in items)


def test_unknown_ue_codes_and_centres_give_nothing(world):
    assert [r for r in plan(world, learner(ues=("XXX999",))) if r.kind == "exam"] == []
    assert plan(world, learner(centre="nowhere")) == []


# Time: local 09:00, exact across DST


@pytest.mark.parametrize("day", [date(2027, 3, 22) + timedelta(days=i) for i in range(14)]
                         + [date(2027, 10, 25) + timedelta(days=i) for i in range(14)],
                         ids=lambda d: d.isoformat())
def test_nine_o_clock_paris_on_every_day_of_both_dst_weeks_of_2027(day):
    moment = local_instant(day, time(9, 0), PARIS)
    summer = date(2027, 3, 28) <= day < date(2027, 10, 31)
    assert (moment.hour, moment.minute, moment.tzinfo) == (9, 0, PARIS)
    assert moment.astimezone(UTC).hour == (7 if summer else 8)


def test_reminders_the_day_before_and_after_each_clock_change_of_2027(world):
    # Apprenticeship deadlines = start + 3 months; J-1 lands on each side of 28 March and 31 October 2027.
    starts = {date(2026, 12, 28): "2027-03-27T08:00", date(2026, 12, 29): "2027-03-28T07:00",
              date(2026, 12, 30): "2027-03-29T07:00", date(2027, 7, 31): "2027-10-30T07:00",
              date(2027, 8, 1): "2027-10-31T08:00", date(2027, 8, 2): "2027-11-01T08:00"}
    people = [learner(n, status="apprentissage", training_start=s) for n, s in enumerate(starts)]
    rs = {r.learner_id: r for r in of(plan(world, *people), "apprenticeship-contract") if r.offset_days == 1}
    for n, expected in enumerate(starts.values()):
        r = rs[f"L{n}"]
        assert r.due_at.strftime("%Y-%m-%dT%H:%M") == expected and r.due_at.tzinfo == UTC
        assert (r.local_due.hour, r.local_due.minute) == (9, 0)
        assert r.local_due.utcoffset() == r.local_due.astimezone(PARIS).utcoffset()


def test_a_local_time_inside_the_spring_gap_moves_forward_and_a_fold_takes_the_first():
    gap = local_instant(date(2027, 3, 28), time(2, 30), PARIS)
    assert gap.astimezone(UTC) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC) and gap.hour == 3
    fold = local_instant(date(2027, 10, 31), time(2, 30), PARIS)
    assert fold.astimezone(UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_the_centre_policy_time_is_used(world):
    centre = replace(world["centre"], reminders=ReminderPolicy(time=time(18, 15)))
    w = dict(world, schedules={centre.id: [replace(s, centre=centre) for s in world["schedules"][centre.id]]})
    rs = plan(w, learner(dossier_received=date(2026, 11, 2)))
    assert {(r.local_due.hour, r.local_due.minute) for r in rs} == {(18, 15)}


# A whole year of a small roster


def test_a_whole_year_of_a_small_roster(world):
    centre = world["centre"]
    people = generate_learners(40, 7, [centre], {centre.id: [u.code for u in CATALOGUE]}, 2026)
    keys = {p.id: f"{i:032x}" for i, p in enumerate(people)}
    rs = plan_reminders(people, {centre.id: schedule(centre, 2026)}, world["ouvres"], keys,
                        catalogues=world["catalogues"])
    assert rs == plan_reminders(people, {centre.id: schedule(centre, 2026)}, world["ouvres"], keys,
                                catalogues=world["catalogues"])  # deterministic
    assert len({r.key for r in rs}) == len(rs) > 40 * 8
    assert [r.due_at for r in rs] == sorted(r.due_at for r in rs)
    per_event = Counter((r.learner_id, r.event_uid) for r in rs)
    assert max(per_event.values()) <= 2
    by_id = {p.id: p for p in people}
    for r in rs:
        assert r.local_due.astimezone(PARIS).time() == time(9, 0)
        assert r.due_at == r.local_due.astimezone(UTC) and r.due_at < r.expires_at
        assert r.local_due.date() == r.target - timedelta(days=r.offset_days)
        assert r.offset_days in ((2, 1) if r.kind == "exam" else (7, 1))
        if r.origin is not None:
            assert r.local_due.date() >= r.origin
        who = by_id[r.learner_id]
        if r.event_id.startswith("cpf-latest"):
            assert who.status == "cpf"
        if r.kind == "exam":
            assert r.event_id.split("-")[1] in who.ues
        payload = json.loads(json.dumps(r.payload))  # JSON-ready
        assert payload["learner"]["email"] == who.email and payload["offset_days"] == r.offset_days
        assert payload["event"]["uid"] == r.event_uid and payload["event"]["steps"]
        assert payload["centre"]["email"] == centre.contact.email and payload["centre"]["faq_url"] == centre.faq_url
        assert payload["date"] == r.target.isoformat()
    kinds = Counter(r.event_id.split(".")[0] for r in rs if r.kind == "deadline")
    assert {"withdrawal", "registration-close-s1", "registration-close-s2"} <= set(kinds)
    months = {r.local_due.date().replace(day=1) for r in rs}
    assert len(months) >= 8  # reminders spread over the year


LEARNERS_WITH_ALARMS = {
    "apprentice": dict(status="apprentissage", ues=("NFA001", "GDN100"), dossier_received=date(2026, 9, 1),
                       training_start=date(2026, 9, 14)),
    # validated on 11 Nov (Armistice), deadline Monday 16 Nov: a J-7 would ring on the 9th, before the validation
    "cpf-validated-11-nov": dict(status="cpf", ues=("NFA002",), cpf_validated=date(2026, 11, 11),
                                 dossier_received=date(2026, 11, 10)),
}


@pytest.mark.parametrize("who", list(LEARNERS_WITH_ALARMS))
def test_the_feed_alarms_and_the_emails_agree(world, who):
    """The personal feed's VALARMs and the planned e-mails: same events, same days, same local time."""
    import icalendar

    sched = world["schedules"]["ipst-cnam"][0]
    one = learner(**LEARNERS_WITH_ALARMS[who])
    stamp = datetime(2026, 9, 1, tzinfo=UTC)
    feed = PersonalFeeds(sched, CATALOGUE, {}, stamp, date(2026, 9, 1), world["ouvres"]["ipst-cnam"]).render(
        one, KEYS["L1"], stamp)
    alarms = set()
    for event in icalendar.Calendar.from_ical(feed).walk("VEVENT"):
        start = event.decoded("DTSTART")
        for alarm in event.walk("VALARM"):
            when = datetime.combine(start, time(0)) + alarm.decoded("TRIGGER")  # wall clock, as a phone reads it
            alarms.add((str(event["UID"]), when))
    emails = {(r.event_uid, r.local_due.replace(tzinfo=None)) for r in plan(world, one) if r.year == 2026}
    assert emails and alarms
    assert emails == alarms
    if who == "cpf-validated-11-nov":
        cpf = {when for uid, when in alarms if uid.startswith("cpf-confirmation.")}
        assert cpf == {datetime(2026, 11, 15, 9, 0)}  # J-1 only: J-7 (9 Nov) is before the validation
