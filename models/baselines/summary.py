"""Per-customer inputs of the baselines, computed from the canonical orders frame.

The "buy till you die" models count *purchase days*: several paid orders on one (UTC)
calendar day are one purchase, the convention of the CDNOW benchmark (Fader, Hardie and Lee
2005). ``frequency`` is the number of purchase days after the first, ``recency`` the time from
the first to the last purchase day and ``T`` the time from the first purchase day to ``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.tables import paid_orders

SUMMARY_COLUMNS = (
    "frequency",
    "recency",
    "T",
    "days_since_last_purchase",
    "median_interval_days",
)


def _purchase_days(orders: pd.DataFrame) -> pd.DataFrame:
    """Distinct (customer_id, day) pairs of paid orders, day as tz-naive midnight (UTC)."""
    paid = paid_orders(orders)
    day = paid["ordered_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
    return (
        pd.DataFrame({"customer_id": paid["customer_id"].to_numpy(), "day": day.to_numpy()})
        .drop_duplicates()
        .sort_values(["customer_id", "day"], kind="stable")
    )


def _as_day(as_of: pd.Timestamp | str) -> pd.Timestamp:
    day = pd.Timestamp(as_of)
    if day.tzinfo is not None:
        day = day.tz_convert("UTC").tz_localize(None)
    return day.floor("D")


def _days(span: pd.Series) -> pd.Series:
    """A timedelta Series as float days."""
    return span.dt.total_seconds() / 86_400.0


def customer_summary(
    orders: pd.DataFrame, as_of: pd.Timestamp | str, *, time_unit_days: float = 1.0
) -> pd.DataFrame:
    """One row per customer with a paid order on or before ``as_of`` (a date, inclusive).

    Required columns of ``orders``: ``customer_id``, ``ordered_at`` (tz-aware), ``status``.
    Returns a frame indexed by ``customer_id`` with ``frequency``, ``recency`` and ``T`` in
    units of ``time_unit_days`` days (7 for weeks), ``days_since_last_purchase`` and
    ``median_interval_days`` (median days between purchase days; NaN with a single purchase).
    """
    missing = {"customer_id", "ordered_at", "status"} - set(orders.columns)
    if missing:
        raise ValueError(f"orders lacks the columns {sorted(missing)}")
    cutoff = _as_day(as_of)
    days = _purchase_days(orders)
    days = days.loc[days["day"] <= cutoff]
    grouped = days.groupby("customer_id", sort=True)["day"]
    first, last, count = grouped.min(), grouped.max(), grouped.size()
    gaps = grouped.diff().dt.days
    median_interval = gaps.groupby(days["customer_id"]).median().reindex(first.index)
    summary = pd.DataFrame(
        {
            "frequency": (count - 1).astype(np.float64),
            "recency": _days(last - first) / time_unit_days,
            "T": _days(cutoff - first) / time_unit_days,
            "days_since_last_purchase": _days(cutoff - last),
            "median_interval_days": median_interval.astype(np.float64),
        }
    )
    summary.index.name = "customer_id"
    return summary


def days_until_next_purchase(
    orders: pd.DataFrame,
    as_of: pd.Timestamp | str,
    customer_ids: pd.Index,
) -> pd.Series:
    """Days from ``as_of`` to each customer's first paid purchase day after it; NaN if none.

    Required columns of ``orders``: ``customer_id``, ``ordered_at``, ``status``. A purchase on
    the day after ``as_of`` counts as 1 day, so ``value <= h`` means "bought in (as_of, as_of+h]".
    """
    cutoff = _as_day(as_of)
    days = _purchase_days(orders)
    after = days.loc[days["day"] > cutoff].groupby("customer_id")["day"].min()
    waited = _days(after - cutoff)
    return waited.reindex(customer_ids).astype(np.float64).rename("days_until_next_purchase")
