"""What the model-backed endpoints do, as plain functions (callable from a test or a notebook).

- `refresh_customers`: after new orders, re-score those customers from everything stored
  about them and replace their rows in the plan;
- `predict_customer`: the stateless version for one posted history (nothing is stored).

Plans made here cover only the customers just scored, so `[daily_capacity]` (a limit across
all customers) is enforced by the nightly batch plan, not by these per-customer refreshes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from serving.api.batching import Parts
from serving.api.model_holder import FrameBuilder, ModelHolder, ModelNotLoaded
from serving.store import repository as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOutcome:
    """How re-scoring went: `updated`, `no_model` or `failed` (orders are stored regardless)."""

    status: str
    scored: int
    model_version: str | None


def refresh_customers(
    session: Session,
    holder: ModelHolder,
    customer_ids: list[str],
    *,
    as_of: dt.date,
    policy: Any | None,
    now: dt.datetime,
) -> RefreshOutcome:
    """Re-score `customer_ids` from their stored orders and replace their planned contacts."""
    info = holder.info
    if not customer_ids:
        return RefreshOutcome("unchanged", 0, info.version if info else None)
    if info is None:
        return RefreshOutcome("no_model", 0, None)
    orders = repo.orders_for_customers(session, customer_ids)
    contacts = repo.contacts_for_customers(session, customer_ids)
    try:
        scores = holder.score(orders, as_of, contacts)
        repo.save_scores(session, scores, scored_at=now)
        plan = plan_customers(
            scores,
            as_of=as_of,
            orders=orders,
            customers=repo.customers_frame(session, customer_ids),
            contacts=contacts,
            policy=policy,
        )
        if plan is not None:
            repo.replace_plan(session, plan, as_of=as_of, planned_at=now, customer_ids=customer_ids)
        session.commit()
    except ModelNotLoaded:
        session.rollback()
        return RefreshOutcome("no_model", 0, None)
    except Exception:
        # The orders are committed already; a scoring bug must not make ingestion fail.
        session.rollback()
        log.exception("re-scoring %d customers failed", len(customer_ids))
        return RefreshOutcome("failed", 0, info.version)
    return RefreshOutcome("updated", len(scores), info.version)


def replan_customers(
    session: Session,
    customer_ids: list[str],
    *,
    policy: Any | None,
    now: dt.datetime,
) -> int:
    """Rebuild the planned contacts of customers from their stored scores (after a touch or a
    consent change), as of each score's own date. Returns the number of customers re-planned.

    The write that triggered this is committed already, so a failure is logged, not raised.
    """
    scores = repo.scores_frame(session, customer_ids)
    if scores.empty:
        return 0
    try:
        orders = repo.orders_for_customers(session, scores["customer_id"])
        customers = repo.customers_frame(session, scores["customer_id"])
        contacts = repo.contacts_for_customers(session, scores["customer_id"])
        # One plan per distinct scoring date (a handful), never one per customer.
        for as_of_value, group in scores.groupby("as_of"):
            as_of = pd.Timestamp(as_of_value).date()  # type: ignore[arg-type]
            plan = plan_customers(
                group,
                as_of=as_of,
                orders=orders,
                customers=customers,
                contacts=contacts,
                policy=policy,
            )
            if plan is not None:
                ids = group["customer_id"].tolist()
                repo.replace_plan(session, plan, as_of=as_of, planned_at=now, customer_ids=ids)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("re-planning %d customers failed", len(scores))
        return 0
    return len(scores)


async def predict_customer(
    holder: ModelHolder,
    parts: Parts,
    *,
    customer_id: str,
    build: FrameBuilder,
    shape: Hashable,
    as_of: dt.date,
    policy: Any | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Score one customer's posted history; return the score row and the next contact.

    `parts` is the raw request and `build` turns the parts of many requests into
    ``(orders, customers, contacts)`` frames: concurrent calls are scored and planned together
    (see `serving.api.batching`), with the frames built once per batch. Requests only combine
    with requests of the same `shape` (e.g. all with customer attributes, or all without).
    """
    batched = holder.score_and_plan(
        parts,
        as_of,
        customer_ids=frozenset((customer_id,)),
        build=build,
        planner=plan_customers,
        policy=policy,
        shape=shape,
        split=first_rows,
    )
    # awaited on the event loop: no thread per waiting request (see serving.api.batching)
    score_row, contact = await asyncio.wrap_future(batched)
    if score_row is None:
        raise ModelNotLoaded("the model returned no score for this history")
    return score_row, contact


def first_rows(
    scores: pd.DataFrame, plan: pd.DataFrame | None, customer_ids: Sequence[frozenset[str]]
) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """Per request (one customer each): its score row and its earliest planned contact, as
    plain values (None where there is none).

    Done for the whole batch at once: cutting the frames into one small frame per request
    and reading a row of each cost about a millisecond per request.
    """
    score_rows = {str(row["customer_id"]): _plain(row) for row in scores.to_dict("records")}
    contacts: dict[str, dict[str, Any]] = {}
    if plan is not None and not plan.empty:
        # stable: among contacts on the same day, the planner's order decides, as before
        earliest = plan.sort_values("contact_on", kind="stable").drop_duplicates("customer_id")
        contacts = {str(row["customer_id"]): _plain(row) for row in earliest.to_dict("records")}
    out: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for ids in customer_ids:
        (customer,) = ids
        out.append((score_rows.get(customer), contacts.get(customer)))
    return out


def plan_customers(
    scores: pd.DataFrame,
    as_of: dt.date,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    contacts: pd.DataFrame | None,
    policy: Any | None,
) -> pd.DataFrame | None:
    """The contact plan for scored customers (None when the policy package is unavailable)."""
    try:
        from serving.policy import build_plan
    except ImportError:  # pragma: no cover - the policy ships with the package
        log.warning("serving.policy is not available: no contact plan")
        return None
    if contacts is not None and contacts.empty:
        contacts = None
    plan: pd.DataFrame = build_plan(
        scores, as_of=as_of, orders=orders, customers=customers, contacts=contacts, policy=policy
    )
    return plan


def _plain(row: dict[Any, Any]) -> dict[str, Any]:
    """Missing values (NaN, NaT, pd.NA, '') as None; timestamps with offset as ISO text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        key = str(key)
        if _missing(value):
            out[key] = None
        elif key == "send_at" and isinstance(value, pd.Timestamp | dt.datetime):
            out[key] = value.isoformat()
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    return not isinstance(value, str | list | dict) and bool(pd.isna(value))
