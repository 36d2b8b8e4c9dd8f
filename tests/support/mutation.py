"""Under mutmut's stats run, credit the code a shared fixture runs to every test that uses the fixture.

mutmut maps each function to the tests during which it ran, then runs only those tests on the
function's mutants. A module- or session-scoped fixture runs once, inside the first test that asks
for it, so the later tests using its result would never run on those mutants (a mutant then
"survives" a test that kills it). This plugin notes what each fixture's setup ran and adds it to
every test using that fixture. It does nothing outside ``mutmut run`` (MUTANT_UNDER_TEST=stats).
"""

from __future__ import annotations

import os

import pytest

_hits: dict[int, set[str]] = {}  # id(FixtureDef) -> mangled names of the functions its setup ran


def _stats() -> set[str] | None:
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return None
    from mutmut.state import state  # only installed where mutation testing runs

    return state()._stats


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    stats = _stats()
    before = set(stats) if stats is not None else None
    yield
    if stats is not None:
        _hits.setdefault(id(fixturedef), set()).update(stats - before)


@pytest.hookimpl(tryfirst=True)  # before mutmut reads the stats of the test
def pytest_runtest_teardown(item):
    stats = _stats()
    if stats is None:
        return
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            stats.update(_hits.get(id(fixturedef), ()))
