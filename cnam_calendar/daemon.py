"""The reminder daemon: plan into the delivery table, claim what is due, send, record.

APScheduler (3.x) only drives the clock with three in-memory jobs (dispatch every few seconds,
the nightly planner, housekeeping). The state of every reminder lives in the delivery table, so a
killed daemon loses nothing: its leased rows go back to the queue when it restarts (SQLite: one
daemon per file) or when their lease runs out (PostgreSQL: another daemon takes them over).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial

from . import delivery
from .catalogue import load_catalogue
from .mail import render
from .model import Centre
from .reminders import Reminder, plan_reminders
from .service import academic_year, local_date, ouvres_for, schedule
from .smtp import Mailer, SendResult, WireMessage, backoff
from .store import Store

Clock = Callable[[], datetime]
log = logging.getLogger("cnam_calendar.daemon")


PLAN_SLICE = 2000  # learners planned and written at a time by the daemon: its memory stays flat


def plan_slices(store: Store, centres: Sequence[Centre], year: int,
                size: int = PLAN_SLICE) -> Iterator[tuple[list[str], list[Reminder]]]:
    """Yield (learner ids, their reminders) for academic year ``year``, ``size`` learners at a time.

    The schedules, working days and catalogues are computed once; only one slice of reminders is
    alive at a time (a whole year of 50,000 learners is about 750,000 of them).
    """
    learners = store.learners()
    schedules = {c.id: schedule(c, year) for c in centres}
    ouvres = {c.id: ouvres_for(c, year - 1, year + 2) for c in centres}
    catalogues = {c.id: load_catalogue(c) for c in centres}
    for i in range(0, len(learners), size):
        part = learners[i:i + size]
        keys = {learner.id: store.learner_key(learner.id) for learner in part}
        yield [learner.id for learner in part], plan_reminders(part, schedules, ouvres, keys, catalogues=catalogues)


def plan_all(store: Store, centres: Sequence[Centre], year: int) -> list[Reminder]:
    """Return every reminder of the store's learners for academic year ``year``."""
    learners = store.learners()
    return plan_reminders(
        learners,
        {c.id: schedule(c, year) for c in centres},
        {c.id: ouvres_for(c, year - 1, year + 2) for c in centres},
        {learner.id: store.learner_key(learner.id) for learner in learners},
        catalogues={c.id: load_catalogue(c) for c in centres},
    )


