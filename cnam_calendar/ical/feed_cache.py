"""Rendered feeds and their validators, so that a conditional request costs a lookup, not a rendering.

A personal feed is a pure function of the learner's row (every column), their opaque key, when the row
last changed, ``alarms`` and the centre-year's ``PersonalFeeds`` (rules, catalogue, build manifest, day).
``PersonalCache`` belongs to one ``PersonalFeeds`` and keys its entries by all the rest: the server checks
the store on every request (the token, the row and its last change, in one query) and the rule files and
the manifest's modification times, so a rotated token, an updated learner or a rebuilt calendar are seen
at once, by every worker process. The ETag stays the hash of the body it was computed from.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from cnam_calendar.ical.personal import PersonalFeeds
    from cnam_calendar.rules.model import Learner

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Our feeds write LAST-MODIFIED in UTC basic form only (ics.stamp_lines); a content line starts after CRLF.
_LAST_MODIFIED = re.compile(rb"\r\nLAST-MODIFIED:(\d{8}T\d{6}Z)\r\n")
MAX_VALIDATORS = 65_536  # learners whose ETag is remembered (a few hundred bytes each)
MAX_BODY_BYTES = 32 * 1024 * 1024  # bodies kept for repeated 200s (about a thousand feeds)


@dataclass(frozen=True)
class Validators:
    """What a conditional request is decided on."""

    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class Rendered(Validators):
    """A feed body with its validators; the gzip variant is made once, when first asked for."""

    body: bytes

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, mtime=0)


def rendered(body: bytes) -> Rendered:
    """Compute the strong ETag (hash of the body) and Last-Modified (newest LAST-MODIFIED of the feed)."""
    stamps = _LAST_MODIFIED.findall(body)
    newest = datetime.strptime(max(stamps).decode(), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc) if stamps else EPOCH
    return Rendered('"' + hashlib.sha256(body).hexdigest()[:40] + '"', newest, body)


class PersonalCache:
    """The personal feeds of one ``PersonalFeeds``: validators for many learners, bodies for fewer.

    One entry per learner and ``alarms``, holding the fingerprint it was rendered from (the learner's
    row, key and last change): a learner whose row changed replaces their entry, never adds one.
    """

    def __init__(self, feeds: PersonalFeeds, *, max_validators: int = MAX_VALIDATORS,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.feeds = feeds
        self.max_validators, self.max_body_bytes = max_validators, max_body_bytes
        self._validators: OrderedDict[tuple[str, bool], tuple[tuple, Validators]] = OrderedDict()
        self._bodies: OrderedDict[tuple[str, bool], tuple[tuple, Rendered]] = OrderedDict()
        self._body_bytes = 0
        self._lock = threading.Lock()  # rendering runs in the thread pool

    def peek(self, learner: Learner, key: str, changed: datetime, alarms: bool) -> Validators | None:
        """Return what is known without rendering: the feed (a ``Rendered``), its validators, or None."""
        slot, fingerprint = (learner.id, alarms), (learner, key, changed)
        with self._lock:
            body = self._bodies.get(slot)
            if body is not None and body[0] == fingerprint:
                self._bodies.move_to_end(slot)
                return body[1]
            known = self._validators.get(slot)
            if known is not None and known[0] == fingerprint:
                self._validators.move_to_end(slot)
                return known[1]
        return None

    def rendered(self, learner: Learner, key: str, changed: datetime, alarms: bool) -> Rendered:
        """Return the feed with its validators, from the cache or freshly rendered."""
        found = self.peek(learner, key, changed, alarms)
        if isinstance(found, Rendered):
            return found
        feed = rendered(self.feeds.render(learner, key, changed, alarms=alarms))
        with self._lock:
            self._remember((learner.id, alarms), (learner, key, changed), feed)
        return feed

    def _remember(self, slot: tuple[str, bool], fingerprint: tuple, feed: Rendered) -> None:
        self._validators[slot] = (fingerprint, Validators(feed.etag, feed.last_modified))
        self._validators.move_to_end(slot)
        while len(self._validators) > self.max_validators:
            self._validators.popitem(last=False)
        old = self._bodies.pop(slot, None)
        if old is not None:
            self._body_bytes -= len(old[1].body)
        if len(feed.body) <= self.max_body_bytes:
            self._bodies[slot] = (fingerprint, feed)
            self._body_bytes += len(feed.body)
        while self._body_bytes > self.max_body_bytes:
            _, (_, evicted) = self._bodies.popitem(last=False)
            self._body_bytes -= len(evicted.body)
