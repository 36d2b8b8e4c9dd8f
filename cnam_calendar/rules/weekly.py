"""The Monday letter: a weekly-digest learner's ordinary reminders of one week, in one e-mail.

PURE. A learner who chose the weekly digest (``mail_preference == "weekly"``) gets no reminder
one by one: each reminder goes into the letter of the Monday that starts the week it was due in
(ISO week, the centre's zone), sent that Monday at the policy's time. A deadline reminded J-7 and
J-1 in the same week is listed once. The letter is a delivery row like a reminder (key
``week/<learner>/<monday>``), so the planner's guarantees hold: idempotent, a moved deadline updates
the letter still to come, a letter is sent once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable
from datetime import date, timedelta, timezone

from cnam_calendar.rules.reminders import PAYLOAD_VERSION, Reminder, local_instant

UID_DOMAIN = "cnam-calendar"


def monday_of(day: date) -> date:
    """Return the Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def week_key(learner_id: str, monday: date) -> str:
    """Return the delivery key of a learner's Monday letter."""
    return f"week/{learner_id}/{monday.isoformat()}"


def weekly_letters(reminders: Iterable[Reminder], weekly: Container[str]) -> list[Reminder]:
    """Return ``reminders`` with those of the ``weekly`` learners replaced by their Monday letters."""
    out: list[Reminder] = []
    grouped: dict[tuple[str, date], list[Reminder]] = defaultdict(list)
    for r in reminders:
        if r.learner_id in weekly:
            grouped[(r.learner_id, monday_of(r.local_due.date()))].append(r)
        else:
            out.append(r)
    for (learner_id, monday), items in sorted(grouped.items()):
        items.sort(key=lambda r: (r.target, r.event_uid, r.offset_days))
        seen: set[str] = set()
        kept = [r for r in items if not (r.event_uid in seen or seen.add(r.event_uid))]  # once per event
        first = kept[0]
        zone = first.local_due.tzinfo  # the centre's zone, as the planner used it
        assert zone is not None
        local_due = local_instant(monday, first.local_due.time(), zone)
        key = week_key(learner_id, monday)
        payload = {
            "v": PAYLOAD_VERSION, "type": "week", "key": key, "date": monday.isoformat(),
            "due_local": local_due.isoformat(), "year": first.year, "learner": first.payload["learner"],
            "centre": first.payload["centre"],
            "items": [{"date": r.target.isoformat(), "offset_days": r.offset_days, "event": r.payload["event"]}
                      for r in kept],
        }
        uid = f"week.{learner_id}.{first.payload['centre']['id']}.{first.year}@{UID_DOMAIN}"
        expires = max(r.expires_at for r in kept)
        out.append(Reminder(key, learner_id, uid, "week", "week", None, monday, None,  # type: ignore[arg-type]
                            local_due, local_due.astimezone(timezone.utc), expires, first.year, payload))
    out.sort(key=lambda r: (r.due_at, r.key))
    return out


__all__ = ["monday_of", "week_key", "weekly_letters"]
