"""What the next build of a centre-year would change in what is published (`cnam-calendar diff`, `build`).

The published side is the build's manifest (``output/<centre>/<year>/.manifest.json``): each UID with
the hash and the text of the VEVENT last published. The other side is what ``build`` would render
from ``calendars/`` now. Changes are what ``ics.track`` would stamp with a new SEQUENCE: an event
added, moved (other dates), changed (same dates, other content: the sessions held, a room, a text)
or cancelled (gone from the rules, announced « [ANNULÉ] » until its day is past).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from cnam_calendar.ical import ics
from cnam_calendar.ical.build import CALENDAR
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.engine import PERSONAL_RULES
from cnam_calendar.rules.model import UE, Event, Learner, Schedule, Step
from cnam_calendar.rules.personal import applies, learner_deadlines
from cnam_calendar.rules.reminders import academic_year_of
from cnam_calendar.rules.sessions import exam_events, ue_sessions
from cnam_calendar.text.explain import render

KINDS = ("added", "moved", "changed", "cancelled")
PERIODS = {"S1": ("semester-1",), "S2": ("semester-2",), "annual": ("semester-1", "semester-2")}
_GENERIC = ("rule-", "exam-ue-semester", "exam-sitting", "exam-date-published")  # steps that state a rule, not a cause


@dataclass(frozen=True)
class Change:
    """One event of the centre-year whose published version would change."""

    kind: str  # one of KINDS
    uid: str
    event_id: str
    title: str
    feed: str  # calendar.ics or ue/<CODE>.ics
    old: tuple[date, date] | None  # first and last day published (None: added)
    new: tuple[date, date] | None  # first and last day after the build (None: cancelled)
    reason: str = ""  # from the explanation: the override's reason, or what the date follows
    removed: tuple[tuple[date, str], ...] = ()  # class sessions no longer held, and why
    added: tuple[date, ...] = ()  # class sessions newly held
    learners: int | None = None  # learners the change concerns (None: no store given)

    @property
    def ue(self) -> str | None:
        """Return the UE code of a UE feed's event, None for the centre's calendar."""
        return self.feed.removeprefix("ue/").removesuffix(".ics") if self.feed != CALENDAR else None


@dataclass(frozen=True)
class PersonalChange:
    """A personal deadline rule whose day changes for some learners, against the store's reminder plan."""

    rule: str
    title: str
    moved: tuple[tuple[str, date, date], ...] = ()  # learner id, day planned, new day
    gone: tuple[tuple[str, date], ...] = ()  # learner id, day planned: no longer a deadline of the year

    @property
    def learners(self) -> int:
        return len({i for i, *_ in self.moved} | {i for i, _ in self.gone})


@dataclass(frozen=True)
class YearDiff:
    """Every change a build of one centre-year would publish."""

    centre: str
    year: int
    published: bool  # a manifest exists: something was built before
    events: int  # events the build would publish
    changes: tuple[Change, ...] = ()
    learners: int | None = None  # distinct learners concerned by at least one change
    last_published: str = ""  # newest LAST-MODIFIED of the manifest (ISO 8601), "" when never built
    by_kind: Mapping[str, tuple[Change, ...]] = field(default_factory=dict)
    personal: tuple[PersonalChange, ...] = ()  # only with a store whose reminder plan holds the deadlines


def _day(value: date | datetime, tz: ZoneInfo) -> date:
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def _span(component: icalendar.Event, tz: ZoneInfo) -> tuple[date, date]:
    """Return the first and last day (inclusive) of an all-day event, or the first and last session of a series."""
    start = component.get("DTSTART").dt
    rrule = component.get("RRULE")
    if rrule and rrule.get("UNTIL"):
        until = rrule["UNTIL"]
        return _day(start, tz), _day(until[0] if isinstance(until, list) else until, tz)
    end = component.get("DTEND")
    if end is None:
        return _day(start, tz), _day(start, tz)
    last = end.dt - timedelta(days=1) if not isinstance(end.dt, datetime) else end.dt
    return _day(start, tz), _day(last, tz)


