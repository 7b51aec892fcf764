"""Labels: what each customer did after a cutoff, from the paid orders up to `as_of` only.

A label for the window ``(cutoff, cutoff + days]`` is known only when the whole window lies at
or before ``as_of`` (``cutoff + days <= as_of``); otherwise it is censored and left as NaN, so a
snapshot contributes to a horizon only when that horizon was fully observed.

Days are whole UTC calendar days: "at or before day d" means ``ordered_at < d + 1 day``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from features.tables import paid_orders

DAY = pd.Timedelta(days=1)


def as_of_day(as_of: dt.date | str | pd.Timestamp) -> pd.Timestamp:
    """`as_of` as midnight UTC of that calendar day (the day itself is inside the history)."""
    stamp = pd.Timestamp(as_of)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.normalize().as_unit("ns")


def orders_up_to(orders: pd.DataFrame, as_of: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """The rows of `orders` placed on or before the day `as_of` (required: ``ordered_at``)."""
    return orders.loc[orders["ordered_at"] < as_of_day(as_of) + DAY]


def purchase_days(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer and purchase day up to `as_of`: ``customer_id``, ``day``, ``revenue``.

    Required columns: ``customer_id``, ``ordered_at``, ``amount``, ``status``. Revenue is the
    net amount of the day's paid rows (returns booked as paid negative rows reduce it).
    """
    paid = paid_orders(orders_up_to(orders, as_of))
    days = pd.DataFrame(
        {
            "customer_id": paid["customer_id"].astype("string"),
            "day": paid["ordered_at"].dt.floor("D").dt.as_unit("ns"),
            "revenue": paid["amount"].astype(float),
        }
    )
    summed = days.groupby(["customer_id", "day"], sort=True)["revenue"].sum()
    return summed.reset_index()


def label_snapshots(
    keys: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    *,
    horizons: Iterable[int] = (7, 14, 30, 60, 90),
    churn_days: int = 180,
    value_windows: Iterable[int] = (90, 180, 365),
) -> pd.DataFrame:
    """Outcome labels for each (customer, cutoff) row of `keys`, observed up to `as_of`.

    Required columns of `keys`: ``customer_id``, ``cutoff`` (midnight-UTC timestamps). Returns
    a frame aligned with `keys` holding:

    Every label column starts with ``label_`` so it can never be mistaken for a feature:

    - ``label_days_to_next_purchase``: days from the cutoff to the next paid purchase day at or
      before `as_of` (NaN: none seen, i.e. censored at ``label_observed_days``);
    - ``label_observed_days``: days between the cutoff and `as_of`;
    - ``label_bought_{h}d`` for each horizon: 1.0/0.0, NaN when ``cutoff + h > as_of``;
    - ``label_churned_{churn_days}d``: 1.0 when no paid purchase in (cutoff, cutoff + churn_days];
    - ``label_revenue_{w}d`` for each value window: net paid revenue in (cutoff, cutoff + w].
    """
    end = as_of_day(as_of)
    days = purchase_days(orders, end)
    frame = pd.DataFrame(
        {
            "customer_id": keys["customer_id"].astype("string").array,
            "cutoff": pd.to_datetime(keys["cutoff"]).dt.as_unit("ns").to_numpy(),
            "_row": np.arange(len(keys)),
        }
    )
    observed = (end - frame["cutoff"]).dt.days.to_numpy(dtype=float)

    # merge_asof needs both sides sorted by the "on" key; "by" matches the customer.
    left = frame.sort_values("cutoff", kind="stable")
    right = days.sort_values("day", kind="stable")
    following = pd.merge_asof(
        left,
        right[["customer_id", "day"]],
        left_on="cutoff",
        right_on="day",
        by="customer_id",
        direction="forward",
        allow_exact_matches=False,
    ).sort_values("_row")
    days_to_next = (following["day"] - following["cutoff"]).dt.days.to_numpy(dtype=float)

    out = pd.DataFrame(index=keys.index)
    out["label_days_to_next_purchase"] = days_to_next
    out["label_observed_days"] = observed
    for horizon in horizons:
        bought = np.where(days_to_next <= horizon, 1.0, 0.0)
        out[f"label_bought_{horizon}d"] = np.where(observed >= horizon, bought, np.nan)
    churn_observed = observed >= churn_days
    out[f"label_churned_{churn_days}d"] = np.where(
        churn_observed, np.where(days_to_next <= churn_days, 0.0, 1.0), np.nan
    )
    cumulative = right.assign(cum_revenue=right.groupby("customer_id")["revenue"].cumsum())
    at_cutoff = _cumulative_at(left, cumulative, "cutoff")
    for window in value_windows:
        shifted = left.assign(window_end=left["cutoff"] + pd.Timedelta(days=window))
        at_end = _cumulative_at(shifted, cumulative, "window_end")
        revenue = at_end - at_cutoff
        out[f"label_revenue_{window}d"] = np.where(observed >= window, revenue, np.nan)
    return out


def _cumulative_at(left: pd.DataFrame, cumulative: pd.DataFrame, on: str) -> np.ndarray:
    """Each row's cumulative paid revenue up to and including day `on`, in `_row` order."""
    merged = pd.merge_asof(
        left.sort_values(on, kind="stable"),
        cumulative[["customer_id", "day", "cum_revenue"]],
        left_on=on,
        right_on="day",
        by="customer_id",
        direction="backward",
        allow_exact_matches=True,
    ).sort_values("_row")
    return merged["cum_revenue"].fillna(0.0).to_numpy(dtype=float)
