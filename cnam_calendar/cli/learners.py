"""`cnam-calendar learners …`: import the roster, generate synthetic ones, issue feed tokens."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from cnam_calendar.cli.types import ACADEMIC_YEAR, Integer, check_base_url
from cnam_calendar.files import atomic_write
from cnam_calendar.inputs.config import DEFAULT_DIR, load_centres
from cnam_calendar.inputs.csv_out import csv_text
from cnam_calendar.inputs.roster import catalogue_codes, generate_learners, load_roster, write_roster
from cnam_calendar.messages import gettext, ngettext
from cnam_calendar.rules.errors import ConfigError, RosterError
from cnam_calendar.rules.model import Centre
from cnam_calendar.service import academic_year, checked_schedule, local_date, ouvres_for
from cnam_calendar.store.database import DEFAULT_DB, Store, open_store
from cnam_calendar.store.links import create_key, default_key_file, read_key

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
URLS_COLUMNS = ("id", "email", "first_name", "last_name", "lang", "url")


def personal_feed_url(base_url: str, token: str) -> str:
    """Return the personal feed URL of ``token`` under ``base_url``."""
    return f"{base_url.rstrip('/')}/feeds/personal/{token}.ics"


def _obj(ctx: click.Context) -> dict[str, Any]:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    return obj


def _set_db(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        _obj(ctx)["db"] = value


def _db_option(default: str | None) -> Callable[[Any], Any]:
    return click.option(
        "--db", envvar="CNAM_CALENDAR_DB" if default else None, default=default, expose_value=False,
        callback=_set_db, metavar="FICHIER|URL", show_default=bool(default),
        help="Base : un fichier SQLite ou une URL SQLAlchemy, ex. postgresql+psycopg://hôte/base "
             "(variable CNAM_CALENDAR_DB).")


def _set_link_key_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        _obj(ctx)["link_key_file"] = value


def link_key_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--link-key-file``: the link key (store/links.py); by default the file beside a SQLite store (``link_key_file``)."""
    return click.option(
        "--link-key-file", expose_value=False, callback=_set_link_key_file, metavar="FICHIER",
        help="Clé des liens : avec elle, chaque e-mail porte le lien de la page de l'apprenant (défaut : à côté "
             "d'une base SQLite, ex. cnam-calendar.key ; créée par cnam-calendar init).")(f)


def link_key_file(ctx: click.Context, db: str | None = None) -> Path | None:
    """Return the link key file in effect: the one given, else the one beside a SQLite store (None for a server)."""
    found = ctx.find_object(dict) or {}
    given = found.get("link_key_file")
    return Path(given).expanduser() if given else default_key_file(db or found.get("db") or DEFAULT_DB)


def _clock(ctx: click.Context) -> datetime:
    clock = _obj(ctx).get("clock")
    return clock() if clock else datetime.now(timezone.utc)


def _store(ctx: click.Context, *, create: bool = False) -> Store:
    from cnam_calendar.store.presence import require_store

    obj = _obj(ctx)
    key_file = link_key_file(ctx)
    if not create:  # only `learners import` (and `init`) create the store
        require_store(obj.get("db") or DEFAULT_DB)
    elif key_file is not None and not _exists(ctx):
        create_key(key_file)  # a new store gets its link key, as with `init`
    key = read_key(key_file)
    store = open_store(obj.get("db") or DEFAULT_DB, clock=lambda: _clock(ctx), link_key=key)
    ctx.call_on_close(store.close)
    return store


def _exists(ctx: click.Context) -> bool:
    from cnam_calendar.store.presence import store_exists

    return store_exists(_obj(ctx).get("db") or DEFAULT_DB)


def _centres(ctx: click.Context) -> list[Centre]:
    return load_centres(_obj(ctx).get("calendars", DEFAULT_DIR))


def _missing_centre(ctx: click.Context, centre_id: str) -> str:
    folder = _obj(ctx).get("calendars", DEFAULT_DIR)
    return (f"aucun fichier {centre_id}.toml dans {folder} ; attendu : remettez le fichier du centre, "
            "ou réimportez ces apprenants dans un centre existant")


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()  # (click.get_text_stream is deprecated from Click 8.5)


@click.group(name="learners", subcommand_metavar="COMMANDE [ARGS]...")
@_db_option(DEFAULT_DB)
@link_key_option
def learners() -> None:
    """Apprenants : importer le fichier, générer des exemples, créer les liens des flux personnels."""


