"""From a learner's opaque key (the « stop <key> » of an e-mail, the unsubscribe URL) back to the learner.

The key is ``Store.learner_key(id)``: an HMAC of the id under the store's secret, so nothing stored
names it and it cannot be guessed from an id. Finding a learner by key means computing the key of
every learner once; ``LearnerKeys`` keeps that index in memory and computes it again only when the
number of learners changed (ids are never renamed; a key that is still unknown then costs one COUNT).
"""

from __future__ import annotations

import re
import threading

from sqlalchemy import select

from cnam_calendar.store.database import Store, learners_table

KEY_SHAPE = re.compile(r"[0-9a-f]{32}")


def is_key(text: str) -> bool:
    """Tell whether ``text`` has the shape of a learner key (32 lowercase hexadecimal digits)."""
    return bool(KEY_SHAPE.fullmatch(text))


class LearnerKeys:
    """An index key → learner id over one store, rebuilt when learners were added."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ids: dict[str, str] = {}
        self._count = -1
        self._lock = threading.Lock()

    def learner_id(self, key: str) -> str | None:
        """Return the id of the learner whose key is ``key``, or None (also for anything not shaped like a key)."""
        if not is_key(key):
            return None
        found = self._ids.get(key)
        if found is not None:
            return found
        with self._lock:
            count = self.store.count_learners()
            if count != self._count:
                with self.store._errors("lecture des apprenants"), self.store.engine.connect() as conn:
                    ids = list(conn.scalars(select(learners_table.c.id)))
                self._ids = {self.store.learner_key(i): i for i in ids}
                self._count = count
            return self._ids.get(key)
