"""Orders -> one row of features per customer as of a date: the one entry point.

Training, scoring and the HTTP API all call :func:`build_features`, so online and offline
features cannot drift apart.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.config import FeatureConfig
from features.errors import InputError
from features.prepared import as_of_timestamp, prepare_orders
from features.rfm import rfm_features

# Columns that describe or identify a customer but must not be fed to a model as numbers.
NON_MODEL_COLUMNS = frozenset({"customer_id", "as_of", "tenure_days"})


def build_features(
    orders: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    products: pd.DataFrame | None = None,
    config: FeatureConfig | None = None,
) -> pd.DataFrame:
    """One row per customer with a paid order on or before ``as_of``, sorted by ``customer_id``.

    ``orders`` is the canonical frame of ``features.tables.read_orders`` (required columns:
    ``customer_id``, ``ordered_at``, ``amount``, ``order_id``, ``status``; ``sku``,
    ``quantity``, ``discount``, ``channel`` are used when present). ``products`` is the frame
    of ``read_products`` (``sku``, ``category``, ``days_of_supply``). The whole UTC day
    ``as_of`` is included; nothing after it influences any value.
    """
    config = config or FeatureConfig()
    del products  # used by the cycle and mix features
    prepared = prepare_orders(orders, as_of)
    if prepared.n_customers == 0:
        raise InputError(f"no paid orders on or before {as_of_timestamp(as_of).date()}")
    parts = [rfm_features(prepared)]
    frame = pd.concat(parts, axis=1)
    frame.insert(0, "customer_id", pd.Series(prepared.customer_ids, dtype="string"))
    return frame


def model_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns a model should use (no ids, dates, labels or text)."""
    return [
        column
        for column in frame.columns
        if column not in NON_MODEL_COLUMNS
        and not column.startswith("label_")
        and (
            pd.api.types.is_numeric_dtype(frame[column])
            or pd.api.types.is_bool_dtype(frame[column])
        )
    ]


__all__ = ["FeatureConfig", "build_features", "model_feature_columns"]
