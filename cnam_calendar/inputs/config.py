"""Load calendars/<centre>.toml into the model, or raise ConfigError naming every problem."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from datetime import date, time
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from cnam_calendar.inputs import toml_fr
from cnam_calendar.inputs.holidays_fr import SUBDIVISIONS
from cnam_calendar.rules.checks import (
    YEAR_MAX,
    YEAR_MIN,
    academic_window,
    control_character,
    out_of_range,
    parse_count,
    parse_year,
)
from cnam_calendar.rules.engine import OVERRIDABLE
from cnam_calendar.rules.errors import ConfigError, UnreadableError
from cnam_calendar.rules.model import (
    Centre,
    Closure,
    Contact,
    HoursRule,
    Override,
    ReminderPolicy,
    RuleSettings,
    Site,
    YearSettings,
)

DEFAULT_DIR = "calendars"
TEMPLATE = "example.toml"  # documented template, never built

TYPE_NAMES = {str: "du texte", int: "un entier", float: "un nombre", bool: "true ou false",
              date: "une date (AAAA-MM-JJ)", time: "une heure (HH:MM:SS)", list: "une liste",
              dict: "une table"}


class _Reader:
    """Walk a parsed TOML document, collecting every problem instead of stopping at the first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ConfigError] = []
        self.suggested: set[str] = set()  # keys an unknown key was taken for: not also « absente »

    def problem(self, key: str, message: str, hint: str | None = None) -> None:
        self.problems.append(ConfigError(message, where=f"{self.path} : {key}" if key else self.path, hint=hint))

    def keys(self, table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"vouliez-vous dire « {close[0]} » ?" if close else "clés connues : " + ", ".join(allowed)
                if close and close[0] not in table:
                    self.suggested.add(_join(prefix, close[0]))
                self.problem(_join(prefix, key), "clé inconnue", hint)

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type, default: Any = None,
            required: bool = False) -> Any:
        if key not in table:
            if required and _join(prefix, key) not in self.suggested:
                self.problem(_join(prefix, key), "clé obligatoire absente", f"attendu : {TYPE_NAMES[kind]}")
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if kind is date and type(value) is not date:
            ok = False
        if not ok:
            self.problem(_join(prefix, key), f"valeur de type incorrect ({value!r})", f"attendu : {TYPE_NAMES[kind]}")
            return default
        if kind is str:
            return self.text(_join(prefix, key), value, default, required)
        return value

    def text(self, key: str, value: str, default: Any = None, required: bool = False) -> Any:
        """Return ``value`` when it is printable text (and not blank when ``required``), else report it."""
        bad = control_character(value)
        if bad:
            self.problem(key, bad, "attendu : du texte sur une ligne, sans caractère de contrôle")
            return default
        if required and not value.strip():
            self.problem(key, "valeur vide", "attendu : un texte non vide")
            return default
        return value

    def number(self, key: str, value: float | None, low: float, high: float, expected: str) -> None:
        """Report ``value`` when it is not a finite number within [low, high]; ``expected`` says the range."""
        if value is not None and out_of_range(value, low, high):
            self.problem(key, f"valeur {value} hors des bornes", f"attendu : {expected}")

    def table(self, table: Mapping[str, Any], prefix: str, key: str) -> dict[str, Any]:
        return self.get(table, prefix, key, dict, {}) or {}


def _join(prefix: str, key: str) -> str:
    key = f'"{key}"' if not key.replace("_", "").replace("-", "").isalnum() else key
    return f"{prefix}.{key}" if prefix else key


# The sane range of each number of a centre file (every message states it).
RANGES = {
    "rules.cpf_working_days": (1, 30, "un entier de 1 à 30 (jours ouvrés)"),  # 0 would end before the validation
    "rules.withdrawal_days": (1, 365, "un entier de 1 à 365 (jours)"),
    "rules.apprenticeship_months": (1, 36, "un entier de 1 à 36 (mois)"),
    "rules.hours.per_ects": (0.5, 100, "un nombre d'heures par crédit de 0,5 à 100, ex. 8"),
    "rules.hours.table": (1, 2000, "un nombre d'heures de 1 à 2000"),
    "reminders.offsets": (1, 365, "une liste d'entiers de 1 à 365 (jours avant), ex. [7, 1]"),
    "reminders.notice_holdback_minutes": (0, 1440, "un entier de 0 à 1440 (minutes), ex. 30"),
}
MAX_ECTS, MAX_OFFSETS = 60, 10


def _bounded(r: _Reader, key: str, value: float | None) -> None:
    low, high, expected = RANGES[key]
    r.number(key, value, low, high, expected)


