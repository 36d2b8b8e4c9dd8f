"""`cnam-calendar staff …`: the console's local accounts, their roles per centre, the audit journal."""

from __future__ import annotations

import difflib
import getpass
import os
import re
import sys
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import click

from cnam_calendar.cli.learners import _centres, _db_option, _store
from cnam_calendar.cli.types import Integer
from cnam_calendar.messages import ngettext
from cnam_calendar.rules.errors import RuleError
from cnam_calendar.store import audit
from cnam_calendar.store import staff as staff_store
from cnam_calendar.store.database import DEFAULT_DB
from cnam_calendar.text.i18n import long_date
from cnam_calendar.web.admin_session import ENV_HEADER, ENV_TRUSTED, parse_networks

PARIS = ZoneInfo("Europe/Paris")  # the journal is read in the time of the centres


def operator() -> str:
    """Return who runs the command, as the journal names them: ``cli:`` and the system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli:?"


def _email(email: str) -> str:
    if not staff_store.valid_email(email):
        raise RuleError(f"adresse e-mail invalide « {email} »", where="EMAIL",
                        hint="attendu : une adresse comme prenom.nom@lecnam.net")
    return staff_store.normal_email(email)


def _centre(ctx: click.Context, centre: str) -> str:
    ids = [c.id for c in _centres(ctx)]
    if centre not in ids:
        close = difflib.get_close_matches(centre, ids, n=1)
        raise RuleError(f"centre inconnu « {centre} »", where=f"--centre {centre}",
                        hint=(f"vouliez-vous dire « {close[0]} » ? " if close else "")
                        + f"attendu : un de {', '.join(ids)}")
    return centre


def _role(role: str) -> str:
    if role not in staff_store.ROLES:
        close = difflib.get_close_matches(role, staff_store.ROLES, n=1)
        raise RuleError(f"rôle inconnu « {role} »", where=f"--role {role}",
                        hint=(f"vouliez-vous dire « {close[0]} » ? " if close else "")
                        + "attendu : editor (modifie les fichiers du centre) ou viewer (les consulte)")
    return role


def _password(from_stdin: bool) -> str:
    """Read a new password: the first line of stdin, or asked twice on the terminal (not echoed)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt="Mot de passe (encore)",
                                err=True)
    problem = staff_store.password_problem(password)
    if problem:
        raise RuleError(problem, where="--password-stdin" if from_stdin else "mot de passe",
                        hint="choisissez une phrase de passe plus longue")
    return password


def _describe(roles: dict[str, str]) -> str:
    return ", ".join(f"{centre} ({staff_store.ROLE_LABELS[role]})" for centre, role in roles.items()) or "aucun centre"


