"""Shared fixtures: tiny hand-written orders, and the CDNOW master data read once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from features.tables import read_orders

CDNOW = Path("/work/shared/data/cdnow_master.csv")
if not CDNOW.exists():  # the repository copy, when the shared folder is not mounted
    CDNOW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow_master.csv"


def make_orders(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A canonical orders frame (the shape read_orders returns) from a few dicts."""
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "ordered_at": pd.to_datetime(frame["ordered_at"], utc=True, format="ISO8601").astype(
                "datetime64[ns, UTC]"
            ),
            "amount": frame["amount"].astype("float64"),
        }
    )
    n = len(frame)
    out["order_id"] = (
        frame["order_id"].astype("string")
        if "order_id" in frame
        else pd.Series(range(n)).astype("string")
    )
    out["sku"] = (
        frame["sku"].astype("string") if "sku" in frame else pd.Series([pd.NA] * n, dtype="string")
    )
    out["quantity"] = (
        frame["quantity"].astype("float64").fillna(1.0) if "quantity" in frame else 1.0
    )
    out["discount"] = (
        frame["discount"].astype("float64").fillna(0.0) if "discount" in frame else 0.0
    )
    out["channel"] = (
        frame["channel"].astype("string")
        if "channel" in frame
        else pd.Series([pd.NA] * n, dtype="string")
    )
    out["status"] = (
        frame["status"].astype("string")
        if "status" in frame
        else pd.Series(["paid"] * n, dtype="string")
    )
    return out


START = pd.Timestamp("2024-01-01", tz="UTC")


def days_to_orders(days_by_customer: dict[str, list[int]], amount: float = 10.0) -> pd.DataFrame:
    """Canonical orders: one paid order of `amount` per listed day offset from 2024-01-01."""
    rows = [
        (customer, START + pd.Timedelta(days=day, hours=12), amount)
        for customer, days in days_by_customer.items()
        for day in days
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])
    n = len(frame)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "ordered_at": frame["ordered_at"].astype("datetime64[ns, UTC]"),
            "amount": frame["amount"].astype("float64"),
            "order_id": pd.Series([f"o{i}" for i in range(n)], dtype="string"),
            "sku": pd.Series([pd.NA] * n, dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.Series([pd.NA] * n, dtype="string"),
            "status": pd.Series(["paid"] * n, dtype="string"),
        }
    )


@pytest.fixture
def orders_on_days() -> Callable[..., pd.DataFrame]:
    """``orders_on_days({"a": [0, 10]})``: one paid order per day offset from 2024-01-01."""
    return days_to_orders


@pytest.fixture
def orders_from_rows() -> Callable[[list[dict[str, object]]], pd.DataFrame]:
    """``orders_from_rows([{...}, ...])``: a canonical orders frame from dicts."""
    return make_orders


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    return read_orders(CDNOW)


@pytest.fixture
def small_orders() -> pd.DataFrame:
    """Three customers; expected values in the tests are worked out by hand from these rows."""
    return make_orders(
        [
            # a: days 2024-01-01 (two orders, 10 + 5), 2024-01-11 (20), 2024-01-31 (30)
            {
                "customer_id": "a",
                "ordered_at": "2024-01-01T09:00",
                "amount": 10.0,
                "order_id": "a1",
            },
            {"customer_id": "a", "ordered_at": "2024-01-01T18:00", "amount": 5.0, "order_id": "a2"},
            {
                "customer_id": "a",
                "ordered_at": "2024-01-11T10:00",
                "amount": 20.0,
                "order_id": "a3",
            },
            {
                "customer_id": "a",
                "ordered_at": "2024-01-31T23:59",
                "amount": 30.0,
                "order_id": "a4",
            },
            # b: one order of two lines on 2024-02-20
            {
                "customer_id": "b",
                "ordered_at": "2024-02-20T12:00",
                "amount": 7.0,
                "order_id": "b1",
                "sku": "x",
            },
            {
                "customer_id": "b",
                "ordered_at": "2024-02-20T12:00",
                "amount": 3.0,
                "order_id": "b1",
                "sku": "y",
            },
            # c: only a refunded order -> not a customer as of any date
            {
                "customer_id": "c",
                "ordered_at": "2024-01-05",
                "amount": 9.0,
                "order_id": "c1",
                "status": "refunded",
            },
        ]
    )
