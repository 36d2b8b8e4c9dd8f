"""What an operator reads of the store: daemons' heartbeats, reminders being retried, failures and their replies.

A daemon writes its row of ``daemon_heartbeats`` at each dispatch (``beat``) and when it stops
(``stopped``); ``reminders status`` and ``reminders failures`` read the rest from the delivery table.
``ping`` is the cheapest question the store can answer: ``/healthz`` asks it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, text, update

from cnam_calendar.store.database import Store, daemon_heartbeats_table
from cnam_calendar.store.database import reminder_deliveries_table as deliveries

beats = daemon_heartbeats_table
FORGET_STOPPED = timedelta(days=7)  # a stopped daemon's row is dropped when another starts after this long
_STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z)) (.*)$", re.DOTALL)


@dataclass(frozen=True)
class Heartbeat:
    """One daemon as it last said it was."""

    owner: str
    started_at: datetime
    last_dispatch_at: datetime | None
    dispatch_every: float
    relay_down_since: datetime | None
    relay_error: str | None
    stopped_at: datetime | None


@dataclass(frozen=True)
class Failure:
    """One reminder in permanent failure (or being retried), with the server's words."""

    key: str
    learner_id: str
    status: str
    attempts: int
    at: datetime | None  # when the server answered so
    reply: str  # the server's words (or the connection's error)
    due_at: datetime  # for a retry: its next attempt


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def ping(store: Store) -> None:
    """Ask the store the cheapest question (SELECT 1); raise StoreError when it cannot answer."""
    with store._errors("vérification de la base"), store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def started(store: Store, owner: str, now: datetime, dispatch_every: float) -> None:
    """Record that daemon ``owner`` starts; forget daemons stopped long ago."""
    now = _utc(now)
    with store._write("enregistrement du démon") as conn:
        conn.execute(delete(beats).where(beats.c.stopped_at < now - FORGET_STOPPED))
        conn.execute(delete(beats).where(beats.c.owner == owner))
        conn.execute(beats.insert().values(owner=owner, started_at=now, dispatch_every=dispatch_every))


def beat(store: Store, owner: str, now: datetime, *, relay_down_since: datetime | None = None,
         relay_error: str | None = None, started_at: datetime | None = None, dispatch_every: float = 2.0) -> None:
    """Record a dispatch of daemon ``owner`` at ``now``, with the relay's state as it sees it.

    A daemon whose row is missing (the store was away when it started) gets it here.
    """
    values = {"last_dispatch_at": _utc(now), "stopped_at": None, "relay_error": relay_error and relay_error[:500],
              "relay_down_since": None if relay_down_since is None else _utc(relay_down_since)}
    with store._write("passage du démon") as conn:
        done = conn.execute(update(beats).where(beats.c.owner == owner).values(**values)).rowcount
        if not done and started_at is not None:
            conn.execute(beats.insert().values(owner=owner, started_at=_utc(started_at),
                                               dispatch_every=dispatch_every, **values))


def stopped(store: Store, owner: str, now: datetime) -> None:
    """Record that daemon ``owner`` stopped (cleanly): no more a reason to worry."""
    with store._write("arrêt du démon") as conn:
        conn.execute(update(beats).where(beats.c.owner == owner).values(stopped_at=_utc(now)))


def heartbeats(store: Store) -> list[Heartbeat]:
    """Return every daemon's row, the latest dispatch first."""
    with store._errors("lecture des démons"), store.engine.connect() as conn:
        rows = conn.execute(select(beats).order_by(beats.c.last_dispatch_at.desc(), beats.c.owner)).all()
    return [Heartbeat(r.owner, r.started_at, r.last_dispatch_at, r.dispatch_every, r.relay_down_since,
                      r.relay_error, r.stopped_at) for r in rows]


def split_error(last_error: str | None) -> tuple[datetime | None, str]:
    """Return (when, the server's words) of a ``last_error`` (written « ISO-time words » by the daemon)."""
    if not last_error:
        return None, ""
    found = _STAMPED.match(last_error)
    if not found:
        return None, last_error
    return datetime.fromisoformat(found.group(1).replace("Z", "+00:00")), found.group(2)


def _failure(row) -> Failure:  # noqa: ANN001 (a result row)
    at, reply = split_error(row.last_error)
    return Failure(row.key, row.learner_id, row.status, row.attempts, at, reply, row.due_at)


_FAILURE_COLUMNS = (deliveries.c.key, deliveries.c.learner_id, deliveries.c.status, deliveries.c.attempts,
                    deliveries.c.last_error, deliveries.c.due_at)


def failures(store: Store, since: datetime | None = None) -> list[Failure]:
    """Return the reminders in permanent failure (answered at or after ``since``), the latest first."""
    with store._errors("lecture des échecs"), store.engine.connect() as conn:
        rows = conn.execute(select(*_FAILURE_COLUMNS).where(deliveries.c.status == "failed")).all()
    found = [_failure(r) for r in rows]
    if since is not None:
        found = [f for f in found if f.at is not None and f.at >= since]
    return sorted(found, key=lambda f: (f.at or datetime.min.replace(tzinfo=timezone.utc), f.key), reverse=True)


def retrying(store: Store) -> list[Failure]:
    """Return the reminders waiting for another attempt (pending after a failed one), the next first."""
    with store._errors("lecture des rappels reportés"), store.engine.connect() as conn:
        rows = conn.execute(select(*_FAILURE_COLUMNS).where(
            deliveries.c.status == "pending", deliveries.c.attempts > 0, deliveries.c.last_error.is_not(None))
            .order_by(deliveries.c.due_at, deliveries.c.key)).all()
    return [_failure(r) for r in rows]


def by_reply(found: list[Failure]) -> list[tuple[str, int]]:
    """Group failures by the server's words, the most frequent first."""
    return sorted(Counter(f.reply for f in found).items(), key=lambda item: (-item[1], item[0]))


def count_pending_due(store: Store, now: datetime) -> int:
    """Return how many pending reminders are due at ``now`` (what the daemons have still to send)."""
    with store._errors("comptage des rappels"), store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(deliveries).where(
            deliveries.c.status == "pending", deliveries.c.due_at <= _utc(now))) or 0)
