"""Prompted purchases: orders within a few days after a touch answered it (features.prompted)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.cycle import pace_observations, sku_purchase_days
from features.prepared import prepare_orders
from features.prompted import mark_prompted
from features.tables import canonical_orders

AS_OF = "2024-03-31"


def _orders(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """Canonical orders from (customer, ordered_at) pairs, one order each."""
    return canonical_orders(
        pd.DataFrame(
            {
                "customer_id": [customer for customer, _ in rows],
                "ordered_at": [at for _, at in rows],
                "amount": 5.0,
                "order_id": [f"o{i}" for i in range(len(rows))],
                "sku": "x",
            }
        )
    )


def _touches(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series([customer for customer, _ in rows], dtype="string"),
            "contacted_at": pd.to_datetime([at for _, at in rows], utc=True),
        }
    )


def test_an_order_within_the_window_after_a_touch_of_the_same_customer_is_prompted() -> None:
    orders = _orders(
        [
            ("a", "2024-03-03T10:00Z"),  # 2 days after a's touch
            ("a", "2024-03-04T09:00Z"),  # 2 days 23 h after it
            ("a", "2024-03-04T11:00Z"),  # 3 days 1 h after it: too late
            ("a", "2024-02-29T09:00Z"),  # before the touch: a touch never marks the past
            ("b", "2024-03-02T10:00Z"),  # a day after a's touch, but b was not touched
            ("c", "2024-03-01T10:00Z"),  # the moment c was touched
        ]
    )
    touches = _touches(
        [("a", "2024-03-01T10:00Z"), ("c", "2024-03-01T10:00Z"), ("c", "2024-05-01T10:00Z")]
    )
    marked = mark_prompted(orders, touches, 3.0)
    assert marked["prompted"].tolist() == [True, True, False, False, False, True]
    # the orders' own attribution counts too; a zero window marks nothing new
    attributed = orders.assign(prompted=[False, False, True, False, False, False])
    assert mark_prompted(attributed, touches, 3.0)["prompted"].tolist()[2] is True
    assert not mark_prompted(orders, touches, 0.0)["prompted"].any()
    assert not mark_prompted(orders, None, 3.0)["prompted"].any()
    assert list(marked.drop(columns="prompted").columns) == list(orders.columns)


def test_touches_after_as_of_do_not_change_the_marks_up_to_it() -> None:
    orders = _orders([("a", "2024-03-30T10:00Z"), ("a", "2024-04-02T10:00Z")])
    before = _touches([("a", "2024-03-29T10:00Z")])
    after = _touches([("a", "2024-03-29T10:00Z"), ("a", "2024-04-01T10:00Z")])
    up_to = orders["ordered_at"] < pd.Timestamp("2024-04-01", tz="UTC")
    with_later = mark_prompted(orders, after, 3.0)["prompted"]
    assert with_later.tolist() == [True, True]
    assert (
        with_later[up_to].tolist() == mark_prompted(orders, before, 3.0)["prompted"][up_to].tolist()
    )


@pytest.mark.parametrize("prompted", [False, True])
def test_a_prompted_repurchase_is_not_a_pace_observation(
    prompted: bool, orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame]
) -> None:
    # gaps of 30, 30 and 24 days after 15-day supplies: the third purchase answered a
    # reminder sent two days before it, so it says nothing about how long the second lasted
    days = ("2024-01-01", "2024-01-31", "2024-03-01", "2024-03-25")
    rows: list[dict[str, object]] = [
        {"customer_id": "p", "ordered_at": day, "amount": 5, "order_id": f"p{i}", "sku": "x"}
        for i, day in enumerate(days)
    ]
    orders = orders_from_rows(rows)
    if prompted:
        orders = mark_prompted(orders, _touches([("p", "2024-03-23T12:00Z")]), 3.0)
    sku_days = sku_purchase_days(prepare_orders(orders, AS_OF))
    codes, log_ratio = pace_observations(sku_days, sku_days.quantity * 15.0, 1)
    expected = [np.log(2.0)] * 2 + ([] if prompted else [np.log(24 / 15)])
    np.testing.assert_allclose(np.sort(log_ratio), np.sort(expected))
    assert len(codes) == len(expected)
