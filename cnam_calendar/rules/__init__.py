"""PURE: the Cnam rules. Dates, the model, institutional and personal rules, sessions, the reminder planner.

Nothing here reads a file, the clock, the environment, the network or a database, and nothing here
imports another package of cnam_calendar but `text` (the import-linter contracts in pyproject.toml).
"""
