"""Issue 18, point 4: the CLI says everything in French — TOML syntax, Click's own texts, one error per
mistake, `check`'s exit statuses, UE codes without case, a list given to a repeatable option.

Every failing command the suite runs through `run_cli` or `run_command` also passes the stop-word check
(`tests/support/french.py`); the tests here run the paths of this issue and show that the check can fail.
"""

from __future__ import annotations

import inspect
import re
import tomllib
import tomllib._parser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.inputs import toml_fr
from cnam_calendar.inputs.config import parse_centre
from cnam_calendar.rules.errors import ConfigError, UnreadableError
from tests.support.french import assert_french
from tests.support.fuzz import fuzz_settings
from tests.support.server import run_command


def test_the_stop_word_check_fails_on_english() -> None:
    for english in ("Error: No such option: --centr", "Usage: cnam-calendar [OPTIONS]\nTry 'x --help' for help.",
                    "Erreur : Unclosed inline table (at line 1, column 11)"):
        with pytest.raises(AssertionError, match="English"):
            assert_french(english)
    with pytest.raises(AssertionError, match="no French"):
        assert_french("quelque chose")
    assert_french("Erreur : Option inconnue « --centr ». Vouliez-vous dire « --centre » ?")


def _tomllib_messages() -> list[str]:
    """Every message tomllib can raise, read from its source, placeholders filled with a sample."""
    source = inspect.getsource(tomllib._parser)
    found = re.findall(r'suffixed_err\(\s*src,\s*[\w\s+]+,\s*(f?)"((?:[^"\\]|\\.)*)"', source)
    samples = {"key": "('years', '2026')", "cont_key": "('rules',)", "abs_key_parent": "('a',)",
               "key_stem": "'a'", "expect": "'='", "src[pos]": "'@'", "char": "'\\x01'"}
    messages = []
    for is_f, text in found:
        text = text.encode().decode("unicode_escape")
        if is_f:
            text = re.sub(r"\{([^}!]+)(?:!r)?\}", lambda m: samples[m[1]], text)
        messages.append(text)
    assert len(messages) >= 20, messages
    return messages


def test_every_tomllib_message_has_its_french() -> None:
    for message in _tomllib_messages():
        french, line, column, check = toml_fr.explain(f"{message} (at line 52, column 48)")
        assert (line, column) == (52, 48)
        assert french != message and check, message
        assert_french(f"Erreur : {french} ({check})")


def test_a_toml_syntax_error_is_french_with_file_line_and_column(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    calendars.mkdir()
    (calendars / "essai.toml").write_text('id = "essai"\nname = "Essai"\n[years.2026]\n'
                                          'closures = [{ id = "noel", start = 2026-12-19\n', encoding="utf-8")
    for args in (["check"], ["build", "--out", str(tmp_path / "out")]):
        proc = run_command(tmp_path, calendars, *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() [0] == (
            f"Erreur : {calendars / 'essai.toml'}, ligne 4, colonne 46 : TOML invalide : table en ligne non fermée "
            "(attendu : une table { clé = valeur, … } s'écrit sur une seule ligne et se ferme par « } »)")
        assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


@fuzz_settings(200)
@given(st.text(alphabet=st.sampled_from(list('ab=[]{}"\'., \n#12-:\\\t')), max_size=40))
def test_any_text_is_a_centre_or_one_french_error(text: str) -> None:
    try:
        parse_centre(f'id = "x"\nname = "X"\n{text}', "x.toml")
    except UnreadableError as exc:
        assert exc.where.startswith("x.toml, ligne ") and "TOML invalide : " in exc.message
        assert_french(f"Erreur : {exc}")
    except ConfigError as exc:
        assert_french("\n".join(f"Erreur : {line}" for line in exc.lines()))


def test_one_typo_is_one_error_and_no_stray_hint(run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace("\nname = ", "\nnmae = ", 1)}, catalogues=False)
    r = run_cli("--calendars", str(calendars), "build", "--out", str(calendars.parent / "out"))
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"Erreur : {calendars / 'ipst-cnam.toml'} : nmae : clé inconnue "
                                     "(vouliez-vous dire « name » ?)"]
    # two problems in a catalogue: two lines, the first one's hint not repeated after them
    calendars = calendars_copy({"ipst-cnam.ues.csv": lambda t: t.replace(",S1,cours du soir,", ",S3,cours du soir,", 2)},
                               name="two")
    r = run_cli("--calendars", str(calendars), "feed", "--centre", "ipst-cnam", "--year", "2026")
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("Erreur : ") and "semestre inconnu « S3 »" in line
                                   for line in lines), r.stderr


