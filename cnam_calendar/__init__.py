"""Turn the Cnam's rules into calendars: engine, iCalendar feeds, CLI."""

__version__ = "0.1.0"
