"""The reminder e-mails word for word: subject, text and HTML written out by hand, never by the mail code.

The dates are worked from DESIGN.md: a CPF validation on Tuesday 10 November 2026 counts Thursday 12,
Friday 13 and Monday 16 (11 November is Armistice, 14–15 a weekend); a dossier received on Monday
2 November 2026 gives 10 calendar days, Thursday 12 November, a working day.
"""

from __future__ import annotations

import email
from datetime import date
from email import policy

import pytest

from cnam_calendar.mail.compose import compose
from cnam_calendar.rules.model import UE, Learner
from cnam_calendar.rules.reminders import plan_reminders
from cnam_calendar.service import ouvres_for, schedule

SENDER = "Rappels Cnam <rappels@example.org>"
FAQ = "https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp?RH=1623911274792"
CPF_SOURCE = ("FAQ Ipst-Cnam, « Quels sont les délais pour valider ma demande CPF ? » : Une fois notre validation "
              "effectuée, vous disposez d'un délai de 3 jours ouvrés pour confirmer définitivement votre inscription "
              "sur votre espace CPF. Votre dossier doit être intégralement finalisé et validé avant le début du "
              f"semestre. <{FAQ}>")

CPF_J1_PLAIN = f"""Bonjour Camille Martin,

Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain).

Ce qu'il faut faire :
Confirmez votre inscription sur Mon Compte Formation avant cette date : sans confirmation, le financement CPF n'est pas engagé.

Comment cette date est calculée :
  • Validation de la demande CPF par le centre le mardi 10 novembre 2026 (jour D, non compté).
  • Délai : 3 jours ouvrés (du lundi au vendredi, hors jours fériés), comptés à partir du lendemain.
  • mercredi 11 novembre 2026 : non compté (jour férié : Armistice).
  • jeudi 12 novembre 2026 : 1er jour ouvré.
  • vendredi 13 novembre 2026 : 2e jour ouvré.
  • samedi 14 novembre 2026 : non compté (samedi).
  • dimanche 15 novembre 2026 : non compté (dimanche).
  • lundi 16 novembre 2026 : 3e jour ouvré.
  • Date limite pour confirmer l'inscription sur Mon Compte Formation : lundi 16 novembre 2026.
Source : {CPF_SOURCE}

Qui contacter : Ipst-Cnam (Toulouse, Albi) — contact@ipst-cnam.fr
FAQ : {FAQ}

-- 
Ce message est automatique. Pour ne plus recevoir ces rappels par e-mail, écrivez à rappels@example.org avec l'objet « stop aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa » ; votre calendrier (abonnement) reste à jour.
"""  # noqa: W291 (the signature separator is "-- " with its space)

CPF_J1_HTML_BODY = (
    "<p>Bonjour Camille Martin,</p>\n"
    '<div class="hero"><p class="hero-label">Confirmation CPF : date limite</p>\n'
    '<p class="hero-date">lundi 16 novembre 2026</p>\n'
    '<p class="hero-left">demain</p></div>\n'
    "<p><strong>Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain).</strong></p>\n"
    "<h2>Ce qu&#x27;il faut faire</h2>\n"
    "<p>Confirmez votre inscription sur Mon Compte Formation avant cette date : sans confirmation, le financement "
    "CPF n&#x27;est pas engagé.</p>\n"
    "<h2>Comment cette date est calculée</h2><ul>"
    "<li>Validation de la demande CPF par le centre le mardi 10 novembre 2026 (jour D, non compté).</li>"
    "<li>Délai : 3 jours ouvrés (du lundi au vendredi, hors jours fériés), comptés à partir du lendemain.</li>"
    "<li>mercredi 11 novembre 2026 : non compté (jour férié : Armistice).</li>"
    "<li>jeudi 12 novembre 2026 : 1er jour ouvré.</li>"
    "<li>vendredi 13 novembre 2026 : 2e jour ouvré.</li>"
    "<li>samedi 14 novembre 2026 : non compté (samedi).</li>"
    "<li>dimanche 15 novembre 2026 : non compté (dimanche).</li>"
    "<li>lundi 16 novembre 2026 : 3e jour ouvré.</li>"
    "<li>Date limite pour confirmer l&#x27;inscription sur Mon Compte Formation : lundi 16 novembre 2026.</li></ul>\n"
)

WITHDRAWAL_D7_PLAIN = """Hello Bob Smith,

Reminder: Withdrawal window (10 days) ends on Thursday 12 November 2026 (in 7 days).

What to do:
If you want to drop a course unit or cancel your registration, send your written request to the centre before this date.

How this date is worked out:
  • Registration file received on Monday 2 November 2026 (starting day, not counted).
  • 2026-11-02 + 10 calendar days = Thursday 12 November 2026 (public holidays inside the period count).
  • Thursday 12 November 2026 is a working day: no extension.
  • Deadline to ask to drop a UE or cancel the registration: Thursday 12 November 2026.
"""


