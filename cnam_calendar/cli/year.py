"""`cnam-calendar year new`: add the table of a new academic year to a centre file."""

from __future__ import annotations

from pathlib import Path

import click

from cnam_calendar.cli.types import PUBLISHED_YEAR
from cnam_calendar.files import atomic_write
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.year_table import add_year
from cnam_calendar.rules.closures import default_closures
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.service import schedule
from cnam_calendar.text.i18n import long_date


@click.group(name="year", subcommand_metavar="COMMANDE [ARGS]...")
def year() -> None:
    """Préparer les années universitaires d'un centre (tables [years.AAAA])."""


@year.command(name="new")
@click.option("--centre", required=True, metavar="ID", help="Identifiant du centre, ex. ipst-cnam.")
@click.option("--year", "academic", required=True, type=PUBLISHED_YEAR,
              help="Année universitaire à ajouter, ex. 2029 pour 2029-2030.")
@click.pass_context
def new(ctx: click.Context, centre: str, academic: int) -> None:
    """Ajouter la table [years.AAAA] au fichier du centre, avec ses fermetures par défaut.

    Le reste du fichier (commentaires, ordre, mise en page) n'est pas touché ; la commande refuse
    une année qui a déjà sa table.
    """
    obj = ctx.find_root().obj
    c = load_centres(obj["calendars"], (centre,))[0]  # a file the commands refuse is refused here too
    path = Path(c.path)
    if academic in c.years:
        raise ConfigError(f"la table [years.{academic}] existe déjà", where=str(path),
                          hint="modifiez-la dans le fichier, ou choisissez une autre année")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"lecture impossible : {exc}", where=str(path)) from None
    closures = default_closures(academic)
    rule_start = schedule(c, academic).get("semester-1")
    assert rule_start is not None  # the engine always derives semester 1
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")  # a Windows file stays one
    updated = add_year(text.replace("\r\n", "\n") if crlf else text, str(path), academic, closures,
                       rule_start.start)
    atomic_write(path, (updated.replace("\n", "\r\n") if crlf else updated).encode("utf-8"))
    click.echo(f"ajouté [years.{academic}] à {path} ({academic}-{academic + 1})")
    for closure in closures:
        click.echo(f"  fermeture « {closure.label} » ({closure.id}) : du {long_date(closure.start)} "
                   f"au {long_date(closure.end)}")
    click.echo(f"Ensuite : relisez la table (exemple de dérogation en commentaire), puis "
               f"cnam-calendar check --centre {c.id} et cnam-calendar diff --centre {c.id} --year {academic}")
