"""From a learner's opaque key back to the learner (store/keys.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from cnam_calendar.store.keys import LearnerKeys, is_key
from tests.contract.test_store import db_url, learner, many, store  # noqa: F401  (fixtures)


def test_every_key_finds_its_learner_and_nothing_else_finds_anyone(store) -> None:  # noqa: F811
    store.import_learners(many(50))
    keys = LearnerKeys(store)
    for n in (0, 17, 49):
        lid = f"2026-{n:05d}"
        key = store.learner_key(lid)
        assert is_key(key) and keys.learner_id(key) == lid
    for other in ("0" * 32, store.learner_key("2026-00003").upper(), "2026-00003", "",
                  hashlib.sha256(b"2026-00003").hexdigest()[:32], store.learner_key("2026-00003") + "0"):
        assert keys.learner_id(other) is None, other


def test_a_learner_imported_after_the_index_was_built_is_found(store) -> None:  # noqa: F811
    store.import_learners(many(3))
    keys = LearnerKeys(store)
    assert keys.learner_id(store.learner_key("2026-00001")) == "2026-00001"
    store.import_learners([learner(99)])
    assert keys.learner_id(store.learner_key("2026-00099")) == "2026-00099"
