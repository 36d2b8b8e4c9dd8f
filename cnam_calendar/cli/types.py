"""The option types every command shares: a date within the supported range, an academic year."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import click

from cnam_calendar.rules.checks import (
    DATE_MAX,
    DATE_MIN,
    PUBLISHED_MAX,
    PUBLISHED_MIN,
    YEAR_EXPECTED,
    YEAR_MAX,
    YEAR_MIN,
    in_dates,
    parse_year,
    publishable_year,
)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not 2026-W44-4 nor 20261029, which fromisoformat reads


class IsoDate(click.ParamType):
    """A date written AAAA-MM-JJ in ASCII digits, between DATE_MIN and DATE_MAX."""

    name = "AAAA-MM-JJ"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            day = date.fromisoformat(value) if isinstance(value, str) and _ISO_DATE.fullmatch(value) else None
        except ValueError:
            day = None
        if day is None:
            self.fail(f"« {value} » n'est pas une date valide ; attendu : AAAA-MM-JJ, ex. 2026-10-29", param, ctx)
        if not in_dates(day):
            self.fail(f"{day} hors des dates prises en charge ; attendu : entre le {DATE_MIN} et le {DATE_MAX}",
                      param, ctx)
        return day


class AcademicYear(click.ParamType):
    """An academic year: four ASCII digits, YEAR_MIN to YEAR_MAX (2026 for 2026-2027)."""

    name = "AAAA"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and YEAR_MIN <= value <= YEAR_MAX:
            return value
        year = parse_year(value) if isinstance(value, str) else None
        if year is None:
            self.fail(f"« {value} » n'est pas une année de {YEAR_MIN} à {YEAR_MAX} ; attendu : {YEAR_EXPECTED}",
                      param, ctx)
        return year


ISO_DATE = IsoDate()
ACADEMIC_YEAR = AcademicYear()


class Integer(click.IntRange):
    """A bounded integer in ASCII digits (int() also reads "٨٠٠٠", " 8_000 " and "²"-free Unicode digits)."""

    name = "entier"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _INTEGER.fullmatch(value):
            self.fail(f"« {value} » n'est pas un entier ; attendu : des chiffres, {self._describe_range()}",
                      param, ctx)
        return super().convert(value, param, ctx)


_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")


class Decimal(click.FloatRange):
    """A bounded number written in ASCII digits, ex. 2 or 0.5 (float() also reads "nan", "1e3" and "٢")."""

    name = "nombre"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _DECIMAL.fullmatch(value):
            self.fail(f"« {value} » n'est pas un nombre ; attendu : des chiffres, ex. 2 ou 0.5, "
                      f"{self._describe_range()}", param, ctx)
        return super().convert(value, param, ctx)


def check_base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check a public server address (an option's callback): http(s), a host, no query, printable."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        ok = False
    if not ok or not value.isprintable() or " " in value:
        raise click.BadParameter(f"« {value} » ; attendu : une adresse http(s) sans paramètres, "
                                 "ex. https://calendrier.example.org")
    return value.rstrip("/")


class PublishedYear(AcademicYear):
    """An academic year calendars are published for (``build``, ``diff``, ``year new``): PUBLISHED_MIN-MAX."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        year = super().convert(value, param, ctx)
        if not publishable_year(year):
            self.fail(f"{year} hors des années prises en charge ; attendu : une année de {PUBLISHED_MIN} à "
                      f"{PUBLISHED_MAX} ({PUBLISHED_MIN}-{PUBLISHED_MIN + 1} à {PUBLISHED_MAX}-{PUBLISHED_MAX + 1})",
                      param, ctx)
        return year


PUBLISHED_YEAR = PublishedYear()
