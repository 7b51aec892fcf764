"""Tunable thresholds of the feature pipeline (the project config's ``[features]`` table).

Every field has a default that works on a typical shop; a brand overrides any of them in its
project config::

    [features]
    lifecycle_new_days = 60
    price_sensitivity_high_share = 0.6

The project config passes that table as ``FeatureConfig(**table)``; unknown keys are refused so
that a typo does not silently fall back to a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.prompted import DEFAULT_WITHIN_DAYS

DEFAULT_WINDOWS = (7, 14, 30, 90, 180, 365)


class FeatureConfig(BaseModel):
    """Thresholds for windows, consumption cycle, price sensitivity, RFM groups and lifecycle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- activity windows ------------------------------------------------------------------
    windows_days: tuple[int, ...] = Field(
        default=DEFAULT_WINDOWS,
        description="Lengths (days) of the activity/revenue windows ending on as_of.",
    )
    trend_window_days: int = Field(
        default=90,
        gt=0,
        description="spend_trend compares the last N days with the N days before them.",
    )

    # --- when the next purchase is due (model inputs: models.due_features) ------------------
    due_window_days: tuple[int, ...] = Field(
        default=(7, 14, 30, 60, 90),
        description="Horizons (days) of the due_*_within_{h}d columns: how surely the next "
        "purchase by the customer's own interval or cycle falls within h days of as_of.",
    )
    due_spread: float = Field(
        default=0.25,
        gt=0,
        description="Uncertainty of a due date, as a fraction of the customer's interval "
        "or cycle length (the standard deviation of a Gaussian tolerance).",
    )

    # --- consumption cycle -----------------------------------------------------------------
    cycle_min_intervals: int = Field(
        default=1,
        ge=1,
        description="Inter-purchase gaps a customer needs before their own median gap is "
        "used as cycle (when products give no days_of_supply for the last purchase).",
    )
    cycle_sku_min_intervals: int = Field(
        default=5,
        ge=1,
        description="Repeat purchases of a SKU (same customer) needed before its median "
        "repurchase interval is trusted as the SKU's typical cycle.",
    )
    default_cycle_days: float = Field(
        default=30.0,
        gt=0,
        description="Cycle used when nothing at all is known (no supply, no gaps anywhere).",
    )

    # --- price sensitivity -----------------------------------------------------------------
    price_sensitivity_low_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of orders with a discount at or below which sensitivity is 'low'.",
    )
    price_sensitivity_high_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of orders with a discount at or above which sensitivity is 'high'.",
    )

    # --- channel and category mix ----------------------------------------------------------
    mix_top_channels: int = Field(
        default=4, ge=0, description="How many of the most used channels get a share column."
    )
    mix_top_categories: int = Field(
        default=5, ge=0, description="How many of the most bought categories get a share column."
    )
    channels: tuple[str, ...] | None = Field(
        default=None,
        description="Fixed channel list for the share columns (stable columns across "
        "snapshots); default: the most used channels in the data up to as_of.",
    )
    categories: tuple[str, ...] | None = Field(
        default=None, description="Fixed category list for the share columns (see `channels`)."
    )

    # --- RFM eight groups --------------------------------------------------------------------
    rfm_split: Literal["median", "mean"] = Field(
        default="median",
        description="Statistic over all customers that splits R, F and M into high/low, "
        "unless a fixed threshold below is given.",
    )
    rfm_recency_days: float | None = Field(
        default=None,
        description="R is high when days_since_last_order <= this (default: the split statistic).",
    )
    rfm_frequency_orders: float | None = Field(
        default=None, description="F is high when n_orders > this (default: the split statistic)."
    )
    rfm_monetary: float | None = Field(
        default=None,
        description="M is high when revenue_total > this (default: the split statistic).",
    )

    # --- lifecycle -----------------------------------------------------------------------------
    lifecycle_new_days: int = Field(
        default=90,
        ge=0,
        description="A customer with a single purchase day within this many days is 'new'.",
    )
    lifecycle_active_days: int = Field(
        default=30,
        ge=0,
        description="Whoever bought within this many days is at least 'active', however short "
        "their cycle.",
    )
    lifecycle_at_risk_ratio: float = Field(
        default=1.5,
        gt=0,
        description="'active' while days_since_last_order <= ratio x cycle_days; 'at_risk' after.",
    )
    lifecycle_lapsed_ratio: float = Field(
        default=3.0, gt=0, description="'lapsed' once days_since_last_order > ratio x cycle_days."
    )
    lifecycle_churned_ratio: float = Field(
        default=6.0, gt=0, description="'churned' once days_since_last_order > ratio x cycle_days."
    )
    lifecycle_churned_days: int = Field(
        default=365,
        gt=0,
        description="'churned' once days_since_last_order exceeds this, whatever the cycle.",
    )

    # --- consumption cycle: each customer's own pace (features/cycle.py) -----------------
    cycle_pace_prior_gaps: float | None = Field(
        default=None,
        ge=0,
        description="Weight, in repeat purchases, of the shop-wide pace when a customer's own "
        "pace (days per label-day of supply) is estimated; default: learned from the data "
        "(empirical Bayes).",
    )
    cycle_shop_pace: float | None = Field(
        default=None,
        gt=0,
        description="Days one label-day of supply lasts the typical customer, the pace a "
        "customer's own is shrunk towards; default: learned from the data. Fix it and "
        "cycle_pace_prior_gaps (features.cycle.learn_pace_prior at training) so that a "
        "customer's cycle_days does not depend on who else is scored.",
    )

    prompted_within_days: float = Field(
        default=DEFAULT_WITHIN_DAYS,
        ge=0,
        description="With a contacts history, a purchase at most this many days after a touch "
        "of the customer is taken as prompted by it (features.prompted): the message chose "
        "its day, so the consumption cycle does not learn the customer's pace from it. "
        "0 marks none.",
    )

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> FeatureConfig:
        if self.price_sensitivity_low_share > self.price_sensitivity_high_share:
            raise ValueError("price_sensitivity_low_share must be <= price_sensitivity_high_share")
        ratios = (
            self.lifecycle_at_risk_ratio,
            self.lifecycle_lapsed_ratio,
            self.lifecycle_churned_ratio,
        )
        if list(ratios) != sorted(ratios):
            raise ValueError("lifecycle ratios must satisfy at_risk <= lapsed <= churned")
        if any(w <= 0 for w in self.windows_days):
            raise ValueError("windows_days must be positive")
        if any(w <= 0 for w in self.due_window_days):
            raise ValueError("due_window_days must be positive")
        return self