def _rules(r: _Reader, doc: Mapping[str, Any]) -> RuleSettings:
    t = r.table(doc, "", "rules")
    r.keys(t, "rules", ("cpf_working_days", "withdrawal_days", "apprenticeship_months",
                        "registration_closes_at_course_start", "add_drop_until_end_of_february", "hours"))
    d = RuleSettings()
    values = {
        "cpf_working_days": r.get(t, "rules", "cpf_working_days", int, d.cpf_working_days),
        "withdrawal_days": r.get(t, "rules", "withdrawal_days", int, d.withdrawal_days),
        "apprenticeship_months": r.get(t, "rules", "apprenticeship_months", int, d.apprenticeship_months),
    }
    for key, value in values.items():
        _bounded(r, f"rules.{key}", value)
        if value is not None and out_of_range(value, *RANGES[f"rules.{key}"][:2]):
            values[key] = getattr(d, key)
    h = r.table(t, "rules", "hours")
    r.keys(h, "rules.hours", ("per_ects", "tolerance", "table"))
    per_ects = r.get(h, "rules.hours", "per_ects", float, 8.0)
    tolerance = r.get(h, "rules.hours", "tolerance", float, 0.10)
    _bounded(r, "rules.hours.per_ects", per_ects)
    if tolerance is not None and out_of_range(tolerance, 0, 0.99):
        r.problem("rules.hours.tolerance", f"valeur {tolerance} hors des bornes",
                  "attendu : une fraction de 0 à 0.99, ex. 0.10 pour 10 %")
        tolerance = None
    if per_ects is not None and out_of_range(per_ects, *RANGES["rules.hours.per_ects"][:2]):
        per_ects = None
    table: dict[int, float] = {}
    for ects, hours in r.table(h, "rules.hours", "table").items():
        key = f"rules.hours.table.{_join('', ects)}"
        credits = parse_count(ects)
        if credits is None or not 1 <= credits <= MAX_ECTS:
            r.problem(key, "nombre de crédits invalide",
                      f'attendu : un entier de 1 à {MAX_ECTS} entre guillemets, ex. "4" = 40')
        elif isinstance(hours, bool) or not isinstance(hours, int | float):
            r.problem(key, f"nombre d'heures invalide ({hours!r})", f"attendu : {RANGES['rules.hours.table'][2]}")
        elif out_of_range(hours, *RANGES["rules.hours.table"][:2]):
            _bounded(r, "rules.hours.table", hours)
        else:
            table[credits] = float(hours)
    return RuleSettings(
        **values,
        registration_closes_at_course_start=r.get(t, "rules", "registration_closes_at_course_start", bool, False),
        add_drop_until_end_of_february=r.get(t, "rules", "add_drop_until_end_of_february", bool, False),
        hours=HoursRule(per_ects or 8.0, tolerance if tolerance is not None else 0.10, table),
    )


def _reminders(r: _Reader, doc: Mapping[str, Any]) -> ReminderPolicy:
    t = r.table(doc, "", "reminders")
    r.keys(t, "reminders", ("time", "offsets_days", "exam_offsets_days", "sender", "unsubscribe",
                            "notice_holdback_minutes"))
    d = ReminderPolicy()
    at = r.get(t, "reminders", "time", time, d.time)
    offsets = []
    for key, default in (("offsets_days", d.offsets_days), ("exam_offsets_days", d.exam_offsets_days)):
        value = r.get(t, "reminders", key, list, list(default))
        low, high, expected = RANGES["reminders.offsets"]
        if len(value) > MAX_OFFSETS or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
                                                for v in value):
            r.problem(f"reminders.{key}", f"valeur {value!r} invalide",
                      f"attendu : {expected}, {MAX_OFFSETS} au plus")
            value = list(default)
        offsets.append(tuple(sorted(set(value), reverse=True)))
    addresses = []
    for key in ("sender", "unsubscribe"):
        value = r.get(t, "reminders", key, str, "")
        if value and "@" not in parseaddr(value)[1]:
            r.problem(f"reminders.{key}", f"adresse « {value} » invalide",
                      'attendu : une adresse e-mail, ex. "rappels@centre.example" ou "Centre <rappels@centre.example>"')
            value = ""
        addresses.append(value)
    holdback = r.get(t, "reminders", "notice_holdback_minutes", int, d.notice_holdback_minutes)
    low, high, expected = RANGES["reminders.notice_holdback_minutes"]
    if isinstance(holdback, bool) or not isinstance(holdback, int) or not low <= holdback <= high:
        r.problem("reminders.notice_holdback_minutes", f"valeur {holdback!r} invalide", f"attendu : {expected}")
        holdback = d.notice_holdback_minutes
    return ReminderPolicy(at, offsets[0], offsets[1], *addresses, notice_holdback_minutes=holdback)


