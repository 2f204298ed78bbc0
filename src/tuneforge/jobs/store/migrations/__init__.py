"""Alembic migrations of the jobs store, run by `open_store` (no alembic.ini needed)."""
