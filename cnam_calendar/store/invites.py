"""Invitations: the e-mail that brings each learner the link to their page, through the delivery table.

Only the SHA-256 of a feed token is stored, so the link of a token drawn at random cannot be sent
again: an invitation issues a new token, and the previous link (page and feed) stops working.
Hence the default: learners who have no link yet get one; those who have one are left alone
unless the operator asks for ``renew`` (their e-mail then says the old link no longer works), or
names them one by one (``resend``) and their token derives from the link key (store/links.py):
they then get their current link again, unchanged.
The new token and its delivery row are written in one transaction (no link changes without its
e-mail), keyed ``invite/<learner>/<hash prefix>``: sent once, claimed, leased and sent by the
daemon's lanes like a reminder. The link travels in the row's payload until the row is settled,
then ``scrub`` removes it (the daemon's housekeeping does it every 15 minutes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, insert, select, update

from cnam_calendar.rules.model import Centre, Learner
from cnam_calendar.rules.reminders import centre_payload, learner_payload
from cnam_calendar.store.database import Store, feed_tokens_table, hash_token, learners_table
from cnam_calendar.store.database import reminder_deliveries_table as deliveries

INVITE_UID = "invite@cnam-calendar"  # the event_uid of every invitation row: of no academic year
CHUNK = 500


@dataclass(frozen=True)
class InviteReport:
    """What ``invite`` did, by learner id."""

    queued: tuple[str, ...] = ()  # a new link and its e-mail on the way
    resent: tuple[str, ...] = ()  # their current link again (``resend``, a link key): nothing changes for them
    has_link: tuple[str, ...] = ()  # a link already (not renewed): nothing sent
    pending: tuple[str, ...] = ()  # an invitation of theirs is still on its way: nothing more
    opted_out: tuple[str, ...] = ()  # asked for no e-mail: nothing sent, link unchanged


def page_url(base_url: str, token: str) -> str:
    """Return the learner's page under the server's public address."""
    return f"{base_url.rstrip('/')}/me/{token}"


def invite(store: Store, learners: Sequence[Learner], centres: Mapping[str, Centre], base_url: str, now: datetime,
           *, renew: bool = False, resend: bool = False) -> InviteReport:
    """Queue an invitation for each of ``learners`` (see the module docstring); return who got what.

    ``resend`` (the learners were named one by one: « I lost the e-mail »): a learner who has a link
    that derives from the link key gets it again, unchanged, so their subscription keeps working.
    """
    now = now.astimezone(timezone.utc)
    queued: list[str] = []
    resent: list[str] = []
    has_link: list[str] = []
    pending: list[str] = []
    opted: list[str] = []
    with store._write("invitations") as conn:
        for i in range(0, len(learners), CHUNK):
            part = learners[i:i + CHUNK]
            ids = [x.id for x in part]
            t = feed_tokens_table.c
            issued = conn.execute(select(t.learner_id, t.token_hash, t.link_nonce).where(t.learner_id.in_(ids))).all()
            tokens = {row.learner_id for row in issued}
            current = store.recomputed(issued) if resend and not renew else {}  # the links the key gives back
            out = set(conn.scalars(select(learners_table.c.id).where(
                learners_table.c.id.in_(ids), learners_table.c.opt_out.is_(True))))
            waiting = set(conn.scalars(select(deliveries.c.learner_id).where(
                deliveries.c.learner_id.in_(ids), deliveries.c.event_uid == INVITE_UID,
                deliveries.c.status.in_(("pending", "leased")))))
            rows: list[dict[str, Any]] = []
            new_tokens: list[dict[str, Any]] = []
            for learner in part:
                if learner.id in out:
                    opted.append(learner.id)
                    continue
                if learner.id in waiting:
                    pending.append(learner.id)
                    continue
                had = learner.id in tokens
                again = current.get(learner.id)
                if had and not renew and again is None:
                    has_link.append(learner.id)
                    continue
                if again is not None:
                    token, token_row = again, None
                    key = f"invite/{learner.id}/{hash_token(again)[:16]}/{now:%Y%m%dT%H%M%S%fZ}"  # once per request
                else:
                    token, token_row = store.token_row(learner.id, now)
                    key = f"invite/{learner.id}/{token_row['token_hash'][:16]}"
                payload = {"v": 1, "type": "invite", "key": key, "replaced": had and again is None,
                           "learner": learner_payload(learner, store.learner_key(learner.id)),
                           "centre": centre_payload(centres[learner.centre]), "page_url": page_url(base_url, token),
                           "due_local": now.isoformat()}
                if token_row is not None:
                    new_tokens.append(token_row)
                rows.append({"key": key, "learner_id": learner.id, "event_uid": INVITE_UID, "due_at": now,
                             "expires_at": None, "offset_days": None, "status": "pending", "attempts": 0,
                             "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True)})
                (resent if again is not None else queued).append(learner.id)
            if new_tokens:
                conn.execute(delete(feed_tokens_table).where(
                    feed_tokens_table.c.learner_id.in_([r["learner_id"] for r in new_tokens])))
                conn.execute(insert(feed_tokens_table), new_tokens)
            if rows:
                conn.execute(insert(deliveries), rows)
    return InviteReport(tuple(queued), tuple(resent), tuple(has_link), tuple(pending), tuple(opted))


def scrub(store: Store) -> int:
    """Remove the link from every settled invitation row (sent, failed, cancelled…); return how many."""
    with store._write("effacement des liens envoyés") as conn:
        rows = conn.execute(select(deliveries.c.key, deliveries.c.payload).where(
            deliveries.c.event_uid == INVITE_UID, deliveries.c.status.not_in(("pending", "leased")),
            deliveries.c.payload.like('%"page_url"%'))).all()
        for row in rows:
            payload = json.loads(row.payload)
            payload.pop("page_url", None)
            conn.execute(update(deliveries).where(deliveries.c.key == row.key).values(
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True)))
    return len(rows)


__all__ = ["INVITE_UID", "InviteReport", "invite", "page_url", "scrub"]
