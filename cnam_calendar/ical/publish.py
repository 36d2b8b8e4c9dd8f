"""Publish centre-years whole or not at all: every file written aside in the same file system, then switched in.

``output/<centre>/<year>/`` is only ever a complete year: a build writes each year it publishes
into a sibling ``output/<centre>/.<year>.new/`` (every file flushed to disk), and only once every
year of the build is written does it switch each one in. On Linux the switch is one
``renameat2(RENAME_EXCHANGE)``: a reader (``serve`` reading a manifest, a web server sending an
.ics) opens the old year or the new one, never a mix and never nothing; the old year then goes.
Where the file system cannot exchange, the old year is renamed aside first (a reader may then find
no year for that instant, never half of one). A full disk while writing aside publishes nothing:
the staging directories go and the error names the disk. The previous year is removed once the
new one is in place: a reader that opens files by their path never misses one (one walking the
old directory's listing at that moment sees the rest of it go, never new files mixed in).

A build killed midway leaves at most ``.<year>.new`` / ``.<year>.old`` directories (and, from older
versions, ``.*.tmp`` files): the next build removes them, after putting back a year whose switch
was cut between its two renames. Builds of one output directory take turns (a lock on it).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.store.errors import disk_full, mount_point

_ASIDE = re.compile(r"^\.(?P<year>\d{4})\.(?P<kind>new|old)$")  # only ours: out may hold other things
_YEAR = re.compile(r"^\d{4}$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputError(CnamCalendarError):
    """The output directory cannot take the build (a full disk, no permission)."""


def _libc_renameat2():  # noqa: ANN202 - a ctypes function or None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_renameat2 = _libc_renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths A and B in one step; False when the system or file system cannot (nothing done)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _aside(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}")


def clean(out: Path) -> None:
    """Remove what an interrupted build left in OUT; a year cut between its two renames is put back first."""
    if not out.is_dir():
        return
    for centre in out.iterdir():
        if not centre.is_dir() or centre.name.startswith("."):
            continue
        leftovers = [(entry, m) for entry in centre.iterdir() if (m := _ASIDE.match(entry.name))]
        for entry, found in leftovers:
            year = centre / found["year"]
            if found["kind"] == "old" and not year.exists():
                os.rename(entry, year)  # the switch stopped after moving the old year aside: it is back
            else:
                shutil.rmtree(entry, ignore_errors=True)
        for year in centre.iterdir():
            if year.is_dir() and _YEAR.match(year.name):
                for tmp in (*year.glob(".*.tmp"), *year.glob("ue/.*.tmp")):  # atomic writes of older versions
                    tmp.unlink(missing_ok=True)


@contextmanager
def _turn(out: Path) -> Iterator[None]:
    """Hold the build lock of OUT (a flock on the directory itself: no file left behind)."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _stage(target: Path, files: Mapping[str, bytes]) -> Path:
    staging = _aside(target, "new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    folders = {staging}
    for rel, data in files.items():
        path = staging / rel
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(path, 0o644)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(folder)
    return staging


def _switch(target: Path, staging: Path) -> None:
    """Put STAGING in TARGET's place, then remove the previous year."""
    if target.exists():
        old = _aside(target, "old")
        shutil.rmtree(old, ignore_errors=True)
        if exchange(staging, target):
            os.rename(staging, old)  # the previous year, now under the staging name
        else:
            os.rename(target, old)
            os.rename(staging, target)
        shutil.rmtree(old)
    else:
        os.rename(staging, target)
    _fsync_dir(target.parent)


def publish(out: Path, years: Mapping[Path, Mapping[str, bytes]], *,
            describe: Mapping[Path, str] | None = None) -> None:
    """Write every year of YEARS ({year directory under OUT: {relative path: bytes}}) aside, then switch them in.

    Nothing is published unless everything was written: on a full disk (or any write error) the
    staging directories are removed and an OutputError names the disk (DESCRIBE names each year).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        for target in years:
            target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _error(exc, out, list(years), describe) from None
    with _turn(out):
        clean(out)
        staged: list[tuple[Path, Path]] = []
        try:
            for target, files in years.items():
                staged.append((target, _aside(target, "new")))
                _stage(target, files)
        except OSError as exc:
            for _, staging in staged:
                shutil.rmtree(staging, ignore_errors=True)
            raise _error(exc, out, list(years), describe) from None
        for target, staging in staged:
            _switch(target, staging)


def _error(exc: OSError, out: Path, targets: list[Path], describe: Mapping[Path, str] | None) -> OutputError:
    names = ", ".join((describe or {}).get(t, str(t)) for t in targets)
    if disk_full(exc):
        disk = mount_point(out)
        return OutputError(f"disque plein ({disk}) : rien n'a été publié ({names})", where=str(out),
                           hint=f"libérez de la place sur {disk} puis relancez ; "
                                "les années déjà publiées sont intactes")
    return OutputError(f"écriture impossible ({exc.strerror or exc}) : rien n'a été publié ({names})",
                       where=exc.filename or str(out), hint="vérifiez les droits sur le dossier de sortie (--out)")
