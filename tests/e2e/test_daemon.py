"""The reminder daemon in process: a real store, a real SMTP server (aiosmtpd), a clock that travels.

Nothing sleeps: each test moves the daemon's clock and calls ``dispatch``; what the SMTP server
received and what the delivery table says are what is asserted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import generate_learners
from cnam_calendar.mail.compose import message_id
from cnam_calendar.mail.daemon import Daemon, plan_all
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.reminders import Reminder, delivery_key, local_instant
from cnam_calendar.store.database import Store, open_store
from cnam_calendar.store.delivery import list_deliveries, set_opt_out, status_counts, sync_plan
from tests.conftest import CALENDARS
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.support.daemons import template_payload
from tests.support.smtp_sink import SmtpSink, running_sink

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
SENDER = "rappels@cnam.test"


class Travel:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def centres():
    return load_centres(CALENDARS)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'daemon.db'}")
    yield s
    s.close()


def make_daemon(store: Store, sink: SmtpSink, centres, clock: Travel, lanes: int = 2, **kwargs) -> Daemon:
    mailer = Mailer("127.0.0.1", sink.port, lanes=lanes, sender=SENDER, local_hostname="daemon.test", timeout=10)
    return Daemon(store, mailer, centres, clock, SENDER, owner="test-daemon", **kwargs)


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def received_ids(sink: SmtpSink) -> Counter[str]:
    return Counter(m.message_id for m in sink.messages)


def test_a_whole_year_of_a_roster_sends_each_reminder_once_at_nine_paris(store, sink, centres):
    catalogues = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    store.import_learners(generate_learners(12, 7, centres, catalogues, 2026))
    travel = Travel(datetime(2026, 9, 1, 6, 0, tzinfo=UTC))
    daemon = make_daemon(store, sink, centres, travel)
    report = daemon.plan()
    assert report is not None and report.created > 0
    planned = {r.key: r for r in plan_all(store, centres, 2026) if r.expires_at > travel.now}
    rows = {d.key for d in list_deliveries(store)}
    assert rows == set(planned)

    day = date(2026, 9, 1)
    sent_per_day: dict[date, int] = {}
    while day <= date(2027, 9, 30):  # every morning at 09:00 Paris (08:00 or 07:00 UTC), one dispatch round
        travel.now = datetime.combine(day, time(9, 0), PARIS).astimezone(UTC)
        sent_per_day[day] = daemon.dispatch()
        day += timedelta(days=1)
    daemon.mailer.close()

    got = received_ids(sink)
    assert got == Counter({message_id(k): 1 for k in planned}), "each planned reminder exactly once"
    for d in list_deliveries(store):
        assert d.status == "sent", d
        local = d.sent_at.astimezone(PARIS)
        assert (local.date(), local.time()) == (planned[d.key].local_due.date(), time(9, 0)), d.key
    by_day = Counter(r.local_due.date() for r in planned.values())
    assert {k: v for k, v in sent_per_day.items() if v} == dict(by_day)
    # the year crosses both clock changes: 09:00 Paris is 07:00 UTC in summer time, 08:00 UTC in winter
    hours = {d.sent_at.astimezone(UTC).hour for d in list_deliveries(store)}
    assert hours == {7, 8}
    assert status_counts(store)["sent"] == len(planned)


def enrol(store: Store, *ids: str) -> None:
    """Put learners with these ids in the store (the delivery table refers to them)."""
    store.import_learners([Learner(i, f"{i.lower()}@example.org", "Camille", "Martin", "ipst-cnam", "31", "individuel")
                           for i in ids])


def hand_made(learner_id: str, event: str, target: date, offsets=(7, 1), year: int = 2026,
              email: str = "camille.martin@example.org", lang: str = "fr") -> list[Reminder]:
    """Reminders at 09:00 Paris J-n before ``target``, with the planner's payload made to fit."""
    uid = f"{event}.ipst-cnam.{year}@cnam-calendar"
    expires = datetime.combine(target + timedelta(days=1), time(0), PARIS).astimezone(UTC)
    out = []
    for n in offsets:
        local = local_instant(target - timedelta(days=n), time(9, 0), PARIS)
        key = delivery_key(learner_id, uid, n, target)
        payload = template_payload()
        payload.update({"key": key, "offset_days": n, "date": target.isoformat(), "due_local": local.isoformat(),
                        "year": year})
        payload["learner"].update({"id": learner_id, "email": email, "lang": lang})
        payload["event"].update({"id": event, "uid": uid, "start": target.isoformat(), "end": target.isoformat()})
        out.append(Reminder(key, learner_id, uid, event, "deadline", n, target, None, local, local.astimezone(UTC),
                            expires, year, payload))
    return out


