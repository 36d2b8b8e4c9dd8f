"""Change notices, the daemon's and the planner's side: the centre-years' events, then the store's scan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.rules.model import Centre
from cnam_calendar.rules.notices import CentreEvents
from cnam_calendar.service import ouvres_for, schedule
from cnam_calendar.store import notices
from cnam_calendar.store.database import Store


def centre_events(centres: Sequence[Centre], year: int) -> dict[str, CentreEvents]:
    """Return, per centre id, what its learners' snapshots are made of for academic year ``year``."""
    return {c.id: CentreEvents(schedule(c, year), ouvres_for(c, year - 1, year + 2), load_catalogue(c))
            for c in centres}


def scan_notices(store: Store, centres: Sequence[Centre], now: datetime, year: int,
                 learner_ids: Iterable[str] | None = None) -> notices.NoticeReport:
    """Queue, update or cancel every learner's change notice against what they were last told."""
    return notices.scan(store, centre_events(centres, year), now, learner_ids)
