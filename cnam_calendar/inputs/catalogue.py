"""Load calendars/<centre>.ues.csv into UEs, or raise CatalogueError naming every bad row."""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import time
from pathlib import Path

from cnam_calendar.rules.checks import control_character
from cnam_calendar.rules.errors import CatalogueError, UnreadableCatalogueError
from cnam_calendar.rules.model import MODALITIES, SEMESTERS, UE, Centre

COLUMNS = ("code", "title", "ects", "semester", "modality", "site", "weekday", "start", "end", "room")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi")
ONLINE = ("en ligne planifié", "FOAD")  # the modalities that need no site
UNTIMED = ("FOAD",)  # the modalities with no weekly meeting
# Other words staff write for a modality, read as the modality they name (docs/formats.md lists them;
# tests/unit/test_formats_doc.py checks the two agree). Compared without case or accents.
MODALITY_SYNONYMS = {
    "présentiel": "cours du soir", "en présentiel": "cours du soir", "soir": "cours du soir",
    "en ligne": "en ligne planifié", "distanciel": "en ligne planifié", "classe virtuelle": "en ligne planifié",
    "comodal": "co-modal", "co modal": "co-modal",
    "mixte": "hybride",
    "à distance": "FOAD", "formation à distance": "FOAD", "formation ouverte à distance": "FOAD",
}
TIMING = ("weekday", "start", "end")
_TIMING_MISSING = {"weekday": "jour de cours manquant", "start": "heure de début manquante",
                   "end": "heure de fin manquante"}
_TIMING_NONE = {"weekday": "de jour de cours", "start": "d'heure de début", "end": "d'heure de fin"}
_TIMING_EXPECTED = {"weekday": ", ".join(WEEKDAYS), "start": "HH:MM, ex. 18:30", "end": "HH:MM, ex. 21:30"}

_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]*")
_TIME = re.compile(r"([0-9]{1,2}) *[:hH] *([0-9]{2})?")
_NUMBER = re.compile(r"-?[0-9]{1,3}(?:[.,][0-9]{1,2})?")  # ASCII digits only: float() also reads "١٢"
MAX_ECTS = 60


def catalogue_path(centre: Centre) -> Path:
    """Return the catalogue file of ``centre``: ``<centre>.ues.csv`` beside its centre file."""
    return Path(centre.catalogue_file)


def load_catalogue(centre: Centre) -> tuple[UE, ...]:
    """Read and validate the catalogue of ``centre``; no file (or no centre file) means no UE."""
    if not centre.path:
        return ()
    path = catalogue_path(centre)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise UnreadableCatalogueError(f"caractère qui n'est pas de l'UTF-8 (octet {exc.object[exc.start]:#04x})",
                                       where=f"{path}:{line}",
                                       hint="enregistrez le fichier en « CSV UTF-8 (délimité par des virgules) »") from None
    except OSError as exc:
        raise UnreadableCatalogueError(f"lecture impossible : {exc.strerror or exc}", where=str(path)) from None
    return parse_catalogue(text, str(path), centre)


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str], expected: str) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    lead = f"vouliez-vous dire « {close[0]} » ? " if close else ""
    return f"{lead}attendu : {expected}"


def _listing(choices: tuple[str, ...] | list[str]) -> str:
    return ", ".join(choices)


