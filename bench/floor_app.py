"""The floor under `POST /v1/predict` in this web stack, for `make bench-api` to measure.

The same server (uvicorn), framework (FastAPI) and request model (`PredictIn`, a 20-order
history validated by pydantic) as `repurchase serve`, with nothing computed: no features,
model, plan, database, keys or metrics. What it serves per second is the most any predict
endpoint on this stack could, beside a `/health` without the real app's middleware.
"""

from __future__ import annotations

from fastapi import FastAPI

from serving.api.schemas import PredictIn

app = FastAPI(title="stack floor")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/ready")  # what bench_api.wait_ready polls
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/predict")
async def predict(body: PredictIn) -> dict[str, int]:
    return {"orders": len(body.orders)}
