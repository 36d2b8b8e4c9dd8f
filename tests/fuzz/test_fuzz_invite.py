"""`learners invite` with odd identifiers and addresses: exit 0 or 2 with one French line, never a traceback."""

from __future__ import annotations

from datetime import datetime, timezone

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.cli.types import check_base_url
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import open_store
from tests.conftest import CALENDARS, invoke
from tests.support.fuzz import STATS, fuzz_settings

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("invite") / "fuzz.db"
    store = open_store(f"sqlite:///{path}")
    store.import_learners([Learner("A1", "a1@example.org", "Camille", "Martin", "ipst-cnam", "31", "individuel")])
    store.close()
    return f"sqlite:///{path}"


def good_url(value: str) -> bool:
    """What `serve --base-url` accepts (the same check): http(s), a host, no query."""
    try:
        check_base_url(None, None, value)  # type: ignore[arg-type]
    except click.BadParameter:
        return False
    return True


ids = st.lists(st.one_of(st.just("A1"), st.text(min_size=1, max_size=20)), max_size=3)
urls = st.one_of(st.just("https://calendrier.example.org"), st.text(max_size=40),
                 st.builds(lambda s: f"https://{s}", st.text(max_size=20)))


@fuzz_settings(60)
@given(ids, urls, st.booleans(), st.booleans())
def test_odd_invite_arguments_never_give_a_traceback(url: str, learner_ids, base, all_, renew) -> None:
    args = ["--calendars", str(CALENDARS), "learners", "invite", *(["--all"] if all_ else []),
            *(["--renew"] if renew else []), "--db", url, "--base-url", base, "--", *learner_ids]
    STATS["inputs"] += 1
    STATS["options"] += 1
    result = invoke(*args, clock=NOW)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        STATS["tracebacks"] += 1
        raise AssertionError(f"traceback for {args!r}: {result.exception!r}")
    assert result.exit_code in (0, 2), (args, result.exit_code, result.output)
    if result.exit_code == 2:
        assert result.stderr.startswith("Erreur") or "Utilisation" in result.stderr, result.stderr
    valid = good_url(base) and (all_ != bool(learner_ids)) and (all_ or set(learner_ids) == {"A1"})
    if result.exit_code == 0 and not valid:
        STATS["accepted"] += 1
        raise AssertionError(f"bad input accepted: {args!r}")
