"""Engine, sessions and migrations.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed transaction is on disk before
the commit returns, so a 2xx answer to a write survives a crash (SIGKILL, power loss of the
process). PostgreSQL commits are durable with its default settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from features.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SUPPORTED_DRIVERS = ("sqlite", "postgresql+psycopg")
MIGRATION_LOCK = 7_351_012_240  # any constant; names the advisory lock serialising migrations


def make_engine(url: str) -> Engine:
    """An engine for `url` (``sqlite:///file`` or ``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except Exception:  # sqlalchemy raises ArgumentError; the URL is user input
        raise InputError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise InputError(
            f"database URL driver {parsed.drivername!r} is not supported; "
            "use sqlite:///path or postgresql+psycopg://..."
        )
    if parsed.drivername == "sqlite":
        return _sqlite_engine(parsed.database)
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{database or ''}",
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _durable_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (routes read them to answer)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several instances may start at once: one migrates, the others wait for it.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
