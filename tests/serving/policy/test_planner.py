"""`build_plan`: hand-made cases for each rule, and whole synthetic shops under the checker."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from policy_helpers import (
    AS_OF,
    NO_ORDERS,
    assert_plan_obeys_policy,
    contacts_of,
    customers_of,
    orders_of,
    scores_of,
    synthetic_shop,
)

from serving.policy import PLAN_COLUMNS, PolicyConfig, build_plan

NO_HOLDOUT = PolicyConfig(holdout_fraction=0.0)


def plan_for(scores: pd.DataFrame, policy: PolicyConfig = NO_HOLDOUT, **tables) -> pd.DataFrame:
    tables.setdefault("orders", NO_ORDERS)
    plan = build_plan(scores, as_of=AS_OF, policy=policy, **tables)
    assert_plan_obeys_policy(
        plan, tables["orders"], tables.get("customers"), tables.get("contacts"), policy
    )
    return plan


def only_row(plan: pd.DataFrame) -> pd.Series:
    assert len(plan) == 1, plan
    return plan.iloc[0]


def test_a_simple_reminder_lead_days_before_the_predicted_purchase() -> None:
    # Next purchase 2026-04-10, lead 3 days -> 2026-04-07 at 09:00, UTC without customers.
    row = only_row(plan_for(scores_of({})))
    assert list(row.index) == PLAN_COLUMNS
    assert row["contact_on"] == dt.date(2026, 4, 7)
    assert row["send_at"] == "2026-04-07T09:00:00+00:00"
    assert pd.isna(row["channel"])
    assert row["action"] == "purchase_reminder"
    assert row["offer"] == "content"
    # 0.1 uplift x 4 * 0.5 * 0.5 persuadability x 100 value = 10.0
    assert row["expected_value"] == pytest.approx(10.0)
    assert row["priority"] == pytest.approx(10.0)
    assert "2026-04-10" in row["reasons"]
    assert not row["holdout"]


def test_quiet_period_after_the_last_paid_order() -> None:
    # Paid on 03-30 15:00: 7 quiet days -> the first allowed day is 04-07. The refund on
    # 03-31 and the order after as_of are not purchases the plan may know about.
    orders = orders_of(
        ("A", "2026-03-30T15:00:00", "paid"),
        ("A", "2026-03-31T10:00:00", "refunded"),
        ("A", "2026-04-03T10:00:00", "paid"),
    )
    row = only_row(plan_for(scores_of({"next_purchase_date": "2026-04-02"}), orders=orders))
    assert row["contact_on"] == dt.date(2026, 4, 7)
    assert row["send_at"] == "2026-04-07T09:00:00+00:00"
    assert "quiet period" in row["reasons"]


def test_quiet_period_counts_hours_too() -> None:
    # Paid at 23:00 on 03-30 with quiet 0 days is no constraint; with 1 day the send time must
    # be at least 24 h after it: 03-31 23:00 is inside as_of, so the plan starts 04-01 09:00;
    # with 2 days (earliest day 04-02, earliest instant 04-01 23:00) -> 04-02 09:00.
    orders = orders_of(("A", "2026-03-30T23:00:00", "paid"))
    scores = scores_of({"next_purchase_date": "2026-04-02"})
    for quiet, expected in [(1, "2026-04-01T09:00:00+00:00"), (2, "2026-04-02T09:00:00+00:00")]:
        policy = PolicyConfig(holdout_fraction=0.0, quiet_days_after_purchase=quiet)
        assert only_row(plan_for(scores, policy, orders=orders))["send_at"] == expected


def test_spacing_after_the_last_touch_to_the_hour() -> None:
    # Touched 03-29 at 10:00; 7 days -> not before 04-05 10:00 (09:00 would be 23 h short).
    contacts = contacts_of(("A", "2026-03-29T10:00:00"), ("A", "2026-04-02T10:00:00"))
    row = only_row(plan_for(scores_of({"next_purchase_date": "2026-04-02"}), contacts=contacts))
    assert row["send_at"] == "2026-04-05T10:00:00+00:00"
    assert "spacing" in row["reasons"]


def test_rolling_cap_counts_the_history() -> None:
    # Cap 2 in 30 days: touches on 03-10, 03-20, 03-25 -> the 2nd most recent (03-20) binds,
    # so the next touch waits until 04-19 (03-20 + 30 days).
    policy = PolicyConfig(
        holdout_fraction=0.0, max_contacts_per_30_days=2, min_days_between_contacts=0
    )
    contacts = contacts_of(
        ("A", "2026-03-10T08:00:00"), ("A", "2026-03-20T08:00:00"), ("A", "2026-03-25T08:00:00")
    )
    scores = scores_of({"next_purchase_date": "2026-04-05"})
    row = only_row(plan_for(scores, policy, contacts=contacts))
    assert row["contact_on"] == dt.date(2026, 4, 19)
    assert "30-day contact cap" in row["reasons"]
    never = PolicyConfig(holdout_fraction=0.0, max_contacts_per_30_days=0)
    assert plan_for(scores, never).empty


def test_consent_and_preferred_channel() -> None:
    scores = scores_of(
        {"customer_id": "prefers_wechat"},
        {"customer_id": "wechat_not_allowed"},
        {"customer_id": "no_consent"},
        {"customer_id": "unknown_to_customers_table"},
    )
    customers = customers_of(
        {
            "customer_id": "prefers_wechat",
            "consent_email": True,
            "consent_wechat": True,
            "preferred_channel": "wechat",
        },
        {"customer_id": "wechat_not_allowed", "consent_sms": True, "preferred_channel": "wechat"},
        {"customer_id": "no_consent", "preferred_channel": "email"},
    )
    plan = plan_for(scores, customers=customers)
    assert dict(zip(plan["customer_id"], plan["channel"], strict=True)) == {
        "prefers_wechat": "wechat",
        "wechat_not_allowed": "sms",
    }


def test_send_time_in_the_customers_local_allowed_hours() -> None:
    scores = scores_of(
        {"customer_id": "shanghai"},
        {"customer_id": "new_york"},
        {"customer_id": "kiritimati", "next_purchase_date": "2026-04-02"},
    )
    customers = customers_of(
        {"customer_id": "shanghai", "timezone": "Asia/Shanghai", "consent_email": True},
        {"customer_id": "new_york", "timezone": "America/New_York", "consent_email": True},
        {"customer_id": "kiritimati", "timezone": "Pacific/Kiritimati", "consent_email": True},
    )
    plan = plan_for(scores, customers=customers).set_index("customer_id")
    assert plan.loc["shanghai", "send_at"] == "2026-04-07T09:00:00+08:00"
    assert plan.loc["new_york", "send_at"] == "2026-04-07T09:00:00-04:00"  # daylight saving
    # UTC+14: 09:00 local on 04-01 is still 03-31 in UTC, inside as_of; the plan starts at
    # 04-01 00:00 UTC = 14:00 local.
    assert plan.loc["kiritimati", "send_at"] == "2026-04-01T14:00:00+14:00"


def test_a_bound_after_the_allowed_hours_moves_to_the_next_morning() -> None:
    policy = PolicyConfig(holdout_fraction=0.0, allowed_hours=(9, 18))
    contacts = contacts_of(("A", "2026-03-29T19:30:00"))  # +7 days = 04-05 19:30, after 18:00
    row = only_row(
        plan_for(scores_of({"next_purchase_date": "2026-04-02"}), policy, contacts=contacts)
    )
    assert row["send_at"] == "2026-04-06T09:00:00+00:00"


def test_only_contacts_inside_the_plan_window() -> None:
    scores = scores_of(
        {"customer_id": "too_late", "next_purchase_date": "2026-05-10"},  # 05-07 > 04-30
        {"customer_id": "last_day", "next_purchase_date": "2026-05-03"},  # 04-30
        {"customer_id": "no_date", "next_purchase_date": None},
    )
    plan = plan_for(scores)
    assert plan["customer_id"].tolist() == ["last_day"]
    assert plan["contact_on"].tolist() == [dt.date(2026, 4, 30)]
    # West of UTC a late local slot on the last day falls on the next UTC day: left out.
    late = PolicyConfig(holdout_fraction=0.0, allowed_hours=(14, 21))
    customers = customers_of(
        {"customer_id": "last_day", "timezone": "Pacific/Pago_Pago", "consent_sms": True}
    )
    assert plan_for(scores, late, customers=customers).empty


def test_daily_capacity_moves_overflow_to_the_next_day_by_priority() -> None:
    values = [50.0, 40.0, 30.0, 20.0, 10.0]
    scores = scores_of(
        *[{"customer_id": f"c{i}", "predicted_value_365d": v} for i, v in enumerate(values)]
    )
    customers = customers_of(*[{"customer_id": f"c{i}", "consent_wechat": True} for i in range(5)])
    policy = PolicyConfig(holdout_fraction=0.0, daily_capacity={"wechat": 2})
    plan = plan_for(scores, policy, customers=customers)
    days = dict(zip(plan["customer_id"], plan["contact_on"], strict=True))
    assert days == {
        "c0": dt.date(2026, 4, 7),
        "c1": dt.date(2026, 4, 7),
        "c2": dt.date(2026, 4, 8),
        "c3": dt.date(2026, 4, 8),
        "c4": dt.date(2026, 4, 9),
    }
    assert plan["send_at"].str.endswith("T09:00:00+00:00").all()
    dropping = PolicyConfig(
        holdout_fraction=0.0, daily_capacity={"wechat": 2}, capacity_overflow="drop"
    )
    assert sorted(plan_for(scores, dropping, customers=customers)["customer_id"]) == ["c0", "c1"]


def test_capacity_overflow_past_the_plan_end_is_dropped() -> None:
    scores = scores_of(
        *[
            {
                "customer_id": f"c{i}",
                "next_purchase_date": "2026-05-03",
                "predicted_value_365d": 100.0 - i,
            }
            for i in range(3)
        ]
    )
    customers = customers_of(*[{"customer_id": f"c{i}", "consent_email": True} for i in range(3)])
    policy = PolicyConfig(holdout_fraction=0.0, daily_capacity={"email": 1})
    assert plan_for(scores, policy, customers=customers)["customer_id"].tolist() == ["c0"]


def test_holdout_rows_are_listed_but_never_sent() -> None:
    scores = scores_of(*[{"customer_id": f"c{i:03d}"} for i in range(400)])
    customers = customers_of(
        *[{"customer_id": f"c{i:03d}", "consent_wechat": True} for i in range(400)]
    )
    policy = PolicyConfig(holdout_fraction=0.3, daily_capacity={"wechat": 1000})
    plan = plan_for(scores, policy, customers=customers)
    held = plan.loc[plan["holdout"]]
    assert 0.2 < len(held) / len(plan) < 0.4
    assert held["send_at"].isna().all() and held["channel"].isna().all()
    assert held["reasons"].str.startswith("hold-out").all()
    again = plan_for(scores.sample(frac=1.0, random_state=3), policy, customers=customers)
    assert set(again.loc[again["holdout"], "customer_id"]) == set(held["customer_id"])


def test_holdout_does_not_use_capacity() -> None:
    scores = scores_of(
        *[{"customer_id": f"c{i:03d}", "predicted_value_365d": 1000.0 - i} for i in range(100)]
    )
    customers = customers_of(
        *[{"customer_id": f"c{i:03d}", "consent_wechat": True} for i in range(100)]
    )
    policy = PolicyConfig(holdout_fraction=0.5, daily_capacity={"wechat": 10})
    plan = plan_for(scores, policy, customers=customers)
    first_day = plan.loc[plan["contact_on"] == dt.date(2026, 4, 7)]
    assert (~first_day["holdout"]).sum() == 10
    assert first_day["holdout"].sum() == plan["holdout"].sum()  # the hold-out stays on its day


def test_plan_is_sorted_and_deterministic() -> None:
    shop = synthetic_shop(400, seed=11)
    tables = {k: shop[k] for k in ("orders", "customers", "contacts")}
    first = build_plan(shop["scores"], as_of=AS_OF, **tables)
    shuffled = shop["scores"].sample(frac=1.0, random_state=5)
    second = build_plan(shuffled, as_of=AS_OF, **tables)
    pd.testing.assert_frame_equal(first, second)
    contacted = first.loc[~first["holdout"]]
    for _, day in contacted.groupby("contact_on"):
        assert day["priority"].is_monotonic_decreasing
    assert first["contact_on"].is_monotonic_increasing


def test_orders_and_touches_after_as_of_do_not_change_the_plan() -> None:
    shop = synthetic_shop(400, seed=12)
    base = build_plan(
        shop["scores"],
        as_of=AS_OF,
        orders=shop["orders"],
        customers=shop["customers"],
        contacts=shop["contacts"],
    )
    later = pd.Timestamp("2026-04-02T12:00:00", tz="UTC")
    orders = pd.concat([shop["orders"], shop["orders"].assign(ordered_at=later)], ignore_index=True)
    contacts = pd.concat(
        [shop["contacts"], shop["contacts"].assign(contacted_at=later)], ignore_index=True
    )
    again = build_plan(
        shop["scores"], as_of=AS_OF, orders=orders, customers=shop["customers"], contacts=contacts
    )
    pd.testing.assert_frame_equal(base, again)


POLICIES = {
    "defaults": PolicyConfig(),
    "tight": PolicyConfig(
        quiet_days_after_purchase=14,
        min_days_between_contacts=10,
        max_contacts_per_30_days=2,
        allowed_hours=(10, 18),
        holdout_fraction=0.2,
        lead_days=5,
        plan_days=14,
        daily_capacity={"wechat": 20, "email": 30, "sms": 5},
    ),
    "drop_overflow": PolicyConfig(
        daily_capacity={"wechat": 10, "email": 10}, capacity_overflow="drop"
    ),
    "night_owls": PolicyConfig(allowed_hours=(20, 24), holdout_fraction=0.05, plan_days=60),
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_synthetic_shop_plan_obeys_policy(shop: dict[str, pd.DataFrame], name: str) -> None:
    policy = POLICIES[name]
    plan = build_plan(
        shop["scores"],
        as_of=AS_OF,
        orders=shop["orders"],
        customers=shop["customers"],
        contacts=shop["contacts"],
        policy=policy,
    )
    assert len(plan) > 100  # a real plan, not a vacuous pass
    assert_plan_obeys_policy(plan, shop["orders"], shop["customers"], shop["contacts"], policy)
    assert plan["customer_id"].is_unique
    assert set(plan["action"]) >= {"winback", "replenish_reminder", "first_repeat_nudge"}


def test_a_plan_finished_in_slices_is_the_plan_finished_at_once(
    shop: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Millions of rows get their text a slice at a time (memory), two slices side by side:
    same rows, same order."""
    from serving.policy import planner

    def plan() -> pd.DataFrame:
        return build_plan(
            shop["scores"],
            as_of=AS_OF,
            orders=shop["orders"],
            customers=shop["customers"],
            contacts=shop["contacts"],
            policy=POLICIES["tight"],
        )

    whole = plan()
    monkeypatch.setattr(planner, "_FINISH_ROWS", 7)
    sliced = plan()
    assert len(whole) > 3 * 7  # several slices
    pd.testing.assert_frame_equal(sliced, whole)


