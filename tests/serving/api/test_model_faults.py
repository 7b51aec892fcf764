"""A missing or broken model: the server starts not-ready with one clear ERROR line, and a
failed reload keeps the previous model serving.

Start-up is the real path: the app loads the configured model in the background through
the MLflow registry loader (`training.registry.load_scoring_model`), as `repurchase serve`
does.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.api.app import create_app
from serving.api.deps import get_today
from serving.api.model_holder import ModelHolder

from .conftest import ADMIN_KEY, USER_KEY, make_settings
from .rule_model import load_labelled_pyfunc, save_rule_model
from .test_server import free_port, wait_until_live

USER = {"Authorization": f"Bearer {USER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HISTORY = {"orders": [{"ordered_at": "2024-05-20", "amount": 30.0}]}
LOAD_TIMEOUT_S = 60


def garbage_joblib(tmp_path: Path) -> str:
    path = tmp_path / "champion.joblib"
    path.write_bytes(b"\x80\x04not a pickle at all" * 100)
    return str(path)


def corrupt_saved_model(tmp_path: Path) -> str:
    """A complete MLflow model folder whose pickled model was overwritten with garbage."""
    folder = save_rule_model(tmp_path / "corrupt-model", "v9")
    (pickled,) = folder.glob("python_model.pkl")
    pickled.write_bytes(b"garbage" * 50)
    return str(folder)


def wait_for_load_attempt(holder: ModelHolder) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while holder.last_error is None and holder.info is None:
        assert time.monotonic() < deadline, "the model load never finished"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("make_uri", "cause"),
    [
        (lambda tmp: None, "not found"),  # the default models:/repurchase@champion, none set
        (corrupt_saved_model, "Error"),  # a garbage .joblib file: the real-server test below
    ],
    ids=["no-champion", "corrupt-artifact"],
)
def test_a_bad_model_at_start_leaves_the_server_up_but_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make_uri: object, cause: str
) -> None:
    uri = make_uri(tmp_path)  # type: ignore[operator]
    settings = make_settings(tmp_path, model_uri=uri)
    app = create_app(settings)  # no holder given: loads the configured model in background
    caplog.set_level(logging.INFO)
    with TestClient(app) as client:
        holder: ModelHolder = app.state.repurchase.holder
        wait_for_load_attempt(holder)
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["model"] is False and ready.json()["database"] is True
        assert cause in ready.json()["detail"]
        predict = client.post("/v1/predict", json=HISTORY, headers=USER)
        assert predict.status_code == 503 and predict.json()["detail"].startswith("no model")
        assert client.get("/v1/model", headers=USER).status_code == 503
        # What needs no model still works.
        assert client.get("/v1/contact-plan?date=2024-06-01", headers=USER).status_code == 200

    ours = [r for r in caplog.records if r.name.startswith(("serving", "repurchase"))]
    errors = [r for r in ours if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].getMessage().startswith("NOT READY: model")
    assert cause in errors[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.fixture
def serving_v1(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    model_dir = save_rule_model(tmp_path / "served", "v1")
    settings = make_settings(tmp_path, model_uri=str(model_dir))
    holder = ModelHolder(settings, loader=load_labelled_pyfunc)
    holder.load()
    app = create_app(settings, holder=holder)
    app.dependency_overrides[get_today] = lambda: dt.date(2024, 6, 1)
    with TestClient(app) as client:
        yield client, model_dir


def test_a_reload_of_a_corrupt_model_keeps_serving_the_old_one_throughout(
    serving_v1: tuple[TestClient, Path],
) -> None:
    client, model_dir = serving_v1
    (model_dir / "python_model.pkl").write_bytes(b"garbage")
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def keep_predicting() -> None:
        while not stop.is_set() or len(answers) < 6:
            response = client.post("/v1/predict", json=HISTORY, headers=USER)
            answers.append((response.status_code, response.json()["score"]["model_version"]))

    workers = [threading.Thread(target=keep_predicting) for _ in range(2)]
    for worker in workers:
        worker.start()
    reload = client.post("/v1/model/reload", headers=ADMIN)
    stop.set()
    for worker in workers:
        worker.join()

    assert reload.status_code == 503
    assert reload.json()["detail"].startswith("reload failed")
    assert "still serving version v1" in reload.json()["detail"]
    assert {answer for answer in answers} == {(200, "v1")}
    assert client.get("/v1/model", headers=USER).json()["version"] == "v1"
    assert client.get("/ready").json()["model_version"] == "v1"
    after = client.post("/v1/predict", json=HISTORY, headers=USER)
    assert after.status_code == 200 and after.json()["score"]["model_version"] == "v1"


def test_a_user_key_cannot_reload_even_a_broken_model(
    serving_v1: tuple[TestClient, Path],
) -> None:
    client, _ = serving_v1
    response = client.post("/v1/model/reload", headers=USER)
    assert response.status_code == 403
    assert response.json() == {"detail": "admin key required"}


@pytest.mark.slow
def test_a_real_server_with_a_garbage_model_starts_not_ready(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "REPURCHASE_API_KEYS": f"{USER_KEY},{ADMIN_KEY}:admin",
        "REPURCHASE_HOME": str(tmp_path / "home"),
        "REPURCHASE_MODEL_URI": garbage_joblib(tmp_path),
        "REPURCHASE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    env.pop("REPURCHASE_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "repurchase", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_live(base, process, log_path)
            deadline = time.monotonic() + LOAD_TIMEOUT_S
            while "NOT READY" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.2)
            ready = httpx.get(f"{base}/ready", timeout=10)
            assert ready.status_code == 503 and "MLmodel" in ready.json()["detail"]
            predict = httpx.post(f"{base}/v1/predict", json=HISTORY, headers=USER, timeout=10)
            assert predict.status_code == 503
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log_path.read_text()
    error_lines = [line for line in text.splitlines() if " ERROR " in line]
    assert len(error_lines) == 1 and "NOT READY: model" in error_lines[0], text[-2000:]
    assert "Traceback" not in text
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
