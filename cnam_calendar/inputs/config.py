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
from cnam_calendar.messages import N_, gettext
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

TYPE_NAMES = {str: N_("du texte"), int: N_("un entier"), float: N_("un nombre"), bool: N_("true ou false"),
              date: N_("une date (AAAA-MM-JJ)"), time: N_("une heure (HH:MM:SS)"), list: N_("une liste"),
              dict: N_("une table")}


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
                hint = (gettext("fr", "vouliez-vous dire « %(close)s » ?", close=close[0]) if close
                        else gettext("fr", "clés connues : %(keys)s", keys=", ".join(allowed)))
                if close and close[0] not in table:
                    self.suggested.add(_join(prefix, close[0]))
                self.problem(_join(prefix, key), gettext("fr", "clé inconnue"), hint)

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type, default: Any = None,
            required: bool = False) -> Any:
        if key not in table:
            if required and _join(prefix, key) not in self.suggested:
                self.problem(_join(prefix, key), gettext("fr", "clé obligatoire absente"), _expected(TYPE_NAMES[kind]))
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if kind is date and type(value) is not date:
            ok = False
        if not ok:
            self.problem(_join(prefix, key), gettext("fr", "valeur de type incorrect (%(value)s)", value=repr(value)),
                         _expected(TYPE_NAMES[kind]))
            return default
        if kind is str:
            return self.text(_join(prefix, key), value, default, required)
        return value

    def text(self, key: str, value: str, default: Any = None, required: bool = False) -> Any:
        """Return ``value`` when it is printable text (and not blank when ``required``), else report it."""
        bad = control_character(value)
        if bad:
            self.problem(key, bad, gettext("fr", "attendu : du texte sur une ligne, sans caractère de contrôle"))
            return default
        if required and not value.strip():
            self.problem(key, gettext("fr", "valeur vide"), gettext("fr", "attendu : un texte non vide"))
            return default
        return value

    def number(self, key: str, value: float | None, low: float, high: float, expected: str) -> None:
        """Report ``value`` when it is not a finite number within [low, high]; ``expected`` says the range."""
        if value is not None and out_of_range(value, low, high):
            self.problem(key, gettext("fr", "valeur %(value)s hors des bornes", value=str(value)), _expected(expected))

    def table(self, table: Mapping[str, Any], prefix: str, key: str) -> dict[str, Any]:
        return self.get(table, prefix, key, dict, {}) or {}


def _expected(expected: str) -> str:
    """Return « attendu : … », ``expected`` (a msgid marked with N_) translated."""
    return gettext("fr", "attendu : %(expected)s", expected=gettext("fr", expected))


def _join(prefix: str, key: str) -> str:
    key = f'"{key}"' if not key.replace("_", "").replace("-", "").isalnum() else key
    return f"{prefix}.{key}" if prefix else key


# The sane range of each number of a centre file (every message states it).
RANGES = {
    "rules.cpf_working_days": (1, 30, N_("un entier de 1 à 30 (jours ouvrés)")),  # 0 would end before the validation
    "rules.withdrawal_days": (1, 365, N_("un entier de 1 à 365 (jours)")),
    "rules.apprenticeship_months": (1, 36, N_("un entier de 1 à 36 (mois)")),
    "rules.hours.per_ects": (0.5, 100, N_("un nombre d'heures par crédit de 0,5 à 100, ex. 8")),
    "rules.hours.table": (1, 2000, N_("un nombre d'heures de 1 à 2000")),
    "reminders.offsets": (1, 365, N_("une liste d'entiers de 1 à 365 (jours avant), ex. [7, 1]")),
    "reminders.notice_holdback_minutes": (0, 1440, N_("un entier de 0 à 1440 (minutes), ex. 30")),
}
MAX_ECTS, MAX_OFFSETS = 60, 10


def _bounded(r: _Reader, key: str, value: float | None) -> None:
    low, high, expected = RANGES[key]
    r.number(key, value, low, high, expected)  # expected: a msgid, translated by _expected