def _sites(r: _Reader, doc: Mapping[str, Any]) -> tuple[Site, ...]:
    sites = []
    for i, t in enumerate(r.get(doc, "", "sites", list, [])):
        prefix = f"sites[{i}]"
        if not isinstance(t, dict):
            r.problem(prefix, "chaque site doit être une table", 'attendu : [[sites]] id = "…" name = "…"')
            continue
        r.keys(t, prefix, ("id", "name", "address"))
        sites.append(Site(r.get(t, prefix, "id", str, "", required=True), r.get(t, prefix, "name", str, "", required=True),
                          r.get(t, prefix, "address", str, "")))
    return tuple(sites)


def _year(r: _Reader, key: str, t: Mapping[str, Any]) -> tuple[int, YearSettings] | None:
    prefix = f"years.{_join('', key)}"
    year = parse_year(key)
    if year is None:
        r.problem(prefix, "année invalide",
                  f"attendu : [years.2026] pour l'année universitaire 2026-2027, de {YEAR_MIN} à {YEAR_MAX}")
        return None
    first, last = academic_window(year)
    within = f"entre le {first} et le {last}, l'année universitaire {year}-{year + 1}"
    if not isinstance(t, dict):
        r.problem(prefix, "doit être une table", "attendu : [years.AAAA]")
        return None
    r.keys(t, prefix, ("closures", "overrides"))
    closures = []
    seen: set[str] = set()
    for i, c in enumerate(r.get(t, prefix, "closures", list, [])):
        cp = f"{prefix}.closures[{i}]"
        if not isinstance(c, dict):
            r.problem(cp, "chaque fermeture doit être une table", 'attendu : { id = "noel", start = …, end = …, label = "…" }')
            continue
        r.keys(c, cp, ("id", "label", "start", "end"))
        cid, label = r.get(c, cp, "id", str, "", required=True), r.get(c, cp, "label", str, "", required=True)
        start, end = r.get(c, cp, "start", date, None, required=True), r.get(c, cp, "end", date, None, required=True)
        if cid and cid in seen:
            r.problem(f"{cp}.id", f"identifiant « {cid} » déjà utilisé", "attendu : un id unique par année")
        seen.add(cid)
        if cid and not cid.replace("-", "").isalnum():
            r.problem(f"{cp}.id", f"identifiant « {cid} » invalide", "attendu : lettres, chiffres et tirets")
        if start and end:  # check_schedule says when it ends before it starts or leaves the year
            closures.append(Closure(cid, label, start, end))
    overrides = {}
    for event_id, o in r.table(t, prefix, "overrides").items():
        op = f"{prefix}.overrides.{_join('', event_id)}"
        if event_id not in OVERRIDABLE:
            close = difflib.get_close_matches(event_id, OVERRIDABLE, n=1)
            r.problem(op, "événement inconnu ou non modifiable",
                      f"vouliez-vous dire « {close[0]} » ?" if close else "attendu : " + ", ".join(OVERRIDABLE))
            continue
        if not isinstance(o, dict):
            r.problem(op, "doit être une table", "attendu : { start = AAAA-MM-JJ, end = AAAA-MM-JJ, reason = \"…\" }")
            continue
        r.keys(o, op, ("date", "start", "end", "reason"))
        on = r.get(o, op, "date", date)
        start, end = r.get(o, op, "start", date, on), r.get(o, op, "end", date, on)
        if start is None and end is None:
            r.problem(op, "aucune date donnée", "attendu : date, start ou end")
            continue
        # an exact date replaces a derivation within the year; other dates are derived from it
        if not _within(r, op, {"date": on} if on else {"start": start, "end": end}, first, last, within):
            continue
        overrides[event_id] = Override(event_id, start, end, r.get(o, op, "reason", str, ""))
    return year, YearSettings(overrides, tuple(closures))


def _within(r: _Reader, prefix: str, dates: Mapping[str, date | None], first: date, last: date,
            expected: str) -> bool:
    """Report each date of ``dates`` outside [first, last]; tell whether all are within."""
    ok = True
    for key, day in dates.items():
        if day is not None and not first <= day <= last:
            r.problem(f"{prefix}.{key}", f"date {day} hors de l'année", f"attendu : {expected}")
            ok = False
    return ok


