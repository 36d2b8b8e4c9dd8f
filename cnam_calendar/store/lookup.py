"""Hot statements of the store without SQLAlchemy's Connection layer: compiled once, run on a DBAPI connection.

SQLAlchemy compiles each statement once for the dialect and lends the connection; skipping the
Connection layer (events, transaction bookkeeping, pool checkout and reset) makes the lookup that
every personal-feed request does, and the mark the daemon writes after every accepted e-mail,
several times cheaper. Values still go through the columns' own types, both ways.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import Compiled


def connect(engine: Engine) -> Any:
    """Return a pooled DBAPI connection; a failure to open one is raised as SQLAlchemy's error.

    ``engine.raw_connection()`` lets the driver's own errors through (psycopg's or sqlite3's
    OperationalError): converted, the store's handling of database errors applies to them too.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return engine.raw_connection()
    except dbapi_error as exc:
        raise DBAPIError.instance("connect", None, exc, dbapi_error, connection_invalidated=True) from exc


class Prepared:
    """One statement compiled for the engine's dialect: its SQL, the order of its parameters, their converters."""

    def __init__(self, engine: Engine, stmt: Executable) -> None:
        dialect = engine.dialect
        compiled: Compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.engine, self.sql = engine, compiled.string
        if "POSTCOMPILE" in self.sql:  # an IN list of values rendered at each run: not a fixed statement
            raise ValueError(f"statement cannot be prepared once (expanding IN): {self.sql}")
        self.order = list(compiled.positiontup or ()) if compiled.positional else None  # type: ignore[attr-defined]
        binds = compiled.binds  # type: ignore[attr-defined]
        self.convert = {name: f for name, bind in binds.items()
                        if (f := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self.fixed = {name: self._bound(name, value) for name, value in compiled.params.items()
                      if not binds[name].required}  # the statement's own literals

    def _bound(self, name: str, value: Any) -> Any:
        f = self.convert.get(name)
        return f(value) if f is not None and value is not None else value

    def args(self, params: dict[str, Any]) -> Any:
        """Return the DBAPI arguments for ``params`` (the statement's own literals added)."""
        values = {**self.fixed, **{name: self._bound(name, value) for name, value in params.items()}}
        return tuple(values[name] for name in self.order) if self.order is not None else values

    def fail(self, raw: Any, cursor: Any, args: Any, exc: Exception) -> DBAPIError:
        """Return the SQLAlchemy error for a DBAPI one (so the store's messages apply); drop a dead connection."""
        if self.engine.dialect.is_disconnect(exc, raw.dbapi_connection, cursor):
            raw.invalidate(exc)
        return DBAPIError.instance(self.sql, args, exc, self.engine.dialect.loaded_dbapi.Error)


class Lookup(Prepared):
    """One SELECT (or a write with RETURNING) run on a DBAPI connection, its columns converted by their own types."""

    def __init__(self, engine: Engine, stmt: Any) -> None:
        super().__init__(engine, stmt)
        dialect = engine.dialect
        columns = list(stmt.exported_columns)  # a SELECT's columns, or what a write RETURNs
        self.row = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
        self.result = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def rows(self, values: Iterable[Sequence[Any]]) -> list[Any]:
        """Return the DBAPI rows VALUES converted (attributes named after the columns)."""
        make, result = self.row, self.result
        return [make(*(f(v) if f else v for f, v in zip(result, row, strict=True))) for row in values]

    def first(self, **params: Any) -> Any:
        """Return the first row on a pooled connection, or None."""
        found = self._run(params, many=False)
        return found[0] if found else None

    def all(self, **params: Any) -> list[Any]:
        """Return every row on a pooled connection (outside any transaction of ours)."""
        return self._run(params, many=True)

    def _run(self, params: dict[str, Any], *, many: bool) -> list[Any]:
        args = self.args(params)
        raw = connect(self.engine)
        cursor = None
        try:
            cursor = raw.cursor()
            cursor.execute(self.sql, args)
            values = cursor.fetchall() if many else cursor.fetchmany(1)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise self.fail(raw, cursor, args, exc) from exc
        finally:
            if cursor is not None:
                cursor.close()
            raw.close()
        return self.rows(values)


class Run:
    """What ``Writer.transaction`` yields: run prepared statements inside that transaction."""

    def __init__(self, execute: Callable[[Prepared, dict[str, Any], bool], Any]) -> None:
        self._execute = execute

    def __call__(self, prepared: Prepared, **params: Any) -> int:
        """Run PREPARED with PARAMS; return the rows it changed."""
        return int(self._execute(prepared, params, False))

    def rows(self, lookup: Lookup, **params: Any) -> list[Any]:
        """Run LOOKUP (a SELECT, or a write with RETURNING) with PARAMS; return its rows, converted."""
        return lookup.rows(self._execute(lookup, params, True))


class Writer:
    """A DBAPI connection held for many short write transactions of prepared statements (one thread at a time).

    On SQLite each transaction starts with ``BEGIN IMMEDIATE`` (the store's connections leave
    transactions to us); elsewhere the driver opens it. ``close()`` gives the connection back to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else None
        self._raw: Any = None
        self._autocommit = False  # the connection's mode now (a server's, for single statements)

    @contextmanager
    def transaction(self, *, single: bool = False) -> Iterator[Run]:
        """Yield a `Run` (``run(prepared, **params) -> rowcount``, ``run.rows(lookup, **params)``) inside
        one transaction, committed at the end.

        SINGLE says the block runs one statement: on a server it then runs in the driver's
        autocommit mode, one round trip where BEGIN, the statement and COMMIT take three (on
        PostgreSQL a mark takes 0.3 ms instead of 0.7-0.8). On a database error the transaction is
        rolled back, the connection given up (the pool checks it) and SQLAlchemy's error raised,
        so that the store's messages apply.
        """
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        if self._raw is None:
            self._raw = connect(self.engine)
        try:
            self._set_autocommit(single and self._begin is None)
            cursor = self._raw.cursor()
        except dbapi_error as exc:  # the connection died while idle in our hands
            self._abandon(None)
            raise DBAPIError.instance("cursor", None, exc, dbapi_error, connection_invalidated=True) from exc
        raw = self._raw

        def execute(sql: str, args: Any, prepared: Prepared | None = None, fetch: bool = False) -> Any:
            try:
                cursor.execute(sql, args)
                return cursor.fetchall() if fetch else cursor.rowcount or 0
            except dbapi_error as exc:
                error = (prepared.fail(raw, cursor, args, exc) if prepared is not None
                         else DBAPIError.instance(sql, args, exc, dbapi_error))
                self._abandon(cursor)
                raise error from exc

        if self._begin is not None:
            execute(self._begin, ())
        try:
            yield Run(lambda prepared, params, fetch: execute(prepared.sql, prepared.args(params), prepared, fetch))
        except BaseException:
            self._abandon(cursor)
            raise
        try:
            raw.commit()
        except dbapi_error as exc:
            self._abandon(cursor)
            raise DBAPIError.instance("COMMIT", None, exc, dbapi_error) from exc
        cursor.close()

    def _set_autocommit(self, on: bool) -> None:
        if on != self._autocommit:
            dialect, dbapi_connection = self.engine.dialect, self._raw.dbapi_connection
            if on:
                dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            else:
                dialect.reset_isolation_level(dbapi_connection)
            self._autocommit = on

    def _abandon(self, cursor: Any) -> None:
        """Roll back what a failed transaction did and give the connection back (the pool checks it)."""
        self._give_back(cursor, rollback=True)

    def close(self) -> None:
        """Give the connection back to the pool (in the mode the pool lent it)."""
        self._give_back()

    def _give_back(self, cursor: Any = None, *, rollback: bool = False) -> None:
        """Return the connection to the pool as it was lent; one that fails on the way is invalidated (replaced)."""
        if self._raw is None:
            return
        try:
            if self._raw.is_valid:
                if cursor is not None:
                    cursor.close()
                if rollback:
                    self._raw.rollback()
                self._set_autocommit(False)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            self._raw.invalidate(exc)
        finally:
            raw, self._raw, self._autocommit = self._raw, None, False
            raw.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