def _rules(r: _Reader, doc: Mapping[str, Any]) -> RuleSettings:
    t = r.table(doc, "", "rules")
    r.keys(t, "rules", ("cpf_working_days", "withdrawal_days", "apprenticeship_months",
                        "registration_closes_at_course_start", "add_drop_until_end_of_february", "hours",
                        "require_override_reason"))
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
        r.problem("rules.hours.tolerance", gettext("fr", "valeur %(value)s hors des bornes", value=str(tolerance)),
                  gettext("fr", "attendu : une fraction de 0 à 0.99, ex. 0.10 pour 10 %"))
        tolerance = None
    if per_ects is not None and out_of_range(per_ects, *RANGES["rules.hours.per_ects"][:2]):
        per_ects = None
    table: dict[int, float] = {}
    for ects, hours in r.table(h, "rules.hours", "table").items():
        key = f"rules.hours.table.{_join('', ects)}"
        credits = parse_count(ects)
        if credits is None or not 1 <= credits <= MAX_ECTS:
            r.problem(key, gettext("fr", "nombre de crédits invalide"),
                      gettext("fr", 'attendu : un entier de 1 à %(max)d entre guillemets, ex. "4" = 40', max=MAX_ECTS))
        elif isinstance(hours, bool) or not isinstance(hours, int | float):
            r.problem(key, gettext("fr", "nombre d'heures invalide (%(hours)s)", hours=repr(hours)),
                      _expected(RANGES["rules.hours.table"][2]))
        elif out_of_range(hours, *RANGES["rules.hours.table"][:2]):
            _bounded(r, "rules.hours.table", hours)
        else:
            table[credits] = float(hours)
    return RuleSettings(
        **values,
        registration_closes_at_course_start=r.get(t, "rules", "registration_closes_at_course_start", bool, False),
        add_drop_until_end_of_february=r.get(t, "rules", "add_drop_until_end_of_february", bool, False),
        require_override_reason=r.get(t, "rules", "require_override_reason", bool, False),
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
            r.problem(f"reminders.{key}", gettext("fr", "valeur %(value)s invalide", value=repr(value)),
                      gettext("fr", "attendu : %(expected)s, %(max)d au plus", expected=gettext("fr", expected),
                              max=MAX_OFFSETS))
            value = list(default)
        offsets.append(tuple(sorted(set(value), reverse=True)))
    addresses = []
    for key in ("sender", "unsubscribe"):
        value = r.get(t, "reminders", key, str, "")
        if value and "@" not in parseaddr(value)[1]:
            r.problem(f"reminders.{key}", gettext("fr", "adresse « %(value)s » invalide", value=value),
                      gettext("fr", 'attendu : une adresse e-mail, ex. "rappels@centre.example" ou '
                                    '"Centre <rappels@centre.example>"'))
            value = ""
        addresses.append(value)
    holdback = r.get(t, "reminders", "notice_holdback_minutes", int, d.notice_holdback_minutes)
    low, high, expected = RANGES["reminders.notice_holdback_minutes"]
    if isinstance(holdback, bool) or not isinstance(holdback, int) or not low <= holdback <= high:
        r.problem("reminders.notice_holdback_minutes", gettext("fr", "valeur %(value)s invalide", value=repr(holdback)),
                  _expected(expected))
        holdback = d.notice_holdback_minutes
    return ReminderPolicy(at, offsets[0], offsets[1], *addresses, notice_holdback_minutes=holdback)


def _sites(r: _Reader, doc: Mapping[str, Any]) -> tuple[Site, ...]:
    sites = []
    for i, t in enumerate(r.get(doc, "", "sites", list, [])):
        prefix = f"sites[{i}]"
        if not isinstance(t, dict):
            r.problem(prefix, gettext("fr", "chaque site doit être une table"),
                      gettext("fr", 'attendu : [[sites]] id = "…" name = "…"'))
            continue
        r.keys(t, prefix, ("id", "name", "address"))
        sites.append(Site(r.get(t, prefix, "id", str, "", required=True), r.get(t, prefix, "name", str, "", required=True),
                          r.get(t, prefix, "address", str, "")))
    return tuple(sites)


def _year(r: _Reader, key: str, t: Mapping[str, Any]) -> tuple[int, YearSettings] | None:
    prefix = f"years.{_join('', key)}"
    year = parse_year(key)
    if year is None:
        r.problem(prefix, gettext("fr", "année invalide"),
                  gettext("fr", "attendu : [years.2026] pour l'année universitaire 2026-2027, de %(min)d à %(max)d",
                          min=YEAR_MIN, max=YEAR_MAX))
        return None
    first, last = academic_window(year)
    within = gettext("fr", "entre le %(first)s et le %(last)s, l'année universitaire %(year)d-%(next)d", first=first,
                     last=last, year=year, next=year + 1)
    if not isinstance(t, dict):
        r.problem(prefix, gettext("fr", "doit être une table"), gettext("fr", "attendu : [years.AAAA]"))
        return None
    r.keys(t, prefix, ("closures", "overrides"))
    closures = []
    seen: set[str] = set()
    for i, c in enumerate(r.get(t, prefix, "closures", list, [])):
        cp = f"{prefix}.closures[{i}]"
        if not isinstance(c, dict):
            r.problem(cp, gettext("fr", "chaque fermeture doit être une table"),
                      gettext("fr", 'attendu : { id = "noel", start = …, end = …, label = "…" }'))
            continue
        r.keys(c, cp, ("id", "label", "start", "end"))
        cid, label = r.get(c, cp, "id", str, "", required=True), r.get(c, cp, "label", str, "", required=True)
        start, end = r.get(c, cp, "start", date, None, required=True), r.get(c, cp, "end", date, None, required=True)
        if cid and cid in seen:
            r.problem(f"{cp}.id", gettext("fr", "identifiant « %(id)s » déjà utilisé", id=cid),
                      gettext("fr", "attendu : un id unique par année"))
        seen.add(cid)
        if cid and not cid.replace("-", "").isalnum():
            r.problem(f"{cp}.id", gettext("fr", "identifiant « %(id)s » invalide", id=cid),
                      gettext("fr", "attendu : lettres, chiffres et tirets"))
        if start and end:  # check_schedule says when it ends before it starts or leaves the year
            closures.append(Closure(cid, label, start, end))
    overrides = {}
    for event_id, o in r.table(t, prefix, "overrides").items():
        op = f"{prefix}.overrides.{_join('', event_id)}"
        if event_id not in OVERRIDABLE:
            close = difflib.get_close_matches(event_id, OVERRIDABLE, n=1)
            r.problem(op, gettext("fr", "événement inconnu ou non modifiable"),
                      gettext("fr", "vouliez-vous dire « %(close)s » ?", close=close[0]) if close
                      else gettext("fr", "attendu : %(expected)s", expected=", ".join(OVERRIDABLE)))
            continue
        if not isinstance(o, dict):
            r.problem(op, gettext("fr", "doit être une table"),
                      gettext("fr", "attendu : { start = AAAA-MM-JJ, end = AAAA-MM-JJ, reason = \"…\" }"))
            continue
        r.keys(o, op, ("date", "start", "end", "reason"))
        on = r.get(o, op, "date", date)
        start, end = r.get(o, op, "start", date, on), r.get(o, op, "end", date, on)
        if start is None and end is None:
            r.problem(op, gettext("fr", "aucune date donnée"), gettext("fr", "attendu : date, start ou end"))
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
            r.problem(f"{prefix}.{key}", gettext("fr", "date %(day)s hors de l'année", day=day),
                      gettext("fr", "attendu : %(expected)s", expected=expected))
            ok = False
    return ok


def parse_centre(text: str, path: str) -> Centre:
    """Parse the text of a centre file; ``path`` names it in messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, column, check = toml_fr.explain(str(exc))
        raise UnreadableError(gettext("fr", "TOML invalide : %(error)s", error=message),
                              where=toml_fr.place(path, line, column, text),
                              hint=gettext("fr", "attendu : %(expected)s", expected=check)) from None
    except RecursionError:
        raise UnreadableError(gettext("fr", "TOML invalide : listes ou tables imbriquées trop profondément"), where=path,
                              hint=gettext("fr", "attendu : des listes d'au plus quelques niveaux, ex. "
                                                 "departments = [\"31\"]")) from None
    r = _Reader(path)
    r.keys(doc, "", ("id", "name", "timezone", "holiday_subdivision", "departments", "sites", "contact",
                     "faq_url", "faq_name", "rules", "reminders", "years"))
    stem = Path(path).stem
    centre_id = r.get(doc, "", "id", str, stem, required=True)
    if centre_id and centre_id != stem and Path(path).name != TEMPLATE:
        r.problem("id", gettext("fr", "« %(id)s » ne correspond pas au nom du fichier", id=centre_id),
                  gettext("fr", "attendu : « %(stem)s »", stem=stem))
    tz = r.get(doc, "", "timezone", str, "Europe/Paris")
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):
        r.problem("timezone", gettext("fr", "fuseau horaire inconnu « %(tz)s »", tz=tz),
                  gettext("fr", "attendu : un nom IANA, ex. Europe/Paris"))
    subdiv = r.get(doc, "", "holiday_subdivision", str, "") or None
    if subdiv is not None and subdiv not in SUBDIVISIONS:
        r.problem("holiday_subdivision", gettext("fr", "subdivision inconnue « %(subdivision)s »", subdivision=subdiv),
                  gettext("fr", "attendu : vide, ou l'une de %(choices)s", choices=", ".join(SUBDIVISIONS)))
    departments = r.get(doc, "", "departments", list, [])
    if not all(isinstance(d, str) and d.strip() and not control_character(d) for d in departments):
        r.problem("departments", gettext("fr", "chaque département doit être un texte non vide"),
                  gettext("fr", 'attendu : ["31", "81", "2A"]'))
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
        rules=(rules := _rules(r, doc)),
        reminders=_reminders(r, doc),
        years=years,
        path=path,
    )
    if rules.require_override_reason:
        for y, settings in sorted(years.items()):
            for event_id, o in settings.overrides.items():
                if not o.reason.strip():
                    r.problem(f"years.{y}.overrides.{_join('', event_id)}.reason", gettext("fr", "motif manquant"),
                              gettext("fr", "attendu : reason = \"…\" (le centre exige le motif de chaque date "
                                            "fixée : [rules] require_override_reason)"))
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
        raise UnreadableError(gettext("fr", "fichier introuvable"), where=str(p)) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        byte = f"{exc.object[exc.start]:#04x}"
        raise UnreadableError(gettext("fr", "caractère qui n'est pas de l'UTF-8 (octet %(byte)s)", byte=byte),
                              where=gettext("fr", "%(path)s, ligne %(line)d", path=str(p), line=line),
                              hint=gettext("fr", "enregistrez le fichier en UTF-8")) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UnreadableError(gettext("fr", "lecture impossible : %(reason)s", reason=reason), where=str(p)) from None
    return parse_centre(text, str(p))


def centre_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Return the centre files of ``directory`` (the template excluded), sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise ConfigError(gettext("fr", "dossier des calendriers introuvable"), where=str(d),
                          hint=gettext("fr", "indiquez-le avec --calendars DIR ou CNAM_CALENDAR_CALENDARS"))
    return sorted(p for p in d.glob("*.toml") if p.name != TEMPLATE)


def load_centres(directory: str | os.PathLike[str], only: tuple[str, ...] | list[str] = ()) -> list[Centre]:
    """Load every centre of ``directory`` (or only those named), listing all problems of all files."""
    files = {p.stem: p for p in centre_files(directory)}
    for wanted in only:
        if wanted not in files:
            close = difflib.get_close_matches(wanted, list(files), n=1)
            known = ", ".join(files) or gettext("fr", "aucun")
            hint = (gettext("fr", "vouliez-vous dire « %(close)s » ? centres : %(known)s", close=close[0], known=known)
                    if close else gettext("fr", "centres : %(known)s", known=known))
            raise ConfigError(gettext("fr", "centre inconnu « %(id)s »", id=wanted), where=str(directory), hint=hint)
    centres, problems = [], []
    for stem in (list(dict.fromkeys(only)) if only else list(files)):
        try:
            centres.append(load_centre(files[stem]))
        except ConfigError as exc:
            problems.extend(exc.problems or [exc])
    if problems:
        raise ConfigError(problems[0].message, where=problems[0].where, hint=problems[0].hint, problems=problems)
    if not centres:
        raise ConfigError(gettext("fr", "aucun fichier de centre (*.toml)"), where=str(directory),
                          hint=gettext("fr", "copiez %(template)s en <centre>.toml", template=TEMPLATE))
    return centres


