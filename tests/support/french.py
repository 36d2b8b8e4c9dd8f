"""Two stop-word checks, one each way.

- French stop words (``WORD``): a text in which none of them is left reads as English (the checks of
  the English explanations, page and e-mails).
- English stop words (``assert_french``): what a command says on stderr when it fails is French, with
  no English left over (Click's and tomllib's words).
"""

from __future__ import annotations

import re

FRENCH = ("le", "la", "les", "du", "des", "de", "jour", "jours", "ouvré", "ouvrés", "semestre", "au", "est", "une",
          "pour", "avant", "après", "jusqu'au", "règle", "férié", "fériés", "délai", "séances", "cours", "lundi",
          "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "janvier", "février", "mars", "avril",
          "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre", "pas", "fin", "début",
          "motif", "et", "ou", "non", "compté", "limite", "sans", "dérogation", "fermeture", "séance")
WORD = re.compile(r"(?<![\w'’-])(" + "|".join(re.escape(w) for w in FRENCH) + r")(?![\w'’-])", re.IGNORECASE)

# Click's and tomllib's English, and English words an untranslated message would carry
STOP_WORDS = re.compile(r"\b(?:Error|Usage|Try|Invalid value|Missing (?:option|argument|parameter)|No such|"
                        r"Did you mean|Got unexpected|does not exist|is not one of|at line|end of document|"
                        r"Unclosed|Unterminated|Expected|Aborted|expected|required|for help)\b")
FRENCH_MARKERS = ("Erreur : ", "Attention : ", "Problème : ", "Interrompu")


def assert_french(stderr: str) -> None:
    """Fail when a failing command's stderr holds an English stop word or no French line at all."""
    leftovers = sorted({m[0] for m in STOP_WORDS.finditer(stderr)})
    assert not leftovers, f"English on stderr {leftovers}:\n{stderr}"
    assert any(word in stderr for word in FRENCH_MARKERS), f"no French error line on stderr:\n{stderr}"
