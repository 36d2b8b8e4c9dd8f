"""`cnam-calendar diff`: what the next build of a centre-year would change in what is published, and for whom."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click

from cnam_calendar.cli.prebuild import missing_tables
from cnam_calendar.cli.types import PUBLISHED_YEAR
from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical.diff import Change, PersonalChange, YearDiff, diff_year
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.messages import ngettext
from cnam_calendar.rules.engine import PERSONAL_RULES
from cnam_calendar.rules.model import UE, Centre, Learner
from cnam_calendar.service import checked_schedules, local_date, ouvres_for
from cnam_calendar.text.i18n import long_date

LISTED_SESSIONS = 6  # class dates listed per change; the rest are counted
HEADINGS = {"added": "Ajouté", "moved": "Déplacé", "changed": "Modifié", "cancelled": "Annulé"}


def _counted(kind: str, n: int) -> str:
    """Return « 1 ajouté », « 2 déplacés »… (French plurals, from the catalogue)."""
    if kind == "added":
        return ngettext("fr", "%(num)d ajouté", "%(num)d ajoutés", n)
    if kind == "moved":
        return ngettext("fr", "%(num)d déplacé", "%(num)d déplacés", n)
    if kind == "changed":
        return ngettext("fr", "%(num)d modifié", "%(num)d modifiés", n)
    return ngettext("fr", "%(num)d annulé", "%(num)d annulés", n)


def span_text(span: tuple[date, date] | None) -> str:
    """Return « lundi 5 octobre 2026 » or « du … au … »."""
    if span is None:
        return "—"
    first, last = span
    return long_date(first) if first == last else f"du {long_date(first)} au {long_date(last)}"


def _dates(days: Sequence[date]) -> str:
    shown = ", ".join(long_date(d) for d in days[:LISTED_SESSIONS])
    more = len(days) - LISTED_SESSIONS
    return shown + (" " + ngettext("fr", "et %(num)d autre", "et %(num)d autres", more) if more > 0 else "")


def change_lines(change: Change, told: dict[str, str] | None = None) -> list[str]:
    """Return the lines of one change: what, when before and after, why, for how many learners.

    ``told`` maps each reason already printed to the change that gave it: a repeated reason is
    then named by that change instead of written again.
    """
    heading = HEADINGS[change.kind]
    lines = [f"{heading} : {change.event_id} — {change.title}"]
    if change.kind == "added":
        lines.append(f"  {span_text(change.new)}")
    elif change.kind == "cancelled":
        lines.append(f"  était : {span_text(change.old)} (annoncé « [ANNULÉ] » jusqu'à sa date)")
    elif change.old != change.new:
        lines.append(f"  {span_text(change.old)} → {span_text(change.new)}")
    if change.removed:
        removed = [d for d, _ in change.removed]
        reasons = sorted({why for _, why in change.removed if why})
        lines.append(f"  séances supprimées : {_dates(removed)}" + (f" ({' ; '.join(reasons)})" if reasons else ""))
    if change.added:
        lines.append(f"  séances ajoutées : {_dates(list(change.added))}")
    if change.kind == "changed" and not change.removed and not change.added:
        lines.append("  mêmes dates, contenu modifié (horaire, salle, lieu ou texte de l'explication)")
    if change.reason and told is not None and change.reason in told:
        lines.append(f"  motif : le même que {told[change.reason]}")
    elif change.reason:
        lines.append(f"  motif : {change.reason}")
        if told is not None:
            told[change.reason] = change.event_id
    if change.learners is not None:
        lines.append(f"  apprenants concernés : {change.learners}")
    return lines


def personal_lines(p: PersonalChange) -> list[str]:
    """Return the lines of a personal deadline that moves for some learners (against the reminder plan)."""
    lines = [f"Échéance personnelle : {p.rule} — {p.title}"]
    if p.moved:
        _, old, new = p.moved[0]
        lines.append(f"  {ngettext('fr', '%(num)d apprenant', '%(num)d apprenants', len(p.moved))} : "
                     "le jour change par rapport au plan des rappels "
                     f"(ex. {long_date(old)} → {long_date(new)})")
    if p.gone:
        lines.append(f"  {ngettext('fr', '%(num)d apprenant', '%(num)d apprenants', len(p.gone))} : "
                     "plus d'échéance cette année (leurs rappels seront annulés)")
    lines.append("  motif : réglages [rules] du centre, jours fériés ou dates de l'apprenant")
    lines.append(f"  apprenants concernés : {p.learners}")
    return lines


def _events(n: int) -> str:
    return ngettext("fr", "%(num)d événement", "%(num)d événements", n)


def summary_lines(d: YearDiff, out: Path, *, built: bool = False) -> list[str]:
    """Return the French summary of a centre-year's changes: to publish (`diff`), or just published (``built``)."""
    where, target = f"{d.centre} {d.year}-{d.year + 1}", out / d.centre / str(d.year)
    if not d.published:
        if built:
            return [f"{where} : première publication dans {target}, {_events(d.events)}."]
        return [f"{where} : rien n'est encore publié dans {target} ; la construction publiera {_events(d.events)}."]
    if not d.changes and not d.personal:
        return [f"{where} : aucun changement par rapport à ce qui était publié dans {target}."]
    when = f"{d.last_published[:16].replace('T', ' à ')} UTC" if d.last_published else ""
    n = len(d.changes) + len(d.personal)
    if built:
        head = (ngettext("fr", "%(num)d changement publié", "%(num)d changements publiés", n)
                + f" par rapport à la publication précédente dans {target}" + (f" ({when})" if when else ""))
    else:
        head = (ngettext("fr", "%(num)d changement", "%(num)d changements", n)
                + f" à publier par rapport à {target}" + (f", publié le {when}" if when else ""))
    lines = [f"{where} : {head}"]
    told: dict[str, str] = {}
    for change in d.changes:
        lines.extend(change_lines(change, told))
    for personal in d.personal:
        lines.extend(personal_lines(personal))
    counts = ", ".join(_counted(k, len(d.by_kind[k])) for k in HEADINGS)
    total = (" ; " + ngettext("fr", "%(num)d apprenant concerné en tout", "%(num)d apprenants concernés en tout",
                              d.learners)) if d.learners is not None else ""
    lines.append(f"En tout : {counts}{total}.")
    return lines


