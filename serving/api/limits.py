"""Per-key rate limits and the request body size limit.

    limiter = RateLimiter(per_minute=6000)
    wait = limiter.take("3fa2c1d0")   # 0.0 = go ahead; else seconds until a request may pass

    app.add_middleware(BodySizeLimit, max_bytes=10 * 1024 * 1024)

The rate limit is a token bucket per API key fingerprint, in memory (one process: each
server instance limits its own traffic). It refills at ``per_minute / 60`` tokens a second
and holds at most ten seconds' worth, so a client may burst briefly but not spend a whole
minute's allowance at once. Callers over the limit get 429 with ``Retry-After`` (see
`serving.api.deps.require_key`).

The body limit answers 413 before reading anything when ``Content-Length`` is too large,
and stops reading a streamed (chunked) body as soon as it passes the limit, so an oversized
request never sits whole in memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BURST_SECONDS = 10.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per key fingerprint; ``per_minute=0`` turns limiting off."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, math.floor(self.rate * BURST_SECONDS))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # dependencies run in a thread pool

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, key: str) -> float:
        """Spend one token of `key`: 0.0 when allowed, else the seconds to wait for one."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=self.capacity, updated=now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def check(self, key: str) -> None:
        """Raise 429 with ``Retry-After`` (whole seconds, at least 1) when `key` is over."""
        wait = self.take(key)
        if wait > 0:
            raise HTTPException(
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"rate limit of {self.per_minute} requests per minute exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


class BodyTooLarge(Exception):
    """Raised into the app once a streamed body passed the limit and 413 was sent."""


class BodySizeLimit:
    """ASGI middleware: refuse request bodies larger than `max_bytes` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return
        received = 0
        started = refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; drop whatever the app makes of the abort
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    # Answer here: FastAPI turns any error raised while it reads the body
                    # into a 400, so the 413 is sent first and the app's answer dropped.
                    if not refused:
                        refused = True
                        await _send_413(send, self.max_bytes)
                    raise BodyTooLarge(f"request body larger than {self.max_bytes} bytes")
            return message

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # malformed: the server rejects it before we see it
    return None


async def _send_413(send: Send, max_bytes: int) -> None:
    body = f'{{"detail":"request body larger than {max_bytes} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status.HTTP_413_CONTENT_TOO_LARGE,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
