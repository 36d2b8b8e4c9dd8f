"""Tell whether a store was ever created, without creating it (opening a SQLite file creates it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.store.database import db_url, make_engine

WAY_OUT = ("créez-la : cnam-calendar init, ou importez les apprenants : cnam-calendar learners import FICHIER.csv ; "
           "ou indiquez la bonne base : --db, CNAM_CALENDAR_DB ou store dans cnam-calendar.toml")


def store_exists(value: str) -> bool:
    """Tell whether the store VALUE (a file path or a URL) exists: the SQLite file, or the schema's tables.

    A server that cannot be reached counts as existing: opening it then says what is wrong.
    """
    url = db_url(value)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return True  # open_store names the bad URL
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        return database in (None, "", ":memory:") or Path(database).expanduser().exists()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version") or inspect(conn).has_table("learners")
    except SQLAlchemyError:
        return True
    finally:
        engine.dispose()


def require_store(value: str) -> None:
    """Raise StoreError, with the way out, when the store VALUE was never created."""
    if not store_exists(value):
        shown = make_url(db_url(value)).render_as_string(hide_password=True)
        raise StoreError("base introuvable : elle n'a pas encore été créée", where=shown, hint=WAY_OUT)
