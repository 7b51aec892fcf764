"""Inter-purchase intervals: gaps in days between a customer's consecutive purchase days.

Several orders on one day are one purchase day, so gaps are never zero. A customer with one
purchase day has no gap (NaN); ``gap_std`` and ``gap_cv`` need two gaps (sample std, ddof=1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.prepared import FloatArray, IntArray, PreparedOrders


def customer_gaps(prepared: PreparedOrders) -> tuple[IntArray, IntArray]:
    """(customer code, gap in days) of every pair of consecutive purchase days, in order."""
    same = prepared.day_code[1:] == prepared.day_code[:-1]
    gaps = (prepared.day_value[1:] - prepared.day_value[:-1])[same]
    return prepared.day_code[1:][same], gaps


def grouped_median(codes: IntArray, values: np.ndarray, n_groups: int) -> FloatArray:
    """Median of ``values`` per integer group (NaN for empty groups), by one sort."""
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    width = int(values.max()) + 1 if np.issubdtype(values.dtype, np.integer) else 0
    if width > 0 and values.min() >= 0 and n_groups * width < 2**62:
        # group and value as one int64 key: sorting the keys themselves (numpy's SIMD sort)
        # is several times faster than argsort or a two-key lexsort; each value reads back
        # from its sorted key
        key = codes.astype(np.int64)
        key *= width
        key += values
        key.sort()
        sorted_values = key
    else:
        sorted_values = values[np.lexsort((values, codes))]
        width = 0
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    present = counts > 0
    middle = [starts[present] + (counts[present] - 1) // 2, starts[present] + counts[present] // 2]
    low, high = (sorted_values[i] for i in middle)
    if width:  # only the middle keys are turned back into values
        low, high = low % width, high % width
    out[present] = (low.astype(np.float64) + high.astype(np.float64)) / 2
    return out


def interval_features(prepared: PreparedOrders) -> pd.DataFrame:
    """``gap_mean``, ``gap_median``, ``gap_std``, ``gap_min``, ``gap_max``, ``last_gap``, ``gap_cv``."""
    n = prepared.n_customers
    codes, gaps = customer_gaps(prepared)
    count = np.bincount(codes, minlength=n).astype(np.float64)
    total = np.bincount(codes, weights=gaps, minlength=n)
    squares = np.bincount(codes, weights=gaps.astype(np.float64) ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        variance = np.where(count > 1, (squares - count * mean**2) / (count - 1), np.nan)
        std = np.sqrt(np.clip(variance, 0.0, None))
        cv = np.where(mean > 0, std / mean, np.nan)
    ends = prepared.day_offsets[1:]
    has_gap = count > 0
    last_gap = np.full(n, np.nan)
    last_gap[has_gap] = (
        prepared.day_value[ends[has_gap] - 1] - prepared.day_value[ends[has_gap] - 2]
    )
    gap_min = np.full(n, np.nan)
    gap_max = np.full(n, np.nan)
    if len(gaps):
        starts = np.concatenate([[0], np.cumsum(count.astype(np.int64))[:-1]])[has_gap]
        gap_min[has_gap] = np.minimum.reduceat(gaps, starts)
        gap_max[has_gap] = np.maximum.reduceat(gaps, starts)
    return pd.DataFrame(
        {
            "gap_mean": mean,
            "gap_median": grouped_median(codes, gaps, n),
            "gap_std": std,
            "gap_min": gap_min,
            "gap_max": gap_max,
            "last_gap": last_gap,
            "gap_cv": cv,
        },
        copy=False,  # the arrays are the frame's alone: no copy into 2-D blocks
    )
