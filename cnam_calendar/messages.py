"""Message catalogues (gettext, managed with Babel) and numbers by locale, for the pages and e-mails.

The catalogues are ``cnam_calendar/locale/<lang>/LC_MESSAGES/*.po``, shipped as package data
and compiled in memory on first use (no ``.mo`` to build: a plain ``pip install .`` carries them).
``messages.po`` holds them all; any other ``.po`` beside it would be read into the same catalogue
(a msgid in one file only), so that work in parallel can keep its texts apart until it is merged.
The msgids are the French wording; ``fr`` translates each to itself and holds the French plural rule,
``en`` holds the English. To re-extract and update after changing a text (see docs/architecture.md):

    pybabel extract -F babel.cfg -k gettext:2 -k ngettext:2,3 -k Count:2,3 --no-location --omit-header \
        -o cnam_calendar/locale/messages.pot .
    pybabel update -i cnam_calendar/locale/messages.pot -d cnam_calendar/locale --no-fuzzy-matching
"""

from __future__ import annotations

import io
from functools import cache
from importlib.resources import files

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGS = ("fr", "en")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def catalogue_path(lang: str, area: str = "messages"):
    """Return the ``.po`` file ``area`` of ``lang`` (a Traversable inside the package)."""
    return files("cnam_calendar") / "locale" / lang / "LC_MESSAGES" / f"{area}.po"


def catalogue_paths(lang: str) -> list:
    """Return every ``.po`` file of ``lang``, ``messages.po`` first, the others by name."""
    folder = files("cnam_calendar") / "locale" / lang / "LC_MESSAGES"
    others = sorted((p for p in folder.iterdir() if p.name.endswith(".po") and p.name != "messages.po"),
                    key=lambda p: p.name)
    return [folder / "messages.po", *others]


@cache
def translations(lang: str) -> Translations:
    """Return the gettext translations of ``lang`` (``fr`` or ``en``), read from its ``.po``."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    merged: Translations | None = None
    for path in catalogue_paths(lang):
        with path.open("rb") as po:
            catalogue = read_po(po, locale=LOCALES[lang])
        buffer = io.BytesIO()
        write_mo(buffer, catalogue)
        buffer.seek(0)
        part = Translations(buffer)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    assert merged is not None
    return merged


def gettext(lang: str, message: str, **values: object) -> str:
    """Return ``message`` in ``lang``, its ``%(name)s`` placeholders filled from ``values``."""
    text = translations(lang).gettext(message)
    return text % values if values else text


def ngettext(lang: str, singular: str, plural: str, n: int, **values: object) -> str:
    """Return the form of ``n`` in ``lang`` (« 1 jour », « 2 jours »), ``%(num)d`` being ``n``."""
    return translations(lang).ngettext(singular, plural, n) % {"num": n, **values}


def decimal(number: float, lang: str) -> str:
    """Return ``number`` written as ``lang`` writes it: « 35,75 » in French, « 35.75 » in English."""
    return format_decimal(number, locale=LOCALES[lang])


def countdown(n: int, lang: str) -> str:
    """Return « aujourd'hui », « demain », « dans 3 jours » (or « today », « tomorrow », « in 3 days »).

    The e-mails (time left when sent), the learner's page and ``learners show`` count the same way.
    """
    if n < 0:
        return gettext(lang, "date passée")
    if n == 0:
        return gettext(lang, "aujourd'hui")
    if n == 1:
        return gettext(lang, "demain")
    return ngettext(lang, "dans %(num)d jour", "dans %(num)d jours", n)


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools know)
    """Mark ``message`` for extraction where it is written (a table of texts), translated later by gettext."""
    return message
