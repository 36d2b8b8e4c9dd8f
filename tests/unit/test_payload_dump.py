"""The delivery table's payload text: written once per shared part (issue 17, point 7: planning a whole
network), byte for byte what ``json.dumps(sort_keys=True)`` writes, so rows stay "unchanged" across plans."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import generate_learners
from cnam_calendar.mail.daemon import plan_all
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import _dump, _Dumper
from tests.conftest import CALENDARS


def reference(payload) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def test_the_planners_payloads_are_written_as_json_dumps_writes_them():
    centres = load_centres(CALENDARS)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    store = open_store("sqlite://")
    try:
        store.import_learners(generate_learners(60, 3, centres, codes, 2026))
        planned = plan_all(store, centres, 2026)
    finally:
        store.close()
    assert len(planned) > 500
    shared = {id(r.payload["event"]) for r in planned}
    assert len(shared) < len(planned) / 2  # the parts really are shared objects: the cache is used
    dump = _Dumper()
    for r in planned:
        assert dump(r.payload) == reference(r.payload) == _dump(r.payload)
        assert json.loads(dump(r.payload)) == r.payload


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
leaves = st.none() | st.booleans() | st.integers() | texts
parts = st.dictionaries(texts, st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                                            | st.dictionaries(texts, inner, max_size=3), max_leaves=8), max_size=4)


@given(st.lists(st.tuples(st.dictionaries(texts, leaves, max_size=4), st.lists(st.sampled_from(range(3)), max_size=3)),
                min_size=1, max_size=6), st.lists(parts, min_size=3, max_size=3))
def test_any_payload_with_shared_and_changed_parts(rows, pool):
    dump = _Dumper()
    for plain, picked in rows:
        payload = {**plain, **{f"part{i}": pool[i] for i in picked}}
        assert dump(payload) == reference(payload)
        pool[0] = dict(pool[0])  # a new object under the same name: never the old text
        pool[0]["changed"] = True
        payload = {**plain, "part0": pool[0]}
        assert dump(payload) == reference(payload)
