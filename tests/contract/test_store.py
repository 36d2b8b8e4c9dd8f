"""The store contract, run on a SQLite file and on the PostgreSQL server of 127.0.0.1:5432.

PostgreSQL tests skip (with the reason) when the server does not answer, except in CI (any
non-empty ``CI``), where they fail: CI must prove the PostgreSQL path. Each test gets its own
schema, dropped after.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.rules.model import Learner
from cnam_calendar.store import database as store_mod
from cnam_calendar.store.database import (
    Store,
    alembic_config,
    feed_tokens_table,
    hash_token,
    learners_table,
    open_store,
    reminder_deliveries_table,
    upgrade,
)
from tests.support.ci import skip_or_fail

PG_URL = os.environ.get("CNAM_CALENDAR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _pg_unreachable() -> str | None:
    """Return why PostgreSQL cannot be used, or None when it answers."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg absent ({exc})"
    try:
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    reason = _pg_unreachable()
    if reason:
        message = f"PostgreSQL injoignable à {PG_URL} ({reason})"
        skip_or_fail(message + " ; lancez le serveur (en CI, un échec)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url, clock=lambda: NOW)
    yield s
    s.close()


def learner(n: int, **changes: object) -> Learner:
    base = Learner(f"2026-{n:05d}", f"l{n}@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf",
                   ("NFA001", "GDN100"), date(2026, 9, 10), date(2026, 9, 2), None, "fr")
    return replace(base, **changes)  # type: ignore[arg-type]


def many(count: int) -> list[Learner]:
    return [learner(n) for n in range(count)]


# Schema


def test_open_store_brings_the_schema_to_head_and_reopening_is_harmless(db_url):
    for _ in range(2):
        s = open_store(db_url)
        with s.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == ScriptDirectory.from_config(alembic_config()).get_current_head()
        s.close()


def test_tables_match_the_migrations(store):
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), store_mod.metadata)
    assert [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "alembic_version")] == []


def test_migrations_go_down_and_up_again(db_url):
    s = open_store(db_url)
    s.import_learners([learner(1)])
    with s.engine.connect() as conn, conn.begin():
        from alembic import command

        command.downgrade(alembic_config(conn), "base")
    upgrade(s.engine)
    assert s.count_learners() == 0
    s.close()


