"""The SQLAlchemy store: learners, tokens, the reminder delivery table, migrations."""
