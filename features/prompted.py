"""Prompted purchases: orders that came in answer to a message, not when the customer ran out.

A replenishment reminder, a coupon push or a campaign link moves a purchase to the day the
message arrived. Such a purchase says when the brand wrote, not how long the last purchase
lasted, so the consumption cycle does not learn a customer's pace from it
(:func:`features.cycle.pace_observations`); it still counts as a purchase everywhere else.

On the sample shop the brand's old reminder rule writes three days before the *label* run-out,
so slow users who answer it look as fast as the label: from orders alone, customers using
less than 0.85 of the label's rate got a pace 7% short on average. Setting aside purchases
within 3 days after a touch raised the share of repeat customers whose cycle is within 10% of
the truth from 79.3% / 79.2% to 80.5% / 81.0% (3,000 customers, seed 7, as_of 2026-10-31 /
2026-04-30), and by 1.2-1.7 points on 5,000-customer shops of seeds 7 and 11.

The mark is the orders column ``prompted``: given in the orders file (an attribution the shop
already has) or set here from the contacts history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROMPTED = "prompted"
DEFAULT_WITHIN_DAYS = 3.0  # FeatureConfig.prompted_within_days


def mark_prompted(
    orders: pd.DataFrame, contacts: pd.DataFrame | None, within_days: float
) -> pd.DataFrame:
    """`orders` with a ``prompted`` column: true on every row ordered at most `within_days`
    days after a touch of the same customer in `contacts` (``customer_id``,
    ``contacted_at``), or marked in the orders already. A touch after an order never marks
    it, so marks up to `as_of` only read touches up to `as_of`. Without contacts (or with
    `within_days` 0) only the orders' own marks count (none when they have no column).
    """
    if contacts is None or contacts.empty or within_days <= 0:
        return orders if PROMPTED in orders.columns else orders.assign(**{PROMPTED: False})
    row = np.arange(len(orders))
    left = pd.DataFrame(
        {
            "at": _utc(orders["ordered_at"]),
            "customer_id": orders["customer_id"].astype("string"),
            "row": row,
        }
    ).sort_values("at", kind="stable")
    right = (
        pd.DataFrame(
            {
                "at": _utc(contacts["contacted_at"]),
                "customer_id": contacts["customer_id"].astype("string"),
                "touched": True,
            }
        )
        .dropna(subset=["at"])
        .sort_values("at", kind="stable")
    )
    # the latest touch at or before each order, if it is recent enough
    matched = pd.merge_asof(
        left,
        right,
        on="at",
        by="customer_id",
        direction="backward",
        tolerance=pd.Timedelta(days=within_days),
    )
    prompted = np.zeros(len(orders), dtype=bool)
    prompted[matched["row"].to_numpy()] = matched["touched"].notna().to_numpy()
    if PROMPTED in orders.columns:
        prompted |= orders[PROMPTED].to_numpy(dtype=bool)
    return orders.assign(**{PROMPTED: prompted})


def prompted_days(feature_config: object) -> float:
    """A feature config's ``prompted_within_days`` (the default without a config)."""
    return float(getattr(feature_config, "prompted_within_days", DEFAULT_WITHIN_DAYS))


def _utc(stamps: pd.Series) -> pd.Series:
    """Naive UTC nanoseconds: merge_asof wants one dtype on both sides."""
    values = pd.to_datetime(stamps, utc=True)
    return values.dt.tz_localize(None).astype("datetime64[ns]")
