"""serving/api/limits.py: per-key rate limits (429 + Retry-After) and the body size limit (413)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from repurchase.settings import Settings
from serving.api.app import create_app
from serving.api.limits import RateLimiter
from serving.api.model_holder import ModelHolder

from .conftest import ADMIN_KEY, USER_KEY, make_settings, order

USER = {"Authorization": f"Bearer {USER_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_ten_seconds_and_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock)  # 1 a second, bursts of 10
    assert [limiter.take("k") for _ in range(10)] == [0.0] * 10
    assert limiter.take("k") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("k") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("k") == 0.0
    # Idle for an hour: the bucket is full again, but never above its capacity.
    clock.now += 3600
    assert sum(limiter.take("k") == 0.0 for _ in range(20)) == 10


def test_keys_have_their_own_buckets_and_zero_means_no_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=6, clock=clock)  # capacity 1
    assert limiter.take("a") == 0.0 and limiter.take("b") == 0.0
    assert limiter.take("a") == pytest.approx(10.0)
    unlimited = RateLimiter(per_minute=0, clock=clock)
    assert all(unlimited.take("a") == 0.0 for _ in range(10_000))


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    """An app allowing 6 requests a minute per key (a burst of 1) and 2 KiB bodies."""
    settings = make_settings(tmp_path, rate_limit_per_minute=6, max_body_bytes=2048)
    with TestClient(create_app(settings, holder=_no_model(settings))) as client:
        yield client


def _no_model(settings: Settings) -> ModelHolder:
    return ModelHolder(settings)


def test_over_the_limit_a_key_gets_429_with_retry_after(limited: TestClient) -> None:
    assert limited.get("/v1/contact-plan?date=2024-06-01", headers=USER).status_code == 200
    refused = limited.get("/v1/contact-plan?date=2024-06-01", headers=USER)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"
    assert "rate limit" in refused.json()["detail"]
    # Another key is not slowed down by the first one's traffic.
    assert limited.get("/v1/contact-plan?date=2024-06-01", headers=ADMIN).status_code == 200
    # Probes have no key and no limit.
    assert all(limited.get("/health").status_code == 200 for _ in range(5))


def test_a_declared_oversized_body_is_refused_before_it_is_read(limited: TestClient) -> None:
    body = json.dumps({"orders": [order(f"o-{n}") for n in range(40)]})
    assert len(body) > 2048
    response = limited.post(
        "/v1/orders", content=body, headers={**USER, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 2048 bytes"}


def test_a_streamed_oversized_body_is_refused(limited: TestClient) -> None:
    chunk = json.dumps(order()).encode()

    def stream() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"orders": ['
        for _ in range(40):
            yield chunk + b","
        yield chunk + b"]}"

    response = limited.post(
        "/v1/orders", content=stream(), headers={**USER, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "request body larger than 2048 bytes"


def test_a_body_under_the_limit_is_served(limited: TestClient) -> None:
    response = limited.post("/v1/orders", json={"orders": [order()]}, headers=USER)
    assert response.status_code == 200
    assert response.json()["inserted"] == 1


def test_the_limits_are_settings_with_generous_defaults() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.rate_limit_per_minute == 6000
    assert defaults.max_body_bytes == 10 * 1024 * 1024
