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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.mail.compose import render
from cnam_calendar.mail.notices import scan_notices
from cnam_calendar.mail.observe import Observer
from cnam_calendar.mail.outage import Outage
from cnam_calendar.mail.smtp import Mailer, SendResult, WireMessage, backoff
from cnam_calendar.oplog import N_, Count, Msg
from cnam_calendar.rules.errors import CnamCalendarError, StoreError
from cnam_calendar.rules.model import Centre
from cnam_calendar.rules.notices import NOTICE_UID
from cnam_calendar.rules.reminders import Reminder, plan_reminders
from cnam_calendar.rules.weekly import weekly_letters
from cnam_calendar.service import academic_year, local_date, ouvres_for, schedule
from cnam_calendar.store import delivery, health, invites, notices
from cnam_calendar.store.database import Store

Clock = Callable[[], datetime]
log = logging.getLogger("cnam_calendar.mail.daemon")


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


@dataclass
class _Trouble:
    """What cut a batch short: the store refused a write, or the relay could not be reached."""

    store: StoreError | None = None
    relay: str | None = None
    cut_off: dict[str, SendResult] = field(default_factory=dict)  # connection lost with the message sent

    def __bool__(self) -> bool:
        return self.store is not None or self.relay is not None


class _RelayDown(Exception):
    """No connection to the relay could be opened: its failure, not the messages'."""


def _planned(row: delivery.Claimed) -> datetime:
    """Return when the reminder was planned to go: lateness counts from there.

    A first attempt is due when planned; a retry's row is due at its retry, and its payload keeps
    the planned time (``due_local``), which counts when it is earlier.
    """
    if row.attempts <= 1:
        return row.due_at
    try:
        planned = datetime.fromisoformat(str(row.payload.get("due_local")))
    except (TypeError, ValueError):
        return row.due_at
    return min(planned, row.due_at) if planned.tzinfo is not None else row.due_at


