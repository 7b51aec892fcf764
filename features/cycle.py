"""Consumption cycle: when does the last purchase run out, and how overdue is the customer?

``cycle_days`` comes from the first source that knows it (``cycle_source`` says which):

1. ``supply`` — ``quantity x days_of_supply`` (products table) of the items bought on the last
   purchase day; with several items, the one that runs out first, because that is when a
   replenishment reminder is due;
2. ``own_intervals`` — the customer's median gap between purchase days (at least
   ``cycle_min_intervals`` gaps);
3. ``sku_intervals`` — the typical (median) repurchase interval of the SKUs of the last
   purchase day, learned from every customer's repeat purchases of the same SKU up to as_of
   (at least ``cycle_sku_min_intervals`` of them); the shortest one, as in 1.;
4. ``all_customers`` — the median gap over all customers up to as_of (``default_cycle_days``
   when there is none). This is a guess, so ``depletion_date`` stays empty for it.

``overdue_ratio = days_since_last_order / cycle_days`` (1 = due today, 2 = one cycle late).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.intervals import customer_gaps, grouped_median
from features.mix import label_series
from features.prepared import FloatArray, PreparedOrders

CYCLE_SOURCES = ("supply", "own_intervals", "sku_intervals", "all_customers")


def cycle_features(
    prepared: PreparedOrders,
    products: pd.DataFrame | None,
    gap_median: FloatArray,
    config: FeatureConfig,
) -> pd.DataFrame:
    """``cycle_days``, ``cycle_source``, ``depletion_date``, ``days_until_depletion``,
    ``overdue_ratio``. ``products`` needs ``sku`` and ``days_of_supply`` (NaN = unknown)."""
    n = prepared.n_customers
    gap_codes, gaps = customer_gaps(prepared)
    gap_count = np.bincount(gap_codes, minlength=n)
    last_day = prepared.day_value[prepared.day_offsets[1:] - 1]
    on_last_day = prepared.day == last_day[prepared.code]

    supply = _earliest_on_last_day(prepared, _row_supply(prepared, products), on_last_day)
    sku_interval = sku_repurchase_interval(prepared, config.cycle_sku_min_intervals)
    sku_cycle = _earliest_on_last_day(prepared, _lookup(sku_interval, prepared.sku), on_last_day)
    overall = float(np.median(gaps)) if len(gaps) else config.default_cycle_days
    own = np.where(gap_count >= config.cycle_min_intervals, gap_median, np.nan)

    candidates = np.vstack([supply, own, sku_cycle, np.full(n, overall)])
    known = ~np.isnan(candidates)
    source = np.argmax(known, axis=0)  # first known source
    cycle_days = candidates[source, np.arange(n)]
    depletion_day = np.where(source < 3, last_day + np.rint(cycle_days), np.nan)
    days_since = prepared.as_of_day - last_day
    return pd.DataFrame(
        {
            "cycle_days": cycle_days,
            "cycle_source": label_series(source, CYCLE_SOURCES),
            "depletion_date": pd.to_datetime(depletion_day, unit="D").astype("datetime64[ns]"),
            "days_until_depletion": depletion_day - prepared.as_of_day,
            "overdue_ratio": days_since / cycle_days,
        }
    )


def sku_repurchase_interval(prepared: PreparedOrders, min_intervals: int) -> FloatArray:
    """Median days between repeat purchases of the same SKU by the same customer, per SKU code
    (NaN when fewer than ``min_intervals`` repeats were seen)."""
    n_skus = len(prepared.sku_names)
    out = np.full(n_skus, np.nan)
    rows = np.flatnonzero(prepared.sku >= 0)
    if n_skus == 0 or len(rows) == 0:
        return out
    sku, code, day = prepared.sku[rows], prepared.code[rows], prepared.day[rows]
    span = int(day.max() - day.min() + 1)
    if (prepared.n_customers + 1) * n_skus * span < 2**62:
        # rows come sorted by customer and day: a stable sort on (customer, sku) keeps the
        # days in order and is quick on such runs
        order = np.argsort(code.astype(np.int64) * n_skus + sku, kind="stable")
    else:  # the combined key would overflow: sort by three keys instead
        order = np.lexsort((day, sku, code))
    sku, code, day = sku[order], code[order], day[order]
    repeat = (code[1:] == code[:-1]) & (sku[1:] == sku[:-1]) & (day[1:] > day[:-1])
    gap_sku, gaps = sku[1:][repeat], (day[1:] - day[:-1])[repeat]
    medians = grouped_median(gap_sku, gaps, n_skus)
    enough = np.bincount(gap_sku, minlength=n_skus) >= min_intervals
    out[enough] = medians[enough]
    return out


def _row_supply(prepared: PreparedOrders, products: pd.DataFrame | None) -> FloatArray:
    """Days the row's units last (quantity x days_of_supply), NaN when unknown."""
    if products is None or "days_of_supply" not in products.columns or len(prepared.sku_names) == 0:
        return np.full(len(prepared.code), np.nan)
    table = products.drop_duplicates("sku", keep="last")
    per_unit = (
        pd.Series(
            table["days_of_supply"].to_numpy(dtype=np.float64, na_value=np.nan),
            index=pd.Index(table["sku"].astype("string")),
        )
        .reindex(prepared.sku_names)
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    per_unit = np.where(per_unit > 0, per_unit, np.nan)
    return prepared.quantity * _lookup(per_unit, prepared.sku)


def _lookup(per_code: FloatArray, codes: np.ndarray) -> FloatArray:
    """``per_code[codes]`` with NaN for code -1 (unknown)."""
    padded = np.append(per_code, np.nan)
    return padded[np.where(codes >= 0, codes, len(per_code))]


def _earliest_on_last_day(
    prepared: PreparedOrders, row_values: FloatArray, on_last_day: np.ndarray
) -> FloatArray:
    """Smallest known value among each customer's rows of their last purchase day."""
    masked = np.where(on_last_day & ~np.isnan(row_values), row_values, np.inf)
    smallest = np.minimum.reduceat(masked, prepared.row_offsets[:-1])
    return np.where(np.isinf(smallest), np.nan, smallest)
