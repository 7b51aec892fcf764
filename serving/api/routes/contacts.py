"""POST /v1/contacts: record touches, so caps and quiet periods see them."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter

from serving.api.deps import NowDep, SessionDep, StateDep
from serving.api.schemas import ContactsIn, ContactsResult
from serving.api.scoring import replan_customers
from serving.store import repository as repo

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.post("")
def post_contacts(
    body: ContactsIn, session: SessionDep, state: StateDep, now: NowDep
) -> ContactsResult:
    """Record touches (a re-sent touch is stored once); re-plan the customers touched."""
    contacts = pd.DataFrame([contact.model_dump() for contact in body.contacts])
    stored = repo.add_contacts(session, contacts)
    session.commit()
    replanned = replan_customers(session, stored.customer_ids, policy=state.policy, now=now)
    return ContactsResult(
        received=stored.received,
        inserted=stored.inserted,
        duplicates=stored.duplicates,
        replanned=replanned,
    )
