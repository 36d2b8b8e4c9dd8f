"""What the daemon tells its operator: one log line per event, the metrics, the tallies of its stop line.

Every message sent, retried (with the reason and the next attempt), failed or expired gives one line;
so do each plan run, the start (the configuration in effect, secrets masked) and the stop. The
texts are msgids of the operator's catalogue (``locale/*/LC_MESSAGES/messages.po``), French by
default, translated by the formatter (``cnam_calendar.oplog``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cnam_calendar.mail.metrics import DaemonMetrics
from cnam_calendar.mail.smtp import SendResult
from cnam_calendar.oplog import N_, Count, masked

log = logging.getLogger("cnam_calendar.mail.daemon")


def learner_of(key: str) -> str:
    """Return the learner id of a delivery key (``learner/uid/J-n/date``)."""
    return key.split("/", 1)[0]


class Observer:
    """Log, count and measure what one daemon does; thread-safe (the lanes' recorders call it)."""

    def __init__(self, metrics: DaemonMetrics | None = None) -> None:
        self.metrics = metrics
        self.tally: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._relay_up = True

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.tally[name] += n
        if self.metrics is not None:
            getattr(self.metrics, name).inc(n)

    def started(self, owner: str, config: Mapping[str, Any]) -> None:
        log.info(N_("démarrage du démon %(owner)s : %(config)s"), {"owner": owner, "config": masked(config)},
                 extra={"event": "start"})

    def no_page_links(self, key_file: str | None) -> None:
        """Say once, at start, why the e-mails go without the learner's page link (no key file, or no base URL)."""
        if key_file is not None:
            log.warning(N_("pas de clé des liens (%(file)s) : les e-mails partent sans le lien de la page de "
                           "l'apprenant ; créez-la avec cnam-calendar init"), {"file": key_file},
                        extra={"event": "no-page-links"})
        else:
            log.warning(N_("pas d'adresse publique (--base-url, CNAM_CALENDAR_BASE_URL) : les e-mails partent sans "
                           "le lien de la page de l'apprenant ni la désinscription en un clic"),
                        extra={"event": "no-page-links"})

    def stopped(self, owner: str) -> None:
        with self._lock:
            tally = dict(self.tally)
        log.info(N_("arrêt du démon %(owner)s : %(sent)s, %(retried)s, %(failed)s en échec, "
                    "%(expired)s depuis le démarrage"),
                 {"owner": owner, "sent": Count(tally.get("sent", 0), "%(num)d envoyé", "%(num)d envoyés"),
                  "retried": Count(tally.get("retried", 0), "%(num)d reporté", "%(num)d reportés"),
                  "failed": tally.get("failed", 0),
                  "expired": Count(tally.get("expired", 0), "%(num)d expiré", "%(num)d expirés")},
                 extra={"event": "stop"})

    def planned(self, year: int, report: Any) -> None:
        log.info(N_("plan de l'année %(year)d : %(created)s, %(updated)d mis à jour, %(revived)s, %(cancelled)s, "
                    "%(unchanged)s, %(skipped)s"),
                 {"year": year, "created": Count(report.created, "%(num)d ajouté", "%(num)d ajoutés"),
                  "updated": report.updated,
                  "revived": Count(report.revived, "%(num)d réactivé", "%(num)d réactivés"),
                  "cancelled": Count(report.cancelled, "%(num)d annulé", "%(num)d annulés"),
                  "unchanged": Count(report.unchanged, "%(num)d inchangé", "%(num)d inchangés"),
                  "skipped": Count(report.skipped, "%(num)d déjà passé", "%(num)d déjà passés")},
                 extra={"event": "plan"})

    def sent(self, key: str, result: SendResult, attempt: int, due_at: datetime, now: datetime) -> None:
        self._count("sent")
        if self.metrics is not None:
            self.metrics.lateness.observe(max(0.0, (now - due_at).total_seconds()))
        log.info(N_("rappel envoyé : %(key)s (apprenant %(learner)s, essai %(attempt)d) ; réponse : %(reply)s"),
                 {"key": key, "learner": learner_of(key), "attempt": attempt, "reply": result.detail},
                 extra={"event": "sent"})

    def retried(self, key: str, result: SendResult, attempt: int, next_attempt: datetime) -> None:
        self._count("retried")
        log.warning(N_("rappel reporté : %(key)s (apprenant %(learner)s, essai %(attempt)d) ; raison : %(reason)s ; "
                       "nouvel essai le %(next_attempt)s"),
                    {"key": key, "learner": learner_of(key), "attempt": attempt, "reason": result.detail,
                     "next_attempt": next_attempt}, extra={"event": "retried"})

    def failed(self, key: str, result: SendResult, attempt: int) -> None:
        self._count("failed")
        log.error(N_("rappel en échec définitif : %(key)s (apprenant %(learner)s, essai %(attempt)d) ; "
                     "réponse : %(reason)s"),
                  {"key": key, "learner": learner_of(key), "attempt": attempt, "reason": result.detail},
                  extra={"event": "failed"})

    def settled(self, settled: Mapping[str, Sequence[str]]) -> None:
        """Log the reminders a claim found useless: expired (deadline day over), superseded, cancelled."""
        for key in settled.get("expired", ()):
            self._count("expired")
            log.warning(N_("rappel expiré : %(key)s (apprenant %(learner)s) ; son échéance est passée avant "
                           "qu'il parte"), {"key": key, "learner": learner_of(key)}, extra={"event": "expired"})
        for key in settled.get("superseded", ()):
            log.info(N_("rappel remplacé : %(key)s (apprenant %(learner)s) ; un rappel plus proche de l'échéance "
                        "part à sa place"), {"key": key, "learner": learner_of(key)}, extra={"event": "superseded"})

    def dispatched(self, now: datetime) -> None:
        if self.metrics is not None:
            self.metrics.last_dispatch.set(now.timestamp())

    def relay(self, up: bool) -> None:
        """Record whether the relay answers (an outage is counted once, when it starts)."""
        with self._lock:
            began, self._relay_up = self._relay_up and not up, up
        if self.metrics is not None:
            if began:
                self.metrics.relay_outages.inc()
            self.metrics.relay_up.set(1 if up else 0)
