"""From P(buy within h days) at a few horizons to a purchase-time distribution and dates.

The predicted cumulative distribution of the time to the next purchase passes through
``(0, 0)`` and ``(h, p_buy_h)`` for each horizon and is linear in between. A quantile `q`
(0.5: median, 0.1/0.9: low/high) is the day where it first reaches `q`; it is undefined
(NaN) when even the longest horizon's probability stays below `q`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def monotone_in_horizon(probabilities: np.ndarray) -> np.ndarray:
    """Cumulative maximum along the horizons axis (columns ordered by horizon)."""
    return np.maximum.accumulate(np.asarray(probabilities, dtype=float), axis=1)


def quantile_days(
    probabilities: np.ndarray, horizons: Sequence[int], quantile: float
) -> np.ndarray:
    """Days (float, NaN when undefined) until the predicted CDF reaches `quantile`.

    `probabilities` has one column per horizon, non-decreasing along each row.
    """
    cdf = np.column_stack([np.zeros(len(probabilities)), probabilities])
    days = np.concatenate([[0.0], np.asarray(horizons, dtype=float)])
    reached = cdf >= quantile
    reached[:, 0] = False  # the CDF is 0 at day 0; quantile > 0 is reached later
    defined = reached.any(axis=1)
    upper = np.where(defined, reached.argmax(axis=1), 1)
    lower = upper - 1
    rows = np.arange(len(cdf))
    p_low, p_high = cdf[rows, lower], cdf[rows, upper]
    d_low, d_high = days[lower], days[upper]
    step = np.where(p_high > p_low, p_high - p_low, 1.0)
    fraction = np.clip((quantile - p_low) / step, 0.0, 1.0)
    result = d_low + fraction * (d_high - d_low)
    return np.where(defined, result, np.nan)


def restricted_mean_days(probabilities: np.ndarray, horizons: Sequence[int]) -> np.ndarray:
    """Expected days to the next purchase, capped at the longest horizon.

    The area above the piecewise-linear CDF up to the last horizon; defined for everyone,
    so it can rank customers by how soon they buy (for the concordance index).
    """
    cdf = np.column_stack([np.zeros(len(probabilities)), probabilities])
    days = np.concatenate([[0.0], np.asarray(horizons, dtype=float)])
    survival = 1.0 - cdf
    widths = np.diff(days)
    return ((survival[:, :-1] + survival[:, 1:]) / 2 * widths).sum(axis=1)