def _sessions(component: icalendar.Event, tz: ZoneInfo) -> set[date]:
    """Return the days a weekly series is held: DTSTART to UNTIL every 7 days, minus EXDATE."""
    first, last = _span(component, tz)
    excluded: set[date] = set()
    found = component.get("EXDATE")
    for entry in found if isinstance(found, list) else [found] if found is not None else []:
        excluded.update(_day(d.dt, tz) for d in entry.dts)
    days, day = set(), first
    while day <= last:
        days.add(day)
        day += timedelta(days=7)
    return days - excluded


def move_reason(steps: Sequence[Step]) -> str:
    """Return why an event is where it is, in French: an override with its reason, else the first cause."""
    for s in steps:
        if s.kind == "override":
            return render(s)
    for s in steps:
        if not s.kind.startswith(_GENERIC) and not s.values.get("superseded"):
            return render(s)
    return ""


def _cause(event: Event, published: icalendar.Event | None) -> str:
    """Return why ``event`` changed: its override, else the first step of its explanation the published one lacked."""
    if event.overridden or published is None:
        return move_reason(event.explanation)
    before = set(str(published.get("DESCRIPTION", "")).split("\n"))
    new = [render(s) for s in event.explanation if not s.values.get("superseded")]
    return next((line for line in new if line not in before), move_reason(event.explanation))


@dataclass(frozen=True)
class _Next:
    item: ics.Item
    event: Event | None  # None: the weekly sessions of a UE
    skipped: Mapping[date, str] = field(default_factory=dict)
    reason: str = ""


def _next_build(sched: Schedule, catalogue: Sequence[UE]) -> list[_Next]:
    centre, year = sched.centre, sched.year
    out = [_Next(ics.event_item(e, centre, year, "fr", CALENDAR), e) for e in sched.events]
    for ue in catalogue:
        feed = f"ue/{ue.code}.ics"
        sessions = ue_sessions(ue, sched)
        item = ics.sessions_item(sessions, centre, year, "fr", feed)
        if item is not None:
            periods = [sched.get(i) for i in PERIODS[ue.semester]]
            reason = next((move_reason(p.explanation) for p in periods if p is not None and p.overridden), "")
            out.append(_Next(item, None, {d: render(r) for d, r in sessions.skipped}, reason))
        out.extend(_Next(ics.event_item(e, centre, year, "fr", feed), e) for e in exam_events(ue, sched))
    return out


def _event_id(uid: str, centre: str, year: int) -> str:
    return uid.removesuffix(ics.uid_for("", centre, year))


def personal_changes(sched: Schedule, learners: Iterable[Learner], planned: Mapping[str, Mapping[str, date]],
                     ouvres: WorkingCalendar) -> tuple[PersonalChange, ...]:
    """Compare each learner's own deadlines of the year, computed now, with the days the reminder plan holds."""
    moved: dict[str, list[tuple[str, date, date]]] = {rule: [] for rule in PERSONAL_RULES}
    gone: dict[str, list[tuple[str, date]]] = {rule: [] for rule in PERSONAL_RULES}
    titles: dict[str, str] = {}
    for learner in learners:
        was = planned.get(learner.id, {})
        if not was:
            continue
        now = {d.rule: d for d in learner_deadlines(learner, sched, ouvres) if academic_year_of(d.deadline) == sched.year}
        for rule, day in was.items():
            if rule not in moved:
                continue
            if rule in now:
                titles[rule] = now[rule].title
                if now[rule].deadline != day:
                    moved[rule].append((learner.id, day, now[rule].deadline))
            else:
                gone[rule].append((learner.id, day))
    return tuple(PersonalChange(rule, titles.get(rule, rule), tuple(moved[rule]), tuple(gone[rule]))
                 for rule in PERSONAL_RULES if moved[rule] or gone[rule])


