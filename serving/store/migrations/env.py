"""Alembic environment: runs on the connection handed over by `serving.store.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from serving.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # called from the alembic command line with sqlalchemy.url
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as own_connection:
            _run(own_connection)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copes
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
