"""Changes from the staff console: a form, its preview (the diff, and whom it concerns), then publishing.

Three steps, each a page of its own and none with a script:

1. ``GET /admin/<centre>/<year>/modifier?quoi=…`` shows the form of one change, filled with what the
   files say today; its hidden ``version`` is the SHA-256 of the file the change will rewrite.
2. ``POST …/apercu`` reads the form into an ``inputs.edits`` change and shows ``ical.edit.preview``:
   the events the build would move, add or cancel, how many learners each concerns, and the lines of
   the file that change. Bad input comes back in the form with the messages of ``check``.
3. ``POST …/publier`` calls ``ical.edit.publish`` with the version the preview was made on: the file
   is rewritten (tomlkit, comments kept) and the year rebuilt, or, when the file changed in between
   (another session, a hand edit), nothing is written and the page says to reload.

Only editors of the centre reach the forms (``store.staff.may(..., "edit")``); every POST checks the
session's CSRF token. The journal line is written by ``publish``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cnam_calendar.ical.diff import Change, YearDiff
from cnam_calendar.ical.edit import Conflict, Preview, file_version, preview, publish
from cnam_calendar.inputs.catalogue import catalogue_path
from cnam_calendar.inputs.edits import ClosureEdit, ClosureRemoval, Edit, Pin, UERow, Unpin
from cnam_calendar.messages import N_, gettext, ngettext
from cnam_calendar.rules.checks import parse_year
from cnam_calendar.rules.engine import OVERRIDABLE
from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.rules.model import Centre, Schedule
from cnam_calendar.service import local_date, schedule
from cnam_calendar.store import staff as staff_store
from cnam_calendar.text.i18n import long_date
from cnam_calendar.web.overview import render_overview

KINDS = ("date", "retirer-date", "fermeture", "supprimer-fermeture", "ue")
UE_COLUMNS = ("code", "title", "ects", "semester", "modality", "site", "weekday", "start", "end", "room")
UE_LABELS = {"code": N_("Code"), "title": N_("Intitulé"), "ects": N_("ECTS"), "semester": N_("Semestre"),
             "modality": N_("Modalité"), "site": N_("Site"), "weekday": N_("Jour"), "start": N_("Début du cours"),
             "end": N_("Fin du cours"), "room": N_("Salle")}
UE_HINTS = {"semester": N_("S1, S2 ou annual"), "weekday": N_("lundi … samedi ; vide pour la FOAD"),
            "start": N_("HH:MM"), "end": N_("HH:MM"), "site": N_("identifiant d'un site du centre ; vide pour la FOAD")}
DATE_LABELS = {"start": N_("Du"), "end": N_("Au"), "date": N_("Date")}
HEADINGS = {"added": N_("Ajouté"), "moved": N_("Déplacé"), "changed": N_("Modifié"), "cancelled": N_("Annulé")}


@dataclass(frozen=True)
class Kit:
    """What the console's routes (web.admin) lend to these: who is asking, forms, pages, the files."""

    calendars: Callable[[], Path]
    out: Callable[[], Path]
    centres: Callable[[], dict[str, Centre]]
    store: Any
    clock: Callable[[], Any]
    signed_in: Callable[[Request], Awaitable[Any]]
    form: Callable[[Request, Any], Awaitable[dict[str, str] | Response]]
    show: Callable[..., Response]
    message: Callable[..., Response]
    respond: Callable[[Request, Any, Response], Response]


