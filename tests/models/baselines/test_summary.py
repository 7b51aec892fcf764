"""customer_summary / days_until_next_purchase on a tiny hand-written orders table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal, assert_series_equal

from models.baselines import customer_summary, days_until_next_purchase


def _orders() -> pd.DataFrame:
    rows = [
        # a: three purchase days (two orders on Jan 1 count once); a refund is not a purchase.
        ("a", "2024-01-01T09:00:00Z", 10.0, "paid"),
        ("a", "2024-01-01T18:00:00Z", 5.0, "paid"),
        ("a", "2024-01-11T08:00:00Z", 7.0, "paid"),
        ("a", "2024-01-15T08:00:00Z", -7.0, "refunded"),
        ("a", "2024-01-31T23:59:00Z", 3.0, "paid"),
        # b: a single purchase before as_of, the next one 5 days after it.
        ("b", "2024-01-21T12:00:00Z", 20.0, "paid"),
        ("b", "2024-02-05T12:00:00Z", 20.0, "paid"),
        # c: first buys after as_of, so it is not in the summary.
        ("c", "2024-02-02T00:00:00Z", 9.0, "paid"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount", "status"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame


def test_summary_counts_purchase_days_up_to_and_including_as_of() -> None:
    summary = customer_summary(_orders(), "2024-01-31")
    # a: days Jan 1, Jan 11, Jan 31 -> 2 repeats, recency 30, T 30, intervals 10 and 20.
    # b: Jan 21 only -> T 10, no interval.
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 0.0],
            "recency": [30.0, 0.0],
            "T": [30.0, 10.0],
            "days_since_last_purchase": [0.0, 10.0],
            "median_interval_days": [15.0, np.nan],
        },
        index=pd.Index(["a", "b"], name="customer_id"),
    )
    assert_frame_equal(summary, expected, check_index_type=False)


def test_summary_in_weeks() -> None:
    summary = customer_summary(_orders(), "2024-01-31", time_unit_days=7)
    np.testing.assert_allclose(summary["T"], [30 / 7, 10 / 7])
    np.testing.assert_allclose(summary["days_since_last_purchase"], [0.0, 10.0])


def test_days_until_next_purchase() -> None:
    orders = _orders()
    customers = pd.Index(["a", "b", "z"], name="customer_id")
    waited = days_until_next_purchase(orders, "2024-01-31", customers)
    expected = pd.Series([np.nan, 5.0, np.nan], index=customers, name="days_until_next_purchase")
    assert_series_equal(waited, expected, check_index_type=False)
