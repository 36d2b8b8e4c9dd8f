"""The operator's log: one line per event, French by default (gettext catalogues), as text or JSON.

A record's message is a msgid (the French wording, marked with ``N_`` so that Babel extracts it)
and its arguments one dict of values::

    log.info(N_("rappel envoyé : %(key)s (%(learner)s), %(reply)s"), {"key": k, "learner": l, "reply": r},
             extra={"event": "sent"})

``record.getMessage()`` stays the French line (tests and any handler that does not know this
module); the formatters of ``setup`` translate it into the operator's language at the edge, write
datetimes in Paris time (text) or ISO 8601 UTC (JSON), and, in JSON, put every value and the event
name beside the message, for log shippers. Secrets never reach a record: ``masked`` hides them in
a configuration first.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any
from zoneinfo import ZoneInfo

from cnam_calendar.messages import N_ as N_  # the marker of log lines: translated when the record is formatted
from cnam_calendar.messages import translations

PARIS = ZoneInfo("Europe/Paris")
FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
RESERVED = ("time", "level", "logger", "event", "message")  # JSON keys of the line itself
SECRET = "***"
_SECRET_KEY = re.compile(r"password|passwd|secret|token|key", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


class Msg(str):
    """A text value translated when the line is formatted (« la base », « le relais SMTP h:p »)."""

    values: Mapping[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Msg:
        made = super().__new__(cls, msgid % values if values else msgid)
        made.msgid = msgid  # type: ignore[attr-defined]
        made.values = values
        return made

    def translated(self, lang: str) -> str:
        """Return the text in ``lang``."""
        text = translations(lang).gettext(self.msgid)  # type: ignore[attr-defined]
        return text % self.values if self.values else text


class Count(int):
    """A count written with its noun in the operator's language (« 1 rappel », « 3 rappels »).

    The text line shows the words, by ``ngettext``; a JSON line keeps the number. Babel extracts the
    pair with the keyword ``Count:2,3`` (``babel.cfg``'s command in docs/architecture.md).
    """

    singular: str
    plural: str

    def __new__(cls, n: int, singular: str, plural: str) -> Count:
        made = super().__new__(cls, n)
        made.singular, made.plural = singular, plural
        return made

    def translated(self, lang: str) -> str:
        """Return « 3 rappels » in ``lang``."""
        return translations(lang).ngettext(self.singular, self.plural, int(self)) % {"num": int(self)}

    def __str__(self) -> str:  # a handler of somebody else's (``record.getMessage()``): the French words
        return self.translated("fr")


def masked(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``config`` with secrets hidden: values of keys naming one, and passwords inside URLs."""
    shown: dict[str, Any] = {}
    for name, value in config.items():
        if _SECRET_KEY.search(name):
            shown[name] = None if value in (None, "") else SECRET
        elif isinstance(value, str):
            shown[name] = _URL_PASSWORD.sub(lambda m: m.group("head") + SECRET + "@", value)
        else:
            shown[name] = value
    return shown


def _values(record: logging.LogRecord) -> Mapping[str, Any]:
    args = record.args
    return args if isinstance(args, Mapping) else {}


def _text_value(value: Any, lang: str) -> Any:
    if isinstance(value, (Msg, Count)):
        return value.translated(lang)
    if isinstance(value, datetime):
        return value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.0f} s"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text_value(v, lang)}" for k, v in value.items() if v is not None)
    return value


def _json_value(value: Any, lang: str) -> Any:
    if isinstance(value, Msg):
        return value.translated(lang)
    if isinstance(value, Count):
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, lang) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(v, lang) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class _Translating(logging.Formatter):
    def __init__(self, lang: str = "fr") -> None:
        super().__init__()
        translations(lang)  # an unknown language fails here, at start, not at the first line
        self.lang = lang

    def message(self, record: logging.LogRecord) -> str:
        """Return the record's line in the operator's language (a foreign record as it comes)."""
        values = _values(record)
        if not isinstance(record.msg, str) or (record.args and not values):
            return record.getMessage()  # a foreign record (positional arguments): as it comes
        text = translations(self.lang).gettext(record.msg)
        if not values:
            return text
        try:
            return text % {k: _text_value(v, self.lang) for k, v in values.items()}
        except (KeyError, TypeError, ValueError):  # a translation out of step with its values: the French
            return record.getMessage()


class TextFormatter(_Translating):
    """``2026-12-02 15:04:05 INFO message``: what a person reads in the journal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, PARIS).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{when} {record.levelname} {self.message(record)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(_Translating):
    """One JSON object a line: time, level, logger, event, message and every value of the record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None),
            "message": self.message(record),
        }
        for name, value in _values(record).items():
            line[name if name not in RESERVED else f"value_{name}"] = _json_value(value, self.lang)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(fmt: str = "text", lang: str = "fr") -> logging.Formatter:
    """Return the formatter of ``fmt`` (text or json) writing in ``lang``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return JsonFormatter(lang) if fmt == "json" else TextFormatter(lang)


def setup(fmt: str = "text", level: str = "info", lang: str = "fr", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr: the systemd journal) in ``fmt``; return the handler.

    ``level`` applies to cnam-calendar's own lines; other libraries (APScheduler…) say only their
    warnings, unless ``level`` is debug.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: expected one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(fmt, lang))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "cnam_calendar", False)]:
        root.removeHandler(old)
    handler.cnam_calendar = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    logging.getLogger("cnam_calendar").setLevel(level.upper())
    return handler
