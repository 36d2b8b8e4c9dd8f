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

from cnam_calendar.messages import N_, gettext, ngettext
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
_TIMING_MISSING = {"weekday": N_("jour de cours manquant pour une UE « %(modality)s »"),
                   "start": N_("heure de début manquante pour une UE « %(modality)s »"),
                   "end": N_("heure de fin manquante pour une UE « %(modality)s »")}
_TIMING_NONE = {"weekday": N_("une UE %(modality)s n'a pas de jour de cours (« %(value)s »)"),
                "start": N_("une UE %(modality)s n'a pas d'heure de début (« %(value)s »)"),
                "end": N_("une UE %(modality)s n'a pas d'heure de fin (« %(value)s »)")}
_TIMING_EXPECTED = {"weekday": ", ".join(WEEKDAYS), "start": "HH:MM, ex. 18:30", "end": "HH:MM, ex. 21:30"}
# column → (message when empty, message when unknown)
_CHOICE_MESSAGES = {"semester": (N_("semestre manquant"), N_("semestre inconnu « %(value)s »")),
                    "modality": (N_("modalité manquante"), N_("modalité inconnue « %(value)s »"))}

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
        byte = f"{exc.object[exc.start]:#04x}"
        raise UnreadableCatalogueError(gettext("fr", "caractère qui n'est pas de l'UTF-8 (octet %(byte)s)", byte=byte),
                                       where=f"{path}:{line}",
                                       hint=gettext("fr", "enregistrez le fichier en « CSV UTF-8 (délimité par des "
                                                          "virgules) »")) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UnreadableCatalogueError(gettext("fr", "lecture impossible : %(reason)s", reason=reason),
                                       where=str(path)) from None
    return parse_catalogue(text, str(path), centre)


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str], expected: str) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if close:
        return gettext("fr", "vouliez-vous dire « %(close)s » ? attendu : %(expected)s", close=close[0],
                       expected=expected)
    return _expected(expected)


def _expected(expected: str) -> str:
    return gettext("fr", "attendu : %(expected)s", expected=expected)


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
        sep = "« ; »" if ";" in names[0] else gettext("fr", "la tabulation")
        r.problem(1, None, gettext("fr", "séparateur %(sep)s au lieu de la virgule", sep=sep),
                  gettext("fr", "enregistrez en « CSV UTF-8 (délimité par des virgules) » ; attendu : %(columns)s",
                          columns=",".join(COLUMNS)))
        return {}
    index: dict[str, int] = {}
    taken_for: set[str] = set()  # columns a misspelt name was taken for: said once, not also « absente »
    for i, name in enumerate(names):
        if name and name not in COLUMNS:
            taken_for.update(c for c in difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6) if c not in names)
        if not name:
            r.problem(1, gettext("fr", "colonne %(number)d", number=i + 1), gettext("fr", "nom de colonne vide"),
                      _expected(",".join(COLUMNS)))
        elif name in index:
            r.problem(1, name, gettext("fr", "colonne en double"), gettext("fr", "attendu : chaque colonne une seule fois"))
        elif name not in COLUMNS:
            r.problem(1, name, gettext("fr", "colonne inconnue"), _did_you_mean(name, COLUMNS, ",".join(COLUMNS)))
        else:
            index[name] = i
    for name in COLUMNS:
        if name not in index and name not in taken_for:
            r.problem(1, name, gettext("fr", "colonne absente de l'en-tête"), _expected(",".join(COLUMNS)))
    return index


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: « Présentiel » and « presentiel » read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _choice(r: _Rows, line: int, column: str, value: str, choices: tuple[str, ...],
            synonyms: Mapping[str, str] | None = None) -> str | None:
    """Match ``value`` against ``choices`` and their ``synonyms`` ignoring case and accents; report it when none."""
    by_fold = {_fold(c): c for c in choices} | {_fold(word): c for word, c in (synonyms or {}).items()}
    if _fold(value) in by_fold:
        return by_fold[_fold(value)]
    if not value:
        r.problem(line, column, gettext("fr", _CHOICE_MESSAGES[column][0]), _expected(_listing(choices)))
    else:
        by_lower = {c.lower(): c for c in choices}
        lowered = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
        expected = _listing(choices)
        if synonyms:
            expected = gettext("fr", "%(choices)s (ou l'un de leurs synonymes, docs/formats.md)", choices=expected)
        hint = (gettext("fr", "vouliez-vous dire « %(close)s » ? attendu : %(expected)s",
                        close=by_lower[lowered[0]], expected=expected) if lowered else _expected(expected))
        r.problem(line, column, gettext("fr", _CHOICE_MESSAGES[column][1], value=value), hint)
    return None


