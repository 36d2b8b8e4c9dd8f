"""Change notices in the delivery table: one pending row per learner whose dated events moved.

``scan`` compares, for each learner, the snapshot of their dated events now (``rules.notices``)
with the one they were last told of (``notice_baselines``). A difference upserts ONE row keyed
``notice/<learner>/<baseline epoch>``, due at first sight + the centre's hold-back
(``[reminders] notice_holdback_minutes``, default 30): edits in the meantime update that row's
payload (same due time), an edit undone cancels it. The daemon scans again right before sending a
notice that fell due, so what goes is the state at sending time. Once the row is sent (or failed
for good) the next scan moves the baseline to what it said. A learner seen for the first time is
only baselined (no notice of « everything added »).

Weekly-digest learners (``mail_preference == "weekly"``): their notice is due the next Monday at
the policy's time, unless a change concerns the next 7 days: then after the hold-back, as for
everyone. Rows of learners who opted out are cancelled by the claim, as reminders are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, or_, select, update

from cnam_calendar.rules.model import Centre
from cnam_calendar.rules.notices import NOTICE_UID, CentreEvents, changes, digest, snapshot, soonest
from cnam_calendar.rules.reminders import centre_payload, learner_payload, local_instant
from cnam_calendar.store.database import Store, learners_table, notice_baselines_table
from cnam_calendar.store.database import reminder_deliveries_table as deliveries

URGENT_DAYS = 7  # a digest learner still hears at once of a change within this many days
CHUNK = 500
NOTICE_VERSION = 1


@dataclass(frozen=True)
class NoticeReport:
    """What a scan did."""

    baselined: int = 0  # learners seen for the first time: their snapshot recorded, no notice
    queued: int = 0  # notice rows created or revived
    updated: int = 0  # pending notices whose content changed (due time kept: the first sight)
    cancelled: int = 0  # pending notices whose change was undone
    advanced: int = 0  # baselines moved to what a sent notice said (or to dates all past)
    unchanged: int = 0

    def __add__(self, other: NoticeReport) -> NoticeReport:
        return NoticeReport(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def notice_key(learner_id: str, epoch: datetime) -> str:
    """Return the key of the notice computed against the baseline recorded at ``epoch``: one per baseline."""
    return f"notice/{learner_id}/{epoch.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}"


def next_monday(moment: datetime, at: time, zone: ZoneInfo) -> datetime:
    """Return the first Monday at local time ``at`` at or after ``moment`` (UTC)."""
    day = moment.astimezone(zone).date()
    for ahead in range(8):
        candidate = day + timedelta(days=ahead)
        if candidate.weekday() == 0:
            instant = local_instant(candidate, at, zone).astimezone(timezone.utc)
            if instant >= moment:
                return instant
    return local_instant(day + timedelta(days=7 - day.weekday() + 7), at, zone).astimezone(timezone.utc)


def digest_only(centre: Centre, preference: str, found: Sequence[Mapping[str, Any]], now: datetime) -> bool:
    """Tell whether changes ``found`` wait for the Monday digest: a weekly learner, nothing within 7 days."""
    if preference != "weekly":
        return False
    today = local_date(now, centre.timezone)
    day = soonest(found, today)
    return day is None or day > today + timedelta(days=URGENT_DAYS)


def due_time(centre: Centre, preference: str, found: Sequence[Mapping[str, Any]], now: datetime) -> datetime:
    """Return when a notice of ``found`` first seen ``now`` goes: after the hold-back, or the Monday digest."""
    policy = centre.reminders
    first = now + timedelta(minutes=policy.notice_holdback_minutes)
    if not digest_only(centre, preference, found, now):
        return first
    return next_monday(first, policy.time, ZoneInfo(centre.timezone))


def _payload(centre: Centre, learner: Any, key: str, lkey: str, found: list[dict[str, Any]],
             after: Mapping[str, Any], events: Mapping[str, Any], due: datetime) -> dict[str, Any]:
    for change in found:
        d = events.get(change["uid"])
        change["steps"] = [s.data() for s in d.steps] if d is not None else []
    zone = ZoneInfo(centre.timezone)
    return {"v": NOTICE_VERSION, "type": "notice", "key": key, "learner": learner_payload(learner, lkey),
            "centre": centre_payload(centre), "changes": found, "after": dict(after),
            "due_local": due.astimezone(zone).isoformat()}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def local_date(moment: datetime, tz: str) -> date:
    """Return the calendar day of ``moment`` in the centre's zone."""
    return moment.astimezone(ZoneInfo(tz)).date()


