"""Database fixtures of the serving tests: every test using them runs on SQLite, and on
PostgreSQL too when REPURCHASE_TEST_POSTGRES_URL is set (`scripts/ci-postgres.sh` sets it up)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("REPURCHASE_TEST_POSTGRES_URL", "")


def _backends() -> list[object]:
    backends: list[object] = ["sqlite"]
    if POSTGRES_URL:
        backends.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return backends


@pytest.fixture(params=_backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"``, then ``"postgresql"`` when a test server is configured."""
    return str(request.param)


@pytest.fixture
def database_url(database_backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema on the PostgreSQL server."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