@pytest.mark.parametrize(("first_day", "before", "after"), [
    (date(2027, 3, 22), 8, 7),  # spring: clocks go forward on Sunday 28 March 2027
    (date(2027, 10, 25), 7, 8),  # autumn: clocks go back on Sunday 31 October 2027
])
def test_both_dst_weeks_of_2027_send_at_nine_paris_to_the_minute(store, sink, centres, first_day, before, after):
    plan = [r for i in range(9) for r in hand_made(f"L{i}", f"dst-{i}", first_day + timedelta(days=i + 1), (1,),
                                                     year=first_day.year - (first_day.month < 9))]
    travel = Travel(datetime.combine(first_day, time(0), UTC))
    enrol(store, *{r.learner_id for r in plan})
    sync_plan(store, plan, travel.now)
    daemon = make_daemon(store, sink, centres, travel, lanes=1)
    sent_at: dict[str, datetime] = {}
    end = travel.now + timedelta(days=10)
    while travel.now < end:  # every minute of the two weeks around 09:00 Paris: 06:00-09:59 UTC
        if 6 <= travel.now.hour < 10:
            before_keys = {d.key for d in list_deliveries(store, status="sent")}
            daemon.dispatch()
            for d in list_deliveries(store, status="sent"):
                if d.key not in before_keys:
                    sent_at[d.key] = travel.now
        travel.now += timedelta(minutes=1)
    daemon.mailer.close()
    assert set(sent_at) == {r.key for r in plan}
    for r in plan:
        assert sent_at[r.key] == r.due_at
        assert sent_at[r.key].astimezone(PARIS).time() == time(9, 0)
        change = date(first_day.year, first_day.month, 28 if first_day.month == 3 else 31)
        assert sent_at[r.key].hour == (before if r.local_due.date() < change else after), r.key
    assert received_ids(sink) == Counter({message_id(r.key): 1 for r in plan})


def test_three_days_of_downtime_across_nine_sends_only_the_latest_useful_reminder(store, sink, centres):
    # Friday 4 December 2026, 18:00 Paris: the daemon stops; it comes back on Monday 7 December at 10:00.
    stop = datetime(2026, 12, 4, 18, 0, tzinfo=PARIS)
    back = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS).astimezone(UTC)
    both_due = hand_made("A", "cpf", date(2026, 12, 8), (7, 1))  # J-7 (1 Dec) sent; J-1 (7 Dec) due at 09:00
    missed_both = hand_made("B", "withdrawal", date(2026, 12, 12), (7, 1))  # J-7 on Sat 5 Dec missed, J-1 later
    overdue_two = hand_made("C", "exam", date(2026, 12, 9), (3, 2))  # J-3 (6 Dec) and J-2 (7 Dec) both overdue
    passed = hand_made("D", "contract", date(2026, 12, 6), (1,))  # its deadline day went by during the downtime
    plan = both_due + missed_both + overdue_two + passed
    travel = Travel(datetime(2026, 11, 30, tzinfo=UTC))
    enrol(store, "A", "B", "C", "D")
    sync_plan(store, plan, travel.now)
    daemon = make_daemon(store, sink, centres, travel)
    travel.now = datetime(2026, 12, 1, 9, 0, tzinfo=PARIS).astimezone(UTC)
    assert daemon.dispatch() == 1  # A's J-7
    travel.now = stop.astimezone(UTC)
    daemon.dispatch()
    travel.now = back
    daemon.dispatch()
    daemon.mailer.close()
    status = {d.key: d.status for d in list_deliveries(store)}
    assert status == {
        both_due[0].key: "sent", both_due[1].key: "sent",
        missed_both[0].key: "sent", missed_both[1].key: "pending",  # J-7 still useful: sent late; J-1 later
        overdue_two[0].key: "superseded", overdue_two[1].key: "sent",  # only the latest offset
        passed[0].key: "expired",
    }
    assert received_ids(sink) == Counter({message_id(k): 1 for k, s in status.items() if s == "sent"})


