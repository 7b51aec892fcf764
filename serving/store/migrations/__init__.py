"""Alembic migrations of the service database (applied by `serving.store.migrate`)."""
