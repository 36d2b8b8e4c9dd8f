"""French stop words: a text in which none of them is left reads as English (the checks of the English
explanations, page and e-mails)."""

from __future__ import annotations

import re

FRENCH = ("le", "la", "les", "du", "des", "de", "jour", "jours", "ouvré", "ouvrés", "semestre", "au", "est", "une",
          "pour", "avant", "après", "jusqu'au", "règle", "férié", "fériés", "délai", "séances", "cours", "lundi",
          "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "janvier", "février", "mars", "avril",
          "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre", "pas", "fin", "début",
          "motif", "et", "ou", "non", "compté", "limite", "sans", "dérogation", "fermeture", "séance")
WORD = re.compile(r"(?<![\w'’-])(" + "|".join(re.escape(w) for w in FRENCH) + r")(?![\w'’-])", re.IGNORECASE)
