"""API fixtures: an app on a fresh SQLite file with two keys (user, admin) and no model.

Model-backed behaviour lives in `test_model_endpoints.py` with its own fixtures.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from repurchase.settings import Settings
from serving.api.app import create_app
from serving.api.model_holder import ModelHolder
from serving.store import make_engine, migrate

USER_KEY = "user-key-0123456789"
ADMIN_KEY = "admin-key-0123456789"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "api_keys": f"{USER_KEY},{ADMIN_KEY}:admin",
        "home": tmp_path / "home",
        "database_url": None,
        "model_uri": str(tmp_path / "no-model-here"),
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "demo_mode": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def load_local_pyfunc(uri: str) -> tuple[Any, str | None]:
    """Load a pyfunc saved at a local path, without a tracking store (fast, still MLflow)."""
    import mlflow

    return mlflow.pyfunc.load_model(uri), "local"


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test (migrating each time costs more than the test)."""
    path = tmp_path_factory.mktemp("template") / "repurchase.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_database: Path) -> Settings:
    settings = make_settings(tmp_path)
    settings.home.mkdir(parents=True, exist_ok=True)
    shutil.copy(migrated_database, settings.home / "repurchase.db")
    return settings


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The app with an unloaded model holder; a reload finds no model at the configured path."""
    return create_app(settings, holder=ModelHolder(settings, loader=load_local_pyfunc))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def user() -> dict[str, str]:
    return {"Authorization": f"Bearer {USER_KEY}"}


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def order(order_id: str = "o-1", customer_id: str = "c-1", **fields: object) -> dict[str, object]:
    """One valid order line, with any field overridden."""
    line: dict[str, object] = {
        "customer_id": customer_id,
        "ordered_at": "2024-05-01T10:00:00+08:00",
        "amount": 59.0,
        "order_id": order_id,
        "sku": "vitamin-d-60",
    }
    line.update(fields)
    return line