def _trusted(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for value in values:
        for part in value.replace(",", " ").split():
            try:
                out.append(str(parse_networks([part])[0]))
            except ValueError:
                raise RuleError(f"adresse de mandataire invalide « {part} »", where="--admin-trusted-proxy",
                                hint="attendu : une adresse IP ou un bloc CIDR, ex. 127.0.0.1 ou 10.0.0.0/8") from None
    return tuple(out)


def admin_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add to `serve` the console's sign-in through a trusted proxy: the header and the trusted addresses."""
    command = click.option(
        "--admin-trusted-proxy", "admin_trusted", multiple=True, callback=_trusted, metavar="IP|CIDR",
        envvar=ENV_TRUSTED, help="Adresse (ou bloc CIDR) du mandataire dont on croit l'en-tête de "
        "--admin-proxy-header (répétable ; CNAM_CALENDAR_ADMIN_TRUSTED_PROXIES).")(command)
    return click.option(
        "--admin-proxy-header", "admin_header", envvar=ENV_HEADER, metavar="EN-TÊTE",
        help="En-tête où le mandataire de confiance (CAS, Shibboleth) donne l'e-mail de la personne "
        "connectée, ex. X-Remote-User (CNAM_CALENDAR_ADMIN_PROXY_HEADER).")(command)


def export_admin(header: str | None, trusted: tuple[str, ...]) -> None:
    """Hand the proxy settings to the server's workers (environment), refusing a header nobody may send."""
    if header and not trusted:
        raise RuleError(f"--admin-proxy-header {header} sans --admin-trusted-proxy", where="--admin-proxy-header",
                        hint="dites de quelles adresses vient le mandataire, ex. --admin-trusted-proxy 127.0.0.1")
    if header is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
        raise RuleError(f"nom d'en-tête invalide « {header} »", where="--admin-proxy-header",
                        hint="attendu : lettres, chiffres et tirets, ex. X-Remote-User")
    os.environ[ENV_HEADER] = header or ""
    os.environ[ENV_TRUSTED] = " ".join(trusted)


def _grant(email: str, role: str | None) -> str | None:
    return None if role is None else f"{email} : {staff_store.ROLE_LABELS[role]}"


@click.group(name="staff", subcommand_metavar="COMMANDE [ARGS]...")
@_db_option(DEFAULT_DB)
def staff() -> None:
    """Comptes de la console /admin : rôles par centre, mots de passe, journal."""


@staff.command()
@click.argument("email")
@click.option("--centre", required=True, metavar="ID", help="Centre où la personne a ce rôle, ex. ipst-cnam.")
@click.option("--role", required=True, metavar="editor|viewer",
              help="editor : modifie les fichiers du centre ; viewer : les consulte.")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard (première ligne).")
@click.option("--no-password", is_flag=True,
              help="Compte sans mot de passe local : connexion par le mandataire (en-tête de confiance) seulement.")
@_db_option(None)
@click.pass_context
def add(ctx: click.Context, email: str, centre: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Donner un rôle à EMAIL dans un centre (crée le compte, en demandant son mot de passe, s'il n'existe pas)."""
    email, centre, role = _email(email), _centre(ctx, centre), _role(role)
    if password_stdin and no_password:
        raise RuleError("--password-stdin et --no-password s'excluent", where="--no-password",
                        hint="gardez l'une des deux options")
    store = _store(ctx)
    hashed = None
    if staff_store.member(store, email) is None and not no_password:
        hashed = staff_store.hash_password(_password(password_stdin))
    before, after = staff_store.add(store, email, centre, role, hashed)
    audit.record(store, operator(), "staff-add", "", _grant(email, before), _grant(email, after), centre=centre)
    if before == after:
        click.echo(f"{email} est déjà {staff_store.ROLE_LABELS[role]} à {centre} : rien n'a changé.")
    elif before:
        click.echo(f"{email} : {centre} {staff_store.ROLE_LABELS[before]} → {staff_store.ROLE_LABELS[after]}.")
    else:
        click.echo(f"{email} : {staff_store.ROLE_LABELS[after]} à {centre}.")


@staff.command()
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard (première ligne).")
@_db_option(None)
@click.pass_context
def reset(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Changer le mot de passe de EMAIL ; ses sessions ouvertes se ferment."""
    email = _email(email)
    store = _store(ctx)
    if staff_store.member(store, email) is None:
        raise staff_store.unknown_account(store, email)
    staff_store.reset(store, email, staff_store.hash_password(_password(password_stdin)))
    audit.record(store, operator(), "staff-reset", "", None, email)
    click.echo(f"{email} : mot de passe changé ; ses sessions ouvertes sont fermées.")


@staff.command(name="list")
@_db_option(None)
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """Lister les comptes et leurs rôles."""
    found = staff_store.members(_store(ctx))
    for m in found:
        how = "" if m.has_password else " [mandataire seulement]"
        click.echo(f"{m.email}{how} : {_describe(dict(m.roles))}")
    click.echo(ngettext("fr", "%(num)d compte.", "%(num)d comptes.", len(found)))


@staff.command()
@click.argument("email")
@click.option("--centre", metavar="ID", help="Retirer seulement le rôle dans ce centre (défaut : tout le compte).")
@_db_option(None)
@click.pass_context
def remove(ctx: click.Context, email: str, centre: str | None) -> None:
    """Supprimer le compte EMAIL (ou son rôle dans un centre) ; ses sessions ouvertes se ferment."""
    email = _email(email)
    store = _store(ctx)
    removed = staff_store.remove(store, email, centre)
    who = operator()
    for c, role in removed.items():
        audit.record(store, who, "staff-remove", "", _grant(email, role), None, centre=c)
    if centre is None:
        audit.record(store, who, "staff-remove", "", email, None)
        click.echo(f"{email} : compte supprimé ({_describe(removed)}).")
    else:
        click.echo(f"{email} : rôle retiré à {centre}.")


@staff.command()
@click.option("--limit", default=50, show_default=True, type=Integer(1, 100000), help="Nombre de lignes.")
@_db_option(None)
@click.pass_context
def journal(ctx: click.Context, limit: int) -> None:
    """Afficher le journal : connexions, comptes, modifications (les plus récentes d'abord)."""
    rows = audit.entries(_store(ctx), limit)
    for e in rows:
        local = e.at.astimezone(PARIS)
        where = " ".join(x for x in (e.centre or "", e.file) if x)
        change = f" : {e.change}" if e.change else ""
        click.echo(f"{long_date(local.date())} {local:%H:%M:%S} {e.who} {e.label}"
                   + (f" [{where}]" if where else "") + change)
    if not rows:
        click.echo("Le journal est vide.")
