"""When the next purchase is due (models.due_features), on hand-made purchase days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from features.config import FeatureConfig
from features.pipeline import build_features
from features.tables import canonical_orders
from models.due_features import add_due_features
from training.snapshots import default_feature_builder

AS_OF = dt.date(2024, 3, 1)  # day 60 after 2024-01-01
START = pd.Timestamp("2024-01-01 12:00", tz="UTC")


def orders_on_days(days_by_customer: dict[str, list[int]]) -> pd.DataFrame:
    """One paid order per listed day offset from 2024-01-01."""
    rows = [
        (customer, START + pd.Timedelta(days=day), 10.0)
        for customer, days in days_by_customer.items()
        for day in days
    ]
    return canonical_orders(pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"]))


def model_features(orders: pd.DataFrame, config: FeatureConfig | None = None) -> pd.DataFrame:
    return default_feature_builder()(orders, AS_OF, None, config)


def test_due_by_interval_by_hand() -> None:
    # a: days 0, 30 -> median gap 30, last purchase 30 days before as_of: due today
    # b: days 0, 20, 40 -> gap 20, last 20 days ago: due today as well, but a shorter rhythm
    # c: days 10, 55 -> gap 45, last 5 days ago: due in 40 days
    orders = orders_on_days({"a": [0, 30], "b": [0, 20, 40], "c": [10, 55], "d": [50]})
    frame = model_features(orders).set_index("customer_id")
    assert frame.loc[["a", "b", "c"], "due_in_interval_days"].tolist() == [0.0, 0.0, 40.0]
    for customer, due_in, gap in (("a", 0.0, 30.0), ("b", 0.0, 20.0), ("c", 40.0, 45.0)):
        sd = 0.25 * gap
        for horizon in (7, 14, 30, 60, 90):
            expected = norm.cdf((horizon - due_in) / sd) - norm.cdf(-due_in / sd)
            got = frame.loc[customer, f"due_interval_within_{horizon}d"]
            assert got == pytest.approx(expected, abs=1e-6)
    # due today: at most half the tolerance lies ahead, and a tighter rhythm puts more of
    # it inside the week
    within_week = frame.loc[["a", "b"], "due_interval_within_7d"]
    assert 0.3 < within_week["a"] < within_week["b"] < 0.5
    assert frame.loc["c", "due_interval_within_7d"] < 0.01  # 40 days out: hardly this week


def test_one_purchase_day_has_no_interval_due_date() -> None:
    """No gap, no interval rule; the cycle's due date (from supply or the shop's typical
    interval) still applies."""
    frame = model_features(orders_on_days({"a": [0, 30], "d": [50]}))
    single = frame.set_index("customer_id").loc["d"]
    assert single[[c for c in frame.columns if c.startswith("due_in")]].isna().all()
    assert single[[c for c in frame.columns if c.startswith("due_interval")]].isna().all()
    cycle = single[[c for c in frame.columns if c.startswith("due_cycle")]]
    assert cycle.notna().all() == pd.notna(single["days_until_depletion"])


def test_due_by_cycle_follows_the_depletion_date() -> None:
    """The cycle's due date is ``depletion_date``; its tolerance scales with the expected
    duration of the last purchase (days since it + days until depletion)."""
    orders = orders_on_days({"a": [0, 30], "b": [0, 20, 40]})
    frame = model_features(orders)
    due_in = frame["days_until_depletion"].to_numpy(dtype=float)
    duration = frame["days_since_last_order"].to_numpy(dtype=float) + due_in
    sd = np.maximum(0.25 * duration, 1.0)
    for horizon in (7, 30):
        expected = norm.cdf((horizon - due_in) / sd) - norm.cdf(-due_in / sd)
        got = frame[f"due_cycle_within_{horizon}d"].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_horizons_and_spread_come_from_the_config() -> None:
    config = FeatureConfig(due_window_days=(10,), due_spread=0.5)
    frame = model_features(orders_on_days({"a": [0, 30]}), config)
    assert [c for c in frame.columns if c.startswith("due_")] == [
        "due_in_interval_days",
        "due_interval_within_10d",
        "due_cycle_within_10d",
    ]
    expected = norm.cdf(10 / 15) - norm.cdf(0)  # due today, sd = 0.5 x 30 days
    assert frame["due_interval_within_10d"].iloc[0] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="due_window_days"):
        FeatureConfig(due_window_days=(0,))


def test_the_features_command_leaves_them_out_and_adding_twice_changes_nothing() -> None:
    """``repurchase features`` stays descriptive (and fast); models read the due columns."""
    orders = orders_on_days({"a": [0, 30], "b": [0, 20, 40]})
    plain = build_features(orders, AS_OF)
    assert not [c for c in plain.columns if c.startswith("due_")]
    once = add_due_features(plain)
    pd.testing.assert_frame_equal(add_due_features(once), once)
    pd.testing.assert_frame_equal(model_features(orders), once)


def test_due_columns_have_phrases_for_the_reasons() -> None:
    from models.reasons import describe_reasons

    frame = pd.DataFrame(
        {"due_in_interval_days": [-3.2, 5.0], "due_cycle_within_7d": [0.834, 0.02]}
    )
    contributions = np.array([[0.5, -0.1], [-0.2, 0.9]])
    reasons = describe_reasons(frame, contributions, list(frame.columns), top=2).tolist()
    assert reasons[0].startswith("next purchase 3 days overdue by the usual interval")
    assert "expected to run out within 7 days (2% likely)" in reasons[1]
    assert "next purchase due in 5 days by the usual interval" in reasons[1]


def test_a_config_saved_before_the_due_settings_existed_gets_the_defaults() -> None:
    """A model pickled by an older version carries a config without the due settings."""
    import pickle

    old = pickle.loads(pickle.dumps(FeatureConfig()))
    for name in ("due_spread", "due_window_days"):
        del old.__dict__[name]
    orders = orders_on_days({"a": [0, 30], "b": [0, 20, 40]})
    pd.testing.assert_frame_equal(model_features(orders, old), model_features(orders))
