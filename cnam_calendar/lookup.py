"""A hot read of the store without SQLAlchemy's Connection layer: compiled once, run on a pooled connection."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.exc import DBAPIError


class Lookup:
    """One SELECT by key run on a pooled DBAPI connection, its columns converted by their own types.

    SQLAlchemy compiles it once for the dialect and lends the connection; skipping the Connection layer
    (events, transaction bookkeeping) makes the lookup that every personal-feed request does several
    times cheaper.
    """

    def __init__(self, engine: Engine, stmt: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.engine, self.sql = engine, compiled.string
        self.order = list(compiled.positiontup or ()) if compiled.positional else None
        columns = list(stmt.selected_columns)
        self.row = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
        self.convert = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def first(self, **params: Any) -> Any:
        """Return the first row (attributes named after the columns), or None."""
        args: Any = tuple(params[name] for name in self.order) if self.order is not None else params
        raw = self.engine.raw_connection()
        cursor = None
        try:
            cursor = raw.cursor()
            cursor.execute(self.sql, args)
            values = cursor.fetchone()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            if self.engine.dialect.is_disconnect(exc, raw.dbapi_connection, cursor):
                raw.invalidate(exc)
            raise DBAPIError.instance(self.sql, args, exc, self.engine.dialect.loaded_dbapi.Error) from exc
        finally:
            if cursor is not None:
                cursor.close()
            raw.close()
        if values is None:
            return None
        return self.row(*(f(v) if f else v for f, v in zip(self.convert, values, strict=True)))
