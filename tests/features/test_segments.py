"""RFM eight groups and lifecycle stages on hand-made customers."""

from __future__ import annotations

import pandas as pd

from features.config import FeatureConfig
from features.segments import RFM_SEGMENTS, lifecycle_stage, rfm_segment


def test_all_eight_groups_with_fixed_thresholds() -> None:
    # thresholds: R high if <= 30 days, F high if > 2 orders, M high if > 100
    config = FeatureConfig(rfm_recency_days=30, rfm_frequency_orders=2, rfm_monetary=100)
    frame = pd.DataFrame(
        {
            "days_since_last_order": [10, 10, 90, 90, 10, 10, 90, 90],
            "n_orders": [5, 1, 5, 1, 5, 1, 5, 1],
            "revenue_total": [500, 500, 500, 500, 50, 50, 50, 50],
        }
    )
    assert rfm_segment(frame, config).tolist() == [
        "important_value", "important_develop", "important_retain", "important_winback",
        "general_value", "general_develop", "general_retain", "general_winback",
    ]  # fmt: skip
    assert set(RFM_SEGMENTS) == set(rfm_segment(frame, config))


def test_median_split_is_the_default() -> None:
    # medians: 20 days, 2 orders, 100; the 2-order customer is not "high F" (strictly above)
    frame = pd.DataFrame(
        {
            "days_since_last_order": [5, 20, 40],
            "n_orders": [1, 2, 9],
            "revenue_total": [10, 100, 900],
        }
    )
    assert rfm_segment(frame, FeatureConfig()).tolist() == [
        "general_develop", "general_develop", "important_retain",
    ]  # fmt: skip
    mean_split = rfm_segment(frame, FeatureConfig(rfm_split="mean"))  # means 21.7, 4, 336.7
    assert mean_split.tolist() == ["general_develop", "general_develop", "important_retain"]


def test_lifecycle_relative_to_own_cycle() -> None:
    frame = pd.DataFrame(
        {
            "days_since_last_order": [10, 200, 20, 40, 70, 130, 400, 45],
            "frequency": [0, 0, 3, 3, 3, 3, 3, 3],
            "cycle_days": [30, 30, 10, 20, 20, 20, 100, 30],
        }
    )
    # 10 d, one purchase -> new; 200 d, one purchase: 200 > 6 x 30 -> churned;
    # 20 d <= active floor 30 -> active; 40 d > 1.5 x 20 but <= 3 x 20 -> at_risk;
    # 70 d <= 6 x 20 -> lapsed; 130 d > 6 x 20 -> churned; 400 d > 365 -> churned (long cycle);
    # 45 d <= 1.5 x 30 -> active
    assert lifecycle_stage(frame, FeatureConfig()).tolist() == [
        "new", "churned", "active", "at_risk", "lapsed", "churned", "churned", "active",
    ]  # fmt: skip


def test_lifecycle_thresholds_are_configurable() -> None:
    frame = pd.DataFrame({"days_since_last_order": [40], "frequency": [2], "cycle_days": [20]})
    assert lifecycle_stage(frame, FeatureConfig()).tolist() == ["at_risk"]
    relaxed = FeatureConfig(lifecycle_at_risk_ratio=2.5, lifecycle_lapsed_ratio=3.0)
    assert lifecycle_stage(frame, relaxed).tolist() == ["active"]


def test_lifecycle_measures_against_the_last_purchases_duration_when_known() -> None:
    # Both 40 days since a purchase with a usual 20-day cycle; the second stocked up
    # (overdue_ratio 0.5: the last purchase lasts 80 days), so it is still active.
    frame = pd.DataFrame(
        {
            "days_since_last_order": [40, 40],
            "frequency": [2, 2],
            "cycle_days": [20, 20],
            "overdue_ratio": [2.0, 0.5],
        }
    )
    assert lifecycle_stage(frame, FeatureConfig()).tolist() == ["at_risk", "active"]
