"""Check, before `serve` announces its address, that it can listen there: a busy port is one French line."""

from __future__ import annotations

import errno
import socket

from cnam_calendar.rules.errors import CnamCalendarError

REASONS = {
    errno.EADDRINUSE: ("port déjà utilisé par un autre programme",
                       "arrêtez-le, ou choisissez un autre port : --port, CNAM_CALENDAR_SERVE_PORT ou [serve] port"),
    errno.EACCES: ("droit refusé sur ce port (en dessous de 1024, il faut être root)",
                   "choisissez un port à partir de 1024 et mettez nginx devant (voir deploy/)"),
    errno.EADDRNOTAVAIL: ("adresse absente de cette machine",
                          "choisissez une adresse locale : --host 127.0.0.1 (ou [serve] host)"),
}


class ListenError(CnamCalendarError):
    """The server cannot listen on the address asked for."""


def check_free(host: str, port: int) -> None:
    """Raise ListenError when HOST:PORT cannot be listened on (bound as uvicorn will, then released)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(f"adresse d'écoute inconnue ({exc})", where=f"{host}:{port}",
                          hint="attendu : une adresse IP ou un nom de cette machine, ex. 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        try:
            sock.bind(address)
        except OSError as exc:
            what, hint = REASONS.get(exc.errno or 0, (f"écoute impossible ({exc.strerror or exc})",
                                                      "choisissez une autre adresse ou un autre port"))
            raise ListenError(what, where=f"{host}:{port}", hint=hint) from None
