"""Two learners in a real SQLite store and the app serving them with a stopped clock (Monday 23 November 2026).

Alice (fr, CPF, NFA031 and NFP121) and Bob (en, apprenticeship, NFP121), as tests/e2e/test_personal_feeds.py
has them. Used by the learner's page tests over HTTP and in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cnam_calendar.store.database import Store, open_store
from tests.conftest import CALENDARS, FIXED_NOW, invoke
from tests.support.clocked_server import clocked_server

ROSTER = """id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang
A001,alice@example.org,Alice,Martin,ipst-cnam,31,cpf,NFA031;NFP121,2026-10-22,2026-11-09,,fr
A002,bob@example.org,Bob,Durand,ipst-cnam,81,apprentissage,NFP121,2026-09-15,,2026-11-30,en
"""
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{32})"')


@dataclass
class Site:
    base: str
    db: str
    store: Store  # the test's own connection to the server's store

    def token(self, learner_id: str) -> str:
        """Issue a new token for the learner (the CLI's way) and return it."""
        return self.store.issue_token(learner_id)


@contextmanager
def learner_site(tmp: Path, db: str | None = None) -> Iterator[Site]:
    """Import the two learners into ``db`` (default: a SQLite file in ``tmp``) and serve them; yield the site."""
    (tmp / "learners.csv").write_text(ROSTER, encoding="utf-8")
    db = db or f"sqlite:///{tmp / 'learners.db'}"
    done = invoke("--calendars", str(CALENDARS), "learners", "import", str(tmp / "learners.csv"), "--db", db, "-q")
    assert done.exit_code == 0, done.output
    store = open_store(db)
    try:
        with clocked_server(CALENDARS, tmp / "output", db, lambda: FIXED_NOW) as base:
            yield Site(base, db, store)
    finally:
        store.close()


def csrf_tokens(html: str) -> list[str]:
    """Return the CSRF tokens of a page's forms, in their order (mail preference, new link)."""
    return CSRF.findall(html)
