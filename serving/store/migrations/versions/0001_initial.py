"""Initial tables: orders, customers, contacts, scores, plan.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("sku", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("discount", sa.Float(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("order_id", "sku", name="uq_orders_order_id_sku"),
    )
    op.create_index("ix_orders_customer_id_ordered_at", "orders", ["customer_id", "ordered_at"])
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("consent_email", sa.Boolean(), nullable=False),
        sa.Column("consent_sms", sa.Boolean(), nullable=False),
        sa.Column("consent_wechat", sa.Boolean(), nullable=False),
        sa.Column("preferred_channel", sa.String(16), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("contacted_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(128), nullable=False),
        sa.UniqueConstraint(
            "customer_id", "contacted_at", "channel", "campaign", name="uq_contacts_touch"
        ),
    )
    op.create_index("ix_contacts_customer_id", "contacts", ["customer_id"])
    op.create_table(
        "scores",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("p_buy_7d", sa.Float(), nullable=False),
        sa.Column("p_buy_14d", sa.Float(), nullable=False),
        sa.Column("p_buy_30d", sa.Float(), nullable=False),
        sa.Column("p_buy_60d", sa.Float(), nullable=False),
        sa.Column("p_buy_90d", sa.Float(), nullable=False),
        sa.Column("next_purchase_date", sa.Date(), nullable=True),
        sa.Column("next_purchase_low", sa.Date(), nullable=True),
        sa.Column("next_purchase_high", sa.Date(), nullable=True),
        sa.Column("p_churn", sa.Float(), nullable=False),
        sa.Column("predicted_value_365d", sa.Float(), nullable=False),
        sa.Column("rfm_segment", sa.String(64), nullable=True),
        sa.Column("lifecycle_stage", sa.String(32), nullable=True),
        sa.Column("price_sensitivity", sa.String(16), nullable=True),
        sa.Column("depletion_date", sa.Date(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("contact_on", sa.Date(), nullable=False),
        sa.Column("send_at", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("offer", sa.String(64), nullable=True),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_plan_customer_id", "plan", ["customer_id"])
    op.create_index("ix_plan_contact_on_priority", "plan", ["contact_on", "priority"])


def downgrade() -> None:
    op.drop_table("plan")
    op.drop_table("scores")
    op.drop_table("contacts")
    op.drop_table("customers")
    op.drop_table("orders")
