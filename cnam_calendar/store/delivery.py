"""The reminder delivery table: write the plan, claim due rows with a lease, record what happened.

One row per reminder (``store.reminder_deliveries_table``), unique by key. Life of a row:

    pending ──claim──▶ leased ──mark_sent──▶ sent
       ▲                 │ └──mark_failed──▶ failed      (5xx, refused recipient: the server's words kept)
       └──mark_retry─────┘                               (4xx, connection errors: due again at retry_at)
    pending/leased ──claim──▶ expired     (the deadline day is over: never sent)
                            ▶ superseded  (a later offset of the same deadline is due too: only it goes)
                            ▶ cancelled   (the learner opted out)
    pending ──sync_plan──▶ cancelled      (the deadline moved, or the event no longer concerns the learner)

A lease that runs out (its daemon died or stalled) makes the row claimable again; only the holder of
the current lease can mark a row, so a daemon that lost its lease never records anything.
On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` (several daemons share the rows); on SQLite one
``BEGIN IMMEDIATE`` transaction (one writer at a time) and one daemon per file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.rules.reminders import Reminder, uid_year
from cnam_calendar.store.database import Store, UtcDateTime, learners_table
from cnam_calendar.store.database import reminder_deliveries_table as deliveries
from cnam_calendar.store.errors import disk_full, disk_full_error
from cnam_calendar.store.lookup import Lookup, Prepared, Run, Writer

STATUSES = ("pending", "leased", "sent", "failed", "expired", "superseded", "cancelled")
CHUNK = 500  # ids or keys per IN (…)
WRITE_CHUNK = 2000
_MAX_ERROR = 2000  # characters of a server reply kept

_COLUMNS = (deliveries.c.key, deliveries.c.learner_id, deliveries.c.event_uid, deliveries.c.status,
            deliveries.c.due_at, deliveries.c.expires_at, deliveries.c.offset_days, deliveries.c.attempts,
            deliveries.c.payload)


@dataclass(frozen=True)
class SyncReport:
    """What ``sync_plan`` did to the table."""

    created: int = 0
    updated: int = 0  # pending rows whose due time, expiry or payload changed
    revived: int = 0  # cancelled rows back in the plan (deadline moved back, learner opted in again)
    cancelled: int = 0  # pending rows no longer in the plan, or of learners who opted out
    unchanged: int = 0
    skipped: int = 0  # reminders already useless (their deadline day is over): not written

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class Claimed:
    """A row this daemon now holds: send it, then mark it (sent, retry or failed) with the same owner."""

    key: str
    learner_id: str
    event_uid: str
    offset_days: int | None
    due_at: datetime
    expires_at: datetime | None
    attempts: int  # this one included
    lease_until: datetime
    payload_json: str | None = None  # as stored: decoded when the message is made, by the lane

    @cached_property
    def payload(self) -> Mapping[str, Any]:
        """Return what the e-mail needs (decoded once, when first asked for)."""
        return _load(self.payload_json)


@dataclass(frozen=True)
class Delivery:
    """One row of the table, as ``reminders preview`` and the tests read it."""

    key: str
    learner_id: str
    event_uid: str
    status: str
    due_at: datetime
    expires_at: datetime | None
    offset_days: int | None
    attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    sent_at: datetime | None
    payload: Mapping[str, Any]


def _dump(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class _Dumper:
    """``_dump``, byte for byte, with each shared part serialised once (the planner's payloads share
    their learner, event and centre dicts: one object each, in every reminder of theirs).

    Each shared dict is swapped for a placeholder string, the payload serialised in one call, and
    the placeholders replaced by the parts. The cache is keyed by identity, so it lives only as long
    as the payloads it has seen (one plan).
    """

    def __init__(self) -> None:
        self._mark = f"\u2063{secrets.token_hex(8)}:"  # cannot occur in a payload's text by chance
        self._parts: dict[int, tuple[object, str, str]] = {}

    def __call__(self, payload: Mapping[str, Any]) -> str:
        swapped: dict[str, Any] = {}
        parts = []
        for name, value in payload.items():
            if isinstance(value, dict):
                held = self._parts.get(id(value))
                if held is None or held[0] is not value:
                    held = self._parts[id(value)] = (value, f"{self._mark}{len(self._parts)}", _dump(value))
                swapped[name] = held[1]
                parts.append(held)
            else:
                swapped[name] = value
        text = _dump(swapped)
        for _, mark, part in parts:
            text = text.replace(f'"{mark}"', part, 1)
        return text


def _insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ROWS (same keys each) into the delivery table: COPY on PostgreSQL, executemany otherwise."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":  # a year of a whole network is millions of rows: COPY is the way
        columns = list(rows[0])
        raw = conn.connection.dbapi_connection
        assert raw is not None
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY {deliveries.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    for part in _chunks(rows, WRITE_CHUNK):
        conn.execute(deliveries.insert(), list(part))


def _load(value: str | None) -> dict[str, Any]:
    return json.loads(value) if value else {}


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    return moment.astimezone(timezone.utc)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _tx(store: Store, action: str) -> AbstractContextManager[Connection]:
    """One write transaction; on SQLite the write lock is taken at BEGIN (no upgrade deadlock)."""
    return store._write(action)


def _is_pg(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


def is_pg(store: Store) -> bool:
    """Tell whether the store is PostgreSQL (several daemons may share it)."""
    return _is_pg(store)


# Planning


def sync_plan(store: Store, reminders: Iterable[Reminder], now: datetime, window_start: datetime | None = None,
              window_end: datetime | None = None, *, years: Iterable[int] | None = None,
              learners: Iterable[str] | None = None) -> SyncReport:
    """Write the plan into the table, idempotently; rows already sent (or in flight) are never touched.

    - a new key is inserted ``pending`` (``cancelled`` when its learner opted out); a reminder whose
      deadline day is already over is not written;
    - a pending row whose due time (while never attempted), expiry or payload changed is updated;
      a cancelled row back in the plan becomes pending again;
    - for every (learner, event) of the plan, pending rows whose key is no longer planned (the
      deadline moved, the policy changed) are cancelled, only those due in the window when one is
      given: a plan restricted to a window says nothing of the rows outside it;
    - when ``window_start`` or ``years`` is given the plan is complete for that scope: every other
      pending row due in [window_start, window_end) of those academic years is cancelled too (an
      event that no longer concerns a learner: a UE dropped, a date removed); with ``learners``,
      the plan is complete for those learners only, and only their rows are looked at (the
      daemon plans its learners a slice at a time).
    """
    now = _utc(now)
    low = None if window_start is None else _utc(window_start)
    high = None if window_end is None else _utc(window_end)
    plan: dict[str, Reminder] = {}
    for r in reminders:
        plan.setdefault(r.key, r)
    by_learner: dict[str, list[Reminder]] = defaultdict(list)
    for r in plan.values():
        by_learner[r.learner_id].append(r)
    created = updated = revived = cancelled = unchanged = skipped = 0
    dump = _Dumper()
    with _tx(store, "écriture du plan des rappels") as conn:
        if conn.dialect.name == "postgresql":
            # Every read below looks rows up by learner id. While the daemon fills a year for a whole
            # network, the table's statistics lag (a few learners, many rows each): PostgreSQL then
            # expects a lookup of 500 learners to read most of the table and scans all of it, slice
            # after slice, with JIT compiling for it. Here an index lookup is always the right plan.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL jit = off")
        learner_ids = sorted(by_learner)
        opted: set[str] = set()
        for chunk in _chunks(learner_ids, CHUNK):
            opted.update(conn.scalars(select(learners_table.c.id).where(
                learners_table.c.id.in_(chunk), learners_table.c.opt_out.is_(True))))
        for chunk in _chunks(learner_ids, CHUNK):
            existing = {row.key: row for row in conn.execute(
                select(*_COLUMNS).where(deliveries.c.learner_id.in_(chunk)))}
            inserts: list[dict[str, Any]] = []
            changes: list[dict[str, Any]] = []
            to_cancel: list[str] = []
            pairs: set[tuple[str, str]] = set()
            for learner_id in chunk:
                for r in by_learner[learner_id]:
                    pairs.add((r.learner_id, r.event_uid))
                    payload = dump(r.payload)
                    row = existing.get(r.key)
                    if row is None:
                        if r.expires_at <= now:
                            skipped += 1
                            continue
                        inserts.append({
                            "key": r.key, "learner_id": r.learner_id, "event_uid": r.event_uid, "due_at": r.due_at,
                            "expires_at": r.expires_at, "offset_days": r.offset_days, "payload": payload,
                            "status": "cancelled" if learner_id in opted else "pending", "attempts": 0})
                        continue
                    if row.status == "pending" and learner_id in opted:
                        to_cancel.append(r.key)
                        continue
                    if row.status == "cancelled" and learner_id not in opted and r.expires_at > now:
                        changes.append({"b_key": r.key, "status": "pending",
                                        "due_at": r.due_at if row.attempts == 0 else row.due_at,
                                        "expires_at": r.expires_at, "offset_days": r.offset_days,
                                        "payload": payload})
                        revived += 1
                        continue
                    if row.status != "pending":
                        unchanged += 1  # in flight, sent, failed, expired…: history, never rewritten
                        continue
                    due = r.due_at if row.attempts == 0 else row.due_at  # keep a retry's backoff
                    if (row.due_at, row.expires_at, row.offset_days, row.payload) == (
                            due, r.expires_at, r.offset_days, payload):
                        unchanged += 1
                        continue
                    changes.append({"b_key": r.key, "status": "pending", "due_at": due, "expires_at": r.expires_at,
                                    "offset_days": r.offset_days, "payload": payload})
                    updated += 1
            for key, row in existing.items():
                if (row.status == "pending" and key not in plan and (row.learner_id, row.event_uid) in pairs
                        and (low is None or row.due_at >= low) and (high is None or row.due_at < high)):
                    to_cancel.append(key)
            _insert(conn, inserts)
            created += len(inserts)
            if changes:
                stmt = update(deliveries).where(deliveries.c.key == bindparam("b_key"))
                for part in _chunks(changes, WRITE_CHUNK):
                    conn.execute(stmt, list(part))
            cancelled += _set_status(conn, to_cancel, "cancelled", only=("pending",))
        if window_start is not None or years is not None:
            wanted = None if years is None else set(years)
            query = select(deliveries.c.key, deliveries.c.event_uid)
            if learners is None:
                scopes = [query.where(deliveries.c.status == "pending")]
            else:  # by learner alone, so the learner index is the one used; the rest is filtered below
                query = query.add_columns(deliveries.c.status, deliveries.c.due_at)
                scopes = [query.where(deliveries.c.learner_id.in_(part))
                          for part in _chunks(sorted(set(learners)), CHUNK)]
            if window_start is not None:
                scopes = [scope.where(deliveries.c.due_at >= low) for scope in scopes]
            if window_end is not None:
                scopes = [scope.where(deliveries.c.due_at < high) for scope in scopes]
            stale = [row.key for scope in scopes for row in conn.execute(scope)
                     if row.key not in plan and (wanted is None or uid_year(row.event_uid) in wanted)
                     and (learners is None or row.status == "pending")]
            cancelled += _set_status(conn, stale, "cancelled", only=("pending",))
    return SyncReport(created, updated, revived, cancelled, unchanged, skipped)


def _set_status(conn: Connection, keys: Sequence[str], status: str, *, only: Sequence[str]) -> int:
    done = 0
    for part in _chunks(list(keys), CHUNK):
        result = conn.execute(update(deliveries).where(deliveries.c.key.in_(part), deliveries.c.status.in_(only))
                              .values(status=status, lease_owner=None, lease_until=None))
        done += result.rowcount or 0
    return done


# Claiming


CLAIM_KEYS = 100  # keys per claim write: an IN list of fixed length (padded with NULL), compiled once


class _ClaimSql:
    """The statements of a claim, compiled once per engine (`lookup`): a claim runs every batch."""

    def __init__(self, engine: Engine) -> None:
        now = bindparam("b_now", type_=UtcDateTime())
        # claimable: pending and due, or leased by a lease that ran out (status, then the time condition)
        kinds = ((deliveries.c.status == "pending", deliveries.c.due_at <= now),
                 (deliveries.c.status == "leased", deliveries.c.lease_until < now))
        # the writes' guard, as a CASE that no index can serve: given an OR of the kinds, SQLite's
        # planner reads every due row through the status index instead of looking up the listed keys
        still_claimable = case(*kinds, else_=false())
        # the oldest due of each kind, each read in the order of the (status, due_at) index: one query
        # with OR would gather every due row and sort them all (a burst of 10,000, at every claim)
        oldest = _candidates(now).order_by(deliveries.c.due_at, deliveries.c.id).limit(
            bindparam("b_limit", type_=Integer()))
        queries = [oldest.where(and_(*kind)) for kind in kinds]
        if engine.dialect.name == "postgresql":
            queries = [query.with_for_update(skip_locked=True, of=deliveries) for query in queries]
        self.oldest = [Lookup(engine, query) for query in queries]
        self.key_names = [f"b_k{i}" for i in range(CLAIM_KEYS)]
        listed = deliveries.c.key.in_([bindparam(name, type_=String()) for name in self.key_names])
        # one statement a list: SQLite runs it whole without holding the interpreter (a lane goes on)
        self.settle = Prepared(engine, update(deliveries).where(listed, still_claimable).values(
            status=bindparam("b_status", type_=String()), lease_owner=None, lease_until=None))
        self.take = Lookup(engine, update(deliveries).where(listed, still_claimable).values(
            status="leased", lease_owner=bindparam("b_owner", type_=String()),
            lease_until=bindparam("b_until", type_=UtcDateTime()), attempts=deliveries.c.attempts + 1,
        ).returning(deliveries.c.key))

    def keys(self, part: Sequence[str]) -> dict[str, str | None]:
        """Return the key parameters for PART (at most CLAIM_KEYS keys; the rest NULL, which matches nothing)."""
        return dict(zip(self.key_names, [*part, *[None] * (CLAIM_KEYS - len(part))], strict=True))


@lru_cache(maxsize=8)
def _claim_sql(engine: Engine) -> _ClaimSql:
    return _ClaimSql(engine)


def claim_due(store: Store, owner: str, now: datetime, lease: timedelta, limit: int, *,
              holding: Container[str] = (),
              settled: Callable[[dict[str, list[str]]], None] | None = None) -> list[Claimed]:
    """Take up to ``limit`` due rows for ``owner`` until ``now + lease``; settle the useless ones on the way.

    Claimable: ``pending`` rows due at or before ``now``, and ``leased`` rows whose lease ran out,
    but those in ``holding`` (the caller has them in hand already: claiming ahead, it must not get
    them twice).
    Of those, rows of opted-out learners become ``cancelled``, rows whose deadline day is over become
    ``expired``, and when a later offset of the same (learner, event) is due too (after downtime) the
    earlier ones become ``superseded``: only the latest reminder is sent. The oldest due go first.

    PostgreSQL reads and writes in one transaction, the rows locked ``FOR UPDATE SKIP LOCKED`` (other
    daemons take others). SQLite reads first, then writes in a short transaction of its own, each
    update guarded by the same condition (a row that changed in between is left alone): the write
    lock is held for the writes only, so the daemon's lanes go on recording what they send.
    The statements are compiled once and run on DBAPI connections (`lookup`): the daemon claims
    while its lanes send, and SQLAlchemy's per-statement and per-row work would hold them up.
    ``settled``, when given, is told the keys settled by new status once they are committed.
    """
    now = _utc(now)
    if limit <= 0:
        return []
    sql = _claim_sql(store.engine)
    until = now + lease
    claimed: list[Claimed] = []
    done: dict[str, list[str]] = defaultdict(list)

    def choose(read: Callable[..., list[Any]], want: int) -> tuple[dict[str, list[str]], list[Any]] | None:
        n = max(want, 100)
        rows = sorted((r for query in sql.oldest for r in read(query, b_now=now, b_limit=n)),
                      key=lambda r: (r.due_at, r.key))[:n]
        return _choose(rows, now, want, holding) if rows else None

    def write(run: Run, settle: dict[str, list[str]], take: list[Any]) -> None:
        for status, keys in settle.items():
            for part in _chunks(keys, CLAIM_KEYS):
                run(sql.settle, b_now=now, b_status=status, **sql.keys(part))
            done[status].extend(keys)
        taken: set[str] = set()
        for part in _chunks([r.key for r in take], CLAIM_KEYS):
            taken.update(row.key for row in run.rows(sql.take, b_now=now, b_owner=owner, b_until=until,
                                                     **sql.keys(part)))
        claimed.extend(Claimed(r.key, r.learner_id, r.event_uid, r.offset_days, r.due_at, r.expires_at,
                               r.attempts + 1, until, r.payload) for r in take if r.key in taken)

    with store._errors("réservation des rappels"), Writer(store.engine) as writer:
        if _is_pg(store):
            with writer.transaction() as run:
                while len(claimed) < limit and (chosen := choose(run.rows, limit - len(claimed))) is not None:
                    write(run, *chosen)
                    if _changes_nothing(chosen):
                        break  # do not spin
        else:
            while len(claimed) < limit:
                chosen = choose(lambda query, **params: query.all(**params), limit - len(claimed))  # no write lock
                if chosen is None or _changes_nothing(chosen):
                    break
                with store.write_turn(), writer.transaction() as run:
                    write(run, *chosen)
    if settled is not None and any(done.values()):
        settled(dict(done))
    return claimed


def _changes_nothing(chosen: tuple[dict[str, list[str]], list[Any]]) -> bool:
    """Tell whether a claim round found nothing to take and nothing to settle."""
    settle, take = chosen
    return not take and not any(settle.values())


def _candidates(now: ColumnElement[datetime]) -> Select[Any]:
    """Select rows with what deciding their fate needs: is their learner opted out, is a later offset due too.

    A row is superseded by a sibling (same learner and event) of a later offset (fewer days before
    the date) that was sent or is being sent, or is pending and due (or was tried already).
    """
    sibling = deliveries.alias("sibling")
    later_due = exists().where(
        sibling.c.learner_id == deliveries.c.learner_id, sibling.c.event_uid == deliveries.c.event_uid,
        sibling.c.offset_days < deliveries.c.offset_days,
        or_(sibling.c.status == "sent", sibling.c.status == "leased",
            and_(sibling.c.status == "pending", or_(sibling.c.due_at <= now, sibling.c.attempts > 0))))
    opted = (select(learners_table.c.opt_out).where(learners_table.c.id == deliveries.c.learner_id)
             .scalar_subquery())
    return select(*_COLUMNS, later_due.label("superseded"), opted.label("opted_out"))


def _choose(rows: Sequence[Any], now: datetime, want: int,
            holding: Container[str]) -> tuple[dict[str, list[str]], list[Any]]:
    """Sort claimable ROWS into those to settle (by new status) and up to WANT to take, oldest due first."""
    settle: dict[str, list[str]] = {"cancelled": [], "expired": [], "superseded": []}
    take: list[Any] = []
    for r in rows:
        if r.key in holding:
            continue
        if r.opted_out:
            settle["cancelled"].append(r.key)
        elif r.expires_at is not None and r.expires_at <= now:
            settle["expired"].append(r.key)
        elif r.superseded:
            settle["superseded"].append(r.key)
        elif len(take) < want:
            take.append(r)
    return settle, take


# Recording the outcome (owner-checked: a daemon that lost its lease records nothing)


def _owned(key: str, owner: str) -> Any:
    return and_(deliveries.c.key == key, deliveries.c.lease_owner == owner, deliveries.c.status == "leased")


def mark_sent(store: Store, key: str, owner: str, now: datetime) -> bool:
    """Record that the server accepted the message; False when ``owner`` no longer holds the row."""
    return key in mark_sent_many(store, [key], owner, now)


_MARK_SENT = (update(deliveries)
              .where(deliveries.c.key == bindparam("b_key"), deliveries.c.lease_owner == bindparam("b_owner"),
                     deliveries.c.status == "leased")
              .values(status="sent", sent_at=bindparam("b_now"), lease_until=None, last_error=None))


def mark_sent_many(store: Store, keys: Sequence[str], owner: str, now: datetime) -> set[str]:
    """Record in one transaction that the server accepted these messages; return the keys ``owner`` still held."""
    with Marks(store) as marks:
        return marks.sent(keys, owner, now)


@lru_cache(maxsize=8)
def _mark_sent(engine: Engine) -> Prepared:
    return Prepared(engine, _MARK_SENT)


class Marks:
    """Where a dispatch records accepted messages: connections kept for it, one short transaction a mark.

    Each lane records its accepted message before it ends its next one (``Mailer.send_many``): what
    a crash can leave accepted but unrecorded stays within the lanes. This write follows every
    message, hence a prepared statement on connections held for the dispatch (CONNECTIONS at most,
    however many lanes; one on SQLite). One UPDATE by key each (an IN list would let SQLite pick
    the status index and scan every leased row).
    """

    def __init__(self, store: Store, connections: int = 4) -> None:
        self.store = store
        self._update = _mark_sent(store.engine)
        # SQLite admits one writer at a time (the store's write turn): one connection is enough there
        self._free = threading.BoundedSemaphore(1 if store.engine.dialect.name == "sqlite" else connections)
        self._idle: list[Writer] = []
        self._lock = threading.Lock()

    def sent(self, keys: Sequence[str], owner: str, now: datetime) -> set[str]:
        """Mark ``keys`` sent at ``now`` in one transaction; return those ``owner`` still held (the others stay)."""
        done: set[str] = set()
        if not keys:
            return done
        now = _utc(now)
        with self._free:  # as many marks at once as connections kept, whatever the lanes
            with self._lock:
                writer = self._idle.pop() if self._idle else Writer(self.store.engine)
            try:
                with self.store._errors("enregistrement des envois"), self.store.write_turn(), \
                        writer.transaction(single=len(keys) == 1) as run:
                    for key in keys:
                        if run(self._update, b_key=key, b_owner=owner, b_now=now) == 1:
                            done.add(key)
            finally:
                with self._lock:
                    self._idle.append(writer)
        return done

    def close(self) -> None:
        """Give the connections back (once the lanes are done)."""
        with self._lock:
            writers, self._idle = self._idle, []
        for writer in writers:
            writer.close()

    def __enter__(self) -> Marks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mark_retry(store: Store, key: str, owner: str, now: datetime, error: str, retry_at: datetime) -> bool:
    """Put the row back to pending, due at ``retry_at``, keeping the error; False when not the owner."""
    with _tx(store, "report d'un envoi") as conn:
        result = conn.execute(update(deliveries).where(_owned(key, owner)).values(
            status="pending", due_at=_utc(retry_at), lease_owner=None, lease_until=None,
            last_error=_error_text(error, now)))
        return (result.rowcount or 0) == 1


def mark_failed(store: Store, key: str, owner: str, now: datetime, error: str) -> bool:
    """Record a permanent failure with the server's words; False when not the owner."""
    with _tx(store, "enregistrement d'un échec") as conn:
        result = conn.execute(update(deliveries).where(_owned(key, owner)).values(
            status="failed", lease_until=None, last_error=_error_text(error, now)))
        return (result.rowcount or 0) == 1


