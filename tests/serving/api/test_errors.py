"""The exception handlers: InputError -> 422, unknown errors -> a logged 500 without details."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.errors import InputError


def fail_with_input_error() -> None:
    raise InputError("must be a number", path="model input", column="amount")


def fail_with_a_bug() -> None:
    raise KeyError("secret-internal-detail")


def test_input_errors_are_422_with_their_message(app: FastAPI) -> None:
    app.add_api_route("/boom-input", fail_with_input_error)
    with TestClient(app) as client:
        response = client.get("/boom-input")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "model input: column 'amount': must be a number"


def test_bugs_are_a_logged_500_that_leaks_nothing(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    app.add_api_route("/boom-bug", fail_with_a_bug)
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom-bug")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "secret-internal-detail" not in response.text
    assert any("GET /boom-bug" in record.getMessage() for record in caplog.records)
