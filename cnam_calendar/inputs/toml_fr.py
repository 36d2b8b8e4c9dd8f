"""tomllib's syntax errors said in French, with the line and the column they give.

tomllib writes « Unclosed inline table (at line 52, column 48) »; ``explain`` turns that into the French
message, the place (line, column) and what to check. A message this table does not know keeps its English
words but still gets its place and the French frame.
"""

from __future__ import annotations

import ast
import re

_PLACE = re.compile(r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$",
                    re.DOTALL)

# (pattern of tomllib's message, French message, what to check)
_MESSAGES: tuple[tuple[str, str, str], ...] = (
    (r"Unclosed inline table", "table en ligne non fermée",
     "une table { clé = valeur, … } s'écrit sur une seule ligne et se ferme par « } »"),
    (r"Unclosed array", "liste non fermée", "les éléments d'une liste [ … ] sont séparés par des virgules, "
     "et la liste se ferme par « ] »"),
    (r"Unterminated string", "texte non fermé", "un texte s'ouvre et se ferme par des guillemets, sur la même ligne"),
    (r"Invalid value", "valeur invalide",
     "un texte entre guillemets, un nombre, true/false, une date AAAA-MM-JJ ou une heure HH:MM:SS"),
    (r"Invalid date or datetime", "date invalide", "une date qui existe, AAAA-MM-JJ, ex. 2026-10-12"),
    (r"Invalid statement", "ligne incompréhensible", "clé = valeur, [table] ou [[liste de tables]]"),
    (r"Expected '=' after a key in a key/value pair", "« = » attendu après la clé", "clé = valeur"),
    (r"Expected newline or end of document after a statement", "fin de ligne attendue après la valeur",
     "une seule clé = valeur par ligne ; un commentaire commence par # ; une date s'écrit AAAA-MM-JJ"),
    (r"Expected '\]' at the end of a table declaration", "« ] » attendu à la fin du nom de table",
     "[nom] ou [nom.sous-nom]"),
    (r"Expected '\]\]' at the end of an array declaration", "« ]] » attendu à la fin du nom de liste de tables",
     "[[nom]]"),
    (r"Invalid initial character for a key part", "caractère invalide au début d'une clé",
     "lettres, chiffres, - et _, ou une clé entre guillemets"),
    (r"Cannot declare (?P<key>.+) twice", "table « {key} » déclarée deux fois", "une seule déclaration par table"),
    (r"Cannot overwrite a value", "valeur donnée deux fois", "une seule valeur par clé"),
    (r"Duplicate inline table key '(?P<key>.+)'", "clé « {key} » en double dans la table",
     "une seule valeur par clé"),
    (r"Cannot mutate immutable namespace (?P<key>.+)", "la table « {key} » est déjà fermée",
     "ajoutez la clé dans la table elle-même"),
    (r"Cannot redefine namespace (?P<key>.+)", "« {key} » est déjà défini", "un nom de table ou de clé unique"),
    (r"Unescaped '\\' in a string", "« \\ » seul dans un texte",
     "écrivez « \\\\ », ou utilisez des apostrophes '…' pour un texte littéral"),
    (r"Invalid hex value", "code hexadécimal invalide", "\\uXXXX ou \\UXXXXXXXX"),
    (r"Escaped character is not a Unicode scalar value", "caractère Unicode invalide", "\\uXXXX valide"),
    (r"Illegal character '\\n'", "texte non fermé en fin de ligne",
     "fermez les guillemets sur la même ligne, ou écrivez un texte sur plusieurs lignes entre triples guillemets"),
    (r"Illegal character (?P<char>.+)", "caractère interdit {char}",
     "du texte imprimable ; une tabulation ou un retour à la ligne s'écrit \\t ou \\n"),
    (r"Found invalid character (?P<char>.+)", "caractère inattendu {char}",
     "clé = valeur ; vérifiez la ponctuation"),
    (r"Expected (?P<char>.+)", "{char} attendu", "vérifiez la ponctuation"),
)


def explain(error: str) -> tuple[str, int | None, int | None, str]:
    """Return (French message, line, column, what to check) for one of tomllib's error texts."""
    m = _PLACE.match(error)
    message, line, column = (m["message"], m["line"], m["column"]) if m else (error, None, None)
    for pattern, french, check in _MESSAGES:
        found = re.fullmatch(pattern, message, re.DOTALL)
        if found:
            values = {k: _key(v) if k == "key" else _char(v) for k, v in found.groupdict().items()}
            return (french.format(**values), int(line) if line else None, int(column) if column else None, check)
    return (message, int(line) if line else None, int(column) if column else None,
            "vérifiez la syntaxe (dates AAAA-MM-JJ, texte entre guillemets)")


def _key(text: str) -> str:
    """Write tomllib's key (a tuple's repr such as « ('years', '2026') ») dotted: years.2026."""
    try:
        parts = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("'")
    return ".".join(parts) if isinstance(parts, tuple) and all(isinstance(p, str) for p in parts) else text


def _char(text: str) -> str:
    """Write tomllib's character (its repr) between « », or as U+XXXX when it does not print."""
    try:
        char = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if not isinstance(char, str):
        return text
    return f"« {char} »" if char.isprintable() else ", ".join(f"U+{ord(c):04X}" for c in char)


def place(path: str, line: int | None, column: int | None, text: str) -> str:
    """Return « path, ligne L, colonne C » (the last line of ``text`` when tomllib says « end of document »)."""
    if line is None:
        return f"{path}, ligne {max(len(text.splitlines()), 1)}, en fin de fichier"
    return f"{path}, ligne {line}, colonne {column}"
