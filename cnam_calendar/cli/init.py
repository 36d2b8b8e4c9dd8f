"""`cnam-calendar init`: create the store (or bring an existing one's schema up to date), explicitly."""

from __future__ import annotations

import click
from sqlalchemy import text

from cnam_calendar.store.database import DEFAULT_DB, open_store
from cnam_calendar.store.presence import store_exists


@click.command(name="init")
@click.option("--db", envvar="CNAM_CALENDAR_DB", default=DEFAULT_DB, show_default=True, metavar="FICHIER|URL",
              help="Base à créer : un fichier SQLite ou une URL SQLAlchemy, ex. postgresql+psycopg://hôte/base "
                   "(variable CNAM_CALENDAR_DB).")
def init(db: str) -> None:
    """Créer la base (apprenants, jetons, rappels) ou mettre son schéma à jour."""
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
