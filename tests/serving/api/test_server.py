"""End to end against a real `repurchase serve` (uvicorn) process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from serving.store import make_engine, make_session_factory
from serving.store import repository as repo

from .conftest import ADMIN_KEY, USER_KEY, order

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(tmp_path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m repurchase serve` with two keys and a home folder under tmp_path."""
    env = os.environ | {
        "REPURCHASE_API_KEYS": f"{USER_KEY},{ADMIN_KEY}:admin",
        "REPURCHASE_HOME": str(tmp_path / "home"),
        "REPURCHASE_MODEL_URI": str(tmp_path / "no-model-yet"),
        "REPURCHASE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    env.pop("REPURCHASE_DATABASE_URL", None)
    log = open(tmp_path / f"server-{port}.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "repurchase", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_live(f"http://127.0.0.1:{port}", process, tmp_path / f"server-{port}.log")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        log.close()


def wait_until_live(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited: {log.read_text()[-2000:]}"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")


@pytest.mark.slow
def test_a_real_server_authenticates_validates_and_keeps_acknowledged_orders(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    user = {"Authorization": f"Bearer {USER_KEY}"}
    lines = {"orders": [order("o-1"), order("o-2"), order("o-3", customer_id="c-2")]}

    with running_server(tmp_path, port) as process, httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/v1/orders", json=lines).status_code == 401
        assert http.post("/v1/model/reload", headers=user).status_code == 403
        bad = http.post("/v1/orders", json={"orders": [order(amount="lots")]}, headers=user)
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "orders", 0, "amount"]

        first = http.post("/v1/orders", json=lines, headers=user).json()
        second = http.post("/v1/orders", json=lines, headers=user).json()
        assert (first["inserted"], second["inserted"], second["duplicates"]) == (3, 0, 3)
        # No graceful shutdown: the acknowledged rows must already be on disk.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    with running_server(tmp_path, port), httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/v1/customers/c-2", headers=user).status_code == 200
        third = http.post("/v1/orders", json=lines, headers=user).json()
        assert (third["inserted"], third["duplicates"]) == (0, 3)

    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'repurchase.db'}")
    with make_session_factory(engine)() as session:
        assert repo.count_orders(session) == 3
    engine.dispose()
