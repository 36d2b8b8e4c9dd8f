"""`cnam-calendar`: parse options, call the library, print. One error handler for all commands."""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import click

from cnam_calendar.cli import click_fr, instance
from cnam_calendar.cli.checking import check_centres
from cnam_calendar.cli.diff import diff, store_facts, summary_lines, year_diffs
from cnam_calendar.cli.init import init
from cnam_calendar.cli.invite import invite
from cnam_calendar.cli.learners import learners, link_key_file, link_key_option
from cnam_calendar.cli.observe import log_options
from cnam_calendar.cli.prebuild import check_before_build
from cnam_calendar.cli.reminders import daemon, reminders
from cnam_calendar.cli.staff import admin_options, export_admin, staff
from cnam_calendar.cli.types import ACADEMIC_YEAR, ISO_DATE, PUBLISHED_YEAR, Integer, check_base_url
from cnam_calendar.cli.year import year as year_group
from cnam_calendar.files import atomic_write
from cnam_calendar.ical import build as build_mod
from cnam_calendar.inputs.config import DEFAULT_DIR, load_centres
from cnam_calendar.messages import gettext, ngettext
from cnam_calendar.rules.engine import PERSONAL_RULES
from cnam_calendar.rules.errors import CnamCalendarError, RuleError
from cnam_calendar.rules.model import UE, Centre, Deadline, Event
from cnam_calendar.service import DEFAULT_CENTRE, academic_year, checked_schedule, deadline, local_date
from cnam_calendar.store.links import KEY_ENV, read_key
from cnam_calendar.text.explain import as_json, render_all
from cnam_calendar.text.i18n import LANGS, long_date, source_line

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2
SUBCOMMANDS = "COMMANDE [ARGS]..."

click_fr.install()


def system_clock() -> datetime:
    """Return the current time, aware; the only place the CLI reads the clock."""
    return datetime.now(timezone.utc)


class _Group(click.Group):
    """Turn every CnamCalendarError into its message on stderr and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", SUBCOMMANDS)
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CnamCalendarError as exc:
            for line in exc.lines():
                click.echo(gettext("fr", "Erreur : %(error)s", error=line), err=True)
            if exc.problems and exc.hint and exc.hint not in {p.hint for p in exc.problems}:
                click.echo(exc.hint, err=True)  # a way out for the whole list, not one problem's hint again
            ctx.exit(EXIT_BAD_INPUT)
        except OSError as exc:  # a path the system refuses (too long, not writable, a file where a folder goes…)
            where = exc.filename if exc.filename is not None else "système"
            click.echo(gettext("fr", "Erreur : %(error)s", error=gettext(
                "fr", "%(where)s : %(reason)s (attendu : un chemin accessible en écriture)", where=where,
                reason=exc.strerror or exc)), err=True)
            ctx.exit(EXIT_BAD_INPUT)


def build_stamp(clock: datetime) -> datetime:
    """Return the build time: SOURCE_DATE_EPOCH when set (reproducible builds), else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return clock
    try:
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise RuleError(f"SOURCE_DATE_EPOCH invalide « {epoch} »",
                        hint="attendu : un nombre de secondes depuis 1970, ex. 1767225600") from None


