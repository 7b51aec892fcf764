"""Store fixtures: every test runs on SQLite, and on PostgreSQL too when
REPURCHASE_TEST_POSTGRES_URL is set (`scripts/ci-postgres.sh` sets it up)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from serving.store import make_engine, make_session_factory, migrate


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on the fresh database."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session
