"""`cnam-calendar reminders …`: plan the reminder e-mails, preview one, count them, opt a learner out."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click

from cnam_calendar.cli.learners import (
    _centres,
    _clock,
    _db_option,
    _store,
    _year_option,
    link_key_file,
    link_key_option,
)
from cnam_calendar.cli.observe import (
    echo_failures,
    echo_status_details,
    log_options,
    public,
    since_moment,
    status_details,
)
from cnam_calendar.cli.types import ACADEMIC_YEAR, ISO_DATE, Decimal, Integer, check_base_url
from cnam_calendar.mail.compose import compose, text_part
from cnam_calendar.mail.daemon import plan_all
from cnam_calendar.mail.notices import scan_notices
from cnam_calendar.messages import gettext, ngettext
from cnam_calendar.rules.errors import StoreError
from cnam_calendar.rules.reminders import Reminder, in_window
from cnam_calendar.rules.weekly import weekly_letters
from cnam_calendar.store.database import DEFAULT_DB, Store
from cnam_calendar.store.delivery import STATUSES, get_delivery, set_opt_out, status_counts, sync_plan
from cnam_calendar.store.invites import page_url
from cnam_calendar.store.keys import LearnerKeys, is_key
from cnam_calendar.store.notices import weekly_learners

BASE_URL_OPTION = click.option(
    "--base-url", envvar="CNAM_CALENDAR_BASE_URL", callback=check_base_url, metavar="URL",
    help="Adresse publique du serveur (variable CNAM_CALENDAR_BASE_URL) : le lien de désinscription en un clic "
         "des e-mails (sans elle, seule l'adresse de désinscription).")
STATUS_LABELS = {"pending": "en attente", "leased": "en cours d'envoi", "sent": "envoyés", "failed": "en échec",
                 "expired": "expirés", "superseded": "remplacés", "cancelled": "annulés"}


def compute_plan(store: Store, ctx: click.Context, year: int) -> list[Reminder]:
    """Return every reminder of the store's learners for academic year ``year``."""
    return plan_all(store, _centres(ctx), year)


def _local_midnight(day: date | None, tz: str = "Europe/Paris") -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), ZoneInfo(tz))


def _reminder_json(r: Reminder) -> dict[str, Any]:
    if "event" in r.payload:
        title = r.payload["event"]["title"]
    else:
        title = ngettext("fr", "semaine (%(num)d date)", "semaine (%(num)d dates)", len(r.payload["items"]))
    return {"key": r.key, "learner_id": r.learner_id, "event_uid": r.event_uid, "event_id": r.event_id,
            "kind": r.kind, "title": title, "offset_days": r.offset_days, "date": r.target.isoformat(),
            "local_due": r.local_due.isoformat(), "due_at": r.due_at.isoformat(),
            "expires_at": r.expires_at.isoformat()}


@click.group(name="reminders", subcommand_metavar="COMMANDE [ARGS]...")
@_db_option(DEFAULT_DB)
@link_key_option
def reminders() -> None:
    """Rappels par e-mail : ce qui sera envoyé, l'aperçu d'un message, l'état des envois."""


