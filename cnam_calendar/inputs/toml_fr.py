"""tomllib's syntax errors said in French, with the line and the column they give.

tomllib writes « Unclosed inline table (at line 52, column 48) »; ``explain`` turns that into the French
message, the place (line, column) and what to check. A message this table does not know keeps its English
words but still gets its place and the French frame.
"""

from __future__ import annotations

import ast
import re

from cnam_calendar.messages import N_, gettext

_PLACE = re.compile(r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$",
                    re.DOTALL)

# (pattern of tomllib's message, French message, what to check)
_MESSAGES: tuple[tuple[str, str, str], ...] = (
    (r"Unclosed inline table", N_("table en ligne non fermée"),
     N_("une table { clé = valeur, … } s'écrit sur une seule ligne et se ferme par « } »")),
    (r"Unclosed array", N_("liste non fermée"),
     N_("les éléments d'une liste [ … ] sont séparés par des virgules, et la liste se ferme par « ] »")),
    (r"Unterminated string", N_("texte non fermé"),
     N_("un texte s'ouvre et se ferme par des guillemets, sur la même ligne")),
    (r"Invalid value", N_("valeur invalide"),
     N_("un texte entre guillemets, un nombre, true/false, une date AAAA-MM-JJ ou une heure HH:MM:SS")),
    (r"Invalid date or datetime", N_("date invalide"),
     N_("une date qui existe, AAAA-MM-JJ, ex. 2026-10-12")),
    (r"Invalid statement", N_("ligne incompréhensible"),
     N_("clé = valeur, [table] ou [[liste de tables]]")),
    (r"Expected '=' after a key in a key/value pair", N_("« = » attendu après la clé"),
     N_("clé = valeur")),
    (r"Expected newline or end of document after a statement", N_("fin de ligne attendue après la valeur"),
     N_("une seule clé = valeur par ligne ; un commentaire commence par # ; une date s'écrit AAAA-MM-JJ")),
    (r"Expected '\]' at the end of a table declaration", N_("« ] » attendu à la fin du nom de table"),
     N_("[nom] ou [nom.sous-nom]")),
    (r"Expected '\]\]' at the end of an array declaration", N_("« ]] » attendu à la fin du nom de liste de tables"),
     N_("[[nom]]")),
    (r"Invalid initial character for a key part", N_("caractère invalide au début d'une clé"),
     N_("lettres, chiffres, - et _, ou une clé entre guillemets")),
    (r"Cannot declare (?P<key>.+) twice", N_("table « %(key)s » déclarée deux fois"),
     N_("une seule déclaration par table")),
    (r"Cannot overwrite a value", N_("valeur donnée deux fois"),
     N_("une seule valeur par clé")),
    (r"Duplicate inline table key '(?P<key>.+)'", N_("clé « %(key)s » en double dans la table"),
     N_("une seule valeur par clé")),
    (r"Cannot mutate immutable namespace (?P<key>.+)", N_("la table « %(key)s » est déjà fermée"),
     N_("ajoutez la clé dans la table elle-même")),
    (r"Cannot redefine namespace (?P<key>.+)", N_("« %(key)s » est déjà défini"),
     N_("un nom de table ou de clé unique")),
    (r"Unescaped '\\' in a string", N_("« \\ » seul dans un texte"),
     N_("écrivez « \\\\ », ou utilisez des apostrophes '…' pour un texte littéral")),
    (r"Invalid hex value", N_("code hexadécimal invalide"),
     N_("\\uXXXX ou \\UXXXXXXXX")),
    (r"Escaped character is not a Unicode scalar value", N_("caractère Unicode invalide"),
     N_("\\uXXXX valide")),
    (r"Illegal character '\\n'", N_("texte non fermé en fin de ligne"),
     N_("fermez les guillemets sur la même ligne, ou écrivez un texte sur plusieurs lignes "
        "entre triples guillemets")),
    (r"Illegal character (?P<char>.+)", N_("caractère interdit %(char)s"),
     N_("du texte imprimable ; une tabulation ou un retour à la ligne s'écrit \\t ou \\n")),
    (r"Found invalid character (?P<char>.+)", N_("caractère inattendu %(char)s"),
     N_("clé = valeur ; vérifiez la ponctuation")),
    (r"Expected (?P<char>.+)", N_("%(char)s attendu"),
     N_("vérifiez la ponctuation")),
)


def explain(error: str) -> tuple[str, int | None, int | None, str]:
    """Return (French message, line, column, what to check) for one of tomllib's error texts."""
    m = _PLACE.match(error)
    message, line, column = (m["message"], m["line"], m["column"]) if m else (error, None, None)
    for pattern, french, check in _MESSAGES:
        found = re.fullmatch(pattern, message, re.DOTALL)
        if found:
            values = {k: _key(v) if k == "key" else _char(v) for k, v in found.groupdict().items()}
            return (gettext("fr", french, **values), int(line) if line else None, int(column) if column else None,
                    gettext("fr", check))
    return (message, int(line) if line else None, int(column) if column else None,
            gettext("fr", "vérifiez la syntaxe (dates AAAA-MM-JJ, texte entre guillemets)"))


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
        last = max(len(text.splitlines()), 1)
        return gettext("fr", "%(path)s, ligne %(line)d, en fin de fichier", path=path, line=last)
    return gettext("fr", "%(path)s, ligne %(line)d, colonne %(column)d", path=path, line=line, column=column)
