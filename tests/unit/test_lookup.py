"""Prepared statements on DBAPI connections (cnam_calendar.store.lookup), on an in-memory SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, update

from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import UtcDateTime, learners_table, open_store
from cnam_calendar.store.lookup import Lookup, Prepared, Writer

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'l.db'}", clock=lambda: T0)
    s.import_learners([Learner(f"L{n}", f"l{n}@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf", ())
                       for n in range(1, 4)])
    yield s
    s.close()


def test_rows_come_back_with_their_columns_types(store):
    query = Lookup(store.engine, select(learners_table.c.id, learners_table.c.updated_at)
                   .where(learners_table.c.id >= bindparam("b_from")).order_by(learners_table.c.id))
    rows = query.all(b_from="L2")
    assert [r.id for r in rows] == ["L2", "L3"]
    assert all(r.updated_at == T0 and r.updated_at.tzinfo is not None for r in rows)  # aware, as stored
    assert query.first(b_from="L3").id == "L3" and query.first(b_from="M") is None


def test_a_write_returns_its_rows_and_counts_inside_one_transaction(store):
    later = T0 + timedelta(days=1)
    touch = Lookup(store.engine, update(learners_table).where(learners_table.c.id.in_(
        [bindparam("b_a"), bindparam("b_b")])).values(updated_at=bindparam("b_at", type_=UtcDateTime()))
        .returning(learners_table.c.id))
    opt = Prepared(store.engine, update(learners_table).where(learners_table.c.id == bindparam("b_id"))
                   .values(opt_out=True))
    with Writer(store.engine) as writer:
        with writer.transaction() as run:
            assert sorted(r.id for r in run.rows(touch, b_a="L1", b_b=None, b_at=later)) == ["L1"]  # NULL: no match
            assert run(opt, b_id="L2") == 1 and run(opt, b_id="nobody") == 0
    with store.engine.connect() as conn:
        got = {r.id: (r.updated_at, r.opt_out) for r in conn.execute(
            select(learners_table.c.id, learners_table.c.updated_at, learners_table.c.opt_out))}
    assert got == {"L1": (later, False), "L2": (T0, True), "L3": (T0, False)}


def test_a_statement_whose_sql_changes_at_each_run_is_refused(store):
    with pytest.raises(ValueError, match="expanding IN"):
        Prepared(store.engine, select(learners_table.c.id).where(learners_table.c.id.in_(["L1", "L2"])))
