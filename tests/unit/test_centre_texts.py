"""What a learner reads comes from their own centre: links, sources, contact, sender, opt-out; titles keep their case."""

from __future__ import annotations

import email
from datetime import date
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.mail.compose import render
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.rules.model import UE, Learner
from cnam_calendar.rules.reminders import plan_reminders
from cnam_calendar.rules.sessions import exam_events
from cnam_calendar.service import ouvres_for, schedule

IPST_HOST = "ipst.cnam.fr"


def occitanie_mails(centre, **learner_changes) -> list:
    """Every reminder e-mail of an Occitanie learner (CPF, withdrawal, UE exams) as the daemon would send it."""
    one = Learner("O1", "o1@example.org", "Léa", "Roux", centre.id, "34", "cpf", ("UTC501",),
                  dossier_received=date(2026, 11, 2), cpf_validated=date(2026, 11, 10), **learner_changes)
    ues = [UE("UTC501", "Mathématiques", 4, "S1", "FOAD")]
    planned = plan_reminders([one], {centre.id: schedule(centre, 2026)}, {centre.id: ouvres_for(centre, 2025, 2028)},
                             {"O1": "e" * 32}, catalogues={centre.id: ues})
    assert {r.event_id for r in planned} >= {"cpf-confirmation", "withdrawal", "ue-UTC501-exam-winter"}
    return [(r, render(r.payload, r.key, date=r.due_at)) for r in planned]


def test_cnam_occitanie_feeds_carry_no_ipst_cnam_link(tmp_path: Path, run_cli) -> None:
    r = run_cli("build", "--centre", "cnam-occitanie", "--year", "2026", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "cnam-occitanie" / "2026").rglob("*.ics"))
    assert len(files) > 1
    for path in files:
        text = path.read_bytes().decode("utf-8").replace("\r\n ", "")  # unfolded
        assert IPST_HOST not in text, path
    calendar = (tmp_path / "cnam-occitanie" / "2026" / "calendar.ics").read_bytes().decode().replace("\r\n ", "")
    # where its FAQ is silent, the network value is used and said so, naming the FAQ it comes from
    assert "Source : Valeur du réseau Cnam\\, telle que l'énonce la FAQ Ipst-Cnam (la FAQ Cnam Occitanie ne" \
           " précise pas ce point)" in calendar
    assert "Source : FAQ Cnam Occitanie\\, « Jusqu'à quand puis-je m'inscrire ? »" in calendar  # its own


def test_ipst_cnam_keeps_its_own_faq_link(tmp_path: Path, run_cli) -> None:
    r = run_cli("build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "ipst-cnam" / "2026" / "calendar.ics").read_bytes().decode().replace("\r\n ", "")
    assert "Source : FAQ Ipst-Cnam\\, « Quels sont les délais pour valider ma demande CPF ? »" in text
    assert f"URL:https://{IPST_HOST}/contact/foire-aux-questions" in text


def test_cnam_occitanie_e_mails_come_from_cnam_occitanie(occitanie) -> None:
    for r, wire in occitanie_mails(occitanie):
        assert IPST_HOST not in wire.data.decode("ascii"), r.key
        msg = email.message_from_bytes(wire.data, policy=default_policy)
        assert IPST_HOST not in msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
        assert msg["From"] == "\"Cnam Occitanie (Montpellier)\" <lgr_contact@lecnam.net>", r.key
        assert wire.sender == "lgr_contact@lecnam.net"
        assert msg["List-Unsubscribe"] == "<mailto:lgr_contact@lecnam.net?subject=stop%20" + "e" * 32 + ">"
        plain = msg.get_body(("plain",)).get_content()
        assert "Qui contacter : Cnam Occitanie (Montpellier) — lgr_contact@lecnam.net — 04 67 63 63 40" in plain
        if r.event_id == "cpf-confirmation":
            assert "Source : Valeur du réseau Cnam, telle que l'énonce la FAQ Ipst-Cnam" in plain
            assert "FAQ :" not in plain  # no page of its own to link to


def test_sender_and_opt_out_from_the_centre_file_and_the_daemon_option_wins(calendars_copy) -> None:
    calendars = calendars_copy(edit={"cnam-occitanie.toml": lambda t: t.replace(
        "[reminders]\n", '[reminders]\nsender = "Rappels Cnam Occitanie <rappels@occitanie.example>"\n'
        'unsubscribe = "desabonnement@occitanie.example"\n')}, catalogues=False)
    centre = load_centre(calendars / "cnam-occitanie.toml")
    (r, wire), *_ = occitanie_mails(centre)
    msg = email.message_from_bytes(wire.data, policy=default_policy)
    assert msg["From"] == "Rappels Cnam Occitanie <rappels@occitanie.example>"
    assert msg["List-Unsubscribe"].startswith("<mailto:desabonnement@occitanie.example?subject=stop%20")
    assert "écrivez à desabonnement@occitanie.example" in msg.get_body(("plain",)).get_content()
    forced = render(r.payload, r.key, sender="rappels@daemon.example", date=r.due_at)
    assert email.message_from_bytes(forced.data, policy=default_policy)["From"] == "rappels@daemon.example"
    assert forced.sender == "rappels@daemon.example"


def test_a_sender_that_is_no_address_is_named_in_one_line(calendars_copy) -> None:
    calendars = calendars_copy(edit={"ipst-cnam.toml": lambda t: t.replace(
        "[reminders]\n", '[reminders]\nsender = "rappels"\n')}, catalogues=False)
    with pytest.raises(ConfigError) as err:
        load_centre(calendars / "ipst-cnam.toml")
    assert "reminders.sender" in str(err.value) and "adresse « rappels » invalide" in str(err.value)


def test_english_exam_titles_keep_the_case_of_names(ipst) -> None:
    sched = schedule(ipst, 2026)
    ue = next(u for u in load_catalogue(ipst) if u.semester == "S1")
    first, second = exam_events(ue, sched)
    assert first.title_en == f"Exam {ue.code}: first sitting (Winter exam session)"
    assert second.title_en == f"Exam {ue.code}: second sitting (June exam session)"
    assert second.title == f"Examen {ue.code} — 2e session (session d'examens de juin)"
