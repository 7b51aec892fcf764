"""Reading and writing the service tables with canonical pandas frames in and out.

Functions here never commit: the caller owns the transaction, so one request is one unit of
work. Writes that must be idempotent (orders on ``order_id`` + ``sku``, touches on their
full key) use ``INSERT ... ON CONFLICT DO NOTHING``, which SQLite and PostgreSQL both speak,
so a retried request changes nothing and concurrent duplicates cannot race past a check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from serving.policy import PLAN_COLUMNS
from serving.store.models import Contact, Customer, Order, PlanRow, Score
from training.predict import SCORE_COLUMNS

ORDER_COLUMNS = [
    "customer_id",
    "ordered_at",
    "amount",
    "order_id",
    "sku",
    "quantity",
    "discount",
    "channel",
    "status",
]
CONTACT_COLUMNS = ["customer_id", "contacted_at", "channel", "campaign"]
SCORE_DATE_COLUMNS = [
    "as_of",
    "next_purchase_date",
    "next_purchase_low",
    "next_purchase_high",
    "depletion_date",
]
CUSTOMER_FIELDS = [
    "timezone",
    "consent_email",
    "consent_sms",
    "consent_wechat",
    "preferred_channel",
    "birthday",
    "tags",
]
# Rows per INSERT statement: well under SQLite's bound-parameter limit with 11 columns.
BATCH_ROWS = 500
# Customers per IN (...) list when reading back.
ID_CHUNK = 500


@dataclass(frozen=True)
class InsertOutcome:
    """What an idempotent insert did: rows received, rows new, and whose rows were new."""

    received: int
    inserted: int
    customer_ids: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted


# --------------------------------------------------------------------------- orders


def add_orders(
    session: Session, orders: pd.DataFrame, *, received_at: dt.datetime
) -> InsertOutcome:
    """Store canonical order rows, ignoring (order_id, sku) pairs already stored.

    Required columns: ``customer_id``, ``ordered_at`` (tz-aware), ``amount``, ``order_id``;
    optional ``sku``, ``quantity``, ``discount``, ``channel``, ``status`` as in
    ``features.tables.read_orders``.
    """
    _require(orders, ["customer_id", "ordered_at", "amount", "order_id"])
    frame = orders.copy()
    frame["sku"] = _text_or_empty(frame, "sku")
    frame = frame.drop_duplicates(subset=["order_id", "sku"], keep="first")
    frame["ordered_at"] = _naive_utc(frame["ordered_at"])
    frame["quantity"] = _number_or(frame, "quantity", 1.0)
    frame["discount"] = _number_or(frame, "discount", 0.0)
    frame["channel"] = frame.get("channel")
    frame["status"] = frame.get("status", "paid")
    frame["received_at"] = _naive(received_at)
    rows = _records(frame[[*ORDER_COLUMNS, "received_at"]])
    inserted = _insert_ignoring(
        session, Order.__table__, rows, key=["order_id", "sku"], returning="customer_id"
    )
    return InsertOutcome(
        received=len(orders), inserted=len(inserted), customer_ids=sorted(set(inserted))
    )


def orders_for_customers(session: Session, customer_ids: Iterable[str]) -> pd.DataFrame:
    """All stored orders of these customers as the canonical orders frame, oldest first."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(customer_ids)), ID_CHUNK):
        query = select(*(getattr(Order, c) for c in ORDER_COLUMNS)).where(
            Order.customer_id.in_(chunk)
        )
        rows.extend(session.execute(query).all())
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    return canonical_orders(frame)


def canonical_orders(frame: pd.DataFrame) -> pd.DataFrame:
    """Give order rows the dtypes of ``features.tables.read_orders`` ('' sku -> NA)."""
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "ordered_at": _utc(frame["ordered_at"]),
            "amount": frame["amount"].astype("float64"),
            "order_id": frame["order_id"].astype("string"),
            "sku": _empty_to_na(frame["sku"]),
            "quantity": frame["quantity"].astype("float64"),
            "discount": frame["discount"].astype("float64"),
            "channel": _empty_to_na(frame["channel"]),
            "status": frame["status"].astype("string"),
        }
    )
    return out.sort_values(["customer_id", "ordered_at", "order_id"], kind="stable").reset_index(
        drop=True
    )


def count_orders(session: Session) -> int:
    """How many order rows are stored."""
    return len(session.execute(select(Order.id)).all())


# --------------------------------------------------------------------------- contacts


def add_contacts(session: Session, contacts: pd.DataFrame) -> InsertOutcome:
    """Store touches (``customer_id``, ``contacted_at`` tz-aware, ``channel``, ``campaign``)."""
    _require(contacts, ["customer_id", "contacted_at"])
    frame = contacts.copy()
    frame["contacted_at"] = _naive_utc(frame["contacted_at"])
    frame["channel"] = _text_or_empty(frame, "channel")
    frame["campaign"] = _text_or_empty(frame, "campaign")
    frame = frame.drop_duplicates(subset=CONTACT_COLUMNS)
    inserted = _insert_ignoring(
        session,
        Contact.__table__,
        _records(frame[CONTACT_COLUMNS]),
        key=CONTACT_COLUMNS,
        returning="customer_id",
    )
    return InsertOutcome(
        received=len(contacts), inserted=len(inserted), customer_ids=sorted(set(inserted))
    )


