"""The delivery table contract, on a SQLite file and on PostgreSQL (same rule as test_store: skip unless CI, any non-empty value).

Time travels through explicit ``now`` values; nothing sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.reminders import Reminder, delivery_key, local_instant, plan_reminders
from cnam_calendar.service import ouvres_for, schedule
from cnam_calendar.store.database import Store, learners_table, open_store
from cnam_calendar.store.delivery import (
    CLAIM_KEYS,
    STATUSES,
    Marks,
    SyncReport,
    _claim_sql,
    acquire_sqlite_daemon_lock,
    claim_due,
    get_delivery,
    list_deliveries,
    mail_preference,
    mark_failed,
    mark_retry,
    mark_sent,
    opted_out,
    set_mail_preference,
    set_opt_out,
    singleton,
    status_counts,
    sync_plan,
)
from tests.contract.test_store import db_url  # noqa: F401  (the fixture: SQLite file, PostgreSQL schema)

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
LEASE = timedelta(minutes=5)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def paris(y: int, m: int, d: int, h: int = 9, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811
    s = open_store(db_url, clock=lambda: T0)
    s.import_learners([person(n) for n in range(1, 6)])
    yield s
    s.close()


def person(n: int) -> Learner:
    return Learner(f"L{n}", f"l{n}@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf", ())


def reminders_for(learner_id: str, event: str, target: date, offsets=(7, 1), year: int = 2026) -> list[Reminder]:
    """Hand-made reminders at 09:00 Paris, J-n before ``target``, expiring at the end of it."""
    uid = f"{event}.ipst-cnam.{year}@cnam-calendar"
    expires = datetime.combine(target + timedelta(days=1), time(0), PARIS).astimezone(UTC)
    out = []
    for n in offsets:
        local = local_instant(target - timedelta(days=n), time(9, 0), PARIS)
        key = delivery_key(learner_id, uid, n, target)
        out.append(Reminder(key, learner_id, uid, event, "deadline", n, target, None, local, local.astimezone(UTC),
                            expires, year, {"key": key, "offset_days": n, "date": target.isoformat()}))
    return out


def statuses(store: Store) -> dict[str, str]:
    return {d.key: d.status for d in list_deliveries(store)}


def snapshot(store: Store) -> list[tuple]:
    return [(d.key, d.status, d.due_at, d.expires_at, d.offset_days, d.attempts, d.lease_owner, d.lease_until,
             d.last_error, d.sent_at, dict(d.payload)) for d in list_deliveries(store)]


# Planning


def test_sync_is_idempotent(store):
    plan = reminders_for("L1", "withdrawal", date(2026, 11, 20)) + reminders_for("L2", "registration", date(2026, 12, 1))
    report = sync_plan(store, plan, T0)
    assert report == SyncReport(created=4)
    before = snapshot(store)
    assert sync_plan(store, plan, T0) == SyncReport(unchanged=4)
    assert sync_plan(store, list(reversed(plan)) + plan, T0 + timedelta(days=1)) == SyncReport(unchanged=4)
    assert snapshot(store) == before
    assert {d.status for d in list_deliveries(store)} == {"pending"}
    row = get_delivery(store, plan[0].key)
    assert row.due_at == plan[0].due_at and row.due_at.tzinfo is not None and row.payload == dict(plan[0].payload)


def test_a_changed_payload_updates_the_pending_row_only(store):
    plan = reminders_for("L1", "withdrawal", date(2026, 11, 20))
    sync_plan(store, plan, T0)
    changed = [replace(r, payload={**r.payload, "learner": {"first_name": "Renée"}}) for r in plan]
    assert sync_plan(store, changed, T0) == SyncReport(updated=2)
    assert get_delivery(store, plan[0].key).payload["learner"] == {"first_name": "Renée"}


def test_a_moved_deadline_cancels_its_stale_rows_and_never_touches_sent_ones(store):
    old = reminders_for("L1", "withdrawal", date(2026, 11, 20))  # J-7 on 13 Nov, J-1 on 19 Nov
    sync_plan(store, old, T0)
    now = paris(2026, 11, 13, 9, 1)
    (claimed,) = claim_due(store, "d1", now, LEASE, 10)
    assert claimed.key == old[0].key and mark_sent(store, claimed.key, "d1", now)
    new = reminders_for("L1", "withdrawal", date(2026, 11, 24))
    report = sync_plan(store, new, now)
    assert report.created == 2 and report.cancelled == 1
    assert statuses(store) == {old[0].key: "sent", old[1].key: "cancelled", new[0].key: "pending",
                               new[1].key: "pending"}
    # the deadline moves back: its rows come back, the sent one stays sent, the other plan is cancelled
    report = sync_plan(store, old, now)
    assert report.revived == 1 and report.cancelled == 2
    assert statuses(store) == {old[0].key: "sent", old[1].key: "pending", new[0].key: "cancelled",
                               new[1].key: "cancelled"}


def test_reminders_already_useless_are_not_written(store):
    plan = reminders_for("L1", "withdrawal", date(2026, 10, 20))
    assert sync_plan(store, plan, T0) == SyncReport(skipped=2)
    assert list_deliveries(store) == []


def test_a_complete_plan_cancels_events_that_no_longer_concern_the_learner(store):
    ue = reminders_for("L1", "ue-NFA001-exam-june", date(2027, 6, 1), (2, 1))
    other_year = reminders_for("L1", "ue-NFA001-exam-june", date(2028, 6, 1), (2, 1), year=2027)
    keep = reminders_for("L1", "withdrawal", date(2026, 11, 20))
    sync_plan(store, ue + other_year + keep, T0)
    sync_plan(store, keep, T0)  # no scope given: nothing else is touched
    assert set(statuses(store).values()) == {"pending"}
    report = sync_plan(store, keep, T0, years=[2026])  # the UE was dropped from 2026-2027
    assert report.cancelled == 2
    assert {k: s for k, s in statuses(store).items() if s == "cancelled"} == {r.key: "cancelled" for r in ue}
    # a window limits the scope too
    sync_plan(store, ue, T0)
    assert sync_plan(store, [], T0, paris(2026, 11, 1, 0), paris(2027, 1, 1, 0), years=[2026]).cancelled == 2
    assert statuses(store)[ue[0].key] == "pending"


def test_a_plan_complete_for_some_learners_cancels_their_stale_rows_only(store):
    dropped = {n: reminders_for(f"L{n}", "ue-NFA001-exam-june", date(2027, 6, 1), (2, 1)) for n in (1, 2)}
    keep = {n: reminders_for(f"L{n}", "withdrawal", date(2026, 11, 20)) for n in (1, 2)}
    sync_plan(store, [r for n in (1, 2) for r in dropped[n] + keep[n]], T0)
    # the daemon plans a slice of learners at a time: L1's slice no longer has the exam, L2 is not in it
    report = sync_plan(store, keep[1], T0, years=[2026], learners=["L1"])
    assert report.cancelled == 2 and report.unchanged == 2
    assert {k for k, s in statuses(store).items() if s == "cancelled"} == {r.key for r in dropped[1]}
    # a learner of the slice with nothing planned any more: all their pending rows of the year go
    assert sync_plan(store, [], T0, years=[2026], learners=["L2", "L3"]).cancelled == 4
    assert set(statuses(store).values()) == {"pending", "cancelled"}
    assert {k for k, s in statuses(store).items() if s == "pending"} == {r.key for r in keep[1]}


# Claiming


def test_claim_takes_due_rows_once_and_respects_the_limit(store):
    plan = [r for n in range(1, 6) for r in reminders_for(f"L{n}", "withdrawal", date(2026, 11, 20), (1,))]
    sync_plan(store, plan, T0)
    due = plan[0].due_at
    assert claim_due(store, "d1", due - timedelta(seconds=1), LEASE, 10) == []
    first = claim_due(store, "d1", due, LEASE, 3)
    assert len(first) == 3 and all(c.attempts == 1 and c.lease_until == due + LEASE for c in first)
    rest = claim_due(store, "d2", due, LEASE, 10)
    assert len(rest) == 2 and not {c.key for c in first} & {c.key for c in rest}
    assert claim_due(store, "d3", due + LEASE - timedelta(seconds=1), LEASE, 10) == []
    row = get_delivery(store, first[0].key)
    assert (row.status, row.lease_owner, row.lease_until) == ("leased", "d1", due + LEASE)
    assert first[0].payload == dict(plan[0].payload) or first[0].payload in [dict(r.payload) for r in plan]


def test_three_days_of_downtime_across_nine_o_clock(store):
    # Down from Monday 16 Nov 2026 08:00 to Thursday 19 Nov 10:00 (Paris).
    a = reminders_for("L1", "exam-friday", date(2026, 11, 20), (2, 1))  # J-2 Wed, J-1 Thu: both overdue
    b = reminders_for("L2", "deadline-tuesday", date(2026, 11, 17), (7, 1))  # J-1 Mon; the deadline has passed
    c = reminders_for("L3", "deadline-next-monday", date(2026, 11, 23), (7, 1))  # J-7 Mon overdue, J-1 Sun ahead
    d = reminders_for("L4", "withdrawal", date(2026, 11, 26), (7, 1))  # J-7 Thu 19 at 09:00: just due
    sync_plan(store, a + b + c + d, paris(2026, 11, 9, 8))
    before = paris(2026, 11, 16, 8)
    sent = claim_due(store, "d1", before, LEASE, 100)
    assert [x.key for x in sent] == [b[0].key]  # J-7 of Tuesday's deadline was due on the 10th
    assert mark_sent(store, b[0].key, "d1", before)
    back = paris(2026, 11, 19, 10)
    claimed = claim_due(store, "d1", back, LEASE, 100)
    assert sorted(x.key for x in claimed) == sorted([a[1].key, c[0].key, d[0].key])
    got = statuses(store)
    assert got[a[0].key] == "superseded"  # the earlier offset of a deadline whose later one goes
    assert got[b[1].key] == "expired"  # the deadline day is over: never sent
    assert got[b[0].key] == "sent" and got[c[1].key] == "pending"
    counts = status_counts(store)
    assert counts == {"pending": 2, "leased": 3, "sent": 1, "failed": 0, "expired": 1, "superseded": 1,
                      "cancelled": 0} and list(counts) == list(STATUSES)


def test_a_later_offset_already_sent_supersedes_a_retried_earlier_one(store):
    r = reminders_for("L1", "withdrawal", date(2026, 11, 20))
    sync_plan(store, r, T0)
    t7 = paris(2026, 11, 13, 9)
    claim_due(store, "d1", t7, LEASE, 10)
    assert mark_retry(store, r[0].key, "d1", t7, "451 4.3.0 try later", paris(2026, 11, 19, 12))
    t1 = paris(2026, 11, 19, 9)
    assert [x.key for x in claim_due(store, "d1", t1, LEASE, 10)] == [r[1].key]
    assert mark_sent(store, r[1].key, "d1", t1)
    assert claim_due(store, "d1", paris(2026, 11, 19, 12), LEASE, 10) == []
    assert statuses(store)[r[0].key] == "superseded"


def test_an_expired_lease_passes_to_another_daemon_and_the_old_owner_cannot_mark(store):
    r = reminders_for("L1", "withdrawal", date(2026, 11, 20), (1,))
    sync_plan(store, r, T0)
    t = r[0].due_at
    (mine,) = claim_due(store, "old", t, LEASE, 10)
    assert claim_due(store, "new", t + LEASE, LEASE, 10) == []  # lease_until < now is required
    (theirs,) = claim_due(store, "new", t + LEASE + timedelta(seconds=1), LEASE, 10)
    assert theirs.key == mine.key and theirs.attempts == 2
    # the stalled daemon wakes up: it no longer owns the row
    assert not mark_sent(store, mine.key, "old", t + LEASE + timedelta(seconds=2))
    assert not mark_retry(store, mine.key, "old", t, "x", t + LEASE)
    assert not mark_failed(store, mine.key, "old", t, "x")
    assert get_delivery(store, mine.key).lease_owner == "new"
    assert mark_sent(store, theirs.key, "new", t + LEASE + timedelta(seconds=3))
    assert not mark_sent(store, theirs.key, "new", t + LEASE + timedelta(seconds=4))  # once only
    row = get_delivery(store, mine.key)
    assert (row.status, row.sent_at, row.attempts) == ("sent", t + LEASE + timedelta(seconds=3), 2)
    assert claim_due(store, "old", t + timedelta(days=1), LEASE, 10) == []


def test_a_claim_ahead_never_takes_again_what_the_daemon_holds(store):
    # The daemon claims its next batch while it still sends the last one: a row of that one whose
    # lease ran out meanwhile (a stall) must not come back in the new batch, or it would go twice.
    r = reminders_for("L1", "withdrawal", date(2026, 11, 19), (1,))
    other = reminders_for("L2", "withdrawal", date(2026, 11, 20), (1,))
    sync_plan(store, r + other, T0)
    first = claim_due(store, "d1", r[0].due_at, LEASE, 10)
    assert [c.key for c in first] == [r[0].key]
    later = other[0].due_at + timedelta(seconds=1)  # the lease of the row in hand has long run out
    ahead = claim_due(store, "d1", later, LEASE, 10, holding={c.key for c in first})
    assert [c.key for c in ahead] == [other[0].key]
    assert get_delivery(store, r[0].key).attempts == 1  # left as it was
    # without holding it back, the same claim takes it again (a restarted daemon would)
    again = claim_due(store, "d1", later + timedelta(seconds=1), LEASE, 10)
    assert [c.key for c in again] == [r[0].key] and again[0].attempts == 2


def test_claims_larger_than_one_write_statement_take_and_settle_every_row_once(store):
    # A claim writes CLAIM_KEYS keys per statement (the last one padded with NULL): more rows than
    # that, to take and to settle, all go, none twice, none left behind.
    target = date(2026, 11, 20)
    n = 2 * CLAIM_KEYS + 7
    take = [r for i in range(n) for r in reminders_for(f"L{i % 5 + 1}", f"go-{i}", target, (1,))]
    gone = [r for i in range(CLAIM_KEYS + 3) for r in reminders_for(f"L{i % 5 + 1}", f"late-{i}",
                                                                      date(2026, 11, 18), (1,))]
    sync_plan(store, take + gone, T0)
    now = take[0].due_at
    first = claim_due(store, "d1", now, LEASE, n - 5)
    rest = claim_due(store, "d1", now, LEASE, n, holding={c.key for c in first})
    assert len(first) == n - 5 and len(rest) == 5
    assert sorted(c.key for c in first + rest) == sorted(r.key for r in take)
    got = statuses(store)
    assert all(got[r.key] == "leased" for r in take) and all(got[r.key] == "expired" for r in gone)
    assert claim_due(store, "d1", now, LEASE, n, holding={c.key for c in first + rest}) == []


def test_a_claim_write_looks_its_keys_up_on_sqlite(tmp_path):
    # Given the kinds of claimable rows as an OR, SQLite's planner read every due row through the
    # status index for each write; the guard is written so that only the key index applies.
    s = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        sql = _claim_sql(s.engine)
        raw = s.engine.raw_connection()
        try:
            for stmt, params in ((sql.take, {"b_owner": "d1", "b_until": T0}), (sql.settle, {"b_status": "expired"})):
                args = stmt.args({"b_now": T0, **params, **sql.keys(["k1", "k2"])})
                plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + stmt.sql, args).fetchall()]
                assert plan == ["SEARCH reminder_deliveries USING INDEX sqlite_autoindex_reminder_deliveries_1 "
                                "(key=?)"], plan
        finally:
            raw.close()
    finally:
        s.close()


def test_a_single_mark_commits_on_its_own_and_its_connection_goes_back_as_lent(store):
    # One key: on PostgreSQL the UPDATE runs in autocommit mode (one round trip, not three); the
    # row is sent for everyone at once, and the pool gets its connection back in transaction mode.
    r = [x for n in (1, 2, 3) for x in reminders_for(f"L{n}", "withdrawal", date(2026, 11, 20), (1,))]
    sync_plan(store, r, T0)
    now = r[0].due_at
    claim_due(store, "d1", now, LEASE, 10)
    with Marks(store) as marks:
        assert marks.sent([r[1].key, r[2].key], "d1", now) == {r[1].key, r[2].key}  # two: one transaction
        assert marks.sent([r[0].key], "someone-else", now) == set()
        assert marks.sent([r[0].key], "d1", now) == {r[0].key}
        assert get_delivery(store, r[0].key).status == "sent"  # read on another connection
        (writer,) = marks._idle
        dbapi = writer._raw.dbapi_connection
    assert not getattr(dbapi, "autocommit", False)  # given back in the mode it was lent
    assert statuses(store) == {r[0].key: "sent", r[1].key: "sent", r[2].key: "sent"}


def test_an_unreclaimed_lease_can_still_be_marked_by_its_owner(store):
    r = reminders_for("L1", "withdrawal", date(2026, 11, 20), (1,))
    sync_plan(store, r, T0)
    (mine,) = claim_due(store, "d1", r[0].due_at, LEASE, 10)
    assert mark_sent(store, mine.key, "d1", r[0].due_at + 2 * LEASE)  # late, but nobody took it over


def test_retry_then_permanent_failure(store):
    r = reminders_for("L1", "withdrawal", date(2026, 11, 20), (1,))
    sync_plan(store, r, T0)
    t = r[0].due_at
    claim_due(store, "d1", t, LEASE, 10)
    assert mark_retry(store, r[0].key, "d1", t, "451 4.7.1 slow down", t + timedelta(minutes=5))
    row = get_delivery(store, r[0].key)
    assert (row.status, row.due_at, row.lease_owner) == ("pending", t + timedelta(minutes=5), None)
    assert "451 4.7.1 slow down" in row.last_error
    assert claim_due(store, "d1", t + timedelta(minutes=4), LEASE, 10) == []
    assert sync_plan(store, r, t).unchanged == 1  # re-planning keeps the backoff
    assert get_delivery(store, r[0].key).due_at == t + timedelta(minutes=5)
    (again,) = claim_due(store, "d1", t + timedelta(minutes=5), LEASE, 10)
    assert again.attempts == 2
    assert mark_failed(store, again.key, "d1", t, "550 5.1.1 <l1@example.org>: Recipient address rejected")
    row = get_delivery(store, r[0].key)
    assert row.status == "failed" and "550 5.1.1" in row.last_error
    assert claim_due(store, "d1", t + timedelta(hours=3), LEASE, 10) == []
    assert sync_plan(store, r, t).unchanged == 1 and get_delivery(store, r[0].key).status == "failed"


# Opt-out


def test_opt_out_cancels_and_stays_cancelled_until_opt_in(store):
    r1 = reminders_for("L1", "withdrawal", date(2026, 11, 20))
    r2 = reminders_for("L2", "withdrawal", date(2026, 11, 20))
    sync_plan(store, r1 + r2, T0)
    set_opt_out(store, "L1", True)
    assert {statuses(store)[r.key] for r in r1} == {"cancelled"}
    assert sync_plan(store, r1 + r2, T0) == SyncReport(unchanged=4)  # neither revived nor flapping
    later = reminders_for("L1", "registration", date(2026, 12, 1))
    assert sync_plan(store, later, T0) == SyncReport(created=2)
    assert {statuses(store)[r.key] for r in later} == {"cancelled"}
    claimed = claim_due(store, "d1", paris(2026, 11, 19, 10), LEASE, 10)
    assert {c.learner_id for c in claimed} == {"L2"}
    set_opt_out(store, "L1", False)
    assert sync_plan(store, r1 + later, paris(2026, 11, 19, 10)).revived == 4
    assert {c.key for c in claim_due(store, "d1", paris(2026, 11, 19, 10), LEASE, 10)} == {r1[1].key}
    with pytest.raises(StoreError, match="apprenant inconnu"):
        set_opt_out(store, "nobody", True)


def test_mail_preference_each_weekly_none(store):
    assert mail_preference(store, "L1") == "each"  # the default of every learner
    set_mail_preference(store, "L1", "weekly")
    assert mail_preference(store, "L1") == "weekly" and not opted_out(store, "L1")
    set_mail_preference(store, "L1", "none")
    assert mail_preference(store, "L1") == "none" and opted_out(store, "L1")
    set_mail_preference(store, "L1", "each")  # choosing again lifts the opt-out
    assert mail_preference(store, "L1") == "each" and not opted_out(store, "L1")
    assert mail_preference(store, "nobody") is None
    with pytest.raises(StoreError, match="apprenant inconnu"):
        set_mail_preference(store, "nobody", "weekly")
    with pytest.raises(ValueError, match="unknown mail preference"):
        set_mail_preference(store, "L1", "daily")


def test_claim_cancels_rows_of_a_learner_who_opted_out_meanwhile(store):
    r = reminders_for("L3", "withdrawal", date(2026, 11, 20), (1,))
    sync_plan(store, r, T0)
    with store.engine.begin() as conn:  # the flag alone, as another process would leave it
        conn.execute(update(learners_table).where(learners_table.c.id == "L3").values(opt_out=True))
    assert claim_due(store, "d1", r[0].due_at, LEASE, 10) == []
    assert statuses(store) == {r[0].key: "cancelled"}


# Several daemons


def test_concurrent_claims_never_hand_a_row_to_two_daemons(db_url):  # noqa: F811
    s = open_store(db_url, clock=lambda: T0)
    s.import_learners([person(n) for n in range(1, 6)])
    plan = [r for n in range(1, 6) for i in range(40)
            for r in reminders_for(f"L{n}", f"event-{i}", date(2026, 11, 20), (1,))]
    sync_plan(s, plan, T0)
    now = plan[0].due_at
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine = got.setdefault(name, [])
        try:
            while batch := claim_due(s, name, now, LEASE, 7):
                mine.extend(c.key for c in batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close()
    assert not errors
    keys = [k for ks in got.values() for k in ks]
    assert len(keys) == len(set(keys)) == len(plan)


def test_singleton_lets_one_process_run_a_job(db_url):  # noqa: F811
    a, b = open_store(db_url), open_store(db_url)
    try:
        with singleton(a, "planner") as first:
            assert first
            with singleton(b, "planner") as second, singleton(b, "housekeeping") as other:
                assert not second and other
        with singleton(b, "planner") as again:
            assert again
    finally:
        a.close()
        b.close()


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(db_url):  # noqa: F811
    a, b = open_store(db_url), open_store(db_url)
    try:
        lock = acquire_sqlite_daemon_lock(a)
        if a.engine.dialect.name == "sqlite":
            with pytest.raises(StoreError, match="un autre démon cnam-calendar utilise déjà cette base SQLite"):
                acquire_sqlite_daemon_lock(b)
            lock.release()
            acquire_sqlite_daemon_lock(b).release()
        else:  # several daemons share a PostgreSQL database
            acquire_sqlite_daemon_lock(b).release()
            lock.release()
    finally:
        a.close()
        b.close()


# With the real planner


def test_a_year_of_a_real_plan_round_trips(store, ipst):
    people = [replace(person(1), status="cpf", cpf_validated=date(2026, 11, 10), dossier_received=date(2026, 11, 2)),
              replace(person(2), status="apprentissage", training_start=date(2026, 10, 5))]
    store.import_learners(people)
    keys = {p.id: store.learner_key(p.id) for p in people}
    plan = plan_reminders(people, {ipst.id: schedule(ipst, 2026)}, {ipst.id: ouvres_for(ipst, 2025, 2028)}, keys)
    report = sync_plan(store, plan, T0, years=[2026])
    assert report.created + report.skipped == len(plan) and report.created > 10
    assert sync_plan(store, plan, T0, years=[2026]) == SyncReport(unchanged=report.created, skipped=report.skipped)
    # walk the year one day at a time, sending everything due
    now, sent = T0, []
    while now < datetime(2027, 9, 1, tzinfo=UTC):
        now += timedelta(days=1)
        for c in claim_due(store, "d1", now, LEASE, 1000):
            assert mark_sent(store, c.key, "d1", now)
            sent.append(c)
    counts = status_counts(store)
    assert counts["pending"] == counts["leased"] == 0 and counts["sent"] == len(sent)
    # daily checks at 00:00 UTC: each reminder is sent the day after it falls due, before its deadline ends
    assert all(c.due_at <= c.expires_at for c in sent)
