"""GET /v1/contact-plan from the stored plan; /health, /ready and /metrics."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.store import repository as repo

from .conftest import order


def store_plan(client: TestClient) -> None:
    """Write a small plan straight into the store, as the nightly batch job does."""
    rows = [
        ("a", "2024-06-05", "sms", 0.5, False),
        ("b", "2024-06-05", "wechat", 0.9, False),
        ("c", "2024-06-05", None, 0.7, True),
        ("d", "2024-06-06", "sms", 0.99, False),
    ]
    plan = pd.DataFrame(
        rows, columns=["customer_id", "contact_on", "channel", "priority", "holdout"]
    )
    plan["send_at"] = [None if r[4] else f"{r[1]}T10:00:00+08:00" for r in rows]
    plan["action"] = "replenish_reminder"
    plan["offer"] = "content"
    plan["expected_value"] = plan["priority"] * 10
    plan["reasons"] = "running out in 3 days"
    state = client.app.state.repurchase  # type: ignore[attr-defined]
    with state.sessions() as session:
        repo.replace_plan(
            session,
            plan[repo.PLAN_COLUMNS],
            as_of=dt.date(2024, 6, 1),
            planned_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        )
        session.commit()


def test_the_plan_of_a_day_is_ordered_by_priority_without_holdout(
    client: TestClient, user: dict[str, str]
) -> None:
    store_plan(client)
    body = client.get("/v1/contact-plan", params={"date": "2024-06-05"}, headers=user).json()
    assert [item["customer_id"] for item in body["items"]] == ["b", "a"]
    assert body["count"] == 2
    assert body["items"][0] == {
        "customer_id": "b",
        "contact_on": "2024-06-05",
        "send_at": "2024-06-05T10:00:00+08:00",
        "channel": "wechat",
        "action": "replenish_reminder",
        "offer": "content",
        "priority": 0.9,
        "expected_value": 9.0,
        "reasons": "running out in 3 days",
        "holdout": False,
    }


def test_the_plan_filters_by_channel_and_limits(client: TestClient, user: dict[str, str]) -> None:
    store_plan(client)
    sms = client.get("/v1/contact-plan?date=2024-06-05&channel=sms", headers=user).json()
    assert [item["customer_id"] for item in sms["items"]] == ["a"]
    top = client.get("/v1/contact-plan?date=2024-06-05&limit=1", headers=user).json()
    assert [item["customer_id"] for item in top["items"]] == ["b"]


def test_a_customer_shows_the_next_planned_contact(
    client: TestClient, user: dict[str, str]
) -> None:
    store_plan(client)
    contact = client.get("/v1/customers/d", headers=user).json()["next_contact"]
    assert (contact["contact_on"], contact["channel"]) == ("2024-06-06", "sms")
    later = client.get("/v1/customers/d?on_or_after=2024-06-07", headers=user).json()
    assert later["next_contact"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "date"),
        ("date=06/05/2024", "date"),
        ("date=2024-06-05&channel=fax", "channel"),
        ("date=2024-06-05&limit=0", "limit"),
        ("date=2024-06-05&limit=many", "limit"),
    ],
)
def test_bad_plan_queries_are_422(
    client: TestClient, user: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/v1/contact-plan?{query}", headers=user)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_health_is_live_and_ready_says_why_not(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json() | {"detail": None} == {
        "status": "not_ready",
        "database": True,
        "model": False,
        "model_version": None,
        "detail": None,
    }


def test_metrics_count_requests_by_route_template(client: TestClient, user: dict[str, str]) -> None:
    for customer in ("x1", "x2", "x3"):
        client.get(f"/v1/customers/{customer}", headers=user)
    client.post("/v1/orders", json={"orders": [order()]}, headers=user)
    text = client.get("/metrics").text
    assert (
        'repurchase_http_requests_total{method="GET",route="/v1/customers/{customer_id}",'
        'status="404"} 3.0'
    ) in text
    assert 'route="/v1/orders",status="200"} 1.0' in text
    assert "x1" not in text  # ids never become label values
    assert "repurchase_http_request_duration_seconds_bucket" in text
    assert "repurchase_model_loaded 0.0" in text
