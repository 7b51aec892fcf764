"""build_features as a whole: shape, order, no leakage past as_of, model columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from features.pipeline import build_features, model_feature_columns

AS_OF = dt.date(1997, 9, 30)


def _with_future_changes(orders: pd.DataFrame) -> pd.DataFrame:
    """Alter every order after as_of and add new ones, for old and brand-new customers."""
    changed = orders.copy()
    later = changed["ordered_at"] >= pd.Timestamp("1997-10-01", tz="UTC")
    changed.loc[later, "amount"] = changed.loc[later, "amount"] * 3 + 1
    changed.loc[later, "ordered_at"] = changed.loc[later, "ordered_at"] + pd.Timedelta(days=2)
    extra = changed.loc[later].head(500).copy()
    extra["order_id"] = "future-" + extra["order_id"]
    extra["customer_id"] = extra["customer_id"].where(np.arange(len(extra)) % 2 == 0, "zz-new")
    extra["status"] = "refunded"
    return pd.concat([changed, extra], ignore_index=True).sample(frac=1.0, random_state=0)


def test_no_leakage_after_as_of(cdnow_orders: pd.DataFrame) -> None:
    before = build_features(cdnow_orders, AS_OF)
    after = build_features(_with_future_changes(cdnow_orders), AS_OF)
    assert_frame_equal(before, after)


def test_one_sorted_row_per_customer(cdnow_orders: pd.DataFrame) -> None:
    frame = build_features(cdnow_orders, pd.Timestamp("1997-03-31"))
    assert frame.columns[0] == "customer_id"
    assert frame["customer_id"].is_unique and frame["customer_id"].is_monotonic_increasing
    first = cdnow_orders.groupby("customer_id")["ordered_at"].min()
    assert len(frame) == int((first < pd.Timestamp("1997-04-01", tz="UTC")).sum())


def test_model_feature_columns_are_numeric_and_exclude_ids(cdnow_orders: pd.DataFrame) -> None:
    frame = build_features(cdnow_orders, AS_OF)
    columns = model_feature_columns(frame)
    assert "customer_id" not in columns and "frequency" in columns and "T" in columns
    assert all(pd.api.types.is_numeric_dtype(frame[c]) for c in columns)
    assert not any("date" in c for c in columns)


def test_two_threads_build_the_same_frame_as_one(monkeypatch) -> None:
    """Large frames compute the cycle on a second thread; the frame must not change."""
    import features.pipeline as pipeline
    from features.tables import canonical_orders
    from repurchase.sample_shop import generate_shop

    shop = generate_shop(800, seed=5)
    orders = canonical_orders(shop.orders, source="shop")
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ROWS", 10**12)
    one = build_features(orders, "2026-06-30", shop.products)
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ROWS", 0)
    two = build_features(orders, "2026-06-30", shop.products)
    assert_frame_equal(one, two)
    assert {"cycle_days", "gap_median", "orders_30d", "discount_share"} <= set(two.columns)


def test_an_error_in_the_main_thread_does_not_leave_the_cycle_waiting(monkeypatch) -> None:
    import features.pipeline as pipeline
    from repurchase.sample_shop import generate_shop

    shop = generate_shop(100, seed=5)

    def broken(_prepared):
        raise RuntimeError("interval bug")

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(pipeline, "interval_features", broken)
    with pytest.raises(RuntimeError, match="interval bug"):  # raised, not a hang
        build_features(shop.orders, "2026-06-30", shop.products)
