"""The server's log: uvicorn's own configuration, less the tracebacks a malformed request used to leave.

When a request's headers parse but its body does not (a malformed chunked body), uvicorn's h11
protocol answers 400 « Invalid HTTP request received. » at once and marks the connection to close;
the application, already started for that request, then sends its own response into the closed
exchange, and uvicorn logs h11's LocalProtocolError with a traceback as « Exception in ASGI
application ». The client's mistake has been answered and logged once already: that record goes.
"""

from __future__ import annotations

import copy
import logging
from typing import Any


class AnsweredRequestFilter(logging.Filter):
    """Drop the record of an application writing to an exchange h11 already closed with a 400."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        import h11

        text = str(exc)
        closed = "role=SERVER" in text and ("state=MUST_CLOSE" in text or "state=CLOSED" in text)
        return not (isinstance(exc, h11.LocalProtocolError) and closed)


def log_config(fmt: str | None = None, level: str = "info", lang: str = "fr") -> dict[str, Any]:
    """Return uvicorn's logging configuration with the filter on its handlers.

    With ``fmt`` (text or json), every line, uvicorn's included, goes through the operator's
    formatter (``cnam_calendar.oplog``), and cnam-calendar's own lines at ``level`` to stderr.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["answered"] = {"()": f"{__name__}.AnsweredRequestFilter"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("answered")
    if fmt is not None:
        factory = "cnam_calendar.oplog.JsonFormatter" if fmt == "json" else "cnam_calendar.oplog.TextFormatter"
        for name in config["formatters"]:
            config["formatters"][name] = {"()": factory, "lang": lang}
        config["loggers"]["cnam_calendar"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def started(config: dict[str, Any]) -> None:
    """Log the server's start line: the configuration in effect, secrets masked."""
    from cnam_calendar.oplog import N_, masked

    logging.getLogger("cnam_calendar.web").info(N_("démarrage du serveur : %(config)s"), {"config": masked(config)},
                                                extra={"event": "start"})


def stopped() -> None:
    """Log the server's stop line."""
    from cnam_calendar.oplog import N_

    logging.getLogger("cnam_calendar.web").info(N_("arrêt du serveur"), extra={"event": "stop"})