def test_synthetic_shop_plan_without_customers_table(shop: dict[str, pd.DataFrame]) -> None:
    policy = PolicyConfig()
    plan = build_plan(shop["scores"], as_of=AS_OF, orders=shop["orders"], policy=policy)
    assert len(plan) > 100
    assert plan["channel"].isna().all()
    assert plan.loc[~plan["holdout"], "send_at"].str.endswith("+00:00").all()
    assert_plan_obeys_policy(plan, shop["orders"], None, None, policy)


def test_missing_score_column_is_an_input_error() -> None:
    from features.errors import InputError

    with pytest.raises(InputError, match="depletion_date"):
        build_plan(scores_of({}).drop(columns="depletion_date"), as_of=AS_OF, orders=NO_ORDERS)
    with pytest.raises(InputError, match="not a date"):
        build_plan(scores_of({"next_purchase_date": "soon"}), as_of=AS_OF, orders=NO_ORDERS)


def test_value_ranks_customers_on_the_edge_first() -> None:
    # Same value; p = 0.5 is persuadable, p = 0.97 buys anyway, p = 0.03 will not buy.
    scores = scores_of(
        {"customer_id": "sure", "p_buy_30d": 0.97},
        {"customer_id": "edge", "p_buy_30d": 0.5},
        {"customer_id": "lost", "p_buy_30d": 0.03},
    )
    plan = plan_for(scores)
    assert plan["customer_id"].tolist()[0] == "edge"
    assert np.all(plan["expected_value"] >= 0)


def test_edge_inputs() -> None:
    empty = build_plan(scores_of({}).iloc[:0], as_of=AS_OF, orders=NO_ORDERS)
    assert list(empty.columns) == PLAN_COLUMNS and empty.empty
    # Numeric ids become text; a repeated customer is planned once (the last score wins).
    twice = scores_of({"customer_id": 5, "p_buy_30d": 0.1}, {"customer_id": 5})
    row = only_row(plan_for(twice))
    assert row["customer_id"] == "5" and row["expected_value"] == pytest.approx(10.0)
    # A zone-aware timestamp as a score date means its own calendar day.
    aware = scores_of({})
    aware["next_purchase_date"] = pd.Timestamp("2026-04-10T00:00", tz="Asia/Shanghai")
    assert only_row(plan_for(aware))["contact_on"] == dt.date(2026, 4, 7)
