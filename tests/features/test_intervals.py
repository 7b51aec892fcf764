"""Inter-purchase gaps on hand-made purchase days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.intervals import grouped_median, interval_features
from features.prepared import prepare_orders


def test_gaps_by_hand(orders_on_days: Callable[..., pd.DataFrame]) -> None:
    # a: days 0, 10, 30, 31 (+ a second order on day 10) -> gaps 10, 20, 1
    # b: days 5, 15 -> gap 10; c: one day -> no gap
    orders = orders_on_days({"a": [0, 10, 10, 30, 31], "b": [5, 15], "c": [40]})
    frame = interval_features(prepare_orders(orders, dt.date(2024, 3, 1)))
    a, b, c = frame.iloc[0], frame.iloc[1], frame.iloc[2]
    assert a["gap_mean"] == pytest.approx(31 / 3)
    assert a["gap_median"] == 10.0
    assert a["gap_std"] == pytest.approx(np.std([10, 20, 1], ddof=1))
    assert (a["gap_min"], a["gap_max"], a["last_gap"]) == (1.0, 20.0, 1.0)
    assert a["gap_cv"] == pytest.approx(np.std([10, 20, 1], ddof=1) / (31 / 3))
    assert (b["gap_mean"], b["gap_median"], b["last_gap"]) == (10.0, 10.0, 10.0)
    assert np.isnan(b["gap_std"]) and np.isnan(b["gap_cv"])  # one gap: no spread
    assert frame.iloc[2].isna().all() and c["gap_mean"] != c["gap_mean"]


def test_grouped_median_matches_pandas() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 50, 2_000)
    values = rng.integers(0, 400, 2_000)
    expected = pd.Series(values).groupby(codes).median().reindex(range(60)).to_numpy()
    np.testing.assert_allclose(grouped_median(codes, values, 60), expected)
    floats = rng.normal(size=2_000)
    expected = pd.Series(floats).groupby(codes).median().reindex(range(60)).to_numpy()
    np.testing.assert_allclose(grouped_median(codes, floats, 60), expected)


def test_gaps_match_pandas_on_cdnow(cdnow_orders: pd.DataFrame) -> None:
    """An independent (slow, obvious) pandas computation of the same statistics."""
    ours = interval_features(prepare_orders(cdnow_orders, dt.date(1997, 9, 30)))
    paid = cdnow_orders[cdnow_orders["ordered_at"] < pd.Timestamp("1997-10-01", tz="UTC")]
    days = (
        paid.assign(day=paid["ordered_at"].dt.floor("D"))[["customer_id", "day"]]
        .drop_duplicates()
        .sort_values(["customer_id", "day"])
    )
    days["gap"] = days.groupby("customer_id")["day"].diff().dt.days
    stats = days.groupby("customer_id")["gap"].agg(["mean", "median", "std", "last"])
    np.testing.assert_allclose(ours["gap_mean"], stats["mean"], rtol=1e-9)
    np.testing.assert_allclose(ours["gap_median"], stats["median"], rtol=1e-9)
    np.testing.assert_allclose(ours["gap_std"], stats["std"], rtol=1e-7)
    np.testing.assert_allclose(ours["last_gap"], stats["last"], rtol=1e-9)


def test_grouped_median_of_wide_integers_is_exact() -> None:
    """Group x value keys beyond float64's 2**53: values must come back from the int keys."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 1_000, 5_000)
    values = rng.integers(2**44, 2**45, 5_000)  # keys up to 2**55
    expected = pd.Series(values).groupby(codes).median().reindex(range(1_000)).to_numpy()
    np.testing.assert_array_equal(grouped_median(codes, values, 1_000), expected)