def release(store: Store, key: str, owner: str) -> bool:
    """Give a claimed row back untouched (a daemon stopping before sending it); False when not the owner."""
    with _tx(store, "libération d'un rappel") as conn:
        result = conn.execute(update(deliveries).where(_owned(key, owner)).values(
            status="pending", lease_owner=None, lease_until=None, attempts=deliveries.c.attempts - 1))
        return (result.rowcount or 0) == 1


def release_mine(store: Store, owner: str) -> int:
    """Give back, untouched, every row ``owner`` holds: a daemon's leftovers once an outage is over."""
    with _tx(store, "libération des rappels après une panne") as conn:
        result = conn.execute(update(deliveries).where(
            deliveries.c.lease_owner == owner, deliveries.c.status == "leased").values(
            status="pending", lease_owner=None, lease_until=None, attempts=deliveries.c.attempts - 1))
        return result.rowcount or 0


def release_abandoned(store: Store) -> int:
    """Put every leased row back to pending: only for the sole daemon of a SQLite file, at start."""
    with _tx(store, "reprise des rappels abandonnés") as conn:
        result = conn.execute(update(deliveries).where(deliveries.c.status == "leased").values(
            status="pending", lease_owner=None, lease_until=None))
        return result.rowcount or 0


def _error_text(error: str, now: datetime) -> str:
    return f"{_utc(now).isoformat(timespec='seconds')} {error}"[:_MAX_ERROR]