def _still_running(record: logging.LogRecord) -> bool:
    """Drop APScheduler's « skipped: maximum number of running instances reached »: a long dispatch is
    expected (a burst), the next tick simply waits for it; five such lines a second would bury the log."""
    return "maximum number of running instances reached" not in str(record.msg)


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
    base_url: str | None = None  # the server's public address: the one-click unsubscribe URL of the e-mails
    stopping: threading.Event = field(default_factory=threading.Event)
    observer: Observer = field(default_factory=Observer)  # log lines, metrics, tallies (mail/observe.py)
    dispatch_every: float = 2.0  # seconds: the heartbeat is written at most this often
    reload_centres: Callable[[], Sequence[Centre]] | None = None  # the rule files again, for change notices
    notice_scan_every: float = 60.0  # seconds between two scans for change notices

    def __post_init__(self) -> None:
        self.store_outage = Outage(Msg(N_("la base")), self.now)
        self.relay_outage = Outage(Msg(N_("le relais SMTP %(relay)s"), relay=f"{self.mailer.host}:{self.mailer.port}"),
                                   self.now)
        self._last_beat: datetime | None = None
        self._started: datetime | None = None  # announced: its heartbeat row is (re)written when missing
        self._unrecorded: list[tuple[str, SendResult, delivery.Claimed]] = []  # outcomes the store refused
        self._unrecorded_lock = threading.Lock()
        self._leftovers = False  # rows of ours may still be leased (an outage cut a dispatch short)
        self._plan_owed = False  # the plan failed on an outage: run it again once the store answers
        self._scheduler: Any = None
        self._notices_scanned: datetime | None = None  # the last scan of change notices (mail/notices.py)

    def now(self) -> datetime:
        return self.clock().astimezone(timezone.utc)

    def plan(self) -> delivery.SyncReport | None:
        """Write the plan of the current academic year into the table; None when another daemon does it.

        On a store outage the plan is owed: the first dispatch that finds the store back runs it.
        """
        try:
            return self._plan()
        except StoreError as err:
            self._plan_owed = True
            self.store_outage.failed(err)
            return None

    def _plan(self) -> delivery.SyncReport | None:
        with delivery.singleton(self.store, "planner") as mine:
            if not mine:
                return None
            now = self.now()
            year = academic_year(local_date(now))
            report = delivery.SyncReport()
            for learner_ids, reminders in plan_slices(self.store, self.centres, year, self.plan_slice):
                reminders = weekly_letters(reminders, notices.weekly_learners(self.store, learner_ids))
                # complete for these learners: their stale rows of the year are cancelled, nobody else's
                report += delivery.sync_plan(self.store, reminders, now, years=[year], learners=learner_ids)
            self.store.checkpoint()  # the plan's pages into the database now, not in the first mark's commit
            self.observer.planned(year, report)
            return report

    def scan_notices(self) -> notices.NoticeReport | None:
        """Queue, update or cancel the change notices (store/notices.py); None when another daemon does it.

        The rule files are read again (``reload_centres``): an override, a closure or a catalogue
        edited while the daemon runs is seen here; a broken edit keeps the last good ones (one line logged).
        """
        if self.reload_centres is not None:
            try:
                self.centres = self.reload_centres()
            except CnamCalendarError as err:
                log.warning("fichiers de règles illisibles, avis de changement calculés sur les précédents : %s", err)
        now = self.now()
        with delivery.singleton(self.store, "notices") as mine:
            if not mine:
                return None
            report = scan_notices(self.store, self.centres, now, academic_year(local_date(now)))
        self._notices_scanned = now
        if report.queued or report.updated or report.cancelled:
            log.info("avis de changement : %s", report)
        return report

    def _scan_job(self) -> None:
        try:
            self.scan_notices()
        except StoreError as err:
            self.store_outage.failed(err)

    def _message(self, claimed: delivery.Claimed, token: str | None = None,
                 rider: delivery.Claimed | None = None) -> WireMessage:
        payload = claimed.payload
        if rider is not None:  # the Monday letter carries the week's change digest: one e-mail, not two
            payload = {**payload, "changes": rider.payload["changes"]}
        if token is not None and self.base_url and not payload.get("page_url"):
            payload = {**payload, "page_url": invites.page_url(self.base_url, token)}  # the learner's page, at sending time
        return render(payload, claimed.key, sender=self.sender, unsubscribe=self.unsubscribe,
                      date=self.now(), base_url=self.base_url)

    def _page_tokens(self, rows: Sequence[delivery.Claimed]) -> dict[str, str]:
        """Return the current token of each learner of ``rows`` whose link can be recomputed (store/links.py)."""
        if not self.base_url or self.store.link_key is None:
            return {}
        return self.store.page_tokens(r.learner_id for r in rows if r.event_uid != invites.INVITE_UID)

    @staticmethod
    def _riders(batch: Sequence[delivery.Claimed]) -> dict[str, delivery.Claimed]:
        """Return {Monday letter's key: the change notice of the same learner claimed with it}.

        A weekly learner's digest notice falls due on Monday at the policy's time, as their Monday
        letter does: the letter takes the notice's changes along (``_message``), the notice row is
        marked as the letter is. Claimed in different batches (rare: a batch boundary between them),
        they go as two e-mails.
        """
        letters = {r.learner_id: r for r in batch if r.key.startswith("week/")}
        return {letters[r.learner_id].key: r for r in batch if r.event_uid == NOTICE_UID and r.learner_id in letters}

    def _record_outcome(self, key: str, result: SendResult, row: delivery.Claimed,
                        marks: delivery.Marks | None = None) -> None:
        """Write what became of one message (sent, failed, or due again after its backoff)."""
        now = self.now()
        if result.outcome == "sent":
            if not (marks.sent([key], self.owner, now) if marks is not None
                    else delivery.mark_sent(self.store, key, self.owner, now)):
                log.warning(N_("réservation du rappel %(key)s perdue avant que son envoi soit enregistré"),
                            {"key": key}, extra={"event": "lease-lost"})
            self.observer.sent(key, result, row.attempts, _planned(row), now)
        elif result.outcome == "failed":
            if delivery.mark_failed(self.store, key, self.owner, now, result.detail):
                self.observer.failed(key, result, row.attempts)
        else:
            retry_at = now + backoff(row.attempts, seed=key)
            if row.expires_at is not None:
                retry_at = min(retry_at, row.expires_at)
            if delivery.mark_retry(self.store, key, self.owner, now, result.detail, retry_at):
                self.observer.retried(key, result, row.attempts, retry_at)

    def _record(self, marks: delivery.Marks, claimed: dict[str, delivery.Claimed], reported: set[str],
                trouble: _Trouble, riders: Mapping[str, str] | None = None) -> Callable[[str, SendResult], None]:
        """Return the callback that records an outcome (in the lane's recorder thread, see Mailer.send_many).

        A message the relay never let us start (no connection, no greeting, no login) is not an
        attempt of that message: it is left unrecorded, given back as it was, and the sending stops
        (the relay is backed off as a whole). An outcome the store refuses (an outage) is kept in
        memory, written once the store answers again, and the sending stops too: what the server
        accepted but nobody recorded stays within the lanes.
        """
        def record(key: str, result: SendResult) -> None:
            if result.outcome == "retry" and result.stage == "connect":
                trouble.relay = trouble.relay or result.detail
                return  # unrecorded: released untouched with the rest of the batch
            if result.outcome == "retry" and result.code is None and result.stage == "body":
                # the connection died with the message on it: the relay's doing if it cannot be
                # reached afterwards (decided once the lanes stop), else retried later as usual
                trouble.cut_off[key] = result
                reported.add(key)
                return
            for one in (key, *([riders[key]] if riders and key in riders else [])):  # a letter, the notice it carried
                try:
                    self._record_outcome(one, result, claimed[one], marks)
                except StoreError as err:
                    with self._unrecorded_lock:
                        self._unrecorded.append((one, result, claimed[one]))
                    trouble.store = trouble.store or err
                else:
                    if result.outcome == "sent":
                        self.relay_outage.ok()
                reported.add(one)
        return record

    def _settle_leftovers(self) -> None:
        """After an outage: write the outcomes kept in memory, then give back every row still leased to us.

        Between two dispatches this daemon holds no row: any row still leased to it is one an
        outage cut short (a claim whose answer was lost, a batch it could not release). Without
        this they would wait for their lease to run out.
        """
        with self._unrecorded_lock:
            pending, self._unrecorded = self._unrecorded, []
        try:
            while pending:
                key, result, row = pending[0]
                self._record_outcome(key, result, row)
                pending.pop(0)
        finally:
            with self._unrecorded_lock:
                self._unrecorded[:0] = pending
        if self._leftovers:
            released = delivery.release_mine(self.store, self.owner)
            self._leftovers = False
            if released:
                log.info(N_("%(released)s à la file après la panne"),
                         {"released": Count(released, "%(num)d rappel rendu", "%(num)d rappels rendus")},
                         extra={"event": "released"})

    def _still_mine(self, row: delivery.Claimed) -> bool:
        """Tell whether the lease on ``row`` leaves time to send it (a stalled daemon must not send late).

        A daemon frozen (SIGSTOP, a long GC pause, a suspended VM) past its lease may find its rows
        taken over and sent by another one: it stops before sending anything more of its batch.
        """
        margin = min(self.lease / 4, timedelta(seconds=10))
        return self.now() + margin < row.lease_until

    def dispatch(self) -> int:
        """Claim, send and record due reminders until none is left (or the daemon stops); return how many.

        A store or relay outage ends the dispatch (one line logged when it starts, one when it
        ends); the next dispatches wait for its backoff to run out before they try again.
        """
        if not (self.store_outage.ready() and self.relay_outage.ready()):
            return 0
        done = [0]
        try:
            self._beat()
            if self._unrecorded or self._leftovers:
                self._settle_leftovers()
                self.store_outage.ok()
            if self._plan_owed and self._scheduler is not None:
                self._plan_owed = False
                self._scheduler.add_job(self.plan, "date", run_date=datetime.now(timezone.utc), id="plan-again",
                                        replace_existing=True)
            if notices.notices_due_since(self.store, self._notices_scanned, self.now()):
                self.scan_notices()  # what a due notice says is the state right before it goes
            with delivery.Marks(self.store) as marks:
                self._dispatch(marks, done)
        except StoreError as err:
            self._leftovers = True
            self.store_outage.failed(err)
            return done[0]
        except _RelayDown as err:
            self.store_outage.ok()
            self.relay_outage.failed(err)
            self.observer.relay(False)
            return done[0]
        self.store_outage.ok()
        self.observer.relay(not self.relay_outage.failing)
        return done[0]

    def announce(self, config: dict[str, Any]) -> None:
        """Log the start line (the configuration in effect, secrets masked) and record this daemon in the store."""
        self.observer.started(self.owner, config)
        self._started = self.now()
        try:
            health.started(self.store, self.owner, self._started, self.dispatch_every)
        except StoreError as err:  # the first dispatch that finds the store writes the row
            self.store_outage.failed(err)

    def _beat(self, *, force: bool = False) -> None:
        """Record this dispatch in the store (at most once a dispatch period): `reminders status` reads it."""
        now = self.now()
        if not force and self._last_beat is not None and \
                now - self._last_beat < timedelta(seconds=self.dispatch_every):
            return
        relay = self.relay_outage
        health.beat(self.store, self.owner, now, relay_down_since=relay.since, relay_error=relay.reason,
                    started_at=self._started, dispatch_every=self.dispatch_every)
        self._last_beat = now
        self.observer.dispatched(now)

    def _dispatch(self, marks: delivery.Marks, done: list[int]) -> None:
        while not self.stopping.is_set():
            sent, finished = self._send_due(marks)
            done[0] += sent
            if finished:
                return

    def _send_due(self, marks: delivery.Marks) -> tuple[int, bool]:
        """Claim and send batch after batch until none is due, or a lease runs low; return (handed, finished)."""
        claimed: dict[str, delivery.Claimed] = {}
        tokens: dict[str, str] = {}  # learner id → current feed token: the page link of their e-mails
        riders: dict[str, str] = {}  # Monday letter's key → the notice it carries (marked with it)
        handed: set[str] = set()
        reported: set[str] = set()
        trouble = _Trouble()
        finished = cut = False

        def claim() -> list[delivery.Claimed]:
            if self.stopping.is_set() or trouble:
                return []
            rows = delivery.claim_due(self.store, self.owner, self.now(), self.lease, self.batch,
                                      holding=claimed.keys(), settled=self.observer.settled)
            self.store_outage.ok()  # the store answered: an outage ends here, not when the burst is over
            self._beat()  # a long burst is one dispatch: it keeps the heartbeat fresh
            if rows:
                tokens.update(self._page_tokens(rows))
                claimed.update((r.key, r) for r in rows)
                self.store.checkpoint()  # the last batch's marks into the database here, not in a lane's commit
            return rows

        def claim_ahead() -> list[delivery.Claimed]:
            try:
                return claim()
            except StoreError as err:  # the store went away: the lanes stop, the outage is the caller's
                trouble.store = trouble.store or err
                return []

        def messages(batch: list[delivery.Claimed]) -> Iterator[tuple[str, Callable[[], WireMessage]]]:
            nonlocal finished
            while batch:
                ahead = None
                found = self._riders(batch)
                riders.update((key, row.key) for key, row in found.items())
                carried = {row.key for row in found.values()}
                for i, row in enumerate(batch):
                    if i == len(batch) // 2:
                        ahead = claim_ahead()  # the next batch, while the lanes send the second half of this one
                    if row.key in carried:
                        continue  # goes within its learner's Monday letter
                    yield row.key, partial(self._message, row, tokens.get(row.learner_id),  # the lanes make each message
                                           found.get(row.key))
                batch = ahead or []
            finished = True

        def ready(key: str) -> bool:
            # asked right before each message goes to a lane and again before its end, so a long wait
            # (a slow server, SIGSTOP) counts
            nonlocal cut
            if self.stopping.is_set() or trouble or not self._still_mine(claimed[key]):
                cut = True
                return False
            handed.add(key)
            return True

        first = claim()
        if not first:
            return 0, True  # nothing due: no lane started
        try:
            self.mailer.send_many(messages(first), self._record(marks, claimed, reported, trouble, riders),
                                  ready=ready)
        finally:
            for key, result in trouble.cut_off.items():
                if trouble.relay is not None or trouble.store is not None:
                    reported.discard(key)  # the relay died: not this message's attempt, given back untouched
                else:
                    self._record_outcome(key, result, claimed[key])
            if trouble.store is None:  # stopped half-way, the lease ran low, the relay failed: the rest back at once
                for key in claimed:
                    if key not in reported:
                        delivery.release(self.store, key, self.owner)
        if trouble.store is not None:
            raise trouble.store  # the rest is given back once the store answers (_settle_leftovers)
        if trouble.relay is not None:
            raise _RelayDown(trouble.relay)
        return len(handed), finished and not cut

    def recover(self) -> int:
        """On SQLite, rows leased by a previous (killed) daemon go back to the queue: it is the only one."""
        released = delivery.release_abandoned(self.store) if not delivery.is_pg(self.store) else 0
        if released:
            log.warning(N_("%(released)s : un démon précédent s'est arrêté sans les rendre"),
                        {"released": Count(released, "%(num)d rappel repris", "%(num)d rappels repris")},
                        extra={"event": "recovered-leases"})
        return released

    def run(self, *, dispatch_every: float | None = None) -> None:
        """Run until SIGTERM/SIGINT: APScheduler drives dispatch, the nightly plan and housekeeping."""
        from apscheduler.schedulers.blocking import BlockingScheduler

        dispatch_every = self.dispatch_every if dispatch_every is None else dispatch_every

        self.store.end_idle_transactions_after(self.lease.total_seconds())

        logging.getLogger("apscheduler.scheduler").addFilter(_still_running)
        scheduler = BlockingScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._scheduler = scheduler
        start = datetime.now(timezone.utc)
        scheduler.add_job(self.plan, "date", run_date=start, id="plan-now")
        scheduler.add_job(self.plan, "cron", hour=2, minute=30, timezone="Europe/Paris", id="plan-nightly")
        scheduler.add_job(self.dispatch, "interval", seconds=dispatch_every, next_run_time=start, id="dispatch")
        scheduler.add_job(self.housekeeping, "interval", minutes=15, id="housekeeping")
        scheduler.add_job(self._scan_job, "interval", seconds=self.notice_scan_every, next_run_time=start,
                          id="notices")

        def stop(signum: int, frame: object) -> None:
            # The handler runs in the scheduler's own thread, maybe in the middle of its loop: shutting
            # down from here would empty the job store under that loop (JobLookupError). Another
            # thread waits for the loop to let go of its lock, then stops it.
            if not self.stopping.is_set():
                self.stopping.set()
                threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, name="stop").start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            scheduler.start()
        finally:
            self.stopped()

    def stopped(self) -> None:
        """Log the stop line with what was done, and record the stop in the store (when it answers)."""
        self.observer.stopped(self.owner)
        try:
            health.stopped(self.store, self.owner, self.now())
        except StoreError:
            pass  # the store is away: the heartbeat grows old, and status says so
    def housekeeping(self) -> dict[str, int]:
        """Log the counts of each state (claiming already expires and supersedes what is useless)."""
        try:
            with delivery.singleton(self.store, "housekeeping") as mine:
                counts = delivery.status_counts(self.store) if mine else {}
                if mine:
                    invites.scrub(self.store)  # the links of invitations sent leave the table
        except StoreError as err:
            self.store_outage.failed(err)
            return {}
        if counts:
            log.info(N_("rappels par état : %(counts)s"), {"counts": counts}, extra={"event": "counts"})
        return counts
