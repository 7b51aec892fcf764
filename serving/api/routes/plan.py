"""GET /v1/contact-plan: whom to contact on a date, highest priority first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from serving.api.deps import SessionDep
from serving.api.schemas import Channel, ContactPlanPublic, PlanItemPublic
from serving.store import repository as repo

router = APIRouter(prefix="/v1/contact-plan", tags=["plan"])


@router.get("")
def get_contact_plan(
    session: SessionDep,
    date: Annotated[dt.date, Query(description="The contact day (YYYY-MM-DD).")],
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    limit: Annotated[int, Query(ge=1, le=10000, description="At most this many rows.")] = 100,
) -> ContactPlanPublic:
    """Planned contacts on a date (hold-out customers excluded), highest priority first."""
    rows = repo.plan_for_day(session, date, channel=channel, limit=limit)
    items = [PlanItemPublic.model_validate(row) for row in rows]
    return ContactPlanPublic(date=date, channel=channel, count=len(items), items=items)
