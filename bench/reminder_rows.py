"""Helpers shared by the reminder benchmarks (smtp_bench.py, lateness_bench.py): real rows, fresh stores.

Not a benchmark itself. The rows are the planner's own: generated learners (`generate_learners`,
seed fixed) of both centres are planned for academic year 2026 with `daemon.plan_all`, and one
reminder is kept per (learner, event) — the latest offset, so that none supersedes another when
they are all due at once. Each keeps its real payload (names, titles, explanations, sources),
so the e-mails composed from it are the real ones.

To keep the daemon's own planner away from them (the lateness bench runs the real
`cnam-calendar daemon`, which plans at start), the learners are imported into a centre that has
no rule file (``bench``: the planner gives them nothing) and the event UIDs are moved to
academic year 2090, which no planner run of these years touches or cancels.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this work tree first, wherever pip points; tests.support lives here too

from cnam_calendar.inputs.catalogue import load_catalogue  # noqa: E402
from cnam_calendar.inputs.config import load_centres  # noqa: E402
from cnam_calendar.inputs.roster import generate_learners  # noqa: E402
from cnam_calendar.mail.daemon import plan_all  # noqa: E402
from cnam_calendar.rules.model import Learner  # noqa: E402
from cnam_calendar.rules.reminders import Reminder  # noqa: E402
from cnam_calendar.store.database import Store, open_store  # noqa: E402
from cnam_calendar.store.delivery import sync_plan  # noqa: E402

CALENDARS = ROOT / "calendars"
BENCH_CENTRE = "bench"
BENCH_YEAR = 2090
PARIS = ZoneInfo("Europe/Paris")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def real_reminders(n: int, seed: int = 1) -> tuple[list[Learner], list[Reminder]]:
    """Return (learners, n reminders of theirs) from the real planner, one per (learner, event)."""
    centres = load_centres(CALENDARS)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    count = max(10, n // 6)
    while True:
        learners = generate_learners(count, seed, centres, codes, 2026)
        scratch = open_store("sqlite://")
        try:
            scratch.import_learners(learners)
            planned = plan_all(scratch, centres, 2026)
        finally:
            scratch.close()
        latest: dict[tuple[str, str], Reminder] = {}
        for r in planned:
            pair = (r.learner_id, r.event_uid)
            if pair not in latest or r.offset_days < latest[pair].offset_days:
                latest[pair] = r
        if len(latest) >= n:
            chosen = sorted(latest.values(), key=lambda r: r.key)[:n]
            used = {r.learner_id for r in chosen}
            return [replace(learner, centre=BENCH_CENTRE) for learner in learners if learner.id in used], chosen
        count *= 2


def _moved(uid: str) -> str:
    head, _, domain = uid.rpartition("@")
    base, _, _ = head.rpartition(".")
    return f"{base}.{BENCH_YEAR}@{domain}"


def due_at(reminders: list[Reminder], moment: datetime) -> list[Reminder]:
    """Return the reminders re-keyed into the bench's year and all due at ``moment`` (expiring a day later)."""
    local = moment.astimezone(PARIS)
    out = []
    for r in reminders:
        uid = _moved(r.event_uid)
        key = r.key.replace(r.event_uid, uid)
        payload = json.loads(json.dumps(r.payload))
        payload.update({"key": key, "year": BENCH_YEAR})
        payload["event"]["uid"] = uid
        out.append(replace(r, key=key, event_uid=uid, local_due=local, due_at=moment.astimezone(timezone.utc),
                           expires_at=moment + timedelta(days=1), year=BENCH_YEAR, payload=payload))
    return out


def seed(store: Store, learners: list[Learner], plan: list[Reminder], now: datetime) -> None:
    """Import the learners and write the plan (``delivery.sync_plan``); raise unless every row is new."""
    store.import_learners(learners)
    report = sync_plan(store, plan, now)
    if report.created != len(plan):
        raise SystemExit(f"seeding wrote {report.created} rows of {len(plan)}: wrong result ({report})")
    store.checkpoint()  # as the daemon's planner does after writing the plan


def seed_due(url: str, learners: list[Learner], reminders: list[Reminder], lead: float) -> tuple[datetime, list[Reminder]]:
    """Write REMINDERS all due LEAD seconds from now (rounded) into the store URL; return (due instant, rows).

    Raises when writing them took longer than LEAD: the instant would already be past.
    """
    import time

    due = datetime.fromtimestamp(round(time.time() + lead), timezone.utc)
    plan = due_at(reminders, due)
    store = open_store(url)
    try:
        seed(store, learners, plan, due - timedelta(seconds=lead))
    finally:
        store.close()
    if time.time() >= due.timestamp():
        raise SystemExit(f"writing {len(plan)} rows took longer than --lead {lead} s: raise it")
    return due, plan


def stop_all(procs: list, timeout: float = 30) -> None:
    """SIGTERM every process of PROCS still running (daemons finish their batch), SIGKILL any that lingers."""
    import signal
    import subprocess

    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def accepted(record: Path) -> int:
    """Return how many messages a sink process recorded so far."""
    try:
        with open(record, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


@contextmanager
def fresh_database(url: str | None, workdir: Path, name: str) -> Iterator[str]:
    """Yield the URL of an empty database: a new SQLite file in ``workdir``, or a new schema of PostgreSQL ``url``."""
    if url is None or url.startswith("sqlite"):
        path = workdir / f"{name}.db"
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of already sorted values, nearest rank."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
