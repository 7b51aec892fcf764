"""Model-backed endpoints: ingest re-scoring, customer view, predict, plan, model info, reload.

The model is a real MLflow pyfunc saved to a temporary folder and loaded through
`ModelHolder` (see `rule_model.py`: the serving contract with a transparent rule, so expected
values can be computed by hand). To run these against the trained LightGBM model instead,
point `model_dir` at a saved `training.pyfunc_model.RepurchasePyfunc`.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.api.app import create_app
from serving.api.deps import get_today
from serving.api.model_holder import ModelHolder

from .conftest import ADMIN_KEY, USER_KEY, make_settings, order
from .rule_model import load_labelled_pyfunc, save_rule_model

AS_OF = dt.date(2024, 6, 1)
USER = {"Authorization": f"Bearer {USER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {label: save_rule_model(root / label, label) for label in ("v1", "v2")}


@pytest.fixture
def model_dir(tmp_path: Path, saved_models: dict[str, Path]) -> Path:
    """The served model's folder (a copy of v1 this test may replace)."""
    target = tmp_path / "served-model"
    shutil.copytree(saved_models["v1"], target)
    return target


@pytest.fixture
def served(tmp_path: Path, model_dir: Path) -> Iterator[TestClient]:
    """An app with the v1 model loaded, no hold-out (so every plan row is a contact), today = AS_OF."""
    policy = tmp_path / "policy.toml"
    policy.write_text("holdout_fraction = 0.0\n")
    settings = make_settings(tmp_path, model_uri=str(model_dir))
    holder = ModelHolder(settings, loader=load_labelled_pyfunc)
    holder.load()
    app = create_app(settings, holder=holder, policy_path=policy)
    app.dependency_overrides[get_today] = lambda: AS_OF
    with TestClient(app) as client:
        yield client


def test_ready_model_info_and_metrics_name_the_loaded_version(
    served: TestClient, model_dir: Path
) -> None:
    assert served.get("/ready").json()["status"] == "ready"
    info = served.get("/v1/model", headers=USER).json()
    assert (info["name"], info["uri"], info["version"], info["alias"]) == (
        "repurchase",
        str(model_dir),
        "v1",
        None,
    )
    metrics = served.get("/metrics").text
    assert f'repurchase_model_info{{uri="{model_dir}",version="v1"}} 1.0' in metrics
    assert "repurchase_model_loaded 1.0" in metrics


def test_ingest_rescores_the_customer_and_plans_a_consented_contact(served: TestClient) -> None:
    attributes = {"timezone": "Asia/Shanghai", "consent_wechat": True}
    assert served.put("/v1/customers/c-1", json=attributes, headers=USER).status_code == 200
    lines = [
        order("o-1", ordered_at="2024-04-01T10:00:00+08:00"),
        order("o-2", ordered_at="2024-05-01T10:00:00+08:00"),
    ]
    result = served.post("/v1/orders", json={"orders": lines}, headers=USER).json()
    assert (result["scoring"], result["model_version"]) == ("updated", "v1")

    customer = served.get("/v1/customers/c-1", headers=USER).json()
    score = customer["score"]
    assert (score["as_of"], score["model_version"]) == ("2024-06-01", "v1")
    horizons = [score[f"p_buy_{h}d"] for h in (7, 14, 30, 60, 90)]
    assert horizons == sorted(horizons)
    # The rule: a 30-day cycle, 31 days since the last order (1 day overdue, damped).
    expected_30d = (1 - math.exp(-1)) * math.exp(-1 / 60)
    assert score["p_buy_30d"] == pytest.approx(expected_30d)
    contact = customer["next_contact"]
    assert contact["channel"] == "wechat"
    assert contact["send_at"].endswith("+08:00")
    assert dt.date.fromisoformat(contact["contact_on"]) > AS_OF
    plan = served.get(f"/v1/contact-plan?date={contact['contact_on']}", headers=USER).json()
    assert [item["customer_id"] for item in plan["items"]] == ["c-1"]
    assert 'repurchase_predictions_total{source="ingest"} 1.0' in served.get("/metrics").text


def test_customers_without_consent_get_no_channel(served: TestClient) -> None:
    served.post("/v1/orders", json={"orders": [order("o-9", customer_id="c-9")]}, headers=USER)
    contact = served.get("/v1/customers/c-9", headers=USER).json()["next_contact"]
    assert contact is None or contact["channel"] is None


def test_predict_is_stateless(served: TestClient) -> None:
    body = {
        "customer_id": "walk-in",
        "orders": [
            {"ordered_at": "2024-04-20", "amount": 30.0},
            {"ordered_at": "2024-05-20", "amount": 30.0, "sku": "tea"},
        ],
        "customer": {"timezone": "Europe/Berlin", "consent_email": True},
    }
    response = served.post("/v1/predict", json=body, headers=USER)
    assert response.status_code == 200
    score, recommendation = response.json()["score"], response.json()["recommendation"]
    # 12 days into a 30-day cycle, as of today (AS_OF): not overdue, no damping.
    assert score["as_of"] == "2024-06-01"
    assert score["p_buy_30d"] == pytest.approx(1 - math.exp(-1))
    assert recommendation["channel"] == "email"
    assert recommendation["send_at"].endswith(("+02:00", "+01:00"))
    assert served.get("/v1/customers/walk-in", headers=USER).status_code == 404


