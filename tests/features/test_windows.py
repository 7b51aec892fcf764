"""Activity windows and spend trend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest

from features.config import FeatureConfig
from features.prepared import prepare_orders
from features.windows import window_features


def test_windows_by_hand(orders_on_days: Callable[..., pd.DataFrame]) -> None:
    # as_of = day 100: purchases 0, 5, 20, 50 and 100 days before it, 10 each
    orders = orders_on_days({"a": [100, 95, 80, 50, 0]})
    as_of = dt.date(2024, 1, 1) + dt.timedelta(days=100)
    row = window_features(prepare_orders(orders, as_of), FeatureConfig()).iloc[0]
    counts = [row[f"orders_{n}d"] for n in (7, 14, 30, 90, 180, 365)]
    assert counts == [2, 2, 3, 4, 5, 5]
    assert row["revenue_30d"] == 30.0 and row["revenue_90d"] == 40.0
    # last 90 days: 40; the 90 before: 10 -> (40 - 10) / 50
    assert row["spend_trend"] == pytest.approx(0.6)


def test_window_lengths_are_configurable(orders_on_days: Callable[..., pd.DataFrame]) -> None:
    orders = orders_on_days({"a": [0, 3]})
    frame = window_features(
        prepare_orders(orders, dt.date(2024, 1, 4)), FeatureConfig(windows_days=(3,))
    )
    assert [c for c in frame.columns if c.startswith("orders_")] == ["orders_3d"]
    assert frame.loc[0, "orders_3d"] == 1  # day 3 only: day 0 is 4 days back