def scan(store: Store, shared: Mapping[str, CentreEvents], now: datetime,
         learner_ids: Iterable[str] | None = None) -> NoticeReport:
    """Compare every learner's dated events (``shared``: per centre id, its centre-year) with their baseline.

    Queues, updates or cancels their notice rows; learners of a centre not in ``shared`` are left alone.
    """
    now = now.astimezone(timezone.utc)
    by_centre = {cid: ce.sched.centre for cid, ce in shared.items()}
    wanted = None if learner_ids is None else set(learner_ids)
    learners = [x for x in store.learners() if x.centre in shared and (wanted is None or x.id in wanted)]
    report = NoticeReport()
    for i in range(0, len(learners), CHUNK):
        report += _scan_chunk(store, by_centre, shared, learners[i:i + CHUNK], now)
    return report


def _scan_chunk(store: Store, by_centre: Mapping[str, Centre], shared: Mapping[str, CentreEvents],
                part: Sequence[Any], now: datetime) -> NoticeReport:
    ids = [x.id for x in part]
    keys = {x.id: store.learner_key(x.id) for x in part}
    baselined = queued = updated = cancelled = advanced = unchanged = 0
    with store._write("avis de changement") as conn:
        prefs = {r.id: "none" if r.opt_out else r.mail_preference for r in conn.execute(
            select(learners_table.c.id, learners_table.c.mail_preference, learners_table.c.opt_out)
            .where(learners_table.c.id.in_(ids)))}
        bases = {r.learner_id: r for r in conn.execute(
            select(notice_baselines_table).where(notice_baselines_table.c.learner_id.in_(ids)))}
        rows = {r.key: r for r in conn.execute(
            select(deliveries.c.key, deliveries.c.status, deliveries.c.due_at, deliveries.c.attempts,
                   deliveries.c.payload)
            .where(deliveries.c.learner_id.in_(ids), deliveries.c.event_uid == NOTICE_UID))}
        new_bases: list[dict[str, Any]] = []
        moved_bases: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        changes_: list[dict[str, Any]] = []
        to_cancel: list[str] = []
        for learner in part:
            centre = by_centre[learner.centre]
            events = {d.uid: d for d in shared[learner.centre].learner(learner, keys[learner.id])}
            snap = snapshot(events.values())
            dg = digest(snap)
            base = bases.get(learner.id)
            if base is None:
                new_bases.append({"learner_id": learner.id, "digest": dg, "snapshot": _dump(snap), "updated_at": now})
                baselined += 1
                continue
            base_digest, base_snap, epoch = base.digest, None, base.updated_at
            row = rows.get(notice_key(learner.id, epoch))
            if row is not None and row.status == "leased":
                unchanged += 1  # on the wire right now: its outcome first
                continue
            if row is not None and row.status in ("sent", "failed", "expired"):
                said = json.loads(row.payload)["after"]  # the learner was told of this state (or never can be)
                base_digest, base_snap, epoch = digest(said), said, now
                moved_bases.append({"b_id": learner.id, "digest": base_digest, "snapshot": _dump(said),
                                    "updated_at": now})
                advanced += 1
                row = None
            if dg == base_digest:
                if row is not None and row.status == "pending":
                    to_cancel.append(row.key)  # undone within the hold-back: no notice
                else:
                    unchanged += 1
                continue
            if prefs.get(learner.id) == "none":  # opted out: no notice, and no stale news if they opt in again
                moved_bases.append({"b_id": learner.id, "digest": dg, "snapshot": _dump(snap), "updated_at": now})
                advanced += 1
                if row is not None and row.status == "pending":
                    to_cancel.append(row.key)
                continue
            if base_snap is None:
                base_snap = json.loads(base.snapshot)
            found = changes(base_snap, snap, local_date(now, centre.timezone))
            if not found:  # only dates already past changed: nothing to say, the baseline follows
                moved_bases.append({"b_id": learner.id, "digest": dg, "snapshot": _dump(snap), "updated_at": now})
                advanced += 1
                if row is not None and row.status == "pending":
                    to_cancel.append(row.key)
                continue
            key = notice_key(learner.id, epoch)
            due = due_time(centre, prefs.get(learner.id, "each"), found, now)
            if row is not None and row.status == "pending":
                due = min(due, row.due_at) if row.attempts == 0 else row.due_at  # first sight; a retry keeps its time
            content = _payload(centre, learner, key, keys[learner.id], found, snap, events, due)
            if digest_only(centre, prefs.get(learner.id, "each"), found, now):
                content["digest"] = True  # the Monday digest, not an urgent notice
            payload = _dump(content)
            if row is None:
                inserts.append({"key": key, "learner_id": learner.id, "event_uid": NOTICE_UID, "due_at": due,
                                "expires_at": None, "offset_days": None, "payload": payload, "status": "pending",
                                "attempts": 0})
                queued += 1
            elif row.status == "cancelled":
                changes_.append({"b_key": key, "status": "pending", "due_at": due, "payload": payload})
                queued += 1
            elif row.payload != payload or row.due_at != due:
                changes_.append({"b_key": key, "status": "pending", "due_at": due, "payload": payload})
                updated += 1
            else:
                unchanged += 1
        if new_bases:
            conn.execute(insert(notice_baselines_table), new_bases)
        if moved_bases:
            conn.execute(update(notice_baselines_table).where(
                notice_baselines_table.c.learner_id == bindparam("b_id")), moved_bases)
        if inserts:
            conn.execute(insert(deliveries), inserts)
        if changes_:
            conn.execute(update(deliveries).where(deliveries.c.key == bindparam("b_key"),
                                                  or_(deliveries.c.status == "pending",
                                                      deliveries.c.status == "cancelled")), changes_)
        for i in range(0, len(to_cancel), CHUNK):
            conn.execute(update(deliveries).where(deliveries.c.key.in_(to_cancel[i:i + CHUNK]),
                                                  deliveries.c.status == "pending").values(status="cancelled"))
        cancelled += len(to_cancel)
    return NoticeReport(baselined, queued, updated, cancelled, advanced, unchanged)