def contacts_for_customers(session: Session, customer_ids: Iterable[str]) -> pd.DataFrame:
    """The touch history of these customers, as ``features.tables.read_contacts`` returns it."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(customer_ids)), ID_CHUNK):
        query = select(*(getattr(Contact, c) for c in CONTACT_COLUMNS)).where(
            Contact.customer_id.in_(chunk)
        )
        rows.extend(session.execute(query).all())
    frame = pd.DataFrame(rows, columns=CONTACT_COLUMNS)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "contacted_at": _utc(frame["contacted_at"]),
            "channel": _empty_to_na(frame["channel"]),
            "campaign": _empty_to_na(frame["campaign"]),
        }
    )


# --------------------------------------------------------------------------- customers


def upsert_customer(
    session: Session, customer_id: str, values: dict[str, Any], *, updated_at: dt.datetime
) -> Customer:
    """Create or replace a customer's attributes (keys of `CUSTOMER_FIELDS`); race-free."""
    row = {"customer_id": customer_id, **{k: values.get(k) for k in CUSTOMER_FIELDS}}
    row["timezone"] = row["timezone"] or "UTC"
    row["tags"] = row["tags"] or {}
    for channel in ("email", "sms", "wechat"):
        row[f"consent_{channel}"] = bool(row[f"consent_{channel}"])
    row["updated_at"] = _naive(updated_at)
    upsert = _dialect_insert(session)(Customer.__table__)
    statement = upsert.values(row).on_conflict_do_update(
        index_elements=["customer_id"],
        set_={k: upsert.excluded[k] for k in [*CUSTOMER_FIELDS, "updated_at"]},
    )
    session.execute(statement)
    customer = session.get(Customer, customer_id, populate_existing=True)
    assert customer is not None  # just written in this transaction
    return customer


def get_customer(session: Session, customer_id: str) -> Customer | None:
    """The stored attributes of one customer, if any."""
    return session.get(Customer, customer_id)


def customer_exists(session: Session, customer_id: str) -> bool:
    """Whether anything (attributes, orders, a score, a planned contact) is stored for them."""
    for model in (Customer, Score, Order, PlanRow):
        query = select(model.customer_id).where(model.customer_id == customer_id).limit(1)
        if session.execute(query).first() is not None:
            return True
    return False


def customers_frame(session: Session, customer_ids: Iterable[str]) -> pd.DataFrame | None:
    """Stored attributes like ``features.tables.read_customers``; None when none are known.

    Customers without a stored row are absent from the frame: the policy then knows no
    consent for them, which is the safe reading of "absent means no consent".
    """
    found: list[Customer] = []
    for chunk in _chunks(sorted(set(customer_ids)), ID_CHUNK):
        found.extend(session.scalars(select(Customer).where(Customer.customer_id.in_(chunk))))
    if not found:
        return None
    frame = pd.DataFrame(
        {
            "customer_id": pd.array([c.customer_id for c in found], dtype="string"),
            "timezone": pd.array([c.timezone for c in found], dtype="string"),
            "consent_email": [c.consent_email for c in found],
            "consent_sms": [c.consent_sms for c in found],
            "consent_wechat": [c.consent_wechat for c in found],
            "preferred_channel": pd.array([c.preferred_channel for c in found], dtype="string"),
            "birthday": pd.to_datetime(
                pd.Series([c.birthday for c in found], dtype=object), utc=True
            ),
        }
    )
    return frame


# --------------------------------------------------------------------------- scores


def save_scores(session: Session, scores: pd.DataFrame, *, scored_at: dt.datetime) -> int:
    """Upsert the latest score per customer. Required columns: the SPEC score columns."""
    _require(scores, SCORE_COLUMNS)
    frame = scores[SCORE_COLUMNS].copy()
    for column in SCORE_DATE_COLUMNS:
        frame[column] = _dates(frame[column])
    frame["scored_at"] = _naive(scored_at)
    rows = _records(frame)
    upsert = _dialect_insert(session)(Score.__table__)
    statement = upsert.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={k: upsert.excluded[k] for k in [*SCORE_COLUMNS[1:], "scored_at"]},
    )
    for batch in _chunks(rows, BATCH_ROWS):
        session.execute(statement, batch)
    return len(rows)


