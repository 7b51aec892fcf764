"""Benchmark: the HTTP API under 32 concurrent clients (`make bench-api`).

    python bench/bench_api.py --model-uri models:/repurchase@champion --work var/bench-api

1. Starts `repurchase serve` in its own process on a free loopback port, with a fresh SQLite
   database under --work and the model at --model-uri (default: the configured champion);
   waits for /ready (the model must load).
2. Seeds --customers customers through POST /v1/orders (20 orders each, batches of 50
   customers; each batch is re-scored by the model, as in production).
3. From this process (the load generator), --concurrency asyncio workers send requests for
   --duration seconds per request type, one type after the other in the same run (so each
   figure is that endpoint's own capacity): POST /v1/predict with a 20-order history,
   GET /v1/customers/{id}, GET /health. ``--mixed`` instead cycles every worker through the
   three for --duration seconds (health latency while the server is busy scoring).
4. Prints throughput and p50/p95/p99 latency per request type and writes them as JSON.

Both processes share the machine: on a small box the load generator takes CPU from the server,
so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

API_KEY = "bench-key-0123456789"
HISTORY = 20
AS_OF = dt.date(2025, 6, 30)


def history(rng: Any, n_orders: int = HISTORY) -> list[dict[str, Any]]:
    """A regular customer's order lines: gamma gaps around a personal cycle, ending before AS_OF."""
    cycle = float(rng.uniform(10, 60))
    gaps = rng.gamma(4.0, cycle / 4.0, n_orders)
    end = dt.datetime.combine(AS_OF, dt.time(12), tzinfo=dt.UTC) - dt.timedelta(
        days=float(rng.uniform(1, cycle))
    )
    moments = [end - dt.timedelta(days=float(g)) for g in reversed(gaps.cumsum() - gaps[-1])]
    return [
        {
            "ordered_at": moment.isoformat(),
            "amount": round(float(rng.gamma(3.0, 15.0)), 2),
            "sku": f"sku-{int(rng.integers(0, 40))}",
            "quantity": float(rng.integers(1, 3)),
        }
        for moment in moments
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(work: Path, port: int, model_uri: str | None) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "REPURCHASE_API_KEYS": API_KEY,
        "REPURCHASE_HOME": str(work / "home"),
    }
    env.pop("REPURCHASE_DATABASE_URL", None)
    if model_uri:
        env["REPURCHASE_MODEL_URI"] = model_uri
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "repurchase",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(
    base: str, server: subprocess.Popen[bytes], log: Path, timeout: float
) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{base}/ready", timeout=5)
            last = response.json()
            if response.status_code == 200:
                return last
            if last.get("detail", "").startswith("no model:") and "loading" not in last["detail"]:
                raise SystemExit(f"the model did not load: {last['detail']}")
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f}s: {last}")


def seed(base: str, customers: int, rng: Any) -> list[str]:
    import httpx

    ids = [f"bench-{i:06d}" for i in range(customers)]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for start in range(0, customers, 50):
            lines = []
            for customer in ids[start : start + 50]:
                for n, line in enumerate(history(rng)):
                    lines.append(line | {"customer_id": customer, "order_id": f"{customer}-{n}"})
            response = client.post("/v1/orders", json={"orders": lines, "as_of": AS_OF.isoformat()})
            response.raise_for_status()
            if response.json()["scoring"] != "updated":
                raise SystemExit(f"seeding did not re-score: {response.json()}")
    return ids


KINDS = ("predict", "customer", "health")