@click.group(name="cnam-calendar", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--calendars", "calendars", envvar="CNAM_CALENDAR_CALENDARS", default=DEFAULT_DIR,
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dossier des fichiers de centre (variable CNAM_CALENDAR_CALENDARS).")
@click.version_option(package_name="cnam-calendar")
@click.pass_context
def main(ctx: click.Context, calendars: Path) -> None:
    """Calendriers du Cnam : semestres, examens, jours fériés et échéances."""
    ctx.obj = {"calendars": calendars, "clock": ctx.obj.get("clock", system_clock) if ctx.obj else system_clock}


def _centres(ctx: click.Context, only: tuple[str, ...] = ()) -> list[Centre]:
    return load_centres(ctx.obj["calendars"], only)


def _today(ctx: click.Context) -> date:
    return local_date(ctx.obj["clock"]())



def _catalogues(centres: list[Centre]) -> dict[str, tuple[UE, ...]]:
    from cnam_calendar.inputs.catalogue import load_catalogue

    return {c.id: load_catalogue(c) for c in centres}


def _pick_ues(centre: Centre, catalogue: tuple[UE, ...], codes: tuple[str, ...]) -> list[UE]:
    by_code = {u.code: u for u in catalogue}
    chosen = []
    for code in codes:
        if code.strip().upper() in by_code:  # UE codes are read without case, as the roster reads them
            if by_code[code.strip().upper()] not in chosen:
                chosen.append(by_code[code.strip().upper()])
            continue
        several = [part for part in re.split(r"[\s,;]+", code) if part]
        if len(several) > 1:
            raise RuleError(gettext("fr", "une seule UE par option --ue, « %(value)s » en nomme %(num)d",
                                    value=code, num=len(several)),
                            where=f"--ue {code}",
                            hint=gettext("fr", "répétez l'option : %(example)s",
                                         example=" ".join(f"--ue {part}" for part in several)))
        close = difflib.get_close_matches(code.upper(), list(by_code), n=1)
        raise RuleError(gettext("fr", "UE inconnue « %(code)s » au catalogue de %(centre)s",
                                code=code, centre=centre.id),
                        where=f"--ue {code}",
                        hint=(gettext("fr", "vouliez-vous dire « %(code)s » ?", code=close[0]) + " " if close else "")
                        + gettext("fr", "catalogue : %(file)s", file=centre.id + ".ues.csv"))
    return chosen


@main.command()
@click.option("--centre", "centres", multiple=True, metavar="ID", help="Centre à construire (répétable ; défaut : tous).")
@click.option("--year", "years", multiple=True, type=PUBLISHED_YEAR,
              help="Année universitaire (répétable ; défaut : l'année en cours, qui commence en septembre).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Dossier de sortie.")
@click.option("--force", is_flag=True, help="Construire malgré les problèmes que check signale (heures des UE).")
@click.option("--db", metavar="FICHIER|URL", help="Base des apprenants : compter qui chaque changement concerne.")
@click.pass_context
def build(ctx: click.Context, centres: tuple[str, ...], years: tuple[int, ...], out: Path, force: bool,
          db: str | None) -> None:
    """Vérifier puis construire les fichiers .ics de chaque centre et année dans OUT, et dire ce qui change."""
    clock = ctx.obj["clock"]()
    stamp = build_stamp(clock)
    selected = _centres(ctx, centres)
    from cnam_calendar.web.overview import render_overview

    today = local_date(clock)
    years, catalogues = years or (academic_year(today),), _catalogues(selected)
    check_before_build(ctx, selected, years, catalogues, force=force)
    changes = year_diffs(selected, years, catalogues, out, today, store_facts(db, selected, years, ctx.obj["clock"]))
    written = build_mod.build(selected, years, out, stamp, today, catalogues=catalogues, overview=render_overview)
    for path in written:
        click.echo(f"écrit {path}")
    for found in changes:
        click.echo("\n".join(summary_lines(found, out, built=True)))


def _event_json(e: Event, lang: str) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "title": e.title, "title_en": e.title_en, "start": e.start.isoformat(),
            "end": e.end.isoformat(), **as_json(e.explanation, lang), "categories": list(e.categories),
            "overridden": e.overridden, "source": e.source.cite() if e.source else None}


def _echo_explained(item: Event | Deadline, lang: str) -> None:
    """Print the steps of an event or a deadline, then its source."""
    for step in render_all(item.explanation, lang):
        click.echo(f"  • {step}")
    if item.source:
        click.echo(f"  {source_line(item.source.cite(), lang)}")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@main.command()
