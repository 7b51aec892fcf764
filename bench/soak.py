"""Soak test: a real server under a steady request rate for minutes (`make soak`).

    python bench/soak.py --duration 600 --rate 20 --work var/soak

1. Starts `repurchase serve` on a free loopback port with a fresh SQLite database (the
   helpers of `bench/bench_api.py`) and the model at --model-uri; without one, trains a small
   model on a generated shop into an MLflow store under --work and promotes it (once: later
   runs reuse it).
2. Seeds --customers customers through POST /v1/orders.
3. Sends --rate requests a second for --duration seconds, open loop (on a fixed schedule,
   whether or not earlier answers came back, so a slow server cannot slow the load down):
   POST /v1/predict 40%, GET /v1/customers/{id} 30%, GET /v1/contact-plan 15%, GET /health
   15%.
4. Samples the server's resident memory (RSS, with any child processes) every
   --sample-every seconds.
5. Prints errors, p50/p95/p99 latency per endpoint and RSS growth from the end of the
   warm-up (--warmup seconds) to the end; writes them as JSON. Exit code 1 when any request
   failed (transport error or a status other than 2xx) or RSS grew by 10% or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the sibling bench module, importable once its folder is on the path
from bench_api import (
    API_KEY,
    AS_OF,
    free_port,
    history,
    seed,
    start_server,
    wait_ready,
)

MIX = (("predict", 0.40), ("customer", 0.30), ("plan", 0.15), ("health", 0.15))
MAX_RSS_GROWTH = 0.10
SAMPLE_WINDOW_S = 30.0  # RSS at a moment = the median of the samples of this window


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)
    late_starts: int = 0  # requests sent more than a second after their slot

    def record(self, kind: str, elapsed_ms: float, problem: str | None) -> None:
        self.latencies_ms[kind].append(elapsed_ms)
        if problem is not None:
            self.errors[kind] += 1
            if len(self.error_examples) < 10:
                self.error_examples.append(f"{kind}: {problem}")


def prepare_model(work: Path) -> str:
    """A champion trained on a generated shop, in an MLflow store under `work` (reused)."""
    work.mkdir(parents=True, exist_ok=True)
    os.environ["REPURCHASE_MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["REPURCHASE_MLFLOW_ARTIFACT_ROOT"] = str(work / "artifacts")
    marker = work / "champion.ready"
    if not marker.exists():
        cli = [sys.executable, "-m", "repurchase"]
        shop = work / "shop"
        print("training a soak model on a generated shop (first run only)...", flush=True)
        for step in (
            [*cli, "generate", "--customers", "1000", "--out", str(shop), "--seed", "7"],
            [
                *cli,
                "train",
                "--orders",
                str(shop / "orders.csv"),
                "--products",
                str(shop / "products.csv"),
            ],
            [*cli, "promote", "--force"],
        ):
            subprocess.run(step, check=True, stdout=subprocess.DEVNULL)
        marker.write_text("models:/repurchase@champion\n")
    return "models:/repurchase@champion"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children."""
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # ended between the two calls
            total += child.memory_info().rss
    return int(total)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[rank], 1)


def request_plan(rate: float, duration: float, seed_value: int) -> list[tuple[float, str]]:
    """(offset in seconds, request kind) for every request of the run, fixed in advance."""
    import numpy as np

    rng = np.random.default_rng(seed_value)
    count = int(rate * duration)
    kinds = [kind for kind, _ in MIX]
    chosen = rng.choice(len(kinds), size=count, p=[share for _, share in MIX])
    return [(n / rate, kinds[int(k)]) for n, k in enumerate(chosen)]


async def run_load(
    base: str,
    ids: list[str],
    bodies: list[dict[str, Any]],
    args: argparse.Namespace,
    pid: int,
) -> tuple[Tally, list[tuple[float, int]]]:
    import httpx

    tally = Tally()
    samples: list[tuple[float, int]] = []
    plan = request_plan(args.rate, args.duration, seed_value=5)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=30, limits=limits
    ) as client:

        async def one(n: int, kind: str) -> None:
            started = time.perf_counter()
            try:
                if kind == "predict":
                    response = await client.post("/v1/predict", json=bodies[n % len(bodies)])
                elif kind == "customer":
                    response = await client.get(f"/v1/customers/{ids[n % len(ids)]}")
                elif kind == "plan":
                    day = AS_OF + dt.timedelta(days=n % 30)
                    response = await client.get("/v1/contact-plan", params={"date": str(day)})
                else:
                    response = await client.get("/health")
                problem = (
                    None if response.is_success else f"{response.status_code} {response.text[:200]}"
                )
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            tally.record(kind, (time.perf_counter() - started) * 1000, problem)

        async def sample_memory(start: float) -> None:
            while True:
                samples.append((time.monotonic() - start, rss_bytes(pid)))
                await asyncio.sleep(args.sample_every)

        start = time.monotonic()
        sampler = asyncio.create_task(sample_memory(start))
        tasks: list[asyncio.Task[None]] = []
        next_report = 60.0
        for n, (offset, kind) in enumerate(plan):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                tally.late_starts += 1
            tasks.append(asyncio.create_task(one(n, kind)))
            if offset >= next_report:
                done = sum(len(v) for v in tally.latencies_ms.values())
                errors = sum(tally.errors.values())
                rss = samples[-1][1] / 2**20 if samples else 0.0
                print(
                    f"  {offset:5.0f}s  {done} answered, {errors} errors, RSS {rss:.0f} MiB",
                    flush=True,
                )
                next_report += 60.0
        await asyncio.gather(*tasks)
        samples.append((time.monotonic() - start, rss_bytes(pid)))
        sampler.cancel()
    return tally, samples


