"""The console's accounts, sign-ins and journal in the store, on a SQLite file and on PostgreSQL.

The rate limit is driven by the store's clock (moved by hand here): no test waits for time to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.store import audit, staff
from cnam_calendar.store.database import Store, open_store
from tests.contract.test_store import db_url  # noqa: F401  (the fixture: SQLite file, PostgreSQL schema)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
PASSWORD = "une phrase de passe assez longue"


class Clock:
    """A clock moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:  # noqa: F811
    s = open_store(db_url, clock=clock)
    yield s
    s.close()


def test_an_account_gets_roles_per_centre_and_its_password_is_an_argon2_hash(store: Store) -> None:
    hashed = staff.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert staff.add(store, " Camille.Martin@EXAMPLE.org ", "ipst-cnam", "editor", hashed) == (None, "editor")
    assert staff.add(store, "camille.martin@example.org", "cnam-occitanie", "viewer") == (None, "viewer")
    assert staff.add(store, "camille.martin@example.org", "cnam-occitanie", "editor") == ("viewer", "editor")
    found = staff.member(store, "camille.martin@example.org")
    assert found is not None and found.has_password
    assert dict(found.roles) == {"cnam-occitanie": "editor", "ipst-cnam": "editor"}
    assert PasswordHasher().verify(hashed, PASSWORD)
    assert [m.email for m in staff.members(store)] == ["camille.martin@example.org"]
    with pytest.raises(ValueError):
        staff.add(store, "camille.martin@example.org", "ipst-cnam", "admin")


def test_sign_in_checks_the_password_and_an_unknown_account_fails_the_same_way(store: Store) -> None:
    staff.add(store, "a@example.org", "ipst-cnam", "viewer", staff.hash_password(PASSWORD))
    ok = staff.sign_in(store, "A@example.org", PASSWORD, "192.0.2.1")
    assert ok.member is not None and ok.member.email == "a@example.org" and ok.refused is None
    assert staff.sign_in(store, "a@example.org", PASSWORD + "x", "192.0.2.1").refused == "bad"
    assert staff.sign_in(store, "nobody@example.org", PASSWORD, "192.0.2.1").refused == "bad"
    staff.add(store, "proxy@example.org", "ipst-cnam", "viewer", None)  # proxy only: no local password works
    assert staff.sign_in(store, "proxy@example.org", "", "192.0.2.1").refused == "bad"


def test_five_failures_of_an_account_lock_it_for_the_window_then_it_signs_in_again(store: Store,
                                                                                    clock: Clock) -> None:
    staff.add(store, "a@example.org", "ipst-cnam", "editor", staff.hash_password(PASSWORD))
    for i in range(staff.ACCOUNT_LIMIT):
        clock.now = T0 + timedelta(minutes=i)
        assert staff.sign_in(store, "a@example.org", "wrong", f"192.0.2.{i}").refused == "bad"
    clock.now = T0 + timedelta(minutes=5)
    locked = staff.sign_in(store, "a@example.org", PASSWORD, "192.0.2.99")  # the right password, refused
    assert locked.refused == "throttled" and locked.member is None
    assert locked.retry_at == T0 + staff.WINDOW  # when the first of the five leaves the window
    clock.now = T0 + staff.WINDOW - timedelta(seconds=1)
    assert staff.sign_in(store, "a@example.org", PASSWORD, "192.0.2.99").refused == "throttled"
    clock.now = T0 + staff.WINDOW
    assert staff.sign_in(store, "a@example.org", PASSWORD, "192.0.2.99").member is not None
    assert staff.failures_count(store, "a@example.org") == 4  # the four later failures still count


def test_one_address_trying_many_accounts_is_limited_too(store: Store, clock: Clock) -> None:
    staff.add(store, "a@example.org", "ipst-cnam", "editor", staff.hash_password(PASSWORD))
    for i in range(staff.ADDRESS_LIMIT):
        assert staff.sign_in(store, f"guess{i}@example.org", "wrong", "198.51.100.7").refused == "bad"
    assert staff.sign_in(store, "a@example.org", PASSWORD, "198.51.100.7").refused == "throttled"
    assert staff.sign_in(store, "a@example.org", PASSWORD, "198.51.100.8").member is not None  # another address


