"""Change notices: what a learner's dated events were when last notified, what they are now, what changed.

PURE: the learner, the centre-year's schedule, its working days and the catalogue are passed in.

A learner's *snapshot* maps the feed UID of each dated event that concerns them (their centre's
events, the deadlines that apply to them, their UEs' weekly sessions and exam sessions, their own
deadlines) to a small entry: start, end, the hours of a timed event, the titles and the kind. Only
start, end and hours count as a change (a reworded title or explanation is not worth an e-mail).
``changes`` compares two snapshots: an event moved, cancelled or added, never one whose dates
(old and new) are all past.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.model import UE, Event, Schedule, Step
from cnam_calendar.rules.personal import applies, deadline_event, learner_deadlines
from cnam_calendar.rules.reminders import institutional_uid, personal_uid
from cnam_calendar.rules.sessions import exam_events, session_explanation, ue_sessions

if TYPE_CHECKING:  # pragma: no cover
    from cnam_calendar.rules.model import Learner

NOTICE_UID = "notice@cnam-calendar"  # the event_uid of every notice row: of no academic year
CHANGES = ("moved", "cancelled", "added")


@dataclass(frozen=True)
class Dated:
    """One dated event of a learner, as a notice speaks of it."""

    uid: str
    kind: str
    title: str
    title_en: str
    start: date
    end: date
    hours: str  # "18:00-21:00" for weekly sessions, "" for all-day events
    steps: tuple[Step, ...]  # the explanation of the current date

    def entry(self) -> list[Any]:
        """Return what the snapshot keeps: [start, end, hours, title, title_en, kind]."""
        return [self.start.isoformat(), self.end.isoformat(), self.hours, self.title, self.title_en, self.kind]


def _dated(event: Event, uid: str) -> Dated:
    return Dated(uid, event.kind, event.title, event.title_en, event.start, event.end, "", event.explanation)


class CentreEvents:
    """What every learner of one centre-year shares, computed once: institutional, session and exam events."""

    def __init__(self, sched: Schedule, ouvres: WorkingCalendar, catalogue: Iterable[UE]) -> None:
        self.sched, self.ouvres = sched, ouvres
        self.catalogue = {u.code: u for u in catalogue}
        centre, year = sched.centre, sched.year
        self.institutional = [(e, _dated(e, institutional_uid(e.id, centre.id, year))) for e in sched.events]
        self._ues: dict[str, list[Dated]] = {}

    def ue(self, code: str) -> list[Dated]:
        """Return the dated events of one UE: its weekly sessions (first to last day) and its exam sessions."""
        if code not in self._ues:
            ue = self.catalogue.get(code)
            out: list[Dated] = []
            if ue is not None:
                centre, year = self.sched.centre, self.sched.year
                s = ue_sessions(ue, self.sched)
                if ue.timed and s.first is not None and s.last is not None and ue.start and ue.end:
                    hours = f"{ue.start:%H:%M}-{ue.end:%H:%M}"
                    out.append(Dated(institutional_uid(f"ue-{ue.code}-sessions", centre.id, year), "sessions",
                                     f"{ue.code} — {ue.title} (cours)", f"{ue.code} — {ue.title} (class)",
                                     s.dates[0] if s.dates else s.first, s.last, hours,
                                     session_explanation(s, centre.timezone)))
                out.extend(_dated(e, institutional_uid(e.id, centre.id, year)) for e in exam_events(ue, self.sched))
            self._ues[code] = out
        return self._ues[code]

    def learner(self, learner: Learner, key: str) -> list[Dated]:
        """Return every dated event that concerns ``learner`` (``key``: their opaque feed key)."""
        out = [d for e, d in self.institutional if e.kind != "deadline" or applies(e, learner)]
        for code in dict.fromkeys(learner.ues):
            out.extend(self.ue(code))
        centre, year = self.sched.centre, self.sched.year
        for d in learner_deadlines(learner, self.sched, self.ouvres):
            out.append(_dated(deadline_event(d), personal_uid(d.rule, key, centre.id, year)))
        return out


def snapshot(events: Iterable[Dated]) -> dict[str, list[Any]]:
    """Return {uid: entry} of ``events``."""
    return {d.uid: d.entry() for d in events}


def digest(snap: Mapping[str, Sequence[Any]]) -> str:
    """Return a stable hash of what counts in a snapshot (the dates and hours of each UID)."""
    compact = sorted((uid, e[0], e[1], e[2]) for uid, e in snap.items())
    return hashlib.sha256(json.dumps(compact, separators=(",", ":")).encode()).hexdigest()


def _past(entry: Sequence[Any] | None, today: date) -> bool:
    return entry is None or date.fromisoformat(entry[1]) < today


def changes(old: Mapping[str, Sequence[Any]], new: Mapping[str, Sequence[Any]], today: date) -> list[dict[str, Any]]:
    """Return what moved, was cancelled or was added from ``old`` to ``new``, soonest first; nothing all past.

    Each change: {"uid", "change": moved|cancelled|added, "old": entry or None, "new": entry or None}.
    """
    out = []
    for uid in sorted(set(old) | set(new)):
        before, after = old.get(uid), new.get(uid)
        if before is not None and after is not None and list(before[:3]) == list(after[:3]):
            continue
        if _past(before, today) and _past(after, today):
            continue  # nothing for dates already past
        kind = "moved" if before is not None and after is not None else "cancelled" if after is None else "added"
        out.append({"uid": uid, "change": kind, "old": list(before) if before else None,
                    "new": list(after) if after else None})
    out.sort(key=lambda c: ((c["new"] or c["old"])[0], c["uid"]))
    return out


def soonest(found: Iterable[Mapping[str, Any]], today: date) -> date | None:
    """Return the earliest day from ``today`` on that a list of changes speaks of (an event under way: today)."""
    days = [max(date.fromisoformat(e[0]), today) for c in found for e in (c["old"], c["new"])
            if e is not None and not _past(e, today)]
    return min(days, default=None)


__all__ = ["CHANGES", "NOTICE_UID", "CentreEvents", "Dated", "changes", "digest", "snapshot", "soonest"]
