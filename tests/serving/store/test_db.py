"""serving/store/db.py: engines, durability settings, packaged migrations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from features.errors import InputError
from serving.store import make_engine, migrate

POSTGRES_URL = os.environ.get("REPURCHASE_TEST_POSTGRES_URL", "")

TABLES = {"orders", "customers", "contacts", "scores", "plan", "alembic_version"}


def test_migrations_create_every_table_and_can_run_twice(engine: Engine) -> None:
    migrate(engine)  # the fixture migrated once already: a second run is a no-op
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
            "0001_initial"
        )


def test_migrations_match_the_models(engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to add: the migration and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from serving.store.models import Base

    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_sqlite_commits_are_durable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as connection:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        synchronous = connection.execute(text("PRAGMA synchronous")).scalar_one()
    assert (journal, synchronous) == ("wal", 2)  # 2 = FULL: fsync on every commit
    assert (tmp_path / "sub").is_dir()


@pytest.mark.parametrize("url", ["not a url", "mysql://user@host/db", "oracle://x"])
def test_unsupported_urls_are_input_errors(url: str) -> None:
    with pytest.raises(InputError, match="database URL"):
        make_engine(url)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs REPURCHASE_TEST_POSTGRES_URL")
def test_a_postgres_statement_timeout_applies_to_every_connection() -> None:
    limited = make_engine(POSTGRES_URL, statement_timeout_s=0.25)
    unlimited = make_engine(POSTGRES_URL)
    try:
        for _ in range(2):  # a fresh connection each time (the pool is disposed)
            with limited.connect() as connection:
                assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "250ms"
                with pytest.raises(OperationalError):
                    connection.execute(text("SELECT pg_sleep(2)"))
            limited.dispose()
        with unlimited.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"
            assert connection.execute(text("SELECT pg_sleep(0.3), 1")).one()[1] == 1
    finally:
        limited.dispose()
        unlimited.dispose()
