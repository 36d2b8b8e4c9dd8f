"""The audit journal of the console: who did what, when, to which file, with the text before and after.

Append-only: rows are written by ``record`` and read by ``entries``; nothing updates or deletes them.
Sign-ins and staff commands write here today; the console's changes to rule files will too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, select

from cnam_calendar.store.database import Store
from cnam_calendar.store.database import audit_log_table as log

ACTIONS = {
    "sign-in": "connexion",
    "sign-in-proxy": "connexion par le mandataire",
    "sign-in-refused": "connexion refusée",
    "sign-out": "déconnexion",
    "staff-add": "compte : rôle donné",
    "staff-reset": "compte : mot de passe changé",
    "staff-remove": "compte : supprimé",
    "edit": "modification publiée",
}


@dataclass(frozen=True)
class Entry:
    """One line of the journal."""

    at: datetime
    who: str
    centre: str | None
    action: str
    file: str
    before: str | None
    after: str | None

    @property
    def label(self) -> str:
        """Return the action in French (its code when it is not one of ACTIONS)."""
        return ACTIONS.get(self.action, self.action)

    @property
    def change(self) -> str:
        """Return what changed: « before → after », what is new alone, « before → ∅ » for what went."""
        if self.before is None:
            return self.after or ""
        return f"{self.before} → {self.after or '∅'}"


def record(store: Store, who: str, action: str, file: str = "", before: str | None = None,
           after: str | None = None, *, centre: str | None = None) -> None:
    """Append one line to the journal, stamped with the store's clock.

    ``centre`` says whose journal the line belongs to (its staff see it); without one, only ``who``
    and the command line see it.
    """
    with store._write("écriture du journal") as conn:
        conn.execute(insert(log), {"at": store.clock(), "who": who, "centre": centre, "action": action,
                                   "file": file, "before": before, "after": after})


def entries(store: Store, limit: int = 200, *, centres: Collection[str] | None = None,
            who: str | None = None) -> list[Entry]:
    """Return the latest ``limit`` lines of the journal, newest first.

    With ``centres``, only the lines of those centres and, with ``who`` too, that person's own lines.
    """
    stmt = select(log).order_by(log.c.at.desc(), log.c.id.desc()).limit(limit)
    if centres is not None:
        mine = [log.c.centre.in_(list(centres))] if centres else []
        if who is not None:
            mine.append(and_(log.c.centre.is_(None), log.c.who == who))
        stmt = stmt.where(or_(*mine)) if mine else stmt.where(log.c.id.is_(None))
    with store._errors("lecture du journal"), store.engine.connect() as conn:
        return [Entry(r.at, r.who, r.centre, r.action, r.file, r.before, r.after) for r in conn.execute(stmt)]
