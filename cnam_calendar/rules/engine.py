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
from cnam_calendar.rules.model import Centre, Deadline, Event, Schedule
from cnam_calendar.text.i18n import HOLIDAY_NAMES_EN, day_name, long_date, ordinal_fr

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

d_ = long_date  # short alias: explanations are full of dates


def _why_not_working(d: date, cal: WorkingCalendar) -> str:
    reasons = []
    if d.weekday() not in cal.weekdays:
        reasons.append(day_name(d))
    if d in cal.holidays:
        reasons.append("jour férié : " + ", ".join(cal.holidays[d]))
    return " ; ".join(reasons)


# --- personal deadlines -------------------------------------------------------


def cpf_confirmation(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """D + N jours ouvrés, D not counted (FAQ Ipst-Cnam, délais CPF)."""
    n = centre.rules.cpf_working_days
    deadline = ouvres.add(origin, n)
    steps = [
        f"Validation de la demande CPF par le centre le {d_(origin)} (jour D, non compté).",
        f"Délai : {n} jours ouvrés (du lundi au vendredi, hors jours fériés), comptés à partir du lendemain.",
    ]
    counted = 0
    for day in days(origin + timedelta(days=1), deadline):
        if ouvres.is_working(day):
            counted += 1
            steps.append(f"{d_(day)} : {ordinal_fr(counted)} jour ouvré.")
        else:
            steps.append(f"{d_(day)} : non compté ({_why_not_working(day, ouvres)}).")
    steps.append(f"Date limite pour confirmer l'inscription sur Mon Compte Formation : {d_(deadline)}.")
    return Deadline("cpf-confirmation", origin, deadline, "Confirmation CPF : date limite",
                    "CPF confirmation deadline", tuple(steps), sources.CPF)


def withdrawal(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """D + N calendar days, then prorogation (FAQ Ipst-Cnam; Code de procédure civile art. 642)."""
    n = centre.rules.withdrawal_days
    raw = origin + timedelta(days=n)
    deadline = prorogate(raw, ouvres)
    steps = [
        f"Réception du dossier d'inscription le {d_(origin)} (jour de départ, non compté).",
        f"{origin.isoformat()} + {n} jours calendaires = {d_(raw)} "
        "(les jours fériés à l'intérieur du délai comptent).",
    ]
    if deadline != raw:
        steps.append(
            f"Le {d_(raw)} n'est pas un jour ouvré ({_why_not_working(raw, ouvres)}) : le délai est "
            "prorogé au premier jour suivant qui n'est ni un samedi, ni un dimanche, ni un jour férié "
            "(Code de procédure civile, art. 642)."
        )
        for day in days(raw + timedelta(days=1), deadline - timedelta(days=1)):
            steps.append(f"{d_(day)} : non retenu ({_why_not_working(day, ouvres)}).")
    else:
        steps.append(f"Le {d_(raw)} est un jour ouvré : pas de prorogation.")
    steps.append(
        f"Date limite pour demander la suppression d'une UE ou l'annulation de l'inscription : {d_(deadline)}."
    )
    return Deadline("withdrawal", origin, deadline, "Délai de rétractation (10 jours) : date limite",
                    "Withdrawal window (10 days) ends", tuple(steps), sources.WITHDRAWAL)


def apprenticeship_contract(origin: date, centre: Centre, ouvres: WorkingCalendar) -> Deadline:
    """S + N months, same day number clipped to month end, no prorogation (FAQ Ipst-Cnam)."""
    n = centre.rules.apprenticeship_months
    deadline = add_months(origin, n)
    steps = [f"Début de la formation le {d_(origin)}.", f"Délai : {n} mois, jusqu'au même quantième."]
    if deadline.day != origin.day:
        steps.append(
            f"Le {origin.day} du mois d'arrivée n'existe pas : le délai finit le dernier jour du mois, "
            f"le {d_(deadline)}."
        )
    else:
        steps.append(f"{origin.isoformat()} + {n} mois = {d_(deadline)}.")
    steps.append(
        "Pas de report si ce jour est un samedi, un dimanche ou un jour férié : c'est une durée "
        "de statut, pas un acte de procédure."
    )
    steps.append(f"Date limite pour signer le contrat d'apprentissage : {d_(deadline)}.")
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
           steps: list[str], source, extra: tuple[str, ...] = ()) -> Event:
    return Event(id, kind, title, title_en, start, end, tuple(steps), source,
                 (KIND_LABELS[kind][0], *extra))


def semester_1(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday of the ISO week of 15 Oct Y → Saturday of the ISO week of 15 Jan Y+1 (FAQ: mi-octobre à mi-janvier)."""
    oct15, jan15 = date(year, 10, 15), date(year + 1, 1, 15)
    start, end = monday_of_iso_week(oct15), saturday_of_iso_week(jan15)
    return _event("semester-1", "semester", "Semestre 1", "Semester 1", start, end, [
        "Règle : du lundi de la semaine ISO qui contient le 15 octobre au samedi de la semaine ISO "
        "qui contient le 15 janvier suivant (« de mi-octobre à mi-janvier »).",
        f"Le 15 octobre {year} est un {day_name(oct15)} : la semaine commence le {d_(start)}.",
        f"Le 15 janvier {year + 1} est un {day_name(jan15)} : le samedi de cette semaine est le {d_(end)}.",
    ], sources.SEMESTERS)


def semester_2(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday of the ISO week of 15 Feb Y+1 → 31 May Y+1 (FAQ: mi-février à fin mai)."""
    feb15 = date(year + 1, 2, 15)
    start, end = monday_of_iso_week(feb15), date(year + 1, 5, 31)
    return _event("semester-2", "semester", "Semestre 2", "Semester 2", start, end, [
        "Règle : du lundi de la semaine ISO qui contient le 15 février au 31 mai (« de mi-février à fin mai »).",
        f"Le 15 février {year + 1} est un {day_name(feb15)} : la semaine commence le {d_(start)}.",
        f"Fin : le {d_(end)}.",
    ], sources.SEMESTERS)


def exam_winter(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """Monday after the end of semester 1 → Saturday before the start of semester 2."""
    s1, s2 = done["semester-1"], done["semester-2"]
    start, end = next_weekday_after(s1.end, MONDAY), previous_weekday_before(s2.start, SATURDAY)
    return _event("exam-winter", "exam", "Session d'examens d'hiver", "Winter exam session", start, end, [
        "Règle : du lundi qui suit la fin du semestre 1 au samedi qui précède le début du semestre 2.",
        f"Le semestre 1 finit le {d_(s1.end)} : la session commence le {d_(start)}.",
        f"Le semestre 2 commence le {d_(s2.start)} : la session finit le {d_(end)}.",
        "Première session des UE du semestre 1.",
    ], sources.EXAM_SESSIONS)


def exam_june(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """1 → 30 June Y+1."""
    start, end = date(year + 1, 6, 1), date(year + 1, 6, 30)
    return _event("exam-june", "exam", "Session d'examens de juin", "June exam session", start, end, [
        f"Règle : du 1er au 30 juin {year + 1}.",
        "Deuxième session des UE du semestre 1 ; première session des UE du semestre 2 et des UE annuelles.",
    ], sources.EXAM_SESSIONS)


def exam_september(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event:
    """1 → 30 September Y+1."""
    start, end = date(year + 1, 9, 1), date(year + 1, 9, 30)
    return _event("exam-september", "exam", "Session d'examens de septembre", "September exam session",
                  start, end, [
                      f"Règle : du 1er au 30 septembre {year + 1}.",
                      "Deuxième session des UE du semestre 2 et des UE annuelles.",
                  ], sources.EXAM_SESSIONS)


def registration_close(n: int, year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event | None:
    """The day before semester n starts, for centres that close registration at course start."""
    if not centre.rules.registration_closes_at_course_start:
        return None
    semester = done[f"semester-{n}"]
    day = semester.start - timedelta(days=1)
    return _event(f"registration-close-s{n}", "deadline", f"Clôture des inscriptions (semestre {n})",
                  f"Registration closes (semester {n})", day, day, [
                      "Règle du centre : l'inscription est possible jusqu'au démarrage des cours.",
                      f"Le semestre {n} commence le {d_(semester.start)} : dernier jour pour s'inscrire "
                      f"le {d_(day)}.",
                  ], sources.REGISTRATION)


def add_drop_close(year: int, centre: Centre, ouvres: WorkingCalendar, done: Derived) -> Event | None:
    """Last day of February Y+1, for centres with the corrective form (bulletin rectificatif)."""
    if not centre.rules.add_drop_until_end_of_february:
        return None
    day = last_day_of_february(year + 1)
    return _event("add-drop-close", "deadline", "Ajout ou suppression d'UE : fin du bulletin rectificatif",
                  "Add/drop deadline (corrective form)", day, day, [
                      "Règle du centre : ajout ou suppression d'UE par bulletin rectificatif jusqu'à fin février.",
                      f"Dernier jour de février {year + 1} : {d_(day)}"
                      + (" (année bissextile)." if day.day == 29 else "."),
                      "Pas de report si ce jour est un samedi ou un dimanche : c'est une date du calendrier "
                      "du centre, pas un délai.",
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
                      f"Le semestre {n} commence le {d_(start)} ; le dossier doit être confirmé avant.",
                      f"Dernier jour ouvré avant le début : {d_(last)}.",
                      f"En comptant {k} jours ouvrés en arrière : validation au plus tard le {d_(day)}, "
                      f"confirmation possible jusqu'au {d_(ouvres.add(day, k))}.",
                      f"Une validation le {d_(too_late)} donnerait jusqu'au {d_(ouvres.add(too_late, k))} "
                      "pour confirmer : trop tard pour ce semestre.",
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
    where = f"{centre.file_name} : years.{year}.overrides.{event.id}"
    start = override.start or event.start
    end = override.end or (override.start if event.start == event.end and override.start else event.end)
    steps = (
        f"Date fixée par le centre ({where})"
        + (f", motif : {override.reason}" if override.reason else "") + ".",
        "Sans cette dérogation, la règle aurait donné : "
        + (d_(event.start) if event.start == event.end else f"du {d_(event.start)} au {d_(event.end)}") + ".",
        *("(règle) " + s for s in event.explanation),
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
        steps = [f"Jour férié le {d_(day)} : {name}."]
        if centre.holiday_subdivision:
            steps.append(f"Calendrier des jours fériés de la subdivision {centre.holiday_subdivision}.")
        if day.weekday() >= 5:
            steps.append("Il tombe un week-end : il n'est pas reporté.")
        events.append(_event(f"holiday-{day.isoformat()}", "holiday", name, name_en, day, day, steps,
                             sources.HOLIDAYS))
    return events


def closure_events(year: int, centre: Centre) -> list[Event]:
    """The closures declared for year Y in the centre file."""
    return [
        _event(f"closure-{c.id}", "closure", c.label, f"Closure: {c.label}", c.start, c.end, [
            f"Fermeture déclarée par le centre ({centre.file_name} : years.{year}.closures) : "
            f"du {d_(c.start)} au {d_(c.end)}.",
            "Pas de cours pendant la fermeture.",
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