def test_check_statuses_are_those_the_readme_gives(run_cli, calendars_copy) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "exit 0 when sound, 1 listing every problem found in readable files, 2 when a file cannot be read" in readme
    sound = calendars_copy(name="sound")
    assert run_cli("--calendars", str(sound), "check").exit_code == 0
    wrong = calendars_copy({"ipst-cnam.toml": lambda t: t.replace("cpf_working_days = 3", "cpf_working_days = 99")},
                           name="wrong")
    r = run_cli("--calendars", str(wrong), "check")
    assert r.exit_code == 1 and r.stderr == ""
    assert r.stdout.splitlines()[-1] == "1 problème trouvé."
    assert "Problème : " in r.stdout and "rules.cpf_working_days : valeur 99 hors des bornes" in r.stdout
    unreadable = calendars_copy({"ipst-cnam.toml": lambda t: t + "\n[oops\n"}, name="unreadable")
    r = run_cli("--calendars", str(unreadable), "check")
    assert r.exit_code == 2
    assert "TOML invalide" in r.stderr and r.stderr.splitlines()[-1] == "1 fichier illisible, rien n'y a été vérifié."


def test_counts_are_french_plurals(run_cli, calendars_dir) -> None:
    r = run_cli("--calendars", str(calendars_dir), "check", "--centre", "ipst-cnam")
    assert re.fullmatch(r"Tout est en ordre \(\d+ années vérifiées\)\.\n", r.stdout), r.stdout
    assert "(s)" not in r.stdout


def test_ue_codes_are_read_without_case(run_cli, calendars_dir) -> None:
    upper = run_cli("--calendars", str(calendars_dir), "feed", "--centre", "ipst-cnam", "--year", "2026",
                    "--ue", "NFA031", env={"SOURCE_DATE_EPOCH": "1767225600"})
    lower = run_cli("--calendars", str(calendars_dir), "feed", "--centre", "ipst-cnam", "--year", "2026",
                    "--ue", "nfa031", "--ue", " NFA031 ", env={"SOURCE_DATE_EPOCH": "1767225600"})
    assert upper.exit_code == lower.exit_code == 0, lower.output
    assert lower.stdout == upper.stdout and "NFA031" in upper.stdout


def test_a_list_given_to_ue_says_to_repeat_the_option(run_cli, calendars_dir) -> None:
    for value in ("NFA031,NFA032", "NFA031;nfa032", "NFA031 NFA032"):
        r = run_cli("--calendars", str(calendars_dir), "feed", "--centre", "ipst-cnam", "--year", "2026", "--ue", value)
        assert r.exit_code == 2 and r.stdout == ""
        parts = re.split(r"[ ,;]", value)
        assert r.stderr == (f"Erreur : --ue {value} : une seule UE par option --ue, « {value} » en nomme 2 "
                            f"(répétez l'option : --ue {parts[0]} --ue {parts[1]})\n")


@pytest.mark.parametrize("args", [
    ["buidl"], ["check", "--centr", "x"], ["explain"], ["explain", "--centre", "ipst-cnam", "--year", "2026",
                                                        "--format", "xml"],
    ["deadline", "foo", "--from", "2026-01-01"], ["feed", "--centre", "ipst-cnam", "--year"], ["check", "extra"],
    ["feed", "--centre", "ipst-cnam", "--year", "2026", "--ue", "NFA999"],
])
def test_click_speaks_french(run_cli, calendars_dir, args: list[str]) -> None:
    r = run_cli("--calendars", str(calendars_dir), *args)
    assert r.exit_code == 2
    assert_french(r.stderr)
    assert "'" not in re.sub(r"\w'\w", "", r.stderr.replace("Aide : «", "")), r.stderr  # names between « »


def test_help_is_french(run_cli) -> None:
    text = run_cli("--help").stdout + run_cli("check", "--help").stdout
    assert "Utilisation : cnam-calendar" in text and "Options :" in text and "Commandes :" in text
    assert "Afficher cette aide et quitter." in text
    assert not re.search(r"\b(Usage|Show this|Commands)\b", text), text


def test_a_misspelt_column_is_one_error(run_cli, calendars_copy, tmp_path: Path) -> None:
    calendars = calendars_copy({"ipst-cnam.ues.csv": lambda t: t.replace("modality", "modalty", 1)})
    r = run_cli("--calendars", str(calendars), "check", "--centre", "ipst-cnam")
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        f"Problème : {calendars / 'ipst-cnam.ues.csv'}:1 (modalty) : colonne inconnue (vouliez-vous dire « modality » ? "
        "attendu : code,title,ects,semester,modality,site,weekday,start,end,room)", "1 problème trouvé."]
    roster = tmp_path / "r.csv"
    roster.write_text("id,emial,first_name,last_name,centre,department,status\nA1,a@b.fr,A,B,ipst-cnam,31,cpf\n",
                      encoding="utf-8")
    sound = calendars_copy(name="sound")
    r = run_cli("--calendars", str(sound), "learners", "--db", str(tmp_path / "r.db"), "import", str(roster))
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == f"Erreur : {roster}:1 (emial) : colonne inconnue ; attendu : « email »"
    assert len(r.stderr.splitlines()) == 2 and "1 erreur, rien n'a été importé" in r.stderr
