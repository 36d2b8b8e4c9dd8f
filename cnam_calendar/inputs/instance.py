"""Read the instance file (cnam-calendar.toml): the settings every command shares, or ConfigError.

The file holds plain values under known keys (``store``, ``[serve] port``, ``[smtp] host``…); which
keys exist and of what kind is given by the caller (the CLI's table of keys and options), so that
the file, the environment variables and the options stay one list. Every problem is reported at
once, each naming the file, its line and the key; relative paths are read from the file's folder.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnam_calendar.messages import N_, gettext, ngettext
from cnam_calendar.rules.checks import control_character
from cnam_calendar.rules.errors import ConfigError

FILE_NAME = "cnam-calendar.toml"

# kind → (python types accepted, what to write in the file)
KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "text": ((str,), N_('du texte entre guillemets, ex. "rappels@example.org"')),
    "path": ((str,), N_('un chemin entre guillemets, ex. "/var/lib/cnam-calendar/output"')),
    "int": ((int,), N_("un entier sans guillemets, ex. 8")),
    "number": ((int, float), N_("un nombre sans guillemets, ex. 2 ou 0.5")),
    "bool": ((bool,), N_("true ou false")),
}
# Keys refused with a reason of their own rather than « clé inconnue ».
SECRETS = {
    "smtp.password": N_("le mot de passe SMTP n'est jamais lu dans ce fichier ; attendu : la variable "
                        "CNAM_CALENDAR_SMTP_PASSWORD, ex. dans le fichier EnvironmentFile de systemd"),
}
_SYNTAX = [  # tomllib's messages (3.11 to 3.13) → French
    (re.compile(r"Expected '=' after a key"), N_("« = » attendu après une clé")),
    (re.compile(r"Invalid value"), N_("valeur illisible (texte sans guillemets ?)")),
    (re.compile(r"Cannot overwrite a value|Cannot declare .* twice|Duplicate"), N_("clé ou table définie deux fois")),
    (re.compile(r"Unclosed|Expected ']'|Expected '}'"), N_("crochet, accolade ou guillemet non fermé")),
    (re.compile(r"Illegal character"), N_("caractère interdit")),
    (re.compile(r"Invalid statement"), N_("ligne illisible")),
]
_AT = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")
_KEY_LINE = re.compile(r'\s*("?)([A-Za-z0-9_.-]+)\1\s*=')
_TABLE_LINE = re.compile(r'\s*\[\s*("?)([A-Za-z0-9_.-]+)\1\s*\]')


@dataclass(frozen=True)
class Instance:
    """The values of one instance file, by dotted key (``serve.port``), and where each was read."""

    path: Path | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """Return how a message names KEY: ``FILE:LINE (key)``."""
        line = self.lines.get(key)
        return f"{self.path}:{line} ({key})" if line else f"{self.path} ({key})"


def find_instance(explicit: str | Path | None, cwd: Path | None = None) -> Path | None:
    """Return the instance file to read: EXPLICIT (it must exist), else ./cnam-calendar.toml if present."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            what = gettext("fr", "c'est un dossier") if path.is_dir() else gettext("fr", "fichier introuvable")
            raise ConfigError(what, where=str(path),
                              hint=gettext("fr", "attendu : le fichier de l'instance, ex. /etc/cnam-calendar/%(name)s "
                                                 "(--config, CNAM_CALENDAR_CONFIG)", name=FILE_NAME))
        return path
    default = (cwd or Path.cwd()) / FILE_NAME
    return default if default.is_file() else None


def _syntax_error(exc: tomllib.TOMLDecodeError, path: Path) -> ConfigError:
    detail = str(exc)
    found = next((french for pattern, french in _SYNTAX if pattern.search(detail)), N_("syntaxe TOML invalide"))
    what = gettext("fr", found)
    at = _AT.search(detail)
    where = f"{path}:{at.group(1)}" if at and at.group(1) else str(path)
    if at and at.group(2):
        what = gettext("fr", "%(what)s (colonne %(column)s)", what=what, column=at.group(2))
    return ConfigError(what, where=where,
                       hint=gettext("fr", 'attendu : clé = valeur, le texte entre guillemets, ex. port = 8000 ou '
                                          'store = "cnam-calendar.db"'))


