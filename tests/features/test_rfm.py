"""RFM core: hand-made expectations and an independent DuckDB computation on CDNOW."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from features.pipeline import build_features

RFM = ["frequency", "recency", "T", "monetary_value"]


def test_rfm_by_hand(small_orders: pd.DataFrame) -> None:
    frame = build_features(small_orders, dt.date(2024, 2, 29)).set_index("customer_id")
    assert list(frame.index) == ["a", "b"]  # c only has a refunded order
    a, b = frame.loc["a"], frame.loc["b"]
    # a: purchase days Jan 1, Jan 11, Jan 31 -> 2 repeats, 30 days first->last, Jan 1 -> Feb 29 = 59
    assert (a["frequency"], a["recency"], a["T"]) == (2.0, 30.0, 59.0)
    assert a["monetary_value"] == pytest.approx((20 + 30) / 2)  # first day (15) excluded
    assert a["n_orders"] == 4 and a["revenue_total"] == 65.0
    assert a["revenue_mean"] == pytest.approx(65 / 4) and a["revenue_max"] == 30.0
    assert a["days_since_last_order"] == 29
    assert a["first_purchase_date"] == pd.Timestamp("2024-01-01")
    assert a["last_purchase_date"] == pd.Timestamp("2024-01-31")
    # b: one order of two lines -> one order worth 10, no repeat purchase
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0.0, 0.0, 9.0, 0.0)
    assert b["n_orders"] == 1 and b["revenue_max"] == 10.0


def test_as_of_day_is_included_whole(small_orders: pd.DataFrame) -> None:
    # a's last order is 2024-01-31T23:59: as_of 2024-01-31 sees it, 2024-01-30 does not
    on_day = build_features(small_orders, dt.date(2024, 1, 31)).set_index("customer_id")
    before = build_features(small_orders, dt.date(2024, 1, 30)).set_index("customer_id")
    assert on_day.loc["a", "frequency"] == 2 and on_day.loc["a", "days_since_last_order"] == 0
    assert before.loc["a", "frequency"] == 1 and "b" not in before.index


def test_rfm_matches_duckdb_on_cdnow(cdnow_orders: pd.DataFrame) -> None:
    """Same definitions as lifetimes' summary_data_from_transaction_data, computed in SQL."""
    ours = build_features(cdnow_orders, dt.date(1997, 9, 30))
    assert len(ours) == 23_570
    con = duckdb.connect()
    con.register("orders", cdnow_orders[["customer_id", "ordered_at", "amount", "status"]])
    reference = con.execute(
        """
        WITH days AS (
            SELECT customer_id, CAST(ordered_at AT TIME ZONE 'UTC' AS DATE) AS d,
                   SUM(amount) AS revenue
            FROM orders
            WHERE status = 'paid'
              AND CAST(ordered_at AT TIME ZONE 'UTC' AS DATE) <= DATE '1997-09-30'
            GROUP BY ALL
        ), first AS (
            SELECT customer_id, MIN(d) AS first_day FROM days GROUP BY customer_id
        )
        SELECT days.customer_id,
               CAST(COUNT(*) - 1 AS DOUBLE) AS frequency,
               CAST(MAX(d) - MIN(d) AS DOUBLE) AS recency,
               CAST(DATE '1997-09-30' - MIN(d) AS DOUBLE) AS "T",
               COALESCE(SUM(revenue) FILTER (WHERE d > first_day) / NULLIF(COUNT(*) - 1, 0), 0.0)
                   AS monetary_value
        FROM days JOIN first USING (customer_id)
        GROUP BY days.customer_id ORDER BY days.customer_id
        """
    ).df()
    reference["customer_id"] = reference["customer_id"].astype("string")
    assert_frame_equal(
        ours[["customer_id", *RFM]].reset_index(drop=True),
        reference.reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
    )
    # the published 1/10 sample has 1,411 one-time buyers out of 2,357 (~60%); same share here
    assert np.mean(ours["frequency"] == 0) == pytest.approx(0.6, abs=0.03)