def weekly_learners(store: Store, learner_ids: Iterable[str] | None = None) -> set[str]:
    """Return the ids (of ``learner_ids``, default all) of the learners who chose the weekly digest."""
    stmt = select(learners_table.c.id).where(learners_table.c.mail_preference == "weekly",
                                             learners_table.c.opt_out.is_(False))
    with store._errors("lecture des préférences d'envoi"), store.engine.connect() as conn:
        if learner_ids is None:
            return set(conn.scalars(stmt))
        ids = list(learner_ids)
        return {i for k in range(0, len(ids), CHUNK)
                for i in conn.scalars(stmt.where(learners_table.c.id.in_(ids[k:k + CHUNK])))}


def notices_due_since(store: Store, since: datetime | None, now: datetime) -> bool:
    """Tell whether a pending notice fell due after ``since`` (None: ever) and by ``now``: scan before sending it."""
    stmt = select(deliveries.c.key).where(deliveries.c.status == "pending", deliveries.c.event_uid == NOTICE_UID,
                                          deliveries.c.due_at <= now.astimezone(timezone.utc))
    if since is not None:
        stmt = stmt.where(deliveries.c.due_at > since.astimezone(timezone.utc))
    with store._errors("lecture des avis"), store.engine.connect() as conn:
        return conn.execute(stmt.limit(1)).first() is not None


__all__ = ["NoticeReport", "due_time", "next_monday", "notice_key", "notices_due_since", "scan", "weekly_learners"]
