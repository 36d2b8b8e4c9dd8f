"""CSV text for spreadsheets: every CSV the project writes goes through here, formulas neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """Return ``value`` as text a spreadsheet shows as text: a leading formula character gets a quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], newline: str = "\n") -> str:
    """Return the CSV text of ``rows`` under ``header`` (comma separated, one line per row, cells neutralised).

    An empty ``header`` writes the rows only (a line added to an existing file).
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline)
    if header:
        writer.writerow([spreadsheet_cell(h) for h in header])
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
