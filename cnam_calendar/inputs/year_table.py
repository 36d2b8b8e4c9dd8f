"""Add a ``[years.Y]`` table to a centre file, leaving every other byte of it as it was (tomlkit).

The table holds the default closures of the year and a commented example of an override. The text
is only ever inserted: the result is checked to be the old file with one block added, and to read
back (``inputs.config.parse_centre``) with the new year, before anyone writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from cnam_calendar.inputs.config import parse_centre
from cnam_calendar.messages import gettext
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.rules.model import Closure
from cnam_calendar.text.i18n import long_date


def _toml_string(text: str) -> str:
    return tomlkit.string(text).as_string()


def _closure(c: Closure) -> str:
    return (f"{{ id = {_toml_string(c.id)}, start = {c.start.isoformat()}, end = {c.end.isoformat()}, "
            f"label = {_toml_string(c.label)} }}")


def year_table(year: int, closures: Sequence[Closure], semester_1: date) -> str:
    """Return the TOML text of the new table; ``semester_1`` is the start the rule gives (for the example)."""
    if len(closures) == 1:
        listed = f"closures = [{_closure(closures[0])}]"
    else:
        listed = "closures = [\n" + "".join(f"  {_closure(c)},\n" for c in closures) + "]"
    example = semester_1 - timedelta(days=7)
    return "\n".join((
        f"[years.{year}]",
        "# Fermeture par défaut (cnam-calendar year new) : du samedi qui précède le 25 décembre au",
        "# dimanche deux semaines plus tard. Ajoutez les autres fermetures à la liste.",
        listed,
        "# Pour fixer une date (elle remplace la règle, et l'explication le dit), par exemple avancer",
        f"# d'une semaine la rentrée que donne la règle ({long_date(semester_1)}) :",
        f'# overrides."semester-1" = {{ start = {example.isoformat()}, reason = "rentrée avancée, vote du conseil du …" }}',
        "",
    ))


def _inserted_only(old: str, new: str) -> bool:
    """Tell whether ``new`` is ``old`` with one block of text inserted somewhere."""
    prefix = 0
    for a, b in zip(old, new):  # noqa: B905 (lengths differ on purpose)
        if a != b:
            break
        prefix += 1
    return len(new) > len(old) and new.endswith(old[prefix:])


def add_year(text: str, path: str, year: int, closures: Sequence[Closure], semester_1: date) -> str:
    """Return ``text`` (the centre file ``path``) with a ``[years.YEAR]`` table added after the last year.

    Raises ConfigError when the file already has the year, or when it writes its years in a way the
    table cannot be added to without rewriting other lines (then the message gives the table to paste).
    """
    block = year_table(year, closures, semester_1)
    by_hand = gettext("fr", "ajoutez à la fin du fichier : %(table)s",
                      table=" / ".join(line for line in block.splitlines() if line))
    try:
        doc = tomlkit.parse(text)
        table = tomlkit.parse(block)["years"][str(year)]
    except (TOMLKitError, ValueError) as exc:
        raise ConfigError(gettext("fr", "TOML illisible (%(reason)s)", reason=str(exc)), where=path,
                          hint=gettext("fr", "corrigez le fichier (cnam-calendar check) puis relancez")) from None
    years = doc.get("years")
    if years is not None and not isinstance(years, Table):
        raise ConfigError(gettext("fr", "« years » n'est pas écrit en tables [years.AAAA] : la table ne peut pas être "
                                        "ajoutée sans réécrire ces lignes"), where=path, hint=by_hand)
    if years is not None and any(str(key).strip('"') == str(year) for key in years):
        raise ConfigError(gettext("fr", "la table [years.%(year)d] existe déjà", year=year), where=path,
                          hint=gettext("fr", "modifiez-la dans le fichier, ou choisissez une autre année"))
    try:
        if years is None:
            doc.append("years", tomlkit.parse(block)["years"])
        else:
            years.append(str(year), table)
        new = tomlkit.dumps(doc)
        new += "" if new.endswith("\n") else "\n"  # tomlkit drops the line end of a closing comment
    except (TOMLKitError, ValueError) as exc:
        raise ConfigError(gettext("fr", "ajout impossible (%(reason)s)", reason=str(exc)), where=path,
                          hint=by_hand) from None
    if not _inserted_only(text, new):
        raise ConfigError(gettext("fr", "la table ne peut pas être ajoutée sans modifier d'autres lignes du fichier"),
                          where=path, hint=by_hand)
    centre = parse_centre(new, path)  # never write a file the commands would refuse
    if year not in centre.years or tuple(centre.year(year).closures) != tuple(closures):
        raise ConfigError(gettext("fr", "la table ajoutée ne se relit pas comme prévu"), where=path, hint=by_hand)
    return new
