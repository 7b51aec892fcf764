"""Fix the population statistics of a feature config, so a customer's features stop
depending on who else is in the frame.

Some features compare a customer with everyone built alongside: the RFM splits (medians over
the frame), the channel and category share columns (the most used ones in the frame), the
shop-wide consumption pace. In batch scoring "everyone" is the whole shop; in the API it is
the one customer being scored, and in partitioned batch scoring one partition. A model
therefore freezes them once, at its training ``as_of``, with :func:`population_config`, and
scores every frame with the frozen config: the API and every partition then give the same
answer as scoring the whole shop at once. The cycle's SKU intervals and all-customer median
gap have no field in :class:`FeatureConfig`; :class:`PopulationConfig` adds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import Field

from features.config import FeatureConfig
from features.cycle import learn_pace_prior, population_cycle_fallbacks
from features.mix import _slug as slug
from features.prepared import prepare_orders


class PopulationConfig(FeatureConfig):
    """A :class:`FeatureConfig` with the cycle chain's population fallbacks fixed too."""

    cycle_sku_intervals: dict[str, float] | None = Field(
        default=None,
        description="Typical repurchase interval (days) per SKU, learned at training; "
        "None: learned from the frame being built.",
    )
    cycle_all_customers_days: float | None = Field(
        default=None,
        gt=0,
        description="Median gap over all customers at training (the last fallback of the "
        "cycle); None: learned from the frame being built.",
    )


def population_config(
    features: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: dt.date | pd.Timestamp | str,
    products: pd.DataFrame | None,
    config: FeatureConfig | None = None,
    share_columns: Sequence[str] | None = None,
) -> PopulationConfig:
    """`config` with every population statistic that is not set already fixed at `as_of`.

    `features` is the frame :func:`features.pipeline.build_features` built from `orders` at
    `as_of` with `config` (columns ``days_since_last_order``, ``n_orders``,
    ``revenue_total``). The channel and category lists are those of `share_columns` (e.g.
    every share column a model was trained on; default: the share columns of `features`).
    """
    columns = list(features.columns if share_columns is None else share_columns)
    config = config or FeatureConfig()
    split = np.median if config.rfm_split == "median" else np.mean
    update: dict[str, object] = {}
    for field, column in (
        ("rfm_recency_days", "days_since_last_order"),
        ("rfm_frequency_orders", "n_orders"),
        ("rfm_monetary", "revenue_total"),
    ):
        values = features[column].to_numpy(dtype=np.float64)
        if getattr(config, field) is None and len(values):
            update[field] = float(split(values))
    if config.channels is None and "channel" in orders:
        update["channels"] = _share_names(columns, "channel_share_", orders["channel"])
    if config.categories is None and products is not None and "category" in products:
        update["categories"] = _share_names(columns, "category_share_", products["category"])
    if products is not None and (config.cycle_shop_pace is None):
        learned = learn_pace_prior(orders, as_of, products)
        if config.cycle_pace_prior_gaps is not None:
            learned.pop("cycle_pace_prior_gaps", None)
        update.update(learned)
    frozen = PopulationConfig(**config.model_dump())
    if frozen.cycle_sku_intervals is None or frozen.cycle_all_customers_days is None:
        intervals, overall = population_cycle_fallbacks(prepare_orders(orders, as_of), config)
        if frozen.cycle_sku_intervals is None:
            update["cycle_sku_intervals"] = intervals
        if frozen.cycle_all_customers_days is None:
            update["cycle_all_customers_days"] = overall
    return frozen.model_copy(update=update)


def _share_names(columns: list[str], prefix: str, values: pd.Series) -> tuple[str, ...]:
    """The raw names (as in `values`) behind the share columns, whose names are slugs of
    them (``other`` is always added, so it is not one of them)."""
    slugs = {c.removeprefix(prefix) for c in columns if c.startswith(prefix)}
    slugs.discard("other")
    names = pd.Series(values.dropna().unique()).astype(str)
    return tuple(sorted(name for name in names if slug(name) in slugs))
