"""The store when its database fails under it: a server stopped, a file gone, a full disk, a simultaneous import.

Every failure comes out as the store's own error (`StoreError`), in French, naming the cause a
person can act on; the driver's exceptions (psycopg's, sqlite3's OperationalError) never leak,
on the DBAPI connections of `lookup` (claims, marks, token lookups) as on SQLAlchemy's.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.store.database import LEARNER_FIELDS, learner_values, learners_table, open_store
from cnam_calendar.store.delivery import Marks, acquire_sqlite_daemon_lock, claim_due
from tests.contract.test_store import db_url, many  # noqa: F401  (db_url: the fixture)
from tests.support.daemons import seed_burst
from tests.support.pg_server import own_pg_server
from tests.support.tmpfs import fill, small_tmpfs

NOW = datetime.now(timezone.utc)
LEASE = timedelta(minutes=2)


def test_a_stopped_postgresql_server_gives_store_errors_on_every_dbapi_path():
    with own_pg_server() as pg:
        seed_burst(pg.url, 3, NOW)
        store = open_store(pg.url)
        try:
            [held, *_] = claim_due(store, "me", NOW, LEASE, 1)
            token = store.issue_token("B0000")
            with Marks(store) as marks:
                marks.sent([], "me", NOW)
                pg.stop()
                with pytest.raises(StoreError, match="enregistrement des envois impossible") as sent:
                    marks.sent([held.key], "me", NOW)
            with pytest.raises(StoreError, match="réservation des rappels impossible") as claim:
                claim_due(store, "me", NOW, LEASE, 10)
            with pytest.raises(StoreError, match="lecture du jeton impossible") as lookup:
                store.feed_learner(token)
            for error in (sent, claim, lookup):
                assert "vérifiez que la base est accessible" in str(error.value)
                assert "\n" not in str(error.value)
            pg.start()
            assert store.feed_learner(token) is not None  # a new connection once the server is back
            with Marks(store) as marks:
                assert marks.sent([held.key], "me", NOW) == {held.key}
        finally:
            store.close()


def test_a_sqlite_file_gone_gives_store_errors_on_raw_connections(tmp_path: Path):
    folder = tmp_path / "gone"
    folder.mkdir()
    url = f"sqlite:///{folder / 'store.db'}"
    seed_burst(url, 2, NOW)
    store = open_store(url)
    try:
        store.engine.dispose()  # no connection left open on the file
        shutil.rmtree(folder)
        for call, action in ((store.checkpoint, "point de reprise du journal"),
                             (lambda: claim_due(store, "me", NOW, LEASE, 10), "réservation des rappels"),
                             (lambda: store.feed_learner("x" * 43), "lecture du jeton")):
            with pytest.raises(StoreError, match=f"{action} impossible") as caught:
                call()
            assert isinstance(caught.value.__context__, Exception)
            assert not isinstance(caught.value, sqlite3.Error)
    finally:
        store.close()


def _truncate_wal(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_full_disk_is_called_a_full_disk_with_its_mount_point():
    with small_tmpfs("16m") as disk:
        db = disk / "store.db"
        url = f"sqlite:///{db}"
        seed_burst(url, 50, NOW)
        store = open_store(url)
        try:
            claimed = claim_due(store, "me", NOW, LEASE, 50)
            store.checkpoint()
            store.engine.dispose()
            _truncate_wal(db)
            filler = fill(disk)
            with Marks(store) as marks, pytest.raises(StoreError) as caught:
                for row in claimed:
                    marks.sent([row.key], "me", NOW)
            message = str(caught.value)
            assert f"enregistrement des envois impossible : disque plein ({disk})" in message, message
            assert f"libérez de la place sur {disk}" in message
            assert "vérifiez" not in message
            with pytest.raises(StoreError, match=r"démarrage du démon \(écriture de son verrou\) impossible : "
                                                 rf"disque plein \({disk}\)"):
                acquire_sqlite_daemon_lock(store)  # the daemon's lock: its pid cannot be written
            with pytest.raises(StoreError, match=r"disque plein") as opening:
                open_store(f"sqlite:///{disk / 'new.db'}")  # a new store cannot even be created
            assert "vérifiez l'adresse" not in str(opening.value)
            filler.unlink()
            with Marks(store) as marks:
                assert marks.sent([claimed[-1].key], "me", NOW) == {claimed[-1].key}
        finally:
            store.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_import_that_meets_a_simultaneous_one_is_run_again_and_succeeds(db_url):  # noqa: F811
    store = open_store(db_url)
    other = create_engine(db_url)
    try:
        learners = many(50)
        first = learners[25]
        # the other import: learner 25 inserted, not yet committed; ours does not see it, then its
        # INSERT waits on the key and fails with a duplicate key once the other commits
        with other.connect() as conn:
            conn.execute(insert(learners_table), {
                "id": first.id, **dict(zip(LEARNER_FIELDS, learner_values(first), strict=True)),
                "created_at": NOW, "updated_at": NOW})
            outcome: list[object] = []
            importer = threading.Thread(target=lambda: outcome.append(_attempt(store, learners)))
            importer.start()
            deadline = time.monotonic() + 60
            while not _waiting_on_a_lock(conn) and importer.is_alive():
                assert time.monotonic() < deadline, "the import never met the other one's row"
                time.sleep(0.01)
            conn.commit()
        importer.join(60)
        [report] = outcome
        assert not isinstance(report, Exception), report
        assert (report.created, report.updated + report.unchanged) == (49, 1)
        assert store.count_learners() == 50
    finally:
        other.dispose()
        store.close()


def _attempt(store, learners):
    try:
        return store.import_learners(learners)
    except StoreError as err:
        return err


def _waiting_on_a_lock(conn) -> bool:
    return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                  "AND pid <> pg_backend_pid()")).scalar())
