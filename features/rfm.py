"""The RFM core: the `lifetimes`/PyMC-Marketing summary in days, plus order and revenue totals.

Definitions (paid rows up to the end of the as_of day; a "purchase day" is a UTC calendar day
with at least one paid row), identical to ``lifetimes.utils.summary_data_from_transaction_data(
..., freq='D', observation_period_end=as_of, monetary_value_col='amount')``:

- ``frequency``: distinct purchase days minus one (repeat purchases);
- ``recency``: days from the first to the last purchase day;
- ``T``: days from the first purchase day to as_of;
- ``monetary_value``: mean revenue per repeat purchase day (the first day excluded), 0 when
  ``frequency`` is 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.prepared import PreparedOrders


def rfm_features(prepared: PreparedOrders) -> pd.DataFrame:
    """RFM summary, order counts and revenue totals: one row per customer, in customer order."""
    n = prepared.n_customers
    starts, ends = prepared.day_offsets[:-1], prepared.day_offsets[1:]
    first_day = prepared.day_value[starts]
    last_day = prepared.day_value[ends - 1]
    n_days = ends - starts
    first_day_revenue = prepared.day_revenue[starts]
    revenue_total = np.bincount(prepared.code, weights=prepared.amount, minlength=n)
    frequency = (n_days - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary_value = np.where(
            frequency > 0, (revenue_total - first_day_revenue) / frequency, 0.0
        )
    n_orders = np.bincount(prepared.code[prepared.order_first], minlength=n)
    revenue_max = _max_per_customer(prepared, prepared.order_revenue, prepared.order_first)
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last_day - first_day).astype(np.float64),
            "T": (prepared.as_of_day - first_day).astype(np.float64),
            "monetary_value": monetary_value,
            "days_since_last_order": (prepared.as_of_day - last_day).astype(np.int32),
            "n_orders": n_orders.astype(np.int32),
            "n_purchase_days": n_days.astype(np.int32),
            "revenue_total": revenue_total,
            "revenue_mean": revenue_total / n_orders,
            "revenue_max": revenue_max,
            "tenure_days": (prepared.as_of_day - first_day).astype(np.int32),
            "first_purchase_date": _dates(first_day),
            "last_purchase_date": _dates(last_day),
        },
        copy=False,  # the arrays are the frame's alone: no copy into 2-D blocks
    )


def _max_per_customer(prepared: PreparedOrders, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Largest value among each customer's masked rows (every customer has one order)."""
    masked = np.where(mask, values, -np.inf)
    return np.maximum.reduceat(masked, prepared.row_offsets[:-1])


def _dates(epoch_day: np.ndarray) -> pd.Series:
    """Calendar dates (naive midnight) from UTC day numbers."""
    return pd.Series(epoch_day.astype("datetime64[D]").astype("datetime64[ns]"))