def _change_json(c: Change) -> dict[str, Any]:
    def span(s: tuple[date, date] | None) -> dict[str, str] | None:
        return None if s is None else {"start": s[0].isoformat(), "end": s[1].isoformat()}

    return {"kind": c.kind, "id": c.event_id, "uid": c.uid, "title": c.title, "feed": c.feed, "ue": c.ue,
            "old": span(c.old), "new": span(c.new), "reason": c.reason,
            "sessions_removed": [{"date": d.isoformat(), "reason": why} for d, why in c.removed],
            "sessions_added": [d.isoformat() for d in c.added], "learners": c.learners}


def diff_json(d: YearDiff) -> dict[str, Any]:
    """Return a centre-year's changes as JSON-ready data."""
    return {"centre": d.centre, "year": d.year, "published": d.published, "last_published": d.last_published or None,
            "events": d.events, "learners": d.learners, "changes": [_change_json(c) for c in d.changes],
            "counts": {k: len(d.by_kind[k]) for k in HEADINGS},
            "personal": [{"rule": p.rule, "title": p.title, "learners": p.learners,
                          "moved": [{"learner": i, "old": a.isoformat(), "new": b.isoformat()} for i, a, b in p.moved],
                          "gone": [{"learner": i, "old": a.isoformat()} for i, a in p.gone]} for p in d.personal]}


@dataclass(frozen=True)
class StoreFacts:
    """What the store says of one centre: its learners, and the personal deadlines its reminder plan holds per year."""

    learners: list[Learner]
    planned: dict[int, dict[str, dict[str, date]]]


def store_facts(db: str | None, centres: Sequence[Centre], years: Sequence[int],
                clock: Any) -> dict[str, StoreFacts] | None:
    """Read the learners and planned deadlines of each centre from the store ``db``; None without a store."""
    if not db:
        return None
    from cnam_calendar.store.database import open_store
    from cnam_calendar.store.planned import planned_personal

    store = open_store(db, clock=clock)
    try:
        return {c.id: StoreFacts(store.learners(c.id),
                                 {y: planned_personal(store, c.id, y, PERSONAL_RULES) for y in years})
                for c in centres}
    finally:
        store.close()


def year_diffs(centres: Sequence[Centre], years: Sequence[int], catalogues: dict[str, Sequence[UE]], out: Path,
               today: date, facts: dict[str, StoreFacts] | None) -> list[YearDiff]:
    """Return the diff of every centre-year against OUT (with the store's facts, who each change concerns)."""
    found = []
    for sched in checked_schedules(centres, years):  # an unsound year is refused (status 2), as build does
        c, y = sched.centre, sched.year
        mine = facts.get(c.id) if facts is not None else None
        found.append(diff_year(sched, catalogues.get(c.id, ()), build_mod.load_manifest(out, c, y), today,
                               None if mine is None else mine.learners, None if mine is None else mine.planned[y],
                               ouvres_for(c, y - 1, y + 2)))
    return found


@click.command(name="diff")
@click.option("--centre", required=True, metavar="ID", help="Identifiant du centre, ex. ipst-cnam.")
@click.option("--year", required=True, type=PUBLISHED_YEAR, help="Année universitaire, ex. 2026.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Dossier de ce qui est publié (celui de build).")
@click.option("--db", envvar="CNAM_CALENDAR_DB", metavar="FICHIER|URL",
              help="Base des apprenants, pour compter qui chaque changement concerne (CNAM_CALENDAR_DB).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def diff(ctx: click.Context, centre: str, year: int, out: Path, db: str | None, fmt: str) -> None:
    """Montrer ce que la prochaine construction changera dans ce qui est publié, et pour combien d'apprenants."""
    from cnam_calendar.inputs.catalogue import load_catalogue

    obj = ctx.find_root().obj
    clock = obj["clock"]
    c = load_centres(obj["calendars"], (centre,))[0]
    for warning in missing_tables([c], [year]):
        click.echo(f"Attention : {warning}", err=True)
    found = year_diffs([c], [year], {c.id: load_catalogue(c)}, out, local_date(clock()),
                       store_facts(db, [c], [year], clock))[0]
    if fmt == "json":
        click.echo(json.dumps(diff_json(found), ensure_ascii=False, indent=2))
        return
    for line in summary_lines(found, out):
        click.echo(line)
