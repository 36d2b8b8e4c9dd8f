"""French (default) and English wording of dates."""

from __future__ import annotations

from datetime import date

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
