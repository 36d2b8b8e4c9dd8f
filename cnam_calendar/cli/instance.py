"""One configuration for every command: the instance file, its environment variables and the options.

``SETTINGS`` is the one list: each key of ``cnam-calendar.toml``, the variable that overrides it and
the options it gives a value to (a command path and the option's parameter name). ``install(main)``
adds ``--config`` (``CNAM_CALENDAR_CONFIG``; default ``./cnam-calendar.toml`` when present) to the
top command, gives each listed option its variable, and feeds the file's values to Click as its
``default_map``; Click then applies the precedence: the file < the environment < the option.
It also accepts ``--calendars`` at every level of the command line (before or after a subcommand).

A key is accepted only when one of its options exists: a row for an option a command does not have
yet (``log.format`` before ``--log-format`` exists) stays in the table and starts working with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cnam_calendar.cli.types import check_base_url
from cnam_calendar.inputs.instance import FILE_NAME, Instance, find_instance, load_instance
from cnam_calendar.messages import ngettext
from cnam_calendar.rules.errors import ConfigError

Target = tuple[str, ...]  # the command path, then the option's parameter name: ("daemon", "lanes")


@dataclass(frozen=True)
class Setting:
    """One key of the instance file: its kind, its variable, the options it sets."""

    key: str
    kind: str  # inputs.instance.KINDS
    envvar: str
    targets: tuple[Target, ...]


SETTINGS: tuple[Setting, ...] = (
    Setting("calendars", "path", "CNAM_CALENDAR_CALENDARS", (("calendars",),)),
    Setting("store", "path", "CNAM_CALENDAR_DB", (("learners", "db"), ("reminders", "db"), ("serve", "db"),
                                                  ("daemon", "db"), ("init", "db"))),
    Setting("output", "path", "CNAM_CALENDAR_OUT", (("build", "out"), ("feed", "out"), ("serve", "out"),
                                                    ("learners", "feeds", "built"))),
    Setting("base_url", "text", "CNAM_CALENDAR_BASE_URL", (("serve", "base_url"),
                                                           ("learners", "issue-token", "base_url"),
                                                           ("daemon", "base_url"))),
    Setting("links.key_file", "path", "CNAM_CALENDAR_LINK_KEY_FILE", (
        ("learners", "link_key_file"), ("reminders", "link_key_file"), ("serve", "link_key_file"),
        ("daemon", "link_key_file"), ("init", "link_key_file"))),
    Setting("serve.host", "text", "CNAM_CALENDAR_SERVE_HOST", (("serve", "host"),)),
    Setting("serve.port", "int", "CNAM_CALENDAR_SERVE_PORT", (("serve", "port"),)),
    Setting("serve.workers", "int", "CNAM_CALENDAR_SERVE_WORKERS", (("serve", "workers"),)),
    Setting("serve.access_log", "bool", "CNAM_CALENDAR_SERVE_ACCESS_LOG", (("serve", "access_log"),)),
    Setting("smtp.host", "text", "CNAM_CALENDAR_SMTP_HOST", (("daemon", "smtp_host"),)),
    Setting("smtp.port", "int", "CNAM_CALENDAR_SMTP_PORT", (("daemon", "smtp_port"),)),
    Setting("smtp.starttls", "bool", "CNAM_CALENDAR_SMTP_STARTTLS", (("daemon", "smtp_starttls"),)),
    Setting("smtp.user", "text", "CNAM_CALENDAR_SMTP_USER", (("daemon", "smtp_user"),)),
    Setting("reminders.sender", "text", "CNAM_CALENDAR_FROM", (("daemon", "sender"),
                                                               ("reminders", "preview", "sender"))),
    Setting("daemon.lanes", "int", "CNAM_CALENDAR_DAEMON_LANES", (("daemon", "lanes"),)),
    Setting("daemon.lease_seconds", "int", "CNAM_CALENDAR_DAEMON_LEASE_SECONDS", (("daemon", "lease_seconds"),)),
    Setting("daemon.dispatch_every", "number", "CNAM_CALENDAR_DAEMON_DISPATCH_EVERY",
            (("daemon", "dispatch_every"),)),
    # The options of issue 17's logs and metrics: these keys work once the options exist.
    Setting("log.format", "text", "CNAM_CALENDAR_LOG_FORMAT", (("serve", "log_format"), ("daemon", "log_format"))),
    Setting("log.level", "text", "CNAM_CALENDAR_LOG_LEVEL", (("serve", "log_level"), ("daemon", "log_level"))),
    Setting("log.lang", "text", "CNAM_CALENDAR_LOG_LANG", (("serve", "log_lang"), ("daemon", "log_lang"))),
    Setting("daemon.metrics_port", "int", "CNAM_CALENDAR_METRICS_PORT", (("daemon", "metrics_port"),)),
    Setting("daemon.metrics_host", "text", "CNAM_CALENDAR_METRICS_HOST", (("daemon", "metrics_host"),)),
)
INSTANCE_KEY = "cnam_calendar.instance"  # ctx.meta: the Instance read, for messages


def _command(root: click.Command, path: tuple[str, ...]) -> click.Command | None:
    command: click.Command | None = root
    for name in path:
        command = command.commands.get(name) if isinstance(command, click.Group) else None
    return command


def _param(root: click.Command, target: Target) -> tuple[click.Command, click.Parameter] | None:
    command = _command(root, target[:-1])
    found = next((p for p in command.params if p.name == target[-1]), None) if command else None
    return (command, found) if command is not None and found is not None else None


def active(root: click.Command) -> list[Setting]:
    """Return the settings of which at least one option exists in ROOT's commands."""
    return [s for s in SETTINGS if any(_param(root, t) for t in s.targets)]


