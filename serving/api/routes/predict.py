"""POST /v1/predict: a customer's history in, a score and a recommendation out, nothing stored."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from fastapi import APIRouter

from serving.api.batching import Frames, Parts
from serving.api.deps import HolderDep, MetricsDep, StateDep, TodayDep
from serving.api.schemas import PlanItemPublic, PredictIn, PredictOut, ScorePublic
from serving.api.scoring import predict_customer
from serving.store.repository import canonical_orders

router = APIRouter(prefix="/v1/predict", tags=["predict"])


@router.post("", responses={503: {"description": "No model is loaded."}})
async def predict(
    body: PredictIn, holder: HolderDep, state: StateDep, metrics: MetricsDep, today: TodayDep
) -> PredictOut:
    """Score one customer's order history as of a date (default today) and say what to do."""
    # async: the work happens in the batcher's thread; waiting for it needs no thread here
    score, contact = await predict_customer(
        holder,
        (body,),
        customer_id=body.customer_id,
        build=posted_frames,
        # a batch's frames treat missing attributes or touches alike for all its customers
        shape=(body.customer is None, not body.contacts),
        as_of=body.as_of or today,
        policy=state.policy,
    )
    metrics.predictions.labels("predict").inc()
    return PredictOut(
        score=ScorePublic.model_validate(score),
        recommendation=PlanItemPublic.model_validate(contact) if contact else None,
    )


def posted_frames(batch: Sequence[Parts]) -> Frames:
    """The posted bodies of a batch of predict requests as ``(orders, customers, contacts)``.

    One frame per kind for the whole batch: the frame work is paid once per batch.
    """
    bodies: list[PredictIn] = [parts[0] for parts in batch]
    return history_frame(bodies), customer_frame(bodies), contacts_frame(bodies)


def history_frame(bodies: Sequence[PredictIn]) -> pd.DataFrame:
    """The posted histories as canonical order rows (lines without order_id are own orders)."""
    lines = [(body.customer_id, n, line) for body in bodies for n, line in enumerate(body.orders)]
    frame = pd.DataFrame(
        {
            "customer_id": [customer for customer, _, _ in lines],
            "ordered_at": [line.ordered_at for *_, line in lines],
            "amount": [float(line.amount) for *_, line in lines],
            # unique across customers too: concurrent requests are scored together, and the
            # input contract counts a repeated order_id + sku once
            "order_id": [line.order_id or f"line-{n}-{customer}" for customer, n, line in lines],
            "sku": [line.sku for *_, line in lines],
            "quantity": [line.quantity for *_, line in lines],
            "discount": [line.discount for *_, line in lines],
            "channel": [line.channel for *_, line in lines],
            "status": [line.status for *_, line in lines],
        }
    )
    return canonical_orders(frame)


def customer_frame(bodies: Sequence[PredictIn]) -> pd.DataFrame | None:
    """The posted attributes like ``read_customers`` returns them; None when none were sent.

    Requests are only batched with requests of the same shape (see `predict_customer`), so
    either every body of a batch has attributes or none has.
    """
    posted = [body for body in bodies if body.customer is not None]
    if not posted:
        return None
    frame = pd.DataFrame(
        [
            {
                "customer_id": body.customer_id,
                **body.customer.model_dump(exclude={"tags", "birthday"}),  # type: ignore[union-attr]
            }
            for body in posted
        ]
    )
    for column in ("customer_id", "timezone", "preferred_channel"):
        frame[column] = frame[column].astype("string")
    return frame


def contacts_frame(bodies: Sequence[PredictIn]) -> pd.DataFrame | None:
    """The posted touch times as a contacts frame; None when there are none."""
    touches = [(body.customer_id, moment) for body in bodies for moment in body.contacts]
    if not touches:
        return None
    return pd.DataFrame(
        {
            "customer_id": pd.array([customer for customer, _ in touches], dtype="string"),
            "contacted_at": pd.to_datetime([moment for _, moment in touches], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "channel": pd.array([None] * len(touches), dtype="string"),
            "campaign": pd.array([None] * len(touches), dtype="string"),
        }
    )
