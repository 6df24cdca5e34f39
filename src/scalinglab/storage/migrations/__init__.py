"""Alembic migrations of the scalinglab storage schema (run by scalinglab.storage.upgrade)."""
