"""The reminder planner at its edges: the payload written out in full, events without a source, offsets
of 0 and below, languages, missing keys and calendars, UTC whatever the machine's zone, feed UIDs.

The expected values are written by hand (dossier received Monday 2 November 2026: withdrawal Thursday
12 November, J-1 on Wednesday 11 November at 09:00 Paris, 08:00 UTC; the day ends at 23:00 UTC).
"""

from __future__ import annotations

import time as time_module
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import pytest

from cnam_calendar import service
from cnam_calendar.rules.model import Centre, Event, Learner, ReminderPolicy, Source, step
from cnam_calendar.rules.reminders import plan_reminders, uid_year

FAQ = "https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp?RH=1623911274792"
KEY = "w" * 32
UID = f"withdrawal.{KEY}.ipst-cnam.2026@cnam-calendar"


def wanda(**changes) -> Learner:
    return replace(Learner("W1", "w@example.org", "Wanda", "Petit", "ipst-cnam", "31", "individuel", (),
                           date(2026, 11, 2)), **changes)


def plan(centre: Centre, learners, keys=None, sched=None, **kwargs):
    sched = sched or service.schedule(centre, 2026)
    return plan_reminders(learners, {centre.id: sched}, {centre.id: service.ouvres_for(centre, 2025, 2028)},
                          {"W1": KEY} if keys is None else keys, **kwargs)


def test_the_payload_of_a_reminder_word_for_word(ipst: Centre) -> None:
    (r,) = [r for r in plan(ipst, [wanda()]) if r.event_id == "withdrawal" and r.offset_days == 1]
    assert (r.key, r.learner_id, r.event_uid, r.kind, r.target, r.origin, r.year) == (
        f"W1/{UID}/J-1/2026-11-12", "W1", UID, "deadline", date(2026, 11, 12), date(2026, 11, 2), 2026)
    assert r.due_at == datetime(2026, 11, 11, 8, 0, tzinfo=timezone.utc)
    assert r.expires_at == datetime(2026, 11, 12, 23, 0, tzinfo=timezone.utc)
    assert r.local_due.isoformat() == "2026-11-11T09:00:00+01:00"
    assert r.payload == {
        "v": 1, "key": f"W1/{UID}/J-1/2026-11-12", "offset_days": 1, "date": "2026-11-12",
        "due_local": "2026-11-11T09:00:00+01:00", "year": 2026, "origin": "2026-11-02",
        "learner": {"id": "W1", "email": "w@example.org", "first_name": "Wanda", "last_name": "Petit", "lang": "fr",
                    "key": KEY},
        "event": {
            "id": "withdrawal", "uid": UID, "kind": "deadline",
            "title": "Délai de rétractation (10 jours) : date limite", "title_en": "Withdrawal window (10 days) ends",
            "start": "2026-11-12", "end": "2026-11-12",
            "steps": [
                {"kind": "withdrawal-origin", "values": {"origin": "2026-11-02"}},
                {"kind": "calendar-days", "values": {"origin": "2026-11-02", "n": 10, "raw": "2026-11-12"}},
                {"kind": "no-prorogation", "values": {"day": "2026-11-12"}},
                {"kind": "withdrawal-deadline", "values": {"deadline": "2026-11-12"}},
            ],
            "source": "FAQ Ipst-Cnam, « Puis-je changer d'UE ou de modalité après mon inscription ? » : Vous "
                      "disposez d'un délai de 10 jours après la réception de votre dossier pour demander la "
                      "suppression d'une UE pour le semestre en cours ou l'annulation de l'inscription. "
                      f"<{FAQ}>",
            "url": FAQ,
            "categories": ["Échéance", "Personnel"],
        },
        "centre": {"id": "ipst-cnam", "name": "Ipst-Cnam (Toulouse, Albi)", "email": "contact@ipst-cnam.fr",
                   "phone": "", "url": "https://ipst.cnam.fr/", "faq_url": FAQ, "timezone": "Europe/Paris",
                   "sender": "", "unsubscribe": ""},
    }


def _with_deadline(centre: Centre, source: Source | None):
    sched = service.schedule(centre, 2026)
    extra = Event("rentree-pot", "deadline", "Pot de rentrée : inscription", "Welcome drinks: sign up",
                  date(2026, 12, 10), date(2026, 12, 10), (step("closure-no-class"),), source, ("Échéance",))
    return replace(sched, events=(*sched.events, extra))


def test_an_institutional_deadline_without_source_points_to_the_centres_faq(ipst: Centre) -> None:
    rs = [r for r in plan(ipst, [wanda()], sched=_with_deadline(ipst, None)) if r.event_id == "rentree-pot"]
    assert [r.offset_days for r in rs] == [7, 1]
    assert all(r.payload["event"]["source"] == "" and r.payload["event"]["url"] == FAQ for r in rs)