def _ects(r: _Rows, line: int, value: str) -> float | None:
    expected = _expected(gettext("fr", "un nombre de crédits positif, %(max)d au plus, ex. 4, 6, 8 ou 12",
                                 max=MAX_ECTS))
    if not value:
        r.problem(line, "ects", gettext("fr", "nombre de crédits ECTS manquant"), expected)
        return None
    if not _NUMBER.fullmatch(value):
        r.problem(line, "ects", gettext("fr", "« %(value)s » n'est pas un nombre", value=value), expected)
        return None
    ects = float(value.replace(",", "."))
    if not math.isfinite(ects) or not 0 < ects <= MAX_ECTS:
        what = (gettext("fr", "« %(value)s » n'est pas un nombre positif", value=value) if ects <= 0
                else gettext("fr", "« %(value)s » est trop grand", value=value))
        r.problem(line, "ects", what, expected)
        return None
    return ects


def _weekday(r: _Rows, line: int, value: str) -> int | None:
    day = value.lower()
    if day in WEEKDAYS:
        return WEEKDAYS.index(day)
    if day == "dimanche":
        r.problem(line, "weekday", gettext("fr", "pas de cours le dimanche"), _expected(_listing(WEEKDAYS)))
    else:
        r.problem(line, "weekday", gettext("fr", "jour inconnu « %(value)s »", value=value),
                  _did_you_mean(day, WEEKDAYS, _listing(WEEKDAYS)))
    return None


def _time(r: _Rows, line: int, column: str, value: str) -> time | None:
    m = _TIME.fullmatch(value)
    if m and int(m[1]) < 24 and int(m[2] or 0) < 60:
        return time(int(m[1]), int(m[2] or 0))
    what = (gettext("fr", "heure de début invalide « %(value)s »", value=value) if column == "start"
            else gettext("fr", "heure de fin invalide « %(value)s »", value=value))
    r.problem(line, column, what, gettext("fr", "attendu : HH:MM sur 24 h, ex. 18:30"))
    return None


