"""Who may call what: 401 without a valid key, 403 for a user key on admin endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.errors import InputError
from serving.api.app import create_app
from serving.api.model_holder import ModelHolder

from .conftest import make_settings

PROTECTED = [
    ("post", "/v1/orders"),
    ("post", "/v1/contacts"),
    ("put", "/v1/customers/c-1"),
    ("get", "/v1/customers/c-1"),
    ("post", "/v1/predict"),
    ("get", "/v1/contact-plan?date=2024-06-01"),
    ("get", "/v1/model"),
    ("post", "/v1/model/reload"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key-000000"}, {"Authorization": "Basic dXNlcjpwdw=="}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_protected_endpoints_need_a_valid_key(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/openapi.json", "/docs"])
def test_probes_and_docs_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in (200, 503)


def test_a_user_key_may_not_reload_the_model(
    client: TestClient, user: dict[str, str], admin: dict[str, str]
) -> None:
    assert client.post("/v1/model/reload", headers=user).status_code == 403
    # The admin passes authorization; with no loadable model the reload fails softly.
    response = client.post("/v1/model/reload", headers=admin)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("reload failed")


def test_without_keys_the_app_refuses_to_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys="")
    with pytest.raises(InputError, match="no API key configured"):
        create_app(settings, holder=ModelHolder(settings))


def test_demo_mode_without_keys_serves_without_auth(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys="", demo_mode=True)
    with TestClient(create_app(settings, holder=ModelHolder(settings))) as client:
        assert client.get("/v1/contact-plan?date=2024-06-01").status_code == 200


def test_demo_mode_with_keys_still_checks_them(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, demo_mode=True)
    with TestClient(create_app(settings, holder=ModelHolder(settings))) as client:
        assert client.get("/v1/contact-plan?date=2024-06-01").status_code == 401


def test_every_admin_route_refuses_a_user_key(
    client: TestClient, user: dict[str, str], admin: dict[str, str]
) -> None:
    """Every operation documented with 403 (admin only) refuses a user key, allows an admin."""
    paths = client.get("/openapi.json").json()["paths"]
    admin_routes = [
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "403" in operation["responses"]
    ]
    assert admin_routes == [("POST", "/v1/model/reload")]
    for method, path in admin_routes:
        refused = client.request(method, path, headers=user)
        assert refused.status_code == 403, (method, path)
        assert refused.json() == {"detail": "admin key required"}
        assert client.request(method, path, headers=admin).status_code != 403
