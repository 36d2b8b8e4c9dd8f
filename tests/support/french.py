"""The stop-word check: what a command says on stderr when it fails is French, with no English left over."""

from __future__ import annotations

import re

# Click's and tomllib's English, and English words an untranslated message would carry
STOP_WORDS = re.compile(r"\b(?:Error|Usage|Try|Invalid value|Missing (?:option|argument|parameter)|No such|"
                        r"Did you mean|Got unexpected|does not exist|is not one of|at line|end of document|"
                        r"Unclosed|Unterminated|Expected|Aborted|expected|required|for help)\b")
FRENCH = ("Erreur : ", "Attention : ", "Interrompu")


def assert_french(stderr: str) -> None:
    """Fail when a failing command's stderr holds an English stop word or no French line at all."""
    leftovers = sorted({m[0] for m in STOP_WORDS.finditer(stderr)})
    assert not leftovers, f"English on stderr {leftovers}:\n{stderr}"
    assert any(word in stderr for word in FRENCH), f"no French error line on stderr:\n{stderr}"
