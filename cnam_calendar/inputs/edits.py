"""The changes the staff console makes to a centre file or a UE catalogue, as text rewrites.

A centre file is edited with tomlkit, so its comments and layout stay: pinning a date sets
``overrides."<id>"`` in ``[years.Y]``, a closure is one inline table of ``closures``. A catalogue is
edited line by line: the row of the UE is replaced (or a row appended) and every other line is left
as it was. Each result is read back by the readers the commands use (``parse_centre``,
``parse_catalogue``), so a change the commands would refuse raises their very messages and is never
returned.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from cnam_calendar.inputs.catalogue import parse_catalogue
from cnam_calendar.inputs.config import parse_centre
from cnam_calendar.inputs.csv_out import csv_text
from cnam_calendar.messages import gettext
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.rules.model import Centre

UE_COLUMNS = ("code", "title", "ects", "semester", "modality", "site", "weekday", "start", "end", "room")


@dataclass(frozen=True)
class Pin:
    """Fix the dates of an institutional event (an override): ``start == end`` for a one-day event."""

    year: int
    event_id: str
    start: date | None
    end: date | None
    reason: str


@dataclass(frozen=True)
class Unpin:
    """Give an event back to its rule."""

    year: int
    event_id: str


@dataclass(frozen=True)
class ClosureEdit:
    """Add a closure (``original_id`` None) or change the one named ``original_id``."""

    year: int
    original_id: str | None
    id: str
    label: str
    start: date | None
    end: date | None


@dataclass(frozen=True)
class ClosureRemoval:
    year: int
    id: str


@dataclass(frozen=True)
class UERow:
    """Add a UE (``original_code`` None) or change the row of ``original_code``; ``fields`` as the CSV writes them."""

    original_code: str | None
    fields: Mapping[str, str]


Edit = Pin | Unpin | ClosureEdit | ClosureRemoval | UERow


def target(edit: Edit) -> str:
    """Return which file a change rewrites: "rules" (the centre file) or "catalogue"."""
    return "catalogue" if isinstance(edit, UERow) else "rules"


def _value(text: str) -> InlineTable:
    """Return an inline table written the way the shipped files write them (spaces inside the braces)."""
    return tomlkit.parse(f"v = {text}")["v"]


def _string(text: str) -> str:
    return tomlkit.string(text).as_string()


def _year_table(doc: tomlkit.TOMLDocument, year: int, path: str) -> Table:
    years = doc.get("years")
    table = years.get(str(year)) if isinstance(years, Table) else None
    if not isinstance(table, Table):
        raise ConfigError(gettext("fr", "la table [years.%(year)d] n'existe pas", year=year), where=path,
                          hint=gettext("fr", "ajoutez l'année d'abord : cnam-calendar year new %(year)d", year=year))
    return table


def _pin(table: Table, edit: Pin, path: str) -> None:
    if edit.start is None and edit.end is None:
        raise ConfigError(gettext("fr", "aucune date donnée"), where=f"years.{edit.year}.overrides.\"{edit.event_id}\"",
                          hint=gettext("fr", "attendu : date, start ou end"))
    parts = ([f"date = {edit.start.isoformat()}"] if edit.start is not None and edit.start == edit.end else
             [f"{k} = {d.isoformat()}" for k, d in (("start", edit.start), ("end", edit.end)) if d is not None])
    if edit.reason.strip():
        parts.append(f"reason = {_string(edit.reason.strip())}")
    value = _value("{ " + ", ".join(parts) + " }")
    overrides = table.get("overrides")
    if overrides is None:
        table.append(tomlkit.key(["overrides", edit.event_id]), value)
    elif isinstance(overrides, Table | InlineTable):
        overrides[edit.event_id] = value
    else:
        raise ConfigError(gettext("fr", "« overrides » doit être une table"), where=f"years.{edit.year}.overrides",
                          hint=gettext("fr", "attendu : { start = AAAA-MM-JJ, end = AAAA-MM-JJ, reason = \"…\" }"))


def _closures(table: Table, year: int) -> Array:
    found = table.get("closures")
    if found is None:
        table["closures"] = tomlkit.array()
        found = table["closures"]
    if not isinstance(found, Array) or isinstance(found, AoT):
        raise ConfigError(gettext("fr", "« closures » doit être une liste de tables en ligne"),
                          where=f"years.{year}.closures",
                          hint=gettext("fr", 'attendu : { id = "noel", start = …, end = …, label = "…" }'))
    return found


def _closure_index(closures: Array, closure_id: str, year: int) -> int:
    for i, c in enumerate(closures):
        if isinstance(c, dict) and c.get("id") == closure_id:
            return i
    raise ConfigError(gettext("fr", "fermeture « %(id)s » introuvable", id=closure_id),
                      where=f"years.{year}.closures",
                      hint=gettext("fr", "rechargez la page : le fichier a peut-être changé"))


def _closure(closures: Array, edit: ClosureEdit) -> None:
    parts = [f"id = {_string(edit.id.strip())}"]
    parts += [f"{k} = {d.isoformat()}" for k, d in (("start", edit.start), ("end", edit.end)) if d is not None]
    parts.append(f"label = {_string(edit.label.strip())}")
    value = _value("{ " + ", ".join(parts) + " }")
    if edit.original_id is None:
        closures.append(value)
    else:
        closures[_closure_index(closures, edit.original_id, edit.year)] = value


def _edit_rules(edit: Edit, text: str, path: str) -> str:
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise ConfigError(gettext("fr", "TOML illisible (%(reason)s)", reason=str(exc)), where=path,
                          hint=gettext("fr", "corrigez le fichier (cnam-calendar check) puis relancez")) from None
    table = _year_table(doc, edit.year, path)  # type: ignore[union-attr]
    if isinstance(edit, Pin):
        _pin(table, edit, path)
    elif isinstance(edit, Unpin):
        overrides = table.get("overrides")
        if not isinstance(overrides, Table | InlineTable) or edit.event_id not in overrides:
            raise ConfigError(gettext("fr", "« %(event)s » n'a pas de date fixée en %(year)d", event=edit.event_id,
                                      year=edit.year), where=f"years.{edit.year}.overrides",
                              hint=gettext("fr", "rechargez la page : le fichier a peut-être changé"))
        del overrides[edit.event_id]
        if not overrides:
            del table["overrides"]
    elif isinstance(edit, ClosureEdit):
        _closure(_closures(table, edit.year), edit)
    elif isinstance(edit, ClosureRemoval):
        closures = _closures(table, edit.year)
        del closures[_closure_index(closures, edit.id, edit.year)]
    new = tomlkit.dumps(doc)
    return _blank_lines_kept(text, new if new.endswith("\n") else new + "\n")


def _blank_lines_kept(old: str, new: str) -> str:
    """Return ``new`` with the blank lines of ``old`` that tomlkit dropped next to what it added put back."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    kept: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        blanks = before[i1:i2] if before[i1:i2] and all(not line.strip() for line in before[i1:i2]) else []
        kept.extend(before[i1:i2] if tag == "equal" else [*after[j1:j2], *blanks])
    return "".join(kept)


