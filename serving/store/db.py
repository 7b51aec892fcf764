"""Engine, sessions and migrations.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed transaction is on disk before
the commit returns, so a 2xx answer to a write survives a crash (SIGKILL, power loss of the
process). PostgreSQL commits are durable with its default settings.

An unavailable database must give a quick error (the API answers 503 and the client retries),
never a hung request, and the server must recover by itself when the database returns:

- PostgreSQL: ``pool_pre_ping`` replaces connections the server dropped, ``connect_timeout``
  bounds a connection attempt to an unreachable host, ``pool_timeout`` bounds the wait for a
  free pooled connection, and an optional ``statement_timeout`` (the API's) cancels a
  statement stuck behind another session's lock or running away.
- SQLite: a pooled connection keeps the file open even after the file or its folder was moved
  or deleted, so writes would land in a file nobody will ever read again. Every checkout
  checks that the path still names the file the connection opened (one ``stat``); otherwise
  the pool is discarded and a fresh connection either opens the file that is there or fails.
  A write waits at most ``SQLITE_BUSY_TIMEOUT_S`` for another writer's lock (see there).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from features.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SUPPORTED_DRIVERS = ("sqlite", "postgresql+psycopg")
MIGRATION_LOCK = 7_351_012_240  # any constant; names the advisory lock serialising migrations

# How long a SQLite write waits for another writer's lock before failing (503, retry). A
# commit here takes milliseconds even with synchronous=FULL, so 5 s rides out a queue of
# hundreds of concurrent writers; waiting longer (SQLite's usual 30 s) would outlast the
# timeout of most HTTP clients, which would then give up without an answer instead of
# getting a 503 they can retry on.
SQLITE_BUSY_TIMEOUT_S = 5
# PostgreSQL: seconds to establish a connection, and to wait for a free pooled one.
POSTGRES_CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10


def make_engine(url: str, *, statement_timeout_s: float | None = None) -> Engine:
    """An engine for `url` (``sqlite:///file`` or ``postgresql+psycopg://...``).

    `statement_timeout_s` (PostgreSQL; None or 0: no limit): longer statements are cancelled
    and raise ``OperationalError``, which the API answers with 503. Batch jobs leave it unset:
    a bulk upsert of millions of rows may rightly take minutes.
    """
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
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )
    if statement_timeout_s:
        milliseconds = max(int(statement_timeout_s * 1000), 1)

        # set per connection, not in the URL's `options`, which the URL may already use
        @event.listens_for(engine, "connect")
        def _statement_timeout(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {milliseconds}")
            dbapi_connection.commit()  # a session setting: it outlives this transaction

    return engine


def _sqlite_engine(database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{database or ''}",
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    )
    on_disk = bool(database) and database != ":memory:"

    @event.listens_for(engine, "connect")
    def _durable_pragmas(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()
        if on_disk:
            record.info["file_id"] = _file_id(database)

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if on_disk and _file_id(database) != record.info.get("file_id"):
            moved = DisconnectionError(f"SQLite file {database} was moved, replaced or removed")
            moved.invalidate_pool = True  # every pooled connection has the old file open
            raise moved

    return engine


def _file_id(database: str | None) -> tuple[int, int] | None:
    """(device, inode) of the file at `database`, None when nothing is there."""
    try:
        found = os.stat(str(database))
    except OSError:
        return None
    return found.st_dev, found.st_ino


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
