"""The one text layer of explanations: a step of a derivation (its kind and values) → French or English.

The rules produce steps as data (``rules.model.Step``: a ``kind`` and a mapping of ``values``: dates,
counts, holiday names, the override's file and reason); this module writes them. It reads any object
with ``kind`` and ``values`` (or the plain ``{"kind", "values"}`` mapping a reminder payload carries,
dates as ISO strings), so it imports nothing of the package above it. One function per kind, in
``_KINDS``; each returns ``(french, english)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from cnam_calendar.text.i18n import HOLIDAY_NAMES_EN, day_name, decimal, long_date, ordinal_fr

SEMESTER_LABELS = {"S1": ("semestre 1", "semester 1"), "S2": ("semestre 2", "semester 2"),
                   "annual": ("annuelle", "full-year")}
MODALITIES_EN = {"cours du soir": "evening classes", "en ligne planifié": "scheduled online", "co-modal": "co-modal",
                 "hybride": "hybrid", "FOAD": "distance learning (FOAD)"}


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class _Dates:
    """The dates of one step written in one language: ``d.start`` → « lundi 12 octobre 2026 »."""

    def __init__(self, values: Mapping[str, Any], lang: str) -> None:
        self._values, self._lang = values, lang

    def __getattr__(self, key: str) -> str:
        return long_date(_day(self._values[key]), self._lang)


def _holidays(names: Iterable[str], lang: str) -> str:
    return ", ".join(HOLIDAY_NAMES_EN.get(n, n) if lang == "en" else n for n in names)


def _why(v: Mapping[str, Any], lang: str) -> str:
    """Why ``v["day"]`` is no jour ouvré: its weekday, its holidays."""
    reasons = [day_name(_day(v["day"]), lang)] if v.get("off_weekday") else []
    if v.get("holidays"):
        reasons.append(("public holiday: " if lang == "en" else "jour férié : ") + _holidays(v["holidays"], lang))
    return "; ".join(reasons) if lang == "en" else " ; ".join(reasons)


def _ordinal_en(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _anchor(v: Mapping[str, Any], lang: str) -> tuple[str, str]:
    anchor = _day(v["anchor"])
    return long_date(anchor, lang, weekday=False), day_name(anchor, lang)


def _span(v: Mapping[str, Any], lang: str) -> str:
    d = _Dates(v, lang)
    if _day(v["start"]) == _day(v["end"]):
        return d.start
    return f"{d.start} to {d.end}" if lang == "en" else f"du {d.start} au {d.end}"


Render = Callable[[Mapping[str, Any], _Dates, _Dates], tuple[str, str]]

_KINDS: dict[str, Render] = {
    # personal: CPF confirmation
    "cpf-origin": lambda v, f, e: (
        f"Validation de la demande CPF par le centre le {f.origin} (jour D, non compté).",
        f"The centre validated the CPF request on {e.origin} (day D, not counted)."),
    "cpf-delay": lambda v, f, e: (
        f"Délai : {v['n']} jours ouvrés (du lundi au vendredi, hors jours fériés), comptés à partir du lendemain.",
        f"Time allowed: {v['n']} working days (Monday to Friday, public holidays excluded), counted from the "
        "next day."),
    "counted-day": lambda v, f, e: (
        f"{f.day} : {ordinal_fr(v['rank'])} jour ouvré.", f"{e.day}: {_ordinal_en(v['rank'])} working day."),
    "not-counted": lambda v, f, e: (
        f"{f.day} : non compté ({_why(v, 'fr')}).", f"{e.day}: not counted ({_why(v, 'en')})."),
    "cpf-deadline": lambda v, f, e: (
        f"Date limite pour confirmer l'inscription sur Mon Compte Formation : {f.deadline}.",
        f"Deadline to confirm the registration on Mon Compte Formation: {e.deadline}."),
    # personal: withdrawal
    "withdrawal-origin": lambda v, f, e: (
        f"Réception du dossier d'inscription le {f.origin} (jour de départ, non compté).",
        f"Registration file received on {e.origin} (starting day, not counted)."),
    "calendar-days": lambda v, f, e: (
        f"{_day(v['origin']).isoformat()} + {v['n']} jours calendaires = {f.raw} "
        "(les jours fériés à l'intérieur du délai comptent).",
        f"{_day(v['origin']).isoformat()} + {v['n']} calendar days = {e.raw} "
        "(public holidays inside the period count)."),
    "prorogated": lambda v, f, e: (
        f"Le {f.day} n'est pas un jour ouvré ({_why(v, 'fr')}) : le délai est "
        "prorogé au premier jour suivant qui n'est ni un samedi, ni un dimanche, ni un jour férié "
        "(Code de procédure civile, art. 642).",
        f"{e.day} is not a working day ({_why(v, 'en')}): the period is extended to the next day that is "
        "neither a Saturday, a Sunday nor a public holiday (French Code of Civil Procedure, art. 642)."),
    "not-retained": lambda v, f, e: (
        f"{f.day} : non retenu ({_why(v, 'fr')}).", f"{e.day}: skipped ({_why(v, 'en')})."),
    "no-prorogation": lambda v, f, e: (
        f"Le {f.day} est un jour ouvré : pas de prorogation.", f"{e.day} is a working day: no extension."),
    "withdrawal-deadline": lambda v, f, e: (
        f"Date limite pour demander la suppression d'une UE ou l'annulation de l'inscription : {f.deadline}.",
        f"Deadline to ask to drop a UE or cancel the registration: {e.deadline}."),
    # personal: apprenticeship contract
    "training-start": lambda v, f, e: (f"Début de la formation le {f.origin}.", f"Training starts on {e.origin}."),
    "months-delay": lambda v, f, e: (
        f"Délai : {v['n']} mois, jusqu'au même quantième.",
        f"Time allowed: {v['n']} months, to the same day of the month."),
    "month-clipped": lambda v, f, e: (
        f"Le {v['origin_day']} du mois d'arrivée n'existe pas : le délai finit le dernier jour du mois, "
        f"le {f.deadline}.",
        f"Day {v['origin_day']} does not exist in the final month: the period ends on its last day, "
        f"{e.deadline}."),
    "months-added": lambda v, f, e: (
        f"{_day(v['origin']).isoformat()} + {v['n']} mois = {f.deadline}.",
        f"{_day(v['origin']).isoformat()} + {v['n']} months = {e.deadline}."),
    "no-postponement-status": lambda v, f, e: (
        "Pas de report si ce jour est un samedi, un dimanche ou un jour férié : c'est une durée "
        "de statut, pas un acte de procédure.",
        "No postponement if that day is a Saturday, a Sunday or a public holiday: it is a status period, "
        "not a procedural deadline."),
    "apprenticeship-deadline": lambda v, f, e: (
        f"Date limite pour signer le contrat d'apprentissage : {f.deadline}.",
        f"Deadline to sign the apprenticeship contract: {e.deadline}."),
    # semesters and exam sessions
    "rule-semester-1": lambda v, f, e: (
        "Règle : du lundi de la semaine ISO qui contient le 15 octobre au samedi de la semaine ISO "
        "qui contient le 15 janvier suivant (« de mi-octobre à mi-janvier »).",
        "Rule: from the Monday of the ISO week containing 15 October to the Saturday of the ISO week "
        "containing the following 15 January (\"mid-October to mid-January\")."),
    "rule-semester-2": lambda v, f, e: (
        "Règle : du lundi de la semaine ISO qui contient le 15 février au 31 mai (« de mi-février à fin mai »).",
        "Rule: from the Monday of the ISO week containing 15 February to 31 May (\"mid-February to end of "
        "May\")."),
    "week-start": lambda v, f, e: (
        "Le {} est un {} : la semaine commence le {}.".format(*_anchor(v, "fr"), f.start),
        "{} is a {}: the week starts on {}.".format(*_anchor(v, "en"), e.start)),
    "week-saturday": lambda v, f, e: (
        "Le {} est un {} : le samedi de cette semaine est le {}.".format(*_anchor(v, "fr"), f.end),
        "{} is a {}: the Saturday of that week is {}.".format(*_anchor(v, "en"), e.end)),
    "ends": lambda v, f, e: (f"Fin : le {f.end}.", f"End: {e.end}."),
    "rule-exam-winter": lambda v, f, e: (
        "Règle : du lundi qui suit la fin du semestre 1 au samedi qui précède le début du semestre 2.",
        "Rule: from the Monday after the end of semester 1 to the Saturday before the start of semester 2."),
    "s1-ends": lambda v, f, e: (
        f"Le semestre 1 finit le {f.s1_end} : la session commence le {f.start}.",
        f"Semester 1 ends on {e.s1_end}: the session starts on {e.start}."),
    "s2-starts": lambda v, f, e: (
        f"Le semestre 2 commence le {f.s2_start} : la session finit le {f.end}.",
        f"Semester 2 starts on {e.s2_start}: the session ends on {e.end}."),
    "exam-winter-scope": lambda v, f, e: (
        "Première session des UE du semestre 1.", "First sitting of the semester 1 UEs."),
    "rule-month": lambda v, f, e: (
        f"Règle : du 1er au 30 {long_date(date(v['year'], v['month'], 1), weekday=False)[4:]}.",
        f"Rule: from 1 to 30 {long_date(date(v['year'], v['month'], 1), 'en', weekday=False)[2:]}."),
    "exam-june-scope": lambda v, f, e: (
        "Deuxième session des UE du semestre 1 ; première session des UE du semestre 2 et des UE annuelles.",
        "Second sitting of the semester 1 UEs; first sitting of the semester 2 and full-year UEs."),
    "exam-september-scope": lambda v, f, e: (
        "Deuxième session des UE du semestre 2 et des UE annuelles.",
        "Second sitting of the semester 2 and full-year UEs."),
    # deadlines of the centre
    "rule-registration": lambda v, f, e: (
        "Règle du centre : l'inscription est possible jusqu'au démarrage des cours.",
        "Centre rule: registration is open until classes start."),
    "registration-last-day": lambda v, f, e: (
        f"Le semestre {v['n']} commence le {f.start} : dernier jour pour s'inscrire le {f.day}.",
        f"Semester {v['n']} starts on {e.start}: last day to register {e.day}."),
    "rule-add-drop": lambda v, f, e: (
        "Règle du centre : ajout ou suppression d'UE par bulletin rectificatif jusqu'à fin février.",
        "Centre rule: UEs may be added or dropped with the corrective form until the end of February."),
    "february-last-day": lambda v, f, e: (
        f"Dernier jour de février {_day(v['day']).year} : {f.day}"
        + (" (année bissextile)." if _day(v["day"]).day == 29 else "."),
        f"Last day of February {_day(v['day']).year}: {e.day}"
        + (" (leap year)." if _day(v["day"]).day == 29 else ".")),
    "no-postponement-centre": lambda v, f, e: (
        "Pas de report si ce jour est un samedi ou un dimanche : c'est une date du calendrier "
        "du centre, pas un délai.",
        "No postponement if that day is a Saturday or a Sunday: it is a date of the centre's calendar, "
        "not a time limit."),
    "semester-starts": lambda v, f, e: (
        f"Le semestre {v['n']} commence le {f.start} ; le dossier doit être confirmé avant.",
        f"Semester {v['n']} starts on {e.start}; the file must be confirmed before then."),
    "last-working-day": lambda v, f, e: (
        f"Dernier jour ouvré avant le début : {f.day}.", f"Last working day before the start: {e.day}."),
    "count-back": lambda v, f, e: (
        f"En comptant {v['k']} jours ouvrés en arrière : validation au plus tard le {f.day}, "
        f"confirmation possible jusqu'au {f.until}.",
        f"Counting {v['k']} working days back: validation on {e.day} at the latest, confirmation possible "
        f"until {e.until}."),
    "too-late": lambda v, f, e: (
        f"Une validation le {f.day} donnerait jusqu'au {f.until} pour confirmer : trop tard pour ce semestre.",
        f"A validation on {e.day} would leave until {e.until} to confirm: too late for this semester."),
    # overrides, holidays, closures
    "override": lambda v, f, e: (
        f"Date fixée par le centre ({v['file']} : years.{v['year']}.overrides.{v['id']})"
        + (f", motif : {v['reason']}" if v.get("reason") else "") + ".",
        f"Date set by the centre ({v['file']}: years.{v['year']}.overrides.{v['id']})"
        + (f", reason: {v['reason']}" if v.get("reason") else "") + "."),
    "override-rule-gave": lambda v, f, e: (
        f"Sans cette dérogation, la règle aurait donné : {_span(v, 'fr')}.",
        f"Without this override, the rule would have given: {_span(v, 'en')}."),
    "holiday": lambda v, f, e: (
        f"Jour férié le {f.day} : {_holidays(v['names'], 'fr')}.",
        f"Public holiday on {e.day}: {_holidays(v['names'], 'en')}."),
    "holiday-subdivision": lambda v, f, e: (
        f"Calendrier des jours fériés de la subdivision {v['subdivision']}.",
        f"Public holidays of subdivision {v['subdivision']}."),
    "holiday-weekend": lambda v, f, e: (
        "Il tombe un week-end : il n'est pas reporté.", "It falls on a weekend: it is not moved."),
    "closure": lambda v, f, e: (
        f"Fermeture déclarée par le centre ({v['file']} : years.{v['year']}.closures) : du {f.start} au {f.end}.",
        f"Closure declared by the centre ({v['file']}: years.{v['year']}.closures): {e.start} to {e.end}."),
    "closure-no-class": lambda v, f, e: ("Pas de cours pendant la fermeture.", "No classes during the closure."),
    # weekly sessions and the exams of a UE
    "sessions-untimed": lambda v, f, e: (
        f"{v['code']} est en {v['modality']} : pas de séance à heure fixe.",
        f"{v['code']} is {MODALITIES_EN.get(v['modality'], v['modality'])}: no session at a fixed time."),
    "sessions-timed": lambda v, f, e: (
        f"UE {SEMESTER_LABELS[v['semester']][0]}, {v['modality']}, le {day_name(_day(v['first']))} "
        f"de {v['start']} à {v['end']} (heure locale, {v['tz']}).",
        f"UE {SEMESTER_LABELS[v['semester']][1]}, {MODALITIES_EN.get(v['modality'], v['modality'])}, on "
        f"{day_name(_day(v['first']), 'en')}s from {v['start']} to {v['end']} (local time, {v['tz']})."),
    "sessions-count": lambda v, f, e: (
        f"{v['count']} séances du {f.first} au {f.last}, soit {decimal(v['hours'])} h.",
        f"{v['count']} sessions from {e.first} to {e.last}, that is {decimal(v['hours'], 'en')} h."),
    "session-skipped": lambda v, f, e: (
        f"{f.day} : {render(v['reason'], 'fr')}.", f"{e.day}: {render(v['reason'], 'en')}."),
    "no-class-intersemester": lambda v, f, e: (
        "pas de cours : intersemestre (session d'examens d'hiver)",
        "no class: between semesters (winter exam session)"),
    "no-class-holiday": lambda v, f, e: (
        f"pas de cours : {v['title']} (jour férié)", f"no class: {v['title_en']} (public holiday)"),
    "no-class-closure": lambda v, f, e: (
        f"pas de cours : {v['title']} (fermeture du centre)", f"no class: {v['title_en']} (centre closure)"),
    "exam-ue-semester": lambda v, f, e: (
        f"UE {SEMESTER_LABELS[v['semester']][0]} : "
        + ("session d’hiver puis juin." if v["semester"] == "S1" else "sessions de juin puis de septembre."),
        f"UE {SEMESTER_LABELS[v['semester']][1]}: "
        + ("winter then June session." if v["semester"] == "S1" else "June then September sessions.")),
    "exam-sitting": lambda v, f, e: (
        f"{'1re session' if v['rank'] == 1 else '2e session'} de {v['code']} : {v['title']}, "
        f"du {f.start} au {f.end}.",
        f"{'First' if v['rank'] == 1 else 'Second'} sitting of {v['code']}: {v['title_en']}, "
        f"{e.start} to {e.end}."),
    "exam-date-published": lambda v, f, e: (
        "La date exacte de l'épreuve est publiée par le service des examens.",
        "The exact date of the exam is published by the exams office."),
}
KINDS = frozenset(_KINDS)


def _parts(step: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(step, Mapping):
        return step["kind"], step["values"]
    return step.kind, step.values


def render(step: Any, lang: str = "fr") -> str:
    """Write one step in ``lang`` (fr or en); a step the rule left behind an override gets « (règle) »."""
    kind, values = _parts(step)
    fr, en = _KINDS[kind](values, _Dates(values, "fr"), _Dates(values, "en"))
    text = en if lang == "en" else fr
    if values.get("superseded"):
        return ("(rule) " if lang == "en" else "(règle) ") + text
    return text


def render_all(steps: Iterable[Any], lang: str = "fr") -> tuple[str, ...]:
    """Write every step of an explanation in ``lang``."""
    return tuple(render(s, lang) for s in steps)


def as_json(steps: Sequence[Any], lang: str = "fr") -> dict[str, list]:
    """Return an explanation for JSON output: its text in ``lang`` and its steps as data."""
    return {"explanation": list(render_all(steps, lang)), "steps": [s.data() for s in steps]}