def _day(fields: Mapping[str, str], key: str, problems: list[str]) -> date | None:
    """Read the date field ``key`` (AAAA-MM-JJ, as an <input type=date> sends it); None when empty."""
    text = fields.get(key, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(gettext("fr", "« %(field)s » : « %(value)s » n'est pas une date ; attendu : AAAA-MM-JJ",
                                field=gettext("fr", DATE_LABELS.get(key, key)), value=text[:40]))
        return None


def edit_from_fields(kind: str, fields: Mapping[str, str], year: int) -> tuple[Edit | None, list[str]]:
    """Return the change a form describes, or None with the French problems of its fields."""
    problems: list[str] = []
    text = {k: v.strip() for k, v in fields.items()}
    if kind == "date":
        event = text.get("event", "")
        if event not in OVERRIDABLE:
            return None, [gettext("fr", "date à fixer inconnue « %(event)s » ; attendu : %(expected)s",
                                  event=event[:40], expected=", ".join(OVERRIDABLE))]
        if "date" in fields:
            start = end = _day(fields, "date", problems)
        else:
            start, end = _day(fields, "start", problems), _day(fields, "end", problems)
        return (None, problems) if problems else (Pin(year, event, start, end, text.get("reason", "")), [])
    if kind == "retirer-date":
        return Unpin(year, text.get("event", "")), []
    if kind == "fermeture":
        start, end = _day(fields, "start", problems), _day(fields, "end", problems)
        if problems:
            return None, problems
        return ClosureEdit(year, text.get("original") or None, text.get("id", ""), text.get("label", ""),
                           start, end), []
    if kind == "supprimer-fermeture":
        return ClosureRemoval(year, text.get("id", "")), []
    if kind == "ue":
        return UERow(text.get("original") or None, {c: text.get(c, "") for c in UE_COLUMNS}), []
    return None, [gettext("fr", "modification inconnue « %(kind)s » ; attendu : %(expected)s",
                          kind=kind[:40], expected=", ".join(KINDS))]


def describe(edit: Edit) -> str:
    """Return one French line saying what the change is, for the preview's heading."""
    if isinstance(edit, Pin):
        when = span_text(edit.start, edit.end)
        why = gettext("fr", " (motif : %(reason)s)", reason=edit.reason) if edit.reason else ""
        return gettext("fr", "Fixer « %(event)s » : %(when)s", event=edit.event_id, when=when) + why
    if isinstance(edit, Unpin):
        return gettext("fr", "Retirer la date fixée de « %(event)s » : la règle la calcule de nouveau",
                       event=edit.event_id)
    if isinstance(edit, ClosureEdit):
        when = span_text(edit.start, edit.end)
        if edit.original_id is None:
            return gettext("fr", "Ajouter la fermeture « %(label)s » : %(when)s", label=edit.label, when=when)
        return gettext("fr", "Modifier la fermeture « %(id)s » : %(label)s, %(when)s", id=edit.original_id,
                       label=edit.label, when=when)
    if isinstance(edit, ClosureRemoval):
        return gettext("fr", "Supprimer la fermeture « %(id)s »", id=edit.id)
    if edit.original_code is None:
        return gettext("fr", "Ajouter l'UE %(code)s au catalogue", code=edit.fields.get("code", ""))
    return gettext("fr", "Modifier l'UE %(code)s du catalogue", code=edit.original_code)


def span_text(start: date | None, end: date | None) -> str:
    if start is None and end is None:
        return "—"
    if start is None or end is None or start == end:
        return long_date(start or end)  # type: ignore[arg-type]
    return gettext("fr", "du %(start)s au %(end)s", start=long_date(start), end=long_date(end))


def _change(c: Change) -> dict[str, Any]:
    return {"kind": c.kind, "heading": HEADINGS[c.kind], "id": c.event_id, "title": c.title,
            "old": span_text(*c.old) if c.old else "", "new": span_text(*c.new) if c.new else "", "reason": c.reason,
            "removed": [long_date(d) for d, _ in c.removed], "added": [long_date(d) for d in c.added],
            "learners": c.learners}



def _learners(n: int | None) -> str:
    if n is None:
        return ""
    return ngettext("fr", "%(num)d apprenant concerné", "%(num)d apprenants concernés", n)


def diff_context(d: YearDiff) -> dict[str, Any]:
    """Return what the preview shows of a centre-year's diff."""
    personal = [{"rule": p.rule, "title": p.title, "learners": _learners(p.learners)} for p in d.personal]
    return {"published": d.published, "changes": [_change(c) for c in d.changes], "personal": personal,
            "total": _learners(d.learners), "events": d.events}


def _closure_fields(centre: Centre, year: int, closure_id: str) -> dict[str, str]:
    for c in centre.year(year).closures:
        if c.id == closure_id:
            return {"original": c.id, "id": c.id, "label": c.label, "start": c.start.isoformat(),
                    "end": c.end.isoformat()}
    return {"original": "", "id": "", "label": "", "start": "", "end": ""}


def _ue_fields(centre: Centre, code: str) -> dict[str, str]:
    """Return a catalogue row as the CSV writes it (the form edits the text, as the file holds it)."""
    blank = {"original": "", **{c: "" for c in UE_COLUMNS}}
    if not code:
        return blank
    try:
        text = catalogue_path(centre).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return blank
    for row in csv.DictReader(io.StringIO(text)):
        if (row.get("code") or "").strip().upper() == code.upper():
            return {"original": row["code"].strip(), **{c: (row.get(c) or "").strip() for c in UE_COLUMNS}}
    return blank


def _pin_fields(centre: Centre, sched: Schedule | None, year: int, event_id: str) -> dict[str, str]:
    pinned = centre.year(year).overrides.get(event_id)
    event = next((e for e in sched.events if e.id == event_id), None) if sched else None
    start = pinned.start if pinned and pinned.start else (event.start if event else None)
    end = pinned.end if pinned and pinned.end else (event.end if event else None)
    fields = {"event": event_id, "reason": pinned.reason if pinned else ""}
    if event is not None and event.start == event.end:
        fields["date"] = start.isoformat() if start else ""
    else:
        fields.update(start=start.isoformat() if start else "", end=end.isoformat() if end else "")
    return fields


def _file_of(centre: Centre, kind: str, calendars: Path) -> Path:
    if kind == "ue":
        return catalogue_path(centre)
    return Path(centre.path) if centre.path else calendars / f"{centre.id}.toml"


def file_version_or_empty(path: Path) -> str:
    """Return the version of ``path`` the forms carry, "" when it cannot be read."""
    try:
        return file_version(path)
    except OSError:
        return ""


def edit_routes(kit: Kit) -> list[BaseRoute]:
    """Return the routes of the console's changes (see the module docstring)."""

    async def editable(request: Request) -> tuple[Any, Centre, int] | Response:
        who = await kit.signed_in(request)
        if isinstance(who, Response):
            return who
        centre = kit.centres().get(request.path_params["centre"])
        year = parse_year(request.path_params["year"])
        if centre is None or year is None or not staff_store.may(who.member.roles, centre.id, "see"):
            return kit.message(request, who, 404, "Introuvable",
                               "Cette page n'existe pas, ou ce centre n'est pas parmi les vôtres.")
        if not staff_store.may(who.member.roles, centre.id, "edit"):
            return kit.message(request, who, 403, "Modification refusée",
                               gettext("fr", "Votre rôle à %(centre)s est « lecteur » : vous voyez l'année mais ne "
                                             "pouvez pas la modifier. Demandez le rôle d'éditeur à "
                                             "l'administrateur du serveur (cnam-calendar staff add).",
                                       centre=centre.name),
                               back=f"/admin/{centre.id}/{year}")
        return who, centre, year

    def form_page(request: Request, who: Any, centre: Centre, year: int, kind: str, fields: Mapping[str, str],
                  problems: list[str], status: int = 200) -> Response:
        sched = _schedule_or_none(centre, year)
        events = [{"id": e.id, "label": e.label("fr"), "when": span_text(e.start, e.end)}
                  for e in (sched.events if sched else ()) if e.id in OVERRIDABLE]
        return kit.show(request, who, "admin_edit.html.j2", status, centre_id=centre.id, centre_name=centre.name,
                        year=year, kind=kind, fields=dict(fields), problems=problems, events=events,
                        ue_columns=UE_COLUMNS, ue_labels=UE_LABELS, ue_hints=UE_HINTS,
                        sites=[s.id for s in centre.sites],
                        require_reason=getattr(centre.rules, "require_override_reason", False))

    async def edit_form(request: Request) -> Response:
        found = await editable(request)
        if isinstance(found, Response):
            return found
        who, centre, year = found
        kind = request.query_params.get("quoi", "date")
        if kind not in ("date", "fermeture", "ue"):
            kind = "date"
        typed = request.query_params  # « Corriger » on a preview comes back here with what was typed
        if kind == "date":
            event = typed.get("event") or typed.get("id", "semester-1")
            fields = _pin_fields(centre, _schedule_or_none(centre, year), year,
                                 event if event in OVERRIDABLE else "semester-1")
        elif kind == "fermeture":
            fields = _closure_fields(centre, year, typed.get("original") or typed.get("id", ""))
        else:
            fields = _ue_fields(centre, request.query_params.get("original") or request.query_params.get("code", ""))
        fields.update({k: v for k, v in typed.items() if k in fields and k not in ("event", "original")})
        fields["version"] = await run_in_threadpool(file_version_or_empty, _file_of(centre, kind, kit.calendars()))
        return form_page(request, who, centre, year, kind, fields, [])

    async def read(request: Request) -> tuple[Any, Centre, int, str, dict[str, str], Edit] | Response:
        """Read a change's form; a form that describes no change comes back refused (422)."""
        found = await editable(request)
        if isinstance(found, Response):
            return found
        who, centre, year = found
        fields = await kit.form(request, who)
        if isinstance(fields, Response):
            return fields
        kind = fields.get("quoi", "")
        edit, problems = edit_from_fields(kind, fields, year)
        if edit is None:
            return refused(request, who, centre, year, kind, fields, problems)
        return who, centre, year, kind, fields, edit

    def shown(exc: CnamCalendarError) -> list[str]:
        """``check``'s lines as the console shows them: ``calendars/ipst-cnam.toml``, not the server's disk."""
        folder = kit.calendars()
        prefixes = sorted({f"{folder.parent}{os.sep}", f"{folder.resolve().parent}{os.sep}"}, key=len, reverse=True)
        lines = []
        for line in exc.lines():
            for prefix in prefixes:
                line = line.replace(prefix, "")
            lines.append(line)
        return lines

    def refused(request: Request, who: Any, centre: Centre, year: int, kind: str, fields: dict[str, str],
                problems: list[str]) -> Response:
        if kind in ("date", "fermeture", "ue"):
            return form_page(request, who, centre, year, kind, fields, problems, 422)
        return kit.message(request, who, 422, "Modification refusée", " ; ".join(problems),
                           back=f"/admin/{centre.id}/{year}")

    def conflict(request: Request, who: Any, centre: Centre, year: int, exc: CnamCalendarError) -> Response:
        return kit.message(request, who, 409, "Le fichier a changé entre-temps", " ".join(shown(exc)),
                           back=f"/admin/{centre.id}/{year}")

    async def preview_page(request: Request) -> Response:
        found = await read(request)
        if isinstance(found, Response):
            return found
        who, centre, year, kind, fields, edit = found
        today = local_date(kit.clock())
        try:
            seen = await run_in_threadpool(preview, kit.calendars(), kit.out(), centre.id, year, edit, kit.store, today)
        except CnamCalendarError as exc:
            return refused(request, who, centre, year, kind, fields, shown(exc))
        if fields.get("version") and fields["version"] != seen.version:
            return conflict(request, who, centre, year, Conflict(gettext(
                "fr", "%(file)s a changé depuis l'ouverture du formulaire (une autre session, ou une modification "
                      "à la main) : rien n'a été enregistré. Rechargez l'année et refaites votre modification si "
                      "elle est toujours utile.", file=seen.file)))
        return show_preview(request, who, centre, year, kind, fields, edit, seen)

    def show_preview(request: Request, who: Any, centre: Centre, year: int, kind: str, fields: Mapping[str, str],
                     edit: Edit, seen: Preview) -> Response:
        carried = {k: v for k, v in fields.items() if k not in ("csrf", "version")}
        back = f"/admin/{centre.id}/{year}/modifier?" + urlencode({"quoi": kind, **carried}) \
            if kind in ("date", "fermeture", "ue") else f"/admin/{centre.id}/{year}"
        return kit.show(request, who, "admin_preview.html.j2", centre_id=centre.id, centre_name=centre.name,
                        year=year, what=describe(edit), file=seen.file, text_diff=list(seen.text_diff),
                        diff=diff_context(seen.diff), problems=list(seen.problems), carried=carried,
                        version=seen.version, back=back,
                        holdback=centre.reminders.notice_holdback_minutes)

    async def publish_change(request: Request) -> Response:
        found = await read(request)
        if isinstance(found, Response):
            return found
        who, centre, year, kind, fields, edit = found
        try:
            await run_in_threadpool(publish, kit.calendars(), kit.out(), centre.id, year, edit,
                                    fields.get("version", ""), kit.store, who.email, kit.clock(),
                                    render_overview)
        except Conflict as exc:
            return conflict(request, who, centre, year, exc)
        except CnamCalendarError as exc:
            return refused(request, who, centre, year, kind, fields, shown(exc))
        return kit.respond(request, who, RedirectResponse(f"/admin/{centre.id}/{year}?publie=1#published",
                                                          status_code=303))

    return [
        Route("/admin/{centre}/{year}/modifier", edit_form, methods=["GET", "HEAD"]),
        Route("/admin/{centre}/{year}/apercu", preview_page, methods=["POST"]),
        Route("/admin/{centre}/{year}/publier", publish_change, methods=["POST"]),
    ]


def _schedule_or_none(centre: Centre, year: int) -> Schedule | None:
    try:
        return schedule(centre, year)
    except CnamCalendarError:
        return None
