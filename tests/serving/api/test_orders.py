"""POST /v1/orders: durable, idempotent ingestion; 422 naming the field for bad lines."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import order


def test_orders_posted_twice_are_stored_once(client: TestClient, user: dict[str, str]) -> None:
    body = {"orders": [order("o-1"), order("o-2", sku=None), order("o-3", customer_id="c-2")]}
    first = client.post("/v1/orders", json=body, headers=user)
    second = client.post("/v1/orders", json=body, headers=user)
    assert first.status_code == second.status_code == 200
    assert first.json() | {"scoring": None} == {
        "received": 3,
        "inserted": 3,
        "duplicates": 0,
        "customers": ["c-1", "c-2"],
        "scoring": None,
        "model_version": None,
    }
    assert first.json()["scoring"] == "no_model"  # stored; scored once a model is loaded
    assert second.json() | {"scoring": None} == {
        "received": 3,
        "inserted": 0,
        "duplicates": 3,
        "customers": [],
        "scoring": None,
        "model_version": None,
    }


def test_duplicates_inside_one_batch_count_once(client: TestClient, user: dict[str, str]) -> None:
    body = {"orders": [order("o-1"), order("o-1", amount=1.0), order("o-1", sku="other")]}
    result = client.post("/v1/orders", json=body, headers=user).json()
    assert (result["inserted"], result["duplicates"]) == (2, 1)


def test_a_known_customer_is_readable_after_ingest(
    client: TestClient, user: dict[str, str]
) -> None:
    client.post("/v1/orders", json={"orders": [order()]}, headers=user)
    response = client.get("/v1/customers/c-1", headers=user)
    assert response.status_code == 200
    assert response.json()["known"] is False  # orders only, no attributes yet
    assert response.json()["score"] is None


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (order(customer_id=""), "customer_id"),
        (order(customer_id="a\x00b"), "customer_id"),
        (order(ordered_at="yesterday"), "ordered_at"),
        (order(ordered_at="9999-01-01"), "ordered_at"),
        (order(amount="12,50"), "amount"),
        (order(amount=1e300), "amount"),
        (order(discount=-1), "discount"),
        (order(quantity=0), "quantity"),
        (order(status="shipped"), "status"),
        ({k: v for k, v in order().items() if k != "order_id"}, "order_id"),
        ({k: v for k, v in order().items() if k != "amount"}, "amount"),
    ],
)
def test_bad_lines_are_422_naming_the_field(
    client: TestClient, user: dict[str, str], line: dict[str, object], field: str
) -> None:
    response = client.post("/v1/orders", json={"orders": [order("ok"), line]}, headers=user)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "orders", 1, field] in locations
    # Bad input is answered, never half-processed: the valid line was not stored either.
    assert client.get("/v1/customers/c-1", headers=user).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"orders": []}',
        b'{"orders": {}}',
        b'{"orders": [1]}',
        b'{"orders": [{"amount": NaN}]}',
    ],
)
def test_malformed_bodies_are_422(client: TestClient, user: dict[str, str], body: bytes) -> None:
    headers = user | {"Content-Type": "application/json"}
    assert client.post("/v1/orders", content=body, headers=headers).status_code == 422


def test_naive_timestamps_mean_utc_and_offsets_are_kept(
    client: TestClient, user: dict[str, str]
) -> None:
    """Two lines of one order, the same instant written two ways, are not two instants."""
    from serving.store import repository as repo

    lines = [
        order("o-1", sku="a", ordered_at="2024-05-01T02:00:00"),
        order("o-1", sku="b", ordered_at="2024-05-01T10:00:00+08:00"),
    ]
    client.post("/v1/orders", json={"orders": lines}, headers=user)
    state = client.app.state.repurchase  # type: ignore[attr-defined]
    with state.sessions() as session:
        stored = repo.orders_for_customers(session, ["c-1"])
    assert stored["ordered_at"].nunique() == 1
    assert str(stored["ordered_at"].iloc[0]) == "2024-05-01 02:00:00+00:00"