def scores_frame(session: Session, customer_ids: Iterable[str]) -> pd.DataFrame:
    """The stored scores of these customers (SPEC score columns; dates as ``datetime.date``)."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(customer_ids)), ID_CHUNK):
        query = select(*(getattr(Score, c) for c in SCORE_COLUMNS)).where(
            Score.customer_id.in_(chunk)
        )
        rows.extend(session.execute(query).all())
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def get_score(session: Session, customer_id: str) -> Score | None:
    """The latest stored score of one customer, if any."""
    return session.get(Score, customer_id)


# --------------------------------------------------------------------------- plan


def replace_plan(
    session: Session,
    plan: pd.DataFrame,
    *,
    as_of: dt.date,
    planned_at: dt.datetime,
    customer_ids: Sequence[str] | None = None,
) -> int:
    """Replace the stored plan: for `customer_ids` only, or entirely when None.

    Required columns: the SPEC plan columns (``customer_id`` ... ``holdout``).
    """
    _require(plan, PLAN_COLUMNS)
    if customer_ids is None:
        session.execute(delete(PlanRow))
    else:
        for chunk in _chunks(sorted(set(customer_ids)), ID_CHUNK):
            session.execute(delete(PlanRow).where(PlanRow.customer_id.in_(chunk)))
    frame = plan[PLAN_COLUMNS].copy()
    frame["contact_on"] = _dates(frame["contact_on"])
    frame["send_at"] = _iso_or_none(frame["send_at"])
    frame["holdout"] = frame["holdout"].fillna(False).astype(bool)
    frame["priority"] = frame["priority"].astype("float64").fillna(0.0)
    frame["expected_value"] = frame["expected_value"].astype("float64").fillna(0.0)
    frame["as_of"] = as_of
    frame["planned_at"] = _naive(planned_at)
    rows = _records(frame)
    for batch in _chunks(rows, BATCH_ROWS):
        session.execute(insert(PlanRow), batch)
    return len(rows)


def plan_for_day(
    session: Session,
    day: dt.date,
    *,
    channel: str | None = None,
    limit: int = 100,
    include_holdout: bool = False,
) -> list[PlanRow]:
    """Planned contacts on `day`, highest priority first (hold-out rows only when asked)."""
    query = select(PlanRow).where(PlanRow.contact_on == day)
    if channel is not None:
        query = query.where(PlanRow.channel == channel)
    if not include_holdout:
        query = query.where(PlanRow.holdout.is_(False))
    query = query.order_by(PlanRow.priority.desc(), PlanRow.customer_id).limit(limit)
    return list(session.scalars(query))


def next_contact(session: Session, customer_id: str, *, on_or_after: dt.date) -> PlanRow | None:
    """The customer's earliest planned contact on or after a date."""
    query = (
        select(PlanRow)
        .where(PlanRow.customer_id == customer_id, PlanRow.contact_on >= on_or_after)
        .order_by(PlanRow.contact_on, PlanRow.priority.desc())
        .limit(1)
    )
    return session.scalars(query).first()


# --------------------------------------------------------------------------- helpers


def _dialect_insert(session: Session) -> Any:
    """The INSERT construct with ON CONFLICT support of the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {name!r}")  # make_engine refuses others


def _insert_ignoring(
    session: Session, table: Any, rows: list[dict[str, Any]], *, key: list[str], returning: str
) -> list[Any]:
    """Insert rows, skipping those whose `key` exists; the `returning` value of new rows."""
    assert isinstance(table, Table)
    ignoring = _dialect_insert(session)(table)
    statement = ignoring.on_conflict_do_nothing(index_elements=key).returning(table.c[returning])
    new: list[Any] = []
    for batch in _chunks(rows, BATCH_ROWS):
        if len(batch) == 1:
            new.extend(session.execute(statement, batch[0]).scalars().all())
        else:
            new.extend(session.execute(statement, batch).scalars().all())
    return new


def _require(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks required columns {missing}")


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, missing values as None."""
    as_object = frame.astype(object)
    return as_object.where(frame.notna(), None).to_dict("records")  # type: ignore[return-value]


def _text_or_empty(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="string")
    return frame[column].astype("string").fillna("")


def _number_or(frame: pd.DataFrame, column: str, default: float) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(default, index=frame.index, dtype="float64")
    return frame[column].astype("float64").fillna(default)


def _empty_to_na(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    return text.mask(text == "")


def _utc(values: pd.Series) -> pd.Series:
    """Naive-UTC database timestamps -> datetime64[ns, UTC]."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _naive_utc(values: pd.Series) -> pd.Series:
    """Any timestamps (aware or naive-as-UTC) -> naive UTC Python datetimes for the database."""
    stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    return pd.Series(stamps.dt.to_pydatetime(), index=values.index, dtype=object)


def _naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _dates(values: pd.Series) -> pd.Series:
    """Dates, date strings, timestamps or blanks -> ``datetime.date`` or None."""
    text_blank = values.astype("string").fillna("").str.strip() == ""
    stamps = pd.to_datetime(values.mask(text_blank), errors="coerce", utc=True)
    dates = stamps.dt.date
    return dates.astype(object).where(stamps.notna(), None)


def _iso_or_none(values: pd.Series) -> pd.Series:
    """Timestamps with offset (or strings) -> ISO 8601 text keeping the offset."""
    out: list[str | None] = []
    for value in values.to_numpy(dtype=object):
        if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        else:
            out.append(pd.Timestamp(value).isoformat())
    return pd.Series(out, index=values.index, dtype=object)
