"""The operator's side of the CLI: log options, the heartbeat and failures in `reminders status`,
`reminders failures`, `daemon --check`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import click

from cnam_calendar.messages import ngettext
from cnam_calendar.oplog import FORMATS, LEVELS
from cnam_calendar.store import health
from cnam_calendar.store.database import Store

PARIS = ZoneInfo("Europe/Paris")
STALE_PERIODS = 5  # dispatch periods without a heartbeat before status warns
STALE_AT_LEAST = timedelta(seconds=30)  # ... and never sooner (a relay backoff, a slow claim)
GROUPS_SHOWN = 10


def log_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --log-format, --log-level and --log-lang (each with its CNAM_CALENDAR_LOG_* variable)."""
    f = click.option("--log-lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
                     envvar="CNAM_CALENDAR_LOG_LANG", help="Langue du journal (variable CNAM_CALENDAR_LOG_LANG).")(f)
    f = click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True,
                     envvar="CNAM_CALENDAR_LOG_LEVEL",
                     help="Niveau du journal : debug, info, warning ou error (variable CNAM_CALENDAR_LOG_LEVEL).")(f)
    f = click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
                     envvar="CNAM_CALENDAR_LOG_FORMAT",
                     help="Journal sur la sortie d'erreur : texte, ou une ligne JSON par événement "
                          "(variable CNAM_CALENDAR_LOG_FORMAT).")(f)
    return f


def ago(delta: timedelta) -> str:
    """Return « 3 s », « 4 min », « 2 h 05 », « 3 j » for a duration."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} j"


def local(moment: datetime) -> str:
    """Return ``moment`` in Paris time, as an operator reads it."""
    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")


def stale_after(beat: health.Heartbeat) -> timedelta:
    """Return how long without a dispatch makes a daemon's heartbeat a warning."""
    return max(STALE_AT_LEAST, timedelta(seconds=STALE_PERIODS * beat.dispatch_every))


def heartbeat_lines(beats: list[health.Heartbeat], now: datetime) -> list[str]:
    """Return what `reminders status` says of the daemons: each one's last dispatch, or a warning."""
    if not beats:
        return ["Attention : aucun démon n'a tourné sur cette base ; les rappels dus ne partent pas "
                "(lancez : cnam-calendar daemon)"]
    lines = []
    running = [b for b in beats if b.stopped_at is None]
    for b in running:
        last = b.last_dispatch_at or b.started_at
        age = now - last
        if age > stale_after(b):
            lines.append(f"Attention : démon {b.owner} : aucun passage depuis {ago(age)} ({local(last)}), attendu "
                         f"toutes les {b.dispatch_every:g} s ; est-il arrêté ou bloqué ?")
        elif b.last_dispatch_at is None:
            lines.append(f"démon {b.owner} : démarré il y a {ago(age)}, pas encore de passage")
        else:
            lines.append(f"démon {b.owner} : dernier passage il y a {ago(age)}")
        if b.relay_down_since is not None:
            lines.append(f"Attention : démon {b.owner} : relais SMTP injoignable depuis {local(b.relay_down_since)} "
                         f"({ago(now - b.relay_down_since)}) : {b.relay_error}")
    if not running:
        last = max(beats, key=lambda b: b.stopped_at or b.started_at)
        lines.append(f"Attention : aucun démon en marche ; le dernier, {last.owner}, s'est arrêté le "
                     f"{local(last.stopped_at or last.started_at)} (lancez : cnam-calendar daemon)")
    return lines


def status_details(store: Store, now: datetime) -> dict[str, Any]:
    """Return what `reminders status` adds to the counts: retrying, failures by reply, the daemons."""
    retrying = health.retrying(store)
    failed = health.failures(store)
    beats = health.heartbeats(store)
    return {
        "retrying": {"count": len(retrying), "next_attempt": retrying[0].due_at.isoformat() if retrying else None,
                     "by_reply": [{"reply": r, "count": n} for r, n in health.by_reply(retrying)]},
        "failed_by_reply": [{"reply": r, "count": n} for r, n in health.by_reply(failed)],
        "daemons": [{"owner": b.owner, "started_at": b.started_at.isoformat(),
                     "last_dispatch_at": b.last_dispatch_at.isoformat() if b.last_dispatch_at else None,
                     "seconds_since_dispatch": None if b.last_dispatch_at is None
                     else round((now - b.last_dispatch_at).total_seconds(), 3),
                     "stale": b.stopped_at is None and now - (b.last_dispatch_at or b.started_at) > stale_after(b),
                     "stopped_at": b.stopped_at.isoformat() if b.stopped_at else None,
                     "relay_down_since": b.relay_down_since.isoformat() if b.relay_down_since else None,
                     "relay_error": b.relay_error} for b in beats],
        "_lines": heartbeat_lines(beats, now),
        "_retrying": retrying,
    }


def echo_status_details(details: dict[str, Any]) -> None:
    """Print the retrying reminders, the failures by the server's reply and the daemons' heartbeat."""
    retrying = details["_retrying"]
    if retrying:
        first = retrying[0]
        click.echo(f"reportés : {len(retrying)} ; prochain essai le {local(first.due_at)} ({first.key})")
        for reply, n in health.by_reply(retrying)[:GROUPS_SHOWN]:
            click.echo(f"  {n:>6}  {reply}")
    groups = details["failed_by_reply"]
    if groups:
        click.echo("échecs par réponse du serveur :")
        for group in groups[:GROUPS_SHOWN]:
            click.echo(f"  {group['count']:>6}  {group['reply']}")
        if len(groups) > GROUPS_SHOWN:
            more = len(groups) - GROUPS_SHOWN
            click.echo("  … " + ngettext("fr", "et %(num)d autre réponse", "et %(num)d autres réponses", more)
                       + " : cnam-calendar reminders failures")
    for line in details["_lines"]:
        click.echo(line)


def public(details: dict[str, Any]) -> dict[str, Any]:
    """Return the details without the keys kept for the text form."""
    return {k: v for k, v in details.items() if not k.startswith("_")}


def since_moment(day: date | None) -> datetime | None:
    """Return local midnight (Paris) of ``day``, as UTC."""
    return None if day is None else datetime.combine(day, time(0), PARIS).astimezone(timezone.utc)


def echo_failures(found: list[health.Failure], fmt: str) -> None:
    """Print the failed reminders: when, learner, key and the server's words (or the same in JSON)."""
    if fmt == "json":
        click.echo(json.dumps([{"key": f.key, "learner_id": f.learner_id, "attempts": f.attempts,
                                "at": f.at.isoformat() if f.at else None, "reply": f.reply} for f in found],
                              ensure_ascii=False, indent=2))
        return
    for f in found:
        click.echo(f"{local(f.at) if f.at else '?':<19}  {f.learner_id}  {f.key}  {f.reply}")
    click.echo(ngettext("fr", "%(num)d rappel en échec", "%(num)d rappels en échec", len(found)), err=True)
