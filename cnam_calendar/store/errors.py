"""What a database failure means to the person reading the message: a full disk, a server gone, a race.

The store's errors all go through `describe`: it looks at the driver's error under SQLAlchemy's
(sqlite3, psycopg) and says the cause a person can act on, rather than the driver's words alone
with a guess (« vérifiez l'adresse » for a disk that is full).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from cnam_calendar.rules.errors import StoreConflict, StoreError

FULL_BELOW = 1 << 20  # bytes free under which a failing write is put down to the disk
_PG_DISK_FULL = "53100"
_PG_CONFLICTS = {"23505", "40001", "40P01"}  # unique violation, serialization failure, deadlock
_SQLITE_FULL = 13


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return found


def mount_point(path: str | os.PathLike[str]) -> Path:
    """Return the mount point of the file system that holds PATH (or would hold it)."""
    here = Path(path).resolve()
    while not here.exists() and here != here.parent:
        here = here.parent
    while not os.path.ismount(here) and here != here.parent:
        here = here.parent
    return here


def disk_nearly_full(path: str | os.PathLike[str]) -> bool:
    """Tell whether the file system of PATH has (almost) no room left."""
    try:
        return shutil.disk_usage(mount_point(path)).free < FULL_BELOW
    except OSError:
        return False


def disk_full(exc: BaseException, path: str | os.PathLike[str] | None = None) -> bool:
    """Tell whether EXC says the disk is full (of PATH, for the write errors that do not say why)."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(cause, sqlite3.Error):
            if getattr(cause, "sqlite_errorcode", None) == _SQLITE_FULL or "disk is full" in str(cause):
                return True
            if "disk I/O error" in str(cause) and path is not None and disk_nearly_full(path):
                return True
        if getattr(cause, "sqlstate", None) == _PG_DISK_FULL or "No space left on device" in str(cause):
            return True
    return False


def conflict(exc: BaseException) -> bool:
    """Tell whether EXC is another writer's doing (a duplicate key from a simultaneous import, a deadlock)."""
    return any(getattr(cause, "sqlstate", None) in _PG_CONFLICTS for cause in _causes(exc))


def first_line(exc: BaseException) -> str:
    """Return the first line of the driver's message (SQLAlchemy's own text adds the statement)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def disk_full_error(action: str, path: str | os.PathLike[str], where: str | None = None) -> StoreError:
    """Return the error saying that ACTION failed because the disk of PATH is full."""
    disk = mount_point(path)
    return StoreError(f"{action} impossible : disque plein ({disk})", where=where or str(path),
                      hint=f"libérez de la place sur {disk}, puis relancez ; rien n'a été écrit à moitié")


def describe(action: str, exc: BaseException, *, where: str, file: str | None = None,
             hint: str = "vérifiez que la base est accessible (--db, CNAM_CALENDAR_DB)") -> StoreError:
    """Return the StoreError for EXC, raised while doing ACTION on the store shown as WHERE.

    FILE is the SQLite file, if any: its disk is named when it is full. HINT is what to check
    when the cause is none of those known here (the server does not answer, a wrong address).
    """
    if disk_full(exc, file):
        return disk_full_error(action, file or ".", where)
    if conflict(exc):
        return StoreConflict(f"{action} impossible : une autre écriture simultanée l'a empêché ({first_line(exc)})",
                          where=where, hint="relancez la commande : elle reprend de zéro et rien n'a été écrit")
    return StoreError(f"{action} impossible : {first_line(exc)}", where=where, hint=hint)