def default_owner() -> str:
    """Return this process's lease identity: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Daemon:
    """One daemon process: a store, a mailer, the centres and a clock; no sleeping inside."""

    store: Store
    mailer: Mailer
    centres: Sequence[Centre]
    clock: Clock
    sender: str | None = None  # overrides every centre's From when given
    owner: str = field(default_factory=default_owner)
    lease: timedelta = timedelta(minutes=2)
    batch: int = 200
    plan_slice: int = PLAN_SLICE  # learners planned and written per transaction
    unsubscribe: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def now(self) -> datetime:
        return self.clock().astimezone(timezone.utc)

    def plan(self) -> delivery.SyncReport | None:
        """Write the plan of the current academic year into the table; None when another daemon does it."""
        with delivery.singleton(self.store, "planner") as mine:
            if not mine:
                return None
            now = self.now()
            year = academic_year(local_date(now))
            report = delivery.SyncReport()
            for learner_ids, reminders in plan_slices(self.store, self.centres, year, self.plan_slice):
                # complete for these learners: their stale rows of the year are cancelled, nobody else's
                report += delivery.sync_plan(self.store, reminders, now, years=[year], learners=learner_ids)
            self.store.checkpoint()  # the plan's pages into the database now, not in the first mark's commit
            log.info("plan %s: %s", year, report)
            return report

    def _message(self, claimed: delivery.Claimed) -> WireMessage:
        return render(claimed.payload, claimed.key, sender=self.sender, unsubscribe=self.unsubscribe,
                       date=self.now())

    def _record(self, marks: delivery.Marks, claimed: dict[str, delivery.Claimed],
                reported: set[str]) -> Callable[[str, SendResult], None]:
        """Return the callback that records an outcome (in the lane's recorder thread, see Mailer.send_many)."""
        def record(key: str, result: SendResult) -> None:
            now = self.now()
            if result.outcome == "sent":
                if not marks.sent([key], self.owner, now):
                    log.warning("lease of %s lost before it was recorded as sent", key)
            elif result.outcome == "failed":
                delivery.mark_failed(self.store, key, self.owner, now, result.detail)
            else:
                row = claimed[key]
                retry_at = now + backoff(row.attempts, seed=key)
                if row.expires_at is not None:
                    retry_at = min(retry_at, row.expires_at)
                delivery.mark_retry(self.store, key, self.owner, now, result.detail, retry_at)
            reported.add(key)
        return record

    def _still_mine(self, row: delivery.Claimed) -> bool:
        """Tell whether the lease on ``row`` leaves time to send it (a stalled daemon must not send late).

        A daemon frozen (SIGSTOP, a long GC pause, a suspended VM) past its lease may find its rows
        taken over and sent by another one: it stops before sending anything more of its batch.
        """
        margin = min(self.lease / 4, timedelta(seconds=10))
        return self.now() + margin < row.lease_until

    def dispatch(self) -> int:
        """Claim, send and record due reminders until none is left (or the daemon stops); return how many."""
        with delivery.Marks(self.store) as marks:
            return self._dispatch(marks)

    def _dispatch(self, marks: delivery.Marks) -> int:
        done = 0
        while not self.stopping.is_set():
            sent, finished = self._send_due(marks)
            done += sent
            if finished:
                return done
        return done

    def _send_due(self, marks: delivery.Marks) -> tuple[int, bool]:
        """Claim and send batch after batch until none is due, or a lease runs low; return (handed, finished)."""
        claimed: dict[str, delivery.Claimed] = {}
        handed: set[str] = set()
        reported: set[str] = set()
        finished = cut = False

        def claim() -> list[delivery.Claimed]:
            if self.stopping.is_set():
                return []
            rows = delivery.claim_due(self.store, self.owner, self.now(), self.lease, self.batch,
                                      holding=claimed.keys())
            if rows:
                claimed.update((r.key, r) for r in rows)
                self.store.checkpoint()  # the last batch's marks into the database here, not in a lane's commit
            return rows

        def messages(batch: list[delivery.Claimed]) -> Iterator[tuple[str, Callable[[], WireMessage]]]:
            nonlocal finished
            while batch:
                ahead = None
                for i, row in enumerate(batch):
                    if i == len(batch) // 2:
                        ahead = claim()  # the next batch, while the lanes send the second half of this one
                    yield row.key, partial(self._message, row)  # the lanes make each message
                batch = ahead or []
            finished = True

        def ready(key: str) -> bool:
            # asked right before each message goes to a lane and again before its end, so a long wait
            # (a slow server, SIGSTOP) counts
            nonlocal cut
            if self.stopping.is_set() or not self._still_mine(claimed[key]):
                cut = True
                return False
            handed.add(key)
            return True

        first = claim()
        if not first:
            return 0, True  # nothing due: no lane started
        self.mailer.send_many(messages(first), self._record(marks, claimed, reported), ready=ready)
        for key in claimed:  # stopped half-way, or the lease ran low: give the rest back at once
            if key not in reported:
                delivery.release(self.store, key, self.owner)
        return len(handed), finished and not cut

    def recover(self) -> int:
        """On SQLite, rows leased by a previous (killed) daemon go back to the queue: it is the only one."""
        return delivery.release_abandoned(self.store) if not delivery.is_pg(self.store) else 0

    def run(self, *, dispatch_every: float = 2.0) -> None:
        """Run until SIGTERM/SIGINT: APScheduler drives dispatch, the nightly plan and housekeeping."""
        from apscheduler.schedulers.blocking import BlockingScheduler

        self.store.end_idle_transactions_after(self.lease.total_seconds())

        scheduler = BlockingScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        start = datetime.now(timezone.utc)
        scheduler.add_job(self.plan, "date", run_date=start, id="plan-now")
        scheduler.add_job(self.plan, "cron", hour=2, minute=30, timezone="Europe/Paris", id="plan-nightly")
        scheduler.add_job(self.dispatch, "interval", seconds=dispatch_every, next_run_time=start, id="dispatch")
        scheduler.add_job(self.housekeeping, "interval", minutes=15, id="housekeeping")

        def stop(signum: int, frame: object) -> None:
            # The handler runs in the scheduler's own thread, maybe in the middle of its loop: shutting
            # down from here would empty the job store under that loop (JobLookupError). Another
            # thread waits for the loop to let go of its lock, then stops it.
            if not self.stopping.is_set():
                self.stopping.set()
                threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, name="stop").start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        scheduler.start()

    def housekeeping(self) -> dict[str, int]:
        """Log the counts of each state (claiming already expires and supersedes what is useless)."""
        with delivery.singleton(self.store, "housekeeping") as mine:
            counts = delivery.status_counts(self.store) if mine else {}
        if counts:
            log.info("reminders: %s", counts)
        return counts