# Reading


def status_counts(store: Store) -> dict[str, int]:
    """Return {status: rows} for every status, zeros included."""
    with store._errors("comptage des rappels"), store.engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in rows:
        counts[status] = int(n)
    return counts


_ROW_COLUMNS = (*_COLUMNS, deliveries.c.lease_owner, deliveries.c.lease_until, deliveries.c.last_error,
                deliveries.c.sent_at)


def _delivery(row: Any) -> Delivery:
    return Delivery(row.key, row.learner_id, row.event_uid, row.status, row.due_at, row.expires_at, row.offset_days,
                    row.attempts, row.lease_owner, row.lease_until, row.last_error, row.sent_at, _load(row.payload))


def get_delivery(store: Store, key: str) -> Delivery | None:
    """Return the row with this key, or None."""
    with store._errors("lecture d'un rappel"), store.engine.connect() as conn:
        row = conn.execute(select(*_ROW_COLUMNS).where(deliveries.c.key == key)).first()
    return _delivery(row) if row else None


def list_deliveries(store: Store, *, learner_id: str | None = None, status: str | None = None) -> list[Delivery]:
    """Return rows (of one learner, of one status), by due time then key."""
    stmt = select(*_ROW_COLUMNS).order_by(deliveries.c.due_at, deliveries.c.key)
    if learner_id is not None:
        stmt = stmt.where(deliveries.c.learner_id == learner_id)
    if status is not None:
        stmt = stmt.where(deliveries.c.status == status)
    with store._errors("lecture des rappels"), store.engine.connect() as conn:
        return [_delivery(row) for row in conn.execute(stmt)]