def _row(r: _Rows, line: int, get: Callable[[str], str | None], sites: Mapping[str, str]) -> UE | None:
    """Validate one row; return its UE when every column is right."""
    before = len(r.problems)
    for column in COLUMNS:
        bad = control_character(get(column) or "")
        if bad:
            r.problem(line, column, bad, gettext("fr", "attendu : du texte sur une ligne, sans caractère de contrôle"))
    code = get("code")
    if code is not None:
        if not code:
            r.problem(line, "code", gettext("fr", "code de l'UE vide"), gettext("fr", "attendu : un code Cnam, ex. NFA031"))
        elif not _CODE.fullmatch(code):
            r.problem(line, "code", gettext("fr", "code invalide « %(code)s »", code=code),
                      gettext("fr", "attendu : majuscules, chiffres, - ou _, sans espace, ex. NFA031"))
    title = get("title")
    if title is not None and not title:
        r.problem(line, "title", gettext("fr", "intitulé de l'UE vide"),
                  gettext("fr", "attendu : l'intitulé tel qu'il paraît au catalogue"))
    ects = _ects(r, line, get("ects") or "") if get("ects") is not None else None
    semester = modality = None
    if get("semester") is not None:
        semester = _choice(r, line, "semester", get("semester") or "", SEMESTERS)
    if get("modality") is not None:
        modality = _choice(r, line, "modality", get("modality") or "", MODALITIES, synonyms=MODALITY_SYNONYMS)

    site = get("site") or ""
    if get("site") is not None:
        if site and site not in sites:
            lowered = {s.lower(): s for s in sites}
            if site.lower() in lowered:
                site = lowered[site.lower()]
            else:
                choices = list(sites) + ([gettext("fr", "vide (en ligne)")] if modality in ONLINE else [])
                r.problem(line, "site", gettext("fr", "site inconnu « %(site)s »", site=site),
                          _did_you_mean(site, list(sites), gettext("fr", "l'un de %(choices)s",
                                                                   choices=_listing(choices))))
        elif not site and modality is not None and modality not in ONLINE:
            choices = _listing(list(sites)) or gettext("fr", "(aucun site déclaré dans le fichier du centre)")
            r.problem(line, "site", gettext("fr", "site manquant pour une UE « %(modality)s »", modality=modality),
                      gettext("fr", "attendu : l'un de %(choices)s ; seules les UE FOAD ou en ligne planifié n'ont "
                                    "pas de site", choices=choices))

    timing = {c: get(c) for c in TIMING}
    weekday = start = end = None
    if modality in UNTIMED:
        for column, value in timing.items():
            if value:
                r.problem(line, column, gettext("fr", _TIMING_NONE[column], modality=modality, value=value),
                          gettext("fr", "attendu : colonne vide ; sinon choisissez une modalité à séances "
                                        "hebdomadaires"))
    else:
        for column, value in timing.items():
            if value is None:
                continue
            if not value:
                if modality is not None:
                    r.problem(line, column, gettext("fr", _TIMING_MISSING[column], modality=modality),
                              gettext("fr", "attendu : %(expected)s ; seules les UE FOAD n'en ont pas",
                                      expected=_TIMING_EXPECTED[column]))
            elif column == "weekday":
                weekday = _weekday(r, line, value)
            elif column == "start":
                start = _time(r, line, column, value)
            else:
                end = _time(r, line, column, value)
        if start is not None and end is not None and end <= start:
            ends, starts = f"{end:%H:%M}", f"{start:%H:%M}"
            r.problem(line, "end", gettext("fr", "la séance finit (%(end)s) avant ou à l'heure où elle commence "
                                                 "(%(start)s)", end=ends, start=starts),
                      gettext("fr", "attendu : une heure de fin après l'heure de début, le même jour"))
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
            raise CatalogueError(gettext("fr", "fichier vide ou première ligne vide"), where=f"{path}:1",
                                 hint=gettext("fr", "attendu : l'en-tête %(columns)s", columns=",".join(COLUMNS)))
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
                r.problem(line, None, ngettext("fr", "%(num)d champ au lieu de %(width)d",
                                               "%(num)d champs au lieu de %(width)d", len(fields), width=len(header)),
                          gettext("fr", "attendu : une valeur par colonne de l'en-tête ; mettez entre guillemets "
                                        "un texte qui contient une virgule"))
                continue

            def get(column: str, fields: list[str] = fields) -> str | None:
                return fields[index[column]].strip() if column in index else None

            ue = _row(r, line, get, sites)
            code = get("code")
            if code:
                key = code.upper()
                if key in first_line:
                    r.problem(line, "code", gettext("fr", "code « %(code)s » déjà utilisé ligne %(line)d", code=code,
                                                    line=first_line[key]),
                              gettext("fr", "attendu : un code par UE ; fusionnez ou supprimez l'une des deux lignes"))
                    ue = None
                else:
                    first_line[key] = line
            if ue is not None:
                ues.append(ue)
    except csv.Error as exc:
        r.problem(reader.line_num, None, gettext("fr", "CSV illisible : %(reason)s", reason=str(exc)),
                  gettext("fr", "vérifiez les guillemets de cette ligne"))
    if r.problems:
        first = r.problems[0]
        raise CatalogueError(first.message, where=first.where, hint=first.hint, problems=r.problems)
    return tuple(ues)
