"""Crash durability: SIGKILL a real server while a client streams orders, restart it, repeat.

A client thread posts small batches of new order lines (unique order_id + sku) and, like a
real client, re-sends the same batch after a connection error or a 5xx until it gets a 2xx.
Meanwhile the main thread kills the server with SIGKILL at seeded random moments and starts
it again on the same port and database. At the end, read straight from the database: every
acknowledged line is stored exactly once, re-sent batches added nothing, nothing unknown
appears. Runs on SQLite, and on PostgreSQL when REPURCHASE_TEST_POSTGRES_URL is set.
No model is configured: the orders route stores and answers 2xx without one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from .conftest import USER_KEY, order

KILLS = 5
MIN_BATCHES = 25  # the client keeps going until told to stop and at least this many are in
LINES_PER_BATCH = 4
START_TIMEOUT_S = 60


# The server's imports take seconds of CPU; paying them once per restart would make five
# kills cost a minute. A zygote process imports everything once and forks a fresh
# `repurchase serve` for every start (what gunicorn's --preload does): each server is its own
# process with its own settings, app, engine and sockets, and SIGKILL takes only it down.
# A start request is one JSON line: {"port": ..., "log": ..., "env": {...}}.
ZYGOTE = """
import json, os, signal, sys
from repurchase.cli import app
import serving.api.app  # noqa: F401 - the server's imports, paid once here
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped at once
print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        out = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        try:
            app(["serve", "--port", str(request["port"])])
        finally:
            os._exit(1)
    print(pid, flush=True)
"""


class Zygote:
    """A process that has imported the server and forks `repurchase serve` on request."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._answer() == "ready"

    def _answer(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def fork_server(self, port: int, log: Path, cwd: Path, env: dict[str, str]) -> int:
        assert self.process.stdin is not None
        request = {"port": port, "log": str(log), "cwd": str(cwd), "env": env}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(self._answer())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    zygote = Zygote()
    yield zygote
    zygote.close()


class Server:
    """`repurchase serve` on a fixed port and database, killed and restarted at will."""

    def __init__(self, zygote: Zygote, tmp_path: Path, database_url: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.zygote = zygote
        self.cwd = tmp_path
        self.log_path = tmp_path / "server.log"
        self.env = {
            "REPURCHASE_API_KEYS": USER_KEY,
            "REPURCHASE_HOME": str(tmp_path / "home"),
            "REPURCHASE_DATABASE_URL": database_url,
            "REPURCHASE_MODEL_URI": str(tmp_path / "no-model"),
            "REPURCHASE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        }
        self.pid: int | None = None

    def start(self) -> None:
        self.pid = self.zygote.fork_server(self.port, self.log_path, self.cwd, self.env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._alive(), f"server exited: {self.log_path.read_text()[-2000:]}"
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def _alive(self) -> bool:
        try:
            os.kill(self.pid or 0, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the running server and wait until its process is gone."""
        assert self.pid is not None
        os.kill(self.pid, sig)
        deadline = time.monotonic() + 30
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self._alive()
        self.pid = None

    def stop(self) -> None:
        if self.pid is not None:
            self.kill(signal.SIGTERM)


@dataclass
class Client:
    """Streams batches of new order lines, re-sending a batch until a 2xx acknowledges it."""

    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    sent: set[tuple[str, str]] = field(default_factory=set)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    attempts: int = 0
    retries: int = 0
    inserted: int = 0
    resent_acknowledged: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {USER_KEY}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as http:
            number = 0
            while not (self.stop.is_set() and number >= MIN_BATCHES):
                lines = [
                    order(f"o-{number}-{i}", customer_id=f"c-{(number + i) % 37}", sku=f"s-{i}")
                    for i in range(LINES_PER_BATCH)
                ]
                self.sent |= {(line["order_id"], line["sku"]) for line in lines}  # type: ignore[misc]
                self._deliver(http, {"orders": lines})
                if number % 10 == 9:  # a client that lost the answer sends it again: no-op
                    self._deliver(http, {"orders": lines}, again=True)
                number += 1

    def _deliver(self, http: httpx.Client, body: dict[str, object], again: bool = False) -> None:
        while True:
            self.attempts += 1
            try:
                response = http.post("/v1/orders", json=body)
            except httpx.TransportError:
                response = None
            if response is not None and response.is_success:
                result = response.json()
                self.inserted += result["inserted"]
                if again:
                    self.resent_acknowledged += result["duplicates"]
                self.acknowledged |= {(o["order_id"], o["sku"]) for o in body["orders"]}  # type: ignore[attr-defined]
                return
            if response is not None and response.status_code < 500:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
                return
            self.retries += 1
            time.sleep(0.05)


def stored_lines(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT order_id, sku FROM orders")).all()
    engine.dispose()
    return [(str(order_id), str(sku)) for order_id, sku in rows]


@pytest.mark.slow
def test_every_acknowledged_order_survives_sigkill_exactly_once(
    tmp_path: Path, database_url: str, zygote: Zygote
) -> None:
    rng = random.Random(20261123)
    server = Server(zygote, tmp_path, database_url)
    server.start()
    client = Client(server.base)
    thread = threading.Thread(target=client.run, daemon=True)
    kills = 0
    try:
        thread.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.0))
            server.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))  # the client meets a dead port meanwhile
            server.start()
        time.sleep(0.5)  # a last stretch against the restarted server
        client.stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "client stuck"
    finally:
        client.stop.set()
        server.stop()

    stored = stored_lines(database_url)
    print(
        f"\n{database_url.split(':')[0]}: {kills} kills, {len(client.sent)} lines sent, "
        f"{len(client.acknowledged)} acknowledged, {len(stored)} stored, "
        f"{client.attempts} requests, {client.retries} retried, "
        f"{len(stored) - client.inserted} committed lines whose answer the kill swallowed"
    )
    assert client.errors == []
    assert kills == KILLS
    assert client.retries > 0, "no request met a dead server: the kills proved nothing"
    assert len(client.acknowledged) >= MIN_BATCHES * LINES_PER_BATCH
    assert len(stored) == len(set(stored)), "a line is stored twice"
    assert client.acknowledged <= set(stored), "an acknowledged line was lost"
    # The client retried every batch until it was acknowledged, so sent = acknowledged = stored.
    assert set(stored) == client.acknowledged == client.sent
    # Every line was inserted by exactly one request; re-sends of acknowledged batches none.
    assert client.inserted <= len(stored)
    assert client.resent_acknowledged > 0