def test_temporary_failures_are_retried_later_and_a_refused_recipient_fails_with_the_server_words(
        store, sink, centres):
    ok = hand_made("A", "cpf", date(2026, 12, 10), (1,))
    flaky = hand_made("B", "cpf", date(2026, 12, 10), (1,), email="flaky@example.org")
    ghost = hand_made("C", "cpf", date(2026, 12, 10), (1,), email="ghost@example.org")
    plan = ok + flaky + ghost
    travel = Travel(datetime(2026, 12, 1, tzinfo=UTC))
    enrol(store, "A", "B", "C")
    sync_plan(store, plan, travel.now)
    daemon = make_daemon(store, sink, centres, travel, lanes=1)
    sink.refuse("ghost@example.org")
    sink.tempfail(1)  # the first DATA of the round
    travel.now = plan[0].due_at
    daemon.dispatch()
    rows = {d.learner_id: d for d in list_deliveries(store)}
    assert rows["C"].status == "failed" and "550 5.1.1 mailbox unavailable" in rows["C"].last_error
    retried = [d for d in rows.values() if d.status == "pending"]
    assert len(retried) == 1 and "451" in retried[0].last_error and retried[0].due_at > travel.now
    sink.drop(1)  # and the connection breaks before the reply on the next try
    travel.now = retried[0].due_at
    daemon.dispatch()
    assert {d.learner_id: d.status for d in list_deliveries(store)}["B" if retried[0].learner_id == "B" else "A"] \
        == "pending"
    travel.now = max(d.due_at for d in list_deliveries(store, status="pending"))
    daemon.dispatch()
    daemon.mailer.close()
    final = {d.learner_id: d for d in list_deliveries(store)}
    assert {k: d.status for k, d in final.items()} == {"A": "sent", "B": "sent", "C": "failed"}
    assert final[retried[0].learner_id].attempts == 3
    assert received_ids(sink) == Counter({message_id(ok[0].key): 1, message_id(flaky[0].key): 1})


def test_a_message_arrives_in_the_learner_language_with_its_event_attached(store, sink, centres):
    plan = hand_made("E", "cpf", date(2026, 12, 10), (1,), lang="en")
    travel = Travel(datetime(2026, 12, 1, tzinfo=UTC))
    enrol(store, "E")
    sync_plan(store, plan, travel.now)
    daemon = make_daemon(store, sink, centres, travel, lanes=1)
    travel.now = plan[0].due_at
    assert daemon.dispatch() == 1
    daemon.mailer.close()
    [received] = sink.messages
    msg = message_from_bytes(received.data, policy=default_policy)
    assert msg["Message-ID"] == message_id(plan[0].key)
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Content-Language"] == "en"
    assert received.rcpt_tos == ("camille.martin@example.org",)
    kinds = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in kinds and "text/html" in kinds and "text/calendar" in kinds