@click.option("--centre", required=True, metavar="ID", help="Identifiant du centre, ex. ipst-cnam.")
@click.option("--year", required=True, type=ACADEMIC_YEAR, help="Année universitaire, ex. 2026.")
@click.argument("event_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="fr", show_default=True, help="Langue des explications.")
@click.pass_context
def explain(ctx: click.Context, centre: str, year: int, event_id: str | None, fmt: str, lang: str) -> None:
    """Expliquer comment chaque date de l'année a été obtenue (ou seulement EVENT_ID)."""
    sched = checked_schedule(_centres(ctx, (centre,))[0], year)
    events = list(sched.events)
    if event_id is not None:
        events = [e for e in events if e.id == event_id]
        if not events:
            ids = [e.id for e in sched.events]
            close = difflib.get_close_matches(event_id, ids, n=1)
            raise RuleError(f"événement inconnu « {event_id} » pour {centre} {sched.label}",
                            hint=(f"vouliez-vous dire « {close[0]} » ? " if close else "")
                            + f"liste : cnam-calendar explain --centre {centre} --year {year}")
    if fmt == "json":
        _echo_json([_event_json(e, lang) for e in events])
        return
    for e in events:
        if lang == "en":
            when = long_date(e.start, lang) if e.start == e.end else f"{long_date(e.start, lang)} to {long_date(e.end, lang)}"
        else:
            when = long_date(e.start) if e.start == e.end else f"du {long_date(e.start)} au {long_date(e.end)}"
        click.echo(f"{e.id} — {e.label(lang)}{': ' if lang == 'en' else ' : '}{when}")
        _echo_explained(e, lang)


def _deadline_json(d: Deadline, lang: str) -> dict[str, Any]:
    return {"rule": d.rule, "from": d.origin.isoformat(), "deadline": d.deadline.isoformat(), "title": d.title,
            **as_json(d.explanation, lang), "source": d.source.cite() if d.source else None}


@main.command(name="deadline")
@click.argument("rule", type=click.Choice(PERSONAL_RULES), metavar="RÈGLE")
@click.option("--from", "origin", required=True, type=ISO_DATE,
              help="Date de départ : validation CPF, réception du dossier ou début de formation.")
@click.option("--centre", metavar="ID", help="Centre dont on applique les réglages (défaut : règles nationales).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="fr", show_default=True, help="Langue des explications.")
@click.pass_context
def deadline_cmd(ctx: click.Context, rule: str, origin: date, centre: str | None, fmt: str, lang: str) -> None:
    """Calculer une échéance personnelle à partir d'une date.

    RÈGLE : cpf-confirmation, withdrawal ou apprenticeship-contract.
    """
    c = _centres(ctx, (centre,))[0] if centre else DEFAULT_CENTRE
    d = deadline(rule, origin, c)
    if fmt == "json":
        _echo_json(_deadline_json(d, lang))
        return
    title = d.title_en if lang == "en" else d.title
    click.echo(f"{title}{': ' if lang == 'en' else ' : '}{long_date(d.deadline, lang)} ({d.deadline.isoformat()})")
    _echo_explained(d, lang)


@main.command()
@click.option("--centre", "centres", multiple=True, metavar="ID", help="Centre à vérifier (répétable ; défaut : tous).")
@click.pass_context
def check(ctx: click.Context, centres: tuple[str, ...]) -> None:
    """Vérifier les fichiers de calendars/ : code 0 si tout va bien, 1 avec la liste des problèmes,
    2 si un fichier ne peut pas être lu."""
    found = check_centres(ctx.obj["calendars"], centres, _today(ctx))
    for problem in found.problems:
        click.echo(gettext("fr", "Problème : %(problem)s", problem=problem))
    for line in found.unreadable:
        click.echo(gettext("fr", "Erreur : %(error)s", error=line), err=True)
    if found.problems:
        click.echo(ngettext("fr", "%(num)d problème trouvé.", "%(num)d problèmes trouvés.", len(found.problems)))
    if found.unreadable:
        click.echo(ngettext("fr", "%(num)d fichier illisible, rien n'y a été vérifié.",
                            "%(num)d fichiers illisibles, rien n'y a été vérifié.", len(found.unreadable)),
                   err=True)
        ctx.exit(EXIT_BAD_INPUT)
    if found.problems:
        ctx.exit(EXIT_PROBLEMS)
    click.echo(ngettext("fr", "Tout est en ordre (%(num)d année vérifiée).",
                        "Tout est en ordre (%(num)d années vérifiées).", found.years))


@main.command()
@click.option("--centre", required=True, metavar="ID", help="Identifiant du centre, ex. ipst-cnam.")
@click.option("--year", required=True, type=ACADEMIC_YEAR, help="Année universitaire, ex. 2026.")
@click.option("--ue", "ues", multiple=True, metavar="CODE", help="UE à inclure (répétable).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True, help="Langue des titres.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier à écrire (défaut : sortie standard).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Dossier d'un build précédent, dont on reprend SEQUENCE et LAST-MODIFIED.")
@click.pass_context
def feed(ctx: click.Context, centre: str, year: int, ues: tuple[str, ...], lang: str, output: Path | None,
         out: Path) -> None:
    """Écrire un calendrier : événements du centre et UE choisies."""
    c = _centres(ctx, (centre,))[0]
    chosen = _pick_ues(c, _catalogues([c])[c.id], ues)
    clock = ctx.obj["clock"]()
    sched = checked_schedule(c, year)
    data = build_mod.combined_feed(sched, chosen, build_mod.load_manifest(out, c, year), build_stamp(clock),
                                   local_date(clock), lang)
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        atomic_write(output, data)
        click.echo(f"écrit {output}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@click.option("--port", default=8000, show_default=True, type=Integer(1, 65535), help="Port d'écoute.")
@click.option("--base-url", callback=check_base_url,
              help="URL publique du serveur, pour les liens (défaut : http://HOST:PORT).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Dossier du build (manifestes : SEQUENCE et LAST-MODIFIED).")
@click.option("--workers", default=1, show_default=True, type=Integer(1, 64),
              help="Processus serveurs sur le même stockage.")
@click.option("--db", envvar="CNAM_CALENDAR_DB", default="cnam-calendar.db", show_default=True,
              metavar="FICHIER|URL", help="Base des apprenants (SQLite ou URL SQLAlchemy ; CNAM_CALENDAR_DB).")
@click.option("--access-log", is_flag=True,
              help="Une ligne de journal par requête : méthode, modèle de route (jamais un jeton), statut, durée, "
                   "User-Agent (derrière nginx, son propre journal suffit).")
@log_options
@admin_options
@link_key_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, base_url: str | None, out: Path, workers: int, db: str,
          access_log: bool, log_format: str, log_level: str, log_lang: str, admin_header: str | None,
          admin_trusted: tuple[str, ...]) -> None:
    """Servir les flux, la page d'abonnement et la vue de l'année, la console /admin (et /metrics, /healthz)."""
    import logging.config
    import signal

    import uvicorn

    from cnam_calendar.cli.listen import check_free
    from cnam_calendar.store.database import open_store
    from cnam_calendar.store.presence import require_store
    from cnam_calendar.web.log import log_config, started, stopped

    _centres(ctx)  # fail now, with a clear message, on a broken calendars/ directory
    export_admin(admin_header, admin_trusted)  # a bad proxy setting fails here, before anything is set up
    require_store(db)  # created by `init` or `learners import` only
    open_store(db).close()  # upgrade the schema once, before the workers start
    key_file = link_key_file(ctx, db)
    read_key(key_file)  # a broken key file fails here, in one line; the workers read it again
    check_free(host, port)  # a busy port in one line, before the address is announced
    logs = log_config(log_format, log_level, log_lang)
    logging.config.dictConfig(logs)
    os.environ["CNAM_CALENDAR_CALENDARS"] = str(Path(ctx.obj["calendars"]).resolve())
    os.environ["CNAM_CALENDAR_OUT"] = str(out.resolve())
    os.environ["CNAM_CALENDAR_DB"] = db
    os.environ[KEY_ENV] = str(key_file.resolve()) if key_file else ""
    os.environ["CNAM_CALENDAR_SERVE_ACCESS_LOG"] = "1" if access_log else "0"
    os.environ["CNAM_CALENDAR_BASE_URL"] = base_url or f"http://{host}:{port}"
    click.echo(f"cnam-calendar sert {os.environ['CNAM_CALENDAR_BASE_URL']}/ ({workers} processus)", err=True)
    if workers > 1:
        _keep_tcp_nodelay()
        _metrics_across_workers(ctx)
    started({"base_url": os.environ["CNAM_CALENDAR_BASE_URL"], "listen": f"{host}:{port}", "workers": workers,
             "base": _shown_db(db), "calendars": os.environ["CNAM_CALENDAR_CALENDARS"],
             "out": os.environ["CNAM_CALENDAR_OUT"], "log_format": log_format, "log_level": log_level,
             "access_log": access_log})
    # uvicorn stops on SIGTERM, then raises it again once its handlers are put back: ending the
    # process here instead lets the stop line be logged and the exit status be 0 (what systemd expects)
    signal.signal(signal.SIGTERM, _end_on_sigterm)
    try:
        uvicorn.run("cnam_calendar.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="debug" if log_level == "debug" else "warning", log_config=logs,
                    proxy_headers=False)  # web/admin_session.py reads X-Forwarded-* from trusted proxies only
    finally:
        stopped()


def _end_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _shown_db(db: str) -> str:
    """Return the store's address as logged: its URL (the start line hides its password)."""
    from cnam_calendar.store.database import db_url

    return db_url(db)


def _metrics_across_workers(ctx: click.Context) -> None:
    """Let every worker's figures reach /metrics: prometheus_client's multiprocess mode in a fresh directory.

    An operator's own PROMETHEUS_MULTIPROC_DIR is kept (empty it before each start); otherwise a
    temporary directory is made here and removed when the server stops.
    """
    import shutil
    import tempfile

    from cnam_calendar.web.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return
    folder = tempfile.mkdtemp(prefix="cnam-calendar-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))


def _keep_tcp_nodelay() -> None:
    """Make the socket `--workers N` shares say it is TCP, so that asyncio sets TCP_NODELAY on connections.

    uvicorn binds that socket itself with proto 0; the accepted sockets inherit it, asyncio then leaves
    Nagle's algorithm on, and each keep-alive response with a body waits about 40 ms for the client's
    delayed ACK (uvicorn issue #3149). The single-process path is not affected.
    """
    import socket

    from uvicorn.config import Config

    bind = Config.bind_socket
    if getattr(bind, "keeps_tcp_nodelay", False):
        return

    def bind_socket(self: Config) -> socket.socket:
        sock = bind(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    bind_socket.keeps_tcp_nodelay = True  # type: ignore[attr-defined]
    Config.bind_socket = bind_socket  # type: ignore[method-assign]


main.add_command(learners)
learners.add_command(invite)
main.add_command(reminders)
main.add_command(daemon)
main.add_command(year_group)
main.add_command(diff)
main.add_command(staff)
main.add_command(init)
instance.install(main)  # last: every command gets the instance file, its variables and --calendars

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
