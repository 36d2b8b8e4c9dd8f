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
from hypothesis import given, settings
from hypothesis import strategies as st

from cnam_calendar import messages
from cnam_calendar.mail.compose import countdown
from cnam_calendar.rules.model import step
from cnam_calendar.text import i18n
from cnam_calendar.text.explain import render
from cnam_calendar.text.i18n import long_date

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "gettext": (2,), "ngettext": (2, 3), "Count": (2, 3)}  # messages.gettext(lang, msgid, ...)


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


@settings(max_examples=300, deadline=None)
@given(quarters=st.integers(min_value=0, max_value=4_000_000), lang=st.sampled_from(messages.LANGS))
def test_the_pure_floor_writes_numbers_as_babel_does(quarters: int, lang: str) -> None:
    """text.i18n.decimal (the pure floor, which cannot read Babel's data files) agrees with Babel."""
    hours = quarters / 4  # hours are whole quarters of an hour (sessions start and end on the quarter)
    assert i18n.decimal(hours, lang) == messages.decimal(hours, lang)
    assert i18n.decimal(quarters / 1000, lang) == messages.decimal(quarters / 1000, lang)


def test_hours_are_written_by_locale_in_explanations_and_checks() -> None:
    assert render(step("sessions-count", count=11, first=date(2026, 10, 6), last=date(2026, 12, 15),
                       hours=35.75), "fr").endswith("soit 35,75 h.")
    assert render(step("sessions-count", count=11, first=date(2026, 10, 6), last=date(2026, 12, 15),
                       hours=35.75), "en").endswith("that is 35.75 h.")
    assert i18n.source_line("FAQ Ipst-Cnam", "fr") == "Source : FAQ Ipst-Cnam"
    assert i18n.source_line("FAQ Ipst-Cnam", "en") == "Source (in French): FAQ Ipst-Cnam"
