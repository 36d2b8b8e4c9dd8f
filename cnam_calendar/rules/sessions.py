"""Weekly class sessions of a UE and its two exam sessions.

PURE: from a UE and the institutional schedule of its centre-year; nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cnam_calendar.rules.model import UE, Event, Schedule, Step, step
from cnam_calendar.text.i18n import decimal

EXAMS = {  # semester -> (first session, second session)
    "S1": ("exam-winter", "exam-june"),
    "S2": ("exam-june", "exam-september"),
    "annual": ("exam-june", "exam-september"),
}


@dataclass(frozen=True)
class Sessions:
    """The weekly sessions of one UE in one academic year."""

    ue: UE
    dates: tuple[date, ...]  # sessions held
    skipped: tuple[tuple[date, Step], ...]  # dates on the UE's weekday with no class, and why
    first: date | None  # first weekday date of the series (RRULE DTSTART)
    last: date | None  # last session held (RRULE UNTIL)

    @property
    def hours(self) -> float:
        """Return the scheduled hours: sessions held × duration."""
        if not self.ue.timed or not self.dates:
            return 0.0
        return len(self.dates) * duration_hours(self.ue)


def duration_hours(ue: UE) -> float:
    """Return the length of one session in hours."""
    assert ue.start is not None and ue.end is not None
    start = datetime.combine(date.min, ue.start)
    return (datetime.combine(date.min, ue.end) - start).total_seconds() / 3600


def _first_on(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def _periods(ue: UE, schedule: Schedule) -> list[Event]:
    ids = {"S1": ["semester-1"], "S2": ["semester-2"], "annual": ["semester-1", "semester-2"]}[ue.semester]
    return [e for e in (schedule.get(i) for i in ids) if e is not None]


def ue_sessions(ue: UE, schedule: Schedule) -> Sessions:
    """List the sessions of ``ue``: its weekday in its semester(s), minus holidays and closures."""
    if not ue.timed:
        return Sessions(ue, (), (), None, None)
    assert ue.weekday is not None
    periods = _periods(ue, schedule)
    if not periods or any(p.end < p.start for p in periods):
        return Sessions(ue, (), (), None, None)  # check_schedule reports the broken semester
    holidays = {e.start: e for e in schedule.events if e.kind == "holiday"}
    closures = [e for e in schedule.events if e.kind == "closure"]
    held: list[date] = []
    skipped: list[tuple[date, Step]] = []
    first = _first_on(periods[0].start, ue.weekday)
    day = first
    end = periods[-1].end
    while day <= end:
        reason = None
        if not any(p.start <= day <= p.end for p in periods):
            reason = step("no-class-intersemester")
        elif day in holidays:
            reason = step("no-class-holiday", title=holidays[day].title, title_en=holidays[day].title_en)
        else:
            closure = next((c for c in closures if c.start <= day <= c.end), None)
            if closure is not None:
                reason = step("no-class-closure", title=closure.title, title_en=closure.title_en)
        if reason is None:
            held.append(day)
        else:
            skipped.append((day, reason))
        day += timedelta(days=7)
    last = held[-1] if held else None
    skipped = [(d, r) for d, r in skipped if last is not None and d < last]
    return Sessions(ue, tuple(held), tuple(skipped), first if held else None, last)


def session_explanation(s: Sessions, centre_tz: str) -> tuple[Step, ...]:
    """Explain how the sessions of a UE were laid out, with each skipped date."""
    ue = s.ue
    if not ue.timed:
        return (step("sessions-untimed", code=ue.code, modality=ue.modality),)
    assert ue.weekday is not None and ue.start is not None and ue.end is not None
    steps = [step("sessions-timed", semester=ue.semester, modality=ue.modality, first=s.first or date.min,
                  start=f"{ue.start:%H:%M}", end=f"{ue.end:%H:%M}", tz=centre_tz)]
    if s.dates:
        steps.append(step("sessions-count", count=len(s.dates), first=s.dates[0], last=s.dates[-1], hours=s.hours))
    steps.extend(step("session-skipped", day=d, reason=reason) for d, reason in s.skipped)
    return tuple(steps)


def exam_events(ue: UE, schedule: Schedule) -> list[Event]:
    """The UE's two exam sessions: S1 sits winter then June; S2 and annual sit June then September."""
    out = []
    for rank, event_id in enumerate(EXAMS[ue.semester], start=1):
        window = schedule.get(event_id)
        if window is None:
            continue
        which = "1re session" if rank == 1 else "2e session"  # the title stays French; title_en is English
        out.append(Event(
            id=f"ue-{ue.code}-{event_id}",
            kind="exam",
            title=f"Examen {ue.code} — {which} ({window.title[:1].lower()}{window.title[1:]})",
            title_en=f"Exam {ue.code}: {'first' if rank == 1 else 'second'} sitting ({window.title_en})",
            start=window.start,
            end=window.end,
            explanation=(
                step("exam-ue-semester", semester=ue.semester),
                step("exam-sitting", rank=rank, code=ue.code, title=window.title, title_en=window.title_en,
                     start=window.start, end=window.end),
                step("exam-date-published"),
                *window.explanation,
            ),
            source=window.source,
            categories=("Examens", ue.code),
        ))
    return out


def hours_problems(schedule: Schedule, catalogue: Sequence[UE]) -> list[str]:
    """Report each timed UE whose scheduled hours miss the centre's ECTS rule, with both numbers."""
    rule = schedule.centre.rules.hours
    where = schedule.centre.catalogue_file
    problems = []
    for ue in catalogue:
        if not ue.timed:
            continue
        hours, expected = ue_sessions(ue, schedule).hours, rule.expected(ue.ects)
        low, high = expected * (1 - rule.tolerance), expected * (1 + rule.tolerance)
        if not low <= hours <= high:
            problems.append(
                f"{where} : {ue.code} ({decimal(ue.ects)} ECTS) a {decimal(hours)} h de cours en {schedule.label}, "
                f"attendu {decimal(expected)} h ± {decimal(rule.tolerance * 100)} % "
                f"({decimal(low, places=1)} – {decimal(high, places=1)} h)"
            )
    return problems