def parse_centre(text: str, path: str) -> Centre:
    """Parse the text of a centre file; ``path`` names it in messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, column, check = toml_fr.explain(str(exc))
        raise UnreadableError(f"TOML invalide : {message}", where=toml_fr.place(path, line, column, text),
                              hint=f"attendu : {check}") from None
    except RecursionError:
        raise UnreadableError("TOML invalide : listes ou tables imbriquées trop profondément", where=path,
                          hint="attendu : des listes d'au plus quelques niveaux, ex. departments = [\"31\"]") from None
    r = _Reader(path)
    r.keys(doc, "", ("id", "name", "timezone", "holiday_subdivision", "departments", "sites", "contact",
                     "faq_url", "faq_name", "rules", "reminders", "years"))
    stem = Path(path).stem
    centre_id = r.get(doc, "", "id", str, stem, required=True)
    if centre_id and centre_id != stem and Path(path).name != TEMPLATE:
        r.problem("id", f"« {centre_id} » ne correspond pas au nom du fichier", f"attendu : « {stem} »")
    tz = r.get(doc, "", "timezone", str, "Europe/Paris")
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):
        r.problem("timezone", f"fuseau horaire inconnu « {tz} »", "attendu : un nom IANA, ex. Europe/Paris")
    subdiv = r.get(doc, "", "holiday_subdivision", str, "") or None
    if subdiv is not None and subdiv not in SUBDIVISIONS:
        r.problem("holiday_subdivision", f"subdivision inconnue « {subdiv} »",
                  "attendu : vide, ou l'une de " + ", ".join(SUBDIVISIONS))
    departments = r.get(doc, "", "departments", list, [])
    if not all(isinstance(d, str) and d.strip() and not control_character(d) for d in departments):
        r.problem("departments", "chaque département doit être un texte non vide", 'attendu : ["31", "81", "2A"]')
        departments = []
    c = r.table(doc, "", "contact")
    r.keys(c, "contact", ("email", "phone", "address", "url"))
    contact = Contact(*(r.get(c, "contact", k, str, "") for k in ("email", "phone", "address", "url")))
    years = {}
    for key, t in r.table(doc, "", "years").items():
        parsed = _year(r, key, t)
        if parsed:
            years[parsed[0]] = parsed[1]
    centre = Centre(
        id=centre_id or stem,
        name=r.get(doc, "", "name", str, stem, required=True),
        timezone=tz,
        holiday_subdivision=subdiv,
        sites=_sites(r, doc),
        departments=tuple(departments),
        contact=contact,
        faq_url=r.get(doc, "", "faq_url", str, ""),
        faq_name=r.get(doc, "", "faq_name", str, ""),
        rules=_rules(r, doc),
        reminders=_reminders(r, doc),
        years=years,
        path=path,
    )
    if r.problems:
        first = r.problems[0]
        raise ConfigError(first.message, where=first.where, hint=first.hint, problems=r.problems)
    return centre


def load_centre(path: str | os.PathLike[str]) -> Centre:
    """Read and parse one centre file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableError("fichier introuvable", where=str(p)) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise UnreadableError(f"caractère qui n'est pas de l'UTF-8 (octet {exc.object[exc.start]:#04x})",
                              where=f"{p}, ligne {line}", hint="enregistrez le fichier en UTF-8") from None
    except OSError as exc:
        raise UnreadableError(f"lecture impossible : {exc.strerror or exc}", where=str(p)) from None
    return parse_centre(text, str(p))


def centre_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Return the centre files of ``directory`` (the template excluded), sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise ConfigError("dossier des calendriers introuvable", where=str(d),
                          hint="indiquez-le avec --calendars DIR ou CNAM_CALENDAR_CALENDARS")
    return sorted(p for p in d.glob("*.toml") if p.name != TEMPLATE)


def load_centres(directory: str | os.PathLike[str], only: tuple[str, ...] | list[str] = ()) -> list[Centre]:
    """Load every centre of ``directory`` (or only those named), listing all problems of all files."""
    files = {p.stem: p for p in centre_files(directory)}
    for wanted in only:
        if wanted not in files:
            close = difflib.get_close_matches(wanted, list(files), n=1)
            raise ConfigError(
                f"centre inconnu « {wanted} »", where=str(directory),
                hint=(f"vouliez-vous dire « {close[0]} » ? " if close else "")
                + "centres : " + (", ".join(files) or "aucun"),
            )
    centres, problems = [], []
    for stem in (list(dict.fromkeys(only)) if only else list(files)):
        try:
            centres.append(load_centre(files[stem]))
        except ConfigError as exc:
            problems.extend(exc.problems or [exc])
    if problems:
        raise ConfigError(problems[0].message, where=problems[0].where, hint=problems[0].hint, problems=problems)
    if not centres:
        raise ConfigError("aucun fichier de centre (*.toml)", where=str(directory),
                          hint=f"copiez {TEMPLATE} en <centre>.toml")
    return centres