async def load(
    base: str,
    ids: list[str],
    bodies: list[dict[str, Any]],
    concurrency: int,
    duration: float,
    kinds: tuple[str, ...] = KINDS,
) -> dict[str, list[float]]:
    """Latencies (s) of successful requests per kind, plus error counts under `_errors`."""
    import httpx

    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    errors: dict[str, int] = {kind: 0 for kind in kinds}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    stop_at = time.perf_counter() + duration

    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:

        async def worker(number: int) -> None:
            step = number
            while time.perf_counter() < stop_at:
                kind = kinds[step % len(kinds)]
                started = time.perf_counter()
                try:
                    if kind == "predict":
                        body = bodies[step % len(bodies)]
                        response = await client.post("/v1/predict", json=body)
                    elif kind == "customer":
                        response = await client.get(f"/v1/customers/{ids[step % len(ids)]}")
                    else:
                        response = await client.get("/health")
                except httpx.HTTPError:  # a timeout counts as an error, not a crash
                    errors[kind] += 1
                    step += 1
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    latencies[kind].append(elapsed)
                else:
                    errors[kind] += 1
                step += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        # Workers finish their in-flight request after the deadline: divide by real time.
        elapsed_s = time.perf_counter() - began
    latencies["_errors"] = [float(errors[kind]) for kind in kinds]
    latencies["_elapsed"] = [elapsed_s]
    return latencies


def run_load(
    base: str, ids: list[str], bodies: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """Per-kind phases (default) or one mixed phase; the summary per request kind."""
    if args.mixed:
        latencies = asyncio.run(load(base, ids, bodies, args.concurrency, args.duration))
        return summarise(latencies, args.duration, KINDS)
    summary: dict[str, Any] = {}
    for kind in KINDS:
        latencies = asyncio.run(
            load(base, ids, bodies, args.concurrency, args.duration, kinds=(kind,))
        )
        summary |= summarise(latencies, args.duration, (kind,))
    return summary


def summarise(
    latencies: dict[str, list[float]], duration: float, kinds: tuple[str, ...]
) -> dict[str, Any]:
    import numpy as np

    errors = dict(zip(kinds, latencies.pop("_errors"), strict=True))
    duration = latencies.pop("_elapsed", [duration])[0]
    summary: dict[str, Any] = {}
    for kind, values in latencies.items():
        ms = np.array(values) * 1000
        summary[kind] = {
            "requests": len(values),
            "errors": int(errors[kind]),
            "throughput_rps": round(len(values) / duration, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
        }
    return summary


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=None, help="MLflow model URI (default: champion)")
    parser.add_argument("--work", type=Path, default=Path("var/bench-api"))
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase")
    parser.add_argument("--mixed", action="store_true", help="one phase mixing all requests")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    for stale in (args.work / "home").glob("repurchase.db*"):
        stale.unlink()
    rng = np.random.default_rng(11)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.work, port, args.model_uri)
    try:
        ready = wait_ready(base, server, args.work / "server.log", args.ready_timeout)
        print(f"server ready on {base}, model version {ready.get('model_version')}", flush=True)
        started = time.perf_counter()
        ids = seed(base, args.customers, rng)
        seeding = time.perf_counter() - started
        print(f"seeded {len(ids)} customers x {HISTORY} orders in {seeding:.1f}s", flush=True)
        bodies = [
            {"customer_id": f"walk-in-{i}", "as_of": AS_OF.isoformat(), "orders": history(rng)}
            for i in range(200)
        ]
        summary = run_load(base, ids, bodies, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "model_version": ready.get("model_version"),
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "mode": "mixed" if args.mixed else "one request type at a time",
        "customers_seeded": args.customers,
        "seeding_s": round(seeding, 1),
        "cpus": os.cpu_count(),
        "endpoints": summary,
    }
    print(f"{'request':<26}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    names = {
        "predict": "POST /v1/predict (20)",
        "customer": "GET /v1/customers/{id}",
        "health": "GET /health",
    }
    for kind, row in summary.items():
        print(
            f"{names[kind]:<26}{row['throughput_rps']:>8}{row['p50_ms']!s:>9}"
            f"{row['p95_ms']!s:>9}{row['p99_ms']!s:>9}{row['errors']:>8}"
        )
    out = args.work / "bench_api.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