def _row_text(fields: Mapping[str, str], columns: list[str], newline: str) -> str:
    return csv_text((), [[fields.get(c, "").strip() for c in columns]], newline)  # a formula stays text


def _edit_catalogue(edit: UERow, text: str, path: str) -> str:
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if not lines:
        lines = [",".join(UE_COLUMNS) + newline]
    columns = [c.strip().lstrip("\ufeff") for c in next(csv.reader([lines[0]]), [])]
    if edit.original_code is None:
        if not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        return "".join(lines) + _row_text(edit.fields, columns, newline)
    at = columns.index("code") if "code" in columns else 0
    for i, line in enumerate(lines[1:], start=1):
        row = next(csv.reader([line]), [])
        if len(row) > at and row[at].strip().upper() == edit.original_code.upper():
            ending = newline if line.endswith(("\n", "\r")) else ""
            lines[i] = _row_text(edit.fields, columns, newline).removesuffix(newline) + ending
            return "".join(lines)
    raise ConfigError(gettext("fr", "UE « %(code)s » introuvable au catalogue", code=edit.original_code), where=path,
                      hint=gettext("fr", "rechargez la page : le fichier a peut-être changé"))


def apply(edit: Edit, text: str, path: str, centre: Centre | None = None) -> str:
    """Return ``text`` (the file ``path``) with ``edit`` made, checked as the commands read it.

    ``centre`` is needed for a catalogue (its sites). Raises ConfigError (or the readers' errors,
    with ``check``'s messages) when the change cannot be made or the result would be refused.
    """
    if isinstance(edit, UERow):
        if centre is None:
            raise ValueError("a catalogue edit needs its centre")
        new = _edit_catalogue(edit, text, path)
        parse_catalogue(new, path, centre)
        return new
    new = _edit_rules(edit, text, path)
    parse_centre(new, path)
    return new
