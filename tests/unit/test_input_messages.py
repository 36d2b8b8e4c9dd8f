"""The input readers' messages come from the catalogue: French as the msgid, English beside it, counts as plurals."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnam_calendar import messages
from cnam_calendar.inputs import toml_fr
from cnam_calendar.inputs.config import load_centres, parse_centre
from cnam_calendar.inputs.instance import parse_instance
from cnam_calendar.inputs.roster import COLUMNS, parse_roster, validate_rows
from cnam_calendar.rules.errors import ConfigError, RosterError

HEADER = ",".join(COLUMNS)
ROW = "2026-00001,ana@example.org,Ana,Lopez,ipst-cnam,75,individuel,,,,,fr"


def _roster_hint(text: str, centres) -> str:
    with pytest.raises(RosterError) as info:
        validate_rows(parse_roster(text, "l.csv"), centres, {"ipst-cnam": set()}, source="l.csv")
    return info.value.hint or ""


def test_roster_counts_its_errors_and_fields_in_plurals(calendars_dir: Path) -> None:
    centres = load_centres(calendars_dir)
    assert _roster_hint(f"{HEADER}\n{ROW},x\n", centres) == "1 erreur dans l.csv, rien n'a été importé"
    two = _roster_hint(f"{HEADER}\n{ROW},x\n{ROW.replace('00001', '00002')},x,y\n", centres)
    assert two == "2 erreurs dans l.csv, rien n'a été importé"
    with pytest.raises(RosterError) as info:
        validate_rows(parse_roster(f"{HEADER}\n{ROW},x,y\n", "l.csv"), centres, {}, source="l.csv")
    assert info.value.message.startswith("14 champs au lieu de 12 ;")


def test_instance_file_counts_its_problems() -> None:
    with pytest.raises(ConfigError) as one:
        parse_instance("nope = 1\n", Path("i.toml"), {"serve.port": "int"})
    assert one.value.message == "1 problème" and one.value.problems[0].message == "clé inconnue"
    with pytest.raises(ConfigError) as two:
        parse_instance("nope = 1\nnada = 2\n", Path("i.toml"), {"serve.port": "int"})
    assert two.value.message == "2 problèmes"


def test_reader_messages_have_english_in_the_catalogue() -> None:
    assert messages.gettext("en", "clé inconnue") == "unknown key"
    assert messages.gettext("en", "fuseau horaire inconnu « %(tz)s »", tz="Europe/Pariss") == (
        "unknown time zone “Europe/Pariss”")
    assert messages.ngettext("en", "%(num)d erreur dans %(source)s, rien n'a été importé",
                             "%(num)d erreurs dans %(source)s, rien n'a été importé", 2, source="l.csv") == (
        "2 errors in l.csv, nothing was imported")


def test_toml_syntax_errors_are_said_from_the_catalogue() -> None:
    message, line, column, check = toml_fr.explain("Cannot declare ('years', '2026') twice (at line 3, column 1)")
    assert (message, line, column, check) == ("table « years.2026 » déclarée deux fois", 3, 1,
                                              "une seule déclaration par table")
    assert toml_fr.place("c.toml", 3, 1, "") == "c.toml, ligne 3, colonne 1"
    with pytest.raises(ConfigError) as info:
        parse_centre('id = "c"\ntimezone = "Europe/Pariss"\n', "c.toml")
    assert info.value.message == "fuseau horaire inconnu « Europe/Pariss »"
    assert info.value.hint == "attendu : un nom IANA, ex. Europe/Paris"
