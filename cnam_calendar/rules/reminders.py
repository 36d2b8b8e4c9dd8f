"""Reminder planning: learners + schedules + the centre's policy → the reminders to send, each with its key.

PURE: no file, network, database or clock. The learners, the schedules, the working-day calendars,
the opaque learner keys and the UE catalogues are passed in. The time zone database is the one
piece of reference data read (through ``zoneinfo``, injectable with ``zone=``), as a calendar is.

A reminder is due at the policy's local time (09:00 by default) N days before its target: the day of
a deadline, or the first day of an exam session. Local times are turned into UTC instants through the
centre's zone, so 09:00 stays 09:00 in Paris on both sides of a clock change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cnam_calendar.rules.checks import parse_year
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.model import UE, Centre, Deadline, Event, Schedule
from cnam_calendar.rules.personal import applies, deadline_event, learner_deadlines
from cnam_calendar.rules.sessions import exam_events

if TYPE_CHECKING:  # pragma: no cover
    from cnam_calendar.rules.model import Learner

UID_DOMAIN = "cnam-calendar"
KINDS = ("deadline", "exam")
PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class Reminder:
    """One e-mail to send: to whom, about what, when (local and UTC), and until when it is useful."""

    key: str  # unique delivery key: learner, event UID, offset, target date
    learner_id: str
    event_uid: str  # the UID of the event in the learner's feeds
    event_id: str
    kind: str  # "deadline" or "exam"
    offset_days: int
    target: date  # the deadline day, or the first day of the exam session
    origin: date | None  # the learner's date that created a personal deadline
    local_due: datetime  # aware, in the centre's zone
    due_at: datetime  # the same instant in UTC
    expires_at: datetime  # end of the target day (local midnight after it), in UTC
    year: int  # academic year of the schedule the event belongs to
    payload: Mapping[str, Any]  # JSON-ready: what the e-mail needs


def institutional_uid(event_id: str, centre_id: str, year: int) -> str:
    """Return the feed UID of an institutional or UE event (the same as ``ics.uid_for``)."""
    return f"{event_id}.{centre_id}.{year}@{UID_DOMAIN}"


def personal_uid(rule: str, learner_key: str, centre_id: str, year: int) -> str:
    """Return the feed UID of a personal deadline (the same as ``PersonalFeeds.render``)."""
    return f"{rule}.{learner_key}.{centre_id}.{year}@{UID_DOMAIN}"


def uid_year(uid: str) -> int | None:
    """Return the academic year a feed UID belongs to (its last dotted part before the domain)."""
    head = uid.rsplit("@", 1)[0]
    last = head.rsplit(".", 1)[-1]
    return parse_year(last)


def delivery_key(learner_id: str, uid: str, offset_days: int, target: date) -> str:
    """Return the delivery key: stable while the deadline stays put, new when it moves."""
    return f"{learner_id}/{uid}/J-{offset_days}/{target.isoformat()}"


def academic_year_of(day: date) -> int:
    """Return the academic year ``day`` falls in (September starts a new one)."""
    return day.year if day.month >= 9 else day.year - 1


def local_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """Return ``day`` at local time ``at`` in ``zone`` (a time in a spring gap moves forward; a fold takes the first)."""
    naive_local = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    return naive_local.astimezone(timezone.utc).astimezone(zone)


def reminder_offsets(offsets_days: Iterable[int], target: date, origin: date | None = None) -> tuple[int, ...]:
    """Return the offsets (days before ``target``) that get a reminder, the earliest reminder first.

    One rule for the e-mails and the feeds' VALARMs: no negative offset, and none that falls before
    ``origin``, the date that created the deadline (a J-7 of a CPF confirmation due three working
    days after the validation would ring before the validation).
    """
    return tuple(n for n in sorted(set(offsets_days), reverse=True)
                 if n >= 0 and (origin is None or target - timedelta(days=n) >= origin))


def _end_of_day(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(timezone.utc)


def _centre_payload(centre: Centre) -> dict[str, Any]:
    return {"id": centre.id, "name": centre.name, "email": centre.contact.email, "phone": centre.contact.phone,
            "url": centre.contact.url, "faq_url": centre.faq_url, "timezone": centre.timezone,
            "sender": centre.reminders.sender, "unsubscribe": centre.reminders.unsubscribe}


def _event_payload(event: Event, uid: str, centre: Centre) -> dict[str, Any]:
    source = event.source
    return {
        "id": event.id, "uid": uid, "kind": event.kind, "title": event.title, "title_en": event.title_en,
        "start": event.start.isoformat(), "end": event.end.isoformat(),
        "steps": [s.data() for s in event.explanation],  # rendered in the learner's language by mail/
        "source": source.cite() if source else "",
        "url": (source.url if source and source.url else centre.faq_url),
        "categories": list(event.categories),
    }


def _learner_payload(learner: Learner, key: str | None) -> dict[str, Any]:
    return {"id": learner.id, "email": learner.email, "first_name": learner.first_name,
            "last_name": learner.last_name, "lang": learner.lang if learner.lang in ("fr", "en") else "fr",
            "key": key or ""}


class _CentreYear:
    """What every learner of one centre-year shares: zone, policy, institutional and exam events."""

    def __init__(self, sched: Schedule, ouvres: WorkingCalendar, catalogue: Mapping[str, UE],
                 zone: Callable[[str], tzinfo]) -> None:
        self.sched, self.ouvres, self.catalogue = sched, ouvres, catalogue
        self.centre = sched.centre
        self.tz = zone(self.centre.timezone)
        self.centre_payload = _centre_payload(self.centre)
        self.deadlines = [e for e in sched.events if e.kind == "deadline"]
        self._event_payloads: dict[str, dict[str, Any]] = {}
        self._exams: dict[str, list[Event]] = {}

    def uid(self, event_id: str) -> str:
        return institutional_uid(event_id, self.centre.id, self.sched.year)

    def shared_payload(self, event: Event) -> dict[str, Any]:
        """Return the event payload of an institutional or UE event, built once per centre-year."""
        if event.id not in self._event_payloads:
            self._event_payloads[event.id] = _event_payload(event, self.uid(event.id), self.centre)
        return self._event_payloads[event.id]

    def exams(self, code: str) -> list[Event]:
        if code not in self._exams:
            ue = self.catalogue.get(code)
            self._exams[code] = exam_events(ue, self.sched) if ue is not None else []
        return self._exams[code]


def _schedules(value: Schedule | Sequence[Schedule]) -> Sequence[Schedule]:
    return (value,) if isinstance(value, Schedule) else tuple(value)


def plan_reminders(
    learners: Iterable[Learner],
    schedules_by_centre: Mapping[str, Schedule | Sequence[Schedule]],
    ouvres_by_centre: Mapping[str, WorkingCalendar],
    learner_keys: Mapping[str, str],
    *,
    catalogues: Mapping[str, Iterable[UE]] | None = None,
    zone: Callable[[str], tzinfo] = ZoneInfo,
) -> list[Reminder]:
    """Return every reminder of ``learners`` for the given centre-years, sorted by due instant then key.

    Per learner and schedule (one academic year Y of the learner's centre):
    - each personal deadline whose day falls in year Y (1 Sept Y – 31 Aug Y+1), and each institutional
      deadline of Y that applies to the learner: one reminder per ``policy.offsets_days`` (J-7, J-1);
    - each exam session of the learner's UEs (``catalogues`` gives their semester): one reminder per
      ``policy.exam_offsets_days`` (J-2, J-1) before the first day of the session;
    - a reminder due before the learner's date that created the deadline (e.g. J-7 of a CPF
      confirmation due three working days after validation) is not planned.
    ``learner_keys`` gives the opaque key used in personal UIDs; ``schedules_by_centre`` may map a
    centre to several years. Learners of a centre without a schedule get nothing.
    """
    shared: dict[tuple[str, int], _CentreYear] = {}
    for centre_id, value in schedules_by_centre.items():
        if centre_id not in ouvres_by_centre:
            continue
        ues = {u.code: u for u in (catalogues or {}).get(centre_id, ())}
        for sched in _schedules(value):
            shared[(centre_id, sched.year)] = _CentreYear(sched, ouvres_by_centre[centre_id], ues, zone)
    by_centre: dict[str, list[_CentreYear]] = {}
    for (centre_id, _), cy in sorted(shared.items()):
        by_centre.setdefault(centre_id, []).append(cy)

    out: list[Reminder] = []
    for learner in learners:
        for cy in by_centre.get(learner.centre, ()):
            out.extend(_learner_reminders(learner, cy, learner_keys))
    out.sort(key=lambda r: (r.due_at, r.key))
    return out


def _learner_reminders(learner: Learner, cy: _CentreYear, learner_keys: Mapping[str, str]) -> list[Reminder]:
    policy = cy.centre.reminders
    year = cy.sched.year
    learner_part: dict[str, Any] | None = None
    out: list[Reminder] = []

    def emit(event: Event, uid: str, event_part: dict[str, Any], offsets: Iterable[int], origin: date | None) -> None:
        nonlocal learner_part
        if learner_part is None:
            learner_part = _learner_payload(learner, learner_keys.get(learner.id))
        target = event.start
        expires = _end_of_day(target, cy.tz)
        for n in reminder_offsets(offsets, target, origin):
            due_day = target - timedelta(days=n)
            local_due = local_instant(due_day, policy.time, cy.tz)
            due_at = local_due.astimezone(timezone.utc)
            if due_at >= expires:
                continue
            key = delivery_key(learner.id, uid, n, target)
            payload = {
                "v": PAYLOAD_VERSION, "key": key, "offset_days": n, "date": target.isoformat(),
                "due_local": local_due.isoformat(), "year": year, "origin": origin.isoformat() if origin else None,
                "learner": learner_part, "event": event_part, "centre": cy.centre_payload,
            }
            out.append(Reminder(key, learner.id, uid, event.id, event.kind, n, target, origin, local_due, due_at,
                                expires, year, payload))

    # Personal deadlines: planned with the schedule of the academic year their day falls in, so a
    # deadline is planned once whatever years are planned together.
    deadlines: list[Deadline] = [d for d in learner_deadlines(learner, cy.sched, cy.ouvres)
                                 if academic_year_of(d.deadline) == year]
    if deadlines:
        lkey = learner_keys[learner.id]
        for d in deadlines:
            event = deadline_event(d)
            uid = personal_uid(d.rule, lkey, cy.centre.id, year)
            emit(event, uid, _event_payload(event, uid, cy.centre), policy.offsets_days, d.origin)
    for event in cy.deadlines:
        if applies(event, learner):
            emit(event, cy.uid(event.id), cy.shared_payload(event), policy.offsets_days, None)
    for code in dict.fromkeys(learner.ues):
        for event in cy.exams(code):
            emit(event, cy.uid(event.id), cy.shared_payload(event), policy.exam_offsets_days, None)
    return out


def in_window(reminder: Reminder, first: date | None, last: date | None) -> bool:
    """Tell whether the reminder's local due date lies in [first, last] (either bound may be open)."""
    day = reminder.local_due.date()
    return (first is None or day >= first) and (last is None or day <= last)


__all__ = [
    "Reminder", "academic_year_of", "delivery_key", "in_window", "institutional_uid", "local_instant",
    "personal_uid", "plan_reminders", "reminder_offsets", "uid_year",
]


def centre_payload(centre: Centre) -> dict[str, Any]:
    """Return what an e-mail needs of the learner's centre (the same part as a reminder's)."""
    return _centre_payload(centre)


def learner_payload(learner: Learner, key: str | None) -> dict[str, Any]:
    """Return what an e-mail needs of the learner (the same part as a reminder's)."""
    return _learner_payload(learner, key)