def test_a_scoring_failure_keeps_the_orders(served: TestClient) -> None:
    lines = {"orders": [order("o-x", customer_id="explode")]}
    result = served.post("/v1/orders", json=lines, headers=USER).json()
    assert (result["inserted"], result["scoring"]) == (1, "failed")
    stored = served.get("/v1/customers/explode", headers=USER).json()
    assert stored["score"] is None
    assert 'repurchase_scoring_failures_total{source="ingest"} 1.0' in served.get("/metrics").text


def test_reload_swaps_the_model_without_dropping_requests(
    served: TestClient, model_dir: Path, saved_models: dict[str, Path]
) -> None:
    shutil.rmtree(model_dir)
    shutil.copytree(saved_models["v2"], model_dir)
    body = {"orders": [{"ordered_at": "2024-05-20", "amount": 30.0}]}
    answers: list[tuple[int, str]] = []

    def keep_predicting() -> None:
        for _ in range(4):
            response = served.post("/v1/predict", json=body, headers=USER)
            answers.append((response.status_code, response.json()["score"]["model_version"]))

    workers = [threading.Thread(target=keep_predicting) for _ in range(3)]
    for worker in workers:
        worker.start()
    reload = served.post("/v1/model/reload", headers=ADMIN)
    for worker in workers:
        worker.join()

    assert reload.status_code == 200 and reload.json()["version"] == "v2"
    assert len(answers) == 12
    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers} <= {"v1", "v2"}
    assert served.get("/v1/model", headers=USER).json()["version"] == "v2"
    metrics = served.get("/metrics").text
    assert 'version="v2"} 1.0' in metrics and 'version="v1"' not in metrics


def test_a_failed_reload_keeps_the_old_model(served: TestClient, model_dir: Path) -> None:
    shutil.rmtree(model_dir)
    response = served.post("/v1/model/reload", headers=ADMIN)
    assert response.status_code == 503
    assert "still serving version v1" in response.json()["detail"]
    body = {"orders": [{"ordered_at": "2024-05-20", "amount": 30.0}]}
    assert served.post("/v1/predict", json=body, headers=USER).status_code == 200


def test_predict_without_a_model_is_503(client: TestClient, user: dict[str, str]) -> None:
    body = {"orders": [{"ordered_at": "2024-05-20", "amount": 30.0}]}
    response = client.post("/v1/predict", json=body, headers=user)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("no model")


def test_withdrawn_consent_and_new_touches_reach_the_plan(served: TestClient) -> None:
    served.put("/v1/customers/c-1", json={"consent_sms": True}, headers=USER)
    lines = [
        order("o-1", ordered_at="2024-04-01T10:00:00Z"),
        order("o-2", ordered_at="2024-05-01T10:00:00Z"),
    ]
    served.post("/v1/orders", json={"orders": lines, "as_of": "2024-06-01"}, headers=USER)
    before = served.get("/v1/customers/c-1", headers=USER).json()["next_contact"]
    assert before["channel"] == "sms"

    # A touch the CRM made two days before the scoring date (touches after it are not history).
    touch = {"customer_id": "c-1", "contacted_at": "2024-05-30T10:00:00Z", "channel": "sms"}
    result = served.post("/v1/contacts", json={"contacts": [touch]}, headers=USER).json()
    assert result["replanned"] == 1
    after_touch = served.get("/v1/customers/c-1", headers=USER).json()["next_contact"]
    # min_days_between_contacts = 7 by default: no contact before 2024-06-06 now.
    assert before["contact_on"] < "2024-06-06"
    assert after_touch["contact_on"] >= "2024-06-06"

    served.put("/v1/customers/c-1", json={"consent_sms": False}, headers=USER)
    withdrawn = served.get("/v1/customers/c-1", headers=USER).json()["next_contact"]
    assert withdrawn is None or withdrawn["channel"] is None


def test_purchases_just_after_a_touch_reach_the_model_marked_as_prompted(
    served: TestClient,
) -> None:
    """The stored touches mark the re-scored orders (features.prompted: within 3 days after
    a touch), as `repurchase score --contacts` marks a file's; a posted history's touches
    mark it in /v1/predict."""
    touch = {"customer_id": "c-1", "contacted_at": "2024-04-29T10:00:00Z", "channel": "sms"}
    served.post("/v1/contacts", json={"contacts": [touch]}, headers=USER)
    for customer in ("c-1", "c-2"):  # c-2 buys on the same days, untouched
        lines = [
            order(f"{customer}-1", customer_id=customer, ordered_at="2024-04-01T10:00:00Z"),
            order(f"{customer}-2", customer_id=customer, ordered_at="2024-05-01T10:00:00Z"),
        ]
        served.post("/v1/orders", json={"orders": lines}, headers=USER)
    reasons = {
        customer: served.get(f"/v1/customers/{customer}", headers=USER).json()["score"]["reasons"]
        for customer in ("c-1", "c-2")
    }
    assert reasons == {
        "c-1": "last order 31 days ago; it answered a touch",
        "c-2": "last order 31 days ago",
    }

    body = {
        "orders": [{"ordered_at": "2024-04-20", "amount": 30.0}],
        "contacts": ["2024-04-18T09:00:00Z"],
    }
    predicted = served.post("/v1/predict", json=body, headers=USER).json()["score"]
    assert predicted["reasons"] == "last order 42 days ago; it answered a touch"
    late = body | {"contacts": ["2024-04-16T09:00:00Z"]}  # four days before: not an answer
    assert served.post("/v1/predict", json=late, headers=USER).json()["score"]["reasons"] == (
        "last order 42 days ago"
    )
