"""Tables of the service: orders, customers, contacts (touches), scores and the plan.

Timestamps are stored as naive UTC (`DateTime` without time zone) on both dialects: SQLite
has no time zone type, and one convention everywhere is simpler than two. Text columns that
take part in a unique key are NOT NULL with ``''`` for "missing", because both SQLite and
PostgreSQL treat NULLs as distinct in unique constraints, which would defeat idempotency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128


class Base(DeclarativeBase):
    """Declarative base of every table here (Alembic compares against its metadata)."""


class Order(Base):
    """One order line; (order_id, sku) is unique, so a re-sent line is stored once."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("order_id", "sku", name="uq_orders_order_id_sku"),
        Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    ordered_at: Mapped[dt.datetime] = mapped_column(DateTime())
    amount: Mapped[float] = mapped_column(Float)
    quantity: Mapped[float] = mapped_column(Float, default=1.0)
    discount: Mapped[float] = mapped_column(Float, default=0.0)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="paid")
    received_at: Mapped[dt.datetime] = mapped_column(DateTime())


class Customer(Base):
    """What a CRM tells us about a customer: consent per channel, time zone, tags."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_wechat: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    birthday: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime())


class Contact(Base):
    """A touch (message sent); the unique key makes a re-sent touch count once."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint(
            "customer_id", "contacted_at", "channel", "campaign", name="uq_contacts_touch"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    contacted_at: Mapped[dt.datetime] = mapped_column(DateTime())
    channel: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str] = mapped_column(String(ID_LENGTH), default="")


class Score(Base):
    """The latest score of each customer (SPEC score columns)."""

    __tablename__ = "scores"

    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    p_buy_7d: Mapped[float] = mapped_column(Float)
    p_buy_14d: Mapped[float] = mapped_column(Float)
    p_buy_30d: Mapped[float] = mapped_column(Float)
    p_buy_60d: Mapped[float] = mapped_column(Float)
    p_buy_90d: Mapped[float] = mapped_column(Float)
    next_purchase_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    next_purchase_low: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    next_purchase_high: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    p_churn: Mapped[float] = mapped_column(Float)
    predicted_value_365d: Mapped[float] = mapped_column(Float)
    rfm_segment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    price_sensitivity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    depletion_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime())


class PlanRow(Base):
    """One row of the latest contact plan (SPEC plan columns)."""

    __tablename__ = "plan"
    __table_args__ = (Index("ix_plan_contact_on_priority", "contact_on", "priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    contact_on: Mapped[dt.date] = mapped_column(Date)
    send_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    expected_value: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    as_of: Mapped[dt.date] = mapped_column(Date)
    planned_at: Mapped[dt.datetime] = mapped_column(DateTime())
