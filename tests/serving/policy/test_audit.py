"""The plan checker must catch every kind of broken plan (a checker that cannot fail proves
nothing), and pass the plans the planner makes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from policy_helpers import AS_OF, NO_ORDERS, contacts_of, customers_of, orders_of, scores_of

from serving.policy import PolicyConfig, build_plan, find_violations

POLICY = PolicyConfig(daily_capacity={"wechat": 40, "email": 60})


@pytest.fixture(scope="module")
def good(shop: dict[str, pd.DataFrame]) -> pd.DataFrame:
    plan = build_plan(
        shop["scores"],
        as_of=AS_OF,
        orders=shop["orders"],
        customers=shop["customers"],
        contacts=shop["contacts"],
        policy=POLICY,
    )
    assert violations(plan, shop).empty
    return plan


def violations(
    plan: pd.DataFrame,
    shop: dict[str, pd.DataFrame],
    policy: PolicyConfig = POLICY,
    contacts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    return find_violations(
        plan,
        as_of=AS_OF,
        orders=shop["orders"],
        customers=shop["customers"],
        contacts=shop["contacts"] if contacts is None else contacts,
        policy=policy,
    )


def first_contacted(plan: pd.DataFrame, zone_offset: str | None = None) -> int:
    rows = plan.loc[~plan["holdout"]]
    if zone_offset:
        rows = rows.loc[rows["send_at"].str.endswith(zone_offset)]
    return int(rows.index[0])


def rules(found: pd.DataFrame) -> set[str]:
    return set(found["rule"])


def test_night_time_send_is_caught(good, shop) -> None:
    plan = good.copy()
    i = first_contacted(plan, "+08:00")
    plan.loc[i, "send_at"] = plan.loc[i, "send_at"][:11] + "03:00:00+08:00"
    assert "allowed_hours" in rules(violations(plan, shop))


def test_wrong_offset_is_caught(good, shop) -> None:
    plan = good.copy()
    i = first_contacted(plan, "+08:00")
    plan.loc[i, "send_at"] = plan.loc[i, "send_at"].replace("+08:00", "+00:00")
    assert "wrong_offset" in rules(violations(plan, shop))


def test_missing_offset_is_caught(good, shop) -> None:
    plan = good.copy()
    i = first_contacted(plan)
    plan.loc[i, "send_at"] = plan.loc[i, "send_at"][:19]
    assert "send_at_format" in rules(violations(plan, shop))


def test_channel_without_consent_is_caught(good, shop) -> None:
    customers = shop["customers"].set_index("customer_id")
    plan = good.copy()
    contacted = plan.loc[~plan["holdout"]]
    no_sms = contacted.loc[~customers.loc[contacted["customer_id"], "consent_sms"].to_numpy()]
    plan.loc[no_sms.index[0], "channel"] = "sms"
    found = violations(plan, shop)
    assert rules(found) >= {"consent"}
    assert no_sms["customer_id"].iloc[0] in set(found["customer_id"])


def test_contacting_a_holdout_customer_is_caught(good, shop) -> None:
    plan = good.copy()
    held = plan.index[plan["holdout"]][0]
    plan.loc[held, "send_at"] = "2026-04-07T09:00:00+00:00"
    assert "holdout_contacted" in rules(violations(plan, shop))
    flipped = good.copy()
    flipped.loc[held, "holdout"] = False
    assert "holdout_draw" in rules(violations(flipped, shop))


def test_contact_outside_the_plan_is_caught(good, shop) -> None:
    plan = good.copy()
    i = first_contacted(plan)
    plan.loc[i, "contact_on"] = AS_OF
    assert "outside_plan" in rules(violations(plan, shop))


def test_over_capacity_is_caught(good, shop) -> None:
    stricter = POLICY.model_copy(update={"daily_capacity": {"wechat": 5, "email": 60}})
    assert "daily_capacity" in rules(violations(good, shop, stricter))


def test_spacing_against_history_is_caught(good, shop) -> None:
    i = first_contacted(good)
    customer, day = good.loc[i, "customer_id"], pd.Timestamp(good.loc[i, "contact_on"])
    # A touch 2 days before the planned day breaks the 7-day spacing (history must be <= as_of,
    # so pick a plan row on the first days).
    assert day - pd.Timedelta(days=2) <= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    close = contacts_of((customer, str((day - pd.Timedelta(days=2)).date())))
    assert "spacing" in rules(violations(good, shop, contacts=close))


def test_cap_caught_on_a_hand_made_plan() -> None:
    # Four touches 7 days apart respect the spacing, but with the planned 04-07 contact they
    # make five in the 30 days from 03-10.
    plan = build_plan(
        scores_of({"next_purchase_date": "2026-04-10"}),
        as_of=AS_OF,
        orders=NO_ORDERS,
        policy=PolicyConfig(holdout_fraction=0.0),
    )
    assert plan["contact_on"].tolist() == [dt.date(2026, 4, 7)]
    touches = contacts_of(
        ("A", "2026-03-10"), ("A", "2026-03-17"), ("A", "2026-03-24"), ("A", "2026-03-31")
    )
    found = find_violations(
        plan,
        as_of=AS_OF,
        orders=NO_ORDERS,
        contacts=touches,
        policy=PolicyConfig(holdout_fraction=0.0),
    )
    assert rules(found) == {"contact_cap"}


def test_quiet_period_caught_on_a_hand_made_plan() -> None:
    policy = PolicyConfig(holdout_fraction=0.0)
    plan = build_plan(scores_of({}), as_of=AS_OF, orders=NO_ORDERS, policy=policy)
    orders = orders_of(("A", "2026-03-31T08:00:00", "paid"))  # 7 days before 04-07 09:00
    found = find_violations(plan, as_of=AS_OF, orders=orders, policy=policy)
    assert rules(found) == {"quiet_period"}
    refunded = orders_of(("A", "2026-03-31T08:00:00", "refunded"))
    assert find_violations(plan, as_of=AS_OF, orders=refunded, policy=policy).empty


def test_channel_without_customers_table_is_caught() -> None:
    policy = PolicyConfig(holdout_fraction=0.0)
    plan = build_plan(scores_of({}), as_of=AS_OF, orders=NO_ORDERS, policy=policy)
    plan.loc[0, "channel"] = "email"
    assert rules(find_violations(plan, as_of=AS_OF, orders=NO_ORDERS, policy=policy)) == {
        "channel_without_customers"
    }
    customers = customers_of({"customer_id": "A", "consent_email": True})
    assert find_violations(
        plan, as_of=AS_OF, orders=NO_ORDERS, customers=customers, policy=policy
    ).empty


def test_wrong_columns_are_caught(good, shop) -> None:
    assert rules(violations(good.drop(columns="reasons"), shop)) == {"columns"}
