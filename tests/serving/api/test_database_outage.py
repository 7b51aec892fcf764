"""The database goes away and comes back while the API runs.

While it is away: `/ready` answers 503 naming the database, writes and reads answer 503 with
`Retry-After` (never 500, never a hung request), `/health` stays 200. When it is back, the
same app (no restart) turns ready within seconds and a re-sent write is stored once.

- SQLite: the database's folder is renamed away and back (as root, chmod would not stop us).
- PostgreSQL (REPURCHASE_TEST_POSTGRES_URL): a private database stops accepting connections
  (`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and its sessions are terminated, then it is
  opened again; the server's other databases are untouched.

The app runs in-process with a real (rule) MLflow model loaded, so `/ready` can say 200.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from serving.api.app import create_app
from serving.api.model_holder import ModelHolder
from serving.store.db import SQLITE_BUSY_TIMEOUT_S

from .conftest import USER_KEY, make_settings, order
from .rule_model import load_labelled_pyfunc, save_rule_model

POSTGRES_URL = os.environ.get("REPURCHASE_TEST_POSTGRES_URL", "")
USER = {"Authorization": f"Bearer {USER_KEY}"}
RECOVERY_S = 5.0  # the app must be ready again this soon after the database returns
ANSWER_S = SQLITE_BUSY_TIMEOUT_S + 3.0  # no request may hang longer than this


@dataclass
class Outage:
    """A database the test can take away and bring back."""

    url: str
    take_away: Callable[[], None]
    bring_back: Callable[[], None]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_rule_model(tmp_path_factory.mktemp("model") / "rule", "v1")


def sqlite_outage(tmp_path: Path) -> Iterator[Outage]:
    folder, away = tmp_path / "db", tmp_path / "db-away"
    yield Outage(
        url=f"sqlite:///{folder / 'repurchase.db'}",
        take_away=lambda: os.rename(folder, away),
        bring_back=lambda: os.rename(away, folder),
    )


def postgres_outage() -> Iterator[Outage]:
    name = f"outage_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def run(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    def take_away() -> None:
        run(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        run(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    run(f"CREATE DATABASE {name}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield Outage(
            url=f"{base}/{name}",
            take_away=take_away,
            bring_back=lambda: run(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
        )
    finally:
        run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def outage(database_backend: str, tmp_path: Path) -> Iterator[Outage]:
    if database_backend == "sqlite":
        yield from sqlite_outage(tmp_path)
    else:
        yield from postgres_outage()


@pytest.fixture
def client(outage: Outage, tmp_path: Path, model_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url=outage.url, model_uri=str(model_dir))
    holder = ModelHolder(settings, loader=load_labelled_pyfunc)
    holder.load()
    with TestClient(create_app(settings, holder=holder)) as test_client:
        yield test_client


def timed(call: Callable[[], object]) -> object:
    started = time.monotonic()
    result = call()
    assert time.monotonic() - started < ANSWER_S, "the request hung on the dead database"
    return result


def test_an_unavailable_database_is_503_and_the_app_recovers_by_itself(
    client: TestClient, outage: Outage
) -> None:
    before = client.post("/v1/orders", json={"orders": [order("o-1")]}, headers=USER)
    assert before.status_code == 200
    assert client.get("/ready").status_code == 200

    outage.take_away()
    ready = timed(lambda: client.get("/ready"))
    assert ready.status_code == 503  # type: ignore[attr-defined]
    assert ready.json()["database"] is False  # type: ignore[attr-defined]
    assert "database unavailable" in ready.json()["detail"]  # type: ignore[attr-defined]
    assert client.get("/health").status_code == 200
    during = [
        timed(lambda: client.post("/v1/orders", json={"orders": [order("o-2")]}, headers=USER)),
        timed(lambda: client.get("/v1/customers/c-1", headers=USER)),
        timed(lambda: client.get("/v1/contact-plan?date=2024-06-01", headers=USER)),
        timed(
            lambda: client.post(
                "/v1/contacts",
                json={"contacts": [{"customer_id": "c-1", "contacted_at": "2024-05-02"}]},
                headers=USER,
            )
        ),
    ]
    for response in during:
        assert response.status_code == 503, response.text  # type: ignore[attr-defined]
        assert response.headers["Retry-After"].isdigit()  # type: ignore[attr-defined]
        assert "database unavailable" in response.json()["detail"]  # type: ignore[attr-defined]

    outage.bring_back()
    deadline = time.monotonic() + RECOVERY_S
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the app did not recover by itself"
        time.sleep(0.1)
    resent = client.post("/v1/orders", json={"orders": [order("o-1"), order("o-2")]}, headers=USER)
    assert resent.status_code == 200
    assert (resent.json()["inserted"], resent.json()["duplicates"]) == (1, 1)
    assert client.get("/v1/customers/c-1", headers=USER).status_code == 200


def post_while_locked(client: TestClient, order_id: str, *, at_least_s: float) -> None:
    """POST one order while another session holds a lock on the orders: 503 with
    Retry-After, after waiting at least `at_least_s`, and never hanging."""
    started = time.monotonic()
    locked = client.post("/v1/orders", json={"orders": [order(order_id)]}, headers=USER)
    waited = time.monotonic() - started
    assert locked.status_code == 503
    assert locked.headers["Retry-After"].isdigit()
    assert at_least_s <= waited < ANSWER_S


def test_a_sqlite_write_lock_held_elsewhere_is_503_after_the_busy_timeout(
    tmp_path: Path, model_dir: Path
) -> None:
    """Another process holding the write lock (a backup, a migration): writes wait
    SQLITE_BUSY_TIMEOUT_S, then answer 503; reads go on (WAL); released, writes work."""
    database = tmp_path / "locked.db"
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{database}", model_uri=str(model_dir)
    )
    holder = ModelHolder(settings, loader=load_labelled_pyfunc)
    holder.load()
    with TestClient(create_app(settings, holder=holder)) as client:
        assert client.post("/v1/orders", json={"orders": [order("o-1")]}, headers=USER).is_success
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            post_while_locked(client, "o-2", at_least_s=SQLITE_BUSY_TIMEOUT_S - 0.5)
            assert client.get("/ready").status_code == 200  # readers are not blocked in WAL
        finally:
            other.execute("ROLLBACK")
            other.close()
        again = client.post("/v1/orders", json={"orders": [order("o-2")]}, headers=USER)
        assert again.status_code == 200
        assert again.json()["inserted"] == 1


def test_a_sqlite_file_replaced_by_an_empty_one_is_not_ready(
    tmp_path: Path, model_dir: Path
) -> None:
    """A botched restore leaves an empty file where the database was: SELECT 1 would still
    work, so readiness must look at a table; writes answer 503, not 500."""
    database = tmp_path / "replaced.db"
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{database}", model_uri=str(model_dir)
    )
    holder = ModelHolder(settings, loader=load_labelled_pyfunc)
    holder.load()
    with TestClient(create_app(settings, holder=holder)) as client:
        assert client.get("/ready").status_code == 200
        database.rename(tmp_path / "kept-aside.db")
        sqlite3.connect(database).close()  # an empty database file in its place
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()["database"]) == (503, False)
        write = client.post("/v1/orders", json={"orders": [order("o-1")]}, headers=USER)
        assert write.status_code == 503


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs REPURCHASE_TEST_POSTGRES_URL")
def test_a_postgres_lock_held_elsewhere_is_503_after_the_statement_timeout(
    tmp_path: Path, model_dir: Path
) -> None:
    """Another session holding a table lock (a migration, a manual fix): the API's statement
    is cancelled after `database_statement_timeout_s` and answers 503, instead of waiting as
    long as the lock is held; released, the same write is stored once."""
    outage = postgres_outage()
    database = next(outage)
    try:
        settings = make_settings(
            tmp_path,
            database_url=database.url,
            model_uri=str(model_dir),
            database_statement_timeout_s=1.0,
        )
        holder = ModelHolder(settings, loader=load_labelled_pyfunc)
        holder.load()
        with TestClient(create_app(settings, holder=holder)) as client:
            first = client.post("/v1/orders", json={"orders": [order("o-1")]}, headers=USER)
            assert first.is_success
            other = create_engine(database.url).connect()
            locked_at = other.begin()
            other.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
            try:
                post_while_locked(client, "o-2", at_least_s=0.9)
            finally:
                locked_at.rollback()
                other.close()
            again = client.post("/v1/orders", json={"orders": [order("o-2")]}, headers=USER)
            assert again.status_code == 200
            assert again.json()["inserted"] == 1
    finally:
        outage.close()  # drops the private database
