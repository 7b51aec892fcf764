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
    """``orders_{N}d`` and ``revenue_{N}d`` per window, and ``spend_trend``."""
    windows = np.array(sorted(set(config.windows_days)), dtype=np.int64)
    first = prepared.order_first
    orders = _per_window(prepared, prepared.code[first], prepared.day[first], windows, None)
    revenue = _per_window(
        prepared, prepared.day_code, prepared.day_value, windows, prepared.day_revenue
    )
    columns: dict[str, np.ndarray] = {}
    for i, length in enumerate(windows):
        columns[f"orders_{length}d"] = orders[:, i].astype(np.int32)
        columns[f"revenue_{length}d"] = revenue[:, i]
    columns["spend_trend"] = _trend(prepared, config.trend_window_days)
    return pd.DataFrame(columns, copy=False)  # no copy into 2-D blocks


def _per_window(
    prepared: PreparedOrders,
    codes: np.ndarray,
    days: np.ndarray,
    windows: np.ndarray,
    weights: np.ndarray | None,
) -> np.ndarray:
    """Count (or weighted sum) per customer and window, from one pass over the rows.

    Each row falls in a bucket = how many windows are too short to contain it; a window holds
    the rows of its own and all shorter-window buckets, so a cumulative sum over buckets
    gives every window at once.
    """
    n, width = prepared.n_customers, len(windows) + 1
    bucket = np.searchsorted(windows, prepared.as_of_day - days, side="right")
    # an int32 key keeps the memory of this pass small (n x width < 2**31 for 300M customers)
    key: np.ndarray = codes.astype(np.int32 if n * width < 2**31 else np.int64)
    key *= width
    key += bucket.astype(key.dtype)
    del bucket
    table = np.bincount(key, weights=weights, minlength=n * width).reshape(n, width)
    del key
    np.cumsum(table, axis=1, out=table)
    return table[:, :-1]


def _trend(prepared: PreparedOrders, window: int) -> np.ndarray:
    """(recent - previous) / (recent + previous) revenue over two back-to-back windows.

    -1 = stopped buying, 0 = steady (or nothing in either window), +1 = only recently.
    """
    n = prepared.n_customers
    age = prepared.as_of_day - prepared.day_value
    recent = age < window
    previous = (age >= window) & (age < 2 * window)
    codes, revenue = prepared.day_code, prepared.day_revenue
    now = np.bincount(codes[recent], weights=revenue[recent], minlength=n)
    before = np.bincount(codes[previous], weights=revenue[previous], minlength=n)
    total = np.abs(now) + np.abs(before)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (now - before) / total, 0.0)
