"""The explanations of the rules word for word, and the edges of each rule, written out by hand.

Every expected text and date below is worked from DESIGN.md with a calendar, never taken from the
engine: a reason emptied, a day left out of a prorogation, a bound moved by a day or a month fails.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cnam_calendar import service
from cnam_calendar.rules import engine
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.errors import RuleError
from cnam_calendar.rules.model import Centre, Closure, Override, YearSettings
from cnam_calendar.text.explain import render_all

D = date.fromisoformat
NATIONAL = service.DEFAULT_CENTRE
WITHDRAWAL_SOURCE = (
    "FAQ Ipst-Cnam, « Puis-je changer d'UE ou de modalité après mon inscription ? » : Vous disposez d'un délai de "
    "10 jours après la réception de votre dossier pour demander la suppression d'une UE pour le semestre en cours "
    "ou l'annulation de l'inscription. <https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp"
    "?RH=1623911274792>")
APPRENTICESHIP_SOURCE = (
    "FAQ Ipst-Cnam, « Dois-je trouver une entreprise avant de m'inscrire ou de débuter la formation ? » : Après "
    "admission, vous disposez d'un délai pouvant aller jusqu'à trois mois après la rentrée en formation pour signer "
    "votre contrat d'apprentissage. <https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp"
    "?RH=1623911274792>")
PROROGATION = ("le délai est prorogé au premier jour suivant qui n'est ni un samedi, ni un dimanche, ni un jour "
               "férié (Code de procédure civile, art. 642).")
WITHDRAWAL_LAST = "Date limite pour demander la suppression d'une UE ou l'annulation de l'inscription : "

# --- personal deadlines -----------------------------------------------------------------------------

WITHDRAWALS = [
    # Tue 15 Dec 2026 + 10 = Fri 25 Dec (Noël) → Sat 26, Sun 27 not kept → Mon 28 Dec
    ("2026-12-15", "2026-12-28", (
        "Réception du dossier d'inscription le mardi 15 décembre 2026 (jour de départ, non compté).",
        "2026-12-15 + 10 jours calendaires = vendredi 25 décembre 2026 (les jours fériés à l'intérieur du délai "
        "comptent).",
        "Le vendredi 25 décembre 2026 n'est pas un jour ouvré (jour férié : Noël) : " + PROROGATION,
        "samedi 26 décembre 2026 : non retenu (samedi).",
        "dimanche 27 décembre 2026 : non retenu (dimanche).",
        WITHDRAWAL_LAST + "lundi 28 décembre 2026.",
    )),
    # Wed 28 Apr 2027 + 10 = Sat 8 May, also Fête de la Victoire: both reasons → Sun 9 → Mon 10 May
    ("2027-04-28", "2027-05-10", (
        "Réception du dossier d'inscription le mercredi 28 avril 2027 (jour de départ, non compté).",
        "2027-04-28 + 10 jours calendaires = samedi 8 mai 2027 (les jours fériés à l'intérieur du délai comptent).",
        "Le samedi 8 mai 2027 n'est pas un jour ouvré (samedi ; jour férié : Fête de la Victoire) : " + PROROGATION,
        "dimanche 9 mai 2027 : non retenu (dimanche).",
        WITHDRAWAL_LAST + "lundi 10 mai 2027.",
    )),
    # Mon 21 Apr 2008 + 10 = Thu 1 May 2008, Ascension and Fête du Travail on one day → Fri 2 May
    ("2008-04-21", "2008-05-02", (
        "Réception du dossier d'inscription le lundi 21 avril 2008 (jour de départ, non compté).",
        "2008-04-21 + 10 jours calendaires = jeudi 1er mai 2008 (les jours fériés à l'intérieur du délai comptent).",
        "Le jeudi 1er mai 2008 n'est pas un jour ouvré (jour férié : Ascension, Fête du Travail) : " + PROROGATION,
        WITHDRAWAL_LAST + "vendredi 2 mai 2008.",
    )),
    # Sat 24 Apr 2027 + 10 = Tue 4 May, a working day
    ("2027-04-24", "2027-05-04", (
        "Réception du dossier d'inscription le samedi 24 avril 2027 (jour de départ, non compté).",
        "2027-04-24 + 10 jours calendaires = mardi 4 mai 2027 (les jours fériés à l'intérieur du délai comptent).",
        "Le mardi 4 mai 2027 est un jour ouvré : pas de prorogation.",
        WITHDRAWAL_LAST + "mardi 4 mai 2027.",
    )),
]


@pytest.mark.parametrize(("origin", "deadline", "steps"), WITHDRAWALS, ids=[w[0] for w in WITHDRAWALS])
def test_withdrawal_word_for_word(origin: str, deadline: str, steps: tuple[str, ...], ipst: Centre) -> None:
    d = service.deadline("withdrawal", D(origin), ipst)
    assert (d.rule, d.origin, d.deadline) == ("withdrawal", D(origin), D(deadline))
    assert render_all(d.explanation) == steps
    assert (d.title, d.title_en) == ("Délai de rétractation (10 jours) : date limite", "Withdrawal window (10 days) ends")
    assert d.source.cite() == WITHDRAWAL_SOURCE


APPRENTICESHIPS = [
    # 30 Nov 2026 + 3 months: 30 February does not exist → Sunday 28 February 2027, not moved
    ("2026-11-30", "2027-02-28", (
        "Début de la formation le lundi 30 novembre 2026.",
        "Délai : 3 mois, jusqu'au même quantième.",
        "Le 30 du mois d'arrivée n'existe pas : le délai finit le dernier jour du mois, le dimanche 28 février 2027.",
        "Pas de report si ce jour est un samedi, un dimanche ou un jour férié : c'est une durée de statut, pas un "
        "acte de procédure.",
        "Date limite pour signer le contrat d'apprentissage : dimanche 28 février 2027.",
    )),
    ("2026-10-12", "2027-01-12", (
        "Début de la formation le lundi 12 octobre 2026.",
        "Délai : 3 mois, jusqu'au même quantième.",
        "2026-10-12 + 3 mois = mardi 12 janvier 2027.",
        "Pas de report si ce jour est un samedi, un dimanche ou un jour férié : c'est une durée de statut, pas un "
        "acte de procédure.",
        "Date limite pour signer le contrat d'apprentissage : mardi 12 janvier 2027.",
    )),
]


@pytest.mark.parametrize(("origin", "deadline", "steps"), APPRENTICESHIPS, ids=[a[0] for a in APPRENTICESHIPS])
def test_apprenticeship_word_for_word(origin: str, deadline: str, steps: tuple[str, ...], ipst: Centre) -> None:
    d = service.deadline("apprenticeship-contract", D(origin), ipst)
    assert (d.origin, d.deadline) == (D(origin), D(deadline))
    assert render_all(d.explanation) == steps
    assert (d.title, d.title_en) == ("Contrat d'apprentissage : date limite de signature",
                                     "Apprenticeship contract: signature deadline")
    assert d.source.cite() == APPRENTICESHIP_SOURCE


def test_cpf_confirmation_titles(ipst: Centre) -> None:
    d = service.deadline("cpf-confirmation", D("2026-11-09"), ipst)
    assert (d.title, d.title_en) == ("Confirmation CPF : date limite", "CPF confirmation deadline")
    assert d.source.cite().startswith("FAQ Ipst-Cnam, « Quels sont les délais pour valider ma demande CPF ? »")


def test_unknown_rule_names_the_three_rules() -> None:
    with pytest.raises(RuleError) as info:
        service.deadline("cpf", D("2026-11-09"), NATIONAL)
    assert str(info.value) == "règle inconnue « cpf » (attendu : cpf-confirmation, withdrawal, apprenticeship-contract)"


# --- institutional deadlines ------------------------------------------------------------------------

def test_registration_close_and_latest_cpf_validation_word_for_word(ipst: Centre) -> None:
    # 2027-2028: 15 Oct 2027 is a Friday → S1 from Monday 11 Oct; 15 Feb 2028 a Tuesday → S2 from Monday 14 Feb
    s = service.schedule(ipst, 2027)
    expected = {
        "registration-close-s1": ("2027-10-10", "Clôture des inscriptions (semestre 1)",
                                  "Registration closes (semester 1)", (
            "Règle du centre : l'inscription est possible jusqu'au démarrage des cours.",
            "Le semestre 1 commence le lundi 11 octobre 2027 : dernier jour pour s'inscrire le dimanche 10 octobre "
            "2027.")),
        "registration-close-s2": ("2028-02-13", "Clôture des inscriptions (semestre 2)",
                                  "Registration closes (semester 2)", (
            "Règle du centre : l'inscription est possible jusqu'au démarrage des cours.",
            "Le semestre 2 commence le lundi 14 février 2028 : dernier jour pour s'inscrire le dimanche 13 février "
            "2028.")),
        # the last working day before Mon 11 Oct is Fri 8; three back: Tue 5 (Wed 6, Thu 7, Fri 8 counted);
        # a validation on Wed 6 gives Thu 7, Fri 8, Mon 11: the first day of classes, too late
        "cpf-latest-validation-s1": ("2027-10-05", "CPF : dernière validation possible pour le semestre 1",
                                     "CPF: latest validation for semester 1", (
            "Le semestre 1 commence le lundi 11 octobre 2027 ; le dossier doit être confirmé avant.",
            "Dernier jour ouvré avant le début : vendredi 8 octobre 2027.",
            "En comptant 3 jours ouvrés en arrière : validation au plus tard le mardi 5 octobre 2027, confirmation "
            "possible jusqu'au vendredi 8 octobre 2027.",
            "Une validation le mercredi 6 octobre 2027 donnerait jusqu'au lundi 11 octobre 2027 pour confirmer : trop "
            "tard pour ce semestre.")),
        "cpf-latest-validation-s2": ("2028-02-08", "CPF : dernière validation possible pour le semestre 2",
                                     "CPF: latest validation for semester 2", (
            "Le semestre 2 commence le lundi 14 février 2028 ; le dossier doit être confirmé avant.",
            "Dernier jour ouvré avant le début : vendredi 11 février 2028.",
            "En comptant 3 jours ouvrés en arrière : validation au plus tard le mardi 8 février 2028, confirmation "
            "possible jusqu'au vendredi 11 février 2028.",
            "Une validation le mercredi 9 février 2028 donnerait jusqu'au lundi 14 février 2028 pour confirmer : trop "
            "tard pour ce semestre.")),
    }
    for event_id, (day, title, title_en, steps) in expected.items():
        e = s.get(event_id)
        assert (e.kind, e.start, e.end, e.title, e.title_en) == ("deadline", D(day), D(day), title, title_en), event_id
        assert render_all(e.explanation) == steps, event_id
        assert e.categories == ("Échéance",), event_id
    assert s.get("registration-close-s1").source.cite().startswith("FAQ Ipst-Cnam")
    assert s.get("cpf-latest-validation-s1").source.cite().startswith("FAQ Ipst-Cnam, « Quels sont les délais")


def test_latest_cpf_validation_with_no_working_day_to_count(ipst: Centre) -> None:
    zero = replace(ipst, rules=replace(ipst.rules, cpf_working_days=0))
    e = service.schedule(zero, 2027).get("cpf-latest-validation-s1")
    assert e.start == D("2027-10-08")  # the last working day before Monday 11 October itself
    assert render_all(e.explanation)[2] == ("En comptant 0 jours ouvrés en arrière : validation au plus tard le vendredi 8 octobre "
                                "2027, confirmation possible jusqu'au vendredi 8 octobre 2027.")


@pytest.mark.parametrize(("year", "day", "second"), [
    (2027, "2028-02-29", "Dernier jour de février 2028 : mardi 29 février 2028 (année bissextile)."),
    (2026, "2027-02-28", "Dernier jour de février 2027 : dimanche 28 février 2027."),
    (2029, "2030-02-28", "Dernier jour de février 2030 : jeudi 28 février 2030."),
])
def test_add_drop_close_word_for_word(ipst: Centre, year: int, day: str, second: str) -> None:
    e = service.schedule(ipst, year).get("add-drop-close")
    assert (e.start, e.end) == (D(day), D(day))
    assert render_all(e.explanation) == (
        "Règle du centre : ajout ou suppression d'UE par bulletin rectificatif jusqu'à fin février.",
        second,
        "Pas de report si ce jour est un samedi ou un dimanche : c'est une date du calendrier du centre, pas un délai.",
    )


# --- overrides ----------------------------------------------------------------------------------------

def with_year(centre: Centre, year: int, overrides=(), closures=()) -> Centre:
    settings = YearSettings({o.event_id: o for o in overrides}, tuple(closures))
    return replace(centre, years={**centre.years, year: settings})


def test_override_of_a_period_by_its_start_only_keeps_the_end_and_says_what_the_rule_gave(ipst: Centre) -> None:
    centre = with_year(ipst, 2026, [Override("semester-2", D("2027-02-22"))])
    e = service.schedule(centre, 2026).get("semester-2")
    assert (e.start, e.end, e.overridden) == (D("2027-02-22"), D("2027-05-31"), True)
    assert render_all(e.explanation) == (
        "Date fixée par le centre (ipst-cnam.toml : years.2026.overrides.semester-2).",
        "Sans cette dérogation, la règle aurait donné : du lundi 15 février 2027 au lundi 31 mai 2027.",
        "(règle) Règle : du lundi de la semaine ISO qui contient le 15 février au 31 mai (« de mi-février à fin mai »).",
        "(règle) Le 15 février 2027 est un lundi : la semaine commence le lundi 15 février 2027.",
        "(règle) Fin : le lundi 31 mai 2027.",
    )


def test_override_of_a_single_day_by_its_start_moves_the_whole_day(ipst: Centre) -> None:
    centre = with_year(ipst, 2026, [Override("add-drop-close", D("2027-02-26"), None, "le 28 février est un dimanche")])
    e = service.schedule(centre, 2026).get("add-drop-close")
    assert (e.start, e.end) == (D("2027-02-26"), D("2027-02-26"))
    assert render_all(e.explanation)[:2] == (
        "Date fixée par le centre (ipst-cnam.toml : years.2026.overrides.add-drop-close), motif : le 28 février est "
        "un dimanche.",
        "Sans cette dérogation, la règle aurait donné : dimanche 28 février 2027.",
    )
    assert render_all(e.explanation)[2] == ("(règle) Règle du centre : ajout ou suppression d'UE par bulletin rectificatif "
                                "jusqu'à fin février.")


# --- holidays ------------------------------------------------------------------------------------------

def test_holidays_are_those_from_1_september_to_30_september_inclusive() -> None:
    injected = {D("2026-08-31"): ("Veille",), D("2026-09-01"): ("Premier",), D("2027-09-30"): ("Dernier",),
                D("2027-10-01"): ("Lendemain",), D("2027-05-01"): ("Fête du Travail", "Fête locale")}
    events = engine.holiday_events(2026, NATIONAL, WorkingCalendar(injected, 2026, 2027))
    assert [(e.id, e.title, e.title_en) for e in events] == [
        ("holiday-2026-09-01", "Premier", "Premier"),
        ("holiday-2027-05-01", "Fête du Travail, Fête locale", "Labour Day, Fête locale"),
        ("holiday-2027-09-30", "Dernier", "Dernier"),
    ]
    assert render_all(events[1].explanation) == ("Jour férié le samedi 1er mai 2027 : Fête du Travail, Fête locale.",
                                     "Il tombe un week-end : il n'est pas reporté.")
    assert render_all(events[0].explanation) == ("Jour férié le mardi 1er septembre 2026 : Premier.",)


# --- check ---------------------------------------------------------------------------------------------

WHERE = "calendars/ipst-cnam.toml : années 2026-2027"


def problems(ipst: Centre, overrides=(), closures=(), path: str | None = "calendars/ipst-cnam.toml") -> list[str]:
    centre = replace(with_year(ipst, 2026, overrides, closures), path=path)
    return engine.check_schedule(service.schedule(centre, 2026))


def test_a_sound_year_has_no_problem(ipst: Centre) -> None:
    assert problems(ipst) == []


def test_semester_1_ending_the_day_semester_2_starts_overlaps(ipst: Centre) -> None:
    # (the winter session, from the Monday after S1 to the Saturday before S2, is then inverted too)
    found = problems(ipst, [Override("semester-1", None, D("2027-02-15"))])
    assert found == [f"{WHERE} : « exam-winter » finit (2027-02-13) avant de commencer (2027-02-22)",
                     f"{WHERE} : le semestre 1 (fin 2027-02-15) chevauche le semestre 2 (début 2027-02-15)"]
    assert not [p for p in problems(ipst, [Override("semester-1", None, D("2027-02-14"))]) if "chevauche" in p]


def test_the_centre_is_named_by_its_id_when_it_has_no_file(ipst: Centre) -> None:
    found = problems(ipst, [Override("semester-1", None, D("2027-02-15"))], path=None)
    assert found[-1] == ("ipst-cnam : années 2026-2027 : le semestre 1 (fin 2027-02-15) chevauche le semestre 2 "
                         "(début 2027-02-15)")


@pytest.mark.parametrize(("start", "end", "outside"), [
    ("2026-09-01", "2026-09-02", False),  # first day of the academic year
    ("2026-08-31", "2026-09-02", True),  # starts the day before
    ("2027-09-29", "2027-09-30", False),  # last day
    ("2027-09-29", "2027-10-01", True),  # ends the day after
    ("2026-09-30", "2026-10-02", False),  # a month in: a limit shifted by a month would flag it
    ("2027-08-30", "2027-08-31", False),
])
def test_closures_must_lie_in_the_academic_year(ipst: Centre, start: str, end: str, outside: bool) -> None:
    found = problems(ipst, closures=[Closure("pont", "Pont", D(start), D(end))])
    expected = [f"{WHERE} : « closure-pont » ({start} – {end}) sort de l'année universitaire (2026-09-01 – 2027-09-30)"]
    assert found == (expected if outside else [])


@pytest.mark.parametrize(("event_id", "start", "end"), [
    ("semester-1", "2026-08-31", None),
    ("exam-september", None, "2027-10-01"),
])
def test_semesters_and_exams_must_lie_in_the_academic_year(ipst: Centre, event_id: str, start, end) -> None:
    found = problems(ipst, [Override(event_id, start and D(start), end and D(end))])
    assert len(found) == 1 and f"« {event_id} »" in found[0] and "sort de l'année universitaire" in found[0]
    assert found[0].startswith(WHERE + " : ")


def test_an_inverted_event_is_named_with_its_dates(ipst: Centre) -> None:
    found = problems(ipst, [Override("exam-june", D("2027-06-20"), D("2027-06-10"))])
    assert found == [f"{WHERE} : « exam-june » finit (2027-06-10) avant de commencer (2027-06-20)"]