def test_reset_changes_the_password_ends_sessions_and_clears_the_failures(store: Store) -> None:
    staff.add(store, "a@example.org", "ipst-cnam", "editor", staff.hash_password(PASSWORD))
    before = staff.member(store, "a@example.org")
    staff.sign_in(store, "a@example.org", "wrong", "192.0.2.1")
    staff.reset(store, "a@example.org", staff.hash_password("un autre mot de passe long"))
    after = staff.member(store, "a@example.org")
    assert before is not None and after is not None and after.generation == before.generation + 1
    assert staff.failures_count(store, "a@example.org") == 0
    assert staff.sign_in(store, "a@example.org", PASSWORD, "192.0.2.1").refused == "bad"
    assert staff.sign_in(store, "a@example.org", "un autre mot de passe long", "192.0.2.1").member is not None
    with pytest.raises(StoreError, match="compte inconnu « b@example.org »"):
        staff.reset(store, "b@example.org", staff.hash_password(PASSWORD))


def test_remove_a_role_or_the_whole_account(store: Store) -> None:
    staff.add(store, "a@example.org", "ipst-cnam", "editor", staff.hash_password(PASSWORD))
    staff.add(store, "a@example.org", "cnam-occitanie", "viewer")
    assert staff.remove(store, "a@example.org", "cnam-occitanie") == {"cnam-occitanie": "viewer"}
    found = staff.member(store, "a@example.org")
    assert found is not None and dict(found.roles) == {"ipst-cnam": "editor"} and found.generation == 2
    with pytest.raises(StoreError, match="n'a pas de rôle au centre cnam-occitanie"):
        staff.remove(store, "a@example.org", "cnam-occitanie")
    assert staff.remove(store, "a@example.org") == {"ipst-cnam": "editor"}
    assert staff.member(store, "a@example.org") is None and staff.members(store) == []
    with pytest.raises(StoreError, match="compte inconnu"):
        staff.remove(store, "a@example.org")


def test_the_journal_keeps_each_line_and_shows_a_person_their_centres_and_their_own(store: Store,
                                                                                    clock: Clock) -> None:
    audit.record(store, "cli:root", "staff-add", "", None, "a@example.org : éditeur", centre="ipst-cnam")
    clock.now = T0 + timedelta(seconds=1)
    audit.record(store, "a@example.org", "sign-in", "", None, "192.0.2.1")
    clock.now = T0 + timedelta(seconds=2)
    audit.record(store, "b@example.org", "sign-in", "", None, "192.0.2.2")
    clock.now = T0 + timedelta(seconds=3)
    audit.record(store, "cli:root", "staff-add", "", None, "b@example.org : lecteur", centre="cnam-occitanie")
    everything = audit.entries(store)
    assert [(e.who, e.action) for e in everything] == [
        ("cli:root", "staff-add"), ("b@example.org", "sign-in"), ("a@example.org", "sign-in"), ("cli:root", "staff-add")]
    assert everything[-1].at == T0 and everything[-1].after == "a@example.org : éditeur"
    assert everything[0].label == "compte : rôle donné"
    assert everything[-1].change == "a@example.org : éditeur" and everything[1].change == "192.0.2.2"
    assert audit.Entry(T0, "x", None, "staff-remove", "", "b : lecteur", None).change == "b : lecteur → ∅"
    assert audit.Entry(T0, "x", None, "staff-add", "", "b : lecteur", "b : éditeur").change == "b : lecteur → b : éditeur"
    mine = audit.entries(store, centres=["ipst-cnam"], who="a@example.org")
    assert [(e.who, e.action, e.centre) for e in mine] == [
        ("a@example.org", "sign-in", None), ("cli:root", "staff-add", "ipst-cnam")]
    assert audit.entries(store, centres=[], who=None) == []
    assert len(audit.entries(store, 2)) == 2


def test_the_session_key_is_drawn_once_per_database(store: Store, db_url: str) -> None:  # noqa: F811
    key = staff.session_secret(store)
    assert len(key) == 64
    again = open_store(db_url)
    try:
        assert staff.session_secret(again) == key
    finally:
        again.close()


@pytest.mark.parametrize(("roles", "action", "allowed"), [
    ({"ipst-cnam": "editor"}, "edit", True),
    ({"ipst-cnam": "editor"}, "see", True),
    ({"ipst-cnam": "viewer"}, "see", True),
    ({"ipst-cnam": "viewer"}, "edit", False),
    ({"cnam-occitanie": "editor"}, "see", False),
    ({}, "see", False),
], ids=["editor-edits", "editor-sees", "viewer-sees", "viewer-cannot-edit", "other-centre", "no-role"])
def test_who_may_do_what(roles: dict[str, str], action: str, allowed: bool) -> None:
    assert staff.may(roles, "ipst-cnam", action) is allowed
