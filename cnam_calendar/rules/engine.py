"""The Cnam rules: every institutional date of a year and every personal deadline.

PURE: no file, clock, network or database access. The centre, the year and the
working-day calendars are passed in; every date comes with the steps that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from functools import partial

from cnam_calendar.rules import sources
from cnam_calendar.rules.checks import academic_window
from cnam_calendar.rules.dates import (
    WorkingCalendar,
    add_months,
    days,
    last_day_of_february,
    monday_of_iso_week,
    next_weekday_after,
    previous_weekday_before,
    prorogate,
    saturday_of_iso_week,
)
from cnam_calendar.rules.errors import RuleError
from cnam_calendar.rules.model import Centre, Deadline, Event, Schedule, Step, step
from cnam_calendar.text.i18n import HOLIDAY_NAMES_EN

MONDAY, SATURDAY = 0, 5
PERSONAL_RULES = ("cpf-confirmation", "withdrawal", "apprenticeship-contract")
OVERRIDABLE = (
    "semester-1",
    "semester-2",
    "exam-winter",
    "exam-june",
    "exam-september",
    "registration-close-s1",
    "registration-close-s2",
    "add-drop-close",
    "cpf-latest-validation-s1",
    "cpf-latest-validation-s2",
)
KIND_LABELS = {
    "semester": ("Semestre", "Semester"),
    "exam": ("Examens", "Exams"),
    "deadline": ("Échéance", "Deadline"),
    "holiday": ("Jour férié", "Public holiday"),
    "closure": ("Fermeture", "Closure"),
    "session": ("Cours", "Class"),
}


def _not_working(kind: str, d: date, cal: WorkingCalendar) -> Step:
    """The step saying day ``d`` is no jour ouvré, and why: its weekday, its holidays."""
    return step(kind, day=d, off_weekday=d.weekday() not in cal.weekdays, holidays=tuple(cal.holidays.get(d, ())))


# --- personal deadlines -------------------------------------------------------


def cpf_confirmation(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """D + N jours ouvrés, D not counted (FAQ Ipst-Cnam, délais CPF)."""
    n = centre.rules.cpf_working_days
    deadline = ouvres.add(origin, n)
    steps = [step("cpf-origin", origin=origin), step("cpf-delay", n=n)]
    counted = 0
    for day in days(origin + timedelta(days=1), deadline):
        if ouvres.is_working(day):
            counted += 1
            steps.append(step("counted-day", day=day, rank=counted))
        else:
            steps.append(_not_working("not-counted", day, ouvres))
    steps.append(step("cpf-deadline", deadline=deadline))
    return Deadline("cpf-confirmation", origin, deadline, "Confirmation CPF : date limite",
                    "CPF confirmation deadline", tuple(steps), sources.CPF)


def withdrawal(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """D + N calendar days, then prorogation (FAQ Ipst-Cnam; Code de procédure civile art. 642)."""
    n = centre.rules.withdrawal_days
    raw = origin + timedelta(days=n)
    deadline = prorogate(raw, ouvres)
    steps = [step("withdrawal-origin", origin=origin), step("calendar-days", origin=origin, n=n, raw=raw)]
    if deadline != raw:
        steps.append(_not_working("prorogated", raw, ouvres))
        for day in days(raw + timedelta(days=1), deadline - timedelta(days=1)):
            steps.append(_not_working("not-retained", day, ouvres))
    else:
        steps.append(step("no-prorogation", day=raw))
    steps.append(step("withdrawal-deadline", deadline=deadline))
    return Deadline("withdrawal", origin, deadline, f"Délai de rétractation ({n} jours) : date limite",
                    f"Withdrawal window ({n} days) ends", tuple(steps), sources.WITHDRAWAL)


def apprenticeship_contract(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """S + N months, same day number clipped to month end, no prorogation (FAQ Ipst-Cnam)."""
    n = centre.rules.apprenticeship_months
    deadline = add_months(origin, n)
    steps = [step("training-start", origin=origin), step("months-delay", n=n)]
    if deadline.day != origin.day:
        steps.append(step("month-clipped", origin_day=origin.day, deadline=deadline))
    else:
        steps.append(step("months-added", origin=origin, n=n, deadline=deadline))
    steps.append(step("no-postponement-status"))
    steps.append(step("apprenticeship-deadline", deadline=deadline))
    return Deadline("apprenticeship-contract", origin, deadline,
                    "Contrat d'apprentissage : date limite de signature",
                    "Apprenticeship contract: signature deadline", tuple(steps), sources.APPRENTICESHIP)


PERSONAL: dict[str, Callable[[date, Centre, WorkingCalendar], Deadline]] = {
    "cpf-confirmation": cpf_confirmation,
    "withdrawal": withdrawal,
    "apprenticeship-contract": apprenticeship_contract,
}


def personal_deadline(rule: str, origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """Apply personal rule ``rule`` to the learner's date ``origin``."""
    try:
        fn = PERSONAL[rule]
    except KeyError:
        raise RuleError(
            f"règle inconnue « {rule} »", hint="attendu : " + ", ".join(PERSONAL_RULES)
        ) from None
    found = fn(origin, centre, ouvres)
    return replace(found, source=sources.as_seen_by(found.source, centre))


