"""Alembic migrations of the store, applied by ``store.open_store``."""
