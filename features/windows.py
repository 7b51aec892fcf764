"""Activity and revenue in windows ending on as_of, and the spend trend.

A window of N days covers the N calendar days ending with the as_of day itself
(``as_of_day - day < N``). Orders are distinct order_ids, dated by their first row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.prepared import PreparedOrders


def window_features(prepared: PreparedOrders, config: FeatureConfig) -> pd.DataFrame:
    """``orders_{N}d``, ``revenue_{N}d``, ``purchase_days_{N}d`` per window, ``spend_trend``."""
    n = prepared.n_customers
    age = prepared.as_of_day - prepared.day
    day_age = prepared.as_of_day - prepared.day_value
    columns: dict[str, np.ndarray] = {}
    for days in sorted(set(config.windows_days)):
        inside = age < days
        columns[f"orders_{days}d"] = np.bincount(
            prepared.code[inside & prepared.order_first], minlength=n
        )
        columns[f"purchase_days_{days}d"] = np.bincount(
            prepared.day_code[day_age < days], minlength=n
        )
        recent_days = day_age < days  # revenue per purchase day: fewer elements than rows
        columns[f"revenue_{days}d"] = np.bincount(
            prepared.day_code[recent_days], weights=prepared.day_revenue[recent_days], minlength=n
        ).astype(np.float64)
    columns["spend_trend"] = _trend(prepared, age, config.trend_window_days)
    return pd.DataFrame(columns)


def _trend(prepared: PreparedOrders, age: np.ndarray, window: int) -> np.ndarray:
    """(recent - previous) / (recent + previous) revenue over two back-to-back windows.

    -1 = stopped buying, 0 = steady (or nothing in either window), +1 = only recently.
    """
    n = prepared.n_customers
    recent = age < window
    previous = (age >= window) & (age < 2 * window)
    now = np.bincount(prepared.code[recent], weights=prepared.amount[recent], minlength=n)
    before = np.bincount(prepared.code[previous], weights=prepared.amount[previous], minlength=n)
    total = np.abs(now) + np.abs(before)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (now - before) / total, 0.0)
