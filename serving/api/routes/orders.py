"""POST /v1/orders: ingest order lines idempotently, then refresh those customers' scores."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter

from serving.api.deps import HolderDep, MetricsDep, NowDep, SessionDep, StateDep, TodayDep
from serving.api.schemas import IngestResult, OrdersIn
from serving.api.scoring import refresh_customers
from serving.store import repository as repo

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=200)
def post_orders(
    body: OrdersIn,
    session: SessionDep,
    holder: HolderDep,
    state: StateDep,
    metrics: MetricsDep,
    today: TodayDep,
    now: NowDep,
) -> IngestResult:
    """Store order lines (a re-sent order_id + sku is stored once) and re-score their customers."""
    orders = pd.DataFrame([order.model_dump() for order in body.orders])
    stored = repo.add_orders(session, orders, received_at=now)
    session.commit()  # durable before we answer, whatever scoring does next
    outcome = refresh_customers(
        session,
        holder,
        stored.customer_ids,
        as_of=body.as_of or today,
        policy=state.policy,
        now=now,
    )
    if outcome.status == "failed":
        metrics.scoring_failures.labels("ingest").inc()
    metrics.predictions.labels("ingest").inc(outcome.scored)
    return IngestResult(
        received=stored.received,
        inserted=stored.inserted,
        duplicates=stored.duplicates,
        customers=stored.customer_ids,
        scoring=outcome.status,  # type: ignore[arg-type]
        model_version=outcome.model_version,
    )
