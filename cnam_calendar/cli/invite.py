"""`cnam-calendar learners invite`: e-mail each learner the link to their page (sent by the daemon)."""

from __future__ import annotations

import click

from cnam_calendar.cli.learners import DEFAULT_BASE_URL, _centres, _clock, _db_option, _missing_centre, _store
from cnam_calendar.cli.types import check_base_url
from cnam_calendar.messages import ngettext
from cnam_calendar.rules.errors import ConfigError, StoreError
from cnam_calendar.store.invites import invite as queue_invites


def _some(ids: tuple[str, ...], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (" …" if len(ids) > limit else "")


@click.command(name="invite")
@click.argument("learner_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "all_", is_flag=True, help="Tous les apprenants de la base.")
@click.option("--renew", is_flag=True,
              help="Aussi à ceux qui ont déjà un lien : ils en reçoivent un nouveau, l'ancien cesse de fonctionner.")
@click.option("--base-url", envvar="CNAM_CALENDAR_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              callback=check_base_url, help="Adresse publique du serveur (variable CNAM_CALENDAR_BASE_URL).")
@_db_option(None)
@click.pass_context
def invite(ctx: click.Context, learner_ids: tuple[str, ...], all_: bool, renew: bool, base_url: str) -> None:
    """Envoyer à chaque apprenant (ID… ou --all) le lien de sa page, par le démon d'envoi (une fois, sans perte)."""
    if all_ == bool(learner_ids):
        raise click.UsageError("donnez des identifiants, ou --all (pas les deux)")
    store = _store(ctx)
    centres = {c.id: c for c in _centres(ctx)}
    if all_:
        chosen = store.learners()
    else:
        found = {i: store.get_learner(i) for i in dict.fromkeys(learner_ids)}
        missing = [i for i, x in found.items() if x is None]
        if missing:
            ids = ", ".join(missing[:10])
            raise StoreError(ngettext("fr", "apprenant inconnu : %(ids)s", "apprenants inconnus : %(ids)s", len(missing),
                                      ids=ids), where=store.url,
                             hint="vérifiez les identifiants : cnam-calendar learners show ID")
        chosen = [x for x in found.values() if x is not None]
    for learner in chosen:
        if learner.centre not in centres:
            raise ConfigError(_missing_centre(ctx, learner.centre), where=learner.id)
    # named one by one (« j'ai perdu l'e-mail »): their current link again when the link key can recompute it
    report = queue_invites(store, chosen, centres, base_url, _clock(ctx), renew=renew, resend=not all_)
    click.echo(ngettext("fr", "%(num)d invitation prévue : le démon l'envoie (cnam-calendar daemon).",
                        "%(num)d invitations prévues : le démon les envoie (cnam-calendar daemon).",
                        len(report.queued) + len(report.resent)))
    if report.resent:
        some = _some(report.resent)
        click.echo(ngettext("fr", "dont %(num)d avec son lien actuel, inchangé (%(some)s) : son abonnement continue.",
                            "dont %(num)d avec leur lien actuel, inchangé (%(some)s) : leurs abonnements continuent.",
                            len(report.resent), some=some))
    if report.has_link:
        some = _some(report.has_link)
        click.echo(ngettext("fr", "%(num)d apprenant a déjà un lien (%(some)s) : rien envoyé ; --renew lui envoie un "
                                  "nouveau lien (l'ancien cessera de fonctionner).",
                            "%(num)d apprenants ont déjà un lien (%(some)s) : rien envoyé ; --renew leur envoie un "
                            "nouveau lien (l'ancien cessera de fonctionner).", len(report.has_link), some=some), err=True)
    if report.pending:
        some = _some(report.pending)
        click.echo(ngettext("fr", "%(num)d invitation déjà en attente d'envoi (%(some)s) : rien de plus.",
                            "%(num)d invitations déjà en attente d'envoi (%(some)s) : rien de plus.",
                            len(report.pending), some=some), err=True)
    if report.opted_out:
        some = _some(report.opted_out)
        click.echo(ngettext("fr", "%(num)d apprenant désinscrit des e-mails (%(some)s) : rien envoyé.",
                            "%(num)d apprenants désinscrits des e-mails (%(some)s) : rien envoyé.",
                            len(report.opted_out), some=some), err=True)
