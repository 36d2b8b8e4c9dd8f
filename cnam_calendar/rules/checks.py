"""What every reader of user input checks the same way: years, dates, numbers, control characters.

PURE: no file, clock or network access.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date

YEAR_MIN, YEAR_MAX = 1901, 2199  # the academic years a calendar can be computed for
DATE_MIN, DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)  # a learner's own dates, a `deadline --from`
YEAR_EXPECTED = "AAAA, ex. 2026 pour 2026-2027"
# The academic years `build`, `diff` and `year new` publish or prepare: every event of year Y falls
# from 1 September Y to 30 September Y+1, and the project handles dates of 2000-2100 only.
PUBLISHED_MIN, PUBLISHED_MAX = DATE_MIN.year, DATE_MAX.year - 1

_ASCII_YEAR = re.compile(r"[0-9]{4}")
_ASCII_INT = re.compile(r"[0-9]{1,9}")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "retour arrière", 9: "tabulation", 10: "saut de ligne",
                  13: "retour chariot", 27: "ESC", 127: "DEL", 0x2028: "séparateur de ligne",
                  0x2029: "séparateur de paragraphe"}


def parse_year(text: str) -> int | None:
    """Return the academic year written ``text`` (four ASCII digits, 1901-2199), or None."""
    if not isinstance(text, str) or not _ASCII_YEAR.fullmatch(text):
        return None  # "²" and "٢٠٢٦" are digits to str.isdigit(), not years
    year = int(text)
    return year if YEAR_MIN <= year <= YEAR_MAX else None


def publishable_year(year: int) -> bool:
    """Tell whether calendars of academic year ``year`` can be published (PUBLISHED_MIN-PUBLISHED_MAX)."""
    return PUBLISHED_MIN <= year <= PUBLISHED_MAX


def parse_count(text: str) -> int | None:
    """Return the non-negative integer written ``text`` in ASCII digits (at most 9), or None."""
    return int(text) if isinstance(text, str) and _ASCII_INT.fullmatch(text) else None


def control_character(text: str) -> str | None:
    """Return where the first control character of ``text`` is and which it is, or None when there is none.

    Control characters (NUL, ESC, BEL, backspace, DEL, tabs and line breaks, C1 codes, the Unicode
    line and paragraph separators) make invalid iCalendar text and garble terminals and spreadsheets.
    """
    for i, char in enumerate(text, 1):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            code = ord(char)
            name = _CONTROL_NAMES.get(code)
            return f"caractère de contrôle U+{code:04X}{f' ({name})' if name else ''} en position {i}"
    return None


def out_of_range(value: float, low: float, high: float) -> bool:
    """Tell whether ``value`` is not a finite number within [low, high] (nan is never within)."""
    return not (math.isfinite(value) and low <= value <= high)


def in_dates(day: date, first: date = DATE_MIN, last: date = DATE_MAX) -> bool:
    """Tell whether ``day`` falls within [first, last]."""
    return first <= day <= last


def academic_window(year: int) -> tuple[date, date]:
    """Return the first and last day an event of academic year ``year`` may fall on (1 Sept Y - 30 Sept Y+1)."""
    return date(year, 9, 1), date(year + 1, 9, 30)
