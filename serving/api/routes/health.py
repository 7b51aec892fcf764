"""Liveness, readiness and Prometheus metrics (no API key: probes and scrapers call these)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from serving.api.deps import StateDep
from serving.api.schemas import HealthPublic, ReadyPublic
from serving.store.models import Order

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health")
async def health() -> HealthPublic:
    """Liveness: the process answers."""
    return HealthPublic()


@router.get("/ready", responses={503: {"model": ReadyPublic}})
def ready(state: StateDep, response: Response) -> ReadyPublic:
    """Readiness: 200 once a model is loaded and the database answers, else 503."""
    database = _database_answers(state)
    info = state.holder.info
    is_ready = database and info is not None
    if not is_ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    # Both problems are named: an operator fixing the model must not miss a dead database.
    problems = [] if database else ["database unavailable"]
    if info is None:
        problems.append(f"no model: {state.holder.last_error or 'loading'}")
    detail = "; ".join(problems) or None
    return ReadyPublic(
        status="ready" if is_ready else "not_ready",
        database=database,
        model=info is not None,
        model_version=info.version if info else None,
        detail=detail,
    )


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: requests, latencies, predictions, model version."""
    return state.metrics.render()


def _database_answers(state: StateDep) -> bool:
    # A table, not `SELECT 1`: a SQLite file replaced by an empty one answers SELECT 1 but
    # cannot store an order.
    try:
        with state.engine.connect() as connection:
            connection.execute(select(Order.id).limit(1))
    except Exception as exc:  # any failure means "not ready", which is the answer
        log.warning("database check failed: %s", exc)
        return False
    return True
