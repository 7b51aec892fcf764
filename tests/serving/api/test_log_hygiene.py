"""No customer identifiers or order contents in the logs above debug level.

A real `repurchase serve` process (log level info, as deployed) serves the rule model; the
test sends orders, touches, attributes, a customer lookup, predictions (good and failing)
and invalid bodies that all carry distinctive customer ids, order ids, SKUs and amounts, then
reads everything the server wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ADMIN_KEY, USER_KEY
from .rule_model import save_rule_model
from .test_server import free_port, wait_until_live

USER = {"Authorization": f"Bearer {USER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CUSTOMER = "cust-zq8841-private"
OTHER = "cust-xk2207-private"
ORDER = "order-vv5531-private"
SKU = "sku-ww9931-private"
CAMPAIGN = "camp-yy4410-private"
AMOUNT = 4321.87
SECRETS = (CUSTOMER, OTHER, ORDER, SKU, CAMPAIGN, "zq8841", "ww9931", "4321.87")
REPO_ROOT = Path(__file__).resolve().parents[3]


def order_line(customer: str, n: int, day: str) -> dict[str, object]:
    return {
        "customer_id": customer,
        "ordered_at": f"{day}T10:00:00+08:00",
        "amount": AMOUNT,
        "order_id": f"{ORDER}-{n}",
        "sku": SKU,
    }


def exercise(base: str) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        lines = [order_line(CUSTOMER, 1, "2024-04-01"), order_line(CUSTOMER, 2, "2024-05-01")]
        ingest = http.post(
            "/v1/orders", json={"orders": lines, "as_of": "2024-06-01"}, headers=USER
        )
        assert ingest.status_code == 200 and ingest.json()["scoring"] == "updated"
        touch = {
            "customer_id": CUSTOMER,
            "contacted_at": "2024-05-20T09:00:00Z",
            "campaign": CAMPAIGN,
        }
        assert (
            http.post("/v1/contacts", json={"contacts": [touch]}, headers=USER).status_code == 200
        )
        attrs = {"timezone": "Asia/Shanghai", "consent_sms": True, "tags": {"note": CAMPAIGN}}
        assert http.put(f"/v1/customers/{CUSTOMER}", json=attrs, headers=USER).status_code == 200
        assert http.get(f"/v1/customers/{CUSTOMER}", headers=USER).status_code == 200
        assert http.get(f"/v1/customers/{OTHER}", headers=USER).status_code == 404
        history = [{"ordered_at": "2024-05-01", "amount": AMOUNT, "sku": SKU, "order_id": ORDER}]
        predict = {"customer_id": OTHER, "as_of": "2024-06-01", "orders": history}
        assert http.post("/v1/predict", json=predict, headers=USER).status_code == 200
        # A model failure (the rule model refuses this customer) is logged: without the data.
        boom = {"orders": [order_line("explode", 3, "2024-05-02") | {"sku": SKU}]}
        assert http.post("/v1/orders", json=boom, headers=USER).json()["scoring"] == "failed"
        # Invalid input echoes nothing into the log either.
        bad = {"orders": [order_line(CUSTOMER, 4, "2024-05-03") | {"amount": "lots"}]}
        assert http.post("/v1/orders", json=bad, headers=USER).status_code == 422
        future = {
            "customer_id": OTHER,
            "as_of": "2024-06-01",
            "orders": [{"ordered_at": "2099-01-01", "amount": AMOUNT, "sku": SKU}],
        }
        assert http.post("/v1/predict", json=future, headers=USER).status_code == 422
        assert http.post("/v1/model/reload", headers=ADMIN).status_code == 200


@pytest.mark.slow
def test_a_real_server_logs_no_customer_data_at_info(tmp_path: Path) -> None:
    model_dir = save_rule_model(tmp_path / "model", "hygiene-v1")
    port = free_port()
    env = os.environ | {
        "REPURCHASE_API_KEYS": f"{USER_KEY},{ADMIN_KEY}:admin",
        "REPURCHASE_HOME": str(tmp_path / "home"),
        "REPURCHASE_MODEL_URI": str(model_dir),
        "REPURCHASE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        # the pickled rule model refers to its test module by its dotted name
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("REPURCHASE_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "repurchase",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "info",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_live(base, process, log_path)
            deadline = time.monotonic() + 90
            while not httpx.get(f"{base}/ready", timeout=10).json()["model"]:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.3)
            exercise(base)
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log_path.read_text()
    assert "re-scoring 1 customers failed" in text  # the failure was logged (so logs were read)
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == [], f"customer data in the log: {leaked}\n{text[-3000:]}"


def test_an_unexpected_error_logs_the_route_not_the_customer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from fastapi.testclient import TestClient

    from serving.api.app import create_app
    from serving.api.deps import get_session
    from serving.api.model_holder import ModelHolder

    from .conftest import make_settings

    def broken_session() -> None:
        raise RuntimeError(f"bug while reading {CUSTOMER} ordering {SKU}")

    settings = make_settings(tmp_path)
    app = create_app(settings, holder=ModelHolder(settings))
    app.dependency_overrides[get_session] = broken_session
    caplog.set_level(logging.INFO)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/v1/customers/{CUSTOMER}", headers=USER)
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    # everything but the test's own HTTP client, which logs the URL it requested
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]
    above_debug = [r for r in server_side if r.levelno > logging.DEBUG]
    errors = [r.getMessage() for r in above_debug if r.levelno >= logging.ERROR]
    assert errors == ["unhandled RuntimeError on GET /v1/customers/{customer_id}"]
    assert all(r.exc_info is None for r in above_debug)
    assert not any(s in r.getMessage() for r in above_debug for s in SECRETS)
