"""Training data from history: many feature snapshots stacked, each with its later labels.

For cutoffs ``c = as_of - k * step_days`` (k = 1, 2, ...; as far back as the history allows)
the features are computed from the orders up to ``c`` only and the labels from
``(c, c + h]``; labels whose window is not fully observed by ``as_of`` stay NaN (see
:mod:`training.labels`). Orders after ``as_of`` are dropped before anything else happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from features.tables import paid_orders
from training.labels import as_of_day, label_snapshots, orders_up_to

FeatureBuilder = Callable[..., pd.DataFrame]


def default_feature_builder() -> FeatureBuilder:
    """What every model reads (training, scoring, the API, the Dask engine):
    `features.pipeline.build_features` plus the due columns of `models.due_features`,
    imported when first needed."""
    from features.pipeline import build_features
    from models.due_features import add_due_features

    def model_features(
        orders: pd.DataFrame,
        as_of: dt.date | pd.Timestamp,
        products: pd.DataFrame | None = None,
        config: Any = None,
    ) -> pd.DataFrame:
        return add_due_features(build_features(orders, as_of, products, config), config)

    return model_features


def snapshot_cutoffs(
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    *,
    step_days: int = 14,
    max_snapshots: int = 26,
    min_label_days: int = 7,
) -> list[pd.Timestamp]:
    """Cutoff days, newest first: every `step_days` back from `as_of`.

    A cutoff needs at least one customer before it and at least `min_label_days` of observed
    future before `as_of`. Required columns of `orders`: ``ordered_at``, ``status``.
    """
    end = as_of_day(as_of)
    paid = paid_orders(orders_up_to(orders, end))
    if paid.empty:
        return []
    first_day = paid["ordered_at"].min().floor("D")
    cutoffs: list[pd.Timestamp] = []
    k = 1
    while len(cutoffs) < max_snapshots:
        cutoff = end - pd.Timedelta(days=k * step_days)
        if cutoff < first_day:
            break
        if (end - cutoff).days >= min_label_days:
            cutoffs.append(cutoff)
        k += 1
    return cutoffs


def build_training_frame(
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    config: Any = None,
    step_days: int = 14,
    max_snapshots: int = 26,
    horizons: Iterable[int] = (7, 14, 30, 60, 90),
    churn_days: int = 180,
    value_windows: Iterable[int] = (90, 180, 365),
    feature_builder: FeatureBuilder | None = None,
    extra_features: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Stacked snapshots: the features at each cutoff plus ``cutoff`` and the label columns.

    Required columns of `orders`: the canonical orders frame (``features.tables.read_orders``).
    `extra_features` (optional) adds columns to one snapshot's feature frame, e.g. outputs of
    a model fitted on that snapshot alone. A customer appears in a snapshot once they have a
    paid order on or before its cutoff.
    """
    end = as_of_day(as_of)
    history = orders_up_to(orders, end)  # nothing after as_of is ever read
    build = feature_builder or default_feature_builder()
    horizons = tuple(horizons)
    value_windows = tuple(value_windows)
    frames = []
    for cutoff in snapshot_cutoffs(history, end, step_days=step_days, max_snapshots=max_snapshots):
        features = build(history, cutoff, products, config)
        if features.empty:
            continue
        if extra_features is not None:
            features = extra_features(features)
        features.insert(1, "cutoff", cutoff)
        labels = label_snapshots(
            features,
            history,
            end,
            horizons=horizons,
            churn_days=churn_days,
            value_windows=value_windows,
        )
        frames.append(pd.concat([features, labels], axis=1))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
