"""Labels from a hand-made history; censoring; nothing after as_of is read."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from training.labels import label_snapshots
from training.snapshots import build_training_frame, snapshot_cutoffs


def _orders(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["ordered_at"] = pd.to_datetime(
        frame["ordered_at"], utc=True, format="ISO8601"
    ).dt.as_unit("ns")
    frame["order_id"] = pd.array([str(i) for i in range(len(frame))], dtype="string")
    frame["status"] = pd.array(["paid"] * len(frame), dtype="string")
    return frame


def test_labels_by_hand():
    # a buys 5 and 40 days after the cutoff (2024-03-01), b never again.
    orders = _orders(
        [
            ("a", "2024-02-01", 10.0),
            ("a", "2024-03-06 13:00", 20.0),
            ("a", "2024-04-10", 30.0),
            ("b", "2024-02-15", 50.0),
        ]
    )
    keys = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": pd.Timestamp("2024-03-01", tz="UTC")})
    labels = label_snapshots(
        keys, orders, "2024-05-15", horizons=(7, 30, 90), churn_days=60, value_windows=(30, 365)
    )
    # 2024-03-01 -> 2024-05-15 is 75 days observed.
    assert labels["label_observed_days"].tolist() == [75.0, 75.0]
    assert labels["label_days_to_next_purchase"].iloc[0] == 5.0
    assert np.isnan(labels["label_days_to_next_purchase"].iloc[1])
    assert labels["label_bought_7d"].tolist() == [1.0, 0.0]
    assert labels["label_bought_30d"].tolist() == [1.0, 0.0]
    assert labels["label_bought_90d"].isna().all()  # 90 > 75 days observed: censored
    assert labels["label_churned_60d"].tolist() == [0.0, 1.0]
    assert labels["label_revenue_30d"].tolist() == [20.0, 0.0]
    assert labels["label_revenue_365d"].isna().all()


def test_orders_after_as_of_never_change_training_data(shop_orders, shop_as_of):
    later = shop_orders.copy()
    after = later["ordered_at"] > shop_as_of + pd.Timedelta(days=1)
    later.loc[after, "amount"] = later.loc[after, "amount"] * 100
    extra = later.iloc[:50].copy()
    extra["ordered_at"] = shop_as_of + pd.Timedelta(days=3)
    extra["order_id"] = pd.array([f"x{i}" for i in range(50)], dtype="string")
    later = pd.concat([later, extra], ignore_index=True)
    kwargs = {"step_days": 30, "max_snapshots": 6}
    assert_frame_equal(
        build_training_frame(shop_orders, shop_as_of, **kwargs),
        build_training_frame(later, shop_as_of, **kwargs),
    )


def test_cutoffs_step_back_from_as_of_and_stop_at_history_start(shop_orders, shop_as_of):
    cutoffs = snapshot_cutoffs(shop_orders, shop_as_of, step_days=60, max_snapshots=50)
    assert cutoffs[0] == shop_as_of - pd.Timedelta(days=60)
    assert all((a - b).days == 60 for a, b in itertools.pairwise(cutoffs))
    assert cutoffs[-1] >= shop_orders["ordered_at"].min().floor("D")


def test_snapshot_labels_only_where_window_observed(shop_orders, shop_as_of):
    frame = build_training_frame(shop_orders, shop_as_of, step_days=30, max_snapshots=6)
    age = (shop_as_of - frame["cutoff"]).dt.days
    assert frame.loc[age < 90, "label_bought_90d"].isna().all()
    assert frame.loc[age >= 90, "label_bought_90d"].notna().all()
    assert not frame.duplicated(["customer_id", "cutoff"]).any()
