"""POST /v1/predict: a customer's history in, a score and a recommendation out, nothing stored."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter

from serving.api.deps import HolderDep, MetricsDep, StateDep, TodayDep
from serving.api.schemas import PlanItemPublic, PredictIn, PredictOut, ScorePublic
from serving.api.scoring import predict_customer

router = APIRouter(prefix="/v1/predict", tags=["predict"])


@router.post("", responses={503: {"description": "No model is loaded."}})
def predict(
    body: PredictIn, holder: HolderDep, state: StateDep, metrics: MetricsDep, today: TodayDep
) -> PredictOut:
    """Score one customer's order history as of a date (default today) and say what to do."""
    score, contact = predict_customer(
        holder,
        history_frame(body),
        as_of=body.as_of or today,
        customers=customer_frame(body),
        contacts=contacts_frame(body),
        policy=state.policy,
    )
    metrics.predictions.labels("predict").inc()
    return PredictOut(
        score=ScorePublic.model_validate(score),
        recommendation=PlanItemPublic.model_validate(contact) if contact else None,
    )


def history_frame(body: PredictIn) -> pd.DataFrame:
    """The posted history as canonical order rows (lines without order_id are own orders)."""
    frame = pd.DataFrame([line.model_dump() for line in body.orders])
    frame.insert(0, "customer_id", body.customer_id)
    # unique across customers too: concurrent requests are scored together, and the input
    # contract counts a repeated order_id + sku once
    generated = pd.Series(
        [f"line-{i}-{body.customer_id}" for i in range(len(frame))], index=frame.index
    )
    frame["order_id"] = frame["order_id"].fillna(generated)
    from serving.store.repository import canonical_orders

    return canonical_orders(frame)


def customer_frame(body: PredictIn) -> pd.DataFrame | None:
    """The posted attributes like ``read_customers`` returns them; None when absent."""
    if body.customer is None:
        return None
    values = body.customer.model_dump(exclude={"tags", "birthday"})
    frame = pd.DataFrame([{"customer_id": body.customer_id, **values}])
    for column in ("customer_id", "timezone", "preferred_channel"):
        frame[column] = frame[column].astype("string")
    return frame


def contacts_frame(body: PredictIn) -> pd.DataFrame | None:
    """The posted touch times as a contacts frame; None when there are none."""
    if not body.contacts:
        return None
    return pd.DataFrame(
        {
            "customer_id": pd.array([body.customer_id] * len(body.contacts), dtype="string"),
            "contacted_at": pd.to_datetime(body.contacts, utc=True).astype("datetime64[ns, UTC]"),
            "channel": pd.array([None] * len(body.contacts), dtype="string"),
            "campaign": pd.array([None] * len(body.contacts), dtype="string"),
        }
    )
