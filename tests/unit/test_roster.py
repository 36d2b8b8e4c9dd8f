"""Roster CSV: parsing, every validation rule with its message, routing warnings, the synthetic generator."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import (
    COLUMNS,
    STATUSES,
    Learner,
    generate_learners,
    parse_roster,
    read_roster,
    roster_csv,
    validate_rows,
)
from cnam_calendar.rules.errors import RosterError
from cnam_calendar.rules.model import Centre

HEADER = ",".join(COLUMNS)
CATALOGUES = {"ipst-cnam": {"NFA001", "NFA002", "GDN100"}, "cnam-occitanie": {"UTC501", "ENG210"}}


@pytest.fixture(scope="module")
def centres(calendars_dir: Path) -> list[Centre]:
    return load_centres(calendars_dir)


def check(text: str, centres: list[Centre], source: str = "learners.csv"):
    return validate_rows(parse_roster(text, source), centres, CATALOGUES, source=source)


def errors(text: str, centres: list[Centre]) -> list[str]:
    with pytest.raises(RosterError) as info:
        check(text, centres)
    return info.value.lines()


def test_clean_file_gives_learners(centres):
    text = (f"{HEADER}\n"
            "2026-001,camille.martin@example.org,Camille,Martin,ipst-cnam,31,cpf,NFA001;GDN100,"
            "2026-09-10,2026-09-02,,fr\n"
            "2026-002,hugo.petit@example.org,Hugo,Petit,cnam-occitanie,34,apprentissage,UTC501,,,2026-10-01,en\n"
            "2026-003,lea.roux@example.org,Léa,Roux,ipst-cnam,9,individuel,,,,,\n")
    roster = check(text, centres)
    assert roster.warnings == ()
    assert roster.learners == (
        Learner("2026-001", "camille.martin@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf",
                ("NFA001", "GDN100"), date(2026, 9, 10), date(2026, 9, 2), None, "fr"),
        Learner("2026-002", "hugo.petit@example.org", "Hugo", "Petit", "cnam-occitanie", "34", "apprentissage",
                ("UTC501",), None, None, date(2026, 10, 1), "en"),
        # "9": a spreadsheet dropped the zero; empty lang means fr.
        Learner("2026-003", "lea.roux@example.org", "Léa", "Roux", "ipst-cnam", "09", "individuel"),
    )


def test_semicolon_separated_file_with_bom(centres):
    text = ("\ufeff" + HEADER.replace(",", ";") + "\n"
            '2026-001;c.m@example.org;Camille;Martin;ipst-cnam;31;individuel;"NFA001;NFA002";;;;fr\n')
    (learner,) = check(text, centres).learners
    assert learner.ues == ("NFA001", "NFA002")


def test_every_error_is_listed_with_line_and_column(centres):
    text = (f"{HEADER}\n"
            "A1,pas-une-adresse,Camille,Martin,ipst-cnam,31,cpf,NFA001,2026-09-10,2026-09-01,,fr\n"
            "A2,a2@example.org,Léa,Durand,ipst-cnamm,31,apprentisage,NFA001,12/10/2026,,2026-02-30,de\n"
            "A1,a3@example.org,Hugo,Petit,ipst-cnam,75,individuel,NFA01;XYZ999,,,,\n"
            "A4,a4@example.org,,Petit,ipst-cnam,31,individuel,NFA001,,,,,extra\n"
            "A 5,a5@example..org,Noé,Blanc,ipst-cnam,20,,,0026-01-01,,,\n")
    assert errors(text, centres) == [
        "learners.csv:2 (email) : adresse e-mail invalide « pas-une-adresse » ; "
        "attendu : une adresse comme prenom.nom@exemple.fr",
        "learners.csv:3 (centre) : centre inconnu « ipst-cnamm » ; attendu : « ipst-cnam »",
        "learners.csv:3 (status) : statut « apprentisage » inconnu ; attendu : « apprentissage »",
        "learners.csv:3 (dossier_received) : date invalide « 12/10/2026 » ; "
        "attendu : AAAA-MM-JJ, ex. 2026-10-12 pour 12/10/2026",
        "learners.csv:3 (training_start) : date invalide « 2026-02-30 » ; attendu : une date qui existe, AAAA-MM-JJ",
        "learners.csv:3 (lang) : langue « de » inconnue ; attendu : fr ou en (vide = fr)",
        "learners.csv:4 (id) : identifiant « A1 » déjà utilisé ligne 2 ; "
        "attendu : un identifiant différent pour chaque apprenant",
        "learners.csv:4 (ues) : UE « NFA01 » absente du catalogue de ipst-cnam ; attendu : « NFA001 »",
        "learners.csv:4 (ues) : UE « XYZ999 » absente du catalogue de ipst-cnam ; "
        "attendu : un code de calendars/ipst-cnam.ues.csv",
        "learners.csv:5 : 13 champs au lieu de 12 ; attendu : un champ par colonne de l'en-tête ; "
        "mettez entre guillemets un champ qui contient une virgule",
        "learners.csv:5 (first_name) : champ vide ; attendu : le prénom",
        "learners.csv:6 (id) : identifiant « A 5 » invalide ; attendu : lettres, chiffres, « . », « _ » ou « - », "
        "64 au plus",
        "learners.csv:6 (email) : adresse e-mail invalide « a5@example..org » ; "
        "attendu : une adresse comme prenom.nom@exemple.fr",
        "learners.csv:6 (department) : département « 20 » invalide ; "
        "attendu : un numéro de département, ex. 31, 09, 2A ou 974",
        "learners.csv:6 (status) : statut vide ; attendu : l'un de apprentissage, professionnalisation, cpf, "
        "individuel",
        "learners.csv:6 (dossier_received) : date invalide « 0026-01-01 » ; "
        "attendu : une date entre le 2000-01-01 et le 2100-12-31, AAAA-MM-JJ",
    ]


def test_one_bad_row_among_good_ones_rejects_the_whole_file(centres):
    good = "A{n},a{n}@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA001,,,,fr\n"
    text = HEADER + "\n" + "".join(good.format(n=n) for n in range(100)) + "B,b@,X,Y,ipst-cnam,31,cpf,,,,,\n"
    with pytest.raises(RosterError) as info:
        check(text, centres)
    assert info.value.lines() == ["learners.csv:102 (email) : adresse e-mail invalide « b@ » ; "
                                  "attendu : une adresse comme prenom.nom@exemple.fr"]


def test_quoted_newline_keeps_line_numbers_true(centres):
    text = (f"{HEADER}\n"
            'A1,a1@example.org,Camille,"Martin\nDupont",ipst-cnam,31,individuel,,,,,\n'
            "A2,bad,Léa,Roux,ipst-cnam,31,individuel,,,,,\n")
    found = errors(text, centres)
    assert found[0].startswith("learners.csv:2 (last_name) : caractère de contrôle U+000A (saut de ligne) en position 7")
    assert found[1].startswith("learners.csv:4 (email)")


def test_cpf_without_validation_date_is_only_a_warning(centres):
    text = f"{HEADER}\nA1,a1@example.org,Camille,Martin,ipst-cnam,31,cpf,,2026-09-10,,,\n"
    roster = check(text, centres)
    assert len(roster.learners) == 1
    assert roster.warnings == (
        "learners.csv:2 (cpf_validated) : apprenant CPF sans date de validation, l'échéance de confirmation "
        "ne sera pas calculée ; attendu : la date de validation du dossier CPF, AAAA-MM-JJ",)


def test_department_served_by_another_centre_names_it(centres):
    text = (f"{HEADER}\n"
            "A1,a1@example.org,Camille,Martin,cnam-occitanie,81,individuel,,,,,\n"
            "A2,a2@example.org,Hugo,Petit,ipst-cnam,34,individuel,,,,,\n")
    roster = check(text, centres)
    assert len(roster.learners) == 2
    assert roster.warnings == (
        "learners.csv:2 (department) : département 81 non desservi par Cnam Occitanie (Montpellier) ; "
        "il relève du centre Ipst-Cnam (Toulouse, Albi) (ipst-cnam)",
        "learners.csv:3 (department) : département 34 non desservi par Ipst-Cnam (Toulouse, Albi) ; "
        "il relève du centre Cnam Occitanie (Montpellier) (cnam-occitanie)",
    )


def test_department_served_by_no_known_centre_points_to_the_regional_one(centres):
    text = f"{HEADER}\nA1,a1@example.org,Camille,Martin,ipst-cnam,75,individuel,,,,,\n"
    assert check(text, centres).warnings == (
        "learners.csv:2 (department) : département 75 non desservi par Ipst-Cnam (Toulouse, Albi) ; "
        "l'apprenant doit s'inscrire auprès du centre Cnam de sa région",)


def test_ue_codes_are_matched_case_insensitively_and_deduplicated(centres):
    text = f"{HEADER}\nA1,a1@example.org,Camille,Martin,ipst-cnam,31,individuel,nfa001; NFA001 ;gdn100,,,,\n"
    assert check(text, centres).learners[0].ues == ("NFA001", "GDN100")


def test_ue_of_another_centre_is_an_error(centres):
    text = f"{HEADER}\nA1,a1@example.org,Camille,Martin,ipst-cnam,31,individuel,UTC501,,,,\n"
    assert errors(text, centres) == ["learners.csv:2 (ues) : UE « UTC501 » absente du catalogue de ipst-cnam ; "
                                     "attendu : un code de calendars/ipst-cnam.ues.csv"]


def test_header_problems_are_all_listed(centres):
    text = "id,e-mail,first_name,last_name,centre,status,ues,ues\nA1,a@example.org,C,M,ipst-cnam,cpf,,\n"
    assert errors(text, centres) == [
        "learners.csv:1 (e-mail) : colonne inconnue ; attendu : « email »",
        "learners.csv:1 (ues) : colonne en double ; attendu : chaque colonne une seule fois",
        # « e-mail » was taken for « email »: one error for that mistake, not also « absente » (issue 18)
        "learners.csv:1 (department) : colonne obligatoire absente ; attendu : une colonne « department »",
    ]


def test_optional_columns_may_be_left_out(centres):
    text = "id,email,first_name,last_name,centre,department,status\nA1,a@example.org,C,M,ipst-cnam,31,individuel\n"
    assert check(text, centres).learners == (Learner("A1", "a@example.org", "C", "M", "ipst-cnam", "31",
                                                     "individuel"),)


def test_empty_file(centres):
    assert errors("", centres)[0].startswith("learners.csv:1 : fichier vide ou sans en-tête")


def test_header_only_gives_no_learner(centres):
    assert check(HEADER + "\n\n", centres).learners == ()


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(RosterError, match="fichier introuvable"):
        read_roster(tmp_path / "absent.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "\nA1,a@example.org,Léa,Roux,ipst-cnam,31,cpf,,,,,\n").encode("latin-1"))
    with pytest.raises(RosterError) as info:
        read_roster(latin1)
    assert str(info.value) == (f"{latin1}:2 : texte non UTF-8 ; attendu : un fichier CSV enregistré en UTF-8 "
                               "(« CSV UTF-8 » dans le tableur)")


# Synthetic rosters

CODES = {cid: sorted(codes) for cid, codes in CATALOGUES.items()}


def test_generator_is_deterministic_and_valid(centres):
    first = generate_learners(500, 7, centres, CODES, 2026)
    assert first == generate_learners(500, 7, centres, CODES, 2026)
    assert first != generate_learners(500, 8, centres, CODES, 2026)
    roster = check(roster_csv(first), centres)  # the generated file passes its own validation
    assert roster.learners == tuple(first)


def test_generator_mix_is_realistic_and_fictitious(centres):
    learners = generate_learners(2000, 1, centres, CODES, 2026)
    assert len({lr.id for lr in learners}) == 2000
    assert all(lr.email.endswith("@example.org") for lr in learners)
    statuses = Counter(lr.status for lr in learners)
    assert set(statuses) == set(STATUSES) and min(statuses.values()) > 100
    served = {c.id: set(c.departments) for c in centres}
    assert sum(lr.department in served[lr.centre] for lr in learners) > 0.85 * 2000
    assert all(set(lr.ues) <= CATALOGUES[lr.centre] and lr.ues for lr in learners)
    for lr in learners:
        assert lr.dossier_received and date(2026, 9, 1) <= lr.dossier_received <= date(2027, 6, 30)
        if lr.training_start:
            assert date(2026, 9, 1) <= lr.training_start <= date(2027, 6, 30)
        assert (lr.cpf_validated is None) or lr.status == "cpf"
    assert {lr.lang for lr in learners} == {"fr", "en"}
    # Some learners fall under the warnings a real roster would raise.
    warnings = check(roster_csv(learners), centres).warnings
    assert any("(department)" in w for w in warnings) and any("(cpf_validated)" in w for w in warnings)


def test_generator_without_catalogue_gives_learners_without_ues(centres):
    assert all(lr.ues == () for lr in generate_learners(50, 1, centres, {}, 2026))