def diff_year(sched: Schedule, catalogue: Sequence[UE], manifest: Mapping[str, dict], today: date,
              learners: Iterable[Learner] | None = None, planned: Mapping[str, Mapping[str, date]] | None = None,
              ouvres: WorkingCalendar | None = None) -> YearDiff:
    """Compare what a build of ``sched`` would publish with ``manifest``; count ``learners`` concerned when given.

    With ``planned`` (the store's reminder plan) and ``ouvres``, the learners' own deadlines are compared too.
    """
    centre, year = sched.centre, sched.year
    tz = ZoneInfo(centre.timezone)
    manifest = {uid: entry for uid, entry in manifest.items() if isinstance(entry, dict)}  # a hand-edited one
    events = _next_build(sched, catalogue)
    changes: list[Change] = []
    current = set()
    for p in events:
        uid, text = p.item.uid, p.item.component.to_ical()
        component = icalendar.Event.from_ical(text)  # read back as the published side is: one treatment for both
        current.add(uid)
        title = str(component.get("SUMMARY", ""))
        event_id = p.event.id if p.event else _event_id(uid, centre.id, year)
        new = _span(component, tz)
        old_entry = manifest.get(uid)
        if old_entry is None or old_entry.get("cancelled"):
            changes.append(Change("added", uid, event_id, title, p.item.feed, None, new))
            continue
        if old_entry.get("hash") == hashlib.sha256(text).hexdigest():
            continue
        try:
            old_component = icalendar.Event.from_ical(old_entry["ics"])
            old = _span(old_component, tz)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):  # a manifest from elsewhere: say it changed
            old_component, old = None, None
        removed: tuple[tuple[date, str], ...] = ()
        added: tuple[date, ...] = ()
        if p.event is None and old_component is not None:
            before, after = _sessions(old_component, tz), _sessions(component, tz)
            removed = tuple((d, p.skipped.get(d, "")) for d in sorted(before - after))
            added = tuple(sorted(after - before))
        reason = p.reason if p.event is None else _cause(p.event, old_component)
        kind = "moved" if old is not None and old != new else "changed"
        changes.append(Change(kind, uid, event_id, title, p.item.feed, old, new, reason, removed, added))
    for uid, entry in manifest.items():
        if uid in current or entry.get("cancelled"):
            continue
        try:
            if date.fromisoformat(entry["last_day"]) < today:
                continue  # a past event simply goes
            old_component = icalendar.Event.from_ical(entry["ics"])
            old, title = _span(old_component, tz), str(old_component.get("SUMMARY", ""))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            old, title = None, uid
        changes.append(Change("cancelled", uid, _event_id(uid, centre.id, year), title,
                              str(entry.get("feed", CALENDAR)), old, None))
    # by kind, the centre's calendar before the UEs, then by date
    changes.sort(key=lambda c: (KINDS.index(c.kind), c.feed != CALENDAR, (c.new or c.old or (date.min,))[0], c.uid))
    total, personal = None, ()
    if learners is not None:
        mine = [lr for lr in learners if lr.centre == centre.id]
        concerned: set[str] = set()
        counted = []
        for change in changes:
            who = {lr.id for lr in mine if _concerns(change, lr)}
            concerned |= who
            counted.append(replace(change, learners=len(who)))
        if planned is not None and ouvres is not None:
            personal = personal_changes(sched, mine, planned, ouvres)
            concerned |= {i for p in personal for i, *_ in (*p.moved, *p.gone)}
        changes, total = counted, len(concerned)
    stamps = [str(e.get("last_modified", "")) for e in manifest.values() if isinstance(e, dict)]
    return YearDiff(centre.id, year, bool(manifest), len(events), tuple(changes), total, max(stamps, default=""),
                    {k: tuple(c for c in changes if c.kind == k) for k in KINDS}, personal)


def _concerns(change: Change, learner: Learner) -> bool:
    """Tell whether a change reaches ``learner``: the centre's events all of its learners (CPF ones
    only CPF learners), a UE's events the learners who take that UE."""
    code = change.ue
    if code is not None:
        return code in learner.ues
    return applies(Event(change.event_id, "", "", "", date.min, date.min, ()), learner)