@learners.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Tout vérifier et compter, sans rien écrire.")
@click.option("--quiet", "-q", is_flag=True, help="Sans barre de progression ni détail des avertissements.")
@_db_option(None)
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, dry_run: bool, quiet: bool) -> None:
    """Importer FILE.csv : tout ou rien, chaque erreur listée avec sa ligne."""
    centres = _centres(ctx)
    try:
        roster = load_roster(file, centres, catalogue_codes(centres))
    except RosterError as exc:
        if not exc.problems:
            raise
        problems = list(exc.problems)
        raise RosterError(exc.message, where=exc.where, problems=[*problems, RosterError(
            ngettext("fr", "%(num)d erreur, rien n'a été importé", "%(num)d erreurs, rien n'a été importé",
                     len(problems)), where=str(file),
            hint=gettext("fr", "corrigez le fichier puis relancez : %(command)s",
                         command="cnam-calendar learners import " + str(file)))]) from None
    if not quiet:
        for warning in roster.warnings:
            click.echo(f"Attention : {warning}", err=True)
    if dry_run and not _exists(ctx):  # no store yet: everyone would be created, and a dry run writes nothing
        store = open_store("sqlite://")
        ctx.call_on_close(store.close)
    else:
        store = _store(ctx, create=True)
    if _show_progress(quiet):
        with click.progressbar(length=len(roster.learners), label="Import des apprenants",
                               file=sys.stderr) as bar:
            report = store.import_learners(roster.learners, dry_run=dry_run, progress=bar.update)
    else:
        report = store.import_learners(roster.learners, dry_run=dry_run)
    click.echo(f"{file} : " + ngettext("fr", "%(num)d apprenant", "%(num)d apprenants", report.total) + " ; " + ", ".join((
        ngettext("fr", "%(num)d créé", "%(num)d créés", report.created),
        gettext("fr", "%(num)d mis à jour", num=report.updated),
        ngettext("fr", "%(num)d inchangé", "%(num)d inchangés", report.unchanged)))
        + " ; " + ngettext("fr", "%(num)d avertissement", "%(num)d avertissements", len(roster.warnings)))
    if dry_run:
        click.echo("Simulation (--dry-run) : rien n'a été écrit.")


