"""A change from the staff console, previewed then published: the use case under web/admin_edit.py.

``preview`` makes the change in memory (``inputs.edits.apply``), derives the year as ``build`` would
and compares it with what is published (``ical.diff.diff_year``, with the learners of the store).
``publish`` does it again under an exclusive lock of the file, refuses when the file is no longer
the one the preview read (its SHA-256, the ``version``: another session published, or someone edited
the file by hand), then writes the file atomically (a temporary file in the same folder, fsync,
rename), rebuilds the centre-year into the output and writes the journal line. The year is checked
before the file is written, so a change the build would refuse writes nothing. Change notices need
nothing more: the daemon's scan sees the new dates and holds them back (store.notices).
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical.diff import YearDiff, diff_year
from cnam_calendar.inputs.catalogue import catalogue_path, parse_catalogue
from cnam_calendar.inputs.config import load_centres, parse_centre
from cnam_calendar.inputs.edits import ClosureEdit, ClosureRemoval, Edit, Pin, UERow, Unpin, apply, target
from cnam_calendar.messages import gettext
from cnam_calendar.rules.engine import PERSONAL_RULES
from cnam_calendar.rules.errors import CnamCalendarError, ConfigError
from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.service import checked_schedule, local_date, ouvres_for, year_problems
from cnam_calendar.store import audit
from cnam_calendar.store.database import Store
from cnam_calendar.store.planned import planned_personal


class Conflict(CnamCalendarError):
    """The file changed since the page was drawn: nothing was written."""


@dataclass(frozen=True)
class Preview:
    """What publishing a change would do: the file's new text and lines, and the year's diff."""

    centre: str
    year: int
    file: str  # as staff know it: calendars/<name>
    version: str  # SHA-256 of the file the preview read
    old_text: str
    new_text: str
    text_diff: tuple[str, ...]
    diff: YearDiff
    problems: tuple[str, ...]  # what `check` still says (the UEs' hours), shown, not blocking


@dataclass(frozen=True)
class Published:
    preview: Preview
    written: tuple[Path, ...]


def file_version(path: Path) -> str:
    """Return the SHA-256 hex of a file's bytes: what a form carries to detect a concurrent edit."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _centre(calendars: Path, centre_id: str) -> Centre:
    return load_centres(calendars, (centre_id,))[0]


def _file(centre: Centre, edit: Edit) -> Path:
    return catalogue_path(centre) if target(edit) == "catalogue" else Path(centre.path)