def rss_at(samples: list[tuple[float, int]], start: float, end: float) -> float:
    import statistics

    window = [rss for moment, rss in samples if start <= moment <= end]
    return float(statistics.median(window)) if window else float("nan")


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=None, help="MLflow model URI (default: train one)")
    parser.add_argument("--work", type=Path, default=Path("var/soak"))
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS baseline")
    parser.add_argument("--sample-every", type=float, default=5.0, help="RSS sample period (s)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument(
        "--prepare-only", action="store_true", help="only train the soak model (for make fuzz)"
    )
    args = parser.parse_args()
    if args.prepare_only:
        print(prepare_model(args.work.resolve()))
        return
    if args.duration < args.warmup + 2 * SAMPLE_WINDOW_S:
        raise SystemExit("--duration must leave two 30 s RSS windows after --warmup")

    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    model_uri = args.model_uri or prepare_model(args.work)
    for stale in (args.work / "home").glob("repurchase.db*"):
        stale.unlink()
    rng = np.random.default_rng(11)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.work, port, model_uri)
    try:
        ready = wait_ready(base, server, args.work / "server.log", args.ready_timeout)
        print(f"server ready on {base}, model version {ready.get('model_version')}", flush=True)
        ids = seed(base, args.customers, rng)
        print(
            f"seeded {len(ids)} customers; {args.rate:g} req/s for {args.duration:g}s", flush=True
        )
        bodies = [
            {"customer_id": f"walk-in-{i}", "as_of": AS_OF.isoformat(), "orders": history(rng)}
            for i in range(200)
        ]
        tally, samples = asyncio.run(run_load(base, ids, bodies, args, server.pid))
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)

    baseline = rss_at(samples, args.warmup, args.warmup + SAMPLE_WINDOW_S)
    final = rss_at(samples, samples[-1][0] - SAMPLE_WINDOW_S, samples[-1][0])
    growth = final / baseline - 1
    total = sum(len(v) for v in tally.latencies_ms.values())
    errors = sum(tally.errors.values())
    endpoints = {
        kind: {
            "requests": len(tally.latencies_ms[kind]),
            "errors": tally.errors[kind],
            "p50_ms": percentile(tally.latencies_ms[kind], 50),
            "p95_ms": percentile(tally.latencies_ms[kind], 95),
            "p99_ms": percentile(tally.latencies_ms[kind], 99),
        }
        for kind, _ in MIX
    }
    result = {
        "model_version": ready.get("model_version"),
        "rate_rps": args.rate,
        "duration_s": args.duration,
        "requests": total,
        "errors": errors,
        "error_examples": tally.error_examples,
        "late_starts": tally.late_starts,
        "server_alive_at_end": alive,
        "rss_mib_after_warmup": round(baseline / 2**20, 1),
        "rss_mib_at_end": round(final / 2**20, 1),
        "rss_growth_pct": round(100 * growth, 2),
        "rss_samples_mib": [(round(t, 1), round(r / 2**20, 1)) for t, r in samples],
        "cpus": os.cpu_count(),
        "endpoints": endpoints,
    }
    names = {
        "predict": "POST /v1/predict (20)",
        "customer": "GET /v1/customers/{id}",
        "plan": "GET /v1/contact-plan",
        "health": "GET /health",
    }
    print(f"{'request':<26}{'count':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for kind, row in endpoints.items():
        print(
            f"{names[kind]:<26}{row['requests']:>7}{row['errors']:>8}{row['p50_ms']!s:>9}"
            f"{row['p95_ms']!s:>9}{row['p99_ms']!s:>9}"
        )
    print(
        f"{total} requests, {errors} errors, {tally.late_starts} sent >1 s late; RSS "
        f"{result['rss_mib_after_warmup']} MiB after warm-up -> {result['rss_mib_at_end']} MiB "
        f"at end ({result['rss_growth_pct']:+.2f}%, limit +{100 * MAX_RSS_GROWTH:.0f}%)"
    )
    for example in tally.error_examples:
        print(f"  error: {example}")
    out = args.work / "soak.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    if errors or not alive or not growth < MAX_RSS_GROWTH:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