def _year_option(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
    return academic_year(local_date(_clock(ctx))) if value is None else value


@learners.command()
@click.option("--count", required=True, type=Integer(1, 1_000_000), help="Nombre d'apprenants.")
@click.option("--seed", default=0, show_default=True, type=Integer(), help="Graine : la même donne le même fichier.")
@click.option("--year", type=ACADEMIC_YEAR, callback=_year_option,
              help="Année universitaire des dates (défaut : l'année en cours).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier CSV à écrire.")
@click.pass_context
def generate(ctx: click.Context, count: int, seed: int, year: int, output: Path) -> None:
    """Écrire un fichier d'apprenants fictifs (adresses @example.org) pour les démos et les tests."""
    centres = _centres(ctx)
    codes = {cid: sorted(c) for cid, c in catalogue_codes(centres).items()}
    write_roster(generate_learners(count, seed, centres, codes, year), output)
    label = "-".join((str(year), str(year + 1)))
    click.echo(f"écrit {output} ("
               + ngettext("fr", "%(num)d apprenant fictif, année %(label)s", "%(num)d apprenants fictifs, année %(label)s",
                          count, label=label) + ")")


@learners.command(name="issue-token")
@click.argument("learner_id", required=False, metavar="ID")
@click.option("--all", "all_", is_flag=True, help="Un nouveau lien pour chaque apprenant (avec -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Avec --all : fichier CSV des liens, pour un publipostage.")
@click.option("--base-url", envvar="CNAM_CALENDAR_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              callback=check_base_url, help="Adresse publique du serveur (variable CNAM_CALENDAR_BASE_URL).")
@click.option("--quiet", "-q", is_flag=True, help="Sans barre de progression.")
@_db_option(None)
@click.pass_context
def issue_token(ctx: click.Context, learner_id: str | None, all_: bool, output: Path | None, base_url: str,
                quiet: bool) -> None:
    """Créer le lien du flux personnel de ID (ou de tous) ; l'ancien lien cesse de fonctionner."""
    if all_ == (learner_id is not None):
        raise click.UsageError("donnez soit un identifiant, soit --all -o urls.csv")
    if all_ and output is None:
        raise click.UsageError("--all écrit les liens dans un fichier : ajoutez -o urls.csv")
    if not all_ and output is not None:
        raise click.UsageError("-o ne sert qu'avec --all")
    store = _store(ctx)
    if learner_id is not None:
        token = store.issue_token(learner_id)
        click.echo(personal_feed_url(base_url, token))
        click.echo(f"Nouveau lien pour {learner_id} ; l'ancien ne fonctionne plus.", err=True)
        return
    assert output is not None
    if _show_progress(quiet):
        with click.progressbar(length=store.count_learners(), label="Création des liens",
                               file=sys.stderr) as bar:
            pairs = store.issue_tokens(progress=bar.update)
    else:
        pairs = store.issue_tokens()
    text = csv_text(URLS_COLUMNS, ((learner.id, learner.email, learner.first_name, learner.last_name, learner.lang,
                                    personal_feed_url(base_url, token)) for learner, token in pairs))
    atomic_write(output, text.encode("utf-8"))
    os.chmod(output, 0o600)  # the file holds every learner's secret link
    click.echo(f"écrit {output} (" + ngettext("fr", "%(num)d lien", "%(num)d liens", len(pairs))
               + " ; les anciens ne fonctionnent plus ; fichier confidentiel, à supprimer après l'envoi)")


@learners.command(name="feeds")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dossier où écrire un fichier <clé>.ics par apprenant.")
@click.option("--year", type=ACADEMIC_YEAR, callback=_year_option,
              help="Année universitaire (défaut : l'année en cours).")
@click.option("--no-alarms", is_flag=True, help="Sans alarmes (VALARM).")
@click.option("--built", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Dossier du build (ses manifestes : SEQUENCE et DTSTAMP des événements), celui de build --out.")
@click.option("--quiet", "-q", is_flag=True, help="Sans barre de progression.")
@_db_option(None)
@click.pass_context
def feeds(ctx: click.Context, out: Path, year: int, no_alarms: bool, built: Path, quiet: bool) -> None:
    """Écrire le flux personnel de chaque apprenant (fichiers nommés par leur clé opaque)."""
    from cnam_calendar.ical.build import load_manifest
    from cnam_calendar.ical.personal import PersonalFeeds
    from cnam_calendar.inputs.catalogue import load_catalogue
    from cnam_calendar.service import local_date

    store = _store(ctx)
    centres = {c.id: c for c in _centres(ctx)}
    now = _clock(ctx)
    makers = {cid: PersonalFeeds(checked_schedule(c, year), load_catalogue(c), load_manifest(built, c, year),
                                 now, local_date(now), ouvres_for(c, year - 1, year + 2))
              for cid, c in centres.items()}
    everyone = store.learners()
    changed = store.changed_at_all()

    orphans: dict[str, int] = {}

    def write_all(progress: Callable[[int], None] | None) -> int:
        written = 0
        for learner in everyone:
            maker = makers.get(learner.centre)
            if maker is not None:
                key = store.learner_key(learner.id)
                data = maker.render(learner, key, changed.get(learner.id, now), alarms=not no_alarms)
                atomic_write(out / f"{key}.ics", data, durable=False)
                written += 1
            else:
                orphans[learner.centre] = orphans.get(learner.centre, 0) + 1
            if progress:
                progress(1)
        return written

    out.mkdir(parents=True, exist_ok=True)
    if _show_progress(quiet):
        with click.progressbar(length=len(everyone), label="Flux personnels",
                               file=sys.stderr) as bar:
            count = write_all(bar.update)
    else:
        count = write_all(None)
    click.echo(ngettext("fr", "écrit %(num)d flux personnel dans %(out)s", "écrit %(num)d flux personnels dans %(out)s",
                        count, out=out))
    for centre_id, n in sorted(orphans.items()):
        click.echo(ngettext("fr", "Attention : %(num)d apprenant du centre « %(centre)s » sans flux : %(why)s",
                            "Attention : %(num)d apprenants du centre « %(centre)s » sans flux : %(why)s",
                            n, centre=centre_id, why=_missing_centre(ctx, centre_id)), err=True)


@learners.command()
@click.argument("learner_id", metavar="ID")
@click.option("--year", type=ACADEMIC_YEAR, callback=_year_option,
              help="Année universitaire (défaut : l'année en cours).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_db_option(None)
@click.pass_context
def show(ctx: click.Context, learner_id: str, year: int, fmt: str) -> None:
    """Lister les échéances d'un apprenant (à venir, avec le décompte et les explications ; passées), et ses examens."""
    from cnam_calendar.ical.personal import personal_deadline_events
    from cnam_calendar.messages import countdown
    from cnam_calendar.rules.errors import StoreError
    from cnam_calendar.text.explain import as_json, render_all
    from cnam_calendar.text.i18n import long_date

    lang = "fr"  # a staff command: the explanations in the staff's language

    store = _store(ctx)
    learner = store.get_learner(learner_id)
    if learner is None:
        raise StoreError(f"apprenant inconnu « {learner_id} »", where=store.url,
                         hint="importez-le d'abord : cnam-calendar learners import FICHIER.csv")
    centre = next((c for c in _centres(ctx) if c.id == learner.centre), None)
    if centre is None:
        raise ConfigError(f"apprenant « {learner_id} » du centre « {learner.centre} » : "
                          + _missing_centre(ctx, learner.centre), where=str(_obj(ctx).get("calendars", DEFAULT_DIR)))
    sched = checked_schedule(centre, year)
    ouvres = ouvres_for(centre, year - 1, year + 2)
    events = personal_deadline_events(learner, sched, ouvres)
    exams = learner_exams(learner, sched, _centre_catalogue(centre))
    today = local_date(_clock(ctx), centre.timezone)
    if fmt == "json":
        click.echo(json.dumps({
            "id": learner.id, "centre": centre.id, "year": year, "status": learner.status, "ues": list(learner.ues),
            "today": today.isoformat(),
            "deadlines": [{"id": e.id, "title": e.title, "date": e.start.isoformat(), **_when(e, today),
                           **as_json(e.explanation, lang)} for e in events],
            "exams": [{"id": e.id, "title": e.title, "start": e.start.isoformat(), "end": e.end.isoformat(),
                       **_when(e, today)} for e in exams],
        }, ensure_ascii=False, indent=2))
        return
    click.echo(f"{learner.first_name} {learner.last_name} ({learner.id}) — {centre.name}, {sched.label} "
               f"(au {long_date(today)})")
    upcoming = [e for e in events if e.end >= today]
    past = [e for e in events if e.end < today]
    click.echo(f"\nÉchéances à venir ({len(upcoming)}) :" if upcoming else "\nAucune échéance à venir.")
    for e in upcoming:
        click.echo(f"{e.start.isoformat()}  {e.title}  ({countdown((e.start - today).days, lang)})")
        for step in render_all(e.explanation, lang):
            click.echo(f"    • {step}")
    if past:
        click.echo(f"\nÉchéances passées ({len(past)}) :")
        for e in past:
            click.echo(f"{e.start.isoformat()}  {e.title}  (il y a {_days((today - e.start).days)})")
    click.echo(f"\nSessions d'examens ({len(exams)}) :" if exams else "\nAucune session d'examens (aucune UE connue).")
    for e in exams:
        left = "en cours" if e.start <= today <= e.end else (
            "passée" if e.end < today else countdown((e.start - today).days, lang))
        click.echo(f"{e.start.isoformat()} → {e.end.isoformat()}  {e.title}  ({left})")


def _days(n: int) -> str:
    return "1 jour" if n == 1 else f"{n} jours"


def _when(event: Any, today: Any) -> dict[str, Any]:
    """Return the JSON form of where an event stands on ``today``: days left (negative once begun) and past."""
    return {"days_left": (event.start - today).days, "past": event.end < today}


def _centre_catalogue(centre: Centre) -> dict[str, Any]:
    from cnam_calendar.inputs.catalogue import load_catalogue

    return {u.code: u for u in load_catalogue(centre)}


def learner_exams(learner: Any, sched: Any, catalogue: dict[str, Any]) -> list[Any]:
    """Return the exam sessions of the learner's UEs (those the catalogue knows), by date."""
    from cnam_calendar.rules.sessions import exam_events

    found = [e for code in dict.fromkeys(learner.ues) if code in catalogue for e in exam_events(catalogue[code], sched)]
    return sorted(found, key=lambda e: (e.start, e.id))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(learners())
