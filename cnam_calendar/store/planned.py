"""What the reminder plan of the store says of the learners' own deadlines (`cnam-calendar diff`).

A delivery key ends with the day it targets (``rules.reminders.delivery_key``): the rows still in
the plan (not cancelled) give, for each learner, the day each personal deadline was planned for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select

from cnam_calendar.rules.reminders import UID_DOMAIN
from cnam_calendar.store.database import Store, learners_table
from cnam_calendar.store.database import reminder_deliveries_table as deliveries

_LIVE = ("pending", "leased")  # rows that will still be sent: they tell the current plan first


def planned_personal(store: Store, centre_id: str, year: int, rules: Iterable[str]) -> dict[str, dict[str, date]]:
    """Return {learner id: {rule: day}} of the personal deadlines the plan holds for ``centre_id``'s year ``year``."""
    suffix = f".{centre_id}.{year}@{UID_DOMAIN}"
    rules = tuple(rules)
    stmt = (select(deliveries.c.learner_id, deliveries.c.event_uid, deliveries.c.key, deliveries.c.status)
            .join(learners_table, learners_table.c.id == deliveries.c.learner_id)
            .where(learners_table.c.centre == centre_id, deliveries.c.status != "cancelled",
                   deliveries.c.event_uid.like(f"%{suffix}")))
    best: dict[tuple[str, str], tuple[bool, date]] = {}
    with store._errors("lecture du plan des rappels"), store.engine.connect() as conn:
        for learner_id, uid, key, status in conn.execute(stmt):
            rule = uid.split(".", 1)[0]
            if rule not in rules or not uid.endswith(suffix):  # LIKE's « _ » matches any character
                continue
            try:
                day = date.fromisoformat(key.rsplit("/", 1)[1])
            except (IndexError, ValueError):
                continue
            rank = (status in _LIVE, day)
            if best.get((learner_id, rule), (False, date.min)) <= rank:
                best[(learner_id, rule)] = rank
    out: dict[str, dict[str, date]] = {}
    for (learner_id, rule), (_, day) in best.items():
        out.setdefault(learner_id, {})[rule] = day
    return out
