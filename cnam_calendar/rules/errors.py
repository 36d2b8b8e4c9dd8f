"""Errors a person can cause and fix; anything else is a bug."""

from __future__ import annotations

from collections.abc import Sequence


class CnamCalendarError(Exception):
    """A mistake in the input, said in one line: where, what, what is expected."""

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        problems: Sequence[CnamCalendarError] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        self.problems = tuple(problems)

    def __str__(self) -> str:
        text = f"{self.where} : {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def lines(self) -> list[str]:
        """Return one line per problem (the error itself when it holds none)."""
        if not self.problems:
            return [str(self)]
        return [str(p) for p in self.problems]


class ConfigError(CnamCalendarError):
    """A centre file in calendars/ is wrong."""


class CatalogueError(ConfigError):
    """A UE catalogue row is wrong."""


class UnreadableError(ConfigError):
    """A file that cannot be read at all (missing, not UTF-8, not TOML): `check` exits 2 for it, not 1."""


class UnreadableCatalogueError(CatalogueError, UnreadableError):
    """A UE catalogue that cannot be read at all (not UTF-8, not readable)."""


class RosterError(ConfigError):
    """A learners file row is wrong."""


class RuleError(CnamCalendarError):
    """A rule cannot be applied (unknown rule, inverted interval…)."""


class FeedError(CnamCalendarError):
    """A feed request names nothing that exists."""


class StoreError(CnamCalendarError):
    """The store cannot do what was asked."""


class StoreConflict(StoreError):
    """Another writer got in the way (a duplicate key from a simultaneous import): running it again may succeed."""
