"""The command line: one click module per command group, over the use cases."""

from cnam_calendar.cli.main import main

__all__ = ["main"]