def test_an_event_source_url_wins_over_the_faq(ipst: Centre) -> None:
    own = Source("Note du centre", "Pot ?", "Oui.", "https://example.org/pot")
    rs = [r for r in plan(ipst, [wanda()], sched=_with_deadline(ipst, own)) if r.event_id == "rentree-pot"]
    assert {r.payload["event"]["url"] for r in rs} == {"https://example.org/pot"}
    assert {r.payload["event"]["source"] for r in rs} == {"Note du centre, « Pot ? » : Oui. <https://example.org/pot>"}
    no_url = Source("Note du centre", "Pot ?", "Oui.")
    rs = [r for r in plan(ipst, [wanda()], sched=_with_deadline(ipst, no_url)) if r.event_id == "rentree-pot"]
    assert {r.payload["event"]["url"] for r in rs} == {FAQ}


def test_an_offset_of_zero_is_the_day_itself_and_negative_ones_are_ignored(ipst: Centre) -> None:
    centre = replace(ipst, reminders=ReminderPolicy(time(9, 0), (-1, 0, 1), (2, 1)))
    rs = [r for r in plan(centre, [wanda()]) if r.event_id == "withdrawal"]
    assert [(r.offset_days, r.local_due.isoformat()) for r in rs] == [
        (1, "2026-11-11T09:00:00+01:00"), (0, "2026-11-12T09:00:00+01:00")]


@pytest.mark.parametrize(("lang", "expected"), [("en", "en"), ("fr", "fr"), ("de", "fr"), ("", "fr")])
def test_the_payload_language_is_french_unless_english(ipst: Centre, lang: str, expected: str) -> None:
    rs = plan(ipst, [wanda(lang=lang)])
    assert rs and {r.payload["learner"]["lang"] for r in rs} == {expected}


def test_a_learner_without_a_key_gets_institutional_reminders_with_an_empty_key(ipst: Centre) -> None:
    rs = plan(ipst, [wanda(dossier_received=None)], keys={})
    assert rs and {r.event_id for r in rs} == {"registration-close-s1", "registration-close-s2", "add-drop-close"}
    assert {r.payload["learner"]["key"] for r in rs} == {""}


def test_a_centre_without_a_calendar_does_not_stop_the_others(ipst: Centre, occitanie: Centre) -> None:
    scheds = {occitanie.id: service.schedule(occitanie, 2026), ipst.id: service.schedule(ipst, 2026)}
    rs = plan_reminders([wanda()], scheds, {ipst.id: service.ouvres_for(ipst, 2025, 2028)}, {"W1": KEY})
    assert {r.event_id for r in rs} >= {"withdrawal"}


def test_instants_are_in_utc_whatever_the_machines_zone(ipst: Centre, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    try:
        rs = plan(ipst, [wanda()])
    finally:
        monkeypatch.undo()
        time_module.tzset()
    assert rs
    for r in rs:
        assert r.due_at.utcoffset() == timedelta(0) and r.expires_at.utcoffset() == timedelta(0), r.key


@pytest.mark.parametrize(("uid", "year"), [
    ("withdrawal.abc.ipst-cnam.2026@cnam-calendar", 2026),
    ("ue-NFA031-exam-june.ipst-cnam.2027@cnam-calendar", 2027),
    ("semester-1.ipst-cnam@cnam-calendar", None),
    ("nodots@cnam-calendar", None),
    ("nodots", None),
    ("a@b.ipst-cnam.2026@cnam-calendar", 2026),  # the domain is what follows the last "@"
])
def test_uid_year(uid: str, year: int | None) -> None:
    assert uid_year(uid) == year


@pytest.mark.parametrize(("status", "rules"), [
    ("apprentissage", ["apprenticeship-contract"]),
    ("individuel", []),  # a training start alone makes no contract deadline
    ("professionnalisation", []),
])
def test_only_apprentices_get_the_contract_deadline(ipst: Centre, status: str, rules: list[str]) -> None:
    from cnam_calendar.rules.personal import deadline_event, learner_deadlines

    learner = wanda(status=status, dossier_received=None, training_start=date(2026, 10, 12))
    found = learner_deadlines(learner, service.schedule(ipst, 2026), service.ouvres_for(ipst, 2025, 2028))
    assert [d.rule for d in found] == rules
    for d in found:  # 12 October 2026 + 3 months = Tuesday 12 January 2027
        event = deadline_event(d)
        assert (event.id, event.start, event.end) == ("apprenticeship-contract", date(2027, 1, 12), date(2027, 1, 12))
        assert (event.title, event.title_en) == ("Contrat d'apprentissage : date limite de signature",
                                                 "Apprenticeship contract: signature deadline")
        assert event.categories == ("Échéance", "Personnel") and event.source is d.source
