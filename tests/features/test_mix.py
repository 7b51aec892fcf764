"""Discounts and price sensitivity, channel and category mix, returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest

from features.config import FeatureConfig
from features.pipeline import build_features

AS_OF = dt.date(2024, 6, 30)


@pytest.fixture
def shop(orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame]) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    # p: 4 orders, 2 discounted (5 and 10) -> share 0.5 = high; 3 web + 1 wecom
    for i, (amount, discount, channel) in enumerate(
        [(45, 5, "web"), (50, 0, "web"), (40, 10, "wecom"), (50, 0, "web")]
    ):
        rows.append(
            {
                "customer_id": "p",
                "ordered_at": f"2024-0{i + 1}-10",
                "amount": amount,
                "discount": discount,
                "channel": channel,
                "order_id": f"p{i}",
                "sku": "x",
            }
        )
    # q: 5 orders, none discounted -> low; a returned line, a refund and a cancellation
    for i in range(5):
        rows.append(
            {
                "customer_id": "q",
                "ordered_at": f"2024-0{i + 1}-15",
                "amount": 20,
                "channel": "tmall",
                "order_id": f"q{i}",
                "sku": "y",
            }
        )
    rows.append(
        {
            "customer_id": "q",
            "ordered_at": "2024-05-15",
            "amount": -20,
            "channel": "tmall",
            "order_id": "q4",
            "sku": "y-return",
        }
    )
    rows.append(
        {
            "customer_id": "q",
            "ordered_at": "2024-06-01",
            "amount": 30,
            "channel": "tmall",
            "order_id": "q5",
            "sku": "y",
            "status": "refunded",
        }
    )
    rows.append(
        {
            "customer_id": "q",
            "ordered_at": "2024-06-02",
            "amount": 30,
            "channel": "tmall",
            "order_id": "q6",
            "sku": "y",
            "status": "cancelled",
        }
    )
    # r: 3 orders, 1 discounted -> 1/3 = medium; no channel known
    for i in range(3):
        rows.append(
            {
                "customer_id": "r",
                "ordered_at": f"2024-0{i + 1}-20",
                "amount": 10,
                "discount": 2 if i == 0 else 0,
                "order_id": f"r{i}",
                "sku": "x",
            }
        )
    return orders_from_rows(rows)


PRODUCTS = pd.DataFrame(
    {"sku": pd.Series(["x", "y"], dtype="string"),
     "category": pd.Series(["Pet Food", "Skin care"], dtype="string"),
     "days_of_supply": [30.0, 45.0]}
)  # fmt: skip


def test_discounts_and_price_sensitivity(shop: pd.DataFrame) -> None:
    frame = build_features(shop, AS_OF).set_index("customer_id")
    assert frame["price_sensitivity"].tolist() == ["high", "low", "medium"]
    assert frame.loc["p", "discounted_order_share"] == 0.5
    assert frame.loc["p", "discount_share"] == pytest.approx(15 / (185 + 15))
    assert frame.loc["r", "discount_total"] == 2.0


def test_sensitivity_thresholds_are_configurable(shop: pd.DataFrame) -> None:
    config = FeatureConfig(price_sensitivity_high_share=0.3)
    frame = build_features(shop, AS_OF, config=config).set_index("customer_id")
    assert frame.loc["r", "price_sensitivity"] == "high"


def test_channel_and_category_shares(shop: pd.DataFrame) -> None:
    frame = build_features(shop, AS_OF, PRODUCTS).set_index("customer_id")
    assert frame.loc["p", "channel_share_web"] == 0.75
    assert frame.loc["p", "channel_share_wecom"] == 0.25
    assert frame.loc["q", "channel_share_tmall"] == 1.0
    assert frame.loc["r", ["channel_share_web", "channel_share_other"]].tolist() == [0.0, 0.0]
    assert frame["n_channels"].tolist() == [2, 1, 0]
    # q's return line has sku "y-return", not in products: only its 5 "y" rows have a category
    assert frame.loc["q", "category_share_skin_care"] == 1.0
    assert frame.loc["p", "category_share_pet_food"] == 1.0


def test_fixed_channel_list_gives_stable_columns(shop: pd.DataFrame) -> None:
    config = FeatureConfig(channels=("web", "sms-shop"), mix_top_channels=1)
    frame = build_features(shop, AS_OF, config=config).set_index("customer_id")
    shares = [c for c in frame.columns if c.startswith("channel_share_")]
    assert shares == ["channel_share_web", "channel_share_sms_shop", "channel_share_other"]
    assert frame.loc["p", "channel_share_other"] == 0.25  # wecom is not in the list


def test_returns(shop: pd.DataFrame) -> None:
    frame = build_features(shop, AS_OF).set_index("customer_id")
    q = frame.loc["q"]
    # rows: 5 paid + 1 paid return line + 1 refunded + 1 cancelled = 8
    assert (q["returns_count"], q["refunded_count"], q["cancelled_count"]) == (2, 1, 1)
    assert q["return_share"] == pytest.approx(2 / 8)
    assert q["returned_amount"] == 50.0
    assert q["revenue_total"] == 80.0  # the return line nets out, refunded/cancelled never count
    assert frame.loc["p", "returns_count"] == 0