@reminders.command()
@click.option("--from", "first", type=ISO_DATE, help="Premier jour d'envoi montré (heure locale).")
@click.option("--to", "last", type=ISO_DATE, help="Dernier jour d'envoi montré (inclus).")
@click.option("--year", type=ACADEMIC_YEAR, callback=_year_option,
              help="Année universitaire (défaut : l'année en cours).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_db_option(None)
@click.pass_context
def plan(ctx: click.Context, first: date | None, last: date | None, year: int, fmt: str) -> None:
    """Calculer les rappels de tous les apprenants, les écrire dans la base (sans doublon) et les lister."""
    if first and last and last < first:
        raise click.BadParameter(f"--to {last} précède --from {first} ; attendu : une fin après le début",
                                 param_hint="--to")
    store = _store(ctx)
    planned = [r for r in weekly_letters(compute_plan(store, ctx, year), weekly_learners(store))
               if in_window(r, first, last)]  # weekly-digest learners: one Monday letter a week
    end = None if last is None else last + timedelta(days=1)
    report = sync_plan(store, planned, _clock(ctx), _local_midnight(first), _local_midnight(end), years=[year])
    notices = scan_notices(store, _centres(ctx), _clock(ctx), year)
    if fmt == "json":
        click.echo(json.dumps([_reminder_json(r) for r in planned], ensure_ascii=False, indent=2))
    else:
        for r in planned:
            what = (f"J-{r.offset_days}  {r.payload['event']['title']}" if "event" in r.payload
                    else "semaine  " + ngettext("fr", "%(num)d date", "%(num)d dates", len(r.payload["items"])))
            click.echo(f"{r.local_due:%Y-%m-%d %H:%M %Z}  {r.learner_id}  {what} ({r.target.isoformat()})  {r.key}")
    click.echo(ngettext("fr", "%(num)d rappel prévu", "%(num)d rappels prévus", len(planned)) + " ; base : " + ", ".join((
        ngettext("fr", "%(num)d ajouté", "%(num)d ajoutés", report.created),
        gettext("fr", "%(num)d mis à jour", num=report.updated),
        ngettext("fr", "%(num)d réactivé", "%(num)d réactivés", report.revived),
        ngettext("fr", "%(num)d annulé", "%(num)d annulés", report.cancelled),
        ngettext("fr", "%(num)d inchangé", "%(num)d inchangés", report.unchanged),
        ngettext("fr", "%(num)d déjà passé", "%(num)d déjà passés", report.skipped))), err=True)
    items = ", ".join((ngettext("fr", "%(num)d prévu", "%(num)d prévus", notices.queued),
                       gettext("fr", "%(num)d mis à jour", num=notices.updated),
                       ngettext("fr", "%(num)d annulé", "%(num)d annulés", notices.cancelled)))
    click.echo(gettext("fr", "avis de changement : %(items)s", items=items) + " ; " + ngettext("fr", "%(num)d apprenant pris comme référence", "%(num)d apprenants pris comme référence",
                           notices.baselined), err=True)


@reminders.command()
@click.argument("key")
@click.option("--from", "sender", envvar="CNAM_CALENDAR_FROM", metavar="ADRESSE",
              help="Expéditeur (variable CNAM_CALENDAR_FROM ; défaut : celui du fichier du centre).")
@BASE_URL_OPTION
@_db_option(None)
@click.pass_context
def preview(ctx: click.Context, key: str, sender: str | None, base_url: str | None) -> None:
    """Afficher l'e-mail du rappel KEY (en-têtes et texte), tel qu'il serait envoyé."""
    store = _store(ctx)
    row = get_delivery(store, key)
    if row is None:
        raise StoreError(f"rappel inconnu « {key} »", where=store.url,
                         hint="les clés sont listées par : cnam-calendar reminders plan ; celles des rappels "
                              "déjà passés n'y sont que montrées, pas écrites dans la base")
    if not row.payload:
        raise StoreError(f"le rappel « {key} » n'a pas de contenu", where=store.url,
                         hint="recalculez-le : cnam-calendar reminders plan")
    payload = row.payload
    if base_url and not payload.get("page_url") and store.page_tokens([row.learner_id]):
        # the daemon puts the learner's page link here; the preview shows where, not the secret itself
        payload = {**payload, "page_url": page_url(base_url, "<jeton-de-l-apprenant>")}
    # as it will be sent: at its due time, or now if that is past (the text states the time left then)
    msg = compose(payload, row.key, sender=sender, date=max(_clock(ctx), row.due_at), base_url=base_url)
    for name, value in msg.items():
        if name.lower() not in ("content-type", "mime-version"):
            click.echo(f"{name}: {value}")
    click.echo(f"X-Cnam-Calendar-Status: {row.status}")
    click.echo("")
    click.echo(text_part(msg), nl=False)


@reminders.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_db_option(None)
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Compter les rappels par état, les reportés, les échecs par réponse du serveur ; l'activité des démons."""
    store = _store(ctx)
    counts = status_counts(store)
    details = status_details(store, _clock(ctx))
    if fmt == "json":
        click.echo(json.dumps({**counts, **public(details)}, indent=2, ensure_ascii=False))
        return
    for name in STATUSES:
        click.echo(f"{name:<11} {counts[name]:>8}  {STATUS_LABELS[name]}")
    click.echo(f"{'total':<11} {sum(counts.values()):>8}")
    echo_status_details(details)


@reminders.command()
@click.option("--since", type=ISO_DATE, help="Seulement les échecs depuis ce jour (AAAA-MM-JJ, heure de Paris).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_db_option(None)
@click.pass_context
def failures(ctx: click.Context, since: date | None, fmt: str) -> None:
    """Lister les rappels en échec définitif : apprenant, clé et réponse du serveur SMTP."""
    from cnam_calendar.store.health import failures as failed

    echo_failures(failed(_store(ctx), since_moment(since)), fmt)


@click.command()
@click.option("--smtp-host", default="127.0.0.1", show_default=True, help="Serveur SMTP.")
@click.option("--smtp-port", default=25, show_default=True, type=Integer(1, 65535), help="Port SMTP.")
@click.option("--smtp-starttls", is_flag=True, help="Passer en TLS (STARTTLS) après la connexion.")
@click.option("--smtp-user", help="Identifiant SMTP ; le mot de passe est lu dans CNAM_CALENDAR_SMTP_PASSWORD.")
@click.option("--from", "sender", metavar="ADRESSE",
              help="Adresse d'expédition de tous les rappels (défaut : celle du fichier de chaque centre, "
                   "[reminders] sender, sinon son adresse de contact).")
@click.option("--lanes", default=2, show_default=True, type=Integer(1, 64),
              help="Connexions SMTP en parallèle.")
@click.option("--lease-seconds", default=120, show_default=True, type=Integer(1, 86400),
              help="Durée de réservation d'un rappel : passé ce délai, un autre démon le reprend.")
@click.option("--dispatch-every", default=2.0, show_default=True, type=Decimal(0.1, 3600),
              help="Secondes entre deux tournées d'envoi.")
@log_options
@click.option("--metrics-port", type=Integer(1, 65535), envvar="CNAM_CALENDAR_METRICS_PORT",
              help="Servir /metrics (format Prometheus) sur ce port (variable CNAM_CALENDAR_METRICS_PORT).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, metavar="ADRESSE", help="Adresse d'écoute de /metrics.")
@click.option("--check", is_flag=True,
              help="Essayer le relais (connexion, STARTTLS, AUTH) et envoyer un message d'essai à --to, puis sortir.")
@click.option("--to", "check_to", metavar="ADRESSE", help="Destinataire du message d'essai de --check.")
@BASE_URL_OPTION
@_db_option(DEFAULT_DB)
@link_key_option
@click.pass_context
def daemon(ctx: click.Context, smtp_host: str, smtp_port: int, smtp_starttls: bool, smtp_user: str | None,
           sender: str | None, lanes: int, lease_seconds: int, dispatch_every: float, log_format: str,
           log_level: str, log_lang: str, metrics_port: int | None, metrics_host: str, check: bool,
           check_to: str | None, base_url: str | None) -> None:
    """Envoyer les rappels par e-mail avant chaque échéance : jamais deux fois, aucun perdu."""
    import os

    from cnam_calendar import oplog

    password = os.environ.get("CNAM_CALENDAR_SMTP_PASSWORD")
    if check or check_to:
        _check(ctx, smtp_host, smtp_port, smtp_starttls, smtp_user, password, sender, check_to)
        return

    import logging

    from cnam_calendar.mail.daemon import Daemon
    from cnam_calendar.mail.metrics import DaemonMetrics
    from cnam_calendar.mail.observe import Observer
    from cnam_calendar.mail.smtp import Mailer
    from cnam_calendar.store.delivery import acquire_sqlite_daemon_lock

    handler = oplog.setup(log_format, log_level, log_lang)
    ctx.call_on_close(lambda: logging.getLogger().removeHandler(handler))
    store = _store(ctx)
    lock = acquire_sqlite_daemon_lock(store)  # a second daemon on one SQLite file refuses to start
    ctx.call_on_close(lock.release)
    mailer = Mailer(smtp_host, smtp_port, starttls=smtp_starttls, user=smtp_user, password=password, lanes=lanes,
                    sender=sender)
    ctx.call_on_close(mailer.close)
    metrics = DaemonMetrics(lambda: status_counts(store)) if metrics_port else None
    worker = Daemon(store, mailer, _centres(ctx), lambda: _clock(ctx), sender,
                    lease=timedelta(seconds=lease_seconds), observer=Observer(metrics), dispatch_every=dispatch_every,
                    base_url=base_url, reload_centres=lambda: _centres(ctx))
    worker.recover()
    if metrics is not None:
        ctx.call_on_close(metrics.serve(metrics_port, metrics_host).shutdown)
    worker.announce({"base": store.url, "smtp": f"smtp://{smtp_host}:{smtp_port}", "starttls": smtp_starttls,
                     "smtp_user": smtp_user, "smtp_password": password, "from": sender, "lanes": lanes,
                     "lease_seconds": lease_seconds, "dispatch_every": dispatch_every,
                     "metrics": f"http://{metrics_host}:{metrics_port}/metrics" if metrics_port else None,
                     "log_format": log_format, "log_level": log_level, "base_url": base_url,
                     "link_key_file": str(link_key_file(ctx)) if store.link_key else None})
    if store.link_key is None or not base_url:
        worker.observer.no_page_links(str(link_key_file(ctx) or "[links] key_file") if store.link_key is None else None)
    worker.run()


def _check(ctx: click.Context, host: str, port: int, starttls: bool, user: str | None, password: str | None,
           sender: str | None, to: str | None) -> None:
    """`daemon --check --to ADDR`: one test message through the relay, or one French line saying what failed."""
    import re
    import socket

    from cnam_calendar.mail.check import Check

    if not to:
        raise click.UsageError("--check envoie un message d'essai : donnez son destinataire avec --to ADRESSE")
    for option, address in (("--to", to), ("--from", sender)):
        if address is not None and not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+", address):
            raise click.BadParameter(f"adresse « {address} » invalide ; attendu : une adresse e-mail, "
                                     "ex. exploitation@example.org", param_hint=option)
    report = Check(host, port, starttls=starttls, user=user, password=password).run(
        sender or f"cnam-calendar@{socket.getfqdn()}", to, _clock(ctx))
    click.echo(f"smtp://{host}:{port} : message d'essai accepté pour {to} ({report.reply}) ; étapes : "
               + ", ".join(report.steps))


def learner_from(store: Store, given: str) -> str:
    """Return the learner id that ``given`` names: an id, or the key of a « stop <key> » e-mail subject."""
    text = given.strip()
    if text[:5].lower() == "stop ":
        text = text[5:].strip()
    if store.get_learner(text) is not None:
        return text
    found = LearnerKeys(store).learner_id(text) if is_key(text) else None
    if found is None:
        raise StoreError(f"apprenant inconnu « {given} »", where=store.url,
                         hint="attendu : un identifiant (cnam-calendar learners show ID) ou la clé d'un e-mail "
                              "« stop <clé> » (32 caractères 0-9a-f)")
    return found


@reminders.command(name="opt-out")
@click.argument("learner_id", metavar="ID|CLÉ")
@click.option("--undo", is_flag=True, help="Reprendre les rappels (au prochain « reminders plan »).")
@_db_option(None)
@click.pass_context
def opt_out(ctx: click.Context, learner_id: str, undo: bool) -> None:
    """Ne plus envoyer de rappels par e-mail à ID, ou à la CLÉ citée dans un e-mail « stop <clé> » (son flux reste à jour)."""
    store = _store(ctx)
    learner_id = learner_from(store, learner_id)
    set_opt_out(store, learner_id, not undo)
    if undo:
        click.echo(f"{learner_id} recevra de nouveau les rappels (au prochain : cnam-calendar reminders plan).")
    else:
        click.echo(f"{learner_id} ne recevra plus de rappels par e-mail ; son flux reste à jour.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(reminders())