# Opt-out


def set_opt_out(store: Store, learner_id: str, value: bool = True) -> None:
    """Stop (or resume) a learner's reminder e-mails; opting out cancels their pending rows at once."""
    with _tx(store, "désinscription des rappels") as conn:
        result = conn.execute(update(learners_table).where(learners_table.c.id == learner_id).values(opt_out=value))
        if (result.rowcount or 0) != 1:
            raise StoreError(f"apprenant inconnu « {learner_id} »", where=store.url,
                             hint="vérifiez l'identifiant : cnam-calendar learners show ID")
        if value:
            conn.execute(update(deliveries).where(deliveries.c.learner_id == learner_id,
                                                  deliveries.c.status == "pending").values(status="cancelled"))


MAIL_PREFERENCES = ("each", "weekly", "none")


def set_mail_preference(store: Store, learner_id: str, preference: str) -> None:
    """Record how the learner wants reminders: ``each`` one when due, a ``weekly`` digest, or ``none``.

    ``none`` is the opt-out (pending rows cancelled); ``each`` and ``weekly`` lift it.
    """
    if preference not in MAIL_PREFERENCES:
        raise ValueError(f"unknown mail preference {preference!r}: expected one of {', '.join(MAIL_PREFERENCES)}")
    if preference == "none":
        set_opt_out(store, learner_id, True)
        return
    with _tx(store, "préférence d'envoi") as conn:
        result = conn.execute(update(learners_table).where(learners_table.c.id == learner_id)
                              .values(opt_out=False, mail_preference=preference))
        if (result.rowcount or 0) != 1:
            raise StoreError(f"apprenant inconnu « {learner_id} »", where=store.url,
                             hint="vérifiez l'identifiant : cnam-calendar learners show ID")


