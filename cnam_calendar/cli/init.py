"""`cnam-calendar init`: create the store (or bring an existing one's schema up to date), and the link key."""

from __future__ import annotations

import click
from sqlalchemy import text

from cnam_calendar.cli.learners import link_key_file, link_key_option
from cnam_calendar.store.database import DEFAULT_DB, open_store
from cnam_calendar.store.links import create_key, read_key
from cnam_calendar.store.presence import store_exists


@click.command(name="init")
@click.option("--db", envvar="CNAM_CALENDAR_DB", default=DEFAULT_DB, show_default=True, metavar="FICHIER|URL",
              help="Base à créer : un fichier SQLite ou une URL SQLAlchemy, ex. postgresql+psycopg://hôte/base "
                   "(variable CNAM_CALENDAR_DB).")
@link_key_option
@click.pass_context
def init(ctx: click.Context, db: str) -> None:
    """Créer la base (apprenants, jetons, rappels) ou mettre son schéma à jour, et la clé des liens."""
    key_file = link_key_file(ctx, db)
    read_key(key_file)  # an existing file that is not a key: refused before anything is created
    existed = store_exists(db)
    store = open_store(db)
    try:
        with store.engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        store.close()
    if existed:
        click.echo(f"base existante : {store.url} ; schéma à jour (révision {revision})")
    else:
        click.echo(f"base créée : {store.url} (révision {revision}) ; ensuite : cnam-calendar learners import "
                   "FICHIER.csv")
    if key_file is None:
        click.echo("clé des liens : aucune (base sur un serveur) ; pour le lien de la page dans chaque e-mail, "
                   "donnez son fichier : [links] key_file, --link-key-file ou CNAM_CALENDAR_LINK_KEY_FILE, "
                   "puis relancez cnam-calendar init")
    elif create_key(key_file):
        click.echo(f"clé des liens créée : {key_file} (lisible du seul propriétaire) ; gardez-la avec la base : "
                   "les e-mails en tirent le lien de la page de chaque apprenant")
    else:
        click.echo(f"clé des liens : {key_file} (existante, gardée)")
