"""Benchmark of the roster import (issue 4, "How it is shown": 50,000 learners, target under a minute).

Run from the project root (it reads calendars/):

    python bench/import_bench.py               # 50,000 learners, SQLite then PostgreSQL if it answers
    python bench/import_bench.py --count 5000  # quicker
    python bench/import_bench.py --pg URL      # another PostgreSQL server
    python bench/import_bench.py --no-pg       # SQLite only

Each figure is the best of --repeats runs (time.perf_counter), each on a fresh database:

1. generate: `generate_learners` + `write_roster` (the CSV the import reads);
2. validate: `load_roster`, reading and checking every row (same for every backend);
3. import: `Store.import_learners` into an empty database, one transaction (all rows created);
4. re-import: the same learners again (all unchanged: one read, no write);
5. update: the same learners with 10 % of them changed;
6. baseline: the driver's own executemany (sqlite3 / psycopg) of the same row tuples into the
   same table, one transaction: the floor an ORM-free import cannot beat.

The line to quote is "import/baseline", the store's bulk insert against the raw driver, and the
end-to-end seconds (validate + import) against the one-minute target. Nothing asserts on time;
the script fails only when a count is wrong.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import catalogue_codes, generate_learners, load_roster, write_roster
from cnam_calendar.store.database import LEARNER_FIELDS, learner_values, open_store

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
YEAR = 2026
SEED = 20260901
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TARGET_SECONDS = 60.0
INSERT_SQL = ("INSERT INTO learners (id, {fields}, created_at, updated_at) VALUES ({marks})"
              .format(fields=", ".join(LEARNER_FIELDS), marks="{marks}"))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best(repeats: int, fresh: Callable[[], Any], run: Callable[[Any], Any], close: Callable[[Any], None]
         ) -> tuple[float, Any]:
    """Return the best time of ``run(fresh())`` over ``repeats`` fresh setups, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        thing = fresh()
        try:
            seconds, result = timed(lambda: run(thing))  # noqa: B023 (called at once)
        finally:
            close(thing)
        times.append(seconds)
    return min(times), result


def rate(n: int, seconds: float) -> str:
    return f"{seconds:7.3f} s  {n / seconds:10,.0f} rows/s"


class Backend:
    """A way to get a fresh empty database and its raw DBAPI connection."""

    name = ""

    def fresh_url(self) -> str:
        raise NotImplementedError

    def drop(self, url: str) -> None:
        """Remove the database behind ``url``."""

    def raw_insert(self, url: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError


class SQLite(Backend):
    name = "SQLite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fresh_url(self) -> str:
        return f"sqlite:///{self.directory / f'{uuid.uuid4().hex}.db'}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def raw_insert(self, url: str, rows: list[tuple[Any, ...]]) -> None:
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_SQL.format(marks=", ".join("?" * (len(LEARNER_FIELDS) + 3))), rows)
            conn.execute("COMMIT")
        finally:
            conn.close()


class PostgreSQL(Backend):
    name = "PostgreSQL"

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")

    def fresh_url(self) -> str:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def drop(self, url: str) -> None:
        schema = url.rsplit("%3D", 1)[1]
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    def raw_insert(self, url: str, rows: list[tuple[Any, ...]]) -> None:
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, options=f"-csearch_path={schema}") as conn, conn.cursor() as cur:
            cur.executemany(INSERT_SQL.format(marks=", ".join(["%s"] * (len(LEARNER_FIELDS) + 3))), rows)


def pg_reachable(url: str) -> str | None:
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure: report and skip
        return str(exc).strip().splitlines()[0]


def bench_backend(backend: Backend, learners: list, changed: list, repeats: int) -> dict[str, float]:
    n = len(learners)
    clock = lambda: NOW  # noqa: E731

    def fresh_store():
        url = backend.fresh_url()
        return url, open_store(url, clock=clock)

    def close(pair) -> None:
        pair[1].close()
        backend.drop(pair[0])

    t_import, report = best(repeats, fresh_store, lambda p: p[1].import_learners(learners), close)
    assert report.created == n, report

    def loaded_store():
        url, store = fresh_store()
        store.import_learners(learners)
        return url, store

    t_again, report = best(repeats, loaded_store, lambda p: p[1].import_learners(learners), close)
    assert report.unchanged == n, report
    t_update, report = best(repeats, loaded_store, lambda p: p[1].import_learners(changed), close)
    assert report.updated == n // 10 and report.unchanged == n - n // 10, report

    rows = [(lr.id, *learner_values(lr), NOW, NOW) for lr in learners]

    def migrated_url():
        url = backend.fresh_url()
        open_store(url).close()
        return url

    def check_and_drop(url: str) -> None:
        store = open_store(url)
        count = store.count_learners()
        store.close()
        backend.drop(url)
        assert count == n, count

    t_base, _ = best(repeats, migrated_url, lambda url: backend.raw_insert(url, rows), check_and_drop)
    return {"import": t_import, "again": t_again, "update": t_update, "baseline": t_base}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("CNAM_CALENDAR_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    n = args.count

    centres = load_centres("calendars")
    codes = {cid: sorted(c) for cid, c in catalogue_codes(centres).items()}
    catalogues = {cid: set(c) for cid, c in codes.items()}
    if not any(codes.values()):  # no calendars/*.ues.csv yet: invent a catalogue per centre
        codes = {c.id: [f"{c.id[:3].upper()}{i:03d}" for i in range(1, 21)] for c in centres}
        catalogues = {cid: set(c) for cid, c in codes.items()}
        print("note: no UE catalogue found in calendars/, using 20 invented codes per centre")

    print(f"python {platform.python_version()}, sqlalchemy {sqlalchemy.__version__}, {platform.machine()}, "
          f"{n:,} learners, best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        csv_path = directory / "learners.csv"
        t_gen, learners = timed(lambda: generate_learners(n, SEED, centres, codes, YEAR))
        t_write, _ = timed(lambda: write_roster(learners, csv_path))
        t_validate, roster = timed(lambda: load_roster(csv_path, centres, catalogues))
        assert roster.learners == tuple(learners), "the generated roster does not read back the same"
        learners = list(roster.learners)
        changed = [replace(lr, lang="en" if lr.lang == "fr" else "fr") if i % 10 == 0 else lr
                   for i, lr in enumerate(learners)]
        print(f"generate            {rate(n, t_gen + t_write)}  ({csv_path.stat().st_size / 1e6:.1f} MB CSV, "
              f"{len(roster.warnings):,} warnings)")
        print(f"validate            {rate(n, t_validate)}  (read + check every row)")

        backends: list[Backend] = [SQLite(directory)]
        if not args.no_pg:
            why = pg_reachable(args.pg)
            if why:
                print(f"PostgreSQL skipped: {args.pg} unreachable ({why})")
            else:
                backends.append(PostgreSQL(args.pg))
        for backend in backends:
            r = bench_backend(backend, learners, changed, args.repeats)
            total = t_validate + r["import"]
            print(f"\n{backend.name}")
            print(f"  import (create)   {rate(n, r['import'])}")
            print(f"  re-import (same)  {rate(n, r['again'])}")
            print(f"  update (10 %)     {rate(n, r['update'])}")
            print(f"  baseline          {rate(n, r['baseline'])}  (raw driver executemany, one transaction)")
            print(f"  import/baseline: {r['import'] / r['baseline']:.2f}x the raw driver's time")
            print(f"  validate + import: {total:.2f} s for {n:,} learners "
                  f"(target < {TARGET_SECONDS:.0f} s: {'met' if total < TARGET_SECONDS else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
