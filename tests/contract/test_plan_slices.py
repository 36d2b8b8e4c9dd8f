"""The daemon's planner writes its learners a slice at a time: the same table as one plan of everyone.

On a SQLite file and on PostgreSQL (the ``db_url`` fixture of test_store: a fresh schema, skipped
unless the server answers or CI is set). No SMTP here: ``Daemon.plan`` never sends.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import generate_learners
from cnam_calendar.mail.daemon import Daemon, plan_all
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries, sync_plan
from tests.conftest import CALENDARS
from tests.contract.test_store import db_url  # noqa: F401  (the fixture: SQLite file, PostgreSQL schema)

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=timezone.utc)


def rows(store) -> dict[str, tuple]:
    return {d.key: (d.status, d.due_at, d.expires_at, d.offset_days, dict(d.payload)) for d in list_deliveries(store)}


def test_planning_in_slices_writes_what_one_plan_of_everyone_writes(db_url, tmp_path):  # noqa: F811
    centres = load_centres(CALENDARS)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    learners = generate_learners(23, 4, centres, codes, 2026)
    whole = open_store(f"sqlite:///{tmp_path / 'whole.db'}", clock=lambda: NOW)
    sliced = open_store(db_url, clock=lambda: NOW)
    try:
        for store in (whole, sliced):
            store.import_learners(learners)
        sliced.engine.dispose()
        # both stores derive the learners' opaque keys from their own secret: give them the same one
        from cnam_calendar.store.database import settings_table

        with whole.engine.connect() as conn:
            secret = conn.scalar(settings_table.select().with_only_columns(settings_table.c.value)
                                 .where(settings_table.c.name == "learner_key_secret"))
        with sliced.engine.begin() as conn:
            conn.execute(settings_table.update().where(settings_table.c.name == "learner_key_secret")
                         .values(value=secret))
        sync_plan(whole, plan_all(whole, centres, 2026), NOW, years=[2026])
        daemon = Daemon(sliced, Mailer("127.0.0.1", 25, local_hostname="t.test"), centres, lambda: NOW,
                        "rappels@cnam.test", owner="t", plan_slice=5)
        report = daemon.plan()
        assert report is not None and report.created == len(rows(whole)) > 100
        assert rows(sliced) == rows(whole)
        assert daemon.plan().unchanged == report.created  # idempotent, slice by slice too

        # one learner drops every UE: only their exam reminders are cancelled, in whichever slice they are
        who = learners[12]
        assert who.ues
        for store in (whole, sliced):
            store.import_learners([replace(who, ues=())])
        sync_plan(whole, plan_all(whole, centres, 2026), NOW, years=[2026])
        again = daemon.plan()
        assert again.cancelled > 0 and again.created == 0
        assert rows(sliced) == rows(whole)
        cancelled = {k for k, v in rows(sliced).items() if v[0] == "cancelled"}
        assert cancelled and all(k.startswith(who.id + "/") and "-exam-" in k for k in cancelled)
    finally:
        whole.close()
        sliced.close()
