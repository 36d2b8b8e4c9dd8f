"""The store (SQLAlchemy): learners, feed token hashes and the reminder delivery table.

A SQLite file by default, any SQLAlchemy URL otherwise (PostgreSQL through ``postgresql+psycopg://``).
The schema is managed by the Alembic revisions in ``cnam_calendar/store/migrations``, applied by ``open_store``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from cnam_calendar.messages import ngettext
from cnam_calendar.rules.errors import StoreConflict, StoreError
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.errors import conflict, describe, disk_full, first_line
from cnam_calendar.store.links import derive_token, new_nonce
from cnam_calendar.store.lookup import Lookup

DEFAULT_DB = "cnam-calendar.db"
MIGRATIONS = Path(__file__).with_name("migrations")
TOKEN_BYTES = 32  # 256 random bits, 43 URL-safe characters
WRITE_CHUNK = 2000  # rows per executemany: large enough to amortise, small enough for progress
IMPORT_TRIES = 3  # an import that meets a simultaneous one (duplicate key) is run again, at most this often
READ_CHUNK = 500  # ids per IN (…): below every backend's limit on bound parameters
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_PG_MIGRATION_LOCK = 0x636E616D  # "cnam": serialises concurrent upgrades of one PostgreSQL database


class UtcDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and read them back aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one (UTC)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# Mirrors migrations/versions; tests/contract/test_store.py checks that the two never drift apart.
metadata = MetaData()

learners_table = Table(
    "learners", metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("centre", String(64), nullable=False, index=True),
    Column("department", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("ues", Text(), nullable=False, server_default=""),  # codes joined by ';'
    Column("dossier_received", Date(), nullable=True),
    Column("cpf_validated", Date(), nullable=True),
    Column("training_start", Date(), nullable=True),
    Column("lang", String(2), nullable=False, server_default="fr"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("opt_out", Boolean(), nullable=False, server_default=false()),  # 0002: no reminder e-mails
    Column("mail_preference", String(8), nullable=False, server_default="each"),  # 0003: each | weekly
)

feed_tokens_table = Table(
    "feed_tokens", metadata,
    # One row per learner: issuing a token replaces the previous one.
    Column("learner_id", String(64), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex; the token is never stored
    Column("created_at", UtcDateTime(), nullable=False),
    Column("link_nonce", String(32), nullable=True),  # 0008: the token derives from it and the link key (links.py)
)

settings_table = Table(
    "store_settings", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)

# One row per reminder to send (issue 5): a unique key makes "never twice" a constraint, the lease
# lets several daemons share the work and pick up what a crashed one left.
reminder_deliveries_table = Table(
    "reminder_deliveries", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False, unique=True),
    Column("learner_id", String(64), ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("event_uid", String(255), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("last_error", Text(), nullable=True),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("offset_days", Integer(), nullable=True),  # 0002
    Column("payload", Text(), nullable=True),  # 0002: JSON, what the e-mail needs
    Index("ix_reminder_deliveries_status_due_at", "status", "due_at"),
    Index("ix_reminder_deliveries_learner_event", "learner_id", "event_uid"),  # 0002
)

# What each learner was last told of their dated events (0004): the change notices' baseline.
notice_baselines_table = Table(
    "notice_baselines", metadata,
    Column("learner_id", String(64), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(64), nullable=False),  # rules.notices.digest of the snapshot
    Column("snapshot", Text(), nullable=False),  # JSON {uid: [start, end, hours, title, title_en, kind]}
    Column("updated_at", UtcDateTime(), nullable=False),
)


# 0005: one row per reminder daemon, its last dispatch (store/health.py, `reminders status`).
daemon_heartbeats_table = Table(
    "daemon_heartbeats", metadata,
    Column("owner", String(128), primary_key=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("last_dispatch_at", UtcDateTime(), nullable=True),
    Column("dispatch_every", Float(), nullable=False),
    Column("relay_down_since", UtcDateTime(), nullable=True),
    Column("relay_error", Text(), nullable=True),
    Column("stopped_at", UtcDateTime(), nullable=True),
)

# 0007: the staff console (store/staff.py, store/audit.py).
staff_accounts_table = Table(
    "staff_accounts", metadata,
    Column("email", String(254), primary_key=True),
    Column("password_hash", Text(), nullable=True),  # argon2; NULL: signs in through the trusted proxy only
    Column("generation", Integer(), nullable=False, server_default="1"),  # a reset ends the open sessions
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

staff_roles_table = Table(
    "staff_roles", metadata,
    Column("email", String(254), ForeignKey("staff_accounts.email", ondelete="CASCADE"), primary_key=True),
    Column("centre", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # editor | viewer
)

staff_sign_in_failures_table = Table(
    "staff_sign_in_failures", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # "account:EMAIL" or "address:IP"
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_staff_sign_in_failures_key_at", "key", "at"),
)

audit_log_table = Table(
    "audit_log", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("who", String(254), nullable=False),
    Column("centre", String(64), nullable=True),  # whose journal it is part of (None: the person's own)
    Column("action", String(64), nullable=False),
    Column("file", Text(), nullable=False, server_default=""),
    Column("before", Text(), nullable=True),
    Column("after", Text(), nullable=True),
    Index("ix_audit_log_at", "at"),
)

LEARNER_FIELDS = ("email", "first_name", "last_name", "centre", "department", "status", "ues",
                   "dossier_received", "cpf_validated", "training_start", "lang")
_LEARNER_COLUMNS = [learners_table.c.id, *(learners_table.c[name] for name in LEARNER_FIELDS)]


_BY_TOKEN_HASH = (select(*_LEARNER_COLUMNS, learners_table.c.updated_at, feed_tokens_table.c.token_hash)
                  .join(feed_tokens_table, feed_tokens_table.c.learner_id == learners_table.c.id)
                  .where(feed_tokens_table.c.token_hash == bindparam("digest")))


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    created: int
    updated: int
    unchanged: int
    dry_run: bool = False

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_token() -> str:
    """Return a fresh secret feed token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def db_url(value: str) -> str:
    """Return a SQLAlchemy URL for ``value``: a URL as is, a file path as a SQLite URL."""
    if "://" in value:
        return value
    try:
        path = Path(value).expanduser().resolve()
    except (RuntimeError, OSError, ValueError) as exc:  # "~nobody": no such home directory
        raise StoreError(f"chemin de base invalide ({exc})", where=value,
                         hint="attendu : un fichier SQLite, ex. cnam-calendar.db, ou une URL SQLAlchemy") from None
    return f"sqlite:///{path}"