class _Rows:
    """Collect every problem of a catalogue, each at ``file:line (column)``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[CatalogueError] = []

    def problem(self, line: int, column: str | None, message: str, hint: str | None = None) -> None:
        where = f"{self.path}:{line}" + (f" ({column})" if column else "")
        self.problems.append(CatalogueError(message, where=where, hint=hint))


def _header(r: _Rows, header: list[str]) -> dict[str, int]:
    """Check the first line; return the index of each known column present."""
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        sep = "« ; »" if ";" in names[0] else "la tabulation"
        r.problem(1, None, f"séparateur {sep} au lieu de la virgule",
                  "enregistrez en « CSV UTF-8 (délimité par des virgules) » ; attendu : " + ",".join(COLUMNS))
        return {}
    index: dict[str, int] = {}
    taken_for: set[str] = set()  # columns a misspelt name was taken for: said once, not also « absente »
    for i, name in enumerate(names):
        if name and name not in COLUMNS:
            taken_for.update(c for c in difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6) if c not in names)
        if not name:
            r.problem(1, f"colonne {i + 1}", "nom de colonne vide", "attendu : " + ",".join(COLUMNS))
        elif name in index:
            r.problem(1, name, "colonne en double", "attendu : chaque colonne une seule fois")
        elif name not in COLUMNS:
            r.problem(1, name, "colonne inconnue", _did_you_mean(name, COLUMNS, ",".join(COLUMNS)))
        else:
            index[name] = i
    for name in COLUMNS:
        if name not in index and name not in taken_for:
            r.problem(1, name, "colonne absente de l'en-tête", "attendu : " + ",".join(COLUMNS))
    return index


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: « Présentiel » and « presentiel » read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _choice(r: _Rows, line: int, column: str, value: str, choices: tuple[str, ...], what: str,
            feminine: bool = False, synonyms: Mapping[str, str] | None = None) -> str | None:
    """Match ``value`` against ``choices`` and their ``synonyms`` ignoring case and accents; report it when none."""
    by_fold = {_fold(c): c for c in choices} | {_fold(word): c for word, c in (synonyms or {}).items()}
    if _fold(value) in by_fold:
        return by_fold[_fold(value)]
    if not value:
        r.problem(line, column, f"{what} manquant{'e' * feminine}", "attendu : " + _listing(choices))
    else:
        by_lower = {c.lower(): c for c in choices}
        lowered = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
        lead = f"vouliez-vous dire « {by_lower[lowered[0]]} » ? " if lowered else ""
        others = " (ou l'un de leurs synonymes, docs/formats.md)" if synonyms else ""
        r.problem(line, column, f"{what} inconnu{'e' * feminine} « {value} »",
                  f"{lead}attendu : {_listing(choices)}{others}")
    return None


def _ects(r: _Rows, line: int, value: str) -> float | None:
    expected = f"un nombre de crédits positif, {MAX_ECTS} au plus, ex. 4, 6, 8 ou 12"
    if not value:
        r.problem(line, "ects", "nombre de crédits ECTS manquant", f"attendu : {expected}")
        return None
    if not _NUMBER.fullmatch(value):
        r.problem(line, "ects", f"« {value} » n'est pas un nombre", f"attendu : {expected}")
        return None
    ects = float(value.replace(",", "."))
    if not math.isfinite(ects) or not 0 < ects <= MAX_ECTS:
        what = "n'est pas un nombre positif" if ects <= 0 else "est trop grand"
        r.problem(line, "ects", f"« {value} » {what}", f"attendu : {expected}")
        return None
    return ects


def _weekday(r: _Rows, line: int, value: str) -> int | None:
    day = value.lower()
    if day in WEEKDAYS:
        return WEEKDAYS.index(day)
    if day == "dimanche":
        r.problem(line, "weekday", "pas de cours le dimanche", "attendu : " + _listing(WEEKDAYS))
    else:
        r.problem(line, "weekday", f"jour inconnu « {value} »", _did_you_mean(day, WEEKDAYS, _listing(WEEKDAYS)))
    return None


def _time(r: _Rows, line: int, column: str, value: str) -> time | None:
    m = _TIME.fullmatch(value)
    if m and int(m[1]) < 24 and int(m[2] or 0) < 60:
        return time(int(m[1]), int(m[2] or 0))
    label = "début" if column == "start" else "fin"
    r.problem(line, column, f"heure de {label} invalide « {value} »", "attendu : HH:MM sur 24 h, ex. 18:30")
    return None


def _row(r: _Rows, line: int, get: Callable[[str], str | None], sites: Mapping[str, str]) -> UE | None:
    """Validate one row; return its UE when every column is right."""
    before = len(r.problems)
    for column in COLUMNS:
        bad = control_character(get(column) or "")
        if bad:
            r.problem(line, column, bad, "attendu : du texte sur une ligne, sans caractère de contrôle")
    code = get("code")
    if code is not None:
        if not code:
            r.problem(line, "code", "code de l'UE vide", "attendu : un code Cnam, ex. NFA031")
        elif not _CODE.fullmatch(code):
            r.problem(line, "code", f"code invalide « {code} »",
                      "attendu : majuscules, chiffres, - ou _, sans espace, ex. NFA031")
    title = get("title")
    if title is not None and not title:
        r.problem(line, "title", "intitulé de l'UE vide", "attendu : l'intitulé tel qu'il paraît au catalogue")
    ects = _ects(r, line, get("ects") or "") if get("ects") is not None else None
    semester = modality = None
    if get("semester") is not None:
        semester = _choice(r, line, "semester", get("semester") or "", SEMESTERS, "semestre")
    if get("modality") is not None:
        modality = _choice(r, line, "modality", get("modality") or "", MODALITIES, "modalité", feminine=True,
                           synonyms=MODALITY_SYNONYMS)

    site = get("site") or ""
    if get("site") is not None:
        if site and site not in sites:
            lowered = {s.lower(): s for s in sites}
            if site.lower() in lowered:
                site = lowered[site.lower()]
            else:
                choices = list(sites) + (["vide (en ligne)"] if modality in ONLINE else [])
                r.problem(line, "site", f"site inconnu « {site} »",
                          _did_you_mean(site, list(sites), "l'un de " + _listing(choices)))
        elif not site and modality is not None and modality not in ONLINE:
            r.problem(line, "site", f"site manquant pour une UE « {modality} »",
                      "attendu : l'un de " + (_listing(list(sites)) or "(aucun site déclaré dans le fichier du centre)")
                      + " ; seules les UE FOAD ou en ligne planifié n'ont pas de site")

    timing = {c: get(c) for c in TIMING}
    weekday = start = end = None
    if modality in UNTIMED:
        for column, value in timing.items():
            if value:
                r.problem(line, column, f"une UE {modality} n'a pas {_TIMING_NONE[column]} (« {value} »)",
                          "attendu : colonne vide ; sinon choisissez une modalité à séances hebdomadaires")
    else:
        for column, value in timing.items():
            if value is None:
                continue
            if not value:
                if modality is not None:
                    r.problem(line, column, f"{_TIMING_MISSING[column]} pour une UE « {modality} »",
                              f"attendu : {_TIMING_EXPECTED[column]} ; seules les UE FOAD n'en ont pas")
            elif column == "weekday":
                weekday = _weekday(r, line, value)
            elif column == "start":
                start = _time(r, line, column, value)
            else:
                end = _time(r, line, column, value)
        if start is not None and end is not None and end <= start:
            r.problem(line, "end", f"la séance finit ({end:%H:%M}) avant ou à l'heure où elle commence ({start:%H:%M})",
                      "attendu : une heure de fin après l'heure de début, le même jour")
    if len(r.problems) > before or None in (code, title, ects, semester, modality):
        return None
    assert code is not None and title is not None and ects is not None
    assert semester is not None and modality is not None
    return UE(code=code, title=title, ects=ects, semester=semester, modality=modality, site=site,
              weekday=weekday, start=start, end=end, room=get("room") or "")



def parse_catalogue(text: str, path: str, centre: Centre) -> tuple[UE, ...]:
    """Parse the text of a UE catalogue; ``path`` names it in messages, ``centre`` gives the sites."""
    r = _Rows(path)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise CatalogueError("fichier vide ou première ligne vide", where=f"{path}:1",
                                 hint="attendu : l'en-tête " + ",".join(COLUMNS))
        index = _header(r, header)
        sites = {s.id: s.name for s in centre.sites}
        ues: list[UE] = []
        first_line: dict[str, int] = {}
        previous = reader.line_num
        for fields in reader:
            # a quoted field may hold line breaks: name the line where the row starts
            line = reader.line_num - sum(f.count("\n") for f in fields)
            line = max(line, previous + 1)
            previous = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if index and len(fields) != len(header):
                r.problem(line, None, f"{len(fields)} champs au lieu de {len(header)}",
                          "attendu : une valeur par colonne de l'en-tête ; mettez entre guillemets "
                          "un texte qui contient une virgule")
                continue

            def get(column: str, fields: list[str] = fields) -> str | None:
                return fields[index[column]].strip() if column in index else None

            ue = _row(r, line, get, sites)
            code = get("code")
            if code:
                key = code.upper()
                if key in first_line:
                    r.problem(line, "code", f"code « {code} » déjà utilisé ligne {first_line[key]}",
                              "attendu : un code par UE ; fusionnez ou supprimez l'une des deux lignes")
                    ue = None
                else:
                    first_line[key] = line
            if ue is not None:
                ues.append(ue)
    except csv.Error as exc:
        r.problem(reader.line_num, None, f"CSV illisible : {exc}", "vérifiez les guillemets de cette ligne")
    if r.problems:
        first = r.problems[0]
        raise CatalogueError(first.message, where=first.where, hint=first.hint, problems=r.problems)
    return tuple(ues)
