"""Consumption cycle: each source of the fallback chain on a hand-made shop (as_of 2024-03-31)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.config import FeatureConfig
from features.cycle import cycle_features, sku_repurchase_interval
from features.intervals import interval_features
from features.prepared import prepare_orders

AS_OF = dt.date(2024, 3, 31)
PRODUCTS = pd.DataFrame(
    {
        "sku": pd.Series(["x", "y", "w"], dtype="string"),
        "category": pd.Series(["food", "food", "care"], dtype="string"),
        "days_of_supply": [15.0, 60.0, np.nan],  # w: supply unknown
    }
)


@pytest.fixture
def shop(orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame]) -> pd.DataFrame:
    rows: list[dict[str, object]] = [
        # a: last day Mar 1 bought 2 x (2*15 = 30 days) and 1 y (60 days) -> x runs out first
        {"customer_id": "a", "ordered_at": "2024-01-01", "amount": 5, "order_id": "a0", "sku": "x"},
        {
            "customer_id": "a",
            "ordered_at": "2024-03-01",
            "amount": 9,
            "order_id": "a1",
            "sku": "x",
            "quantity": 2,
        },
        {"customer_id": "a", "ordered_at": "2024-03-01", "amount": 9, "order_id": "a1", "sku": "y"},
        # b: sku z has no product row; own gaps 20 and 30 days -> median 25
        {"customer_id": "b", "ordered_at": "2024-01-01", "amount": 5, "order_id": "b0", "sku": "z"},
        {"customer_id": "b", "ordered_at": "2024-01-21", "amount": 5, "order_id": "b1", "sku": "z"},
        {"customer_id": "b", "ordered_at": "2024-02-20", "amount": 5, "order_id": "b2", "sku": "z"},
        # c: one purchase of w; e's repeat purchases of w (every 7 days) teach w's interval
        {"customer_id": "c", "ordered_at": "2024-03-20", "amount": 5, "order_id": "c0", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-01", "amount": 5, "order_id": "e0", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-08", "amount": 5, "order_id": "e1", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-15", "amount": 5, "order_id": "e2", "sku": "w"},
        # d: one purchase, no sku -> the all-customer median gap (7, 7, 20, 30, 60 -> 20)
        {"customer_id": "d", "ordered_at": "2024-03-10", "amount": 5, "order_id": "d0"},
    ]
    return orders_from_rows(rows)


def _cycle(orders: pd.DataFrame, products: pd.DataFrame | None) -> pd.DataFrame:
    prepared = prepare_orders(orders, AS_OF)
    gap_median = interval_features(prepared)["gap_median"].to_numpy()
    config = FeatureConfig(cycle_sku_min_intervals=2)
    frame = cycle_features(prepared, products, gap_median, config)
    return frame.set_axis(prepared.customer_ids)


def test_each_source_of_the_chain(shop: pd.DataFrame) -> None:
    frame = _cycle(shop, PRODUCTS)
    assert frame["cycle_source"].tolist() == [
        "supply", "own_intervals", "sku_intervals", "all_customers", "own_intervals",
    ]  # fmt: skip
    assert frame["cycle_days"].tolist() == [30.0, 25.0, 7.0, 20.0, 7.0]
    assert frame.loc["a", "depletion_date"] == pd.Timestamp("2024-03-31")
    assert frame.loc["b", "depletion_date"] == pd.Timestamp("2024-03-16")  # Feb 20 + 25 (leap year)
    assert frame.loc["c", "depletion_date"] == pd.Timestamp("2024-03-27")
    assert pd.isna(frame.loc["d", "depletion_date"])  # a population guess is not a depletion date
    assert frame["days_until_depletion"].tolist()[:3] == [0.0, -15.0, -4.0]
    assert frame.loc["b", "overdue_ratio"] == pytest.approx(40 / 25)  # 40 days since Feb 20
    assert frame.loc["d", "overdue_ratio"] == pytest.approx(21 / 20)


def test_without_products_own_gaps_come_first(shop: pd.DataFrame) -> None:
    frame = _cycle(shop, None)
    assert frame.loc["a", "cycle_source"] == "own_intervals" and frame.loc["a", "cycle_days"] == 60


def test_sku_interval_needs_enough_repeats(shop: pd.DataFrame) -> None:
    prepared = prepare_orders(shop, AS_OF)
    learned = dict(zip(prepared.sku_names, sku_repurchase_interval(prepared, 2), strict=True))
    assert learned["w"] == 7.0 and learned["z"] == 25.0
    assert np.isnan(learned["x"])  # a single repeat (60 days) is not enough
    assert np.isnan(learned["y"])
