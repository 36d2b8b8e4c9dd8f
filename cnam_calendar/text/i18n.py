"""French (default) and English wording of dates."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}
LANGS = ("fr", "en")


def day_name(d: date, lang: str = "fr") -> str:
    """Return the weekday name of ``d``."""
    return _DAYS[lang][d.weekday()]


def month_name(month: int, lang: str = "fr") -> str:
    """Return the name of month number ``month`` (1-12)."""
    return _MONTHS[lang][month - 1]


def long_date(d: date, lang: str = "fr", *, weekday: bool = True) -> str:
    """Return ``d`` written out, e.g. « jeudi 1er octobre 2026 »."""
    if lang == "en":
        text = f"{d.day} {month_name(d.month, 'en')} {d.year}"
    else:
        day = "1er" if d.day == 1 else str(d.day)
        text = f"{day} {month_name(d.month)} {d.year}"
    return f"{day_name(d, lang)} {text}" if weekday else text

HOLIDAY_NAMES_EN = {
    "Jour de l'an": "New Year's Day",
    "Vendredi saint": "Good Friday",
    "Lundi de Pâques": "Easter Monday",
    "Fête du Travail": "Labour Day",
    "Fête de la Victoire": "Victory Day",
    "Ascension": "Ascension Day",
    "Lundi de Pentecôte": "Whit Monday",
    "Fête nationale": "Bastille Day",
    "Assomption": "Assumption Day",
    "Toussaint": "All Saints' Day",
    "Armistice": "Armistice Day",
    "Noël": "Christmas Day",
    "Saint-Étienne": "St Stephen's Day",
}


def ordinal_fr(n: int) -> str:
    """Return « 1er », « 2e », « 3e »…"""
    return "1er" if n == 1 else f"{n}e"


def decimal(number: float, lang: str = "fr", places: int | None = None) -> str:
    """Write ``number`` as ``lang`` does: « 35,75 » and « 1 234,5 » in French, « 35.75 » in English.

    At most three decimals (or exactly ``places``), no trailing zeros, as Babel's default pattern
    writes them (``messages.decimal``, which the templates use; a property test keeps the two equal).
    The pure floor cannot import Babel (it reads its locale data from files), hence this twin.
    """
    exact = Decimal(str(number)).quantize(Decimal(1).scaleb(-(3 if places is None else places)), ROUND_HALF_EVEN)
    text = f"{exact:,f}"
    if places is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("-") and not exact:
        text = text[1:]
    if lang == "en":
        return text
    return text.replace(",", "\u202f").replace(".", ",")


def source_line(cite: str, lang: str = "fr") -> str:
    """Return the line naming where a rule comes from: « Source : … » (French spacing).

    In English the FAQ is still quoted as it is written, in French, and the label says so.
    """
    return ("Source (in French): " if lang == "en" else "Source : ") + cite