def _key_lines(text: str) -> dict[str, int]:
    """Return the line of each key of TEXT, as dotted keys (a small scan: tomllib gives no positions)."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        if (head := _TABLE_LINE.match(line)) is not None:
            table = head.group(2)
            lines.setdefault(table, number)
        elif (key := _KEY_LINE.match(line)) is not None:
            lines.setdefault(f"{table}.{key.group(2)}" if table else key.group(2), number)
    return lines


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat[dotted] = value  # kept, so that an unknown table is reported once
            flat.update(_flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def parse_instance(text: str, path: Path, schema: Mapping[str, str]) -> Instance:
    """Parse TEXT (the file PATH) against SCHEMA (dotted key → kind); raise ConfigError listing every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, path) from None
    except RecursionError:
        raise ConfigError(gettext("fr", "listes ou tables imbriquées trop profondément"), where=str(path),
                          hint=gettext("fr", "attendu : des tables [serve], [smtp]… de valeurs simples")) from None
    lines = _key_lines(text)
    base = Instance(path, {}, lines)
    tables = {key.rsplit(".", 1)[0] for key in schema if "." in key}
    problems: list[ConfigError] = []
    values: dict[str, Any] = {}
    unknown: list[str] = []  # unknown tables: reported once, their keys not
    for key, value in _flatten(doc).items():
        if isinstance(value, dict) and key in tables or any(key.startswith(f"{t}.") for t in unknown):
            continue
        kind = schema.get(key)
        if kind is None:
            if isinstance(value, dict):
                unknown.append(key)
            close = difflib.get_close_matches(key, [*schema, *tables], n=1)
            if key in SECRETS:
                what, hint = gettext("fr", "clé refusée"), gettext("fr", SECRETS[key])
            else:
                what = gettext("fr", "table inconnue") if isinstance(value, dict) else gettext("fr", "clé inconnue")
                hint = (gettext("fr", "vouliez-vous dire « %(close)s » ?", close=close[0]) if close
                        else gettext("fr", "clés connues : %(keys)s", keys=", ".join(schema)))
            problems.append(ConfigError(what, where=base.where(key), hint=hint))
            continue
        types, expected = KINDS[kind][0], gettext("fr", KINDS[kind][1])
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            problems.append(ConfigError(gettext("fr", "valeur de type incorrect (%(value)s)", value=repr(value)),
                                        where=base.where(key), hint=gettext("fr", "attendu : %(expected)s",
                                                                            expected=expected)))
            continue
        if isinstance(value, str):
            bad = control_character(value)
            if bad or not value.strip():
                problems.append(ConfigError(bad or gettext("fr", "valeur vide"), where=base.where(key),
                                            hint=gettext("fr", "attendu : %(expected)s", expected=expected)))
                continue
            if kind == "path":
                value = str(resolve(value, path.resolve().parent))
        values[key] = value
    if problems:
        raise ConfigError(ngettext("fr", "%(num)d problème", "%(num)d problèmes", len(problems)), where=str(path),
                          problems=problems)
    return Instance(path, values, lines)


def resolve(value: str, folder: Path) -> str | Path:
    """Return path VALUE read from FOLDER (a URL or an absolute path as is, ``~`` expanded)."""
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return p if p.is_absolute() else folder / p


def load_instance(path: Path, schema: Mapping[str, str]) -> Instance:
    """Read and parse the instance file PATH against SCHEMA."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(gettext("fr", "fichier illisible : ce n'est pas du texte UTF-8"), where=str(path),
                          hint=gettext("fr", "attendu : un fichier TOML enregistré en UTF-8")) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(gettext("fr", "lecture impossible : %(reason)s", reason=reason), where=str(path),
                          hint=gettext("fr", "vérifiez le chemin et les droits (--config, CNAM_CALENDAR_CONFIG)")) from None
    return parse_instance(text, path, schema)
