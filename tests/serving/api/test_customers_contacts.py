"""PUT/GET /v1/customers/{id} and POST /v1/contacts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import order

ATTRIBUTES = {
    "timezone": "Asia/Shanghai",
    "consent_email": False,
    "consent_sms": True,
    "consent_wechat": True,
    "preferred_channel": "wechat",
    "birthday": "1990-05-17",
    "tags": {"store": "shanghai-1", "vip": True, "visits": 3},
}


def test_put_then_get_returns_the_attributes(client: TestClient, user: dict[str, str]) -> None:
    put = client.put("/v1/customers/c-9", json=ATTRIBUTES, headers=user)
    assert put.status_code == 200
    got = client.get("/v1/customers/c-9", headers=user).json()
    assert got == put.json()
    assert got == ATTRIBUTES | {
        "customer_id": "c-9",
        "known": True,
        "score": None,
        "next_contact": None,
    }


def test_put_replaces_everything(client: TestClient, user: dict[str, str]) -> None:
    client.put("/v1/customers/c-9", json=ATTRIBUTES, headers=user)
    got = client.put("/v1/customers/c-9", json={"consent_email": True}, headers=user).json()
    assert (got["timezone"], got["consent_email"], got["consent_sms"], got["tags"]) == (
        "UTC",
        True,
        False,
        {},
    )


def test_unknown_customers_are_404(client: TestClient, user: dict[str, str]) -> None:
    assert client.get("/v1/customers/nobody", headers=user).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"preferred_channel": "fax"}, "preferred_channel"),
        ({"consent_sms": "maybe"}, "consent_sms"),
        ({"birthday": "1990-02-30"}, "birthday"),
        ({"tags": {"k": {"nested": 1}}}, "tags"),
    ],
)
def test_bad_attributes_are_422_naming_the_field(
    client: TestClient, user: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = client.put("/v1/customers/c-9", json=body, headers=user)
    assert response.status_code == 422
    assert any(error["loc"][:2] == ["body", field] for error in response.json()["detail"])


def test_an_overlong_customer_id_is_422(client: TestClient, user: dict[str, str]) -> None:
    assert client.get("/v1/customers/" + "x" * 200, headers=user).status_code == 422


def test_touches_are_recorded_once(client: TestClient, user: dict[str, str]) -> None:
    body = {
        "contacts": [
            {"customer_id": "c-1", "contacted_at": "2024-05-02T11:00:00+08:00", "channel": "sms"},
            {"customer_id": "c-1", "contacted_at": "2024-05-09T11:00:00+08:00"},
        ]
    }
    first = client.post("/v1/contacts", json=body, headers=user).json()
    second = client.post("/v1/contacts", json=body, headers=user).json()
    assert first == {"received": 2, "inserted": 2, "duplicates": 0, "replanned": 0}
    assert second == {"received": 2, "inserted": 0, "duplicates": 2, "replanned": 0}


def test_bad_touches_are_422(client: TestClient, user: dict[str, str]) -> None:
    body = {"contacts": [{"customer_id": "c-1", "contacted_at": "soon"}]}
    response = client.post("/v1/contacts", json=body, headers=user)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "contacts", 0, "contacted_at"]


def test_orders_make_a_customer_known_to_get(client: TestClient, user: dict[str, str]) -> None:
    client.post("/v1/orders", json={"orders": [order(customer_id="c-5")]}, headers=user)
    assert client.get("/v1/customers/c-5", headers=user).status_code == 200