def test_concurrent_opens_of_a_new_database_all_succeed(db_url):
    failures: list[BaseException] = []

    def open_close() -> None:
        try:
            open_store(db_url).close()
        except BaseException as exc:  # collected, asserted below
            failures.append(exc)

    threads = [threading.Thread(target=open_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_unreachable_database_is_a_store_error():
    with pytest.raises(StoreError, match="base inaccessible"):
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:9/none?connect_timeout=2")
    assert "secret" not in str(info.value)


def test_bad_urls_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="type de base non pris en charge"):
        open_store("nosuchdb://x/y")
    with pytest.raises(StoreError, match="dossier de la base introuvable"):
        open_store(str(tmp_path / "absent" / "x.db"))


# Import


def test_import_creates_then_changes_nothing(store):
    learners = many(10)
    assert store.import_learners(learners) == store_mod.ImportReport(10, 0, 0)
    assert store.import_learners(learners) == store_mod.ImportReport(0, 0, 10)
    assert store.learners() == learners
    assert store.get_learner(learners[3].id) == learners[3]
    assert store.get_learner("absent") is None


def test_an_updated_row_updates_the_learner(db_url):
    times = iter([NOW, NOW + timedelta(days=1)])
    s = open_store(db_url, clock=lambda: next(times))
    s.import_learners(many(5))
    changed = [*many(5)[:2], learner(2, email="new@example.org", ues=("NFA002",), cpf_validated=None),
               *many(5)[3:]]
    assert s.import_learners(changed) == store_mod.ImportReport(0, 1, 4)
    assert s.get_learner(learner(2).id) == changed[2]
    with s.engine.connect() as conn:
        rows = dict(conn.execute(select(learners_table.c.id, learners_table.c.updated_at)).all())
    assert rows[learner(2).id] == NOW + timedelta(days=1)  # aware UTC on every backend
    assert rows[learner(1).id] == NOW
    s.close()


def test_learners_absent_from_a_new_file_are_kept(store):
    store.import_learners(many(3))
    assert store.import_learners([learner(5)]) == store_mod.ImportReport(1, 0, 0)
    assert store.count_learners() == 4


def test_dry_run_counts_without_writing(store):
    store.import_learners(many(3))
    report = store.import_learners([learner(0, lang="en"), learner(1), learner(9)], dry_run=True)
    assert report == store_mod.ImportReport(1, 1, 1, dry_run=True)
    assert store.learners() == many(3)


def test_an_import_that_fails_half_way_leaves_nothing(store):
    store.import_learners([learner(0, lang="en")])
    big = many(store_mod.WRITE_CHUNK + 500)  # two insert chunks and one update
    done: list[int] = []

    def progress(n: int) -> None:
        done.append(n)
        if len(done) == 3:  # unchanged count, first chunk written, then the failure
            raise RuntimeError("crash mid-import")

    with pytest.raises(RuntimeError):
        store.import_learners(big, progress=progress)
    assert store.learners() == [learner(0, lang="en")]
    assert store.import_learners(big) == store_mod.ImportReport(len(big) - 1, 1, 0)


def test_duplicate_ids_in_one_import_are_refused(store):
    with pytest.raises(StoreError, match="en double"):
        store.import_learners([learner(1), learner(1)])
    assert store.count_learners() == 0


def test_large_import_round_trips(store):
    learners = many(5000)
    assert store.import_learners(learners).created == 5000
    assert store.import_learners(learners).unchanged == 5000
    assert store.learners() == learners
    assert len(store.learners(centre="ipst-cnam")) == 5000 and store.learners(centre="other") == []


# Tokens


def test_token_finds_its_learner_and_only_its_hash_is_stored(store):
    store.import_learners(many(2))
    token = store.issue_token(learner(1).id)
    assert len(token) >= 32 and token.replace("-", "").replace("_", "").isalnum()  # >= 192 bits, URL-safe
    assert store.learner_for_token(token) == learner(1)
    with store.engine.connect() as conn:
        rows = conn.execute(select(feed_tokens_table)).all()
    assert [(r.learner_id, r.token_hash) for r in rows] == [(learner(1).id, hash_token(token))]
    assert all(token not in str(value) for r in rows for value in r)


def test_a_new_token_invalidates_the_previous_one(store):
    store.import_learners(many(2))
    old = store.issue_token(learner(0).id)
    other = store.issue_token(learner(1).id)
    new = store.issue_token(learner(0).id)
    assert new != old
    assert store.learner_for_token(old) is None
    assert store.learner_for_token(new) == learner(0)
    assert store.learner_for_token(other) == learner(1)


@pytest.mark.parametrize("token", ["", "x", "a" * 43, "a" * 500, "../../etc/passwd", "é" * 43, "a b" * 20])
def test_unknown_or_malformed_tokens_find_nobody(store, token):
    store.import_learners(many(1))
    store.issue_token(learner(0).id)
    assert store.learner_for_token(token) is None


def test_token_for_an_unknown_learner_is_a_store_error(store):
    with pytest.raises(StoreError, match="apprenant inconnu « nobody »"):
        store.issue_token("nobody")
    store.import_learners(many(1))
    with pytest.raises(StoreError, match="nobody"):
        store.issue_tokens([learner(0).id, "nobody"])


def test_tokens_for_everyone_replace_all_previous_ones(store):
    store.import_learners(many(30))
    old = store.issue_token(learner(4).id)
    pairs = store.issue_tokens()
    assert [lr for lr, _ in pairs] == many(30)
    assert len({t for _, t in pairs}) == 30
    assert store.learner_for_token(old) is None
    assert all(store.learner_for_token(t) == lr for lr, t in pairs)
    subset = store.issue_tokens([learner(2).id, learner(7).id])
    assert [lr.id for lr, _ in subset] == [learner(2).id, learner(7).id]
    assert store.learner_for_token(dict(pairs)[learner(2)]) is None
    assert store.learner_for_token(dict(pairs)[learner(3)]) == learner(3)


def test_deleting_a_learner_deletes_its_token(store):
    store.import_learners(many(1))
    token = store.issue_token(learner(0).id)
    with store.engine.begin() as conn:
        conn.execute(learners_table.delete())
    assert store.learner_for_token(token) is None


# Learner keys


def test_learner_key_is_opaque_stable_and_distinct(db_url):
    s = open_store(db_url)
    key = s.learner_key("2026-00001")
    assert len(key) == 32 and int(key, 16) >= 0
    assert key == s.learner_key("2026-00001") != s.learner_key("2026-00002")
    assert "2026" not in key and "example" not in key
    s.close()
    again = open_store(db_url)
    assert again.learner_key("2026-00001") == key  # the secret lives in the database
    again.close()


# Reminder deliveries (used by issue 5)


def test_reminder_delivery_keys_are_unique_and_times_come_back_aware(store):
    store.import_learners(many(1))
    paris_summer = timezone(timedelta(hours=2))
    row = {"key": "cpf-confirmation/2026-00000/J-1", "learner_id": learner(0).id,
           "event_uid": "cpf.x@cnam-calendar", "due_at": datetime(2026, 9, 4, 9, 0, tzinfo=paris_summer),
           "expires_at": datetime(2026, 9, 5, tzinfo=timezone.utc)}
    with store.engine.begin() as conn:
        conn.execute(insert(reminder_deliveries_table), row)
    with store.engine.connect() as conn:
        got = conn.execute(select(reminder_deliveries_table)).one()
    assert got.due_at == datetime(2026, 9, 4, 7, 0, tzinfo=timezone.utc) and got.due_at.tzinfo is not None
    assert (got.status, got.attempts, got.lease_owner, got.sent_at) == ("pending", 0, None, None)
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(reminder_deliveries_table), row)


def test_a_daemon_store_has_its_idle_transactions_ended_by_the_server(store):
    # What lets another daemon take the rows a frozen one locked (tests/e2e/test_daemon_crash.py);
    # on SQLite (one daemon per file) it changes nothing.
    store.end_idle_transactions_after(2.5)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "2500ms"
    store.import_learners([learner(1)])
    assert store.count_learners() == 1  # the store still works, on connections opened since