def mail_preference(store: Store, learner_id: str) -> str | None:
    """Return ``each``, ``weekly`` or ``none`` (opted out) for the learner, None when unknown."""
    with store._errors("lecture d'un apprenant"), store.engine.connect() as conn:
        row = conn.execute(select(learners_table.c.opt_out, learners_table.c.mail_preference)
                           .where(learners_table.c.id == learner_id)).first()
    if row is None:
        return None
    return "none" if row.opt_out else row.mail_preference


def opted_out(store: Store, learner_id: str) -> bool:
    """Tell whether the learner asked for no reminder e-mails."""
    with store._errors("lecture d'un apprenant"), store.engine.connect() as conn:
        return bool(conn.scalar(select(learners_table.c.opt_out).where(learners_table.c.id == learner_id)))


# One process at a time


def _lock_path(store: Store, suffix: str) -> Path | None:
    database = store.engine.url.database
    if store.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return Path(database).expanduser().resolve().with_name(Path(database).name + suffix)


def _try_flock(path: Path) -> TextIO | None:
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lifetime of the lock
    except OSError as exc:
        if disk_full(exc):
            raise disk_full_error("verrou", path) from None
        raise StoreError(f"verrou impossible à créer ({exc.strerror})", where=str(path),
                         hint="vérifiez les droits sur le dossier de la base") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _lock_keys(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big", signed=True)


@contextmanager
def singleton(store: Store, name: str) -> Iterator[bool]:
    """Yield True when this process may run job ``name`` (planner, housekeeping) now, False when another does.

    PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection held for the block,
    keyed by the schema and ``name``; it goes with the session if the process dies. SQLite: an
    exclusive ``flock`` on a file beside the database (an in-memory database is never shared: True).
    """
    if _is_pg(store):
        with store._errors(f"verrou « {name} »"):
            conn = store.engine.connect()
        try:
            with store._errors(f"verrou « {name} »"):
                schema_key = _lock_keys("cnam-calendar:" + str(conn.scalar(text("SELECT current_schema()"))))
                keys = {"a": schema_key, "b": _lock_keys(name)}
                got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:a, :b)"), keys))
                conn.commit()
            try:
                yield got
            finally:
                if got:
                    with store._errors(f"verrou « {name} »"):  # a session gone took its lock with it
                        conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
                        conn.commit()
        finally:
            with suppress(SQLAlchemyError):
                conn.close()
        return
    path = _lock_path(store, f".{name}.lock")
    if path is None:
        yield True
        return
    handle = _try_flock(path)
    try:
        yield handle is not None
    finally:
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