@pytest.fixture(scope="module")
def reminders(ipst):
    people = [
        Learner("L1", "alice@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf", ("NFA001",),
                date(2026, 11, 2), date(2026, 11, 10), None, "fr"),
        Learner("L2", "bob@example.org", "Bob", "Smith", "ipst-cnam", "31", "cpf", ("NFA001",),
                date(2026, 11, 2), date(2026, 11, 10), None, "en"),
    ]
    rs = plan_reminders(people, {ipst.id: schedule(ipst, 2026)}, {ipst.id: ouvres_for(ipst, 2025, 2028)},
                        {"L1": "a" * 32, "L2": "b" * 32}, catalogues={ipst.id: [UE("NFA001", "Algo", 6, "S1", "FOAD")]})
    return {(r.learner_id, r.event_id, r.offset_days): r for r in rs}


def read(reminders, key, lang=None):
    """The e-mail of one reminder as a client reads it: parsed back from the bytes sent."""
    r = reminders[key]
    msg = compose(r.payload, r.key, sender=SENDER, lang=lang)
    msg = email.message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    return msg["Subject"].strip(), plain, html


def test_french_cpf_reminder_word_for_word(reminders):
    subject, plain, html = read(reminders, ("L1", "cpf-confirmation", 1))
    assert subject == "Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain)"
    assert plain == CPF_J1_PLAIN
    assert html.startswith('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">\n'
                           '<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    assert "<title>Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain).</title>" in html
    assert "max-width:600px" in html and "font-family:-apple-system," in html  # readable width, system fonts
    assert '<body><div class="wrap"><div class="card">\n' + CPF_J1_HTML_BODY in html
    assert html.endswith(
        "<h2>Qui contacter</h2>\n"
        '<p>Ipst-Cnam (Toulouse, Albi)<br><a href="mailto:contact@ipst-cnam.fr">contact@ipst-cnam.fr</a></p>\n'
        f'<p><a href="{FAQ}">Questions fréquentes (FAQ)</a></p>\n'
        '</div>\n<p class="small">Ce message est automatique. Pour ne plus recevoir ces rappels par e-mail, écrivez à '
        "rappels@example.org avec l&#x27;objet « stop aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa » ; votre calendrier "
        "(abonnement) reste à jour.</p>\n</div></body></html>\n")


def test_french_cpf_reminder_a_week_before_says_days_in_the_plural(reminders):
    # J-7 of 16 November is 9 November, before the validation of the 10th: not planned
    assert ("L1", "cpf-confirmation", 7) not in reminders
    subject, plain, _ = read(reminders, ("L1", "withdrawal", 7))
    assert subject == "Rappel : Délai de rétractation (10 jours) : date limite le jeudi 12 novembre 2026 (dans 7 jours)"
    assert "\nRappel : Délai de rétractation (10 jours) : date limite le jeudi 12 novembre 2026 (dans 7 jours).\n" \
        in plain
    assert "\nCe qu'il faut faire :\nSi vous souhaitez supprimer une UE ou annuler votre inscription" in plain


def test_english_withdrawal_reminder_word_for_word(reminders):
    subject, plain, html = read(reminders, ("L2", "withdrawal", 7))
    assert subject == "Reminder: Withdrawal window (10 days) ends on Thursday 12 November 2026 (in 7 days)"
    assert plain.startswith(WITHDRAWAL_D7_PLAIN)
    assert plain.endswith(
        "\nWhom to contact: Ipst-Cnam (Toulouse, Albi) — contact@ipst-cnam.fr\n"
        f"FAQ: {FAQ}\n\n-- \nThis message is automatic. To stop these reminder e-mails, write to "
        "rappels@example.org with the subject « stop bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb »; your calendar "
        "subscription stays up to date.\n")
    assert '<html lang="en">' in html and "<h2>How this date is worked out</h2><ul><li>Registration file received" in html


def test_exam_reminders_say_from_the_first_day(reminders):
    subject, plain, _ = read(reminders, ("L1", "ue-NFA001-exam-winter", 2))
    # S1 2026 ends Saturday 16 January 2027; the winter session starts the Monday after
    assert subject == ("Rappel : Examen NFA001 — 1re session (session d'examens d'hiver) à partir du "
                       "lundi 18 janvier 2027 (dans 2 jours)")
    assert "(dans 2 jours)." in plain
    subject, plain, _ = read(reminders, ("L2", "ue-NFA001-exam-winter", 1))
    assert subject == ("Reminder: Exam NFA001: first sitting (Winter exam session) from Monday 18 January 2027 "
                       "(tomorrow)")
    assert "(tomorrow)." in plain
