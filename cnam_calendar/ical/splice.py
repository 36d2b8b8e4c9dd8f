"""Serialise once with icalendar, splice per copy: one event carried by many feeds under many UIDs.

A personal deadline with the same content (rule, dates, explanation, language, alarms) appears in the
feeds of many learners, each under their own UID and stamps. icalendar builds and folds it once; each
copy only splices its UID line and its stamp lines into those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import icalendar

from cnam_calendar.ical.ics import UNSTAMPED_LINE

PLACEHOLDER_UID = "uid-placeholder@cnam-calendar"  # the UID a Template is made with
_LINE_MAKER = icalendar.Event()
_FOLD = b"\r\n "


def content_line(name: str, value: str) -> bytes:
    """Serialise one TEXT property exactly as icalendar does (escaped, folded), CRLF included."""
    return _LINE_MAKER.content_line(name, value).to_ical() + b"\r\n"


@dataclass(frozen=True)
class Template:
    """A VEVENT serialised by icalendar with two holes: its UID line and its stamp lines."""

    before: bytes
    middle: bytes
    after: bytes
    uid_first: bool

    def fill(self, uid_line: bytes, stamps: bytes) -> bytes:
        """Return the VEVENT with ``uid_line`` (a ``content_line``) and ``stamps`` (``ics.stamp_lines``)."""
        first, second = (uid_line, stamps) if self.uid_first else (stamps, uid_line)
        return b"".join((self.before, first, self.middle, second, self.after))


def template(component: icalendar.Event) -> Template:
    """Serialise ``component``, made with UID ``PLACEHOLDER_UID`` and unstamped, into a ``Template``."""
    text = component.to_ical()
    uid_line = b"\r\n" + content_line("UID", PLACEHOLDER_UID)
    stamp_line = b"\r\n" + UNSTAMPED_LINE
    u, s = text.index(uid_line) + 2, text.index(stamp_line) + 2
    (a, a_len), (b, b_len) = sorted(((u, len(uid_line) - 2), (s, len(stamp_line) - 2)))
    return Template(text[:a], text[a + a_len:b], text[b + b_len:], uid_first=u < s)


class FoldedLines:
    """The content lines ``NAME:<prefix><run><suffix>`` where only ``run`` varies: ``width`` letters or digits.

    icalendar folds a line by its octets and never just after an escape character (backslash, caret);
    letters and digits are one octet and none of those, so every such line folds at the same points.
    icalendar folds one probe line; each line then reuses its cut points. Any other value (another
    width, other characters, a prefix or suffix that needs escaping) goes through icalendar itself.
    """

    def __init__(self, name: str, prefix: str, width: int, suffix: str) -> None:
        self.name, self.prefix, self.width, self.suffix = name, prefix, width, suffix
        self._head, self._tail = f"{name}:{prefix}".encode(), f"{suffix}\r\n".encode()
        pieces = content_line(name, prefix + "0" * width + suffix).split(_FOLD)
        self._bounds: list[tuple[int, int]] | None = None
        if b"".join(pieces) == self._head + b"0" * width + self._tail:  # nothing was escaped
            ends = list(accumulate(len(p) for p in pieces))
            self._bounds = list(zip([0, *ends[:-1]], ends, strict=True))

    def line(self, run: str) -> bytes:
        """Return the folded line for ``run``, byte for byte what ``content_line`` gives."""
        if self._bounds is None or len(run) != self.width or not (run.isascii() and run.isalnum()):
            return content_line(self.name, self.prefix + run + self.suffix)
        data = self._head + run.encode() + self._tail
        return _FOLD.join([data[a:b] for a, b in self._bounds])
