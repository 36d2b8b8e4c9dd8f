"""Change notices through the real daemon: a store, an aiosmtpd server, rule files edited, a clock that travels.

Nothing sleeps: the test edits calendars/ (a copy), moves the clock, and calls the daemon's scan and
dispatch as its APScheduler jobs would; what the SMTP server received is what is asserted.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import Store, open_store
from cnam_calendar.store.delivery import list_deliveries, set_mail_preference
from tests.conftest import CALENDARS
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.support.app_server import Travel
from tests.support.smtp_sink import SmtpSink, running_sink
from tests.unit.test_explain_text import WORD as FRENCH_WORD

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
SENDER = "rappels@cnam.test"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=PARIS).astimezone(UTC)  # a Monday morning


@pytest.fixture
def calendars(tmp_path: Path) -> Path:
    folder = tmp_path / "calendars"
    shutil.copytree(CALENDARS, folder)
    return folder


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811 - a SQLite file, or a PostgreSQL schema of its own
    s = open_store(db_url)
    yield s
    s.close()


def learner(i: str, *, lang: str = "fr", cpf: date | None = None, status: str = "individuel") -> Learner:
    return Learner(i, f"{i.lower()}@example.org", "Camille", "Martin", "ipst-cnam", "31", status, ("NFA031",),
                   cpf_validated=cpf, lang=lang)


def set_override(calendars: Path, event: str | None, day: date | None) -> None:
    """Write (or remove, with None) an override of ``event`` in [years.2026] of the copied ipst-cnam.toml."""
    path = calendars / "ipst-cnam.toml"
    text = re.sub(r"\noverrides\.\"[^\"]+\" = \{ date = [0-9-]+, reason = \"test\" \}", "", path.read_text())
    if event is not None and day is not None:
        text = text.replace("[years.2026]\n", f"[years.2026]\noverrides.\"{event}\" = "
                                              f"{{ date = {day.isoformat()}, reason = \"test\" }}\n", 1)
    path.write_text(text)


def daemon_for(store: Store, sink: SmtpSink, calendars: Path, clock: Travel) -> Daemon:
    mailer = Mailer("127.0.0.1", sink.port, lanes=2, sender=SENDER, local_hostname="daemon.test", timeout=10)
    return Daemon(store, mailer, load_centres(calendars), clock, SENDER, owner="notices-test",
                  reload_centres=lambda: load_centres(calendars))


def parsed(sink: SmtpSink) -> list[EmailMessage]:
    return [message_from_bytes(m.data, policy=default_policy) for m in sink.messages]


def body(msg: EmailMessage, kind: str = "plain") -> str:
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def notices(sink: SmtpSink) -> list[EmailMessage]:
    return [m for m in parsed(sink) if not str(m["Subject"]).startswith(("Rappel", "Reminder"))]


def test_an_override_moved_twice_within_the_hold_back_makes_one_notice_with_the_final_date(
        store, sink, calendars):
    store.import_learners([learner("L1"), learner("L2", lang="en")])
    clock = Travel(T0)
    daemon = daemon_for(store, sink, calendars, clock)
    first = daemon.scan_notices()
    assert first is not None and first.baselined == 2 and first.queued == 0  # first sight: a baseline, no mail
    set_override(calendars, "add-drop-close", date(2027, 2, 24))
    assert daemon.scan_notices().queued == 2
    clock.now = T0 + timedelta(minutes=10)
    set_override(calendars, "add-drop-close", date(2027, 2, 22))  # edited again within the window
    assert daemon.scan_notices().updated == 2
    clock.now = T0 + timedelta(minutes=29)
    assert daemon.dispatch() == 0  # the hold-back runs from the first sight: 30 min
    clock.now = T0 + timedelta(minutes=30)
    assert daemon.dispatch() == 2
    clock.now = T0 + timedelta(hours=2)
    daemon.scan_notices()
    assert daemon.dispatch() == 0  # told once: the baseline is now what the notice said
    daemon.mailer.close()
    got = notices(sink)
    assert len(got) == 2
    fr = next(m for m in got if m["To"].addresses[0].addr_spec == "l1@example.org")
    en = next(m for m in got if m["To"].addresses[0].addr_spec == "l2@example.org")
    text = body(fr)
    assert str(fr["Subject"]) == "Date modifiée : Ajout ou suppression d'UE : fin du bulletin rectificatif"
    assert "lundi 22 février 2027" in text and "mercredi 24 février" not in text
    assert "Avant : dimanche 28 février 2027" in text
    assert "dans 112 jours" in text
    assert "Date fixée par le centre (ipst-cnam.toml : years.2026.overrides.add-drop-close), motif : test." in text
    assert "Sans cette dérogation, la règle aurait donné : dimanche 28 février 2027." in text  # the why
    assert [p.get_filename() for p in fr.iter_attachments()] == ["changements.ics"]
    ics = next(fr.iter_attachments()).get_content()
    assert "DTSTART;VALUE=DATE:20270222" in ics and "UID:add-drop-close.ipst-cnam.2026@cnam-calendar" in ics
    english = body(en) + str(en["Subject"])
    assert "Monday 22 February 2027" in english and "Date changed" in english
    html = body(en, "html")
    assert not FRENCH_WORD.findall(re.sub(r"<[^>]+>", " ", english + html).replace("Mon Compte Formation", "")), \
        FRENCH_WORD.findall(english + html)


def test_an_edit_undone_within_the_hold_back_makes_no_notice(store, sink, calendars):
    store.import_learners([learner("L1")])
    clock = Travel(T0)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.scan_notices()
    set_override(calendars, "exam-june", date(2027, 6, 14))
    assert daemon.scan_notices().queued == 1
    clock.now = T0 + timedelta(minutes=20)
    set_override(calendars, None, None)  # back as it was, before the row fell due
    clock.now = T0 + timedelta(minutes=31)
    assert daemon.dispatch() == 0  # the daemon scanned before sending: nothing to say
    daemon.mailer.close()
    assert sink.messages == []
    assert [d.status for d in list_deliveries(store) if d.key.startswith("notice/")] == ["cancelled"]


def test_a_corrected_roster_date_moves_the_deadline_its_reminders_follow_and_one_notice_says_so(
        store, sink, calendars):
    store.import_learners([learner("C1", cpf=date(2026, 11, 16), status="cpf")])
    clock = Travel(T0)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.plan()
    daemon.scan_notices()
    old = {d.key for d in list_deliveries(store) if "cpf-confirmation" in d.key}
    assert old and all("2026-11-19" in k for k in old)  # 16 Nov + 3 jours ouvrés
    store.import_learners([learner("C1", cpf=date(2026, 11, 23), status="cpf")])  # the roster is corrected
    daemon.plan()
    daemon.scan_notices()
    rows = {d.key: d.status for d in list_deliveries(store) if "cpf-confirmation" in d.key}
    assert {k: s for k, s in rows.items() if k in old} == dict.fromkeys(old, "cancelled")
    new = sorted(k for k in rows if k not in old)
    assert new == ["C1/cpf-confirmation." + k.split("/cpf-confirmation.", 1)[1] for k in new]
    assert all("2026-11-26" in k for k in new) and rows[new[0]] == "pending"
    day = T0
    while day < datetime(2026, 11, 27, tzinfo=UTC):  # every hour up to the new deadline
        clock.now = day
        daemon.dispatch()
        day += timedelta(hours=1)
    daemon.mailer.close()
    got = parsed(sink)
    subjects = [str(m["Subject"]) for m in got]
    reminders = [s for s in subjects if s.startswith("Rappel : Confirmation")]
    assert reminders and all("26 novembre 2026" in s for s in reminders)
    assert not any("19 novembre" in s for s in subjects if s.startswith("Rappel"))
    notice = [m for m in got if str(m["Subject"]).startswith("Date modifiée")]
    assert len(notice) == 1
    assert "jeudi 26 novembre 2026" in body(notice[0]) and "Avant : jeudi 19 novembre 2026" in body(notice[0])


def test_weekly_digest_learners_get_one_monday_mail_but_a_change_within_a_week_at_once(store, sink, calendars):
    store.import_learners([learner("W1"), learner("W2"), learner("E1")])
    set_mail_preference(store, "W1", "weekly")
    set_mail_preference(store, "W2", "weekly")
    start = datetime(2026, 11, 4, 10, 0, tzinfo=PARIS).astimezone(UTC)  # a Wednesday
    clock = Travel(start)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.scan_notices()
    set_override(calendars, "add-drop-close", date(2027, 2, 22))  # months ahead: digest for W1, W2
    daemon.scan_notices()
    due = {d.learner_id: d.due_at for d in list_deliveries(store) if d.key.startswith("notice/")}
    monday = datetime(2026, 11, 9, 9, 0, tzinfo=PARIS).astimezone(UTC)
    assert due == {"W1": monday, "W2": monday, "E1": start + timedelta(minutes=30)}
    clock.now = start + timedelta(minutes=30)
    assert daemon.dispatch() == 1  # E1 at once
    set_override(calendars, "add-drop-close", date(2027, 2, 23))  # another edit before Monday: same digest
    clock.now = start + timedelta(days=1)
    daemon.scan_notices()
    t = start + timedelta(days=1)
    while t <= monday + timedelta(hours=1):
        clock.now = t
        daemon.dispatch()
        t += timedelta(hours=6) if t < monday - timedelta(hours=6) else timedelta(minutes=30)
    daemon.mailer.close()
    by_rcpt: dict[str, list[EmailMessage]] = {}
    for m in notices(sink):
        by_rcpt.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    # E1 hears of each edit (after its hold-back); W1 and W2 of both in one Monday digest
    assert {k: len(v) for k, v in by_rcpt.items()} == {"e1@example.org": 2, "w1@example.org": 1, "w2@example.org": 1}
    digest = by_rcpt["w1@example.org"][0]
    assert str(digest["Subject"]).startswith("Résumé de la semaine : ")
    assert "mardi 23 février 2027" in body(digest)
    sent = {d.learner_id: d.sent_at for d in list_deliveries(store) if d.key.startswith("notice/W")}
    assert {s.astimezone(PARIS).time() for s in sent.values()} == {time(9, 0)}
    assert {s.astimezone(PARIS).date() for s in sent.values()} == {date(2026, 11, 9)}


def test_a_digest_learner_hears_at_once_of_a_change_within_seven_days(store, sink, calendars):
    store.import_learners([learner("W1")])
    set_mail_preference(store, "W1", "weekly")
    start = datetime(2026, 12, 10, 10, 0, tzinfo=PARIS).astimezone(UTC)  # the closure starts on 19 December
    clock = Travel(start)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.scan_notices()
    path = calendars / "ipst-cnam.toml"
    path.write_text(path.read_text().replace("start = 2026-12-19, end = 2027-01-03",
                                             "start = 2026-12-16, end = 2027-01-03"))
    daemon.scan_notices()
    [row] = [d for d in list_deliveries(store) if d.key.startswith("notice/")]
    assert row.due_at == start + timedelta(minutes=30)
    clock.now = row.due_at
    assert daemon.dispatch() == 1
    daemon.mailer.close()
    text = body(notices(sink)[0])
    assert "du mercredi 16 décembre 2026 au dimanche 3 janvier 2027" in text
    assert "Avant : du samedi 19 décembre 2026 au dimanche 3 janvier 2027" in text


def test_nothing_for_dates_already_past(store, sink, calendars):
    store.import_learners([learner("L1")])
    clock = Travel(datetime(2027, 3, 10, 10, 0, tzinfo=PARIS).astimezone(UTC))
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.scan_notices()
    set_override(calendars, "add-drop-close", date(2027, 2, 22))  # moved, but both dates are past
    report = daemon.scan_notices()
    assert report.queued == 0 and report.advanced == 1
    clock.now += timedelta(hours=1)
    assert daemon.dispatch() == 0
    daemon.mailer.close()
    assert sink.messages == []


def test_an_opted_out_learner_gets_no_notice_then_or_after_opting_in(store, sink, calendars):
    store.import_learners([learner("O1")])
    clock = Travel(T0)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.scan_notices()
    set_mail_preference(store, "O1", "none")
    set_override(calendars, "add-drop-close", date(2027, 2, 22))
    report = daemon.scan_notices()
    assert report.queued == 0 and report.advanced == 1
    set_mail_preference(store, "O1", "each")  # back: no stale news of what changed meanwhile
    clock.now = T0 + timedelta(hours=1)
    assert daemon.scan_notices().queued == 0
    assert daemon.dispatch() == 0
    daemon.mailer.close()
    assert sink.messages == []


def test_weekly_learners_get_their_reminders_in_one_monday_letter_a_week(store, sink, calendars):
    store.import_learners([learner("W1", cpf=date(2026, 11, 16), status="cpf"),
                           learner("E1", cpf=date(2026, 11, 16), status="cpf")])
    set_mail_preference(store, "W1", "weekly")
    start = datetime(2026, 11, 2, 8, 0, tzinfo=PARIS).astimezone(UTC)
    clock = Travel(start)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.plan()
    rows = list_deliveries(store)
    mine = [d for d in rows if d.learner_id == "W1"]
    assert mine and all(d.key.startswith("week/W1/") for d in mine)
    assert all(d.due_at.astimezone(PARIS).weekday() == 0 and d.due_at.astimezone(PARIS).time() == time(9, 0)
               for d in mine)
    each = [d for d in rows if d.learner_id == "E1"]
    assert each and not any(d.key.startswith("week/") for d in each)
    end = datetime(2027, 3, 1, tzinfo=UTC)
    while clock.now < end:  # every hour from November to February
        daemon.dispatch()
        clock.now += timedelta(hours=1)
    daemon.mailer.close()
    letters = [m for m in parsed(sink) if m["To"].addresses[0].addr_spec == "w1@example.org"]
    sent = [d for d in list_deliveries(store, learner_id="W1") if d.status == "sent"]
    assert len(letters) == len(sent) == len({d.sent_at.date() for d in sent}) >= 2  # one e-mail per Monday
    assert {d.sent_at.astimezone(PARIS).weekday() for d in sent} == {0}
    first = min(letters, key=lambda m: m["Date"].datetime)
    assert str(first["Subject"]).startswith("Votre semaine : ")
    text = body(first)
    assert "• Confirmation CPF : date limite le jeudi 19 novembre 2026 (dans 3 jours)" in text
    assert "Ce qu'il faut faire : Confirmez votre inscription sur Mon Compte Formation" in text
    assert [p.get_filename() for p in first.iter_attachments()] == ["semaine.ics"]
    individual = [m for m in parsed(sink) if m["To"].addresses[0].addr_spec == "e1@example.org"]
    assert len(individual) > len(letters)  # the same dates, one e-mail each for a learner who chose that


def test_a_weekly_learner_gets_the_weeks_dates_and_its_changes_in_one_monday_e_mail(store, sink, calendars):
    store.import_learners([learner("W1", cpf=date(2026, 11, 16), status="cpf"),
                           learner("W2", cpf=date(2026, 11, 16), status="cpf", lang="en")])
    set_mail_preference(store, "W1", "weekly")
    set_mail_preference(store, "W2", "weekly")
    start = datetime(2026, 11, 11, 10, 0, tzinfo=PARIS).astimezone(UTC)  # a Wednesday
    clock = Travel(start)
    daemon = daemon_for(store, sink, calendars, clock)
    daemon.plan()
    daemon.scan_notices()
    set_override(calendars, "add-drop-close", date(2027, 2, 22))  # months ahead: for the Monday digest
    daemon.scan_notices()
    monday = datetime(2026, 11, 16, 9, 0, tzinfo=PARIS).astimezone(UTC)
    rows = {d.key.split("/")[0]: d for d in list_deliveries(store, learner_id="W1") if d.due_at == monday}
    assert set(rows) == {"week", "notice"}  # both due on Monday at 9:00
    while clock.now <= monday + timedelta(hours=1):
        daemon.dispatch()
        clock.now += timedelta(hours=1)
    daemon.mailer.close()
    by_rcpt: dict[str, list[EmailMessage]] = {}
    for m in parsed(sink):
        by_rcpt.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    assert {k: len(v) for k, v in by_rcpt.items()} == {"w1@example.org": 1, "w2@example.org": 1}  # one e-mail each
    [letter] = by_rcpt["w1@example.org"]
    assert str(letter["Subject"]) == "Votre semaine : 1 date à retenir, 1 changement"
    text = body(letter)
    assert "• Confirmation CPF : date limite le jeudi 19 novembre 2026 (dans 3 jours)" in text
    dates, changes = text.split("Ce qui a changé dans votre calendrier :", 1)
    assert "Confirmation CPF" in dates and "lundi 22 février 2027" in changes and "Avant : " in changes
    html = body(letter, "html")
    assert "<h2>Ce qui a changé dans votre calendrier</h2>" in html and "lundi 22 février 2027" in html
    [ics] = [p.get_content() for p in letter.iter_attachments()]
    assert ics.count("BEGIN:VEVENT") == 2  # the week's date and the changed one
    for row in list_deliveries(store, learner_id="W1"):
        if row.due_at == monday:
            assert row.status == "sent"  # the notice carried by the letter is settled with it
    assert daemon.scan_notices().queued == 0  # its baseline moves on: no second notice of the same change
    [english] = by_rcpt["w2@example.org"]
    assert str(english["Subject"]) == "Your week: 1 date to keep in mind, 1 change"
    words = re.sub(r"\nSource: .*", "", body(english)).replace("Mon Compte Formation", "")
    assert "What changed in your calendar" in words and not FRENCH_WORD.findall(words), FRENCH_WORD.findall(words)
