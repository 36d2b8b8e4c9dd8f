"""The operator's log lines: French by default, English when asked, JSON that parses, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone

import pytest

from cnam_calendar.mail.observe import Observer
from cnam_calendar.mail.smtp import SendResult
from cnam_calendar.oplog import N_, SECRET, Count, JsonFormatter, Msg, TextFormatter, masked, setup

KEY = "2026-00001/cpf-confirmation.x.ipst-cnam.2026@cnam-calendar/J-1/2026-12-08"
NEXT = datetime(2026, 12, 2, 14, 32, 10, tzinfo=timezone.utc)


def record(observe) -> logging.LogRecord:  # noqa: ANN001
    """Return the one record ``observe(Observer())`` logs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, r: logging.LogRecord) -> None:
            records.append(r)

    logger = logging.getLogger("cnam_calendar.mail.daemon")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        observe(Observer())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert len(records) == 1
    return records[0]


def retried(o: Observer) -> None:
    o.retried(KEY, SendResult("retry", "451 4.3.0 try again later", 451, "body"), 2, NEXT)


def test_a_retry_says_why_and_when_in_french_by_default():
    r = record(retried)
    line = TextFormatter().format(r)
    assert line.endswith(f"WARNING rappel reporté : {KEY} (apprenant 2026-00001, essai 2) ; raison : 451 4.3.0 try "
                         "again later ; nouvel essai le 2026-12-02 15:32:10 CET")  # Paris time, winter
    assert r.getMessage().startswith("rappel reporté : ")  # any other handler reads the French too


def test_the_same_line_in_english():
    line = TextFormatter("en").format(record(retried))
    assert f"WARNING reminder retried: {KEY} (learner 2026-00001, attempt 2); reason: 451 4.3.0 try again later; " \
           "next attempt at 2026-12-02 15:32:10 CET" in line


def test_json_lines_parse_and_carry_every_value():
    line = JsonFormatter().format(record(retried))
    data = json.loads(line)
    assert data["event"] == "retried" and data["level"] == "warning"
    assert data["key"] == KEY and data["learner"] == "2026-00001" and data["attempt"] == 2
    assert data["reason"] == "451 4.3.0 try again later"
    assert data["next_attempt"] == "2026-12-02T14:32:10+00:00"
    assert data["message"].startswith("rappel reporté : ")
    assert datetime.fromisoformat(data["time"]).tzinfo is not None


def test_a_foreign_record_goes_through_unchanged_and_json_escapes_it():
    r = logging.LogRecord("apscheduler", logging.WARNING, __file__, 1, 'job "x" missed by %d s\n', (3,), None)
    assert TextFormatter().format(r).endswith('WARNING job "x" missed by 3 s\n')
    assert json.loads(JsonFormatter().format(r))["message"] == 'job "x" missed by 3 s\n'


def test_translated_values_and_the_outage_line():
    part = Msg(N_("le relais SMTP %(relay)s"), relay="smtp.example.org:587")
    assert str(part) == "le relais SMTP smtp.example.org:587"
    assert part.translated("en") == "the SMTP relay smtp.example.org:587"
    r = logging.LogRecord("cnam_calendar.mail.daemon", logging.WARNING, __file__, 1,
                          "%(part)s est de nouveau disponible après %(down)s de panne (%(tries)s) ; "
                          "les envois reprennent",
                          ({"part": part, "down": "3 s", "tries": Count(2, "%(num)d essai", "%(num)d essais")},), None)
    assert TextFormatter("en").format(r).endswith(
        "the SMTP relay smtp.example.org:587 is available again after 3 s of outage (2 attempts); sending resumes")
    assert TextFormatter("fr").format(r).endswith("(2 essais) ; les envois reprennent")
    assert json.loads(JsonFormatter("en").format(r))["tries"] == 2  # a number for the log shippers
    one = Count(1, "%(num)d essai", "%(num)d essais")
    assert (one.translated("fr"), one.translated("en"), Count(0, "%(num)d essai", "%(num)d essais").translated("fr")) == (
        "1 essai", "1 attempt", "0 essai")
    assert json.loads(JsonFormatter("en").format(r))["part"] == "the SMTP relay smtp.example.org:587"


def test_secrets_are_masked_in_a_configuration():
    shown = masked({"base": "postgresql+psycopg://rappels:s3cr3t@db.example.org/cnam", "smtp_password": "hunter2",
                    "smtp_user": "rappels", "secret_key": "abc", "token": "", "lanes": 4})
    assert shown == {"base": f"postgresql+psycopg://rappels:{SECRET}@db.example.org/cnam",
                     "smtp_password": SECRET, "smtp_user": "rappels", "secret_key": SECRET, "token": None, "lanes": 4}


def test_the_start_line_masks_the_password_in_text_and_json():
    def start(o: Observer) -> None:
        o.started("vm:1", {"base": "postgresql+psycopg://u:pw@h/db", "smtp_password": "hunter2", "lanes": 2})

    r = record(start)
    text, data = TextFormatter().format(r), json.loads(JsonFormatter().format(r))
    for shown in (text, json.dumps(data)):
        assert "hunter2" not in shown and ":pw@" not in shown
    assert "démarrage du démon vm:1 : base=postgresql+psycopg://u:***@h/db, smtp_password=***, lanes=2" in text
    assert data["config"] == {"base": "postgresql+psycopg://u:***@h/db", "smtp_password": "***", "lanes": 2}


def test_setup_sends_our_lines_at_the_level_asked_and_others_only_from_warning():
    out = io.StringIO()
    handler = setup("json", "warning", stream=out)
    try:
        logging.getLogger("cnam_calendar.mail.daemon").info("not shown")
        logging.getLogger("cnam_calendar.mail.daemon").warning("shown")
        logging.getLogger("apscheduler.scheduler").info("Added job")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("cnam_calendar").setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["shown"]


@pytest.mark.parametrize("bad", [("xml", "info"), ("text", "loud")])
def test_setup_refuses_an_unknown_format_or_level(bad):
    with pytest.raises(ValueError, match="unknown log"):
        setup(*bad)


def test_a_line_without_values_is_translated_too():
    r = logging.LogRecord("cnam_calendar.web", logging.INFO, __file__, 1, "arrêt du serveur", (), None)
    assert TextFormatter("en").format(r).endswith("INFO server stopping")
    assert json.loads(JsonFormatter().format(r))["message"] == "arrêt du serveur"