def learner_values(learner: Learner) -> tuple[Any, ...]:
    """Return the column values of ``learner``, in LEARNER_FIELDS order (ues joined by ';')."""
    return (learner.email, learner.first_name, learner.last_name, learner.centre, learner.department,
            learner.status, ";".join(learner.ues), learner.dossier_received, learner.cpf_validated,
            learner.training_start, learner.lang)


def _learner(row: Any) -> Learner:
    return Learner(row.id, row.email, row.first_name, row.last_name, row.centre, row.department, row.status,
                   tuple(code for code in row.ues.split(";") if code), row.dossier_received, row.cpf_validated,
                   row.training_start, row.lang)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class Store:
    """Learners, their feed tokens and reminder deliveries in one database."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now, link_key: bytes | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.link_key = link_key  # tokens derived (store/links.py): the daemon can recompute page links
        self._key_secret: bytes | None = None
        self._by_token = Lookup(engine, _BY_TOKEN_HASH)
        # SQLite has one writer at a time and makes the others wait in steps of milliseconds: the
        # threads of one process (the daemon's lanes and its claims) queue here instead.
        self._write_turn = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @property
    def local(self) -> bool:
        """Tell whether the store is a SQLite file: a read then costs less than handing it to a thread."""
        return self.engine.dialect.name == "sqlite"

    @property
    def url(self) -> str:
        """Return the database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:  # the driver's own: raw connections
            raise describe(action, exc, where=self.url, file=_sqlite_file(self.engine)) from None

    def end_idle_transactions_after(self, seconds: float) -> None:
        """On PostgreSQL, have the server end any transaction of this store left idle over SECONDS.

        A daemon frozen (SIGSTOP, a suspended VM) in the middle of a claim holds the rows it locked
        ``FOR UPDATE``, which the other daemons then skip: with this, the server ends that session
        after SECONDS (the lease), the locks go with it and the others take the rows. The frozen
        daemon, if it wakes up, finds its connection closed and opens another.
        """
        if self.engine.dialect.name != "postgresql":
            return
        timeout_ms = max(1, int(seconds * 1000))

        @event.listens_for(self.engine, "connect")
        def _limit(dbapi_conn: Any, record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
            cursor.close()
            dbapi_conn.commit()

        self.engine.dispose()  # the connections already open are replaced by ones that have it

    def checkpoint(self) -> None:
        """On SQLite, copy the write-ahead log into the database now (PASSIVE: writers go on meanwhile).

        SQLite otherwise does it in whichever commit finds the log past 1,000 pages, and that commit
        (and the writers waiting for their turn) waits for it: the daemon calls this between batches
        and after planning, off its lanes' way, so that the log stays short and a lane's mark seldom
        finds one to do.
        """
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return
        with self._errors("point de reprise du journal"):
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            finally:
                raw.close()

    def write_turn(self) -> AbstractContextManager[Any]:
        """Return the guard a write transaction holds: on SQLite, one thread of this process at a time."""
        return self._write_turn

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        """Open one write transaction (on SQLite, take the write lock at once: no upgrade deadlock)."""
        with self._errors(action), self._write_turn, self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    # Learners

    def import_learners(self, learners: Sequence[Learner], *, dry_run: bool = False,
                        progress: Callable[[int], None] | None = None) -> ImportReport:
        """Create or update ``learners`` in one transaction; learners absent from the list are kept."""
        ids = [learner.id for learner in learners]
        if len(set(ids)) != len(ids):
            dup = next(i for i, n in Counter(ids).items() if n > 1)
            raise StoreError(f"identifiant « {dup} » en double dans l'import", hint="un identifiant par apprenant")
        for attempt in range(1, IMPORT_TRIES + 1):
            done = 0

            def report(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(n)

            try:
                return self._import_once(learners, ids, dry_run, report)
            except StoreConflict:
                # a simultaneous import inserted some of the same learners first (duplicate key on
                # PostgreSQL): rolled back whole, so run again, reading what the other one wrote
                if attempt == IMPORT_TRIES:
                    raise
                if progress is not None and done:
                    progress(-done)
        raise AssertionError("unreachable")

    def _import_once(self, learners: Sequence[Learner], ids: list[str], dry_run: bool,
                     report: Callable[[int], None]) -> ImportReport:
        with self._write("import des apprenants") as conn:
            existing: dict[str, tuple[Any, ...]] = {}
            stored = int(conn.scalar(select(func.count()).select_from(learners_table)) or 0)
            if stored and stored <= 2 * len(ids):  # most of the table: one scan beats many IN (…) queries
                wanted = set(ids)
                rows = conn.execute(select(*_LEARNER_COLUMNS))
                existing.update((row[0], tuple(row[1:])) for row in rows if row[0] in wanted)
            elif stored:
                for chunk in _chunks(ids, READ_CHUNK):
                    rows = conn.execute(select(*_LEARNER_COLUMNS).where(learners_table.c.id.in_(chunk)))
                    existing.update((row[0], tuple(row[1:])) for row in rows)
            now = self.clock()
            created: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for learner in learners:
                values = learner_values(learner)
                before = existing.get(learner.id)
                if before == values:
                    continue
                row = dict(zip(LEARNER_FIELDS, values, strict=True), updated_at=now)
                if before is None:
                    created.append(dict(row, id=learner.id, created_at=now))
                else:
                    changed.append(dict(row, b_id=learner.id))
            unchanged = len(learners) - len(created) - len(changed)
            report(unchanged)
            if dry_run:
                report(len(created) + len(changed))
                conn.rollback()
                return ImportReport(len(created), len(changed), unchanged, dry_run=True)
            for chunk in _chunks(created, WRITE_CHUNK):
                conn.execute(insert(learners_table), chunk)
                report(len(chunk))
            if changed:
                stmt = update(learners_table).where(learners_table.c.id == bindparam("b_id"))
                for chunk in _chunks(changed, WRITE_CHUNK):
                    conn.execute(stmt, chunk)
                    report(len(chunk))
        return ImportReport(len(created), len(changed), unchanged)

    def get_learner(self, learner_id: str) -> Learner | None:
        """Return the learner with this id, or None."""
        with self._errors("lecture d'un apprenant"), self.engine.connect() as conn:
            row = conn.execute(select(*_LEARNER_COLUMNS).where(learners_table.c.id == learner_id)).first()
        return _learner(row) if row else None

    def learners(self, centre: str | None = None) -> list[Learner]:
        """Return every learner (of ``centre`` when given), by id."""
        stmt = select(*_LEARNER_COLUMNS).order_by(learners_table.c.id)
        if centre is not None:
            stmt = stmt.where(learners_table.c.centre == centre)
        with self._errors("lecture des apprenants"), self.engine.connect() as conn:
            return [_learner(row) for row in conn.execute(stmt)]

    def count_learners(self) -> int:
        """Return how many learners the store holds."""
        with self._errors("comptage des apprenants"), self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(learners_table)) or 0)

    # Feed tokens

    def issue_token(self, learner_id: str) -> str:
        """Return a new feed token for ``learner_id``; the previous one stops working."""
        with self._write("création du jeton") as conn:
            if conn.execute(select(learners_table.c.id).where(learners_table.c.id == learner_id)).first() is None:
                raise StoreError(f"apprenant inconnu « {learner_id} »", where=self.url,
                                 hint="importez-le d'abord : cnam-calendar learners import FICHIER.csv")
            token, row = self.token_row(learner_id, self.clock())
            conn.execute(delete(feed_tokens_table).where(feed_tokens_table.c.learner_id == learner_id))
            conn.execute(insert(feed_tokens_table), row)
        return token

    def token_row(self, learner_id: str, now: datetime) -> tuple[str, dict[str, Any]]:
        """Return a new token for ``learner_id`` and its ``feed_tokens`` row (derived when there is a link key)."""
        if self.link_key is None:
            token, nonce = new_token(), None
        else:
            nonce = new_nonce()
            token = derive_token(self.link_key, learner_id, nonce)
        return token, {"learner_id": learner_id, "token_hash": hash_token(token), "created_at": now,
                       "link_nonce": nonce}

    def page_tokens(self, learner_ids: Iterable[str]) -> dict[str, str]:
        """Return {learner id: current token} for those of ``learner_ids`` whose token derives from the link key.

        Empty without a key. A token drawn at random, or derived under another key (the key file was
        replaced), is left out: its link cannot be recomputed, and a wrong one is never sent.
        """
        if self.link_key is None:
            return {}
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(learner_ids))
        t = feed_tokens_table.c
        with self._errors("lecture des jetons"), self.engine.connect() as conn:
            for chunk in _chunks(wanted, READ_CHUNK):
                found.update(self.recomputed(conn.execute(select(t.learner_id, t.token_hash, t.link_nonce).where(
                    t.learner_id.in_(chunk), t.link_nonce.is_not(None)))))
        return found

    def recomputed(self, rows: Iterable[Any]) -> dict[str, str]:
        """Return {learner id: token} for the ``feed_tokens`` rows (learner_id, token_hash, link_nonce) whose
        token the link key gives back; the others (drawn at random, another key) are left out."""
        found: dict[str, str] = {}
        if self.link_key is None:
            return found
        for row in rows:
            if row.link_nonce is None:
                continue
            token = derive_token(self.link_key, row.learner_id, row.link_nonce)
            if hmac.compare_digest(hash_token(token), row.token_hash):
                found[row.learner_id] = token
        return found

    def issue_tokens(self, learner_ids: Iterable[str] | None = None,
                     progress: Callable[[int], None] | None = None) -> list[tuple[Learner, str]]:
        """Return a new token for each learner (all when ``learner_ids`` is None), in one transaction."""
        wanted = None if learner_ids is None else list(dict.fromkeys(learner_ids))
        with self._write("création des jetons") as conn:
            stmt = select(*_LEARNER_COLUMNS).order_by(learners_table.c.id)
            if wanted is None:
                found = [_learner(row) for row in conn.execute(stmt)]
            else:
                by_id: dict[str, Learner] = {}
                for chunk in _chunks(wanted, READ_CHUNK):
                    by_id.update((r.id, _learner(r)) for r in conn.execute(stmt.where(learners_table.c.id.in_(chunk))))
                missing = [i for i in wanted if i not in by_id]
                if missing:
                    ids = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
                    raise StoreError(ngettext("fr", "apprenant inconnu : %(ids)s", "apprenants inconnus : %(ids)s",
                                              len(missing), ids=ids), where=self.url,
                                     hint="importez-les d'abord : cnam-calendar learners import FICHIER.csv")
                found = [by_id[i] for i in wanted]
            now = self.clock()
            made = [self.token_row(learner.id, now) for learner in found]
            pairs = [(learner, token) for learner, (token, _) in zip(found, made, strict=True)]
            if wanted is None:
                conn.execute(delete(feed_tokens_table))
            else:
                for chunk in _chunks(wanted, READ_CHUNK):
                    conn.execute(delete(feed_tokens_table).where(feed_tokens_table.c.learner_id.in_(chunk)))
            for chunk in _chunks(made, WRITE_CHUNK):
                conn.execute(insert(feed_tokens_table), [row for _, row in chunk])
                if progress:
                    progress(len(chunk))
        return pairs

    def learner_for_token(self, token: str) -> Learner | None:
        """Return the learner whose current feed token is ``token``, or None."""
        found = self.feed_learner(token)
        return found[0] if found else None

    def feed_learner(self, token: str) -> tuple[Learner, datetime] | None:
        """Return the learner whose current feed token is ``token`` and when their row last changed, or None.

        One indexed query (the token's hash is unique): what a personal feed request checks every time.
        """
        if not _TOKEN_SHAPE.fullmatch(token):
            return None
        digest = hash_token(token)
        # The lookup is by hash: a guess's timing tells nothing about a real token, whose hash
        # the attacker cannot steer; compare_digest keeps the final comparison constant-time too.
        with self._errors("lecture du jeton"):
            row = self._by_token.first(digest=digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return _learner(row), row.updated_at

    def changed_at(self, learner_id: str) -> datetime | None:
        """Return when the learner's row last changed (the stamp of their personal events)."""
        with self._errors("lecture d'un apprenant"), self.engine.connect() as conn:
            return conn.scalar(select(learners_table.c.updated_at).where(learners_table.c.id == learner_id))

    def changed_at_all(self) -> dict[str, datetime]:
        """Return {learner id: last change} for every learner, in one query."""
        with self._errors("lecture des apprenants"), self.engine.connect() as conn:
            rows = conn.execute(select(learners_table.c.id, learners_table.c.updated_at))
            return {row.id: row.updated_at for row in rows}

    def learner_key(self, learner_id: str) -> str:
        """Return the opaque, stable key of a learner for feed UIDs (HMAC-SHA256 of the id, 128 bits)."""
        if self._key_secret is None:
            with self._errors("lecture de la clé"), self.engine.connect() as conn:
                value = conn.scalar(select(settings_table.c.value).where(settings_table.c.name == "learner_key_secret"))
            if value is None:
                raise StoreError("clé des apprenants absente de la base", where=self.url,
                                 hint="la base n'a pas été créée par cnam-calendar ; utilisez une base neuve")
            self._key_secret = value.encode("ascii")
        return hmac.new(self._key_secret, learner_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _sqlite_file(engine: Engine) -> str | None:
    """Return the SQLite file of ENGINE (None for a server or an in-memory database)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return str(Path(database).expanduser())


def _sqlite_setup(engine: Engine) -> None:
    """Make pysqlite transactional: foreign keys, WAL, and BEGIN emitted by us (DDL included)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN comes late and skips DDL
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``, or raise StoreError saying what is wrong with it."""
    try:
        parsed = make_url(url)
        sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
        parent = Path(parsed.database).expanduser().parent if sqlite_file else None
    except (ArgumentError, ValueError, RuntimeError):  # a port that is not a number, "~nobody"
        raise StoreError(f"adresse de base invalide « {url} »", hint="attendu : un fichier .db ou une URL "
                         "SQLAlchemy, ex. postgresql+psycopg://utilisateur@hôte:5432/base") from None
    shown = parsed.render_as_string(hide_password=True)
    if parent is not None:
        if not parent.is_dir():
            raise StoreError("dossier de la base introuvable", where=str(parent),
                             hint="créez-le ou indiquez un autre fichier avec --db")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_setup(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise StoreError(f"type de base non pris en charge « {parsed.drivername} »", where=shown,
                         hint="attendu : sqlite:///fichier.db ou postgresql+psycopg://…") from None
    except (ImportError, ArgumentError) as exc:
        raise StoreError(f"pilote de base indisponible : {exc}", where=shown,
                         hint="installez-le, ex. pip install 'psycopg[binary]'") from None
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _sqlite_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL (persistent): readers, such as serve workers, never wait for a writer."""
    if engine.url.database in (None, "", ":memory:"):
        return
    for attempt in range(100):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode")
            if (cursor.fetchone() or ("",))[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
            return
        except sqlite3.OperationalError as exc:
            # Changing the journal mode does not wait on the busy timeout: retry while another opener does it.
            if "locked" not in str(exc) or attempt == 99:
                raise OperationalError("PRAGMA journal_mode=WAL", None, exc) from None
            time.sleep(0.02)
        finally:
            raw.close()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` in one transaction, one process at a time."""
    shown = engine.url.render_as_string(hide_password=True)
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_wal(engine)
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
                command.upgrade(alembic_config(conn), revision)
    except CommandError as exc:
        raise StoreError(f"schéma de base inconnu ({exc})", where=shown,
                         hint="la base vient sans doute d'une version plus récente de cnam-calendar ; mettez-le à jour"
                         ) from None
    except (SQLAlchemyError, sqlite3.Error) as exc:
        file = _sqlite_file(engine)
        if disk_full(exc, file) or conflict(exc):
            raise describe("ouverture de la base", exc, where=shown, file=file) from None
        path = Path(engine.url.database or "") if engine.dialect.name == "sqlite" else None
        what = ("c'est un dossier" if path and path.is_dir() else
                "ce fichier n'est pas une base SQLite" if isinstance(exc, sqlite3.DatabaseError) and path and
                path.is_file() else f"base inaccessible : {first_line(exc)}")
        raise StoreError(what, where=shown,
                         hint="attendu : un fichier SQLite (créé s'il n'existe pas) ou une URL, ex. "
                         "postgresql+psycopg://hôte/base ; vérifiez l'adresse (--db, CNAM_CALENDAR_DB) "
                         "et que le serveur répond") from None


def open_store(url: str, *, clock: Callable[[], datetime] = _utc_now, migrate: bool = True,
               link_key: bytes | None = None) -> Store:
    """Open the store at ``url`` (a SQLAlchemy URL or a file path), bringing its schema up to date.

    ``link_key`` (store/links.py): feed tokens are then derived, and ``page_tokens`` gives them back.
    """
    engine = make_engine(db_url(url))
    if migrate:
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
    return Store(engine, clock, link_key)


__all__ = [
    "DEFAULT_DB", "LEARNER_FIELDS", "ImportReport", "Store", "db_url", "learner_values", "hash_token", "learners_table",
    "feed_tokens_table", "make_engine", "metadata", "new_token", "open_store", "reminder_deliveries_table",
    "settings_table", "upgrade",
]
