"""Learners CSV: read it, validate every row at once, and generate synthetic rosters."""

from __future__ import annotations

import csv
import difflib
import io
import os
import random
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from cnam_calendar.files import atomic_write
from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.csv_out import csv_text
from cnam_calendar.messages import N_, gettext, ngettext
from cnam_calendar.rules.checks import DATE_MAX, DATE_MIN, control_character, in_dates
from cnam_calendar.rules.errors import RosterError
from cnam_calendar.rules.model import Centre, Learner

COLUMNS = ("id", "email", "first_name", "last_name", "centre", "department", "status", "ues",
           "dossier_received", "cpf_validated", "training_start", "lang")
REQUIRED = ("id", "email", "first_name", "last_name", "centre", "department", "status")
STATUSES = ("apprentissage", "professionnalisation", "cpf", "individuel")
LANGS = ("fr", "en")
DATE_COLUMNS = ("dossier_received", "cpf_validated", "training_start")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Metropolitan departments (20 split into 2A/2B) and the five overseas departments.
_DEPARTMENT = re.compile(r"0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FRENCH_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_MAX_TEXT = 100


@dataclass(frozen=True, slots=True)
class RawRow:
    """One record of the CSV as text, with the line it starts on."""

    line: int
    values: Mapping[str, str]
    extra: int = 0  # fields beyond the header (a stray separator)
    missing: int = 0  # fields the record lacks


@dataclass(frozen=True)
class Roster:
    """Validated learners and the warnings that did not stop the import."""

    learners: tuple[Learner, ...]
    warnings: tuple[str, ...] = ()


def _problem(source: str, line: int, column: str | None, what: str, expected: str) -> RosterError:
    where = f"{source}:{line} ({column})" if column else f"{source}:{line}"
    return RosterError(gettext("fr", "%(what)s ; attendu : %(expected)s", what=what, expected=expected), where=where)


def _quoted(name: str) -> str:
    return gettext("fr", "« %(name)s »", name=name)


def _one_of(message: str, choices: Iterable[str]) -> str:
    """``message`` is « l'un de %(choices)s » or « l'une de %(choices)s », marked where it is written."""
    return gettext("fr", message, choices=", ".join(choices))


def _raise_all(problems: list[RosterError], source: str) -> None:
    if problems:
        first = problems[0]
        raise RosterError(first.message, where=first.where, problems=problems,
                          hint=ngettext("fr", "%(num)d erreur dans %(source)s, rien n'a été importé",
                                        "%(num)d erreurs dans %(source)s, rien n'a été importé", len(problems),
                                        source=source))


def parse_roster(text: str, source: str) -> list[RawRow]:
    """Split the text of a learners CSV into rows; ``source`` names the file in messages."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    # Spreadsheets set to French write ';' between fields (the UE list is then quoted).
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _problem(source, 1, None, gettext("fr", "en-tête illisible (%(reason)s)", reason=str(exc)),
                       gettext("fr", "une ligne d'en-tête CSV")) from None
    if not header or not any(h.strip() for h in header):
        raise _problem(source, 1, None, gettext("fr", "fichier vide ou sans en-tête"),
                       gettext("fr", "une ligne d'en-tête : %(columns)s", columns=",".join(COLUMNS)))
    names = [h.strip().lower() for h in header]
    problems = []
    for i, name in enumerate(names):
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            column = name or gettext("fr", "colonne %(number)d", number=i + 1)
            problems.append(_problem(source, 1, column, gettext("fr", "colonne inconnue"),
                                     _quoted(close[0]) if close else _one_of(N_("l'une de %(choices)s"), COLUMNS)))
        elif names.index(name) != i:
            problems.append(_problem(source, 1, name, gettext("fr", "colonne en double"),
                                     gettext("fr", "chaque colonne une seule fois")))
    taken_for = {c for n in names if n not in COLUMNS for c in difflib.get_close_matches(n, COLUMNS, n=1)}
    for name in REQUIRED:
        if name not in names and name not in taken_for:  # a misspelt column is said once, with its right name
            problems.append(_problem(source, 1, name, gettext("fr", "colonne obligatoire absente"),
                                     gettext("fr", "une colonne « %(name)s »", name=name)))
    _raise_all(problems, source)
    width = len(names)
    rows = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(field.strip() for field in record):
                # A short or long record is reported by validate_rows through extra/missing.
                values = dict(zip(names, (f.strip() for f in record), strict=False))
                rows.append(RawRow(start, values, max(0, len(record) - width), max(0, width - len(record))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _problem(source, start, None, gettext("fr", "CSV invalide (%(reason)s)", reason=str(exc)),
                       gettext("fr", "des champs séparés par des virgules, entre guillemets s'ils en contiennent")) from None
    return rows


def read_roster(path: str | os.PathLike[str]) -> list[RawRow]:
    """Read a learners CSV file (UTF-8, comma or semicolon separated)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RosterError(gettext("fr", "fichier introuvable"), where=str(p)) from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise _problem(str(p), line, None, gettext("fr", "texte non UTF-8"),
                       gettext("fr", "un fichier CSV enregistré en UTF-8 (« CSV UTF-8 » dans le tableur)")) from None
    except OSError as exc:
        raise RosterError(gettext("fr", "lecture impossible : %(reason)s", reason=exc.strerror), where=str(p)) from None
    return parse_roster(text, str(p))


def _date(text: str) -> date | str:
    """Return the date written ``text``, or what to expect instead."""
    if _ISO_DATE.fullmatch(text):
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return gettext("fr", "une date qui existe, AAAA-MM-JJ")
        if in_dates(value):
            return value
        return gettext("fr", "une date entre le %(first)s et le %(last)s, AAAA-MM-JJ", first=DATE_MIN, last=DATE_MAX)
    m = _FRENCH_DATE.fullmatch(text)
    if m:
        iso = f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
        return gettext("fr", "AAAA-MM-JJ, ex. %(iso)s pour %(text)s", iso=iso, text=text)
    return gettext("fr", "AAAA-MM-JJ, ex. 2026-10-12")


def _serving(centres: Sequence[Centre]) -> dict[str, Centre]:
    serving: dict[str, Centre] = {}
    for centre in centres:
        for department in centre.departments:
            serving.setdefault(department, centre)
    return serving


def validate_rows(rows: Iterable[RawRow], centres: Sequence[Centre], catalogues: Mapping[str, Collection[str]],
                  *, source: str = "learners.csv") -> Roster:
    """Turn rows into learners, or raise RosterError listing every problem of every row."""
    by_id = {c.id: c for c in centres}
    serving = _serving(centres)
    upper_codes = {cid: {code.upper(): code for code in codes} for cid, codes in catalogues.items()}
    seen: dict[str, int] = {}
    problems: list[RosterError] = []
    warnings: list[str] = []
    learners: list[Learner] = []

    for row in rows:
        line, v = row.line, row.values
        before = len(problems)

        def bad(column: str | None, what: str, expected: str) -> None:
            problems.append(_problem(source, line, column, what, expected))  # noqa: B023 (called in this iteration)

        for column, text in v.items():
            control = control_character(text)
            if control:
                bad(column, control, gettext("fr", "du texte sur une ligne, sans caractère de contrôle"))
        if row.extra or row.missing:
            width = len(v) + row.missing
            fields = width + row.extra - row.missing
            bad(None, ngettext("fr", "%(num)d champ au lieu de %(width)d", "%(num)d champs au lieu de %(width)d",
                               fields, width=width),
                gettext("fr", "un champ par colonne de l'en-tête ; mettez entre guillemets un champ qui contient "
                              "une virgule"))
        learner_id = v.get("id", "")
        if not learner_id:
            bad("id", gettext("fr", "identifiant vide"), gettext("fr", "un identifiant unique, ex. 2026-00042"))
        elif not _ID.fullmatch(learner_id):
            bad("id", gettext("fr", "identifiant « %(id)s » invalide", id=learner_id),
                gettext("fr", "lettres, chiffres, « . », « _ » ou « - », 64 au plus"))
        elif learner_id in seen:
            bad("id", gettext("fr", "identifiant « %(id)s » déjà utilisé ligne %(line)d", id=learner_id,
                              line=seen[learner_id]),
                gettext("fr", "un identifiant différent pour chaque apprenant"))
        else:
            seen[learner_id] = line

        email = v.get("email", "")
        if not email:
            bad("email", gettext("fr", "adresse e-mail vide"), gettext("fr", "une adresse comme prenom.nom@exemple.fr"))
        elif len(email) > 254 or len(email.partition("@")[0]) > 64 or not _EMAIL.fullmatch(email):
            bad("email", gettext("fr", "adresse e-mail invalide « %(email)s »", email=email),
                gettext("fr", "une adresse comme prenom.nom@exemple.fr"))

        for column in ("first_name", "last_name"):
            text = v.get(column, "")
            if not text:
                bad(column, gettext("fr", "champ vide"),
                    gettext("fr", "le prénom") if column == "first_name" else gettext("fr", "le nom"))
            elif len(text) > _MAX_TEXT:
                bad(column, gettext("fr", "texte trop long (%(num)d caractères)", num=len(text)),
                    gettext("fr", "%(num)d caractères au plus", num=_MAX_TEXT))

        centre_id = v.get("centre", "")
        centre = by_id.get(centre_id)
        if centre is None:
            close = difflib.get_close_matches(centre_id, list(by_id), n=1)
            bad("centre", gettext("fr", "centre inconnu « %(id)s »", id=centre_id) if centre_id
                else gettext("fr", "centre vide"),
                _quoted(close[0]) if close else _one_of(N_("l'un de %(choices)s"), by_id))

        department = v.get("department", "").upper()
        if len(department) == 1 and department in "0123456789":
            department = "0" + department  # a spreadsheet dropped the leading zero
        if not _DEPARTMENT.fullmatch(department):
            written = v.get("department", "")
            bad("department", gettext("fr", "département « %(department)s » invalide", department=written),
                gettext("fr", "un numéro de département, ex. 31, 09, 2A ou 974"))
        elif centre is not None and centre.departments and department not in centre.departments:
            other = serving.get(department)
            where = f"{source}:{line} (department)"
            if other is not None:
                warnings.append(gettext("fr", "%(where)s : département %(department)s non desservi par %(centre)s ; "
                                              "il relève du centre %(other)s (%(other_id)s)", where=where,
                                        department=department, centre=centre.name, other=other.name,
                                        other_id=other.id))
            else:
                warnings.append(gettext("fr", "%(where)s : département %(department)s non desservi par %(centre)s ; "
                                              "l'apprenant doit s'inscrire auprès du centre Cnam de sa région",
                                        where=where, department=department, centre=centre.name))

        status = v.get("status", "").lower()
        if status not in STATUSES:
            close = difflib.get_close_matches(status, STATUSES, n=1)
            written = v.get("status", "")
            bad("status", gettext("fr", "statut « %(status)s » inconnu", status=written) if status
                else gettext("fr", "statut vide"),
                _quoted(close[0]) if close else _one_of(N_("l'un de %(choices)s"), STATUSES))

        ues: list[str] = []
        for code in (c.strip() for c in v.get("ues", "").split(";")):
            if not code:
                continue
            if centre is None:
                ues.append(code)
                continue
            known = upper_codes.get(centre.id, {})
            found = known.get(code.upper())
            if found is None:
                close = difflib.get_close_matches(code.upper(), sorted(known), n=1)
                bad("ues", gettext("fr", "UE « %(code)s » absente du catalogue de %(centre)s", code=code,
                                   centre=centre.id),
                    _quoted(known[close[0]]) if close
                    else gettext("fr", "un code de calendars/%(centre)s.ues.csv", centre=centre.id))
            elif found not in ues:
                ues.append(found)

        dates: dict[str, date | None] = {}
        for column in DATE_COLUMNS:
            text = v.get(column, "")
            parsed = _date(text) if text else None
            if isinstance(parsed, str):
                bad(column, gettext("fr", "date invalide « %(text)s »", text=text), parsed)
                parsed = None
            dates[column] = parsed

        if status == "cpf" and not v.get("cpf_validated"):
            cpf_where = f"{source}:{line} (cpf_validated)"
            warnings.append(gettext("fr", "%(where)s : apprenant CPF sans date de validation, l'échéance de "
                                          "confirmation ne sera pas calculée ; attendu : la date de validation "
                                          "du dossier CPF, AAAA-MM-JJ", where=cpf_where))

        lang = v.get("lang", "").lower() or "fr"
        if lang not in LANGS:
            written = v.get("lang", "")
            bad("lang", gettext("fr", "langue « %(value)s » inconnue", value=written),
                gettext("fr", "fr ou en (vide = fr)"))

        if len(problems) == before:
            learners.append(Learner(learner_id, email, v["first_name"], v["last_name"], centre_id, department, status,
                                    tuple(ues), dates["dossier_received"], dates["cpf_validated"],
                                    dates["training_start"], lang))

    _raise_all(problems, source)
    return Roster(tuple(learners), tuple(warnings))


def load_roster(path: str | os.PathLike[str], centres: Sequence[Centre],
                catalogues: Mapping[str, Collection[str]]) -> Roster:
    """Read and validate a learners CSV file."""
    return validate_rows(read_roster(path), centres, catalogues, source=str(path))


def learner_row(learner: Learner) -> dict[str, str]:
    """Return ``learner`` as a CSV row keyed by COLUMNS."""
    return {
        "id": learner.id, "email": learner.email, "first_name": learner.first_name,
        "last_name": learner.last_name, "centre": learner.centre, "department": learner.department,
        "status": learner.status, "ues": ";".join(learner.ues),
        "dossier_received": learner.dossier_received.isoformat() if learner.dossier_received else "",
        "cpf_validated": learner.cpf_validated.isoformat() if learner.cpf_validated else "",
        "training_start": learner.training_start.isoformat() if learner.training_start else "",
        "lang": learner.lang,
    }


def roster_csv(learners: Iterable[Learner]) -> str:
    """Return the CSV text of ``learners``, header first."""
    return csv_text(COLUMNS, ([learner_row(learner)[c] for c in COLUMNS] for learner in learners))


def write_roster(learners: Iterable[Learner], path: str | os.PathLike[str]) -> None:
    """Write ``learners`` as a CSV file, atomically."""
    atomic_write(path, roster_csv(learners).encode("utf-8"))


# Synthetic rosters: common French names, addresses at example.org (reserved, RFC 2606), no real person.
FIRST_NAMES = ("Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Emma", "Julie", "Amandine", "Nadia",
               "Sophie", "Aurélie", "Lucas", "Hugo", "Thomas", "Nicolas", "Julien", "Mathieu", "Karim", "Yanis",
               "Antoine", "Maxime", "Romain", "Kévin", "Éric", "Pierre", "Mehdi", "Jérôme", "Océane", "Noé")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
              "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Fabre", "Roux", "Fournier", "Girard", "Bonnet",
              "Mercier", "Blanc", "Guérin", "Muller", "Henry", "Rousseau", "Nicolas", "Perrin", "Morel", "Benali")
