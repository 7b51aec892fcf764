"""RFM eight groups and lifecycle stages.

RFM groups. R, F and M are each split high/low:

- R is high when ``days_since_last_order <= r_split`` (bought recently);
- F is high when ``n_orders > f_split``;
- M is high when ``revenue_total > m_split``.

Each split is ``FeatureConfig.rfm_recency_days`` / ``rfm_frequency_orders`` / ``rfm_monetary``
when set, else the median (or mean, ``rfm_split``) over all customers of the snapshot. With the
median and many one-time buyers, F's split is 1 order, so "high F" means "came back".

======  ======  ======  ======================
R       F       M       rfm_segment
======  ======  ======  ======================
high    high    high    ``important_value``
high    low     high    ``important_develop``
low     high    high    ``important_retain``
low     low     high    ``important_winback``
high    high    low     ``general_value``
high    low     low     ``general_develop``
low     high    low     ``general_retain``
low     low     low     ``general_winback``
======  ======  ======  ======================

Lifecycle, relative to how long the customer's last purchase should last: ``cycle`` is
``days_since_last_order / overdue_ratio`` (the last purchase's expected duration, see
:mod:`features.cycle`; ``cycle_days``, the usual cycle, when there is no ``overdue_ratio``),
so a customer who stocked up is not "at risk" one usual cycle later (``d`` =
days_since_last_order):

- ``new``: a single purchase day, ``d <= lifecycle_new_days``;
- ``active``: ``d <= lifecycle_active_days`` or ``d <= lifecycle_at_risk_ratio x cycle``;
- ``at_risk``: ``d <= lifecycle_lapsed_ratio x cycle``;
- ``lapsed``: ``d <= lifecycle_churned_ratio x cycle`` and ``d <= lifecycle_churned_days``;
- ``churned``: everyone else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.mix import label_series
from features.prepared import validate_columns

# indexed by 4*R_high + 2*F_high + M_high
RFM_SEGMENTS = (
    "general_winback",
    "important_winback",
    "general_retain",
    "important_retain",
    "general_develop",
    "important_develop",
    "general_value",
    "important_value",
)
LIFECYCLE_STAGES = ("new", "active", "at_risk", "lapsed", "churned")


def rfm_segment(frame: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """The eight RFM groups. Required columns: ``days_since_last_order``, ``n_orders``,
    ``revenue_total``."""
    validate_columns(frame, ("days_since_last_order", "n_orders", "revenue_total"), "features")
    split = np.median if config.rfm_split == "median" else np.mean
    recency = frame["days_since_last_order"].to_numpy(dtype=np.float64)
    orders = frame["n_orders"].to_numpy(dtype=np.float64)
    revenue = frame["revenue_total"].to_numpy(dtype=np.float64)
    r_split = config.rfm_recency_days if config.rfm_recency_days is not None else split(recency)
    f_split = (
        config.rfm_frequency_orders if config.rfm_frequency_orders is not None else split(orders)
    )
    m_split = config.rfm_monetary if config.rfm_monetary is not None else split(revenue)
    r_high = recency <= r_split
    f_high = orders > f_split
    m_high = revenue > m_split
    # code = 4R + 2F + M indexes RFM_SEGMENTS
    codes = 4 * r_high.astype(np.int64) + 2 * f_high.astype(np.int64) + m_high.astype(np.int64)
    return label_series(codes, RFM_SEGMENTS)


def lifecycle_stage(frame: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """Lifecycle stage. Required columns: ``days_since_last_order``, ``frequency``,
    ``cycle_days``; ``overdue_ratio`` when present."""
    validate_columns(frame, ("days_since_last_order", "frequency", "cycle_days"), "features")
    since = frame["days_since_last_order"].to_numpy(dtype=np.float64)
    cycle = frame["cycle_days"].to_numpy(dtype=np.float64)
    if "overdue_ratio" in frame:
        overdue = frame["overdue_ratio"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            last_duration = since / overdue
        usable = np.isfinite(last_duration) & (overdue > 0)
        cycle = np.where(usable, last_duration, cycle)
    single = frame["frequency"].to_numpy() == 0
    stage = np.select(
        [
            single & (since <= config.lifecycle_new_days),
            (since <= config.lifecycle_active_days)
            | (since <= config.lifecycle_at_risk_ratio * cycle),
            since <= config.lifecycle_lapsed_ratio * cycle,
            (since <= config.lifecycle_churned_ratio * cycle)
            & (since <= config.lifecycle_churned_days),
        ],
        [0, 1, 2, 3],
        default=4,
    )
    # a long cycle must not keep someone "active" past the absolute churn limit
    stage = np.where((stage < 4) & (stage > 0) & (since > config.lifecycle_churned_days), 4, stage)
    return label_series(stage, LIFECYCLE_STAGES)