class DaemonLock:
    """The lock a daemon holds on its SQLite file; ``release()`` (or process exit) frees it."""

    def __init__(self, handle: TextIO | None) -> None:
        self._handle = handle

    def release(self) -> None:
        """Let another daemon start on this database."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> DaemonLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_sqlite_daemon_lock(store: Store) -> DaemonLock:
    """Make this process the only daemon of its SQLite file, or raise StoreError saying another one runs.

    PostgreSQL needs no such lock (daemons share the rows): a no-op lock is returned.
    """
    path = _lock_path(store, ".daemon.lock")
    if path is None:
        return DaemonLock(None)
    handle = _try_flock(path)
    if handle is None:
        raise StoreError("un autre démon cnam-calendar utilise déjà cette base SQLite", where=store.url,
                         hint="arrêtez-le d'abord ; pour plusieurs démons à la fois, utilisez PostgreSQL "
                              "(--db postgresql+psycopg://…)")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as exc:  # a full disk (ENOSPC) or a read-only one: not a traceback, a reason
        with suppress(OSError):
            handle.close()  # flushes what could not be written once more: it fails again, the file closes
        if disk_full(exc):
            raise disk_full_error("démarrage du démon (écriture de son verrou)", path) from None
        raise StoreError(f"démarrage du démon impossible : verrou illisible ou non inscriptible ({exc.strerror})",
                         where=str(path), hint="vérifiez les droits sur le dossier de la base") from None
    return DaemonLock(handle)


__all__ = [
    "STATUSES", "Claimed", "DaemonLock", "Delivery", "Marks", "SyncReport", "acquire_sqlite_daemon_lock", "claim_due",
    "get_delivery", "list_deliveries", "mark_failed", "mark_retry", "mark_sent", "mark_sent_many", "opted_out",
    "release", "release_mine",
    "set_opt_out", "set_mail_preference", "mail_preference", "MAIL_PREFERENCES", "singleton", "status_counts", "sync_plan",
]
