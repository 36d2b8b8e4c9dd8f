"""Outage: one line when a part fails, one when it is back, a backoff on the clock given (no sleep)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from cnam_calendar.mail.outage import Outage

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_one_line_per_outage_and_one_when_it_ends_with_a_doubling_capped_wait(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    outage = Outage("la base", clock)
    caplog.set_level(logging.INFO, "cnam_calendar.mail.daemon")
    assert outage.ready() and not outage.failing and not outage.ok()
    waits = []
    for _ in range(6):
        outage.failed("connection refused")
        waits.append((outage.next_try - clock.now).total_seconds())
        assert not outage.ready()
        clock.now = outage.next_try - timedelta(milliseconds=1)
        assert not outage.ready()
        clock.advance(0.001)
        assert outage.ready()
    assert waits == [1, 2, 4, 4, 4, 4]
    assert outage.ok() and not outage.failing and outage.ready()
    assert not outage.ok()  # already over: nothing more said
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("la base est indisponible : connection refused ;")
    assert lines[1] == "la base est de nouveau disponible après 19 s de panne (6 essais) ; les envois reprennent"
    outage.failed("disk full")  # a new outage: a new line, the wait starts over
    assert (outage.next_try - clock.now) == timedelta(seconds=1)
    assert len(caplog.records) == 3