def test_opted_out_learner_gets_nothing(store, sink, centres):
    catalogues = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    [learner] = generate_learners(1, 11, centres, catalogues, 2026)
    store.import_learners([learner])
    travel = Travel(datetime(2026, 9, 1, 6, 0, tzinfo=UTC))
    daemon = make_daemon(store, sink, centres, travel)
    daemon.plan()
    set_opt_out(store, learner.id)
    travel.now = datetime(2027, 9, 30, tzinfo=UTC)
    daemon.dispatch()
    daemon.mailer.close()
    assert sink.messages == []
    assert {d.status for d in list_deliveries(store)} == {"cancelled"}


def test_a_second_planner_run_changes_nothing_and_a_learner_update_reschedules(store, sink, centres):
    learner = Learner("P1", "p1@example.org", "Paul", "Durand", "ipst-cnam", "31", "cpf", (),
                      dossier_received=date(2026, 11, 2), cpf_validated=date(2026, 10, 20))
    store.import_learners([learner])
    travel = Travel(datetime(2026, 10, 1, tzinfo=UTC))
    daemon = make_daemon(store, sink, centres, travel)
    first = daemon.plan()
    again = daemon.plan()
    assert again.created == again.updated == again.cancelled == 0 and again.unchanged == first.created
    moved = Learner(**{**{f: getattr(learner, f) for f in learner.__slots__}, "dossier_received": date(2026, 11, 16)})
    store.import_learners([moved])
    after = daemon.plan()
    assert after.created > 0 and after.cancelled > 0
    daemon.mailer.close()



def test_a_daemon_whose_lease_runs_low_mid_batch_stops_sending_it_and_gives_the_rest_back(store, sink, centres,
                                                                                          monkeypatch):
    plan = [r for i in range(20) for r in hand_made(f"S{i:02d}", f"stall-{i}", date(2026, 12, 10), (1,))]
    enrol(store, *{r.learner_id for r in plan})
    sync_plan(store, plan, datetime(2026, 12, 1, tzinfo=UTC))
    readings = iter(range(100_000))

    def stalling_clock() -> datetime:  # every reading is a minute after the last: a process that crawls
        return plan[0].due_at + timedelta(minutes=next(readings))

    claims: list[int] = []

    def claim_spy(*args, **kwargs):
        rows = real_claim(*args, **kwargs)
        claims.append(len(rows))
        return rows

    from cnam_calendar.store import delivery

    real_claim = delivery.claim_due  # the real claim, counted
    monkeypatch.setattr(delivery, "claim_due", claim_spy)
    daemon = make_daemon(store, sink, centres, stalling_clock, lanes=1, lease=timedelta(minutes=10), batch=20)
    daemon.dispatch()
    daemon.mailer.close()
    assert claims[0] == 20 and len(claims) > 2, claims  # each lease covered only a few sends: batches were cut
    rows = list_deliveries(store)
    assert {d.status for d in rows} == {"sent"}
    assert {d.attempts for d in rows} == {1}  # rows given back unsent do not count as an attempt
    assert received_ids(sink) == Counter({message_id(r.key): 1 for r in plan})


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_more_lanes_than_the_store_has_connections_send_everything_once(db_url, sink, centres):  # noqa: F811
    # 24 lanes record their outcomes at once; the store's pool holds 15 connections: the marks
    # share a few of them instead of running the pool dry.
    store = open_store(db_url)
    try:
        plan = [r for i in range(120) for r in hand_made(f"W{i:03d}", f"wide-{i}", date(2026, 12, 10), (1,))]
        enrol(store, *{r.learner_id for r in plan})
        sync_plan(store, plan, datetime(2026, 12, 1, tzinfo=UTC))
        daemon = make_daemon(store, sink, centres, Travel(plan[0].due_at + timedelta(minutes=1)), lanes=24)
        assert daemon.dispatch() == len(plan)
        daemon.mailer.close()
        assert status_counts(store)["sent"] == len(plan)
        assert received_ids(sink) == Counter({message_id(r.key): 1 for r in plan})
    finally:
        store.close()
