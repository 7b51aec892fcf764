"""Benchmark: the HTTP API under 32 concurrent clients (`make bench-api`).

    python bench/bench_api.py --model-uri models:/repurchase@champion --work var/bench-api

1. Starts `repurchase serve` in its own process on a free loopback port, with a fresh SQLite
   database under --work and the model at --model-uri (default: the configured champion),
   and the per-key rate limit off (one key sends everything); waits for /ready.
2. Seeds --customers customers through POST /v1/orders (20 orders each, batches of 50
   customers; each batch is re-scored by the model, as in production).
3. Runs `wrk` (a C load generator, its own process; script `bench/wrk/load.lua`) with
   --concurrency connections for --duration seconds per request type, one type after the
   other in the same run (so each figure is that endpoint's own capacity): POST /v1/predict
   with a 20-order history (200 different customers, cycled), GET /v1/customers/{id},
   GET /health.
4. Measures the stack's floor the same way: `bench/floor_app.py` (uvicorn, FastAPI and the
   same validated `PredictIn` body, nothing computed) under POST /v1/predict and GET /health.
5. Prints throughput (successful requests per second) and p50/p95/p99 latency per request
   type and writes them as JSON.

A Python load generator (httpx) tops out near 100 requests/s on this class of machine, which
made /health look 10 times slower than it is; wrk does not. Both processes still share the
machine, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
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
        # This measures capacity with one key: the per-key limit (default 6,000 a minute)
        # would answer 429 past 100 req/s and count the limiter, not the endpoint.
        "REPURCHASE_RATE_LIMIT_PER_MINUTE": "0",
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
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "load.lua"


def run_wrk(
    base: str, kind: str, input_file: Path | None, args: argparse.Namespace
) -> dict[str, Any]:
    """One request kind under `wrk` (a C load generator in its own process) for --duration s."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench-api` installs it (Debian package wrk)")
    env = os.environ | {
        "BENCH_KIND": kind,
        "BENCH_INPUT": str(input_file or ""),
        "BENCH_API_KEY": API_KEY,
    }
    command = [
        "wrk",
        f"--threads={args.wrk_threads}",
        f"--connections={args.concurrency}",
        f"--duration={int(args.duration)}s",
        "--timeout=60s",
        f"--script={WRK_SCRIPT}",
        base,
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    result_lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if finished.returncode != 0 or not result_lines:
        raise SystemExit(f"wrk failed:\n{finished.stdout}\n{finished.stderr}")
    raw = json.loads(result_lines[-1].removeprefix("RESULT "))
    errors = raw["status_errors"] + raw["socket_errors"]
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": errors,
        "throughput_rps": round((raw["requests"] - errors) / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p95_ms": round(raw["p95_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
    }


def run_load(
    base: str, ids: list[str], bodies: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """Each request kind in turn, so every figure is that endpoint's own capacity."""
    bodies_file = args.work / "predict_bodies.jsonl"
    bodies_file.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    ids_file = args.work / "customer_ids.txt"
    ids_file.write_text("".join(f"{customer}\n" for customer in ids))
    inputs = {"predict": bodies_file, "customer": ids_file, "health": None}
    return {kind: run_wrk(base, kind, inputs[kind], args) for kind in KINDS}


def measure_floor(args: argparse.Namespace) -> dict[str, Any]:
    """POST /v1/predict and GET /health on `bench/floor_app.py` (see step 4), by wrk."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(args.work / "floor.log", "wb")  # noqa: SIM115 - lives as long as the server
    here = str(Path(__file__).resolve().parent)
    command = ["-m", "uvicorn", "floor_app:app", "--app-dir", here, "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, *command, "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(base, server, args.work / "floor.log", 60.0)
        bodies = args.work / "predict_bodies.jsonl"
        return {kind: run_wrk(base, kind, bodies, args) for kind in ("predict", "health")}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=None, help="MLflow model URI (default: champion)")
    parser.add_argument("--work", type=Path, default=Path("var/bench-api"))
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="load generator threads (1 leaves a core)"
    )
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
    floor = measure_floor(args)
    result = {
        "model_version": ready.get("model_version"),
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "load_generator": f"wrk, {args.wrk_threads} thread(s), one request type at a time",
        "customers_seeded": args.customers,
        "seeding_s": round(seeding, 1),
        "cpus": os.cpu_count(),
        "endpoints": summary,
        "stack_floor": floor,
    }
    print(f"{'request':<33}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    names = {
        "predict": "POST /v1/predict (20)",
        "customer": "GET /v1/customers/{id}",
        "health": "GET /health",
    }
    rows = [(names[kind], row) for kind, row in summary.items()]
    rows += [(f"floor: {names[kind]}", row) for kind, row in floor.items()]
    for name, row in rows:
        print(
            f"{name:<33}{row['throughput_rps']:>8}{row['p50_ms']!s:>9}"
            f"{row['p95_ms']!s:>9}{row['p99_ms']!s:>9}{row['errors']:>8}"
        )
    ratio = summary["predict"]["throughput_rps"] / summary["health"]["throughput_rps"]
    print(f"predict / health: {ratio:.1%} (target 50%, p99 under 25 ms)")
    out = args.work / "bench_api.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