# Share of each status among Cnam learners, an assumption for demos (no published figure).
STATUS_WEIGHTS = {"individuel": 40, "apprentissage": 25, "cpf": 25, "professionnalisation": 10}
# Departments outside both seed centres, for the few learners who registered at the wrong place.
OTHER_DEPARTMENTS = ("75", "13", "33", "69", "44", "2A", "974")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "-")


def generate_learners(count: int, seed: int, centres: Sequence[Centre], catalogues: Mapping[str, Sequence[str]],
                      year: int) -> list[Learner]:
    """Return ``count`` synthetic learners of academic year ``year``, the same ones for the same seed."""
    if count < 0:
        raise RosterError(gettext("fr", "nombre d'apprenants négatif (%(count)d)", count=count),
                          hint=gettext("fr", "attendu : 0 ou plus"))
    if not centres:
        raise RosterError(gettext("fr", "aucun centre pour générer des apprenants"),
                          hint=gettext("fr", "attendu : au moins un calendars/*.toml"))
    rng = random.Random(seed)
    serving = sorted(_serving(centres))
    statuses, weights = tuple(STATUS_WEIGHTS), tuple(STATUS_WEIGHTS.values())
    sept_first = date(year, 9, 1)
    learners = []
    width = max(5, len(str(count)))
    for n in range(1, count + 1):
        centre = rng.choice(centres)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        roll = rng.random()
        if centre.departments and roll < 0.92:
            department = rng.choice(centre.departments)
        elif roll < 0.97 and serving:
            department = rng.choice(serving)  # sometimes another centre's: the routing warning
        else:
            department = rng.choice(OTHER_DEPARTMENTS)
        status = rng.choices(statuses, weights)[0]
        codes = sorted(catalogues.get(centre.id, ()))
        ues = tuple(sorted(rng.sample(codes, min(len(codes), rng.choice((1, 1, 2, 2, 2, 3, 4))))))
        dossier = sept_first + timedelta(days=rng.randrange(0, 200))  # September to mid-March
        cpf = None
        if status == "cpf" and rng.random() < 0.9:  # the others: the missing-date warning
            cpf = dossier - timedelta(days=rng.randrange(0, 30))
        start = None
        if status in ("apprentissage", "professionnalisation"):
            start = sept_first + timedelta(days=rng.randrange(0, 75))
        learners.append(Learner(
            id=f"{year}-{n:0{width}d}",
            email=f"{_ascii(first)}.{_ascii(last)}.{n}@example.org",
            first_name=first, last_name=last, centre=centre.id, department=department, status=status, ues=ues,
            dossier_received=dossier, cpf_validated=cpf, training_start=start,
            lang="en" if rng.random() < 0.08 else "fr",
        ))
    return learners


def catalogue_codes(centres: Sequence[Centre]) -> dict[str, set[str]]:
    """Return the UE codes of each centre's catalogue (calendars/<centre>.ues.csv)."""
    return {c.id: {ue.code for ue in load_catalogue(c)} for c in centres}
