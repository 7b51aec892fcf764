"""Action precedence, wished-for days and offers: one hand-made customer per rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from policy_helpers import AS_OF, scores_of

from serving.policy import PolicyConfig
from serving.policy.offers import choose_action, choose_offer, contact_value
from serving.policy.planner import normalise_scores

POLICY = PolicyConfig()
NAT = np.datetime64("NaT", "ns")


def action_and_day(
    row: dict[str, object],
    last_touch: str | None = None,
    last_order: str | None = None,
    policy: PolicyConfig = POLICY,
) -> tuple[str, str]:
    scores = normalise_scores(scores_of(row))
    touch = np.array([np.datetime64(last_touch, "ns") if last_touch else NAT])
    order = np.array([np.datetime64(last_order, "ns") if last_order else NAT])
    action, day = choose_action(
        scores, as_of=AS_OF, last_order_at=order, last_touch_at=touch, policy=policy
    )
    return str(action[0]), str(day[0])


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # A valuable customer slipping away: now, even with a predicted date.
        (
            {"lifecycle_stage": "at_risk", "rfm_segment": "important_retain"},
            ("winback", "2026-04-01"),
        ),
        (
            {
                "lifecycle_stage": "lapsed",
                "rfm_segment": "important_winback",
                "next_purchase_date": None,
            },
            ("winback", "2026-04-01"),
        ),
        # Not valuable and lapsed without a predicted purchase: nobody to talk to.
        (
            {
                "lifecycle_stage": "lapsed",
                "rfm_segment": "general_winback",
                "next_purchase_date": None,
            },
            ("", "NaT"),
        ),
        # Churned customers are not chased, even important ones.
        (
            {
                "lifecycle_stage": "churned",
                "rfm_segment": "important_winback",
                "next_purchase_date": None,
            },
            ("", "NaT"),
        ),
        # Runs out 04-20 -> 3 days before; beats the purchase reminder.
        ({"depletion_date": "2026-04-20"}, ("replenish_reminder", "2026-04-17")),
        # Ran out 10 days ago (within the 14-day grace): now.
        (
            {"depletion_date": "2026-03-21", "next_purchase_date": None},
            ("replenish_reminder", "2026-04-01"),
        ),
        # Ran out 40 days ago: too late for a reminder, the predicted purchase decides.
        ({"depletion_date": "2026-02-19"}, ("purchase_reminder", "2026-04-07")),
        ({"lifecycle_stage": "new"}, ("first_repeat_nudge", "2026-04-07")),
        ({"rfm_segment": "important_value"}, ("vip_care", "2026-04-07")),
        ({"rfm_segment": "important_value", "next_purchase_date": "2026-06-01"}, ("", "NaT")),
        ({"price_sensitivity": "high"}, ("promo_notice", "2026-04-07")),
        ({}, ("purchase_reminder", "2026-04-07")),
        # Purchase expected within the lead time: as soon as the plan starts.
        ({"next_purchase_date": "2026-04-02"}, ("purchase_reminder", "2026-04-01")),
    ],
)
def test_action_precedence(row: dict[str, object], expected: tuple[str, str]) -> None:
    assert action_and_day(row) == expected


def test_promotions_are_rare() -> None:
    row = {"price_sensitivity": "high"}
    assert action_and_day(row, last_touch="2026-03-20")[0] == "purchase_reminder"
    assert action_and_day(row, last_touch="2026-02-01")[0] == "promo_notice"


def test_new_customer_without_prediction_is_nudged_after_the_quiet_period() -> None:
    row = {"lifecycle_stage": "new", "next_purchase_date": None}
    assert action_and_day(row, last_order="2026-03-28T12:00") == (
        "first_repeat_nudge",
        "2026-04-05",
    )


def test_high_value_threshold_widens_winback() -> None:
    row = {
        "lifecycle_stage": "at_risk",
        "rfm_segment": "general_retain",
        "predicted_value_365d": 500.0,
    }
    assert action_and_day(row)[0] == "purchase_reminder"
    assert action_and_day(row, policy=PolicyConfig(high_value_threshold=400.0))[0] == "winback"


@pytest.mark.parametrize(
    ("sensitivity", "segment", "action", "offer"),
    [
        ("low", "important_value", "vip_care", "none"),  # service, no discount
        ("low", "general_develop", "purchase_reminder", "content"),
        ("medium", "important_value", "vip_care", "high_threshold_coupon"),
        ("high", "important_retain", "winback", "high_threshold_coupon"),
        ("high", "general_develop", "promo_notice", "coupon"),
        ("high", "general_develop", "winback", "coupon"),
        ("high", "general_develop", "purchase_reminder", "content"),  # coupons only rarely
        ("medium", "general_value", "replenish_reminder", "content"),
    ],
)
def test_offer_by_sensitivity_and_value(
    sensitivity: str, segment: str, action: str, offer: str
) -> None:
    scores = scores_of({"price_sensitivity": sensitivity, "rfm_segment": segment})
    assert choose_offer(scores, np.array([action], dtype=object), POLICY).tolist() == [offer]


def test_contact_value_prefers_customers_on_the_edge() -> None:
    scores = scores_of(
        *[{"p_buy_30d": p, "predicted_value_365d": 200.0} for p in (0.02, 0.5, 0.98)]
    )
    action = np.array(["purchase_reminder"] * 3, dtype=object)
    expected, priority = contact_value(scores, action, POLICY)
    # 0.1 x 4 p (1 - p) x 200: 1.568, 20.0, 1.568
    assert expected.tolist() == pytest.approx([1.57, 20.0, 1.57])
    assert priority.tolist() == pytest.approx([1.568, 20.0, 1.568])  # weight 1.0, 4 decimals
    replenish = np.array(["replenish_reminder"] * 3, dtype=object)
    same_value, weighted = contact_value(scores, replenish, POLICY)
    assert same_value.tolist() == expected.tolist()
    assert weighted[1] == pytest.approx(20.0 * 1.3)  # the action weight only moves priority


def test_missing_values_do_not_break_the_value() -> None:
    scores = scores_of({"p_buy_30d": None, "predicted_value_365d": None})
    expected, priority = contact_value(scores, np.array(["winback"], dtype=object), POLICY)
    assert expected.tolist() == [0.0] and priority.tolist() == [0.0]
    assert pd.notna(expected).all()