def _shown(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _read(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""  # a catalogue not written yet: the first row creates it
    except OSError as exc:
        raise ConfigError(gettext("fr", "lecture impossible : %(reason)s", reason=exc.strerror or str(exc)),
                          where=str(path)) from None
    try:
        return data.decode("utf-8"), hashlib.sha256(data).hexdigest()
    except UnicodeDecodeError:
        raise ConfigError(gettext("fr", "caractère qui n'est pas de l'UTF-8"), where=str(path),
                          hint=gettext("fr", "enregistrez le fichier en UTF-8")) from None


def _describe(edit: Edit, centre: Centre) -> tuple[str, str | None, str | None]:
    """Return (what, before, after) of the journal line: the entry the change touches, as text."""
    if isinstance(edit, Pin | Unpin):
        old = centre.year(edit.year).overrides.get(edit.event_id)
        before = None if old is None else _pin_text(old.start, old.end, old.reason)
        after = _pin_text(edit.start, edit.end, edit.reason) if isinstance(edit, Pin) else None
        return f"date fixée {edit.event_id} {edit.year}", before, after
    if isinstance(edit, ClosureEdit | ClosureRemoval):
        wanted = edit.original_id if isinstance(edit, ClosureEdit) else edit.id
        old_c = next((c for c in centre.year(edit.year).closures if c.id == wanted), None)
        before = None if old_c is None else f"{old_c.id} {old_c.start}–{old_c.end} « {old_c.label} »"
        after = (f"{edit.id} {edit.start}–{edit.end} « {edit.label} »" if isinstance(edit, ClosureEdit) else None)
        return f"fermeture {edit.year}", before, after
    assert isinstance(edit, UERow)
    return "UE " + (edit.original_code or edit.fields.get("code", "")), edit.original_code, \
        ",".join(edit.fields.get(c, "") for c in edit.fields)


def _pin_text(start: date | None, end: date | None, reason: str) -> str:
    when = str(start) if start == end else f"{start or '…'} → {end or '…'}"
    return f"{when}" + (f" ({reason})" if reason else "")


def _prepare(calendars: Path, out: Path, centre_id: str, year: int, edit: Edit, store: Store | None,
             today: date) -> tuple[Preview, Centre, tuple[UE, ...], Path, Centre]:
    centre = _centre(calendars, centre_id)
    path = _file(centre, edit)
    old, version = _read(path)
    new = apply(edit, old, _shown(path), centre)
    if target(edit) == "catalogue":
        edited, catalogue = centre, parse_catalogue(new, _shown(path), centre)
    else:
        edited = parse_centre(new, str(path))
        try:
            from cnam_calendar.inputs.catalogue import load_catalogue
            catalogue = load_catalogue(edited)
        except CnamCalendarError:
            catalogue = ()
    sched = checked_schedule(edited, year)  # what `build` refuses, refused here, with `check`'s messages
    learners = planned = None
    if store is not None:
        learners = store.learners(centre.id)
        planned = planned_personal(store, centre.id, year, PERSONAL_RULES)
    found = diff_year(sched, catalogue, build_mod.load_manifest(out, centre, year), today, learners, planned,
                      ouvres_for(edited, year - 1, year + 2))
    lines = tuple(line.rstrip("\n") for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), _shown(path), _shown(path), n=1))
    problems = tuple(year_problems(edited, year, catalogue))
    return (Preview(centre.id, year, _shown(path), version, old, new, lines, found, problems),
            edited, catalogue, path, centre)


def preview(calendars: Path, out: Path, centre_id: str, year: int, edit: Edit, store: Store | None,
            today: date) -> Preview:
    """Return what publishing ``edit`` would do; raise CnamCalendarError (``check``'s messages) when refused."""
    return _prepare(Path(calendars), Path(out), centre_id, year, edit, store, today)[0]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` (every worker of the server, and every command, waits)."""
    lock = path.parent / f".{path.name}.lock"
    with open(lock, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` at once: readers see the old file or the new one, never a part."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def publish(calendars: Path, out: Path, centre_id: str, year: int, edit: Edit, version: str, store: Store | None,
            who: str, now: datetime, overview: Callable | None = None) -> Published:
    """Make ``edit`` for good if the file is still at ``version`` (else raise Conflict), rebuild, journal it."""
    calendars, out = Path(calendars), Path(out)
    path = _file(_centre(calendars, centre_id), edit)
    with _locked(path):
        seen, edited, catalogue, path, before = _prepare(calendars, out, centre_id, year, edit, store,
                                                         local_date(now))
        if seen.version != version:
            raise Conflict(gettext("fr", "%(file)s a changé depuis l'ouverture de la page (une autre session a publié, "
                                         "ou le fichier a été modifié à la main) : rien n'a été enregistré.",
                                   file=seen.file),
                           hint=gettext("fr", "rechargez la page pour voir la version actuelle, puis refaites votre "
                                              "modification si elle est toujours utile"))
        write_atomically(path, seen.new_text)
        try:
            written = build_mod.build([edited], [year], out, now, local_date(now), {edited.id: catalogue},
                                      overview=overview)
        except BaseException:
            write_atomically(path, seen.old_text)  # the file and what is published stay together
            raise
    if store is not None:
        what, old, new = _describe(edit, before)
        audit.record(store, who, "edit", f"{seen.file} ({what})", old, new, centre=centre_id)
    return Published(seen, tuple(written))