# --- institutional events -----------------------------------------------------

Derived = dict[str, Event]


def _event(id: str, kind: str, title: str, title_en: str, start: date, end: date,
           steps: list[Step], source, extra: tuple[str, ...] = ()) -> Event:
    return Event(id, kind, title, title_en, start, end, tuple(steps), source,
                 (KIND_LABELS[kind][0], *extra))


def semester_1(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday of the ISO week of 15 Oct Y → Saturday of the ISO week of 15 Jan Y+1 (FAQ: mi-octobre à mi-janvier)."""
    oct15, jan15 = date(year, 10, 15), date(year + 1, 1, 15)
    start, end = monday_of_iso_week(oct15), saturday_of_iso_week(jan15)
    return _event("semester-1", "semester", "Semestre 1", "Semester 1", start, end, [
        step("rule-semester-1"), step("week-start", anchor=oct15, start=start),
        step("week-saturday", anchor=jan15, end=end),
    ], sources.SEMESTERS)


def semester_2(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday of the ISO week of 15 Feb Y+1 → 31 May Y+1 (FAQ: mi-février à fin mai)."""
    feb15 = date(year + 1, 2, 15)
    start, end = monday_of_iso_week(feb15), date(year + 1, 5, 31)
    return _event("semester-2", "semester", "Semestre 2", "Semester 2", start, end, [
        step("rule-semester-2"), step("week-start", anchor=feb15, start=start), step("ends", end=end),
    ], sources.SEMESTERS)


def exam_winter(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday after the end of semester 1 → Saturday before the start of semester 2."""
    s1, s2 = done["semester-1"], done["semester-2"]
    start, end = next_weekday_after(s1.end, MONDAY), previous_weekday_before(s2.start, SATURDAY)
    return _event("exam-winter", "exam", "Session d'examens d'hiver", "Winter exam session", start, end, [
        step("rule-exam-winter"), step("s1-ends", s1_end=s1.end, start=start),
        step("s2-starts", s2_start=s2.start, end=end), step("exam-winter-scope"),
    ], sources.EXAM_SESSIONS)


def exam_june(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """1 → 30 June Y+1."""
    start, end = date(year + 1, 6, 1), date(year + 1, 6, 30)
    return _event("exam-june", "exam", "Session d'examens de juin", "June exam session", start, end, [
        step("rule-month", month=6, year=year + 1), step("exam-june-scope"),
    ], sources.EXAM_SESSIONS)


def exam_september(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """1 → 30 September Y+1."""
    start, end = date(year + 1, 9, 1), date(year + 1, 9, 30)
    return _event("exam-september", "exam", "Session d'examens de septembre", "September exam session",
                  start, end, [
                      step("rule-month", month=9, year=year + 1), step("exam-september-scope"),
                  ], sources.EXAM_SESSIONS)


def registration_close(n: int, year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event | None:
    """The day before semester n starts, for centres that close registration at course start."""
    if not centre.rules.registration_closes_at_course_start:
        return None
    semester = done[f"semester-{n}"]
    day = semester.start - timedelta(days=1)
    return _event(f"registration-close-s{n}", "deadline", f"Clôture des inscriptions (semestre {n})",
                  f"Registration closes (semester {n})", day, day, [
                      step("rule-registration"), step("registration-last-day", n=n, start=semester.start, day=day),
                  ], sources.REGISTRATION)


def add_drop_close(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event | None:
    """Last day of February Y+1, for centres with the corrective form (bulletin rectificatif)."""
    if not centre.rules.add_drop_until_end_of_february:
        return None
    day = last_day_of_february(year + 1)
    return _event("add-drop-close", "deadline", "Ajout ou suppression d'UE : fin du bulletin rectificatif",
                  "Add/drop deadline (corrective form)", day, day, [
                      step("rule-add-drop"), step("february-last-day", day=day), step("no-postponement-centre"),
                  ], sources.ADD_DROP)


def cpf_latest_validation(n: int, year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Latest jour ouvré D whose CPF deadline (D + N jours ouvrés) falls before semester n starts."""
    k = centre.rules.cpf_working_days
    start = done[f"semester-{n}"].start
    last = ouvres.subtract(start, 1)
    day = ouvres.subtract(last, k) if k else last
    too_late = ouvres.add(day, 1)
    return _event(f"cpf-latest-validation-s{n}", "deadline",
                  f"CPF : dernière validation possible pour le semestre {n}",
                  f"CPF: latest validation for semester {n}", day, day, [
                      step("semester-starts", n=n, start=start), step("last-working-day", day=last),
                      step("count-back", k=k, day=day, until=ouvres.add(day, k)),
                      step("too-late", day=too_late, until=ouvres.add(too_late, k)),
                  ], sources.CPF)


# The per-semester rules are partial applications of plain functions (not closures), so that each
# line of them runs when a schedule is built (mutation testing can only reach code run then).
INSTITUTIONAL: dict[str, Callable[[int, Centre, WorkingCalendar, Derived], Event | None]] = {
    "semester-1": semester_1,
    "semester-2": semester_2,
    "exam-winter": exam_winter,
    "exam-june": exam_june,
    "exam-september": exam_september,
    "registration-close-s1": partial(registration_close, 1),
    "registration-close-s2": partial(registration_close, 2),
    "add-drop-close": add_drop_close,
    "cpf-latest-validation-s1": partial(cpf_latest_validation, 1),
    "cpf-latest-validation-s2": partial(cpf_latest_validation, 2),
}


def _apply_override(event: Event, centre: Centre, year: int) -> Event:
    override = centre.year(year).overrides.get(event.id)
    if override is None:
        return event
    start = override.start or event.start
    end = override.end or (override.start if event.start == event.end and override.start else event.end)
    steps = (
        step("override", file=centre.file_name, year=year, id=event.id, reason=override.reason or ""),
        step("override-rule-gave", start=event.start, end=event.end),
        *(Step(s.kind, {**s.values, "superseded": True}) for s in event.explanation),
    )
    return replace(event, start=start, end=end, explanation=steps, overridden=True)


def holiday_events(year: int, centre: Centre, ouvres: WorkingCalendar) -> list[Event]:
    """Each public holiday from 1 September Y to 30 September Y+1 (Code du travail L3133-1)."""
    events = []
    for day in days(date(year, 9, 1), date(year + 1, 9, 30)):
        names = ouvres.holidays.get(day)
        if not names:
            continue
        name = ", ".join(names)
        name_en = ", ".join(HOLIDAY_NAMES_EN.get(n, n) for n in names)
        steps = [step("holiday", day=day, names=tuple(names))]
        if centre.holiday_subdivision:
            steps.append(step("holiday-subdivision", subdivision=centre.holiday_subdivision))
        if day.weekday() >= 5:
            steps.append(step("holiday-weekend"))
        events.append(_event(f"holiday-{day.isoformat()}", "holiday", name, name_en, day, day, steps,
                             sources.HOLIDAYS))
    return events


def closure_events(year: int, centre: Centre) -> list[Event]:
    """The closures declared for year Y in the centre file."""
    return [
        _event(f"closure-{c.id}", "closure", c.label, f"Closure: {c.label}", c.start, c.end, [
            step("closure", file=centre.file_name, year=year, start=c.start, end=c.end),
            step("closure-no-class"),
        ], None)
        for c in centre.year(year).closures
    ]


def build_schedule(centre: Centre, year: int, ouvres: WorkingCalendar) -> Schedule:
    """Derive every institutional event of ``centre`` for academic year ``year``."""
    done: Derived = {}
    for event_id, rule in INSTITUTIONAL.items():
        event = rule(year, centre, ouvres, done)
        if event is not None:
            done[event_id] = _apply_override(event, centre, year)
    events = [replace(e, source=sources.as_seen_by(e.source, centre))
              for e in (*done.values(), *holiday_events(year, centre, ouvres), *closure_events(year, centre))]
    events.sort(key=lambda e: (e.start, e.end, e.id))
    return Schedule(centre, year, tuple(events))


def check_schedule(schedule: Schedule) -> list[str]:
    """Return every problem a person can name in a schedule (empty when sound)."""
    problems: list[str] = []
    where = f"{schedule.centre.path or schedule.centre.id} : années {schedule.label}"
    for event in schedule.events:
        if event.end < event.start:
            problems.append(f"{where} : « {event.id} » finit ({event.end}) avant de commencer ({event.start})")
    s1, s2 = schedule.get("semester-1"), schedule.get("semester-2")
    if s1 and s2 and s1.end >= s2.start:
        problems.append(f"{where} : le semestre 1 (fin {s1.end}) chevauche le semestre 2 (début {s2.start})")
    first, last = academic_window(schedule.year)
    for event in schedule.events:
        if event.kind in ("closure", "semester", "exam") and (event.start < first or event.end > last):
            problems.append(
                f"{where} : « {event.id} » ({event.start} – {event.end}) sort de l'année universitaire "
                f"({first} – {last})"
            )
    return problems
