"""The message catalogues: every message of the pages and e-mails is in fr and en, none fuzzy; plurals and
numbers by locale.

The messages are extracted the way `pybabel extract` does (babel.cfg, the keywords messages.py names),
so a text added to a template or an e-mail without its English fails here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from cnam_calendar import messages
from cnam_calendar.mail.compose import countdown
from cnam_calendar.text.i18n import long_date

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "gettext": (2,), "ngettext": (2, 3)}  # messages.gettext(lang, msgid, ...)


def _extracted() -> set[str | tuple[str, str]]:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map, KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalogues(lang: str) -> list:
    parts = []
    for path in messages.catalogue_paths(lang):
        with path.open("rb") as po:
            parts.append(read_po(po))
    return parts


def test_extraction_finds_the_pages_and_the_e_mails() -> None:
    found = _extracted()
    assert "Calendrier de l'année universitaire" in found  # the year page's template
    assert ("%(num)d semaine", "%(num)d semaines") in found  # overview.py
    assert "Ce qu'il faut faire" in found  # the e-mails
    assert ("dans %(num)d jour", "dans %(num)d jours") in found


@pytest.mark.parametrize("lang", messages.LANGS)
def test_catalogue_is_complete_and_nothing_is_fuzzy(lang: str) -> None:
    ids: set = set()
    for catalogue in _catalogues(lang):  # messages.po and any area's file beside it
        part = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalogue if m.id}
        assert not part & ids, f"{lang}: in two catalogue files: {sorted(map(str, part & ids))}"
        ids |= part
        assert not catalogue.fuzzy
        for message in catalogue:
            if not message.id:
                continue
            assert not message.fuzzy, message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert strings and all(strings), f"{lang}: {message.id!r} is not translated"
        assert [(m.id, errors) for m, errors in catalogue.check()] == []  # placeholders match (python-format)
    assert ids == _extracted()  # nothing missing, nothing left over


def test_english_is_english() -> None:
    assert messages.gettext("en", "Ce qu'il faut faire") == "What to do"
    assert messages.gettext("en", "%(centre)s — année %(label)s", centre="Ipst-Cnam", label="2026-2027") == (
        "Ipst-Cnam — academic year 2026-2027")
    assert messages.gettext("fr", "Ce qu'il faut faire") == "Ce qu'il faut faire"


def test_plurals_follow_each_language() -> None:
    assert [countdown(n, "fr") for n in (0, 1, 3)] == ["aujourd'hui", "demain", "dans 3 jours"]
    assert [countdown(n, "en") for n in (0, 1, 3)] == ["today", "tomorrow", "in 3 days"]
    days = ("dans %(num)d jour", "dans %(num)d jours")
    assert messages.ngettext("fr", *days, 1) == "dans 1 jour"
    assert messages.ngettext("fr", *days, 0) == "dans 0 jour"  # French: 0 takes the singular
    assert messages.ngettext("en", *days, 0) == "in 0 days"
    assert messages.ngettext("en", *days, 1) == "in 1 day"
    weeks = ("%(num)d semaine", "%(num)d semaines")
    assert [messages.ngettext("fr", *weeks, n) for n in (1, 2)] == ["1 semaine", "2 semaines"]
    assert [messages.ngettext("en", *weeks, n) for n in (1, 2)] == ["1 week", "2 weeks"]


def test_numbers_and_dates_by_locale() -> None:
    assert messages.decimal(35.75, "fr") + " h" == "35,75 h"
    assert messages.decimal(35.75, "en") + " h" == "35.75 h"
    assert messages.decimal(6.0, "fr") == "6" and messages.decimal(1234.5, "fr") == "1\u202f234,5"
    assert long_date(date(2026, 10, 1)) == "jeudi 1er octobre 2026"
    assert long_date(date(2027, 3, 1)) == "lundi 1er mars 2027"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        messages.translations("de")
