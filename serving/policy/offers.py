"""Which action and offer each customer gets, on which day we would like to reach them, and
what the contact is worth.

Actions, first match wins (so each customer gets the one most useful message):

1. ``winback`` - a high-value customer whose lifecycle stage is in ``winback_stages``
   (default at risk or lapsed) is slipping away: contact *now* (the day after ``as_of``).
   Churned customers are not chased (a win-back there mostly buys discounts, not customers).
2. ``replenish_reminder`` - the last purchase runs out (``depletion_date``) inside the plan, or
   ran out at most ``replenish_grace_days`` ago: ``lead_days`` before it runs out (now if that
   is already past).
3. ``first_repeat_nudge`` - a new customer (first order only): ``lead_days`` before the
   predicted next purchase, or right after the quiet period when no date is predicted.
4. ``vip_care`` - ``important_value`` customers: ``lead_days`` before their predicted purchase.
5. ``promo_notice`` - highly price-sensitive customers, rarely: only if nobody touched them in
   the last ``promo_min_days_since_contact`` days; ``lead_days`` before the predicted purchase.
6. ``purchase_reminder`` - anyone else with a predicted next purchase: ``lead_days`` before it.

Customers matching nothing (no predicted date inside the plan, churned, ...) are not planned.

Offers follow price sensitivity and value ("high value" = an ``important_*`` RFM segment, or
``predicted_value_365d >= high_value_threshold`` when that is set):

- low sensitivity: ``none`` for high-value customers (service and timing, no discount),
  ``content`` for the others;
- medium or high sensitivity and high value: ``high_threshold_coupon`` (a big coupon on a big
  basket instead of a small one that only erodes margin);
- high sensitivity otherwise: ``coupon`` with ``promo_notice`` or ``winback`` (the rare
  occasions), ``content`` with any other action;
- medium sensitivity (or unknown): product-value ``content``.

Value (uplift-minded: those who will buy anyway, and those who will not buy whatever we do, gain
little from a contact): with ``p = p_buy_30d``, the persuadability ``4 p (1 - p)`` is 1 on the
edge (p = 0.5) and 0 at certainty either way; ``expected_value = contact_uplift x
persuadability x predicted_value_365d`` is the incremental revenue we expect from the contact,
in the shop's currency; ``priority = expected_value x action_weights[action]``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from serving.policy.config import PolicyConfig
from serving.policy.rules import day_after

NO_ACTION = ""


def high_value(scores: pd.DataFrame, policy: PolicyConfig) -> np.ndarray:
    """High-value customers: an ``important_*`` RFM segment, or value above the threshold.

    Requires ``rfm_segment`` and ``predicted_value_365d``.
    """
    segment = scores["rfm_segment"].astype("string").fillna("")
    important = segment.str.startswith("important_").to_numpy(dtype=bool)
    if policy.high_value_threshold is None:
        return important
    value = pd.to_numeric(scores["predicted_value_365d"], errors="coerce").fillna(0.0)
    return important | (value.to_numpy() >= policy.high_value_threshold)


def choose_action(
    scores: pd.DataFrame,
    *,
    as_of: dt.date,
    last_order_at: np.ndarray,
    last_touch_at: np.ndarray,
    policy: PolicyConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """The action per customer ("" = none) and the local day we would like to contact them.

    Requires ``lifecycle_stage``, ``rfm_segment``, ``price_sensitivity``,
    ``predicted_value_365d``, ``next_purchase_date``, ``depletion_date`` (dates, NaT = unknown).
    `last_order_at` / `last_touch_at` are naive UTC ns arrays aligned with `scores`.
    """
    first_day = day_after(as_of)
    last_day = np.datetime64(as_of, "D") + np.timedelta64(policy.plan_days, "D")
    lead = np.timedelta64(policy.lead_days, "D")
    stage = scores["lifecycle_stage"].astype("string").fillna("").to_numpy(dtype=object)
    segment = scores["rfm_segment"].astype("string").fillna("").to_numpy(dtype=object)
    sensitivity = scores["price_sensitivity"].astype("string").fillna("").to_numpy(dtype=object)
    next_purchase = scores["next_purchase_date"].to_numpy("datetime64[D]")
    depletion = scores["depletion_date"].to_numpy("datetime64[D]")

    predicted_day = next_purchase - lead
    has_prediction = ~np.isnat(next_purchase) & (predicted_day <= last_day)
    replenish_day = depletion - lead
    grace = np.timedelta64(policy.replenish_grace_days, "D")
    runs_out_now = (
        ~np.isnat(depletion)
        & (replenish_day <= last_day)
        & (depletion >= np.datetime64(as_of, "D") - grace)
    )
    since_touch = first_day - last_touch_at.astype("datetime64[D]")
    promo_allowed = np.isnat(last_touch_at) | (
        since_touch > np.timedelta64(policy.promo_min_days_since_contact, "D")
    )
    after_quiet = last_order_at.astype("datetime64[D]") + np.timedelta64(
        policy.quiet_days_after_purchase + 1, "D"
    )
    nudge_day = np.where(~np.isnat(next_purchase), predicted_day, after_quiet)
    nudge_day = np.where(np.isnat(nudge_day), first_day, nudge_day)

    rules = [
        (
            "winback",
            np.isin(stage, list(policy.winback_stages)) & high_value(scores, policy),
            np.full(len(scores), first_day),
        ),
        ("replenish_reminder", runs_out_now, replenish_day),
        ("first_repeat_nudge", stage == "new", nudge_day),
        ("vip_care", (segment == "important_value") & has_prediction, predicted_day),
        ("promo_notice", (sensitivity == "high") & has_prediction & promo_allowed, predicted_day),
        ("purchase_reminder", has_prediction, predicted_day),
    ]
    conditions = [condition for _, condition, _ in rules]
    action = np.select(conditions, [name for name, _, _ in rules], default=NO_ACTION)
    wanted = np.select(
        conditions,
        [day.astype("datetime64[D]") for _, _, day in rules],
        default=np.datetime64("NaT", "D"),
    ).astype("datetime64[D]")
    wanted = np.where(~np.isnat(wanted) & (wanted < first_day), first_day, wanted)
    return action.astype(object), wanted.astype("datetime64[D]")


def choose_offer(scores: pd.DataFrame, action: np.ndarray, policy: PolicyConfig) -> np.ndarray:
    """The offer per customer from price sensitivity, value and action (see module docstring).

    Requires ``price_sensitivity``, ``rfm_segment``, ``predicted_value_365d``.
    """
    sensitivity = scores["price_sensitivity"].astype("string").fillna("").to_numpy(dtype=object)
    valuable = high_value(scores, policy)
    rare_occasion = np.isin(action, ["promo_notice", "winback"])
    return np.select(
        [
            (sensitivity == "low") & valuable,
            sensitivity == "low",
            valuable,
            (sensitivity == "high") & rare_occasion,
        ],
        ["none", "content", "high_threshold_coupon", "coupon"],
        default="content",
    ).astype(object)


def contact_value(
    scores: pd.DataFrame, action: np.ndarray, policy: PolicyConfig
) -> tuple[np.ndarray, np.ndarray]:
    """``expected_value`` (money) and ``priority`` per customer.

    Requires ``p_buy_30d`` and ``predicted_value_365d``.
    """
    p = pd.to_numeric(scores["p_buy_30d"], errors="coerce").fillna(0.0).clip(0.0, 1.0).to_numpy()
    value = (
        pd.to_numeric(scores["predicted_value_365d"], errors="coerce")
        .fillna(0.0)
        .clip(lower=0.0)
        .to_numpy()
    )
    persuadability = 4.0 * p * (1.0 - p)
    expected = policy.contact_uplift * persuadability * value
    weights = pd.Series(action).map(policy.action_weights).fillna(0.0).to_numpy(dtype=float)
    return np.round(expected, 2), np.round(expected * weights, 4)