def _check(instance: Instance, setting: Setting, command: click.Command, param: click.Parameter) -> ConfigError | None:
    """Convert the file's value as its option would, so that a bad one names the file, the line and the key."""
    value = instance.values[setting.key]
    try:
        converted = param.type.convert(value, param, click.Context(command))
        if param.callback is check_base_url:
            param.callback(click.Context(command), param, converted)
    except click.BadParameter as exc:
        return ConfigError(exc.message, where=instance.where(setting.key),
                           hint=f"attendu : les valeurs de l'option {param.opts[0]}")
    return None


def default_map(root: click.Command, instance: Instance) -> dict[str, Any]:
    """Return Click's default_map for ROOT from the values of INSTANCE."""
    tree: dict[str, Any] = {}
    problems: dict[str, ConfigError] = {}
    for setting in active(root):
        if setting.key not in instance.values:
            continue
        for target in setting.targets:
            found = _param(root, target)
            if found is None:
                continue
            problem = _check(instance, setting, *found)
            if problem is not None:
                problems.setdefault(setting.key, problem)
            node = tree
            for name in target[:-1]:
                node = node.setdefault(name, {})
            node[target[-1]] = instance.values[setting.key]
    if problems:
        raise ConfigError(ngettext("fr", "%(num)d problème", "%(num)d problèmes", len(problems)), where=str(instance.path), problems=list(problems.values()))
    return tree


def read(root: click.Command, explicit: str | None) -> Instance:
    """Find and read the instance file (EXPLICIT, else ./cnam-calendar.toml); an empty Instance when none."""
    path = find_instance(explicit)
    if path is None:
        return Instance()
    return load_instance(path, {s.key: s.kind for s in active(root)})


def _walk(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _walk(sub)


def _set_calendars(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["calendars"] = value


def install(root: click.Group) -> None:
    """Give ROOT's commands the instance file, the variables of SETTINGS and ``--calendars`` everywhere."""

    def load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if ctx.resilient_parsing:
            return
        try:
            instance = read(root, value)
            ctx.default_map = {**default_map(root, instance), **(ctx.default_map or {})}
        except ConfigError as exc:  # before any command runs: the group's handler is not there yet
            for line in exc.lines():
                click.echo(f"Erreur : {line}", err=True)
            ctx.exit(2)
        ctx.meta[INSTANCE_KEY] = instance

    root.params.insert(0, click.Option(
        ["--config"], envvar="CNAM_CALENDAR_CONFIG", metavar="FICHIER", is_eager=True, expose_value=False,
        callback=load, help=f"Fichier de l'instance (défaut : ./{FILE_NAME} s'il existe ; variable "
                            "CNAM_CALENDAR_CONFIG)."))
    for setting in active(root):
        for target in setting.targets:
            found = _param(root, target)
            if found is not None and found[1].envvar is None:
                found[1].envvar = setting.envvar
                if isinstance(found[1], click.Option):
                    found[1].show_envvar = True  # --help says which variable
    for command in _walk(root):
        if command is root or any(p.name == "calendars" for p in command.params):
            continue
        command.params.append(click.Option(
            ["--calendars"], type=click.Path(file_okay=False, path_type=Path), expose_value=False,
            callback=_set_calendars, metavar="DOSSIER",
            help="Dossier des fichiers de centre (ici ou avant la commande ; variable CNAM_CALENDAR_CALENDARS)."))
