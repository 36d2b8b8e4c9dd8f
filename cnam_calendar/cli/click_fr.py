"""Click's own texts in French (Usage, Error, Try --help, missing option, invalid choice, no such option…).

Click looks each of its messages up with ``gettext`` at the moment it prints it; ``install()`` points
the modules of Click that print to the user at the French catalogue below, whatever the locale of the
machine. A message missing from the catalogue stays in English (a test lists every message of Click).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable

import click.exceptions

MESSAGES = {
    "Aborted!": "Interrompu.",
    "deprecated": "obsolète",
    "Missing command.": "Commande manquante.",
    # Click writes the colon of a heading itself: the space before it is French typography
    "Options": "Options ",
    "Positional arguments": "Arguments ",
    "Commands": "Commandes ",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}":
        "Avertissement : la commande « {name} » est obsolète.{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}":
        "Avertissement : l'option « {name} » est obsolète.{extra_message}",
    "Value must be an iterable.": "La valeur doit être une liste.",
    "env var: {var}": "variable : {var}",
    "default: {default}": "défaut : {default}",
    "required": "obligatoire",
    "(dynamic)": "(calculé)",
    "Name '{name}' defined twice": "Nom « {name} » défini deux fois",
    "Missing argument": "Argument manquant",
    "unknown error": "erreur inconnue",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Missing option": "Option manquante",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir le fichier « {filename} » : {message}",
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Aide : « {command} {option} ».",
    "Missing parameter": "Paramètre manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "No such option {name!r}.": "Option inconnue « {name} ».",
    "No such command {name!r}.": "Commande inconnue « {name} ».",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Missing {param_type}": "{param_type} manquant",
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "Choose from:\n\t{choices}": "Choisissez parmi :\n\t{choices}",
    "Choice({choices})": "Choix({choices})",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "« {value} » n'est pas un booléen valide. Valeurs reconnues : {states}",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un {number_type} valide.",
    "integer": "entier",
    "float": "nombre",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "{name} {filename!r} is a file.": "{name} « {filename} » est un fichier.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » est un dossier.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » n'est pas lisible.",
    "{name} {filename!r} is not writable.": "{name} « {filename} » n'est pas accessible en écriture.",
    "{name} {filename!r} is not executable.": "{name} « {filename} » n'est pas exécutable.",
    "{name} {filename!r} does not exist.": "{name} « {filename} » n'existe pas.",
    "Invalid start character for option ({option})": "Caractère initial invalide pour une option ({option})",
    "Option {name!r} does not take a value.": "L'option « {name} » ne prend pas de valeur.",
    "Argument {name!r} takes {nargs} values.": "L'argument « {name} » prend {nargs} valeurs.",
    "Do you want to continue?": "Voulez-vous continuer ?",
    "Confirm the action without prompting.": "Confirmer sans demander.",
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "Show the version and exit.": "Afficher la version et quitter.",
    "Show this message and exit.": "Afficher cette aide et quitter.",
    "Usage:": "Utilisation :",
    "Unknown standard stream '{name}'": "Flux standard inconnu « {name} »",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "Repeat for confirmation": "Répétez pour confirmer",
    "Error: The two entered values do not match.": "Erreur : les deux valeurs saisies diffèrent.",
    "Unknown color {colour!r}": "Couleur inconnue « {colour} »",
    "Error: invalid input": "Erreur : saisie invalide",
}
PLURALS = {
    "Got unexpected extra argument ({args})":
        ("Argument en trop ({args})", "Arguments en trop ({args})"),
    "Takes {nargs} values but 1 was given.":
        ("Prend {nargs} valeurs mais 1 a été donnée.", "Prend {nargs} valeurs mais {len} ont été données."),
    "Did you mean {possibility}?":
        ("Vouliez-vous dire {possibility} ?", "(Vouliez-vous dire l'une de : {possibilities} ?)"),
    "{value!r} is not {choice}.":
        ("« {value} » n'est pas {choice}.", "« {value} » n'est pas l'une des valeurs {choices}."),
    "{value!r} does not match the format {format}.":
        ("« {value} » ne suit pas le format {format}.", "« {value} » ne suit aucun des formats {formats}."),
    "{len_type} values are required, but {len_value} was given.":
        ("{len_type} valeurs attendues, {len_value} donnée.", "{len_type} valeurs attendues, {len_value} données."),
    "Option {name!r} requires an argument.":
        ("L'option « {name} » attend une valeur.", "L'option « {name} » attend {nargs} valeurs."),
}
MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


def gettext(message: str) -> str:
    """Return the French text of one of Click's messages (the message itself when it has none)."""
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Return the French text of one of Click's messages with a count."""
    forms = PLURALS.get(singular)
    if forms is None:
        return singular if n == 1 else plural
    return forms[0] if n == 1 else forms[1]


_REPR_QUOTES = re.compile(r"(?<!\w)'([^'\s]+)'(?!\w)")  # Click quotes names with repr(): '--centre'


def french_quotes(text: str) -> str:
    """Write the names Click quotes between apostrophes ('--centre', 'json') between « » instead."""
    return _REPR_QUOTES.sub(lambda m: f"« {m[1]} »", text)


def _quoting(format_message: Callable[[click.exceptions.ClickException], str]) -> Callable[..., str]:
    @functools.wraps(format_message)
    def wrapper(self: click.exceptions.ClickException) -> str:
        return french_quotes(format_message(self))

    wrapper.french = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Make Click print its messages in French, names between « »."""
    for cls in vars(click.exceptions).values():
        if (isinstance(cls, type) and issubclass(cls, click.exceptions.ClickException)
                and "format_message" in vars(cls) and not getattr(cls.format_message, "french", False)):
            cls.format_message = _quoting(cls.format_message)  # type: ignore[method-assign]
    for name in MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
