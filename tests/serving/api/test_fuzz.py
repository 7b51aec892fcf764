"""Fuzzing the API from its own OpenAPI document (Schemathesis).

Every operation of `/openapi.json` gets generated requests, valid (positive) and invalid
(negative), sent with a valid admin key to the app in-process with a real (rule) model
loaded. Each response must pass Schemathesis' checks: no 5xx, status codes, headers and
bodies as documented, invalid requests answered 4xx, valid ones not refused.

The budget per operation and mode comes from ``REPURCHASE_FUZZ_EXAMPLES`` (default small,
for `make test`); `make fuzz` runs the Schemathesis CLI against a real server at the full
budget.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from repurchase.settings import Settings
from serving.api.app import create_app
from serving.api.deps import get_today
from serving.api.model_holder import ModelHolder

from .conftest import ADMIN_KEY
from .rule_model import load_labelled_pyfunc, save_rule_model

AS_OF = dt.date(2024, 6, 1)
EXAMPLES = int(os.environ.get("REPURCHASE_FUZZ_EXAMPLES", "10"))
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

# Every operation of the API; `test_the_list_covers_the_schema` fails when one is added.
OPERATIONS = [
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "POST /v1/orders",
    "POST /v1/contacts",
    "PUT /v1/customers/{customer_id}",
    "GET /v1/customers/{customer_id}",
    "POST /v1/predict",
    "GET /v1/contact-plan",
    "GET /v1/model",
    "POST /v1/model/reload",
]


# What JSON Schema cannot say: a predict history needs a paid order on or before `as_of`
# (a request-time date), so some schema-valid histories are rightly refused with 422.
EXCLUDED = {"POST /v1/predict": [positive_data_acceptance]}

# Operations without parameters or body have no invalid form to generate.
NO_INPUT = {"GET /health", "GET /ready", "GET /metrics", "GET /v1/model", "POST /v1/model/reload"}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for the module: SQLite, the rule model loaded, today = AS_OF.

    Shared across examples on purpose: the state that builds up (orders, customers) is part
    of what a fuzzer should meet.
    """
    root = tmp_path_factory.mktemp("fuzz")
    model_dir = save_rule_model(root / "model", "fuzz-v1")
    app_settings = Settings(
        api_keys=f"{ADMIN_KEY}:admin",
        home=root / "home",
        model_uri=str(model_dir),
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        demo_mode=False,
    )
    holder = ModelHolder(app_settings, loader=load_labelled_pyfunc)
    holder.load()
    app = create_app(app_settings, holder=holder)
    app.dependency_overrides[get_today] = lambda: AS_OF
    with TestClient(app):  # the lifespan (migrations); Schemathesis' transport skips it
        yield app


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


def test_the_list_covers_the_schema(api_schema: Any) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_keeps_its_contract(
    api_schema: Any, label: str, mode: GenerationMode
) -> None:
    if mode is GenerationMode.NEGATIVE and label in NO_INPUT:
        return
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED.get(label, []))

    fuzz()
